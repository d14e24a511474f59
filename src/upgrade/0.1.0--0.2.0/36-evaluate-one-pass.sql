-- 36-evaluate-one-pass.sql — the evaluation query grades each customer with
-- one call (custier._grade: tier, score and explanation from one reading of
-- its metrics row) instead of assign_tier, score and explain.

-- The evaluation query's one call per customer: assign_tier, score and
-- (when asked) explain of one row from one reading of it.  Not STRICT: a
-- customer without a metrics row is graded as '{}'.  It reads only what
-- assign_tier, score and explain read, so it is as executable as they are.
-- A named type, not an anonymous record: on Citus a worker sends it to the
-- coordinator, where an anonymous record's type would be unknown.
CREATE TYPE @extschema@._grade_result AS (qualified_tier @extschema@.tier, score numeric, explanation jsonb);
COMMENT ON TYPE @extschema@._grade_result IS 'internal: what custier._grade returns';
CREATE OR REPLACE FUNCTION @extschema@._grade(policy text, metrics record, has_metrics boolean, with_explanation boolean)
    RETURNS @extschema@._grade_result
    AS 'MODULE_PATHNAME', 'custier_grade_record' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._grade(text, record, boolean, boolean) IS
    'internal: assign_tier, score and (with_explanation) explain of one metrics row in one call; no metrics row (has_metrics false) grades as ''{}''';

CREATE OR REPLACE FUNCTION @extschema@._evaluation_query(p_policy text, p_resume boolean) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record; key_att record; metrics_att record; key_coll text; metrics_after text;
BEGIN
    s := custier._evaluation_setup(p_policy);
    SELECT a.attnum, a.atttypid, a.attcollation INTO key_att FROM pg_attribute a
     WHERE a.attrelid = s.tbl AND a.attname = s.key_column AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT a.atttypid, a.attcollation INTO metrics_att FROM pg_attribute a
     WHERE a.attrelid = s.metrics_source AND a.attname = s.metrics_key AND a.attnum > 0 AND NOT a.attisdropped;
    key_coll := CASE WHEN key_att.attcollation <> 0 THEN ' COLLATE ' || key_att.attcollation::regcollation::text ELSE '' END;
    -- Batches follow the order of the key's unique index (its operator
    -- class, the key column's collation): the ORDER BY and the resume
    -- filter of the table use its operators, and the metrics rows are
    -- filtered by the same order, or not at all where another type with a
    -- collation could order them otherwise (a slower join, never a lost row).
    IF metrics_att.atttypid = key_att.atttypid THEN
        metrics_after := format('AND m.%I %s ($1::%s%s)', s.metrics_key,
                                custier._key_op(s.tbl, key_att.attnum, 5::smallint), s.key_type, key_coll);
    ELSIF key_att.attcollation = 0 AND metrics_att.attcollation = 0 THEN
        metrics_after := format('AND m.%I %s $1::%s', s.metrics_key,
                                custier._operator('>', metrics_att.atttypid, key_att.atttypid), s.key_type);
    ELSE
        metrics_after := '';
    END IF;
    RETURN format($q$
SELECT q.customer_key, q.current_tier, q.g AS grade,
       -- Evidence for a change that may need approval.  A customer with no
       -- metrics row has no metrics: graded as an empty object.
       CASE WHEN $4 AND ((q.g).qualified_tier OPERATOR(custier.=) q.current_tier) IS NOT TRUE
            THEN CASE WHEN q.has_metrics THEN custier.explain(%5$L, q.metrics) ELSE custier.explain(%5$L, '{}'::pg_catalog.jsonb) END
       END AS evidence
FROM (
    -- One custier._grade call grades the customer once: tier, score and,
    -- when every customer is explained ($3), the explanation.  ORDER BY and
    -- LIMIT keep this subquery apart, so the call is not repeated per column.
    SELECT t.%1$I::pg_catalog.text AS customer_key, t.%3$I AS current_tier, (m.%2$I IS NOT NULL) AS has_metrics, m AS metrics,
           custier._grade(%5$L, m, m.%2$I IS NOT NULL, $3) AS g
    FROM %4$s t LEFT JOIN %6$s m ON m.%2$I %7$s t.%1$I %8$s
    %9$s
    ORDER BY t.%1$I USING %10$s
    LIMIT $2
) q$q$,
        s.key_column, s.metrics_key, s.tier_column, s.tbl, p_policy, s.metrics_source,
        custier._operator('=', metrics_att.atttypid, key_att.atttypid),
        -- Resuming: both sides start after the key, so each batch reads only its own rows.
        CASE WHEN p_resume THEN metrics_after ELSE '' END,
        CASE WHEN p_resume THEN format('WHERE t.%I %s $1::%s', s.key_column,
                                       custier._key_op(s.tbl, key_att.attnum, 5::smallint), s.key_type) ELSE '' END,
        custier._key_op(s.tbl, key_att.attnum, 1::smallint));
END $$;
