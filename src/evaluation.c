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
 *
 * One file (about 1000 lines) because evaluate() and run_evaluation() share
 * every step of a batch: the hysteresis rule, the look-back on earlier
 * evaluations and the hold check; only what happens to the graded batch
 * differs (returned, or recorded and applied).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "nodes/params.h"
#include "storage/lmgr.h"
#include "tcop/pquery.h"
#include "executor/tstoreReceiver.h"
#include "common/hashfn.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "custier.h"
#include "history.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_proposed_tier);
PG_FUNCTION_INFO_V1(custier_evaluate);
PG_FUNCTION_INFO_V1(custier_run_evaluation);

/* Columns of custier._evaluation_query's rows. */
#define Q_KEY 1
#define Q_CURRENT 2
#define Q_GRADE 3				/* custier._grade_result: qualified_tier, score, explanation */
#define Q_EVIDENCE 4

/* A graded batch: copies of its rows' values, in the batch's memory context. */
typedef struct GradedBatch
{
	int			n;
	Datum	   *keys;			/* text */
	Tier	   *current;
	bool	   *current_null;
	Tier	   *qualified;
	Datum	   *score;			/* numeric */
	bool	   *score_null;
	Datum	   *explanation;	/* jsonb, when every customer is explained */
	bool	   *explanation_null;
	Datum	   *evidence;		/* jsonb, when changes may become adjustments */
	bool	   *evidence_null;
	Tier	   *proposed;
} GradedBatch;

/* The hysteresis rules of a policy. */
typedef struct Rules
{
	bool		upgrade_after_null;
	int32		upgrade_after;
	bool		downgrade_after_null;
	int32		downgrade_after;
	bool		max_step_null;
	int32		max_step;
} Rules;


/*
 * The grade the hysteresis rules give a customer with grade current
 * (current_null: none yet) who qualifies for qualified now.
 * earlier[i] is what the customer qualified for i evaluations ago (NULL when
 * it was not evaluated then).  An upgrade needs `upgrade_after` consecutive
 * qualifications above the current grade, this one included, and goes to the
 * worst tier of that streak; a downgrade mirrors it.  max_step caps the move.
 */
static Tier
propose(Tier current, bool current_null, Tier qualified, const Rules *rules,
		const Tier *earlier, const bool *earlier_null, int n_earlier)
{
	Tier		target;
	int32		need;
	bool		upgrade;
	int			i;

	if (current_null)
		return qualified;		/* first grading: at once */
	if (qualified == current)
		return current;

	upgrade = tier_compare(qualified, current) > 0;
	if (upgrade ? rules->upgrade_after_null : rules->downgrade_after_null)
		need = 1;
	else
		need = upgrade ? rules->upgrade_after : rules->downgrade_after;
	if (need < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least 1, not %d",
						upgrade ? "upgrade_after" : "downgrade_after", need)));
	if (!rules->max_step_null && rules->max_step < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_step must be at least 1, not %d", rules->max_step)));
	if (need > 1 && (earlier == NULL || n_earlier < need - 1))
		return current;			/* not evaluated often enough yet */

	/* The streak: this qualification and the need-1 before it. */
	target = qualified;
	for (i = 0; i < need - 1; i++)
	{
		Tier		q;

		if (earlier_null[i])
			return current;
		q = earlier[i];
		if (upgrade ? tier_compare(q, current) <= 0 : tier_compare(q, current) >= 0)
			return current;
		/* Upgrade to the worst tier of the streak, downgrade to its best. */
		if (upgrade ? tier_compare(q, target) < 0 : tier_compare(q, target) > 0)
			target = q;
	}

	if (!rules->max_step_null && rules->max_step > 0 && abs((int) target - (int) current) > rules->max_step)
		target = upgrade ? current - rules->max_step : current + rules->max_step;
	return target;
}

/*
 * proposed_tier(current, qualified, earlier tier[], upgrade_after,
 *               downgrade_after, max_step): propose() for SQL.
 */
Datum
custier_proposed_tier(PG_FUNCTION_ARGS)
{
	Rules		rules;
	Tier	   *earlier = NULL;
	bool	   *earlier_null = NULL;
	int			n_earlier = 0;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	rules.upgrade_after_null = PG_ARGISNULL(3);
	rules.upgrade_after = rules.upgrade_after_null ? 0 : PG_GETARG_INT32(3);
	rules.downgrade_after_null = PG_ARGISNULL(4);
	rules.downgrade_after = rules.downgrade_after_null ? 0 : PG_GETARG_INT32(4);
	rules.max_step_null = PG_ARGISNULL(5);
	rules.max_step = rules.max_step_null ? 0 : PG_GETARG_INT32(5);
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *values;
		int			i;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("earlier qualified tiers must be a one-dimensional array")));
		deconstruct_array(arr, ARR_ELEMTYPE(arr), 1, true, TYPALIGN_CHAR,
						  &values, &earlier_null, &n_earlier);
		earlier = palloc(sizeof(Tier) * Max(n_earlier, 1));
		for (i = 0; i < n_earlier; i++)
			earlier[i] = earlier_null[i] ? 0 : DatumGetTier(values[i]);
	}
	PG_RETURN_TIER(propose(PG_GETARG_TIER(0), PG_ARGISNULL(0), PG_GETARG_TIER(1), &rules,
						   earlier, earlier_null, n_earlier));
}

/* ---------------------------------------------------------------------
 * Look-back: what the customers of a batch qualified for in the earlier
 * evaluations, one pass per earlier evaluation, read straight into a hash
 * by key.  Few customers of a batch need it (only a move that needs a
 * streak does): they are looked up together by primary key.  When many do,
 * one range of the primary key is read instead, from the least to the
 * greatest of their keys byte for byte (customer_key is COLLATE "C"): the
 * customers of a batch came in the order of the key's unique index, which
 * for the usual keys (integers, codes, C-collated text) is a short range of
 * that order too.  The read stops at a bound proportional to the batch;
 * customers it did not reach (new ones, or keys whose order is unlike
 * bytes') are then looked up by key: the result never depends on the
 * order, only the speed does.  Read as custier's owner: custier's own
 * table, pg_catalog's operators, no user code; only the batch's customers,
 * which the caller has just read, are looked up.  What is found counts
 * only where the caller may read it in evaluation_result (its row-level
 * security policy: reading follows the earlier evaluation's table,
 * src/rights.c), as when the look-back ran as the caller: an earlier
 * evaluation of another table, or of a dropped one, tells a caller that
 * cannot read that table nothing.
 * ---------------------------------------------------------------------
 */
typedef struct KeyBytes
{
	const char *ptr;
	int			len;
} KeyBytes;

typedef struct KeyTier
{
	KeyBytes	key;
	uint32		hash;
	char		status;
	Tier		tier;
} KeyTier;

#define SH_PREFIX keytier
#define SH_ELEMENT_TYPE KeyTier
#define SH_KEY_TYPE KeyBytes
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k).ptr, (k).len)
#define SH_EQUAL(tb, a, b) ((a).len == (b).len && memcmp((a).ptr, (b).ptr, (a).len) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

static KeyBytes
datum_key(Datum d)
{
	text	   *t = (text *) PG_DETOAST_DATUM_PACKED(d);
	KeyBytes	k;

	k.ptr = VARDATA_ANY(t);
	k.len = VARSIZE_ANY_EXHDR(t);
	return k;
}

/* Hashes column key_col (text), with tier_col, of an SPI result. */
static keytier_hash *
hash_rows(SPITupleTable *tt, uint64 n, int key_col, int tier_col)
{
	keytier_hash *h = keytier_create(CurrentMemoryContext, Max(n, 16), NULL);
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		bool		found;
		KeyTier    *e;
		Datum		d = SPI_getbinval(tt->vals[i], tt->tupdesc, key_col, &isnull);

		if (isnull)
			continue;
		e = keytier_insert(h, datum_key(d), &found);
		e->tier = DatumGetTier(SPI_getbinval(tt->vals[i], tt->tupdesc, tier_col, &isnull));
	}
	return h;
}

/*
 * Rows (customer_key, qualified_tier) of evaluation_result, read as
 * custier's owner straight into a hash by key: no SPI result in between.
 * The keys' bytes are copied into the receiver's memory context.
 */
typedef struct HashReceiver
{
	DestReceiver pub;
	keytier_hash *hash;
	MemoryContext cxt;
} HashReceiver;

static bool
hashrecv_receive(TupleTableSlot *slot, DestReceiver *self)
{
	HashReceiver *r = (HashReceiver *) self;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	text	   *t;
	KeyBytes	k;
	KeyTier    *e;
	bool		found;
	char	   *copy;

	slot_getsomeattrs(slot, 2);
	if (!slot->tts_isnull[0] && !slot->tts_isnull[1])
	{
		t = (text *) PG_DETOAST_DATUM_PACKED(slot->tts_values[0]);
		k.len = VARSIZE_ANY_EXHDR(t);
		copy = palloc(Max(k.len, 1));
		memcpy(copy, VARDATA_ANY(t), k.len);
		k.ptr = copy;
		e = keytier_insert(r->hash, k, &found);
		e->tier = DatumGetTier(slot->tts_values[1]);
	}
	MemoryContextSwitchTo(old);
	return true;
}

/* The receivers below keep nothing between statements: no start, end or teardown. */
static void
recv_startup_noop(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
recv_noop(DestReceiver *self)
{
}

static void
recv_init(DestReceiver *dest, bool (*receive) (TupleTableSlot *slot, DestReceiver *self))
{
	dest->receiveSlot = receive;
	dest->rStartup = recv_startup_noop;
	dest->rShutdown = recv_noop;
	dest->rDestroy = recv_noop;
	dest->mydest = DestNone;
}

/*
 * Runs sql (params $1..$nargs, nulls as SPI takes them) with the rights
 * of kind/role, its rows into dest: no SPI result in between.  generic:
 * planned once for any values (else for these values, as
 * SPI_execute_with_args plans).
 */
static void
exec_into(CustierRightsKind kind, Oid role, const char *sql, int nargs, Oid *types, Datum *values,
		  const char *nulls, bool generic, DestReceiver *dest)
{
	ParamListInfo params = makeParamList(nargs);
	SPIExecuteOptions options;
	CustierRights rights;
	int			i;
	volatile int rc = 0;

	params->numParams = nargs;
	for (i = 0; i < nargs; i++)
	{
		params->params[i].ptype = types[i];
		params->params[i].value = values[i];
		params->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	custier_rights_enter(&rights, kind, role);
	PG_TRY();
	{
		if (generic)
		{
			SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);

			if (plan == NULL)
				elog(ERROR, "custier: SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
			rc = SPI_execute_plan_extended(plan, &options);
		}
		else
			rc = SPI_execute_extended(sql, &options);
	}
	PG_FINALLY();
	{
		custier_rights_exit(&rights);
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "custier: SPI failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* Runs sql (params $1..$nargs) as custier's owner into a new hash, in the current memory context. */
static keytier_hash *
results_into_hash(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	HashReceiver r;

	memset(&r, 0, sizeof(r));
	recv_init(&r.pub, hashrecv_receive);
	r.cxt = CurrentMemoryContext;
	r.hash = keytier_create(CurrentMemoryContext, Max(expected, 16), NULL);

	/*
	 * A generic plan: planned for any values, the lookups are index probes
	 * whatever the statistics of evaluation_result say at the moment (a
	 * custom plan for a batch's keys, with statistics from before the
	 * earlier evaluations were written, scanned every row of an earlier
	 * evaluation per batch).
	 */
	exec_into(CUSTIER_AS_EXTENSION, custier_extension_owner(), sql, nargs, types, values, NULL, true, &r.pub);
	MemoryContextSwitchTo(r.cxt);
	return r.hash;
}

/* The rows of evaluation_id for keys (text[] of nkeys), by primary key. */
static keytier_hash *
lookup_keys(int64 evaluation_id, Datum *keys, int nkeys)
{
	Oid			types[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];

	values[0] = Int64GetDatum(evaluation_id);
	values[1] = PointerGetDatum(construct_array(keys, nkeys, TEXTOID, -1, false, TYPALIGN_INT));
	return results_into_hash("SELECT r.customer_key, r.qualified_tier FROM custier.evaluation_result r"
							 " WHERE r.evaluation_id OPERATOR(pg_catalog.=) $1"
							 " AND r.customer_key OPERATOR(pg_catalog.=) ANY ($2)",
							 2, types, values, nkeys);
}

/* Byte order with the shorter first on a tie: COLLATE "C"'s order of text. */
static int
key_bytes_cmp(KeyBytes a, KeyBytes b)
{
	int			c = memcmp(a.ptr, b.ptr, Min(a.len, b.len));

	return c != 0 ? c : (a.len > b.len) - (a.len < b.len);
}

/* The rows of evaluation_id from key lo to key hi in the primary key's order, at most limit of them. */
static keytier_hash *
read_key_range(int64 evaluation_id, Datum lo, Datum hi, int64 limit)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[4];

	values[0] = Int64GetDatum(evaluation_id);
	values[1] = lo;
	values[2] = hi;
	values[3] = Int64GetDatum(limit);
	return results_into_hash("SELECT r.customer_key, r.qualified_tier FROM custier.evaluation_result r"
							 " WHERE r.evaluation_id OPERATOR(pg_catalog.=) $1"
							 " AND r.customer_key OPERATOR(pg_catalog.>=) ($2 COLLATE pg_catalog.\"C\")"
							 " AND r.customer_key OPERATOR(pg_catalog.<=) ($3 COLLATE pg_catalog.\"C\")"
							 " ORDER BY r.customer_key LIMIT $4",
							 4, types, values, (int) limit);
}

/*
 * For the n customers whose keys (text) are keys[0..n), of a batch of
 * batch_n customers: tiers[i * n_earlier + e] is what customer i qualified
 * for in earlier[e] (nulls[...] when it was not evaluated then).  Works in
 * the current memory context, which the caller resets.
 */
static void
lookback(Oid relid, const int64 *earlier, int n_earlier, const Datum *keys, int n, int batch_n,
		 Tier *tiers, bool *nulls)
{
	Oid			role = custier_actor();
	Oid			results_relid = get_relname_relid("evaluation_result", get_namespace_oid("custier", false));
	/* Superusers, BYPASSRLS roles and custier's owner read every row of evaluation_result. */
	bool		reads_all = check_enable_rls(results_relid, role, true) != RLS_ENABLED;
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *todo = palloc(sizeof(Datum) * Max(n, 1));
	/*
	 * A row read in a range costs about a quarter of a key looked up, so a
	 * range pays when a quarter of the batch or more needs looking back; it
	 * reads at most twice the batch.
	 */
	bool		by_range = n >= 64 && (int64) n * 4 >= batch_n;
	int64		range_limit = (int64) batch_n * 2 + 1000;
	int			lo = 0;
	int			hi = 0;
	int			e;
	int			i;

	for (i = 0; i < n * n_earlier; i++)
		nulls[i] = true;
	for (i = 1; by_range && i < n; i++)
	{
		if (key_bytes_cmp(datum_key(keys[i]), datum_key(keys[lo])) < 0)
			lo = i;
		if (key_bytes_cmp(datum_key(keys[i]), datum_key(keys[hi])) > 0)
			hi = i;
	}
	for (e = 0; e < n_earlier && n > 0; e++)
	{
		bool		isnull;
		Datum		ev_value[1];
		Oid			ev_type[1] = {INT8OID};
		Datum		d;
		Oid			ev_tbl;
		CustierSight sight;
		keytier_hash *found = NULL;
		int			ntodo = 0;

		/*
		 * What the caller may read of it: all of it (it reads past row-level
		 * security, or the evaluation graded the table the caller has just
		 * read these customers from), nothing (no SELECT on the evaluation's
		 * table, or that table is gone), or some customers (row-level
		 * security on another table: asked per customer found below).
		 */
		ev_value[0] = Int64GetDatum(earlier[e]);
		ev_tbl = InvalidOid;
		if (custier_exec_as(custier_extension_owner(),
							"SELECT e.tbl::pg_catalog.oid::pg_catalog.int8"
							" FROM custier.evaluation e WHERE e.evaluation_id OPERATOR(pg_catalog.=) $1",
							1, ev_type, ev_value, NULL, true, 1) == 1)
		{
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			ev_tbl = isnull ? InvalidOid : (Oid) DatumGetInt64(d);
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(cxt);
		sight = reads_all ? CUSTIER_SEES_ALL : custier_table_sight(ev_tbl, role);
		if (sight == CUSTIER_SEES_SOME && ev_tbl == relid)
			sight = CUSTIER_SEES_ALL;
		if (sight == CUSTIER_SEES_NONE)
			continue;

		if (by_range)
		{
			found = read_key_range(earlier[e], keys[lo], keys[hi], range_limit);
			elog(DEBUG1, "custier: look-back on evaluation " INT64_FORMAT " read " UINT64_FORMAT " rows by key range for %d customers (at most " INT64_FORMAT ")",
				 earlier[e], (uint64) found->members, n, range_limit);
		}
		for (i = 0; i < n; i++)
		{
			KeyTier    *kt = found ? keytier_lookup(found, datum_key(keys[i])) : NULL;

			if (kt == NULL)
			{
				todo[ntodo++] = keys[i];
				continue;
			}
			tiers[i * n_earlier + e] = kt->tier;
			nulls[i * n_earlier + e] = false;
		}
		if (found)
			keytier_destroy(found);

		/* The rest (all of them without a range), by key. */
		if (ntodo > 0)
		{
			keytier_hash *rest = lookup_keys(earlier[e], todo, ntodo);

			elog(DEBUG1, "custier: look-back on evaluation " INT64_FORMAT " looked up %d customers by key, found " UINT64_FORMAT,
				 earlier[e], ntodo, (uint64) rest->members);

			for (i = 0; i < n; i++)
			{
				KeyTier    *kt;

				if (!nulls[i * n_earlier + e])
					continue;
				kt = keytier_lookup(rest, datum_key(keys[i]));
				if (kt == NULL)
					continue;
				tiers[i * n_earlier + e] = kt->tier;
				nulls[i * n_earlier + e] = false;
			}
			keytier_destroy(rest);
		}

		/* Row-level security on another table: only the customers the caller may see there. */
		if (sight == CUSTIER_SEES_SOME)
			for (i = 0; i < n; i++)
				if (!nulls[i * n_earlier + e] && !custier_can_see(ev_tbl, role, TextDatumGetCString(keys[i])))
					nulls[i * n_earlier + e] = true;
	}
}

/* An int8[] datum as a palloc'd C array; *n its length. */
static int64 *
int8_array(Datum d, bool isnull, int *n)
{
	ArrayType  *arr;
	Datum	   *values;
	bool	   *nulls;
	int64	   *out;
	int			i;

	*n = 0;
	if (isnull)
		return NULL;
	arr = DatumGetArrayTypeP(d);
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &values, &nulls, n);
	out = palloc(sizeof(int64) * Max(*n, 1));
	for (i = 0; i < *n; i++)
		out[i] = nulls[i] ? 0 : DatumGetInt64(values[i]);
	return out;
}

/* The keys of a text[] (held grades: a handful), hashed in the current memory context. */
static keytier_hash *
held_keys(Datum d, bool isnull)
{
	Datum	   *hkeys = NULL;
	int			nheld = 0;
	int			i;
	keytier_hash *h;

	if (!isnull)
		deconstruct_array(DatumGetArrayTypePCopy(d), TEXTOID, -1, false, TYPALIGN_INT, &hkeys, NULL, &nheld);
	h = keytier_create(CurrentMemoryContext, Max(nheld, 16), NULL);
	for (i = 0; i < nheld; i++)
	{
		bool		found;

		keytier_insert(h, datum_key(hkeys[i]), &found);
	}
	return h;
}

/* Reads the rules from columns first..first+2 (upgrade_after, downgrade_after, max_step) of a row. */
static void
read_rules(SPITupleTable *tt, int first, Rules *rules)
{
	Datum		d;

	d = SPI_getbinval(tt->vals[0], tt->tupdesc, first, &rules->upgrade_after_null);
	rules->upgrade_after = rules->upgrade_after_null ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tt->vals[0], tt->tupdesc, first + 1, &rules->downgrade_after_null);
	rules->downgrade_after = rules->downgrade_after_null ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tt->vals[0], tt->tupdesc, first + 2, &rules->max_step_null);
	rules->max_step = rules->max_step_null ? 0 : DatumGetInt32(d);
}

/*
 * A graded batch, received straight from the caller's query: each row's
 * key, grade, score, explanation and evidence are copied into the batch's
 * arrays, and its _grade result is deformed once here (three field
 * selections in the query would read it three times).  No SPI result in
 * between: one copy of every row less, the explanation's bytes included.
 */
typedef struct GradeReceiver
{
	DestReceiver pub;
	GradedBatch *b;
	int			capacity;
	bool		with_evidence;
	TupleDesc	grade_desc;
	MemoryContext cxt;
	bool		null_key;		/* a row had a NULL key: stopped, raised after the query */
} GradeReceiver;

static void
graded_grow(GradedBatch *b, int capacity)
{
#define GROW(field) b->field = b->field ? repalloc(b->field, sizeof(*b->field) * capacity) \
	: palloc(sizeof(*b->field) * capacity)
	GROW(keys);
	GROW(current);
	GROW(current_null);
	GROW(qualified);
	GROW(score);
	GROW(score_null);
	GROW(explanation);
	GROW(explanation_null);
	GROW(evidence);
	GROW(evidence_null);
	GROW(proposed);
#undef GROW
}

/*
 * A copy of a varlena datum in the current memory context, never a toast
 * pointer: a detoasted value is already that copy.
 */
static Datum
copy_varlena(Datum d)
{
	struct varlena *orig = (struct varlena *) DatumGetPointer(d);
	struct varlena *v = pg_detoast_datum_packed(orig);

	if (v != orig)
		return PointerGetDatum(v);
	return datumCopy(PointerGetDatum(v), false, -1);
}

static bool
graderecv_receive(TupleTableSlot *slot, DestReceiver *self)
{
	GradeReceiver *r = (GradeReceiver *) self;
	GradedBatch *b = r->b;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);
	int			i = b->n;
	HeapTupleHeader td;
	HeapTupleData tuple;
	Datum		fields[3];
	bool		field_nulls[3];

	if (i == r->capacity)
	{
		r->capacity *= 2;
		graded_grow(b, r->capacity);
	}
	slot_getsomeattrs(slot, r->with_evidence ? Q_EVIDENCE : Q_GRADE);

	/*
	 * manage() and the DDL guard keep the key NOT NULL: never recorded
	 * without one.  The query stops here; grade_batch raises the error once
	 * it has returned, so that it carries no context of the internal query.
	 */
	if (slot->tts_isnull[Q_KEY - 1])
	{
		r->null_key = true;
		MemoryContextSwitchTo(old);
		return false;
	}
	b->keys[i] = copy_varlena(slot->tts_values[Q_KEY - 1]);
	b->current_null[i] = slot->tts_isnull[Q_CURRENT - 1];
	b->current[i] = b->current_null[i] ? 0 : DatumGetTier(slot->tts_values[Q_CURRENT - 1]);
	if (slot->tts_isnull[Q_GRADE - 1])
		elog(ERROR, "custier: a customer was graded no tier");
	td = DatumGetHeapTupleHeader(slot->tts_values[Q_GRADE - 1]);
	if (r->grade_desc == NULL)
		r->grade_desc = lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(td), HeapTupleHeaderGetTypMod(td));
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, r->grade_desc, fields, field_nulls);
	if (field_nulls[0])
		elog(ERROR, "custier: a customer was graded no tier");
	b->qualified[i] = DatumGetTier(fields[0]);
	b->score_null[i] = field_nulls[1];
	b->score[i] = field_nulls[1] ? (Datum) 0 : copy_varlena(fields[1]);
	b->explanation_null[i] = field_nulls[2];
	b->explanation[i] = field_nulls[2] ? (Datum) 0 : copy_varlena(fields[2]);
	b->evidence_null[i] = !r->with_evidence || slot->tts_isnull[Q_EVIDENCE - 1];
	b->evidence[i] = b->evidence_null[i] ? (Datum) 0 : copy_varlena(slot->tts_values[Q_EVIDENCE - 1]);
	b->n++;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Grades a batch: runs the caller's query (params $1..$4: after this key,
 * this many, explain, evidence) with the caller's rights, its rows into b,
 * in the current memory context.  Parsed and planned for these values, as
 * SPI_execute_with_args would.
 */
static void
grade_batch(const char *query, Oid *types, Datum *values, const char *nulls, int64 batch_size,
			bool with_evidence, GradedBatch *b)
{
	GradeReceiver r;

	memset(b, 0, sizeof(*b));
	memset(&r, 0, sizeof(r));
	recv_init(&r.pub, graderecv_receive);
	r.b = b;
	r.with_evidence = with_evidence;
	r.cxt = CurrentMemoryContext;
	/* Grown by doubling: a batch_size far above the rows there are costs nothing. */
	r.capacity = (int) Min(Max(batch_size, 16), 1024);
	graded_grow(b, r.capacity);
	exec_into(CUSTIER_AS_CALLER, InvalidOid, query, 4, types, values, nulls, false, &r.pub);
	MemoryContextSwitchTo(r.cxt);
	if (r.null_key)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("custier: a customer of the evaluated table has a NULL key"),
				 errhint("The key column of a managed table must be NOT NULL.")));
}

/*
 * Whether the rules look back for this customer: only a move to another
 * grade that needs a streak (upgrade_after or downgrade_after above 1)
 * reads the earlier evaluations; keeping the grade, or a first grading,
 * does not.  In a policy in use most customers keep their grade, so most
 * of a batch needs no look-back at all.
 */
static bool
needs_lookback(Tier current, bool current_null, Tier qualified, const Rules *rules)
{
	bool		upgrade;

	if (current_null || qualified == current)
		return false;
	upgrade = tier_compare(qualified, current) > 0;
	if (upgrade)
		return !rules->upgrade_after_null && rules->upgrade_after > 1;
	return !rules->downgrade_after_null && rules->downgrade_after > 1;
}

/*
 * What the rules propose for a graded batch: b->proposed[i], from each
 * customer's grade, qualified tier and earlier qualifications (looked up
 * for the customers whose move needs a streak).
 */
static void
propose_batch(GradedBatch *b, Oid relid, const Rules *rules, const int64 *earlier, int n_earlier)
{
	int			n = b->n;
	int		   *which = palloc(sizeof(int) * Max(n, 1));
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	int			m = 0;
	Tier	   *tiers;
	bool	   *tnulls;
	Tier	   *none_tiers = palloc0(sizeof(Tier) * Max(n_earlier, 1));
	bool	   *none_nulls = palloc(sizeof(bool) * Max(n_earlier, 1));
	int			i;
	int			j = 0;

	memset(none_nulls, true, sizeof(bool) * Max(n_earlier, 1));
	for (i = 0; i < n; i++)
		if (n_earlier > 0 && needs_lookback(b->current[i], b->current_null[i], b->qualified[i], rules))
		{
			which[m] = i;
			keys[m] = b->keys[i];
			m++;
		}
	tiers = palloc(sizeof(Tier) * Max(m * n_earlier, 1));
	tnulls = palloc(sizeof(bool) * Max(m * n_earlier, 1));
	if (m > 0)
		lookback(relid, earlier, n_earlier, keys, m, n, tiers, tnulls);
	for (i = 0; i < n; i++)
	{
		const Tier *t = none_tiers;
		const bool *tn = none_nulls;

		if (j < m && which[j] == i)
		{
			t = tiers + (size_t) j * n_earlier;
			tn = tnulls + (size_t) j * n_earlier;
			j++;
		}
		b->proposed[i] = propose(b->current[i], b->current_null[i], b->qualified[i], rules, t, tn, n_earlier);
	}
}


/* ---------------------------------------------------------------------
 * evaluate(policy, as_of)
 * ---------------------------------------------------------------------
 */

/* evaluate() takes the customers in batches of this many, as run_evaluation does. */
#define EVALUATE_BATCH 10000

Datum
custier_evaluate(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			plan_types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		plan_values[2];
	char		plan_nulls[2] = {' ', ' '};
	MemoryContext call_cxt = CurrentMemoryContext;
	MemoryContext batch_cxt;
	SPITupleTable *plan;
	char	   *query;
	int64	   *earlier;
	int			n_earlier;
	keytier_hash *held;
	Rules		rules;
	bool		isnull;
	Datum		d;
	Oid			relid;
	Oid			types[4] = {TEXTOID, INT8OID, BOOLOID, BOOLOID};
	Datum		values[4];
	char		nulls[4] = {'n', 'n', ' ', ' '};
	char	   *resume_query;
	text	   *last_key = NULL;

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
	/* The query, earlier evaluations, holds and rules, from custier's tables. */
	custier_exec_as(custier_extension_owner(),
					"SELECT query, resume_query, earlier, held, upgrade_after, downgrade_after, max_step"
					" FROM custier._evaluation_plan($1, $2)",
					2, plan_types, plan_values, plan_nulls, true, 1);
	plan = SPI_tuptable;
	MemoryContextSwitchTo(call_cxt);
	query = SPI_getvalue(plan->vals[0], plan->tupdesc, 1);
	resume_query = SPI_getvalue(plan->vals[0], plan->tupdesc, 2);
	d = SPI_getbinval(plan->vals[0], plan->tupdesc, 3, &isnull);
	earlier = int8_array(d, isnull, &n_earlier);
	read_rules(plan, 5, &rules);
	/* Keys held at as_of (a handful): their grade stays. */
	d = SPI_getbinval(plan->vals[0], plan->tupdesc, 4, &isnull);
	held = held_keys(d, isnull);
	/* The managed table: its earlier evaluations' customers were read from it. */
	d = custier_value_as(custier_extension_owner(),
						 "SELECT m.tbl::pg_catalog.oid::pg_catalog.int8 FROM custier.managed_table m"
						 " WHERE m.policy OPERATOR(pg_catalog.=) $1",
						 1, plan_types, plan_values, plan_nulls, &isnull);
	MemoryContextSwitchTo(call_cxt);
	relid = isnull ? InvalidOid : (Oid) DatumGetInt64(d);
	batch_cxt = AllocSetContextCreate(call_cxt, "custier evaluate batch", ALLOCSET_DEFAULT_SIZES);

	/*
	 * The customers, graded with the caller's rights, a batch at a time as
	 * run_evaluation takes them (each batch resumes after the last key, in
	 * the order of the key's unique index): a batch's plan reads only its
	 * own rows, so memory stays that of one batch however many customers
	 * there are.  Every customer explained ($3).
	 */
	values[1] = Int64GetDatum(EVALUATE_BATCH);
	values[2] = BoolGetDatum(true);
	values[3] = BoolGetDatum(false);
	nulls[1] = ' ';
	for (;;)
	{
		int			n;
		int			i;
		GradedBatch b;

		MemoryContextReset(batch_cxt);
		MemoryContextSwitchTo(batch_cxt);
		values[0] = last_key ? PointerGetDatum(last_key) : (Datum) 0;
		nulls[0] = last_key ? ' ' : 'n';
		grade_batch(last_key ? resume_query : query, types, values, nulls, EVALUATE_BATCH, false, &b);
		n = b.n;
		propose_batch(&b, relid, &rules, earlier, n_earlier);
		for (i = 0; i < n; i++)
		{
			Datum		out[6];
			bool		out_null[6];
			Tier		p = b.proposed[i];

			/* A held customer keeps its grade (gets the proposal when it has none). */
			if (!b.current_null[i] && held->members > 0 && keytier_lookup(held, datum_key(b.keys[i])) != NULL)
				p = b.current[i];
			out[0] = b.keys[i];
			out_null[0] = false;
			out[1] = TierGetDatum(b.current[i]);
			out_null[1] = b.current_null[i];
			out[2] = TierGetDatum(b.qualified[i]);
			out_null[2] = false;
			out[3] = TierGetDatum(p);
			out_null[3] = false;
			out[4] = b.score[i];
			out_null[4] = b.score_null[i];
			out[5] = b.explanation[i];
			out_null[5] = b.explanation_null[i];
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, out_null);
		}
		if (n < EVALUATE_BATCH)
			break;
		MemoryContextSwitchTo(call_cxt);
		if (last_key)
			pfree(last_key);
		last_key = DatumGetTextPCopy(b.keys[n - 1]);
	}
	MemoryContextSwitchTo(call_cxt);
	SPI_finish();
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * run_evaluation(policy, as_of, batch_size)
 * ---------------------------------------------------------------------
 */
/* A batch's claim (custier._evaluation_claim): columns 1-6 and 17 (plan_version) always, the rest with $2. */
#define CLAIM_SQL "SELECT finished, customers, changed, proposed, batch, last_key, tbl, policy, approval, query," \
	" resume_query, earlier, upgrade_after, downgrade_after, max_step, held, plan_version" \
	" FROM custier._evaluation_claim($1, $2)"

/* evaluation_result's columns, in their order (src/evaluation.sql). */
#define RESULT_NATTS 8
static const char *const result_attnames[RESULT_NATTS] = {
	"evaluation_id", "customer_key", "qualified_tier", "proposed_tier",
	"score", "current_tier", "action", "batch"
};

typedef struct StepResult
{
	int64		customers;
	int64		changed;
	int64		proposed;
	bool		finished;
} StepResult;

/*
 * What a run reads of its policy once per CALL, in the first batch's claim:
 * the table, approval, rules, earlier evaluations, held keys, and the query
 * that resumes after a key.  Planning them again in every batch cost a few
 * percent of a run; a CALL now also grades all its batches by one reading
 * of the policy.  Lives in cxt, which outlasts the CALL's commits.
 */
typedef struct RunPlan
{
	MemoryContext cxt;
	bool		valid;
	Oid			relid;
	char	   *policy;
	char	   *approval;
	char	   *resume_query;
	int64	   *earlier;
	int			n_earlier;
	Rules		rules;
	keytier_hash *held;
	CustierApplyCache apply;	/* the statement that applies grades */
	char	   *version;		/* of the policy's and managed table's rows, and the names of the table and metrics source, it was read from */
} RunPlan;

/*
 * Grades, records and applies the next batch of evaluation_id; in one
 * transaction with the row lock on the evaluation.
 */
static void
evaluation_step(int64 evaluation_id, int32 batch_size, StepResult *res, RunPlan *plan)
{
	Oid			owner = custier_extension_owner();
	Oid			tier_type = custier_tier_type();
	Oid			tier_array = custier_tier_array_type();
	Oid			id_type[2] = {INT8OID, BOOLOID};
	Datum		id_value[2];
	SPITupleTable *claim;
	GradedBatch b;
	bool		isnull;
	int32		batch;
	char	   *last_key;
	char	   *query;
	char	   *policy;
	char	   *approval;
	Oid			relid;
	uint64		n;
	int64	   *earlier;
	int			n_earlier;
	Rules		rules;
	keytier_hash *held;
	Datum		d;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	id_value[0] = Int64GetDatum(evaluation_id);
	id_value[1] = BoolGetDatum(!plan->valid);

	/*
	 * The plan's queries name the table.  Locked before the claim reads its
	 * name (plan_version), it cannot be renamed until this batch commits: a
	 * rename that committed is seen by the claim, which then plans again.
	 */
	if (plan->valid)
		LockRelationOid(plan->relid, AccessShareLock);
	custier_exec_as(owner, CLAIM_SQL, 2, id_type, id_value, NULL, false, 1);
	claim = SPI_tuptable;
	if (plan->valid && !DatumGetBool(SPI_getbinval(claim->vals[0], claim->tupdesc, 1, &isnull)))
	{
		char	   *version = SPI_getvalue(claim->vals[0], claim->tupdesc, 17);

		/*
		 * The policy or its managed table changed between batches (rules,
		 * approval, unmanaged, managed again by other columns): read it all
		 * again.  The claim refuses when the table is another one.
		 */
		if (version == NULL || strcmp(version, plan->version) != 0)
		{
			MemoryContextReset(plan->cxt);
			plan->valid = false;
			plan->apply.relid = InvalidOid;
			plan->apply.sql = NULL;
			id_value[1] = BoolGetDatum(true);
			custier_exec_as(owner, CLAIM_SQL, 2, id_type, id_value, NULL, false, 1);
			claim = SPI_tuptable;
		}
	}
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
	if (!plan->valid)
	{
		MemoryContext old = MemoryContextSwitchTo(plan->cxt);

		plan->relid = DatumGetObjectId(SPI_getbinval(claim->vals[0], claim->tupdesc, 7, &isnull));
		plan->policy = SPI_getvalue(claim->vals[0], claim->tupdesc, 8);
		plan->approval = SPI_getvalue(claim->vals[0], claim->tupdesc, 9);
		plan->resume_query = SPI_getvalue(claim->vals[0], claim->tupdesc, 11);
		d = SPI_getbinval(claim->vals[0], claim->tupdesc, 12, &isnull);
		plan->earlier = int8_array(d, isnull, &plan->n_earlier);
		read_rules(claim, 13, &plan->rules);
		d = SPI_getbinval(claim->vals[0], claim->tupdesc, 16, &isnull);
		plan->held = held_keys(d, isnull);
		plan->version = SPI_getvalue(claim->vals[0], claim->tupdesc, 17);
		if (plan->version == NULL)
			plan->version = "";
		MemoryContextSwitchTo(old);
		/* This batch's query: from the start, or resuming after last_key. */
		query = SPI_getvalue(claim->vals[0], claim->tupdesc, 10);
		plan->valid = true;
	}
	else
		query = plan->resume_query;
	relid = plan->relid;
	policy = plan->policy;
	approval = plan->approval;
	earlier = plan->earlier;
	n_earlier = plan->n_earlier;
	rules = plan->rules;
	held = plan->held;

	/* The batch, graded with the caller's rights. */
	{
		Oid			types[4] = {TEXTOID, INT8OID, BOOLOID, BOOLOID};
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		values[0] = last_key ? CStringGetTextDatum(last_key) : (Datum) 0;
		if (last_key == NULL)
			nulls[0] = 'n';
		values[1] = Int64GetDatum(batch_size);
		values[2] = BoolGetDatum(false);
		/* Evidence for the changes that may become adjustments. */
		values[3] = BoolGetDatum(strcmp(approval, "none") != 0);
		grade_batch(query, types, values, nulls, batch_size, strcmp(approval, "none") != 0, &b);
		n = (uint64) b.n;
	}

	if (n > 0)
	{
		uint64		i;
		Datum	   *actions = palloc(sizeof(Datum) * n);
		int		   *prop_pos = palloc(sizeof(int) * n);
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
		Datum		held_text = CStringGetTextDatum("held");
		Datum		kept_text = CStringGetTextDatum("kept");
		Datum		applied_text = CStringGetTextDatum("applied");
		Datum		proposed_text = CStringGetTextDatum("proposed");

		/* What the rules propose, looking back on the earlier evaluations. */
		propose_batch(&b, relid, &rules, earlier, n_earlier);

		/*
		 * Decide per customer: held (a hold is in force at as_of: the grade
		 * stays, src/simulation.sql; its qualified tier is still recorded
		 * and counts in later streaks), kept, applied, or sent for approval:
		 * proposed, or pending when an adjustment is open already.
		 */
		for (i = 0; i < n; i++)
		{
			bool		current_null = b.current_null[i];
			Tier		current = b.current[i];
			Datum		action;

			if (held->members > 0 && keytier_lookup(held, datum_key(b.keys[i])) != NULL)
			{
				action = held_text;
				if (!current_null)
					b.proposed[i] = current;
			}
			else if (!current_null && b.proposed[i] == current)
				action = kept_text;
			else if (current_null || strcmp(approval, "none") == 0 ||
					 (strcmp(approval, "downgrade") == 0 && tier_compare(b.proposed[i], current) > 0))
			{
				action = applied_text;
				apply_keys[napply] = b.keys[i];
				apply_from[napply] = TierGetDatum(current);
				apply_from_null[napply] = current_null;
				apply_to[napply] = TierGetDatum(b.proposed[i]);
				napply++;
			}
			else
			{
				action = proposed_text;
				prop_pos[nprop] = (int) i;
				prop_keys[nprop] = b.keys[i];
				prop_to[nprop] = TierGetDatum(b.proposed[i]);
				prop_evidence[nprop] = b.evidence[i];
				prop_evidence_null[nprop] = b.evidence_null[i];
				nprop++;
			}
			actions[i] = action;
		}
		if (nprop > 0)
		{
			/* Only a policy that asks for approval can have open adjustments to wait on. */
			Oid			atypes[2] = {REGCLASSOID, TEXTARRAYOID};
			Datum		avalues[2];
			uint64		nopen;
			keytier_hash *open;
			int			j;
			int			kept_prop = 0;

			avalues[0] = ObjectIdGetDatum(relid);
			avalues[1] = PointerGetDatum(construct_array(prop_keys, nprop, TEXTOID, -1, false, TYPALIGN_INT));
			nopen = custier_exec_generic(CUSTIER_AS_EXTENSION, owner,
										 "SELECT a.customer_key, 'A'::custier.tier FROM custier.adjustment a"
										 " WHERE a.tbl OPERATOR(pg_catalog.=) $1"
										 " AND a.customer_key OPERATOR(pg_catalog.=) ANY ($2)"
										 " AND a.status OPERATOR(pg_catalog.=) ANY ('{proposed,approved}'::pg_catalog.text[])",
										 2, atypes, avalues, NULL, true, 0);
			open = hash_rows(SPI_tuptable, nopen, 1, 2);
			for (j = 0; j < nprop; j++)
			{
				if (keytier_lookup(open, datum_key(prop_keys[j])) != NULL)
				{
					actions[prop_pos[j]] = CStringGetTextDatum("pending");
					continue;
				}
				prop_pos[kept_prop] = prop_pos[j];
				prop_keys[kept_prop] = prop_keys[j];
				prop_to[kept_prop] = prop_to[j];
				prop_evidence[kept_prop] = prop_evidence[j];
				prop_evidence_null[kept_prop] = prop_evidence_null[j];
				kept_prop++;
			}
			nprop = kept_prop;
		}

		/* Record the batch: its result rows, as COPY writes (src/history.c). */
		{
			Oid			result_types[RESULT_NATTS] = {INT8OID, TEXTOID, tier_type, tier_type, NUMERICOID, tier_type,
				TEXTOID, INT4OID};
			CustierAppender *results = custier_appender_open("evaluation_result", RESULT_NATTS, result_attnames,
															 result_types, 0);
			Datum		v[RESULT_NATTS];
			bool		nl[RESULT_NATTS] = {false};

			v[0] = Int64GetDatum(evaluation_id);
			v[7] = Int32GetDatum(batch);
			for (i = 0; i < n; i++)
			{
				v[1] = b.keys[i];
				v[2] = TierGetDatum(b.qualified[i]);
				v[3] = TierGetDatum(b.proposed[i]);
				v[4] = b.score[i];
				nl[4] = b.score_null[i];
				v[5] = TierGetDatum(b.current[i]);
				nl[5] = b.current_null[i];
				v[6] = actions[i];
				custier_appender_append(results, v, nl);
			}
			custier_appender_close(results);
			CommandCounterIncrement();
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
										   napply, 0, reason, &applied_keys, &plan->apply);
			res->changed += (int64) applied;
			/* The others moved since they were graded: say so. */
			if (applied < (uint64) napply)
			{
				Oid			stypes[2] = {INT8OID, TEXTARRAYOID};
				Datum		svalues[2];
				ArrayType  *done = DatumGetArrayTypeP(applied_keys);
				Datum	   *done_keys;
				int			ndone;
				keytier_hash *done_hash;
				int			nskipped = 0;
				int			j;

				deconstruct_array(done, TEXTOID, -1, false, TYPALIGN_INT, &done_keys, NULL, &ndone);
				done_hash = keytier_create(CurrentMemoryContext, Max(ndone, 16), NULL);
				for (j = 0; j < ndone; j++)
				{
					bool		found;

					keytier_insert(done_hash, datum_key(done_keys[j]), &found);
				}
				for (j = 0; j < napply; j++)
					if (keytier_lookup(done_hash, datum_key(apply_keys[j])) == NULL)
						apply_keys[nskipped++] = apply_keys[j];
				svalues[0] = Int64GetDatum(evaluation_id);
				svalues[1] = PointerGetDatum(construct_array(apply_keys, nskipped, TEXTOID, -1, false, TYPALIGN_INT));
				custier_exec_as(owner,
								"UPDATE custier.evaluation_result r SET action = 'skipped'"
								" WHERE r.evaluation_id OPERATOR(pg_catalog.=) $1"
								" AND r.customer_key OPERATOR(pg_catalog.=) ANY ($2)",
								2, stypes, svalues, NULL, false, 0);
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
			values[5] = b.keys[n - 1];
		else
			nulls[5] = 'n';
		values[6] = BoolGetDatum(res->finished);
		custier_exec_as(owner,
						"UPDATE custier.evaluation e SET customers = $2, changed = $3, proposed = $4, batches = $5,"
						" last_key = coalesce($6, e.last_key),"
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
	RunPlan		plan;

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

	memset(&plan, 0, sizeof(plan));
	plan.cxt = AllocSetContextCreate(CurrentMemoryContext, "custier run_evaluation", ALLOCSET_SMALL_SIZES);
	plan.apply.cxt = plan.cxt;
	if (SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (;;)
	{
		StepResult res;
		double		secs;
		double		rate;
		char	   *detail;

		evaluation_step(evaluation_id, batch_size, &res, &plan);
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
	MemoryContextDelete(plan.cxt);
	PG_RETURN_VOID();
}
