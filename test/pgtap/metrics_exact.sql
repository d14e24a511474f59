-- pgTAP: randomized differential test of the exact accumulator (metrics are
-- summed exactly).  value_metrics' monetary and period_amounts' sums must
-- be byte-identical (text and numeric_send) to sum(numeric) over adversarial
-- numerics: scales 0..30, magnitudes 1e-20..1e40, both signs, trailing zero
-- digits, values at the int64/int128 edges, zeros with a scale, NaN and
-- ±Infinity — serially, with partial aggregation (combine), and in parallel
-- (serialize/deserialize, including the numeric overflow state).
\ir setup.inc
SET LOCAL TimeZone = 'UTC';

SELECT plan(14);

-- Seeded, and the seed printed: a failure can be replayed.
SELECT diag('seed: 0.1357');
SELECT setseed(0.1357);

-- n random decimal digits.
CREATE FUNCTION pg_temp.digits(n int) RETURNS text LANGUAGE sql VOLATILE AS $$
    SELECT coalesce(string_agg(floor(random() * 10)::int::text, ''), '') FROM generate_series(1, n)
$$;

-- A random numeric of magnitude about 10^e (e in -20..40) and scale s (0..30),
-- written out digit by digit so that every digit is significant.
CREATE FUNCTION pg_temp.adversarial(e int, s int) RETURNS numeric LANGUAGE sql VOLATILE AS $$
    SELECT ((CASE WHEN random() < 0.5 THEN '-' ELSE '' END) ||
            CASE WHEN e >= 0 THEN (1 + floor(random() * 9))::int::text || pg_temp.digits(e)
                 ELSE '0' END || '.' ||
            CASE WHEN e >= 0 THEN pg_temp.digits(s)
                 ELSE repeat('0', -e - 1) || pg_temp.digits(greatest(s + e + 1, 1)) END ||
            -- trailing zero digits that the display scale keeps
            CASE WHEN random() < 0.2 THEN repeat('0', floor(random() * 6)::int) ELSE '' END)::numeric
$$;

-- Values at the edges of the int64 fast path, the int128 accumulator and the
-- numeric format (NBASE digit boundaries, short/long header).
CREATE TEMP TABLE tap_edges (x numeric);
INSERT INTO tap_edges
SELECT sign * v FROM unnest(ARRAY[
    9223372036854775807, 9223372036854775808, 9.223372036854775807, 9.223372036854775808,
    92233720368547758.07, 922337203685477580.8,
    170141183460469231731687303715884105727, 170141183460469231731687303715884105728,
    170141183460469231731687303715884109999, 17014118346046923173168730371588410.9999,
    1.70141183460469231731687303715884105727, 1701411834604692317316873037158841057270000,
    99999999999999999999999999999999999999, 100000000000000000000000000000000000000,
    9999999999999999.9999, 0.9999999999999999999999999999, 1e40, 1e-20, 1e-30,
    0.0001, 0.001, 0.1, 1.0001, 10000, 99990000, 0.000000000000000000000000000000,
    0, 0.00, 1e63, 1e64, 1e-63, 1e-64]::numeric[]) v, unnest(ARRAY[1, -1]) sign;

-- 3000 groups; each draws from its own range of magnitudes and scales, so
-- groups stay in the int64 form, outgrow it, outgrow int128, or start there.
CREATE TEMP TABLE tap_x AS
WITH g AS (
    SELECT g, (ARRAY[2, 8, 15, 17, 19, 24, 30, 36, 40])[1 + floor(random() * 9)::int] AS max_e,
              (ARRAY[0, 2, 4, 6, 17, 18, 19, 30])[1 + floor(random() * 8)::int] AS max_s,
              1 + floor(random() * 40)::int AS n
    FROM generate_series(1, 3000) g)
SELECT g.g, pg_temp.adversarial(floor(random() * (g.max_e + 21))::int - 20, floor(random() * (g.max_s + 1))::int) AS x
FROM g, generate_series(1, g.n)
UNION ALL   -- every edge value into some groups, alone and among others
SELECT 1 + floor(random() * 3000)::int, x FROM tap_edges, generate_series(1, 3)
UNION ALL
SELECT 3000 + (row_number() OVER ())::int, x FROM tap_edges;
INSERT INTO tap_x SELECT 4000 + g, 1e-20 * (g - 3) FROM generate_series(1, 5) g;   -- tiny values with a big scale
-- Sums that outgrow int128 by accumulation, not by one huge value.
INSERT INTO tap_x SELECT 4100 + g, (CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END) * abs(pg_temp.adversarial(36, g % 3)) FROM generate_series(1, 5) g, generate_series(1, 40);
-- NaN and ±Infinity poison some groups, as in sum().
INSERT INTO tap_x SELECT 1 + floor(random() * 3000)::int, x
FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity', 'Infinity', '-Infinity']::numeric[]) x, generate_series(1, 10);
-- A row time per value: buckets 1..3 of 1-day periods before 2025-01-01, or outside them.
ALTER TABLE tap_x ADD COLUMN at timestamptz, ADD COLUMN bucket int;
UPDATE tap_x SET bucket = floor(random() * 4)::int + 1;
UPDATE tap_x SET at = timestamptz '2025-01-01' - (bucket - 1) * interval '1 day' - floor(random() * 86400) * interval '1 second';
ANALYZE tap_x;

SELECT ok((SELECT count(*) FROM tap_x) > 50000
          AND (SELECT count(*) FILTER (WHERE scale(x) >= 25) FROM tap_x) > 0
          AND (SELECT count(*) FILTER (WHERE abs(x) >= 1e38) FROM tap_x) > 0
          AND (SELECT count(*) FILTER (WHERE x <> 0 AND abs(x) < 1e-18) FROM tap_x) > 0
          AND (SELECT count(*) FROM (SELECT g FROM tap_x GROUP BY g HAVING abs(sum(x)) > 1.7e38 AND max(abs(x)) < 1e37 AND count(*) FILTER (WHERE x::text IN ('NaN', 'Infinity', '-Infinity')) = 0) s) > 0,
          'generated data covers huge, tiny, high-scale values and groups whose sum outgrows int128');

\set vm_candidate 'SELECT g, (m).monetary::text, numeric_send((m).monetary) FROM (SELECT g, custier.value_metrics(at, x) AS m FROM tap_x GROUP BY g) s ORDER BY g'
\set vm_baseline 'SELECT g, sum(x)::text, numeric_send(sum(x)) FROM tap_x GROUP BY g ORDER BY g'
\set pa_candidate 'SELECT g, a::text, array_send(a) FROM (SELECT g, custier.period_amounts(at, x, ''2025-01-01'', ''1 day'', 3) AS a FROM tap_x GROUP BY g) s ORDER BY g'
\set pa_baseline 'SELECT g, a::text, array_send(a) FROM (SELECT g, ARRAY[coalesce(sum(x) FILTER (WHERE bucket = 1), 0), coalesce(sum(x) FILTER (WHERE bucket = 2), 0), coalesce(sum(x) FILTER (WHERE bucket = 3), 0)] AS a FROM tap_x GROUP BY g) s ORDER BY g'
\set one_candidate 'SELECT (custier.value_metrics(at, x)).monetary::text, custier.period_amounts(at, x, ''2025-01-01'', ''1 day'', 3)::text FROM tap_x WHERE x::text NOT IN (''NaN'', ''Infinity'', ''-Infinity'')'
\set one_baseline 'SELECT sum(x)::text, ARRAY[coalesce(sum(x) FILTER (WHERE bucket = 1), 0), coalesce(sum(x) FILTER (WHERE bucket = 2), 0), coalesce(sum(x) FILTER (WHERE bucket = 3), 0)]::text FROM tap_x WHERE x::text NOT IN (''NaN'', ''Infinity'', ''-Infinity'')'

-- Serial, sorted and hashed.
SET LOCAL max_parallel_workers_per_gather = 0;
SET LOCAL enable_hashagg = off;
SELECT results_eq(:'vm_candidate', :'vm_baseline', 'value_metrics monetary = sum() byte for byte (serial, sorted)');
SELECT results_eq(:'pa_candidate', :'pa_baseline', 'period_amounts = sum() FILTER byte for byte (serial, sorted)');
SET LOCAL enable_hashagg = on;
SET LOCAL enable_sort = off;
SELECT results_eq(:'vm_candidate', :'vm_baseline', 'value_metrics monetary = sum() byte for byte (serial, hashed)');
SELECT results_eq(:'pa_candidate', :'pa_baseline', 'period_amounts = sum() FILTER byte for byte (serial, hashed)');
RESET enable_sort;
SELECT results_eq(:'one_candidate', :'one_baseline', 'one group over every finite value (serial)');

-- Partial aggregation per partition, finished by the combine functions.
CREATE TEMP TABLE tap_xp (g int, part int, x numeric, at timestamptz, bucket int) PARTITION BY LIST (part);
CREATE TEMP TABLE tap_xp0 PARTITION OF tap_xp FOR VALUES IN (0);
CREATE TEMP TABLE tap_xp1 PARTITION OF tap_xp FOR VALUES IN (1);
CREATE TEMP TABLE tap_xp2 PARTITION OF tap_xp FOR VALUES IN (2);
CREATE TEMP TABLE tap_xp3 PARTITION OF tap_xp FOR VALUES IN (3);
-- Partition by row, not by group, so every group is split across partitions.
INSERT INTO tap_xp SELECT g, (row_number() OVER ()) % 4, x, at, bucket FROM tap_x;
ANALYZE tap_xp;
SET LOCAL enable_partitionwise_aggregate = on;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP result := result || line || E'\n'; END LOOP;
    RETURN result;
END $$;
\set vmp_candidate 'SELECT g, (m).monetary::text, numeric_send((m).monetary) FROM (SELECT g, custier.value_metrics(at, x) AS m FROM tap_xp GROUP BY g) s ORDER BY g'
\set pap_candidate 'SELECT g, a::text, array_send(a) FROM (SELECT g, custier.period_amounts(at, x, ''2025-01-01'', ''1 day'', 3) AS a FROM tap_xp GROUP BY g) s ORDER BY g'
SELECT matches(pg_temp.plan_of(:'vmp_candidate'), 'Partial (Hash|Group)Aggregate', 'partitionwise plan has partial aggregates');
SELECT results_eq(:'vmp_candidate', :'vm_baseline', 'value_metrics monetary = sum() byte for byte (partial per partition + combine)');
SELECT results_eq(:'pap_candidate', :'pa_baseline', 'period_amounts = sum() FILTER byte for byte (partial per partition + combine)');

-- Parallel: partial states are serialized in the workers and deserialized.
CREATE TABLE tap_xpar AS SELECT * FROM tap_xp;
ANALYZE tap_xpar;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = off;
\set vmq_candidate 'SELECT g, (m).monetary::text, numeric_send((m).monetary) FROM (SELECT g, custier.value_metrics(at, x) AS m FROM tap_xpar GROUP BY g) s ORDER BY g'
\set paq_candidate 'SELECT g, a::text, array_send(a) FROM (SELECT g, custier.period_amounts(at, x, ''2025-01-01'', ''1 day'', 3) AS a FROM tap_xpar GROUP BY g) s ORDER BY g'
SELECT matches(pg_temp.plan_of(:'vmq_candidate'), 'Partial (Hash|Group)Aggregate', 'parallel plan has partial aggregates');
SELECT results_eq(:'vmq_candidate', :'vm_baseline', 'value_metrics monetary = sum() byte for byte (parallel)');
SELECT results_eq(:'paq_candidate', :'pa_baseline', 'period_amounts = sum() FILTER byte for byte (parallel)');
SELECT results_eq(replace(:'one_candidate', 'tap_x ', 'tap_xpar '), :'one_baseline', 'one group over every finite value (parallel: the workers'' overflow numerics are serialized)');
SELECT ok((SELECT count(*) FROM (SELECT 1 FROM tap_xpar WHERE x::text NOT IN ('NaN', 'Infinity', '-Infinity') GROUP BY bucket HAVING abs(sum(x)) > 1e40) s) > 0,
          'the one-group sums outgrow int128 (the overflow state is exercised)');

SELECT * FROM finish();
ROLLBACK;
