-- run_evaluation calls custier.allocate on the policy's table after its last
-- batch, in that batch's transaction, when the table has an allocation.
CREATE OR REPLACE PROCEDURE @extschema@.run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size integer DEFAULT 10000)
LANGUAGE plpgsql AS $$
DECLARE id bigint; step record; t0 timestamptz; full_batches bigint := 0; total float8; rate float8; secs float8;
BEGIN
    id := custier._evaluation_begin($1, $2, $3);
    t0 := pg_catalog.clock_timestamp();
    -- The planner's estimate of the customers: enough for an ETA.
    SELECT c.reltuples INTO total FROM custier.managed_table m JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.tbl
    WHERE m.policy OPERATOR(pg_catalog.=) $1;
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
        secs := pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) t0);
        IF NOT step.finished THEN full_batches := full_batches + 1; END IF;
        rate := CASE WHEN secs > 0 THEN full_batches * $3 / secs END;
        -- Rate and ETA go in the DETAIL: the message itself stays the same from run to run.
        RAISE NOTICE 'evaluation % of policy "%": % customers done, % changed, % proposed%',
            id, $1, step.customers, step.changed, step.proposed,
            CASE WHEN step.finished THEN ' (finished)' ELSE '' END
            USING DETAIL = CASE
                WHEN step.finished THEN pg_catalog.format('%s s in this call.', pg_catalog.round(secs::numeric, 1))
                ELSE pg_catalog.format('%s customers/s in this call%s.', pg_catalog.round(coalesce(rate, 0)::numeric),
                    CASE WHEN rate > 0 AND total > step.customers
                         THEN pg_catalog.format('; about %s s left for about %s customers', pg_catalog.round(((total - step.customers) / rate)::numeric),
                                                pg_catalog.round((total - step.customers)::numeric))
                         ELSE '' END) END;
        EXIT WHEN step.finished;
    END LOOP;
END $$;
