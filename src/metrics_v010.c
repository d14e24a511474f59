/*
 * metrics_v010.c — the C symbols of custier 0.1.0's aggregate support
 * functions, whose state was `internal`.  0.2.0 gives every aggregate a
 * real state type (see metrics.c) and new support functions; the update
 * script replaces the old ones.  Between installing the new library and
 * running ALTER EXTENSION custier UPDATE, the 0.1.0 catalog still names
 * these symbols (and CREATE EXTENSION custier VERSION '0.1.0' needs them to
 * exist): they refuse to run instead of reading a state of another layout.
 */
#include "postgres.h"

#include "fmgr.h"

static pg_attribute_noreturn() void
custier_v010_refuse(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s: the value-metric aggregates of custier 0.1.0 cannot run with this version of the library", name),
			 errhint("Run ALTER EXTENSION custier UPDATE in this database.")));
}

PG_FUNCTION_INFO_V1(value_metrics_transfn);
Datum
value_metrics_transfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("value_metrics_transfn");
}

PG_FUNCTION_INFO_V1(value_metrics_combinefn);
Datum
value_metrics_combinefn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("value_metrics_combinefn");
}

PG_FUNCTION_INFO_V1(value_metrics_serialfn);
Datum
value_metrics_serialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("value_metrics_serialfn");
}

PG_FUNCTION_INFO_V1(value_metrics_deserialfn);
Datum
value_metrics_deserialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("value_metrics_deserialfn");
}

PG_FUNCTION_INFO_V1(value_metrics_finalfn);
Datum
value_metrics_finalfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("value_metrics_finalfn");
}

PG_FUNCTION_INFO_V1(period_amounts_transfn);
Datum
period_amounts_transfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_amounts_transfn");
}

PG_FUNCTION_INFO_V1(period_counts_transfn);
Datum
period_counts_transfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_counts_transfn");
}

PG_FUNCTION_INFO_V1(period_combinefn);
Datum
period_combinefn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_combinefn");
}

PG_FUNCTION_INFO_V1(period_serialfn);
Datum
period_serialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_serialfn");
}

PG_FUNCTION_INFO_V1(period_deserialfn);
Datum
period_deserialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_deserialfn");
}

PG_FUNCTION_INFO_V1(period_amounts_finalfn);
Datum
period_amounts_finalfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_amounts_finalfn");
}

PG_FUNCTION_INFO_V1(period_counts_finalfn);
Datum
period_counts_finalfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("period_counts_finalfn");
}

PG_FUNCTION_INFO_V1(share_transfn);
Datum
share_transfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("share_transfn");
}

PG_FUNCTION_INFO_V1(on_time_rate_transfn);
Datum
on_time_rate_transfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("on_time_rate_transfn");
}

PG_FUNCTION_INFO_V1(rate_combinefn);
Datum
rate_combinefn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("rate_combinefn");
}

PG_FUNCTION_INFO_V1(rate_serialfn);
Datum
rate_serialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("rate_serialfn");
}

PG_FUNCTION_INFO_V1(rate_deserialfn);
Datum
rate_deserialfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("rate_deserialfn");
}

PG_FUNCTION_INFO_V1(rate_finalfn);
Datum
rate_finalfn(PG_FUNCTION_ARGS)
{
	custier_v010_refuse("rate_finalfn");
}
