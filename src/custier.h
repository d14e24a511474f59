/*
 * custier.h — what the modules share: the tier representation.
 */
#ifndef CUSTIER_H
#define CUSTIER_H

#include "postgres.h"
#include "fmgr.h"

/*
 * A tier is one byte holding its rank: 1 = 'A' (best) … 26 = 'Z'.  Storing
 * the rank keeps comparisons to one subtraction; "better" is a lower rank.
 */
typedef uint8 Tier;

#define TIER_MIN_RANK 1
#define TIER_MAX_RANK 26

#define DatumGetTier(d)		((Tier) DatumGetUInt8(d))
#define TierGetDatum(t)		UInt8GetDatum(t)
#define PG_GETARG_TIER(n)	DatumGetTier(PG_GETARG_DATUM(n))
#define PG_RETURN_TIER(t)	return TierGetDatum(t)

#define TIER_LETTER(t)		((char) ('A' + (t) - 1))

/* > 0 when a is the better grade, as btree wants for "a > b". */
static inline int
tier_compare(Tier a, Tier b)
{
	return (int) b - (int) a;
}

/* Parses one letter (blanks around it allowed); ereports 22P02 otherwise. */
extern Tier tier_from_cstring(const char *str);

#endif							/* CUSTIER_H */
