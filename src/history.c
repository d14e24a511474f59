/*
 * history.c — managed tables and grade history (see doc/reference.md).
 *
 * The history triggers on a managed table collect each grade change of a
 * statement in backend memory (AFTER ROW) and write them in one go (AFTER
 * STATEMENT) straight into custier.tier_history at the table-access level:
 * no SPI per row, and no privilege on tier_history needed by the role that
 * updates its own table.  The guard trigger refuses grade changes unless
 * custier's own C code opened an authorized-change window for the table.
 *
 * It is over 1000 lines because the window, the triggers that honour it and
 * custier_apply_grades (the one path that opens it) must stay together:
 * splitting them would export the window's state to another file.  It also
 * holds manage/unmanage, the event trigger entry points and tiers_at.
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "catalog/pg_class.h"
#include "commands/event_trigger.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "custier.h"
#include "custier_citus.h"
#include "history.h"
#include "insight.h"
#include "lifecycle.h"

PG_FUNCTION_INFO_V1(custier_history_trigger);
PG_FUNCTION_INFO_V1(custier_guard_trigger);
PG_FUNCTION_INFO_V1(custier_history_append_only);
PG_FUNCTION_INFO_V1(custier_manage);
PG_FUNCTION_INFO_V1(custier_unmanage);
PG_FUNCTION_INFO_V1(custier_tiers_at);
PG_FUNCTION_INFO_V1(custier_on_sql_drop);
PG_FUNCTION_INFO_V1(custier_on_ddl_end);

/* ---------------------------------------------------------------------
 * The authorized-change window (backend-local).
 * ---------------------------------------------------------------------
 */
static bool window_open = false;
static Oid	window_relid = InvalidOid;
static int64 window_adjustment_id = 0;
static char *window_reason = NULL;	/* in TopTransactionContext */
static Oid	window_actor = InvalidOid;
static SubTransactionId window_subid = InvalidSubTransactionId;
static CommandId window_cid = InvalidCommandId;
/* Set by custier_limit_authorized_change: the one change let through. */
static bool window_limited = false;
static char *window_key = NULL;	/* in TopTransactionContext */
static Tier window_from = 0;
static Tier window_to = 0;


void
custier_begin_authorized_change(Oid relid, int64 adjustment_id, const char *reason)
{
	window_open = true;
	window_relid = relid;
	window_adjustment_id = adjustment_id;
	window_reason = reason ? MemoryContextStrdup(TopTransactionContext, reason) : NULL;
	window_actor = custier_actor();
	window_subid = GetCurrentSubTransactionId();
	window_limited = false;
	window_key = NULL;
	window_from = window_to = 0;

	/*
	 * The caller's next SPI statement runs at this command id (SPI's own
	 * increment before it is a no-op now): the window covers the rows that
	 * statement writes, not those of statements nested in the triggers or
	 * functions it fires, which run at later command ids.
	 */
	CommandCounterIncrement();
	window_cid = GetCurrentCommandId(false);
}

void
custier_limit_authorized_change(const char *customer_key, Tier from_tier, Tier to_tier)
{
	Assert(window_open);
	window_limited = true;
	window_key = MemoryContextStrdup(TopTransactionContext, customer_key);
	window_from = from_tier;
	window_to = to_tier;
}

void
custier_end_authorized_change(void)
{
	window_open = false;
	window_relid = InvalidOid;
	window_adjustment_id = 0;
	window_reason = NULL;
	window_actor = InvalidOid;
	window_subid = InvalidSubTransactionId;
	window_cid = InvalidCommandId;
	window_limited = false;
	window_key = NULL;
	window_from = window_to = 0;
}

/* ---------------------------------------------------------------------
 * Grade changes waiting to be written, in commit order of their rows.
 * ---------------------------------------------------------------------
 */
typedef struct PendingChange
{
	Oid			relid;
	char	   *key;			/* the customer key (after a key change) */
	char	   *old_key;		/* the key before a key change, else NULL */
	Tier		old_tier;		/* 0 = NULL */
	Tier		new_tier;		/* 0 = NULL */
	Oid			changed_by;
	int64		adjustment_id;	/* 0 = none */
	const char *reason;			/* lives until the transaction ends */
	TimestampTz at;				/* when the change was made */
	SubTransactionId subid;		/* the subtransaction that made it */
} PendingChange;

/*
 * Pending changes are written when the statement ends, or sooner once this
 * many wait: a statement changing millions of grades holds at most this
 * many in memory (PostgreSQL's own AFTER trigger queue is another matter).
 */
#define PENDING_FLUSH_BATCH 65536

static MemoryContext pending_cxt = NULL;
static PendingChange *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

static void
pending_discard(void)
{
	/* pending_cxt hangs off TopTransactionContext, which is going away. */
	pending_cxt = NULL;
	pending = NULL;
	npending = maxpending = 0;
}

static PendingChange *
pending_add(void)
{
	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopTransactionContext,
											"custier pending history",
											ALLOCSET_DEFAULT_SIZES);
	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 256;

		if (pending == NULL)
			pending = MemoryContextAlloc(pending_cxt, newmax * sizeof(PendingChange));
		else
			pending = repalloc_huge(pending, (Size) newmax * sizeof(PendingChange));
		maxpending = newmax;
	}
	return &pending[npending++];
}

/*
 * Writes into one of custier's append-only tables at the table-AM level, as
 * COPY does: rows are buffered and go in APPENDER_BUFFER at a time
 * (heap_multi_insert: one WAL record per page rather than per row), then
 * their index entries.  Only custier's C code writes these tables.  Their
 * one statement trigger, in_use (restore recognition, src/lifecycle.c),
 * does not fire here: open marks custier in use itself.
 */
#define APPENDER_BUFFER 1000

struct CustierAppender
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slots[APPENDER_BUFFER];
	int			nslots;			/* slots created */
	int			nbuffered;		/* rows waiting in slots[0..nbuffered) */
	BulkInsertState bistate;
	CommandId	cid;
	MemoryContext cxt;			/* the slots' (the caller's may be reset per row) */
	int		   *from;			/* per table column: its index in the caller's values, -1: dropped */
};

CustierAppender *
custier_appender_open(const char *relname, int natts, const char *const *attnames, const Oid *atttypes,
					  int optional)
{
	CustierAppender *a = palloc0(sizeof(CustierAppender));
	Oid			relid = get_relname_relid(relname, get_namespace_oid("custier", false));
	TupleDesc	desc;
	int			i;
	int			live = 0;

	if (!OidIsValid(relid))
		elog(ERROR, "custier.%s is missing", relname);
	/* What the tables' in_use trigger does for SQL writes: custier is in use, no restore follows. */
	custier_mark_in_use();
	a->rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(a->rel);
	/* The tuples we form assume the installed columns, in order; dropped ones stay NULL. */
	a->from = palloc(sizeof(int) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
		{
			a->from[i] = -1;
			continue;
		}
		if (live >= natts || strcmp(NameStr(att->attname), attnames[live]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("custier.%s has been altered: column \"%s\" is not custier's", relname,
							NameStr(att->attname)),
					 errhint("Drop the column again; custier writes this table as its version defines it.")));
		/* The values are formed for these types: another one would be misread. */
		if (att->atttypid != atttypes[live])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("custier.%s has been altered: column \"%s\" is of type %s, not %s", relname,
							NameStr(att->attname), format_type_be(att->atttypid), format_type_be(atttypes[live])),
					 errhint("Change the column back; custier writes this table as its version defines it.")));
		a->from[i] = live++;
	}
	if (live < natts - optional)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("custier.%s has been altered: column \"%s\" is missing", relname, attnames[live])));
	a->estate = CreateExecutorState();
	a->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(a->rri, a->rel, 1, NULL, 0);
	ExecOpenIndices(a->rri, false);
	a->bistate = GetBulkInsertState();
	a->cid = GetCurrentCommandId(true);
	a->cxt = CurrentMemoryContext;
	return a;
}

static void
appender_flush(CustierAppender *a)
{
	int			i;

	if (a->nbuffered == 0)
		return;
	table_multi_insert(a->rel, a->slots, a->nbuffered, a->cid, 0, a->bistate);
	for (i = 0; i < a->nbuffered; i++)
	{
		if (a->rri->ri_NumIndices > 0)
		{
#if PG_VERSION_NUM >= 160000
			list_free(ExecInsertIndexTuples(a->rri, a->slots[i], a->estate, false, false, false, NULL, NIL));
#else
			list_free(ExecInsertIndexTuples(a->rri, a->slots[i], a->estate, false, false, NULL, NIL));
#endif
		}
		ResetPerTupleExprContext(a->estate);
		ExecClearTuple(a->slots[i]);
	}
	a->nbuffered = 0;
}

/* The values are copied: the caller may free them at once. */
void
custier_appender_append(CustierAppender *a, const Datum *values, const bool *nulls)
{
	TupleTableSlot *slot;
	int			natts = RelationGetDescr(a->rel)->natts;
	int			i;

	if (a->nbuffered == a->nslots)
	{
		MemoryContext old = MemoryContextSwitchTo(a->cxt);

		a->slots[a->nslots++] = table_slot_create(a->rel, NULL);
		MemoryContextSwitchTo(old);
	}
	slot = a->slots[a->nbuffered++];
	ExecClearTuple(slot);
	for (i = 0; i < natts; i++)
	{
		slot->tts_values[i] = a->from[i] < 0 ? (Datum) 0 : values[a->from[i]];
		slot->tts_isnull[i] = a->from[i] < 0 ? true : nulls[a->from[i]];
	}
	ExecStoreVirtualTuple(slot);
	ExecMaterializeSlot(slot);
	if (a->nbuffered == APPENDER_BUFFER)
		appender_flush(a);
}

/* Writes what is buffered; the rows are visible from the next command on. */
void
custier_appender_close(CustierAppender *a)
{
	int			i;

	appender_flush(a);
	for (i = 0; i < a->nslots; i++)
		ExecDropSingleTupleTableSlot(a->slots[i]);
	FreeBulkInsertState(a->bistate);
	ExecCloseIndices(a->rri);
	FreeExecutorState(a->estate);
	table_close(a->rel, NoLock);
	pfree(a->from);
	pfree(a);
}

#define HISTORY_NATTS 10
static const char *const history_attnames[HISTORY_NATTS] = {
	"history_id", "tbl", "customer_key", "old_tier", "new_tier",
	"changed_at", "changed_by", "adjustment_id", "reason", "dropped_table"
};
/* dropped_table, the last column of both, came with 0.2.0: missing until ALTER EXTENSION UPDATE. */
#define APPENDER_NEWER_COLUMNS 1
#define KEY_CHANGE_NATTS 6
static const char *const key_change_attnames[KEY_CHANGE_NATTS] = {
	"tbl", "old_key", "new_key", "changed_at", "changed_by", "dropped_table"
};

static void
append_history(CustierAppender *a, Oid seq, Oid relid, const char *key, Tier old_tier, Tier new_tier,
			   TimestampTz at, Name by, int64 adjustment_id, const char *reason)
{
	Datum		v[HISTORY_NATTS];
	bool		n[HISTORY_NATTS] = {false};

	v[0] = Int64GetDatum(nextval_internal(seq, false));
	v[1] = ObjectIdGetDatum(relid);
	v[2] = CStringGetTextDatum(key);
	v[3] = TierGetDatum(old_tier);
	n[3] = old_tier == 0;
	v[4] = TierGetDatum(new_tier);
	n[4] = new_tier == 0;
	v[5] = TimestampTzGetDatum(at);
	v[6] = NameGetDatum(by);
	v[7] = Int64GetDatum(adjustment_id);
	n[7] = adjustment_id == 0;
	v[8] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	n[8] = reason == NULL;
	v[9] = (Datum) 0;			/* dropped_table: the table exists */
	n[9] = true;
	custier_appender_append(a, v, n);
}

/* Index order of tier_history_as_of; ties keep the order of the changes. */
static int
pending_cmp(const void *a, const void *b)
{
	const PendingChange *x = *(PendingChange *const *) a;
	const PendingChange *y = *(PendingChange *const *) b;
	int			c;

	if (x->relid != y->relid)
		return x->relid < y->relid ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Writes the pending changes made by the current subtransaction and its
 * (committed) children; those of enclosing subtransactions stay pending,
 * since rows written here would vanish if this subtransaction rolled back
 * while the changes they record stay.  changed_at is the clock when the
 * trigger saw the change: a later change of the same customer by another
 * transaction waited for this one's row lock, so its changed_at is later,
 * and each customer's chain is ordered by time however late it is written.
 */
static void
pending_flush(void)
{
	CustierAppender *hist;
	CustierAppender *keys = NULL;
	bool		keys_open = false;
	Oid			seq;
	NameData	by;
	Oid			by_oid = InvalidOid;
	MemoryContext work;
	MemoryContext rowcxt;
	MemoryContext old;
	PendingChange **sorted;
	int			nsorted;
	int			nkept;
	SubTransactionId cur = GetCurrentSubTransactionId();
	int			i;

	if (npending == 0 || pending[npending - 1].subid < cur)
		return;
	seq = get_relname_relid("tier_history_history_id_seq", get_namespace_oid("custier", false));
	if (!OidIsValid(seq))
		elog(ERROR, "custier.tier_history_history_id_seq is missing");

	work = AllocSetContextCreate(CurrentMemoryContext, "custier history flush", ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(work, "custier history row", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(work);
	{
		Oid			types[HISTORY_NATTS] = {INT8OID, REGCLASSOID, TEXTOID, custier_tier_type(), custier_tier_type(),
			TIMESTAMPTZOID, NAMEOID, INT8OID, TEXTOID, TEXTOID};

		hist = custier_appender_open("tier_history", HISTORY_NATTS, history_attnames, types, APPENDER_NEWER_COLUMNS);
	}
	/*
	 * In key order, the index insertions walk the history index from left
	 * to right instead of jumping around it: markedly cheaper for big
	 * statements.  One customer's changes keep their order.
	 */
	sorted = palloc(npending * sizeof(PendingChange *));
	nsorted = 0;
	for (i = 0; i < npending; i++)
		if (pending[i].subid >= cur)
			sorted[nsorted++] = &pending[i];
	if (nsorted > 1)
		qsort(sorted, nsorted, sizeof(PendingChange *), pending_cmp);
	for (i = 0; i < nsorted; i++)
	{
		PendingChange *c = sorted[i];
		TimestampTz now = c->at;

		MemoryContextReset(rowcxt);
		MemoryContextSwitchTo(rowcxt);

		if (c->changed_by != by_oid)
		{
			namestrcpy(&by, GetUserNameFromId(c->changed_by, false));
			by_oid = c->changed_by;
		}
		if (c->old_key == NULL)
			append_history(hist, seq, c->relid, c->key, c->old_tier, c->new_tier,
						   now, &by, c->adjustment_id, c->reason);
		else
		{
			Datum		v[KEY_CHANGE_NATTS];
			bool		n[KEY_CHANGE_NATTS] = {false};
			char	   *why;

			/* The old key's chain ends; the new key's chain continues it. */
			if (c->old_tier != 0)
			{
				why = psprintf("key changed to \"%s\"", c->key);
				append_history(hist, seq, c->relid, c->old_key, c->old_tier, 0,
							   now, &by, 0, why);
			}
			if (c->old_tier != 0 || c->new_tier != 0)
			{
				why = c->reason ? (char *) c->reason : psprintf("key changed from \"%s\"", c->old_key);
				append_history(hist, seq, c->relid, c->key, c->old_tier, c->new_tier,
							   now, &by, c->adjustment_id, why);
			}
			if (!keys_open)
			{
				MemoryContextSwitchTo(work);
				{
					Oid			types[KEY_CHANGE_NATTS] = {REGCLASSOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, NAMEOID, TEXTOID};

					keys = custier_appender_open("customer_key_change", KEY_CHANGE_NATTS, key_change_attnames,
												 types, APPENDER_NEWER_COLUMNS);
				}
				MemoryContextSwitchTo(rowcxt);
				keys_open = true;
			}
			v[0] = ObjectIdGetDatum(c->relid);
			v[1] = CStringGetTextDatum(c->old_key);
			v[2] = CStringGetTextDatum(c->key);
			v[3] = TimestampTzGetDatum(now);
			v[4] = NameGetDatum(&by);
			v[5] = (Datum) 0;	/* dropped_table */
			n[5] = true;
			custier_appender_append(keys, v, n);
		}
	}
	MemoryContextSwitchTo(work);
	if (keys_open)
		custier_appender_close(keys);
	custier_appender_close(hist);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);

	/* Keep the enclosing subtransactions' changes, in their order. */
	nkept = 0;
	for (i = 0; i < npending; i++)
		if (pending[i].subid < cur)
			pending[nkept++] = pending[i];
	if (nkept == 0)
	{
		MemoryContextReset(pending_cxt);
		pending = NULL;
		npending = maxpending = 0;
	}
	else
		npending = nkept;
}

static void
history_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* A safety net: every statement trigger flushes already. */
			pending_flush();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending_discard();
			custier_end_authorized_change();
			break;
	}
}

static void
history_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* Drop what the aborted subtransaction (and its children) collected. */
	while (npending > 0 && pending[npending - 1].subid >= mySubid)
		npending--;
	if (window_open && window_subid >= mySubid)
		custier_end_authorized_change();
}

void
_PG_init(void)
{
	RegisterXactCallback(history_xact_callback, NULL);
	RegisterSubXactCallback(history_subxact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * Triggers on managed tables.
 * ---------------------------------------------------------------------
 */

/* Per trigger (fn_extra): where the key and the grade are, how to print the key. */
typedef struct ManagedColumns
{
	Oid			relid;
	AttrNumber	key_att;
	AttrNumber	tier_att;
	bool		key_byval;
	int16		key_len;
	FmgrInfo	key_out;
} ManagedColumns;

/*
 * A column named by a trigger argument.  Triggers name their columns, so
 * that a dump restored into a table without the dropped columns of the
 * original (whose column numbers differ) finds them; triggers made by 0.1.0
 * gave column numbers.
 */
static int
trigger_column(Relation rel, const char *arg)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), arg);
	const char *p;

	if (att != InvalidAttrNumber)
		return att;
	for (p = arg; *p; p++)
		if (!isdigit((unsigned char) *p))
			return 0;
	return p == arg ? 0 : pg_strtoint32(arg);
}

static ManagedColumns *
managed_columns(FunctionCallInfo fcinfo, TriggerData *td)
{
	ManagedColumns *mc = (ManagedColumns *) fcinfo->flinfo->fn_extra;
	Relation	rel = td->tg_relation;
	Trigger    *trig = td->tg_trigger;

	if (mc == NULL || mc->relid != RelationGetRelid(rel))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		Form_pg_attribute katt;
		Form_pg_attribute tatt;
		Oid			outfn;
		bool		isvarlena;
		int			k;
		int			t;

		if (trig->tgnargs != 2)
			elog(ERROR, "trigger %s: custier triggers take the key and tier columns", trig->tgname);
		k = trigger_column(rel, trig->tgargs[0]);
		t = trigger_column(rel, trig->tgargs[1]);
		if (k < 1 || k > desc->natts || t < 1 || t > desc->natts ||
			TupleDescAttr(desc, k - 1)->attisdropped || TupleDescAttr(desc, t - 1)->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %s is managed by custier but its key or tier column is gone",
							RelationGetRelationName(rel)),
					 errhint("Call custier.unmanage('%s') and manage it again.",
							 RelationGetRelationName(rel))));
		katt = TupleDescAttr(desc, k - 1);
		tatt = TupleDescAttr(desc, t - 1);
		(void) tatt;
		if (mc == NULL)
			mc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ManagedColumns));
		mc->relid = RelationGetRelid(rel);
		mc->key_att = k;
		mc->tier_att = t;
		mc->key_byval = katt->attbyval;
		mc->key_len = katt->attlen;
		getTypeOutputInfo(katt->atttypid, &outfn, &isvarlena);
		fmgr_info_cxt(outfn, &mc->key_out, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = mc;
	}
	return mc;
}

static inline Tier
tuple_tier(HeapTuple tup, TupleDesc desc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);

	return isnull ? 0 : DatumGetTier(d);
}

static inline char *
tuple_key(ManagedColumns *mc, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, mc->key_att, desc, &isnull);

	/* manage() wants the key NOT NULL; if that was dropped since, say so. */
	return isnull ? NULL : OutputFunctionCall(&mc->key_out, d);
}

/*
 * Does the open window cover this change of a row by an UPDATE: the row
 * version the window's own statement wrote, and (for an approval) exactly
 * the approved change of the approved customer?
 */
static bool
window_covers(Relation rel, HeapTuple newtup, const char *key, Tier old_tier, Tier new_tier)
{
	if (!window_open || window_relid != RelationGetRelid(rel))
		return false;
	/* Command ids are read from the heap tuple header: heap tables only. */
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(newtup->t_data)) ||
		HeapTupleHeaderGetCmin(newtup->t_data) != window_cid)
		return false;
	if (window_limited &&
		(old_tier != window_from || new_tier != window_to ||
		 key == NULL || strcmp(key, window_key) != 0))
		return false;
	return true;
}

static void
record_change(Oid relid, const char *key, const char *old_key, Tier old_tier, Tier new_tier,
			  bool authorized)
{
	PendingChange *c = pending_add();

	c->relid = relid;
	c->key = MemoryContextStrdup(pending_cxt, key ? key : "");
	c->old_key = old_key ? MemoryContextStrdup(pending_cxt, old_key) : NULL;
	c->old_tier = old_tier;
	c->new_tier = new_tier;
	c->changed_by = authorized ? window_actor : GetUserId();
	c->adjustment_id = authorized ? window_adjustment_id : 0;
	c->reason = authorized ? window_reason : NULL;
	c->at = GetCurrentTimestamp();
	c->subid = GetCurrentSubTransactionId();
	if (npending >= PENDING_FLUSH_BATCH)
		pending_flush();
}

/*
 * The keys of an updated row as custier records them; returns true when the
 * key did not change.  *old_text is NULL when the key did not change.
 */
static bool
row_keys(ManagedColumns *mc, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc,
		 char **old_text, char **new_text)
{
	bool		old_null;
	bool		new_null;
	Datum		old_key = heap_getattr(oldtup, mc->key_att, desc, &old_null);
	Datum		new_key = heap_getattr(newtup, mc->key_att, desc, &new_null);

	*new_text = tuple_key(mc, newtup, desc);
	*old_text = NULL;
	/* Keys are compared as the text custier records them by. */
	if (old_null == new_null &&
		(old_null || datumIsEqual(old_key, new_key, mc->key_byval, mc->key_len)))
		return true;
	*old_text = tuple_key(mc, oldtup, desc);
	if (*old_text && *new_text && strcmp(*old_text, *new_text) == 0)
	{
		*old_text = NULL;
		return true;
	}
	if (*old_text == NULL)
		*old_text = "";
	return false;
}

/*
 * custier.history_trigger(key_attnum, tier_attnum): AFTER ROW collects,
 * AFTER STATEMENT writes, BEFORE TRUNCATE refuses.
 */
Datum
custier_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	ManagedColumns *mc;
	TupleDesc	desc;
	Oid			relid;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.history_trigger() must be called as a trigger")));
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot truncate table %s: its grades are managed by custier",
						RelationGetRelationName(td->tg_relation)),
				 errhint("DELETE the rows (each removal is recorded in custier.tier_history), or call custier.unmanage first.")));
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
	{
		pending_flush();
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "custier.history_trigger() must fire AFTER");

	mc = managed_columns(fcinfo, td);
	desc = RelationGetDescr(td->tg_relation);
	relid = RelationGetRelid(td->tg_relation);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		Tier		t = tuple_tier(td->tg_trigtuple, desc, mc->tier_att);

		if (t != 0)
			record_change(relid, tuple_key(mc, td->tg_trigtuple, desc), NULL, 0, t, false);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		Tier		t = tuple_tier(td->tg_trigtuple, desc, mc->tier_att);

		if (t != 0)
			record_change(relid, tuple_key(mc, td->tg_trigtuple, desc), NULL, t, 0, false);
	}
	else
	{
		HeapTuple	newtup = td->tg_newtuple;
		Tier		old_tier = tuple_tier(td->tg_trigtuple, desc, mc->tier_att);
		Tier		new_tier = tuple_tier(newtup, desc, mc->tier_att);
		char	   *old_text;
		char	   *new_text;
		bool		same_key = row_keys(mc, td->tg_trigtuple, newtup, desc, &old_text, &new_text);
		bool		authorized = old_tier != new_tier &&
			window_covers(td->tg_relation, newtup, new_text, old_tier, new_tier);

		if (!same_key)
			record_change(relid, new_text, old_text, old_tier, new_tier, authorized);
		else if (old_tier != new_tier)
			record_change(relid, new_text, NULL, old_tier, new_tier, authorized);
	}
	return PointerGetDatum(NULL);
}

/*
 * The grade custier last recorded for a key of a table: the grade after its
 * latest change, or before it when that change removed the grade (a delete,
 * a key changed away).  Read through the history index with a dirty
 * snapshot, so that this transaction's own rows count, whatever command
 * wrote them.  Returns false when the key has no history.
 */
static bool
recorded_grade(Oid relid, const char *key, Tier *grade)
{
	Oid			nsp = get_namespace_oid("custier", false);
	Oid			hist_id = get_relname_relid("tier_history", nsp);
	Oid			index_id = get_relname_relid("tier_history_as_of", nsp);
	Relation	hist;
	SysScanDesc scan;
	ScanKeyData skey[2];
	SnapshotData dirty;
	HeapTuple	tup;
	bool		found = false;

	if (!OidIsValid(hist_id) || !OidIsValid(index_id))
		elog(ERROR, "custier.tier_history or its index tier_history_as_of is missing");
	InitDirtySnapshot(dirty);
	hist = table_open(hist_id, AccessShareLock);
	/* Heap attribute numbers: tbl, customer_key (index order: newest first). */
	ScanKeyInit(&skey[0], 2, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&skey[1], 3, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(key));
	scan = systable_beginscan(hist, index_id, true, &dirty, 2, skey);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		TupleDesc	desc = RelationGetDescr(hist);
		Tier		new_tier = tuple_tier(tup, desc, 5);

		*grade = new_tier != 0 ? new_tier : tuple_tier(tup, desc, 4);
		found = true;
	}
	systable_endscan(scan);
	table_close(hist, AccessShareLock);
	return found;
}

static const char *
tier_text(Tier t, char *buf)
{
	if (t == 0)
		return "NULL";
	buf[0] = TIER_LETTER(t);
	buf[1] = '\0';
	return buf;
}

/*
 * A graded row arrives at a key (INSERT, or a key change): refused when the
 * key has history ending at another grade, or else deleting a customer and
 * inserting it again would change its grade without approval.
 */
static void
guard_arrival(Relation rel, const char *key, const char *from_key, Tier grade)
{
	Tier		last;
	char		gbuf[2];
	char		lbuf[2];
	const char *g;
	const char *l;
	const char *name = RelationGetRelationName(rel);

	if (grade == 0 || !recorded_grade(RelationGetRelid(rel), key ? key : "", &last) || last == grade)
		return;
	g = tier_text(grade, gbuf);
	l = tier_text(last, lbuf);
	if (from_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("customer \"%s\" cannot be inserted into table %s with grade %s: its recorded grade is %s",
						key ? key : "", name, g, l),
				 errdetail("Table %s is managed with require_approval: a customer that was deleted (or renamed) comes back at its recorded grade.",
						   name),
				 errhint("Insert it with grade %s (or none), then propose the change with custier.propose('%s', '%s', '%s', reason).",
						 l, name, key ? key : "", g)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("customer \"%s\" of table %s cannot take over key \"%s\" with grade %s: the recorded grade of \"%s\" is %s",
					from_key, name, key ? key : "", g, key ? key : "", l),
			 errdetail("Table %s is managed with require_approval: a key keeps its recorded grade.", name),
			 errhint("Propose grade changes with custier.propose('%s', '%s', '%s', reason).",
					 name, from_key, l)));
}

/*
 * custier.guard_trigger(key_attnum, tier_attnum): AFTER INSERT and AFTER
 * UPDATE ROW, so that it judges the row as finally written (after every
 * BEFORE trigger).
 */
Datum
custier_guard_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	ManagedColumns *mc;
	TupleDesc	desc;
	Tier		old_tier;
	Tier		new_tier;
	Relation	rel;
	char	   *old_key;
	char	   *key;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.guard_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!(TRIGGER_FIRED_BY_UPDATE(td->tg_event) || TRIGGER_FIRED_BY_INSERT(td->tg_event)))
		elog(ERROR, "custier.guard_trigger() must fire AFTER INSERT or UPDATE, for each row");

	rel = td->tg_relation;
	mc = managed_columns(fcinfo, td);
	desc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		guard_arrival(rel, tuple_key(mc, td->tg_trigtuple, desc), NULL,
					  tuple_tier(td->tg_trigtuple, desc, mc->tier_att));
		return PointerGetDatum(NULL);
	}

	old_tier = tuple_tier(td->tg_trigtuple, desc, mc->tier_att);
	new_tier = tuple_tier(td->tg_newtuple, desc, mc->tier_att);
	if (!row_keys(mc, td->tg_trigtuple, td->tg_newtuple, desc, &old_key, &key))
		guard_arrival(rel, key, old_key, new_tier);
	if (old_tier == new_tier || window_covers(rel, td->tg_newtuple, key, old_tier, new_tier))
		return PointerGetDatum(NULL);

	{
		char		o[2];
		char		n[2];

		const char *old_text = tier_text(old_tier, o);
		const char *new_text = tier_text(new_tier, n);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("grade of customer \"%s\" in table %s cannot be changed directly from %s to %s",
						key ? key : "", RelationGetRelationName(rel), old_text, new_text),
				 errdetail("Table %s is managed with require_approval: grades change only through an approved adjustment or an evaluation run.",
						   RelationGetRelationName(rel)),
				 errhint("Propose the change with custier.propose('%s', '%s', '%s', reason).",
						 RelationGetRelationName(rel), key ? key : "", new_tier ? n : "")));
	}
	return PointerGetDatum(NULL);
}

/* custier.history_append_only(): BEFORE UPDATE/DELETE/TRUNCATE on history tables. */
Datum
custier_history_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.history_append_only() must be called as a trigger")));
	/* custier._forget_table re-points a dropped table's rows (lifecycle.c). */
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && custier_forgetting_table())
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("custier.%s is append-only: %s is not allowed",
					RelationGetRelationName(td->tg_relation),
					TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? "UPDATE" :
					TRIGGER_FIRED_BY_DELETE(td->tg_event) ? "DELETE" :
					TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ? "TRUNCATE" : "this"),
			 errdetail("Grade history is written by custier alone and never changed, by any role.")));
	PG_RETURN_NULL();
}

/* ---------------------------------------------------------------------
 * Applying grades: the one path by which approve() and evaluation runs
 * change a managed table.
 * ---------------------------------------------------------------------
 */
Oid
custier_tier_type(void)
{
	Oid			typ = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("tier"),
									  ObjectIdGetDatum(get_namespace_oid("custier", false)));

	if (!OidIsValid(typ))
		elog(ERROR, "type custier.tier is missing");
	return typ;
}

Oid
custier_tier_array_type(void)
{
	return get_array_type(custier_tier_type());
}

Oid
custier_relation_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

uint64
custier_apply_grades(Oid relid, Datum keys, Datum from, Datum to, int n,
					 int64 adjustment_id, const char *reason, Datum *applied_keys,
					 CustierApplyCache *cache)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Oid			tier_array = custier_tier_array_type();
	Oid			argtypes[3] = {TEXTARRAYOID, tier_array, tier_array};
	Datum		values[3];
	Oid			one_type[1] = {REGCLASSOID};
	Datum		one_value[1];
	char	   *sql;
	char	   *table;
	Oid			table_owner = custier_relation_owner(relid);
	uint64		changed = 0;
	Datum	   *done = NULL;
	int			ndone = 0;

	values[0] = keys;
	values[1] = from;
	values[2] = to;
	one_value[0] = ObjectIdGetDatum(relid);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	/* The statement, from custier.managed_table and the catalogs (or the caller's cache of it). */
	if (cache != NULL && cache->relid == relid && cache->sql != NULL)
		sql = cache->sql;
	else
	{
		if (custier_exec_as(custier_extension_owner(), "SELECT custier._apply_sql($1)",
							1, one_type, one_value, NULL, true, 1) != 1)
			elog(ERROR, "custier._apply_sql returned nothing");
		sql = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (cache != NULL)
		{
			cache->sql = MemoryContextStrdup(cache->cxt, sql);
			cache->relid = relid;
		}
	}
	table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));

	custier_begin_authorized_change(relid, adjustment_id, reason);
	PG_TRY();
	{
		uint64		row;

		if (n == 1)
		{
			/* Exactly this change of this customer gets through. */
			Datum	   *k,
					   *f,
					   *t;
			bool	   *kn,
					   *fn,
					   *tn;
			int			nk,
						nf,
						nt;

			deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT, &k, &kn, &nk);
			deconstruct_array(DatumGetArrayTypeP(from), custier_tier_type(), 1, true, TYPALIGN_CHAR, &f, &fn, &nf);
			deconstruct_array(DatumGetArrayTypeP(to), custier_tier_type(), 1, true, TYPALIGN_CHAR, &t, &tn, &nt);
			if (nk != 1 || nf != 1 || nt != 1 || kn[0] || tn[0])
				elog(ERROR, "custier_apply_grades: malformed change");
			custier_limit_authorized_change(TextDatumGetCString(k[0]),
											fn[0] ? 0 : DatumGetTier(f[0]), DatumGetTier(t[0]));
		}
		/* As the table's owner: its own triggers run as it, not as custier. */
		changed = custier_exec_generic(CUSTIER_AS_TABLE_OWNER, table_owner, sql, 3, argtypes, values,
									   NULL, false, 0);

		/*
		 * The window lets this statement's rows through; a trigger of the
		 * table's own must not use it to store a grade custier did not
		 * decide.
		 */
		done = palloc(sizeof(Datum) * Max(changed, 1));
		for (row = 0; row < changed; row++)
		{
			bool		isnull;
			Datum		as_decided = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull);
			char	   *key = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1);

			if (isnull || !DatumGetBool(as_decided))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("a trigger on table %s changed the grade custier wrote for customer \"%s\"",
								table, key ? key : ""),
						 errdetail("%s may only store the grade %s.",
								   adjustment_id ? "An approved adjustment" : "An evaluation run",
								   adjustment_id ? "that was approved" : "its policy decided"),
						 errhint("Remove or fix the trigger that rewrites the tier column of %s.", table)));
			done[ndone++] = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull);
		}
	}
	PG_FINALLY();
	{
		custier_end_authorized_change();
	}
	PG_END_TRY();

	if (applied_keys)
	{
		MemoryContext spi_cxt = MemoryContextSwitchTo(caller_cxt);

		*applied_keys = PointerGetDatum(construct_array(done, ndone, TEXTOID, -1, false, TYPALIGN_INT));
		MemoryContextSwitchTo(spi_cxt);
	}
	SPI_finish();
	return changed;
}

/* ---------------------------------------------------------------------
 * manage / unmanage
 * ---------------------------------------------------------------------
 */
static Oid	managing_relid = InvalidOid;

bool
custier_managing(void)
{
	return OidIsValid(managing_relid);
}

void
custier_set_managing(Oid relid)
{
	managing_relid = relid;
}

/*
 * custier.manage: the checks, the registration and the triggers are
 * custier._manage's, run as the extension owner (reading only the catalogs
 * and custier's tables); the grades the table holds are read as the table's
 * owner, and recorded as the extension owner.
 */
Datum
custier_manage(PG_FUNCTION_ARGS)
{
	Oid			types[5] = {REGCLASSOID, NAMEOID, NAMEOID, TEXTOID, BOOLOID};
	Datum		values[5];
	Oid			relid;
	Oid			owner = custier_extension_owner();
	int			i;

	custier_require_arg(fcinfo, 0, "tbl");
	custier_require_arg(fcinfo, 1, "key_column");
	custier_require_arg(fcinfo, 2, "tier_column");
	custier_require_arg(fcinfo, 3, "policy");
	custier_require_arg(fcinfo, 4, "require_approval");
	custier_citus_refuse_manage(PG_GETARG_OID(0));
	for (i = 0; i < 5; i++)
		values[i] = PG_GETARG_DATUM(i);
	relid = PG_GETARG_OID(0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	managing_relid = relid;
	PG_TRY();
	{
		char	   *sql;
		Oid			rtypes[3] = {REGCLASSOID, TEXTARRAYOID, custier_tier_array_type()};
		Datum		rvalues[3];
		char		rnulls[3] = {' ', ' ', ' '};
		bool		isnull;

		custier_exec_as(owner, "SELECT custier._manage($1, $2, $3, $4, $5)", 5, types, values, NULL, false, 0);

		/* The grades it holds now, read as its owner. */
		sql = psprintf("SELECT pg_catalog.array_agg(pg_catalog.format('%%s', t.%s)), pg_catalog.array_agg(t.%s)"
					   " FROM %s t WHERE t.%s IS NOT NULL",
					   quote_identifier(NameStr(*PG_GETARG_NAME(1))),
					   quote_identifier(NameStr(*PG_GETARG_NAME(2))),
					   quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												  get_rel_name(relid)),
					   quote_identifier(NameStr(*PG_GETARG_NAME(2))));
		custier_exec_with(CUSTIER_AS_TABLE_OWNER, custier_relation_owner(relid), sql, 0, NULL, NULL, NULL, true, 1);
		rvalues[0] = values[0];
		rvalues[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			rnulls[1] = 'n';
		rvalues[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (isnull)
			rnulls[2] = 'n';
		/* On record from now on: the history continues where it left off. */
		custier_exec_as(owner, "SELECT custier._manage_record($1, $2, $3)", 3, rtypes, rvalues, rnulls, false, 0);
	}
	PG_FINALLY();
	{
		managing_relid = InvalidOid;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
custier_unmanage(PG_FUNCTION_ARGS)
{
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1];

	custier_require_arg(fcinfo, 0, "tbl");
	values[0] = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	managing_relid = PG_GETARG_OID(0);
	PG_TRY();
	{
		custier_exec_as(custier_extension_owner(), "SELECT custier._unmanage($1)", 1, types, values, NULL, false, 0);
	}
	PG_FINALLY();
	{
		managing_relid = InvalidOid;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The event triggers: custier._sql_drop / custier._ddl_end, run as the
 * extension owner (they read the catalogs and custier.managed_table, and
 * forget dropped tables), except while custier's own manage/unmanage is
 * changing a table's triggers.
 */
static Datum
event_work(FunctionCallInfo fcinfo, const char *sql)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier's event trigger functions must be called as event triggers")));
	if (custier_managing())
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	custier_exec_as(custier_extension_owner(), sql, 0, NULL, NULL, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
custier_on_sql_drop(PG_FUNCTION_ARGS)
{
	return event_work(fcinfo, "SELECT custier._sql_drop()");
}

Datum
custier_on_ddl_end(PG_FUNCTION_ARGS)
{
	return event_work(fcinfo, "SELECT custier._ddl_end()");
}

/*
 * custier.tiers_at(tbl, at): showing the caller the customers it may see
 * in tbl.  When no row-level security applies to it (the fast path) the
 * states come from one index-only pass over tier_history_as_of
 * (custier_tiers_at_scan, src/insight.c); when row-level security applies,
 * custier._tiers_at runs as the extension owner and keeps the keys the
 * caller can SELECT (custier._can_see); without SELECT, nothing.
 */
Datum
custier_tiers_at(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			history = get_relname_relid("tier_history", get_namespace_oid("custier", false));
	AclResult	acl;
	CustierSight sight;
	ParamListInfo params;
	SPIExecuteOptions options;
	DestReceiver *dest;
	CustierRights r;

	InitMaterializedSRF(fcinfo, 0);
	if (!OidIsValid(history))
		elog(ERROR, "custier.tier_history is missing");
	/* As when the caller read tier_history itself. */
	acl = pg_class_aclcheck(history, custier_actor(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "tier_history");
	sight = custier_table_sight(relid, custier_actor());
	if (sight == CUSTIER_SEES_NONE)
		return (Datum) 0;
	if (sight == CUSTIER_SEES_ALL)
	{
		custier_tiers_at_scan(fcinfo, relid, PG_GETARG_TIMESTAMPTZ(1));
		return (Datum) 0;
	}

	params = makeParamList(2);
	params->numParams = 2;
	params->params[0].value = ObjectIdGetDatum(relid);
	params->params[0].ptype = REGCLASSOID;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].isnull = false;
	params->params[1].value = PG_GETARG_DATUM(1);
	params->params[1].ptype = TIMESTAMPTZOID;
	params->params[1].pflags = PARAM_FLAG_CONST;
	params->params[1].isnull = false;

	dest = CreateTuplestoreDestReceiver();
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory,
									false, NULL, NULL);
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	custier_rights_enter(&r, CUSTIER_AS_EXTENSION, custier_extension_owner());
	PG_TRY();
	{
		if (SPI_execute_extended("SELECT s.customer_key, s.tier FROM custier._tiers_at($1, $2) s"
								 " WHERE custier._can_see($1, s.customer_key)",
								 &options) != SPI_OK_SELECT)
			elog(ERROR, "custier._tiers_at failed");
	}
	PG_FINALLY();
	{
		custier_rights_exit(&r);
	}
	PG_END_TRY();
	SPI_finish();
	dest->rDestroy(dest);
	return (Datum) 0;
}
