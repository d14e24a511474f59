-- C symbols: every C function of 0.1.0 now names its custier_-prefixed symbol
-- (src/compat.c keeps the old names for databases still at 0.1.0).

CREATE OR REPLACE FUNCTION @extschema@.tier_in(cstring) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_in' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_out(@extschema@.tier) RETURNS cstring
    AS 'MODULE_PATHNAME', 'custier_tier_out' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_recv(internal) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_recv' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_send(@extschema@.tier) RETURNS bytea
    AS 'MODULE_PATHNAME', 'custier_tier_send' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_eq(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_eq' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_ne(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_ne' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_lt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_lt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_le(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_le' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_gt(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_gt' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_ge(@extschema@.tier, @extschema@.tier) RETURNS boolean
    AS 'MODULE_PATHNAME', 'custier_tier_ge' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_cmp(@extschema@.tier, @extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_cmp' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'custier_tier_sortsupport' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_hash(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_hash' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_hash_extended(@extschema@.tier, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'custier_tier_hash_extended' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_mi(@extschema@.tier, @extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_mi' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.rank(@extschema@.tier) RETURNS integer
    AS 'MODULE_PATHNAME', 'custier_tier_rank' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier(integer) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_from_rank' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_up(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_up' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_down(t @extschema@.tier, steps integer DEFAULT 1) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_down' LANGUAGE C STRICT IMMUTABLE LEAKPROOF PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_larger(@extschema@.tier, @extschema@.tier) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_larger' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tier_smaller(@extschema@.tier, @extschema@.tier) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_tier_smaller' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.recency(m @extschema@.value_metrics, as_of timestamptz) RETURNS interval
    AS 'MODULE_PATHNAME', 'custier_recency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.tenure(m @extschema@.value_metrics, as_of timestamptz) RETURNS interval
    AS 'MODULE_PATHNAME', 'custier_tenure' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.frequency(m @extschema@.value_metrics, as_of timestamptz, per interval) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_frequency' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.growth(current numeric, previous numeric) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_growth' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.growth(amounts numeric[]) RETURNS numeric[]
    AS 'MODULE_PATHNAME', 'custier_growth_array' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.policy_edited() RETURNS trigger
    AS 'MODULE_PATHNAME', 'custier_policy_edited' LANGUAGE C;
CREATE OR REPLACE FUNCTION @extschema@.policy_audit_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'custier_policy_audit_trigger' LANGUAGE C;
CREATE OR REPLACE FUNCTION @extschema@.assign_tier(policy text, metrics jsonb) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_assign_tier_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.assign_tier(policy text, metrics record) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_assign_tier_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.score(policy text, metrics jsonb) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_score_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.score(policy text, metrics record) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_score_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.explain(policy text, metrics jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_explain_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.explain(policy text, metrics record) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_explain_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION @extschema@.history_append_only() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_history_append_only';
CREATE OR REPLACE FUNCTION @extschema@.history_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_history_trigger';
CREATE OR REPLACE FUNCTION @extschema@.guard_trigger() RETURNS trigger
    LANGUAGE C AS 'MODULE_PATHNAME', 'custier_guard_trigger';
CREATE OR REPLACE FUNCTION @extschema@._actor() RETURNS name
    LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_actor_name';
CREATE OR REPLACE FUNCTION @extschema@.manage(tbl regclass, key_column name, tier_column name, policy text,
                                   require_approval boolean DEFAULT false)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_manage';
CREATE OR REPLACE FUNCTION @extschema@.unmanage(tbl regclass)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_unmanage';
CREATE OR REPLACE FUNCTION @extschema@.tiers_at(tbl regclass, at timestamptz)
RETURNS TABLE (customer_key text, tier @extschema@.tier)
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_tiers_at';
CREATE OR REPLACE FUNCTION @extschema@._applying(adjustment_id bigint) RETURNS boolean
    LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'custier_adjustment_applying';
CREATE OR REPLACE FUNCTION @extschema@.propose(tbl regclass, customer_key text, to_tier @extschema@.tier, reason text,
                                    evidence jsonb DEFAULT NULL)
RETURNS bigint LANGUAGE C AS 'MODULE_PATHNAME', 'custier_propose';
CREATE OR REPLACE FUNCTION @extschema@.review(adjustment_id bigint, department text, opinion text, comment text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_review';
CREATE OR REPLACE FUNCTION @extschema@.approve(adjustment_id bigint, note text DEFAULT NULL)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_approve';
CREATE OR REPLACE FUNCTION @extschema@.reject(adjustment_id bigint, note text)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_reject';
CREATE OR REPLACE FUNCTION @extschema@.withdraw(adjustment_id bigint)
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'custier_withdraw';
CREATE OR REPLACE FUNCTION @extschema@.proposed_tier(current_tier @extschema@.tier, qualified_tier @extschema@.tier,
                                          earlier @extschema@.tier[], upgrade_after integer,
                                          downgrade_after integer, max_step integer)
RETURNS @extschema@.tier
AS 'MODULE_PATHNAME', 'custier_proposed_tier' LANGUAGE C IMMUTABLE PARALLEL SAFE;
