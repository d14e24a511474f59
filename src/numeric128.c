/*
 * numeric128.c — the exact accumulator of the value-metric aggregates: a
 * 128-bit integer scaled to the largest display scale seen, with a numeric
 * "spill" for what does not fit (see numeric128.h).  Tested on its own by
 * test/pgtap/numeric128.sql through the aggregates' results.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "numeric128.h"

acc_int		custier_acc_pow10[ACC_DIGITS + 1];
acc_int		custier_acc_limit[ACC_DIGITS + 1];

void
custier_acc_init(void)
{
	if (custier_acc_pow10[0] != 0)
		return;
	for (int e = 0; e <= ACC_DIGITS; e++)
	{
		custier_acc_pow10[e] = e == 0 ? 1 : custier_acc_pow10[e - 1] * 10;
		custier_acc_limit[e] = ACC_MAX / custier_acc_pow10[e];
	}
}

Numeric
custier_numeric_special(uint16 header)
{
	Numeric		n = palloc(VARHDRSZ + sizeof(uint16));

	SET_VARSIZE(n, VARHDRSZ + sizeof(uint16));
	memcpy((char *) n + VARHDRSZ, &header, sizeof(uint16));
	return n;
}

/*
 * value × 10^-scale as a numeric of display scale `scale`, in canonical form
 * (no leading or trailing zero digits, the short header when it fits), in
 * two steps so that a caller can place the numeric where it wants it: an
 * array's elements are written straight into the array.
 */
Size
custier_scaled_prepare(acc_int value, int scale, ScaledNumeric *sn)
{
	bool		negative = value < 0;
	acc_uint	mag = negative ? -(acc_uint) value : (acc_uint) value;
	int			nd = 0;
	int			frac;			/* NBASE digits after the decimal point */
	int			r = scale % DEC_DIGITS;
	int			first;
	static const int pow10_small[] = {1, 10, 100, 1000};

	if (value == 0)
	{
		/* no digits, weight 0, positive: most of period_amounts' periods */
		sn->nd = sn->first = sn->weight = 0;
		sn->negative = false;
		sn->scale = scale;
		sn->is_short = scale <= NUMERIC_SHORT_DSCALE_MAX;
		return VARHDRSZ + sizeof(uint16) + (sn->is_short ? 0 : sizeof(int16));
	}
	frac = scale / DEC_DIGITS;
	if (r > 0)
		frac++;
	if (mag <= PG_UINT64_MAX)
	{
		/* the usual case, in 64-bit arithmetic */
		uint64		m64 = (uint64) mag;

		if (r > 0)
		{
			/* the last r decimal digits head the lowest NBASE digit */
			sn->lsd[nd++] = (int16) ((m64 % pow10_small[r]) * pow10_small[DEC_DIGITS - r]);
			m64 /= pow10_small[r];
		}
		while (m64 != 0)
		{
			sn->lsd[nd++] = (int16) (m64 % NBASE);
			m64 /= NBASE;
		}
	}
	else
	{
		uint64		m64;

		if (r > 0)
		{
			sn->lsd[nd++] = (int16) ((mag % pow10_small[r]) * pow10_small[DEC_DIGITS - r]);
			mag /= pow10_small[r];
		}
		while (mag > PG_UINT64_MAX)
		{
			sn->lsd[nd++] = (int16) (mag % NBASE);
			mag /= NBASE;
		}
		m64 = (uint64) mag;
		while (m64 != 0)
		{
			sn->lsd[nd++] = (int16) (m64 % NBASE);
			m64 /= NBASE;
		}
	}
	/* strip leading (top of lsd) and trailing (bottom) zero digits */
	while (nd > 0 && sn->lsd[nd - 1] == 0)
		nd--;
	sn->weight = nd - 1 - frac;
	first = 0;
	while (first < nd && sn->lsd[first] == 0)
		first++;
	if (nd - first == 0)
	{
		sn->weight = 0;
		negative = false;
	}
	sn->nd = nd;
	sn->first = first;
	sn->negative = negative;
	sn->scale = scale;
	sn->is_short = scale <= NUMERIC_SHORT_DSCALE_MAX &&
		sn->weight <= NUMERIC_SHORT_WEIGHT_MAX && sn->weight >= NUMERIC_SHORT_WEIGHT_MIN;
	return VARHDRSZ + sizeof(uint16) + (sn->is_short ? 0 : sizeof(int16)) + (nd - first) * sizeof(int16);
}

/* Writes the numeric custier_scaled_prepare described (its size bytes) at dst. */
void
custier_scaled_write(const ScaledNumeric *sn, char *dst)
{
	char	   *p = dst + VARHDRSZ;
	uint16		header;

	SET_VARSIZE(dst, VARHDRSZ + sizeof(uint16) + (sn->is_short ? 0 : sizeof(int16)) +
				(sn->nd - sn->first) * sizeof(int16));
	if (sn->is_short)
	{
		header = NUMERIC_SHORT |
			(sn->negative ? NUMERIC_SHORT_SIGN_MASK : 0) |
			(sn->scale << NUMERIC_SHORT_DSCALE_SHIFT) |
			(sn->weight < 0 ? NUMERIC_SHORT_WEIGHT_SIGN_MASK : 0) |
			(sn->weight & NUMERIC_SHORT_WEIGHT_MASK);
		memcpy(p, &header, sizeof(uint16));
		p += sizeof(uint16);
	}
	else
	{
		int16		w = (int16) sn->weight;

		header = (sn->negative ? NUMERIC_NEG : NUMERIC_POS) | (sn->scale & NUMERIC_DSCALE_MASK);
		memcpy(p, &header, sizeof(uint16));
		memcpy(p + sizeof(uint16), &w, sizeof(int16));
		p += 2 * sizeof(uint16);
	}
	for (int i = sn->nd - 1; i >= sn->first; i--)
	{
		memcpy(p, &sn->lsd[i], sizeof(int16));
		p += sizeof(int16);
	}
}

/* value × 10^-scale as a numeric of display scale `scale`, in canonical form. */
Numeric
custier_scaled_to_numeric(acc_int value, int scale)
{
	ScaledNumeric sn;
	Numeric		result = palloc(custier_scaled_prepare(value, scale, &sn));

	custier_scaled_write(&sn, (char *) result);
	return result;
}

/* Decimal digits of v > 0. */
static int
acc_decimal_digits(acc_uint v)
{
	int			d = 1;

	while (d <= ACC_DIGITS && v >= (acc_uint) custier_acc_pow10[d])
		d++;
	return d;
}

/* floor(a / b) for b > 0 */
static inline int
floor_div(int a, int b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/*
 * (value × 10^-scale) / n for n > 0, exactly as numeric_div divides the
 * numeric custier_scaled_to_numeric(value, scale) by the numeric n: the same
 * result scale (select_div_scale: at least 16 significant digits, at least
 * the dividend's display scale), rounded half away from zero, in canonical
 * form.  NULL when the scaled dividend does not fit the integer (the caller
 * then calls numeric_div).
 */
Numeric
custier_scaled_div_int64(acc_int value, int scale, int64 n)
{
	acc_uint	mag = value < 0 ? -(acc_uint) value : (acc_uint) value;
	int			weight1 = 0;
	int			first1 = 0;
	int			weight2;
	int			first2;
	int			qweight;
	int			rscale;
	acc_int		q;
	acc_int		rem;

	Assert(n > 0);
	if (scale > ACC_DIGITS)
		return NULL;
	custier_acc_init();
	if (mag != 0)
	{
		/* the weight and value of the first NBASE digit, as numeric holds it */
		int			e = floor_div(acc_decimal_digits(mag) - 1 - scale, DEC_DIGITS);
		int			shift = scale + e * DEC_DIGITS;	/* first digit = mag / 10^shift */

		weight1 = e;
		if (shift >= 0)
			first1 = (int) (mag / (acc_uint) custier_acc_pow10[shift]);
		else
			first1 = (int) (mag * (acc_uint) custier_acc_pow10[-shift]);
	}
	weight2 = (acc_decimal_digits((acc_uint) n) - 1) / DEC_DIGITS;
	first2 = (int) (n / (int64) custier_acc_pow10[weight2 * DEC_DIGITS]);
	qweight = weight1 - weight2;
	if (first1 <= first2)
		qweight--;
	rscale = 16 - qweight * DEC_DIGITS;		/* NUMERIC_MIN_SIG_DIGITS */
	rscale = Max(rscale, scale);
	rscale = Max(rscale, 0);
	q = (acc_int) mag;
	if (!acc_rescale(&q, rscale - scale))
		return NULL;
	rem = q % n;
	q /= n;
	if (rem >= n - rem)
		q++;					/* half away from zero (on the magnitude) */
	return custier_scaled_to_numeric(value < 0 ? -q : q, rscale);
}

/*
 * A spill kept in a state datum (which any user can build with the state
 * type's input function) is handed to numeric_add, which trusts its header: check that it is a finite numeric whose header fits its size and
 * whose digits are base-NBASE digits.
 */
bool
custier_numeric_finite_valid(Numeric n)
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

/* spill += n (n in any context; the new spill lives in cxt). */
static void
money_spill(MoneySum *ms, Numeric n, MemoryContext cxt)
{
	Numeric		total = ms->spill
		? DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(ms->spill), NumericGetDatum(n)))
		: n;
	Numeric		copy = MemoryContextAlloc(cxt, VARSIZE(total));

	memcpy(copy, total, VARSIZE(total));
	if (ms->spill)
		pfree(ms->spill);
	ms->spill = copy;
}

/* Moves sum into spill (sum overflowed), keeping the scale. */
static void
money_flush(MoneySum *ms, MemoryContext cxt)
{
	money_spill(ms, custier_scaled_to_numeric(ms->sum, ms->scale), cxt);
	ms->sum = 0;
}

/* Raises sum's scale to `scale`, flushing it first if it would overflow. */
static void
money_raise_scale(MoneySum *ms, int scale, MemoryContext cxt)
{
	if (scale <= ms->scale)
		return;
	if (!acc_rescale(&ms->sum, scale - ms->scale))
		money_flush(ms, cxt);
	ms->scale = scale;
}

void
custier_money_add(MoneySum *ms, const NumericView *nv, Datum amount, MemoryContext cxt)
{
	acc_int		v;
	int			scale;

	if (nv->special)
	{
		ms->specials |= money_special_flag(nv->special);
		return;
	}
	scale = Max(ms->scale, nv->dscale);
	if (likely(numeric_view_scaled(nv, scale, &v)))
	{
		if (unlikely(scale > ms->scale))
			money_raise_scale(ms, scale, cxt);
		if (likely(!acc_add_overflow(&ms->sum, v)))
			return;
		money_flush(ms, cxt);
		ms->sum = v;
		return;
	}
	/* too many digits for the integer: exact numeric arithmetic, rarely */
	money_spill(ms, DatumGetNumeric(amount), cxt);
}

/* ms = n (a numeric in any context, maybe special; the spill lives in cxt). */
void
custier_money_from_numeric(MoneySum *ms, Numeric n, MemoryContext cxt)
{
	NumericView nv;

	memset(ms, 0, sizeof(MoneySum));
	numeric_view(NumericGetDatum(n), &nv);
	if (nv.special)
	{
		ms->specials = money_special_flag(nv.special);
		return;
	}
	ms->scale = nv.dscale;
	if (numeric_view_scaled(&nv, nv.dscale, &ms->sum))
		return;
	ms->sum = 0;
	money_spill(ms, n, cxt);
}

/* a += b */
void
custier_money_merge(MoneySum *a, const MoneySum *b, MemoryContext cxt)
{
	acc_int		bv = b->sum;

	a->specials |= b->specials;
	if (b->spill)
		money_spill(a, b->spill, cxt);
	money_raise_scale(a, b->scale, cxt);
	if (!acc_rescale(&bv, a->scale - b->scale))
	{
		money_spill(a, custier_scaled_to_numeric(b->sum, b->scale), cxt);
		return;
	}
	if (acc_add_overflow(&a->sum, bv))
	{
		money_flush(a, cxt);
		a->sum = bv;
	}
}

/* The exact total, in the current memory context. */
Numeric
custier_money_result(const MoneySum *ms)
{
	Numeric		n;

	if ((ms->specials & MONEY_NAN) ||
		(ms->specials & (MONEY_PINF | MONEY_NINF)) == (MONEY_PINF | MONEY_NINF))
		return custier_numeric_special(NUMERIC_NAN);
	if (ms->specials & MONEY_PINF)
		return custier_numeric_special(NUMERIC_PINF);
	if (ms->specials & MONEY_NINF)
		return custier_numeric_special(NUMERIC_NINF);
	n = custier_scaled_to_numeric(ms->sum, ms->scale);
	if (ms->spill)
		n = DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(ms->spill), NumericGetDatum(n)));
	return n;
}

