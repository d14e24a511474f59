/*
 * insight.c — the history scan behind custier.tiers_at and
 * custier.distribution, and the evaluation rows behind custier.at_risk.
 * The SQL-callable insight functions are in src/insight.sql.
 *
 * The scan reads index tier_history_as_of (tbl, customer_key, changed_at
 * DESC, history_id DESC) INCLUDE (new_tier) as an index-only scan at the
 * access-method level: for each key, the first entry with changed_at <= at
 * is the key's state at `at`.  No executor nodes, no SPI, no sort: one pass
 * over the index, and what it finds goes straight into a tuplestore (tiers_at)
 * or into 26 counters (distribution).
 *
 * Who may see what is decided by the caller of custier_history_scan (see
 * custier_history_readable); the scan itself reads every row of the table
 * it is asked about.  A row-level visibility filter belongs in
 * HistoryScan.visible: it is asked about each key before it is emitted.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/itup.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "custier.h"
#include "history.h"
#include "insight.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_tier_counts);
PG_FUNCTION_INFO_V1(custier_evaluation_results);

/* Columns of index tier_history_as_of. */
#define AS_OF_TBL		1
#define AS_OF_KEY		2
#define AS_OF_CHANGED	3
#define AS_OF_ID		4
#define AS_OF_NEW_TIER	5
#define AS_OF_NATTS		5

static Oid
custier_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("custier", false));

	if (!OidIsValid(relid))
		elog(ERROR, "custier.%s is missing", name);
	return relid;
}

bool
custier_history_readable(Oid relid)
{
	Oid			history = custier_relid("tier_history");
	AclResult	acl;
	bool		missing = false;

	/* As when the caller read tier_history itself. */
	acl = pg_class_aclcheck(history, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "tier_history");
	/* Row-level security on tier_history hides a table the caller may not read. */
	if (pg_class_aclcheck_ext(relid, GetUserId(), ACL_SELECT, &missing) != ACLCHECK_OK &&
		check_enable_rls(history, InvalidOid, true) == RLS_ENABLED)
		return false;
	return true;
}

void
custier_history_scan(HistoryScan *hs)
{
	Relation	heap = table_open(custier_relid("tier_history"), AccessShareLock);
	Relation	index = index_open(custier_relid("tier_history_as_of"), AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData key;
	ItemPointer tid;
	TupleTableSlot *slot = table_slot_create(heap, NULL);
	Buffer		vmbuffer = InvalidBuffer;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	char	   *prev = palloc(64);
	int			prevcap = 64;
	int			prevlen = -1;
	bool		done = false;	/* the current key's state is found */

	if (RelationGetDescr(index)->natts != AS_OF_NATTS)
		elog(ERROR, "custier.tier_history_as_of does not have the expected columns");
	ScanKeyInit(&key, AS_OF_TBL, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(hs->relid));
	scan = index_beginscan(heap, index, GetActiveSnapshot(), 1, 0);
	scan->xs_want_itup = true;
	index_rescan(scan, &key, 1, NULL, 0);

	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		struct varlena *k;
		const char *kdata;
		int			klen;
		bool		same;

		CHECK_FOR_INTERRUPTS();
		/* Index-only, as nodeIndexonlyscan.c: the heap only when the page is not all-visible. */
		if (!VM_ALL_VISIBLE(heap, ItemPointerGetBlockNumber(tid), &vmbuffer))
		{
			if (!index_fetch_heap(scan, slot))
				continue;
		}
		index_deform_tuple(scan->xs_itup, scan->xs_itupdesc, values, isnull);
		k = (struct varlena *) DatumGetPointer(values[AS_OF_KEY - 1]);
		kdata = VARDATA_ANY(k);
		klen = VARSIZE_ANY_EXHDR(k);
		same = (klen == prevlen && memcmp(kdata, prev, klen) == 0);
		if (same && done)
			continue;
		if (!same)
		{
			if (klen > prevcap)
			{
				prevcap = Max(klen, prevcap * 2);
				prev = repalloc(prev, prevcap);
			}
			memcpy(prev, kdata, klen);
			prevlen = klen;
			done = false;
		}
		/* changed_at DESC, history_id DESC: the first entry not after `at` is the state. */
		if (DatumGetTimestampTz(values[AS_OF_CHANGED - 1]) > hs->at)
			continue;
		done = true;
		if (isnull[AS_OF_NEW_TIER - 1])
			continue;			/* deleted, ungraded, or its key changed away */
		if (hs->visible && !hs->visible(hs->arg, kdata, klen))
			continue;
		hs->emit(hs->arg, values[AS_OF_KEY - 1], DatumGetTier(values[AS_OF_NEW_TIER - 1]));
	}
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	pfree(prev);
}

/* ---------------------------------------------------------------------
 * tiers_at: the states into the function's tuplestore
 * ---------------------------------------------------------------------
 */
typedef struct TiersAtState
{
	Tuplestorestate *store;
	TupleDesc	desc;
} TiersAtState;

static void
tiers_at_emit(void *arg, Datum key, Tier tier)
{
	TiersAtState *s = (TiersAtState *) arg;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	/* The key as the index holds it (a text datum): the tuplestore copies it. */
	values[0] = key;
	values[1] = TierGetDatum(tier);
	tuplestore_putvalues(s->store, s->desc, values, nulls);
}

void
custier_tiers_at_scan(FunctionCallInfo fcinfo, Oid relid, TimestampTz at)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TiersAtState s;
	HistoryScan hs;

	s.store = rsinfo->setResult;
	s.desc = rsinfo->setDesc;
	memset(&hs, 0, sizeof(hs));
	hs.relid = relid;
	hs.at = at;
	hs.emit = tiers_at_emit;
	hs.arg = &s;
	custier_history_scan(&hs);
}

/* ---------------------------------------------------------------------
 * custier._tier_counts(tbl, at) → bigint[26]: customers per grade at `at`
 * (element r = rank r), for custier.distribution.  The same scan and the
 * same visibility as tiers_at.
 * ---------------------------------------------------------------------
 */
static void
counts_emit(void *arg, Datum key, Tier tier)
{
	((int64 *) arg)[tier]++;
}

Datum
custier_tier_counts(PG_FUNCTION_ARGS)
{
	int64		counts[TIER_MAX_RANK + 1] = {0};
	Datum		elems[TIER_MAX_RANK];
	HistoryScan hs;
	int			r;

	if (custier_table_sight(PG_GETARG_OID(0), custier_actor()) == CUSTIER_SEES_SOME)
	{
		/* Row-level security applies: count what tiers_at shows the caller. */
		int			rc;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		rc = SPI_execute_with_args("SELECT custier.rank(s.tier), pg_catalog.count(*)"
								   "  FROM custier.tiers_at($1, $2) s GROUP BY 1",
								   2, (Oid[]) {REGCLASSOID, TIMESTAMPTZOID},
								   (Datum[]) {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)},
								   NULL, true, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "custier._tier_counts: counting failed");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int32		rank = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

			if (!isnull && rank >= 1 && rank <= TIER_MAX_RANK)
				counts[rank] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		}
		SPI_finish();
	}
	else if (custier_history_readable(PG_GETARG_OID(0)))
	{
		memset(&hs, 0, sizeof(hs));
		hs.relid = PG_GETARG_OID(0);
		hs.at = PG_GETARG_TIMESTAMPTZ(1);
		hs.emit = counts_emit;
		hs.arg = counts;
		custier_history_scan(&hs);
	}
	for (r = 1; r <= TIER_MAX_RANK; r++)
		elems[r - 1] = Int64GetDatum(counts[r]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, TIER_MAX_RANK, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ---------------------------------------------------------------------
 * custier._evaluation_results(policy, tbl): the results of the policy's
 * finished evaluations, newest first (n = 1 is the latest), read as the
 * caller: custier.evaluation_result's row-level security shows it only the
 * customers it may see in tbl.
 * ---------------------------------------------------------------------
 */
Datum
custier_evaluation_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(1);
	ParamListInfo params;
	SPIExecuteOptions options;
	DestReceiver *dest;

	InitMaterializedSRF(fcinfo, 0);
	if (!custier_history_readable(relid))
		return (Datum) 0;

	params = makeParamList(2);
	params->numParams = 2;
	params->params[0].value = PG_GETARG_DATUM(0);
	params->params[0].ptype = TEXTOID;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].isnull = false;
	params->params[1].value = ObjectIdGetDatum(relid);
	params->params[1].ptype = REGCLASSOID;
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
	{
		if (SPI_execute_extended("SELECT e.n::integer, r.customer_key, r.qualified_tier"
								 "  FROM (SELECT ev.evaluation_id,"
								 "               pg_catalog.row_number() OVER (ORDER BY ev.as_of DESC, ev.evaluation_id DESC) AS n"
								 "          FROM custier.evaluation ev"
								 "         WHERE ev.policy OPERATOR(pg_catalog.=) $1 AND ev.tbl OPERATOR(pg_catalog.=) $2"
								 "           AND ev.finished_at IS NOT NULL) e"
								 "  JOIN custier.evaluation_result r ON r.evaluation_id OPERATOR(pg_catalog.=) e.evaluation_id",
								 &options) != SPI_OK_SELECT)
			elog(ERROR, "custier._evaluation_results failed");
	}
	SPI_finish();
	dest->rDestroy(dest);
	return (Datum) 0;
}
