/*
 * metrics.c — value-metric aggregates (SPEC §2): value_metrics,
 * period_amounts, period_counts, share, on_time_rate, and the scalar helpers
 * recency, tenure, frequency and growth.
 *
 * Amounts are summed exactly by the 128-bit accumulator of numeric128.c.
 *
 * State types.  Each aggregate's state is a real type of its own
 * (custier.value_metrics_state, custier.period_state, custier.rate_state)
 * with a text form that carries the whole state, so that Citus can compute
 * partial aggregates on the workers and combine them on the coordinator (it
 * refuses pseudo-types such as internal), and parallel query moves states
 * without serialize functions.  The states are by reference, in STORAGE
 * plain (never short-headed or toasted), and a transition or combine
 * function called by an aggregate (AggCheckCallContext) changes the state in
 * place and returns the same pointer, which nodeAgg keeps as it is: no copy
 * per row.  Only when a state must grow (the first row of a group, or an
 * amount that needs the numeric spill, or period_amounts switching to wide
 * sums) does the function build a new datum in the per-row context and
 * return it; nodeAgg then copies it into the aggregate context and frees the
 * old one (ExecAggTransReparent).  Called outside an aggregate the functions
 * work on a copy.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "numeric128.h"

PG_FUNCTION_INFO_V1(custier_value_metrics_state_in);
PG_FUNCTION_INFO_V1(custier_value_metrics_state_out);
PG_FUNCTION_INFO_V1(custier_value_metrics_transfn);
PG_FUNCTION_INFO_V1(custier_value_metrics_combinefn);
PG_FUNCTION_INFO_V1(custier_value_metrics_finalfn);
PG_FUNCTION_INFO_V1(custier_period_state_in);
PG_FUNCTION_INFO_V1(custier_period_state_out);
PG_FUNCTION_INFO_V1(custier_period_amounts_transfn);
PG_FUNCTION_INFO_V1(custier_period_counts_transfn);
PG_FUNCTION_INFO_V1(custier_period_combinefn);
PG_FUNCTION_INFO_V1(custier_period_amounts_finalfn);
PG_FUNCTION_INFO_V1(custier_period_counts_finalfn);
PG_FUNCTION_INFO_V1(custier_rate_state_in);
PG_FUNCTION_INFO_V1(custier_rate_state_out);
PG_FUNCTION_INFO_V1(custier_share_transfn);
PG_FUNCTION_INFO_V1(custier_on_time_rate_transfn);
PG_FUNCTION_INFO_V1(custier_rate_combinefn);
PG_FUNCTION_INFO_V1(custier_rate_finalfn);
PG_FUNCTION_INFO_V1(recency);
PG_FUNCTION_INFO_V1(tenure);
PG_FUNCTION_INFO_V1(frequency);
PG_FUNCTION_INFO_V1(growth);
PG_FUNCTION_INFO_V1(growth_array);

#define PERIODS_MAX 1000

static inline bool
in_aggregate(FunctionCallInfo fcinfo)
{
	return AggCheckCallContext(fcinfo, NULL) != 0;
}

/*
 * A by-reference state argument that may be changed in place: the
 * aggregate's own transition value, or a copy when called some other way.
 */
static inline void *
state_arg(FunctionCallInfo fcinfo, int argno)
{
	if (likely(in_aggregate(fcinfo)))
		return DatumGetPointer(PG_GETARG_DATUM(argno));
	return PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(argno));
}

static char *
interval_text(const Interval *i)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(i)));
}

static char *
timestamptz_text(TimestampTz t)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(t)));
}

/* ------------------------------------------------------------------------
 * Text form of the states: fields separated by single spaces; integers in
 * decimal, timestamps as microseconds since 2000-01-01 UTC and intervals as
 * their three fields (so DateStyle, IntervalStyle and TimeZone, which may
 * differ between Citus nodes, play no part), sums as exact numerics.
 * ------------------------------------------------------------------------
 */
typedef struct StateReader
{
	const char *type;
	const char *input;
	char	   *p;
} StateReader;

static pg_noinline void
state_bad(const StateReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", r->type, r->input),
			 errdetail("This is the text form of an aggregate state, as its output function writes it.")));
}

/* The next space-separated token (NUL-terminated in place), or NULL at the end. */
static char *
state_token(StateReader *r)
{
	char	   *start = r->p;

	if (*start == '\0')
		return NULL;
	while (*r->p != '\0' && *r->p != ' ')
		r->p++;
	if (*r->p == ' ')
	{
		*r->p++ = '\0';
		if (*r->p == '\0' || *r->p == ' ')
			state_bad(r);
	}
	if (*start == '\0')
		state_bad(r);
	return start;
}

static int64
state_int64(StateReader *r, int64 min, int64 max)
{
	char	   *tok = state_token(r);
	char	   *end;
	long long	v;

	if (tok == NULL || !(isdigit((unsigned char) tok[0]) || (tok[0] == '-' && isdigit((unsigned char) tok[1]))))
		state_bad(r);
	errno = 0;
	v = strtoll(tok, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		state_bad(r);
	return (int64) v;
}

static Numeric
state_numeric(StateReader *r)
{
	char	   *tok = state_token(r);

	if (tok == NULL)
		state_bad(r);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(tok),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

static void
state_end(StateReader *r)
{
	if (state_token(r) != NULL)
		state_bad(r);
}

static void
state_reader_init(StateReader *r, const char *type, const char *input)
{
	r->type = type;
	r->input = input;
	r->p = pstrdup(input);
}

static char *
numeric_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* ------------------------------------------------------------------------
 * value_metrics(at timestamptz, amount numeric) → custier.value_metrics
 * State: custier.value_metrics_state (VMState, 56 bytes, plus the numeric
 * spill when there is one).  Text: purchases monetary first_us last_us
 * (the two times "-" without purchases).
 * ------------------------------------------------------------------------
 */
typedef struct VMState
{
	int32		vl_len_;
	int32		scale;			/* monetary: sum × 10^-scale (+ spill) */
	acc_int		sum;
	int64		purchases;		/* rows with amount > 0 */
	TimestampTz first_purchase; /* valid when purchases > 0 */
	TimestampTz last_purchase;
	uint8		specials;		/* MONEY_* seen */
	/* the spill numeric follows at sizeof(VMState) when VARSIZE is larger */
} VMState;

static inline Numeric
vm_spill(const VMState *s)
{
	return VARSIZE(s) > sizeof(VMState) ? (Numeric) ((char *) s + sizeof(VMState)) : NULL;
}

static VMState *
vm_new(void)
{
	VMState    *s = palloc0(sizeof(VMState));

	custier_acc_init();
	SET_VARSIZE(s, sizeof(VMState));
	return s;
}

/* The state's monetary as a working MoneySum (its spill copied). */
static void
vm_money(const VMState *s, MoneySum *ms)
{
	Numeric		spill = vm_spill(s);

	ms->sum = s->sum;
	ms->scale = s->scale;
	ms->specials = s->specials;
	ms->spill = NULL;
	if (spill)
	{
		ms->spill = palloc(VARSIZE(spill));
		memcpy(ms->spill, spill, VARSIZE(spill));
	}
}

/* A new state (current context): s's counters with monetary ms. */
static VMState *
vm_with_money(const VMState *s, const MoneySum *ms)
{
	Size		size = sizeof(VMState) + (ms->spill ? VARSIZE(ms->spill) : 0);
	VMState    *n = palloc0(size);

	memcpy(n, s, sizeof(VMState));
	SET_VARSIZE(n, size);
	n->sum = ms->sum;
	n->scale = ms->scale;
	n->specials = ms->specials;
	if (ms->spill)
		memcpy((char *) n + sizeof(VMState), ms->spill, VARSIZE(ms->spill));
	return n;
}

static pg_noinline VMState *
vm_add_slow(VMState *s, const NumericView *nv, Datum amount)
{
	MoneySum	ms;

	vm_money(s, &ms);
	custier_money_add(&ms, nv, amount, CurrentMemoryContext);
	return vm_with_money(s, &ms);
}

Datum
custier_value_metrics_transfn(PG_FUNCTION_ARGS)
{
	VMState    *s;
	NumericView nv;
	TimestampTz at;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	s = PG_ARGISNULL(0) ? vm_new() : (VMState *) state_arg(fcinfo, 0);
	at = PG_GETARG_TIMESTAMPTZ(1);
	numeric_view(PG_GETARG_DATUM(2), &nv);
	if (likely(!nv.special))
	{
		if (unlikely(!acc_try_add(&s->sum, &s->scale, &nv)))
			s = vm_add_slow(s, &nv, PG_GETARG_DATUM(2));
	}
	else
		s->specials |= money_special_flag(nv.special);
	if (numeric_view_positive(&nv))
	{
		if (s->purchases == 0 || at < s->first_purchase)
			s->first_purchase = at;
		if (s->purchases == 0 || at > s->last_purchase)
			s->last_purchase = at;
		s->purchases++;
	}
	PG_RETURN_POINTER(s);
}

/* Strict: nodeAgg starts a group with a copy of its first partial state. */
Datum
custier_value_metrics_combinefn(PG_FUNCTION_ARGS)
{
	VMState    *a = (VMState *) state_arg(fcinfo, 0);
	VMState    *b = (VMState *) PG_GETARG_POINTER(1);
	int32		scale = Max(a->scale, b->scale);
	acc_int		av = a->sum;
	acc_int		bv = b->sum;

	if (vm_spill(a) == NULL && vm_spill(b) == NULL &&
		acc_rescale(&av, scale - a->scale) && acc_rescale(&bv, scale - b->scale) &&
		!acc_add_overflow(&av, bv))
	{
		a->sum = av;
		a->scale = scale;
		a->specials |= b->specials;
	}
	else
	{
		MoneySum	ma;
		MoneySum	mb;

		vm_money(a, &ma);
		vm_money(b, &mb);
		custier_money_merge(&ma, &mb, CurrentMemoryContext);
		a = vm_with_money(a, &ma);
	}
	if (b->purchases > 0)
	{
		if (a->purchases == 0 || b->first_purchase < a->first_purchase)
			a->first_purchase = b->first_purchase;
		if (a->purchases == 0 || b->last_purchase > a->last_purchase)
			a->last_purchase = b->last_purchase;
		a->purchases += b->purchases;
	}
	PG_RETURN_POINTER(a);
}

static Numeric
vm_monetary(const VMState *s)
{
	MoneySum	ms;

	vm_money(s, &ms);
	return custier_money_result(&ms);
}

/* The composite's descriptor, looked up once per call site. */
static TupleDesc
result_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;

	if (tupdesc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = tupdesc;
	}
	return tupdesc;
}

/* Over no rows: 0 purchases, monetary 0, the rest NULL (a customer without purchases). */
Datum
custier_value_metrics_finalfn(PG_FUNCTION_ARGS)
{
	VMState    *s = PG_ARGISNULL(0) ? NULL : (VMState *) PG_GETARG_POINTER(0);
	TupleDesc	tupdesc = result_tupdesc(fcinfo);
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	Numeric		monetary;

	monetary = s ? vm_monetary(s) : custier_scaled_to_numeric(0, 0);
	values[0] = Int64GetDatum(s ? s->purchases : 0);
	values[1] = NumericGetDatum(monetary);
	if (s && s->purchases > 0)
	{
		values[2] = TimestampTzGetDatum(s->first_purchase);
		values[3] = TimestampTzGetDatum(s->last_purchase);
		values[4] = DirectFunctionCall2(numeric_div, NumericGetDatum(monetary),
										NumericGetDatum(int64_to_numeric(s->purchases)));
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
custier_value_metrics_state_out(PG_FUNCTION_ARGS)
{
	VMState    *s = (VMState *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	char	   *monetary = numeric_text(vm_monetary(s));

	if (s->purchases == 0)
		PG_RETURN_CSTRING(psprintf("0 %s - -", monetary));
	PG_RETURN_CSTRING(psprintf("%lld %s %lld %lld", (long long) s->purchases, monetary,
							   (long long) s->first_purchase, (long long) s->last_purchase));
}

Datum
custier_value_metrics_state_in(PG_FUNCTION_ARGS)
{
	StateReader r;
	VMState    *s = vm_new();
	MoneySum	ms;

	state_reader_init(&r, "custier.value_metrics_state", PG_GETARG_CSTRING(0));
	s->purchases = state_int64(&r, 0, PG_INT64_MAX);
	custier_money_from_numeric(&ms, state_numeric(&r), CurrentMemoryContext);
	if (s->purchases == 0)
	{
		char	   *a = state_token(&r);
		char	   *b = state_token(&r);

		if (a == NULL || b == NULL || strcmp(a, "-") != 0 || strcmp(b, "-") != 0)
			state_bad(&r);
	}
	else
	{
		s->first_purchase = state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
		s->last_purchase = state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
		if (s->first_purchase > s->last_purchase)
			state_bad(&r);
	}
	state_end(&r);
	PG_RETURN_POINTER(vm_with_money(s, &ms));
}

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

#define SLOT_SCALE_BITS 5
#define SLOT_SCALE_MASK ((1 << SLOT_SCALE_BITS) - 1)
#define SMALL_SCALE_MAX 18
#define SMALL_MAX ((acc_int) (PG_INT64_MAX >> SLOT_SCALE_BITS))
#define SMALL_MIN ((acc_int) (PG_INT64_MIN >> SLOT_SCALE_BITS))

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
						period_fname(kind), interval_text(period)),
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
						fname, timestamptz_text(s->as_of), timestamptz_text(as_of)),
				 errhint(PERIOD_SAME_HINT)));
	if (!interval_identical(&s->period, period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: period differs within a group: \"%s\" and \"%s\"",
						fname, interval_text(&s->period), interval_text(period)),
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
	PeriodBounds *sets[PERIOD_CACHE_SIZE];
} PeriodCache;

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
							period_fname(kind), k, interval_text(&pb->period))));
		pb->bounds[k] = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																TimestampTzGetDatum(pb->as_of),
																IntervalPGetDatum(&span)));
	}
	pb->tz = session_timezone;
}

static pg_noinline PeriodBounds *
period_bounds_lookup(FunctionCallInfo fcinfo, const PeriodState *s)
{
	PeriodCache *cache = (PeriodCache *) fcinfo->flinfo->fn_extra;
	PeriodBounds *pb;

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PeriodCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	for (int i = 0; i < cache->n; i++)
		if (period_match(s, cache->sets[i]->as_of, &cache->sets[i]->period, cache->sets[i]->periods))
			return cache->last = cache->sets[i];
	pb = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
							offsetof(PeriodBounds, bounds) + (s->periods + 1) * sizeof(TimestampTz));
	pb->as_of = s->as_of;
	pb->period = s->period;
	pb->periods = s->periods;
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

/* 0-based bucket of `at`, or -1 when it is in no period. */
static inline int
period_bucket(FunctionCallInfo fcinfo, const PeriodState *s, TimestampTz at)
{
	PeriodCache *cache = (PeriodCache *) fcinfo->flinfo->fn_extra;
	PeriodBounds *pb;
	const TimestampTz *bounds;
	const TimestampTz *b;
	int			n = s->periods;

	if (likely(cache != NULL && cache->last != NULL &&
			   period_match(s, cache->last->as_of, &cache->last->period, cache->last->periods)))
		pb = cache->last;
	else
		pb = period_bounds_lookup(fcinfo, s);
	if (unlikely(pb->tz != session_timezone))
		period_compute_bounds(pb, s->kind);
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

/* *slot (small form) += v × 10^-vscale; false, changing nothing, when it does not fit. */
static inline bool
small_add(int64 *slot, acc_int v, int vscale)
{
	int			cscale = (int) (*slot & SLOT_SCALE_MASK);
	acc_int		cur = *slot >> SLOT_SCALE_BITS;
	int			s = Max(cscale, vscale);

	if (s > SMALL_SCALE_MAX || !acc_rescale(&v, s - vscale) || !acc_rescale(&cur, s - cscale))
		return false;
	if (acc_add_overflow(&cur, v) || cur > SMALL_MAX || cur < SMALL_MIN)
		return false;
	*slot = (int64) cur * (1 << SLOT_SCALE_BITS) + s;
	return true;
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
	at = PG_GETARG_TIMESTAMPTZ(1);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	period = PG_GETARG_INTERVAL_P(4);
	periods = PG_GETARG_INT32(5);
	if (PG_ARGISNULL(0))
	{
		period_check_args(kind, period, periods);
		s = period_new(kind, as_of, period, periods);
	}
	else
	{
		s = (PeriodState *) state_arg(fcinfo, 0);
		if (unlikely(!period_match(s, as_of, period, periods)))
			period_check_same(s, as_of, period, periods);
		if (unlikely(s->kind != kind))
			elog(ERROR, "%s: state of the wrong kind", period_fname(kind));
	}

	numeric_view(PG_GETARG_DATUM(2), &nv);
	if (kind == PERIOD_COUNTS && !numeric_view_positive(&nv))
		PG_RETURN_POINTER(s);
	k = period_bucket(fcinfo, s, at);
	if (k < 0)
		PG_RETURN_POINTER(s);
	if (kind == PERIOD_COUNTS)
		period_slots(s)[k]++;
	else if (likely(!s->wide))
	{
		acc_int		v;

		if (likely(!nv.special && nv.dscale <= SMALL_SCALE_MAX &&
				   numeric_view_scaled(&nv, nv.dscale, &v) &&
				   small_add(&period_slots(s)[k], v, nv.dscale)))
			PG_RETURN_POINTER(s);
		s = period_add_slow(s, k, &nv, PG_GETARG_DATUM(2));
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
			appendStringInfo(&buf, " %s", numeric_text(custier_money_result(&ms[k])));
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

	state_reader_init(&r, "custier.period_state", PG_GETARG_CSTRING(0));
	kindtok = state_token(&r);
	if (kindtok == NULL)
		state_bad(&r);
	if (strcmp(kindtok, "amounts") == 0)
		kind = PERIOD_AMOUNTS;
	else if (strcmp(kindtok, "counts") == 0)
		kind = PERIOD_COUNTS;
	else
		state_bad(&r);
	as_of = state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
	period.month = (int32) state_int64(&r, 0, PG_INT32_MAX);
	period.day = (int32) state_int64(&r, 0, PG_INT32_MAX);
	period.time = state_int64(&r, 0, PG_INT64_MAX);
	periods = (int32) state_int64(&r, 1, PERIODS_MAX);
	period_check_args(kind, &period, periods);
	s = period_new(kind, as_of, &period, periods);
	if (kind == PERIOD_COUNTS)
	{
		for (int k = 0; k < periods; k++)
			period_slots(s)[k] = state_int64(&r, 0, PG_INT64_MAX);
		state_end(&r);
		PG_RETURN_POINTER(s);
	}
	ms = palloc0(sizeof(MoneySum) * periods);
	for (int k = 0; k < periods; k++)
	{
		custier_money_from_numeric(&ms[k], state_numeric(&r), CurrentMemoryContext);
		if (ms[k].spill || ms[k].specials || ms[k].scale > SMALL_SCALE_MAX ||
			ms[k].sum > SMALL_MAX || ms[k].sum < SMALL_MIN)
			small = false;
	}
	state_end(&r);
	if (!small)
		PG_RETURN_POINTER(period_with_money(s, ms));
	for (int k = 0; k < periods; k++)
		period_slots(s)[k] = (int64) ms[k].sum * (1 << SLOT_SCALE_BITS) + ms[k].scale;
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * share(condition) and on_time_rate(opened, resolved, allowed): percentages
 * of counted rows; both keep two counters in custier.rate_state (16 bytes,
 * fixed length; text: hits rows) and share the combine and final functions.
 * ------------------------------------------------------------------------
 */
typedef struct RateState
{
	int64		hits;
	int64		rows;
} RateState;

static inline RateState *
rate_state(FunctionCallInfo fcinfo)
{
	RateState  *s;

	if (!PG_ARGISNULL(0))
	{
		if (likely(in_aggregate(fcinfo)))
			return (RateState *) PG_GETARG_POINTER(0);
		s = palloc(sizeof(RateState));
		memcpy(s, PG_GETARG_POINTER(0), sizeof(RateState));
		return s;
	}
	return palloc0(sizeof(RateState));
}

Datum
custier_share_transfn(PG_FUNCTION_ARGS)
{
	RateState  *s;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	s = rate_state(fcinfo);
	s->rows++;
	if (PG_GETARG_BOOL(1))
		s->hits++;
	PG_RETURN_POINTER(s);
}

/*
 * A resolved ticket is on time when resolved <= opened + allowed (calendar
 * arithmetic in the session TimeZone).  An open one is late once now() has
 * passed opened + allowed, and left out before that.
 */
Datum
custier_on_time_rate_transfn(PG_FUNCTION_ARGS)
{
	RateState  *s;
	TimestampTz deadline;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(3))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   PG_GETARG_DATUM(1), PG_GETARG_DATUM(3)));
	if (PG_ARGISNULL(2) && GetCurrentTransactionStartTimestamp() <= deadline)
	{
		/* still has time: not counted */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	s = rate_state(fcinfo);
	s->rows++;
	if (!PG_ARGISNULL(2) && PG_GETARG_TIMESTAMPTZ(2) <= deadline)
		s->hits++;
	PG_RETURN_POINTER(s);
}

/* Strict: nodeAgg starts a group with a copy of its first partial state. */
Datum
custier_rate_combinefn(PG_FUNCTION_ARGS)
{
	RateState  *a = rate_state(fcinfo);
	RateState  *b = (RateState *) PG_GETARG_POINTER(1);

	a->hits += b->hits;
	a->rows += b->rows;
	PG_RETURN_POINTER(a);
}

/* 100 × hits / rows with numeric division's scale; NULL when nothing counted. */
Datum
custier_rate_finalfn(PG_FUNCTION_ARGS)
{
	RateState  *s = PG_ARGISNULL(0) ? NULL : (RateState *) PG_GETARG_POINTER(0);
	Datum		hits;

	if (s == NULL || s->rows == 0)
		PG_RETURN_NULL();
	hits = DirectFunctionCall2(numeric_mul, NumericGetDatum(int64_to_numeric(s->hits)),
							   NumericGetDatum(int64_to_numeric(100)));
	PG_RETURN_DATUM(DirectFunctionCall2(numeric_div, hits,
										NumericGetDatum(int64_to_numeric(s->rows))));
}

Datum
custier_rate_state_out(PG_FUNCTION_ARGS)
{
	RateState  *s = (RateState *) PG_GETARG_POINTER(0);

	PG_RETURN_CSTRING(psprintf("%lld %lld", (long long) s->hits, (long long) s->rows));
}

Datum
custier_rate_state_in(PG_FUNCTION_ARGS)
{
	StateReader r;
	RateState  *s = palloc(sizeof(RateState));

	state_reader_init(&r, "custier.rate_state", PG_GETARG_CSTRING(0));
	s->hits = state_int64(&r, 0, PG_INT64_MAX);
	s->rows = state_int64(&r, 0, PG_INT64_MAX);
	state_end(&r);
	if (s->hits > s->rows)
		state_bad(&r);
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * Scalar helpers
 * ------------------------------------------------------------------------
 */
#define VM_PURCHASES		1
#define VM_FIRST_PURCHASE	3
#define VM_LAST_PURCHASE	4

/* as_of - the metric's timestamp attribute; NULL when there is no purchase. */
static Datum
metrics_since(FunctionCallInfo fcinfo, AttrNumber attno)
{
	bool		isnull;
	Datum		t = GetAttributeByNum(PG_GETARG_HEAPTUPLEHEADER(0), attno, &isnull);

	if (isnull)
		PG_RETURN_NULL();
	return DirectFunctionCall2(timestamp_mi, PG_GETARG_DATUM(1), t);
}

Datum
recency(PG_FUNCTION_ARGS)
{
	return metrics_since(fcinfo, VM_LAST_PURCHASE);
}

Datum
tenure(PG_FUNCTION_ARGS)
{
	return metrics_since(fcinfo, VM_FIRST_PURCHASE);
}

static Numeric
numeric_of_int64(int64 v)
{
	return int64_to_numeric(v);
}

static Datum
numeric_mul_int64(Datum a, int64 b)
{
	return DirectFunctionCall2(numeric_mul, a, NumericGetDatum(numeric_of_int64(b)));
}

/*
 * An interval's length in microseconds, counted as extract(epoch from …)
 * counts it: a year of months is 365.25 days, other months 30 days, a day 24 hours.
 */
static Datum
interval_usecs(const Interval *i)
{
	Datum		us = NumericGetDatum(numeric_of_int64(i->time));

	us = DirectFunctionCall2(numeric_add, us, numeric_mul_int64(NumericGetDatum(numeric_of_int64(i->day)), USECS_PER_DAY));
	us = DirectFunctionCall2(numeric_add, us,
							 numeric_mul_int64(NumericGetDatum(numeric_of_int64(i->month / MONTHS_PER_YEAR)),
											   (int64) (DAYS_PER_YEAR * SECS_PER_DAY) * USECS_PER_SEC));
	us = DirectFunctionCall2(numeric_add, us,
							 numeric_mul_int64(NumericGetDatum(numeric_of_int64(i->month % MONTHS_PER_YEAR)),
											   (int64) DAYS_PER_MONTH * USECS_PER_DAY));
	return us;
}

static inline int
numeric_datum_cmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, a, b));
}

/*
 * purchases per `per` over first_purchase .. as_of: purchases × per / span,
 * or purchases when the span is no longer than per; 0 without purchases.
 */
Datum
frequency(PG_FUNCTION_ARGS)
{
	HeapTupleHeader m = PG_GETARG_HEAPTUPLEHEADER(0);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);
	Interval   *per = PG_GETARG_INTERVAL_P(2);
	Datum		per_us = interval_usecs(per);
	Datum		zero = NumericGetDatum(numeric_of_int64(0));
	Datum		purchases;
	Datum		first;
	Datum		span_us;
	bool		isnull;

	if (numeric_datum_cmp(per_us, zero) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("frequency: per must be positive, not \"%s\"", interval_text(per))));
	purchases = GetAttributeByNum(m, VM_PURCHASES, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	if (DatumGetInt64(purchases) == 0)
		PG_RETURN_DATUM(zero);
	first = GetAttributeByNum(m, VM_FIRST_PURCHASE, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	if (TIMESTAMP_NOT_FINITE(as_of) || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(first)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("frequency: cannot measure the span from \"%s\" to \"%s\"",
						timestamptz_text(DatumGetTimestampTz(first)), timestamptz_text(as_of)),
				 errhint("first_purchase and as_of must be finite.")));
	span_us = DirectFunctionCall2(numeric_sub, NumericGetDatum(numeric_of_int64(as_of)),
								  NumericGetDatum(numeric_of_int64(DatumGetTimestampTz(first))));
	purchases = NumericGetDatum(numeric_of_int64(DatumGetInt64(purchases)));
	if (numeric_datum_cmp(span_us, per_us) <= 0)
		PG_RETURN_DATUM(purchases);
	PG_RETURN_DATUM(DirectFunctionCall2(numeric_div,
										DirectFunctionCall2(numeric_mul, purchases, per_us),
										span_us));
}

/* (current - previous) × 100 / previous; NULL when previous is NULL or 0. */
static bool
growth_of(Datum current, Datum previous, Datum *result)
{
	NumericView nv;

	numeric_view(previous, &nv);
	if (numeric_view_zero(&nv))
		return false;
	*result = DirectFunctionCall2(numeric_div,
								  numeric_mul_int64(DirectFunctionCall2(numeric_sub, current, previous), 100),
								  previous);
	return true;
}

Datum
growth(PG_FUNCTION_ARGS)
{
	Datum		result;

	if (!growth_of(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), &result))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* Period-over-period growth of a period_amounts result (newest first): one element shorter. */
Datum
growth_array(PG_FUNCTION_ARGS)
{
	ArrayType  *amounts = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Datum	   *out;
	bool	   *outnulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (ARR_NDIM(amounts) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("growth: amounts must be a one-dimensional array, not %d-dimensional",
						ARR_NDIM(amounts))));
	deconstruct_array(amounts, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n <= 1)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(NUMERICOID));
	out = palloc((n - 1) * sizeof(Datum));
	outnulls = palloc((n - 1) * sizeof(bool));
	for (int i = 0; i < n - 1; i++)
		outnulls[i] = nulls[i] || nulls[i + 1] || !growth_of(elems[i], elems[i + 1], &out[i]);
	dims[0] = n - 1;
	PG_RETURN_ARRAYTYPE_P(construct_md_array(out, outnulls, 1, dims, lbs, NUMERICOID, -1, false, TYPALIGN_INT));
}
