/*
 * history.h — what the history module (src/history.c) offers the other
 * modules: the authorized-change window, and applying grades to a managed
 * table (with whose rights: src/rights.c).
 */
#ifndef CUSTIER_HISTORY_H
#define CUSTIER_HISTORY_H

#include "postgres.h"
#include "fmgr.h"

#include "custier.h"
#include "rights.h"

void		_PG_init(void);

/* Opens a window in which the guard trigger lets grade changes of relid
 * through and the history trigger stamps its rows with adjustment_id (0 =
 * none) and reason. Only custier's C code can open it: no SQL function,
 * GUC or table row does. Closed by custier_end_authorized_change(), and
 * reset at (sub)transaction abort as a safety net.  Rows written inside the
 * window are attributed (changed_by) to the acting role: see
 * custier_acting_user().
 * The window covers only the rows written by the next SPI statement the
 * caller runs (not statements nested in the triggers or functions that one
 * fires): call it right before that statement. */
extern void custier_begin_authorized_change(Oid relid, int64 adjustment_id, const char *reason);
/* Narrows the open window to one change: this customer key (as custier
 * records keys: the key column's output text), from from_tier to to_tier
 * (0 = NULL). */
extern void custier_limit_authorized_change(const char *customer_key, Tier from_tier, Tier to_tier);
extern void custier_end_authorized_change(void);

/*
 * Applies grade changes to managed table relid as the table's owner, through
 * the authorized-change window: the customer keys[i] (text[], as custier
 * records keys) goes from from[i] (tier[]; NULL: ungraded) to to[i] (tier[])
 * if its grade is still from[i].  adjustment_id (0 = none) and reason stamp
 * the history rows; with one change the window lets through exactly that
 * change.  A trigger of the table's own that rewrites a grade custier
 * writes raises 42501.  Both approve() and evaluation runs apply grades by
 * this one path.  Returns how many customers changed; *applied_keys (when
 * not NULL) gets their keys as a text[] in the caller's memory context.
 * Needs no SPI connection of the caller's.  cache (NULL: none) keeps the
 * statement for the caller's next calls: an evaluation run builds it once
 * per CALL, not per batch.
 */
typedef struct CustierApplyCache
{
	MemoryContext cxt;			/* where sql lives: the caller's, across its calls */
	Oid			relid;
	char	   *sql;
} CustierApplyCache;
extern uint64 custier_apply_grades(Oid relid, Datum keys, Datum from, Datum to, int n,
								   int64 adjustment_id, const char *reason, Datum *applied_keys,
								   CustierApplyCache *cache);

/*
 * Appends rows to one of custier's own tables (relname in schema custier,
 * whose columns must be attnames[0..natts) of types atttypes[0..natts), the
 * last `optional` of them possibly missing before ALTER EXTENSION UPDATE;
 * else 55000) at the table-AM level, as COPY does:
 * buffered, heap_multi_insert, then the index entries.  No triggers, rules
 * or permission checks: only for custier's tables, written by custier.
 * close writes what is left; the rows are visible from the next command.
 */
typedef struct CustierAppender CustierAppender;
extern CustierAppender *custier_appender_open(const char *relname, int natts, const char *const *attnames,
											  const Oid *atttypes, int optional);
extern void custier_appender_append(CustierAppender *a, const Datum *values, const bool *nulls);
extern void custier_appender_close(CustierAppender *a);

/* The type custier.tier and its array type. */
extern Oid	custier_tier_type(void);
extern Oid	custier_tier_array_type(void);

/* The owner of a relation (42P01 when it is gone). */
extern Oid	custier_relation_owner(Oid relid);

/* True while custier's own manage()/unmanage() change a table's triggers. */
extern bool custier_managing(void);
/* Marks (relid) or unmarks (InvalidOid) that custier itself is changing a
 * managed table's triggers (set_allocation too); reset on error by the caller. */
extern void custier_set_managing(Oid relid);

#endif							/* CUSTIER_HISTORY_H */
