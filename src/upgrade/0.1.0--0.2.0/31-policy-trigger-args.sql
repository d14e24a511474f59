-- 31-policy-trigger-args.sql — the policy tables' triggers name their table
-- by argument instead of TG_TABLE_NAME, so that they work on the shards of
-- a Citus reference table (doc/citus.md); the audit trigger records that
-- name too.
CREATE OR REPLACE FUNCTION @extschema@.policy_row_check() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n jsonb := to_jsonb(NEW);
    pol text := coalesce(n->>'policy', n->>'name');
    problem text;
    hint text;
BEGIN
    -- The table is named by the trigger's argument, not TG_TABLE_NAME: as a
    -- Citus reference table, the rows are written to shards (policy_102008).
    CASE coalesce(TG_ARGV[0], TG_TABLE_NAME)
    WHEN 'policy' THEN
        IF NEW.name = '' THEN
            problem := 'a policy name must not be empty';
        ELSIF NEW.method IS DISTINCT FROM 'thresholds' AND NEW.method IS DISTINCT FROM 'score' THEN
            problem := format('unknown method "%s"', NEW.method);
            hint := 'The method is ''thresholds'' or ''score''.';
        ELSIF NEW.approval IS DISTINCT FROM 'none' AND NEW.approval IS DISTINCT FROM 'downgrade'
              AND NEW.approval IS DISTINCT FROM 'all' THEN
            problem := format('unknown approval "%s"', NEW.approval);
            hint := 'Approval is ''none'', ''downgrade'' or ''all''.';
        ELSIF NEW.upgrade_after < 1 THEN
            problem := format('upgrade_after must be at least 1, not %s', NEW.upgrade_after);
        ELSIF NEW.downgrade_after < 1 THEN
            problem := format('downgrade_after must be at least 1, not %s', NEW.downgrade_after);
        ELSIF NEW.max_step < 1 THEN
            problem := format('max_step must be NULL (no limit) or at least 1, not %s', NEW.max_step);
        ELSIF NEW.period <= interval '0' THEN
            problem := format('period must be positive, not %s', NEW.period);
        ELSIF (TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner)
              AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = NEW.owner) THEN
            problem := format('owner %s is not a role', coalesce(NEW.owner::text, 'NULL'));
        END IF;
        -- Ownership is given, not taken: the editor must be a member of the
        -- new owner (and, to change it, of the old one).
        IF problem IS NULL AND (TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner)
           AND (NOT pg_has_role(current_user, NEW.owner, 'MEMBER')
                OR (TG_OP = 'UPDATE' AND EXISTS (SELECT FROM pg_roles r WHERE r.rolname = OLD.owner)
                    AND NOT pg_has_role(current_user, OLD.owner, 'MEMBER'))) THEN
            RAISE EXCEPTION 'policy "%": % may not make % its owner', NEW.name, current_user, NEW.owner
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'The owner of a policy decides which tables it grades: set it to a role you are a member of.';
        END IF;
    WHEN 'policy_criterion' THEN
        IF NEW.metric = '' THEN
            problem := 'a metric name must not be empty';
        ELSIF NOT (NEW.weight > 0 AND NEW.weight < 'Infinity') THEN
            problem := format('weight of metric "%s" must be a finite number > 0, not %s', NEW.metric, NEW.weight);
        END IF;
    WHEN 'policy_threshold' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('threshold for tier %s on metric "%s" must be a number, not NaN', NEW.tier, NEW.metric);
        END IF;
    WHEN 'policy_band' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('band on metric "%s" must have a number as bound, not NaN', NEW.metric);
        ELSIF NOT (NEW.points > '-Infinity' AND NEW.points < 'Infinity') THEN
            problem := format('band at bound %s on metric "%s" must earn a finite number of points, not %s',
                              NEW.bound, NEW.metric, NEW.points);
        END IF;
    WHEN 'policy_reviewer' THEN
        IF NEW.reviewer_role IS NOT NULL AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = NEW.reviewer_role) THEN
            problem := format('reviewer_role %s of department "%s" is not a role', NEW.reviewer_role, NEW.department);
        END IF;
    WHEN 'policy_tier' THEN
        IF NEW.min_score = 'NaN' THEN
            problem := format('min_score of tier %s must be a number, not NaN', NEW.tier);
        END IF;
    ELSE
        NULL;
    END CASE;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'policy "%": %', pol, problem
            USING ERRCODE = 'check_violation', HINT = coalesce(hint, '');
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.policy_consistency_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A restore replays policies as they were, table by table.
    IF custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    IF coalesce(TG_ARGV[0], TG_TABLE_NAME) = 'policy' THEN   -- see policy_row_check
        PERFORM custier.policy_check(NEW.name);
    ELSE
        PERFORM custier.policy_check(NEW.policy);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._policy_triggers(t text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_row_check(%L)',
                   t || '_row_check', t, t);
    IF t <> 'policy_reviewer' THEN
        EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE ON custier.%I DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION custier.policy_consistency_trigger(%L)',
                       t || '_consistency', t, t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_edited()',
                       t || '_edited', t);
        -- Also under session_replication_role = replica: a stale compiled
        -- policy is wrong whatever the role.
        EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_edited');
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_audit_trigger(%L)',
                   t || '_audit', t, t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_audit_trigger(%L)',
                   t || '_audit_truncate', t, t);
    -- The audit fires under session_replication_role = replica too.
    EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit');
    EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit_truncate');
END
$$;
COMMENT ON FUNCTION @extschema@._policy_triggers(text) IS
    'internal: creates the validation, cache and audit triggers of one policy table (used by the install and update scripts)';
REVOKE ALL ON FUNCTION @extschema@._policy_triggers(text) FROM PUBLIC;

DO $do$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policy', 'policy_tier', 'policy_criterion', 'policy_threshold',
                             'policy_band', 'policy_reviewer'] LOOP
        EXECUTE format('DROP TRIGGER %I ON custier.%I', t || '_row_check', t);
        IF t <> 'policy_reviewer' THEN
            EXECUTE format('DROP TRIGGER %I ON custier.%I', t || '_consistency', t);
            EXECUTE format('DROP TRIGGER %I ON custier.%I', t || '_edited', t);
        END IF;
        EXECUTE format('DROP TRIGGER %I ON custier.%I', t || '_audit', t);
        EXECUTE format('DROP TRIGGER %I ON custier.%I', t || '_audit_truncate', t);
        PERFORM custier._policy_triggers(t);
    END LOOP;
END
$do$;
