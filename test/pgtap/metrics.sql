-- pgTAP: every value-metric aggregate against a built-in SQL formulation on
-- 120k generated rows, serial and with parallel aggregation forced.
\ir setup.inc
-- Month buckets below cross the DST changes of this zone.
SET LOCAL TimeZone = 'Europe/Berlin';

SELECT plan(23);

-- 120k transactions of 4000 customers over two years: cents, whole amounts,
-- high-scale and huge amounts (beyond 64 bits), refunds, zeros, NULLs.
CREATE TABLE tap_tx AS
SELECT 1 + (h1 % 4000) AS customer_id,
       CASE WHEN i % 97 = 0 THEN NULL
            ELSE timestamptz '2025-01-01 00:00' - (h2 % (730 * 86400)) * interval '1 second' END AS at,
       CASE WHEN i % 89 = 0 THEN NULL
            WHEN i % 31 = 0 THEN -((h3 % 5000)::numeric / 100)::numeric(10, 2)
            WHEN i % 53 = 0 THEN 0
            WHEN i % 211 = 0 THEN (h3::numeric * 1000000000000000000000)
            WHEN i % 137 = 0 THEN h3::numeric / 7
            WHEN i % 5 = 0 THEN (h3 % 100)::numeric
            ELSE ((h3 % 100000 + 1)::numeric / 100)::numeric(10, 2) END AS amount,
       now() - (h2 % (40 * 86400)) * interval '1 second' AS opened,
       CASE WHEN i % 7 = 0 THEN NULL ELSE (h3 % (5 * 86400)) * interval '1 second' END AS took,
       CASE WHEN i % 101 = 0 THEN NULL ELSE (1 + h1 % 4) * interval '1 day' END AS allowed
FROM (SELECT i, hashint4(i) & 2147483647 AS h1, hashint4(i + 1000003) & 2147483647 AS h2,
             hashint4(i + 2000003) & 2147483647 AS h3
      FROM generate_series(1, 120000) i) g;
ANALYZE tap_tx;

\set vm_candidate 'SELECT customer_id, (m).purchases, (m).monetary::text, (m).first_purchase, (m).last_purchase, (m).avg_amount::text FROM (SELECT customer_id, custier.value_metrics(at, amount) AS m FROM tap_tx GROUP BY customer_id) s ORDER BY 1'
\set vm_baseline 'SELECT customer_id, count(*) FILTER (WHERE at IS NOT NULL AND amount > 0), coalesce(sum(amount) FILTER (WHERE at IS NOT NULL), 0)::text, min(at) FILTER (WHERE amount > 0), max(at) FILTER (WHERE amount > 0), (sum(amount) FILTER (WHERE at IS NOT NULL) / nullif(count(*) FILTER (WHERE at IS NOT NULL AND amount > 0), 0))::text FROM tap_tx GROUP BY customer_id ORDER BY 1'
\set pa_candidate 'SELECT customer_id, custier.period_amounts(at, amount, ''2025-01-01 00:00'', ''1 month'', 12)::text FROM tap_tx GROUP BY customer_id ORDER BY 1'
\set pc_candidate 'SELECT customer_id, custier.period_counts(at, amount, ''2025-01-01 00:00'', ''1 month'', 12)::text FROM tap_tx GROUP BY customer_id ORDER BY 1'
\set period_baseline 'WITH b AS (SELECT k, timestamptz ''2025-01-01 00:00'' - k * interval ''1 month'' AS lo, timestamptz ''2025-01-01 00:00'' - (k - 1) * interval ''1 month'' AS hi FROM generate_series(1, 12) k), c AS (SELECT DISTINCT customer_id FROM tap_tx), s AS (SELECT t.customer_id, b.k, sum(t.amount) AS total, count(*) FILTER (WHERE t.amount > 0) AS n FROM tap_tx t JOIN b ON t.at > b.lo AND t.at <= b.hi WHERE t.amount IS NOT NULL GROUP BY 1, 2) SELECT c.customer_id, '
\set pa_baseline :period_baseline 'array_agg(coalesce(s.total, 0) ORDER BY b.k)::text FROM c CROSS JOIN b LEFT JOIN s ON s.customer_id = c.customer_id AND s.k = b.k GROUP BY 1 ORDER BY 1'
\set pc_baseline :period_baseline 'array_agg(coalesce(s.n, 0)::int ORDER BY b.k)::text FROM c CROSS JOIN b LEFT JOIN s ON s.customer_id = c.customer_id AND s.k = b.k GROUP BY 1 ORDER BY 1'
\set rate_candidate 'SELECT customer_id, custier.share(amount > 100)::text, custier.on_time_rate(opened, opened + took, allowed)::text FROM tap_tx GROUP BY customer_id ORDER BY 1'
\set rate_baseline 'SELECT customer_id, ((100 * count(*) FILTER (WHERE amount > 100))::numeric / nullif(count(amount), 0))::text, ((100 * count(*) FILTER (WHERE allowed IS NOT NULL AND opened + took <= opened + allowed))::numeric / nullif(count(*) FILTER (WHERE allowed IS NOT NULL AND (took IS NOT NULL OR now() > opened + allowed)), 0))::text FROM tap_tx GROUP BY customer_id ORDER BY 1'

-- The data covers what it should.
SELECT ok((SELECT count(*) FROM tap_tx) >= 100000
          AND (SELECT count(*) FILTER (WHERE amount > 92233720368547758.07) FROM tap_tx) > 0
          AND (SELECT count(*) FILTER (WHERE amount < 0) FROM tap_tx) > 0
          AND (SELECT count(*) FILTER (WHERE scale(amount) > 10) FROM tap_tx) > 0
          AND (SELECT count(*) FILTER (WHERE took IS NULL AND now() <= opened + allowed) FROM tap_tx) > 0,
          'generated data: 100k+ rows with huge, high-scale, negative amounts and open tickets not yet due');

-- Serial.
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT results_eq(:'vm_candidate', :'vm_baseline', 'value_metrics = count/sum/min/max FILTER (serial; monetary and avg_amount equal as text)');
SELECT results_eq(:'pa_candidate', :'pa_baseline', 'period_amounts = per-month sums (serial, Europe/Berlin)');
SELECT results_eq(:'pc_candidate', :'pc_baseline', 'period_counts = per-month purchase counts (serial)');
SELECT results_eq(:'rate_candidate', :'rate_baseline', 'share and on_time_rate = their count FILTER formulas (serial)');

-- Parallel aggregation forced.
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL parallel_leader_participation = off;
SET LOCAL enable_hashagg = on;

CREATE FUNCTION pg_temp.plan_of(q text, run boolean DEFAULT false) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; result text := '';
BEGIN
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF%s) %s', CASE WHEN run THEN ', ANALYZE, TIMING OFF, SUMMARY OFF' ELSE '' END, q) LOOP
        result := result || line || E'\n';
    END LOOP;
    RETURN result;
END $$;

SELECT matches(pg_temp.plan_of(:'vm_candidate'), 'Partial (Hash|Group)Aggregate', 'value_metrics: the plan has a partial aggregate');
SELECT matches(pg_temp.plan_of(:'pa_candidate'), 'Partial (Hash|Group)Aggregate', 'period_amounts: the plan has a partial aggregate');
SELECT matches(pg_temp.plan_of(:'pc_candidate'), 'Partial (Hash|Group)Aggregate', 'period_counts: the plan has a partial aggregate');
SELECT matches(pg_temp.plan_of(:'rate_candidate'), 'Partial (Hash|Group)Aggregate', 'share/on_time_rate: the plan has a partial aggregate');
SELECT matches(pg_temp.plan_of(:'vm_candidate', true), 'Workers Launched: [12]', 'parallel workers really run');

SELECT results_eq(:'vm_candidate', :'vm_baseline', 'value_metrics = count/sum/min/max FILTER (parallel)');
SELECT results_eq(:'pa_candidate', :'pa_baseline', 'period_amounts = per-month sums (parallel)');
SELECT results_eq(:'pc_candidate', :'pc_baseline', 'period_counts = per-month purchase counts (parallel)');
SELECT results_eq(:'rate_candidate', :'rate_baseline', 'share and on_time_rate = their count FILTER formulas (parallel)');
-- One group over every row: each worker's state is serialized and combined
-- (the huge amounts make some period sums outgrow 64 bits).
SELECT results_eq('SELECT (custier.value_metrics(at, amount)).monetary::text, custier.period_amounts(at, amount, ''2025-01-01 00:00'', ''1 month'', 12)::text FROM tap_tx',
                  'SELECT sum(amount) FILTER (WHERE at IS NOT NULL)::text, (SELECT array_agg(coalesce((SELECT sum(t.amount) FROM tap_tx t WHERE t.at > timestamptz ''2025-01-01 00:00'' - k * interval ''1 month'' AND t.at <= timestamptz ''2025-01-01 00:00'' - (k - 1) * interval ''1 month''), 0) ORDER BY k) FROM generate_series(1, 12) k)::text FROM tap_tx',
                  'one group over every row, parallel: monetary and period_amounts = sum()');
RESET max_parallel_workers_per_gather;

-- as_of varying by customer: 40 distinct values, more than a call site
-- shares (16), so groups get shared and private parameters alike; hashed
-- and spilling (work_mem 64kB), then sorted.
\set pv_candidate 'SELECT customer_id, custier.period_amounts(at, amount, timestamptz ''2025-01-01 00:00'' - (customer_id % 40) * interval ''1 day 1 hour'', ''1 month'', 3)::text FROM tap_tx GROUP BY 1 ORDER BY 1'
\set pv_baseline 'SELECT customer_id, ARRAY[coalesce(sum(amount) FILTER (WHERE at > a - interval ''1 month'' AND at <= a), 0), coalesce(sum(amount) FILTER (WHERE at > a - interval ''2 months'' AND at <= a - interval ''1 month''), 0), coalesce(sum(amount) FILTER (WHERE at > a - interval ''3 months'' AND at <= a - interval ''2 months''), 0)]::text FROM (SELECT *, timestamptz ''2025-01-01 00:00'' - (customer_id % 40) * interval ''1 day 1 hour'' AS a FROM tap_tx) t GROUP BY 1 ORDER BY 1'
SET LOCAL work_mem = '64kB';
SELECT results_eq(:'pv_candidate', :'pv_baseline', 'period_amounts with as_of varying by customer = FILTERed sums (hashed, spilling)');
SET LOCAL enable_hashagg = off;
SELECT results_eq(:'pv_candidate', :'pv_baseline', 'period_amounts with as_of varying by customer = FILTERed sums (sorted)');
RESET enable_hashagg;
RESET work_mem;

-- Helpers agree with their SQL definitions on every generated customer.
CREATE TABLE tap_m AS SELECT customer_id, custier.value_metrics(at, amount) AS m FROM tap_tx GROUP BY customer_id;
SELECT is_empty($$SELECT customer_id FROM tap_m
    WHERE custier.recency(m, '2025-01-01') IS DISTINCT FROM timestamptz '2025-01-01' - (m).last_purchase
       OR custier.tenure(m, '2025-01-01') IS DISTINCT FROM timestamptz '2025-01-01' - (m).first_purchase
       OR NOT abs(custier.frequency(m, '2025-01-01', '1 month') -
                  CASE WHEN (m).purchases = 0 THEN 0
                       ELSE (m).purchases / greatest(1, extract(epoch FROM timestamptz '2025-01-01' - (m).first_purchase)
                                                        / extract(epoch FROM interval '1 month')) END) < 1e-12$$,
    'recency, tenure and frequency match their definitions (frequency to 12 decimals: the division rounds differently)');
SELECT is_empty($$SELECT customer_id FROM (SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00', '1 month', 12) AS a FROM tap_tx GROUP BY 1) s
    WHERE custier.growth(a) IS DISTINCT FROM ARRAY(SELECT custier.growth(a[i], a[i + 1]) FROM generate_series(1, 11) i ORDER BY i)$$,
    'growth(numeric[]) is growth of each element over the next');

-- Catalog facts.
SELECT is((SELECT string_agg(p.proname || ':' || p.proparallel::text || ':' || (a.aggcombinefn <> 0)::text || ':' || t.typtype::text, ',' ORDER BY p.proname)
           FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_type t ON t.oid = a.aggtranstype
           WHERE p.pronamespace = 'custier'::regnamespace AND t.typname LIKE '%state'),
          'on_time_rate:s:true:b,on_time_rate:s:true:b,period_amounts:s:true:b,period_counts:s:true:b,share:s:true:b,value_metrics:s:true:b',
          'every metrics aggregate is parallel safe with a combine function and a real (base, not pseudo) state type, as Citus needs');
SELECT is((SELECT string_agg(proname || ':' || provolatile::text, ',' ORDER BY proname) FROM pg_proc
           WHERE pronamespace = 'custier'::regnamespace AND proname LIKE '%transfn'),
          'deadline_rate_transfn:s,on_time_rate_transfn:s,period_amounts_transfn:s,period_counts_transfn:s,share_transfn:i,value_metrics_transfn:i',
          'transition functions: STABLE where they read now() or the TimeZone, else IMMUTABLE');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'custier'::regnamespace AND p.proname IN ('recency', 'tenure', 'frequency', 'growth')
      AND NOT (p.proisstrict AND p.provolatile = 'i' AND p.proparallel = 's')$$,
    'scalar helpers are STRICT IMMUTABLE PARALLEL SAFE');
SELECT is((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'custier.value_metrics'::regtype) AND attnum > 0),
          'purchases bigint, monetary numeric, first_purchase timestamp with time zone, last_purchase timestamp with time zone, avg_amount numeric',
          'custier.value_metrics has the contracted columns');

SELECT * FROM finish();
ROLLBACK;
