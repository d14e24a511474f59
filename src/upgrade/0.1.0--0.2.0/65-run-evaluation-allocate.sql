-- run_evaluation calls custier.allocate on the policy's table after its last
-- batch, in that batch's transaction, when the table has an allocation.
CREATE OR REPLACE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE id bigint; step record;
BEGIN
    id := custier._evaluation_begin($1, $2, $3);
    LOOP
        step := custier._evaluation_step(id, $3);
        -- After the last batch, in its transaction: a customer whose grade
        -- left its owner's tiers gets an eligible owner in the same cycle.
        IF step.finished THEN
            PERFORM custier.allocate(a.tbl)
               FROM custier.allocation a
               JOIN custier.managed_table m ON m.tbl OPERATOR(pg_catalog.=) a.tbl
              WHERE m.policy OPERATOR(pg_catalog.=) $1;
        END IF;
        COMMIT;
        RAISE NOTICE 'evaluation % of policy "%": % customers done, % changed, % proposed%',
            id, $1, step.customers, step.changed, step.proposed,
            CASE WHEN step.finished THEN ' (finished)' ELSE '' END;
        EXIT WHEN step.finished;
    END LOOP;
END $$;
