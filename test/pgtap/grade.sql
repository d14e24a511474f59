-- pgTAP: custier._grade, the evaluation query's one call per customer,
-- gives exactly what assign_tier, score and explain give (the explanation
-- byte for byte: it is written straight to the jsonb format), on seeded
-- random metrics of every column kind, for both methods.
\ir setup.inc

SELECT plan(12);

SELECT setseed(0.18);
SELECT diag('seed 0.18');
CREATE TEMP TABLE grade_metrics AS
SELECT i AS id,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 3000 - 100)::numeric, (random() * 3)::int) END AS amount,
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 50)::int END AS purchases,
       CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 3000)::bigint END AS tenure,
       CASE WHEN random() < 0.05 THEN 'infinity'::float8 WHEN random() < 0.05 THEN '-infinity'::float8
            WHEN random() < 0.1 THEN NULL ELSE random() * 10 END AS ratio,
       (random() * 100)::int2 AS small, (random() * 5)::real AS r4
FROM generate_series(1, 5000) i;

INSERT INTO custier.policy (name, method, lowest) VALUES
    ('grade_th', 'thresholds', 'D'), ('grade_sc', 'score', 'E'), ('grade_none', 'thresholds', 'C');
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('grade_th', 'amount', 2, true), ('grade_th', 'purchases', 1, true), ('grade_th', 'tenure', 1.5, true),
    ('grade_th', 'ratio', 1, false), ('grade_th', 'small', 0.3, true),
    ('grade_sc', 'amount', 1, true), ('grade_sc', 'ratio', 3, false), ('grade_sc', 'r4', 1, true),
    ('grade_sc', 'absent', 1, true);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('grade_th', 'amount', 'A', 1500), ('grade_th', 'amount', 'B', 800.5), ('grade_th', 'amount', 'C', 200),
    ('grade_th', 'purchases', 'A', 24), ('grade_th', 'purchases', 'B', 12.5), ('grade_th', 'purchases', 'C', 4),
    ('grade_th', 'tenure', 'A', 720), ('grade_th', 'tenure', 'B', 365),
    ('grade_th', 'ratio', 'A', 2), ('grade_th', 'ratio', 'C', 5.5), ('grade_th', 'small', 'B', 50);
INSERT INTO custier.policy_band (policy, metric, bound, points) VALUES
    ('grade_sc', 'amount', 2000, 100), ('grade_sc', 'amount', 1000, 60), ('grade_sc', 'amount', 100, 20),
    ('grade_sc', 'ratio', 1, 100), ('grade_sc', 'ratio', 3, 50), ('grade_sc', 'r4', 4, 90), ('grade_sc', 'r4', 2, 40),
    ('grade_sc', 'absent', 1, 1);
INSERT INTO custier.policy_tier (policy, tier, label, min_score) VALUES
    ('grade_sc', 'A', 'Gold', 80), ('grade_sc', 'B', NULL, 60), ('grade_sc', 'C', NULL, 40), ('grade_sc', 'D', NULL, 10),
    ('grade_th', 'A', 'Gold', NULL), ('grade_th', 'B', 'Silver', NULL);

CREATE TEMP TABLE graded AS
SELECT p, id, (g).qualified_tier AS g_tier, (g).score AS g_score, (g).explanation AS g_explanation,
       (e).qualified_tier AS e_tier, (e).score AS e_score, (e).explanation AS e_explanation,
       (n).qualified_tier AS n_tier, (n).score AS n_score, (n).explanation AS n_explanation,
       tier, score, explanation
FROM (SELECT p, m.id, custier._grade(p, m, true, true) AS g, custier._grade(p, m, false, true) AS e,
             custier._grade(p, m, true, false) AS n,
             custier.assign_tier(p, m) AS tier, custier.score(p, m) AS score, custier.explain(p, m) AS explanation
      FROM grade_metrics m, unnest(ARRAY['grade_th', 'grade_sc', 'grade_none']) p OFFSET 0) s;

SELECT is((SELECT count(*) FROM graded), 15000::bigint, 'every row of every policy graded');
SELECT is((SELECT count(*) FROM graded WHERE g_tier IS DISTINCT FROM tier), 0::bigint,
          '_grade gives the tier assign_tier gives');
SELECT is((SELECT count(*) FROM graded WHERE g_score IS DISTINCT FROM score OR g_score::text IS DISTINCT FROM score::text),
          0::bigint, '_grade gives the score score() gives, digit for digit');
SELECT is((SELECT count(*) FROM graded WHERE NOT record_image_eq(ROW(g_explanation, 0), ROW(explanation, 0))),
          0::bigint, '_grade gives the explanation explain() gives, byte for byte');
-- The jsonb parser sorts keys and lays the value out itself: what it
-- makes of the text is the canonical encoding.
SELECT is((SELECT count(*) FROM graded WHERE NOT record_image_eq(ROW(explanation, 0), ROW(explanation::text::jsonb, 0))),
          0::bigint, 'explanations are byte for byte what the jsonb parser makes of their text');
SELECT is((SELECT count(*) FROM graded
            WHERE e_tier IS DISTINCT FROM custier.assign_tier(p, '{}'::jsonb)
               OR e_score IS DISTINCT FROM custier.score(p, '{}'::jsonb)
               OR NOT record_image_eq(ROW(e_explanation, 0), ROW(custier.explain(p, '{}'::jsonb), 0))),
          0::bigint, 'no metrics row (has_metrics false) grades as the empty object');
SELECT is((SELECT count(*) FROM grade_metrics m
            WHERE NOT record_image_eq(ROW((custier._grade('grade_th', NULL::grade_metrics, true, true)).explanation, 0),
                                      ROW(custier.explain('grade_th', '{}'::jsonb), 0))),
          0::bigint, 'a NULL row grades as the empty object');
SELECT is((SELECT count(*) FROM graded WHERE n_explanation IS NOT NULL
              OR n_tier IS DISTINCT FROM tier OR n_score IS DISTINCT FROM score),
          0::bigint, 'without with_explanation: the same tier and score, no explanation');
SELECT ok((SELECT count(DISTINCT g_score) > 5 AND count(DISTINCT g_tier) >= 3 FROM graded WHERE p = 'grade_th')
          AND (SELECT count(DISTINCT g_score) > 5 AND count(DISTINCT g_tier) >= 3 FROM graded WHERE p = 'grade_sc'),
          'the data reach several tiers and scores under both methods');
SELECT ok((SELECT count(*) FILTER (WHERE explanation::text LIKE '%Infinity%') > 0 FROM graded),
          'infinite float metrics are among those explained');
SELECT is((SELECT (custier._grade(NULL, m, true, true)).qualified_tier FROM grade_metrics m LIMIT 1), NULL,
          'no policy: NULL');
SELECT throws_ok($$SELECT custier._grade('grade_missing', m, true, true) FROM grade_metrics m LIMIT 1$$, '42704',
                 NULL, 'an unknown policy is refused as by assign_tier');

SELECT * FROM finish();
ROLLBACK;
