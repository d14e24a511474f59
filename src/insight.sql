-- insight.sql — insight for BI: distribution, migration, kpi,
-- at_risk; C in src/insight.c (the history scan) and src/policy.c (gaps).
--
-- Every public function here runs as its caller (none borrows rights) and
-- reads grades through custier.tiers_at or the scan behind it, so a role sees
-- exactly the customers tiers_at shows it.  All of them only read: they are
-- executable by PUBLIC.

-- ---------------------------------------------------------------------
-- Internal pieces
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._policy_table(policy text) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE t regclass;
BEGIN
    IF policy IS NULL THEN
        RAISE EXCEPTION 'policy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM custier.policy p WHERE p.name = _policy_table.policy) THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy
            USING ERRCODE = 'undefined_object', HINT = 'Policies are the rows of custier.policy.';
    END IF;
    SELECT m.tbl INTO t FROM custier.managed_table m WHERE m.policy = _policy_table.policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" grades no managed table', policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Attach it to a customer table with custier.manage().';
    END IF;
    RETURN t;
END $$;
COMMENT ON FUNCTION @extschema@._policy_table(text) IS 'internal: the managed table a policy grades; 42704 for an unknown policy, 55000 for one that grades no table';

CREATE FUNCTION @extschema@._tier_counts(tbl regclass, at timestamptz) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'custier_tier_counts' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@._tier_counts(regclass, timestamptz) IS 'internal: customers per grade at a time (element r = rank r), counted by the scan behind tiers_at, with its visibility';

CREATE FUNCTION @extschema@._evaluation_results(policy text, tbl regclass)
RETURNS TABLE (n integer, customer_key text, qualified_tier @extschema@.tier)
    AS 'MODULE_PATHNAME', 'custier_evaluation_results' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 100000;
COMMENT ON FUNCTION @extschema@._evaluation_results(text, regclass) IS 'internal: qualified tiers of the policy''s finished evaluations of tbl, n = 1 the latest, for a caller who may read tbl';

-- Where each customer graded at from_at went by to_at through key changes:
-- start_key (its key at from_at) -> end_key (its key at to_at), NULL when
-- the customer lost its key without a key change (deleted, and the key
-- then taken by another customer's key change).  Keys not listed kept theirs.
CREATE FUNCTION @extschema@._key_moves(tbl regclass, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (start_key text, end_key text)
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE c AS MATERIALIZED (
        SELECT pg_catalog.row_number() OVER (ORDER BY k.changed_at) AS id,
               k.old_key, k.new_key, k.changed_at
          FROM custier.customer_key_change k
         WHERE k.tbl = $1 AND k.changed_at > $2 AND k.changed_at <= $3
    ),
    -- After change x, the next change touching x's new key: going on under
    -- another key (out), or the key taken by someone else (in: x's customer
    -- had lost it).
    nxt AS MATERIALIZED (
        SELECT DISTINCT ON (x.id) x.id, x.new_key, y.id AS next_id, y.old_key = x.new_key AS out
          FROM c x LEFT JOIN c y ON (y.old_key = x.new_key OR y.new_key = x.new_key) AND y.changed_at > x.changed_at
         ORDER BY x.id, y.changed_at, y.id
    ),
    first AS (
        SELECT DISTINCT ON (s.key) s.key, s.id, s.out
          FROM (SELECT c.old_key AS key, c.id, c.changed_at, true AS out FROM c
                UNION ALL
                SELECT c.new_key, c.id, c.changed_at, false FROM c) s
         ORDER BY s.key, s.changed_at, s.id
    ),
    walk (start_key, id, gone) AS (
        SELECT f.key, f.id, NOT f.out FROM first f
      UNION ALL
        SELECT w.start_key, n.next_id, NOT n.out
          FROM walk w JOIN nxt n ON n.id = w.id
         WHERE NOT w.gone AND n.next_id IS NOT NULL
    )
    SELECT w.start_key, CASE WHEN NOT w.gone THEN n.new_key END
      FROM walk w JOIN nxt n ON n.id = w.id
     WHERE w.gone OR n.next_id IS NULL
$$;
COMMENT ON FUNCTION @extschema@._key_moves(regclass, timestamptz, timestamptz) IS 'internal: keys at from_at -> keys at to_at, following custier.customer_key_change';

-- Each customer's grade at from_at and at to_at, one row per customer
-- (NULL: not graded then), matched through key changes.
CREATE FUNCTION @extschema@._movements(tbl regclass, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (from_key text, to_key text, from_tier @extschema@.tier, to_tier @extschema@.tier)
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT f.k, t.k, f.tier, t.tier
      FROM (SELECT a.customer_key COLLATE "C" AS k, a.tier,
                   CASE WHEN m.start_key IS NULL THEN a.customer_key COLLATE "C" ELSE m.end_key END AS k2
              FROM custier.tiers_at($1, $2) a
              LEFT JOIN custier._key_moves($1, $2, $3) m ON m.start_key = a.customer_key COLLATE "C") f
      FULL JOIN (SELECT b.customer_key COLLATE "C" AS k, b.tier FROM custier.tiers_at($1, $3) b) t
        ON t.k = f.k2
$$;
COMMENT ON FUNCTION @extschema@._movements(regclass, timestamptz, timestamptz) IS 'internal: every customer''s grade at two moments, matched through key changes';

CREATE FUNCTION @extschema@._check_moments(from_at timestamptz, to_at timestamptz) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF from_at IS NULL OR to_at IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN from_at IS NULL THEN 'from_at' ELSE 'to_at' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF from_at > to_at THEN
        RAISE EXCEPTION 'from_at (%) is later than to_at (%)', from_at, to_at
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Give the earlier moment first.';
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@._check_moments(timestamptz, timestamptz) IS 'internal: refuses NULL moments (22004) and from_at later than to_at (22023)';

CREATE FUNCTION @extschema@._shortfall(policy text, metrics jsonb, keep @extschema@.tier) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_shortfall_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._shortfall(text, jsonb, @extschema@.tier) IS 'internal: what the metrics lack to be graded keep ({metric: gap}, or {"score": points} under the score method)';
CREATE FUNCTION @extschema@._shortfall(policy text, metrics record, keep @extschema@.tier) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_shortfall_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._shortfall(text, record, @extschema@.tier) IS 'internal: _shortfall(text, jsonb, tier) for a row';

-- ---------------------------------------------------------------------
-- distribution
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.distribution(policy text, at timestamptz DEFAULT pg_catalog.now())
RETURNS TABLE (tier @extschema@.tier, label text, customers bigint, percent numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t      regclass := custier._policy_table(policy);
    counts bigint[];
    total  numeric;
    low    integer;
BEGIN
    IF at IS NULL THEN
        RAISE EXCEPTION 'at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT custier.rank(p.lowest) INTO low FROM custier.policy p WHERE p.name = distribution.policy;
    counts := custier._tier_counts(t, at);
    SELECT sum(c) INTO total FROM unnest(counts) c;
    RETURN QUERY
        SELECT custier.tier(r), pt.label, counts[r],
               CASE WHEN total > 0 THEN round(counts[r] * 100 / total, 2) END
          FROM generate_series(1, 26) r
          LEFT JOIN custier.policy_tier pt
                 ON pt.policy = distribution.policy AND custier.rank(pt.tier) = r
         WHERE r <= low OR counts[r] > 0
         ORDER BY r;
END $$;
COMMENT ON FUNCTION @extschema@.distribution(text, timestamptz) IS 'customers per grade of the policy''s managed table at a time: every grade A..lowest, percent of all graded customers';

-- ---------------------------------------------------------------------
-- migration
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.migration(policy text, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (from_tier @extschema@.tier, to_tier @extschema@.tier, customers bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass := custier._policy_table(policy);
BEGIN
    PERFORM custier._check_moments(from_at, to_at);
    RETURN QUERY
        SELECT m.from_tier, m.to_tier, count(*)
          FROM custier._movements(t, from_at, to_at) m
         GROUP BY custier.rank(m.from_tier), custier.rank(m.to_tier), m.from_tier, m.to_tier
         ORDER BY custier.rank(m.from_tier) NULLS FIRST, custier.rank(m.to_tier) NULLS LAST;
END $$;
COMMENT ON FUNCTION @extschema@.migration(text, timestamptz, timestamptz) IS 'customers per (grade at from_at, grade at to_at); NULL from_tier: new customers, NULL to_tier: customers gone; non-empty cells only';

-- ---------------------------------------------------------------------
-- kpi
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.kpi(policy text, from_at timestamptz, to_at timestamptz)
RETURNS TABLE (tier @extschema@.tier, start_customers bigint, end_customers bigint, retained bigint,
               upgraded bigint, downgraded bigint, retention_rate numeric, upgrade_rate numeric,
               downgrade_rate numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t   regclass := custier._policy_table(policy);
    low integer;
BEGIN
    PERFORM custier._check_moments(from_at, to_at);
    SELECT custier.rank(p.lowest) INTO low FROM custier.policy p WHERE p.name = kpi.policy;
    RETURN QUERY
        -- The migration matrix (at most 27 x 27 cells), then every figure from it.
        WITH cell AS MATERIALIZED (
            SELECT custier.rank(x.from_tier) AS f, custier.rank(x.to_tier) AS e, count(*) AS n
              FROM custier._movements(t, from_at, to_at) x
             GROUP BY 1, 2
        ),
        per AS (
            SELECT g.r,
                   coalesce(sum(c.n) FILTER (WHERE c.f = g.r), 0)::bigint AS s,
                   coalesce(sum(c.n) FILTER (WHERE c.e = g.r), 0)::bigint AS e,
                   coalesce(sum(c.n) FILTER (WHERE c.f = g.r AND c.e IS NOT NULL), 0)::bigint AS kept,
                   coalesce(sum(c.n) FILTER (WHERE c.f = g.r AND c.e < c.f), 0)::bigint AS up,
                   coalesce(sum(c.n) FILTER (WHERE c.f = g.r AND c.e > c.f), 0)::bigint AS down
              FROM (SELECT r FROM generate_series(1, 26) r
                     WHERE r <= low OR EXISTS (SELECT FROM cell WHERE cell.f = r OR cell.e = r)) g
              LEFT JOIN cell c ON c.f = g.r OR c.e = g.r
             GROUP BY g.r
        ),
        total AS (
            SELECT NULL::integer AS r,
                   coalesce(sum(c.n) FILTER (WHERE c.f IS NOT NULL), 0)::bigint AS s,
                   coalesce(sum(c.n) FILTER (WHERE c.e IS NOT NULL), 0)::bigint AS e,
                   coalesce(sum(c.n) FILTER (WHERE c.f IS NOT NULL AND c.e IS NOT NULL), 0)::bigint AS kept,
                   coalesce(sum(c.n) FILTER (WHERE c.e < c.f), 0)::bigint AS up,
                   coalesce(sum(c.n) FILTER (WHERE c.e > c.f), 0)::bigint AS down
              FROM cell c
        )
        SELECT CASE WHEN x.r IS NOT NULL THEN custier.tier(x.r) END, x.s, x.e, x.kept, x.up, x.down,
               round(x.kept * 100.0 / nullif(x.s, 0), 2),
               round(x.up * 100.0 / nullif(x.s, 0), 2),
               round(x.down * 100.0 / nullif(x.s, 0), 2)
          FROM (SELECT * FROM per UNION ALL SELECT * FROM total) x
         ORDER BY x.r NULLS LAST;
END $$;
COMMENT ON FUNCTION @extschema@.kpi(text, timestamptz, timestamptz) IS 'the grading standard''s KPIs between two moments, per grade at from_at and in total (tier NULL): retention, upgrade and downgrade rates in percent';

-- ---------------------------------------------------------------------
-- at_risk
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.at_risk(policy text)
RETURNS TABLE (customer_key text, current_tier @extschema@.tier, qualified_tier @extschema@.tier,
               cycles_below integer, shortfall jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m   custier.managed_table;
    pol custier.policy;
BEGIN
    SELECT * INTO m FROM custier.managed_table mt WHERE mt.tbl = custier._policy_table(at_risk.policy);
    SELECT * INTO pol FROM custier.policy p WHERE p.name = at_risk.policy;
    -- The managed table and the metrics source are read as the caller: a
    -- role sees the customers it may read, graded as they are now.
    RETURN QUERY EXECUTE format($q$
        WITH r AS MATERIALIZED (
            SELECT e.n, e.customer_key COLLATE "C" AS k, custier.rank(e.qualified_tier) AS q, e.qualified_tier
              FROM custier._evaluation_results($1, $2) e
        ),
        cur AS (
            SELECT t.%1$I::text COLLATE "C" AS k, t.%2$I AS grade, t.%1$I AS key
              FROM %3$s t
             WHERE t.%2$I IS NOT NULL
        ),
        risk AS MATERIALIZED (
            SELECT c.k, c.key, c.grade, custier.rank(c.grade) AS g, r.qualified_tier
              FROM r JOIN cur c ON c.k = r.k
             WHERE r.n = 1 AND r.q > custier.rank(c.grade)
        ),
        -- Evaluations (newest first, n = 1, 2, …) with the customer below
        -- its grade; the run is unbroken as long as n = its place in that list.
        below AS (
            SELECT r.k, r.n, pg_catalog.row_number() OVER (PARTITION BY r.k ORDER BY r.n) AS place
              FROM r JOIN risk x ON x.k = r.k
             WHERE r.q > x.g
        ),
        cycles AS (
            SELECT b.k, count(*) FILTER (WHERE b.n = b.place)::integer AS c FROM below b GROUP BY b.k
        )
        SELECT x.k::text, x.grade, x.qualified_tier, y.c, %4$s
          FROM risk x JOIN cycles y ON y.k = x.k %5$s
         ORDER BY 4 DESC, custier.rank(x.grade), x.k $q$,
        m.key_column, m.tier_column, m.tbl,
        CASE WHEN pol.metrics_source IS NULL OR pol.key_column IS NULL
             THEN 'custier._shortfall($1, ''{}''::jsonb, x.grade)'
             ELSE format('CASE WHEN ms.%1$I IS NULL THEN custier._shortfall($1, ''{}''::jsonb, x.grade)
                               ELSE custier._shortfall($1, ms, x.grade) END', pol.key_column) END,
        CASE WHEN pol.metrics_source IS NULL OR pol.key_column IS NULL THEN ''
             ELSE format('LEFT JOIN %s ms ON ms.%I = x.key', pol.metrics_source, pol.key_column) END)
    USING policy, m.tbl;
END $$;
COMMENT ON FUNCTION @extschema@.at_risk(text) IS 'customers whose qualified tier in the policy''s latest finished evaluation is below their grade: for how many consecutive evaluations, and what each metric lacks to keep the grade';

-- Read-only, and each reads only what its caller may: executable by PUBLIC.
GRANT EXECUTE ON FUNCTION @extschema@.distribution(text, timestamptz), @extschema@.migration(text, timestamptz, timestamptz),
    @extschema@.kpi(text, timestamptz, timestamptz), @extschema@.at_risk(text) TO PUBLIC;
