/*
 * rights.h — with whose rights custier runs a statement (src/rights.c).
 *
 * custier runs SQL with one of three kinds of rights, and only through the
 * functions below:
 *
 *   - its own (the extension owner's), to write custier's tables: no user
 *     code may run then (custier's tables carry no user triggers; the
 *     statements touch only custier's tables and the catalogs), the
 *     search_path is pinned to "pg_catalog, pg_temp" and the operation is
 *     security-restricted;
 *   - a managed table's owner's, to change that table: the table's own
 *     triggers then run as its owner, as for the owner's own UPDATE, with
 *     the pinned search_path;
 *   - the caller's, to read what the caller reads (metrics sources, the
 *     managed table in evaluate): the caller's own search_path is left
 *     alone (custier's SQL qualifies every name and operator it uses).
 *
 * The actor, the role custier records as having acted (proposed_by,
 * decided_by, changed_by, started_by, actor, reviewer), is current_user at
 * the outermost custier call.  While user code runs (a table owner's
 * triggers, a caller's views) the actor is cleared, so that a custier
 * function called from that code records its own current_user and never
 * borrows the actor of the call around it.
 */
#ifndef CUSTIER_RIGHTS_H
#define CUSTIER_RIGHTS_H

#include "postgres.h"
#include "fmgr.h"

/* The owner of schema custier: who installed (owns) the extension. */
extern Oid	custier_extension_owner(void);

/*
 * The acting role: current_user at the outermost custier call in progress,
 * else current_user.  (The symbol custier_actor itself is the 0.1.0 SQL
 * function behind custier._actor(), kept in compat.c; hence the macro.)
 */
extern Oid	custier_actor_oid(void);
#define custier_actor() custier_actor_oid()

/* Rights saved by custier_rights_enter, restored by custier_rights_exit. */
typedef struct CustierRights
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;	/* 0: search_path was not pinned */
	Oid			save_actor;
} CustierRights;

/* How custier_rights_enter switches. */
typedef enum CustierRightsKind
{
	CUSTIER_AS_EXTENSION,		/* extension owner: restricted, pinned, actor kept */
	CUSTIER_AS_TABLE_OWNER,		/* a table's owner: pinned, actor cleared */
	CUSTIER_AS_CALLER			/* the actor itself: search_path untouched, actor cleared */
} CustierRightsKind;

/*
 * Switches to role (ignored for CUSTIER_AS_CALLER, which uses the actor).
 * Always pair with custier_rights_exit, in PG_FINALLY when anything between
 * may fail (custier_exec_as does).  Nesting is allowed.
 */
extern void custier_rights_enter(CustierRights *r, CustierRightsKind kind, Oid role);
extern void custier_rights_exit(CustierRights *r);

/*
 * Runs one SQL statement through SPI as role (the extension owner, or a
 * table's owner), with the pinned search_path, and restores everything,
 * on error too.  The caller has SPI connected.  Returns SPI_processed;
 * SPI_tuptable holds the rows.  Errors out when SPI fails.
 */
extern uint64 custier_exec_as(Oid role, const char *sql, int nargs, Oid *argtypes,
							  Datum *values, const char *nulls, bool read_only, long count);
/* The same with an explicit kind (CUSTIER_AS_CALLER: role InvalidOid = the actor). */
extern uint64 custier_exec_with(CustierRightsKind kind, Oid role, const char *sql, int nargs,
								Oid *argtypes, Datum *values, const char *nulls,
								bool read_only, long count);
/*
 * custier_exec_with, planned once for any parameter values (a generic
 * plan): for statements that take a batch as array parameters, so that the
 * planner sizes the join by its usual estimate (an index probe per element)
 * rather than by the array at hand (a hash join over the whole table).
 */
extern uint64 custier_exec_generic(CustierRightsKind kind, Oid role, const char *sql, int nargs,
								   Oid *argtypes, Datum *values, const char *nulls,
								   bool read_only, long count);
/* The same as the caller (CUSTIER_AS_CALLER). */
extern uint64 custier_exec_as_caller(const char *sql, int nargs, Oid *argtypes,
									 Datum *values, const char *nulls, bool read_only, long count);

/*
 * custier_exec_as with its own SPI connection, for one result value:
 * returns the first column of the first row (copied into the caller's
 * memory context), *isnull true when there is none.
 */
extern Datum custier_value_as(Oid role, const char *sql, int nargs, Oid *argtypes,
							  Datum *values, const char *nulls, bool *isnull);

/*
 * Four eyes: can these two roles be the same person?  True when they are
 * the same role, or either is a member of the other (explicit grants,
 * directly or indirectly; a superuser's implicit rights do not count).
 */
extern bool custier_same_person(Oid a, Oid b);

/* ---------------------------------------------------------------------
 * Reading follows the table: which customers of a managed table a role
 * may see.  See doc/security.md.
 * ---------------------------------------------------------------------
 */
typedef enum CustierSight
{
	CUSTIER_SEES_NONE,			/* no SELECT on the table (or it is gone) */
	CUSTIER_SEES_ALL,			/* SELECT, and no row-level security applies */
	CUSTIER_SEES_SOME			/* SELECT under row-level security */
} CustierSight;

/* What role may see of table relid (no per-row work). */
extern CustierSight custier_table_sight(Oid relid, Oid role);
/*
 * Whether role may see customer key (as custier records keys: the key
 * column's output text) of relid.  CUSTIER_SEES_SOME reads the table's keys
 * once per statement as role, then answers from a hash table.
 */
extern bool custier_can_see(Oid relid, Oid role, const char *key);

/* ereports 22004 naming the argument when argument n is NULL. */
extern void custier_require_arg(FunctionCallInfo fcinfo, int n, const char *what);

#endif							/* CUSTIER_RIGHTS_H */
