-- custier.manage names the key and tier columns in its triggers' arguments
-- (0.1.0 gave column numbers, which a restore into a table without the
-- original's dropped columns would get wrong).  Existing triggers are
-- rewritten by 55-trigger-columns.sql.

CREATE OR REPLACE FUNCTION @extschema@._manage(tbl regclass, key_column name, tier_column name, policy text, require_approval boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor    name := custier._actor();
    rel      record;
    key_att  record;
    tier_att record;
    key_eq   text;
    other    regclass;
    policy_owner name;
    cond     text;
BEGIN
    SELECT c.relkind, c.relowner, c.relpersistence INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relpersistence = 't' THEN
        RAISE EXCEPTION 'custier cannot manage %: it is a temporary table', tbl
            USING ERRCODE = 'feature_not_supported', HINT = 'Its grades and history would outlive it: manage an ordinary table.';
    END IF;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION 'custier cannot manage %: it is not an ordinary table', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Views, foreign tables and partitioned tables are not supported.';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tbl OR i.inhrelid = tbl) THEN
        RAISE EXCEPTION 'custier cannot manage %: it is a partition, or takes part in inheritance', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Rows of child tables would escape its triggers.';
    END IF;
    IF NOT pg_has_role(actor, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to manage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT a.attnum, a.atttypid, a.attnotnull INTO key_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', key_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    SELECT a.attnum, a.atttypid INTO tier_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tier_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', tier_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF tier_att.atttypid <> 'custier.tier'::regtype THEN
        RAISE EXCEPTION 'tier column "%" of table % is of type %, not custier.tier', tier_column, tbl, tier_att.atttypid::regtype
            USING ERRCODE = 'datatype_mismatch', HINT = 'Convert it with ALTER TABLE … ALTER COLUMN … TYPE custier.tier.';
    END IF;
    IF key_att.attnum = tier_att.attnum THEN
        RAISE EXCEPTION 'key column and tier column of table % are both "%"', tbl, key_column
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    IF NOT key_att.attnotnull THEN
        RAISE EXCEPTION 'key column "%" of table % must be NOT NULL', key_column, tbl
            USING ERRCODE = 'invalid_column_reference', HINT = 'ALTER TABLE … ALTER COLUMN … SET NOT NULL.';
    END IF;
    -- The key's equality, from a unique index on that column alone.
    key_eq := custier._key_eq(tbl, key_att.attnum);
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'key column "%" of table % is not unique', key_column, tbl
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'custier needs a primary key, or a unique index or constraint (not deferrable, not partial), on that column alone.';
    END IF;
    IF EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _manage.tbl) THEN
        RAISE EXCEPTION 'table % is already managed by custier', tbl
            USING ERRCODE = 'duplicate_object', HINT = 'One managed tier column per table; call custier.unmanage first to change it.';
    END IF;
    SELECT p.owner INTO policy_owner FROM custier.policy p WHERE p.name = _manage.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy USING ERRCODE = 'undefined_object';
    END IF;
    -- Who may attach a table to a policy: its owner's members.
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = policy_owner)
       OR NOT pg_has_role(actor, policy_owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be a member of role % (owner of policy "%") to manage a table with it', policy_owner, policy
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The policy''s owner (custier.policy.owner) decides which tables it grades: ask it to grant you its role, or create your own policy.';
    END IF;
    SELECT m.tbl INTO other FROM custier.managed_table m WHERE m.policy = _manage.policy;
    IF FOUND THEN
        RAISE EXCEPTION 'policy "%" already serves table %', policy, other
            USING ERRCODE = 'duplicate_object', HINT = 'A policy serves at most one managed table; create another policy for this one.';
    END IF;

    INSERT INTO custier.managed_table VALUES (tbl, key_column, tier_column, policy, require_approval, now(), actor);

    -- The WHEN clauses keep updates that touch neither grade nor key out of
    -- the trigger queue; the C code then compares exactly.
    cond := format('(OLD.%1$I OPERATOR(custier.=) NEW.%1$I) IS NOT TRUE OR (OLD.%2$I %3$s NEW.%2$I) IS NOT TRUE',
                   tier_column, key_column, key_eq);
    EXECUTE format('CREATE TRIGGER custier_history AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, cond, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_insert_delete AFTER INSERT OR DELETE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    EXECUTE format('CREATE TRIGGER custier_history_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_column, tier_column);
    IF require_approval THEN
        -- Grade changes, and graded rows arriving at a key (which must not
        -- bring another grade than the key's recorded one).
        EXECUTE format('CREATE TRIGGER custier_guard AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, cond, key_column, tier_column);
        EXECUTE format('CREATE TRIGGER custier_guard_insert AFTER INSERT ON %s FOR EACH ROW '
                       'WHEN (NEW.%I IS NOT NULL) EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, tier_column, key_column, tier_column);
    END IF;
END $$;
