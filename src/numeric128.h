/*
 * numeric128.h — exact sums of numeric values in a 128-bit integer
 * (src/numeric128.c; used by the value-metric aggregates in src/metrics.c).
 *
 * A numeric is read in place (its on-disk format is stable across versions,
 * pg_upgrade relies on that) and added to a 128-bit integer scaled to the
 * largest display scale seen so far.  A value that does not fit — more than
 * about 38 significant digits in all — is added with numeric_add into a
 * "spill" numeric, so every numeric is summed exactly.  NaN and ±Infinity
 * follow sum(numeric): NaN, or +Infinity with -Infinity, gives NaN;
 * otherwise an infinity wins.
 *
 * The hot path (numeric_view, numeric_view_scaled, acc_add_overflow,
 * acc_try_add) is inline here; the rare paths are in numeric128.c.
 */
#ifndef CUSTIER_NUMERIC128_H
#define CUSTIER_NUMERIC128_H

#include "postgres.h"
#include "fmgr.h"
#include "common/int.h"
#include "utils/numeric.h"

/* The numeric on-disk format (numeric.c keeps these macros private). */
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

extern PGDLLIMPORT acc_int custier_acc_pow10[ACC_DIGITS + 1];
extern PGDLLIMPORT acc_int custier_acc_limit[ACC_DIGITS + 1];	/* ACC_MAX / 10^e */

#define MONEY_NAN	0x01
#define MONEY_PINF	0x02
#define MONEY_NINF	0x04
#define MONEY_SPECIALS (MONEY_NAN | MONEY_PINF | MONEY_NINF)

/* A working exact sum: sum × 10^-scale (+ spill) unless specials say otherwise. */
typedef struct MoneySum
{
	acc_int		sum;			/* the amounts summed here, × 10^scale */
	Numeric		spill;			/* amounts too big for sum, or NULL */
	int32		scale;			/* largest display scale of the amounts in sum */
	uint8		specials;		/* MONEY_* seen */
} MoneySum;

/* A numeric about to be written by custier_scaled_write. */
typedef struct ScaledNumeric
{
	int16		lsd[ACC_DIGITS / DEC_DIGITS + 4];	/* NBASE digits, least significant first */
	int			nd;				/* lsd[first .. nd - 1] are written */
	int			first;
	int			weight;
	int			scale;
	bool		negative;
	bool		is_short;
} ScaledNumeric;

extern void custier_acc_init(void);
extern Size custier_scaled_prepare(acc_int value, int scale, ScaledNumeric *sn);
extern void custier_scaled_write(const ScaledNumeric *sn, char *dst);
extern Numeric custier_scaled_to_numeric(acc_int value, int scale);
extern Numeric custier_scaled_div_int64(acc_int value, int scale, int64 n);
extern Numeric custier_numeric_special(uint16 header);
extern bool custier_numeric_finite_valid(Numeric n);
extern void custier_money_add(MoneySum *ms, const NumericView *nv, Datum amount, MemoryContext cxt);
extern void custier_money_merge(MoneySum *a, const MoneySum *b, MemoryContext cxt);
extern Numeric custier_money_result(const MoneySum *ms);
extern void custier_money_from_numeric(MoneySum *ms, Numeric n, MemoryContext cxt);

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
	struct varlena *v = (struct varlena *) DatumGetPointer(datum);
	const char *p;
	int			len;
	uint16		h;

	/* pg_detoast_datum_packed, inline: stored numerics need no call */
	if (unlikely(VARATT_IS_COMPRESSED(v) || VARATT_IS_EXTERNAL(v)))
		v = PG_DETOAST_DATUM_PACKED(datum);
	p = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);

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

static inline uint8
money_special_flag(uint16 special)
{
	return special == NUMERIC_NAN ? MONEY_NAN : special == NUMERIC_PINF ? MONEY_PINF : MONEY_NINF;
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
	if (by > ACC_DIGITS || v > custier_acc_limit[by] || v < -custier_acc_limit[by])
		return false;
	*value = v * custier_acc_pow10[by];
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
			if (v > custier_acc_limit[DEC_DIGITS])
				return false;
			v *= NBASE;
			if (acc_add_overflow(&v, view_digit(nv, i)))
				return false;
		}
		if (exp10 < 0)
		{
			if (exp10 < -(DEC_DIGITS - 1) || v % custier_acc_pow10[-exp10] != 0)
				return false;
			v /= custier_acc_pow10[-exp10];
			exp10 = 0;
		}
	}
	if (exp10 > 0)
	{
		if (exp10 > ACC_DIGITS || v > custier_acc_limit[exp10])
			return false;
		v *= custier_acc_pow10[exp10];
	}
	*result = nv->negative ? -v : v;
	return true;
}

/*
 * In place: (*sum at *scale) += the finite numeric nv.  False, changing
 * nothing, when the result needs the spill (the caller takes the slow path).
 */
static inline bool
acc_try_add(acc_int *sum, int32 *scale, const NumericView *nv)
{
	int			s = Max(*scale, nv->dscale);
	acc_int		v;
	acc_int		cur = *sum;

	if (unlikely(!numeric_view_scaled(nv, s, &v)))
		return false;
	if (unlikely(s > *scale) && !acc_rescale(&cur, s - *scale))
		return false;
	if (unlikely(acc_add_overflow(&cur, v)))
		return false;
	*sum = cur;
	*scale = s;
	return true;
}

/*
 * The small form of a sum, one int64: the sum × 10^scale in the upper 59
 * bits and its display scale (≤ 18) in the low 5 (period_amounts' slots,
 * value_metrics' compact state).
 */
#define SLOT_SCALE_BITS 5
#define SLOT_SCALE_MASK ((1 << SLOT_SCALE_BITS) - 1)
#define SMALL_SCALE_MAX 18
#define SMALL_MAX ((acc_int) (PG_INT64_MAX >> SLOT_SCALE_BITS))
#define SMALL_MIN ((acc_int) (PG_INT64_MIN >> SLOT_SCALE_BITS))

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

/*
 * *slot (small form) += the finite numeric nv; false, changing nothing, when
 * it does not fit.  The usual amount — at most 16 digits, no more decimals
 * than the slot has — is added in 64-bit arithmetic; the rest through
 * numeric_view_scaled and small_add.
 */
static inline bool
small_add_view(int64 *slot, const NumericView *nv)
{
	static const int64 pow10_64[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
		100000000, 1000000000, INT64CONST(10000000000), INT64CONST(100000000000),
		INT64CONST(1000000000000), INT64CONST(10000000000000), INT64CONST(100000000000000),
		INT64CONST(1000000000000000), INT64CONST(10000000000000000),
		INT64CONST(100000000000000000), INT64CONST(1000000000000000000)};
	int			cscale = (int) (*slot & SLOT_SCALE_MASK);
	int			nd = nv->ndigits;
	acc_int		wide;

	/* a zero sum takes the amount's scale as it is (a slot's first amount) */
	if (nv->dscale > cscale && (*slot >> SLOT_SCALE_BITS) == 0 && nv->dscale <= SMALL_SCALE_MAX)
		cscale = nv->dscale;
	if (likely(nv->dscale <= cscale && nd <= 4))
	{
		int64		v = 0;
		int64		r;
		int			exp10 = (nv->weight - nd + 1) * DEC_DIGITS + cscale;

		for (int i = 0; i < nd; i++)
			v = v * NBASE + view_digit(nv, i);
		switch (exp10)
		{
			case -3: if (v % 1000 != 0) goto general; v /= 1000; break;
			case -2: if (v % 100 != 0) goto general; v /= 100; break;
			case -1: if (v % 10 != 0) goto general; v /= 10; break;
			case 0: break;
			default:
				if (exp10 < 0 || exp10 > 18 || v > PG_INT64_MAX / pow10_64[exp10])
					goto general;
				v *= pow10_64[exp10];
				break;
		}
		if (nv->negative)
			v = -v;
		if (pg_add_s64_overflow(*slot >> SLOT_SCALE_BITS, v, &r) ||
			r > (int64) SMALL_MAX || r < (int64) SMALL_MIN)
			return false;
		*slot = r * (1 << SLOT_SCALE_BITS) + cscale;
		return true;
	}
general:
	return nv->dscale <= SMALL_SCALE_MAX && numeric_view_scaled(nv, nv->dscale, &wide) &&
		small_add(slot, wide, nv->dscale);
}

#endif							/* CUSTIER_NUMERIC128_H */
