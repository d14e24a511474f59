-- run_evaluation calls custier.allocate on the policy's table after its last
-- batch, in that batch's transaction, when the table has an allocation.
CREATE OR REPLACE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE C AS 'MODULE_PATHNAME', 'custier_run_evaluation';
