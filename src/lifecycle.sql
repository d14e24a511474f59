-- lifecycle.sql — backup, restore, uninstall (C in src/lifecycle.c, which
-- explains the design): the restore window, dropped tables, DROP EXTENSION.

-- ---------------------------------------------------------------------
-- Restores: custier's rows come back through COPY, as they were.
-- ---------------------------------------------------------------------
CREATE SEQUENCE @extschema@.in_use;
COMMENT ON SEQUENCE @extschema@.in_use IS 'called once custier has been used in this database: until then (a restore) its rows may be loaded by COPY as they were';
REVOKE ALL ON SEQUENCE @extschema@.in_use FROM PUBLIC;

CREATE FUNCTION @extschema@._restoring() RETURNS boolean
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'custier_restoring';
COMMENT ON FUNCTION @extschema@._restoring() IS 'internal: is custier still being restored (nothing but restore loads written since CREATE EXTENSION)?';
REVOKE ALL ON FUNCTION @extschema@._restoring() FROM PUBLIC;

CREATE FUNCTION @extschema@._restore_load(tbl regclass) RETURNS boolean
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'custier_restore_load_sql';
COMMENT ON FUNCTION @extschema@._restore_load(regclass) IS 'internal, for triggers: does this row of tbl arrive through a restore (the owner''s top-level COPY FROM STDIN into it, before custier was used)?';
-- Executable by all: it only answers a question, and policy editors' writes fire triggers that ask it.

CREATE FUNCTION @extschema@.in_use_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_in_use_trigger';
COMMENT ON FUNCTION @extschema@.in_use_trigger() IS 'statement trigger on custier''s tables: a write that is not a restore load ends the restore window; a restore load runs with session_replication_role = replica';
REVOKE ALL ON FUNCTION @extschema@.in_use_trigger() FROM PUBLIC;

-- On every table of custier's (ENABLE ALWAYS, like the logs' triggers).
DO $do$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'r' ORDER BY c.relname LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER in_use BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.in_use_trigger()', t);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER in_use', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER restore_end AFTER INSERT ON %s '
                                  'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.in_use_trigger()', t);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER restore_end', t);
    END LOOP;
END
$do$;

-- While custier is being restored, a managed table's registration comes back
-- before its key's unique index and its triggers (pg_dump re-creates those
-- after the data): their absence is no problem yet.
-- Disabled triggers, and anything else, still are.
CREATE FUNCTION @extschema@._restore_pending(tbl regclass, problem text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- pg_restore adds the key's primary key or unique index after the data,
    -- and the triggers after that.
    SELECT (problem LIKE 'its triggers % must stay in place and enabled'
            AND NOT EXISTS (SELECT FROM pg_trigger t
                             WHERE t.tgrelid = $1 AND t.tgname LIKE 'custier\_%' AND t.tgenabled NOT IN ('O', 'A'))
            OR problem LIKE 'its key column "%" must keep a unique index%')
       AND custier._restoring()
$$;
COMMENT ON FUNCTION @extschema@._restore_pending(regclass, text) IS 'internal (DDL event trigger): is this problem of a managed table only that a restore has not re-created its triggers yet?';
REVOKE ALL ON FUNCTION @extschema@._restore_pending(regclass, text) FROM PUBLIC;

-- ---------------------------------------------------------------------
-- Dropped tables: their rows keep the name, never the OID.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._forgetting() RETURNS boolean
    LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'custier_forgetting';
COMMENT ON FUNCTION @extschema@._forgetting() IS 'internal: true while custier._forget_table re-points a dropped table''s rows';

CREATE FUNCTION @extschema@._forget_table(tbl oid, name text) RETURNS void
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'custier_forget_table';
COMMENT ON FUNCTION @extschema@._forget_table(oid, text) IS 'internal (sql_drop): rejects a dropped table''s open adjustments and re-points its rows to tbl 0, dropped_table = its name';
REVOKE ALL ON FUNCTION @extschema@._forget_table(oid, text) FROM PUBLIC;

-- Called by the sql_drop event trigger (custier._on_sql_drop).
CREATE FUNCTION @extschema@._forget_dropped() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT d.objid::regclass AS tbl, format('%I.%I', d.schema_name, d.object_name) AS name
               FROM pg_event_trigger_dropped_objects() d
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND d.object_type = 'table' LOOP
        IF EXISTS (SELECT FROM custier.tier_history h WHERE h.tbl = o.tbl)
           OR EXISTS (SELECT FROM custier.customer_key_change k WHERE k.tbl = o.tbl)
           OR EXISTS (SELECT FROM custier.adjustment a WHERE a.tbl = o.tbl)
           OR EXISTS (SELECT FROM custier.evaluation e WHERE e.tbl = o.tbl) THEN
            PERFORM custier._forget_table(o.tbl::oid, o.name);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._forget_dropped() IS 'internal (sql_drop): forgets the OIDs of dropped tables that custier has rows about, keeping their names';
REVOKE ALL ON FUNCTION @extschema@._forget_dropped() FROM PUBLIC;

CREATE INDEX adjustment_table ON @extschema@.adjustment (tbl);
COMMENT ON INDEX @extschema@.adjustment_table IS 'adjustments of a table (finding a dropped table''s)';

-- ---------------------------------------------------------------------
-- Uninstall: never while a table is managed, never losing users' columns.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._extension_dependents() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- What DROP EXTENSION custier CASCADE would drop beyond custier's own
    -- objects (and their parts): users' columns, views, functions, indexes.
    WITH members AS (
        SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'custier' AND d.deptype = 'e'),
    dependents AS (
        SELECT DISTINCT d.classid, d.objid, d.objsubid
          FROM pg_depend d JOIN members m ON m.classid = d.refclassid AND m.objid = d.refobjid
         WHERE d.deptype = 'n'
           AND NOT EXISTS (SELECT FROM members x WHERE x.classid = d.classid AND x.objid = d.objid)
           AND NOT EXISTS (SELECT FROM pg_depend p JOIN members x ON x.classid = p.refclassid AND x.objid = p.refobjid
                            WHERE p.classid = d.classid AND p.objid = d.objid AND p.deptype IN ('a', 'i')))
    SELECT string_agg(o, ', ' ORDER BY o)
      FROM (SELECT pg_describe_object(s.classid, s.objid, s.objsubid) AS o
              FROM dependents s
             WHERE (pg_identify_object(s.classid, s.objid, s.objsubid)).schema IS DISTINCT FROM 'custier') x
$$;
COMMENT ON FUNCTION @extschema@._extension_dependents() IS 'internal: the objects outside custier that DROP EXTENSION custier CASCADE would drop';

CREATE FUNCTION @extschema@._on_drop_extension() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_drop_extension';
COMMENT ON FUNCTION @extschema@._on_drop_extension() IS 'event trigger: refuses to drop custier while it manages a table, or with CASCADE while objects outside it depend on it';
CREATE EVENT TRIGGER custier_drop_extension ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA') EXECUTE FUNCTION @extschema@._on_drop_extension();
COMMENT ON EVENT TRIGGER custier_drop_extension IS 'custier: no uninstall while a table is managed, no CASCADE into users'' objects';
