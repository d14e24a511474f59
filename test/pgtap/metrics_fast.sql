-- pgTAP: the fast paths of the value-metric aggregates (issue 18) give the
-- results of the general ones — value_metrics' 32-byte compact state and
-- its widening, the average divided on the integer, period_amounts' and
-- period_counts' constant-argument path, the numeric[] written in one piece.
\ir setup.inc
SET LOCAL TimeZone = 'Europe/Berlin';
SELECT plan(11);

-- Groups whose amounts leave the compact form at some row: more than 18
-- decimals, more than 59 bits, NaN, Infinity; and groups that stay in it.
SELECT diag('seed: 0.618');
SELECT setseed(0.618);
CREATE TABLE fast_tx AS
SELECT g AS customer_id,
       timestamptz '2025-01-01 00:00' - (random() * 730 * 86400)::int * interval '1 second' AS at,
       CASE WHEN g % 11 = 0 AND random() < 0.1 THEN round((random() * 1e-20)::numeric, 24)
            WHEN g % 13 = 0 AND random() < 0.1 THEN round((random() * 1e25)::numeric, 0)
            WHEN g % 17 = 0 AND random() < 0.05 THEN 'NaN'::numeric
            WHEN g % 19 = 0 AND random() < 0.05 THEN '-Infinity'::numeric
            WHEN random() < 0.05 THEN -round((random() * 50)::numeric, 2)
            ELSE round((random() * 1000)::numeric, (random() * 3)::int) END AS amount,
       timestamptz '2025-01-01 00:00' AS as_of, interval '1 month' AS period, 12 AS periods
FROM generate_series(1, 2000) g, generate_series(1, 1 + (random() * 30)::int) i;
ANALYZE fast_tx;

SELECT is((SELECT count(*) FROM (
    SELECT customer_id, value_metrics(at, amount)::text AS m,
           row(count(*) FILTER (WHERE amount > 0), coalesce(sum(amount), 0), min(at) FILTER (WHERE amount > 0),
               max(at) FILTER (WHERE amount > 0), sum(amount) / nullif(count(*) FILTER (WHERE amount > 0), 0))::value_metrics::text AS s
    FROM fast_tx GROUP BY customer_id) x WHERE m IS DISTINCT FROM s), 0::bigint,
    'value_metrics: compact groups, groups widened at some row, and sum / count in SQL agree');

-- Constant as_of/period/periods take the unchecked path; the same values
-- from columns take the checked one.
SELECT is((SELECT count(*) FROM (
    SELECT customer_id,
           period_amounts(at, amount, '2025-01-01 00:00', '1 month', 12)::text AS c,
           period_amounts(at, amount, as_of, period, periods)::text AS v,
           period_counts(at, amount, '2025-01-01 00:00', '1 month', 12)::text AS cc,
           period_counts(at, amount, as_of, period, periods)::text AS vc
    FROM fast_tx GROUP BY customer_id) x WHERE c IS DISTINCT FROM v OR cc IS DISTINCT FROM vc), 0::bigint,
    'period_amounts/period_counts: constant arguments give what the same values from columns give');

SELECT is((SELECT count(*) FROM (
    SELECT customer_id, period_amounts(at, amount, '2025-01-01 00:00', '1 month', 12) AS c
    FROM fast_tx GROUP BY customer_id) x
    WHERE c::text IS DISTINCT FROM (SELECT array_agg(coalesce(e, 0))::text FROM unnest(c) e)
       OR array_length(c, 1) <> 12 OR array_lower(c, 1) <> 1), 0::bigint,
    'period_amounts: the numeric[] written in one piece is a well-formed one-dimensional array');

SELECT throws_ok($$SELECT period_amounts(at, amount, as_of + (customer_id % 2) * interval '1 day', period, periods)
                   FROM fast_tx GROUP BY customer_id % 3$$, '22023', NULL,
                 'period_amounts: an as_of that changes within a group is still refused when it is not a constant');

-- The compact form's limits: purchases past 2^31 - 1 and a total past
-- 59 bits widen the state, exactly.
SELECT is(value_metrics_transfn('2147483647 10.00 1 2'::value_metrics_state, '2000-01-01 00:00:03+00', 2.5)::text,
          '2147483648 12.50 1 3000000', 'value_metrics: the 2^31st purchase widens the state');
SELECT is(value_metrics_transfn('3 288230376151711743 1 2'::value_metrics_state, '2000-01-01 00:00:00+00', 1)::text,
          '4 288230376151711744 0 2', 'value_metrics: a total past 59 bits widens the state');
SELECT is(value_metrics_combinefn('2147483000 1.5 5 6'::value_metrics_state, '1000 2.25 3 9'::value_metrics_state)::text,
          '2147484000 3.75 3 9', 'value_metrics combine: two compact states whose purchases overflow 32 bits');
SELECT is(value_metrics_combinefn('2 1.5 5 6'::value_metrics_state, '1 NaN 3 3'::value_metrics_state)::text,
          '3 NaN 3 6', 'value_metrics combine: a compact and a wide state');

-- The average: numeric_div's scale and rounding, on many random totals.
SELECT diag('seed: 0.271');
SELECT setseed(0.271);
SELECT is((SELECT count(*) FROM (
    SELECT m, n, (value_metrics_finalfn(format('%s %s 0 0', n, m)::value_metrics_state)).avg_amount AS a
    FROM (SELECT round(((random() - 0.5) * 10 ^ (random() * 36))::numeric, (random() * 20)::int) AS m,
                 greatest(1, (10 ^ (random() * 12))::bigint) AS n
          FROM generate_series(1, 20000)) r) x
    WHERE a::text IS DISTINCT FROM (m / n)::text), 0::bigint,
    'value_metrics: avg_amount equals monetary / purchases (value and scale) for 20000 random totals');
SELECT is((value_metrics_finalfn('3 -0.005 0 0'::value_metrics_state)).avg_amount::text, (-0.005 / 3)::text,
          'value_metrics: a negative average rounds like numeric_div');
SELECT is((value_metrics_finalfn('7 0.00 0 0'::value_metrics_state)).avg_amount::text, (0.00 / 7)::text,
          'value_metrics: a zero total keeps numeric_div''s scale');

SELECT * FROM finish();
ROLLBACK;
