/*
 * lifecycle.c — backup, restore and uninstall (dump/restore, dropped
 * tables, DROP EXTENSION).
 *
 * Restores.  pg_dump writes the rows of custier's tables (they are
 * registered with pg_extension_config_dump) as `COPY custier.x FROM stdin`
 * right after `CREATE EXTENSION custier`.  Those rows were checked, logged
 * and audited when they were first written; replaying them through the
 * state machine, the logging and the audit triggers would refuse them or
 * log them twice.  A row is a *restore load* when all of these hold:
 *
 *   1. the statement running is a top-level `COPY <that custier table> FROM
 *      STDIN` (the client's own statement, read from the active portal; SPI
 *      cannot run COPY FROM STDIN, so no function can issue one), and the
 *      row reached the trigger directly from it (trigger depth 1);
 *   2. the role running it has the privileges of custier's owner (COPY's
 *      own permission check already needs INSERT on the table, which
 *      custier grants to no one);
 *   3. custier's *restore window* is open: nothing has been written to
 *      custier's tables in this database since CREATE EXTENSION except
 *      restore loads.  The window is the sequence custier.in_use: every
 *      other write (a statement trigger on each table, and the history
 *      writer) calls it once, closing the window for good.
 *
 * Outside a restore the same COPY is refused like any other direct write.
 *
 * Dropped tables.  custier._forget_table(oid, name), called by the sql_drop
 * event trigger once the table is gone, closes the table's open adjustments
 * and re-points its rows in tier_history, customer_key_change, adjustment
 * and evaluation to tbl 0 with the table's name kept in dropped_table: an
 * OID that a new table may reuse never carries old history, and a dump
 * never writes a bare OID.  The append-only and state-machine triggers let
 * exactly those UPDATEs through (custier._forgetting()), which only this C
 * function can arrange.
 *
 * Uninstall.  custier._on_drop_extension, a ddl_command_start event
 * trigger, refuses DROP EXTENSION custier (and DROP SCHEMA custier) while a
 * table is managed, and DROP ... CASCADE while objects outside the
 * extension (users' tier columns, views, functions) depend on it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/pquery.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/rel.h"

#include "custier.h"
#include "rights.h"
#include "history.h"
#include "lifecycle.h"

PG_FUNCTION_INFO_V1(custier_restoring);
PG_FUNCTION_INFO_V1(custier_restore_load_sql);
PG_FUNCTION_INFO_V1(custier_in_use_trigger);
PG_FUNCTION_INFO_V1(custier_forget_table);
PG_FUNCTION_INFO_V1(custier_forgetting);
PG_FUNCTION_INFO_V1(custier_on_drop_extension);

/* The window sequence once this backend has seen it closed. */
static Oid	closed_window = InvalidOid;

/* The dropped table whose rows custier._forget_table is re-pointing. */
static Oid	forgetting_relid = InvalidOid;

/*
 * While a restore load runs: the GUC nest level of its
 * session_replication_role = replica, and its table.
 */
static int	restore_guc_level = 0;
static Oid	restore_guc_rel = InvalidOid;
static bool callbacks_registered = false;

static void
lifecycle_xact_callback(XactEvent event, void *arg)
{
	/* The GUC machinery undoes the setting at transaction end. */
	restore_guc_level = 0;
	restore_guc_rel = InvalidOid;
	forgetting_relid = InvalidOid;
}

static void
lifecycle_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		lifecycle_xact_callback(XACT_EVENT_ABORT, arg);
}

static Oid
window_sequence(void)
{
	Oid			nsp = get_namespace_oid("custier", true);

	return OidIsValid(nsp) ? get_relname_relid("in_use", nsp) : InvalidOid;
}

/* Is the restore window open?  Reads the sequence as the current user. */
static bool
window_open(void)
{
	Oid			seq = window_sequence();
	LOCAL_FCINFO(fc, 1);

	if (!OidIsValid(seq) || seq == closed_window)
		return false;
	InitFunctionCallInfoData(*fc, NULL, 1, InvalidOid, NULL, NULL);
	fc->args[0].value = ObjectIdGetDatum(seq);
	fc->args[0].isnull = false;
	(void) pg_sequence_last_value(fc);
	/* NULL until nextval was called once. */
	if (!fc->isnull)
	{
		closed_window = seq;
		return false;
	}
	return true;
}

void
custier_mark_in_use(void)
{
	Oid			seq;

	/* The install or update script itself is no use. */
	if (creating_extension)
		return;
	seq = window_sequence();
	if (!OidIsValid(seq) || seq == closed_window)
		return;
	(void) nextval_internal(seq, false);
	closed_window = seq;
}

static int
trigger_depth(void)
{
	LOCAL_FCINFO(fc, 0);

	InitFunctionCallInfoData(*fc, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetInt32(pg_trigger_depth(fc));
}

bool
custier_restore_load(Oid relid)
{
	Portal		portal = ActivePortal;
	PlannedStmt *ps;
	CopyStmt   *copy;

	/* 1. The client's own COPY ... FROM STDIN into this very table. */
	if (portal == NULL || list_length(portal->stmts) != 1)
		return false;
	ps = linitial_node(PlannedStmt, portal->stmts);
	if (ps->commandType != CMD_UTILITY || ps->utilityStmt == NULL || !IsA(ps->utilityStmt, CopyStmt))
		return false;
	copy = (CopyStmt *) ps->utilityStmt;
	if (!copy->is_from || copy->is_program || copy->filename != NULL ||
		copy->relation == NULL || copy->relation->schemaname == NULL)
		return false;
	if (trigger_depth() != 1)
		return false;
	if (RangeVarGetRelid(copy->relation, NoLock, true) != relid)
		return false;
	/* 2. Run by custier's owner (or a superuser). */
	if (!has_privs_of_role(GetUserId(), custier_extension_owner()))
		return false;
	/* 3. Before custier was used. */
	return window_open();
}

/* custier._restoring() → boolean: is the restore window open? */
Datum
custier_restoring(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(window_open());
}

/* custier._restore_load(tbl regclass) → boolean, for the SQL triggers. */
Datum
custier_restore_load_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(custier_restore_load(PG_GETARG_OID(0)));
}

/*
 * custier.in_use_trigger(): BEFORE STATEMENT on every table of custier's:
 * any write that is not a restore load closes the restore window.
 *
 * A restore load runs with session_replication_role = replica, as
 * `pg_restore --disable-triggers` would, until its AFTER STATEMENT trigger
 * (the same function): the foreign keys among custier's tables are not
 * checked, since pg_restore -j loads them in any order (the rows come from
 * one consistent dump), and the audit triggers stay quiet.  custier's
 * ENABLE ALWAYS triggers still fire and recognise the restore themselves.
 */
Datum
custier_in_use_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.in_use_trigger() must be called as a trigger")));
	relid = RelationGetRelid(td->tg_relation);
	if (TRIGGER_FIRED_AFTER(td->tg_event))
	{
		if (restore_guc_level > 0 && restore_guc_rel == relid)
		{
			AtEOXact_GUC(true, restore_guc_level);
			restore_guc_level = 0;
			restore_guc_rel = InvalidOid;
		}
		return PointerGetDatum(NULL);
	}
	/* Fast path: this backend saw the window closed already. */
	if (OidIsValid(closed_window) && closed_window == window_sequence())
		return PointerGetDatum(NULL);
	if (!custier_restore_load(relid))
		custier_mark_in_use();
	else if (restore_guc_level == 0 && TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		if (!callbacks_registered)
		{
			RegisterXactCallback(lifecycle_xact_callback, NULL);
			RegisterSubXactCallback(lifecycle_subxact_callback, NULL);
			callbacks_registered = true;
		}
		restore_guc_level = NewGUCNestLevel();
		restore_guc_rel = relid;
		(void) set_config_option("session_replication_role", "replica",
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	}
	return PointerGetDatum(NULL);
}

/* custier._forgetting() → boolean: is _forget_table re-pointing rows now? */
Datum
custier_forgetting(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(OidIsValid(forgetting_relid));
}

bool
custier_forgetting_table(void)
{
	return OidIsValid(forgetting_relid);
}

static void
forget_exec(const char *sql, Datum *values)
{
	Oid			types[2] = {OIDOID, TEXTOID};

	if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) < 0)
		elog(ERROR, "custier: SPI failed: %s", sql);
}

/*
 * custier._forget_table(tbl oid, name text): the table is gone (called by
 * the sql_drop event trigger); its open adjustments are rejected, and its
 * rows re-pointed to tbl 0, dropped_table = name.
 */
Datum
custier_forget_table(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	text	   *name = PG_GETARG_TEXT_PP(1);
	Datum		values[2];

	if (!OidIsValid(relid))
		PG_RETURN_VOID();
	/* Only for a table that no longer exists: live history stays put. */
	if (get_rel_name(relid) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s still exists: custier only forgets dropped tables",
						get_rel_name(relid))));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = PointerGetDatum(name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* Through the state machine: logged and announced like any rejection. */
	forget_exec("UPDATE custier.adjustment a SET status = 'rejected', "
				"       decision_note = pg_catalog.format('table %s was dropped', $2) "
				" WHERE a.tbl OPERATOR(pg_catalog.=) $1 AND a.status OPERATOR(pg_catalog.=) 'proposed'",
				values);
	forgetting_relid = relid;
	PG_TRY();
	{
		forget_exec("UPDATE custier.tier_history SET tbl = 0, dropped_table = $2 WHERE tbl OPERATOR(pg_catalog.=) $1", values);
		forget_exec("UPDATE custier.customer_key_change SET tbl = 0, dropped_table = $2 WHERE tbl OPERATOR(pg_catalog.=) $1", values);
		forget_exec("UPDATE custier.adjustment SET tbl = 0, dropped_table = $2 WHERE tbl OPERATOR(pg_catalog.=) $1", values);
		forget_exec("UPDATE custier.evaluation SET tbl = 0, dropped_table = $2 WHERE tbl OPERATOR(pg_catalog.=) $1", values);
	}
	PG_FINALLY();
	{
		forgetting_relid = InvalidOid;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * custier._on_drop_extension(): ddl_command_start for DROP EXTENSION and
 * DROP SCHEMA.  Refuses to drop custier while it manages a table, or with
 * CASCADE while objects outside it depend on it (a user's tier column would
 * silently go, with its data).
 */
Datum
custier_on_drop_extension(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	ListCell   *lc;
	bool		ours = false;
	char	   *managed;
	char	   *dependents;
	bool		isnull;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier._on_drop_extension() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (trigdata->parsetree == NULL || !IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION && stmt->removeType != OBJECT_SCHEMA)
		PG_RETURN_VOID();
	foreach(lc, stmt->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "custier") == 0)
			ours = true;
	}
	if (!ours || !OidIsValid(get_namespace_oid("custier", true)))
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.string_agg(m.tbl::pg_catalog.text, ', ' ORDER BY m.tbl::pg_catalog.text), "
					"       custier._extension_dependents() "
					"  FROM custier.managed_table m", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "custier: could not read the managed tables");
	managed = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	dependents = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	(void) isnull;
	if (managed != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop extension custier: it manages table%s %s",
						strchr(managed, ',') ? "s" : "", managed),
				 errdetail("Dropping it would drop every grade change on record and stop guarding those tables."),
				 errhint("Call custier.unmanage on each managed table first: SELECT custier.unmanage(tbl) FROM custier.managed_table;")));
	if (dependents != NULL && stmt->behavior == DROP_CASCADE)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop extension custier with CASCADE: objects outside it depend on it"),
				 errdetail("CASCADE would also drop: %s.", dependents),
				 errhint("Convert or drop them first, e.g. ALTER TABLE ... ALTER COLUMN ... TYPE text USING grade::text.")));
	SPI_finish();
	PG_RETURN_VOID();
}
