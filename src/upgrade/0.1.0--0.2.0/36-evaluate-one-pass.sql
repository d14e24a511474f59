-- 36-evaluate-one-pass.sql — the evaluation query grades each customer with
-- one call (custier._grade: tier, score and explanation from one reading of
-- its metrics row) instead of assign_tier, score and explain.

-- The evaluation query's one call per customer: assign_tier, score and
-- (when asked) explain of one row from one reading of it.  Not STRICT: a
-- customer without a metrics row is graded as '{}'.  It reads only what
-- assign_tier, score and explain read, so it is as executable as they are.
CREATE FUNCTION @extschema@._grade(policy text, metrics record, has_metrics boolean, with_explanation boolean,
                                   OUT qualified_tier @extschema@.tier, OUT score numeric, OUT explanation jsonb)
    AS 'MODULE_PATHNAME', 'custier_grade_record' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._grade(text, record, boolean, boolean) IS
    'internal: assign_tier, score and (with_explanation) explain of one metrics row in one call; no metrics row (has_metrics false) grades as ''{}''';

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
        -- The plan knows $3: with none, or all of them, the CASE folds to one branch.
        earlier := format($e$CASE pg_catalog.cardinality($3) WHEN 0 THEN '{}'::custier.tier[] WHEN %2$s THEN ARRAY[%1$s]::custier.tier[]
                 ELSE (ARRAY[%1$s]::custier.tier[])[1:pg_catalog.cardinality($3)] END$e$, earlier, back);
    ELSE
        earlier := $q$'{}'::custier.tier[]$q$;
    END IF;
    -- One custier._grade call per customer grades it once: tier, score and
    -- (with $4) the explanation, from one reading of its metrics row; the
    -- look-back joins carry its result, not the row.
    RETURN format($q$
SELECT c.customer_key, c.current_tier, (c.g).qualified_tier AS qualified_tier, c.proposed_tier,
       (c.g).score AS score, (c.g).explanation AS explanation
FROM (
    SELECT q.customer_key, q.current_tier, q.g,
           custier.proposed_tier(q.current_tier, (q.g).qualified_tier, %9$s, %6$s, %7$s, %8$s) AS proposed_tier
    FROM (
        -- A customer with no metrics row has no metrics: graded as an empty object.
        SELECT t.%1$I::text AS customer_key, t.%3$I AS current_tier,
               custier._grade(%5$L, m, m.%2$I IS NOT NULL, $4) AS g
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
