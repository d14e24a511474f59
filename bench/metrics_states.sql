-- bench/metrics_states.sql — the value-metric aggregates with their state
-- types (0.2.0) against the same aggregates as they were before (internal
-- states, serialize functions), both in one cluster and timed alternately,
-- so that the machine's noise hits both alike.  Goal: local
-- aggregation not slower, ratio <= 1.05.
--
-- Needs the library built from the commit before the change, by path:
--   CUSTIER_BEFORE_LIB=/path/to/custier_before.so make bench BENCH=metrics_states
-- (git worktree add /tmp/before <commit>; make -C /tmp/before; copy its
-- custier.so under another file name).  Without it the benchmark is skipped.
\getenv before_lib CUSTIER_BEFORE_LIB
\if :{?before_lib}
\set QUIET 1
DROP SCHEMA IF EXISTS before CASCADE;
CREATE SCHEMA before;
CREATE FUNCTION before.value_metrics_transfn(internal, timestamptz, numeric) RETURNS internal
    AS :'before_lib', 'value_metrics_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.value_metrics_combinefn(internal, internal) RETURNS internal
    AS :'before_lib', 'value_metrics_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.value_metrics_serialfn(internal) RETURNS bytea
    AS :'before_lib', 'value_metrics_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.value_metrics_deserialfn(bytea, internal) RETURNS internal
    AS :'before_lib', 'value_metrics_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.value_metrics_finalfn(internal) RETURNS custier.value_metrics
    AS :'before_lib', 'value_metrics_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE before.value_metrics(at timestamptz, amount numeric) (
    SFUNC = before.value_metrics_transfn,
    STYPE = internal,
    SSPACE = 64,
    FINALFUNC = before.value_metrics_finalfn,
    COMBINEFUNC = before.value_metrics_combinefn,
    SERIALFUNC = before.value_metrics_serialfn,
    DESERIALFUNC = before.value_metrics_deserialfn,
    PARALLEL = SAFE
);
CREATE FUNCTION before.period_amounts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) RETURNS internal
    AS :'before_lib', 'period_amounts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION before.period_counts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) RETURNS internal
    AS :'before_lib', 'period_counts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION before.period_combinefn(internal, internal) RETURNS internal
    AS :'before_lib', 'period_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.period_serialfn(internal) RETURNS bytea
    AS :'before_lib', 'period_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.period_deserialfn(bytea, internal) RETURNS internal
    AS :'before_lib', 'period_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.period_amounts_finalfn(internal) RETURNS numeric[]
    AS :'before_lib', 'period_amounts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.period_counts_finalfn(internal) RETURNS integer[]
    AS :'before_lib', 'period_counts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE before.period_amounts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = before.period_amounts_transfn,
    STYPE = internal,
    SSPACE = 144,
    FINALFUNC = before.period_amounts_finalfn,
    COMBINEFUNC = before.period_combinefn,
    SERIALFUNC = before.period_serialfn,
    DESERIALFUNC = before.period_deserialfn,
    PARALLEL = SAFE
);
CREATE AGGREGATE before.period_counts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = before.period_counts_transfn,
    STYPE = internal,
    SSPACE = 144,
    FINALFUNC = before.period_counts_finalfn,
    COMBINEFUNC = before.period_combinefn,
    SERIALFUNC = before.period_serialfn,
    DESERIALFUNC = before.period_deserialfn,
    PARALLEL = SAFE
);
CREATE FUNCTION before.share_transfn(internal, boolean) RETURNS internal
    AS :'before_lib', 'share_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.on_time_rate_transfn(internal, timestamptz, timestamptz, interval) RETURNS internal
    AS :'before_lib', 'on_time_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION before.rate_combinefn(internal, internal) RETURNS internal
    AS :'before_lib', 'rate_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.rate_serialfn(internal) RETURNS bytea
    AS :'before_lib', 'rate_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.rate_deserialfn(bytea, internal) RETURNS internal
    AS :'before_lib', 'rate_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION before.rate_finalfn(internal) RETURNS numeric
    AS :'before_lib', 'rate_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE before.share(condition boolean) (
    SFUNC = before.share_transfn,
    STYPE = internal,
    SSPACE = 16,
    FINALFUNC = before.rate_finalfn,
    COMBINEFUNC = before.rate_combinefn,
    SERIALFUNC = before.rate_serialfn,
    DESERIALFUNC = before.rate_deserialfn,
    PARALLEL = SAFE
);
CREATE AGGREGATE before.on_time_rate(opened timestamptz, resolved timestamptz, allowed interval) (
    SFUNC = before.on_time_rate_transfn,
    STYPE = internal,
    SSPACE = 16,
    FINALFUNC = before.rate_finalfn,
    COMBINEFUNC = before.rate_combinefn,
    SERIALFUNC = before.rate_serialfn,
    DESERIALFUNC = before.rate_deserialfn,
    PARALLEL = SAFE
);

DROP TABLE IF EXISTS bench_tx;
CREATE TABLE bench_tx AS
SELECT 1 + (hashint4(i) & 2147483647) % 200000 AS customer_id,
       timestamptz '2025-01-01 00:00:00+00' - (hashint4(i + 7) & 2147483647) % (730 * 86400) * interval '1 second' AS at,
       (CASE WHEN i % 20 = 0 THEN -((hashint4(i + 13) & 2147483647) % 5000)::numeric / 100
             ELSE ((hashint4(i + 13) & 2147483647) % 100000 + 1)::numeric / 100 END)::numeric(12, 2) AS amount
FROM generate_series(1, 2000000) i;
VACUUM ANALYZE bench_tx;
\unset QUIET
\echo '2M transactions, 200k customers; medians of 7 runs; ratio = 0.2.0 state types / before'
SELECT * FROM bench.compare('value_metrics: state type vs internal',
    $q$SELECT customer_id, custier.value_metrics(at, amount) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, before.value_metrics(at, amount) FROM bench_tx GROUP BY customer_id$q$, '<= 1.05', 7)
UNION ALL
SELECT * FROM bench.compare('period_amounts: state type vs internal',
    $q$SELECT customer_id, custier.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, before.period_amounts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12) FROM bench_tx GROUP BY customer_id$q$, '<= 1.05', 7)
UNION ALL
SELECT * FROM bench.compare('period_counts: state type vs internal',
    $q$SELECT customer_id, custier.period_counts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, before.period_counts(at, amount, '2025-01-01 00:00:00+00', '1 month', 12) FROM bench_tx GROUP BY customer_id$q$, '<= 1.05', 7)
UNION ALL
SELECT * FROM bench.compare('share: state type vs internal',
    $q$SELECT customer_id, custier.share(amount > 500) FROM bench_tx GROUP BY customer_id$q$,
    $q$SELECT customer_id, before.share(amount > 500) FROM bench_tx GROUP BY customer_id$q$, '<= 1.05', 7)
UNION ALL
SELECT * FROM bench.compare('value_metrics, one group: state type vs internal',
    $q$SELECT custier.value_metrics(at, amount) FROM bench_tx$q$,
    $q$SELECT before.value_metrics(at, amount) FROM bench_tx$q$, '<= 1.05', 7);
DROP TABLE bench_tx;
DROP SCHEMA before CASCADE;
\else
\echo 'metrics_states: skipped (set CUSTIER_BEFORE_LIB to the library of the commit before, see the top of bench/metrics_states.sql)'
\endif
