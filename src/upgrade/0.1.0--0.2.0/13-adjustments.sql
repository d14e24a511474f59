-- adjustments: four eyes in C (memberships, the login, no

-- superuser exemption), reviews need the department's role, customers are

-- read and locked as the table's owner, approve applies by the one path.



CREATE OR REPLACE FUNCTION @extschema@._acts_for(proposer name, approver name) RETURNS boolean
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'custier_acts_for';
COMMENT ON FUNCTION @extschema@._acts_for(name, name) IS 'internal: may the approver not approve what the proposer proposed (four eyes: the same role, a member either way, or the session''s login is the proposer or a member of it)';
REVOKE ALL ON FUNCTION @extschema@._acts_for(name, name) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._adjustment_guard() IS 'trigger: the adjustment state machine, for the functions and for direct writes alike';
COMMENT ON FUNCTION @extschema@._review_guard() IS 'trigger: a review is recorded once per department, while the adjustment is proposed';

DROP FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb);

CREATE OR REPLACE FUNCTION @extschema@._lock_sql(tbl regclass) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m        custier.managed_table;
    key_type text;
    key_eq   text;
BEGIN
    SELECT * INTO m FROM custier.managed_table t WHERE t.tbl = _lock_sql.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call custier.manage first.';
    END IF;
    SELECT format_type(a.atttypid, NULL), custier._key_eq(tbl, a.attnum) INTO key_type, key_eq
      FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = m.key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'table % is managed by custier but its key column "%" has no unique index', tbl, m.key_column
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN format('SELECT t.%1$I, pg_catalog.format(''%%s'', t.%2$I) FROM %3$s t WHERE t.%2$I %4$s CAST($1 AS %5$s) FOR UPDATE',
                  m.tier_column, m.key_column, tbl, key_eq, key_type);
END $$;
COMMENT ON FUNCTION @extschema@._lock_sql(regclass) IS 'internal: the statement custier._lock_customer runs as a managed table''s owner';
REVOKE ALL ON FUNCTION @extschema@._lock_sql(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._lock_customer(tbl regclass, customer_key text, OUT grade @extschema@.tier, OUT customer_key text)
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'custier_lock_customer';
COMMENT ON FUNCTION @extschema@._lock_customer(regclass, text) IS 'internal: reads and locks one customer of a managed table as the table''s owner (NULL when there is none)';
REVOKE ALL ON FUNCTION @extschema@._lock_customer(regclass, text) FROM PUBLIC;

DROP FUNCTION @extschema@._approval(bigint);

CREATE OR REPLACE FUNCTION @extschema@._approval(adjustment_id bigint,
    OUT tbl oid, OUT customer_key text, OUT reason text, OUT from_tier text,
    OUT keys text[], OUT from_tiers @extschema@.tier[], OUT to_tiers @extschema@.tier[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a       custier.adjustment;
BEGIN
    -- The lock makes concurrent approvals, rejections and withdrawals queue.
    SELECT * INTO a FROM custier.adjustment x WHERE x.adjustment_id = _approval.adjustment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', _approval.adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
    IF a.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed', a.adjustment_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF custier._actor() = a.proposed_by THEN
        RAISE EXCEPTION 'adjustment % was proposed by %, who cannot approve it', a.adjustment_id, a.proposed_by
            USING ERRCODE = 'insufficient_privilege', HINT = 'Another role must approve it (four eyes).';
    END IF;
    PERFORM custier._check_approvable(a, custier._actor());
    IF NOT EXISTS (SELECT FROM custier.managed_table t WHERE t.tbl = a.tbl) THEN
        RAISE EXCEPTION 'table % is no longer managed by custier', a.tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    tbl := a.tbl;
    customer_key := a.customer_key;
    reason := a.reason;
    from_tier := a.from_tier::text;
    -- The change, as custier_apply_grades takes it.
    keys := ARRAY[a.customer_key];
    from_tiers := ARRAY[a.from_tier];
    to_tiers := ARRAY[a.to_tier];
END $$;
COMMENT ON FUNCTION @extschema@._approval(bigint) IS 'internal: locks and checks an adjustment for custier.approve, and gives the change to apply';
REVOKE ALL ON FUNCTION @extschema@._approval(bigint) FROM PUBLIC;
