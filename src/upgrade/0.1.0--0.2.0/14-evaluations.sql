-- evaluation runs: metrics sources and the managed table are read

-- as the caller, grades applied as the table's owner, custier's tables

-- written as custier's owner; run_evaluation is a C procedure, so EXECUTE on

-- it is all a cycle runner needs; runs and (filtered) results are readable.



GRANT SELECT ON @extschema@.evaluation, @extschema@.evaluation_result TO PUBLIC;

DROP FUNCTION @extschema@._evaluation_apply(bigint, integer);

DROP FUNCTION @extschema@._evaluation_step(bigint, integer);

CREATE OR REPLACE FUNCTION @extschema@._operator(op text, lefttype regtype, righttype regtype) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname)
                       FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
                      WHERE o.oprname = op AND o.oprleft = lefttype AND o.oprright = righttype
                      ORDER BY n.nspname <> 'pg_catalog', n.nspname LIMIT 1),
                    format('OPERATOR(pg_catalog.%s)', op))
$$;
COMMENT ON FUNCTION @extschema@._operator(text, regtype, regtype) IS 'internal: the schema-qualified operator op between two types';
REVOKE ALL ON FUNCTION @extschema@._operator(text, regtype, regtype) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@._evaluation_query(text, boolean) IS 'internal: the set-based query, run as the caller, that grades a policy''s customers';
REVOKE ALL ON FUNCTION @extschema@._evaluation_query(text, boolean) FROM PUBLIC;

-- What evaluate() needs: the queries of its first and next batches, the
-- earlier evaluations, the keys whose grade is held at as_of
-- (src/simulation.sql) and the rules.
CREATE OR REPLACE FUNCTION @extschema@._evaluation_plan(p_policy text, p_as_of timestamptz,
    OUT query text, OUT resume_query text, OUT earlier bigint[], OUT held text[],
    OUT upgrade_after integer, OUT downgrade_after integer, OUT max_step integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record;
BEGIN
    s := custier._evaluation_setup(p_policy);
    query := custier._evaluation_query(p_policy, false);
    resume_query := custier._evaluation_query(p_policy, true);
    earlier := custier._earlier_evaluations(p_policy, p_as_of);
    held := custier._held_keys(s.tbl, p_as_of);
    upgrade_after := s.upgrade_after;
    downgrade_after := s.downgrade_after;
    max_step := s.max_step;
END $$;
COMMENT ON FUNCTION @extschema@._evaluation_plan(text, timestamptz) IS 'internal: the queries, earlier evaluations, held keys and rules of an evaluation of a policy';
REVOKE ALL ON FUNCTION @extschema@._evaluation_plan(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.evaluate(text, timestamptz) IS
    'what an evaluation of the policy would do now: current, qualified and proposed tier, score and explanation for every customer; changes nothing';
REVOKE ALL ON FUNCTION @extschema@.evaluate(text, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._evaluation_begin(p_policy text, p_as_of timestamptz, p_batch_size integer)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE s record; id bigint;
BEGIN
    IF p_as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be a positive integer, not %', coalesce(p_batch_size::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := custier._evaluation_setup(p_policy);
    -- Look first: ON CONFLICT would spend an evaluation_id on every resume.
    SELECT e.evaluation_id INTO id FROM custier.evaluation e WHERE e.policy = p_policy AND e.as_of = p_as_of;
    IF id IS NULL THEN
        INSERT INTO custier.evaluation (policy, as_of, tbl, started_by)
        VALUES (p_policy, p_as_of, s.tbl, custier._actor())
        ON CONFLICT (policy, as_of) DO NOTHING
        RETURNING evaluation_id INTO id;
    END IF;
    IF id IS NULL THEN  -- another session started it meanwhile
        SELECT e.evaluation_id INTO id FROM custier.evaluation e WHERE e.policy = p_policy AND e.as_of = p_as_of;
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION @extschema@._evaluation_begin(text, timestamptz, integer) IS 'internal: finds or starts the evaluation of a policy at as_of';
REVOKE ALL ON FUNCTION @extschema@._evaluation_begin(text, timestamptz, integer) FROM PUBLIC;

-- The next batch of a running evaluation, locked (the row lock serializes
-- concurrent runners of one evaluation): where it stands, the versions of
-- the rows it is graded by, and, when run_evaluation plans (once per call,
-- and again after those rows changed), how to grade it.
CREATE OR REPLACE FUNCTION @extschema@._evaluation_claim(p_evaluation_id bigint, p_plan boolean,
    OUT finished boolean, OUT customers bigint, OUT changed bigint, OUT proposed bigint,
    OUT batch integer, OUT last_key text, OUT tbl regclass, OUT policy text, OUT approval text, OUT query text,
    OUT resume_query text, OUT earlier bigint[], OUT upgrade_after integer, OUT downgrade_after integer, OUT max_step integer,
    OUT held text[], OUT plan_version text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE ev custier.evaluation; s record;
BEGIN
    SELECT * INTO ev FROM custier.evaluation e WHERE e.evaluation_id = p_evaluation_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evaluation % does not exist', p_evaluation_id USING ERRCODE = 'undefined_object';
    END IF;
    finished := ev.finished_at IS NOT NULL;
    customers := ev.customers; changed := ev.changed; proposed := ev.proposed;
    batch := ev.batches + 1; last_key := ev.last_key; policy := ev.policy;
    IF finished THEN RETURN; END IF;
    -- The rest once per CALL of run_evaluation (p_plan), not per batch.
    -- Every batch says which versions of the policy row and of its managed
    -- table's row it would grade by, and the names its queries read the
    -- table and the metrics source by (renamed, another relation could take
    -- the name): a call plans again when they changed.
    SELECT m.xmin::text || '/' || p.xmin::text || '/' || m.tbl::text || '/' || coalesce(p.metrics_source::text, '')
      INTO plan_version
      FROM custier.managed_table m JOIN custier.policy p ON p.name = m.policy
     WHERE m.policy = ev.policy;
    IF NOT p_plan THEN
        RETURN;
    END IF;
    s := custier._evaluation_setup(ev.policy);
    -- One evaluation grades one table: the policy's may not change under it.
    IF s.tbl IS DISTINCT FROM ev.tbl THEN
        RAISE EXCEPTION 'the table of policy "%" changed during evaluation %', ev.policy, p_evaluation_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The evaluation grades %s; the policy now manages %s.',
                                  coalesce(nullif(ev.tbl::oid, 0)::regclass::text, ev.dropped_table, '?'), s.tbl),
                  HINT = 'Evaluate at another as_of, or delete this evaluation and its results first.';
    END IF;
    tbl := s.tbl;
    approval := s.approval;
    query := custier._evaluation_query(ev.policy, ev.last_key IS NOT NULL);
    resume_query := CASE WHEN ev.last_key IS NOT NULL THEN query ELSE custier._evaluation_query(ev.policy, true) END;
    earlier := custier._earlier_evaluations(ev.policy, ev.as_of);
    upgrade_after := s.upgrade_after;
    downgrade_after := s.downgrade_after;
    max_step := s.max_step;
    -- Held grades (src/simulation.sql): the keys held at as_of.
    held := custier._held_keys(s.tbl, ev.as_of);
END $$;
COMMENT ON FUNCTION @extschema@._evaluation_claim(bigint, boolean) IS 'internal: locks a running evaluation for its next batch and says which versions of its policy and managed table rows it grades by; with p_plan, also how: the queries, earlier evaluations, rules and held keys';
REVOKE ALL ON FUNCTION @extschema@._evaluation_claim(bigint, boolean) FROM PUBLIC;

COMMENT ON PROCEDURE @extschema@.run_evaluation(text, timestamptz, integer) IS
    'evaluates every customer of the policy''s managed table in batches, committing each; applies or proposes the changes; resumes after a crash';
