/*
 * adjustment.c — the adjustment functions (see doc/reference.md).  Each captures the
 * role that called it (the actor custier records) and runs the SQL side as
 * custier's owner; the state machine itself is in the tables' triggers
 * (src/adjustment.sql), so direct writes obey it as well.
 *
 * approve() is the one path that applies a grade change: it opens the
 * authorized-change window (history.h) around its own UPDATE of the managed
 * table, run as that table's owner, and only for an adjustment it has just
 * locked and checked.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "custier.h"
#include "history.h"

PG_FUNCTION_INFO_V1(propose);
PG_FUNCTION_INFO_V1(review);
PG_FUNCTION_INFO_V1(approve);
PG_FUNCTION_INFO_V1(reject);
PG_FUNCTION_INFO_V1(withdraw);
PG_FUNCTION_INFO_V1(adjustment_applying);

/* The adjustment approve() is marking applied; 0 when none. */
static int64 applying_id = 0;

/* custier._applying(adjustment_id): lets the state machine tell approve() from a direct UPDATE. */
Datum
adjustment_applying(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(applying_id != 0 && applying_id == PG_GETARG_INT64(0));
}

Datum
propose(PG_FUNCTION_ARGS)
{
	Oid			types[6] = {REGCLASSOID, TEXTOID, DatumGetObjectId(0), TEXTOID, JSONBOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', 'n'};
	bool		isnull;
	Datum		id;
	int			i;

	custier_require_arg(fcinfo, 0, "tbl");
	custier_require_arg(fcinfo, 1, "customer_key");
	custier_require_arg(fcinfo, 2, "to_tier");
	custier_require_arg(fcinfo, 3, "reason");
	types[2] = get_fn_expr_argtype(fcinfo->flinfo, 2);
	/* hold_until: the 0.1.0 declaration, until updated, has five arguments. */
	for (i = 0; i < 6; i++)
	{
		bool		null = i >= PG_NARGS() || PG_ARGISNULL(i);

		values[i] = null ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = null ? 'n' : ' ';
	}
	/* A database still at 0.1.0 has the five-argument custier._propose. */
	if (PG_NARGS() < 6)
		id = custier_call_as_owner("SELECT custier._propose($1, $2, $3, $4, $5)", 5, types, values, nulls, &isnull);
	else
		id = custier_call_as_owner("SELECT custier._propose($1, $2, $3, $4, $5, $6)", 6, types, values, nulls, &isnull);
	if (isnull)
		elog(ERROR, "custier._propose returned no adjustment");
	PG_RETURN_DATUM(id);
}

Datum
review(PG_FUNCTION_ARGS)
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
	custier_call_as_owner("INSERT INTO custier.adjustment_review (adjustment_id, department, reviewer, opinion, comment, reviewed_at) "
						  "VALUES ($1, $2, custier._actor(), $3, $4, now())",
						  4, types, values, nulls, NULL);
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
	custier_call_as_owner("SELECT custier._decide($1, $2, $3)", 3, types, values, nulls, NULL);
}

Datum
reject(PG_FUNCTION_ARGS)
{
	decide(fcinfo, "rejected", PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	PG_RETURN_VOID();
}

Datum
withdraw(PG_FUNCTION_ARGS)
{
	decide(fcinfo, "withdrawn", (Datum) 0, true);
	PG_RETURN_VOID();
}

Datum
approve(PG_FUNCTION_ARGS)
{
	int64		adjustment_id;
	CustierUserSwitch as_owner;
	CustierUserSwitch as_table_owner;

	custier_require_arg(fcinfo, 0, "adjustment_id");
	adjustment_id = PG_GETARG_INT64(0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	custier_switch_user(custier_owner(), &as_owner);
	PG_TRY();
	{
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};
		TupleDesc	desc;
		HeapTuple	row;
		bool		isnull;
		Oid			relid;
		Oid			table_owner;
		char	   *customer_key;
		char	   *reason;
		char	   *from_tier;
		char	   *apply_sql;
		char	   *to_tier;
		Oid			apply_types[3];
		Datum		apply_values[3];
		char		apply_nulls[3] = {' ', ' ', ' '};
		uint64		changed;

		/* Lock and check the adjustment; learn how to apply it. */
		values[0] = Int64GetDatum(adjustment_id);
		if (SPI_execute_with_args("SELECT tbl, table_owner, customer_key, reason, from_tier, apply_sql, to_tier "
								  "FROM custier._approval($1)", 1, types, values, NULL, false, 0) != SPI_OK_SELECT
			|| SPI_processed != 1)
			elog(ERROR, "custier._approval failed");
		desc = SPI_tuptable->tupdesc;
		row = SPI_tuptable->vals[0];
		relid = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
		table_owner = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
		customer_key = SPI_getvalue(row, desc, 3);
		reason = SPI_getvalue(row, desc, 4);
		from_tier = SPI_getvalue(row, desc, 5);
		apply_sql = SPI_getvalue(row, desc, 6);
		to_tier = SPI_getvalue(row, desc, 7);

		/*
		 * Apply it as the table's owner (the table's own triggers never run
		 * with custier's rights), inside the window that lets the guard
		 * pass and stamps the history row.
		 */
		apply_types[0] = TEXTOID;
		apply_types[1] = TEXTOID;
		apply_types[2] = TEXTOID;
		apply_values[0] = CStringGetTextDatum(customer_key);
		apply_values[1] = CStringGetTextDatum(to_tier);
		apply_values[2] = from_tier ? CStringGetTextDatum(from_tier) : (Datum) 0;
		if (from_tier == NULL)
			apply_nulls[2] = 'n';
		custier_switch_user(table_owner, &as_table_owner);
		custier_begin_authorized_change(relid, adjustment_id, reason);
		/* Only this customer's change from from_tier to to_tier gets through. */
		custier_limit_authorized_change(customer_key,
										from_tier ? tier_from_cstring(from_tier) : 0,
										tier_from_cstring(to_tier));
		if (SPI_execute_with_args(apply_sql, 3, apply_types, apply_values, apply_nulls,
								  false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "custier: applying adjustment " INT64_FORMAT " failed", adjustment_id);
		changed = SPI_processed;
		custier_end_authorized_change();
		custier_restore_user(&as_table_owner);

		if (changed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("grade of customer \"%s\" in table %s changed since adjustment " INT64_FORMAT " was proposed: it is no longer %s",
							customer_key, get_rel_name(relid), adjustment_id, from_tier ? from_tier : "ungraded"),
					 errhint("Withdraw or reject the adjustment, and propose again from the current grade.")));

		/* Record the decision: the state machine accepts 'applied' from us only. */
		types[1] = TEXTOID;
		types[2] = TEXTOID;
		values[1] = CStringGetTextDatum("applied");
		values[2] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
		if (PG_ARGISNULL(1))
			nulls[2] = 'n';
		applying_id = adjustment_id;
		if (SPI_execute_with_args("SELECT custier._decide($1, $2, $3)", 3, types, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "custier._decide failed");
		applying_id = 0;
	}
	PG_FINALLY();
	{
		applying_id = 0;
		custier_end_authorized_change();
		custier_restore_user(&as_owner);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}
