/*
 * metrics.c — value-metric aggregates: value_metrics,
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
 * per row.  Only when a state must grow (the first row of a group,
 * value_metrics leaving its 32-byte compact form, an amount that needs the
 * numeric spill, or period_amounts switching to wide sums) does the
 * function build a new datum in the per-row context and
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

#include "metrics.h"
#include "numeric128.h"

PG_FUNCTION_INFO_V1(custier_value_metrics_state_in);
PG_FUNCTION_INFO_V1(custier_value_metrics_state_out);
PG_FUNCTION_INFO_V1(custier_value_metrics_transfn);
PG_FUNCTION_INFO_V1(custier_value_metrics_combinefn);
PG_FUNCTION_INFO_V1(custier_value_metrics_finalfn);
PG_FUNCTION_INFO_V1(custier_rate_state_in);
PG_FUNCTION_INFO_V1(custier_rate_state_out);
PG_FUNCTION_INFO_V1(custier_share_transfn);
PG_FUNCTION_INFO_V1(custier_on_time_rate_transfn);
PG_FUNCTION_INFO_V1(custier_deadline_rate_transfn);
PG_FUNCTION_INFO_V1(custier_rate_combinefn);
PG_FUNCTION_INFO_V1(custier_rate_finalfn);
PG_FUNCTION_INFO_V1(custier_recency);
PG_FUNCTION_INFO_V1(custier_tenure);
PG_FUNCTION_INFO_V1(custier_frequency);
PG_FUNCTION_INFO_V1(custier_growth);
PG_FUNCTION_INFO_V1(custier_growth_array);


char *
custier_interval_text(const Interval *i)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(i)));
}

char *
custier_timestamptz_text(TimestampTz t)
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

void
custier_state_bad(const StateReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", r->type, r->input),
			 errdetail("This is the text form of an aggregate state, as its output function writes it.")));
}

/* The next space-separated token (NUL-terminated in place), or NULL at the end. */
char *
custier_state_token(StateReader *r)
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
			custier_state_bad(r);
	}
	if (*start == '\0')
		custier_state_bad(r);
	return start;
}

int64
custier_state_int64(StateReader *r, int64 min, int64 max)
{
	char	   *tok = custier_state_token(r);
	char	   *end;
	long long	v;

	if (tok == NULL || !(isdigit((unsigned char) tok[0]) || (tok[0] == '-' && isdigit((unsigned char) tok[1]))))
		custier_state_bad(r);
	errno = 0;
	v = strtoll(tok, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		custier_state_bad(r);
	return (int64) v;
}

Numeric
custier_state_numeric(StateReader *r)
{
	char	   *tok = custier_state_token(r);

	if (tok == NULL)
		custier_state_bad(r);
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(tok),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

void
custier_state_end(StateReader *r)
{
	if (custier_state_token(r) != NULL)
		custier_state_bad(r);
}

void
custier_state_reader_init(StateReader *r, const char *type, const char *input)
{
	r->type = type;
	r->input = input;
	r->p = pstrdup(input);
}

char *
custier_numeric_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}



/* ------------------------------------------------------------------------
 * value_metrics(at timestamptz, amount numeric) → custier.value_metrics
 * State: custier.value_metrics_state in one of two forms, told apart by
 * their size:
 *   compact (VMCompact, 32 bytes): purchases below 2^31 and the monetary
 *     total in the small form of numeric128.h (59 bits, scale ≤ 18) — every
 *     group starts so, and most stay so;
 *   wide (VMState, 56 bytes, plus the numeric spill when there is one):
 *     128-bit total, NaN/±Infinity seen, 64-bit purchases.
 * 32 bytes is one allocator size class below 56: with hash aggregation the
 * group's key, its nodeAgg entry and its state then take two cache lines
 * instead of two and a half, and a row's state is more often in a line
 * nodeAgg has just read (measured in bench/README.md, "metrics").
 * Text (both forms): purchases monetary first_us last_us (the two times "-"
 * without purchases).
 * ------------------------------------------------------------------------
 */
typedef struct VMCompact
{
	int32		vl_len_;
	int32		purchases;		/* rows with amount > 0 */
	int64		sum;			/* monetary, small form (numeric128.h) */
	TimestampTz first_purchase; /* valid when purchases > 0 */
	TimestampTz last_purchase;
} VMCompact;

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

StaticAssertDecl(sizeof(VMCompact) == 32, "VMCompact must stay 32 bytes");
StaticAssertDecl(sizeof(VMState) > sizeof(VMCompact), "the forms are told apart by size");

static inline bool
vm_compact(const void *s)
{
	return VARSIZE(s) == sizeof(VMCompact);
}

static inline Numeric
vm_spill(const VMState *s)
{
	return VARSIZE(s) > sizeof(VMState) ? (Numeric) ((char *) s + sizeof(VMState)) : NULL;
}

static VMCompact *
vm_new(void)
{
	VMCompact  *c = palloc0(sizeof(VMCompact));

	custier_acc_init();
	SET_VARSIZE(c, sizeof(VMCompact));
	return c;
}

/* A wide state (current context) with a compact state's contents. */
static VMState *
vm_widen(const VMCompact *c)
{
	VMState    *s = palloc0(sizeof(VMState));

	custier_acc_init();
	SET_VARSIZE(s, sizeof(VMState));
	s->sum = c->sum >> SLOT_SCALE_BITS;
	s->scale = (int32) (c->sum & SLOT_SCALE_MASK);
	s->purchases = c->purchases;
	s->first_purchase = c->first_purchase;
	s->last_purchase = c->last_purchase;
	return s;
}

/* The state as a wide one: itself, or a wide copy (current context) of a compact one. */
static inline VMState *
vm_wide(void *s)
{
	return vm_compact(s) ? vm_widen((VMCompact *) s) : (VMState *) s;
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

/* A new wide state (current context): s's counters with monetary ms. */
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
	void	   *state;
	VMState    *s;
	NumericView nv;
	TimestampTz at;
	bool		purchase;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	state = PG_ARGISNULL(0) ? vm_new() : state_arg(fcinfo, 0);
	at = PG_GETARG_TIMESTAMPTZ(1);
	numeric_view(PG_GETARG_DATUM(2), &nv);
	purchase = numeric_view_positive(&nv);
	if (likely(vm_compact(state)))
	{
		VMCompact  *c = (VMCompact *) state;

		if (likely(!nv.special && !(purchase && c->purchases == PG_INT32_MAX) &&
				   small_add_view(&c->sum, &nv)))
		{
			if (purchase)
			{
				if (c->purchases == 0 || at < c->first_purchase)
					c->first_purchase = at;
				if (c->purchases == 0 || at > c->last_purchase)
					c->last_purchase = at;
				c->purchases++;
			}
			PG_RETURN_POINTER(c);
		}
		/* does not fit the compact form: on in a wide copy, which nodeAgg keeps */
		state = vm_widen(c);
	}
	s = (VMState *) state;
	if (likely(!nv.special))
	{
		if (unlikely(!acc_try_add(&s->sum, &s->scale, &nv)))
			s = vm_add_slow(s, &nv, PG_GETARG_DATUM(2));
	}
	else
		s->specials |= money_special_flag(nv.special);
	if (purchase)
	{
		if (s->purchases == 0 || at < s->first_purchase)
			s->first_purchase = at;
		if (s->purchases == 0 || at > s->last_purchase)
			s->last_purchase = at;
		s->purchases++;
	}
	PG_RETURN_POINTER(s);
}

/* first/last purchase of a and b (a's purchases not yet added) into a's fields. */
#define VM_MERGE_TIMES(a, b) \
	do { \
		if ((b)->purchases > 0) \
		{ \
			if ((a)->purchases == 0 || (b)->first_purchase < (a)->first_purchase) \
				(a)->first_purchase = (b)->first_purchase; \
			if ((a)->purchases == 0 || (b)->last_purchase > (a)->last_purchase) \
				(a)->last_purchase = (b)->last_purchase; \
		} \
	} while (0)

/* Strict: nodeAgg starts a group with a copy of its first partial state. */
Datum
custier_value_metrics_combinefn(PG_FUNCTION_ARGS)
{
	void	   *astate = state_arg(fcinfo, 0);
	void	   *bstate = PG_GETARG_POINTER(1);
	VMState    *a;
	VMState    *b;
	int32		scale;
	acc_int		av;
	acc_int		bv;

	if (vm_compact(astate) && vm_compact(bstate))
	{
		VMCompact  *ac = (VMCompact *) astate;
		VMCompact  *bc = (VMCompact *) bstate;
		int64		sum = ac->sum;
		int32		purchases;

		if (!pg_add_s32_overflow(ac->purchases, bc->purchases, &purchases) &&
			small_add(&sum, bc->sum >> SLOT_SCALE_BITS, (int) (bc->sum & SLOT_SCALE_MASK)))
		{
			VM_MERGE_TIMES(ac, bc);
			ac->purchases = purchases;
			ac->sum = sum;
			PG_RETURN_POINTER(ac);
		}
	}
	a = vm_wide(astate);
	b = vm_wide(bstate);
	scale = Max(a->scale, b->scale);
	av = a->sum;
	bv = b->sum;
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
	VM_MERGE_TIMES(a, b);
	if (pg_add_s64_overflow(a->purchases, b->purchases, &a->purchases))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("value_metrics: too many purchases")));
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
	void	   *state = PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0);
	TupleDesc	tupdesc = result_tupdesc(fcinfo);
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int64		purchases = 0;
	TimestampTz first = 0;
	TimestampTz last = 0;
	Numeric		monetary;
	Numeric		avg = NULL;

	if (state == NULL)
		monetary = custier_scaled_to_numeric(0, 0);
	else if (vm_compact(state))
	{
		const VMCompact *c = (const VMCompact *) state;
		acc_int		sum = c->sum >> SLOT_SCALE_BITS;
		int			scale = (int) (c->sum & SLOT_SCALE_MASK);

		purchases = c->purchases;
		first = c->first_purchase;
		last = c->last_purchase;
		monetary = custier_scaled_to_numeric(sum, scale);
		if (purchases > 0)
			avg = custier_scaled_div_int64(sum, scale, purchases);
	}
	else
	{
		const VMState *s = (const VMState *) state;

		purchases = s->purchases;
		first = s->first_purchase;
		last = s->last_purchase;
		monetary = vm_monetary(s);
		/* numeric_div's result, computed on the integer when monetary is one */
		if (purchases > 0 && vm_spill(s) == NULL && s->specials == 0)
			avg = custier_scaled_div_int64(s->sum, s->scale, purchases);
	}
	values[0] = Int64GetDatum(purchases);
	values[1] = NumericGetDatum(monetary);
	if (purchases > 0)
	{
		values[2] = TimestampTzGetDatum(first);
		values[3] = TimestampTzGetDatum(last);
		values[4] = avg ? NumericGetDatum(avg)
			: DirectFunctionCall2(numeric_div, NumericGetDatum(monetary),
								  NumericGetDatum(int64_to_numeric(purchases)));
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

Datum
custier_value_metrics_state_out(PG_FUNCTION_ARGS)
{
	VMState    *s = vm_wide(PG_DETOAST_DATUM(PG_GETARG_DATUM(0)));
	char	   *monetary = custier_numeric_text(vm_monetary(s));

	if (s->purchases == 0)
		PG_RETURN_CSTRING(psprintf("0 %s - -", monetary));
	PG_RETURN_CSTRING(psprintf("%lld %s %lld %lld", (long long) s->purchases, monetary,
							   (long long) s->first_purchase, (long long) s->last_purchase));
}

/* Makes the compact form when the state fits it. */
Datum
custier_value_metrics_state_in(PG_FUNCTION_ARGS)
{
	StateReader r;
	VMState    *s = palloc0(sizeof(VMState));
	MoneySum	ms;

	custier_acc_init();
	SET_VARSIZE(s, sizeof(VMState));
	custier_state_reader_init(&r, "custier.value_metrics_state", PG_GETARG_CSTRING(0));
	s->purchases = custier_state_int64(&r, 0, PG_INT64_MAX);
	custier_money_from_numeric(&ms, custier_state_numeric(&r), CurrentMemoryContext);
	if (s->purchases == 0)
	{
		char	   *a = custier_state_token(&r);
		char	   *b = custier_state_token(&r);

		if (a == NULL || b == NULL || strcmp(a, "-") != 0 || strcmp(b, "-") != 0)
			custier_state_bad(&r);
	}
	else
	{
		s->first_purchase = custier_state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
		s->last_purchase = custier_state_int64(&r, PG_INT64_MIN, PG_INT64_MAX);
		if (s->first_purchase > s->last_purchase)
			custier_state_bad(&r);
	}
	custier_state_end(&r);
	if (ms.spill == NULL && ms.specials == 0 && ms.scale <= SMALL_SCALE_MAX &&
		ms.sum <= SMALL_MAX && ms.sum >= SMALL_MIN && s->purchases <= PG_INT32_MAX)
	{
		VMCompact  *c = vm_new();

		c->purchases = (int32) s->purchases;
		c->sum = (int64) ms.sum * (1 << SLOT_SCALE_BITS) + ms.scale;
		c->first_purchase = s->first_purchase;
		c->last_purchase = s->last_purchase;
		PG_RETURN_POINTER(c);
	}
	PG_RETURN_POINTER(vm_with_money(s, &ms));
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

/*
 * on_time_rate(resolved, deadline), the service groups' form: on time when
 * resolved <= deadline; an open row is late once now() has passed its
 * deadline, and left out before that.  Same state as the form above, so it
 * splits on Citus alike.
 */
Datum
custier_deadline_rate_transfn(PG_FUNCTION_ARGS)
{
	RateState  *s;

	if (PG_ARGISNULL(2) ||
		(PG_ARGISNULL(1) && GetCurrentTransactionStartTimestamp() <= PG_GETARG_TIMESTAMPTZ(2)))
	{
		/* no deadline, or open and still has time: not counted */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	s = rate_state(fcinfo);
	s->rows++;
	if (!PG_ARGISNULL(1) && PG_GETARG_TIMESTAMPTZ(1) <= PG_GETARG_TIMESTAMPTZ(2))
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

	custier_state_reader_init(&r, "custier.rate_state", PG_GETARG_CSTRING(0));
	s->hits = custier_state_int64(&r, 0, PG_INT64_MAX);
	s->rows = custier_state_int64(&r, 0, PG_INT64_MAX);
	custier_state_end(&r);
	if (s->hits > s->rows)
		custier_state_bad(&r);
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
custier_recency(PG_FUNCTION_ARGS)
{
	return metrics_since(fcinfo, VM_LAST_PURCHASE);
}

Datum
custier_tenure(PG_FUNCTION_ARGS)
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
custier_frequency(PG_FUNCTION_ARGS)
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
				 errmsg("frequency: per must be positive, not \"%s\"", custier_interval_text(per))));
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
						custier_timestamptz_text(DatumGetTimestampTz(first)), custier_timestamptz_text(as_of)),
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
custier_growth(PG_FUNCTION_ARGS)
{
	Datum		result;

	if (!growth_of(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), &result))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* Period-over-period growth of a period_amounts result (newest first): one element shorter. */
Datum
custier_growth_array(PG_FUNCTION_ARGS)
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
