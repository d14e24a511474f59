/*
 * evaluation.c — evaluation runs (see doc/reference.md): the hysteresis rule, evaluate()
 * and run_evaluation().
 *
 * With whose rights (src/rights.c): the managed table and the metrics
 * source are read as the caller (custier._evaluation_query, fully
 * schema-qualified); custier's tables are read and written as the extension
 * owner; grades reach the managed table through custier_apply_grades, as the
 * table's owner.  The caller's rows travel between the two as arrays, a
 * chunk (batch) at a time.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "nodes/params.h"
#include "tcop/pquery.h"
#include "executor/tstoreReceiver.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "custier.h"
#include "history.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_proposed_tier);
PG_FUNCTION_INFO_V1(custier_evaluate);
PG_FUNCTION_INFO_V1(custier_run_evaluation);

/* Columns of custier._evaluation_query's rows. */
#define Q_KEY 1
#define Q_CURRENT 2
#define Q_QUALIFIED 3
#define Q_PROPOSED 4
#define Q_SCORE 5
#define Q_EXPLANATION 6



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
custier_proposed_tier(PG_FUNCTION_ARGS)
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
 * A column of rows [0, n) of an SPI result as an array of its type (tier,
 * text, numeric, jsonb), in the current memory context.
 */
static Datum
column_array(SPITupleTable *tt, uint64 n, int col, Oid elemtype)
{
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1];
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;
	uint64		i;

	for (i = 0; i < n; i++)
		values[i] = SPI_getbinval(tt->vals[i], tt->tupdesc, col, &nulls[i]);
	dims[0] = (int) n;
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, elemtype,
											  typlen, typbyval, typalign));
}

/* ---------------------------------------------------------------------
 * evaluate(policy, as_of)
 * ---------------------------------------------------------------------
 */
Datum
custier_evaluate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			plan_types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		plan_values[2];
	char		plan_nulls[2] = {' ', ' '};
	char	   *query;
	Datum		earlier;
	bool		isnull;
	ParamListInfo params;
	SPIExecuteOptions options;
	DestReceiver *dest;
	CustierRights r;
	int			i;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("as_of must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	plan_values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(0))
		plan_nulls[0] = 'n';
	plan_values[1] = PG_GETARG_DATUM(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* The query and the earlier evaluations, from custier's tables. */
	custier_exec_as(custier_extension_owner(), "SELECT query, earlier FROM custier._evaluation_plan($1, $2)",
					2, plan_types, plan_values, plan_nulls, true, 1);
	query = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	earlier = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

	/* The customers, graded with the caller's rights, streamed into the result. */
	params = makeParamList(5);
	params->numParams = 5;
	for (i = 0; i < 5; i++)
	{
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = false;
	}
	params->params[0].ptype = TEXTOID;
	params->params[0].isnull = true;
	params->params[0].value = (Datum) 0;
	params->params[1].ptype = INT8OID;
	params->params[1].isnull = true;
	params->params[1].value = (Datum) 0;
	params->params[2].ptype = BOOLOID;
	params->params[2].value = BoolGetDatum(true);
	params->params[3].ptype = BOOLOID;
	params->params[3].value = BoolGetDatum(false);
	params->params[4].ptype = INT8ARRAYOID;
	params->params[4].value = earlier;

	dest = CreateTuplestoreDestReceiver();
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory,
									false, NULL, NULL);
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;

	custier_rights_enter(&r, CUSTIER_AS_CALLER, InvalidOid);
	PG_TRY();
	{
		if (SPI_execute_extended(query, &options) != SPI_OK_SELECT)
			elog(ERROR, "custier: evaluating failed");
	}
	PG_FINALLY();
	{
		custier_rights_exit(&r);
	}
	PG_END_TRY();
	/* dest lives in SPI's memory: destroy it first. */
	dest->rDestroy(dest);
	SPI_finish();
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * run_evaluation(policy, as_of, batch_size)
 * ---------------------------------------------------------------------
 */
typedef struct StepResult
{
	int64		customers;
	int64		changed;
	int64		proposed;
	bool		finished;
} StepResult;

/*
 * Grades, records and applies the next batch of evaluation_id; in one
 * transaction with the row lock on the evaluation.
 */
static void
evaluation_step(int64 evaluation_id, int32 batch_size, StepResult *res)
{
	Oid			owner = custier_extension_owner();
	Oid			tier_type = custier_tier_type();
	Oid			tier_array = custier_tier_array_type();
	Oid			id_type[1] = {INT8OID};
	Datum		id_value[1];
	SPITupleTable *claim;
	SPITupleTable *rows;
	bool		isnull;
	int32		batch;
	char	   *last_key;
	char	   *query;
	char	   *policy;
	char	   *approval;
	Oid			relid;
	uint64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	id_value[0] = Int64GetDatum(evaluation_id);
	custier_exec_as(owner, "SELECT finished, customers, changed, proposed, batch, last_key, tbl, policy, approval, query, earlier"
					" FROM custier._evaluation_claim($1)", 1, id_type, id_value, NULL, false, 1);
	claim = SPI_tuptable;
	res->finished = DatumGetBool(SPI_getbinval(claim->vals[0], claim->tupdesc, 1, &isnull));
	res->customers = DatumGetInt64(SPI_getbinval(claim->vals[0], claim->tupdesc, 2, &isnull));
	res->changed = DatumGetInt64(SPI_getbinval(claim->vals[0], claim->tupdesc, 3, &isnull));
	res->proposed = DatumGetInt64(SPI_getbinval(claim->vals[0], claim->tupdesc, 4, &isnull));
	if (res->finished)
	{
		SPI_finish();
		return;
	}
	batch = DatumGetInt32(SPI_getbinval(claim->vals[0], claim->tupdesc, 5, &isnull));
	last_key = SPI_getvalue(claim->vals[0], claim->tupdesc, 6);
	relid = DatumGetObjectId(SPI_getbinval(claim->vals[0], claim->tupdesc, 7, &isnull));
	policy = SPI_getvalue(claim->vals[0], claim->tupdesc, 8);
	approval = SPI_getvalue(claim->vals[0], claim->tupdesc, 9);
	query = SPI_getvalue(claim->vals[0], claim->tupdesc, 10);

	/* The batch, graded with the caller's rights. */
	{
		Oid			types[5] = {TEXTOID, INT8OID, BOOLOID, BOOLOID, INT8ARRAYOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

		values[0] = last_key ? CStringGetTextDatum(last_key) : (Datum) 0;
		if (last_key == NULL)
			nulls[0] = 'n';
		values[1] = Int64GetDatum(batch_size);
		values[2] = BoolGetDatum(false);
		/* Evidence for the changes that may become adjustments. */
		values[3] = BoolGetDatum(strcmp(approval, "none") != 0);
		values[4] = SPI_getbinval(claim->vals[0], claim->tupdesc, 11, &isnull);
		n = custier_exec_as_caller(query, 5, types, values, nulls, true, 0);
		rows = SPI_tuptable;
	}

	if (n > 0)
	{
		Oid			types[7] = {INT8OID, INT4OID, TEXTARRAYOID, tier_array, tier_array, tier_array, NUMERICARRAYOID};
		Datum		values[7];
		SPITupleTable *decided;
		uint64		ndecided;
		uint64		i;
		Datum	   *apply_keys = palloc(sizeof(Datum) * n);
		Datum	   *apply_from = palloc(sizeof(Datum) * n);
		bool	   *apply_from_null = palloc(sizeof(bool) * n);
		Datum	   *apply_to = palloc(sizeof(Datum) * n);
		Datum	   *prop_keys = palloc(sizeof(Datum) * n);
		Datum	   *prop_to = palloc(sizeof(Datum) * n);
		Datum	   *prop_evidence = palloc(sizeof(Datum) * n);
		bool	   *prop_evidence_null = palloc(sizeof(bool) * n);
		int			napply = 0;
		int			nprop = 0;

		/* Record the batch and decide, as custier's owner. */
		values[0] = Int64GetDatum(evaluation_id);
		values[1] = Int32GetDatum(batch);
		values[2] = column_array(rows, n, Q_KEY, TEXTOID);
		values[3] = column_array(rows, n, Q_CURRENT, tier_type);
		values[4] = column_array(rows, n, Q_QUALIFIED, tier_type);
		values[5] = column_array(rows, n, Q_PROPOSED, tier_type);
		values[6] = column_array(rows, n, Q_SCORE, NUMERICOID);
		ndecided = custier_exec_as(owner, "SELECT o_n, o_action, o_tier FROM custier._evaluation_record($1, $2, $3, $4, $5, $6, $7)",
								   7, types, values, NULL, false, 0);
		decided = SPI_tuptable;
		for (i = 0; i < ndecided; i++)
		{
			int64		pos = DatumGetInt64(SPI_getbinval(decided->vals[i], decided->tupdesc, 1, &isnull)) - 1;
			char	   *action = SPI_getvalue(decided->vals[i], decided->tupdesc, 2);
			Datum		tier = SPI_getbinval(decided->vals[i], decided->tupdesc, 3, &isnull);
			bool		knull;
			Datum		key = SPI_getbinval(rows->vals[pos], rows->tupdesc, Q_KEY, &knull);

			if (strcmp(action, "applied") == 0)
			{
				apply_keys[napply] = key;
				apply_from[napply] = SPI_getbinval(rows->vals[pos], rows->tupdesc, Q_CURRENT, &apply_from_null[napply]);
				apply_to[napply] = tier;
				napply++;
			}
			else
			{
				prop_keys[nprop] = key;
				prop_to[nprop] = tier;
				prop_evidence[nprop] = SPI_getbinval(rows->vals[pos], rows->tupdesc, Q_EXPLANATION, &prop_evidence_null[nprop]);
				nprop++;
			}
		}

		if (napply > 0)
		{
			int			dims[1] = {napply};
			int			lbs[1] = {1};
			Datum		applied_keys;
			uint64		applied;
			char	   *reason = psprintf("evaluation " INT64_FORMAT " of policy \"%s\"", evaluation_id, policy);

			applied = custier_apply_grades(relid,
										   PointerGetDatum(construct_array(apply_keys, napply, TEXTOID, -1, false, TYPALIGN_INT)),
										   PointerGetDatum(construct_md_array(apply_from, apply_from_null, 1, dims, lbs,
																			  tier_type, 1, true, TYPALIGN_CHAR)),
										   PointerGetDatum(construct_array(apply_to, napply, tier_type, 1, true, TYPALIGN_CHAR)),
										   napply, 0, reason, &applied_keys);
			res->changed += (int64) applied;
			/* The others moved since they were graded: say so. */
			if (applied < (uint64) napply)
			{
				Oid			stypes[3] = {INT8OID, INT4OID, TEXTARRAYOID};
				Datum		svalues[3];

				svalues[0] = Int64GetDatum(evaluation_id);
				svalues[1] = Int32GetDatum(batch);
				svalues[2] = applied_keys;
				custier_exec_as(owner,
								"UPDATE custier.evaluation_result r SET action = 'skipped'"
								" WHERE r.evaluation_id = $1 AND r.batch = $2 AND r.action = 'applied'"
								" AND r.customer_key <> ALL ($3)", 3, stypes, svalues, NULL, false, 0);
			}
		}

		if (nprop > 0)
		{
			/*
			 * Changes the policy sends for approval become adjustments, with
			 * the evidence; proposed by the role that runs the evaluation.
			 * custier._evaluation_open records a customer someone proposed
			 * for meanwhile as pending instead of failing the batch.
			 */
			Oid			ptypes[6] = {INT8OID, REGCLASSOID, TEXTOID, TEXTARRAYOID, tier_array, JSONBARRAYOID};
			Datum		pvalues[6];
			int			dims[1] = {nprop};
			int			lbs[1] = {1};
			bool		onull;

			pvalues[0] = Int64GetDatum(evaluation_id);
			pvalues[1] = ObjectIdGetDatum(relid);
			pvalues[2] = CStringGetTextDatum(policy);
			pvalues[3] = PointerGetDatum(construct_array(prop_keys, nprop, TEXTOID, -1, false, TYPALIGN_INT));
			pvalues[4] = PointerGetDatum(construct_array(prop_to, nprop, tier_type, 1, true, TYPALIGN_CHAR));
			pvalues[5] = PointerGetDatum(construct_md_array(prop_evidence, prop_evidence_null, 1, dims, lbs,
															JSONBOID, -1, false, TYPALIGN_INT));
			res->proposed += DatumGetInt64(custier_value_as(owner,
															"SELECT custier._evaluation_open($1, $2, $3, $4, $5, $6)",
															6, ptypes, pvalues, NULL, &onull));
		}
	}

	/* Progress, as custier's owner. */
	{
		Oid			types[7] = {INT8OID, INT8OID, INT8OID, INT8OID, INT4OID, TEXTOID, BOOLOID};
		Datum		values[7];
		char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

		res->customers += (int64) n;
		res->finished = n < (uint64) batch_size;
		values[0] = Int64GetDatum(evaluation_id);
		values[1] = Int64GetDatum(res->customers);
		values[2] = Int64GetDatum(res->changed);
		values[3] = Int64GetDatum(res->proposed);
		values[4] = Int32GetDatum(batch);
		if (n > 0)
			values[5] = SPI_getbinval(rows->vals[n - 1], rows->tupdesc, Q_KEY, &isnull);
		else
			nulls[5] = 'n';
		values[6] = BoolGetDatum(res->finished);
		custier_exec_as(owner,
						"UPDATE custier.evaluation e SET customers = $2, changed = $3, proposed = $4, batches = $5,"
						" last_key = coalesce($6, e.last_key),"
						" batch_last_keys = CASE WHEN $6 IS NULL THEN e.batch_last_keys"
						" ELSE pg_catalog.array_append(e.batch_last_keys, $6) END,"
						" finished_at = CASE WHEN $7 THEN pg_catalog.clock_timestamp() END"
						" WHERE e.evaluation_id = $1", 7, types, values, nulls, false, 0);
	}
	SPI_finish();
}

/*
 * After the last batch, in its transaction: when the policy's table has an
 * allocation (src/allocation.sql), custier.allocate() runs as the caller, so
 * that a customer whose grade left its owner's tiers gets an eligible owner
 * in the same cycle.
 */
static void
evaluation_allocate(const char *policy)
{
	Oid			type[1] = {TEXTOID};
	Datum		value[1];
	Datum		tbl;
	bool		isnull;

	value[0] = CStringGetTextDatum(policy);
	tbl = custier_value_as(custier_extension_owner(),
						   "SELECT a.tbl FROM custier.allocation a"
						   " JOIN custier.managed_table m ON m.tbl OPERATOR(pg_catalog.=) a.tbl"
						   " WHERE m.policy OPERATOR(pg_catalog.=) $1",
						   1, type, value, NULL, &isnull);
	if (!isnull)
	{
		Oid			rtype[1] = {REGCLASSOID};

		custier_exec_as_caller("SELECT pg_catalog.count(*) FROM custier.allocate($1)",
							   1, rtype, &tbl, NULL, false, 0);
	}
}

/*
 * CALL custier.run_evaluation(policy, as_of, batch_size): a C procedure, so
 * that it can commit every batch without anyone needing EXECUTE on an
 * internal function.
 */
Datum
custier_run_evaluation(PG_FUNCTION_ARGS)
{
	bool		nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			i;
	int64		evaluation_id;
	int32		batch_size;
	char	   *policy;
	bool		isnull;
	Datum		total;
	double		total_customers;
	TimestampTz t0;
	int64		full_batches = 0;

	for (i = 0; i < 3; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
	}
	policy = PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	batch_size = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);

	evaluation_id = DatumGetInt64(custier_value_as(custier_extension_owner(),
												   "SELECT custier._evaluation_begin($1, $2, $3)",
												   3, types, values, nulls, &isnull));
	if (isnull)
		elog(ERROR, "custier._evaluation_begin returned no evaluation");

	/* The planner's estimate of the customers: enough for an ETA. */
	total = custier_value_as(custier_extension_owner(),
							 "SELECT c.reltuples::pg_catalog.float8 FROM custier.managed_table m"
							 " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.tbl"
							 " WHERE m.policy OPERATOR(pg_catalog.=) $1",
							 1, types, values, nulls, &isnull);
	total_customers = isnull ? 0.0 : DatumGetFloat8(total);
	t0 = GetCurrentTimestamp();

	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (;;)
	{
		StepResult res;
		double		secs;
		double		rate;
		char	   *detail;

		evaluation_step(evaluation_id, batch_size, &res);
		if (res.finished)
			evaluation_allocate(policy);
		SPI_commit();
		EnsurePortalSnapshotExists();

		/* Rate and ETA go in the DETAIL: the message stays the same from run to run. */
		secs = (double) (GetCurrentTimestamp() - t0) / 1000000.0;
		if (!res.finished)
			full_batches++;
		rate = secs > 0 ? (double) full_batches * batch_size / secs : 0.0;
		if (res.finished)
			detail = psprintf("%.1f s in this call.", secs);
		else if (rate > 0 && total_customers > (double) res.customers)
			detail = psprintf("%.0f customers/s in this call; about %.0f s left for about %.0f customers.",
							  rate, (total_customers - (double) res.customers) / rate,
							  total_customers - (double) res.customers);
		else
			detail = psprintf("%.0f customers/s in this call.", rate);
		ereport(NOTICE,
				(errmsg("evaluation " INT64_FORMAT " of policy \"%s\": " INT64_FORMAT " customers done, "
						INT64_FORMAT " changed, " INT64_FORMAT " proposed%s",
						evaluation_id, policy, res.customers, res.changed, res.proposed,
						res.finished ? " (finished)" : ""),
				 errdetail_internal("%s", detail)));
		if (res.finished)
			break;
	}
	SPI_finish();
	PG_RETURN_VOID();
}
