/*
 * tier.c — the custier.tier type: one letter grade, A best … Z worst.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "custier.h"

PG_FUNCTION_INFO_V1(custier_tier_in);
PG_FUNCTION_INFO_V1(custier_tier_out);
PG_FUNCTION_INFO_V1(custier_tier_recv);
PG_FUNCTION_INFO_V1(custier_tier_send);
PG_FUNCTION_INFO_V1(custier_tier_eq);
PG_FUNCTION_INFO_V1(custier_tier_ne);
PG_FUNCTION_INFO_V1(custier_tier_lt);
PG_FUNCTION_INFO_V1(custier_tier_le);
PG_FUNCTION_INFO_V1(custier_tier_gt);
PG_FUNCTION_INFO_V1(custier_tier_ge);
PG_FUNCTION_INFO_V1(custier_tier_cmp);
PG_FUNCTION_INFO_V1(custier_tier_sortsupport);
PG_FUNCTION_INFO_V1(custier_tier_hash);
PG_FUNCTION_INFO_V1(custier_tier_hash_extended);
PG_FUNCTION_INFO_V1(custier_tier_mi);
PG_FUNCTION_INFO_V1(custier_tier_rank);
PG_FUNCTION_INFO_V1(custier_tier_from_rank);
PG_FUNCTION_INFO_V1(custier_tier_up);
PG_FUNCTION_INFO_V1(custier_tier_down);
PG_FUNCTION_INFO_V1(custier_tier_larger);
PG_FUNCTION_INFO_V1(custier_tier_smaller);

#define TIER_INPUT_HINT "A tier is a single letter from A (best) to Z, in either case."

static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Tier
tier_from_cstring(const char *str)
{
	const char *p = str;
	char		c;

	while (is_blank(*p))
		p++;
	c = *p++;
	while (is_blank(*p))
		p++;
	/* ASCII only: 'Ä' and friends are more than one byte and fail here. */
	if (*p == '\0' && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
		return (Tier) ((c & ~0x20) - 'A' + 1);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", "tier", str),
			 errhint(TIER_INPUT_HINT)));
	pg_unreachable();
}

Datum
custier_tier_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIER(tier_from_cstring(PG_GETARG_CSTRING(0)));
}

Datum
custier_tier_out(PG_FUNCTION_ARGS)
{
	Tier		t = PG_GETARG_TIER(0);
	char	   *result = palloc(2);

	result[0] = TIER_LETTER(t);
	result[1] = '\0';
	PG_RETURN_CSTRING(result);
}

/* The binary form is the upper-case letter, one byte. */
Datum
custier_tier_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			c = pq_getmsgbyte(buf);

	if (c < 'A' || c > 'Z')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type %s: byte %d", "tier", c),
				 errhint("The binary form of a tier is one upper-case ASCII letter.")));
	PG_RETURN_TIER((Tier) (c - 'A' + 1));
}

Datum
custier_tier_send(PG_FUNCTION_ARGS)
{
	Tier		t = PG_GETARG_TIER(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, (uint8) TIER_LETTER(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

#define TIER_CMP_FUNC(name, op) \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(tier_compare(PG_GETARG_TIER(0), PG_GETARG_TIER(1)) op 0); \
}

TIER_CMP_FUNC(custier_tier_eq, ==)
TIER_CMP_FUNC(custier_tier_ne, !=)
TIER_CMP_FUNC(custier_tier_lt, <)
TIER_CMP_FUNC(custier_tier_le, <=)
TIER_CMP_FUNC(custier_tier_gt, >)
TIER_CMP_FUNC(custier_tier_ge, >=)

Datum
custier_tier_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(tier_compare(PG_GETARG_TIER(0), PG_GETARG_TIER(1)));
}

static int
tier_fastcmp(Datum x, Datum y, SortSupport ssup)
{
	return tier_compare(DatumGetTier(x), DatumGetTier(y));
}

Datum
custier_tier_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = tier_fastcmp;
	PG_RETURN_VOID();
}

Datum
custier_tier_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32((uint32) PG_GETARG_TIER(0));
}

Datum
custier_tier_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended((uint32) PG_GETARG_TIER(0), PG_GETARG_INT64(1));
}

/* How many grades the left tier is above the right one: 'A' - 'C' = 2. */
Datum
custier_tier_mi(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) PG_GETARG_TIER(1) - (int32) PG_GETARG_TIER(0));
}

Datum
custier_tier_rank(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) PG_GETARG_TIER(0));
}

Datum
custier_tier_from_rank(PG_FUNCTION_ARGS)
{
	int32		rank = PG_GETARG_INT32(0);

	if (rank < TIER_MIN_RANK || rank > TIER_MAX_RANK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("tier rank %d is out of range", rank),
				 errhint("Ranks run from 1 (A) to 26 (Z).")));
	PG_RETURN_TIER((Tier) rank);
}

/* Moves a tier `steps` grades towards A (negative: towards Z), saturating. */
static Tier
tier_move_up(Tier t, int32 steps)
{
	int64		rank = (int64) t - (int64) steps;

	if (rank < TIER_MIN_RANK)
		rank = TIER_MIN_RANK;
	if (rank > TIER_MAX_RANK)
		rank = TIER_MAX_RANK;
	return (Tier) rank;
}

Datum
custier_tier_up(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIER(tier_move_up(PG_GETARG_TIER(0), PG_GETARG_INT32(1)));
}

Datum
custier_tier_down(PG_FUNCTION_ARGS)
{
	/* -(INT32_MIN) overflows int32; widen before negating. */
	int64		steps = -(int64) PG_GETARG_INT32(1);

	PG_RETURN_TIER(tier_move_up(PG_GETARG_TIER(0),
								(int32) Max(Min(steps, PG_INT32_MAX), PG_INT32_MIN)));
}

Datum
custier_tier_larger(PG_FUNCTION_ARGS)
{
	Tier		a = PG_GETARG_TIER(0);
	Tier		b = PG_GETARG_TIER(1);

	PG_RETURN_TIER(tier_compare(a, b) >= 0 ? a : b);
}

Datum
custier_tier_smaller(PG_FUNCTION_ARGS)
{
	Tier		a = PG_GETARG_TIER(0);
	Tier		b = PG_GETARG_TIER(1);

	PG_RETURN_TIER(tier_compare(a, b) <= 0 ? a : b);
}
