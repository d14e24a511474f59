-- custier 0.1.0: generated from src/*.sql by the Makefile; do not edit.
\echo Use "CREATE EXTENSION custier" to load this file. \quit

-- ==== src/tier.sql ====
-- tier.sql — the custier.tier type (src/tier.c).

-- The schema is for everyone to use; each table guards itself with its own grants.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

CREATE TYPE @extschema@.tier;

CREATE FUNCTION @extschema@.tier_in(cstring) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_out(@extschema@.tier) RETURNS cstring
    AS 'MODULE_PATHNAME', 'tier_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_recv(internal) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_recv' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_send(@extschema@.tier) RETURNS bytea
    AS 'MODULE_PATHNAME', 'tier_send' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE TYPE @extschema@.tier (
    INPUT = @extschema@.tier_in,
    OUTPUT = @extschema@.tier_out,
    RECEIVE = @extschema@.tier_recv,
    SEND = @extschema@.tier_send,
    INTERNALLENGTH = 1,
    PASSEDBYVALUE,
    ALIGNMENT = char,
    STORAGE = plain
);
COMMENT ON TYPE @extschema@.tier IS 'customer grade: one letter A (best) … Z; a better grade compares greater';
COMMENT ON FUNCTION @extschema@.tier_in(cstring) IS 'tier input: one ASCII letter, either case, blanks around it ignored';
COMMENT ON FUNCTION @extschema@.tier_out(@extschema@.tier) IS 'tier output: the upper-case letter';
COMMENT ON FUNCTION @extschema@.tier_recv(internal) IS 'tier binary input: one upper-case ASCII letter';
COMMENT ON FUNCTION @extschema@.tier_send(@extschema@.tier) IS 'tier binary output: one upper-case ASCII letter';

-- Comparison: a better grade is greater, so max() is the best grade.
CREATE FUNCTION @extschema@.tier_eq(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_eq' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_ne(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_ne' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_lt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_lt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_le(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_le' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_gt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_gt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_ge(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'tier_ge' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_cmp(@extschema@.tier, @extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_cmp' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'tier_sortsupport' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_hash(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_hash' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_hash_extended(@extschema@.tier, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tier_hash_extended' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_eq(@extschema@.tier, @extschema@.tier) IS 'implementation of = for tier';
COMMENT ON FUNCTION @extschema@.tier_ne(@extschema@.tier, @extschema@.tier) IS 'implementation of <> for tier';
COMMENT ON FUNCTION @extschema@.tier_lt(@extschema@.tier, @extschema@.tier) IS 'implementation of < for tier (left is the worse grade)';
COMMENT ON FUNCTION @extschema@.tier_le(@extschema@.tier, @extschema@.tier) IS 'implementation of <= for tier';
COMMENT ON FUNCTION @extschema@.tier_gt(@extschema@.tier, @extschema@.tier) IS 'implementation of > for tier (left is the better grade)';
COMMENT ON FUNCTION @extschema@.tier_ge(@extschema@.tier, @extschema@.tier) IS 'implementation of >= for tier';
COMMENT ON FUNCTION @extschema@.tier_cmp(@extschema@.tier, @extschema@.tier) IS 'btree comparison for tier: positive when the left is the better grade';
COMMENT ON FUNCTION @extschema@.tier_sortsupport(internal) IS 'btree sort support for tier';
COMMENT ON FUNCTION @extschema@.tier_hash(@extschema@.tier) IS 'hash support for tier';
COMMENT ON FUNCTION @extschema@.tier_hash_extended(@extschema@.tier, bigint) IS 'seeded hash support for tier';

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_ne,
    COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_lt,
    COMMUTATOR = OPERATOR(@extschema@.>), NEGATOR = OPERATOR(@extschema@.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_le,
    COMMUTATOR = OPERATOR(@extschema@.>=), NEGATOR = OPERATOR(@extschema@.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_gt,
    COMMUTATOR = OPERATOR(@extschema@.<), NEGATOR = OPERATOR(@extschema@.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_ge,
    COMMUTATOR = OPERATOR(@extschema@.<=), NEGATOR = OPERATOR(@extschema@.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR @extschema@.= (@extschema@.tier, @extschema@.tier) IS 'same grade';
COMMENT ON OPERATOR @extschema@.<> (@extschema@.tier, @extschema@.tier) IS 'different grades';
COMMENT ON OPERATOR @extschema@.< (@extschema@.tier, @extschema@.tier) IS 'worse grade than';
COMMENT ON OPERATOR @extschema@.<= (@extschema@.tier, @extschema@.tier) IS 'worse than or the same grade as';
COMMENT ON OPERATOR @extschema@.> (@extschema@.tier, @extschema@.tier) IS 'better grade than';
COMMENT ON OPERATOR @extschema@.>= (@extschema@.tier, @extschema@.tier) IS 'better than or the same grade as';

CREATE OPERATOR CLASS @extschema@.tier_ops
    DEFAULT FOR TYPE @extschema@.tier USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.tier_cmp(@extschema@.tier, @extschema@.tier),
        FUNCTION 2 @extschema@.tier_sortsupport(internal),
        FUNCTION 4 btequalimage(oid);
CREATE OPERATOR CLASS @extschema@.tier_hash_ops
    DEFAULT FOR TYPE @extschema@.tier USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.tier_hash(@extschema@.tier),
        FUNCTION 2 @extschema@.tier_hash_extended(@extschema@.tier, bigint);
COMMENT ON OPERATOR CLASS @extschema@.tier_ops USING btree IS 'default btree operator class for tier: A sorts last in ascending order';
COMMENT ON OPERATOR CLASS @extschema@.tier_hash_ops USING hash IS 'default hash operator class for tier';
COMMENT ON OPERATOR FAMILY @extschema@.tier_ops USING btree IS 'btree operator family for tier';
COMMENT ON OPERATOR FAMILY @extschema@.tier_hash_ops USING hash IS 'hash operator family for tier';

-- Arithmetic and conversions.
CREATE FUNCTION @extschema@.tier_mi(@extschema@.tier, @extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_mi' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_mi(@extschema@.tier, @extschema@.tier) IS 'implementation of tier - tier';
CREATE OPERATOR @extschema@.- (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_mi
);
COMMENT ON OPERATOR @extschema@.- (@extschema@.tier, @extschema@.tier) IS 'how many grades the left tier is above the right one (''A'' - ''C'' = 2)';

CREATE FUNCTION @extschema@.rank(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'tier_rank' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rank(@extschema@.tier) IS 'rank of a tier: A = 1 … Z = 26';
CREATE FUNCTION @extschema@.tier(integer) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_from_rank' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier(integer) IS 'tier of a rank: 1 = A … 26 = Z; other ranks raise 22003';
CREATE FUNCTION @extschema@.tier_up(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_up' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_up(@extschema@.tier, integer) IS 'the tier steps grades better (negative: worse), saturating at A and Z';
CREATE FUNCTION @extschema@.tier_down(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_down' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_down(@extschema@.tier, integer) IS 'the tier steps grades worse (negative: better), saturating at A and Z';

-- Explicit casts only towards text, so grades are never compared as text.
CREATE CAST (text AS @extschema@.tier) WITH INOUT AS ASSIGNMENT;
CREATE CAST (@extschema@.tier AS text) WITH INOUT;
CREATE CAST (@extschema@.tier AS integer) WITH FUNCTION @extschema@.rank(@extschema@.tier);
CREATE CAST (integer AS @extschema@.tier) WITH FUNCTION @extschema@.tier(integer);
COMMENT ON CAST (text AS @extschema@.tier) IS 'parse a letter grade (assignment cast)';
COMMENT ON CAST (@extschema@.tier AS text) IS 'the letter of a grade (explicit only)';
COMMENT ON CAST (@extschema@.tier AS integer) IS 'rank of a grade (explicit): A = 1';
COMMENT ON CAST (integer AS @extschema@.tier) IS 'grade of a rank (explicit): 1 = A';

-- Aggregates: max is the best grade, min the worst.
CREATE FUNCTION @extschema@.tier_larger(@extschema@.tier, @extschema@.tier) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_larger' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_smaller(@extschema@.tier, @extschema@.tier) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'tier_smaller' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_larger(@extschema@.tier, @extschema@.tier) IS 'the better of two grades';
COMMENT ON FUNCTION @extschema@.tier_smaller(@extschema@.tier, @extschema@.tier) IS 'the worse of two grades';
CREATE AGGREGATE @extschema@.max(@extschema@.tier) (
    SFUNC = @extschema@.tier_larger, STYPE = @extschema@.tier,
    COMBINEFUNC = @extschema@.tier_larger, SORTOP = OPERATOR(@extschema@.>),
    PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.min(@extschema@.tier) (
    SFUNC = @extschema@.tier_smaller, STYPE = @extschema@.tier,
    COMBINEFUNC = @extschema@.tier_smaller, SORTOP = OPERATOR(@extschema@.<),
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.max(@extschema@.tier) IS 'the best grade';
COMMENT ON AGGREGATE @extschema@.min(@extschema@.tier) IS 'the worst grade';

-- ==== src/metrics.sql ====
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
    AS 'MODULE_PATHNAME', 'value_metrics_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'value_metrics_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'value_metrics_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'value_metrics_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.value_metrics_finalfn(internal) RETURNS @extschema@.value_metrics
    AS 'MODULE_PATHNAME', 'value_metrics_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
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
    AS 'MODULE_PATHNAME', 'period_amounts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_transfn(internal, timestamptz, numeric, timestamptz, interval, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'period_counts_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'period_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'period_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'period_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_amounts_finalfn(internal) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'period_amounts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.period_counts_finalfn(internal) RETURNS integer[]
    AS 'MODULE_PATHNAME', 'period_counts_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
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
    AS 'MODULE_PATHNAME', 'share_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.on_time_rate_transfn(internal, timestamptz, timestamptz, interval) RETURNS internal
    AS 'MODULE_PATHNAME', 'on_time_rate_transfn' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_combinefn(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rate_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_serialfn(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'rate_serialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_deserialfn(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'rate_deserialfn' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.rate_finalfn(internal) RETURNS numeric
    AS 'MODULE_PATHNAME', 'rate_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
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
    AS 'MODULE_PATHNAME', 'recency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tenure(m @extschema@.value_metrics, as_of timestamptz) RETURNS interval
    AS 'MODULE_PATHNAME', 'tenure' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.frequency(m @extschema@.value_metrics, as_of timestamptz, per interval) RETURNS numeric
    AS 'MODULE_PATHNAME', 'frequency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.growth(current numeric, previous numeric) RETURNS numeric
    AS 'MODULE_PATHNAME', 'growth' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.growth(amounts numeric[]) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'growth_array' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.recency(@extschema@.value_metrics, timestamptz) IS 'as_of - last_purchase; NULL without purchases';
COMMENT ON FUNCTION @extschema@.tenure(@extschema@.value_metrics, timestamptz) IS 'as_of - first_purchase; NULL without purchases';
COMMENT ON FUNCTION @extschema@.frequency(@extschema@.value_metrics, timestamptz, interval) IS 'purchases per `per` from first_purchase to as_of (a span shorter than per counts as one per); 0 without purchases';
COMMENT ON FUNCTION @extschema@.growth(numeric, numeric) IS 'percentage growth (current - previous) * 100 / previous; NULL when previous is 0';
COMMENT ON FUNCTION @extschema@.growth(numeric[]) IS 'period-over-period growth of a period_amounts result (newest first): element i is growth(amounts[i], amounts[i+1])';

-- ==== src/policy.sql ====
-- policy.sql — grading policies (SPEC §3): tables, validation, assign_tier/score/explain (src/policy.c).

CREATE TABLE @extschema@.policy (
    name            text PRIMARY KEY CHECK (name <> ''),
    method          text NOT NULL DEFAULT 'thresholds',
    lowest          @extschema@.tier NOT NULL DEFAULT 'D',
    period          interval NOT NULL DEFAULT '6 months',
    upgrade_after   integer NOT NULL DEFAULT 1,
    downgrade_after integer NOT NULL DEFAULT 1,
    max_step        integer,
    approval        text NOT NULL DEFAULT 'none',
    metrics_source  regclass,
    key_column      name,
    description     text
);
COMMENT ON TABLE @extschema@.policy IS 'grading policies: how metrics become a grade, and how grades may move';

CREATE TABLE @extschema@.policy_tier (
    policy    text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    tier      @extschema@.tier NOT NULL,
    label     text,
    min_score numeric,
    PRIMARY KEY (policy, tier)
);
COMMENT ON TABLE @extschema@.policy_tier IS 'the grades of a policy: labels, and minimum scores for the score method';

CREATE TABLE @extschema@.policy_criterion (
    policy           text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    metric           name NOT NULL,
    weight           numeric NOT NULL DEFAULT 1,
    higher_is_better boolean NOT NULL DEFAULT true,
    PRIMARY KEY (policy, metric)
);
COMMENT ON TABLE @extschema@.policy_criterion IS 'the metrics a policy grades on, with their weights and direction';

CREATE TABLE @extschema@.policy_threshold (
    policy text NOT NULL,
    metric name NOT NULL,
    tier   @extschema@.tier NOT NULL,
    bound  numeric NOT NULL,
    PRIMARY KEY (policy, metric, tier),
    FOREIGN KEY (policy, metric) REFERENCES @extschema@.policy_criterion (policy, metric) ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.policy_threshold IS 'thresholds method: meeting tier T on a metric means value >= bound (<= when lower is better)';

CREATE TABLE @extschema@.policy_band (
    policy text NOT NULL,
    metric name NOT NULL,
    bound  numeric NOT NULL,
    points numeric NOT NULL,
    PRIMARY KEY (policy, metric, bound),
    FOREIGN KEY (policy, metric) REFERENCES @extschema@.policy_criterion (policy, metric) ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.policy_band IS 'score method: a metric earns the points of the best band whose bound it meets';

CREATE TABLE @extschema@.policy_reviewer (
    policy     text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    department text NOT NULL CHECK (department <> ''),
    PRIMARY KEY (policy, department)
);
COMMENT ON TABLE @extschema@.policy_reviewer IS 'departments that must review an adjustment before it can be approved';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_tier', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_criterion', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_threshold', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_band', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_reviewer', '');

-- Backstops in the catalog.  The triggers below refuse the same rows first,
-- with messages that name the policy, metric and tier; these CHECKs still hold
-- when triggers are off (session_replication_role = replica).
ALTER TABLE @extschema@.policy
    ADD CONSTRAINT policy_method_check CHECK (method IN ('thresholds', 'score')),
    ADD CONSTRAINT policy_approval_check CHECK (approval IN ('none', 'downgrade', 'all')),
    ADD CONSTRAINT policy_upgrade_after_check CHECK (upgrade_after >= 1),
    ADD CONSTRAINT policy_downgrade_after_check CHECK (downgrade_after >= 1),
    ADD CONSTRAINT policy_max_step_check CHECK (max_step IS NULL OR max_step >= 1),
    ADD CONSTRAINT policy_period_check CHECK (period > interval '0');
ALTER TABLE @extschema@.policy_criterion
    ADD CONSTRAINT policy_criterion_metric_check CHECK (metric <> ''),
    ADD CONSTRAINT policy_criterion_weight_check CHECK (weight > 0 AND weight < 'Infinity');
ALTER TABLE @extschema@.policy_threshold
    ADD CONSTRAINT policy_threshold_bound_check CHECK (bound <> 'NaN');
ALTER TABLE @extschema@.policy_band
    ADD CONSTRAINT policy_band_bound_check CHECK (bound <> 'NaN'),
    ADD CONSTRAINT policy_band_points_check CHECK (points > '-Infinity' AND points < 'Infinity');
ALTER TABLE @extschema@.policy_tier
    ADD CONSTRAINT policy_tier_min_score_check CHECK (min_score <> 'NaN');

-- Policies are rules, not secrets: everyone may read them (assign_tier reads
-- them as the caller); only the owner and whom it grants may change them.
REVOKE ALL ON @extschema@.policy, @extschema@.policy_tier, @extschema@.policy_criterion,
              @extschema@.policy_threshold, @extschema@.policy_band, @extschema@.policy_reviewer FROM PUBLIC;
GRANT SELECT ON @extschema@.policy, @extschema@.policy_tier, @extschema@.policy_criterion,
                @extschema@.policy_threshold, @extschema@.policy_band, @extschema@.policy_reviewer TO PUBLIC;

-- Helper for the checks: is this type (or the base of this domain) one the
-- record form of assign_tier reads as a number?
CREATE FUNCTION @extschema@.policy_numeric_type(typ regtype) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE base(oid, typbasetype) AS (
        SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t WHERE t.oid = typ
        UNION ALL
        SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t JOIN base b ON t.oid = b.typbasetype
    )
    SELECT oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype,
                   'float4'::regtype, 'float8'::regtype, 'numeric'::regtype)
    FROM base WHERE typbasetype = 0
$$;
COMMENT ON FUNCTION @extschema@.policy_numeric_type(regtype) IS
    'true when a metric column of this type (or a domain over it) can be graded: smallint, integer, bigint, real, double precision, numeric';

-- Row-level checks, before the row is written (so before the CHECKs above).
CREATE FUNCTION @extschema@.policy_row_check() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n jsonb := to_jsonb(NEW);
    pol text := coalesce(n->>'policy', n->>'name');
    problem text;
    hint text;
BEGIN
    CASE TG_TABLE_NAME
    WHEN 'policy' THEN
        IF NEW.name = '' THEN
            problem := 'a policy name must not be empty';
        ELSIF NEW.method IS DISTINCT FROM 'thresholds' AND NEW.method IS DISTINCT FROM 'score' THEN
            problem := format('unknown method "%s"', NEW.method);
            hint := 'The method is ''thresholds'' or ''score''.';
        ELSIF NEW.approval IS DISTINCT FROM 'none' AND NEW.approval IS DISTINCT FROM 'downgrade'
              AND NEW.approval IS DISTINCT FROM 'all' THEN
            problem := format('unknown approval "%s"', NEW.approval);
            hint := 'Approval is ''none'', ''downgrade'' or ''all''.';
        ELSIF NEW.upgrade_after < 1 THEN
            problem := format('upgrade_after must be at least 1, not %s', NEW.upgrade_after);
        ELSIF NEW.downgrade_after < 1 THEN
            problem := format('downgrade_after must be at least 1, not %s', NEW.downgrade_after);
        ELSIF NEW.max_step < 1 THEN
            problem := format('max_step must be NULL (no limit) or at least 1, not %s', NEW.max_step);
        ELSIF NEW.period <= interval '0' THEN
            problem := format('period must be positive, not %s', NEW.period);
        END IF;
    WHEN 'policy_criterion' THEN
        IF NEW.metric = '' THEN
            problem := 'a metric name must not be empty';
        ELSIF NOT (NEW.weight > 0 AND NEW.weight < 'Infinity') THEN
            problem := format('weight of metric "%s" must be a finite number > 0, not %s', NEW.metric, NEW.weight);
        END IF;
    WHEN 'policy_threshold' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('threshold for tier %s on metric "%s" must be a number, not NaN', NEW.tier, NEW.metric);
        END IF;
    WHEN 'policy_band' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('band on metric "%s" must have a number as bound, not NaN', NEW.metric);
        ELSIF NOT (NEW.points > '-Infinity' AND NEW.points < 'Infinity') THEN
            problem := format('band at bound %s on metric "%s" must earn a finite number of points, not %s',
                              NEW.bound, NEW.metric, NEW.points);
        END IF;
    WHEN 'policy_tier' THEN
        IF NEW.min_score = 'NaN' THEN
            problem := format('min_score of tier %s must be a number, not NaN', NEW.tier);
        END IF;
    ELSE
        NULL;
    END CASE;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'policy "%": %', pol, problem
            USING ERRCODE = 'check_violation', HINT = coalesce(hint, '');
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_row_check() IS
    'trigger: refuses a policy row that is wrong on its own (method, approval, weights, NaN bounds), naming the policy';

-- The whole-policy check: what no single row can tell.
CREATE FUNCTION @extschema@.policy_check(policy_name text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p custier.policy;
    r record;
    relkind "char";
BEGIN
    SELECT * INTO p FROM custier.policy WHERE name OPERATOR(pg_catalog.=) policy_name;
    IF NOT FOUND THEN
        RETURN;     -- deleted (or renamed: the new name is checked by its own trigger)
    END IF;

    -- Tiers outside A..lowest.
    FOR r IN SELECT 'tier ' || t.tier::text AS what, t.tier
               FROM custier.policy_tier t
              WHERE t.policy = p.name AND t.tier OPERATOR(custier.<) p.lowest
             UNION ALL
             SELECT format('threshold for tier %s on metric "%s"', t.tier, t.metric), t.tier
               FROM custier.policy_threshold t
              WHERE t.policy = p.name AND t.tier OPERATOR(custier.<) p.lowest
             ORDER BY 2 DESC, 1 LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": % is outside its grades A..%', p.name, r.what, p.lowest
            USING ERRCODE = 'check_violation',
                  HINT = 'Delete the rows of tiers below the lowest grade, or lower the policy''s lowest grade.';
    END LOOP;

    -- A better tier must not have an easier threshold than a worse one.
    FOR r IN SELECT * FROM (
                SELECT t.metric, t.tier, t.bound, c.higher_is_better,
                       lead(t.tier) OVER w AS worse_tier, lead(t.bound) OVER w AS worse_bound
                  FROM custier.policy_threshold t
                  JOIN custier.policy_criterion c USING (policy, metric)
                 WHERE t.policy = p.name
                WINDOW w AS (PARTITION BY t.metric ORDER BY t.tier DESC)) s
              WHERE CASE WHEN higher_is_better THEN bound < worse_bound ELSE bound > worse_bound END
              ORDER BY metric, tier DESC LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": threshold for tier % on metric "%" (bound %) is easier than tier %''s (bound %)',
                        p.name, r.tier, r.metric, r.bound, r.worse_tier, r.worse_bound
            USING ERRCODE = 'check_violation',
                  HINT = CASE WHEN r.higher_is_better
                              THEN 'Higher is better on this metric: a better tier needs a bound at least as high.'
                              ELSE 'Lower is better on this metric: a better tier needs a bound at least as low.' END;
    END LOOP;

    -- A harder band must not earn fewer points than an easier one.
    FOR r IN SELECT * FROM (
                SELECT b.metric, b.bound, b.points, c.higher_is_better,
                       lead(b.bound) OVER w AS easier_bound, lead(b.points) OVER w AS easier_points
                  FROM custier.policy_band b
                  JOIN custier.policy_criterion c USING (policy, metric)
                 WHERE b.policy = p.name
                WINDOW w AS (PARTITION BY b.metric
                             ORDER BY CASE WHEN c.higher_is_better THEN b.bound ELSE -b.bound END DESC)) s
              WHERE points < easier_points
              ORDER BY metric LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": band at bound % on metric "%" earns % points, fewer than the easier band at bound % (% points)',
                        p.name, r.bound, r.metric, r.points, r.easier_bound, r.easier_points
            USING ERRCODE = 'check_violation',
                  HINT = 'A metric earns the points of the hardest band it meets: harder bands must earn at least as many points.';
    END LOOP;

    -- A better tier must not need a lower score than a worse one.
    FOR r IN SELECT * FROM (
                SELECT t.tier, t.min_score,
                       lead(t.tier) OVER w AS worse_tier, lead(t.min_score) OVER w AS worse_min_score
                  FROM custier.policy_tier t
                 WHERE t.policy = p.name AND t.min_score IS NOT NULL
                WINDOW w AS (ORDER BY t.tier DESC)) s
              WHERE min_score < worse_min_score
              ORDER BY tier DESC LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": min_score of tier % (%) is easier than tier %''s (%)',
                        p.name, r.tier, r.min_score, r.worse_tier, r.worse_min_score
            USING ERRCODE = 'check_violation',
                  HINT = 'A better tier needs a min_score at least as high as a worse one.';
    END LOOP;

    -- Metrics (and the key) must be columns of the metrics source.
    IF p.metrics_source IS NOT NULL THEN
        SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = p.metrics_source;
        IF relkind IS NULL OR relkind NOT IN ('r', 'v', 'm', 'f', 'p') THEN
            RAISE EXCEPTION 'policy "%": metrics source % is not a table or view', p.name, p.metrics_source
                USING ERRCODE = 'check_violation';
        END IF;
        IF p.key_column IS NOT NULL AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = p.metrics_source AND a.attname = p.key_column
                   AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'policy "%": key column "%" is not a column of its metrics source %',
                            p.name, p.key_column, p.metrics_source
                USING ERRCODE = 'check_violation';
        END IF;
        FOR r IN SELECT c.metric, a.atttypid::regtype AS typ
                   FROM custier.policy_criterion c
                   LEFT JOIN pg_catalog.pg_attribute a
                          ON a.attrelid = p.metrics_source AND a.attname = c.metric
                         AND a.attnum > 0 AND NOT a.attisdropped
                  WHERE c.policy = p.name
                    AND (a.attname IS NULL OR NOT custier.policy_numeric_type(a.atttypid))
                  ORDER BY c.metric LIMIT 1
        LOOP
            IF r.typ IS NULL THEN
                RAISE EXCEPTION 'policy "%": metric "%" is not a column of its metrics source %',
                                p.name, r.metric, p.metrics_source
                    USING ERRCODE = 'check_violation';
            ELSE
                RAISE EXCEPTION 'policy "%": metric "%" is a column of type % in its metrics source %, not a number',
                                p.name, r.metric, r.typ, p.metrics_source
                    USING ERRCODE = 'check_violation',
                          HINT = 'Metric columns are smallint, integer, bigint, real, double precision or numeric (or a domain over one).';
            END IF;
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_check(text) IS
    'raises check_violation naming the policy, metric and tier if the policy is inconsistent; the validation triggers call it';

CREATE FUNCTION @extschema@.policy_consistency_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME = 'policy' THEN
        PERFORM custier.policy_check(NEW.name);
    ELSE
        PERFORM custier.policy_check(NEW.policy);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_consistency_trigger() IS
    'constraint trigger: checks the whole policy of the written row (see custier.policy_check)';

-- Bumps this backend's policy generation, so that cached compiled policies
-- (assign_tier's fn_extra) are recompiled after an edit, even mid-statement.
CREATE FUNCTION @extschema@.policy_edited() RETURNS trigger
    AS 'MODULE_PATHNAME', 'policy_edited' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.policy_edited() IS
    'statement trigger: tells cached compiled policies of this backend that a policy table changed';

-- The audit log: every edit of a policy table, who made it and when, with
-- the old and new row.  Append-only for every role, owner included.
-- audit_id is deliberately not unique: restoring a dump re-inserts the policy
-- rows, whose audit rows take ids before the log's own rows (and its sequence)
-- are restored; a key would make every restore fail.
CREATE TABLE @extschema@.policy_audit (
    audit_id   bigserial NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    changed_by name NOT NULL,
    txid       bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    tbl        text NOT NULL,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    policy     text,
    old_row    jsonb,
    new_row    jsonb
);
CREATE INDEX ON @extschema@.policy_audit (audit_id);
CREATE INDEX ON @extschema@.policy_audit (policy, changed_at);
COMMENT ON TABLE @extschema@.policy_audit IS
    'append-only log of every edit of the policy tables: who, when, which table, old and new row';
COMMENT ON SEQUENCE @extschema@.policy_audit_audit_id_seq IS 'numbers the rows of custier.policy_audit';
REVOKE ALL ON @extschema@.policy_audit FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.policy_audit_audit_id_seq FROM PUBLIC;

CREATE FUNCTION @extschema@.policy_audit_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'policy_audit_trigger' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.policy_audit_trigger() IS
    'trigger: writes the edited policy row to custier.policy_audit as the table owner, recording the editing role';

CREATE FUNCTION @extschema@.policy_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'custier.policy_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Policy edits are audit data; the log can only grow.';
END
$$;
COMMENT ON FUNCTION @extschema@.policy_audit_append_only() IS
    'trigger: refuses UPDATE, DELETE and TRUNCATE on custier.policy_audit for every role';
CREATE TRIGGER policy_audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.policy_audit
    FOR EACH ROW EXECUTE FUNCTION @extschema@.policy_audit_append_only();
CREATE TRIGGER policy_audit_no_truncate BEFORE TRUNCATE ON @extschema@.policy_audit
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_audit_append_only();

-- Triggers on the policy tables.  Row checks run BEFORE; whole-policy checks
-- are constraint triggers, DEFERRABLE INITIALLY IMMEDIATE: a multi-row
-- statement is checked at its end, once consistent, and a transaction can
-- rewrite a policy over several statements after
-- SET CONSTRAINTS ALL DEFERRED (checked at COMMIT).
DO $do$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policy', 'policy_tier', 'policy_criterion', 'policy_threshold',
                             'policy_band', 'policy_reviewer'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_row_check()',
                       t || '_row_check', t);
        IF t <> 'policy_reviewer' THEN
            EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE ON custier.%I DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION custier.policy_consistency_trigger()',
                           t || '_consistency', t);
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_edited()',
                           t || '_edited', t);
            -- Also under session_replication_role = replica: a stale compiled
            -- policy is wrong whatever the role.
            EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_edited');
        END IF;
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_audit_trigger()',
                       t || '_audit', t);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_audit_trigger()',
                       t || '_audit_truncate', t);
    END LOOP;
END
$do$;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_audit', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_audit_audit_id_seq', '');

-- Tier assignment (src/policy.c).  They read the policy tables once per
-- statement per call site, as the caller; STABLE because an edit is seen by
-- the next statement; PARALLEL SAFE because they only read.
CREATE FUNCTION @extschema@.assign_tier(policy text, metrics jsonb) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'assign_tier_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.assign_tier(policy text, metrics record) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'assign_tier_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.score(policy text, metrics jsonb) RETURNS numeric
    AS 'MODULE_PATHNAME', 'score_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.score(policy text, metrics record) RETURNS numeric
    AS 'MODULE_PATHNAME', 'score_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.explain(policy text, metrics jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'explain_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.explain(policy text, metrics record) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'explain_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.assign_tier(text, jsonb) IS
    'the grade the policy gives these metrics (keys of a JSON object; numbers or numeric strings; null or absent = missing)';
COMMENT ON FUNCTION @extschema@.assign_tier(text, record) IS
    'the grade the policy gives this row (metrics read from the columns of that name)';
COMMENT ON FUNCTION @extschema@.score(text, jsonb) IS
    'the weighted score: sum of weight x points / sum of weights (thresholds method: 100 x (n - r + 1) / n points)';
COMMENT ON FUNCTION @extschema@.score(text, record) IS
    'the weighted score of this row (see score(text, jsonb))';
COMMENT ON FUNCTION @extschema@.explain(text, jsonb) IS
    'jsonb evidence: per criterion the value, best tier met or band, points; the score and resulting tier';
COMMENT ON FUNCTION @extschema@.explain(text, record) IS
    'jsonb evidence for this row (see explain(text, jsonb))';

-- ==== src/history.sql ====
-- history.sql — managed tables and grade history (SPEC §4); C in src/history.c.

-- ---------------------------------------------------------------------
-- Registry of managed tables
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.managed_table (
    tbl              regclass PRIMARY KEY,
    key_column       name NOT NULL,
    tier_column      name NOT NULL,
    policy           text NOT NULL UNIQUE REFERENCES @extschema@.policy (name) ON UPDATE CASCADE,
    require_approval boolean NOT NULL DEFAULT false,
    managed_at       timestamptz NOT NULL DEFAULT now(),
    managed_by       name NOT NULL
);
COMMENT ON TABLE @extschema@.managed_table IS 'tables whose tier column custier manages (custier.manage); a policy serves at most one table';
REVOKE ALL ON @extschema@.managed_table FROM PUBLIC;
GRANT SELECT ON @extschema@.managed_table TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.managed_table', '');

-- ---------------------------------------------------------------------
-- Grade history: append-only, written by the C triggers
-- ---------------------------------------------------------------------
CREATE TABLE @extschema@.tier_history (
    history_id    bigserial NOT NULL,
    tbl           regclass NOT NULL,
    customer_key  text COLLATE "C" NOT NULL,
    old_tier      @extschema@.tier,
    new_tier      @extschema@.tier,
    changed_at    timestamptz NOT NULL,
    changed_by    name NOT NULL,
    adjustment_id bigint,
    reason        text
);
COMMENT ON TABLE @extschema@.tier_history IS 'every grade change of every managed table: append-only, written by custier alone';
COMMENT ON COLUMN @extschema@.tier_history.old_tier IS 'grade before the change; NULL on first grading';
COMMENT ON COLUMN @extschema@.tier_history.new_tier IS 'grade after the change; NULL when the customer was deleted (or its key changed away)';
COMMENT ON COLUMN @extschema@.tier_history.adjustment_id IS 'the adjustment that made the change; NULL otherwise';
-- history_id comes from a sequence that only custier's writer draws from, in
-- insertion order: a BRIN index finds ids at a fraction of what a unique
-- btree would cost every write (that btree alone was ~20% of an UPDATE's time).
CREATE INDEX tier_history_id ON @extschema@.tier_history USING brin (history_id);
COMMENT ON INDEX @extschema@.tier_history_id IS 'history rows by id (ids grow with insertion order)';
-- One pass over this index answers tiers_at; one probe answers tier_at.
CREATE INDEX tier_history_as_of ON @extschema@.tier_history
    (tbl, customer_key, changed_at DESC, history_id DESC) INCLUDE (new_tier);
COMMENT ON INDEX @extschema@.tier_history_as_of IS 'latest change per customer as of a time: tier_at, tiers_at';

CREATE TABLE @extschema@.customer_key_change (
    tbl        regclass NOT NULL,
    old_key    text COLLATE "C" NOT NULL,
    new_key    text COLLATE "C" NOT NULL,
    changed_at timestamptz NOT NULL,
    changed_by name NOT NULL
);
COMMENT ON TABLE @extschema@.customer_key_change IS 'key changes of managed customers, which tier_at follows back to keep a customer''s history together: append-only';
CREATE INDEX customer_key_change_new_key ON @extschema@.customer_key_change (tbl, new_key, changed_at DESC);
COMMENT ON INDEX @extschema@.customer_key_change_new_key IS 'what a key was called before: tier_at';

COMMENT ON SEQUENCE @extschema@.tier_history_history_id_seq IS 'history_id of custier.tier_history';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tier_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tier_history_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.customer_key_change', '');

CREATE FUNCTION @extschema@.history_append_only() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'history_append_only';
COMMENT ON FUNCTION @extschema@.history_append_only() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE of custier''s history tables, for every role';
REVOKE ALL ON FUNCTION @extschema@.history_append_only() FROM PUBLIC;

-- Statement-level, so that even an UPDATE matching no row is refused; ENABLE
-- ALWAYS, so that session_replication_role does not switch them off.
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.tier_history
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.tier_history ENABLE ALWAYS TRIGGER append_only;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.customer_key_change
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.customer_key_change ENABLE ALWAYS TRIGGER append_only;

-- Readable by whoever may read the managed table the rows are about.
REVOKE ALL ON @extschema@.tier_history, @extschema@.customer_key_change FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.tier_history_history_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.tier_history, @extschema@.customer_key_change TO PUBLIC;
ALTER TABLE @extschema@.tier_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.customer_key_change ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.tier_history FOR SELECT
    USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
CREATE POLICY readable ON @extschema@.customer_key_change FOR SELECT
    USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));

-- ---------------------------------------------------------------------
-- C triggers on managed tables, and the acting role
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@.history_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'history_trigger';
COMMENT ON FUNCTION @extschema@.history_trigger() IS 'trigger on managed tables: records grade changes in custier.tier_history (installed by custier.manage)';
REVOKE ALL ON FUNCTION @extschema@.history_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@.guard_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'guard_trigger';
COMMENT ON FUNCTION @extschema@.guard_trigger() IS 'trigger on managed tables with require_approval: refuses grade changes outside an approved adjustment or evaluation run, and rows arriving at a key with another grade than its recorded one';
REVOKE ALL ON FUNCTION @extschema@.guard_trigger() FROM PUBLIC;

CREATE FUNCTION @extschema@._actor() RETURNS name
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_actor';
COMMENT ON FUNCTION @extschema@._actor() IS 'internal: the role acting in the current custier call (its caller), else current_user';

-- ---------------------------------------------------------------------
-- manage / unmanage: C entry points (they capture the caller), the work
-- done by these internal functions as custier's owner.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._managed_problem(tbl regclass, key_column name, tier_column name, require_approval boolean)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_att  record;
    tier_att record;
    missing  text;
BEGIN
    SELECT a.attnum, a.attnotnull INTO key_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN format('its key column "%s" was renamed or dropped', key_column);
    END IF;
    IF NOT key_att.attnotnull THEN
        RETURN format('its key column "%s" must stay NOT NULL', key_column);
    END IF;
    SELECT a.attnum, a.atttypid INTO tier_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tier_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RETURN format('its tier column "%s" was renamed or dropped', tier_column);
    END IF;
    IF tier_att.atttypid <> 'custier.tier'::regtype THEN
        RETURN format('its tier column "%s" must stay of type custier.tier', tier_column);
    END IF;
    -- Rows of an inheritance child show in the table's SELECTs without
    -- passing its triggers; rows routed through a partitioned parent skip
    -- its statement triggers.
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tbl OR i.inhrelid = tbl) THEN
        RETURN 'it must not take part in inheritance or partitioning';
    END IF;
    SELECT string_agg(w.name, ', ' ORDER BY w.name) INTO missing
      FROM unnest(ARRAY['custier_history', 'custier_history_insert_delete', 'custier_history_flush', 'custier_history_truncate']
                  || CASE WHEN require_approval THEN ARRAY['custier_guard', 'custier_guard_insert'] ELSE '{}' END) w(name)
     WHERE NOT EXISTS (SELECT FROM pg_trigger t
                        WHERE t.tgrelid = tbl AND t.tgname = w.name AND t.tgenabled IN ('O', 'A'));
    IF missing IS NOT NULL THEN
        RETURN format('its triggers %s must stay in place and enabled', missing);
    END IF;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._managed_problem(regclass, name, name, boolean) IS 'internal: what is wrong with a managed table''s columns or triggers, NULL when nothing';
REVOKE ALL ON FUNCTION @extschema@._managed_problem(regclass, name, name, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@._manage(tbl regclass, key_column name, tier_column name, policy text, require_approval boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor    name := custier._actor();
    rel      record;
    key_att  record;
    tier_att record;
    key_eq   text;
    other    regclass;
    cond     text;
BEGIN
    SELECT c.relkind, c.relowner INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relkind IS DISTINCT FROM 'r' THEN
        RAISE EXCEPTION 'custier cannot manage %: it is not an ordinary table', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Views, foreign tables and partitioned tables are not supported.';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits i WHERE i.inhparent = tbl OR i.inhrelid = tbl) THEN
        RAISE EXCEPTION 'custier cannot manage %: it is a partition, or takes part in inheritance', tbl
            USING ERRCODE = 'wrong_object_type', HINT = 'Rows of child tables would escape its triggers.';
    END IF;
    IF NOT pg_has_role(actor, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to manage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT a.attnum, a.atttypid, a.attnotnull INTO key_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', key_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    SELECT a.attnum, a.atttypid INTO tier_att FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tier_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', tier_column, tbl USING ERRCODE = 'undefined_column';
    END IF;
    IF tier_att.atttypid <> 'custier.tier'::regtype THEN
        RAISE EXCEPTION 'tier column "%" of table % is of type %, not custier.tier', tier_column, tbl, tier_att.atttypid::regtype
            USING ERRCODE = 'datatype_mismatch', HINT = 'Convert it with ALTER TABLE … ALTER COLUMN … TYPE custier.tier.';
    END IF;
    IF key_att.attnum = tier_att.attnum THEN
        RAISE EXCEPTION 'key column and tier column of table % are both "%"', tbl, key_column
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    IF NOT key_att.attnotnull THEN
        RAISE EXCEPTION 'key column "%" of table % must be NOT NULL', key_column, tbl
            USING ERRCODE = 'invalid_column_reference', HINT = 'ALTER TABLE … ALTER COLUMN … SET NOT NULL.';
    END IF;
    -- The key's equality, from a unique index on that column alone.
    SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname) INTO key_eq
      FROM pg_index i
      JOIN pg_opclass oc ON oc.oid = i.indclass[0]
      JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amoplefttype = oc.opcintype
                     AND ao.amoprighttype = oc.opcintype AND ao.amopstrategy = 3
      JOIN pg_operator o ON o.oid = ao.amopopr
      JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE i.indrelid = tbl AND i.indisunique AND i.indisvalid AND i.indimmediate
       AND i.indpred IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = key_att.attnum
     LIMIT 1;
    IF key_eq IS NULL THEN
        RAISE EXCEPTION 'key column "%" of table % is not unique', key_column, tbl
            USING ERRCODE = 'invalid_column_reference',
                  HINT = 'custier needs a primary key, or a unique index or constraint (not deferrable, not partial), on that column alone.';
    END IF;
    IF EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _manage.tbl) THEN
        RAISE EXCEPTION 'table % is already managed by custier', tbl
            USING ERRCODE = 'duplicate_object', HINT = 'One managed tier column per table; call custier.unmanage first to change it.';
    END IF;
    IF NOT EXISTS (SELECT FROM custier.policy p WHERE p.name = _manage.policy) THEN
        RAISE EXCEPTION 'policy "%" does not exist', policy USING ERRCODE = 'undefined_object';
    END IF;
    SELECT m.tbl INTO other FROM custier.managed_table m WHERE m.policy = _manage.policy;
    IF FOUND THEN
        RAISE EXCEPTION 'policy "%" already serves table %', policy, other
            USING ERRCODE = 'duplicate_object', HINT = 'A policy serves at most one managed table; create another policy for this one.';
    END IF;

    INSERT INTO custier.managed_table VALUES (tbl, key_column, tier_column, policy, require_approval, now(), actor);

    -- The WHEN clauses keep updates that touch neither grade nor key out of
    -- the trigger queue; the C code then compares exactly.
    cond := format('(OLD.%1$I OPERATOR(custier.=) NEW.%1$I) IS NOT TRUE OR (OLD.%2$I %3$s NEW.%2$I) IS NOT TRUE',
                   tier_column, key_column, key_eq);
    EXECUTE format('CREATE TRIGGER custier_history AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, cond, key_att.attnum, tier_att.attnum);
    EXECUTE format('CREATE TRIGGER custier_history_insert_delete AFTER INSERT OR DELETE ON %s FOR EACH ROW '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_att.attnum, tier_att.attnum);
    EXECUTE format('CREATE TRIGGER custier_history_flush AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_att.attnum, tier_att.attnum);
    EXECUTE format('CREATE TRIGGER custier_history_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION custier.history_trigger(%L, %L)', tbl, key_att.attnum, tier_att.attnum);
    IF require_approval THEN
        -- Grade changes, and graded rows arriving at a key (which must not
        -- bring another grade than the key's recorded one).
        EXECUTE format('CREATE TRIGGER custier_guard AFTER UPDATE ON %s FOR EACH ROW WHEN (%s) '
                       'EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, cond, key_att.attnum, tier_att.attnum);
        EXECUTE format('CREATE TRIGGER custier_guard_insert AFTER INSERT ON %s FOR EACH ROW '
                       'WHEN (NEW.%I IS NOT NULL) EXECUTE FUNCTION custier.guard_trigger(%L, %L)',
                       tbl, tier_column, key_att.attnum, tier_att.attnum);
    END IF;

    -- Grades the table holds now are on record from now on: the history
    -- continues where an earlier registration left it.  Keys are written
    -- as the triggers write them, by the key type's output function.
    EXECUTE format($q$
        INSERT INTO custier.tier_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by, reason)
        SELECT $1, coalesce(cur.k, was.customer_key), was.tier, cur.t, clock_timestamp(), $2,
               'custier.manage: grade when registered'
          FROM (SELECT pg_catalog.format('%%s', %I) COLLATE "C" AS k, %I AS t FROM %s WHERE %I IS NOT NULL) cur
          FULL JOIN custier.tiers_at($1, 'infinity') was ON was.customer_key = cur.k
         WHERE (was.tier IS NULL) <> (cur.t IS NULL) OR was.tier OPERATOR(custier.<>) cur.t
         ORDER BY 2 $q$, key_column, tier_column, tbl, tier_column)
    USING tbl, actor;
END $$;
COMMENT ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) IS 'internal: the checks and work of custier.manage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._manage(regclass, name, name, text, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.manage(tbl regclass, key_column name, tier_column name, policy text,
                                   require_approval boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'manage';
COMMENT ON FUNCTION @extschema@.manage(regclass, name, name, text, boolean) IS 'attaches custier to a customer table: its tier column is graded by the policy, every change recorded, and with require_approval guarded';

CREATE FUNCTION @extschema@._unmanage(tbl regclass)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor name := custier._actor();
    trg   text;
BEGIN
    IF NOT EXISTS (SELECT FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl) THEN
        RAISE EXCEPTION 'table % is not managed by custier', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT pg_has_role(actor, (SELECT c.relowner FROM pg_class c WHERE c.oid = tbl), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table % to unmanage it', tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Unregister first: the drop event trigger then lets the triggers go.
    DELETE FROM custier.managed_table m WHERE m.tbl = _unmanage.tbl;
    FOR trg IN SELECT t.tgname FROM pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgname IN ('custier_guard', 'custier_guard_insert', 'custier_history', 'custier_history_insert_delete',
                                                      'custier_history_flush', 'custier_history_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, tbl);
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._unmanage(regclass) IS 'internal: the checks and work of custier.unmanage, run as custier''s owner';
REVOKE ALL ON FUNCTION @extschema@._unmanage(regclass) FROM PUBLIC;

CREATE FUNCTION @extschema@.unmanage(tbl regclass)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'unmanage';
COMMENT ON FUNCTION @extschema@.unmanage(regclass) IS 'detaches custier from a table: removes its triggers; its history stays';

-- ---------------------------------------------------------------------
-- As-of queries
-- ---------------------------------------------------------------------
-- tiers_at reads tier_history as its owner (row-level security would call
-- has_table_privilege once per history row: 4x the cost over 1M customers)
-- once it has checked that the caller may read the table it is asked about,
-- which is what that policy asks.  _tiers_at is the query.
CREATE FUNCTION @extschema@._tiers_at(tbl regclass, at timestamptz)
RETURNS TABLE (customer_key text, tier @extschema@.tier)
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- One ordered pass over tier_history_as_of: the latest change of each key.
    SELECT s.customer_key, s.new_tier
      FROM (SELECT DISTINCT ON (h.customer_key) h.customer_key, h.new_tier
              FROM custier.tier_history h
             WHERE h.tbl = $1 AND h.changed_at <= $2
             ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC) s
     WHERE s.new_tier IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@._tiers_at(regclass, timestamptz) IS 'internal: the query of custier.tiers_at';
REVOKE ALL ON FUNCTION @extschema@._tiers_at(regclass, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.tiers_at(tbl regclass, at timestamptz)
RETURNS TABLE (customer_key text, tier @extschema@.tier)
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tiers_at';
COMMENT ON FUNCTION @extschema@.tiers_at(regclass, timestamptz) IS 'every customer''s grade as it stood at a time, under the key it had then';

CREATE FUNCTION @extschema@.tier_at(tbl regclass, customer_key text, at timestamptz)
RETURNS @extschema@.tier
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- Follow key changes back to the key the customer had at that time.
    WITH RECURSIVE named (key, until) AS (
        SELECT $2 COLLATE "C", 'infinity'::timestamptz
      UNION ALL
        SELECT k.old_key, k.changed_at
          FROM named n,
               LATERAL (SELECT c.old_key, c.changed_at FROM custier.customer_key_change c
                         WHERE c.tbl = $1 AND c.new_key = n.key AND c.changed_at < n.until
                         ORDER BY c.changed_at DESC LIMIT 1) k
         WHERE k.changed_at > $3
    )
    SELECT h.new_tier
      FROM (SELECT key FROM named ORDER BY until LIMIT 1) n,
           LATERAL (SELECT h.new_tier FROM custier.tier_history h
                     WHERE h.tbl = $1 AND h.customer_key = n.key AND h.changed_at <= $3
                     ORDER BY h.changed_at DESC, h.history_id DESC LIMIT 1) h
$$;
COMMENT ON FUNCTION @extschema@.tier_at(regclass, text, timestamptz) IS 'a customer''s grade as it stood at a time (NULL before it had one), following key changes';

-- ---------------------------------------------------------------------
-- Event triggers: a dropped table leaves its history and its registration
-- goes; DDL that would silently stop the recording is refused.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d record;
BEGIN
    DELETE FROM custier.managed_table m
     USING pg_event_trigger_dropped_objects() o
     WHERE o.classid = 'pg_class'::regclass AND o.objsubid = 0 AND o.objid = m.tbl::oid;
    FOR d IN SELECT o.address_names FROM pg_event_trigger_dropped_objects() o
              WHERE o.object_type = 'trigger' AND o.address_names[3] LIKE 'custier\_%' LOOP
        IF EXISTS (SELECT FROM custier.managed_table m
                     JOIN pg_class c ON c.oid = m.tbl
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = d.address_names[1] AND c.relname = d.address_names[2]) THEN
            RAISE EXCEPTION 'cannot drop trigger % on %.%: the table is managed by custier',
                            d.address_names[3], d.address_names[1], d.address_names[2]
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Call custier.unmanage on the table first.';
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._on_sql_drop() IS 'event trigger: forgets dropped managed tables (their history stays) and refuses dropping custier''s triggers';

CREATE FUNCTION @extschema@._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m       record;
    problem text;
BEGIN
    FOR m IN SELECT * FROM custier.managed_table LOOP
        problem := custier._managed_problem(m.tbl, m.key_column, m.tier_column, m.require_approval);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'table % is managed by custier: %', m.tbl, problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = format('Call custier.unmanage(%L) first.', m.tbl);
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@._on_ddl_end() IS 'event trigger: refuses ALTERs that would rename, retype or unguard a managed table''s key and tier columns or disable its triggers, and child tables of a managed table';

CREATE EVENT TRIGGER custier_sql_drop ON sql_drop EXECUTE FUNCTION @extschema@._on_sql_drop();
CREATE EVENT TRIGGER custier_ddl_end ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TRIGGER', 'CREATE TABLE', 'CREATE FOREIGN TABLE') EXECUTE FUNCTION @extschema@._on_ddl_end();
COMMENT ON EVENT TRIGGER custier_sql_drop IS 'custier: forgets dropped managed tables, protects custier''s triggers';
COMMENT ON EVENT TRIGGER custier_ddl_end IS 'custier: keeps managed tables'' key and tier columns and triggers intact';

-- ==== src/adjustment.sql ====
-- adjustment.sql — adjustment approvals (SPEC §5): tables whose triggers are
-- the state machine, and the functions users call (C in src/adjustment.c).
--
--   proposed ──approve──▶ applied      (approve records the decision and applies the grade at once)
--      │ ──reject───▶ rejected
--      └──withdraw──▶ withdrawn
-- 'approved' is a valid status for adjustments applied by other means
-- (evaluation runs); the state machine never leaves a row there.

CREATE TABLE @extschema@.adjustment (
    adjustment_id bigserial PRIMARY KEY,
    tbl           regclass NOT NULL,
    customer_key  text NOT NULL,
    from_tier     @extschema@.tier,
    to_tier       @extschema@.tier NOT NULL,
    reason        text NOT NULL,
    evidence      jsonb,
    status        text NOT NULL DEFAULT 'proposed'
                  CHECK (status IN ('proposed', 'approved', 'applied', 'rejected', 'withdrawn')),
    proposed_by   name NOT NULL,
    proposed_at   timestamptz NOT NULL,
    decided_by    name,
    decided_at    timestamptz,
    decision_note text,
    evaluation_id bigint
);
COMMENT ON TABLE @extschema@.adjustment IS 'grade change requests (客户级别调整申请): proposed, reviewed, then approved and applied, rejected or withdrawn';
-- At most one open adjustment per customer, whatever races.
CREATE UNIQUE INDEX adjustment_open ON @extschema@.adjustment (tbl, customer_key) WHERE status IN ('proposed', 'approved');
COMMENT ON INDEX @extschema@.adjustment_open IS 'one open adjustment per customer';

CREATE TABLE @extschema@.adjustment_review (
    adjustment_id bigint NOT NULL REFERENCES @extschema@.adjustment,
    department    text NOT NULL,
    reviewer      name NOT NULL,
    opinion       text NOT NULL CHECK (opinion IN ('support', 'oppose')),
    comment       text,
    reviewed_at   timestamptz NOT NULL,
    PRIMARY KEY (adjustment_id, department)
);
COMMENT ON TABLE @extschema@.adjustment_review IS 'one department''s opinion on an adjustment';

CREATE TABLE @extschema@.adjustment_event (
    event_id      bigserial PRIMARY KEY,
    adjustment_id bigint NOT NULL REFERENCES @extschema@.adjustment,
    event         text NOT NULL,
    actor         name NOT NULL,
    at            timestamptz NOT NULL,
    detail        jsonb
);
COMMENT ON TABLE @extschema@.adjustment_event IS 'append-only log of every step of every adjustment';
CREATE INDEX adjustment_event_adjustment ON @extschema@.adjustment_event (adjustment_id);
COMMENT ON INDEX @extschema@.adjustment_event_adjustment IS 'the steps of one adjustment';
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.adjustment_event
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment_event ENABLE ALWAYS TRIGGER append_only;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_adjustment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_review', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.adjustment_event_event_id_seq', '');
COMMENT ON SEQUENCE @extschema@.adjustment_adjustment_id_seq IS 'adjustment_id of custier.adjustment';
COMMENT ON SEQUENCE @extschema@.adjustment_event_event_id_seq IS 'event_id of custier.adjustment_event';

-- Written through the functions below; read by whoever may read the table concerned.
REVOKE ALL ON @extschema@.adjustment, @extschema@.adjustment_review, @extschema@.adjustment_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.adjustment_adjustment_id_seq, @extschema@.adjustment_event_event_id_seq FROM PUBLIC;
GRANT SELECT ON @extschema@.adjustment, @extschema@.adjustment_review, @extschema@.adjustment_event TO PUBLIC;
ALTER TABLE @extschema@.adjustment ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment FOR SELECT
    USING (pg_catalog.has_table_privilege(tbl, 'SELECT'));
ALTER TABLE @extschema@.adjustment_review ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment_review FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.adjustment a WHERE a.adjustment_id = adjustment_review.adjustment_id));
ALTER TABLE @extschema@.adjustment_event ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable ON @extschema@.adjustment_event FOR SELECT
    USING (EXISTS (SELECT FROM @extschema@.adjustment a WHERE a.adjustment_id = adjustment_event.adjustment_id));

CREATE FUNCTION @extschema@._applying(adjustment_id bigint) RETURNS boolean
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'adjustment_applying';
COMMENT ON FUNCTION @extschema@._applying(bigint) IS 'internal: true while custier.approve itself applies this adjustment';

-- ---------------------------------------------------------------------
-- The state machine
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._adjustment_log(a custier.adjustment, event text, detail jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO custier.adjustment_event (adjustment_id, event, actor, at, detail)
    VALUES (a.adjustment_id, event, custier._actor(), now(), detail);
    PERFORM pg_notify('custier_adjustment', json_build_object(
        'adjustment_id', a.adjustment_id, 'status', a.status, 'event', event,
        'tbl', a.tbl::text, 'customer_key', a.customer_key,
        'from_tier', a.from_tier::text, 'to_tier', a.to_tier::text)::text);
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_log(custier.adjustment, text, jsonb) IS 'internal: logs a step in adjustment_event and sends NOTIFY custier_adjustment';
REVOKE ALL ON FUNCTION @extschema@._adjustment_log(custier.adjustment, text, jsonb) FROM PUBLIC;

-- Reviews still missing for an adjustment (departments of its policy).
CREATE FUNCTION @extschema@._missing_reviews(a custier.adjustment) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg(r.department, ', ' ORDER BY r.department)
      FROM custier.managed_table m
      JOIN custier.policy_reviewer r ON r.policy = m.policy
     WHERE m.tbl = a.tbl
       AND NOT EXISTS (SELECT FROM custier.adjustment_review v
                        WHERE v.adjustment_id = a.adjustment_id AND v.department = r.department)
$$;
COMMENT ON FUNCTION @extschema@._missing_reviews(custier.adjustment) IS 'internal: departments whose review an adjustment still lacks';
REVOKE ALL ON FUNCTION @extschema@._missing_reviews(custier.adjustment) FROM PUBLIC;

-- Four eyes means two people, not two role names: a proposer who is a
-- member of the approving role (and so can SET ROLE to it), or who is the
-- session's login behind a SECURITY DEFINER wrapper, is the same person.
-- Superusers can act as anyone anyway, so their proposals are exempt.
CREATE FUNCTION @extschema@._acts_for(proposer name, approver name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = proposer AND NOT r.rolsuper) THEN false
                ELSE session_user = proposer OR pg_has_role(proposer, approver, 'MEMBER') END
$$;
COMMENT ON FUNCTION @extschema@._acts_for(name, name) IS 'internal: can the (non-superuser) proposer act as the approver: a member of its role, or the session''s login';
REVOKE ALL ON FUNCTION @extschema@._acts_for(name, name) FROM PUBLIC;

-- The approval preconditions, checked by approve() and again by the state
-- machine for a direct UPDATE to approved/applied.
CREATE FUNCTION @extschema@._check_approvable(a custier.adjustment, actor name) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    missing text;
BEGIN
    IF custier._acts_for(a.proposed_by, actor) THEN
        RAISE EXCEPTION 'adjustment % was proposed by %, who can act as %: % cannot approve it',
                        a.adjustment_id, a.proposed_by, actor, actor
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another role must approve it (four eyes): one its proposer is not a member of, in a session the proposer did not log in.';
    END IF;
    missing := custier._missing_reviews(a);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'adjustment % still needs the review of: %', a.adjustment_id, missing
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Each department records its opinion with custier.review.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_approvable(custier.adjustment, name) IS 'internal: raises unless the actor may approve the adjustment now (four eyes, every review in)';
REVOKE ALL ON FUNCTION @extschema@._check_approvable(custier.adjustment, name) FROM PUBLIC;

CREATE FUNCTION @extschema@._adjustment_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    actor   name := custier._actor();
    m       custier.managed_table;
    lowest  custier.tier;
    cur     record;
    open_id bigint;
    found_rows bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'adjustment % cannot be deleted: adjustments are a record', OLD.adjustment_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Withdraw or reject it instead.';
    END IF;

    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'proposed' THEN
            RAISE EXCEPTION 'a new adjustment must be proposed, not %', NEW.status
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Use custier.propose.';
        END IF;
        SELECT * INTO m FROM custier.managed_table t WHERE t.tbl = NEW.tbl;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'table % is not managed by custier', NEW.tbl
                USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Call custier.manage first.';
        END IF;
        IF NEW.reason IS NULL OR btrim(NEW.reason) = '' THEN
            RAISE EXCEPTION 'an adjustment of customer "%" needs a reason', NEW.customer_key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT p.lowest INTO lowest FROM custier.policy p WHERE p.name = m.policy;
        IF custier.rank(NEW.to_tier) > custier.rank(lowest) THEN
            RAISE EXCEPTION 'grade % is outside the scale A..% of policy "%"', NEW.to_tier, lowest, m.policy
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Lock the customer: proposals for it (and grade changes) queue here.
        -- The key is cast without its typmod (a varchar(3) cast would cut
        -- 'abcd' down to 'abc'), and recorded as custier records keys, by the
        -- type's output function ('007' of an integer key is customer '7').
        EXECUTE format('SELECT %I AS grade, format(''%%s'', %I) AS key FROM %s WHERE %I = CAST($1 AS %s) FOR UPDATE',
                       m.tier_column, m.key_column, m.tbl, m.key_column,
                       (SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
                         WHERE a.attrelid = m.tbl AND a.attname = m.key_column))
           INTO cur USING NEW.customer_key;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        IF found_rows = 0 THEN
            RAISE EXCEPTION 'customer "%" does not exist in table %', NEW.customer_key, NEW.tbl
                USING ERRCODE = 'no_data_found';
        END IF;
        NEW.customer_key := cur.key;
        IF cur.grade IS NOT NULL AND cur.grade OPERATOR(custier.=) NEW.to_tier THEN
            RAISE EXCEPTION 'customer "%" of table % already has grade %', NEW.customer_key, NEW.tbl, NEW.to_tier
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT a.adjustment_id INTO open_id FROM custier.adjustment a
         WHERE a.tbl = NEW.tbl AND a.customer_key = NEW.customer_key AND a.status IN ('proposed', 'approved');
        IF FOUND THEN
            RAISE EXCEPTION 'customer "%" of table % already has an open adjustment (%)', NEW.customer_key, NEW.tbl, open_id
                USING ERRCODE = 'unique_violation', HINT = 'Decide or withdraw that one first.';
        END IF;
        NEW.from_tier := cur.grade;
        NEW.proposed_by := actor;
        NEW.proposed_at := now();
        NEW.decided_by := NULL;
        NEW.decided_at := NULL;
        NEW.decision_note := NULL;
        RETURN NEW;
    END IF;

    -- UPDATE: only the status moves, and only out of 'proposed'.
    IF (NEW.adjustment_id, NEW.tbl, NEW.customer_key, NEW.reason, NEW.proposed_by, NEW.proposed_at)
       IS DISTINCT FROM (OLD.adjustment_id, OLD.tbl, OLD.customer_key, OLD.reason, OLD.proposed_by, OLD.proposed_at)
       OR NEW.evidence IS DISTINCT FROM OLD.evidence OR NEW.evaluation_id IS DISTINCT FROM OLD.evaluation_id
       OR NEW.from_tier::text IS DISTINCT FROM OLD.from_tier::text OR NEW.to_tier::text IS DISTINCT FROM OLD.to_tier::text THEN
        RAISE EXCEPTION 'adjustment % cannot be edited: only its status changes', OLD.adjustment_id
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Withdraw it and propose again.';
    END IF;
    IF OLD.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed', OLD.adjustment_id, OLD.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    CASE NEW.status
    WHEN 'applied' THEN
        IF NOT custier._applying(OLD.adjustment_id) THEN
            RAISE EXCEPTION 'adjustment % can only be applied by custier.approve', OLD.adjustment_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF actor = OLD.proposed_by THEN
            RAISE EXCEPTION 'adjustment % was proposed by %, who cannot approve it', OLD.adjustment_id, actor
                USING ERRCODE = 'insufficient_privilege', HINT = 'Another role must approve it (four eyes).';
        END IF;
        PERFORM custier._check_approvable(OLD, actor);
    WHEN 'rejected' THEN
        IF NEW.decision_note IS NULL OR btrim(NEW.decision_note) = '' THEN
            RAISE EXCEPTION 'rejecting adjustment % needs a note', OLD.adjustment_id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    WHEN 'withdrawn' THEN
        IF actor <> OLD.proposed_by THEN
            RAISE EXCEPTION 'adjustment % can only be withdrawn by its proposer %', OLD.adjustment_id, OLD.proposed_by
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        RAISE EXCEPTION 'adjustment % cannot go from proposed to %', OLD.adjustment_id, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Use custier.approve, custier.reject or custier.withdraw.';
    END CASE;
    NEW.decided_by := actor;
    NEW.decided_at := now();
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_guard() IS 'trigger: the adjustment state machine, for the functions and for direct writes alike';

CREATE FUNCTION @extschema@._adjustment_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM custier._adjustment_log(NEW, NEW.status,
        CASE TG_OP WHEN 'INSERT' THEN jsonb_build_object('reason', NEW.reason, 'evidence', NEW.evidence)
                   ELSE jsonb_build_object('note', NEW.decision_note) END);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_logged() IS 'trigger: logs and announces each step of an adjustment';

CREATE TRIGGER state_machine BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._adjustment_guard();
CREATE TRIGGER logged AFTER INSERT OR UPDATE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._adjustment_logged();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON @extschema@.adjustment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER state_machine;
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER logged;
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER no_truncate;

CREATE FUNCTION @extschema@._review_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a custier.adjustment;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION 'reviews cannot be changed or removed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Locks the adjustment: a review and a decision never cross.
    SELECT * INTO a FROM custier.adjustment x WHERE x.adjustment_id = NEW.adjustment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', NEW.adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
    IF a.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed: it takes no more reviews', a.adjustment_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NOT EXISTS (SELECT FROM custier.managed_table m JOIN custier.policy_reviewer r ON r.policy = m.policy
                    WHERE m.tbl = a.tbl AND r.department = NEW.department) THEN
        RAISE EXCEPTION 'department "%" does not review adjustments of table %', NEW.department, a.tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The reviewing departments are the rows of custier.policy_reviewer for the table''s policy.';
    END IF;
    IF EXISTS (SELECT FROM custier.adjustment_review v
                WHERE v.adjustment_id = NEW.adjustment_id AND v.department = NEW.department) THEN
        RAISE EXCEPTION 'department "%" has already reviewed adjustment %', NEW.department, NEW.adjustment_id
            USING ERRCODE = 'unique_violation';
    END IF;
    IF NEW.opinion IS NULL OR NEW.opinion NOT IN ('support', 'oppose') THEN
        RAISE EXCEPTION 'opinion must be ''support'' or ''oppose'', not %', coalesce(quote_literal(NEW.opinion), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    NEW.reviewer := custier._actor();
    NEW.reviewed_at := now();
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._review_guard() IS 'trigger: a review is recorded once per department, while the adjustment is proposed';

CREATE FUNCTION @extschema@._review_logged() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM custier._adjustment_log(a, 'reviewed',
        jsonb_build_object('department', NEW.department, 'opinion', NEW.opinion, 'comment', NEW.comment))
       FROM custier.adjustment a WHERE a.adjustment_id = NEW.adjustment_id;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION @extschema@._review_logged() IS 'trigger: logs and announces a review';

CREATE TRIGGER state_machine BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.adjustment_review
    FOR EACH ROW EXECUTE FUNCTION @extschema@._review_guard();
CREATE TRIGGER logged AFTER INSERT ON @extschema@.adjustment_review
    FOR EACH ROW EXECUTE FUNCTION @extschema@._review_logged();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON @extschema@.adjustment_review
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.history_append_only();
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER state_machine;
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER logged;
ALTER TABLE @extschema@.adjustment_review ENABLE ALWAYS TRIGGER no_truncate;

-- ---------------------------------------------------------------------
-- The functions (C entry points capture the acting role, then run these
-- as custier's owner).  EXECUTE is not granted to PUBLIC: grant propose
-- and withdraw to those who propose, review to the departments, approve
-- and reject to management.
-- ---------------------------------------------------------------------
CREATE FUNCTION @extschema@._propose(tbl regclass, customer_key text, to_tier custier.tier, reason text, evidence jsonb)
RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, proposed_by, proposed_at)
    VALUES ($1, $2, $3, $4, $5, custier._actor(), now())
    RETURNING adjustment_id
$$;
COMMENT ON FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb) IS 'internal: the work of custier.propose';
REVOKE ALL ON FUNCTION @extschema@._propose(regclass, text, custier.tier, text, jsonb) FROM PUBLIC;

CREATE FUNCTION @extschema@._decide(adjustment_id bigint, status text, note text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE custier.adjustment a SET status = _decide.status, decision_note = _decide.note
     WHERE a.adjustment_id = _decide.adjustment_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
END $$;
COMMENT ON FUNCTION @extschema@._decide(bigint, text, text) IS 'internal: the work of custier.reject and custier.withdraw (and the last step of approve)';
REVOKE ALL ON FUNCTION @extschema@._decide(bigint, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@._approval(adjustment_id bigint,
    OUT tbl oid, OUT table_owner oid, OUT customer_key text, OUT reason text, OUT from_tier text, OUT apply_sql text,
    OUT to_tier text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a       custier.adjustment;
    m       custier.managed_table;
BEGIN
    -- The lock makes concurrent approvals, rejections and withdrawals queue.
    SELECT * INTO a FROM custier.adjustment x WHERE x.adjustment_id = _approval.adjustment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'adjustment % does not exist', _approval.adjustment_id USING ERRCODE = 'undefined_object';
    END IF;
    IF a.status <> 'proposed' THEN
        RAISE EXCEPTION 'adjustment % is %, not proposed', a.adjustment_id, a.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF custier._actor() = a.proposed_by THEN
        RAISE EXCEPTION 'adjustment % was proposed by %, who cannot approve it', a.adjustment_id, a.proposed_by
            USING ERRCODE = 'insufficient_privilege', HINT = 'Another role must approve it (four eyes).';
    END IF;
    PERFORM custier._check_approvable(a, custier._actor());
    SELECT * INTO m FROM custier.managed_table t WHERE t.tbl = a.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is no longer managed by custier', a.tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    tbl := a.tbl;
    table_owner := (SELECT c.relowner FROM pg_class c WHERE c.oid = a.tbl);
    customer_key := a.customer_key;
    reason := a.reason;
    from_tier := a.from_tier::text;
    to_tier := a.to_tier::text;
    -- $1 key, $2 to_tier, $3 from_tier: changes the row only if its grade is still from_tier.
    apply_sql := format('UPDATE %s SET %I = CAST($2 AS custier.tier) WHERE %I = CAST($1 AS %s) AND %s',
                        a.tbl, m.tier_column, m.key_column,
                        (SELECT format_type(t.atttypid, NULL) FROM pg_attribute t
                          WHERE t.attrelid = a.tbl AND t.attname = m.key_column),
                        CASE WHEN a.from_tier IS NULL THEN format('%I IS NULL AND $3 IS NULL', m.tier_column)
                             ELSE format('%I OPERATOR(custier.=) CAST($3 AS custier.tier)', m.tier_column) END);
END $$;
COMMENT ON FUNCTION @extschema@._approval(bigint) IS 'internal: locks and checks an adjustment for custier.approve, and says how to apply it';
REVOKE ALL ON FUNCTION @extschema@._approval(bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.propose(tbl regclass, customer_key text, to_tier @extschema@.tier, reason text,
                                    evidence jsonb DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'propose';
COMMENT ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb) IS 'opens an adjustment: a proposed grade change of one customer, with its reason and evidence';

CREATE FUNCTION @extschema@.review(adjustment_id bigint, department text, opinion text, comment text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'review';
COMMENT ON FUNCTION @extschema@.review(bigint, text, text, text) IS 'records one department''s opinion (support or oppose) on a proposed adjustment';

CREATE FUNCTION @extschema@.approve(adjustment_id bigint, note text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'approve';
COMMENT ON FUNCTION @extschema@.approve(bigint, text) IS 'approves a fully reviewed adjustment (not by its proposer) and applies the grade change at once';

CREATE FUNCTION @extschema@.reject(adjustment_id bigint, note text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'reject';
COMMENT ON FUNCTION @extschema@.reject(bigint, text) IS 'rejects a proposed adjustment; the note says why';

CREATE FUNCTION @extschema@.withdraw(adjustment_id bigint)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'withdraw';
COMMENT ON FUNCTION @extschema@.withdraw(bigint) IS 'the proposer takes a proposed adjustment back';

REVOKE ALL ON FUNCTION @extschema@.propose(regclass, text, @extschema@.tier, text, jsonb),
                       @extschema@.review(bigint, text, text, text),
                       @extschema@.approve(bigint, text),
                       @extschema@.reject(bigint, text),
                       @extschema@.withdraw(bigint) FROM PUBLIC;

-- ==== src/evaluation.sql ====
-- evaluation.sql — evaluation runs (SPEC §6): evaluate(), run_evaluation() (src/evaluation.c).

CREATE TABLE @extschema@.evaluation (
    evaluation_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    policy        text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE,
    as_of         timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at   timestamptz,
    customers     bigint NOT NULL DEFAULT 0,
    changed       bigint NOT NULL DEFAULT 0,
    proposed      bigint NOT NULL DEFAULT 0,
    tbl           regclass NOT NULL,
    batches       integer NOT NULL DEFAULT 0,
    last_key      text,
    started_by    name NOT NULL DEFAULT CURRENT_USER,
    UNIQUE (policy, as_of)
);
COMMENT ON TABLE @extschema@.evaluation IS 'one row per evaluation run of a policy: progress (customers done so far), changes applied and proposed';

CREATE TABLE @extschema@.evaluation_result (
    -- No foreign key: its per-row check would cost more than the row; only
    -- custier's own functions write here.
    evaluation_id  bigint NOT NULL,
    customer_key   text NOT NULL,
    qualified_tier @extschema@.tier NOT NULL,
    proposed_tier  @extschema@.tier NOT NULL,
    score          numeric,
    current_tier   @extschema@.tier,
    action         text NOT NULL CHECK (action IN ('kept', 'applied', 'proposed', 'pending', 'skipped')),
    batch          integer NOT NULL,
    PRIMARY KEY (evaluation_id, customer_key)
);
CREATE INDEX evaluation_result_batch ON @extschema@.evaluation_result (evaluation_id, batch);
COMMENT ON TABLE @extschema@.evaluation_result IS 'one row per customer per evaluation: what the metrics gave (qualified), what the rules proposed, and what was done (action)';

REVOKE ALL ON @extschema@.evaluation, @extschema@.evaluation_result FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.evaluation', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.evaluation_result', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('@extschema@.evaluation', 'evaluation_id'), '');

CREATE FUNCTION @extschema@.proposed_tier(current_tier @extschema@.tier, qualified_tier @extschema@.tier,
                                          earlier @extschema@.tier[], upgrade_after integer,
                                          downgrade_after integer, max_step integer)
RETURNS @extschema@.tier
AS 'MODULE_PATHNAME', 'proposed_tier' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.proposed_tier(@extschema@.tier, @extschema@.tier, @extschema@.tier[], integer, integer, integer) IS
    'the grade the hysteresis rules give: earlier[i] is the tier qualified for i evaluations ago; no grade yet gives the qualified tier';

CREATE FUNCTION @extschema@._evaluation_apply(evaluation_id bigint, batch integer) RETURNS bigint
AS 'MODULE_PATHNAME', 'evaluation_apply' LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION @extschema@._evaluation_apply(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_apply(bigint, integer) IS
    'internal: applies the changes a batch of a running evaluation decided, through the approval guard';

-- What an evaluation needs to know about a policy, checked.
CREATE FUNCTION @extschema@._evaluation_setup(p_policy text,
    OUT tbl regclass, OUT key_column name, OUT tier_column name, OUT key_type text,
    OUT metrics_source regclass, OUT metrics_key name,
    OUT upgrade_after integer, OUT downgrade_after integer, OUT max_step integer, OUT approval text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE pol custier.policy;
BEGIN
    SELECT * INTO pol FROM custier.policy p WHERE p.name = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', p_policy
            USING ERRCODE = 'undefined_object', HINT = 'Policies are rows of custier.policy.';
    END IF;
    SELECT m.tbl, m.key_column, m.tier_column INTO tbl, key_column, tier_column
    FROM custier.managed_table m WHERE m.policy = p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" grades no managed table', p_policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Attach it to a customer table with custier.manage().';
    END IF;
    IF pol.metrics_source IS NULL OR pol.key_column IS NULL THEN
        RAISE EXCEPTION 'policy "%" has no metrics source', p_policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set custier.policy.metrics_source and key_column to a table or view with one row per customer.';
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO key_type
    FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = key_column AND NOT a.attisdropped;
    metrics_source := pol.metrics_source;
    metrics_key := pol.key_column;
    upgrade_after := pol.upgrade_after;
    downgrade_after := pol.downgrade_after;
    max_step := pol.max_step;
    approval := pol.approval;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_setup(text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_setup(text) IS 'internal: the managed table, metrics source and rules of a policy, checked';

-- The one query behind evaluate() and every batch of run_evaluation().
-- $1 text: with p_resume, start after this key; $2 bigint: at most
-- this many customers (NULL: all); $3 bigint[]: earlier evaluations, newest
-- first; $4 boolean: explain every customer.
CREATE FUNCTION @extschema@._evaluation_query(p_policy text, p_resume boolean) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record; earlier text;
BEGIN
    s := custier._evaluation_setup(p_policy);
    IF greatest(s.upgrade_after, s.downgrade_after) > 1 THEN
        earlier := format($q$ARRAY(SELECT r.qualified_tier FROM pg_catalog.unnest($3) WITH ORDINALITY e(id, n)
                   LEFT JOIN custier.evaluation_result r ON r.evaluation_id = e.id AND r.customer_key = t.%1$I::text
                   ORDER BY e.n)$q$, s.key_column);
    ELSE
        earlier := $q$'{}'::custier.tier[]$q$;
    END IF;
    RETURN format($q$
SELECT c.customer_key, c.current_tier, c.qualified_tier, c.proposed_tier, c.score,
       -- A customer with no metrics row has no metrics: graded as an empty object.
       CASE WHEN $4 THEN CASE WHEN c.has_metrics THEN custier.explain(%5$L, c.metrics) ELSE custier.explain(%5$L, '{}'::jsonb) END
       END AS explanation
FROM (
    SELECT q.*, custier.proposed_tier(q.current_tier, q.qualified_tier, q.earlier, %6$s, %7$s, %8$s) AS proposed_tier
    FROM (
        SELECT t.%1$I::text AS customer_key, t.%3$I AS current_tier, (m.%2$I IS NOT NULL) AS has_metrics, m AS metrics,
               CASE WHEN m.%2$I IS NULL THEN custier.assign_tier(%5$L, '{}'::jsonb) ELSE custier.assign_tier(%5$L, m) END AS qualified_tier,
               CASE WHEN m.%2$I IS NULL THEN custier.score(%5$L, '{}'::jsonb) ELSE custier.score(%5$L, m) END AS score,
               %9$s AS earlier
        FROM %4$s t LEFT JOIN %10$s m ON m.%2$I = t.%1$I %12$s
        %13$s
        ORDER BY t.%1$I
        LIMIT $2
    ) q
) c$q$,
        s.key_column, s.metrics_key, s.tier_column, s.tbl, p_policy,
        s.upgrade_after, s.downgrade_after, coalesce(s.max_step::text, 'NULL'),
        earlier, s.metrics_source, s.key_type,
        -- Resuming: both sides start after the key, so each batch reads only its own rows.
        CASE WHEN p_resume THEN format('AND m.%I > $1::%s', s.metrics_key, s.key_type) ELSE '' END,
        CASE WHEN p_resume THEN format('WHERE t.%I > $1::%s', s.key_column, s.key_type) ELSE '' END);
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_query(text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_query(text, boolean) IS 'internal: the set-based query that evaluates a policy''s customers';

-- Earlier finished evaluations a run looks back on, newest first.
CREATE FUNCTION @extschema@._earlier_evaluations(p_policy text, p_as_of timestamptz) RETURNS bigint[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(e.evaluation_id ORDER BY e.as_of DESC), '{}')
    FROM (SELECT ev.evaluation_id, ev.as_of FROM custier.evaluation ev
          WHERE ev.policy = p_policy AND ev.as_of < p_as_of AND ev.finished_at IS NOT NULL
          ORDER BY ev.as_of DESC
          LIMIT (SELECT greatest(p.upgrade_after, p.downgrade_after) - 1
                 FROM custier.policy p WHERE p.name = p_policy)) e
$$;
REVOKE ALL ON FUNCTION @extschema@._earlier_evaluations(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._earlier_evaluations(text, timestamptz) IS 'internal: the finished evaluations of a policy before as_of, newest first, as many as its rules look back on';

CREATE FUNCTION @extschema@.evaluate(policy text, as_of timestamptz DEFAULT now())
RETURNS TABLE (customer_key text, current_tier @extschema@.tier, qualified_tier @extschema@.tier,
               proposed_tier @extschema@.tier, score numeric, explanation jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF $2 IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY EXECUTE custier._evaluation_query($1, false)
        USING NULL::text, NULL::bigint, custier._earlier_evaluations($1, $2), true;
END $$;
REVOKE ALL ON FUNCTION @extschema@.evaluate(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.evaluate(text, timestamptz) IS
    'what an evaluation of the policy would do now: current, qualified and proposed tier, score and explanation for every customer; changes nothing';

-- Finds or starts the evaluation of (policy, as_of).
CREATE FUNCTION @extschema@._evaluation_begin(p_policy text, p_as_of timestamptz, p_batch_size integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record; id bigint;
BEGIN
    IF p_as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be a positive integer, not %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := custier._evaluation_setup(p_policy);
    -- Look first: ON CONFLICT would spend an evaluation_id on every resume.
    SELECT e.evaluation_id INTO id FROM custier.evaluation e WHERE e.policy = p_policy AND e.as_of = p_as_of;
    IF id IS NULL THEN
        INSERT INTO custier.evaluation (policy, as_of, tbl, started_by)
        VALUES (p_policy, p_as_of, s.tbl, session_user)
        ON CONFLICT (policy, as_of) DO NOTHING
        RETURNING evaluation_id INTO id;
    END IF;
    IF id IS NULL THEN  -- another session started it meanwhile
        SELECT e.evaluation_id INTO id FROM custier.evaluation e WHERE e.policy = p_policy AND e.as_of = p_as_of;
    END IF;
    RETURN id;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_begin(text, timestamptz, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_begin(text, timestamptz, integer) IS 'internal: finds or starts the evaluation of a policy at as_of';

-- Evaluates, records and applies the next batch of a running evaluation.
CREATE FUNCTION @extschema@._evaluation_step(p_evaluation_id bigint, p_batch_size integer,
    OUT customers bigint, OUT changed bigint, OUT proposed bigint, OUT finished boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE ev custier.evaluation; s record; n bigint; batch_no int; last text; r record;
        evidence jsonb;
BEGIN
    -- The row lock serializes concurrent runners of the same evaluation.
    SELECT * INTO ev FROM custier.evaluation e WHERE e.evaluation_id = p_evaluation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evaluation % does not exist', p_evaluation_id USING ERRCODE = 'undefined_object';
    END IF;
    customers := ev.customers; changed := ev.changed; proposed := ev.proposed;
    finished := ev.finished_at IS NOT NULL;
    IF finished THEN RETURN; END IF;

    s := custier._evaluation_setup(ev.policy);
    batch_no := ev.batches + 1;
    EXECUTE format($q$
        INSERT INTO custier.evaluation_result
            (evaluation_id, customer_key, current_tier, qualified_tier, proposed_tier, score, action, batch)
        SELECT $5, q.customer_key, q.current_tier, q.qualified_tier, q.proposed_tier, q.score,
               CASE WHEN q.proposed_tier OPERATOR(custier.=) q.current_tier THEN 'kept'
                    WHEN q.current_tier IS NULL OR $7 = 'none'
                         OR ($7 = 'downgrade' AND q.proposed_tier OPERATOR(custier.>) q.current_tier) THEN 'applied'
                    %s
                    ELSE 'proposed' END,
               $6
        FROM (%s) q$q$,
        -- Only a policy that asks for approval can have open adjustments to wait on.
        CASE WHEN s.approval <> 'none' THEN
            $w$WHEN EXISTS (SELECT FROM custier.adjustment a
                           WHERE a.tbl = $8 AND a.customer_key = q.customer_key AND a.status IN ('proposed', 'approved')) THEN 'pending'$w$
        ELSE '' END,
        custier._evaluation_query(ev.policy, ev.last_key IS NOT NULL))
    USING ev.last_key, p_batch_size::bigint, custier._earlier_evaluations(ev.policy, ev.as_of), false,
          p_evaluation_id, batch_no, s.approval, s.tbl;
    GET DIAGNOSTICS n = ROW_COUNT;

    IF n > 0 THEN
        EXECUTE format('SELECT max(r.customer_key::%s)::text FROM custier.evaluation_result r
                        WHERE r.evaluation_id = $1 AND r.batch = $2', s.key_type)
        INTO last USING p_evaluation_id, batch_no;
        changed := changed + custier._evaluation_apply(p_evaluation_id, batch_no);

        -- Changes the policy sends for approval become adjustments, with the evidence.
        FOR r IN SELECT er.customer_key, er.current_tier, er.proposed_tier
                 FROM custier.evaluation_result er
                 WHERE er.evaluation_id = p_evaluation_id AND er.batch = batch_no AND er.action = 'proposed'
        LOOP
            EXECUTE format('SELECT custier.explain($1, m) FROM %s m WHERE m.%I = $2::%s',
                           s.metrics_source, s.metrics_key, s.key_type)
            INTO evidence USING ev.policy, r.customer_key;
            -- The adjustment's own trigger checks it, takes from_tier and the
            -- proposer, and locks the customer, as for custier.propose().
            INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, evaluation_id, proposed_by, proposed_at)
            VALUES (s.tbl, r.customer_key, r.proposed_tier,
                    format('evaluation %s of policy "%s"', p_evaluation_id, ev.policy),
                    coalesce(evidence, custier.explain(ev.policy, '{}'::jsonb)), p_evaluation_id, session_user, now());
            proposed := proposed + 1;
        END LOOP;
    END IF;

    customers := customers + n;
    finished := n < p_batch_size;
    UPDATE custier.evaluation e
    SET customers = _evaluation_step.customers, changed = _evaluation_step.changed,
        proposed = _evaluation_step.proposed, batches = batch_no,
        last_key = coalesce(last, e.last_key),
        finished_at = CASE WHEN _evaluation_step.finished THEN clock_timestamp() END
    WHERE e.evaluation_id = p_evaluation_id;
END $$;
REVOKE ALL ON FUNCTION @extschema@._evaluation_step(bigint, integer) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_step(bigint, integer) IS 'internal: evaluates, records and applies the next batch of a running evaluation';

-- No SET clause: a procedure with one cannot COMMIT.  Its body only calls
-- schema-qualified functions that pin their own search_path.
CREATE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE id bigint; step record;
BEGIN
    id := custier._evaluation_begin($1, $2, $3);
    LOOP
        step := custier._evaluation_step(id, $3);
        COMMIT;
        RAISE NOTICE 'evaluation % of policy "%": % customers done, % changed, % proposed%',
            id, $1, step.customers, step.changed, step.proposed,
            CASE WHEN step.finished THEN ' (finished)' ELSE '' END;
        EXIT WHEN step.finished;
    END LOOP;
END $$;
REVOKE ALL ON PROCEDURE @extschema@.run_evaluation(text, timestamptz, integer) FROM PUBLIC;
COMMENT ON PROCEDURE @extschema@.run_evaluation(text, timestamptz, integer) IS
    'evaluates every customer of the policy''s managed table in batches, committing each; applies or proposes the changes; resumes after a crash';
COMMENT ON SEQUENCE @extschema@.evaluation_evaluation_id_seq IS 'evaluation_id of custier.evaluation';
