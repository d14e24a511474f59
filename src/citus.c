/*
 * citus.c — what custier needs to know about Citus, without linking to it:
 * Citus keeps its table metadata in plain catalog tables (pg_dist_partition,
 * pg_dist_shard), looked up here by name when they exist.
 *
 * - custier_citus_refuse_manage: manage() refuses a Citus distributed or
 *   reference table (0A000) before Citus fails on its own: the managed
 *   table's triggers keep history and approvals in the coordinator's tables.
 * - custier_citus_local_relation: the relation a node reads a policy table
 *   from.  Where the policy tables are Citus reference tables, every node
 *   holds a full placement (a shard named <table>_<shardid>), kept in step by
 *   Citus's two-phase commit; reading it directly grades the same on every
 *   node, including inside a query Citus pushed down to a worker, where a
 *   query on the reference table itself would be a nested distributed
 *   execution, which Citus refuses.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "custier_citus.h"

static bool
citus_metadata_present(void)
{
	return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)) &&
		OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE));
}

/*
 * "distributed", "reference", or NULL (not a Citus table, or a Citus local
 * table, which stays on this node).  Caller is connected to SPI.
 */
static const char *
citus_table_kind_spi(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	char	   *kind;

	if (SPI_execute_with_args("SELECT CASE WHEN partmethod OPERATOR(pg_catalog.=) 'n'"
							  "              AND repmodel OPERATOR(pg_catalog.=) 't' THEN 'reference'"
							  "            WHEN partmethod OPERATOR(pg_catalog.=) 'n'"
							  "              AND colocationid OPERATOR(pg_catalog.=) 0 THEN NULL"
							  "            ELSE 'distributed' END"
							  " FROM pg_catalog.pg_dist_partition"
							  " WHERE logicalrelid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "custier: reading pg_dist_partition failed");
	if (SPI_processed == 0)
		return NULL;
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	(void) isnull;
	return kind;
}

void
custier_citus_refuse_manage(Oid relid)
{
	const char *kind;
	char	   *relname;

	if (!citus_metadata_present())
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "custier: SPI_connect failed");
	kind = citus_table_kind_spi(relid);
	kind = kind ? pstrdup(kind) : NULL;
	SPI_finish();
	if (kind == NULL)
		return;
	relname = get_rel_name(relid);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("custier cannot manage \"%s\": it is a Citus %s table",
					relname ? relname : "?", kind),
			 errdetail("A managed table's triggers record every grade change in custier.tier_history and guard approvals on the node that holds the table."),
			 errhint("Keep the managed customer table as a regular table on the coordinator; distribute the purchases and other large tables, and grade them through a metrics view (see doc/citus.md).")));
}

/*
 * Qualified name of the relation holding custier.<table>'s rows on this
 * node: the table itself, or its local reference-table placement.  Caller
 * is connected to SPI.
 */
char *
custier_citus_local_relation(const char *table)
{
	Oid			nsp = get_namespace_oid("custier", false);
	Oid			relid = get_relname_relid(table, nsp);
	Oid			argtypes[1] = {OIDOID};
	Datum		args[1];
	char	   *shardid;
	char	   *shard;

	if (!OidIsValid(relid) || !citus_metadata_present())
		return quote_qualified_identifier("custier", table);
	args[0] = ObjectIdGetDatum(relid);
	if (SPI_execute_with_args("SELECT s.shardid FROM pg_catalog.pg_dist_partition p"
							  " JOIN pg_catalog.pg_dist_shard s"
							  "   ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1"
							  "   AND p.partmethod OPERATOR(pg_catalog.=) 'n'"
							  "   AND p.repmodel OPERATOR(pg_catalog.=) 't'",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "custier: reading pg_dist_shard failed");
	if (SPI_processed == 0)
		return quote_qualified_identifier("custier", table);
	shardid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	shard = psprintf("%s_%s", table, shardid);
	if (!OidIsValid(get_relname_relid(shard, nsp)))
		return quote_qualified_identifier("custier", table);	/* no local placement */
	return quote_qualified_identifier("custier", shard);
}
