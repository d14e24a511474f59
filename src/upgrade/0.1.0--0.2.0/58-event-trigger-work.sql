-- The event triggers' work in SQL, run by the C event trigger functions
-- (src/history.c): after the lifecycle module, whose functions it calls.

CREATE OR REPLACE FUNCTION @extschema@._sql_drop() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
BEGIN
    DELETE FROM custier.managed_table m
     USING pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0 AND o.objid = m.tbl::oid;
    PERFORM custier._forget_dropped();
    FOR d IN SELECT o.address_names FROM pg_event_trigger_dropped_objects() o
              WHERE o.object_type = 'trigger' AND o.address_names[3] LIKE 'custier\_%' LOOP
        IF EXISTS (SELECT FROM custier.managed_table m
                     JOIN pg_class c ON c.oid = m.tbl
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = d.address_names[1] AND c.relname = d.address_names[2]) THEN
            RAISE EXCEPTION 'cannot drop trigger % on %.%: the table is managed by custier',
                            d.address_names[3], d.address_names[1], d.address_names[2]
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Call custier.unmanage on the table first.';
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._sql_drop() IS 'internal: the work of event trigger custier_sql_drop';
REVOKE ALL ON FUNCTION @extschema@._sql_drop() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._ddl_end() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       record;
    problem text;
BEGIN
    -- custier's trigger names are custier's on a managed table: no CREATE
    -- (OR REPLACE) TRIGGER may take one over.
    FOR m IN SELECT t.tgname, t.tgrelid::regclass AS tbl
               FROM pg_event_trigger_ddl_commands() c
               JOIN pg_trigger t ON c.classid = 'pg_trigger'::regclass AND t.oid = c.objid
               JOIN custier.managed_table mt ON mt.tbl = t.tgrelid
              WHERE t.tgname LIKE 'custier\_%' LOOP
        -- A restore re-creates them, once (src/lifecycle.c).
        CONTINUE WHEN custier._restoring();
        RAISE EXCEPTION 'cannot create or replace trigger % on %: the table is managed by custier', m.tgname, m.tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Trigger names starting with custier_ are custier''s; call custier.unmanage(%L) first.', m.tbl);
    END LOOP;
    -- custier's own tables carry custier's triggers, rules and policies only:
    -- its statements run there with the extension owner's rights.
    FOR m IN SELECT c.command_tag, c.object_identity FROM pg_event_trigger_ddl_commands() c
              WHERE NOT c.in_extension
                AND c.command_tag IN ('CREATE TRIGGER', 'CREATE RULE', 'CREATE POLICY', 'ALTER POLICY')
                AND (SELECT cl.relnamespace FROM pg_class cl
                      WHERE cl.oid = CASE c.classid
                                     WHEN 'pg_trigger'::regclass THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.oid = c.objid)
                                     WHEN 'pg_policy'::regclass THEN (SELECT p.polrelid FROM pg_policy p WHERE p.oid = c.objid)
                                     WHEN 'pg_rewrite'::regclass THEN (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = c.objid)
                                     END) = 'custier'::regnamespace
                -- a trigger that runs custier's own function is custier's
                -- (Citus copies them onto the shards of a reference table)
                AND NOT EXISTS (SELECT FROM pg_trigger t
                                  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = t.tgfoid
                                   AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                                  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'custier'
                                 WHERE c.classid = 'pg_trigger'::regclass AND t.oid = c.objid) LOOP
        RAISE EXCEPTION 'custier''s tables take no user code: % % refused', m.command_tag, m.object_identity
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'custier writes its tables with the extension owner''s rights; a trigger, rule or policy there would run with them.';
    END LOOP;
    FOR m IN SELECT mt.* FROM custier.managed_table mt JOIN pg_class c ON c.oid = mt.tbl LOOP
        problem := custier._managed_problem(m.tbl, m.key_column, m.tier_column, m.require_approval);
        IF problem IS NOT NULL AND NOT custier._restore_pending(m.tbl, problem) THEN
            RAISE EXCEPTION 'table % is managed by custier: %', m.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Call custier.unmanage(%L) first.', m.tbl);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._ddl_end() IS 'internal: the work of event trigger custier_ddl_end';
REVOKE ALL ON FUNCTION @extschema@._ddl_end() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_sql_drop';
COMMENT ON FUNCTION @extschema@._on_sql_drop() IS 'event trigger: forgets dropped managed tables (their history stays) and refuses dropping custier''s triggers';

CREATE OR REPLACE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_on_ddl_end';
COMMENT ON FUNCTION @extschema@._on_ddl_end() IS 'event trigger: refuses DDL that would rename, retype or unguard a managed table''s key and tier columns, drop its key''s unique index, replace or disable its triggers, or make it a child table, and triggers, rules or policies on custier''s own tables';

DROP EVENT TRIGGER custier_ddl_end;

CREATE EVENT TRIGGER custier_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'CREATE TABLE', 'CREATE FOREIGN TABLE', 'CREATE TRIGGER',
                 'DROP INDEX', 'ALTER INDEX', 'CREATE RULE', 'CREATE POLICY', 'ALTER POLICY') EXECUTE FUNCTION @extschema@._on_ddl_end();

COMMENT ON EVENT TRIGGER custier_ddl_end IS 'custier: keeps managed tables'' key and tier columns, key index and triggers intact';
