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
 * builds it in one pass, and custier._grade's result row formed around it),
 * shortfalls, and the triggers that invalidate it.  The explanation is the
 * evaluation's hottest path: its writer is specialised to its fixed shape
 * (see "The explanation is written straight to the jsonb format").
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
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
#include "numeric128.h"
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
	/* when scaled: n is exactly sv × 10^-scale (scale: n's display scale) */
	bool		scaled;
	int			scale;
	int64		sv;
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

/*
 * A run of an explanation's criterion object that depends only on what the
 * criterion met (and, past a value, on the alignment the value left): its
 * bytes and its values' JEntries, written once per compiled policy.
 */
typedef struct Segment
{
	int			len;
	int			nje;
	JEntry		je[4];
	char	   *bytes;
} Segment;

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
	/* thresholds method: tier t's bound on this metric, t = 0..n (NULL when none) */
	Bound	  **th_of;
	/* thresholds method: every better tier's bound is at least as hard (policy_check's rule) */
	bool		th_monotone;
	/* score method: bands, most points first */
	int			nbands;
	Band	   *bands;
	/*
	 * The explanation's constant runs (explain_segments), by m = what it
	 * met (rank, or band + 1): after the value, seg_mid[4 m + address % 4]
	 * (thresholds: metric, points, weight; score: and direction), and under
	 * thresholds seg_tail[m] (tier_met, direction).  NULL until built.
	 */
	Segment    *seg_mid;
	Segment    *seg_tail;
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
	bool		scaled;			/* !isint, and n is exactly i × 10^-scale */
	int			scale;			/* when scaled: n's display scale */
	int64		i;				/* isint: the value; scaled: the value × 10^scale */
	Numeric		n;				/* when !isint (4-byte header) */
} MetricValue;

/* A value that is not a constant of the compiled policy, as explain_prepare found it. */
typedef enum
{
	XV_NULL,
	XV_INT64,					/* i × 10^-scale */
	XV_NUMERIC,					/* a finite numeric, copied as it is */
	XV_STRING					/* NaN and infinities, as to_jsonb gives them */
} XValueKind;

typedef struct XValue
{
	XValueKind	kind;
	int			scale;
	int64		i;
	const char *p;				/* XV_NUMERIC: the numeric; XV_STRING: the text */
	int			len;			/* its bytes */
} XValue;

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
	char	   *numbuf;			/* scratch, NUMBUF_SIZE per criterion: short numerics unpacked */

	/*
	 * The score depends only on what each criterion met (its rank, or its
	 * band): it is computed once per combination and kept here, so a row
	 * costs no numeric arithmetic for it.  memo_n is 0 when there are too
	 * many combinations to keep.
	 */
	int			memo_n;
	int		   *memo_stride;	/* per criterion */
	Numeric    *score_memo;		/* per combination, NULL until computed */
	Numeric    *next_memo;		/* per combination: score method's score_to_next */
	int			score_key;		/* the combination policy_score last saw, -1 if not kept */
	char		tier_str[TIER_MAX_RANK + 1][2];	/* "A", "B", ... */
	int			label_len[TIER_MAX_RANK + 1];
	Tier		next_of[TIER_MAX_RANK + 1]; /* policy_next_tier */
	bool		th_monotone;	/* every criterion's th_monotone */
	Size		explain_fixed;	/* explain_sizes: constants' bytes, 0 until computed */
	XValue	   *xv;				/* scratch, 3 per criterion: explain_prepare's values */
	XValue		xscore;			/* scratch: explain_prepare's score */
	XValue		xnext;			/* scratch: explain_prepare's score_to_next */
	bool		consts_finite;	/* weights and points: finite, 4-byte headers (w_const) */
} CompiledPolicy;

/* A short varlena has at most 127 bytes: with a 4-byte header, 130. */
#define NUMBUF_SIZE MAXALIGN(VARATT_SHORT_MAX + VARHDRSZ)

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
	bool		result_inplace; /* grade_row_inplace can form it (grade_row_shape_ok) */
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

/*
 * Exact decimal arithmetic in int64: a finite numeric whose digits fit is
 * kept as v × 10^-scale with scale its display scale, so that comparing two
 * of them, or subtracting one from the other, costs a few integer
 * operations instead of numeric_cmp or numeric_sub (and their pallocs).
 * Every function here says false when the int64 would overflow; the caller
 * then takes the numeric path, so results never depend on which was taken.
 */
static const int64 pow10_i64[19] = {
	INT64CONST(1), INT64CONST(10), INT64CONST(100), INT64CONST(1000), INT64CONST(10000),
	INT64CONST(100000), INT64CONST(1000000), INT64CONST(10000000), INT64CONST(100000000),
	INT64CONST(1000000000), INT64CONST(10000000000), INT64CONST(100000000000),
	INT64CONST(1000000000000), INT64CONST(10000000000000), INT64CONST(100000000000000),
	INT64CONST(1000000000000000), INT64CONST(10000000000000000),
	INT64CONST(100000000000000000), INT64CONST(1000000000000000000)
};

/* The numeric as sv × 10^-scale, scale its display scale; false if it is not finite or does not fit. */
static bool
numeric_scaled_int64(Numeric n, int64 *sv, int *scale)
{
	NumericView nv;
	acc_int		a;

	numeric_view(NumericGetDatum(n), &nv);
	if (nv.special || !numeric_view_scaled(&nv, nv.dscale, &a) || a < PG_INT64_MIN || a > PG_INT64_MAX)
		return false;
	*sv = (int64) a;
	*scale = nv.dscale;
	return true;
}

/* NaN or an infinity (numeric_is_nan || numeric_is_inf, inline) */
static inline bool
numeric_is_special(Numeric n)
{
	uint16		h;

	memcpy(&h, VARDATA_ANY(n), sizeof(uint16));
	return (h & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL;
}

/* *r = a × 10^by */
static inline bool
i64_rescale(int64 a, int by, int64 *r)
{
	if (by == 0 || a == 0)
	{
		*r = a;
		return true;
	}
	if (by > 18)
		return false;
	return !pg_mul_s64_overflow(a, pow10_i64[by], r);
}

/* *cmp = sign of (a × 10^-as − b × 10^-bs) */
static inline bool
scaled_cmp(int64 a, int as, int64 b, int bs, int *cmp)
{
	if (as < bs ? !i64_rescale(a, bs - as, &a) : !i64_rescale(b, as - bs, &b))
		return false;
	*cmp = (a > b) - (a < b);
	return true;
}

/* a × 10^-as − b × 10^-bs = *r × 10^-*rs, *rs = max(as, bs): the display scale numeric_sub gives */
static inline bool
scaled_sub(int64 a, int as, int64 b, int bs, int64 *r, int *rs)
{
	int			s = Max(as, bs);

	if (!i64_rescale(a, s - as, &a) || !i64_rescale(b, s - bs, &b) || pg_sub_s64_overflow(a, b, r))
		return false;
	*rs = s;
	return true;
}

/*
 * Writes v × 10^-scale at dst (int-aligned) as the numeric make_result
 * builds for it with display scale `scale` (as custier_scaled_to_numeric
 * does, without a palloc): a 4-byte varlena header, the short or long
 * numeric header, base-NBASE digits with leading and trailing zero digits
 * stripped.  Returns its size, at most NUMERIC_INT64_MAXSIZE.
 */
#define NUMERIC_INT64_MAXSIZE (VARHDRSZ + 2 * sizeof(uint16) + 7 * sizeof(int16))

static int
numeric_write_int64_any(char *dst, int64 v, int scale)
{
	bool		negative = v < 0;
	uint64		mag = negative ? -(uint64) v : (uint64) v;
	int16		lsd[8];			/* least significant first */
	int			nd = 0;
	int			frac = scale / DEC_DIGITS;
	int			r = scale % DEC_DIGITS;
	int			weight;
	int			first;
	int			ndigits;
	int			size;
	char	   *p = dst + VARHDRSZ;
	uint16		header;

	if (r > 0)
	{
		/* the last r decimal digits head the lowest NBASE digit */
		static const int pow10_small[] = {1, 10, 100, 1000};

		lsd[nd++] = (int16) ((mag % pow10_small[r]) * pow10_small[DEC_DIGITS - r]);
		mag /= pow10_small[r];
		frac++;
	}
	while (mag != 0)
	{
		lsd[nd++] = (int16) (mag % NBASE);
		mag /= NBASE;
	}
	while (nd > 0 && lsd[nd - 1] == 0)
		nd--;
	weight = nd - 1 - frac;
	first = 0;
	while (first < nd && lsd[first] == 0)
		first++;
	ndigits = nd - first;
	if (ndigits == 0)
	{
		weight = 0;
		negative = false;
	}
	if (scale <= NUMERIC_SHORT_DSCALE_MAX &&
		weight <= NUMERIC_SHORT_WEIGHT_MAX && weight >= NUMERIC_SHORT_WEIGHT_MIN)
	{
		header = NUMERIC_SHORT |
			(negative ? NUMERIC_SHORT_SIGN_MASK : 0) |
			(scale << NUMERIC_SHORT_DSCALE_SHIFT) |
			(weight < 0 ? NUMERIC_SHORT_WEIGHT_SIGN_MASK : 0) |
			(weight & NUMERIC_SHORT_WEIGHT_MASK);
		memcpy(p, &header, sizeof(uint16));
		p += sizeof(uint16);
	}
	else
	{
		int16		w = (int16) weight;

		header = (negative ? NUMERIC_NEG : NUMERIC_POS) | (scale & NUMERIC_DSCALE_MASK);
		memcpy(p, &header, sizeof(uint16));
		memcpy(p + sizeof(uint16), &w, sizeof(int16));
		p += 2 * sizeof(uint16);
	}
	for (int i = nd - 1; i >= first; i--)
	{
		memcpy(p, &lsd[i], sizeof(int16));
		p += sizeof(int16);
	}
	size = p - dst;
	SET_VARSIZE(dst, size);
	return size;
}

static pg_attribute_always_inline int
numeric_write_int64(char *dst, int64 v, int scale)
{
	if (scale == 0 && v > -NBASE && v < NBASE)
	{
		/* the usual integer: one base-NBASE digit (none for 0), weight 0 */
		uint16		header = NUMERIC_SHORT | (v < 0 ? NUMERIC_SHORT_SIGN_MASK : 0);
		int16		d = (int16) (v < 0 ? -v : v);

		memcpy(dst + VARHDRSZ, &header, sizeof(uint16));
		if (v == 0)
		{
			SET_VARSIZE(dst, VARHDRSZ + sizeof(uint16));
			return VARHDRSZ + sizeof(uint16);
		}
		memcpy(dst + VARHDRSZ + sizeof(uint16), &d, sizeof(int16));
		SET_VARSIZE(dst, VARHDRSZ + 2 * sizeof(uint16));
		return VARHDRSZ + 2 * sizeof(uint16);
	}
	return numeric_write_int64_any(dst, v, scale);
}

static void
bound_init(Bound *b, Numeric n, bool higher_is_better)
{
	Numeric		r;

	b->n = n;
	b->i = 0;
	b->scaled = numeric_scaled_int64(n, &b->sv, &b->scale);
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
	if (!(v->scaled && b->scaled && scaled_cmp(v->i, v->scale, b->sv, b->scale, &cmp)))
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

static Tier policy_next_tier(CompiledPolicy *p, Tier tier);

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

	custier_acc_init();
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
	p->th_monotone = true;
	p->crit = palloc0(sizeof(Criterion) * Max(p->ncrit, 1));
	p->values = palloc0(sizeof(MetricValue) * Max(p->ncrit, 1));
	p->numbuf = palloc(NUMBUF_SIZE * Max(p->ncrit, 1));
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

	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		int			k;

		c->th_of = palloc0(sizeof(Bound *) * (p->ngrades + 1));
		for (k = 0; k < c->nthresholds; k++)
			c->th_of[c->th_tier[k]] = &c->th_bound[k];

		/*
		 * Then meeting a tier's bound means meeting every worse tier's, so
		 * the best rank met says which bounds are met (met_bound).
		 */
		c->th_monotone = true;
		for (k = 1; k < c->nthresholds; k++)
		{
			int			cmp = numeric_compare(c->th_bound[k - 1].n, c->th_bound[k].n);

			if (c->higher_is_better ? cmp < 0 : cmp > 0)
				c->th_monotone = false;
		}
		if (!c->th_monotone)
			p->th_monotone = false;
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
		{
			p->label[t] = TextDatumGetCString(d);
			p->label_len[t] = strlen(p->label[t]);
		}
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
	{
		p->score_memo = palloc0(sizeof(Numeric) * p->memo_n);
		p->next_memo = palloc0(sizeof(Numeric) * p->memo_n);
	}
	p->score_key = -1;
	p->xv = palloc(sizeof(XValue) * 3 * Max(p->ncrit, 1));
	/* their CHECKs make them finite; the explanation relies on it only when so */
	p->consts_finite = true;
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];

		if (VARATT_IS_SHORT(c->weight) || numeric_is_special(c->weight))
			p->consts_finite = false;
		for (r = 0; r < c->nbands; r++)
			if (VARATT_IS_SHORT(c->bands[r].points) || numeric_is_special(c->bands[r].points))
				p->consts_finite = false;
	}
	MemoryContextSwitchTo(oldcxt);
	for (r = 0; r <= p->ngrades; r++)
		p->next_of[r] = policy_next_tier(p, (Tier) r);

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

/* v is the finite-or-infinite numeric n (a 4-byte header, or jsonb's own). */
static inline void
value_numeric(MetricValue *v, Numeric n)
{
	v->isnull = false;
	v->n = n;
	v->scaled = numeric_scaled_int64(n, &v->i, &v->scale);
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
		v->scaled = false;
		if (getKeyJsonValueFromContainer(&jb->root, c->metric, c->metric_len, &jv) == NULL)
			continue;
		switch (jv.type)
		{
			case jbvNull:
				break;
			case jbvNumeric:
				value_numeric(v, jv.val.numeric);
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
					value_numeric(v, checked_numeric(p, c,
													 DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
																						 ObjectIdGetDatum(InvalidOid),
																						 Int32GetDatum(-1)))));
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
		v->scaled = false;
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
				value_numeric(v, checked_numeric(p, &p->crit[i], DatumGetNumeric(DirectFunctionCall1(float4_numeric, d))));
				break;
			case MK_FLOAT8:
				value_numeric(v, checked_numeric(p, &p->crit[i], DatumGetNumeric(DirectFunctionCall1(float8_numeric, d))));
				break;
			case MK_NUMERIC:
				{
					Numeric		n;

					/*
					 * A 4-byte header once per row (numeric_cmp would
					 * otherwise unpack a short one per comparison): a short
					 * one is copied into this criterion's scratch, as
					 * PG_DETOAST_DATUM would copy it, without a palloc.
					 */
					if (VARATT_IS_SHORT(DatumGetPointer(d)) && !VARATT_IS_EXTERNAL(DatumGetPointer(d)))
					{
						Size		len = VARSIZE_SHORT(DatumGetPointer(d)) - VARHDRSZ_SHORT;

						n = (Numeric) (p->numbuf + i * NUMBUF_SIZE);
						memcpy(VARDATA(n), VARDATA_SHORT(DatumGetPointer(d)), len);
						SET_VARSIZE(n, len + VARHDRSZ);
					}
					else
						n = (Numeric) PG_DETOAST_DATUM(d);
					value_numeric(v, checked_numeric(p, &p->crit[i], n));
					break;
				}
			case MK_MISSING:
				v->isnull = true;
				break;
		}
	}
}

/* ---------------------------------------------------------------- grading */

/*
 * Thresholds method, the criterion's bounds monotone: does it meet tier t's
 * bound, given met, the best rank it met (criterion_best_rank)?
 */
static inline bool
met_bound(int met, Tier t)
{
	return met != 0 && met <= t;
}

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
	p->score_key = -1;
	if (*isnull)
		return NULL;
	if (p->memo_n > 0)
	{
		p->score_key = key;
		if (p->score_memo[key] != NULL)
			return p->score_memo[key];
	}

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
 * The explanation is written straight to the jsonb format: the bytes
 * JsonbValueToJsonb writes for it (the same headers, JEntries, offsets every
 * JB_OFFSET_STRIDE entries and int alignment of numerics and containers,
 * measured from the start of the varlena; keys in jsonb's order, shorter
 * first, then bytewise), with no JsonbValue tree and no per-object key sort.
 *
 * It is built in two steps.  explain_prepare works out every value that is
 * not a constant of the compiled policy (metric values, gaps, score) and
 * how many bytes the whole takes at most; explain_emit then writes it in
 * one pass into a buffer that size, with no bound check per value.  Its
 * objects have fixed keys: each object's header, key JEntries and key bytes
 * are constant (ObjShape, built once per backend) and copied in one piece;
 * the runs of a criterion's object that depend only on what it met are
 * written once per compiled policy (Segment) and copied too.  Numbers are
 * copied from the compiled policy or the row or, for integer values and for
 * gaps int64 holds, written in the numeric format directly
 * (numeric_write_int64).  test/pgtap/grade.sql checks the result against
 * the jsonb parser's bytes and numeric arithmetic.
 */

/*
 * memcpy for the short pieces an explanation is made of, without a call:
 * two overlapping word copies cover 4..16 bytes (no byte outside src or
 * dst is touched; up to 32, four).
 */
static pg_attribute_always_inline void
copy_short(char *dst, const char *src, int len)
{
	if (len > 32)
		memcpy(dst, src, len);
	else if (len > 16)
	{
		uint64		a,
					b,
					y,
					z;

		memcpy(&a, src, 8);
		memcpy(&b, src + 8, 8);
		memcpy(&y, src + len - 16, 8);
		memcpy(&z, src + len - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + 8, &b, 8);
		memcpy(dst + len - 16, &y, 8);
		memcpy(dst + len - 8, &z, 8);
	}
	else if (len >= 8)
	{
		uint64		a,
					z;

		memcpy(&a, src, 8);
		memcpy(&z, src + len - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + len - 8, &z, 8);
	}
	else if (len >= 4)
	{
		uint32		a,
					z;

		memcpy(&a, src, 4);
		memcpy(&z, src + len - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + len - 4, &z, 4);
	}
	else
		for (int i = 0; i < len; i++)
			dst[i] = src[i];
}

/*
 * The writers take the cursor w and return it past what they wrote.  Every
 * buffer is palloc'd (max-aligned), so the int alignment jsonb measures from
 * the start of the varlena (itself int-aligned) is the address's.
 */
static pg_attribute_always_inline char *
w_pad(char *w, int *pad)
{
	uint32		zero = 0;

	/*
	 * Four zero bytes, whatever the pad: what follows a pad (a numeric's or
	 * a container's header) has at least four bytes, so it overwrites the
	 * rest, within the room explain_prepare counted.
	 */
	memcpy(w, &zero, sizeof(uint32));
	*pad = (-(uintptr_t) w) & (sizeof(int32) - 1);
	return w + *pad;
}

static pg_attribute_always_inline char *
w_string(char *w, const char *s, int len, char *je)
{
	JEntry		e = len;		/* JENTRY_ISSTRING is 0 */

	copy_short(w, s, len);
	memcpy(je, &e, sizeof(JEntry));
	return w + len;
}

/* A numeric of numlen bytes, header included, copied as it is. */
static pg_attribute_always_inline char *
w_numeric(char *w, const char *n, int numlen, char *je)
{
	int			pad;
	JEntry		e;

	w = w_pad(w, &pad);
	copy_short(w, n, numlen);
	e = JENTRY_ISNUMERIC | (pad + numlen);
	memcpy(je, &e, sizeof(JEntry));
	return w + numlen;
}

static pg_attribute_always_inline char *
w_null(char *w, char *je)
{
	JEntry		e = JENTRY_ISNULL;

	memcpy(je, &e, sizeof(JEntry));
	return w;
}

/* bytes the value takes at most, its alignment pad included */
static inline int
xvalue_max(const XValue *x)
{
	switch (x->kind)
	{
		case XV_NULL:
			return 0;
		case XV_INT64:
			return 3 + NUMERIC_INT64_MAXSIZE;
		case XV_NUMERIC:
			return 3 + x->len;
		default:
			return x->len;
	}
}

/* A number; NULL as null, NaN and infinities as strings, as to_jsonb does. */
static inline void
xvalue_numeric(XValue *x, Numeric n)
{
	if (n == NULL)
		x->kind = XV_NULL;
	else if (unlikely(numeric_is_special(n)))
	{
		x->kind = XV_STRING;
		x->p = numeric_normalize(n);
		x->len = strlen(x->p);
	}
	else
	{
		x->kind = XV_NUMERIC;
		x->p = (const char *) n;
		x->len = VARSIZE_ANY(n);
	}
}

static pg_attribute_always_inline char *
w_xvalue(char *w, const XValue *x, char *je)
{
	switch (x->kind)
	{
		case XV_NULL:
			return w_null(w, je);
		case XV_INT64:
			{
				int			pad;
				int			numlen;
				JEntry		e;

				w = w_pad(w, &pad);
				numlen = numeric_write_int64(w, x->i, x->scale);
				e = JENTRY_ISNUMERIC | (pad + numlen);
				memcpy(je, &e, sizeof(JEntry));
				return w + numlen;
			}
		case XV_NUMERIC:
			return w_numeric(w, x->p, x->len, je);
		default:
			return w_string(w, x->p, x->len, je);
	}
}

/* An object of fixed keys, in jsonb's order. */
#define OBJSHAPE_MAXKEYS 8
typedef struct ObjShape
{
	int			nkeys;
	int			headlen;		/* header and key JEntries */
	int			keyslen;
	char		head[sizeof(uint32) + OBJSHAPE_MAXKEYS * sizeof(JEntry)];
	char		keys[OBJSHAPE_MAXKEYS * 16];
	/* all of it in one piece: head, zeros where the value JEntries go, keys */
	int			tmpllen;
	char		tmpl[sizeof(uint32) + 2 * OBJSHAPE_MAXKEYS * sizeof(JEntry) + OBJSHAPE_MAXKEYS * 16];
} ObjShape;

typedef enum
{
	SHAPE_TOP_THRESHOLDS,
	SHAPE_TOP_SCORE,
	SHAPE_CRIT_THRESHOLDS,
	SHAPE_CRIT_SCORE,
	NSHAPES
} ShapeId;

static const char *const shape_keys[NSHAPES][OBJSHAPE_MAXKEYS + 1] = {
	{"tier", "label", "score", "method", "policy", "criteria", "next_tier", NULL},
	{"tier", "label", "score", "method", "policy", "criteria", "next_tier", "score_to_next", NULL},
	{"value", "metric", "points", "weight", "keep_gap", "next_gap", "tier_met", "direction", NULL},
	{"band", "value", "metric", "points", "weight", "direction", NULL},
};

static ObjShape shapes[NSHAPES];
static bool shapes_built = false;

static void
shapes_build(void)
{
	for (int s = 0; s < NSHAPES; s++)
	{
		ObjShape   *sh = &shapes[s];
		uint32		header;
		int			total = 0;

		for (sh->nkeys = 0; shape_keys[s][sh->nkeys] != NULL; sh->nkeys++)
			;
		header = sh->nkeys | JB_FOBJECT;
		memcpy(sh->head, &header, sizeof(uint32));
		sh->keyslen = 0;
		for (int k = 0; k < sh->nkeys; k++)
		{
			const char *key = shape_keys[s][k];
			int			len = strlen(key);
			JEntry		je = len;

			/* jsonb's key order, so that the parser would lay them out the same */
			if (k > 0)
			{
				const char *prev = shape_keys[s][k - 1];
				int			plen = strlen(prev);

				if (plen > len || (plen == len && memcmp(prev, key, len) >= 0))
					elog(ERROR, "custier: explanation key \"%s\" out of jsonb order", key);
			}
			total += len;
			/* 2 × nkeys entries: only the first ever falls on the offset stride */
			if (k == 0)
				je = total | JENTRY_HAS_OFF;
			memcpy(sh->head + sizeof(uint32) + k * sizeof(JEntry), &je, sizeof(JEntry));
			memcpy(sh->keys + sh->keyslen, key, len);
			sh->keyslen += len;
		}
		StaticAssertStmt(2 * OBJSHAPE_MAXKEYS <= JB_OFFSET_STRIDE, "keys and values within one offset stride");
		sh->headlen = sizeof(uint32) + sh->nkeys * sizeof(JEntry);
		memcpy(sh->tmpl, sh->head, sh->headlen);
		memset(sh->tmpl + sh->headlen, 0, sh->nkeys * sizeof(JEntry));
		memcpy(sh->tmpl + sh->headlen + sh->nkeys * sizeof(JEntry), sh->keys, sh->keyslen);
		sh->tmpllen = sh->headlen + sh->nkeys * sizeof(JEntry) + sh->keyslen;
	}
	shapes_built = true;
}

/* bytes an object of this shape takes besides its values, its alignment pad included */
static inline int
shape_size(const ObjShape *sh)
{
	return 3 + sh->headlen + sh->nkeys * sizeof(JEntry) + sh->keyslen;
}

/* Starts an object of shape sh; *je gets where its value JEntries go. */
static pg_attribute_always_inline char *
w_object_begin(char *w, const ObjShape *sh, char **je)
{
	int			pad;

	w = w_pad(w, &pad);
	memcpy(w, sh->tmpl, sh->tmpllen);
	*je = w + sh->headlen;
	return w + sh->tmpllen;
}

/*
 * Thresholds method: the gap (see gap_to_bound) of value v to the bound;
 * 0 when bound is NULL (the tier has no threshold on this metric).
 */
static pg_attribute_always_inline void
xvalue_gap(XValue *x, CompiledPolicy *p, const Criterion *c, const MetricValue *v, int met, Tier t)
{
	const Bound *bound = c->th_of[t];

	if (bound == NULL ||
		(!v->isnull && (c->th_monotone ? met_bound(met, t) : meets(v, bound, c->higher_is_better))))
	{
		x->kind = XV_NUMERIC;
		x->p = (const char *) p->zero;
		x->len = VARSIZE(p->zero);
	}
	else if (v->isnull)
		x->kind = XV_NULL;
	else if (bound->scaled &&
			 (v->isint ? scaled_sub(bound->sv, bound->scale, v->i, 0, &x->i, &x->scale)
			  : v->scaled && scaled_sub(bound->sv, bound->scale, v->i, v->scale, &x->i, &x->scale)))
		x->kind = XV_INT64;
	else
		xvalue_numeric(x, numeric_less(bound->n, v->isint ? int64_to_numeric(v->i) : v->n));
}

/* Score method: min_score of the next tier − score (kept per combination when the score is). */
static Numeric
score_to_next(CompiledPolicy *p, Numeric score, Tier next)
{
	Numeric		r;

	if (p->score_key >= 0 && p->next_memo[p->score_key] != NULL)
		return p->next_memo[p->score_key];
	r = numeric_less(level_min_score(p, next), score);
	if (p->score_key >= 0)
	{
		Numeric		copy = MemoryContextAlloc(p->cxt, VARSIZE(r));

		memcpy(copy, r, VARSIZE(r));
		p->next_memo[p->score_key] = copy;
		r = copy;
	}
	return r;
}

/* Writes a segment: its bytes, and its nje values' JEntries at je. */
static pg_attribute_always_inline char *
w_segment(char *w, const Segment *seg, char *je, int nje)
{
	Assert(seg->nje == nje);
	copy_short(w, seg->bytes, seg->len);
	memcpy(je, seg->je, nje * sizeof(JEntry));
	return w + seg->len;
}

static void
segment_keep(CompiledPolicy *p, Segment *seg, const char *start, const char *end, const char *je, int nje)
{
	seg->len = end - start;
	seg->nje = nje;
	memcpy(seg->je, je, nje * sizeof(JEntry));
	seg->bytes = MemoryContextAlloc(p->cxt, Max(seg->len, 1));
	memcpy(seg->bytes, start, seg->len);
}

static pg_attribute_always_inline char *w_const(char *w, CompiledPolicy *p, Numeric n, char *je);

/*
 * Builds criterion c's segments (see Criterion): the same writers write
 * them, once per met value and address % 4, into a scratch buffer.
 */
static void
explain_segments(CompiledPolicy *p, Criterion *c)
{
	int			nmet = p->is_score ? c->nbands + 1 : p->ngrades + 1;
	int			nummax = Max((int) VARSIZE_ANY(c->weight), 9) + Max((int) VARSIZE(p->zero), 9);
	char	   *buf;
	char		je[4 * sizeof(JEntry)];
	int			m,
				mod;

	for (m = 0; m <= p->ngrades; m++)
		nummax += VARSIZE(p->rank_points[m]);
	for (m = 0; m < c->nbands; m++)
		nummax += VARSIZE_ANY(c->bands[m].points);
	buf = palloc(64 + c->metric_len + nummax);
	c->seg_mid = MemoryContextAlloc(p->cxt, sizeof(Segment) * 4 * nmet);
	if (!p->is_score)
		c->seg_tail = MemoryContextAlloc(p->cxt, sizeof(Segment) * nmet);
	for (m = 0; m < nmet; m++)
	{
		for (mod = 0; mod < 4; mod++)
		{
			char	   *start = buf + mod;
			char	   *w = start;

			/* metric, points, weight (score: and direction) */
			w = w_string(w, c->metric, c->metric_len, je);
			if (p->is_score)
			{
				w = w_const(w, p, m > 0 ? c->bands[m - 1].points : p->zero, je + 4);
				w = w_const(w, p, c->weight, je + 8);
				w = c->higher_is_better ? w_string(w, "higher is better", 16, je + 12)
					: w_string(w, "lower is better", 15, je + 12);
				segment_keep(p, &c->seg_mid[4 * m + mod], start, w, je, 4);
			}
			else
			{
				w = w_numeric(w, (const char *) p->rank_points[m], VARSIZE(p->rank_points[m]), je + 4);
				w = w_const(w, p, c->weight, je + 8);
				segment_keep(p, &c->seg_mid[4 * m + mod], start, w, je, 3);
			}
		}
		if (!p->is_score)
		{
			/* tier_met, direction: strings, no alignment */
			char	   *w = buf;

			w = m > 0 ? w_string(w, p->tier_str[m], 1, je) : w_null(w, je);
			w = c->higher_is_better ? w_string(w, "higher is better", 16, je + 4)
				: w_string(w, "lower is better", 15, je + 4);
			segment_keep(p, &c->seg_tail[m], buf, w, je, 2);
		}
	}
	pfree(buf);
}

/* The constants' share of an explanation's size, at most: once per compiled policy. */
static void
explain_sizes(CompiledPolicy *p)
{
	const ObjShape *top = &shapes[p->is_score ? SHAPE_TOP_SCORE : SHAPE_TOP_THRESHOLDS];
	const ObjShape *crit = &shapes[p->is_score ? SHAPE_CRIT_SCORE : SHAPE_CRIT_THRESHOLDS];
	int			label_max = 0;
	int			points_max = VARSIZE(p->zero);
	Size		size;
	int			r;

	for (r = 0; r <= p->ngrades; r++)
		label_max = Max(label_max, p->label_len[r]);
	for (r = 0; r <= p->ngrades; r++)
		points_max = Max(points_max, (int) VARSIZE(p->rank_points[r]));
	/* varlena header; tier, label, method, policy, criteria's header, next_tier */
	size = VARHDRSZ + shape_size(top) + 1 + label_max + 10 + p->name_len +
		3 + sizeof(uint32) + p->ncrit * sizeof(JEntry) + 1;
	for (int i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		int			cpoints = points_max;

		for (r = 0; r < c->nbands; r++)
			cpoints = Max(cpoints, (int) VARSIZE_ANY(c->bands[r].points));
		/* metric, points, weight, tier_met, direction; NaN and infinities are 9 bytes at most */
		size += shape_size(crit) + c->metric_len + 3 + Max(cpoints, 9) +
			3 + Max((int) VARSIZE_ANY(c->weight), 9) + 1 + 16;
		explain_segments(p, c);
	}
	p->explain_fixed = size;
}

/*
 * Works out the values of the explanation of the row in p->values (graded
 * tier with score; met per criterion) that are not the policy's constants,
 * into p->xv; returns how many bytes explain_emit writes at most.
 */
static Size
explain_prepare(CompiledPolicy *p, const int *met, Numeric score, bool isnull, Tier tier)
{
	Tier		next = p->next_of[tier];
	Size		size;
	int			i;

	if (!shapes_built)
		shapes_build();
	if (p->explain_fixed == 0)
		explain_sizes(p);
	size = p->explain_fixed;
	xvalue_numeric(&p->xscore, isnull ? NULL : score);
	size += xvalue_max(&p->xscore);
	if (p->is_score)
	{
		xvalue_numeric(&p->xnext, (next && !isnull) ? score_to_next(p, score, next) : NULL);
		size += xvalue_max(&p->xnext);
	}
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		MetricValue *v = &p->values[i];
		XValue	   *x = &p->xv[3 * i];

		/* value, then band or keep_gap, then next_gap */
		if (v->isnull)
			x[0].kind = XV_NULL;
		else if (v->isint)
		{
			x[0].kind = XV_INT64;
			x[0].i = v->i;
			x[0].scale = 0;
		}
		else
			xvalue_numeric(&x[0], v->n);
		if (p->is_score)
			xvalue_numeric(&x[1], met[i] >= 0 ? c->bands[met[i]].bound.n : NULL);
		else
		{
			xvalue_gap(&x[1], p, c, v, met[i], tier);
			if (next)
				xvalue_gap(&x[2], p, c, v, met[i], next);
			else
				x[2].kind = XV_NULL;
			size += xvalue_max(&x[2]);
		}
		size += xvalue_max(&x[0]) + xvalue_max(&x[1]);
	}
	if (size > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb object elements exceeds the maximum of %u bytes",
						JENTRY_OFFLENMASK)));
	return size;
}

/* A policy constant: a finite numeric when consts_finite, else anything */
static pg_attribute_always_inline char *
w_const(char *w, CompiledPolicy *p, Numeric n, char *je)
{
	XValue		x;

	if (likely(p->consts_finite))
		return w_numeric(w, (const char *) n, VARSIZE(n), je);
	xvalue_numeric(&x, n);
	return w_xvalue(w, &x, je);
}

/*
 * Writes the explanation explain_prepare prepared at start (int-aligned, in
 * a palloc'd buffer, with the room explain_prepare said); returns its end.
 */
static char *
explain_emit(CompiledPolicy *p, const int *met, Tier tier, char *start)
{
	Tier		next = p->next_of[tier];
	const ObjShape *crit_shape = &shapes[p->is_score ? SHAPE_CRIT_SCORE : SHAPE_CRIT_THRESHOLDS];
	char	   *w = start + VARHDRSZ;
	char	   *top_je;
	char	   *arr_je;
	char	   *arr_base;
	uint32		header;
	JEntry		je;
	int			total = 0;
	int			pad;
	int			i;

	/* tier, label, score, method, policy, criteria, next_tier, score_to_next */
	w = w_object_begin(w, &shapes[p->is_score ? SHAPE_TOP_SCORE : SHAPE_TOP_THRESHOLDS], &top_je);
	w = w_string(w, p->tier_str[tier], 1, top_je);
	w = p->label[tier] ? w_string(w, p->label[tier], p->label_len[tier], top_je + 4) : w_null(w, top_je + 4);
	w = w_xvalue(w, &p->xscore, top_je + 8);
	w = p->is_score ? w_string(w, "score", 5, top_je + 12) : w_string(w, "thresholds", 10, top_je + 12);
	w = w_string(w, p->name, p->name_len, top_je + 16);

	/* criteria: an array of objects */
	arr_base = w;
	w = w_pad(w, &pad);
	header = p->ncrit | JB_FARRAY;
	memcpy(w, &header, sizeof(uint32));
	w += sizeof(uint32);
	arr_je = w;
	w += p->ncrit * sizeof(JEntry);
	for (i = 0; i < p->ncrit; i++)
	{
		Criterion  *c = &p->crit[i];
		const XValue *x = &p->xv[3 * i];
		char	   *base = w;
		char	   *at;

		w = w_object_begin(w, crit_shape, &at);
		if (p->is_score)
		{
			/* band, value, then metric, points, weight, direction */
			w = w_xvalue(w, &x[1], at);
			w = w_xvalue(w, &x[0], at + 4);
			w = w_segment(w, &c->seg_mid[4 * (met[i] + 1) + ((uintptr_t) w & 3)], at + 8, 4);
		}
		else
		{
			/* value, then metric, points, weight; keep_gap, next_gap, then tier_met, direction */
			w = w_xvalue(w, &x[0], at);
			w = w_segment(w, &c->seg_mid[4 * met[i] + ((uintptr_t) w & 3)], at + 4, 3);
			w = w_xvalue(w, &x[1], at + 16);
			w = w_xvalue(w, &x[2], at + 20);
			w = w_segment(w, &c->seg_tail[met[i]], at + 24, 2);
		}

		je = JENTRY_ISCONTAINER | (w - base);
		total += JBE_OFFLENFLD(je);
		if ((i % JB_OFFSET_STRIDE) == 0)
			je = (je & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
		memcpy(arr_je + i * sizeof(JEntry), &je, sizeof(JEntry));
	}
	je = JENTRY_ISCONTAINER | (w - arr_base);
	memcpy(top_je + 20, &je, sizeof(JEntry));

	/* next_tier, score_to_next */
	w = next ? w_string(w, p->tier_str[next], 1, top_je + 24) : w_null(w, top_je + 24);
	if (p->is_score)
		w = w_xvalue(w, &p->xnext, top_je + 28);

	SET_VARSIZE(start, w - start);
	return w;
}

/* The explanation as a jsonb datum of its own. */
static Jsonb *
policy_explain_graded(CompiledPolicy *p, const int *met, Numeric score, bool isnull, Tier tier)
{
	char	   *data = palloc(explain_prepare(p, met, score, isnull, tier));

	explain_emit(p, met, tier, data);
	return (Jsonb *) data;
}

/*
 * Thresholds method, bounds monotone (th_monotone): policy_assign from the
 * best rank each criterion met, with no comparison of values.
 */
static Tier
policy_assign_met(CompiledPolicy *p, const int *met)
{
	for (int k = 0; k < p->nrules; k++)
	{
		TierRule   *rule = &p->rules[k];
		int			j;

		for (j = 0; j < rule->nchecks; j++)
			if (!met_bound(met[rule->crit[j]], rule->tier))
				break;
		if (j == rule->nchecks)
			return rule->tier;
	}
	return p->lowest;
}

/* Grades the row in p->values once: tier, score and what each criterion met. */
static Tier
policy_grade(CompiledPolicy *p, Numeric *score, bool *isnull)
{
	*score = policy_score(p, p->met, isnull);
	if (p->is_score)
		return tier_for_score(p, *score, *isnull);
	if (p->th_monotone)
		return policy_assign_met(p, p->met);
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
 * grade_row_inplace forms custier._grade's result row (qualified_tier,
 * score, explanation) for this row type: a 1-byte pass-by-value column, then
 * a numeric and a jsonb column, both varlenas aligned on int that may be
 * stored short.
 */
static bool
grade_row_shape_ok(TupleDesc desc)
{
	Form_pg_attribute a;

	if (desc->natts != 3)
		return false;
	a = TupleDescAttr(desc, 0);
	if (a->attisdropped || a->attlen != 1 || !a->attbyval || a->attalign != TYPALIGN_CHAR)
		return false;
	for (int i = 1; i < 3; i++)
	{
		a = TupleDescAttr(desc, i);
		if (a->attisdropped || a->atttypid != (i == 1 ? NUMERICOID : JSONBOID) || a->attlen != -1 ||
			a->attalign != TYPALIGN_INT || a->attstorage == TYPSTORAGE_PLAIN)
			return false;
	}
	return true;
}

/*
 * Appends varlena v at *off as heap_fill_tuple stores it in a column
 * aligned on int whose storage is not plain: a short header as it is, a
 * 4-byte one made short when it can be (both unaligned), else aligned.
 */
static inline void
grade_row_varlena(char *data, int *off, const struct varlena *v)
{
	int			len;

	if (VARATT_IS_SHORT(v))
	{
		len = VARSIZE_SHORT(v);
		memcpy(data + *off, v, len);
	}
	else if (VARATT_CAN_MAKE_SHORT(v))
	{
		len = VARATT_CONVERTED_SHORT_SIZE(v);
		SET_VARSIZE_SHORT(data + *off, len);
		memcpy(data + *off + 1, VARDATA(v), len - 1);
	}
	else
	{
		while (*off & (sizeof(int32) - 1))
			data[(*off)++] = 0;
		len = VARSIZE(v);
		memcpy(data + *off, v, len);
	}
	*off += len;
}

/*
 * custier._grade's result row, byte for byte what heap_form_tuple forms of
 * (tier, score or NULL, explanation or NULL), with the explanation written
 * in place: one palloc, and neither a separate jsonb nor a copy of it.
 */
static Datum
grade_row_inplace(CompiledPolicy *p, TupleDesc desc, Tier tier, Numeric score, bool isnull, bool explain)
{
	bool		hasnull = isnull || !explain;
	int			hoff = MAXALIGN(SizeofHeapTupleHeader + (hasnull ? BITMAPLEN(3) : 0));
	Size		size = hoff + 1 + (isnull ? 0 : VARSIZE_ANY(score) + 3);
	uint16		infomask = 0;
	bits8		bits = 0x01;
	HeapTupleHeader td;
	char	   *data;
	int			off;

	if (explain)
		size += 3 + explain_prepare(p, p->met, score, isnull, tier);
	data = palloc(size);
	memset(data, 0, hoff);
	off = hoff;
	data[off++] = (char) tier;
	if (!isnull)
	{
		bits |= 0x02;
		infomask |= HEAP_HASVARWIDTH;
		grade_row_varlena(data, &off, (const struct varlena *) score);
	}
	if (explain)
	{
		int			unaligned = off;
		char	   *jb;

		bits |= 0x04;
		infomask |= HEAP_HASVARWIDTH;
		while (off & (sizeof(int32) - 1))
			data[off++] = 0;
		jb = data + off;
		off = explain_emit(p, p->met, tier, jb) - data;
		if (VARATT_CAN_MAKE_SHORT(jb))
		{
			/* small enough to be stored short: unaligned, as heap_fill_tuple does */
			int			len = VARATT_CONVERTED_SHORT_SIZE(jb);

			memmove(data + unaligned + 1, VARDATA(jb), len - 1);
			SET_VARSIZE_SHORT(data + unaligned, len);
			off = unaligned + len;
		}
	}
	td = (HeapTupleHeader) data;
	HeapTupleHeaderSetNatts(td, 3);
#ifdef HEAP_IS_DATUM
	/* a server that marks and versions composite datums (by natts): its own setup */
	heap_tuple_set_datum(td, desc, off);
#else
	elog(ERROR, "custier: _grade's row is formed in place only on servers with heap_tuple_set_datum");
#endif
	td->t_hoff = hoff;
	if (hasnull)
	{
		infomask |= HEAP_HASNULL;
		td->t_bits[0] = bits;
	}
	td->t_infomask |= infomask;
	return PointerGetDatum(td);
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
#ifdef HEAP_IS_DATUM
		cache->result_inplace = grade_row_shape_ok(cache->result_desc);
#else
		/* Only the server's own datum setup is tested here: elsewhere heap_form_tuple. */
		cache->result_inplace = false;
#endif
		MemoryContextSwitchTo(oldcxt);
	}

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2))
		record_values(p, PG_GETARG_HEAPTUPLEHEADER(1));
	else
		for (i = 0; i < p->ncrit; i++)
		{
			p->values[i].isnull = true;
			p->values[i].isint = false;
			p->values[i].scaled = false;
		}

	tier = policy_grade(p, &score, &isnull);
	if (cache->result_inplace)
		PG_RETURN_DATUM(grade_row_inplace(p, cache->result_desc, tier, score, isnull,
										  !PG_ARGISNULL(3) && PG_GETARG_BOOL(3)));
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
