-- rights.sql — with whose rights custier runs, and who sees which customers
-- (src/rights.c; doc/security.md).

-- "Reading follows the table": the one predicate every custier table, view
-- and function that shows customers filters by.
CREATE FUNCTION @extschema@._can_see(tbl regclass, customer_key text) RETURNS boolean
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'custier_can_see_sql';
COMMENT ON FUNCTION @extschema@._can_see(regclass, text) IS
    'internal: may the acting role see this customer of managed table tbl (SELECT on it, under its row-level security)? Answered once per table and statement when no row-level security applies';
