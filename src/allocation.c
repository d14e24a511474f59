/*
 * allocation.c — allocating customers to account owners: set_allocation,
 * allocate, and the trigger that records every change of an owner column in
 * custier.owner_history.
 *
 * allocate reads the account owners (as custier's owner) and the customers
 * (as the table's owner, in block ranges, so memory stays bounded by what
 * one customer needs in C), decides every customer's owner in memory, and
 * writes all the changes with one UPDATE as the table's owner.  The owner
 * history trigger collects the changes of a statement in backend memory
 * (AFTER ROW) and writes them at the end of the statement at the table-AM
 * level, as the grade history trigger does.
 *
 * This file is over 1000 lines because the three parts share the pending
 * list, the window that attributes allocate's own changes to its caller,
 * and the customer scan; splitting them would export all of that.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "custier.h"
#include "history.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_owner_history_trigger);
PG_FUNCTION_INFO_V1(custier_set_allocation);
PG_FUNCTION_INFO_V1(custier_allocate);
PG_FUNCTION_INFO_V1(custier_allocation_on_ddl_end);

/* Statements run as another role go through src/rights.c (custier_exec_as). */

/* ---------------------------------------------------------------------
 * The window that attributes allocate's own UPDATE to its caller.
 * ---------------------------------------------------------------------
 */
static bool window_open = false;
static Oid	window_relid = InvalidOid;
static Oid	window_actor = InvalidOid;
static char *window_reason = NULL;	/* in TopTransactionContext */
static CommandId window_cid = InvalidCommandId;
static SubTransactionId window_subid = InvalidSubTransactionId;

static void
window_begin(Oid relid, Oid actor, const char *reason)
{
	window_open = true;
	window_relid = relid;
	window_actor = actor;
	window_reason = MemoryContextStrdup(TopTransactionContext, reason);
	window_subid = GetCurrentSubTransactionId();
	/*
	 * The caller's next SPI statement runs at this command id (SPI's own
	 * increment before it is then a no-op): only the rows that statement
	 * writes are attributed to the actor, not those written by statements
	 * nested in the table's own triggers, which run at later command ids.
	 */
	CommandCounterIncrement();
	window_cid = GetCurrentCommandId(false);
}

static void
window_end(void)
{
	window_open = false;
	window_relid = InvalidOid;
	window_actor = InvalidOid;
	window_reason = NULL;
	window_cid = InvalidCommandId;
	window_subid = InvalidSubTransactionId;
}

static bool
window_covers(Relation rel, HeapTuple newtup)
{
	if (!window_open || window_relid != RelationGetRelid(rel) || newtup == NULL)
		return false;
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(newtup->t_data)) ||
		HeapTupleHeaderGetCmin(newtup->t_data) != window_cid)
		return false;
	return true;
}

/* ---------------------------------------------------------------------
 * Owner changes waiting to be written.
 * ---------------------------------------------------------------------
 */
typedef struct PendingOwner
{
	Oid			relid;
	char	   *key;
	char	   *old_owner;		/* NULL = none */
	char	   *new_owner;		/* NULL = none */
	Oid			changed_by;
	const char *reason;			/* lives until the transaction ends */
	TimestampTz at;
	SubTransactionId subid;
} PendingOwner;

#define PENDING_FLUSH_BATCH 65536

static MemoryContext pending_cxt = NULL;
static PendingOwner *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;
static bool callbacks_registered = false;

static void pending_flush(void);

static void
pending_discard(void)
{
	pending_cxt = NULL;			/* child of TopTransactionContext */
	pending = NULL;
	npending = maxpending = 0;
}

static void
allocation_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			pending_flush();	/* a safety net: statement triggers flush */
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			pending_discard();
			window_end();
			break;
	}
}

static void
allocation_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (npending > 0 && pending[npending - 1].subid >= mySubid)
		npending--;
	if (window_open && window_subid >= mySubid)
		window_end();
}

/* _PG_init belongs to history.c: register on first use. */
static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(allocation_xact_callback, NULL);
	RegisterSubXactCallback(allocation_subxact_callback, NULL);
	callbacks_registered = true;
}

static void
pending_add(Oid relid, const char *key, const char *old_owner, const char *new_owner,
			Oid changed_by, const char *reason)
{
	PendingOwner *p;

	register_callbacks();
	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopTransactionContext,
											"custier pending owner history",
											ALLOCSET_DEFAULT_SIZES);
	if (npending == maxpending)
	{
		int			newmax = maxpending ? maxpending * 2 : 256;

		if (pending == NULL)
			pending = MemoryContextAlloc(pending_cxt, newmax * sizeof(PendingOwner));
		else
			pending = repalloc_huge(pending, (Size) newmax * sizeof(PendingOwner));
		maxpending = newmax;
	}
	p = &pending[npending++];
	p->relid = relid;
	p->key = MemoryContextStrdup(pending_cxt, key);
	p->old_owner = old_owner ? MemoryContextStrdup(pending_cxt, old_owner) : NULL;
	p->new_owner = new_owner ? MemoryContextStrdup(pending_cxt, new_owner) : NULL;
	p->changed_by = changed_by;
	p->reason = reason;
	p->at = GetCurrentTimestamp();
	p->subid = GetCurrentSubTransactionId();
	if (npending >= PENDING_FLUSH_BATCH)
		pending_flush();
}

#define OWNER_HISTORY_NATTS 8
static const char *const owner_history_attnames[OWNER_HISTORY_NATTS] = {
	"history_id", "tbl", "customer_key", "old_owner", "new_owner",
	"changed_at", "changed_by", "reason"
};

/* Index order of owner_history_as_of; one customer's changes keep their order. */
static int
pending_cmp(const void *a, const void *b)
{
	const PendingOwner *x = *(PendingOwner *const *) a;
	const PendingOwner *y = *(PendingOwner *const *) b;
	int			c;

	if (x->relid != y->relid)
		return x->relid < y->relid ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c != 0)
		return c;
	return x < y ? -1 : (x > y ? 1 : 0);
}

static Datum
name_datum(const char *s)
{
	Name		n = (Name) palloc0(NAMEDATALEN);

	namestrcpy(n, s);
	return NameGetDatum(n);
}

/*
 * Writes the pending changes of the current subtransaction (and its
 * committed children) into custier.owner_history at the table-AM level: no
 * SPI, no privilege needed by whoever changed the owner column.
 */
static void
pending_flush(void)
{
	Oid			nsp;
	Oid			relid;
	Oid			seq;
	Relation	rel;
	TupleDesc	desc;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	BulkInsertState bistate;
	CommandId	cid;
	MemoryContext work;
	MemoryContext rowcxt;
	MemoryContext old;
	PendingOwner **sorted;
	int			nsorted = 0;
	int			nkept;
	SubTransactionId cur = GetCurrentSubTransactionId();
	Oid			by_oid = InvalidOid;
	Datum		by = (Datum) 0;
	int			i;

	if (npending == 0 || pending[npending - 1].subid < cur)
		return;
	nsp = get_namespace_oid("custier", false);
	relid = get_relname_relid("owner_history", nsp);
	seq = get_relname_relid("owner_history_history_id_seq", nsp);
	if (!OidIsValid(relid) || !OidIsValid(seq))
		elog(ERROR, "custier.owner_history or its sequence is missing");

	work = AllocSetContextCreate(CurrentMemoryContext, "custier owner history flush", ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(work, "custier owner history row", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(work);

	rel = table_open(relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	if (desc->natts != OWNER_HISTORY_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("custier.owner_history has been altered: expected %d columns, found %d",
						OWNER_HISTORY_NATTS, desc->natts)));
	for (i = 0; i < OWNER_HISTORY_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), owner_history_attnames[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("custier.owner_history has been altered: column %d is not \"%s\"",
							i + 1, owner_history_attnames[i])));
	}
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = table_slot_create(rel, NULL);
	bistate = GetBulkInsertState();
	cid = GetCurrentCommandId(true);

	sorted = palloc(npending * sizeof(PendingOwner *));
	for (i = 0; i < npending; i++)
		if (pending[i].subid >= cur)
			sorted[nsorted++] = &pending[i];
	if (nsorted > 1)
		qsort(sorted, nsorted, sizeof(PendingOwner *), pending_cmp);

	for (i = 0; i < nsorted; i++)
	{
		PendingOwner *p = sorted[i];

		MemoryContextSwitchTo(work);
		if (p->changed_by != by_oid)
		{
			by = name_datum(GetUserNameFromId(p->changed_by, false));
			by_oid = p->changed_by;
		}
		MemoryContextReset(rowcxt);
		MemoryContextSwitchTo(rowcxt);
		ExecClearTuple(slot);
		slot->tts_values[0] = Int64GetDatum(nextval_internal(seq, false));
		slot->tts_isnull[0] = false;
		slot->tts_values[1] = ObjectIdGetDatum(p->relid);
		slot->tts_isnull[1] = false;
		slot->tts_values[2] = CStringGetTextDatum(p->key);
		slot->tts_isnull[2] = false;
		slot->tts_isnull[3] = p->old_owner == NULL;
		slot->tts_values[3] = p->old_owner ? name_datum(p->old_owner) : (Datum) 0;
		slot->tts_isnull[4] = p->new_owner == NULL;
		slot->tts_values[4] = p->new_owner ? name_datum(p->new_owner) : (Datum) 0;
		slot->tts_values[5] = TimestampTzGetDatum(p->at);
		slot->tts_isnull[5] = false;
		slot->tts_values[6] = by;
		slot->tts_isnull[6] = false;
		slot->tts_isnull[7] = p->reason == NULL;
		slot->tts_values[7] = p->reason ? CStringGetTextDatum(p->reason) : (Datum) 0;
		ExecStoreVirtualTuple(slot);
		table_tuple_insert(rel, slot, cid, 0, bistate);
		if (rri->ri_NumIndices > 0)
		{
#if PG_VERSION_NUM >= 160000
			list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, false, NULL, NIL));
#else
			list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
#endif
		}
		ResetPerTupleExprContext(estate);
	}
	MemoryContextSwitchTo(work);
	ExecDropSingleTupleTableSlot(slot);
	FreeBulkInsertState(bistate);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);

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

/* ---------------------------------------------------------------------
 * The owner history trigger.
 * ---------------------------------------------------------------------
 */
typedef struct OwnerColumns
{
	Oid			relid;
	AttrNumber	owner_att;
	AttrNumber	key_att;
	Oid			owner_type;
	FmgrInfo	key_out;
} OwnerColumns;

static OwnerColumns *
owner_columns(FunctionCallInfo fcinfo, TriggerData *td)
{
	OwnerColumns *oc = (OwnerColumns *) fcinfo->flinfo->fn_extra;
	Relation	rel = td->tg_relation;
	Trigger    *trig = td->tg_trigger;

	if (oc == NULL || oc->relid != RelationGetRelid(rel))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		int			o;
		int			k;
		Oid			outfn;
		bool		isvarlena;
		Oid			otype;

		if (trig->tgnargs != 2)
			elog(ERROR, "trigger %s: custier.owner_history_trigger takes the owner and key column numbers", trig->tgname);
		o = pg_strtoint32(trig->tgargs[0]);
		k = pg_strtoint32(trig->tgargs[1]);
		if (o < 1 || o > desc->natts || k < 1 || k > desc->natts ||
			TupleDescAttr(desc, o - 1)->attisdropped || TupleDescAttr(desc, k - 1)->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table %s has an allocation but its owner or key column is gone",
							RelationGetRelationName(rel)),
					 errhint("Call custier.set_allocation on it again.")));
		otype = TupleDescAttr(desc, o - 1)->atttypid;
		if (otype != NAMEOID && otype != TEXTOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("owner column of table %s must be of type name or text",
							RelationGetRelationName(rel))));
		if (oc == NULL)
			oc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(OwnerColumns));
		oc->relid = RelationGetRelid(rel);
		oc->owner_att = o;
		oc->key_att = k;
		oc->owner_type = otype;
		getTypeOutputInfo(TupleDescAttr(desc, k - 1)->atttypid, &outfn, &isvarlena);
		fmgr_info_cxt(outfn, &oc->key_out, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = oc;
	}
	return oc;
}

/* The owner of a row as a C string (palloc'd), NULL when none. */
static char *
tuple_owner(OwnerColumns *oc, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, oc->owner_att, desc, &isnull);

	if (isnull)
		return NULL;
	if (oc->owner_type == NAMEOID)
		return pstrdup(NameStr(*DatumGetName(d)));
	return TextDatumGetCString(d);
}

static char *
tuple_key(OwnerColumns *oc, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, oc->key_att, desc, &isnull);

	return isnull ? pstrdup("") : OutputFunctionCall(&oc->key_out, d);
}

/*
 * custier.owner_history_trigger(owner_attnum, key_attnum): AFTER ROW
 * collects, AFTER STATEMENT writes.  Changes made by allocate's own UPDATE
 * are attributed to allocate's caller; every other change to the role that
 * made it.
 */
Datum
custier_owner_history_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	OwnerColumns *oc;
	TupleDesc	desc;
	Relation	rel;
	char	   *old_owner = NULL;
	char	   *new_owner = NULL;
	HeapTuple	keytup;
	bool		ours;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.owner_history_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "custier.owner_history_trigger() must fire AFTER");
	if (TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
	{
		pending_flush();
		return PointerGetDatum(NULL);
	}

	rel = td->tg_relation;
	oc = owner_columns(fcinfo, td);
	desc = RelationGetDescr(rel);

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		new_owner = tuple_owner(oc, td->tg_trigtuple, desc);
		keytup = td->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		old_owner = tuple_owner(oc, td->tg_trigtuple, desc);
		keytup = td->tg_trigtuple;
	}
	else
	{
		old_owner = tuple_owner(oc, td->tg_trigtuple, desc);
		new_owner = tuple_owner(oc, td->tg_newtuple, desc);
		keytup = td->tg_newtuple;
	}
	if ((old_owner == NULL && new_owner == NULL) ||
		(old_owner != NULL && new_owner != NULL && strcmp(old_owner, new_owner) == 0))
		return PointerGetDatum(NULL);

	ours = TRIGGER_FIRED_BY_UPDATE(td->tg_event) && window_covers(rel, td->tg_newtuple);
	pending_add(RelationGetRelid(rel), tuple_key(oc, keytup, desc), old_owner, new_owner,
				ours ? window_actor : GetUserId(), ours ? window_reason : NULL);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------
 * What custier knows about a table with an allocation.
 * ---------------------------------------------------------------------
 */
typedef struct AllocTable
{
	Oid			relid;
	Oid			table_owner;
	char	   *qualified;		/* schema-qualified, quoted */
	char	   *policy;
	char	   *key_column;
	char	   *tier_column;
	char	   *owner_column;
	char	   *region_column;	/* NULL: none */
	char	   *industry_column;	/* NULL: none */
	AttrNumber	owner_att;
	Oid			owner_type;
} AllocTable;

/* Reads the registration as custier's owner (caller connected to SPI). */
static void
alloc_table_read(Oid relid, AllocTable *at, MemoryContext cxt)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1];
	TupleDesc	d;
	HeapTuple	t;
	MemoryContext old;
	char	   *v;

	args[0] = ObjectIdGetDatum(relid);
	if (custier_exec_as(custier_extension_owner(),
						"SELECT a.owner_column::pg_catalog.text, a.region_column::pg_catalog.text,"
						"       a.industry_column::pg_catalog.text, m.key_column::pg_catalog.text,"
						"       m.tier_column::pg_catalog.text, m.policy, c.relowner"
						"  FROM custier.managed_table m"
						"  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.tbl"
						"  LEFT JOIN custier.allocation a ON a.tbl OPERATOR(pg_catalog.=) m.tbl"
						" WHERE m.tbl OPERATOR(pg_catalog.=) $1",
						1, argtypes, args, NULL, false, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s is not managed by custier", get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errhint("Attach it with custier.manage(), then give it an owner column with custier.set_allocation().")));
	d = SPI_tuptable->tupdesc;
	t = SPI_tuptable->vals[0];
	old = MemoryContextSwitchTo(cxt);
	v = SPI_getvalue(t, d, 1);
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no allocation", get_rel_name(relid)),
				 errhint("Give it an owner column first with custier.set_allocation('%s', owner_column, region_column, industry_column).",
						 get_rel_name(relid))));
	at->relid = relid;
	at->owner_column = v;
	at->region_column = SPI_getvalue(t, d, 2);
	at->industry_column = SPI_getvalue(t, d, 3);
	at->key_column = SPI_getvalue(t, d, 4);
	at->tier_column = SPI_getvalue(t, d, 5);
	at->policy = SPI_getvalue(t, d, 6);
	{
		bool		isnull;

		at->table_owner = DatumGetObjectId(SPI_getbinval(t, d, 7, &isnull));
	}
	at->qualified = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid));
	MemoryContextSwitchTo(old);
}

/* Checks the columns again once the table is locked. */
static void
alloc_table_check(AllocTable *at)
{
	const char *cols[3] = {at->owner_column, at->region_column, at->industry_column};
	int			i;

	for (i = 0; i < 3; i++)
	{
		AttrNumber	a;

		if (cols[i] == NULL)
			continue;
		a = get_attnum(at->relid, cols[i]);
		if (a == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table %s does not exist", cols[i], at->qualified),
					 errhint("Call custier.set_allocation again with the table's columns.")));
		if (i == 0)
		{
			at->owner_att = a;
			at->owner_type = get_atttype(at->relid, a);
			if (at->owner_type != NAMEOID && at->owner_type != TEXTOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("owner column \"%s\" of table %s is of type %s, not name or text",
								cols[i], at->qualified, format_type_be(at->owner_type))));
		}
	}
}

/* ---------------------------------------------------------------------
 * Reading a table in block ranges: each range is one statement, run as the
 * table's owner, whose rows the callback turns into C structures before
 * the next range is read.
 * ---------------------------------------------------------------------
 */
#define SCAN_BLOCKS 2048

typedef void (*scan_rows_fn) (void *arg, SPITupleTable *tt, uint64 n);

static void
scan_table(AllocTable *at, const char *select_list, const char *where, scan_rows_fn fn, void *arg)
{
	Relation	rel = table_open(at->relid, NoLock);	/* locked by the caller */
	BlockNumber nblocks = RelationGetNumberOfBlocks(rel);
	BlockNumber start;
	StringInfoData sql;
	Oid			argtypes[2] = {TIDOID, TIDOID};

	table_close(rel, NoLock);
	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "SELECT %s FROM ONLY %s t"
					 " WHERE t.ctid OPERATOR(pg_catalog.>=) $1 AND t.ctid OPERATOR(pg_catalog.<) $2%s%s",
					 select_list, at->qualified, where ? " AND " : "", where ? where : "");
	for (start = 0; start < nblocks; start += SCAN_BLOCKS)
	{
		ItemPointerData lo;
		ItemPointerData hi;
		Datum		args[2];
		uint64		n;

		ItemPointerSet(&lo, start, 0);
		/* The last range ends past the table: blocks added meanwhile are ours. */
		if (start + SCAN_BLOCKS >= nblocks)
			ItemPointerSet(&hi, MaxBlockNumber, 0);
		else
			ItemPointerSet(&hi, start + SCAN_BLOCKS, 0);
		args[0] = PointerGetDatum(&lo);
		args[1] = PointerGetDatum(&hi);
		/* Not read-only: each range gets a snapshot taken after the lock. */
		n = custier_exec_as(at->table_owner, sql.data, 2, argtypes, args, NULL, false, 0);
		fn(arg, SPI_tuptable, n);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(sql.data);
}

static inline char *
text_cstring_or_null(HeapTuple t, TupleDesc d, int col)
{
	bool		isnull;
	Datum		v = SPI_getbinval(t, d, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(v);
}

/* ---------------------------------------------------------------------
 * set_allocation
 * ---------------------------------------------------------------------
 */
typedef struct SnapshotArg
{
	Oid			relid;
	Oid			actor;
	HTAB	   *recorded;		/* key → last recorded owner */
	const char *reason;
} SnapshotArg;

typedef struct RecordedOwner
{
	char	   *key;			/* hash key: a pointer to a C string */
	char	   *owner;
} RecordedOwner;

static uint32
cstring_ptr_hash(const void *key, Size keysize)
{
	return string_hash(*(const char *const *) key, NAMEDATALEN * 1024);
}

static int
cstring_ptr_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static HTAB *
cstring_table(const char *name, Size entrysize, long nelem)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = entrysize;
	ctl.hash = cstring_ptr_hash;
	ctl.match = cstring_ptr_match;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

static void
snapshot_rows(void *varg, SPITupleTable *tt, uint64 n)
{
	SnapshotArg *a = (SnapshotArg *) varg;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		char	   *key = text_cstring_or_null(tt->vals[i], tt->tupdesc, 1);
		char	   *owner = text_cstring_or_null(tt->vals[i], tt->tupdesc, 2);
		RecordedOwner *r;

		if (key == NULL || owner == NULL)
			continue;
		r = hash_search(a->recorded, &key, HASH_FIND, NULL);
		if (r != NULL && r->owner != NULL && strcmp(r->owner, owner) == 0)
			continue;
		pending_add(a->relid, key, r ? r->owner : NULL, owner, a->actor, a->reason);
	}
}

Datum
custier_set_allocation(PG_FUNCTION_ARGS)
{
	Oid			types[4] = {REGCLASSOID, NAMEOID, NAMEOID, NAMEOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			relid;
	Oid			actor = GetUserId();
	AllocTable	at;
	SnapshotArg sa;
	MemoryContext cxt = CurrentMemoryContext;
	StringInfoData sel;
	uint64		i;
	uint64		n;
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1];
	int			k;

	custier_require_arg(fcinfo, 0, "tbl");
	custier_require_arg(fcinfo, 1, "owner_column");
	relid = PG_GETARG_OID(0);
	for (k = 0; k < 4; k++)
	{
		values[k] = PG_ARGISNULL(k) ? (Datum) 0 : PG_GETARG_DATUM(k);
		nulls[k] = PG_ARGISNULL(k) ? 'n' : ' ';
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* The checks and the triggers, as custier's owner for the caller. */
	/* custier's own triggers on a managed table: the DDL guard lets them in. */
	custier_set_managing(relid);
	PG_TRY();
	{
		custier_exec_as(custier_extension_owner(), "SELECT custier._set_allocation($1, $2, $3, $4)",
						4, types, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		custier_set_managing(InvalidOid);
	}
	PG_END_TRY();
	alloc_table_read(relid, &at, cxt);
	LockRelationOid(relid, ShareRowExclusiveLock);
	alloc_table_check(&at);

	/* What owner_history last says of each customer (when set before). */
	sa.relid = relid;
	sa.actor = actor;
	sa.reason = MemoryContextStrdup(TopTransactionContext, "custier.set_allocation: owner when set");
	sa.recorded = cstring_table("custier recorded owners", sizeof(RecordedOwner), 1024);
	args[0] = ObjectIdGetDatum(relid);
	n = custier_exec_as(custier_extension_owner(),
						"SELECT DISTINCT ON (h.customer_key) h.customer_key, h.new_owner::pg_catalog.text"
						"  FROM custier.owner_history h WHERE h.tbl OPERATOR(pg_catalog.=) $1"
						" ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC",
						1, argtypes, args, NULL, false, 0);
	for (i = 0; i < n; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		char	   *key = text_cstring_or_null(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *owner = text_cstring_or_null(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		RecordedOwner *r = hash_search(sa.recorded, &key, HASH_ENTER, NULL);

		r->owner = owner;
		MemoryContextSwitchTo(old);
	}
	SPI_freetuptable(SPI_tuptable);

	/* The owners the table holds now are on record from now on. */
	initStringInfo(&sel);
	appendStringInfo(&sel, "pg_catalog.format('%%s', t.%s), t.%s::pg_catalog.text",
					 quote_identifier(at.key_column), quote_identifier(at.owner_column));
	scan_table(&at, sel.data, NULL, snapshot_rows, &sa);
	pending_flush();

	SPI_finish();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * allocate
 * ---------------------------------------------------------------------
 */
#define NO_OWNER	(-1)
#define UNASSIGNED	(-2)
#define LEVELS		4			/* region+industry 3, region 2, industry 1, neither 0 */

typedef struct Owner
{
	char	   *name;
	int			region;			/* -1: any */
	int			industry;		/* -1: any */
	uint32		tiers;			/* bit g: grade g (1..26); bit 0: no grade */
	int64		capacity;		/* -1: no limit */
	int64		load;
	int			level;
} Owner;

typedef struct Customer
{
	ItemPointerData tid;
	uint8		grade;			/* 0: none */
	int32		group;
	int32		cur;			/* index into names, NO_OWNER */
	int32		assigned;		/* index into owners, NO_OWNER, UNASSIGNED */
	uint64		key;			/* offset of the key in the arena */
} Customer;

/* Customers sharing region, industry and grade share their candidates. */
typedef struct GroupKey
{
	int32		region;
	int32		industry;
	int32		grade;
} GroupKey;

typedef struct CustGroup
{
	GroupKey	key;
	int32		index;
} CustGroup;

typedef struct GroupCands
{
	int			n[LEVELS];
	int		   *at[LEVELS];		/* owner indexes by level, name order */
	uint8	   *matches;		/* per owner: matches this group */
} GroupCands;

typedef struct Interned
{
	char	   *str;			/* hash key */
	int32		id;
} Interned;

typedef struct Alloc
{
	MemoryContext cxt;
	/* owners, then other names found in the owner column */
	Owner	   *owners;
	int			nowners;
	char	  **names;
	int			nnames;
	int			maxnames;
	HTAB	   *name_ids;
	HTAB	   *regions;
	HTAB	   *industries;
	HTAB	   *groups;
	GroupCands *cands;
	int			ngroups;
	int			maxgroups;
	Customer   *cust;
	uint64		ncust;
	uint64		maxcust;
	char	   *arena;
	uint64		arena_len;
	uint64		arena_max;
} Alloc;

static int32
intern_lookup(HTAB *h, const char *s)
{
	Interned   *e;

	if (s == NULL)
		return -1;
	e = hash_search(h, &s, HASH_FIND, NULL);
	return e ? e->id : -2;		/* -2: a value no owner serves */
}

static int32
intern_add(HTAB *h, const char *s, int32 *next)
{
	Interned   *e;
	bool		found;

	if (s == NULL)
		return -1;
	e = hash_search(h, &s, HASH_ENTER, &found);
	if (!found)
		e->id = (*next)++;
	return e->id;
}

static int32
name_id(Alloc *a, const char *s)
{
	Interned   *e;
	bool		found;
	char	   *copy;

	if (s == NULL)
		return NO_OWNER;
	e = hash_search(a->name_ids, &s, HASH_FIND, NULL);
	if (e)
		return e->id;
	copy = MemoryContextStrdup(a->cxt, s);
	e = hash_search(a->name_ids, &copy, HASH_ENTER, &found);
	if (a->nnames == a->maxnames)
	{
		a->maxnames *= 2;
		a->names = repalloc(a->names, a->maxnames * sizeof(char *));
	}
	a->names[a->nnames] = copy;
	e->id = a->nnames++;
	return e->id;
}

static int32
group_of(Alloc *a, int32 region, int32 industry, int32 grade)
{
	GroupKey	k;
	CustGroup  *g;
	bool		found;
	GroupCands *c;
	int			o;

	k.region = region;
	k.industry = industry;
	k.grade = grade;
	g = hash_search(a->groups, &k, HASH_ENTER, &found);
	if (found)
		return g->index;
	if (a->ngroups == a->maxgroups)
	{
		a->maxgroups *= 2;
		a->cands = repalloc(a->cands, a->maxgroups * sizeof(GroupCands));
	}
	g->index = a->ngroups++;
	c = &a->cands[g->index];
	memset(c, 0, sizeof(*c));
	c->matches = palloc0(Max(a->nowners, 1));
	for (o = 0; o < LEVELS; o++)
		c->at[o] = palloc(Max(a->nowners, 1) * sizeof(int));
	for (o = 0; o < a->nowners; o++)
	{
		Owner	   *w = &a->owners[o];

		if (w->region >= 0 && w->region != region)
			continue;
		if (w->industry >= 0 && w->industry != industry)
			continue;
		if ((w->tiers & (1u << grade)) == 0)
			continue;
		c->matches[o] = 1;
		c->at[w->level][c->n[w->level]++] = o;
	}
	return g->index;
}

static inline bool
has_room(Owner *w)
{
	return w->capacity < 0 || w->load < w->capacity;
}

/* The most specific level from `from` down that has an owner with room:
 * the one with the fewest customers there (ties: name).  -1 when none. */
static int
choose(Alloc *a, GroupCands *c, int from, int below, int *level)
{
	int			l;

	for (l = from; l > below; l--)
	{
		int			best = -1;
		int			i;

		for (i = 0; i < c->n[l]; i++)
		{
			Owner	   *w = &a->owners[c->at[l][i]];

			if (has_room(w) && (best < 0 || w->load < a->owners[best].load))
				best = c->at[l][i];
		}
		if (best >= 0)
		{
			*level = l;
			return best;
		}
	}
	return -1;
}

static void
collect_rows(void *varg, SPITupleTable *tt, uint64 n)
{
	Alloc	   *a = (Alloc *) varg;
	MemoryContext old = MemoryContextSwitchTo(a->cxt);
	uint64		i;

	if (a->ncust + n > a->maxcust)
	{
		uint64		newmax = Max(a->maxcust * 2, a->ncust + n);

		a->cust = repalloc_huge(a->cust, newmax * sizeof(Customer));
		a->maxcust = newmax;
	}
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = tt->vals[i];
		TupleDesc	d = tt->tupdesc;
		Customer   *c = &a->cust[a->ncust++];
		bool		isnull;
		Datum		v;
		char	   *region;
		char	   *industry;
		char	   *owner;
		text	   *key;
		Size		klen;

		v = SPI_getbinval(t, d, 1, &isnull);
		ItemPointerCopy(((ItemPointer) DatumGetPointer(v)), &c->tid);
		v = SPI_getbinval(t, d, 2, &isnull);
		c->grade = isnull ? 0 : DatumGetTier(v);
		v = SPI_getbinval(t, d, 3, &isnull);
		key = DatumGetTextPP(v);
		klen = VARSIZE_ANY_EXHDR(key);
		if (a->arena_len + klen + 1 > a->arena_max)
		{
			uint64		newmax = Max(a->arena_max * 2, a->arena_len + klen + 1);

			a->arena = repalloc_huge(a->arena, newmax);
			a->arena_max = newmax;
		}
		memcpy(a->arena + a->arena_len, VARDATA_ANY(key), klen);
		a->arena[a->arena_len + klen] = '\0';
		c->key = a->arena_len;
		a->arena_len += klen + 1;

		region = text_cstring_or_null(t, d, 4);
		industry = text_cstring_or_null(t, d, 5);
		owner = text_cstring_or_null(t, d, 6);
		c->group = group_of(a, intern_lookup(a->regions, region),
							intern_lookup(a->industries, industry), c->grade);
		c->cur = name_id(a, owner);
		c->assigned = UNASSIGNED;
		if (region)
			pfree(region);
		if (industry)
			pfree(industry);
		if (owner)
			pfree(owner);
	}
	MemoryContextSwitchTo(old);
}

/* Processing order: best grades first (no grade last), then the key's text. */
static Alloc *sort_alloc;

static int
customer_order(const void *x, const void *y)
{
	const Customer *c = &sort_alloc->cust[*(const uint32 *) x];
	const Customer *d = &sort_alloc->cust[*(const uint32 *) y];
	int			gc = c->grade == 0 ? 27 : c->grade;
	int			gd = d->grade == 0 ? 27 : d->grade;

	if (gc != gd)
		return gc - gd;
	return strcmp(sort_alloc->arena + c->key, sort_alloc->arena + d->key);
}

static int
tid_order(const void *x, const void *y)
{
	return ItemPointerCompare(&sort_alloc->cust[*(const uint32 *) x].tid,
							  &sort_alloc->cust[*(const uint32 *) y].tid);
}

static void
read_owners(Alloc *a, AllocTable *at)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	uint64		n;
	uint64		i;
	int32		nregions = 0;
	int32		nindustries = 0;
	MemoryContext old;

	args[0] = CStringGetTextDatum(at->policy);
	/* Owners whose role was dropped since are not eligible. */
	n = custier_exec_as(custier_extension_owner(),
						"SELECT o.owner::pg_catalog.text, o.region, o.industry, o.tiers::pg_catalog.int4[], o.capacity"
						"  FROM custier.account_owner o"
						" WHERE o.policy OPERATOR(pg_catalog.=) $1 AND o.active"
						"   AND EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) o.owner)"
						" ORDER BY o.owner",
						1, argtypes, args, NULL, false, 0);
	old = MemoryContextSwitchTo(a->cxt);
	a->owners = palloc0(Max(n, 1) * sizeof(Owner));
	a->nowners = (int) n;
	for (i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		Owner	   *w = &a->owners[i];
		bool		isnull;
		Datum		v;
		char	   *region = text_cstring_or_null(t, d, 2);
		char	   *industry = text_cstring_or_null(t, d, 3);

		w->name = text_cstring_or_null(t, d, 1);
		w->region = intern_add(a->regions, region, &nregions);
		w->industry = intern_add(a->industries, industry, &nindustries);
		w->level = (w->region >= 0 ? 2 : 0) + (w->industry >= 0 ? 1 : 0);
		v = SPI_getbinval(t, d, 4, &isnull);
		if (isnull)
			w->tiers = ~0u;
		else
		{
			ArrayType  *arr = DatumGetArrayTypeP(v);
			Datum	   *elems;
			bool	   *enulls;
			int			ne;
			int			j;

			deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &elems, &enulls, &ne);
			w->tiers = 0;
			for (j = 0; j < ne; j++)
				if (!enulls[j])
					w->tiers |= 1u << DatumGetInt32(elems[j]);
		}
		v = SPI_getbinval(t, d, 5, &isnull);
		w->capacity = isnull ? -1 : DatumGetInt32(v);
		(void) name_id(a, w->name);	/* owners are names 0 .. nowners-1 */
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
}

Datum
custier_allocate(PG_FUNCTION_ARGS)
{
	Oid			relid;
	bool		rebalance;
	Oid			actor = GetUserId();
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext work;
	MemoryContext rowcxt;
	MemoryContext old;
	AllocTable	at;
	Alloc		a;
	AclResult	acl;
	StringInfoData sel;
	StringInfoData upd;
	uint32	   *order;
	uint32	   *changed;
	uint64		nchanged = 0;
	uint64		i;
	int			pass;
	HASHCTL		ctl;

	custier_require_arg(fcinfo, 0, "tbl");
	custier_require_arg(fcinfo, 1, "rebalance");
	relid = PG_GETARG_OID(0);
	rebalance = PG_GETARG_BOOL(1);
	InitMaterializedSRF(fcinfo, 0);

	work = AllocSetContextCreate(CurrentMemoryContext, "custier allocate", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	memset(&at, 0, sizeof(at));
	alloc_table_read(relid, &at, work);

	/* The caller must be allowed to change the owner column. */
	{
		AttrNumber	att = get_attnum(relid, at.owner_column);

		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table %s does not exist", at.owner_column, at.qualified)));
		/* Column privileges count besides the table's (as for UPDATE). */
		acl = pg_class_aclcheck(relid, actor, ACL_UPDATE);
		if (acl != ACLCHECK_OK)
			acl = pg_attribute_aclcheck(relid, att, actor, ACL_UPDATE);
		if (acl != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to allocate the customers of table %s", at.qualified),
					 errdetail("custier.allocate needs UPDATE on its owner column \"%s\".", at.owner_column)));
		/* It balances loads over the whole table: so it must see all of it. */
		if (custier_table_sight(relid, actor) != CUSTIER_SEES_ALL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to allocate the customers of table %s", at.qualified),
					 errdetail("Row-level security hides some of its customers from role %s, and custier.allocate changes them all.",
							   GetUserNameFromId(actor, false)),
					 errhint("Run it as the table's owner, or as a role row-level security does not apply to.")));
	}

	/*
	 * Two allocations of one table serialize, and nobody else changes its
	 * rows meanwhile (SHARE ROW EXCLUSIVE conflicts with itself and with
	 * the ROW EXCLUSIVE of INSERT, UPDATE and DELETE): the loads read below
	 * stay true until the UPDATE.  With a transaction snapshot (REPEATABLE
	 * READ, SERIALIZABLE), a wait would leave that snapshot blind to what the
	 * other allocation did: fail instead.
	 */
	if (IsolationUsesXactSnapshot())
	{
		if (!ConditionalLockRelationOid(relid, ShareRowExclusiveLock))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access: table %s is being allocated or changed by another transaction",
							at.qualified),
					 errhint("Retry the transaction, or allocate in READ COMMITTED, where allocate waits for the other one.")));
	}
	else
		LockRelationOid(relid, ShareRowExclusiveLock);
	alloc_table_check(&at);

	old = MemoryContextSwitchTo(work);
	memset(&a, 0, sizeof(a));
	a.cxt = work;
	a.maxnames = 256;
	a.names = palloc(a.maxnames * sizeof(char *));
	a.name_ids = cstring_table("custier owner names", sizeof(Interned), 256);
	a.regions = cstring_table("custier regions", sizeof(Interned), 64);
	a.industries = cstring_table("custier industries", sizeof(Interned), 64);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GroupKey);
	ctl.entrysize = sizeof(CustGroup);
	ctl.hcxt = work;
	a.groups = hash_create("custier customer groups", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	a.maxgroups = 64;
	a.cands = palloc(a.maxgroups * sizeof(GroupCands));
	a.maxcust = 1024;
	a.cust = palloc(a.maxcust * sizeof(Customer));
	a.arena_max = 8192;
	a.arena = palloc(a.arena_max);
	MemoryContextSwitchTo(old);

	read_owners(&a, &at);

	/* The customers, as the table's owner; their values as text, by the
	 * output functions of their types. */
	initStringInfo(&sel);
	appendStringInfo(&sel, "t.ctid, t.%s, pg_catalog.format('%%s', t.%s), ",
					 quote_identifier(at.tier_column), quote_identifier(at.key_column));
	if (at.region_column)
		appendStringInfo(&sel, "CASE WHEN t.%1$s IS NOT NULL THEN pg_catalog.format('%%s', t.%1$s) END, ",
						 quote_identifier(at.region_column));
	else
		appendStringInfoString(&sel, "NULL::pg_catalog.text, ");
	if (at.industry_column)
		appendStringInfo(&sel, "CASE WHEN t.%1$s IS NOT NULL THEN pg_catalog.format('%%s', t.%1$s) END, ",
						 quote_identifier(at.industry_column));
	else
		appendStringInfoString(&sel, "NULL::pg_catalog.text, ");
	appendStringInfo(&sel, "t.%s::pg_catalog.text", quote_identifier(at.owner_column));
	scan_table(&at, sel.data, NULL, collect_rows, &a);

	old = MemoryContextSwitchTo(work);
	order = palloc_extended(Max(a.ncust, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < a.ncust; i++)
		order[i] = (uint32) i;
	sort_alloc = &a;
	if (a.ncust > 1)
		qsort(order, a.ncust, sizeof(uint32), customer_order);

	/* 1. Customers keep an eligible owner (up to its capacity, in order). */
	for (i = 0; i < a.ncust; i++)
	{
		Customer   *c = &a.cust[order[i]];

		if (c->cur >= 0 && c->cur < a.nowners && a.cands[c->group].matches[c->cur] &&
			has_room(&a.owners[c->cur]))
		{
			c->assigned = c->cur;
			a.owners[c->cur].load++;
		}
	}
	/* 2. The others get the most specific owner with room, fewest customers first. */
	for (i = 0; i < a.ncust; i++)
	{
		Customer   *c = &a.cust[order[i]];
		int			level;
		int			o;

		if (c->assigned != UNASSIGNED)
			continue;
		o = choose(&a, &a.cands[c->group], LEVELS - 1, -1, &level);
		c->assigned = o;
		if (o >= 0)
			a.owners[o].load++;
	}
	/*
	 * 3. Rebalance: in order, a customer moves to a more specific owner with
	 * room, else to an equally specific one with at least two customers
	 * fewer than its own; a customer without an owner takes one that has
	 * room.  Each move raises the number of customers served or their
	 * specificity, or lowers the sum of squared loads, so the passes end;
	 * then no customer can move that way, which is what "loads differ by at
	 * most one" means when owners serve different customers.
	 */
	for (pass = 0; rebalance; pass++)
	{
		bool		moved = false;

		for (i = 0; i < a.ncust; i++)
		{
			Customer   *c = &a.cust[order[i]];
			GroupCands *g = &a.cands[c->group];
			int			level;
			int			o;
			Owner	   *w;
			int			j;
			int			best = -1;

			if (c->assigned < 0)
			{
				o = choose(&a, g, LEVELS - 1, -1, &level);
				if (o >= 0)
				{
					c->assigned = o;
					a.owners[o].load++;
					moved = true;
				}
				continue;
			}
			w = &a.owners[c->assigned];
			o = choose(&a, g, LEVELS - 1, w->level, &level);
			if (o < 0)
			{
				for (j = 0; j < g->n[w->level]; j++)
				{
					Owner	   *x = &a.owners[g->at[w->level][j]];

					if (has_room(x) && x->load <= w->load - 2 &&
						(best < 0 || x->load < a.owners[best].load))
						best = g->at[w->level][j];
				}
				o = best;
			}
			if (o >= 0)
			{
				w->load--;
				a.owners[o].load++;
				c->assigned = o;
				moved = true;
			}
		}
		if (!moved)
			break;
		CHECK_FOR_INTERRUPTS();
	}

	/* The changes, written in the table's physical order. */
	changed = palloc_extended(Max(a.ncust, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < a.ncust; i++)
	{
		Customer   *c = &a.cust[i];

		if (c->assigned != c->cur && !(c->assigned == NO_OWNER && c->cur == NO_OWNER))
			changed[nchanged++] = (uint32) i;
	}
	MemoryContextSwitchTo(old);

	if (nchanged > 0)
	{
		Datum	   *tids;
		Datum	   *owners;
		bool	   *onulls;
		int			dims[1];
		int			lbs[1] = {1};
		ArrayType  *tid_arr;
		ArrayType  *owner_arr;
		Oid			argtypes[2] = {TIDARRAYOID, TEXTARRAYOID};
		Datum		args[2];
		int64		updated;
		int64		wrong;
		bool		isnull;
		char	   *reason;

		old = MemoryContextSwitchTo(work);
		qsort(changed, nchanged, sizeof(uint32), tid_order);
		tids = palloc_extended(nchanged * sizeof(Datum), MCXT_ALLOC_HUGE);
		owners = palloc_extended(nchanged * sizeof(Datum), MCXT_ALLOC_HUGE);
		onulls = palloc_extended(nchanged * sizeof(bool), MCXT_ALLOC_HUGE);
		for (i = 0; i < nchanged; i++)
		{
			Customer   *c = &a.cust[changed[i]];

			tids[i] = PointerGetDatum(&c->tid);
			onulls[i] = c->assigned < 0;
			owners[i] = onulls[i] ? (Datum) 0 : CStringGetTextDatum(a.owners[c->assigned].name);
		}
		dims[0] = (int) nchanged;
		tid_arr = construct_md_array(tids, NULL, 1, dims, lbs, TIDOID, sizeof(ItemPointerData), false, TYPALIGN_SHORT);
		owner_arr = construct_md_array(owners, onulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT);
		args[0] = PointerGetDatum(tid_arr);
		args[1] = PointerGetDatum(owner_arr);

		initStringInfo(&upd);
		appendStringInfo(&upd,
						 "WITH u AS ("
						 " UPDATE ONLY %1$s t SET %2$s = m.o%3$s"
						 "   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS m(tid, o)"
						 "  WHERE t.ctid OPERATOR(pg_catalog.=) m.tid"
						 /* What was stored, after any BEFORE trigger of the table's own. */
						 "  RETURNING (t.%2$s::pg_catalog.text COLLATE \"C\" OPERATOR(pg_catalog.=) m.o) IS TRUE"
						 "            OR (t.%2$s IS NULL AND m.o IS NULL) AS as_decided)"
						 " SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE NOT u.as_decided) FROM u",
						 at.qualified, quote_identifier(at.owner_column),
						 at.owner_type == NAMEOID ? "::pg_catalog.name" : "");
		MemoryContextSwitchTo(old);

		reason = rebalance ? "custier.allocate (rebalance)" : "custier.allocate";
		window_begin(relid, actor, reason);
		PG_TRY();
		{
			custier_exec_as(at.table_owner, upd.data, 2, argtypes, args, NULL, false, 0);
		}
		PG_FINALLY();
		{
			window_end();
		}
		PG_END_TRY();
		updated = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		wrong = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		if (updated != (int64) nchanged || wrong != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("a trigger on table %s changed or skipped owners that custier.allocate wrote",
							at.qualified),
					 errdetail("allocate decided " UINT64_FORMAT " changes; " INT64_FORMAT " rows were updated, "
							   INT64_FORMAT " of them to another owner.", nchanged, updated, wrong),
					 errhint("Remove or fix the trigger that rewrites column %s.",
							 quote_identifier(at.owner_column))));
	}

	/* The changes, in processing order. */
	rowcxt = AllocSetContextCreate(work, "custier allocate row", ALLOCSET_SMALL_SIZES);
	for (i = 0; i < a.ncust; i++)
	{
		Customer   *c = &a.cust[order[i]];
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		MemoryContextReset(rowcxt);
		old = MemoryContextSwitchTo(rowcxt);
		if (c->assigned == c->cur || (c->assigned == NO_OWNER && c->cur == NO_OWNER))
		{
			MemoryContextSwitchTo(old);
			continue;
		}
		values[0] = CStringGetTextDatum(a.arena + c->key);
		nulls[1] = c->cur < 0;
		values[1] = nulls[1] ? (Datum) 0 : name_datum(a.names[c->cur]);
		nulls[2] = c->assigned < 0;
		values[2] = nulls[2] ? (Datum) 0 : name_datum(a.owners[c->assigned].name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
	}

	SPI_finish();
	MemoryContextDelete(work);
	return (Datum) 0;
}

/*
 * custier._allocation_on_ddl_end: the event trigger that keeps allocated
 * tables' columns and owner history triggers intact.  Its check reads only
 * the catalogs and custier.allocation, as the extension owner, whoever ran
 * the DDL (src/rights.c).
 */
Datum
custier_allocation_on_ddl_end(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier._allocation_on_ddl_end() must be called as an event trigger")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	custier_exec_as(custier_extension_owner(), "SELECT custier._allocation_check()", 0, NULL, NULL, NULL, false, 0);
	SPI_finish();
	PG_RETURN_VOID();
}
