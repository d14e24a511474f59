-- Reading follows the table (needs custier._can_see, src/rights.sql).



ALTER POLICY readable ON @extschema@.tier_history USING (@extschema@._can_see(tbl, customer_key));

ALTER POLICY readable ON @extschema@.customer_key_change USING (@extschema@._can_see(tbl, new_key));

ALTER POLICY readable ON @extschema@.adjustment USING (@extschema@._can_see(tbl, customer_key));

ALTER TABLE @extschema@.evaluation_result ENABLE ROW LEVEL SECURITY;

CREATE POLICY readable ON @extschema@.evaluation_result FOR SELECT
    USING (@extschema@._can_see((SELECT e.tbl FROM @extschema@.evaluation e
                                 WHERE e.evaluation_id OPERATOR(pg_catalog.=) evaluation_result.evaluation_id),
                                customer_key));
