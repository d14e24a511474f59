-- pgTAP: assign_tier/score against hand-written SQL on 100k generated rows,
-- edits seen by the next statement, catalog and privilege facts.
\ir setup.inc

SELECT plan(22);

-- A policy with both directions, a fractional bound and weights.
INSERT INTO custier.policy (name) VALUES ('tap');
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('tap', 'amount', 3, true), ('tap', 'visits', 1, true), ('tap', 'late_days', 2, false);
INSERT INTO custier.policy_threshold VALUES
    ('tap', 'amount', 'A', 900.5), ('tap', 'amount', 'B', 500), ('tap', 'amount', 'C', 100),
    ('tap', 'visits', 'A', 8), ('tap', 'visits', 'B', 4),
    ('tap', 'late_days', 'A', 5), ('tap', 'late_days', 'B', 15), ('tap', 'late_days', 'C', 30);

CREATE TEMP TABLE tap_metrics AS
SELECT i AS id,
       CASE WHEN i % 97 = 0 THEN NULL ELSE ((hashint4(i) & 2147483647) % 100000) / 100.0 END::numeric(10, 2) AS amount,
       CASE WHEN i % 89 = 0 THEN NULL ELSE (hashint4(i + 1) & 2147483647) % 12 END::int AS visits,
       CASE WHEN i % 83 = 0 THEN NULL ELSE (hashint4(i + 2) & 2147483647) % 40 END::int8 AS late_days
FROM generate_series(1, 100000) i;
-- Exact bounds appear: every bound, and one unit either side of it.
INSERT INTO tap_metrics VALUES (0, 900.50, 8, 5), (-1, 900.49, 8, 5), (-2, 900.51, 7, 6), (-3, 500, 4, 15),
                               (-4, 100, 0, 30), (-5, 99.99, 0, 31);

CREATE TEMP VIEW tap_by_hand AS
SELECT id,
       CASE WHEN amount >= 900.5 AND visits >= 8 AND late_days <= 5 THEN 'A'::custier.tier
            WHEN amount >= 500 AND visits >= 4 AND late_days <= 15 THEN 'B'::custier.tier
            WHEN amount >= 100 AND late_days <= 30 THEN 'C'::custier.tier
            ELSE 'D'::custier.tier END AS tier,
       (3 * CASE WHEN amount >= 900.5 THEN 4 WHEN amount >= 500 THEN 3 WHEN amount >= 100 THEN 2 ELSE 0 END
        + 1 * CASE WHEN visits >= 8 THEN 4 WHEN visits >= 4 THEN 3 ELSE 0 END
        + 2 * CASE WHEN late_days <= 5 THEN 4 WHEN late_days <= 15 THEN 3 WHEN late_days <= 30 THEN 2 ELSE 0 END
       ) * 100::numeric / (4 * 6) AS score
FROM tap_metrics;

SELECT is((SELECT count(*)::int FROM tap_metrics m JOIN tap_by_hand h USING (id)
           WHERE custier.assign_tier('tap', m) IS DISTINCT FROM h.tier), 0,
          'assign_tier(policy, row) agrees with the hand-written CASE on 100k rows');
SELECT is((SELECT count(*)::int FROM tap_metrics m JOIN tap_by_hand h USING (id)
           WHERE custier.assign_tier('tap', to_jsonb(m)) IS DISTINCT FROM h.tier), 0,
          'assign_tier(policy, jsonb) agrees with the hand-written CASE on 100k rows');
SELECT is((SELECT count(*)::int FROM tap_metrics m JOIN tap_by_hand h USING (id)
           WHERE custier.score('tap', m) IS DISTINCT FROM h.score), 0,
          'score(policy, row) equals 100 × Σ w × (n − r + 1) ÷ (n × Σ w), digit for digit, on 100k rows');
SELECT is((SELECT count(*)::int FROM tap_metrics m
           WHERE custier.explain('tap', m) ->> 'tier' IS DISTINCT FROM custier.assign_tier('tap', m)::text
              OR (custier.explain('tap', m) ->> 'score')::numeric IS DISTINCT FROM custier.score('tap', m)), 0,
          'explain carries the same tier and score');
SELECT is((SELECT string_agg(DISTINCT t::text, '' ORDER BY t::text) FROM (SELECT custier.assign_tier('tap', m) t FROM tap_metrics m) s),
          'ABCD', 'the data reaches every tier');

-- An edit is seen by the next statement (same transaction, same backend) …
SELECT is(custier.assign_tier('tap', '{"amount": 950, "visits": 9, "late_days": 1}'::jsonb), 'A'::custier.tier, 'A before the edit');
UPDATE custier.policy_threshold SET bound = 1000 WHERE policy = 'tap' AND metric = 'amount' AND tier = 'A';
SELECT is(custier.assign_tier('tap', '{"amount": 950, "visits": 9, "late_days": 1}'::jsonb), 'B'::custier.tier, 'B after raising the A bound');
SELECT is((SELECT count(*)::int FROM tap_metrics m WHERE custier.assign_tier('tap', m) = 'A' AND m.amount < 1000), 0,
          'no row below the new bound is still A');
-- … and by a statement of a PL/pgSQL function that keeps its expression state.
CREATE FUNCTION pg_temp.grade_twice() RETURNS text LANGUAGE plpgsql AS $$
DECLARE a custier.tier; b custier.tier;
BEGIN
    a := custier.assign_tier('tap', '{"amount": 950, "visits": 9, "late_days": 1}'::jsonb);
    UPDATE custier.policy_threshold SET bound = 900.5 WHERE policy = 'tap' AND metric = 'amount' AND tier = 'A';
    b := custier.assign_tier('tap', '{"amount": 950, "visits": 9, "late_days": 1}'::jsonb);
    RETURN a::text || b::text;
END $$;
SELECT is(pg_temp.grade_twice(), 'BA', 'an edit inside a function is seen by its next expression');

-- Errors.
SELECT throws_ok($$SELECT custier.assign_tier('no such policy', '{}'::jsonb)$$, '42704',
                 'policy "no such policy" does not exist', 'unknown policy');
SELECT throws_ok($$SELECT custier.assign_tier('tap', '{"amount": "much"}'::jsonb)$$, '22P02',
                 'policy "tap": metric "amount" is not a number: "much"', 'non-numeric string');
SELECT throws_ok($$SELECT custier.assign_tier('tap', r) FROM (SELECT 'x'::text AS visits) r$$, '42804',
                 'policy "tap": metric "visits" is a column of type text, not a number', 'non-numeric column');
SELECT throws_ok($$UPDATE custier.policy_threshold SET bound = 50 WHERE policy = 'tap' AND metric = 'amount' AND tier = 'B'$$,
                 '23514', 'policy "tap": threshold for tier B on metric "amount" (bound 50) is easier than tier C''s (bound 100)',
                 'an easier bound for a better tier');
SELECT throws_ok($$INSERT INTO custier.policy_criterion (policy, metric, weight) VALUES ('tap', 'x', 0)$$,
                 '23514', NULL, 'weight 0');

-- Catalog facts.
SELECT is((SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'custier'::regnamespace
           AND proname IN ('assign_tier', 'score', 'explain') AND provolatile = 's' AND proisstrict AND proparallel = 's'),
          6, 'assign_tier, score, explain: 6 overloads, STABLE STRICT PARALLEL SAFE');
SELECT col_is_pk('custier', 'policy_threshold', ARRAY['policy', 'metric', 'tier'], 'policy_threshold key');
SELECT col_is_pk('custier', 'policy_band', ARRAY['policy', 'metric', 'bound'], 'policy_band key');
SELECT fk_ok('custier', 'policy_threshold', ARRAY['policy', 'metric'], 'custier', 'policy_criterion', ARRAY['policy', 'metric'],
             'thresholds belong to a criterion');
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extconfig) c
           WHERE e.extname = 'custier' AND c::regclass::text LIKE 'policy%'), 8,
          'policy tables, the audit log and its sequence are dumped by pg_dump');
-- Privileges: anyone reads policies; nobody but the owner writes them or reads the log.
SELECT ok(has_table_privilege('public', 'custier.policy', 'SELECT')
          AND NOT has_table_privilege('public', 'custier.policy', 'INSERT')
          AND NOT has_table_privilege('public', 'custier.policy_threshold', 'UPDATE'),
          'PUBLIC may read but not edit the policy tables');
SELECT ok(NOT has_table_privilege('public', 'custier.policy_audit', 'SELECT')
          AND NOT has_table_privilege('public', 'custier.policy_audit', 'INSERT'),
          'PUBLIC can neither read nor write the audit log');
SELECT throws_ok($$DELETE FROM custier.policy_audit$$, '42501', NULL, 'the audit log is append-only for the owner');

SELECT * FROM finish();
ROLLBACK;
