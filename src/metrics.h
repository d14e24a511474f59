/*
 * metrics.h — what the value-metric aggregates share (src/metrics.c,
 * src/metrics_period.c): access to a state argument and the reader of the
 * states' text form.
 */
#ifndef CUSTIER_METRICS_H
#define CUSTIER_METRICS_H

#include "postgres.h"
#include "fmgr.h"
#include "nodes/nodes.h"
#include "datatype/timestamp.h"
#include "utils/numeric.h"

#include "numeric128.h"

/* AggCheckCallContext(fcinfo, NULL) != 0, without a call per row. */
static inline bool
in_aggregate(FunctionCallInfo fcinfo)
{
	return fcinfo->context != NULL &&
		(IsA(fcinfo->context, AggState) || IsA(fcinfo->context, WindowAggState));
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

typedef struct StateReader
{
	const char *type;
	const char *input;
	char	   *p;
} StateReader;

extern pg_attribute_noreturn() void custier_state_bad(const StateReader *r);
extern char *custier_state_token(StateReader *r);
extern int64 custier_state_int64(StateReader *r, int64 min, int64 max);
extern Numeric custier_state_numeric(StateReader *r);
extern void custier_state_end(StateReader *r);
extern void custier_state_reader_init(StateReader *r, const char *type, const char *input);
extern char *custier_numeric_text(Numeric n);
extern char *custier_interval_text(const Interval *i);
extern char *custier_timestamptz_text(TimestampTz t);

#endif							/* CUSTIER_METRICS_H */
