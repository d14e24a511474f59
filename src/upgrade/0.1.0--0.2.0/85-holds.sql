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
    found_rows bigint;
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
        -- The key is cast without its typmod (a varchar(3) cast would cut
        -- 'abcd' down to 'abc'), and recorded as custier records keys, by the
        -- type's output function ('007' of an integer key is customer '7').
        EXECUTE format('SELECT %I AS grade, format(''%%s'', %I) AS key FROM %s WHERE %I = CAST($1 AS %s) FOR UPDATE',
                       m.tier_column, m.key_column, m.tbl, m.key_column,
                       (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
                         WHERE a.attrelid = m.tbl AND a.attname = m.key_column))
           INTO cur USING NEW.customer_key;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        IF found_rows = 0 THEN
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
DROP FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb);
CREATE OR REPLACE FUNCTION @extschema@._propose(tbl regclass, customer_key text, to_tier custier.tier, reason text, evidence jsonb,
                                     hold_until timestamptz)
RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, proposed_by, proposed_at, hold_until)
    VALUES ($1, $2, $3, $4, $5, custier._actor(), now(), $6)
    RETURNING adjustment_id
$$;
COMMENT ON FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb, timestamptz) IS 'internal: the work of custier.propose';
REVOKE ALL ON FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.propose(tbl regclass, customer_key text, to_tier @extschema@.tier, reason text,
                                    evidence jsonb DEFAULT NULL, hold_until timestamptz DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'propose';
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
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Held grades (src/simulation.sql): $7 the keys held at as_of.
    RETURN QUERY EXECUTE format('SELECT e.customer_key, e.current_tier, e.qualified_tier, e.proposed_tier, e.score, e.explanation FROM (%s) e',
                                custier._evaluation_holds(custier._evaluation_query($1, false), '$7'))
        USING NULL::text, NULL::bigint, custier._earlier_evaluations($1, $2), true, NULL::integer[], NULL::integer[],
              custier._held_keys((SELECT m.tbl FROM custier.managed_table m WHERE m.policy = $1), $2);
END $$;

CREATE OR REPLACE FUNCTION @extschema@._evaluation_step(p_evaluation_id bigint, p_batch_size integer,
    OUT customers bigint, OUT changed bigint, OUT proposed bigint, OUT finished boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE ev custier.evaluation; s record; n bigint; batch_no int; last text; r record;
        evidence jsonb; earlier bigint[]; upto text; first_batch integer[]; last_batch integer[];
BEGIN
    -- The row lock serializes concurrent runners of the same evaluation.
    SELECT * INTO ev FROM custier.evaluation e WHERE e.evaluation_id = p_evaluation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evaluation % does not exist', p_evaluation_id USING ERRCODE = 'undefined_object';
    END IF;
    customers := ev.customers; changed := ev.changed; proposed := ev.proposed;
    finished := ev.finished_at IS NOT NULL;
    IF finished THEN RETURN; END IF;

    s := custier._evaluation_setup(ev.policy);
    batch_no := ev.batches + 1;
    earlier := custier._earlier_evaluations(ev.policy, ev.as_of);
    IF pg_catalog.cardinality(earlier) > 0 THEN
        -- The key this batch will end at (NULL: it takes the rest), so that
        -- only the batches of earlier evaluations holding these customers are read.
        EXECUTE format('SELECT t.%1$I::text FROM %2$s t %3$s ORDER BY t.%1$I OFFSET $2 - 1 LIMIT 1',
                       s.key_column, s.tbl,
                       CASE WHEN ev.last_key IS NOT NULL THEN format('WHERE t.%I > $1::%s', s.key_column, s.key_type) ELSE '' END)
        INTO upto USING ev.last_key, p_batch_size::bigint;
        SELECT b.first_batch, b.last_batch INTO first_batch, last_batch
        FROM custier._earlier_batches(earlier, s.tbl, s.key_type, ev.last_key, upto) b;
    END IF;
    EXECUTE format($q$
        INSERT INTO custier.evaluation_result
            (evaluation_id, customer_key, current_tier, qualified_tier, proposed_tier, score, action, batch)
        SELECT $7, q.customer_key, q.current_tier, q.qualified_tier, q.proposed_tier, q.score,
               CASE WHEN q.held THEN 'held'
                    WHEN q.proposed_tier OPERATOR(custier.=) q.current_tier THEN 'kept'
                    WHEN q.current_tier IS NULL OR $9 = 'none'
                         OR ($9 = 'downgrade' AND q.proposed_tier OPERATOR(custier.>) q.current_tier) THEN 'applied'
                    %s
                    ELSE 'proposed' END,
               $8
        FROM (%s) q$q$,
        -- Only a policy that asks for approval can have open adjustments to wait on.
        CASE WHEN s.approval <> 'none' THEN
            $w$WHEN EXISTS (SELECT FROM custier.adjustment a
                           WHERE a.tbl = $10 AND a.customer_key = q.customer_key AND a.status IN ('proposed', 'approved')) THEN 'pending'$w$
        ELSE '' END,
        -- Held grades (src/simulation.sql): $11 the keys held at as_of.
        custier._evaluation_holds(custier._evaluation_query(ev.policy, ev.last_key IS NOT NULL), '$11'))
    USING ev.last_key, p_batch_size::bigint, earlier, false, first_batch, last_batch,
          p_evaluation_id, batch_no, s.approval, s.tbl, custier._held_keys(s.tbl, ev.as_of);
    GET DIAGNOSTICS n = ROW_COUNT;

    IF n > 0 THEN
        -- The resume point, in the order the batches follow: the key column's own.
        last := custier._evaluation_last_key(p_evaluation_id, batch_no, s.tbl, s.key_column, s.key_type);
        changed := changed + custier._evaluation_apply(p_evaluation_id, batch_no);

        -- Changes the policy sends for approval become adjustments, with the evidence.
        FOR r IN SELECT er.customer_key, er.current_tier, er.proposed_tier
                 FROM custier.evaluation_result er
                 WHERE er.evaluation_id = p_evaluation_id AND er.batch = batch_no AND er.action = 'proposed'
        LOOP
            EXECUTE format('SELECT custier.explain($1, m) FROM %s m WHERE m.%I = $2::%s',
                           s.metrics_source, s.metrics_key, s.key_type)
            INTO evidence USING ev.policy, r.customer_key;
            -- The adjustment's own trigger checks it, takes from_tier and the
            -- proposer, and locks the customer, as for custier.propose().
            IF custier._evaluation_propose(s.tbl, r.customer_key, r.proposed_tier,
                    format('evaluation %s of policy "%s"', p_evaluation_id, ev.policy),
                    coalesce(evidence, custier.explain(ev.policy, '{}'::jsonb)), p_evaluation_id) THEN
                proposed := proposed + 1;
            ELSE
                -- Someone proposed a change for this customer meanwhile.
                UPDATE custier.evaluation_result er SET action = 'pending'
                 WHERE er.evaluation_id = p_evaluation_id AND er.customer_key = r.customer_key;
            END IF;
        END LOOP;
    END IF;

    customers := customers + n;
    finished := n < p_batch_size;
    UPDATE custier.evaluation e
    SET customers = _evaluation_step.customers, changed = _evaluation_step.changed,
        proposed = _evaluation_step.proposed, batches = batch_no,
        last_key = coalesce(last, e.last_key),
        batch_last_keys = CASE WHEN last IS NULL THEN e.batch_last_keys
                               ELSE pg_catalog.array_append(e.batch_last_keys, last) END,
        finished_at = CASE WHEN _evaluation_step.finished THEN clock_timestamp() END
    WHERE e.evaluation_id = p_evaluation_id;
END $$;
