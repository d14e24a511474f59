-- 30-aggregate-states.sql — the value-metric aggregates get real state
-- types (custier.value_metrics_state, period_state, rate_state) instead of
-- internal, so that Citus can split them (see doc/citus.md).
--
-- ALTER AGGREGATE cannot change a state type, and DROP AGGREGATE would fail
-- (or, with CASCADE, drop users' views) wherever a view uses them.  So the
-- aggregates keep their OIDs and this script rewrites their pg_aggregate rows
-- and the dependencies on their support functions in place, as contrib
-- update scripts have done for catalog changes that had no DDL: views that
-- use them keep working (a stored Aggref does not record the state type; the
-- planner looks it up).  Then the old support functions, now unused, go.
--
-- New types and support functions: exactly as src/metrics.sql creates them.
-- Aggregate state types.  Each aggregate's state is a type of its own whose
-- text form carries the whole state, so Citus can split the aggregate into
-- partial aggregates on the workers and a combine on the coordinator (it
-- refuses internal states), and parallel query needs no serialize functions.
-- STORAGE plain: a state is never short-headed or toasted, so the C
-- functions can update it in place.
CREATE TYPE @extschema@.value_metrics_state;
CREATE OR REPLACE FUNCTION @extschema@.value_metrics_state_in(cstring) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.value_metrics_state_out(@extschema@.value_metrics_state) RETURNS cstring
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
CREATE OR REPLACE FUNCTION @extschema@.period_state_in(cstring) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.period_state_out(@extschema@.period_state) RETURNS cstring
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
CREATE OR REPLACE FUNCTION @extschema@.rate_state_in(cstring) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_rate_state_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.rate_state_out(@extschema@.rate_state) RETURNS cstring
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
CREATE OR REPLACE FUNCTION @extschema@.value_metrics_transfn(@extschema@.value_metrics_state, timestamptz, numeric) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.value_metrics_combinefn(@extschema@.value_metrics_state, @extschema@.value_metrics_state) RETURNS @extschema@.value_metrics_state
    AS 'MODULE_PATHNAME', 'custier_value_metrics_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.value_metrics_finalfn(@extschema@.value_metrics_state) RETURNS @extschema@.value_metrics
    AS 'MODULE_PATHNAME', 'custier_value_metrics_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.value_metrics_transfn(@extschema@.value_metrics_state, timestamptz, numeric) IS 'value_metrics transition: adds one transaction exactly (rows with a NULL argument are skipped)';
COMMENT ON FUNCTION @extschema@.value_metrics_combinefn(@extschema@.value_metrics_state, @extschema@.value_metrics_state) IS 'value_metrics combine: merges two partial states (parallel query, Citus)';
COMMENT ON FUNCTION @extschema@.value_metrics_finalfn(@extschema@.value_metrics_state) IS 'value_metrics final: builds the custier.value_metrics row';

-- period_amounts / period_counts(at, amount, as_of, period, periods)
CREATE OR REPLACE FUNCTION @extschema@.period_amounts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_amounts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.period_counts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_counts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.period_combinefn(@extschema@.period_state, @extschema@.period_state) RETURNS @extschema@.period_state
    AS 'MODULE_PATHNAME', 'custier_period_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.period_amounts_finalfn(@extschema@.period_state) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'custier_period_amounts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.period_counts_finalfn(@extschema@.period_state) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'custier_period_counts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.period_amounts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) IS 'period_amounts transition: adds the amount to its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_counts_transfn(@extschema@.period_state, timestamptz, numeric, timestamptz, interval, integer) IS 'period_counts transition: counts a purchase in its period (stable: period boundaries follow the session TimeZone)';
COMMENT ON FUNCTION @extschema@.period_combinefn(@extschema@.period_state, @extschema@.period_state) IS 'period_amounts/period_counts combine: merges two partial states (parallel query, Citus)';
COMMENT ON FUNCTION @extschema@.period_amounts_finalfn(@extschema@.period_state) IS 'period_amounts final: the numeric[] of per-period sums';
COMMENT ON FUNCTION @extschema@.period_counts_finalfn(@extschema@.period_state) IS 'period_counts final: the integer[] of per-period purchase counts';

-- share(condition) and on_time_rate(opened, resolved, allowed)
CREATE OR REPLACE FUNCTION @extschema@.share_transfn(@extschema@.rate_state, boolean) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_share_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.on_time_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz, interval) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_on_time_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.rate_combinefn(@extschema@.rate_state, @extschema@.rate_state) RETURNS @extschema@.rate_state
    AS 'MODULE_PATHNAME', 'custier_rate_combinefn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.rate_finalfn(@extschema@.rate_state) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_rate_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.share_transfn(@extschema@.rate_state, boolean) IS 'share transition: counts a non-NULL condition and whether it is true';
COMMENT ON FUNCTION @extschema@.on_time_rate_transfn(@extschema@.rate_state, timestamptz, timestamptz, interval) IS 'on_time_rate transition: counts a ticket as on time, late, or not yet due (stable: uses now() and the session TimeZone)';
COMMENT ON FUNCTION @extschema@.rate_combinefn(@extschema@.rate_state, @extschema@.rate_state) IS 'share/on_time_rate combine: adds two partial counts';
COMMENT ON FUNCTION @extschema@.rate_finalfn(@extschema@.rate_state) IS 'share/on_time_rate final: 100 * hits / counted rows, NULL when none counted';

-- Point each aggregate at its new state type and support functions.
DO $upgrade$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT a.agg::pg_catalog.regprocedure AS agg, a.stype::pg_catalog.regtype AS stype,
               a.sfunc::pg_catalog.regprocedure AS sfunc, a.ffunc::pg_catalog.regprocedure AS ffunc,
               a.cfunc::pg_catalog.regprocedure AS cfunc
          FROM (VALUES
            ('@extschema@.value_metrics(timestamptz,numeric)', '@extschema@.value_metrics_state',
             '@extschema@.value_metrics_transfn(@extschema@.value_metrics_state,timestamptz,numeric)',
             '@extschema@.value_metrics_finalfn(@extschema@.value_metrics_state)',
             '@extschema@.value_metrics_combinefn(@extschema@.value_metrics_state,@extschema@.value_metrics_state)'),
            ('@extschema@.period_amounts(timestamptz,numeric,timestamptz,interval,integer)', '@extschema@.period_state',
             '@extschema@.period_amounts_transfn(@extschema@.period_state,timestamptz,numeric,timestamptz,interval,integer)',
             '@extschema@.period_amounts_finalfn(@extschema@.period_state)',
             '@extschema@.period_combinefn(@extschema@.period_state,@extschema@.period_state)'),
            ('@extschema@.period_counts(timestamptz,numeric,timestamptz,interval,integer)', '@extschema@.period_state',
             '@extschema@.period_counts_transfn(@extschema@.period_state,timestamptz,numeric,timestamptz,interval,integer)',
             '@extschema@.period_counts_finalfn(@extschema@.period_state)',
             '@extschema@.period_combinefn(@extschema@.period_state,@extschema@.period_state)'),
            ('@extschema@.share(boolean)', '@extschema@.rate_state',
             '@extschema@.share_transfn(@extschema@.rate_state,boolean)',
             '@extschema@.rate_finalfn(@extschema@.rate_state)',
             '@extschema@.rate_combinefn(@extschema@.rate_state,@extschema@.rate_state)'),
            ('@extschema@.on_time_rate(timestamptz,timestamptz,interval)', '@extschema@.rate_state',
             '@extschema@.on_time_rate_transfn(@extschema@.rate_state,timestamptz,timestamptz,interval)',
             '@extschema@.rate_finalfn(@extschema@.rate_state)',
             '@extschema@.rate_combinefn(@extschema@.rate_state,@extschema@.rate_state)')
          ) AS a(agg, stype, sfunc, ffunc, cfunc)
    LOOP
        UPDATE pg_catalog.pg_aggregate
           SET aggtransfn = r.sfunc::pg_catalog.oid, aggfinalfn = r.ffunc::pg_catalog.oid,
               aggcombinefn = r.cfunc::pg_catalog.oid, aggserialfn = 0::pg_catalog.oid,
               aggdeserialfn = 0::pg_catalog.oid, aggtranstype = r.stype::pg_catalog.oid,
               aggtransspace = 0
         WHERE aggfnoid OPERATOR(pg_catalog.=) r.agg::pg_catalog.oid;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'custier update: aggregate % not found', r.agg;
        END IF;
        -- The aggregate's dependencies on its support functions (pg_aggregate.c
        -- records them as normal dependencies of the aggregate's pg_proc row).
        DELETE FROM pg_catalog.pg_depend
         WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND objid OPERATOR(pg_catalog.=) r.agg::pg_catalog.oid
           AND refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND deptype OPERATOR(pg_catalog.=) 'n';
        INSERT INTO pg_catalog.pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
        SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, r.agg::pg_catalog.oid, 0,
               'pg_catalog.pg_proc'::pg_catalog.regclass, f, 0, 'n'
          FROM pg_catalog.unnest(ARRAY[r.sfunc::pg_catalog.oid, r.ffunc::pg_catalog.oid, r.cfunc::pg_catalog.oid]) AS f;
    END LOOP;
END
$upgrade$;

-- The 0.1.0 support functions, no longer used by any aggregate.
DROP FUNCTION @extschema@.value_metrics_transfn(internal, timestamptz, numeric);
DROP FUNCTION @extschema@.value_metrics_combinefn(internal, internal);
DROP FUNCTION @extschema@.value_metrics_serialfn(internal);
DROP FUNCTION @extschema@.value_metrics_deserialfn(bytea, internal);
DROP FUNCTION @extschema@.value_metrics_finalfn(internal);
DROP FUNCTION @extschema@.period_amounts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer);
DROP FUNCTION @extschema@.period_counts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer);
DROP FUNCTION @extschema@.period_combinefn(internal, internal);
DROP FUNCTION @extschema@.period_serialfn(internal);
DROP FUNCTION @extschema@.period_deserialfn(bytea, internal);
DROP FUNCTION @extschema@.period_amounts_finalfn(internal);
DROP FUNCTION @extschema@.period_counts_finalfn(internal);
DROP FUNCTION @extschema@.share_transfn(internal, boolean);
DROP FUNCTION @extschema@.on_time_rate_transfn(internal, timestamptz, timestamptz, interval);
DROP FUNCTION @extschema@.rate_combinefn(internal, internal);
DROP FUNCTION @extschema@.rate_serialfn(internal);
DROP FUNCTION @extschema@.rate_deserialfn(bytea, internal);
DROP FUNCTION @extschema@.rate_finalfn(internal);
