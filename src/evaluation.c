/*
 * evaluation.c — evaluation runs (see doc/reference.md): the hysteresis rule, and the
 * one place where an evaluation's decisions reach a managed table.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "custier.h"
#include "history.h"

PG_FUNCTION_INFO_V1(proposed_tier);
PG_FUNCTION_INFO_V1(evaluation_apply);

/*
 * proposed_tier(current, qualified, earlier tier[], upgrade_after,
 *               downgrade_after, max_step)
 *
 * earlier[i] is what the customer qualified for i evaluations ago (NULL when
 * it was not evaluated then).  An upgrade needs `upgrade_after` consecutive
 * qualifications above the current grade, this one included, and goes to the
 * worst tier of that streak; a downgrade mirrors it.  max_step caps the move.
 */
Datum
proposed_tier(PG_FUNCTION_ARGS)
{
	Tier		current,
				qualified,
				target;
	int32		need,
				max_step;
	bool		upgrade;
	Datum	   *earlier = NULL;
	bool	   *earlier_null = NULL;
	int			n_earlier = 0;
	int			i;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	qualified = PG_GETARG_TIER(1);
	if (PG_ARGISNULL(0))
		PG_RETURN_TIER(qualified);	/* first grading: at once */
	current = PG_GETARG_TIER(0);
	if (qualified == current)
		PG_RETURN_TIER(current);

	upgrade = tier_compare(qualified, current) > 0;
	need = PG_ARGISNULL(upgrade ? 3 : 4) ? 1 : PG_GETARG_INT32(upgrade ? 3 : 4);
	max_step = PG_ARGISNULL(5) ? 0 : PG_GETARG_INT32(5);
	if (need < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least 1, not %d",
						upgrade ? "upgrade_after" : "downgrade_after", need)));
	if (!PG_ARGISNULL(5) && max_step < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_step must be at least 1, not %d", max_step)));

	if (need > 1)
	{
		ArrayType  *arr;

		if (PG_ARGISNULL(2))
			PG_RETURN_TIER(current);
		arr = PG_GETARG_ARRAYTYPE_P(2);
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("earlier qualified tiers must be a one-dimensional array")));
		deconstruct_array(arr, ARR_ELEMTYPE(arr), 1, true, TYPALIGN_CHAR,
						  &earlier, &earlier_null, &n_earlier);
		if (n_earlier < need - 1)
			PG_RETURN_TIER(current);	/* not evaluated often enough yet */
	}

	/* The streak: this qualification and the need-1 before it. */
	target = qualified;
	for (i = 0; i < need - 1; i++)
	{
		Tier		q;

		if (earlier_null[i])
			PG_RETURN_TIER(current);
		q = DatumGetTier(earlier[i]);
		if (upgrade ? tier_compare(q, current) <= 0 : tier_compare(q, current) >= 0)
			PG_RETURN_TIER(current);
		/* Upgrade to the worst tier of the streak, downgrade to its best. */
		if (upgrade ? tier_compare(q, target) < 0 : tier_compare(q, target) > 0)
			target = q;
	}

	if (max_step > 0 && abs((int) target - (int) current) > max_step)
		target = upgrade ? current - max_step : current + max_step;
	PG_RETURN_TIER(target);
}

/*
 * evaluation_apply(evaluation_id, batch) → bigint
 *
 * Applies the changes that batch `batch` of an unfinished evaluation marked
 * 'applied' to the managed table, inside an authorized-change window so the
 * approval guard lets them through and the history rows name the evaluation.
 * Rows whose grade moved since they were evaluated are marked 'skipped'.
 * It only ever applies what the evaluation recorded and what the policy's
 * approval rule allows, so calling it directly forges nothing.
 */
Datum
evaluation_apply(PG_FUNCTION_ARGS)
{
	int64		evaluation_id = PG_GETARG_INT64(0);
	int32		batch = PG_GETARG_INT32(1);
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		args[2];
	Oid			relid;
	char	   *policy,
			   *key_column,
			   *tier_column,
			   *key_type,
			   *approval;
	char	   *reason;
	char	   *table;
	StringInfoData sql,
				skip_sql;
	int64		planned;
	volatile int64 applied = 0;
	bool		isnull;
	MemoryContext caller_cxt = CurrentMemoryContext;

	args[0] = Int64GetDatum(evaluation_id);
	args[1] = Int32GetDatum(batch);

	SPI_connect();
	if (SPI_execute_with_args(
							  "SELECT m.tbl, e.policy, m.key_column, m.tier_column, "
							  "       pg_catalog.format_type(a.atttypid, a.atttypmod), p.approval, "
							  "       (SELECT pg_catalog.count(*) FROM custier.evaluation_result r"
							  "        WHERE r.evaluation_id = $1 AND r.batch = $2 AND r.action = 'applied') "
							  "FROM custier.evaluation e "
							  "JOIN custier.policy p ON p.name = e.policy "
							  "JOIN custier.managed_table m ON m.policy = e.policy "
							  "JOIN pg_catalog.pg_attribute a ON a.attrelid = m.tbl AND a.attname = m.key_column "
							  "WHERE e.evaluation_id = $1 AND e.finished_at IS NULL",
							  2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read evaluation " INT64_FORMAT, evaluation_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evaluation " INT64_FORMAT " is not running, or its policy manages no table",
						evaluation_id)));

	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	policy = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	key_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	tier_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	key_type = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	approval = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6);
	planned = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
	table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));

	/* Only rows still at the grade they were evaluated from are changed. */
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "UPDATE %s t SET %s = r.proposed_tier"
					 " FROM custier.evaluation_result r"
					 " WHERE r.evaluation_id = $1 AND r.batch = $2 AND r.action = 'applied'"
					 "   AND t.%s = r.customer_key::%s"
					 "   AND (t.%s OPERATOR(custier.=) r.current_tier OR (t.%s IS NULL AND r.current_tier IS NULL))"
					 "   AND (r.current_tier IS NULL OR %s"
					 "        OR (%s AND r.proposed_tier OPERATOR(custier.>) r.current_tier))"
					 /* What was stored, after any BEFORE trigger of the table's own. */
					 " RETURNING r.customer_key, t.%s OPERATOR(custier.=) r.proposed_tier",
					 table, quote_identifier(tier_column),
					 quote_identifier(key_column), key_type,
					 quote_identifier(tier_column), quote_identifier(tier_column),
					 strcmp(approval, "none") == 0 ? "true" : "false",
					 strcmp(approval, "downgrade") == 0 ? "true" : "false",
					 quote_identifier(tier_column));

	/* The others moved since (or the rule refused them): say so. */
	initStringInfo(&skip_sql);
	appendStringInfo(&skip_sql,
					 "UPDATE custier.evaluation_result r SET action = 'skipped'"
					 " WHERE r.evaluation_id = $1 AND r.batch = $2 AND r.action = 'applied'"
					 "   AND NOT EXISTS (SELECT FROM %s t WHERE t.%s = r.customer_key::%s"
					 "                   AND t.%s OPERATOR(custier.=) r.proposed_tier)",
					 table, quote_identifier(key_column), key_type, quote_identifier(tier_column));

	reason = psprintf("evaluation " INT64_FORMAT " of policy \"%s\"", evaluation_id, policy);
	custier_begin_authorized_change(relid, 0, reason);
	PG_TRY();
	{
		uint64		row;

		if (SPI_execute_with_args(sql.data, 2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not apply evaluation " INT64_FORMAT, evaluation_id);
		applied = (int64) SPI_processed;

		/*
		 * The window lets this statement's rows through; a trigger of the
		 * table's own must not use it to store a grade the evaluation did
		 * not decide.
		 */
		for (row = 0; row < SPI_processed; row++)
		{
			bool		stored_null;
			Datum		as_decided = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &stored_null);

			if (stored_null || !DatumGetBool(as_decided))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("a trigger on table %s changed the grade evaluation " INT64_FORMAT " wrote for customer \"%s\"",
								table, evaluation_id,
								SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1)),
						 errdetail("Evaluation runs may only store the grade their policy decided."),
						 errhint("Remove or fix the trigger that rewrites column %s.", quote_identifier(tier_column))));
		}
	}
	PG_FINALLY();
	{
		custier_end_authorized_change();
	}
	PG_END_TRY();

	if (applied < planned &&
		SPI_execute_with_args(skip_sql.data, 2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record skipped customers of evaluation " INT64_FORMAT, evaluation_id);

	SPI_finish();
	MemoryContextSwitchTo(caller_cxt);
	PG_RETURN_INT64(applied);
}
