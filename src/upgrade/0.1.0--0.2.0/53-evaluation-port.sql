-- 53-evaluation-port.sql — features of the PL/pgSQL evaluation of 0.2.0's
-- first modules, on the C run_evaluation: held grades (_evaluation_claim,
-- _evaluation_plan, refreshed in their fragments), a proposal racing a run
-- leaves the customer pending (_evaluation_open, new), allocate() after the
-- last batch and the progress DETAIL (src/evaluation.c).

-- Opens the adjustments a batch of a running evaluation proposes (the
-- customers a batch decided 'proposed', src/evaluation.c), with their evidence;
-- returns how many it opened.  A customer that got an open adjustment since
-- the batch looked (a concurrent custier.propose: the adjustment's trigger
-- waits for it and then refuses with unique_violation) is recorded as
-- pending instead: the batch goes on.  One statement for the batch; one at
-- a time only when one of them raced.
CREATE OR REPLACE FUNCTION @extschema@._evaluation_open(p_evaluation_id bigint, p_tbl regclass, p_policy text,
    p_keys text[], p_tiers @extschema@.tier[], p_evidence jsonb[]) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE n bigint := 0; i integer; reason text;
BEGIN
    reason := format('evaluation %s of policy "%s"', p_evaluation_id, p_policy);
    -- The adjustment's own trigger checks each, takes from_tier and the
    -- proposer (the role that runs the evaluation) and locks the customer,
    -- as for custier.propose().
    BEGIN
        INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, evaluation_id, proposed_by, proposed_at)
        SELECT p_tbl, u.k, u.t, reason, coalesce(u.e, custier.explain(p_policy, '{}'::jsonb)), p_evaluation_id,
               custier._actor(), now()
          FROM unnest(p_keys, p_tiers, p_evidence) WITH ORDINALITY AS u(k, t, e, n) ORDER BY u.n;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN n;
    EXCEPTION WHEN unique_violation THEN
        NULL;   -- someone proposed for one of them meanwhile: one at a time
    END;
    FOR i IN 1 .. coalesce(cardinality(p_keys), 0) LOOP
        BEGIN
            INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, evaluation_id, proposed_by, proposed_at)
            VALUES (p_tbl, p_keys[i], p_tiers[i], reason, coalesce(p_evidence[i], custier.explain(p_policy, '{}'::jsonb)),
                    p_evaluation_id, custier._actor(), now());
            n := n + 1;
        EXCEPTION WHEN unique_violation THEN
            UPDATE custier.evaluation_result r SET action = 'pending'
             WHERE r.evaluation_id = p_evaluation_id AND r.customer_key = p_keys[i];
        END;
    END LOOP;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_open(bigint, regclass, text, text[], @extschema@.tier[], jsonb[]) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_open(bigint, regclass, text, text[], @extschema@.tier[], jsonb[]) IS
    'internal: opens the adjustments a batch of a running evaluation proposes; a customer someone proposed for meanwhile is pending';
