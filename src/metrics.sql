-- metrics.sql — value-metric aggregates and helpers (SPEC §2; src/metrics.c).

CREATE TYPE @extschema@.value_metrics AS (
    purchases      bigint,
    monetary       numeric,
    first_purchase timestamptz,
    last_purchase  timestamptz,
    avg_amount     numeric
);
COMMENT ON TYPE @extschema@.value_metrics IS 'a customer''s value metrics: purchases (amount > 0), monetary (all amounts, refunds included), first and last purchase, average purchase amount';

-- value_metrics(at, amount)
CREATE FUNCTION @extschema@.value_metrics_transfn(internal, timestamptz, numeric) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_value_metrics_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_value_metrics_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'custier_value_metrics_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_value_metrics_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_finalfn(internal) RETURNS @extschema@.value_metrics
    AS 'MODULE_PATHNAME', 'custier_value_metrics_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.value_metrics(at timestamptz, amount numeric) (
    SFUNC = @extschema@.value_metrics_transfn,
    STYPE = internal,
    SSPACE = 64,
    FINALFUNC = @extschema@.value_metrics_finalfn,
    COMBINEFUNC = @extschema@.value_metrics_combinefn,
    SERIALFUNC = @extschema@.value_metrics_serialfn,
    DESERIALFUNC = @extschema@.value_metrics_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.value_metrics_transfn(internal, timestamptz, numeric) IS 'value_metrics transition: adds one transaction exactly (rows with a NULL argument are skipped)';
COMMENT ON FUNCTION @extschema@.value_metrics_combinefn(internal, internal) IS 'value_metrics combine: merges two partial states (parallel aggregation)';
COMMENT ON FUNCTION @extschema@.value_metrics_serialfn(internal) IS 'value_metrics serialize: partial state to bytea (parallel aggregation)';
COMMENT ON FUNCTION @extschema@.value_metrics_deserialfn(bytea, internal) IS 'value_metrics deserialize: bytea to partial state (parallel aggregation)';
COMMENT ON FUNCTION @extschema@.value_metrics_finalfn(internal) IS 'value_metrics final: builds the custier.value_metrics row';
COMMENT ON AGGREGATE @extschema@.value_metrics(timestamptz, numeric) IS 'purchases, monetary total, first and last purchase, average amount of a customer''s transactions, in one exact pass';

-- period_amounts / period_counts(at, amount, as_of, period, periods)
CREATE FUNCTION @extschema@.period_amounts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_period_amounts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_period_counts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_period_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'custier_period_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_period_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_amounts_finalfn(internal) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'custier_period_amounts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_finalfn(internal) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'custier_period_counts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.period_amounts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = @extschema@.period_amounts_transfn,
    STYPE = internal,
    SSPACE = 144,
    FINALFUNC = @extschema@.period_amounts_finalfn,
    COMBINEFUNC = @extschema@.period_combinefn,
    SERIALFUNC = @extschema@.period_serialfn,
    DESERIALFUNC = @extschema@.period_deserialfn,
    PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.period_counts(at timestamptz, amount numeric, as_of timestamptz, period interval, periods integer) (
    SFUNC = @extschema@.period_counts_transfn,
    STYPE = internal,
    SSPACE = 144,
    FINALFUNC = @extschema@.period_counts_finalfn,
    COMBINEFUNC = @extschema@.period_combinefn,
    SERIALFUNC = @extschema@.period_serialfn,
    DESERIALFUNC = @extschema@.period_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.period_amounts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) IS 'period_amounts transition: adds the amount to its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_counts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) IS 'period_counts transition: counts a purchase in its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_combinefn(internal, internal) IS 'period_amounts/period_counts combine: merges two partial states (parallel aggregation)';
COMMENT ON FUNCTION @extschema@.period_serialfn(internal) IS 'period_amounts/period_counts serialize: partial state to bytea';
COMMENT ON FUNCTION @extschema@.period_deserialfn(bytea, internal) IS 'period_amounts/period_counts deserialize: bytea to partial state';
COMMENT ON FUNCTION @extschema@.period_amounts_finalfn(internal) IS 'period_amounts final: the numeric[] of per-period sums';
COMMENT ON FUNCTION @extschema@.period_counts_finalfn(internal) IS 'period_counts final: the integer[] of per-period purchase counts';
COMMENT ON AGGREGATE @extschema@.period_amounts(timestamptz, numeric, timestamptz, interval, integer) IS 'sums of amounts per period counting back from as_of: element k covers as_of - k*period < at <= as_of - (k-1)*period';
COMMENT ON AGGREGATE @extschema@.period_counts(timestamptz, numeric, timestamptz, interval, integer) IS 'purchases (amount > 0) per period counting back from as_of: element k covers as_of - k*period < at <= as_of - (k-1)*period';

-- share(condition) and on_time_rate(opened, resolved, allowed)
CREATE FUNCTION @extschema@.share_transfn(internal, boolean) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_share_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.on_time_rate_transfn(internal, timestamptz, timestamptz, interval) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_on_time_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_rate_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'custier_rate_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'custier_rate_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_finalfn(internal) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_rate_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE AGGREGATE @extschema@.share(condition boolean) (
    SFUNC = @extschema@.share_transfn,
    STYPE = internal,
    SSPACE = 16,
    FINALFUNC = @extschema@.rate_finalfn,
    COMBINEFUNC = @extschema@.rate_combinefn,
    SERIALFUNC = @extschema@.rate_serialfn,
    DESERIALFUNC = @extschema@.rate_deserialfn,
    PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.on_time_rate(opened timestamptz, resolved timestamptz, allowed interval) (
    SFUNC = @extschema@.on_time_rate_transfn,
    STYPE = internal,
    SSPACE = 16,
    FINALFUNC = @extschema@.rate_finalfn,
    COMBINEFUNC = @extschema@.rate_combinefn,
    SERIALFUNC = @extschema@.rate_serialfn,
    DESERIALFUNC = @extschema@.rate_deserialfn,
    PARALLEL = SAFE
);
COMMENT ON FUNCTION @extschema@.share_transfn(internal, boolean) IS 'share transition: counts a non-NULL condition and whether it is true';
COMMENT ON FUNCTION @extschema@.on_time_rate_transfn(internal, timestamptz, timestamptz, interval) IS 'on_time_rate transition: counts a ticket as on time, late, or not yet due (stable: uses now() and the session TimeZone)';
COMMENT ON FUNCTION @extschema@.rate_combinefn(internal, internal) IS 'share/on_time_rate combine: adds two partial counts';
COMMENT ON FUNCTION @extschema@.rate_serialfn(internal) IS 'share/on_time_rate serialize: partial counts to bytea';
COMMENT ON FUNCTION @extschema@.rate_deserialfn(bytea, internal) IS 'share/on_time_rate deserialize: bytea to partial counts';
COMMENT ON FUNCTION @extschema@.rate_finalfn(internal) IS 'share/on_time_rate final: 100 * hits / counted rows, NULL when none counted';
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
