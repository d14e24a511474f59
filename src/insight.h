/*
 * insight.h — the history scan (src/insight.c) that custier.tiers_at and
 * custier.distribution share.
 */
#ifndef CUSTIER_INSIGHT_H
#define CUSTIER_INSIGHT_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/timestamp.h"

#include "custier.h"

typedef struct HistoryScan
{
	Oid			relid;			/* the managed table */
	TimestampTz at;				/* states as of this moment */
	/* Called for each key graded at `at`: the key as recorded (a text datum
	 * pointing into the index tuple: copy it to keep it), and its grade. */
	void		(*emit) (void *arg, Datum key, Tier tier);
	/* NULL, or false for a key the caller may not see (row-level visibility). */
	bool		(*visible) (void *arg, const char *key, int keylen);
	void	   *arg;
} HistoryScan;

/*
 * May the caller read the history of relid?  ereports when it may not read
 * custier.tier_history at all; false when row-level security on
 * tier_history would hide every row of relid from it (it may not SELECT
 * relid).
 */
extern bool custier_history_readable(Oid relid);

/* One index-only pass over tier_history_as_of: every key's state at hs->at. */
extern void custier_history_scan(HistoryScan *hs);

/* The scan into a materialized SRF's tuplestore (customer_key text, tier). */
extern void custier_tiers_at_scan(FunctionCallInfo fcinfo, Oid relid, TimestampTz at);

#endif							/* CUSTIER_INSIGHT_H */
