-- The event triggers' functions call lifecycle.sql's functions: replaced
-- once those exist.  The DDL event trigger waits for a restore to bring a
-- managed table's triggers back; the drop event trigger forgets dropped
-- tables' OIDs.

CREATE OR REPLACE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       record;
    problem text;
BEGIN
    FOR m IN SELECT * FROM custier.managed_table LOOP
        problem := custier._managed_problem(m.tbl, m.key_column, m.tier_column, m.require_approval);
        IF problem IS NOT NULL AND NOT custier._restore_pending(m.tbl, problem) THEN
            RAISE EXCEPTION 'table % is managed by custier: %', m.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Call custier.unmanage(%L) first.', m.tbl);
        END IF;
    END LOOP;
END $$;
