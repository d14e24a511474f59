-- After lifecycle.sql: a database updated from 0.1.0 is in use, not being
-- restored (closes the restore window; see src/lifecycle.c).
SELECT pg_catalog.nextval('@extschema@.in_use');

-- Triggers on managed tables name their columns, as custier.manage now
-- makes them (CREATE OR REPLACE keeps them in place: never unguarded).
DO $do$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.oid, tg.tgrelid, tg.tgargs, pg_catalog.pg_get_triggerdef(tg.oid) AS def
               FROM pg_catalog.pg_trigger tg JOIN @extschema@.managed_table m ON m.tbl = tg.tgrelid
              WHERE tg.tgname IN ('custier_history', 'custier_history_insert_delete', 'custier_history_flush',
                                  'custier_history_truncate', 'custier_guard', 'custier_guard_insert')
    LOOP
        EXECUTE pg_catalog.regexp_replace(
                    pg_catalog.regexp_replace(t.def, '^CREATE TRIGGER', 'CREATE OR REPLACE TRIGGER'),
                    '\(''(\d+)'', ''(\d+)''\)$',
                    pg_catalog.format('(%L, %L)',
                        (SELECT a.attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = t.tgrelid AND a.attnum = pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 1)::int2),
                        (SELECT a.attname FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid = t.tgrelid AND a.attnum = pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), '\000', 2)::int2)));
    END LOOP;
END
$do$;

-- Rows about tables dropped under 0.1.0 still carry the bare OID, which a
-- new table may take: forget it (the name is lost; the OID is kept in it).
SELECT @extschema@._forget_table(t.tbl, pg_catalog.format('(dropped before custier 0.2.0; OID %s)', t.tbl))
  FROM (SELECT h.tbl::oid AS tbl FROM @extschema@.tier_history h
        UNION SELECT k.tbl::oid FROM @extschema@.customer_key_change k
        UNION SELECT a.tbl::oid FROM @extschema@.adjustment a
        UNION SELECT e.tbl::oid FROM @extschema@.evaluation e) t
 WHERE t.tbl OPERATOR(pg_catalog.<>) 0
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) t.tbl);
