-- 15-evaluation-result-keys.sql — evaluation_result's keys are compared byte
-- for byte, as tier_history's and owner_history's are (COLLATE "C"): its
-- primary key takes one row per customer per evaluation, and a comparison
-- in the database's collation costs every insert a strcoll per step down
-- the index.  The values do not change.
ALTER TABLE @extschema@.evaluation_result ALTER COLUMN customer_key TYPE text COLLATE "C";

-- The look-back reads earlier results by primary key (one range of it when
-- many customers of a batch need them), so the (evaluation_id, batch) index
-- goes: it cost every result row a second index insertion.
DROP INDEX @extschema@.evaluation_result_batch;
