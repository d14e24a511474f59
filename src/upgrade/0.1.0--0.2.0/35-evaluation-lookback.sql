-- 35-evaluation-lookback.sql — set-based look-back of evaluation runs:
-- custier.evaluation remembers the last key of each batch
-- (batch_last_keys), and a batch reads only the batches of earlier
-- evaluations that hold its customers, in one hash join per earlier
-- evaluation, instead of one index lookup per customer and evaluation.

ALTER TABLE @extschema@.evaluation ADD COLUMN batch_last_keys text[];
COMMENT ON COLUMN @extschema@.evaluation.batch_last_keys IS 'the last customer key of each committed batch, in batch order: later evaluations read only the batches of this one that hold the customers of theirs';

-- Evaluations recorded by 0.1.0: their batches' last keys, from their
-- results, in the order of the key of the table they graded.  An
-- evaluation whose table is no longer managed keeps NULL (later runs then
-- read all of its rows: slower, same result).
DO $$
DECLARE ev record;
BEGIN
    FOR ev IN SELECT e.evaluation_id, m.key_column,
                     pg_catalog.format_type(a.atttypid, a.atttypmod)
                     || CASE WHEN a.attcollation <> 0 THEN pg_catalog.format(' COLLATE %I.%I', cn.nspname, c.collname) ELSE '' END AS key_type
              FROM @extschema@.evaluation e
              JOIN @extschema@.managed_table m ON m.tbl = e.tbl
              JOIN pg_catalog.pg_attribute a ON a.attrelid = m.tbl AND a.attname = m.key_column
              LEFT JOIN pg_catalog.pg_collation c ON c.oid = a.attcollation
              LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.collnamespace
    LOOP
        EXECUTE pg_catalog.format(
            'UPDATE @extschema@.evaluation e SET batch_last_keys =
                 (SELECT pg_catalog.array_agg(b.last ORDER BY b.batch)
                  FROM (SELECT r.batch, pg_catalog.max(r.customer_key::%s)::text AS last
                        FROM @extschema@.evaluation_result r WHERE r.evaluation_id = $1 GROUP BY r.batch) b)
             WHERE e.evaluation_id = $1', ev.key_type)
        USING ev.evaluation_id;
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION @extschema@._evaluation_query(p_policy text, p_resume boolean) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record; earlier text; joins text := ''; back integer; n integer;
BEGIN
    s := custier._evaluation_setup(p_policy);
    back := greatest(s.upgrade_after, s.downgrade_after) - 1;
    IF back > 0 THEN
        earlier := '';
        FOR n IN 1 .. back LOOP
            earlier := earlier || CASE WHEN n > 1 THEN ', ' ELSE '' END || format('r%s.qualified_tier', n);
            joins := joins || format($j$
    LEFT JOIN custier.evaluation_result r%1$s
           ON r%1$s.evaluation_id OPERATOR(pg_catalog.=) $3[%1$s]
          AND r%1$s.batch OPERATOR(pg_catalog.>=) coalesce($5[%1$s], 0)
          AND r%1$s.batch OPERATOR(pg_catalog.<=) coalesce($6[%1$s], 2147483647)
          AND r%1$s.customer_key OPERATOR(pg_catalog.=) q.customer_key$j$, n);
        END LOOP;
        -- As many as there are earlier evaluations: a NULL is one the customer missed.
        earlier := format('(ARRAY[%s]::custier.tier[])[1:pg_catalog.cardinality($3)]', earlier);
    ELSE
        earlier := $q$'{}'::custier.tier[]$q$;
    END IF;
    RETURN format($q$
SELECT c.customer_key, c.current_tier, c.qualified_tier, c.proposed_tier, c.score,
       -- A customer with no metrics row has no metrics: graded as an empty object.
       CASE WHEN $4 THEN CASE WHEN c.has_metrics THEN custier.explain(%5$L, c.metrics) ELSE custier.explain(%5$L, '{}'::jsonb) END
       END AS explanation
FROM (
    SELECT q.*, custier.proposed_tier(q.current_tier, q.qualified_tier, %9$s, %6$s, %7$s, %8$s) AS proposed_tier
    FROM (
        SELECT t.%1$I::text AS customer_key, t.%3$I AS current_tier, (m.%2$I IS NOT NULL) AS has_metrics, m AS metrics,
               CASE WHEN m.%2$I IS NULL THEN custier.assign_tier(%5$L, '{}'::jsonb) ELSE custier.assign_tier(%5$L, m) END AS qualified_tier,
               CASE WHEN m.%2$I IS NULL THEN custier.score(%5$L, '{}'::jsonb) ELSE custier.score(%5$L, m) END AS score
        FROM %4$s t LEFT JOIN %10$s m ON m.%2$I = t.%1$I %12$s
        %13$s
        ORDER BY t.%1$I
        LIMIT $2
    ) q%14$s
) c$q$,
        s.key_column, s.metrics_key, s.tier_column, s.tbl, p_policy,
        s.upgrade_after, s.downgrade_after, coalesce(s.max_step::text, 'NULL'),
        earlier, s.metrics_source, s.key_type,
        -- Resuming: both sides start after the key, so each batch reads only its own rows.
        CASE WHEN p_resume THEN format('AND m.%I > $1::%s', s.metrics_key, s.key_type) ELSE '' END,
        CASE WHEN p_resume THEN format('WHERE t.%I > $1::%s', s.key_column, s.key_type) ELSE '' END,
        joins);
END $$;

CREATE OR REPLACE FUNCTION @extschema@._earlier_batches(p_earlier bigint[], p_tbl regclass, p_key_type text,
    p_after text, p_upto text, OUT first_batch integer[], OUT last_batch integer[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE ev record; lo integer; hi integer; typ text;
BEGIN
    first_batch := '{}'; last_batch := '{}';
    -- The key column's collation orders the batches: compare with it.
    SELECT p_key_type || CASE WHEN a.attcollation <> 0 THEN format(' COLLATE %I.%I', n.nspname, c.collname) ELSE '' END
    INTO typ
    FROM custier.managed_table m
    JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) m.tbl AND a.attname OPERATOR(pg_catalog.=) m.key_column
    LEFT JOIN pg_catalog.pg_collation c ON c.oid OPERATOR(pg_catalog.=) a.attcollation
    LEFT JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.collnamespace
    WHERE m.tbl OPERATOR(pg_catalog.=) p_tbl;
    FOR ev IN SELECT e.batch_last_keys AS keys, e.tbl
              FROM pg_catalog.unnest(p_earlier) WITH ORDINALITY x(id, n)
              JOIN custier.evaluation e ON e.evaluation_id OPERATOR(pg_catalog.=) x.id
              ORDER BY x.n
    LOOP
        lo := NULL; hi := NULL;
        IF ev.keys IS NOT NULL AND ev.tbl OPERATOR(pg_catalog.=) p_tbl AND typ IS NOT NULL THEN
            BEGIN
                EXECUTE format($q$SELECT CASE WHEN $2 IS NULL THEN 1
                                             ELSE coalesce((SELECT pg_catalog.min(k.n) FROM pg_catalog.unnest($1) WITH ORDINALITY k(key, n)
                                                            WHERE k.key::%1$s > $2::%1$s), pg_catalog.cardinality($1) + 1) END,
                                        CASE WHEN $3 IS NULL THEN pg_catalog.cardinality($1)
                                             ELSE coalesce((SELECT pg_catalog.min(k.n) FROM pg_catalog.unnest($1) WITH ORDINALITY k(key, n)
                                                            WHERE k.key::%1$s >= $3::%1$s), pg_catalog.cardinality($1)) END$q$, typ)
                INTO lo, hi USING ev.keys, p_after, p_upto;
            EXCEPTION WHEN data_exception THEN
                lo := NULL; hi := NULL;     -- keys of another type: read all its batches
            END;
        END IF;
        first_batch := first_batch || lo;
        last_batch := last_batch || hi;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@._earlier_batches(bigint[], regclass, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._earlier_batches(bigint[], regclass, text, text, text) IS
    'internal: per earlier evaluation, the batches that can hold the customers of a batch being evaluated now';

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

-- Progress: the NOTICE per batch carries the rate and an ETA in its DETAIL.
CREATE OR REPLACE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE id bigint; step record; t0 timestamptz; full_batches bigint := 0; total float8; rate float8; secs float8;
BEGIN
    id := custier._evaluation_begin($1, $2, $3);
    t0 := pg_catalog.clock_timestamp();
    -- The planner's estimate of the customers: enough for an ETA.
    SELECT c.reltuples INTO total FROM custier.managed_table m JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.tbl
    WHERE m.policy OPERATOR(pg_catalog.=) $1;
    LOOP
        step := custier._evaluation_step(id, $3);
        -- After the last batch, in its transaction: a customer whose grade
        -- left its owner's tiers gets an eligible owner in the same cycle.
        IF step.finished THEN
            PERFORM custier.allocate(a.tbl)
               FROM custier.allocation a
               JOIN custier.managed_table m ON m.tbl OPERATOR(pg_catalog.=) a.tbl
              WHERE m.policy OPERATOR(pg_catalog.=) $1;
        END IF;
        COMMIT;
        secs := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0);
        IF NOT step.finished THEN full_batches := full_batches + 1; END IF;
        rate := CASE WHEN secs > 0 THEN full_batches * $3 / secs END;
        -- Rate and ETA go in the DETAIL: the message itself stays the same from run to run.
        RAISE NOTICE 'evaluation % of policy "%": % customers done, % changed, % proposed%',
            id, $1, step.customers, step.changed, step.proposed,
            CASE WHEN step.finished THEN ' (finished)' ELSE '' END
            USING DETAIL = CASE
                WHEN step.finished THEN pg_catalog.format('%s s in this call.', pg_catalog.round(secs::numeric, 1))
                ELSE pg_catalog.format('%s customers/s in this call%s.', pg_catalog.round(coalesce(rate, 0)::numeric),
                    CASE WHEN rate > 0 AND total > step.customers
                         THEN pg_catalog.format('; about %s s left for about %s customers', pg_catalog.round(((total - step.customers) / rate)::numeric),
                                                pg_catalog.round((total - step.customers)::numeric))
                         ELSE '' END) END;
        EXIT WHEN step.finished;
    END LOOP;
END $$;
