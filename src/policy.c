/*
 * policy.c — tier assignment from a grading policy (see doc/reference.md):
 * custier.assign_tier, custier.score and custier.explain over a jsonb object
 * or a row, plus the triggers that keep compiled policies fresh and audit
 * every policy edit.
 *
 * A policy is read with SPI once per call site and statement ("compiled")
 * into fn_extra; every row of the statement then costs a few comparisons.
 *
 * Longer than 1000 lines because everything that reads a compiled policy
 * lives here: grading, scoring, the explanation (with the jsonb writer that
 * builds it in one pass), shortfalls, and the triggers that invalidate it.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "custier.h"
#include "custier_citus.h"
#include "lifecycle.h"
#include "rights.h"

PG_FUNCTION_INFO_V1(custier_assign_tier_jsonb);
PG_FUNCTION_INFO_V1(custier_assign_tier_record);
PG_FUNCTION_INFO_V1(custier_score_jsonb);
PG_FUNCTION_INFO_V1(custier_score_record);
PG_FUNCTION_INFO_V1(custier_explain_jsonb);
PG_FUNCTION_INFO_V1(custier_explain_record);
PG_FUNCTION_INFO_V1(custier_shortfall_jsonb);
PG_FUNCTION_INFO_V1(custier_shortfall_record);
PG_FUNCTION_INFO_V1(custier_grade_record);
PG_FUNCTION_INFO_V1(custier_policy_edited);
PG_FUNCTION_INFO_V1(custier_policy_audit_trigger);

#if PG_VERSION_NUM >= 170000
#define MY_LXID (MyProc->vxid.lxid)
#else
#define MY_LXID (MyProc->lxid)
#endif

#define METRIC_JSON_HINT "A metric is a JSON number, a string holding a number, or null (missing)."
#define METRIC_COLUMN_HINT "Metric columns are smallint, integer, bigint, real, double precision or numeric (or a domain over one)."

/* Compiled policies a call site starts with room for (it grows: the name may vary per row). */
#define POLICY_CACHE_INITIAL_SLOTS 4

/*
 * A bound, also pre-converted for integer metric values so that an integer
 * column is compared without building a numeric: v >= b  <=>  v >= ceil(b),
 * v <= b  <=>  v <= floor(b).
 */
typedef enum IntBoundCase
{
	INTBOUND_VALUE,				/* compare with i */
	INTBOUND_ALWAYS,			/* every int64 meets it */
	INTBOUND_NEVER				/* no int64 meets it */
} IntBoundCase;

typedef struct Bound
{
	Numeric		n;
	IntBoundCase intcase;
	int64		i;
} Bound;

typedef struct Band
{
	Bound		bound;
	Numeric		points;
	Numeric		wpoints;		/* weight × points */
} Band;

typedef enum MetricKind
{
	MK_MISSING,					/* no such column: a missing metric */
	MK_INT2,
	MK_INT4,
	MK_INT8,
	MK_FLOAT4,
	MK_FLOAT8,
	MK_NUMERIC
} MetricKind;

typedef struct Criterion
{
	char	   *metric;
	int			metric_len;
	bool		higher_is_better;
	Numeric		weight;
	/* thresholds method: this criterion's thresholds, best tier first */
	int			nthresholds;
	Tier	   *th_tier;
	Bound	   *th_bound;
	/* thresholds method: 100 × weight × (n − r + 1), indexed by rank r = 1..n */
	Numeric    *rank_wk;
	/* score method: bands, most points first */
	int			nbands;
	Band	   *bands;
} Criterion;

/* Thresholds method: a tier that has thresholds, and which they are. */
typedef struct TierRule
{
	Tier		tier;
	int			nchecks;
	int		   *crit;
	Bound	  **bound;
} TierRule;

/* Where each criterion's column is in one row type. */
typedef struct RowMap
{
	struct RowMap *next;		/* maps of other row types seen by this call site */
	Oid			typid;
	int32		typmod;
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	int		   *attnum;			/* per criterion, 0 when missing */
	MetricKind *kind;
} RowMap;

/* One metric value of the row being graded. */
typedef struct MetricValue
{
	bool		isnull;
	bool		isint;
	int64		i;
	Numeric		n;				/* when !isint */
} MetricValue;

typedef struct CompiledPolicy
{
	MemoryContext cxt;
	char	   *name;
	int			name_len;
	bool		is_score;
	Tier		lowest;
	int			ngrades;		/* n: grades A..lowest */
	int			ncrit;
	Criterion  *crit;
	int			nrules;			/* thresholds method, best tier first */
	TierRule   *rules;
	int			nlevels;		/* score method: tiers with a min_score, best first */
	Tier	   *level_tier;
	Numeric    *level_min;
	char	   *label[TIER_MAX_RANK + 1];
	Numeric    *rank_points;	/* 100 × (n − r + 1) ÷ n, r = 0..n (0 → 0) */
	Numeric		denominator;	/* score = Σ ÷ denominator */
	Numeric		zero;
	MetricValue *values;		/* scratch, one per criterion */
	int		   *met;			/* scratch, one per criterion: rank or band met */
	RowMap	   *rowmap;			/* one per row type, the last one used first */

	/*
	 * The score depends only on what each criterion met (its rank, or its
	 * band): it is computed once per combination and kept here, so a row
	 * costs no numeric arithmetic for it.  memo_n is 0 when there are too
	 * many combinations to keep.
	 */
	int			memo_n;
	int		   *memo_stride;	/* per criterion */
	Numeric    *score_memo;		/* per combination, NULL until computed */
	char		tier_str[TIER_MAX_RANK + 1][2];	/* "A", "B", ... */
} CompiledPolicy;

/* Combinations of met values a compiled policy keeps scores for, at most. */
#define SCORE_MEMO_MAX 4096

/*
 * fn_extra: every policy this call site has graded with in this statement.
 * It only grows by policies that exist, so a name varying per row among
 * many policies costs one compile per policy, never one per row.
 */
typedef struct PolicyCache
{
	TimestampTz stmt_start;
	LocalTransactionId lxid;
	uint64		generation;
	/* the snapshot the policies were read with (see policy_lookup) */
	uint64		snap_completions;
	TransactionId snap_xmin;
	TransactionId snap_xmax;
	int			nslots;
	int			maxslots;
	int			last;			/* slot of the previous call */
	CompiledPolicy **slot;
	TupleDesc	result_desc;	/* custier._grade's result row, blessed */
} PolicyCache;

/*
 * Bumped by the statement triggers on the policy tables, and when a
 * subtransaction that edited a policy rolls back: a compiled policy older
 * than the current generation is stale even within one statement (PL/pgSQL
 * keeps simple-expression states alive).
 */
static uint64 policy_generation = 0;
static bool policy_callback_registered = false;

/*
 * The deepest (sub)transaction level of transaction policy_edit_lxid that
 * holds a policy edit not yet rolled back or merged into its parent.  Only
 * rolling back such a level bumps the generation: a query whose per-row
 * function catches errors (a subtransaction abort per row) must not make
 * every row recompile the policy.
 */
static int	policy_edit_level = 0;
static LocalTransactionId policy_edit_lxid = InvalidLocalTransactionId;

static void
policy_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	/* called while the ending subtransaction is still the current one */
	int			level = GetCurrentTransactionNestLevel();

	if (policy_edit_lxid != MY_LXID || policy_edit_level < level)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		policy_generation++;
		policy_edit_level = level - 1;	/* the parent may hold edits too */
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		policy_edit_level = level - 1;	/* its edits are now the parent's */
}

static void
policy_register_callback(void)
{
	if (!policy_callback_registered)
	{
		RegisterSubXactCallback(policy_subxact_callback, NULL);
		policy_callback_registered = true;
	}
}

static inline int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
numeric_plus(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
numeric_less(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_sub, NumericGetDatum(a), NumericGetDatum(b)));
}

static inline Numeric
numeric_times(Numeric a, Numeric b)
{
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul, NumericGetDatum(a), NumericGetDatum(b)));
}

/* a ÷ b as PostgreSQL's numeric division gives it, trailing zeros trimmed. */
static Numeric
numeric_quotient(Numeric a, Numeric b)
{
	Datum		q = DirectFunctionCall2(numeric_div, NumericGetDatum(a), NumericGetDatum(b));

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, q));
}

static void
bound_init(Bound *b, Numeric n, bool higher_is_better)
{
	Numeric		r;

	b->n = n;
	b->i = 0;
	r = DatumGetNumeric(DirectFunctionCall1(higher_is_better ? numeric_ceil : numeric_floor,
											NumericGetDatum(n)));
	if (numeric_compare(r, int64_to_numeric(PG_INT64_MAX)) > 0)
		b->intcase = higher_is_better ? INTBOUND_NEVER : INTBOUND_ALWAYS;
	else if (numeric_compare(r, int64_to_numeric(PG_INT64_MIN)) < 0)
		b->intcase = higher_is_better ? INTBOUND_ALWAYS : INTBOUND_NEVER;
	else
	{
		b->intcase = INTBOUND_VALUE;
		b->i = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(r)));
	}
}

/* Does the value meet the bound (>=, or <= when lower is better)? */
static inline bool
meets(const MetricValue *v, const Bound *b, bool higher_is_better)
{
	int			cmp;

	if (v->isnull)
		return false;
	if (v->isint)
	{
		if (b->intcase != INTBOUND_VALUE)
			return b->intcase == INTBOUND_ALWAYS;
		return higher_is_better ? v->i >= b->i : v->i <= b->i;
	}
	cmp = numeric_compare(v->n, b->n);
	return higher_is_better ? cmp >= 0 : cmp <= 0;
}

/* ---------------------------------------------------------------- compile */

static int
find_criterion(CompiledPolicy *p, const char *metric)
{
	int			i;

	for (i = 0; i < p->ncrit; i++)
		if (strcmp(p->crit[i].metric, metric) == 0)
			return i;
	return -1;					/* the foreign key makes this unreachable */
}

/*
 * Runs sql, whose %s is replaced by where this node keeps the policy table
 * `table` (the table, or its Citus reference-table placement: citus.c).
 */
static SPITupleTable *
policy_query(const char *table, const char *sqlfmt, Datum name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {name};
	char	   *sql = psprintf(sqlfmt, custier_citus_local_relation(table));

	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "custier: reading the policy failed: %s", sql);
	return SPI_tuptable;
}

static Datum
spi_value(SPITupleTable *tt, uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(tt->vals[row], tt->tupdesc, col, isnull);
}

static Numeric
copy_numeric(Datum d)
{
	return DatumGetNumericCopy(d);
}

static CompiledPolicy *
policy_compile(text *name, MemoryContext parent)
{
	MemoryContext cxt;
	MemoryContext oldcxt;
	CompiledPolicy *p;
	SPITupleTable *tt;
	Datum		namedatum = PointerGetDatum(name);
	char	   *namestr = text_to_cstring(name);
	bool		isnull;
	uint64		row;
	int			i,
				r;
	Numeric		sum_weight;

	cxt = AllocSetContextCreate(parent, "custier compiled policy", ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	p = palloc0(sizeof(CompiledPolicy));
	p->cxt = cxt;
	p->name = pstrdup(namestr);
	p->name_len = strlen(namestr);
	MemoryContextSwitchTo(oldcxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");

	tt = policy_query("policy", "SELECT method, lowest FROM %s WHERE name OPERATOR(pg_catalog.=) $1",
					  namedatum);
	if (SPI_processed == 0)
	{
		SPI_finish();
		MemoryContextDelete(cxt);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("policy \"%s\" does not exist", namestr),
				 errhint("Policies are the rows of custier.policy.")));
	}
	{
		char	   *method = TextDatumGetCString(spi_value(tt, 0, 1, &isnull));

		if (strcmp(method, "score") == 0)
			p->is_score = true;
		else if (strcmp(method, "thresholds") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("policy \"%s\": unknown method \"%s\"", namestr, method)));
		p->lowest = DatumGetTier(spi_value(tt, 0, 2, &isnull));
		p->ngrades = p->lowest;
	}

	/* Criteria, by metric name so that explain lists them in a stable order. */
	tt = policy_query("policy_criterion", "SELECT metric, weight, higher_is_better FROM %s"
					  " WHERE policy OPERATOR(pg_catalog.=) $1 ORDER BY metric",
					  namedatum);
	oldcxt = MemoryContextSwitchTo(cxt);
	p->ncrit = (int) SPI_processed;
	p->crit = palloc0(sizeof(Criterion) * Max(p->ncrit, 1));
	p->values = palloc0(sizeof(MetricValue) * Max(p->ncrit, 1));
	sum_weight = int64_to_numeric(0);
	for (row = 0; row < SPI_processed; row++)
	{
		Criterion  *c = &p->crit[row];

		c->metric = pstrdup(NameStr(*DatumGetName(spi_value(tt, row, 1, &isnull))));
		c->metric_len = strlen(c->metric);
		c->weight = copy_numeric(spi_value(tt, row, 2, &isnull));
		c->higher_is_better = DatumGetBool(spi_value(tt, row, 3, &isnull));
		c->th_tier = palloc0(sizeof(Tier) * (p->ngrades + 1));
		c->th_bound = palloc0(sizeof(Bound) * (p->ngrades + 1));
		sum_weight = numeric_plus(sum_weight, c->weight);
	}
	p->zero = int64_to_numeric(0);
	MemoryContextSwitchTo(oldcxt);

	/* Thresholds: kept per criterion, best tier first; tiers beyond lowest ignored. */
	tt = policy_query("policy_threshold", "SELECT metric, tier, bound FROM %s"
					  " WHERE policy OPERATOR(pg_catalog.=) $1",
					  namedatum);
	oldcxt = MemoryContextSwitchTo(cxt);
	for (row = 0; row < SPI_processed; row++)
	{
		int			ci = find_criterion(p, NameStr(*DatumGetName(spi_value(tt, row, 1, &isnull))));
		Tier		t = DatumGetTier(spi_value(tt, row, 2, &isnull));
		Criterion  *c;
		int			k;

		if (ci < 0 || t > p->lowest)
			continue;
		c = &p->crit[ci];
		/* insertion by rank */
		for (k = c->nthresholds; k > 0 && c->th_tier[k - 1] > t; k--)
		{
			c->th_tier[k] = c->th_tier[k - 1];
			c->th_bound[k] = c->th_bound[k - 1];
		}
		c->th_tier[k] = t;
		bound_init(&c->th_bound[k], copy_numeric(spi_value(tt, row, 3, &isnull)), c->higher_is_better);
		c->nthresholds++;
	}

	/* Tier rules for the thresholds method: every tier that has thresholds. */
	p->rules = palloc0(sizeof(TierRule) * (p->ngrades + 1));
	for (r = 1; r <= p->ngrades; r++)
	{
		TierRule   *rule = &p->rules[p->nrules];

		rule->crit = palloc(sizeof(int) * Max(p->ncrit, 1));
		rule->bound = palloc(sizeof(Bound *) * Max(p->ncrit, 1));
		for (i = 0; i < p->ncrit; i++)
		{
			Criterion  *c = &p->crit[i];
			int			k;

			for (k = 0; k < c->nthresholds; k++)
				if (c->th_tier[k] == r)
				{
					rule->crit[rule->nchecks] = i;
					rule->bound[rule->nchecks] = &c->th_bound[k];
					rule->nchecks++;
				}
		}
		if (rule->nchecks > 0)
		{
			rule->tier = (Tier) r;
			p->nrules++;
		}
	}

	/* Thresholds-method points: 100 × (n − r + 1) ÷ n, and 100 × weight × (n − r + 1). */
	p->rank_points = palloc0(sizeof(Numeric) * (p->ngrades + 1));
	p->rank_points[0] = p->zero;
	for (r = 1; r <= p->ngrades; r++)
		p->rank_points[r] = numeric_quotient(int64_to_numeric(100 * (p->ngrades - r + 1)),
											 int64_to_numeric(p->ngrades));
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];

		c->rank_wk = palloc0(sizeof(Numeric) * (p->ngrades + 1));
		for (r = 1; r <= p->ngrades; r++)
			c->rank_wk[r] = numeric_times(c->weight, int64_to_numeric(100 * (p->ngrades - r + 1)));
	}
	MemoryContextSwitchTo(oldcxt);

	/* Bands: most points first (then the hardest bound), so the first met is the best. */
	tt = policy_query("policy_band", "SELECT metric, bound, points FROM %s"
					  " WHERE policy OPERATOR(pg_catalog.=) $1",
					  namedatum);
	oldcxt = MemoryContextSwitchTo(cxt);
	for (i = 0; i < p->ncrit; i++)
		p->crit[i].bands = palloc0(sizeof(Band) * Max(SPI_processed, 1));
	for (row = 0; row < SPI_processed; row++)
	{
		int			ci = find_criterion(p, NameStr(*DatumGetName(spi_value(tt, row, 1, &isnull))));
		Criterion  *c;
		Band		b;
		int			k;

		if (ci < 0)
			continue;
		c = &p->crit[ci];
		bound_init(&b.bound, copy_numeric(spi_value(tt, row, 2, &isnull)), c->higher_is_better);
		b.points = copy_numeric(spi_value(tt, row, 3, &isnull));
		b.wpoints = numeric_times(c->weight, b.points);
		for (k = c->nbands; k > 0; k--)
		{
			Band	   *prev = &c->bands[k - 1];
			int			cmp = numeric_compare(prev->points, b.points);

			if (cmp == 0)
			{
				cmp = numeric_compare(prev->bound.n, b.bound.n);
				if (!c->higher_is_better)
					cmp = -cmp;
			}
			if (cmp >= 0)
				break;
			c->bands[k] = *prev;
		}
		c->bands[k] = b;
		c->nbands++;
	}
	MemoryContextSwitchTo(oldcxt);

	/* Tiers: labels, and the min_score ladder of the score method. */
	tt = policy_query("policy_tier", "SELECT tier, label, min_score FROM %s"
					  " WHERE policy OPERATOR(pg_catalog.=) $1",
					  namedatum);
	oldcxt = MemoryContextSwitchTo(cxt);
	p->level_tier = palloc0(sizeof(Tier) * (SPI_processed + 1));
	p->level_min = palloc0(sizeof(Numeric) * (SPI_processed + 1));
	for (row = 0; row < SPI_processed; row++)
	{
		Tier		t = DatumGetTier(spi_value(tt, row, 1, &isnull));
		Datum		d;
		int			k;

		if (t > p->lowest)
			continue;
		d = spi_value(tt, row, 2, &isnull);
		if (!isnull)
			p->label[t] = TextDatumGetCString(d);
		d = spi_value(tt, row, 3, &isnull);
		if (isnull)
			continue;
		for (k = p->nlevels; k > 0 && p->level_tier[k - 1] > t; k--)
		{
			p->level_tier[k] = p->level_tier[k - 1];
			p->level_min[k] = p->level_min[k - 1];
		}
		p->level_tier[k] = t;
		p->level_min[k] = copy_numeric(d);
		p->nlevels++;
	}

	/*
	 * score = Σ weight × points ÷ Σ weight; under thresholds, with points
	 * 100 × (n − r + 1) ÷ n, that is Σ 100 × w × (n − r + 1) ÷ (n × Σ w):
	 * one division, so the score has the digits "/" gives on those sums.
	 */
	if (p->is_score)
		p->denominator = sum_weight;
	else
		p->denominator = numeric_times(sum_weight, int64_to_numeric(p->ngrades));

	p->met = palloc0(sizeof(int) * Max(p->ncrit, 1));
	for (r = 1; r <= TIER_MAX_RANK; r++)
	{
		p->tier_str[r][0] = TIER_LETTER(r);
		p->tier_str[r][1] = '\0';
	}
	p->memo_stride = palloc0(sizeof(int) * Max(p->ncrit, 1));
	p->memo_n = 1;
	for (i = 0; i < p->ncrit && p->memo_n > 0; i++)
	{
		/* thresholds: rank 0..ngrades; score: band -1..nbands-1, kept as +1 */
		int			values = p->is_score ? p->crit[i].nbands + 1 : p->ngrades + 1;

		p->memo_stride[i] = p->memo_n;
		if ((int64) p->memo_n * values > SCORE_MEMO_MAX)
			p->memo_n = 0;
		else
			p->memo_n *= values;
	}
	if (p->memo_n > 0)
		p->score_memo = palloc0(sizeof(Numeric) * p->memo_n);
	MemoryContextSwitchTo(oldcxt);

	SPI_finish();
	return p;
}

/*
 * The compiled policy for this call site and statement.  Recompiled when a
 * new statement or transaction starts, when a policy table changed in this
 * backend since (generation), or when the statement runs on a snapshot that
 * may see transactions the compiled one did not: a PL/pgSQL simple
 * expression keeps its fn_extra across the statements of a loop, and each of
 * them may see edits other sessions have committed meanwhile.  A snapshot
 * with the same xact-completion count as the compiling one sees the same
 * committed rows (GetSnapshotData reuses snapshots on that very test); a
 * restored snapshot (parallel worker) has count 0 and stays the same for
 * its whole statement.
 */
static CompiledPolicy *
policy_lookup(FunctionCallInfo fcinfo, text *name)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	PolicyCache *cache = (PolicyCache *) flinfo->fn_extra;
	TimestampTz stmt_start = GetCurrentStatementStartTimestamp();
	LocalTransactionId lxid = MY_LXID;
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
	uint64		snap_completions = snap ? snap->snapXactCompletionCount : 0;
	TransactionId snap_xmin = snap ? snap->xmin : InvalidTransactionId;
	TransactionId snap_xmax = snap ? snap->xmax : InvalidTransactionId;
	const char *namedata = VARDATA_ANY(name);
	int			namelen = VARSIZE_ANY_EXHDR(name);
	CompiledPolicy *p;
	int			i;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(PolicyCache));
		cache->maxslots = POLICY_CACHE_INITIAL_SLOTS;
		cache->slot = MemoryContextAllocZero(flinfo->fn_mcxt,
											 sizeof(CompiledPolicy *) * cache->maxslots);
		flinfo->fn_extra = cache;
	}
	else if (cache->stmt_start != stmt_start || cache->lxid != lxid ||
			 cache->generation != policy_generation ||
			 cache->snap_completions != snap_completions ||
			 cache->snap_xmin != snap_xmin || cache->snap_xmax != snap_xmax)
	{
		for (i = 0; i < cache->nslots; i++)
			MemoryContextDelete(cache->slot[i]->cxt);
		cache->nslots = 0;
		cache->last = 0;
	}
	cache->stmt_start = stmt_start;
	cache->lxid = lxid;
	cache->generation = policy_generation;
	cache->snap_completions = snap_completions;
	cache->snap_xmin = snap_xmin;
	cache->snap_xmax = snap_xmax;

	/* The previous call's policy first: the name is usually a constant. */
	if (cache->last < cache->nslots)
	{
		p = cache->slot[cache->last];
		if (p->name_len == namelen && memcmp(p->name, namedata, namelen) == 0)
			return p;
	}
	for (i = 0; i < cache->nslots; i++)
	{
		p = cache->slot[i];
		if (p->name_len == namelen && memcmp(p->name, namedata, namelen) == 0)
		{
			cache->last = i;
			return p;
		}
	}

	if (cache->nslots == cache->maxslots)
	{
		cache->maxslots *= 2;
		cache->slot = repalloc(cache->slot, sizeof(CompiledPolicy *) * cache->maxslots);
	}
	/* compiling reads tables, which does not bump the generation */
	p = policy_compile(name, flinfo->fn_mcxt);
	cache->last = cache->nslots;
	cache->slot[cache->nslots++] = p;
	return p;
}

/* ----------------------------------------------------------- metric input */

/* PostgreSQL 15's numeric input syntax, so that we can name the metric on a bad one. */
static bool
numeric_syntax_ok(const char *s)
{
	const char *p = s;
	bool		digits = false;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	if (pg_strncasecmp(p, "infinity", 8) == 0)
		p += 8;
	else if (pg_strncasecmp(p, "inf", 3) == 0)
		p += 3;
	else if (p == s + strspn(s, " \t\n\r\f\v") && pg_strncasecmp(p, "nan", 3) == 0)
		p += 3;
	else
	{
		while (isdigit((unsigned char) *p))
			p++, digits = true;
		if (*p == '.')
		{
			p++;
			while (isdigit((unsigned char) *p))
				p++, digits = true;
		}
		if (!digits)
			return false;
		if (*p == 'e' || *p == 'E')
		{
			p++;
			if (*p == '+' || *p == '-')
				p++;
			if (!isdigit((unsigned char) *p))
				return false;
			while (isdigit((unsigned char) *p))
				p++;
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	return *p == '\0';
}

/*
 * NaN is no measurement: under numeric ordering it would meet every
 * "higher is better" bound, so it is refused rather than graded.
 */
static inline Numeric
checked_numeric(CompiledPolicy *p, Criterion *c, Numeric n)
{
	if (numeric_is_nan(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy \"%s\": metric \"%s\" is NaN", p->name, c->metric),
				 errhint("Use NULL for a metric that is not known.")));
	return n;
}

static const char *
jsonb_container_kind(JsonbContainer *jc)
{
	return JsonContainerIsObject(jc) ? "an object" : "an array";
}

static void
jsonb_values(CompiledPolicy *p, Jsonb *jb)
{
	int			i;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("policy \"%s\": metrics must be a JSON object, not %s",
						p->name, JB_ROOT_IS_SCALAR(jb) ? "a scalar" : "an array"),
				 errhint("Pass the metrics as {\"metric\": value, ...}.")));

	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		MetricValue *v = &p->values[i];
		JsonbValue	jv;

		v->isnull = true;
		v->isint = false;
		if (getKeyJsonValueFromContainer(&jb->root, c->metric, c->metric_len, &jv) == NULL)
			continue;
		switch (jv.type)
		{
			case jbvNull:
				break;
			case jbvNumeric:
				v->isnull = false;
				v->n = jv.val.numeric;
				break;
			case jbvString:
				{
					char	   *s = pnstrdup(jv.val.string.val, jv.val.string.len);

					if (!numeric_syntax_ok(s))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
								 errmsg("policy \"%s\": metric \"%s\" is not a number: \"%s\"",
										p->name, c->metric, s),
								 errhint(METRIC_JSON_HINT)));
					v->isnull = false;
					v->n = checked_numeric(p, c,
										   DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
																			   ObjectIdGetDatum(InvalidOid),
																			   Int32GetDatum(-1))));
					break;
				}
			case jbvBool:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("policy \"%s\": metric \"%s\" is a JSON boolean (%s), not a number",
								p->name, c->metric, jv.val.boolean ? "true" : "false"),
						 errhint(METRIC_JSON_HINT)));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("policy \"%s\": metric \"%s\" is %s, not a number",
								p->name, c->metric,
								jv.type == jbvBinary ? jsonb_container_kind(jv.val.binary.data) : "not a scalar"),
						 errhint(METRIC_JSON_HINT)));
		}
	}
}

/* Maps criteria to the columns of this row type; once per (compile, row type). */
static RowMap *
rowmap_build(CompiledPolicy *p, Oid typid, int32 typmod)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(p->cxt);
	TupleDesc	td = lookup_rowtype_tupdesc(typid, typmod);
	RowMap	   *map = palloc0(sizeof(RowMap));
	int			i,
				a;

	map->typid = typid;
	map->typmod = typmod;
	map->tupdesc = CreateTupleDescCopy(td);
	ReleaseTupleDesc(td);
	map->values = palloc(sizeof(Datum) * Max(map->tupdesc->natts, 1));
	map->nulls = palloc(sizeof(bool) * Max(map->tupdesc->natts, 1));
	map->attnum = palloc0(sizeof(int) * Max(p->ncrit, 1));
	map->kind = palloc0(sizeof(MetricKind) * Max(p->ncrit, 1));

	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];

		for (a = 0; a < map->tupdesc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(map->tupdesc, a);
			Oid			base;

			if (att->attisdropped || strcmp(NameStr(att->attname), c->metric) != 0)
				continue;
			base = getBaseType(att->atttypid);
			map->attnum[i] = a + 1;
			switch (base)
			{
				case INT2OID:
					map->kind[i] = MK_INT2;
					break;
				case INT4OID:
					map->kind[i] = MK_INT4;
					break;
				case INT8OID:
					map->kind[i] = MK_INT8;
					break;
				case FLOAT4OID:
					map->kind[i] = MK_FLOAT4;
					break;
				case FLOAT8OID:
					map->kind[i] = MK_FLOAT8;
					break;
				case NUMERICOID:
					map->kind[i] = MK_NUMERIC;
					break;
				default:
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("policy \"%s\": metric \"%s\" is a column of type %s, not a number",
									p->name, c->metric, format_type_be(att->atttypid)),
							 errhint(METRIC_COLUMN_HINT)));
			}
			break;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	return map;
}

static void
record_values(CompiledPolicy *p, HeapTupleHeader rec)
{
	Oid			typid = HeapTupleHeaderGetTypeId(rec);
	int32		typmod = HeapTupleHeaderGetTypMod(rec);
	RowMap	   *map = p->rowmap;
	HeapTupleData tuple;
	int			i;

	if (map == NULL || map->typid != typid || map->typmod != typmod)
	{
		/*
		 * Another row type (a record column can hold several): reuse its map
		 * if this call site has seen it, so that alternating types cost no
		 * memory per row.
		 */
		RowMap	   *prev = NULL;

		while (map != NULL && (map->typid != typid || map->typmod != typmod))
			prev = map, map = map->next;
		if (map == NULL)
			map = rowmap_build(p, typid, typmod);
		else
			prev->next = map->next;
		map->next = p->rowmap;
		p->rowmap = map;
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&(tuple.t_self));
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	heap_deform_tuple(&tuple, map->tupdesc, map->values, map->nulls);

	for (i = 0; i < p->ncrit; i++)
	{
		MetricValue *v = &p->values[i];
		int			a = map->attnum[i] - 1;
		Datum		d;

		v->isint = false;
		v->isnull = (a < 0 || map->nulls[a]);
		if (v->isnull)
			continue;
		d = map->values[a];
		switch (map->kind[i])
		{
			case MK_INT2:
				v->isint = true;
				v->i = DatumGetInt16(d);
				break;
			case MK_INT4:
				v->isint = true;
				v->i = DatumGetInt32(d);
				break;
			case MK_INT8:
				v->isint = true;
				v->i = DatumGetInt64(d);
				break;
			case MK_FLOAT4:
				v->n = checked_numeric(p, &p->crit[i], DatumGetNumeric(DirectFunctionCall1(float4_numeric, d)));
				break;
			case MK_FLOAT8:
				v->n = checked_numeric(p, &p->crit[i], DatumGetNumeric(DirectFunctionCall1(float8_numeric, d)));
				break;
			case MK_NUMERIC:
				/* once per row: numeric_cmp would otherwise unpack a short header per comparison */
				v->n = checked_numeric(p, &p->crit[i], (Numeric) PG_DETOAST_DATUM(d));
				break;
			case MK_MISSING:
				v->isnull = true;
				break;
		}
	}
}

/* ---------------------------------------------------------------- grading */

/* Thresholds method: rank of the best tier whose threshold this criterion meets, 0 if none. */
static int
criterion_best_rank(const Criterion *c, const MetricValue *v)
{
	int			k;

	for (k = 0; k < c->nthresholds; k++)
		if (meets(v, &c->th_bound[k], c->higher_is_better))
			return c->th_tier[k];
	return 0;
}

/* Score method: index of the best band met, -1 if none. */
static int
criterion_best_band(const Criterion *c, const MetricValue *v)
{
	int			k;

	for (k = 0; k < c->nbands; k++)
		if (meets(v, &c->bands[k].bound, c->higher_is_better))
			return k;
	return -1;
}

/*
 * The score, NULL (isnull) for a policy without criteria; met[i] gets rank
 * or band.  The returned value may be the policy's own (memoized): callers
 * read it, never change it.
 */
static Numeric
policy_score(CompiledPolicy *p, int *met, bool *isnull)
{
	Numeric		sum = p->zero;
	Numeric		score;
	int			key = 0;
	int			i;

	if (met == NULL)
		met = p->met;
	*isnull = (p->ncrit == 0);
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];

		if (p->is_score)
		{
			met[i] = criterion_best_band(c, &p->values[i]);
			key += (met[i] + 1) * p->memo_stride[i];
		}
		else
		{
			met[i] = criterion_best_rank(c, &p->values[i]);
			key += met[i] * p->memo_stride[i];
		}
	}
	if (*isnull)
		return NULL;
	if (p->memo_n > 0 && p->score_memo[key] != NULL)
		return p->score_memo[key];

	/* the same sum, in the same order, as without the memo */
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];

		if (p->is_score)
		{
			if (met[i] >= 0)
				sum = numeric_plus(sum, c->bands[met[i]].wpoints);
		}
		else if (met[i] > 0)
			sum = numeric_plus(sum, c->rank_wk[met[i]]);
	}
	score = numeric_quotient(sum, p->denominator);
	if (p->memo_n > 0)
	{
		Numeric		copy = MemoryContextAlloc(p->cxt, VARSIZE(score));

		memcpy(copy, score, VARSIZE(score));
		p->score_memo[key] = copy;
		score = copy;
	}
	return score;
}

static Tier
tier_for_score(CompiledPolicy *p, Numeric score, bool isnull)
{
	int			k;

	if (!isnull)
		for (k = 0; k < p->nlevels; k++)
			if (numeric_compare(p->level_min[k], score) <= 0)
				return p->level_tier[k];
	return p->lowest;
}

static Tier
policy_assign(CompiledPolicy *p)
{
	int			k,
				j;

	if (p->is_score)
	{
		bool		isnull;
		Numeric		score = policy_score(p, NULL, &isnull);

		return tier_for_score(p, score, isnull);
	}

	/* Best tier first; a tier qualifies when every threshold it has is met. */
	for (k = 0; k < p->nrules; k++)
	{
		TierRule   *rule = &p->rules[k];

		for (j = 0; j < rule->nchecks; j++)
		{
			Criterion  *c = &p->crit[rule->crit[j]];

			if (!meets(&p->values[rule->crit[j]], rule->bound[j], c->higher_is_better))
				break;
		}
		if (j == rule->nchecks)
			return rule->tier;
	}
	return p->lowest;
}


/* ------------------------------------------------------------------- gaps */

/*
 * Gaps are signed changes to the value: value + gap meets the bound exactly.
 * So a gap is >= 0 when higher is better and <= 0 when lower is better, 0
 * when the bound is met, and NULL when the value is NULL (no change to a
 * missing metric meets a bound).
 */
static Numeric
gap_to_bound(CompiledPolicy *p, const MetricValue *v, const Bound *b, bool higher_is_better)
{
	if (v->isnull)
		return NULL;
	if (meets(v, b, higher_is_better))
		return p->zero;
	return numeric_less(b->n, v->isint ? int64_to_numeric(v->i) : v->n);
}

/* Thresholds method: the gap of criterion i to tier t's threshold; 0 when t has none for it. */
static Numeric
criterion_gap(CompiledPolicy *p, int i, Tier t)
{
	Criterion  *c = &p->crit[i];
	int			k;

	for (k = 0; k < c->nthresholds; k++)
		if (c->th_tier[k] == t)
			return gap_to_bound(p, &p->values[i], &c->th_bound[k], c->higher_is_better);
	return p->zero;
}

/*
 * The next better tier a customer graded `tier` can be given: under the
 * thresholds method the nearest better tier that has thresholds (a tier
 * without any is never assigned), under the score method the nearest better
 * tier with a min_score; 0 when there is none (at A, or no better tier can
 * be assigned).
 */
static Tier
policy_next_tier(CompiledPolicy *p, Tier tier)
{
	int			k;

	if (p->is_score)
	{
		for (k = p->nlevels - 1; k >= 0; k--)
			if (p->level_tier[k] < tier)
				return p->level_tier[k];
		return 0;
	}
	for (k = p->nrules - 1; k >= 0; k--)
		if (p->rules[k].tier < tier)
			return p->rules[k].tier;
	return 0;
}

/* Score method: min_score of tier t, NULL when it has none. */
static Numeric
level_min_score(CompiledPolicy *p, Tier t)
{
	int			k;

	for (k = 0; k < p->nlevels; k++)
		if (p->level_tier[k] == t)
			return p->level_min[k];
	return NULL;
}

/* ---------------------------------------------------------------- explain */

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

static void
push_string(JsonbParseState **st, const char *key, const char *s)
{
	JsonbValue	v;

	push_key(st, key);
	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* A number; infinities (float columns) as strings, as to_jsonb does. */
static void
push_numeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	if (n != NULL && (numeric_is_nan(n) || numeric_is_inf(n)))
	{
		push_string(st, key, numeric_normalize(n));
		return;
	}
	push_key(st, key);
	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * The explanation is built as a JsonbValue tree whose object keys are
 * already in jsonb's order (shorter keys first, then bytewise) and unique,
 * and converted in one pass (JsonbValueToJsonb writes pairs in the order
 * given): the same bytes pushJsonbValue gives, without its per-object sort.
 * The orders below are that rule applied to the fixed key names.
 */
static inline void
jv_key(JsonbPair *pair, const char *key, int len)
{
	pair->key.type = jbvString;
	pair->key.val.string.val = (char *) key;
	pair->key.val.string.len = len;
	pair->order = 0;
}

#define JV_KEY(pair, lit) jv_key((pair), (lit), sizeof(lit) - 1)

static inline void
jv_string(JsonbValue *v, const char *s)
{
	if (s == NULL)
		v->type = jbvNull;
	else
	{
		v->type = jbvString;
		v->val.string.val = (char *) s;
		v->val.string.len = strlen(s);
	}
}

/* A number; infinities (float columns) as strings, as to_jsonb does. */
static inline void
jv_numeric(JsonbValue *v, Numeric n)
{
	if (n == NULL)
		v->type = jbvNull;
	else if (numeric_is_nan(n) || numeric_is_inf(n))
		jv_string(v, numeric_normalize(n));
	else
	{
		v->type = jbvNumeric;
		v->val.numeric = n;
	}
}

/*
 * A JsonbValue tree (objects with sorted, unique keys; no jbvBinary, no
 * NaN) written to the jsonb format in one exactly-sized buffer: the bytes
 * JsonbValueToJsonb writes (the same headers, JEntries, offsets every
 * JB_OFFSET_STRIDE entries and int alignment of numerics and containers,
 * measured from the start of the varlena), with inlined appends in place
 * of its out-of-line buffer checks, which cost more than the rest of an
 * explanation.
 */
typedef struct JbBuf
{
	char	   *data;
	int			len;
	int			cap;
} JbBuf;

static void
jb_grow(JbBuf *b, int need)
{
	if ((Size) b->len + need > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb object elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK)));
	while (b->len + need > b->cap)
		b->cap *= 2;
	b->data = repalloc(b->data, b->cap);
}

/* room for need more bytes and an alignment pad */
static inline void
jb_need(JbBuf *b, int need)
{
	if (unlikely(b->len + need + 3 > b->cap))
		jb_grow(b, need + 3);
}

static inline int
jb_pad(JbBuf *b)
{
	int			pad = INTALIGN(b->len) - b->len;

	memset(b->data + b->len, 0, pad);
	b->len += pad;
	return pad;
}

static inline void
jb_append(JbBuf *b, const void *src, int len)
{
	jb_need(b, len);
	memcpy(b->data + b->len, src, len);
	b->len += len;
}

static void jb_value(JbBuf *b, JEntry *je, const JsonbValue *v);

static inline void
jb_scalar(JbBuf *b, JEntry *je, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			*je = JENTRY_ISNULL;
			break;
		case jbvString:
			jb_append(b, v->val.string.val, v->val.string.len);
			*je = v->val.string.len;
			break;
		case jbvNumeric:
			{
				int			numlen = VARSIZE_ANY(v->val.numeric);
				int			pad = jb_pad(b);

				jb_append(b, v->val.numeric, numlen);
				*je = JENTRY_ISNUMERIC | (pad + numlen);
				break;
			}
		case jbvBool:
			*je = v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
			break;
		default:
			elog(ERROR, "custier: unexpected jsonb value type %d", (int) v->type);
	}
}

static void
jb_array(JbBuf *b, JEntry *pheader, const JsonbValue *v)
{
	int			base = b->len;
	int			n = v->val.array.nElems;
	uint32		header = n | JB_FARRAY;
	int			jentry_at;
	int			total = 0;
	int			i;

	jb_pad(b);
	jb_append(b, &header, sizeof(uint32));
	jb_need(b, sizeof(JEntry) * n);
	jentry_at = b->len;
	b->len += sizeof(JEntry) * n;
	for (i = 0; i < n; i++)
	{
		JEntry		meta;

		jb_value(b, &meta, &v->val.array.elems[i]);
		total += JBE_OFFLENFLD(meta);
		if ((i % JB_OFFSET_STRIDE) == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(b->data + jentry_at, &meta, sizeof(JEntry));
		jentry_at += sizeof(JEntry);
	}
	*pheader = JENTRY_ISCONTAINER | (b->len - base);
}

static void
jb_object(JbBuf *b, JEntry *pheader, const JsonbValue *v)
{
	int			base = b->len;
	int			n = v->val.object.nPairs;
	uint32		header = n | JB_FOBJECT;
	int			jentry_at;
	int			total = 0;
	int			i;

	jb_pad(b);
	jb_append(b, &header, sizeof(uint32));
	jb_need(b, sizeof(JEntry) * 2 * n);
	jentry_at = b->len;
	b->len += sizeof(JEntry) * 2 * n;
	/* the keys, then the values */
	for (i = 0; i < 2 * n; i++)
	{
		const JsonbPair *pair = &v->val.object.pairs[i < n ? i : i - n];
		JEntry		meta;

		if (i < n)
			jb_scalar(b, &meta, &pair->key);
		else
			jb_value(b, &meta, &pair->value);
		total += JBE_OFFLENFLD(meta);
		if ((i % JB_OFFSET_STRIDE) == 0)
			meta = (meta & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(b->data + jentry_at, &meta, sizeof(JEntry));
		jentry_at += sizeof(JEntry);
	}
	*pheader = JENTRY_ISCONTAINER | (b->len - base);
}

static void
jb_value(JbBuf *b, JEntry *je, const JsonbValue *v)
{
	if (v->type == jbvArray)
		jb_array(b, je, v);
	else if (v->type == jbvObject)
		jb_object(b, je, v);
	else
		jb_scalar(b, je, v);
}

/* The jsonb of an object or array tree, as JsonbValueToJsonb gives it. */
static Jsonb *
jb_encode(const JsonbValue *root)
{
	JbBuf		b;
	JEntry		je;

	Assert(root->type == jbvObject || root->type == jbvArray);
	b.cap = 1024;
	b.data = palloc(b.cap);
	b.len = VARHDRSZ;
	jb_value(&b, &je, root);
	SET_VARSIZE(b.data, b.len);
	return (Jsonb *) b.data;
}

/* The explanation of the row in p->values, graded tier with score (met: per criterion). */
static Jsonb *
policy_explain_graded(CompiledPolicy *p, const int *met, Numeric score, bool isnull, Tier tier)
{
	Tier		next = policy_next_tier(p, tier);
	JsonbValue	root;
	JsonbValue	criteria;
	JsonbPair  *top;
	JsonbPair  *pairs;
	int			ntop = p->is_score ? 8 : 7;
	int			i;

	criteria.type = jbvArray;
	criteria.val.array.rawScalar = false;
	criteria.val.array.nElems = p->ncrit;
	criteria.val.array.elems = palloc(sizeof(JsonbValue) * Max(p->ncrit, 1));
	pairs = palloc(sizeof(JsonbPair) * 8 * Max(p->ncrit, 1));
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		MetricValue *v = &p->values[i];
		JsonbValue *obj = &criteria.val.array.elems[i];
		JsonbPair  *kv;
		int			n = 0;

		obj->type = jbvObject;
		kv = pairs + 8 * i;
		if (p->is_score)
		{
			/* band, value, metric, points, weight, direction */
			JV_KEY(&kv[n], "band");
			jv_numeric(&kv[n++].value, met[i] >= 0 ? c->bands[met[i]].bound.n : NULL);
		}
		JV_KEY(&kv[n], "value");
		if (!v->isnull && v->isint)
		{
			kv[n].value.type = jbvNumeric;
			kv[n++].value.val.numeric = int64_to_numeric(v->i);
		}
		else
			jv_numeric(&kv[n++].value, v->isnull ? NULL : v->n);
		JV_KEY(&kv[n], "metric");
		kv[n].value.type = jbvString;
		kv[n].value.val.string.val = c->metric;
		kv[n++].value.val.string.len = c->metric_len;
		JV_KEY(&kv[n], "points");
		if (p->is_score)
			jv_numeric(&kv[n++].value, met[i] >= 0 ? c->bands[met[i]].points : p->zero);
		else
			jv_numeric(&kv[n++].value, p->rank_points[met[i]]);
		JV_KEY(&kv[n], "weight");
		jv_numeric(&kv[n++].value, c->weight);
		if (!p->is_score)
		{
			/* keep_gap, next_gap, tier_met: 8 bytes each, bytewise */
			JV_KEY(&kv[n], "keep_gap");
			jv_numeric(&kv[n++].value, criterion_gap(p, i, tier));
			JV_KEY(&kv[n], "next_gap");
			jv_numeric(&kv[n++].value, next ? criterion_gap(p, i, next) : NULL);
			JV_KEY(&kv[n], "tier_met");
			jv_string(&kv[n++].value, met[i] > 0 ? p->tier_str[met[i]] : NULL);
		}
		JV_KEY(&kv[n], "direction");
		kv[n].value.type = jbvString;
		kv[n].value.val.string.val = c->higher_is_better ? "higher is better" : "lower is better";
		kv[n++].value.val.string.len = c->higher_is_better ? 16 : 15;
		obj->val.object.nPairs = n;
		obj->val.object.pairs = kv;
	}

	/* tier, label, score, method, policy, criteria, next_tier, score_to_next */
	top = palloc(sizeof(JsonbPair) * ntop);
	JV_KEY(&top[0], "tier");
	top[0].value.type = jbvString;
	top[0].value.val.string.val = p->tier_str[tier];
	top[0].value.val.string.len = 1;
	JV_KEY(&top[1], "label");
	jv_string(&top[1].value, p->label[tier]);
	JV_KEY(&top[2], "score");
	jv_numeric(&top[2].value, isnull ? NULL : score);
	JV_KEY(&top[3], "method");
	top[3].value.type = jbvString;
	top[3].value.val.string.val = p->is_score ? "score" : "thresholds";
	top[3].value.val.string.len = p->is_score ? 5 : 10;
	JV_KEY(&top[4], "policy");
	top[4].value.type = jbvString;
	top[4].value.val.string.val = p->name;
	top[4].value.val.string.len = p->name_len;
	JV_KEY(&top[5], "criteria");
	top[5].value = criteria;
	JV_KEY(&top[6], "next_tier");
	jv_string(&top[6].value, next ? p->tier_str[next] : NULL);
	if (p->is_score)
	{
		JV_KEY(&top[7], "score_to_next");
		jv_numeric(&top[7].value,
				   (next && !isnull) ? numeric_less(level_min_score(p, next), score) : NULL);
	}
	root.type = jbvObject;
	root.val.object.nPairs = ntop;
	root.val.object.pairs = top;
	return jb_encode(&root);
}

/* Grades the row in p->values once: tier, score and what each criterion met. */
static Tier
policy_grade(CompiledPolicy *p, Numeric *score, bool *isnull)
{
	*score = policy_score(p, p->met, isnull);
	if (p->is_score)
		return tier_for_score(p, *score, *isnull);
	return policy_assign(p);
}

static Jsonb *
policy_explain(CompiledPolicy *p)
{
	bool		isnull;
	Numeric		score;
	Tier		tier = policy_grade(p, &score, &isnull);

	return policy_explain_graded(p, p->met, score, isnull, tier);
}

/*
 * What the metrics lack to be graded `keep` (at_risk's shortfall): under
 * the thresholds method {metric: gap} for every criterion whose gap to
 * keep's threshold is not 0 (NULL for a missing metric); under the score
 * method {"score": min_score of keep - score} when the score is below it.
 * An empty object when nothing is lacking.
 */
static Jsonb *
policy_shortfall(CompiledPolicy *p, Tier keep)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	int			i;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (p->is_score)
	{
		bool		isnull;
		Numeric		score = policy_score(p, NULL, &isnull);
		Numeric		need = level_min_score(p, keep);

		if (need != NULL && (isnull || numeric_compare(score, need) < 0))
			push_numeric(&st, "score", isnull ? NULL : numeric_less(need, score));
	}
	else
		for (i = 0; i < p->ncrit; i++)
		{
			Numeric		gap = criterion_gap(p, i, keep);

			if (gap == NULL || numeric_compare(gap, p->zero) != 0)
				push_numeric(&st, p->crit[i].metric, gap);
		}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* ------------------------------------------------------------ SQL entries */

static CompiledPolicy *
policy_with_jsonb(FunctionCallInfo fcinfo)
{
	CompiledPolicy *p = policy_lookup(fcinfo, PG_GETARG_TEXT_PP(0));

	jsonb_values(p, PG_GETARG_JSONB_P(1));
	return p;
}

static CompiledPolicy *
policy_with_record(FunctionCallInfo fcinfo)
{
	CompiledPolicy *p = policy_lookup(fcinfo, PG_GETARG_TEXT_PP(0));

	record_values(p, PG_GETARG_HEAPTUPLEHEADER(1));
	return p;
}

Datum
custier_assign_tier_jsonb(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIER(policy_assign(policy_with_jsonb(fcinfo)));
}

Datum
custier_assign_tier_record(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIER(policy_assign(policy_with_record(fcinfo)));
}

static Datum
score_result(FunctionCallInfo fcinfo, CompiledPolicy *p)
{
	bool		isnull;
	Numeric		score = policy_score(p, NULL, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(score);
}

Datum
custier_score_jsonb(PG_FUNCTION_ARGS)
{
	return score_result(fcinfo, policy_with_jsonb(fcinfo));
}

Datum
custier_score_record(PG_FUNCTION_ARGS)
{
	return score_result(fcinfo, policy_with_record(fcinfo));
}

Datum
custier_explain_jsonb(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(policy_explain(policy_with_jsonb(fcinfo)));
}

Datum
custier_explain_record(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(policy_explain(policy_with_record(fcinfo)));
}

Datum
custier_shortfall_jsonb(PG_FUNCTION_ARGS)
{
	CompiledPolicy *p = policy_with_jsonb(fcinfo);

	PG_RETURN_JSONB_P(policy_shortfall(p, PG_GETARG_TIER(2)));
}

Datum
custier_shortfall_record(PG_FUNCTION_ARGS)
{
	CompiledPolicy *p = policy_with_record(fcinfo);

	PG_RETURN_JSONB_P(policy_shortfall(p, PG_GETARG_TIER(2)));
}

/*
 * custier._grade(policy, metrics record, has_metrics, with_explanation,
 * OUT qualified_tier, OUT score, OUT explanation): what assign_tier, score
 * and explain give for the row, from one reading of it and one grading (the
 * evaluation query's single call per customer).  A customer without a
 * metrics row (has_metrics false, or metrics NULL) is graded as the empty
 * object '{}'; the explanation is NULL unless asked for.
 */
Datum
custier_grade_record(PG_FUNCTION_ARGS)
{
	CompiledPolicy *p;
	PolicyCache *cache;
	Numeric		score;
	bool		isnull;
	Tier		tier;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	p = policy_lookup(fcinfo, PG_GETARG_TEXT_PP(0));
	cache = (PolicyCache *) fcinfo->flinfo->fn_extra;
	if (cache->result_desc == NULL)
	{
		TupleDesc	desc;
		MemoryContext oldcxt;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "custier: _grade must return a row");
		oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		cache->result_desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(oldcxt);
	}

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2))
		record_values(p, PG_GETARG_HEAPTUPLEHEADER(1));
	else
		for (i = 0; i < p->ncrit; i++)
		{
			p->values[i].isnull = true;
			p->values[i].isint = false;
		}

	tier = policy_grade(p, &score, &isnull);
	values[0] = TierGetDatum(tier);
	values[1] = isnull ? (Datum) 0 : NumericGetDatum(score);
	nulls[1] = isnull;
	if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
		values[2] = JsonbPGetDatum(policy_explain_graded(p, p->met, score, isnull, tier));
	else
		nulls[2] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->result_desc, values, nulls)));
}

/* ---------------------------------------------------------------- triggers */

Datum
custier_policy_edited(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.policy_edited() must be called as a trigger")));
	policy_register_callback();
	if (policy_edit_lxid != MY_LXID)
	{
		policy_edit_lxid = MY_LXID;
		policy_edit_level = 0;
	}
	policy_edit_level = Max(policy_edit_level, GetCurrentTransactionNestLevel());
	policy_generation++;
	return PointerGetDatum(NULL);
}

/*
 * Writes one audit row, as custier's owner (src/rights.c), so editors need
 * no privilege on the log and cannot write it by other means, while
 * changed_by records who they are.
 */
Datum
custier_policy_audit_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	const char *op;
	HeapTuple	oldt = NULL,
				newt = NULL;
	Oid			rowtype;
	Oid			argtypes[5];
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', 'n', 'n'};

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("custier.policy_audit_trigger() must be called as a trigger")));
	/* A restore brings the audit log back itself. */
	if (custier_restore_load(RelationGetRelid(td->tg_relation)))
		return PointerGetDatum(NULL);

	tupdesc = RelationGetDescr(td->tg_relation);
	rowtype = tupdesc->tdtypeid;
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		op = "TRUNCATE";
	else if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		op = "INSERT", newt = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		op = "DELETE", oldt = td->tg_trigtuple;
	else
		op = "UPDATE", oldt = td->tg_trigtuple, newt = td->tg_newtuple;

	argtypes[0] = TEXTOID;
	args[0] = CStringGetTextDatum(GetUserNameFromId(custier_actor(), false));
	argtypes[1] = TEXTOID;
	/* the table's name is the trigger's argument: on a Citus shard the relation is policy_102008 */
	args[1] = CStringGetTextDatum(td->tg_trigger->tgnargs > 0 ? td->tg_trigger->tgargs[0]
								  : RelationGetRelationName(td->tg_relation));
	argtypes[2] = TEXTOID;
	args[2] = CStringGetTextDatum(op);
	argtypes[3] = rowtype;
	argtypes[4] = rowtype;
	args[3] = args[4] = (Datum) 0;
	if (oldt)
	{
		args[3] = heap_copy_tuple_as_datum(oldt, tupdesc);
		nulls[3] = ' ';
	}
	if (newt)
	{
		args[4] = heap_copy_tuple_as_datum(newt, tupdesc);
		nulls[4] = ' ';
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	custier_exec_as(custier_extension_owner(),
					"INSERT INTO custier.policy_audit"
					" (changed_by, tbl, operation, policy, old_row, new_row)"
					" SELECT $1, $2, $3,"
					" COALESCE(n OPERATOR(pg_catalog.->>) 'policy',"
					"  n OPERATOR(pg_catalog.->>) 'name', o OPERATOR(pg_catalog.->>) 'policy',"
					"  o OPERATOR(pg_catalog.->>) 'name'), o, n"
					" FROM (SELECT pg_catalog.to_jsonb($4) AS o, pg_catalog.to_jsonb($5) AS n) s",
					5, argtypes, args, nulls, false, 0);
	SPI_finish();
	return PointerGetDatum(NULL);
}
