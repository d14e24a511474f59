-- policies: policy.owner, policy_reviewer.reviewer_role, and the

-- audit triggers fire under session_replication_role = replica too.

-- Existing policies belong to the role running the update (the extension

-- owner or a superuser); departments get the role of the same name, when

-- there is one, else none (no one reviews for them until it is set).



ALTER TABLE @extschema@.policy ADD COLUMN owner name NOT NULL DEFAULT CURRENT_USER;

COMMENT ON COLUMN @extschema@.policy.owner IS 'the role whose members may attach tables to this policy (custier.manage); by default the role that inserted it';

ALTER TABLE @extschema@.policy_reviewer ADD COLUMN reviewer_role name;

COMMENT ON COLUMN @extschema@.policy_reviewer.reviewer_role IS 'the role whose members review for this department; NULL: no one may until it is set';
COMMENT ON FUNCTION @extschema@.policy_row_check() IS
    'trigger: refuses a policy row that is wrong on its own (method, approval, weights, NaN bounds), naming the policy';

ALTER TABLE @extschema@.policy_audit ENABLE ALWAYS TRIGGER policy_audit_append_only;

ALTER TABLE @extschema@.policy_audit ENABLE ALWAYS TRIGGER policy_audit_no_truncate;

DO $do$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policy', 'policy_tier', 'policy_criterion', 'policy_threshold',
                             'policy_band', 'policy_reviewer'] LOOP
        EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit');
        EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit_truncate');
    END LOOP;
END
$do$;

UPDATE @extschema@.policy_reviewer r SET reviewer_role = r.department
 WHERE EXISTS (SELECT FROM pg_catalog.pg_roles o WHERE o.rolname OPERATOR(pg_catalog.=) r.department);
