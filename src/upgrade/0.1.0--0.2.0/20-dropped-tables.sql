-- Dropped tables: their rows are re-pointed to tbl 0 and keep the table's
-- name (lifecycle.sql: custier._forget_table).
ALTER TABLE @extschema@.tier_history ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.tier_history.dropped_table IS 'once the table is dropped: its name (tbl is then 0, so that a new table reusing its OID never takes this history)';
ALTER TABLE @extschema@.customer_key_change ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.customer_key_change.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
ALTER TABLE @extschema@.adjustment ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.adjustment.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
ALTER TABLE @extschema@.evaluation ADD COLUMN dropped_table text;
COMMENT ON COLUMN @extschema@.evaluation.dropped_table IS 'once the table is dropped: its name (tbl is then 0)';
