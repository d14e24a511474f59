-- tier.sql — the custier.tier type (src/tier.c).

-- The schema is for everyone to use; each table guards itself with its own grants.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

CREATE TYPE @extschema@.tier;

CREATE FUNCTION @extschema@.tier_in(cstring) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_out(@extschema@.tier) RETURNS cstring
    AS 'MODULE_PATHNAME', 'custier_tier_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_recv(internal) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_recv' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_send(@extschema@.tier) RETURNS bytea
    AS 'MODULE_PATHNAME', 'custier_tier_send' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

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
    AS 'MODULE_PATHNAME', 'custier_tier_eq' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_ne(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_ne' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_lt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_lt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_le(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_le' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_gt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_gt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_ge(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_ge' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_cmp(@extschema@.tier, @extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_cmp' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'custier_tier_sortsupport' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_hash(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_hash' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_hash_extended(@extschema@.tier, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'custier_tier_hash_extended' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
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
    AS 'MODULE_PATHNAME', 'custier_tier_mi' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_mi(@extschema@.tier, @extschema@.tier) IS 'implementation of tier - tier';
CREATE OPERATOR @extschema@.- (
    LEFTARG = @extschema@.tier, RIGHTARG = @extschema@.tier, FUNCTION = @extschema@.tier_mi
);
COMMENT ON OPERATOR @extschema@.- (@extschema@.tier, @extschema@.tier) IS 'how many grades the left tier is above the right one (''A'' - ''C'' = 2)';

CREATE FUNCTION @extschema@.rank(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_rank' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.rank(@extschema@.tier) IS 'rank of a tier: A = 1 … Z = 26';
CREATE FUNCTION @extschema@.tier(integer) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_from_rank' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier(integer) IS 'tier of a rank: 1 = A … 26 = Z; other ranks raise 22003';
CREATE FUNCTION @extschema@.tier_up(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_up' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tier_up(@extschema@.tier, integer) IS 'the tier steps grades better (negative: worse), saturating at A and Z';
CREATE FUNCTION @extschema@.tier_down(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_down' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
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
    AS 'MODULE_PATHNAME', 'custier_tier_larger' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.tier_smaller(@extschema@.tier, @extschema@.tier) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_smaller' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
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
