/*
 * metrics.c — value-metric aggregates (SPEC §2): value_metrics,
 * period_amounts, period_counts, share, on_time_rate, and the scalar helpers
 * recency, tenure, frequency and growth.
 *
 * Amounts are summed exactly without a palloc per row: each numeric is read
 * in place (its on-disk format is stable across versions, pg_upgrade relies
 * on that) and added to a 128-bit integer scaled to the largest display
 * scale seen so far.  A value that does not fit — more than about 38
 * significant digits in all — is added with numeric_add into a "spill"
 * numeric kept in the aggregate context, so every numeric is summed exactly.
 * NaN and ±Infinity follow sum(numeric): NaN, or +Infinity with -Infinity,
 * gives NaN; otherwise an infinity wins.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(custier_value_metrics_transfn);
PG_FUNCTION_INFO_V1(custier_value_metrics_combinefn);
PG_FUNCTION_INFO_V1(custier_value_metrics_serialfn);
PG_FUNCTION_INFO_V1(custier_value_metrics_deserialfn);
PG_FUNCTION_INFO_V1(custier_value_metrics_finalfn);
PG_FUNCTION_INFO_V1(custier_period_amounts_transfn);
PG_FUNCTION_INFO_V1(custier_period_counts_transfn);
PG_FUNCTION_INFO_V1(custier_period_combinefn);
PG_FUNCTION_INFO_V1(custier_period_serialfn);
PG_FUNCTION_INFO_V1(custier_period_deserialfn);
PG_FUNCTION_INFO_V1(custier_period_amounts_finalfn);
PG_FUNCTION_INFO_V1(custier_period_counts_finalfn);
PG_FUNCTION_INFO_V1(custier_share_transfn);
PG_FUNCTION_INFO_V1(custier_on_time_rate_transfn);
PG_FUNCTION_INFO_V1(custier_rate_combinefn);
PG_FUNCTION_INFO_V1(custier_rate_serialfn);
PG_FUNCTION_INFO_V1(custier_rate_deserialfn);
PG_FUNCTION_INFO_V1(custier_rate_finalfn);
PG_FUNCTION_INFO_V1(custier_recency);
PG_FUNCTION_INFO_V1(custier_tenure);
PG_FUNCTION_INFO_V1(custier_frequency);
PG_FUNCTION_INFO_V1(custier_growth);
PG_FUNCTION_INFO_V1(custier_growth_array);

#define PERIODS_MAX 1000

/* ------------------------------------------------------------------------
 * The numeric on-disk format (src/backend/utils/adt/numeric.c keeps these
 * macros private; the format itself is fixed, pg_upgrade depends on it).
 * ------------------------------------------------------------------------
 */
#define NBASE					10000
#define DEC_DIGITS				4
#define NUMERIC_SIGN_MASK		0xC000
#define NUMERIC_POS				0x0000
#define NUMERIC_NEG				0x4000
#define NUMERIC_SHORT			0x8000
#define NUMERIC_SPECIAL			0xC000
#define NUMERIC_NAN				0xC000
#define NUMERIC_PINF			0xD000
#define NUMERIC_NINF			0xF000
#define NUMERIC_SHORT_SIGN_MASK			0x2000
#define NUMERIC_SHORT_DSCALE_MASK		0x1F80
#define NUMERIC_SHORT_DSCALE_SHIFT		7
#define NUMERIC_SHORT_DSCALE_MAX		(NUMERIC_SHORT_DSCALE_MASK >> NUMERIC_SHORT_DSCALE_SHIFT)
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK	0x0040
#define NUMERIC_SHORT_WEIGHT_MASK		0x003F
#define NUMERIC_SHORT_WEIGHT_MAX		NUMERIC_SHORT_WEIGHT_MASK
#define NUMERIC_SHORT_WEIGHT_MIN		(-(NUMERIC_SHORT_WEIGHT_MASK + 1))
#define NUMERIC_DSCALE_MASK		0x3FFF

/* What we need of one numeric, read in place (digits may be unaligned). */
typedef struct NumericView
{
	uint16		special;		/* NUMERIC_NAN/PINF/NINF, or 0 when finite */
	bool		negative;
	int			dscale;
	int			weight;
	int			ndigits;
	const char *digits;			/* ndigits int16 base-NBASE digits, MSD first */
} NumericView;

static inline int16
view_digit(const NumericView *nv, int i)
{
	int16		d;

	memcpy(&d, nv->digits + i * sizeof(int16), sizeof(int16));
	return d;
}

/*
 * Reads a numeric datum without copying it: PG_DETOAST_DATUM_PACKED copies
 * only compressed or out-of-line values (whose copy dies with the row).
 */
static inline void
numeric_view(Datum datum, NumericView *nv)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(datum);
	const char *p = VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v);
	uint16		h;

	memcpy(&h, p, sizeof(uint16));
	if ((h & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
	{
		nv->special = h & 0xF000;
		nv->negative = (nv->special == NUMERIC_NINF);
		nv->dscale = 0;
		nv->weight = 0;
		nv->ndigits = 0;
		nv->digits = NULL;
	}
	else if (h & NUMERIC_SHORT)
	{
		nv->special = 0;
		nv->negative = (h & NUMERIC_SHORT_SIGN_MASK) != 0;
		nv->dscale = (h & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
		nv->weight = ((h & NUMERIC_SHORT_WEIGHT_SIGN_MASK) ? ~NUMERIC_SHORT_WEIGHT_MASK : 0) |
			(h & NUMERIC_SHORT_WEIGHT_MASK);
		nv->digits = p + sizeof(uint16);
		nv->ndigits = (len - sizeof(uint16)) / sizeof(int16);
	}
	else
	{
		int16		w;

		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		nv->special = 0;
		nv->negative = (h & NUMERIC_SIGN_MASK) == NUMERIC_NEG;
		nv->dscale = h & NUMERIC_DSCALE_MASK;
		nv->weight = w;
		nv->digits = p + 2 * sizeof(uint16);
		nv->ndigits = (len - 2 * sizeof(uint16)) / sizeof(int16);
	}
}

/* amount > 0, as SQL compares numerics: NaN sorts above every number. */
static inline bool
numeric_view_positive(const NumericView *nv)
{
	if (nv->special)
		return nv->special != NUMERIC_NINF;
	if (nv->negative)
		return false;
	for (int i = 0; i < nv->ndigits; i++)
		if (view_digit(nv, i) != 0)
			return true;
	return false;
}

static inline bool
numeric_view_zero(const NumericView *nv)
{
	if (nv->special)
		return false;
	for (int i = 0; i < nv->ndigits; i++)
		if (view_digit(nv, i) != 0)
			return false;
	return true;
}

static Numeric
make_special_numeric(uint16 header)
{
	Numeric		n = palloc(VARHDRSZ + sizeof(uint16));

	SET_VARSIZE(n, VARHDRSZ + sizeof(uint16));
	memcpy((char *) n + VARHDRSZ, &header, sizeof(uint16));
	return n;
}

/* ------------------------------------------------------------------------
 * MoneySum: the exact accumulator.
 * ------------------------------------------------------------------------
 */
#ifdef HAVE_INT128
typedef int128 acc_int;
typedef uint128 acc_uint;
#define ACC_DIGITS 38			/* 10^38 < 2^127 */
#else
typedef int64 acc_int;
typedef uint64 acc_uint;
#define ACC_DIGITS 18
#endif
#define ACC_MAX ((acc_int) (((acc_uint) 1 << (sizeof(acc_int) * 8 - 1)) - 1))

static acc_int acc_pow10[ACC_DIGITS + 1];
static acc_int acc_limit[ACC_DIGITS + 1];	/* ACC_MAX / 10^e: no division per row */

static void
acc_tables_init(void)
{
	if (acc_pow10[0] != 0)
		return;
	for (int e = 0; e <= ACC_DIGITS; e++)
	{
		acc_pow10[e] = e == 0 ? 1 : acc_pow10[e - 1] * 10;
		acc_limit[e] = ACC_MAX / acc_pow10[e];
	}
}

/* *a += b; true (leaving *a alone) on overflow. */
static inline bool
acc_add_overflow(acc_int *a, acc_int b)
{
	acc_int		r;

#ifdef HAVE__BUILTIN_OP_OVERFLOW
	if (__builtin_add_overflow(*a, b, &r))
		return true;
#else
	if ((b > 0 && *a > ACC_MAX - b) || (b < 0 && *a < -ACC_MAX - b))
		return true;
	r = *a + b;
#endif
	*a = r;
	return false;
}

/* value × 10^by, false when it does not fit. */
static inline bool
acc_rescale(acc_int *value, int by)
{
	acc_int		v = *value;

	if (v == 0 || by == 0)
		return true;
	if (by > ACC_DIGITS || v > acc_limit[by] || v < -acc_limit[by])
		return false;
	*value = v * acc_pow10[by];
	return true;
}

/* The numeric as an integer × 10^scale (scale >= its dscale); false if it does not fit. */
static inline bool
numeric_view_scaled(const NumericView *nv, int scale, acc_int *result)
{
	int			nd = nv->ndigits;
	int			exp10 = (nv->weight - nd + 1) * DEC_DIGITS + scale;
	acc_int		v;

	if (nd == 0)
	{
		*result = 0;
		return true;
	}
	if (nd <= 4)
	{
		/* Usual amounts: at most 16 decimal digits, plain int64 arithmetic. */
		int64		v64 = 0;

		for (int i = 0; i < nd; i++)
			v64 = v64 * NBASE + view_digit(nv, i);
		if (exp10 < 0)
		{
			int64		q;

			/* Digits past the display scale are zero; divide them away. */
			switch (exp10)
			{
				case -1: q = v64 / 10; if (q * 10 != v64) return false; break;
				case -2: q = v64 / 100; if (q * 100 != v64) return false; break;
				case -3: q = v64 / 1000; if (q * 1000 != v64) return false; break;
				default: return false;
			}
			v64 = q;
			exp10 = 0;
		}
		v = v64;
	}
	else
	{
		v = 0;
		for (int i = 0; i < nd; i++)
		{
			/* v * NBASE alone fits, but adding the digit may not */
			if (v > acc_limit[DEC_DIGITS])
				return false;
			v *= NBASE;
			if (acc_add_overflow(&v, view_digit(nv, i)))
				return false;
		}
		if (exp10 < 0)
		{
			if (exp10 < -(DEC_DIGITS - 1) || v % acc_pow10[-exp10] != 0)
				return false;
			v /= acc_pow10[-exp10];
			exp10 = 0;
		}
	}
	if (exp10 > 0)
	{
		if (exp10 > ACC_DIGITS || v > acc_limit[exp10])
			return false;
		v *= acc_pow10[exp10];
	}
	*result = nv->negative ? -v : v;
	return true;
}

/* value × 10^-scale as a numeric of display scale `scale`, in canonical form. */
static Numeric
scaled_to_numeric(acc_int value, int scale)
{
	bool		negative = value < 0;
	acc_uint	mag = negative ? -(acc_uint) value : (acc_uint) value;
	int16		lsd[ACC_DIGITS / DEC_DIGITS + 4];	/* least significant first */
	int			nd = 0;
	int			frac;			/* NBASE digits after the decimal point */
	int			r = scale % DEC_DIGITS;
	int			weight;
	int			first;
	int			ndigits;
	bool		is_short;
	Size		size;
	Numeric		result;
	char	   *p;
	uint16		header;

	frac = scale / DEC_DIGITS;
	if (r > 0)
	{
		/* the last r decimal digits head the lowest NBASE digit */
		static const int pow10_small[] = {1, 10, 100, 1000};

		lsd[nd++] = (int16) ((mag % pow10_small[r]) * pow10_small[DEC_DIGITS - r]);
		mag /= pow10_small[r];
		frac++;
	}
	while (mag > PG_UINT64_MAX)
	{
		lsd[nd++] = (int16) (mag % NBASE);
		mag /= NBASE;
	}
	{
		uint64		m64 = (uint64) mag;

		while (m64 != 0)
		{
			lsd[nd++] = (int16) (m64 % NBASE);
			m64 /= NBASE;
		}
	}
	/* strip leading (top of lsd) and trailing (bottom) zero digits */
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

	is_short = scale <= NUMERIC_SHORT_DSCALE_MAX &&
		weight <= NUMERIC_SHORT_WEIGHT_MAX && weight >= NUMERIC_SHORT_WEIGHT_MIN;
	size = VARHDRSZ + sizeof(uint16) + (is_short ? 0 : sizeof(int16)) + ndigits * sizeof(int16);
	result = palloc(size);
	SET_VARSIZE(result, size);
	p = (char *) result + VARHDRSZ;
	if (is_short)
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
	return result;
}

#define MONEY_NAN	0x01
#define MONEY_PINF	0x02
#define MONEY_NINF	0x04

typedef struct MoneySum
{
	acc_int		sum;			/* the amounts summed here, × 10^scale */
	Numeric		spill;			/* in the aggregate context: amounts too big for sum, or NULL */
	int32		scale;			/* largest display scale of the amounts in sum */
	uint8		specials;		/* MONEY_* seen */
} MoneySum;

/* spill += n (n in any context; the new spill lives in aggcxt). */
static void
money_spill(MoneySum *ms, Numeric n, MemoryContext aggcxt)
{
	Numeric		total = ms->spill
		? DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(ms->spill), NumericGetDatum(n)))
		: n;
	Numeric		copy = MemoryContextAlloc(aggcxt, VARSIZE(total));

	memcpy(copy, total, VARSIZE(total));
	if (ms->spill)
		pfree(ms->spill);
	ms->spill = copy;
}

/* Moves sum into spill (sum overflowed), keeping the scale. */
static void
money_flush(MoneySum *ms, MemoryContext aggcxt)
{
	money_spill(ms, scaled_to_numeric(ms->sum, ms->scale), aggcxt);
	ms->sum = 0;
}

/* Raises sum's scale to `scale`, flushing it first if it would overflow. */
static void
money_raise_scale(MoneySum *ms, int scale, MemoryContext aggcxt)
{
	if (scale <= ms->scale)
		return;
	if (!acc_rescale(&ms->sum, scale - ms->scale))
		money_flush(ms, aggcxt);
	ms->scale = scale;
}

static inline void
money_add(MoneySum *ms, const NumericView *nv, Datum amount, MemoryContext aggcxt)
{
	acc_int		v;
	int			scale;

	if (nv->special)
	{
		ms->specials |= nv->special == NUMERIC_NAN ? MONEY_NAN :
			nv->special == NUMERIC_PINF ? MONEY_PINF : MONEY_NINF;
		return;
	}
	scale = Max(ms->scale, nv->dscale);
	if (likely(numeric_view_scaled(nv, scale, &v)))
	{
		if (unlikely(scale > ms->scale))
			money_raise_scale(ms, scale, aggcxt);
		if (likely(!acc_add_overflow(&ms->sum, v)))
			return;
		money_flush(ms, aggcxt);
		ms->sum = v;
		return;
	}
	/* too many digits for the integer: exact numeric arithmetic, rarely */
	money_spill(ms, DatumGetNumeric(amount), aggcxt);
}

/* a += b */
static void
money_merge(MoneySum *a, const MoneySum *b, MemoryContext aggcxt)
{
	acc_int		bv = b->sum;

	a->specials |= b->specials;
	if (b->spill)
		money_spill(a, b->spill, aggcxt);
	money_raise_scale(a, b->scale, aggcxt);
	if (!acc_rescale(&bv, a->scale - b->scale))
	{
		money_spill(a, scaled_to_numeric(b->sum, b->scale), aggcxt);
		return;
	}
	if (acc_add_overflow(&a->sum, bv))
	{
		money_flush(a, aggcxt);
		a->sum = bv;
	}
}

/* The exact total, in the current memory context. */
static Numeric
money_result(const MoneySum *ms)
{
	Numeric		n;

	if ((ms->specials & MONEY_NAN) ||
		(ms->specials & (MONEY_PINF | MONEY_NINF)) == (MONEY_PINF | MONEY_NINF))
		return make_special_numeric(NUMERIC_NAN);
	if (ms->specials & MONEY_PINF)
		return make_special_numeric(NUMERIC_PINF);
	if (ms->specials & MONEY_NINF)
		return make_special_numeric(NUMERIC_NINF);
	n = scaled_to_numeric(ms->sum, ms->scale);
	if (ms->spill)
		n = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(ms->spill), NumericGetDatum(n)));
	return n;
}

static void
money_send(StringInfo buf, const MoneySum *ms)
{
#ifdef HAVE_INT128
	pq_sendint64(buf, (int64) (ms->sum >> 64));
	pq_sendint64(buf, (int64) (uint64) ms->sum);
#else
	pq_sendint64(buf, ms->sum);
#endif
	pq_sendint32(buf, ms->scale);
	pq_sendbyte(buf, ms->specials);
	if (ms->spill)
	{
		pq_sendint32(buf, VARSIZE(ms->spill));
		pq_sendbytes(buf, (char *) ms->spill, VARSIZE(ms->spill));
	}
	else
		pq_sendint32(buf, 0);
}

/*
 * A spill read from a serialized state is handed to numeric_add, which trusts
 * its header: check that it is a finite numeric whose header fits its size and
 * whose digits are base-NBASE digits.
 */
static bool
spill_valid(Numeric n)
{
	const char *p = VARDATA(n);
	int			len = VARSIZE(n) - VARHDRSZ;
	int			header;
	uint16		h;

	memcpy(&h, p, sizeof(uint16));
	if ((h & NUMERIC_SIGN_MASK) == NUMERIC_SPECIAL)
		return false;
	header = (h & NUMERIC_SHORT) ? sizeof(uint16) : 2 * sizeof(uint16);
	if (len < header || (len - header) % sizeof(int16) != 0)
		return false;
	for (int off = header; off < len; off += sizeof(int16))
	{
		int16		d;

		memcpy(&d, p + off, sizeof(int16));
		if (d < 0 || d >= NBASE)
			return false;
	}
	return true;
}

/* Reads what money_send wrote; the spill is allocated in the current context. */
static void
money_recv(StringInfo buf, MoneySum *ms)
{
	int32		len;

#ifdef HAVE_INT128
	int64		hi = pq_getmsgint64(buf);
	uint64		lo = (uint64) pq_getmsgint64(buf);

	ms->sum = (acc_int) (((acc_uint) (uint64) hi << 64) | lo);
#else
	ms->sum = pq_getmsgint64(buf);
#endif
	ms->scale = pq_getmsgint(buf, 4);
	ms->specials = pq_getmsgbyte(buf);
	if (ms->scale < 0 || ms->scale > NUMERIC_DSCALE_MASK || (ms->specials & ~0x07))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid serialized custier aggregate state")));
	len = pq_getmsgint(buf, 4);
	ms->spill = NULL;
	if (len != 0)
	{
		if (len < (int32) (VARHDRSZ + sizeof(uint16)) || len > buf->len - buf->cursor)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid serialized custier aggregate state")));
		ms->spill = palloc(len);
		pq_copymsgbytes(buf, (char *) ms->spill, len);
		if (VARSIZE(ms->spill) != (Size) len || !spill_valid(ms->spill))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid serialized custier aggregate state")));
	}
}

static MemoryContext
aggregate_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggcxt;
}

static bytea *
finish_serial(StringInfo buf)
{
	return pq_endtypsend(buf);
}

static void
start_deserial(StringInfo buf, bytea *b)
{
	/* read-only view of the bytea (PG 17's initReadOnlyStringInfo does this) */
	buf->data = VARDATA_ANY(b);
	buf->len = VARSIZE_ANY_EXHDR(b);
	buf->maxlen = buf->len;
	buf->cursor = 0;
}

/* ------------------------------------------------------------------------
 * value_metrics(at timestamptz, amount numeric) → custier.value_metrics
 * ------------------------------------------------------------------------
 */
typedef struct ValueMetricsState
{
	MoneySum	monetary;		/* every amount, refunds included */
	int64		purchases;		/* rows with amount > 0 */
	TimestampTz first_purchase; /* valid when purchases > 0 */
	TimestampTz last_purchase;
} ValueMetricsState;

static ValueMetricsState *
value_metrics_new(MemoryContext aggcxt)
{
	acc_tables_init();
	return MemoryContextAllocZero(aggcxt, sizeof(ValueMetricsState));
}

Datum
custier_value_metrics_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "value_metrics_transfn");
	ValueMetricsState *state = PG_ARGISNULL(0) ? NULL : (ValueMetricsState *) PG_GETARG_POINTER(0);
	NumericView nv;
	TimestampTz at;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	if (state == NULL)
		state = value_metrics_new(aggcxt);

	at = PG_GETARG_TIMESTAMPTZ(1);
	numeric_view(PG_GETARG_DATUM(2), &nv);
	money_add(&state->monetary, &nv, PG_GETARG_DATUM(2), aggcxt);
	if (numeric_view_positive(&nv))
	{
		if (state->purchases == 0 || at < state->first_purchase)
			state->first_purchase = at;
		if (state->purchases == 0 || at > state->last_purchase)
			state->last_purchase = at;
		state->purchases++;
	}
	PG_RETURN_POINTER(state);
}

static void
value_metrics_merge(ValueMetricsState *a, const ValueMetricsState *b, MemoryContext aggcxt)
{
	money_merge(&a->monetary, &b->monetary, aggcxt);
	if (b->purchases > 0)
	{
		if (a->purchases == 0 || b->first_purchase < a->first_purchase)
			a->first_purchase = b->first_purchase;
		if (a->purchases == 0 || b->last_purchase > a->last_purchase)
			a->last_purchase = b->last_purchase;
		a->purchases += b->purchases;
	}
}

Datum
custier_value_metrics_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "value_metrics_combinefn");
	ValueMetricsState *a = PG_ARGISNULL(0) ? NULL : (ValueMetricsState *) PG_GETARG_POINTER(0);
	ValueMetricsState *b = PG_ARGISNULL(1) ? NULL : (ValueMetricsState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	/* b may live in a per-row context (deserialized): merge into a fresh state */
	if (a == NULL)
		a = value_metrics_new(aggcxt);
	value_metrics_merge(a, b, aggcxt);
	PG_RETURN_POINTER(a);
}

Datum
custier_value_metrics_serialfn(PG_FUNCTION_ARGS)
{
	ValueMetricsState *state;
	StringInfoData buf;

	aggregate_context(fcinfo, "value_metrics_serialfn");
	state = (ValueMetricsState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	money_send(&buf, &state->monetary);
	pq_sendint64(&buf, state->purchases);
	pq_sendint64(&buf, state->first_purchase);
	pq_sendint64(&buf, state->last_purchase);
	PG_RETURN_BYTEA_P(finish_serial(&buf));
}

Datum
custier_value_metrics_deserialfn(PG_FUNCTION_ARGS)
{
	ValueMetricsState *state;
	StringInfoData buf;

	aggregate_context(fcinfo, "value_metrics_deserialfn");
	start_deserial(&buf, PG_GETARG_BYTEA_PP(0));
	state = palloc0(sizeof(ValueMetricsState));
	money_recv(&buf, &state->monetary);
	state->purchases = pq_getmsgint64(&buf);
	state->first_purchase = pq_getmsgint64(&buf);
	state->last_purchase = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
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
	ValueMetricsState *state;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	Numeric		monetary;

	aggregate_context(fcinfo, "value_metrics_finalfn");
	state = PG_ARGISNULL(0) ? NULL : (ValueMetricsState *) PG_GETARG_POINTER(0);
	tupdesc = result_tupdesc(fcinfo);

	monetary = state ? money_result(&state->monetary) : scaled_to_numeric(0, 0);
	values[0] = Int64GetDatum(state ? state->purchases : 0);
	values[1] = NumericGetDatum(monetary);
	if (state && state->purchases > 0)
	{
		values[2] = TimestampTzGetDatum(state->first_purchase);
		values[3] = TimestampTzGetDatum(state->last_purchase);
		values[4] = DirectFunctionCall2(numeric_div, NumericGetDatum(monetary),
										NumericGetDatum(int64_to_numeric(state->purchases)));
	}
	else
		nulls[2] = nulls[3] = nulls[4] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* ------------------------------------------------------------------------
 * period_amounts / period_counts(at, amount, as_of, period, periods)
 *
 * Bucket k (1-based) holds as_of - k*period < at <= as_of - (k-1)*period;
 * each row finds its bucket by binary search over the boundaries.
 * ------------------------------------------------------------------------
 */
/*
 * as_of, period and periods describe the whole group (and, in practice, the
 * whole statement), so they live once in a PeriodParams that the groups'
 * states point to: a call site keeps the first PERIOD_PARAMS_SHARED sets of
 * values it sees in fn_extra for the query (under fn_mcxt), each shared by
 * every group passing the same values (as_of often varies by segment, not by
 * customer); a group passing yet other values gets its own, in the
 * aggregate context.  The boundaries are computed with timestamptz - interval (so
 * months and days follow the session TimeZone) once per PeriodParams and
 * TimeZone.
 */
typedef struct PeriodParams
{
	TimestampTz as_of;
	Interval	period;
	int32		periods;
	bool		amounts;		/* period_amounts (sums) or period_counts (counts) */
	pg_tz	   *tz;				/* the TimeZone of bounds, NULL before they are computed */
	TimestampTz bounds[FLEXIBLE_ARRAY_MEMBER];	/* periods + 1, decreasing */
} PeriodParams;

#define PERIOD_PARAMS_SHARED 16

/* A call site's shared PeriodParams (fn_extra, under fn_mcxt). */
typedef struct PeriodParamsSet
{
	int			n;
	PeriodParams *params[PERIOD_PARAMS_SHARED];
} PeriodParamsSet;

/*
 * A group's state is kept small (128 bytes for 12 periods, the allocator's
 * size class) because hash aggregation holds one per group: a pointer to the
 * shared parameters, then for period_amounts one display-scale byte per
 * period (padded to 8) and one int64 sum per period × 10^-scale, while they
 * fit; the first amount that does not (or a NaN/±Infinity) switches the
 * group to full MoneySums in `wide`.  period_counts keeps one int64 count
 * per period.
 */
typedef struct PeriodState
{
	PeriodParams *params;
	MoneySum   *wide;
} PeriodState;

#define SMALL_SCALE_MAX 18

static inline uint8 *
period_scales(PeriodState *state)
{
	return (uint8 *) (state + 1);
}

/* period_amounts' int64 sums, or period_counts' counts */
static inline int64 *
period_slots(PeriodState *state)
{
	return (int64 *) ((char *) (state + 1) +
					  (state->params->amounts ? TYPEALIGN(sizeof(int64), state->params->periods) : 0));
}

/* *sum (at *scale) += v (at vscale); false, changing nothing, when it does not fit. */
static inline bool
small_add(int64 *sum, uint8 *scale, acc_int v, int vscale)
{
	int			s = Max(*scale, vscale);
	acc_int		cur = *sum;
	acc_int		total;

	if (s > SMALL_SCALE_MAX || !acc_rescale(&v, s - vscale) || !acc_rescale(&cur, s - *scale))
		return false;
	/* v (an amount of up to 38 digits) need not be below 2^63: check the add */
	total = cur;
	if (acc_add_overflow(&total, v) || total > PG_INT64_MAX || total < PG_INT64_MIN)
		return false;
	*sum = (int64) total;
	*scale = (uint8) s;
	return true;
}

/* Bucket k as a MoneySum, whichever form it is kept in. */
static inline MoneySum
period_money(PeriodState *state, int k)
{
	MoneySum	ms = {0};

	if (state->wide)
		return state->wide[k];
	ms.sum = period_slots(state)[k];
	ms.scale = period_scales(state)[k];
	return ms;
}

static void
period_widen(PeriodState *state, MemoryContext cxt)
{
	MoneySum   *wide = MemoryContextAllocZero(cxt, sizeof(MoneySum) * state->params->periods);

	for (int k = 0; k < state->params->periods; k++)
		wide[k] = period_money(state, k);
	state->wide = wide;
}

static inline bool
interval_identical(const Interval *a, const Interval *b)
{
	/* field by field: '1 mon' and '30 days' are equal intervals but not equal periods */
	return a->time == b->time && a->day == b->day && a->month == b->month;
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

static const char *
period_fname(bool amounts)
{
	return amounts ? "period_amounts" : "period_counts";
}

static void
period_check_args(bool amounts, const Interval *period, int32 periods)
{
	if (periods < 1 || periods > PERIODS_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: periods must be between 1 and %d, not %d",
						period_fname(amounts), PERIODS_MAX, periods)));
	if (period->month < 0 || period->day < 0 || period->time < 0 ||
		(period->month == 0 && period->day == 0 && period->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: period must be positive, not \"%s\"",
						period_fname(amounts), interval_text(period)),
				 errhint("A period is an interval such as '1 month' or '7 days' with no negative part.")));
}

static inline bool
period_params_match(const PeriodParams *params, TimestampTz as_of, const Interval *period, int32 periods)
{
	return params->as_of == as_of && interval_identical(&params->period, period) &&
		params->periods == periods;
}

#define PERIOD_SAME_HINT "as_of, period and periods describe the whole group: pass the same value on every row."

static void
period_check_same(const PeriodParams *params, TimestampTz as_of, const Interval *period, int32 periods)
{
	const char *fname = period_fname(params->amounts);

	if (params->as_of != as_of)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: as_of differs within a group: \"%s\" and \"%s\"",
						fname, timestamptz_text(params->as_of), timestamptz_text(as_of)),
				 errhint(PERIOD_SAME_HINT)));
	if (!interval_identical(&params->period, period))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: period differs within a group: \"%s\" and \"%s\"",
						fname, interval_text(&params->period), interval_text(period)),
				 errhint(PERIOD_SAME_HINT)));
	if (params->periods != periods)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: periods differs within a group: %d and %d",
						fname, params->periods, periods),
				 errhint(PERIOD_SAME_HINT)));
}

static PeriodParams *
period_params_new(MemoryContext cxt, bool amounts, TimestampTz as_of, const Interval *period, int32 periods)
{
	PeriodParams *params = MemoryContextAlloc(cxt, offsetof(PeriodParams, bounds) +
											  (periods + 1) * sizeof(TimestampTz));

	params->as_of = as_of;
	params->period = *period;
	params->periods = periods;
	params->amounts = amounts;
	params->tz = NULL;
	return params;
}

/*
 * The PeriodParams for a new state (arguments already checked): one of the
 * call site's shared ones when the values match, a new shared one while
 * there is room, else a new one in cxt, where the state goes.
 */
static PeriodParams *
period_params(FunctionCallInfo fcinfo, MemoryContext cxt, bool amounts,
			  TimestampTz as_of, const Interval *period, int32 periods)
{
	PeriodParamsSet *set = (PeriodParamsSet *) fcinfo->flinfo->fn_extra;

	if (set == NULL)
	{
		set = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PeriodParamsSet));
		fcinfo->flinfo->fn_extra = set;
	}
	/* once per new group, not per row: a linear search is enough */
	for (int i = 0; i < set->n; i++)
		if (set->params[i]->amounts == amounts &&
			period_params_match(set->params[i], as_of, period, periods))
			return set->params[i];
	if (set->n < PERIOD_PARAMS_SHARED)
		return set->params[set->n++] =
			period_params_new(fcinfo->flinfo->fn_mcxt, amounts, as_of, period, periods);
	return period_params_new(cxt, amounts, as_of, period, periods);
}

static PeriodState *
period_new(MemoryContext cxt, PeriodParams *params)
{
	int			periods = params->periods;
	Size		size = sizeof(PeriodState) + sizeof(int64) * periods +
		(params->amounts ? TYPEALIGN(sizeof(int64), periods) : 0);
	PeriodState *state = MemoryContextAllocZero(cxt, size);

	StaticAssertStmt(sizeof(PeriodState) % sizeof(int64) == 0, "PeriodState must keep the int64 slots aligned");
	acc_tables_init();
	state->params = params;
	return state;
}

/* Adds one amount to bucket k of a period_amounts state. */
static inline void
period_add_amount(FunctionCallInfo fcinfo, PeriodState *state, int k, const NumericView *nv, Datum amount)
{
	acc_int		v;

	if (likely(state->wide == NULL))
	{
		if (likely(!nv->special && nv->dscale <= SMALL_SCALE_MAX &&
				   numeric_view_scaled(nv, nv->dscale, &v) &&
				   small_add(&period_slots(state)[k], &period_scales(state)[k], v, nv->dscale)))
			return;
		period_widen(state, aggregate_context(fcinfo, "period_transfn"));
	}
	money_add(&state->wide[k], nv, amount, aggregate_context(fcinfo, "period_transfn"));
}

static pg_noinline void
period_compute_bounds(PeriodParams *params)
{
	params->tz = NULL;			/* not valid until complete */
	params->bounds[0] = params->as_of;
	for (int k = 1; k <= params->periods; k++)
	{
		Interval	span;

		if (pg_mul_s32_overflow(params->period.month, k, &span.month) ||
			pg_mul_s32_overflow(params->period.day, k, &span.day) ||
			pg_mul_s64_overflow(params->period.time, k, &span.time))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("%s: %d periods of \"%s\" are out of the interval range",
							period_fname(params->amounts), k, interval_text(&params->period))));
		params->bounds[k] = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																	TimestampTzGetDatum(params->as_of),
																	IntervalPGetDatum(&span)));
	}
	params->tz = session_timezone;
}

/* 0-based bucket of `at`, or -1 when it is in no period. */
static inline int
period_bucket(PeriodParams *params, TimestampTz at)
{
	const TimestampTz *bounds;
	const TimestampTz *b;
	int			n = params->periods;

	if (unlikely(params->tz != session_timezone))
		period_compute_bounds(params);
	bounds = params->bounds;
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

static Datum
period_transfn_common(FunctionCallInfo fcinfo, bool amounts)
{
	PeriodState *state = PG_ARGISNULL(0) ? NULL : (PeriodState *) PG_GETARG_POINTER(0);
	TimestampTz at;
	TimestampTz as_of;
	Interval   *period;
	int32		periods;
	NumericView nv;
	int			k;

	if (unlikely(PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
				 PG_ARGISNULL(4) || PG_ARGISNULL(5)))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	at = PG_GETARG_TIMESTAMPTZ(1);
	as_of = PG_GETARG_TIMESTAMPTZ(3);
	period = PG_GETARG_INTERVAL_P(4);
	periods = PG_GETARG_INT32(5);
	if (state == NULL)
	{
		MemoryContext aggcxt = aggregate_context(fcinfo, "period_transfn");

		period_check_args(amounts, period, periods);
		state = period_new(aggcxt, period_params(fcinfo, aggcxt, amounts, as_of, period, periods));
	}
	else if (unlikely(!period_params_match(state->params, as_of, period, periods)))
		period_check_same(state->params, as_of, period, periods);

	numeric_view(PG_GETARG_DATUM(2), &nv);
	if (!amounts && !numeric_view_positive(&nv))
		PG_RETURN_POINTER(state);
	k = period_bucket(state->params, at);
	if (k >= 0)
	{
		if (amounts)
			period_add_amount(fcinfo, state, k, &nv, PG_GETARG_DATUM(2));
		else
			period_slots(state)[k]++;
	}
	PG_RETURN_POINTER(state);
}

Datum
custier_period_amounts_transfn(PG_FUNCTION_ARGS)
{
	return period_transfn_common(fcinfo, true);
}

Datum
custier_period_counts_transfn(PG_FUNCTION_ARGS)
{
	return period_transfn_common(fcinfo, false);
}

Datum
custier_period_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "period_combinefn");
	PeriodState *a = PG_ARGISNULL(0) ? NULL : (PeriodState *) PG_GETARG_POINTER(0);
	PeriodState *b = PG_ARGISNULL(1) ? NULL : (PeriodState *) PG_GETARG_POINTER(1);
	PeriodParams *bp;

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	bp = b->params;
	/* b (deserialized in a short-lived context) may not outlive a: intern its parameters */
	if (a == NULL)
		a = period_new(aggcxt, period_params(fcinfo, aggcxt, bp->amounts, bp->as_of, &bp->period, bp->periods));
	else if (a->params != bp && !period_params_match(a->params, bp->as_of, &bp->period, bp->periods))
		period_check_same(a->params, bp->as_of, &bp->period, bp->periods);
	if (a->params->amounts != bp->amounts)
		elog(ERROR, "period_combinefn: mixed period_amounts and period_counts states");
	for (int k = 0; k < bp->periods; k++)
	{
		MoneySum	bk;

		if (!bp->amounts)
		{
			period_slots(a)[k] += period_slots(b)[k];
			continue;
		}
		bk = period_money(b, k);
		if (a->wide == NULL && bk.specials == 0 && bk.spill == NULL &&
			small_add(&period_slots(a)[k], &period_scales(a)[k], bk.sum, bk.scale))
			continue;
		if (a->wide == NULL)
			period_widen(a, aggcxt);
		money_merge(&a->wide[k], &bk, aggcxt);
	}
	PG_RETURN_POINTER(a);
}

Datum
custier_period_serialfn(PG_FUNCTION_ARGS)
{
	PeriodState *state;
	PeriodParams *params;
	StringInfoData buf;

	aggregate_context(fcinfo, "period_serialfn");
	state = (PeriodState *) PG_GETARG_POINTER(0);
	params = state->params;
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, params->amounts ? 1 : 0);
	pq_sendint64(&buf, params->as_of);
	pq_sendint64(&buf, params->period.time);
	pq_sendint32(&buf, params->period.day);
	pq_sendint32(&buf, params->period.month);
	pq_sendint32(&buf, params->periods);
	for (int k = 0; k < params->periods; k++)
	{
		if (params->amounts)
		{
			MoneySum	ms = period_money(state, k);

			money_send(&buf, &ms);
		}
		else
			pq_sendint64(&buf, period_slots(state)[k]);
	}
	PG_RETURN_BYTEA_P(finish_serial(&buf));
}

Datum
custier_period_deserialfn(PG_FUNCTION_ARGS)
{
	PeriodState *state;
	StringInfoData buf;
	bool		amounts;
	TimestampTz as_of;
	Interval	period;
	int32		periods;

	aggregate_context(fcinfo, "period_deserialfn");
	start_deserial(&buf, PG_GETARG_BYTEA_PP(0));
	amounts = pq_getmsgbyte(&buf) != 0;
	as_of = pq_getmsgint64(&buf);
	period.time = pq_getmsgint64(&buf);
	period.day = pq_getmsgint(&buf, 4);
	period.month = pq_getmsgint(&buf, 4);
	periods = pq_getmsgint(&buf, 4);
	period_check_args(amounts, &period, periods);
	state = period_new(CurrentMemoryContext,
					   period_params(fcinfo, CurrentMemoryContext, amounts, as_of, &period, periods));
	if (amounts)
		period_widen(state, CurrentMemoryContext);
	for (int k = 0; k < periods; k++)
	{
		if (amounts)
			money_recv(&buf, &state->wide[k]);
		else
			period_slots(state)[k] = pq_getmsgint64(&buf);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* NULL over no rows: the length of the result is an argument we never saw. */
Datum
custier_period_amounts_finalfn(PG_FUNCTION_ARGS)
{
	PeriodState *state;
	int			periods;
	Datum	   *elems;

	aggregate_context(fcinfo, "period_amounts_finalfn");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (PeriodState *) PG_GETARG_POINTER(0);
	periods = state->params->periods;
	elems = palloc(periods * sizeof(Datum));
	for (int k = 0; k < periods; k++)
	{
		MoneySum	ms = period_money(state, k);

		elems[k] = NumericGetDatum(money_result(&ms));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, periods, NUMERICOID, -1, false, TYPALIGN_INT));
}

Datum
custier_period_counts_finalfn(PG_FUNCTION_ARGS)
{
	PeriodState *state;
	int			periods;
	int64	   *counts;
	Datum	   *elems;

	aggregate_context(fcinfo, "period_counts_finalfn");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (PeriodState *) PG_GETARG_POINTER(0);
	periods = state->params->periods;
	counts = period_slots(state);
	elems = palloc(periods * sizeof(Datum));
	for (int k = 0; k < periods; k++)
	{
		if (counts[k] > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("period_counts: %lld purchases in period %d are out of range for type integer",
							(long long) counts[k], k + 1)));
		elems[k] = Int32GetDatum((int32) counts[k]);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, periods, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* ------------------------------------------------------------------------
 * share(condition) and on_time_rate(opened, resolved, allowed): percentages
 * of counted rows; both keep two counters and share the support functions.
 * ------------------------------------------------------------------------
 */
typedef struct RateState
{
	int64		hits;
	int64		rows;
} RateState;

static RateState *
rate_state(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	if (!PG_ARGISNULL(0))
		return (RateState *) PG_GETARG_POINTER(0);
	return MemoryContextAllocZero(aggcxt, sizeof(RateState));
}

Datum
custier_share_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "share_transfn");
	RateState  *state;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	state = rate_state(fcinfo, aggcxt);
	state->rows++;
	if (PG_GETARG_BOOL(1))
		state->hits++;
	PG_RETURN_POINTER(state);
}

/*
 * A resolved ticket is on time when resolved <= opened + allowed (calendar
 * arithmetic in the session TimeZone).  An open one is late once now() has
 * passed opened + allowed, and left out before that.
 */
Datum
custier_on_time_rate_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "on_time_rate_transfn");
	RateState  *state;
	TimestampTz deadline;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(3))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   PG_GETARG_DATUM(1), PG_GETARG_DATUM(3)));
	if (PG_ARGISNULL(2))
	{
		if (GetCurrentTransactionStartTimestamp() <= deadline)
		{
			/* still has time: not counted */
			if (PG_ARGISNULL(0))
				PG_RETURN_NULL();
			PG_RETURN_POINTER(PG_GETARG_POINTER(0));
		}
		state = rate_state(fcinfo, aggcxt);
		state->rows++;
		PG_RETURN_POINTER(state);
	}
	state = rate_state(fcinfo, aggcxt);
	state->rows++;
	if (PG_GETARG_TIMESTAMPTZ(2) <= deadline)
		state->hits++;
	PG_RETURN_POINTER(state);
}

Datum
custier_rate_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "rate_combinefn");
	RateState  *a = PG_ARGISNULL(0) ? NULL : (RateState *) PG_GETARG_POINTER(0);
	RateState  *b = PG_ARGISNULL(1) ? NULL : (RateState *) PG_GETARG_POINTER(1);

	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	if (a == NULL)
		a = MemoryContextAllocZero(aggcxt, sizeof(RateState));
	a->hits += b->hits;
	a->rows += b->rows;
	PG_RETURN_POINTER(a);
}

Datum
custier_rate_serialfn(PG_FUNCTION_ARGS)
{
	RateState  *state;
	StringInfoData buf;

	aggregate_context(fcinfo, "rate_serialfn");
	state = (RateState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->hits);
	pq_sendint64(&buf, state->rows);
	PG_RETURN_BYTEA_P(finish_serial(&buf));
}

Datum
custier_rate_deserialfn(PG_FUNCTION_ARGS)
{
	RateState  *state;
	StringInfoData buf;

	aggregate_context(fcinfo, "rate_deserialfn");
	start_deserial(&buf, PG_GETARG_BYTEA_PP(0));
	state = palloc(sizeof(RateState));
	state->hits = pq_getmsgint64(&buf);
	state->rows = pq_getmsgint64(&buf);
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* 100 × hits / rows with numeric division's scale; NULL when nothing counted. */
Datum
custier_rate_finalfn(PG_FUNCTION_ARGS)
{
	RateState  *state;
	Datum		hits;

	aggregate_context(fcinfo, "rate_finalfn");
	state = PG_ARGISNULL(0) ? NULL : (RateState *) PG_GETARG_POINTER(0);
	if (state == NULL || state->rows == 0)
		PG_RETURN_NULL();
	hits = DirectFunctionCall2(numeric_mul, NumericGetDatum(int64_to_numeric(state->hits)),
							   NumericGetDatum(int64_to_numeric(100)));
	PG_RETURN_DATUM(DirectFunctionCall2(numeric_div, hits,
										NumericGetDatum(int64_to_numeric(state->rows))));
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
