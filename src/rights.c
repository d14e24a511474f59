/*
 * rights.c — the one place where custier decides with whose rights a
 * statement runs (see rights.h for the three kinds), the acting role, the
 * four-eyes test, and "reading follows the table" (which customers of a
 * managed table a role may see).
 *
 * Modelled on ri_triggers.c: GetUserIdAndSecContext/SetUserIdAndSecContext
 * with SECURITY_LOCAL_USERID_CHANGE (plus SECURITY_RESTRICTED_OPERATION when
 * no user code should run), a GUC nest level pinning search_path, and SPI.
 * Everything is restored by custier_rights_exit, which the callers run in
 * PG_FINALLY, so a caught error (a PL/pgSQL EXCEPTION block around a custier
 * call) leaves neither the role, the search_path nor the actor behind; a
 * (sub)transaction abort would restore the first two anyway.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "rights.h"

PG_FUNCTION_INFO_V1(custier_actor_name);
PG_FUNCTION_INFO_V1(custier_acts_for);
PG_FUNCTION_INFO_V1(custier_can_see_sql);

#if PG_VERSION_NUM >= 170000
#define MY_LXID (MyProc->vxid.lxid)
#else
#define MY_LXID (MyProc->lxid)
#endif

#define PINNED_SEARCH_PATH "pg_catalog, pg_temp"

/* current_user at the outermost custier call in progress; InvalidOid: none. */
static Oid	actor = InvalidOid;

Oid
custier_extension_owner(void)
{
	Oid			nsp = get_namespace_oid("custier", false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

Oid
custier_actor_oid(void)
{
	return OidIsValid(actor) ? actor : GetUserId();
}

void
custier_rights_enter(CustierRights *r, CustierRightsKind kind, Oid role)
{
	int			sec;

	GetUserIdAndSecContext(&r->save_userid, &r->save_sec_context);
	r->save_actor = actor;
	r->save_nestlevel = 0;
	sec = r->save_sec_context | SECURITY_LOCAL_USERID_CHANGE;
	switch (kind)
	{
		case CUSTIER_AS_EXTENSION:
			/* The outermost custier call names the actor. */
			if (!OidIsValid(actor))
				actor = r->save_userid;
			sec |= SECURITY_RESTRICTED_OPERATION;
			break;
		case CUSTIER_AS_TABLE_OWNER:
			actor = InvalidOid;
			break;
		case CUSTIER_AS_CALLER:
			if (!OidIsValid(role))
				role = custier_actor_oid();
			actor = InvalidOid;
			break;
	}
	SetUserIdAndSecContext(role, sec);
	if (kind != CUSTIER_AS_CALLER)
	{
		r->save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", PINNED_SEARCH_PATH,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

void
custier_rights_exit(CustierRights *r)
{
	if (r->save_nestlevel > 0)
		AtEOXact_GUC(true, r->save_nestlevel);
	SetUserIdAndSecContext(r->save_userid, r->save_sec_context);
	actor = r->save_actor;
}

uint64
custier_exec_with(CustierRightsKind kind, Oid role, const char *sql, int nargs, Oid *argtypes,
		  Datum *values, const char *nulls, bool read_only, long count)
{
	CustierRights r;
	volatile int rc = 0;

	custier_rights_enter(&r, kind, role);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, read_only, count);
	}
	PG_FINALLY();
	{
		custier_rights_exit(&r);
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "custier: SPI failed (%s): %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
}

uint64
custier_exec_generic(CustierRightsKind kind, Oid role, const char *sql, int nargs, Oid *argtypes,
					 Datum *values, const char *nulls, bool read_only, long count)
{
	CustierRights r;
	volatile int rc = 0;

	custier_rights_enter(&r, kind, role);
	PG_TRY();
	{
		/* Parsed and planned with these rights and this search_path. */
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "custier: SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
		rc = SPI_execute_plan(plan, values, nulls, read_only, count);
	}
	PG_FINALLY();
	{
		custier_rights_exit(&r);
	}
	PG_END_TRY();
	if (rc < 0)
		elog(ERROR, "custier: SPI failed (%s): %s", SPI_result_code_string(rc), sql);
	return SPI_processed;
}

uint64
custier_exec_as(Oid role, const char *sql, int nargs, Oid *argtypes,
				Datum *values, const char *nulls, bool read_only, long count)
{
	CustierRightsKind kind = role == custier_extension_owner() ? CUSTIER_AS_EXTENSION : CUSTIER_AS_TABLE_OWNER;

	return custier_exec_with(kind, role, sql, nargs, argtypes, values, nulls, read_only, count);
}

uint64
custier_exec_as_caller(const char *sql, int nargs, Oid *argtypes,
					   Datum *values, const char *nulls, bool read_only, long count)
{
	return custier_exec_with(CUSTIER_AS_CALLER, InvalidOid, sql, nargs, argtypes, values, nulls, read_only, count);
}

Datum
custier_value_as(Oid role, const char *sql, int nargs, Oid *argtypes,
				 Datum *values, const char *nulls, bool *isnull)
{
	Datum		result = (Datum) 0;
	bool		null = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	if (custier_exec_as(role, sql, nargs, argtypes, values, nulls, false, 0) > 0 &&
		SPI_tuptable != NULL)
	{
		Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, 0);

		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &null);
		if (!null)
			result = SPI_datumTransfer(result, att->attbyval, att->attlen);
	}
	SPI_finish();
	if (isnull)
		*isnull = null;
	return result;
}

void
custier_require_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* custier._actor() → name: the acting role (see rights.h). */
Datum
custier_actor_name(PG_FUNCTION_ARGS)
{
	Name		result = (Name) palloc0(NAMEDATALEN);

	namestrcpy(result, GetUserNameFromId(custier_actor_oid(), false));
	PG_RETURN_NAME(result);
}

/* ---------------------------------------------------------------------
 * Four eyes
 * ---------------------------------------------------------------------
 */
bool
custier_same_person(Oid a, Oid b)
{
	if (a == b)
		return true;
	if (!OidIsValid(a) || !OidIsValid(b))
		return false;
	return is_member_of_role_nosuper(a, b) || is_member_of_role_nosuper(b, a);
}

/*
 * custier._acts_for(proposer name, approver name) → boolean: may not
 * approve — the same person by the rule of custier_same_person, or the
 * session's login is the proposer or a member of it.  Superusers are not
 * exempt (their implicit membership in every role does not count, their
 * own proposals do).
 */
Datum
custier_acts_for(PG_FUNCTION_ARGS)
{
	Name		proposer_name = PG_GETARG_NAME(0);
	Name		approver_name = PG_GETARG_NAME(1);
	Oid			proposer = get_role_oid(NameStr(*proposer_name), true);
	Oid			approver = get_role_oid(NameStr(*approver_name), true);
	Oid			login = GetSessionUserId();

	if (strcmp(NameStr(*proposer_name), NameStr(*approver_name)) == 0)
		PG_RETURN_BOOL(true);
	if (!OidIsValid(proposer))
		PG_RETURN_BOOL(false);	/* a dropped role can act for no one */
	PG_RETURN_BOOL(custier_same_person(proposer, approver) ||
				   login == proposer || is_member_of_role_nosuper(login, proposer));
}

/* ---------------------------------------------------------------------
 * Reading follows the table
 * ---------------------------------------------------------------------
 */
CustierSight
custier_table_sight(Oid relid, Oid role)
{
	bool		missing = false;

	if (pg_class_aclcheck_ext(relid, role, ACL_SELECT, &missing) != ACLCHECK_OK || missing)
	{
		/*
		 * The history of a dropped table stays readable by those who read
		 * custier's tables past row-level security: superusers, BYPASSRLS
		 * roles and (members of) the extension owner.
		 */
		if (missing && (superuser_arg(role) || has_bypassrls_privilege(role) ||
						has_privs_of_role(role, custier_extension_owner())))
			return CUSTIER_SEES_ALL;
		return CUSTIER_SEES_NONE;
	}
	if (check_enable_rls(relid, role, true) == RLS_ENABLED)
		return CUSTIER_SEES_SOME;
	return CUSTIER_SEES_ALL;
}

/*
 * The keys a role sees under row-level security, per (table, role), kept
 * for one statement: the entry is rebuilt when the transaction or command
 * changes.
 */
typedef struct SightEntry
{
	Oid			relid;
	Oid			role;
	LocalTransactionId lxid;
	CommandId	cid;
	CustierSight sight;
	HTAB	   *keys;			/* CUSTIER_SEES_SOME: char[] keys */
	MemoryContext cxt;
} SightEntry;

#define SIGHT_SLOTS 4
static SightEntry sight_cache[SIGHT_SLOTS];
static int	sight_next = 0;

typedef struct KeyEntry
{
	char	   *key;			/* hash key: the pointer's string */
} KeyEntry;

static uint32
key_hash(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
key_match(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Reads the keys of relid that role may SELECT, into e->keys. */
static void
sight_load_keys(SightEntry *e)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	char	   *key_column;
	char	   *sql;
	HASHCTL		ctl;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	values[0] = ObjectIdGetDatum(e->relid);
	/* custier.managed_table is readable by everyone. */
	if (custier_exec_with(CUSTIER_AS_CALLER, e->role,
				  "SELECT m.key_column::pg_catalog.text FROM custier.managed_table m"
				  " WHERE m.tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
				  1, argtypes, values, NULL, true, 1) == 0)
	{
		/* No longer managed: no key to tell the rows by; show none. */
		SPI_finish();
		e->sight = CUSTIER_SEES_NONE;
		return;
	}
	key_column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	sql = psprintf("SELECT pg_catalog.format('%%s', t.%s) FROM %s t",
				   quote_identifier(key_column),
				   quote_qualified_identifier(get_namespace_name(get_rel_namespace(e->relid)),
											  get_rel_name(e->relid)));
	/* As the role itself: its own rights, its own row-level security. */
	custier_exec_with(CUSTIER_AS_CALLER, e->role, sql, 0, NULL, NULL, NULL, true, 0);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(KeyEntry);
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = e->cxt;
	e->keys = hash_create("custier visible keys", Max(SPI_processed, 16), &ctl,
						  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *k = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *copy;
		bool		found;

		if (k == NULL)
			continue;
		copy = MemoryContextStrdup(e->cxt, k);
		(void) hash_search(e->keys, &copy, HASH_ENTER, &found);
	}
	SPI_finish();
}

static SightEntry *
sight_entry(Oid relid, Oid role)
{
	LocalTransactionId lxid = MY_LXID;
	CommandId	cid = GetCurrentCommandId(false);
	SightEntry *e;
	int			i;

	for (i = 0; i < SIGHT_SLOTS; i++)
	{
		e = &sight_cache[i];
		if (e->relid == relid && e->role == role && e->lxid == lxid && e->cid == cid && e->cxt != NULL)
			return e;
	}
	e = &sight_cache[sight_next];
	sight_next = (sight_next + 1) % SIGHT_SLOTS;
	if (e->cxt == NULL)
		e->cxt = AllocSetContextCreate(TopMemoryContext, "custier sight", ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(e->cxt);
	e->relid = InvalidOid;		/* not valid until loaded */
	e->keys = NULL;
	e->sight = custier_table_sight(relid, role);
	if (e->sight == CUSTIER_SEES_SOME)
	{
		e->role = role;
		e->relid = relid;
		PG_TRY();
		{
			sight_load_keys(e);
		}
		PG_CATCH();
		{
			e->relid = InvalidOid;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	e->relid = relid;
	e->role = role;
	e->lxid = lxid;
	e->cid = cid;
	return e;
}

bool
custier_can_see(Oid relid, Oid role, const char *key)
{
	SightEntry *e = sight_entry(relid, role);
	bool		found = false;

	switch (e->sight)
	{
		case CUSTIER_SEES_NONE:
			return false;
		case CUSTIER_SEES_ALL:
			return true;
		case CUSTIER_SEES_SOME:
			if (e->keys == NULL)
				return false;
			(void) hash_search(e->keys, &key, HASH_FIND, &found);
			return found;
	}
	return false;
}

/*
 * custier._can_see(tbl regclass, customer_key text) → boolean, for the
 * acting role: the row-level security policy of custier's tables that hold
 * customer keys, and the filter of every view that shows customers.  The
 * per-call-site cache answers CUSTIER_SEES_ALL and _NONE without looking at
 * the key.
 */
typedef struct CanSeeCache
{
	Oid			relid;
	Oid			role;
	LocalTransactionId lxid;
	CommandId	cid;
	CustierSight sight;
} CanSeeCache;

Datum
custier_can_see_sql(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			role = custier_actor_oid();
	CanSeeCache *c = (CanSeeCache *) fcinfo->flinfo->fn_extra;
	LocalTransactionId lxid = MY_LXID;
	CommandId	cid = GetCurrentCommandId(false);
	char	   *key;
	bool		result;

	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CanSeeCache));
		fcinfo->flinfo->fn_extra = c;
	}
	if (c->relid != relid || c->role != role || c->lxid != lxid || c->cid != cid)
	{
		c->sight = custier_table_sight(relid, role);
		c->relid = relid;
		c->role = role;
		c->lxid = lxid;
		c->cid = cid;
	}
	if (c->sight != CUSTIER_SEES_SOME)
		PG_RETURN_BOOL(c->sight == CUSTIER_SEES_ALL);
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	result = custier_can_see(relid, role, key);
	pfree(key);
	PG_RETURN_BOOL(result);
}
