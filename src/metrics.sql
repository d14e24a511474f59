-- metrics.sql — value-metric aggregates and helpers (see doc/reference.md; src/metrics.c).

CREATE TYPE @extschema@.value_metrics AS (
    purchases      bigint,
    monetary       numeric,
    first_purchase timestamptz,
    last_purchase  timestamptz,
    avg_amount     numeric
);
COMMENT ON TYPE @extschema@.value_metrics IS 'a customer''s value metrics: purchases (amount > 0), monetary (all amounts, refunds included), first and last purchase, average purchase amount';

-- Aggregate state types.  Each aggregate's state is a type of its own whose
-- text form carries the whole state, so Citus can split the aggregate into
-- partial aggregates on the workers and a combine on the coordinator (it
-- refuses internal states), and parallel query needs no serialize functions.
-- STORAGE plain: a state is never short-headed or toasted, so the C
-- functions can update it in place.
CREATE TYPE @extschema@.value_metrics_state;
CREATE FUNCTION @extschema@.value_metrics_state_in(cstring) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_state_out(@extschema@.value_metrics_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'custier_value_metrics_state_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE TYPE @extschema@.value_metrics_state (
    INPUT = @extschema@.value_metrics_state_in,
    OUTPUT = @extschema@.value_metrics_state_out,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.value_metrics_state IS 'state of the value_metrics aggregate; text form: purchases, exact monetary total, first and last purchase in microseconds since 2000-01-01 UTC ("-" without purchases)';
COMMENT ON FUNCTION @extschema@.value_metrics_state_in(cstring) IS 'input function of custier.value_metrics_state';
COMMENT ON FUNCTION @extschema@.value_metrics_state_out(@extschema@.value_metrics_state) IS 'output function of custier.value_metrics_state';

CREATE TYPE @extschema@.period_state;
CREATE FUNCTION @extschema@.period_state_in(cstring) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_state_out(@extschema@.period_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'custier_period_state_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE TYPE @extschema@.period_state (
    INPUT = @extschema@.period_state_in,
    OUTPUT = @extschema@.period_state_out,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.period_state IS 'state of the period_amounts and period_counts aggregates; text form: amounts or counts, as_of in microseconds since 2000-01-01 UTC, the period''s months, days and microseconds, the number of periods, then one exact sum or count per period';
COMMENT ON FUNCTION @extschema@.period_state_in(cstring) IS 'input function of custier.period_state';
COMMENT ON FUNCTION @extschema@.period_state_out(@extschema@.period_state) IS 'output function of custier.period_state';

CREATE TYPE @extschema@.rate_state;
CREATE FUNCTION @extschema@.rate_state_in(cstring) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_rate_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_state_out(@extschema@.rate_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'custier_rate_state_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE TYPE @extschema@.rate_state (
    INPUT = @extschema@.rate_state_in,
    OUTPUT = @extschema@.rate_state_out,
    INTERNALLENGTH = 16,
    ALIGNMENT = double,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.rate_state IS 'state of the share and on_time_rate aggregates; text form: hits and counted rows';
COMMENT ON FUNCTION @extschema@.rate_state_in(cstring) IS 'input function of custier.rate_state';
COMMENT ON FUNCTION @extschema@.rate_state_out(@extschema@.rate_state) IS 'output function of custier.rate_state';

-- value_metrics(at, amount)
CREATE FUNCTION @extschema@.value_metrics_transfn(@extschema@.value_metrics_state, timestamptz, numeric) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_combinefn(@extschema@.value_metrics_state, @extschema@.value_metrics_state) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_finalfn(@extschema@.value_metrics_state) RETURNS @extschema@.value_metrics
    AS 'MODULE_PATHNAME', 'custier_value_metrics_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.value_metrics(at timestamptz, amount numeric) (
    SFUNC = @extschema@.value_metrics_transfn,
    STYPE = @extschema@.value_metrics_state,
    FINALFUNC = @extschema@.value_metrics_finalfn,
    COMBINEFUNC = @extschema@.value_metrics_combinefn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.value_metrics_transfn(@extschema@.value_metrics_state, timestamptz, numeric) IS 'value_metrics transition: adds one transaction exactly (rows with a NULL argument are skipped)';
COMMENT ON FUNCTION @extschema@.value_metrics_combinefn(@extschema@.value_metrics_state, @extschema@.value_metrics_state) IS 'value_metrics combine: merges two partial states (parallel query, Citus)';
COMMENT ON FUNCTION @extschema@.value_metrics_finalfn(@extschema@.value_metrics_state) IS 'value_metrics final: builds the custier.value_metrics row';
COMMENT ON AGGREGATE @extschema@.value_metrics(timestamptz, numeric) IS 'purchases, monetary total, first and last purchase, average amount of a customer''s transactions, in one exact pass';

-- period_amounts / period_counts(at, amount, as_of, period, periods)
CREATE FUNCTION @extschema@.period_amounts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_amounts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_counts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_combinefn(@extschema@.period_state, @extschema@.period_state) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_amounts_finalfn(@extschema@.period_state) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'custier_period_amounts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_finalfn(@extschema@.period_state) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'custier_period_counts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.period_amounts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = @extschema@.period_amounts_transfn,
    STYPE = @extschema@.period_state,
    FINALFUNC = @extschema@.period_amounts_finalfn,
    COMBINEFUNC = @extschema@.period_combinefn,
    PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.period_counts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = @extschema@.period_counts_transfn,
    STYPE = @extschema@.period_state,
    FINALFUNC = @extschema@.period_counts_finalfn,
    COMBINEFUNC = @extschema@.period_combinefn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.period_amounts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) IS 'period_amounts transition: adds the amount to its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_counts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) IS 'period_counts transition: counts a purchase in its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_combinefn(@extschema@.period_state, @extschema@.period_state) IS 'period_amounts/period_counts combine: merges two partial states (parallel query, Citus)';
COMMENT ON FUNCTION @extschema@.period_amounts_finalfn(@extschema@.period_state) IS 'period_amounts final: the numeric[] of per-period sums';
COMMENT ON FUNCTION @extschema@.period_counts_finalfn(@extschema@.period_state) IS 'period_counts final: the integer[] of per-period purchase counts';
COMMENT ON AGGREGATE @extschema@.period_amounts(timestamptz, numeric, timestamptz, interval, integer) IS 'sums of amounts per period counting back from as_of: element k covers as_of - k*period < at <= as_of - (k-1)*period';
COMMENT ON AGGREGATE @extschema@.period_counts(timestamptz, numeric, timestamptz, interval, integer) IS 'purchases (amount > 0) per period counting back from as_of: element k covers as_of - k*period < at <= as_of - (k-1)*period';

-- share(condition) and on_time_rate(opened, resolved, allowed)
CREATE FUNCTION @extschema@.share_transfn(@extschema@.rate_state, boolean) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_share_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.on_time_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz, interval) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_on_time_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_combinefn(@extschema@.rate_state, @extschema@.rate_state) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_rate_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_finalfn(@extschema@.rate_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_rate_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.share(condition boolean) (
    SFUNC = @extschema@.share_transfn,
    STYPE = @extschema@.rate_state,
    FINALFUNC = @extschema@.rate_finalfn,
    COMBINEFUNC = @extschema@.rate_combinefn,
    PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.on_time_rate(opened timestamptz, resolved timestamptz, allowed interval) (
    SFUNC = @extschema@.on_time_rate_transfn,
    STYPE = @extschema@.rate_state,
    FINALFUNC = @extschema@.rate_finalfn,
    COMBINEFUNC = @extschema@.rate_combinefn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.share_transfn(@extschema@.rate_state, boolean) IS 'share transition: counts a non-NULL condition and whether it is true';
COMMENT ON FUNCTION @extschema@.on_time_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz, interval) IS 'on_time_rate transition: counts a ticket as on time, late, or not yet due (stable: uses now() and the session TimeZone)';
COMMENT ON FUNCTION @extschema@.rate_combinefn(@extschema@.rate_state, @extschema@.rate_state) IS 'share/on_time_rate combine: adds two partial counts';
COMMENT ON FUNCTION @extschema@.rate_finalfn(@extschema@.rate_state) IS 'share/on_time_rate final: 100 * hits / counted rows, NULL when none counted';
COMMENT ON AGGREGATE @extschema@.share(boolean) IS 'percentage (0-100) of non-NULL rows where the condition is true; NULL over no rows';
COMMENT ON AGGREGATE @extschema@.on_time_rate(timestamptz, timestamptz, interval) IS 'percentage of tickets resolved by opened + allowed; open tickets count as late once overdue at now()';

-- Scalar helpers
CREATE FUNCTION @extschema@.recency(m @extschema@.value_metrics, as_of timestamptz) RETURNS interval
    AS 'MODULE_PATHNAME', 'custier_recency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tenure(m @extschema@.value_metrics, as_of timestamptz) RETURNS interval
    AS 'MODULE_PATHNAME', 'custier_tenure' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.frequency(m @extschema@.value_metrics, as_of timestamptz, per interval) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_frequency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.growth(current numeric, previous numeric) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_growth' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.growth(amounts numeric[]) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'custier_growth_array' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.recency(@extschema@.value_metrics, timestamptz) IS 'as_of - last_purchase; NULL without purchases';
COMMENT ON FUNCTION @extschema@.tenure(@extschema@.value_metrics, timestamptz) IS 'as_of - first_purchase; NULL without purchases';
COMMENT ON FUNCTION @extschema@.frequency(@extschema@.value_metrics, timestamptz, interval) IS 'purchases per `per` from first_purchase to as_of (a span shorter than per counts as one per); 0 without purchases';
COMMENT ON FUNCTION @extschema@.growth(numeric, numeric) IS 'percentage growth (current - previous) * 100 / previous; NULL when previous is 0';
COMMENT ON FUNCTION @extschema@.growth(numeric[]) IS 'period-over-period growth of a period_amounts result (newest first): element i is growth(amounts[i], amounts[i+1])';
