-- pgTAP acceptance: value-metric aggregates, checked black-box against
-- the documented contract (doc/reference.md). Every description says the
-- documented behaviour it checks.
\ir contract_setup.inc
SET LOCAL TimeZone = 'UTC';

SELECT plan(65);

-- agg(name): "kind parallel combine serial deserial" facts of custier.<name>.
CREATE FUNCTION pg_temp.agg(n text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s %s combine=%s serial=%s deserial=%s internal=%s', p.prokind, p.proparallel,
                             a.aggcombinefn <> 0, a.aggserialfn <> 0, a.aggdeserialfn <> 0, a.aggtranstype = 'internal'::regtype), ' | ')
    FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
    WHERE p.pronamespace = 'custier'::regnamespace AND p.proname = n $$;

-- The composite type
SELECT has_type('custier', 'value_metrics', 'composite custier.value_metrics exists');
SELECT is((SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
           FROM pg_attribute WHERE attrelid = (SELECT typrelid FROM pg_type WHERE oid = 'custier.value_metrics'::regtype)
             AND attnum > 0 AND NOT attisdropped),
          'purchases bigint, monetary numeric, first_purchase timestamp with time zone, last_purchase timestamp with time zone, avg_amount numeric',
          'value_metrics is (purchases bigint, monetary numeric, first_purchase timestamptz, last_purchase timestamptz, avg_amount numeric)');

-- Signatures
SELECT is(pg_temp.sig('value_metrics'), 'at timestamp with time zone, amount numeric -> value_metrics',
          '"custier.value_metrics(at timestamptz, amount numeric)" returns composite custier.value_metrics');
SELECT is(pg_temp.sig('period_amounts'),
          'at timestamp with time zone, amount numeric, as_of timestamp with time zone, period interval, periods integer -> numeric[]',
          '"custier.period_amounts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods int)" → numeric[]');
SELECT is(pg_temp.sig('period_counts'),
          'at timestamp with time zone, amount numeric, as_of timestamp with time zone, period interval, periods integer -> integer[]',
          '"custier.period_counts(at, amount, as_of, period, periods)" → int[]');
SELECT is(pg_temp.sig('share'), 'condition boolean -> numeric', '"custier.share(condition boolean)" → numeric');
-- (§10 adds the overload on_time_rate(resolved, deadline).)
SELECT is(pg_temp.sig('on_time_rate'),
          'opened timestamp with time zone, resolved timestamp with time zone, allowed interval -> numeric | resolved timestamp with time zone, deadline timestamp with time zone -> numeric',
          '"custier.on_time_rate(opened timestamptz, resolved timestamptz, allowed interval)" → numeric');
SELECT is(pg_temp.sig('recency'), 'm value_metrics, as_of timestamp with time zone -> interval',
          '"custier.recency(m custier.value_metrics, as_of timestamptz) → interval"');
SELECT is(pg_temp.sig('tenure'), 'm value_metrics, as_of timestamp with time zone -> interval',
          '"custier.tenure(m custier.value_metrics, as_of timestamptz) → interval"');
SELECT is(pg_temp.sig('frequency'), 'm value_metrics, as_of timestamp with time zone, per interval -> numeric',
          '"custier.frequency(m custier.value_metrics, as_of timestamptz, per interval) → numeric"');
SELECT is(pg_temp.sig('growth'), 'amounts numeric[] -> numeric[] | current numeric, previous numeric -> numeric',
          '"custier.growth(current numeric, previous numeric) → numeric" and "custier.growth(amounts numeric[]) → numeric[]"');

-- Aggregates: parallel safe, combine (+ serialize/deserialize when the state is internal)
SELECT ok((SELECT bool_and(x ~ '^a s combine=t (serial=t deserial=t internal=t|serial=f deserial=f internal=f)( \| a s combine=t (serial=t deserial=t internal=t|serial=f deserial=f internal=f))*$')
           FROM unnest(ARRAY[pg_temp.agg('value_metrics'), pg_temp.agg('period_amounts'), pg_temp.agg('period_counts'),
                             pg_temp.agg('share'), pg_temp.agg('on_time_rate')]) x),
          '"All are C aggregates, PARALLEL SAFE, with combine functions (and serialize/deserialize where the state is internal)"');
SELECT is_empty($$SELECT p.oid FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid JOIN pg_proc t ON t.oid = a.aggtransfn
                  WHERE p.pronamespace = 'custier'::regnamespace AND p.proname IN ('value_metrics', 'period_amounts', 'period_counts', 'share', 'on_time_rate')
                    AND t.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')$$,
                '"All are C aggregates" (transition functions in C)');
-- Helpers: STRICT, IMMUTABLE
SELECT is((SELECT string_agg(DISTINCT proname || ':' || proisstrict::int || provolatile::text, ',')
           FROM pg_proc WHERE pronamespace = 'custier'::regnamespace AND proname IN ('recency', 'tenure', 'frequency', 'growth')),
          'frequency:1i,growth:1i,recency:1i,tenure:1i', 'scalar helpers are "STRICT, IMMUTABLE"');

-- value_metrics
CREATE TEMP TABLE buy (cust int, at timestamptz, amount numeric);
INSERT INTO buy VALUES
    (1, '2024-01-10 09:00+00', 100.00), (1, '2024-03-05 12:00+00', 50.50), (1, '2024-03-20 08:00+00', -20.25),
    (1, '2024-06-30 18:00+00', 0), (1, NULL, 999), (1, '2024-07-01', NULL),
    (2, '2024-02-01', -10), (2, '2024-02-02', -5.5),
    (3, NULL, NULL);
CREATE TEMP TABLE vm AS SELECT cust, custier.value_metrics(at, amount) AS m FROM buy GROUP BY cust;
SELECT is((SELECT (m).purchases FROM vm WHERE cust = 1), 2::bigint, 'purchases = "rows with amount > 0" (refund, 0 and NULL rows not counted)');
SELECT is((SELECT (m).monetary FROM vm WHERE cust = 1), 130.25, 'monetary = "sum of all amounts, refunds included"; NULL rows skipped');
SELECT is((SELECT (m).first_purchase FROM vm WHERE cust = 1), '2024-01-10 09:00+00'::timestamptz, 'first_purchase of the rows with amount > 0');
SELECT is((SELECT (m).last_purchase FROM vm WHERE cust = 1), '2024-03-05 12:00+00'::timestamptz,
          'last_purchase "of the rows with amount > 0" (a later refund or zero row does not move it)');
SELECT is((SELECT (m).avg_amount FROM vm WHERE cust = 1), 65.125, 'avg_amount = monetary / purchases');
SELECT is((SELECT (m).purchases FROM vm WHERE cust = 2), 0::bigint, '"A negative amount is a refund: … never counts as a purchase"');
SELECT is((SELECT (m).monetary FROM vm WHERE cust = 2), -15.5, '"A negative amount … lowers the monetary total"');
SELECT is((SELECT (m).avg_amount FROM vm WHERE cust = 2), NULL, 'avg_amount "NULL when none"');
SELECT ok((SELECT (m).first_purchase IS NULL AND (m).last_purchase IS NULL FROM vm WHERE cust = 2),
          'first/last purchase are NULL without a row with amount > 0');
SELECT ok((SELECT coalesce((m).purchases, 0) = 0 AND coalesce((m).monetary, 0) = 0 FROM vm WHERE cust = 3),
          '"Rows whose arguments are NULL are skipped" (a group of only NULL rows counts nothing)');
SELECT is((SELECT (custier.value_metrics(now(), a)).monetary FROM (SELECT 0.1::numeric a FROM generate_series(1, 10)) s), 1.0,
          '"summed exactly: never through float" (ten times 0.1 is exactly 1.0)');
SELECT is((SELECT (custier.value_metrics(now(), a)).monetary
           FROM (VALUES (12345678901234567890123.000000001), (1::numeric), (-0.000000001)) v(a)),
          12345678901234567890124.000000000, 'amounts are numeric and summed exactly (large values)');
-- a parallel plan gives the same result (combine/serialize)
CREATE TABLE contract_metrics_purchase AS
SELECT i % 500 AS cust, '2024-01-01'::timestamptz + (i % 400) * interval '1 day' + (i % 7) * interval '1 hour' AS at,
       ((i * 7919) % 20000 - 2000) / 100.0 AS amount
FROM generate_series(1, 60000) i;
ANALYZE contract_metrics_purchase;
CREATE TEMP TABLE serial_res AS
SELECT custier.value_metrics(at, amount)::text AS vm,
       custier.period_amounts(at, amount, '2025-01-01', '1 month', 14)::text AS pa,
       custier.period_counts(at, amount, '2025-01-01', '1 month', 14)::text AS pc,
       custier.share(amount > 50)::text AS sh
FROM contract_metrics_purchase;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
SELECT matches(pg_temp.plan($$SELECT custier.value_metrics(at, amount), custier.period_amounts(at, amount, '2025-01-01', '1 month', 14),
                                     custier.period_counts(at, amount, '2025-01-01', '1 month', 14), custier.share(amount > 50)
                              FROM contract_metrics_purchase$$), 'Partial Aggregate',
               '"so that parallel query … can split them" (a partial aggregate plan is chosen)');
SELECT results_eq($$SELECT custier.value_metrics(at, amount)::text, custier.period_amounts(at, amount, '2025-01-01', '1 month', 14)::text,
                           custier.period_counts(at, amount, '2025-01-01', '1 month', 14)::text, custier.share(amount > 50)::text
                    FROM contract_metrics_purchase$$,
                  $$SELECT vm, pa, pc, sh FROM serial_res$$,
                  'parallel (split) aggregation gives the same results as serial');
RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather; RESET parallel_leader_participation;
SELECT is((SELECT vm FROM serial_res),
          (SELECT format('(%s,%s,"%s","%s",%s)', count(*) FILTER (WHERE amount > 0), sum(amount),
                         min(at) FILTER (WHERE amount > 0), max(at) FILTER (WHERE amount > 0),
                         sum(amount) / nullif(count(*) FILTER (WHERE amount > 0), 0))
           FROM contract_metrics_purchase),
          'value_metrics equals count/sum/min/max over 60k rows');

-- period_amounts / period_counts: bucket edges
CREATE TEMP TABLE pbuy (at timestamptz, amount numeric);
INSERT INTO pbuy VALUES
    ('2024-03-31 00:00+00', 1.5),              -- = as_of: element 1 (upper bound inclusive)
    ('2024-03-30 23:59:59+00', 2),             -- element 1
    ('2024-03-01 00:00+00', -0.5),             -- element 1, a refund
    ('2024-02-29 00:00:00.000001+00', 8),      -- just after as_of - 1 month: element 1
    ('2024-02-29 00:00+00', 4),                -- = as_of - 1 month: element 2 (lower bound exclusive)
    ('2024-01-31 00:00+00', -3),               -- = as_of - 2 months: element 3
    ('2023-12-31 00:00+00', 16),               -- = as_of - 3 months: outside every period
    ('2024-03-31 00:00:00.000001+00', 32),     -- after as_of: ignored
    (NULL, 64), ('2024-03-15', NULL);          -- NULL rows skipped
SELECT is((SELECT custier.period_amounts(at, amount, '2024-03-31 00:00+00', '1 month', 3) FROM pbuy), '{11.0,4,-3}'::numeric[],
          'period_amounts: element 1 sums "as_of - period < at <= as_of", element 2 the period before; rows outside ignored; NULLs skipped');
SELECT is((SELECT custier.period_counts(at, amount, '2024-03-31 00:00+00', '1 month', 3) FROM pbuy), '{3,1,0}'::int[],
          'period_counts: "the same buckets, counting purchases (amount > 0)"');
SELECT is((SELECT custier.period_amounts(at, amount, '2024-03-31 00:00+00', '1 month', 5) FROM pbuy), '{11.0,4,-3,16,0}'::numeric[],
          '"numeric[] of length periods"; "a period with no rows is 0" (element 4 holds the row at as_of - 3 months)');
SELECT is((SELECT array_length(custier.period_amounts(at, amount, '2024-03-31', '1 day', 1000), 1) FROM pbuy), 1000,
          'periods = 1000 is accepted and gives 1000 elements');
SELECT is((SELECT custier.period_amounts(at, amount, '2024-03-31 00:00+00', '1 day', 1) FROM pbuy), '{3.5}'::numeric[],
          'periods = 1 is accepted');
SELECT is((SELECT custier.period_counts(at, amount, '2024-03-31 00:00+00', '1 month', 5) FROM pbuy), '{3,1,0,1,0}'::int[],
          'period_counts: empty periods count 0');
SELECT is(pg_temp.err($$SELECT custier.period_amounts(at, amount, '2024-03-31', '1 month', 0) FROM pbuy$$)->>'state', '22023',
          '"periods between 1 and 1000" (0 raises an error)');
SELECT is(pg_temp.err($$SELECT custier.period_amounts(at, amount, '2024-03-31', '1 month', 1001) FROM pbuy$$)->>'state', '22023',
          '"periods between 1 and 1000" (1001 raises an error)');
SELECT matches(pg_temp.err($$SELECT custier.period_counts(at, amount, '2024-03-31', '1 month', 1001) FROM pbuy$$)->>'message', '1001',
               'the periods error "names the offending value"');
SELECT is(pg_temp.err($$SELECT custier.period_amounts(at, amount, '2024-03-31', '0 days', 3) FROM pbuy$$)->>'state', '22023',
          '"period must be positive" (0 raises an error)');
SELECT is(pg_temp.err($$SELECT custier.period_counts(at, amount, '2024-03-31', '-1 month', 3) FROM pbuy$$)->>'state', '22023',
          '"period must be positive" (negative raises an error)');
SELECT is(pg_temp.err($$SELECT custier.period_amounts(at, amount, '2024-03-31'::timestamptz - (amount > 5)::int * interval '1 day', '1 month', 3)
                          FROM pbuy WHERE at IS NOT NULL AND amount IS NOT NULL$$)->>'state', '22023',
            '"as_of … must be the same on every row of a group (a different one raises an error)"');
SELECT is(pg_temp.err($$SELECT custier.period_amounts(at, amount, '2024-03-31', CASE WHEN amount > 5 THEN interval '1 month' ELSE interval '2 months' END, 3)
                          FROM pbuy WHERE at IS NOT NULL AND amount IS NOT NULL$$)->>'state', '22023',
            'period must be the same on every row of a group');
SELECT is(pg_temp.err($$SELECT custier.period_counts(at, amount, '2024-03-31', '1 month', CASE WHEN amount > 5 THEN 3 ELSE 4 END)
                          FROM pbuy WHERE at IS NOT NULL AND amount IS NOT NULL$$)->>'state', '22023',
            'periods must be the same on every row of a group');
SELECT is((SELECT string_agg(g::text || '=' || pa::text, ',' ORDER BY g)
           FROM (SELECT g, custier.period_amounts(at, amount, as_of, '1 month', 2) AS pa
                 FROM (VALUES (1, '2024-03-15 00:00+00'::timestamptz, 5::numeric, '2024-03-31 00:00+00'::timestamptz),
                              (2, '2024-03-15 00:00+00', 7, '2024-04-30 00:00+00')) v(g, at, amount, as_of) GROUP BY g) s),
          '1={5,0},2={0,7}', 'as_of must be the same "on every row of a group" — different groups may use different as_of');

-- share
SELECT is((SELECT custier.share(score >= 4) FROM (VALUES (5), (4), (3), (NULL)) v(score))::numeric(10, 6), 66.666667::numeric(10, 6),
          'share = "percentage (0–100) of non-NULL rows where the condition is true"');
SELECT is((SELECT custier.share(c) FROM (VALUES (true), (true)) v(c)), 100::numeric, 'share is a percentage: all true is 100');
SELECT is((SELECT custier.share(c) FROM (VALUES (false), (NULL::boolean)) v(c)), 0::numeric, 'share: none true is 0');
SELECT is((SELECT custier.share(c) FROM (VALUES (true)) v(c) WHERE false), NULL, 'share "NULL over no rows"');

-- on_time_rate
SELECT is((SELECT custier.on_time_rate(opened, resolved, '2 days')::numeric(10, 6)
           FROM (VALUES (now() - interval '10 days', now() - interval '9 days'),     -- on time
                        (now() - interval '10 days', now() - interval '7 days'),     -- late
                        (now() - interval '10 days', NULL),                          -- open and overdue: late
                        (now() - interval '1 hour', NULL)) v(opened, resolved)),     -- open, still has time: left out
          33.333333::numeric(10, 6),
          'on_time_rate: resolved within allowed is on time; unresolved counts late once allowed has passed, left out while it has time');
SELECT is((SELECT custier.on_time_rate(opened, resolved, '1 day')
           FROM (VALUES ('2024-01-01 00:00+00'::timestamptz, '2024-01-02 00:00+00'::timestamptz)) v(opened, resolved)),
          100::numeric, 'on_time_rate: resolved exactly at opened + allowed is "within allowed"');
SELECT is((SELECT custier.on_time_rate(opened, resolved, '1 day')
           FROM (VALUES (now() - interval '1 hour', NULL::timestamptz)) v(opened, resolved)),
          NULL, 'on_time_rate: only tickets that still have time: none counted (NULL)');

-- helpers
CREATE TEMP TABLE hm AS
SELECT custier.value_metrics(at, amount) AS m
FROM (VALUES ('2024-01-10 09:00+00'::timestamptz, 100.00), ('2024-03-05 12:00+00', 50.50)) v(at, amount);
SELECT is((SELECT custier.recency(m, '2024-07-01 00:00+00') FROM hm), '2024-07-01 00:00+00'::timestamptz - '2024-03-05 12:00+00'::timestamptz,
          'recency = "as_of - last_purchase"');
SELECT is((SELECT custier.tenure(m, '2024-07-01 00:00+00') FROM hm), '2024-07-01 00:00+00'::timestamptz - '2024-01-10 09:00+00'::timestamptz,
          'tenure = "as_of - first_purchase"');
SELECT is((SELECT custier.frequency(m, '2024-01-20 09:00+00', '1 month') FROM hm)::numeric(20, 10), 2::numeric(20, 10),
          'frequency: "a span shorter than per counts as one per" (2 purchases in 10 days, per month = 2)');
SELECT is((SELECT custier.frequency(m, '2024-01-30 09:00+00', '1 day') FROM hm)::numeric(20, 10), 0.1::numeric(20, 10),
          'frequency = purchases per per over first_purchase .. as_of (2 in 20 days per day = 0.1)');
SELECT is((SELECT custier.frequency(m, '2024-02-09 09:00+00', '1 day') FROM hm)::numeric(20, 10), (2 / 30.0)::numeric(20, 10),
          'frequency over 30 days per day = 2/30');
SELECT ok(custier.recency(NULL, now()) IS NULL AND custier.tenure((SELECT m FROM hm), NULL) IS NULL
          AND custier.frequency((SELECT m FROM hm), now(), NULL) IS NULL, 'helpers are STRICT (NULL in, NULL out)');
SELECT is(custier.growth(120, 100), 20::numeric, 'growth = (current - previous) / previous × 100');
SELECT is(custier.growth(50, 200), -75::numeric, 'growth can be negative');
SELECT is(custier.growth(5, 0), NULL, 'growth "NULL when previous is 0"');
SELECT is(custier.growth('{120,100,0,50}'::numeric[]), ARRAY[20, NULL, -100]::numeric[],
          'growth(amounts numeric[]): "period-over-period growth … newest first, one element shorter"');
SELECT is(array_length(custier.growth('{1,2}'::numeric[]), 1), 1, 'growth(numeric[]) is one element shorter');
SELECT is(cardinality(custier.growth('{7}'::numeric[])), 0, 'growth of a one-period result is empty (one element shorter)');
SELECT is((SELECT custier.share(c) FROM (VALUES (NULL::boolean), (NULL)) v(c)), NULL, 'share over no non-NULL rows is NULL');
SELECT is((SELECT custier.period_counts(at, amount, '2024-03-31 00:00+00', '1 month', 2)
           FROM (VALUES ('2024-03-10 00:00+00'::timestamptz, 5::numeric), ('2024-03-11 00:00+00', 0), ('2024-03-12 00:00+00', -1)) v(at, amount)),
          '{1,0}'::int[], 'period_counts counts only amount > 0 (zero and refunds are not purchases)');

SELECT * FROM finish();
ROLLBACK;
