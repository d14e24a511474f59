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
