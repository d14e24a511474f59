-- bench/policy.sql — grading 1M metric rows with custier.assign_tier.
--  1. assign_tier(policy, row) against the CASE a DBA would hand-write for the
--     same policy (goal: ratio <= 1.5);
--  2. assign_tier(policy, jsonb) against merely building that jsonb
--     (goal: ratio <= 1.3);
--  3. assign_tier(policy, jsonb) against a PL/pgSQL implementation that reads
--     the policy tables on every call (goal: C at least 20x faster, ratio
--     <= 0.05; on 20k rows, since the PL/pgSQL one takes ~1 ms a row).
\set QUIET 1
SET client_min_messages = warning;
DELETE FROM custier.policy WHERE name = 'bench_standard';
INSERT INTO custier.policy (name, lowest, description)
VALUES ('bench_standard', 'D', 'the A/B/C/D grading standard');
INSERT INTO custier.policy_criterion (policy, metric) VALUES
    ('bench_standard', 'amount'), ('bench_standard', 'purchases'), ('bench_standard', 'potential'),
    ('bench_standard', 'stability'), ('bench_standard', 'influence');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('bench_standard', 'amount', 'A', 1000000), ('bench_standard', 'purchases', 'A', 12),
    ('bench_standard', 'potential', 'A', 8), ('bench_standard', 'stability', 'A', 3),
    ('bench_standard', 'influence', 'A', 7),
    ('bench_standard', 'amount', 'B', 500000), ('bench_standard', 'purchases', 'B', 6),
    ('bench_standard', 'potential', 'B', 6), ('bench_standard', 'stability', 'B', 2),
    ('bench_standard', 'amount', 'C', 100000), ('bench_standard', 'purchases', 'C', 3);

DROP TABLE IF EXISTS bench_metrics;
CREATE TABLE bench_metrics AS
SELECT i AS customer_id,
       round((hashint4(i) & 2147483647) % 1500000 + ((hashint4(i + 7) & 1023) / 1024.0), 2)::numeric(14, 2) AS amount,
       (hashint4(i + 1) & 2147483647) % 20 AS purchases,
       (hashint4(i + 2) & 2147483647) % 11 AS potential,
       ((hashint4(i + 3) & 2147483647) % 60) / 10.0 AS stability,
       (hashint4(i + 4) & 2147483647) % 11 AS influence
FROM generate_series(1, 1000000) i;
VACUUM ANALYZE bench_metrics;

-- What a DBA writes by hand for the same policy.
CREATE OR REPLACE VIEW bench_case AS
SELECT CASE WHEN amount >= 1000000 AND purchases >= 12 AND potential >= 8 AND stability >= 3 AND influence >= 7 THEN 'A'::custier.tier
            WHEN amount >= 500000 AND purchases >= 6 AND potential >= 6 AND stability >= 2 THEN 'B'::custier.tier
            WHEN amount >= 100000 AND purchases >= 3 THEN 'C'::custier.tier
            ELSE 'D'::custier.tier END AS tier
FROM bench_metrics;

-- The reference point: PL/pgSQL that reads the policy tables on each call.
CREATE OR REPLACE FUNCTION bench.assign_tier_plpgsql(policy_name text, metrics jsonb)
RETURNS custier.tier LANGUAGE plpgsql STABLE AS $$
DECLARE
    p custier.policy;
    t custier.tier;
    ok boolean;
BEGIN
    SELECT * INTO p FROM custier.policy WHERE name = policy_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy_name USING ERRCODE = '42704';
    END IF;
    FOR t IN SELECT DISTINCT th.tier FROM custier.policy_threshold th
              WHERE th.policy = policy_name AND th.tier >= p.lowest ORDER BY th.tier DESC LOOP
        SELECT bool_and(CASE WHEN c.higher_is_better THEN (metrics ->> th.metric::text)::numeric >= th.bound
                             ELSE (metrics ->> th.metric::text)::numeric <= th.bound END IS TRUE)
          INTO ok
          FROM custier.policy_threshold th
          JOIN custier.policy_criterion c USING (policy, metric)
         WHERE th.policy = policy_name AND th.tier = t;
        IF ok THEN
            RETURN t;
        END IF;
    END LOOP;
    RETURN p.lowest;
END $$;
\unset QUIET

SELECT tier, count(*) FROM bench_case GROUP BY tier ORDER BY tier DESC;
SELECT count(*) AS disagreements
FROM (SELECT customer_id, CASE WHEN amount >= 1000000 AND purchases >= 12 AND potential >= 8 AND stability >= 3 AND influence >= 7 THEN 'A'::custier.tier
            WHEN amount >= 500000 AND purchases >= 6 AND potential >= 6 AND stability >= 2 THEN 'B'::custier.tier
            WHEN amount >= 100000 AND purchases >= 3 THEN 'C'::custier.tier
            ELSE 'D'::custier.tier END AS by_hand,
             custier.assign_tier('bench_standard', m) AS by_policy FROM bench_metrics m) s
WHERE by_hand <> by_policy;

\echo '1M rows (3: 20k rows); medians of 5 runs; ratio = candidate / baseline'
SELECT * FROM bench.compare('assign_tier(policy, row) vs hand-written CASE',
    $q$SELECT custier.assign_tier('bench_standard', m) FROM bench_metrics m$q$,
    $q$SELECT tier FROM bench_case$q$, '<= 1.5', 5)
UNION ALL
SELECT * FROM bench.compare('assign_tier(policy, jsonb) vs building the jsonb',
    $q$SELECT custier.assign_tier('bench_standard', jsonb_build_object('amount', amount, 'purchases', purchases,
        'potential', potential, 'stability', stability, 'influence', influence)) FROM bench_metrics$q$,
    $q$SELECT jsonb_build_object('amount', amount, 'purchases', purchases,
        'potential', potential, 'stability', stability, 'influence', influence) FROM bench_metrics$q$, '<= 1.3', 5)
UNION ALL
SELECT * FROM bench.compare('assign_tier(policy, jsonb) C vs PL/pgSQL',
    $q$SELECT custier.assign_tier('bench_standard', to_jsonb(m)) FROM (SELECT * FROM bench_metrics LIMIT 20000) m$q$,
    $q$SELECT bench.assign_tier_plpgsql('bench_standard', to_jsonb(m)) FROM (SELECT * FROM bench_metrics LIMIT 20000) m$q$, '<= 0.05', 5);

\set QUIET 1
DROP VIEW bench_case;
DROP TABLE bench_metrics;
DROP FUNCTION bench.assign_tier_plpgsql(text, jsonb);
DELETE FROM custier.policy WHERE name = 'bench_standard';
