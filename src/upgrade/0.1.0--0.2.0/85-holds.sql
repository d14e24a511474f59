-- Held grades and simulation (src/simulation.sql), in the functions 0.1.0 had.

-- The NOTIFY payload carries hold_until; a hold may name the grade the
-- customer already has, and a new adjustment ends or changes a hold in force.
CREATE OR REPLACE FUNCTION @extschema@._adjustment_log(a custier.adjustment, event text, detail jsonb)
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

-- propose gains hold_until.  The 5-argument function is replaced, not
-- overloaded (a call with five arguments would match both); the roles that
-- could call it keep that right.
SELECT pg_catalog.set_config('custier.update_propose_acl',
       coalesce((SELECT p.proacl::text FROM pg_catalog.pg_proc p
                  WHERE p.oid = '@extschema@.propose(regclass, text, @extschema@.tier, text, jsonb)'::pg_catalog.regprocedure), '{}'),
       true);
DROP FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb);

CREATE OR REPLACE FUNCTION @extschema@.propose(tbl regclass, customer_key text, to_tier @extschema@.tier, reason text,
                                    evidence jsonb DEFAULT NULL, hold_until timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'custier_propose';
COMMENT ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz) IS 'opens an adjustment: a proposed grade change of one customer, with its reason and evidence, and the end of a hold of the grade';
REVOKE ALL ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz) FROM PUBLIC;
DO $do$
DECLARE g record;
BEGIN
    FOR g IN SELECT a.grantee, bool_or(a.is_grantable) AS grantable
               FROM pg_catalog.aclexplode(pg_catalog.current_setting('custier.update_propose_acl')::pg_catalog.aclitem[]) a
              WHERE a.privilege_type = 'EXECUTE'
                AND a.grantee <> (SELECT p.proowner FROM pg_catalog.pg_proc p
                                   WHERE p.oid = '@extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz)'::pg_catalog.regprocedure)
              GROUP BY a.grantee
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb, timestamptz) TO %s%s',
                                  CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END,
                                  CASE WHEN g.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$do$;

-- Evaluations leave held grades alone.
CREATE OR REPLACE FUNCTION @extschema@.evaluate(policy text, as_of timestamptz DEFAULT now())
RETURNS TABLE (customer_key text, current_tier @extschema@.tier, qualified_tier @extschema@.tier,
               proposed_tier @extschema@.tier, score numeric, explanation jsonb)
LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'custier_evaluate';
