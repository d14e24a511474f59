-- unmanage also removes the owner history triggers of custier.set_allocation
-- (the table's allocation row goes with its managed_table row).
CREATE OR REPLACE FUNCTION @extschema@._unmanage(tbl regclass)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor name := custier._actor();
    trg   text;
BEGIN
    IF NOT EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl) THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT pg_has_role(actor, (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to unmanage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Unregister first (its allocation goes with it): the drop event
    -- trigger then lets the triggers go.
    DELETE FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl;
    FOR trg IN SELECT t.tgname FROM pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgname IN ('custier_guard', 'custier_guard_insert', 'custier_history', 'custier_history_insert_delete',
                                                      'custier_history_flush', 'custier_history_truncate',
                                                      'custier_owner_history', 'custier_owner_history_flush') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, tbl);
    END LOOP;
END $$;
