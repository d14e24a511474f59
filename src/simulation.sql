-- simulation.sql — what-if before applying, and held grades (see doc/simulation.md):
-- copy_policy() makes a draft, simulate() grades a managed table's customers
-- with a live policy and a draft side by side, and an applied adjustment
-- with hold_until holds the customer's grade until then (custier.held; the
-- evaluation runs mark such customers 'held').  All in SQL: nothing here
-- runs with borrowed rights.

-- ---------------------------------------------------------------------
-- copy_policy: a draft
-- ---------------------------------------------------------------------
-- The tables that hold one policy's rows, parents before children, with the
-- column naming the policy.  A table that is not there (service groups come
-- with their own module) is skipped, so a new per-policy table is one more
-- line here.
CREATE FUNCTION @extschema@._policy_parts(OUT tbl text, OUT policy_column name, OUT ord integer)
RETURNS SETOF record LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    VALUES ('policy_tier', 'policy', 1), ('policy_criterion', 'policy', 2), ('policy_threshold', 'policy', 3),
           ('policy_band', 'policy', 4), ('policy_reviewer', 'policy', 5), ('service_group', 'policy', 6)
$$;
COMMENT ON FUNCTION @extschema@._policy_parts() IS 'internal: the tables of custier that hold a policy''s rows, in the order copy_policy copies them';

CREATE FUNCTION @extschema@._policy_has_rows(tbl text, policy_column name, policy text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE found boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT FROM custier.%I WHERE %I OPERATOR(pg_catalog.=) $1)', tbl, policy_column)
        INTO found USING policy;
    RETURN found;
END $$;
COMMENT ON FUNCTION @extschema@._policy_has_rows(text, name, text) IS 'internal: whether a policy has rows in one of the tables copy_policy copies';

CREATE FUNCTION @extschema@.copy_policy(source text, target text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part record;
    cols text;
BEGIN
    IF source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN source IS NULL THEN 'source' ELSE 'target' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Locks the source: its rows cannot change while they are copied.
    PERFORM FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) source FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', source
            USING ERRCODE = 'undefined_object', HINT = 'Policies are rows of custier.policy.';
    END IF;
    IF EXISTS (SELECT FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) target) THEN
        RAISE EXCEPTION 'policy "%" already exists', target
            USING ERRCODE = 'duplicate_object', HINT = 'Name the copy after a policy that does not exist yet.';
    END IF;
    -- Every column but the name (and its owner, which is whoever inserts the
    -- copy) is copied as it is: the rows are inserted as the caller, so the
    -- policy tables' own privileges, checks and audit apply.
    FOR part IN SELECT 'policy' AS tbl, 'name'::name AS policy_column, 0 AS ord
                UNION ALL
                SELECT x.tbl, x.policy_column, x.ord FROM custier._policy_parts() x
                 WHERE pg_catalog.to_regclass('custier.' OPERATOR(pg_catalog.||) x.tbl) IS NOT NULL
                ORDER BY ord
    LOOP
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = pg_catalog.to_regclass('custier.' OPERATOR(pg_catalog.||) part.tbl)
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity <> 'a'
           AND a.attname NOT IN (part.policy_column, 'owner');
        -- A part the source does not use is skipped, so copying a policy
        -- without, say, service groups needs no privilege on that table.
        CONTINUE WHEN part.ord > 0 AND NOT custier._policy_has_rows(part.tbl, part.policy_column, source);
        EXECUTE format('INSERT INTO custier.%I (%I%s) SELECT $2%s FROM custier.%I WHERE %I OPERATOR(pg_catalog.=) $1',
                       part.tbl, part.policy_column, coalesce(', ' || cols, ''), coalesce(', ' || cols, ''),
                       part.tbl, part.policy_column)
            USING source, target;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@.copy_policy(text, text) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.copy_policy(text, text) IS
    'a new policy with every row of the source (tiers, criteria, thresholds, bands, reviewers, service groups), serving no table: a draft to edit';

-- ---------------------------------------------------------------------
-- simulate: both policies, side by side, changing nothing
-- ---------------------------------------------------------------------
-- The one query behind simulate(): $1 the live policy, $2 the draft, $3 as_of.
-- Runs as the caller: the managed table and both metrics sources are read
-- with the caller's rights (and row-level security).
CREATE FUNCTION @extschema@._simulation_query(p_policy text, p_draft text, p_as_of timestamptz) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    live custier.policy;
    draft custier.policy;
    m custier.managed_table;
    draft_join text := '';
    draft_row text := 'm';
    draft_key text := 'm';
    current_tier text;
BEGIN
    IF p_policy IS NULL OR p_draft IS NULL OR p_as_of IS NULL THEN
        RAISE EXCEPTION '% must not be NULL',
              CASE WHEN p_policy IS NULL THEN 'policy' WHEN p_draft IS NULL THEN 'draft' ELSE 'as_of' END
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO live FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" does not exist', p_policy
            USING ERRCODE = 'undefined_object', HINT = 'Policies are rows of custier.policy.';
    END IF;
    SELECT * INTO draft FROM custier.policy p WHERE p.name OPERATOR(pg_catalog.=) p_draft;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'draft policy "%" does not exist', p_draft
            USING ERRCODE = 'undefined_object', HINT = 'Make one with custier.copy_policy(policy, draft).';
    END IF;
    SELECT * INTO m FROM custier.managed_table t WHERE t.policy OPERATOR(pg_catalog.=) p_policy;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'policy "%" grades no managed table: there is no one to simulate', p_policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The first argument is the live policy of a managed table, the second its draft.';
    END IF;
    IF EXISTS (SELECT FROM custier.managed_table t WHERE t.policy OPERATOR(pg_catalog.=) p_draft) THEN
        RAISE EXCEPTION 'policy "%" grades table %: it is not a draft', p_draft,
              (SELECT t.tbl FROM custier.managed_table t WHERE t.policy OPERATOR(pg_catalog.=) p_draft)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Simulate a draft that serves no table: custier.copy_policy(policy, draft) makes one.';
    END IF;
    IF live.metrics_source IS NULL OR live.key_column IS NULL THEN
        RAISE EXCEPTION 'policy "%" has no metrics source', p_policy
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set custier.policy.metrics_source and key_column to a table or view with one row per customer.';
    END IF;
    IF draft.metrics_source IS NULL OR draft.key_column IS NULL THEN
        RAISE EXCEPTION 'draft policy "%" has no metrics source', p_draft
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Set custier.policy.metrics_source and key_column to a table or view with one row per customer.';
    END IF;
    -- Edits are checked when they are made, but a metrics source can change
    -- under a policy afterwards (a column dropped or retyped), and checks can
    -- be switched off: check both again, as they stand now.
    PERFORM custier.policy_check(p_policy);
    PERFORM custier.policy_check(p_draft);

    -- A draft over the live policy's own source grades the same row.
    IF draft.metrics_source OPERATOR(pg_catalog.<>) live.metrics_source
       OR draft.key_column OPERATOR(pg_catalog.<>) live.key_column THEN
        draft_join := format(' LEFT JOIN %s d ON d.%I = t.%I', draft.metrics_source, draft.key_column, m.key_column);
        draft_row := 'd';
        draft_key := format('d.%I', draft.key_column);
        -- Say clearly when the draft's key cannot meet the table's.
        BEGIN
            EXECUTE format('SELECT FROM %s t%s LIMIT 0', m.tbl, draft_join);
        EXCEPTION WHEN undefined_function THEN
            RAISE EXCEPTION 'draft policy "%": key column "%" of its metrics source % cannot be compared with key column "%" of table %',
                            p_draft, draft.key_column, draft.metrics_source, m.key_column, m.tbl
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'The draft''s metrics source needs a key of a type comparable with the table''s key.';
        END;
    ELSE
        draft_key := format('m.%I', live.key_column);
    END IF;

    -- The grade at as_of: the table's own column from the start of this
    -- transaction on, the recorded history before it.
    IF p_as_of OPERATOR(pg_catalog.>=) pg_catalog.now() THEN
        current_tier := format('t.%I', m.tier_column);
    ELSE
        -- Set-based, so a past as_of reads the history once.
        current_tier := 'h.tier';
    END IF;

    RETURN format($q$
SELECT t.%1$I::text AS customer_key, %2$s AS current_tier,
       -- A customer with no metrics row has no metrics: graded as an empty object.
       CASE WHEN m.%3$I IS NULL THEN custier.assign_tier($1, '{}'::jsonb) ELSE custier.assign_tier($1, m) END AS live_tier,
       CASE WHEN %4$s IS NULL THEN custier.assign_tier($2, '{}'::jsonb) ELSE custier.assign_tier($2, %5$s) END AS draft_tier
FROM %6$s t LEFT JOIN %7$s m ON m.%3$I = t.%1$I%8$s%9$s$q$,
        m.key_column, current_tier, live.key_column, draft_key, draft_row,
        m.tbl, live.metrics_source, draft_join,
        CASE WHEN p_as_of OPERATOR(pg_catalog.>=) pg_catalog.now() THEN ''
             ELSE format(' LEFT JOIN custier.tiers_at(%L, $3) h ON h.customer_key OPERATOR(pg_catalog.=) (t.%I::text COLLATE "C")',
                         m.tbl, m.key_column) END);
END $$;
COMMENT ON FUNCTION @extschema@._simulation_query(text, text, timestamptz) IS 'internal: checks a live policy and its draft, and builds the query of custier.simulate';

CREATE FUNCTION @extschema@.simulate(policy text, draft text, as_of timestamptz DEFAULT now())
RETURNS TABLE (customer_key text, current_tier @extschema@.tier, live_tier @extschema@.tier, draft_tier @extschema@.tier)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY EXECUTE custier._simulation_query($1, $2, $3) USING $1, $2, $3;
END $$;
COMMENT ON FUNCTION @extschema@.simulate(text, text, timestamptz) IS
    'every customer of the policy''s managed table graded by the live policy and by a draft, over their metrics sources, read as the caller; changes nothing';

-- ---------------------------------------------------------------------
-- Held grades
-- ---------------------------------------------------------------------
-- The holds in force at a moment: the customer's latest applied adjustment
-- carries a hold_until after that moment, and the customer has not left its
-- key (deleted, or its key changed) since the hold was applied.  Reads the
-- adjustments and the history as the caller: a role sees the holds of the
-- customers it can see.
CREATE FUNCTION @extschema@._holds(tbl regclass, at timestamptz)
RETURNS TABLE (tbl regclass, customer_key text, tier @extschema@.tier, hold_until timestamptz, adjustment_id bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.tbl, a.customer_key, a.to_tier, a.hold_until, a.adjustment_id
      FROM custier.adjustment a
     WHERE a.hold_until > $2 AND a.status = 'applied'
       AND ($1 IS NULL OR a.tbl = $1)
       AND a.tbl::oid <> 0          -- a dropped table's rows (tbl 0): their holds ended with it
       AND NOT EXISTS (SELECT FROM custier.adjustment b
                        WHERE b.tbl = a.tbl AND b.customer_key = a.customer_key AND b.status = 'applied'
                          AND (b.decided_at, b.adjustment_id) > (a.decided_at, a.adjustment_id))
       AND NOT EXISTS (SELECT FROM custier.tier_history h
                        WHERE h.tbl = a.tbl AND h.customer_key = (a.customer_key COLLATE "C")
                          AND h.changed_at >= a.decided_at AND h.new_tier IS NULL)
$$;
COMMENT ON FUNCTION @extschema@._holds(regclass, timestamptz) IS
    'internal: holds in force at a moment (of one table, or of all when tbl is NULL), as the caller may see them';

CREATE VIEW @extschema@.held WITH (security_invoker = true) AS
    SELECT h.tbl, h.customer_key, h.tier, h.hold_until, h.adjustment_id
      FROM @extschema@._holds(NULL, pg_catalog.now()) h;
COMMENT ON VIEW @extschema@.held IS
    'grades held by an applied adjustment until hold_until: evaluations record these customers but propose no change for them';
GRANT SELECT ON @extschema@.held TO PUBLIC;

-- Finding a customer's applied adjustments, and the holds.
CREATE INDEX adjustment_applied ON @extschema@.adjustment (tbl, customer_key, decided_at) WHERE status = 'applied';
COMMENT ON INDEX @extschema@.adjustment_applied IS 'a customer''s applied adjustments: the latest one decides whether a hold is in force';
CREATE INDEX adjustment_hold ON @extschema@.adjustment (hold_until) WHERE hold_until IS NOT NULL;
COMMENT ON INDEX @extschema@.adjustment_hold IS 'adjustments that hold a grade: custier.held';

-- May an adjustment name the grade the customer already has?  Yes when it
-- sets a hold, or when a hold is in force: that adjustment ends or changes it.
CREATE FUNCTION @extschema@._same_grade_allowed(a custier.adjustment) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.hold_until IS NOT NULL
        OR EXISTS (SELECT FROM custier._holds(a.tbl, pg_catalog.now()) h WHERE h.customer_key = a.customer_key)
$$;
COMMENT ON FUNCTION @extschema@._same_grade_allowed(custier.adjustment) IS
    'internal: may this adjustment keep the customer''s grade (it holds it, or ends or changes a hold in force)';
REVOKE ALL ON FUNCTION @extschema@._same_grade_allowed(custier.adjustment) FROM PUBLIC;

-- The state machine's part for holds: a hold ends after the adjustment is
-- proposed, and never changes afterwards.  Fires after state_machine (names
-- order BEFORE triggers), once proposed_at is set.
CREATE FUNCTION @extschema@._adjustment_hold_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.hold_until IS NOT NULL AND NOT NEW.hold_until > NEW.proposed_at THEN
            RAISE EXCEPTION 'hold_until % of the adjustment of customer "%" is not in the future', NEW.hold_until, NEW.customer_key
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A hold ends after the adjustment is proposed; leave hold_until NULL for no hold.';
        END IF;
    ELSIF NEW.hold_until IS DISTINCT FROM OLD.hold_until THEN
        RAISE EXCEPTION 'adjustment % cannot be edited: only its status changes', OLD.adjustment_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'To end or change a hold, propose a new adjustment of the customer.';
    END IF;
    RETURN NEW;
END $$;
COMMENT ON FUNCTION @extschema@._adjustment_hold_guard() IS 'trigger: hold_until of a new adjustment lies after its proposal, and never changes';
REVOKE ALL ON FUNCTION @extschema@._adjustment_hold_guard() FROM PUBLIC;
CREATE TRIGGER state_machine_hold BEFORE INSERT OR UPDATE ON @extschema@.adjustment
    FOR EACH ROW EXECUTE FUNCTION @extschema@._adjustment_hold_guard();
ALTER TABLE @extschema@.adjustment ENABLE ALWAYS TRIGGER state_machine_hold;

-- Holds in evaluations: custier._held_keys() below gives the keys held at
-- as_of; evaluate() and run_evaluation() keep those customers' grades
-- (src/evaluation.c).

CREATE FUNCTION @extschema@._held_keys(tbl regclass, at timestamptz) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(h.customer_key), '{}') FROM custier._holds($1, $2) h WHERE $1 IS NOT NULL
$$;
COMMENT ON FUNCTION @extschema@._held_keys(regclass, timestamptz) IS 'internal: keys of the customers of a table whose grade is held at a moment';
