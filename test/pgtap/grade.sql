-- pgTAP: custier._grade, the evaluation query's one call per customer,
-- gives exactly what assign_tier, score and explain give (the explanation
-- byte for byte: it is written straight to the jsonb format), on seeded
-- random metrics of every column kind, for both methods.
--
-- The second half covers the explanation writer's fast paths and their
-- fallbacks (src/policy.c): integers and int64-sized decimals written in
-- the numeric format directly, numbers too large or too finely scaled for
-- int64 (and scales beyond the short numeric header), infinite values,
-- bounds and min_scores, int64's extremes, more criteria than jsonb's
-- offset stride (32), policies without criteria, thresholds that are not
-- monotone, and _grade's result row formed in place.
\ir setup.inc

SELECT plan(24);

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

-- The writer's fast paths and fallbacks.
SELECT setseed(0.42);
SELECT diag('seed 0.42');
CREATE TEMP TABLE grade_edge AS
SELECT i AS id,
       CASE (i % 12)
            WHEN 0 THEN NULL
            WHEN 1 THEN round((random() * 2e6 - 1e6)::numeric, 2)
            WHEN 2 THEN (random() * 1e30)::numeric(40, 0)                -- too large for int64
            WHEN 3 THEN round(random()::numeric, 25)                      -- scale 25
            WHEN 4 THEN ('1e-' || (60 + i % 20))::numeric                 -- scales 60..79: long header
            WHEN 5 THEN round((random() * 9e17)::numeric, 0)              -- near int64's limits once scaled
            WHEN 6 THEN -round((random() * 9e17)::numeric, 0)
            WHEN 7 THEN round((random() * 100)::numeric, 17)
            WHEN 8 THEN 0::numeric
            WHEN 9 THEN 1500::numeric                                     -- exactly a bound
            WHEN 10 THEN 'Infinity'::numeric
            ELSE '-Infinity'::numeric END AS n,
       CASE WHEN i % 7 = 0 THEN NULL WHEN i % 7 = 1 THEN 9223372036854775807 WHEN i % 7 = 2 THEN -9223372036854775808
            ELSE (random() * 4e18 - 2e18)::bigint END AS big,
       (random() * 30000 - 15000)::int AS i4,
       CASE WHEN i % 5 = 0 THEN 'infinity'::float8 WHEN i % 5 = 1 THEN '-infinity'::float8
            WHEN i % 5 = 2 THEN random() * 1e-10 ELSE random() * 1e20 END AS f8
FROM generate_series(1, 1200) i;
INSERT INTO custier.policy (name, method, lowest) VALUES ('edge_th', 'thresholds', 'E'), ('edge_sc', 'score', 'D');
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('edge_th', 'n', 1.25, true), ('edge_th', 'big', 3, false), ('edge_th', 'i4', 0.000001, true), ('edge_th', 'f8', 2, true),
    ('edge_sc', 'n', 7, false), ('edge_sc', 'big', 1, true), ('edge_sc', 'i4', 2.5, true), ('edge_sc', 'f8', 1, false);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('edge_th', 'n', 'A', 'Infinity'), ('edge_th', 'n', 'B', 1500), ('edge_th', 'n', 'C', 0.0000000000000000000001),
    ('edge_th', 'n', 'D', '-1e-70'),
    ('edge_th', 'big', 'A', -12345678901234567890.5), ('edge_th', 'big', 'B', -9e18), ('edge_th', 'big', 'D', 1e-30),
    ('edge_th', 'i4', 'A', 1000.123456789012345678), ('edge_th', 'i4', 'C', -3), ('edge_th', 'i4', 'D', '-Infinity'),
    ('edge_th', 'f8', 'A', 1e19), ('edge_th', 'f8', 'C', 0.00000000005);
INSERT INTO custier.policy_band (policy, metric, bound, points) VALUES
    ('edge_sc', 'n', 0, 100), ('edge_sc', 'n', 1e20, 50), ('edge_sc', 'n', 'Infinity', 10),
    ('edge_sc', 'big', 0, 100), ('edge_sc', 'big', -5e18, 30),
    ('edge_sc', 'i4', 1000.5, 100), ('edge_sc', 'i4', '-Infinity', 1),
    ('edge_sc', 'f8', 1e-11, 80), ('edge_sc', 'f8', 1e10, 40);
INSERT INTO custier.policy_tier (policy, tier, label, min_score) VALUES
    ('edge_sc', 'A', 'Top', 90), ('edge_sc', 'B', 'Middle', 33.3333333333333333333333333333),
    ('edge_sc', 'C', NULL, '-Infinity'),
    ('edge_th', 'B', 'Second', NULL), ('edge_th', 'D', 'Fourth', 12);
-- Thresholds that are not monotone (a better tier with an easier bound):
-- policy_check refuses them, a restore with triggers off can bring them.
SET LOCAL session_replication_role = replica;
INSERT INTO custier.policy (name, method, lowest) VALUES ('edge_nm', 'thresholds', 'D');
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('edge_nm', 'n', 1, true), ('edge_nm', 'i4', 2, false), ('edge_nm', 'big', 1, true);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('edge_nm', 'n', 'A', 10), ('edge_nm', 'n', 'B', 1000), ('edge_nm', 'n', 'C', 0.5),
    ('edge_nm', 'i4', 'A', 500), ('edge_nm', 'i4', 'B', -200), ('edge_nm', 'i4', 'C', 100),
    ('edge_nm', 'big', 'B', 0), ('edge_nm', 'big', 'C', 1e18);
SET LOCAL session_replication_role = origin;
-- 40 criteria: more elements in the criteria array than jsonb's offset stride
SELECT format('CREATE TEMP TABLE grade_wide AS SELECT i AS id, %s FROM generate_series(1, 300) i',
              string_agg(format('CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 100)::numeric, %s) END AS c%s',
                                k % 4, lpad(k::text, 2, '0')), ', '))
FROM generate_series(1, 40) k \gexec
INSERT INTO custier.policy (name, method, lowest) VALUES ('wide_th', 'thresholds', 'C'), ('wide_sc', 'score', 'C'),
    ('none_sc', 'score', 'B'), ('g0', 'thresholds', 'B');
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better)
SELECT p, 'c' || lpad(k::text, 2, '0'), k, k % 3 <> 0 FROM generate_series(1, 40) k, unnest(ARRAY['wide_th', 'wide_sc']) p;
INSERT INTO custier.policy_threshold (policy, metric, tier, bound)
SELECT 'wide_th', 'c' || lpad(k::text, 2, '0'), t::custier.tier,
       CASE WHEN k % 3 <> 0 THEN 80 - 30 * (t = 'B')::int ELSE 20 + 30 * (t = 'B')::int END
FROM generate_series(1, 40) k, unnest(ARRAY['A', 'B']) t;
INSERT INTO custier.policy_band (policy, metric, bound, points)
SELECT 'wide_sc', 'c' || lpad(k::text, 2, '0'), b, CASE WHEN k % 3 <> 0 THEN b ELSE 100 - b END
FROM generate_series(1, 40) k, unnest(ARRAY[25, 50.5, 75]) b;
INSERT INTO custier.policy_tier (policy, tier, label, min_score) VALUES ('wide_sc', 'A', NULL, 60), ('wide_sc', 'B', NULL, 40);

CREATE TEMP TABLE edge_graded AS
SELECT p, id, to_jsonb(m) AS metrics, custier._grade(p, m, true, true) AS g, custier.assign_tier(p, m) AS tier,
       custier.score(p, m) AS score, custier.explain(p, m) AS explanation,
       -- a float column is read as float8::numeric (to_jsonb prints all its digits)
       custier.explain(p, to_jsonb(m) || jsonb_build_object('f8', m.f8::numeric)) AS explanation_j
FROM grade_edge m, unnest(ARRAY['edge_th', 'edge_sc', 'edge_nm', 'grade_none', 'none_sc']) p
UNION ALL
SELECT p, id, to_jsonb(m), custier._grade(p, m, true, true), custier.assign_tier(p, m),
       custier.score(p, m), custier.explain(p, m), custier.explain(p, to_jsonb(m))
FROM grade_wide m, unnest(ARRAY['wide_th', 'wide_sc']) p;

SELECT is((SELECT count(*) FROM edge_graded WHERE (g).qualified_tier IS DISTINCT FROM tier
              OR (g).score::text IS DISTINCT FROM score::text
              OR NOT record_image_eq(ROW((g).explanation, 0), ROW(explanation, 0))),
          0::bigint, 'edge values: _grade gives what assign_tier, score and explain give');
SELECT is((SELECT count(*) FROM edge_graded
            WHERE NOT record_image_eq(ROW(explanation, 0), ROW(explanation::text::jsonb, 0))
               OR NOT record_image_eq(ROW(explanation_j, 0), ROW(explanation_j::text::jsonb, 0))),
          0::bigint, 'edge values: explanations are byte for byte what the jsonb parser makes of their text');
SELECT is((SELECT count(*) FROM edge_graded WHERE explanation_j IS DISTINCT FROM explanation),
          0::bigint, 'edge values: a row and its jsonb are explained alike');
-- Independent of the writer: every value and gap is what numeric arithmetic
-- prints for it, digit for digit (the int64 paths and their fallbacks).
CREATE TEMP TABLE edge_criteria AS
SELECT e.p, e.id, c.o, e.metrics -> (c.o ->> 'metric') AS metric_value,
       (SELECT bound FROM custier.policy_threshold t
         WHERE t.policy = e.p AND t.metric = c.o ->> 'metric' AND t.tier = (e.explanation ->> 'next_tier')::custier.tier) AS next_bound
FROM edge_graded e, jsonb_array_elements(e.explanation -> 'criteria') c(o)
WHERE e.p IN ('edge_th', 'edge_nm', 'edge_sc', 'wide_th');
SELECT is((SELECT count(*) FROM edge_criteria
            WHERE (o -> 'value')::text IS DISTINCT FROM
                  CASE WHEN jsonb_typeof(metric_value) = 'number' AND o ->> 'metric' = 'f8'
                       THEN (metric_value::text::float8::numeric)::text
                       WHEN jsonb_typeof(metric_value) = 'number' THEN (metric_value::text::numeric)::text
                       WHEN jsonb_typeof(metric_value) = 'string' THEN metric_value::text ELSE 'null' END),
          0::bigint, 'every value is the metric, digit for digit (infinities as strings)');
SELECT is((SELECT count(*) FROM edge_criteria
            WHERE p <> 'edge_sc' AND next_bound IS NOT NULL AND jsonb_typeof(o -> 'next_gap') = 'number'
              AND (o -> 'next_gap')::text <> '0'
              AND (o -> 'next_gap')::text IS DISTINCT FROM (next_bound - (o -> 'value')::text::numeric)::text),
          0::bigint, 'every gap is bound - value as numeric subtraction prints it, scale included');
SELECT ok((SELECT count(*) FILTER (WHERE (o ->> 'next_gap') ~ '\.\d{19,}') > 0          -- beyond int64's scale
              AND count(*) FILTER (WHERE (o ->> 'next_gap') ~ '^-?\d{20,}') > 0        -- beyond int64's digits
              AND count(*) FILTER (WHERE (o ->> 'next_gap') ~ '^-?\d+\.\d{1,18}$') > 0 -- int64 with a scale
              AND count(*) FILTER (WHERE (o ->> 'next_gap') = 'Infinity') > 0
              AND count(*) FILTER (WHERE length(o ->> 'value') > 70) > 0               -- a long numeric header
           FROM edge_criteria WHERE p = 'edge_th'),
          'the edge data reach every kind of gap and value');
SELECT is((SELECT count(*) FROM edge_graded e
            WHERE e.p = 'edge_sc' AND jsonb_typeof(e.explanation -> 'score_to_next') = 'number'
              AND (e.explanation -> 'score_to_next')::text IS DISTINCT FROM
                  ((SELECT min_score FROM custier.policy_tier t WHERE t.policy = e.p
                     AND t.tier = (e.explanation ->> 'next_tier')::custier.tier) - (e.explanation ->> 'score')::numeric)::text),
          0::bigint, 'score_to_next is min_score - score, digit for digit');
SELECT is((SELECT count(*) FROM edge_graded
            WHERE p IN ('wide_th', 'wide_sc') AND jsonb_array_length(explanation -> 'criteria') <> 40),
          0::bigint, 'forty criteria explained, past the offset stride');
-- _grade's result row is formed in place: the same bytes heap_form_tuple
-- forms of its three fields (size included: short or aligned varlenas).
-- (compared as computed: a table would compress the larger ones)
CREATE TEMP TABLE grade_rows AS
SELECT pg_column_size(g) = pg_column_size(r) AND record_image_eq(g, r) AS same,
       pg_column_size((g).explanation) AS explanation_size, (g).score IS NULL AS no_score,
       (g).explanation IS NULL AS no_explanation
FROM (SELECT g, ROW((g).qualified_tier, (g).score, (g).explanation)::custier._grade_result AS r FROM (
          SELECT custier._grade(p, m, h, x) AS g
          FROM grade_edge m, unnest(ARRAY['edge_th', 'edge_sc', 'grade_none', 'none_sc', 'g0']) p,
               (VALUES (true, true), (true, false), (false, true), (false, false)) v(h, x)
          WHERE m.id <= 100) s) s;
SELECT is((SELECT count(*) FROM grade_rows WHERE NOT same),
          0::bigint, '_grade''s row: what the row constructor forms of its fields, size included');
SELECT ok((SELECT count(*) FILTER (WHERE explanation_size <= 127) > 0   -- stored with a short header
              AND count(*) FILTER (WHERE explanation_size > 127) > 0
              AND count(*) FILTER (WHERE no_score AND NOT no_explanation) > 0
              AND count(*) FILTER (WHERE NOT no_score AND no_explanation) > 0
           FROM grade_rows),
          'the rows compared have every layout: short and long explanations, NULL score or explanation');
SELECT ok((SELECT count(DISTINCT tier) >= 3 FROM edge_graded WHERE p = 'edge_nm')
          AND (SELECT count(DISTINCT tier) >= 3 FROM edge_graded WHERE p = 'edge_th'),
          'the edge policies reach several tiers, monotone thresholds or not');
SELECT is((SELECT count(*) FROM edge_graded e
            WHERE e.p = 'edge_nm' AND (e.g).qualified_tier IS DISTINCT FROM custier.assign_tier('edge_nm', e.metrics)),
          0::bigint, 'thresholds that are not monotone grade as assign_tier compares them');

SELECT * FROM finish();
ROLLBACK;
