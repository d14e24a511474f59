/*
 * adjustment.c — the adjustment functions.  Each runs its SQL as
 * custier's owner through src/rights.c (which records the caller as the
 * actor); the state machine itself is in the tables' triggers
 * (src/adjustment.sql), so direct writes obey it as well.
 *
 * approve() applies the grade change by the one path that changes managed
 * tables, custier_apply_grades (src/history.c): as the table's owner, inside
 * the authorized-change window, only for an adjustment it has just locked
 * and checked.  A customer's row is read and locked (propose) by
 * custier._lock_customer, as the table's owner too.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "custier.h"
#include "history.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_propose);
PG_FUNCTION_INFO_V1(custier_review);
PG_FUNCTION_INFO_V1(custier_approve);
PG_FUNCTION_INFO_V1(custier_reject);
PG_FUNCTION_INFO_V1(custier_withdraw);
PG_FUNCTION_INFO_V1(custier_adjustment_applying);
PG_FUNCTION_INFO_V1(custier_lock_customer);

/* The adjustment approve() is marking applied; 0 when none. */
static int64 applying_id = 0;

/* custier._applying(adjustment_id): lets the state machine tell approve() from a direct UPDATE. */
Datum
custier_adjustment_applying(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(applying_id != 0 && applying_id == PG_GETARG_INT64(0));
}

/* Runs sql as custier's owner, with the call's arguments as parameters. */
static void
run_as_owner(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	custier_exec_as(custier_extension_owner(), sql, nargs, types, values, nulls, false, 0);
	SPI_finish();
}

Datum
custier_propose(PG_FUNCTION_ARGS)
{
	Oid			types[6] = {REGCLASSOID, TEXTOID, InvalidOid, TEXTOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', 'n'};
	bool		isnull;
	Datum		id;
	int			i;

	custier_require_arg(fcinfo, 0, "tbl");
	custier_require_arg(fcinfo, 1, "customer_key");
	custier_require_arg(fcinfo, 2, "to_tier");
	custier_require_arg(fcinfo, 3, "reason");
	types[2] = custier_tier_type();
	/* hold_until: the 0.1.0 declaration, until updated, has five arguments. */
	for (i = 0; i < 6; i++)
	{
		bool		null = i >= PG_NARGS() || PG_ARGISNULL(i);

		values[i] = null ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = null ? 'n' : ' ';
	}
	/* A database still at 0.1.0 has no hold_until column. */
	if (PG_NARGS() < 6)
		id = custier_value_as(custier_extension_owner(),
							  "INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, proposed_by, proposed_at)"
							  " VALUES ($1, $2, $3, $4, $5, custier._actor(), pg_catalog.now()) RETURNING adjustment_id",
							  5, types, values, nulls, &isnull);
	else
		id = custier_value_as(custier_extension_owner(),
							  "INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, evidence, hold_until, proposed_by, proposed_at)"
							  " VALUES ($1, $2, $3, $4, $5, $6, custier._actor(), pg_catalog.now()) RETURNING adjustment_id",
							  6, types, values, nulls, &isnull);
	if (isnull)
		elog(ERROR, "custier.propose opened no adjustment");
	PG_RETURN_DATUM(id);
}

Datum
custier_review(PG_FUNCTION_ARGS)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			i;

	custier_require_arg(fcinfo, 0, "adjustment_id");
	custier_require_arg(fcinfo, 1, "department");
	custier_require_arg(fcinfo, 2, "opinion");
	for (i = 0; i < 4; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
	}
	run_as_owner("INSERT INTO custier.adjustment_review (adjustment_id, department, reviewer, opinion, comment, reviewed_at)"
				 " VALUES ($1, $2, custier._actor(), $3, $4, pg_catalog.now())",
				 4, types, values, nulls);
	PG_RETURN_VOID();
}

static void
decide(FunctionCallInfo fcinfo, const char *status, Datum note, bool note_null)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	custier_require_arg(fcinfo, 0, "adjustment_id");
	values[0] = PG_GETARG_DATUM(0);
	values[1] = CStringGetTextDatum(status);
	values[2] = note;
	if (note_null)
		nulls[2] = 'n';
	run_as_owner("SELECT custier._decide($1, $2, $3)", 3, types, values, nulls);
}

Datum
custier_reject(PG_FUNCTION_ARGS)
{
	decide(fcinfo, "rejected", PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	PG_RETURN_VOID();
}

Datum
custier_withdraw(PG_FUNCTION_ARGS)
{
	decide(fcinfo, "withdrawn", (Datum) 0, true);
	PG_RETURN_VOID();
}

Datum
custier_approve(PG_FUNCTION_ARGS)
{
	int64		adjustment_id;
	Oid			owner = custier_extension_owner();

	custier_require_arg(fcinfo, 0, "adjustment_id");
	adjustment_id = PG_GETARG_INT64(0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};
		TupleDesc	desc;
		HeapTuple	row;
		bool		isnull;
		Oid			relid;
		char	   *customer_key;
		char	   *reason;
		char	   *from_tier;
		uint64		changed;

		/* Lock and check the adjustment (four eyes, reviews). */
		values[0] = Int64GetDatum(adjustment_id);
		if (custier_exec_as(owner, "SELECT tbl, customer_key, reason, from_tier, keys, from_tiers, to_tiers"
							" FROM custier._approval($1)", 1, types, values, NULL, false, 0) != 1)
			elog(ERROR, "custier._approval failed");
		desc = SPI_tuptable->tupdesc;
		row = SPI_tuptable->vals[0];
		relid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		customer_key = SPI_getvalue(row, desc, 2);
		reason = SPI_getvalue(row, desc, 3);
		from_tier = SPI_getvalue(row, desc, 4);

		/* Apply it: as the table's owner, exactly this change. */
		changed = custier_apply_grades(relid,
									   SPI_getbinval(row, desc, 5, &isnull),
									   SPI_getbinval(row, desc, 6, &isnull),
									   SPI_getbinval(row, desc, 7, &isnull),
									   1, adjustment_id, reason, NULL, NULL);
		if (changed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("grade of customer \"%s\" in table %s changed since adjustment " INT64_FORMAT " was proposed: it is no longer %s",
							customer_key, get_rel_name(relid), adjustment_id, from_tier ? from_tier : "ungraded"),
					 errhint("Withdraw or reject the adjustment, and propose again from the current grade.")));

		/* Record the decision: the state machine accepts 'applied' from us only. */
		values[1] = CStringGetTextDatum("applied");
		values[2] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
		if (PG_ARGISNULL(1))
			nulls[2] = 'n';
		applying_id = adjustment_id;
		custier_exec_as(owner, "SELECT custier._decide($1, $2, $3)", 3, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		applying_id = 0;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * custier._lock_customer(tbl, customer_key) → (grade tier, customer_key
 * text), no row when the customer does not exist: reads and locks (FOR
 * UPDATE) one customer of a managed table as the table's owner, so the key
 * type's cast, domain checks and the table's row-level security run with
 * the owner's rights, never custier's.  The key comes back as custier
 * records keys (the key type's output).  The state machine of
 * custier.adjustment calls it for every proposal.
 */
Datum
custier_lock_customer(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			one_type[1] = {REGCLASSOID};
	Datum		one_value[1];
	Oid			key_type[1] = {TEXTOID};
	Datum		key_value[1];
	TupleDesc	result_desc;
	Datum		out[2];
	bool		out_null[2] = {false, false};
	char	   *sql;
	HeapTuple	tup;
	MemoryContext caller_cxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "custier._lock_customer must return a record");
	one_value[0] = ObjectIdGetDatum(relid);
	key_value[0] = PG_GETARG_DATUM(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (custier_exec_as(custier_extension_owner(), "SELECT custier._lock_sql($1)",
						1, one_type, one_value, NULL, true, 1) != 1)
		elog(ERROR, "custier._lock_sql returned nothing");
	sql = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (custier_exec_with(CUSTIER_AS_TABLE_OWNER, custier_relation_owner(relid), sql,
						  1, key_type, key_value, NULL, false, 0) == 0)
	{
		SPI_finish();
		PG_RETURN_NULL();
	}
	out[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &out_null[0]);
	out[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &out_null[1]);
	{
		MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);

		tup = heap_form_tuple(BlessTupleDesc(result_desc), out, out_null);
		MemoryContextSwitchTo(spi_cxt);
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}
