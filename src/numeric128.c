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

/* value × 10^-scale as a numeric of display scale `scale`, in canonical form. */
Numeric
custier_scaled_to_numeric(acc_int value, int scale)
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

