/*
 * history.h — what the history module (src/history.c) offers the other
 * modules: the authorized-change window, and running SQL as custier's owner
 * or a table's owner while remembering which role acted.
 */
#ifndef CUSTIER_HISTORY_H
#define CUSTIER_HISTORY_H

#include "postgres.h"
#include "fmgr.h"

#include "custier.h"

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
 * Switching user around SPI, the way ri_triggers.c does.  The first switch
 * made by a custier entry point remembers the role that called it: that is
 * the actor custier records (proposed_by, decided_by, changed_by …), as
 * custier._actor() returns it to SQL.
 */
typedef struct CustierUserSwitch
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			save_actor;
} CustierUserSwitch;

/* The owner of schema custier (who installed the extension). */
extern Oid	custier_owner(void);
/* The role acting in the current custier call: the caller of the outermost
 * custier entry point, else the current user. */
extern Oid	custier_acting_user(void);
extern void custier_switch_user(Oid role, CustierUserSwitch *sw);
extern void custier_restore_user(CustierUserSwitch *sw);

/* Runs sql through SPI as custier's owner on behalf of the caller (the
 * actor); returns the first column of the first row (pass-by-value types
 * only), *isnull when there is none. */
extern Datum custier_call_as_owner(const char *sql, int nargs, Oid *types, Datum *values,
								   const char *nulls, bool *isnull);
/* ereports 22004 naming the argument when argument n is NULL. */
extern void custier_require_arg(FunctionCallInfo fcinfo, int n, const char *what);

#endif							/* CUSTIER_HISTORY_H */
