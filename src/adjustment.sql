-- adjustment.sql — adjustment approvals (see doc/reference.md): tables whose triggers are
-- the state machine, and the functions users call (C in src/adjustment.c).
--
--   proposed ──approve──▶ applied      (approve records the decision and applies the grade at once)
--      │ ──reject───▶ rejected
--      └──withdraw──▶ withdrawn
-- 'approved' is a valid status for adjustments applied by other means
-- (evaluation runs); the state machine never leaves a row there.

CREATE TABLE @extschema@.adjustment (
    adjustment_id bigserial PRIMARY KEY,
    tbl           regclass NOT NULL,
    customer_key  text NOT NULL,
    from_tier     @extschema@.tier,
    to_tier       @extschema@.tier NOT NULL,
    reason        text NOT NULL,
    evidence      jsonb,
    status        text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'approved', 'applied', 'rejected', 'withdrawn')),
    proposed_by   name NOT NULL,
    proposed_at   timestamptz NOT NULL,
    decided_by    name,
    decided_at    timestamptz,
    decision_note text,
    evaluation_id bigint,
    dropped_table text,
    hold_until    timestamptz
);
COMMENT ON TABLE @extschema@.adjustment IS 'grade change requests (客户级别调整申请): proposed, reviewed, then approved and applied, rejected or withdrawn';
-- At most one open adjustment per customer, whatever races.
COMMENT ON COLUMN @extschema@.adjustment.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
CREATE UNIQUE INDEX adjustment_open ON @extschema@.adjustment (tbl, customer_key) WHERE status IN ('proposed', 'approved');
COMMENT ON INDEX @extschema@.adjustment_open IS 'one open adjustment per customer';
COMMENT ON COLUMN @extschema@.adjustment.hold_until IS 'once applied, evaluations before this moment propose no change of the customer''s grade (NULL: no hold)';

CREATE TABLE @extschema@.adjustment_review (
    adjustment_id bigint NOT NULL REFERENCES @extschema@.adjustment,
    department    text NOT NULL,
    reviewer      name NOT NULL,
    opinion       text NOT NULL CHECK (opinion IN ('support', 'oppose')),
    comment       text,
    reviewed_at   timestamptz NOT NULL,
    PRIMARY KEY (adjustment_id, department)
);
COMMENT ON TABLE @extschema@.adjustment_review IS 'one department''s opinion on an adjustment';

CREATE TABLE @extschema@.adjustment_event (
    event_id      bigserial PRIMARY KEY,
    adjustment_id bigint NOT NULL REFERENCES @extschema@.adjustment,
    event         text NOT NULL,
    actor         name NOT NULL,
    at            timestamptz NOT NULL,
    detail        jsonb
);
COMMENT ON TABLE @extschema@.adjustment_event IS 'append-only log of every step of every adjustment';
CREATE INDEX adjustment_event_adjustment ON @extschema@.adjustment_event (adjustment_id);
COMMENT ON INDEX @extschema@.adjustment_event_adjustment IS 'the steps of one adjustment';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.adjustment_event
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment_event ENABLE ALWAYS TRIGGER append_only;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_adjustment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_review', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_event_event_id_seq', '');
COMMENT ON SEQUENCE @extschema@.adjustment_adjustment_id_seq IS 'adjustment_id of custier.adjustment';
COMMENT ON SEQUENCE @extschema@.adjustment_event_event_id_seq IS 'event_id of custier.adjustment_event';

-- Written through the functions below; read by whoever may read the customer
-- concerned (reading follows the table: custier._can_see).
REVOKE ALL ON @extschema@.adjustment, @extschema@.adjustment_review, @extschema@.adjustment_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.adjustment_adjustment_id_seq, @extschema@.adjustment_event_event_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.adjustment, @extschema@.adjustment_review, @extschema@.adjustment_event TO PUBLIC;
ALTER TABLE @extschema@.adjustment ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment FOR SELECT
    USING (@extschema@._can_see(tbl, customer_key));
ALTER TABLE @extschema@.adjustment_review ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment_review FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.adjustment a WHERE a.adjustment_id = adjustment_review.adjustment_id));
ALTER TABLE @extschema@.adjustment_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment_event FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.adjustment a WHERE a.adjustment_id = adjustment_event.adjustment_id));

CREATE FUNCTION @extschema@._applying(adjustment_id bigint) RETURNS boolean
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'custier_adjustment_applying';
COMMENT ON FUNCTION @extschema@._applying(bigint) IS 'internal: true while custier.approve itself applies this adjustment';

-- ---------------------------------------------------------------------
-- The state machine
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._adjustment_log(a custier.adjustment, event text, detail jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO custier.adjustment_event (adjustment_id, event, actor, at, detail)
    VALUES (a.adjustment_id, event, custier._actor(), now(), detail);
    -- hold_until only when the adjustment holds the grade.
    PERFORM pg_notify('custier_adjustment', CASE WHEN a.hold_until IS NULL THEN json_build_object(
        'adjustment_id', a.adjustment_id, 'status', a.status, 'event', event,
        'tbl', a.tbl::text, 'customer_key', a.customer_key,
        'from_tier', a.from_tier::text, 'to_tier', a.to_tier::text)
        ELSE json_build_object(
        'adjustment_id', a.adjustment_id, 'status', a.status, 'event', event,
        'tbl', a.tbl::text, 'customer_key', a.customer_key,
        'from_tier', a.from_tier::text, 'to_tier', a.to_tier::text, 'hold_until', a.hold_until) END::text);
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_log(custier.adjustment, text, jsonb) IS 'internal: logs a step in adjustment_event and sends NOTIFY custier_adjustment';
REVOKE ALL ON FUNCTION @extschema@._adjustment_log(custier.adjustment, text, jsonb) FROM PUBLIC;

-- Reviews still missing for an adjustment (departments of its policy).
CREATE FUNCTION @extschema@._missing_reviews(a custier.adjustment) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(r.department, ', ' ORDER BY r.department)
      FROM custier.managed_table m
      JOIN custier.policy_reviewer r ON r.policy = m.policy
     WHERE m.tbl = a.tbl
       AND NOT EXISTS (SELECT FROM custier.adjustment_review v
                        WHERE v.adjustment_id = a.adjustment_id AND v.department = r.department)
$$;
COMMENT ON FUNCTION @extschema@._missing_reviews(custier.adjustment) IS 'internal: departments whose review an adjustment still lacks';
REVOKE ALL ON FUNCTION @extschema@._missing_reviews(custier.adjustment) FROM PUBLIC;

-- Four eyes means two people, not two role names: the approver may not be
-- the proposer, nor a role either of them is a member of (explicit grants,
-- directly or indirectly: one could SET ROLE to the other), nor act in a
-- session the proposer (or a member of it) logged in as.  A superuser's
-- implicit rights over every role do not count, and its own proposals are
-- not exempt.
CREATE FUNCTION @extschema@._acts_for(proposer name, approver name) RETURNS boolean
    LANGUAGE C STABLE STRICT AS 'MODULE_PATHNAME', 'custier_acts_for';
COMMENT ON FUNCTION @extschema@._acts_for(name, name) IS 'internal: may the approver not approve what the proposer proposed (four eyes: the same role, a member either way, or the session''s login is the proposer or a member of it)';
REVOKE ALL ON FUNCTION @extschema@._acts_for(name, name) FROM PUBLIC;

-- The approval preconditions, checked by approve() and again by the state
-- machine for a direct UPDATE to approved/applied.
CREATE FUNCTION @extschema@._check_approvable(a custier.adjustment, actor name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    missing text;
BEGIN
    IF custier._acts_for(a.proposed_by, actor) THEN
        RAISE EXCEPTION 'adjustment % was proposed by %, who can act as %: % cannot approve it',
                        a.adjustment_id, a.proposed_by, actor, actor
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another role must approve it (four eyes): one its proposer is not a member of, in a session the proposer did not log in.';
    END IF;
    missing := custier._missing_reviews(a);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'adjustment % still needs the review of: %', a.adjustment_id, missing
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Each department records its opinion with custier.review.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_approvable(custier.adjustment, name) IS 'internal: raises unless the actor may approve the adjustment now (four eyes, every review in)';
REVOKE ALL ON FUNCTION @extschema@._check_approvable(custier.adjustment, name) FROM PUBLIC;

CREATE FUNCTION @extschema@._adjustment_guard() RETURNS trigger
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

CREATE FUNCTION @extschema@._adjustment_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF custier._forgetting() OR custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    PERFORM custier._adjustment_log(NEW, NEW.status,
        CASE TG_OP WHEN 'INSERT' THEN jsonb_build_object('reason', NEW.reason, 'evidence', NEW.evidence)
                   ELSE jsonb_build_object('note', NEW.decision_note) END);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_logged() IS 'trigger: logs and announces each step of an adjustment';

CREATE TRIGGER state_machine BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._adjustment_guard();
CREATE TRIGGER logged AFTER INSERT OR UPDATE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._adjustment_logged();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON @extschema@.adjustment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER state_machine;
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER logged;
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER no_truncate;

CREATE FUNCTION @extschema@._review_guard() RETURNS trigger
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

CREATE FUNCTION @extschema@._review_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    PERFORM custier._adjustment_log(a, 'reviewed',
        jsonb_build_object('department', NEW.department, 'opinion', NEW.opinion, 'comment', NEW.comment))
       FROM custier.adjustment a WHERE a.adjustment_id = NEW.adjustment_id;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._review_logged() IS 'trigger: logs and announces a review';

CREATE TRIGGER state_machine BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.adjustment_review
    FOR EACH ROW EXECUTE FUNCTION @extschema@._review_guard();
CREATE TRIGGER logged AFTER INSERT ON @extschema@.adjustment_review
    FOR EACH ROW EXECUTE FUNCTION @extschema@._review_logged();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON @extschema@.adjustment_review
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER state_machine;
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER logged;
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER no_truncate;

-- ---------------------------------------------------------------------
-- The functions (C entry points: src/rights.c records the caller as the
-- actor and runs these as custier's owner).  EXECUTE is not granted to PUBLIC: grant propose
-- and withdraw to those who propose, review to the departments, approve
-- and reject to management.
-- ---------------------------------------------------------------------
-- The statement custier._lock_customer runs as the table's owner: one
-- customer, locked.  The key is cast without its typmod (a varchar(3) cast
-- would cut 'abcd' down to 'abc') and compared by its unique index's operator.
CREATE FUNCTION @extschema@._lock_sql(tbl regclass) RETURNS text
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

CREATE FUNCTION @extschema@._lock_customer(tbl regclass, customer_key text, OUT grade @extschema@.tier, OUT customer_key text)
    LANGUAGE C STRICT VOLATILE AS 'MODULE_PATHNAME', 'custier_lock_customer';
COMMENT ON FUNCTION @extschema@._lock_customer(regclass, text) IS 'internal: reads and locks one customer of a managed table as the table''s owner (NULL when there is none)';
REVOKE ALL ON FUNCTION @extschema@._lock_customer(regclass, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._decide(adjustment_id bigint, status text, note text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE custier.adjustment a SET status = _decide.status, decision_note = _decide.note
     WHERE a.adjustment_id = _decide.adjustment_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@._decide(bigint, text, text) IS 'internal: the work of custier.reject and custier.withdraw (and the last step of approve)';
REVOKE ALL ON FUNCTION @extschema@._decide(bigint, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._approval(adjustment_id bigint,
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

CREATE FUNCTION @extschema@.propose(tbl regclass, customer_key text, to_tier @extschema@.tier, reason text,
                                    evidence jsonb DEFAULT NULL, hold_until timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'custier_propose';
COMMENT ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz) IS 'opens an adjustment: a proposed grade change of one customer, with its reason and evidence, and the end of a hold of the grade';

CREATE FUNCTION @extschema@.review(adjustment_id bigint, department text, opinion text, comment text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_review';
COMMENT ON FUNCTION @extschema@.review(bigint, text, text, text) IS 'records one department''s opinion (support or oppose) on a proposed adjustment';

CREATE FUNCTION @extschema@.approve(adjustment_id bigint, note text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_approve';
COMMENT ON FUNCTION @extschema@.approve(bigint, text) IS 'approves a fully reviewed adjustment (not by its proposer) and applies the grade change at once';

CREATE FUNCTION @extschema@.reject(adjustment_id bigint, note text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_reject';
COMMENT ON FUNCTION @extschema@.reject(bigint, text) IS 'rejects a proposed adjustment; the note says why';

CREATE FUNCTION @extschema@.withdraw(adjustment_id bigint)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_withdraw';
COMMENT ON FUNCTION @extschema@.withdraw(bigint) IS 'the proposer takes a proposed adjustment back';

REVOKE ALL ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz),
                       @extschema@.review(bigint, text, text, text),
                       @extschema@.approve(bigint, text),
                       @extschema@.reject(bigint, text),
                       @extschema@.withdraw(bigint) FROM PUBLIC;
