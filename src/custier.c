/*
 * custier.c — the module's magic block.  Each concern (tier, metrics,
 * policy, history, adjustment, evaluation) lives in its own file.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
