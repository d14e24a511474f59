-- adjustments (SPEC §8): four eyes in C (memberships, the login, no

-- superuser exemption), reviews need the department's role, customers are

-- read and locked as the table's owner, approve applies by the one path.



CREATE OR REPLACE FUNCTION @extschema@._acts_for(proposer name, approver name) RETURNS boolean
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'custier_acts_for';
COMMENT ON FUNCTION @extschema@._acts_for(name, name) IS 'internal: may the approver not approve what the proposer proposed (four eyes: the same role, a member either way, or the session''s login is the proposer or a member of it)';
REVOKE ALL ON FUNCTION @extschema@._acts_for(name, name) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._adjustment_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor   name := custier._actor();
    m       custier.managed_table;
    lowest  custier.tier;
    cur     record;
    open_id bigint;
BEGIN
    -- A restore replays the rows as they were; a dropped table's rows are re-pointed.
    IF TG_OP = 'INSERT' AND custier._restore_load(TG_RELID) THEN RETURN NEW; END IF;
    IF TG_OP = 'UPDATE' AND custier._forgetting() THEN RETURN NEW; END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'adjustment % cannot be deleted: adjustments are a record', OLD.adjustment_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Withdraw or reject it instead.';
    END IF;

    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'proposed' THEN
            RAISE EXCEPTION 'a new adjustment must be proposed, not %', NEW.status
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Use custier.propose.';
        END IF;
        SELECT * INTO m FROM custier.managed_table t WHERE t.tbl = NEW.tbl;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'table % is not managed by custier', NEW.tbl
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call custier.manage first.';
        END IF;
        IF NEW.reason IS NULL OR btrim(NEW.reason) = '' THEN
            RAISE EXCEPTION 'an adjustment of customer "%" needs a reason', NEW.customer_key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT p.lowest INTO lowest FROM custier.policy p WHERE p.name = m.policy;
        IF custier.rank(NEW.to_tier) > custier.rank(lowest) THEN
            RAISE EXCEPTION 'grade % is outside the scale A..% of policy "%"', NEW.to_tier, lowest, m.policy
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Lock the customer: proposals for it (and grade changes) queue here.
        -- Read as the table's owner (custier._lock_customer); the key is
        -- recorded as custier records keys, by the type's output function
        -- ('007' of an integer key is customer '7').
        SELECT l.grade, l.customer_key AS key INTO cur FROM custier._lock_customer(NEW.tbl, NEW.customer_key) l;
        IF cur.key IS NULL THEN
            RAISE EXCEPTION 'customer "%" does not exist in table %', NEW.customer_key, NEW.tbl
                USING ERRCODE = 'no_data_found';
        END IF;
        NEW.customer_key := cur.key;
        IF cur.grade IS NOT NULL AND cur.grade OPERATOR(custier.=) NEW.to_tier AND NOT custier._same_grade_allowed(NEW) THEN
            RAISE EXCEPTION 'customer "%" of table % already has grade %', NEW.customer_key, NEW.tbl, NEW.to_tier
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'To hold the grade as it is, give hold_until.';
        END IF;
        SELECT a.adjustment_id INTO open_id FROM custier.adjustment a
         WHERE a.tbl = NEW.tbl AND a.customer_key = NEW.customer_key AND a.status IN ('proposed', 'approved');
        IF FOUND THEN
            RAISE EXCEPTION 'customer "%" of table % already has an open adjustment (%)', NEW.customer_key, NEW.tbl, open_id
                USING ERRCODE = 'unique_violation', HINT = 'Decide or withdraw that one first.';
        END IF;
        NEW.from_tier := cur.grade;
        NEW.proposed_by := actor;
        NEW.proposed_at := now();
        NEW.decided_by := NULL;
        NEW.decided_at := NULL;
        NEW.decision_note := NULL;
        RETURN NEW;
    END IF;

    -- UPDATE: only the status moves, and only out of 'proposed'.
    IF (NEW.adjustment_id, NEW.tbl, NEW.customer_key, NEW.reason, NEW.proposed_by, NEW.proposed_at)
       IS DISTINCT FROM (OLD.adjustment_id, OLD.tbl, OLD.customer_key, OLD.reason, OLD.proposed_by, OLD.proposed_at)
       OR NEW.evidence IS DISTINCT FROM OLD.evidence OR NEW.evaluation_id IS DISTINCT FROM OLD.evaluation_id
       OR NEW.from_tier::text IS DISTINCT FROM OLD.from_tier::text OR NEW.to_tier::text IS DISTINCT FROM OLD.to_tier::text THEN
        RAISE EXCEPTION 'adjustment % cannot be edited: only its status changes', OLD.adjustment_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Withdraw it and propose again.';
    END IF;
    IF OLD.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed', OLD.adjustment_id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    CASE NEW.status
    WHEN 'applied' THEN
        IF NOT custier._applying(OLD.adjustment_id) THEN
            RAISE EXCEPTION 'adjustment % can only be applied by custier.approve', OLD.adjustment_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF actor = OLD.proposed_by THEN
            RAISE EXCEPTION 'adjustment % was proposed by %, who cannot approve it', OLD.adjustment_id, actor
                USING ERRCODE = 'insufficient_privilege', HINT = 'Another role must approve it (four eyes).';
        END IF;
        PERFORM custier._check_approvable(OLD, actor);
    WHEN 'rejected' THEN
        IF NEW.decision_note IS NULL OR btrim(NEW.decision_note) = '' THEN
            RAISE EXCEPTION 'rejecting adjustment % needs a note', OLD.adjustment_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    WHEN 'withdrawn' THEN
        IF actor <> OLD.proposed_by THEN
            RAISE EXCEPTION 'adjustment % can only be withdrawn by its proposer %', OLD.adjustment_id, OLD.proposed_by
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        RAISE EXCEPTION 'adjustment % cannot go from proposed to %', OLD.adjustment_id, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Use custier.approve, custier.reject or custier.withdraw.';
    END CASE;
    NEW.decided_by := actor;
    NEW.decided_at := now();
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_guard() IS 'trigger: the adjustment state machine, for the functions and for direct writes alike';

CREATE OR REPLACE FUNCTION @extschema@._review_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a     custier.adjustment;
    dept  custier.policy_reviewer;
    actor name := custier._actor();
BEGIN
    IF TG_OP = 'INSERT' AND custier._restore_load(TG_RELID) THEN RETURN NEW; END IF;
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'reviews cannot be changed or removed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Locks the adjustment: a review and a decision never cross.
    SELECT * INTO a FROM custier.adjustment x WHERE x.adjustment_id = NEW.adjustment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', NEW.adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
    IF a.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed: it takes no more reviews', a.adjustment_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT r.* INTO dept FROM custier.managed_table m JOIN custier.policy_reviewer r ON r.policy = m.policy
     WHERE m.tbl = a.tbl AND r.department = NEW.department;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'department "%" does not review adjustments of table %', NEW.department, a.tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The reviewing departments are the rows of custier.policy_reviewer for the table''s policy.';
    END IF;
    -- Departments are roles: only a member of the department's role reviews for it.
    IF dept.reviewer_role IS NULL OR NOT EXISTS (SELECT FROM pg_roles o WHERE o.rolname = dept.reviewer_role)
       OR NOT pg_has_role(actor, dept.reviewer_role, 'MEMBER') THEN
        RAISE EXCEPTION '% may not review for department "%"', actor, NEW.department
            USING ERRCODE = 'insufficient_privilege',
                  HINT = CASE WHEN dept.reviewer_role IS NULL
                              THEN format('Department "%s" of policy "%s" has no reviewer_role: set custier.policy_reviewer.reviewer_role to the role whose members review for it.', dept.department, dept.policy)
                              ELSE format('Reviews for department "%s" need membership in role %s.', dept.department, dept.reviewer_role) END;
    END IF;
    IF EXISTS (SELECT FROM custier.adjustment_review v
                WHERE v.adjustment_id = NEW.adjustment_id AND v.department = NEW.department) THEN
        RAISE EXCEPTION 'department "%" has already reviewed adjustment %', NEW.department, NEW.adjustment_id
            USING ERRCODE = 'unique_violation';
    END IF;
    IF NEW.opinion IS NULL OR NEW.opinion NOT IN ('support', 'oppose') THEN
        RAISE EXCEPTION 'opinion must be ''support'' or ''oppose'', not %', coalesce(quote_literal(NEW.opinion), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    NEW.reviewer := actor;
    NEW.reviewed_at := now();
    RETURN NEW;
END $$;
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
