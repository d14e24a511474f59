-- bench/metrics.sql — value-metric aggregates over 2M transactions of 200k
-- customers, serial unless stated.  Goals (issue 3):
--   value_metrics vs count/sum/min/max … FILTER          ratio <= 0.8
--   period_amounts (12 months) vs 12 FILTERed sums       ratio <= 0.2
-- and (issue 18) against a bare count(*) … GROUP BY customer over the same
-- rows, the hash-aggregation floor:
--   value_metrics                                        ratio <= 1.1
--   period_amounts                                       ratio <= 1.3
-- and, for information, the parallel speed-up with 2 workers, what reading
-- the two argument columns alone adds to the floor, and the ratio to a
-- single sum(amount) … GROUP BY customer.
\set QUIET 1
DROP TABLE IF EXISTS bench_tx;
CREATE TABLE bench_tx AS
SELECT 1 + (hashint4(i) & 2147483647) % 200000 AS customer_id,
       timestamptz '2025-01-01 00:00:00+00' - (hashint4(i + 7) & 2147483647) % (730 * 86400) * interval '1 second' AS at,
       -- amounts with cents up to 1000.00; every 20th row a refund
       (CASE WHEN i % 20 = 0 THEN -((hashint4(i + 13) & 2147483647) % 5000)::numeric / 100
             ELSE ((hashint4(i + 13) & 2147483647) % 100000 + 1)::numeric / 100 END)::numeric(12, 2) AS amount
FROM generate_series(1, 2000000) i;
VACUUM ANALYZE bench_tx;
-- 12 FILTERed sums as a user writes them (the goal's baseline): the month
-- boundaries are as_of - interval 'k months', which PostgreSQL evaluates per
-- row (timestamptz - interval is only STABLE).
SELECT string_agg(format($f$sum(amount) FILTER (WHERE at > timestamptz '2025-01-01 00:00:00+00' - interval '%s months'
                                              AND at <= timestamptz '2025-01-01 00:00:00+00' - interval '%s months')$f$,
                         k, k - 1), ', ' ORDER BY k) AS filtered_sums
FROM generate_series(1, 12) k \gset
-- The same with the 13 boundaries precomputed as constants: the strongest
-- SQL formulation (for information).
SELECT string_agg(format('sum(amount) FILTER (WHERE at > %L AND at <= %L)',
                         timestamptz '2025-01-01 00:00:00+00' - k * interval '1 month',
                         timestamptz '2025-01-01 00:00:00+00' - (k - 1) * interval '1 month'), ', ' ORDER BY k)
       AS constant_sums
FROM generate_series(1, 12) k \gset
\unset QUIET
\echo '2M transactions, 200k customers; medians of 5 runs; ratio = candidate / baseline'
SELECT * FROM bench.compare('value_metrics vs count/sum/min/max FILTER',
    $q$SELECT customer_id, custier.value_metrics(at, amount) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, count(*) FILTER (WHERE amount > 0), sum(amount),
              min(at) FILTER (WHERE amount > 0), max(at) FILTER (WHERE amount > 0),
              sum(amount) / nullif(count(*) FILTER (WHERE amount > 0), 0)
       FROM bench_tx GROUP BY customer_id$q$, '<= 0.8', 5)
UNION ALL
SELECT * FROM bench.compare('period_amounts (12 months) vs 12 FILTERed sums',
    $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12)
       FROM bench_tx GROUP BY customer_id$q$,
    format($q$SELECT customer_id, %s FROM bench_tx GROUP BY customer_id$q$, :'filtered_sums'), '<= 0.2', 5)
UNION ALL
SELECT * FROM bench.compare('period_amounts vs 12 sums FILTERed by constants',
    $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12)
       FROM bench_tx GROUP BY customer_id$q$,
    format($q$SELECT customer_id, %s FROM bench_tx GROUP BY customer_id$q$, :'constant_sums'), NULL, 5)
UNION ALL
SELECT * FROM bench.compare('value_metrics vs bare count(*) GROUP BY (floor)',
    $q$SELECT customer_id, custier.value_metrics(at, amount) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, count(*) FROM bench_tx GROUP BY customer_id$q$, '<= 1.1', 5)
UNION ALL
SELECT * FROM bench.compare('period_amounts vs bare count(*) GROUP BY (floor)',
    $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12)
       FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, count(*) FROM bench_tx GROUP BY customer_id$q$, '<= 1.3', 5)
UNION ALL
SELECT * FROM bench.compare('count(at), count(amount) vs count(*) (reading the columns)',
    $q$SELECT customer_id, count(at), count(amount) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, count(*) FROM bench_tx GROUP BY customer_id$q$, NULL, 5)
UNION ALL
SELECT * FROM bench.compare('period_amounts vs one sum(amount) GROUP BY',
    $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12)
       FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, sum(amount) FROM bench_tx GROUP BY customer_id$q$, NULL, 5);
\set QUIET 1
-- Parallel: 2 workers against serial, same query (ratio < 1 is a speed-up).
CREATE FUNCTION pg_temp.parallel_ms(q text) RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE ms double precision;
BEGIN
    SET LOCAL max_parallel_workers_per_gather = 2;
    SET LOCAL parallel_setup_cost = 0;
    SET LOCAL parallel_tuple_cost = 0;
    SET LOCAL min_parallel_table_scan_size = 0;
    ms := bench.query_ms(q);
    RETURN ms;
END $$;
\unset QUIET
SELECT 'parallel (2 workers) / serial: ' || t.name AS benchmark,
       round(bench.median(array_agg(p))::numeric, 1) AS parallel_ms,
       round(bench.median(array_agg(s))::numeric, 1) AS serial_ms,
       round((bench.median(array_agg(p)) / bench.median(array_agg(s)))::numeric, 3) AS ratio
FROM (VALUES ('value_metrics', $q$SELECT customer_id, custier.value_metrics(at, amount) FROM bench_tx GROUP BY customer_id$q$),
             ('period_amounts', $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12) FROM bench_tx GROUP BY customer_id$q$)) t(name, q),
     LATERAL (SELECT pg_temp.parallel_ms(t.q) AS p, bench.query_ms(t.q) AS s FROM generate_series(1, 3)) r
GROUP BY t.name ORDER BY t.name;
DROP TABLE bench_tx;
