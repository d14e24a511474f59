-- Dropped tables: their rows are re-pointed to tbl 0 and keep the table's
-- name (lifecycle.sql: custier._forget_table).
ALTER TABLE @extschema@.tier_history ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.tier_history.dropped_table IS 'once the table is dropped: its name (tbl is then 0, so that a new table reusing its OID never takes this history)';
ALTER TABLE @extschema@.customer_key_change ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.customer_key_change.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
ALTER TABLE @extschema@.adjustment ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.adjustment.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
ALTER TABLE @extschema@.evaluation ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.evaluation.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';

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
