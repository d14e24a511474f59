/*
 * compat.c — the C symbol names of custier 0.1.0.
 *
 * 0.2.0 prefixes every exported C symbol with custier_ (as contrib does),
 * but the install script of 0.1.0 (custier--0.1.0.sql, frozen as released)
 * names the old symbols: a database still at 0.1.0 calls them until
 * ALTER EXTENSION custier UPDATE, and CREATE EXTENSION custier VERSION
 * '0.1.0' (which the update test runs against this library) looks every one
 * of them up.  Each old name is a thin wrapper calling the new function.
 * The behaviour behind a wrapper is 0.2.0's: SQL-level functions of 0.1.0
 * that 0.2.0 replaced may fail until the extension is updated.  The value
 * metrics aggregates' 0.1.0 support functions (internal states) have no
 * 0.2.0 counterpart: src/metrics_v010.c keeps their names, refusing.
 */
#include "postgres.h"
#include "fmgr.h"

#define CUSTIER_COMPAT(old) \
	extern PGDLLEXPORT Datum custier_##old(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(old); \
	Datum old(PG_FUNCTION_ARGS) { return custier_##old(fcinfo); }

CUSTIER_COMPAT(adjustment_applying)
CUSTIER_COMPAT(approve)
CUSTIER_COMPAT(assign_tier_jsonb)
CUSTIER_COMPAT(assign_tier_record)
CUSTIER_COMPAT(explain_jsonb)
CUSTIER_COMPAT(explain_record)
CUSTIER_COMPAT(frequency)
CUSTIER_COMPAT(growth)
CUSTIER_COMPAT(growth_array)
CUSTIER_COMPAT(guard_trigger)
CUSTIER_COMPAT(history_append_only)
CUSTIER_COMPAT(history_trigger)
CUSTIER_COMPAT(manage)
CUSTIER_COMPAT(policy_audit_trigger)
CUSTIER_COMPAT(policy_edited)
CUSTIER_COMPAT(propose)
CUSTIER_COMPAT(proposed_tier)
CUSTIER_COMPAT(recency)
CUSTIER_COMPAT(reject)
CUSTIER_COMPAT(review)
CUSTIER_COMPAT(score_jsonb)
CUSTIER_COMPAT(score_record)
CUSTIER_COMPAT(tenure)
CUSTIER_COMPAT(tier_cmp)
CUSTIER_COMPAT(tier_down)
CUSTIER_COMPAT(tier_eq)
CUSTIER_COMPAT(tier_from_rank)
CUSTIER_COMPAT(tier_ge)
CUSTIER_COMPAT(tier_gt)
CUSTIER_COMPAT(tier_hash)
CUSTIER_COMPAT(tier_hash_extended)
CUSTIER_COMPAT(tier_in)
CUSTIER_COMPAT(tier_larger)
CUSTIER_COMPAT(tier_le)
CUSTIER_COMPAT(tier_lt)
CUSTIER_COMPAT(tier_mi)
CUSTIER_COMPAT(tier_ne)
CUSTIER_COMPAT(tier_out)
CUSTIER_COMPAT(tier_rank)
CUSTIER_COMPAT(tier_recv)
CUSTIER_COMPAT(tier_send)
CUSTIER_COMPAT(tier_smaller)
CUSTIER_COMPAT(tier_sortsupport)
CUSTIER_COMPAT(tier_up)
CUSTIER_COMPAT(tiers_at)
CUSTIER_COMPAT(unmanage)
CUSTIER_COMPAT(withdraw)

/* custier._actor() of 0.1.0; in 0.2.0 custier_actor_name. */
extern PGDLLEXPORT Datum custier_actor_name(PG_FUNCTION_ARGS);
PG_FUNCTION_INFO_V1(custier_actor);
Datum
custier_actor(PG_FUNCTION_ARGS)
{
	return custier_actor_name(fcinfo);
}

/* custier._evaluation_apply() of 0.1.0: 0.2.0 applies grades by another path. */
PG_FUNCTION_INFO_V1(evaluation_apply);
Datum
evaluation_apply(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("custier 0.1.0's _evaluation_apply is gone from this library"),
			 errhint("Update the extension: ALTER EXTENSION custier UPDATE.")));
	PG_RETURN_NULL();
}
