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
DECLARE s record; key_att record; metrics_type regtype; proposed text; earlier text;
BEGIN
    s := custier._evaluation_setup(p_policy);
    SELECT a.attnum, a.atttypid INTO key_att FROM pg_attribute a
     WHERE a.attrelid = s.tbl AND a.attname = s.key_column AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT a.atttypid INTO metrics_type FROM pg_attribute a
     WHERE a.attrelid = s.metrics_source AND a.attname = s.metrics_key AND a.attnum > 0 AND NOT a.attisdropped;
    IF greatest(s.upgrade_after, s.downgrade_after) > 1 THEN
        -- What the customer qualified for in the earlier evaluations $5
        -- (newest first); evaluation_result shows the caller the customers
        -- it may see, and the caller reads only those here anyway.
        earlier := format($e$ARRAY(SELECT r.qualified_tier FROM pg_catalog.unnest($5::pg_catalog.int8[]) WITH ORDINALITY e(id, n)
                   LEFT JOIN custier.evaluation_result r ON r.evaluation_id OPERATOR(pg_catalog.=) e.id
                         AND r.customer_key OPERATOR(pg_catalog.=) t.%1$I::pg_catalog.text
                   ORDER BY e.n)$e$, s.key_column);
    ELSE
        earlier := $e$'{}'::custier.tier[]$e$;
    END IF;
    proposed := format('custier.proposed_tier(q.current_tier, (q.g).qualified_tier, q.earlier, %s, %s, %s)',
                       s.upgrade_after, s.downgrade_after, coalesce(s.max_step::text, 'NULL'));
    RETURN format($q$
SELECT q.customer_key, q.current_tier, (q.g).qualified_tier AS qualified_tier, %6$s AS proposed_tier, (q.g).score AS score,
       -- A customer with no metrics row has no metrics: graded as an empty object.
       CASE WHEN $3 THEN (q.g).explanation
            WHEN $4 AND ((q.g).qualified_tier OPERATOR(custier.=) q.current_tier) IS NOT TRUE
            THEN CASE WHEN q.has_metrics THEN custier.explain(%5$L, q.metrics) ELSE custier.explain(%5$L, '{}'::pg_catalog.jsonb) END
       END AS explanation
FROM (
    -- One custier._grade call grades the customer once: tier, score and,
    -- when every customer is explained ($3), the explanation.  ORDER BY and
    -- LIMIT keep this subquery apart, so the call is not repeated per column.
    SELECT t.%1$I::pg_catalog.text AS customer_key, t.%3$I AS current_tier, (m.%2$I IS NOT NULL) AS has_metrics, m AS metrics,
           custier._grade(%5$L, m, m.%2$I IS NOT NULL, $3) AS g,
           %11$s AS earlier
    FROM %4$s t LEFT JOIN %7$s m ON m.%2$I %8$s t.%1$I %9$s
    %10$s
    ORDER BY t.%1$I
    LIMIT $2
) q$q$,
        s.key_column, s.metrics_key, s.tier_column, s.tbl, p_policy, proposed, s.metrics_source,
        custier._operator('=', metrics_type, key_att.atttypid),
        -- Resuming: both sides start after the key, so each batch reads only its own rows.
        CASE WHEN p_resume THEN format('AND m.%I %s $1::%s', s.metrics_key,
                                       custier._operator('>', metrics_type, key_att.atttypid), s.key_type) ELSE '' END,
        CASE WHEN p_resume THEN format('WHERE t.%I %s $1::%s', s.key_column,
                                       custier._key_op(s.tbl, key_att.attnum, 5::smallint), s.key_type) ELSE '' END,
        earlier);
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
LANGUAGE C STABLE AS 'MODULE_PATHNAME', 'custier_evaluate';

-- Progress: the NOTICE per batch carries the rate and an ETA in its DETAIL.
CREATE OR REPLACE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE C AS 'MODULE_PATHNAME', 'custier_run_evaluation';
