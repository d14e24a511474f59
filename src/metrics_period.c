/*
 * metrics_period.c — period_amounts and period_counts, split from
 * metrics.c; their state type is custier.period_state (see metrics.c's
 * header comment for how states are kept and updated in place).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/primnodes.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "metrics.h"
#include "numeric128.h"

PG_FUNCTION_INFO_V1(custier_period_state_in);
PG_FUNCTION_INFO_V1(custier_period_state_out);
PG_FUNCTION_INFO_V1(custier_period_amounts_transfn);
PG_FUNCTION_INFO_V1(custier_period_counts_transfn);
PG_FUNCTION_INFO_V1(custier_period_combinefn);
PG_FUNCTION_INFO_V1(custier_period_amounts_finalfn);
PG_FUNCTION_INFO_V1(custier_period_counts_finalfn);

#define PERIODS_MAX 1000

/* ------------------------------------------------------------------------
 * period_amounts / period_counts(at, amount, as_of, period, periods)
 *
 * Bucket k (1-based) holds as_of - k*period < at <= as_of - (k-1)*period.
 *
 * State: custier.period_state — a 32-byte header (periods, kind, form,
 * as_of, period) then one int64 per period: 128 bytes for 12 periods, an
 * allocator size class, because hash aggregation keeps one per group.
 * period_counts keeps counts.  period_amounts keeps, while they fit, each
 * sum × 10^scale in the upper 59 bits and its display scale (≤ 18) in the
 * low 5 bits ("small"); the first amount that does not fit (or a NaN or
 * ±Infinity) switches the group to 24-byte 128-bit sums per period
 * followed by their numeric spills ("wide").
 *
 * The boundaries as_of - k*period (timestamptz - interval, so months and days
 * follow the session TimeZone) are not part of the state: a call site keeps
 * up to PERIOD_CACHE_SIZE sets of them in fn_extra, the last used first.
 * ------------------------------------------------------------------------
 */
#define PERIOD_AMOUNTS	'a'
#define PERIOD_COUNTS	'c'

typedef struct PeriodState
{
	int32		vl_len_;
	int16		periods;
	uint8		kind;			/* PERIOD_AMOUNTS or PERIOD_COUNTS */
	uint8		wide;			/* amounts: slots are PeriodWide */
	TimestampTz as_of;
	Interval	period;
	/* int64 slots[periods], or PeriodWide[periods] and the spills */
} PeriodState;

typedef struct PeriodWide
{
	acc_int		sum;
	int32		scale;
	uint8		specials;
	uint8		has_spill;		/* its spill follows the array, in bucket order */
} PeriodWide;


static inline int64 *
period_slots(PeriodState *s)
{
	return (int64 *) (s + 1);
}

static inline PeriodWide *
period_wide(PeriodState *s)
{
	return (PeriodWide *) (s + 1);
}

static const char *
period_fname(int kind)
{
	return kind == PERIOD_AMOUNTS ? "period_amounts" : "period_counts";
}

static inline bool
interval_identical(const Interval *a, const Interval *b)
{
	/* field by field: '1 mon' and '30 days' are equal intervals but not equal periods */
	return a->time == b->time && a->day == b->day && a->month == b->month;
}

static void
period_check_args(int kind, const Interval *period, int32 periods)
{
	if (periods < 1 || periods > PERIODS_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: periods must be between 1 and %d, not %d",
						period_fname(kind), PERIODS_MAX, periods)));
	if (period->month < 0 || period->day < 0 || period->time < 0 ||
		(period->month == 0 && period->day == 0 && period->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: period must be positive, not \"%s\"",
						period_fname(kind), custier_interval_text(period)),
				 errhint("A period is an interval such as '1 month' or '7 days' with no negative part.")));
}

static inline bool
period_match(const PeriodState *s, TimestampTz as_of, const Interval *period, int32 periods)
{
	return s->as_of == as_of && interval_identical(&s->period, period) && s->periods == periods;
}

#define PERIOD_SAME_HINT "as_of, period and periods describe the whole group: pass the same value on every row."

static pg_noinline void
period_check_same(const PeriodState *s, TimestampTz as_of, const Interval *period, int32 periods)
{
	const char *fname = period_fname(s->kind);

	if (s->as_of != as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: as_of differs within a group: \"%s\" and \"%s\"",
						fname, custier_timestamptz_text(s->as_of), custier_timestamptz_text(as_of)),
				 errhint(PERIOD_SAME_HINT)));
	if (!interval_identical(&s->period, period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: period differs within a group: \"%s\" and \"%s\"",
						fname, custier_interval_text(&s->period), custier_interval_text(period)),
				 errhint(PERIOD_SAME_HINT)));
	if (s->periods != periods)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: periods differs within a group: %d and %d",
						fname, s->periods, periods),
				 errhint(PERIOD_SAME_HINT)));
}

static PeriodState *
period_new(int kind, TimestampTz as_of, const Interval *period, int32 periods)
{
	Size		size = sizeof(PeriodState) + sizeof(int64) * periods;
	PeriodState *s = palloc0(size);

	StaticAssertStmt(sizeof(PeriodState) == 32, "PeriodState header must stay 32 bytes");
	custier_acc_init();
	SET_VARSIZE(s, size);
	s->periods = periods;
	s->kind = kind;
	s->as_of = as_of;
	s->period = *period;
	return s;
}

/* The boundaries of one (as_of, period, periods), computed per TimeZone. */
typedef struct PeriodBounds
{
	TimestampTz as_of;
	Interval	period;
	int32		periods;
	pg_tz	   *tz;				/* the TimeZone of bounds, NULL before they are computed */
	TimestampTz bounds[FLEXIBLE_ARRAY_MEMBER];	/* periods + 1, decreasing */
} PeriodBounds;

#define PERIOD_CACHE_SIZE 16

typedef struct PeriodCache
{
	PeriodBounds *last;
	int			n;
	int			victim;
	bool		args_const;		/* see period_cache */
	bool		any_wide;		/* a state of this call site went wide */
	PeriodBounds *sets[PERIOD_CACHE_SIZE];
} PeriodCache;

/*
 * The call site's cache, made on its first call.  When the call is an
 * aggregate's transition (AggGetAggref) whose as_of, period and periods are
 * constants, every state the function sees was made by this call site from
 * those very constants (a transition's state starts NULL and is only ever
 * what the function returned): the per-row checks that the state has them
 * can go, so a row outside every period does not touch its group's state at
 * all, and while no state of the call site went wide (any_wide) a row in a
 * period touches only its slot.  Otherwise (columns or expressions, window
 * aggregates, direct calls) every row checks its state as before.
 */
static pg_noinline PeriodCache *
period_cache_init(FunctionCallInfo fcinfo)
{
	PeriodCache *cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PeriodCache));
	Aggref	   *aggref = AggGetAggref(fcinfo);

	if (aggref != NULL && list_length(aggref->args) == 5 && aggref->aggorder == NIL &&
		aggref->aggdistinct == NIL)
	{
		cache->args_const = true;
		for (int i = 2; i < 5; i++)
		{
			TargetEntry *te = list_nth_node(TargetEntry, aggref->args, i);

			if (!IsA(te->expr, Const))
				cache->args_const = false;
		}
	}
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

static inline PeriodCache *
period_cache(FunctionCallInfo fcinfo)
{
	PeriodCache *cache = (PeriodCache *) fcinfo->flinfo->fn_extra;

	return likely(cache != NULL) ? cache : period_cache_init(fcinfo);
}

static pg_noinline void
period_compute_bounds(PeriodBounds *pb, int kind)
{
	pb->tz = NULL;				/* not valid until complete */
	pb->bounds[0] = pb->as_of;
	for (int k = 1; k <= pb->periods; k++)
	{
		Interval	span;

		if (pg_mul_s32_overflow(pb->period.month, k, &span.month) ||
			pg_mul_s32_overflow(pb->period.day, k, &span.day) ||
			pg_mul_s64_overflow(pb->period.time, k, &span.time))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("%s: %d periods of \"%s\" are out of the interval range",
							period_fname(kind), k, custier_interval_text(&pb->period))));
		pb->bounds[k] = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																TimestampTzGetDatum(pb->as_of),
																IntervalPGetDatum(&span)));
	}
	pb->tz = session_timezone;
}

static inline bool
bounds_match(const PeriodBounds *pb, TimestampTz as_of, const Interval *period, int32 periods)
{
	return pb->as_of == as_of && interval_identical(&pb->period, period) && pb->periods == periods;
}

static pg_noinline PeriodBounds *
period_bounds_lookup(FunctionCallInfo fcinfo, PeriodCache *cache,
					 TimestampTz as_of, const Interval *period, int32 periods)
{
	PeriodBounds *pb;

	for (int i = 0; i < cache->n; i++)
		if (bounds_match(cache->sets[i], as_of, period, periods))
			return cache->last = cache->sets[i];
	pb = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
							offsetof(PeriodBounds, bounds) + (periods + 1) * sizeof(TimestampTz));
	pb->as_of = as_of;
	pb->period = *period;
	pb->periods = periods;
	pb->tz = NULL;
	if (cache->n < PERIOD_CACHE_SIZE)
		cache->sets[cache->n++] = pb;
	else
	{
		/* more parameter sets than we keep: replace them in turn */
		pfree(cache->sets[cache->victim]);
		cache->sets[cache->victim] = pb;
		cache->victim = (cache->victim + 1) % PERIOD_CACHE_SIZE;
	}
	return cache->last = pb;
}

/* 0-based bucket of `at` for these (checked) arguments, or -1 when it is in no period. */
static inline int
period_bucket(FunctionCallInfo fcinfo, PeriodCache *cache, int kind, TimestampTz as_of,
			  const Interval *period, int32 periods, TimestampTz at)
{
	PeriodBounds *pb;
	const TimestampTz *bounds;
	const TimestampTz *b;
	int			n = periods;

	if (likely(cache->last != NULL && bounds_match(cache->last, as_of, period, periods)))
		pb = cache->last;
	else
		pb = period_bounds_lookup(fcinfo, cache, as_of, period, periods);
	if (unlikely(pb->tz != session_timezone))
		period_compute_bounds(pb, kind);
	bounds = pb->bounds;
	if (at > bounds[0] || at <= bounds[n])
		return -1;
	/*
	 * The smallest k with bounds[k] < at (bounds[k-1] >= at follows), by a
	 * binary search without branches on the data: rows' times are random, a
	 * mispredicted branch per step cost more than the search.
	 */
	b = bounds + 1;
	while (n > 1)
	{
		int			half = n / 2;

		b = (b[half - 1] < at) ? b : b + half;
		n -= half;
	}
	return b - (bounds + 1);
}

/* The amounts of a period_amounts state as working MoneySums (current context). */
static MoneySum *
period_money(PeriodState *s)
{
	MoneySum   *ms = palloc0(sizeof(MoneySum) * s->periods);

	if (!s->wide)
	{
		for (int k = 0; k < s->periods; k++)
		{
			ms[k].sum = period_slots(s)[k] >> SLOT_SCALE_BITS;
			ms[k].scale = (int32) (period_slots(s)[k] & SLOT_SCALE_MASK);
		}
	}
	else
	{
		PeriodWide *w = period_wide(s);
		char	   *spill = (char *) (w + s->periods);

		for (int k = 0; k < s->periods; k++)
		{
			ms[k].sum = w[k].sum;
			ms[k].scale = w[k].scale;
			ms[k].specials = w[k].specials;
			if (w[k].has_spill)
			{
				ms[k].spill = palloc(VARSIZE(spill));
				memcpy(ms[k].spill, spill, VARSIZE(spill));
				spill += MAXALIGN(VARSIZE(spill));
			}
		}
	}
	return ms;
}

/* A new wide state (current context) with s's header and amounts ms. */
static PeriodState *
period_with_money(const PeriodState *s, const MoneySum *ms)
{
	Size		size = sizeof(PeriodState) + sizeof(PeriodWide) * s->periods;
	PeriodState *n;
	PeriodWide *w;
	char	   *spill;

	for (int k = 0; k < s->periods; k++)
		if (ms[k].spill)
			size += MAXALIGN(VARSIZE(ms[k].spill));
	n = palloc0(size);
	memcpy(n, s, sizeof(PeriodState));
	SET_VARSIZE(n, size);
	n->wide = true;
	w = period_wide(n);
	spill = (char *) (w + s->periods);
	for (int k = 0; k < s->periods; k++)
	{
		w[k].sum = ms[k].sum;
		w[k].scale = ms[k].scale;
		w[k].specials = ms[k].specials;
		if (ms[k].spill)
		{
			w[k].has_spill = true;
			memcpy(spill, ms[k].spill, VARSIZE(ms[k].spill));
			spill += MAXALIGN(VARSIZE(ms[k].spill));
		}
	}
	return n;
}

static pg_noinline PeriodState *
period_add_slow(PeriodState *s, int k, const NumericView *nv, Datum amount)
{
	MoneySum   *ms = period_money(s);

	custier_money_add(&ms[k], nv, amount, CurrentMemoryContext);
	return period_with_money(s, ms);
}

static inline Datum
period_transfn_common(FunctionCallInfo fcinfo, int kind)
{
	PeriodCache *cache;
	PeriodState *s;
	TimestampTz at;
	TimestampTz as_of;
	Interval   *period;
	int32		periods;
	NumericView nv;
	int			k;

	if (unlikely(PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
				 PG_ARGISNULL(4) || PG_ARGISNULL(5)))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	cache = period_cache(fcinfo);
	at = PG_GETARG_TIMESTAMPTZ(1);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	period = PG_GETARG_INTERVAL_P(4);
	periods = PG_GETARG_INT32(5);
	if (PG_ARGISNULL(0))
	{
		period_check_args(kind, period, periods);
		s = period_new(kind, as_of, period, periods);
	}
	else if (likely(cache->args_const))
	{
		/* made by this call site from these constants (period_cache): not read here */
		s = (PeriodState *) PG_GETARG_POINTER(0);
	}
	else
	{
		s = (PeriodState *) state_arg(fcinfo, 0);
		if (unlikely(!period_match(s, as_of, period, periods)))
			period_check_same(s, as_of, period, periods);
		if (unlikely(s->kind != kind))
			elog(ERROR, "%s: state of the wrong kind", period_fname(kind));
	}

	k = period_bucket(fcinfo, cache, kind, as_of, period, periods, at);
	if (k < 0)
		PG_RETURN_POINTER(s);
	numeric_view(PG_GETARG_DATUM(2), &nv);
	if (kind == PERIOD_COUNTS)
	{
		if (numeric_view_positive(&nv))
			period_slots(s)[k]++;
	}
	else if (likely((cache->args_const && !cache->any_wide) || !s->wide))
	{
		if (likely(!nv.special && small_add_view(&period_slots(s)[k], &nv)))
			PG_RETURN_POINTER(s);
		s = period_add_slow(s, k, &nv, PG_GETARG_DATUM(2));
		cache->any_wide = true;
	}
	else
	{
		PeriodWide *w = &period_wide(s)[k];

		if (nv.special)
			w->specials |= money_special_flag(nv.special);
		else if (!acc_try_add(&w->sum, &w->scale, &nv))
			s = period_add_slow(s, k, &nv, PG_GETARG_DATUM(2));
	}
	PG_RETURN_POINTER(s);
}

Datum
custier_period_amounts_transfn(PG_FUNCTION_ARGS)
{
	return period_transfn_common(fcinfo, PERIOD_AMOUNTS);
}

Datum
custier_period_counts_transfn(PG_FUNCTION_ARGS)
{
	return period_transfn_common(fcinfo, PERIOD_COUNTS);
}

/* Strict: nodeAgg starts a group with a copy of its first partial state. */
Datum
custier_period_combinefn(PG_FUNCTION_ARGS)
{
	PeriodState *a = (PeriodState *) state_arg(fcinfo, 0);
	PeriodState *b = (PeriodState *) PG_GETARG_POINTER(1);
	int			k = 0;
	MoneySum   *ma;
	MoneySum   *mb;

	if (a->kind != b->kind)
		elog(ERROR, "period_combinefn: mixed period_amounts and period_counts states");
	if (!period_match(a, b->as_of, &b->period, b->periods))
		period_check_same(a, b->as_of, &b->period, b->periods);
	if (a->kind == PERIOD_COUNTS)
	{
		for (k = 0; k < a->periods; k++)
			if (pg_add_s64_overflow(period_slots(a)[k], period_slots(b)[k], &period_slots(a)[k]))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("period_counts: too many purchases in period %d", k + 1)));
		PG_RETURN_POINTER(a);
	}
	if (!a->wide && !b->wide)
	{
		for (; k < a->periods; k++)
		{
			int64		bs = period_slots(b)[k];

			if (!small_add(&period_slots(a)[k], bs >> SLOT_SCALE_BITS, (int) (bs & SLOT_SCALE_MASK)))
				break;
		}
		if (k == a->periods)
			PG_RETURN_POINTER(a);
	}
	/* periods before k are merged already */
	ma = period_money(a);
	mb = period_money(b);
	for (; k < a->periods; k++)
		custier_money_merge(&ma[k], &mb[k], CurrentMemoryContext);
	PG_RETURN_POINTER(period_with_money(a, ma));
}

/*
 * The numeric[] of a small-form state, written in one piece: what
 * construct_array makes of custier_scaled_to_numeric's numerics (elements
 * with 4-byte headers, int-aligned, zero padding), without a numeric
 * allocated per period.
 */
static ArrayType *
period_small_array(PeriodState *s)
{
	int			n = s->periods;
	ScaledNumeric *sn = palloc(sizeof(ScaledNumeric) * n);
	Size		nbytes = ARR_OVERHEAD_NONULLS(1);
	ArrayType  *a;
	char	   *p;

	for (int k = 0; k < n; k++)
	{
		int64		slot = period_slots(s)[k];

		nbytes += INTALIGN(custier_scaled_prepare(slot >> SLOT_SCALE_BITS,
												  (int) (slot & SLOT_SCALE_MASK), &sn[k]));
	}
	a = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(a, nbytes);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = NUMERICOID;
	ARR_DIMS(a)[0] = n;
	ARR_LBOUND(a)[0] = 1;
	p = (char *) a + ARR_OVERHEAD_NONULLS(1);	/* ARR_DATA_PTR without nulls */
	for (int k = 0; k < n; k++)
	{
		custier_scaled_write(&sn[k], p);
		p += INTALIGN(VARSIZE(p));
	}
	Assert(p == (char *) a + nbytes);
	return a;
}

/* NULL over no rows: the length of the result is an argument we never saw. */
Datum
custier_period_amounts_finalfn(PG_FUNCTION_ARGS)
{
	PeriodState *s;
	MoneySum   *ms;
	Datum	   *elems;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (PeriodState *) PG_GETARG_POINTER(0);
	if (s->kind != PERIOD_AMOUNTS)
		elog(ERROR, "period_amounts: state of the wrong kind");
	if (!s->wide)
		PG_RETURN_ARRAYTYPE_P(period_small_array(s));
	ms = period_money(s);
	elems = palloc(s->periods * sizeof(Datum));
	for (int k = 0; k < s->periods; k++)
		elems[k] = NumericGetDatum(custier_money_result(&ms[k]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, s->periods, NUMERICOID, -1, false, TYPALIGN_INT));
}

Datum
custier_period_counts_finalfn(PG_FUNCTION_ARGS)
{
	PeriodState *s;
	Datum	   *elems;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (PeriodState *) PG_GETARG_POINTER(0);
	if (s->kind != PERIOD_COUNTS)
		elog(ERROR, "period_counts: state of the wrong kind");
	elems = palloc(s->periods * sizeof(Datum));
	for (int k = 0; k < s->periods; k++)
	{
		int64		c = period_slots(s)[k];

		if (c > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("period_counts: %lld purchases in period %d are out of range for type integer",
							(long long) c, k + 1)));
		elems[k] = Int32GetDatum((int32) c);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, s->periods, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* Text: kind as_of_us month day time_us periods, then one value per period. */
Datum
custier_period_state_out(PG_FUNCTION_ARGS)
{
	PeriodState *s = (PeriodState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	StringInfoData buf;
	MoneySum   *ms = s->kind == PERIOD_AMOUNTS ? period_money(s) : NULL;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s %lld %d %d %lld %d", s->kind == PERIOD_AMOUNTS ? "amounts" : "counts",
					 (long long) s->as_of, s->period.month, s->period.day,
					 (long long) s->period.time, s->periods);
	for (int k = 0; k < s->periods; k++)
	{
		if (ms)
			appendStringInfo(&buf, " %s", custier_numeric_text(custier_money_result(&ms[k])));
		else
			appendStringInfo(&buf, " %lld", (long long) period_slots(s)[k]);
	}
	PG_RETURN_CSTRING(buf.data);
}

Datum
custier_period_state_in(PG_FUNCTION_ARGS)
{
	StateReader r;
	char	   *kindtok;
	int			kind;
	TimestampTz as_of;
	Interval	period;
	int32		periods;
	PeriodState *s;
	MoneySum   *ms;
	bool		small = true;

	custier_state_reader_init(&r, "custier.period_state", PG_GETARG_CSTRING(0));
	kindtok = custier_state_token(&r);
	if (kindtok == NULL)
		custier_state_bad(&r);
	if (strcmp(kindtok, "amounts") == 0)
		kind = PERIOD_AMOUNTS;
	else if (strcmp(kindtok, "counts") == 0)
		kind = PERIOD_COUNTS;
	else
		custier_state_bad(&r);
	as_of = custier_state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
	period.month = (int32) custier_state_int64(&r, 0, PG_INT32_MAX);
	period.day = (int32) custier_state_int64(&r, 0, PG_INT32_MAX);
	period.time = custier_state_int64(&r, 0, PG_INT64_MAX);
	periods = (int32) custier_state_int64(&r, 1, PERIODS_MAX);
	period_check_args(kind, &period, periods);
	s = period_new(kind, as_of, &period, periods);
	if (kind == PERIOD_COUNTS)
	{
		for (int k = 0; k < periods; k++)
			period_slots(s)[k] = custier_state_int64(&r, 0, PG_INT64_MAX);
		custier_state_end(&r);
		PG_RETURN_POINTER(s);
	}
	ms = palloc0(sizeof(MoneySum) * periods);
	for (int k = 0; k < periods; k++)
	{
		custier_money_from_numeric(&ms[k], custier_state_numeric(&r), CurrentMemoryContext);
		if (ms[k].spill || ms[k].specials || ms[k].scale > SMALL_SCALE_MAX ||
			ms[k].sum > SMALL_MAX || ms[k].sum < SMALL_MIN)
			small = false;
	}
	custier_state_end(&r);
	if (!small)
		PG_RETURN_POINTER(period_with_money(s, ms));
	for (int k = 0; k < periods; k++)
		period_slots(s)[k] = (int64) ms[k].sum * (1 << SLOT_SCALE_BITS) + ms[k].scale;
	PG_RETURN_POINTER(s);
}

