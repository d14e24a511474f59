-- metrics: value-metric aggregates and helpers (see doc/reference.md).  Small hand-checked cases.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
\set VERBOSITY terse

CREATE TABLE metrics_tx (customer text, at timestamptz, amount numeric);
INSERT INTO metrics_tx VALUES
    ('alice', '2024-01-10 09:00', 100.00),
    ('alice', '2024-03-05 12:00', 50.50),
    ('alice', '2024-03-20 08:00', -20.25),   -- refund: lowers monetary, not a purchase
    ('alice', '2024-06-30 18:00', 0),        -- zero: not a purchase
    ('alice', NULL, 999),                    -- NULL at: skipped
    ('bob',   '2024-02-01 00:00', 10),
    ('bob',   '2024-02-02 00:00', NULL),     -- NULL amount: skipped
    ('carol', '2024-05-01 00:00', -5),       -- only a refund
    ('dave',  NULL, NULL);                   -- nothing usable

-- value_metrics: purchases (amount > 0), monetary (all), first/last purchase, avg = monetary / purchases.
-- alice: 2 purchases, 100.00 + 50.50 - 20.25 + 0 = 130.25, avg 65.125
SELECT customer, (value_metrics(at, amount)).* FROM metrics_tx GROUP BY customer ORDER BY customer;
-- Over no rows: 0 purchases, monetary 0, the rest NULL.
SELECT (value_metrics(at, amount)).* FROM metrics_tx WHERE false;

-- Exact sums: huge values, many decimals, and values that need the numeric fallback.
SELECT (value_metrics(now(), x)).monetary, sum(x) AS "sum()", (value_metrics(now(), x)).monetary = sum(x) AS same
FROM (VALUES (12345678901234567890123456789.123456789), (99999999999999999999999999999999999999999),
             (0.00000000000000000000000000000000000000001), (-1)) v(x);
SELECT (value_metrics(now(), x)).monetary FROM (VALUES (0.1), (0.20), (-0.30)) v(x);   -- 0.00: scale kept
SELECT (value_metrics(now(), x)).monetary, sum(x) FROM (VALUES (9223372036854775807), (9223372036854775807), (1.5)) v(x);
SELECT (value_metrics(now(), x)).monetary, sum(x) FROM (SELECT 99999999999999999999.9999999999999999 FROM generate_series(1, 1000)) v(x);   -- int128 overflow: exact
-- 39 digits whose leading 38 fit in int128 but not the whole: the numeric fallback, not a wrapped integer.
SELECT (value_metrics(now(), x)).monetary, period_amounts('2024-01-01', x, '2024-01-01', '1 day', 1) FROM (VALUES (170141183460469231731687303715884109999)) v(x);
SELECT (value_metrics(now(), x)).monetary, period_amounts('2024-01-01', x, '2024-01-01', '1 day', 1) FROM (VALUES (-1701411834604692317316873037158841099990000)) v(x);

-- NaN and ±Infinity follow sum(numeric) and numeric ordering (NaN and +Infinity are > 0, so they count as purchases).
SELECT (value_metrics('2024-01-01', x)).* FROM (VALUES ('NaN'::numeric), (5)) v(x);
SELECT (value_metrics('2024-01-01', x)).* FROM (VALUES ('Infinity'::numeric), (5)) v(x);
SELECT (value_metrics('2024-01-01', x)).* FROM (VALUES ('-Infinity'::numeric), (5)) v(x);
SELECT (value_metrics(now(), x)).monetary FROM (VALUES ('Infinity'::numeric), ('-Infinity')) v(x);
-- Infinite timestamps are ordinary extremes for first/last purchase.
SELECT (value_metrics(t, 1)).first_purchase, (value_metrics(t, 1)).last_purchase
FROM (VALUES ('-infinity'::timestamptz), ('2024-01-01'), ('infinity')) v(t);

-- period_amounts / period_counts: element k covers as_of - k*period < at <= as_of - (k-1)*period.
CREATE TABLE metrics_buckets (at timestamptz, amount numeric);
INSERT INTO metrics_buckets VALUES
    ('2024-03-31 00:00', 1.5),     -- = as_of: period 1 (upper bound inclusive)
    ('2024-03-30 23:59:59', 2),    -- period 1
    ('2024-02-29 00:00', 4),       -- = as_of - 1 month: period 2 (lower bound exclusive for period 1)
    ('2024-02-29 00:00:00.000001', 8), -- just after: period 1
    ('2024-01-31 00:00', -3),      -- = as_of - 2 months: period 3; a refund
    ('2023-12-31 00:00', 16),      -- = as_of - 3 months: outside 3 periods
    ('2024-03-31 00:00:00.000001', 32), -- after as_of: outside
    ('2024-03-15 00:00', NULL);    -- NULL amount: skipped
SELECT period_amounts(at, amount, '2024-03-31 00:00', '1 month', 3) AS amounts,
       period_counts(at, amount, '2024-03-31 00:00', '1 month', 3) AS counts
FROM metrics_buckets;
-- as_of - k*period, not repeated subtraction: 2024-03-31 - 2 months is 2024-01-31 (not 2024-01-29).
SELECT period_amounts(at, amount, '2024-03-31 00:00', '1 month', 4),
       period_amounts(at, amount, '2024-03-31 00:00', '1 month', 1)
FROM metrics_buckets;
-- A period with no rows is 0; over no rows at all the result is NULL (its length is unknown).
SELECT period_amounts(at, amount, '2030-01-01', '1 day', 2), period_counts(at, amount, '2030-01-01', '1 day', 2) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', '1 day', 2) IS NULL AS amounts_null,
       period_counts(at, amount, '2024-03-31', '1 day', 2) IS NULL AS counts_null FROM metrics_buckets WHERE false;
-- Per group (here: per customer), with the parameters constant in every group.
SELECT customer, period_amounts(at, amount, '2024-06-30 18:00', '3 months', 2), period_counts(at, amount, '2024-06-30 18:00', '3 months', 2)
FROM metrics_tx GROUP BY customer ORDER BY customer;

-- Month buckets across a DST change in a non-UTC zone: 2024-03-10 02:00 America/New_York springs forward.
SET TimeZone = 'America/New_York';
CREATE TABLE metrics_dst (at timestamptz, amount numeric);
INSERT INTO metrics_dst VALUES
    ('2024-04-10 00:00', 1),       -- = as_of: period 1
    ('2024-03-10 00:00', 2),       -- = as_of - 1 month (local midnight, EST): period 2
    ('2024-03-10 00:00:01', 4),    -- period 1
    ('2024-03-10 03:30', 8),       -- after the jump: period 1
    ('2024-02-10 00:00', 16),      -- = as_of - 2 months: period 3
    ('2024-02-09 23:59:59', 32);   -- period 3
SELECT k, timestamptz '2024-04-10 00:00' - k * interval '1 month' AS boundary FROM generate_series(0, 3) k;
SELECT period_amounts(at, amount, '2024-04-10 00:00', '1 month', 3),
       period_counts(at, amount, '2024-04-10 00:00', '1 month', 3) FROM metrics_dst;
-- Daily buckets across the change are calendar days: 2024-03-10 is 23 hours long.
SELECT period_amounts(at, amount, '2024-03-11 00:00', '1 day', 2) FROM metrics_dst;
-- The same instants in UTC fall into different buckets.
SET TimeZone = 'UTC';
SELECT period_amounts(at, amount, '2024-04-10 04:00', '1 month', 3) FROM metrics_dst;
DROP TABLE metrics_dst;

-- Infinite as_of: every boundary is infinite, so no row is inside a period.
SELECT period_amounts(at, amount, 'infinity', '1 month', 2) FROM metrics_buckets;

-- Errors: parameters varying in a group, period not positive, periods out of 1..1000.
SELECT period_amounts(at, amount, at, '1 month', 3) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', CASE WHEN amount > 3 THEN interval '1 month' ELSE interval '30 days' END, 3) FROM metrics_buckets;
SELECT period_counts(at, amount, '2024-03-31', '1 month', CASE WHEN amount > 3 THEN 3 ELSE 4 END) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', '0 days', 3) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', '-1 month', 3) FROM metrics_buckets;
SELECT period_counts(at, amount, '2024-03-31', '1 month -1 day', 3) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', '1 month', 0) FROM metrics_buckets;
SELECT period_counts(at, amount, '2024-03-31', '1 month', 1001) FROM metrics_buckets;
SELECT array_length(period_counts(at, amount, '2024-03-31', '1 day', 1000), 1) FROM metrics_buckets;
SELECT period_amounts(at, amount, '2024-03-31', '1000000 years', 1000) FROM metrics_buckets;
-- A bad parameter on a row that is skipped (NULL amount) is not looked at.
SELECT period_amounts(at, amount, '2024-03-31', CASE WHEN amount IS NULL THEN interval '-1 day' ELSE interval '1 month' END, 1) FROM metrics_buckets;

-- share: percentage of non-NULL rows where the condition is true.
SELECT share(score >= 4) AS satisfaction, share(score >= 6) AS none, share(NULL::boolean) AS no_rows
FROM (VALUES (5), (4), (3), (NULL)) v(score);
SELECT share(x) FROM (VALUES (true), (true), (false)) v(x);

-- on_time_rate: resolved within allowed of opened; an open ticket is late once overdue at now().
SELECT on_time_rate(opened, resolved, allowed) AS rate, count(*)
FROM (VALUES (now() - interval '10 days', now() - interval '9 days', interval '2 days'),      -- on time
             (now() - interval '10 days', now() - interval '7 days', interval '2 days'),      -- late
             (now() - interval '10 days', now() - interval '8 days', interval '2 days'),      -- exactly at the deadline: on time
             (now() - interval '10 days', NULL, interval '2 days'),                           -- open and overdue: late
             (now() - interval '1 hour', NULL, interval '2 days'),                            -- open, still has time: left out
             (NULL, now(), interval '1 day'),                                                 -- no opened: skipped
             (now(), now(), NULL)) v(opened, resolved, allowed);                              -- no allowance: skipped
SELECT on_time_rate(opened, NULL, '1 day') AS nothing_due FROM (VALUES (now())) v(opened);
-- Calendar arithmetic in the session TimeZone: '1 day' from 2024-03-09 12:00 New York is 23 hours.
SET TimeZone = 'America/New_York';
SELECT on_time_rate('2024-03-09 12:00', '2024-03-10 12:00', '1 day') AS at_deadline,
       on_time_rate('2024-03-09 12:00', '2024-03-10 12:30', '1 day') AS after_one_day,
       on_time_rate('2024-03-09 12:00', '2024-03-10 12:30', '24 hours') AS within_24_hours;
SET TimeZone = 'UTC';

-- Scalar helpers.
CREATE TABLE metrics_m AS SELECT customer, value_metrics(at, amount) AS m FROM metrics_tx GROUP BY customer;
SELECT customer, recency(m, '2024-07-01') AS recency, tenure(m, '2024-07-01') AS tenure,
       frequency(m, '2024-07-01', '1 month') AS per_month, frequency(m, '2024-07-01', '1 year') AS per_year
FROM metrics_m ORDER BY customer;
SELECT frequency(m, '2024-01-11 09:00', '1 day') AS span_equals_per, frequency(m, '2024-01-10 12:00', '1 day') AS span_shorter,
       frequency(m, '2024-01-12 09:00', '1 day') AS two_days
FROM metrics_m WHERE customer = 'alice';
SELECT recency(NULL, now()) IS NULL AS strict_recency, frequency(m, NULL, '1 day') IS NULL AS strict_frequency
FROM metrics_m WHERE customer = 'bob';
SELECT frequency(m, '2024-07-01', '0 days') FROM metrics_m WHERE customer = 'bob';
SELECT frequency(m, 'infinity', '1 day') FROM metrics_m WHERE customer = 'bob';
SELECT recency(m, 'infinity') FROM metrics_m WHERE customer = 'bob';

SELECT growth(120, 100) AS up, growth(80, 100) AS down, growth(5, 0) AS from_zero, growth(5, 0.00) AS from_zero_scaled,
       growth(0, 3) AS to_zero, growth(1, 3) AS third;
SELECT growth('{120, 100, 0, 50}'::numeric[]) AS growth, growth('{7}'::numeric[]) AS one, growth('{}'::numeric[]) AS empty,
       growth('{1, NULL, 2}'::numeric[]) AS with_null;
SELECT growth(period_amounts(at, amount, '2024-03-31 00:00', '1 month', 3)) FROM metrics_buckets;
SELECT growth('{{1, 2}, {3, 4}}'::numeric[]);

-- Aggregate protocol: as window aggregates (the final functions leave the state
-- as it was, so a growing frame reuses it; a sliding frame re-aggregates), with
-- ORDER BY and DISTINCT inside the call; every row checked against sum().
CREATE TABLE metrics_w (c int, at timestamptz, amount numeric);
INSERT INTO metrics_w SELECT g % 3, timestamptz '2024-01-01' + g * interval '1 day', (g - 5) * 1.5 FROM generate_series(1, 12) g;
INSERT INTO metrics_w VALUES (0, '2024-02-01', 99999999999999999999999999999999999999999);   -- numeric fallback inside a frame
SELECT c, at, (w.m).monetary, (w.m).purchases, w.pa, w.pa2, w.s
FROM (SELECT c, at, amount,
             value_metrics(at, amount) OVER (PARTITION BY c ORDER BY at) AS m,
             sum(amount) OVER (PARTITION BY c ORDER BY at) AS total,
             count(*) FILTER (WHERE amount > 0) OVER (PARTITION BY c ORDER BY at) AS n,
             period_amounts(at, amount, '2024-01-13', '4 days', 3) OVER (PARTITION BY c ORDER BY at) AS pa,
             period_amounts(at, amount, '2024-01-13', '4 days', 3) OVER (PARTITION BY c ORDER BY at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS pa2,
             share(amount > 0) OVER (ORDER BY at ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s
      FROM metrics_w) w
WHERE (w.m).monetary IS DISTINCT FROM w.total OR (w.m).purchases <> w.n;   -- no row: monetary = sum() in every frame
SELECT c, at, (value_metrics(at, amount) OVER w).monetary AS monetary,
       period_amounts(at, amount, '2024-01-13', '4 days', 3) OVER w AS amounts,
       share(amount > 0) OVER (ORDER BY at ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS share_of_3
FROM metrics_w WINDOW w AS (PARTITION BY c ORDER BY at ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY c, at;
SELECT (value_metrics(at, amount ORDER BY at DESC)).monetary = sum(amount) AS ordered_same,
       period_amounts(DISTINCT at, amount, '2024-01-13', '4 days', 3) AS distinct_rows,
       period_counts(at, amount, '2024-01-13', '4 days', 3 ORDER BY amount) AS ordered_counts
FROM metrics_w;
SELECT value_metrics(at, amount) WITHIN GROUP (ORDER BY at) FROM metrics_w;   -- not an ordered-set aggregate
DROP TABLE metrics_w;

-- Different as_of per group in one statement: each group's boundaries are its own.
CREATE TABLE metrics_g AS
SELECT g % 50 AS c, timestamptz '2024-01-01' + (g % 40) * interval '1 day' + (g % 7) * interval '1 hour' AS at, (g % 13 - 3)::numeric / 4 AS amount
FROM generate_series(1, 5000) g;
SELECT count(*) AS groups_differing_from_filter
FROM (SELECT c, period_amounts(at, amount, timestamptz '2024-01-20' + c * interval '5 hours', '1 week', 3) AS pa,
             ARRAY[coalesce(sum(amount) FILTER (WHERE at > timestamptz '2024-01-20' + c * interval '5 hours' - interval '1 week' AND at <= timestamptz '2024-01-20' + c * interval '5 hours'), 0),
                   coalesce(sum(amount) FILTER (WHERE at > timestamptz '2024-01-20' + c * interval '5 hours' - interval '2 weeks' AND at <= timestamptz '2024-01-20' + c * interval '5 hours' - interval '1 week'), 0),
                   coalesce(sum(amount) FILTER (WHERE at > timestamptz '2024-01-20' + c * interval '5 hours' - interval '3 weeks' AND at <= timestamptz '2024-01-20' + c * interval '5 hours' - interval '2 weeks'), 0)] AS f
      FROM metrics_g GROUP BY c) s
WHERE pa IS DISTINCT FROM f;
DROP TABLE metrics_g;

-- The boundary cache is keyed by TimeZone, too.  as_of 2024-03-31 00:00 UTC less
-- one month is 2024-02-29 00:00 UTC in UTC but 2024-03-01 01:00 UTC in Los
-- Angeles (2024-03-30 17:00 PDT less a month), so 2024-02-29 12:00 UTC is in
-- period 1 in UTC and in none in Los Angeles.
PREPARE metrics_month AS SELECT period_counts(at, 1, timestamptz '2024-03-31 00:00+00', '1 month', 1) FROM (VALUES (timestamptz '2024-02-29 12:00+00')) v(at);
EXECUTE metrics_month;
SET TimeZone = 'America/Los_Angeles';
EXECUTE metrics_month;
DEALLOCATE metrics_month;
-- Even within one statement (the zone set row by row before each transition):
-- the first row counts under UTC, the second is out under Los Angeles.
SELECT period_counts(at, 1, timestamptz '2024-03-31 00:00+00', '1 month', 1)
FROM (SELECT timestamptz '2024-02-29 12:00+00' AS at, set_config('TimeZone', tz, true) FROM (VALUES ('UTC'), ('America/Los_Angeles')) v(tz)) s;
SET TimeZone = 'UTC';

-- Partial aggregation (per partition, finished by the combine function): the
-- parameters are checked across partial states too, not only across rows.
CREATE TABLE metrics_p (c int, part int, at timestamptz, amount numeric, as_of timestamptz) PARTITION BY LIST (part);
CREATE TABLE metrics_p0 PARTITION OF metrics_p FOR VALUES IN (0);
CREATE TABLE metrics_p1 PARTITION OF metrics_p FOR VALUES IN (1);
INSERT INTO metrics_p SELECT g % 10, (g / 10) % 2, timestamptz '2024-01-01' + (g % 30) * interval '1 day', g, timestamptz '2024-02-01' + ((g / 10) % 2) * interval '1 day'
FROM generate_series(1, 2000) g;
ANALYZE metrics_p;
SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF) SELECT c, period_amounts(at, amount, as_of, '1 week', 4) FROM metrics_p GROUP BY c;
SELECT c, period_amounts(at, amount, as_of, '1 week', 4) FROM metrics_p GROUP BY c;       -- as_of differs between the partitions
SELECT c, period_counts(at, amount, '2024-02-01', '1 week', 3 + part) FROM metrics_p GROUP BY c;
SELECT c, period_counts(at, amount, '2024-02-01', CASE part WHEN 0 THEN interval '1 month' ELSE interval '30 days' END, 3) FROM metrics_p GROUP BY c;
SELECT count(*) AS groups_differing_from_sum FROM (
    SELECT c, (value_metrics(at, amount)).monetary AS m, period_amounts(at, amount, '2024-02-01', '1 week', 4) AS pa, sum(amount) AS s,
           ARRAY[coalesce(sum(amount) FILTER (WHERE at > '2024-01-25' AND at <= '2024-02-01'), 0), coalesce(sum(amount) FILTER (WHERE at > '2024-01-18' AND at <= '2024-01-25'), 0),
                 coalesce(sum(amount) FILTER (WHERE at > '2024-01-11' AND at <= '2024-01-18'), 0), coalesce(sum(amount) FILTER (WHERE at > '2024-01-04' AND at <= '2024-01-11'), 0)] AS f
    FROM metrics_p GROUP BY c) s
WHERE m <> s OR pa <> f;
RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
DROP TABLE metrics_p;

-- Catalog: parallel safe aggregates with combine functions and a state type
-- of their own (not internal: Citus splits only those), so no serialize
-- functions.
SELECT p.proname, p.proparallel, a.aggcombinefn <> 0 AS combine, a.aggserialfn <> 0 AS serial,
       a.aggtranstype::regtype AS state_type
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'custier'::regnamespace AND p.proname IN ('value_metrics', 'period_amounts', 'period_counts', 'share', 'on_time_rate')
ORDER BY 1;

DROP TABLE metrics_tx, metrics_buckets, metrics_m;
