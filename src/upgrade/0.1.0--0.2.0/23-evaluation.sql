-- Evaluation runs: the resume point follows the key column's own order
-- (collation, any btree key type); a proposal racing a run leaves the
-- customer pending.

CREATE OR REPLACE FUNCTION @extschema@._evaluation_last_key(p_evaluation_id bigint, p_batch integer, p_tbl regclass,
                                                 p_key_column name, p_key_type text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coll text;
    last text;
BEGIN
    SELECT CASE WHEN a.attcollation <> 0 THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END INTO coll
      FROM pg_attribute a WHERE a.attrelid = p_tbl AND a.attname = p_key_column AND NOT a.attisdropped;
    EXECUTE format('SELECT r.customer_key FROM custier.evaluation_result r
                     WHERE r.evaluation_id = $1 AND r.batch = $2
                     ORDER BY CAST(r.customer_key AS %s)%s DESC LIMIT 1', p_key_type, coalesce(coll, ''))
       INTO last USING p_evaluation_id, p_batch;
    RETURN last;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_last_key(bigint, integer, regclass, name, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_last_key(bigint, integer, regclass, name, text) IS 'internal: the last customer of a batch in the key column''s order: where the next batch resumes';

CREATE OR REPLACE FUNCTION @extschema@._evaluation_propose(p_tbl regclass, p_key text, p_to custier.tier, p_reason text,
                                                p_evidence jsonb, p_evaluation_id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, evaluation_id, proposed_by, proposed_at)
    VALUES (p_tbl, p_key, p_to, p_reason, p_evidence, p_evaluation_id, session_user, now());
    RETURN true;
EXCEPTION WHEN unique_violation THEN
    RETURN false;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_propose(regclass, text, custier.tier, text, jsonb, bigint) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_propose(regclass, text, custier.tier, text, jsonb, bigint) IS 'internal: opens an adjustment for an evaluation; false when the customer already has an open one';

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
