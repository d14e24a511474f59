-- policy.sql — grading policies (see doc/reference.md): tables, validation, assign_tier/score/explain (src/policy.c).

CREATE TABLE @extschema@.policy (
    name            text PRIMARY KEY CHECK (name <> ''),
    method          text NOT NULL DEFAULT 'thresholds',
    lowest          @extschema@.tier NOT NULL DEFAULT 'D',
    period          interval NOT NULL DEFAULT '6 months',
    upgrade_after   integer NOT NULL DEFAULT 1,
    downgrade_after integer NOT NULL DEFAULT 1,
    max_step        integer,
    approval        text NOT NULL DEFAULT 'none',
    metrics_source  regclass,
    key_column      name,
    description     text,
    owner           name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE @extschema@.policy IS 'grading policies: how metrics become a grade, and how grades may move';
COMMENT ON COLUMN @extschema@.policy.owner IS 'the role whose members may attach tables to this policy (custier.manage); by default the role that inserted it';

CREATE TABLE @extschema@.policy_tier (
    policy    text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    tier      @extschema@.tier NOT NULL,
    label     text,
    min_score numeric,
    PRIMARY KEY (policy, tier)
);
COMMENT ON TABLE @extschema@.policy_tier IS 'the grades of a policy: labels, and minimum scores for the score method';

CREATE TABLE @extschema@.policy_criterion (
    policy           text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    metric           name NOT NULL,
    weight           numeric NOT NULL DEFAULT 1,
    higher_is_better boolean NOT NULL DEFAULT true,
    PRIMARY KEY (policy, metric)
);
COMMENT ON TABLE @extschema@.policy_criterion IS 'the metrics a policy grades on, with their weights and direction';

CREATE TABLE @extschema@.policy_threshold (
    policy text NOT NULL,
    metric name NOT NULL,
    tier   @extschema@.tier NOT NULL,
    bound  numeric NOT NULL,
    PRIMARY KEY (policy, metric, tier),
    FOREIGN KEY (policy, metric) REFERENCES @extschema@.policy_criterion (policy, metric) ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.policy_threshold IS 'thresholds method: meeting tier T on a metric means value >= bound (<= when lower is better)';

CREATE TABLE @extschema@.policy_band (
    policy text NOT NULL,
    metric name NOT NULL,
    bound  numeric NOT NULL,
    points numeric NOT NULL,
    PRIMARY KEY (policy, metric, bound),
    FOREIGN KEY (policy, metric) REFERENCES @extschema@.policy_criterion (policy, metric) ON UPDATE CASCADE ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.policy_band IS 'score method: a metric earns the points of the best band whose bound it meets';

CREATE TABLE @extschema@.policy_reviewer (
    policy     text NOT NULL REFERENCES @extschema@.policy (name) ON UPDATE CASCADE ON DELETE CASCADE,
    department text NOT NULL CHECK (department <> ''),
    PRIMARY KEY (policy, department),
    reviewer_role name
);
COMMENT ON TABLE @extschema@.policy_reviewer IS 'departments that must review an adjustment before it can be approved';
COMMENT ON COLUMN @extschema@.policy_reviewer.reviewer_role IS 'the role whose members review for this department; NULL: no one may until it is set';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_tier', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_criterion', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_threshold', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_band', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_reviewer', '');

-- Backstops in the catalog.  The triggers below refuse the same rows first,
-- with messages that name the policy, metric and tier; these CHECKs still hold
-- when triggers are off (session_replication_role = replica).
ALTER TABLE @extschema@.policy
    ADD CONSTRAINT policy_method_check CHECK (method IN ('thresholds', 'score')),
    ADD CONSTRAINT policy_approval_check CHECK (approval IN ('none', 'downgrade', 'all')),
    ADD CONSTRAINT policy_upgrade_after_check CHECK (upgrade_after >= 1),
    ADD CONSTRAINT policy_downgrade_after_check CHECK (downgrade_after >= 1),
    ADD CONSTRAINT policy_max_step_check CHECK (max_step IS NULL OR max_step >= 1),
    ADD CONSTRAINT policy_period_check CHECK (period > interval '0');
ALTER TABLE @extschema@.policy_criterion
    ADD CONSTRAINT policy_criterion_metric_check CHECK (metric <> ''),
    ADD CONSTRAINT policy_criterion_weight_check CHECK (weight > 0 AND weight < 'Infinity');
ALTER TABLE @extschema@.policy_threshold
    ADD CONSTRAINT policy_threshold_bound_check CHECK (bound <> 'NaN');
ALTER TABLE @extschema@.policy_band
    ADD CONSTRAINT policy_band_bound_check CHECK (bound <> 'NaN'),
    ADD CONSTRAINT policy_band_points_check CHECK (points > '-Infinity' AND points < 'Infinity');
ALTER TABLE @extschema@.policy_tier
    ADD CONSTRAINT policy_tier_min_score_check CHECK (min_score <> 'NaN');

-- Policies are rules, not secrets: everyone may read them (assign_tier reads
-- them as the caller); only the owner and whom it grants may change them.
REVOKE ALL ON @extschema@.policy, @extschema@.policy_tier, @extschema@.policy_criterion,
              @extschema@.policy_threshold, @extschema@.policy_band, @extschema@.policy_reviewer FROM PUBLIC;
GRANT SELECT ON @extschema@.policy, @extschema@.policy_tier, @extschema@.policy_criterion,
                @extschema@.policy_threshold, @extschema@.policy_band, @extschema@.policy_reviewer TO PUBLIC;

-- Helper for the checks: is this type (or the base of this domain) one the
-- record form of assign_tier reads as a number?
CREATE FUNCTION @extschema@.policy_numeric_type(typ regtype) RETURNS boolean
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE base(oid, typbasetype) AS (
        SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t WHERE t.oid = typ
        UNION ALL
        SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t JOIN base b ON t.oid = b.typbasetype
    )
    SELECT oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype,
                   'float4'::regtype, 'float8'::regtype, 'numeric'::regtype)
    FROM base WHERE typbasetype = 0
$$;
COMMENT ON FUNCTION @extschema@.policy_numeric_type(regtype) IS
    'true when a metric column of this type (or a domain over it) can be graded: smallint, integer, bigint, real, double precision, numeric';

-- Row-level checks, before the row is written (so before the CHECKs above).
CREATE FUNCTION @extschema@.policy_row_check() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n jsonb := to_jsonb(NEW);
    pol text := coalesce(n->>'policy', n->>'name');
    problem text;
    hint text;
BEGIN
    -- The table is named by the trigger's argument, not TG_TABLE_NAME: as a
    -- Citus reference table, the rows are written to shards (policy_102008).
    CASE coalesce(TG_ARGV[0], TG_TABLE_NAME)
    WHEN 'policy' THEN
        IF NEW.name = '' THEN
            problem := 'a policy name must not be empty';
        ELSIF NEW.method IS DISTINCT FROM 'thresholds' AND NEW.method IS DISTINCT FROM 'score' THEN
            problem := format('unknown method "%s"', NEW.method);
            hint := 'The method is ''thresholds'' or ''score''.';
        ELSIF NEW.approval IS DISTINCT FROM 'none' AND NEW.approval IS DISTINCT FROM 'downgrade'
              AND NEW.approval IS DISTINCT FROM 'all' THEN
            problem := format('unknown approval "%s"', NEW.approval);
            hint := 'Approval is ''none'', ''downgrade'' or ''all''.';
        ELSIF NEW.upgrade_after < 1 THEN
            problem := format('upgrade_after must be at least 1, not %s', NEW.upgrade_after);
        ELSIF NEW.downgrade_after < 1 THEN
            problem := format('downgrade_after must be at least 1, not %s', NEW.downgrade_after);
        ELSIF NEW.max_step < 1 THEN
            problem := format('max_step must be NULL (no limit) or at least 1, not %s', NEW.max_step);
        ELSIF NEW.period <= interval '0' THEN
            problem := format('period must be positive, not %s', NEW.period);
        ELSIF (TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner)
              AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = NEW.owner) THEN
            problem := format('owner %s is not a role', coalesce(NEW.owner::text, 'NULL'));
        END IF;
        -- Ownership is given, not taken: the editor must be a member of the
        -- new owner (and, to change it, of the old one).
        IF problem IS NULL AND (TG_OP = 'INSERT' OR NEW.owner IS DISTINCT FROM OLD.owner)
           AND (NOT pg_has_role(current_user, NEW.owner, 'MEMBER')
                OR (TG_OP = 'UPDATE' AND EXISTS (SELECT FROM pg_roles r WHERE r.rolname = OLD.owner)
                    AND NOT pg_has_role(current_user, OLD.owner, 'MEMBER'))) THEN
            RAISE EXCEPTION 'policy "%": % may not make % its owner', NEW.name, current_user, NEW.owner
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'The owner of a policy decides which tables it grades: set it to a role you are a member of.';
        END IF;
    WHEN 'policy_criterion' THEN
        IF NEW.metric = '' THEN
            problem := 'a metric name must not be empty';
        ELSIF NOT (NEW.weight > 0 AND NEW.weight < 'Infinity') THEN
            problem := format('weight of metric "%s" must be a finite number > 0, not %s', NEW.metric, NEW.weight);
        END IF;
    WHEN 'policy_threshold' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('threshold for tier %s on metric "%s" must be a number, not NaN', NEW.tier, NEW.metric);
        END IF;
    WHEN 'policy_band' THEN
        IF NEW.bound = 'NaN' THEN
            problem := format('band on metric "%s" must have a number as bound, not NaN', NEW.metric);
        ELSIF NOT (NEW.points > '-Infinity' AND NEW.points < 'Infinity') THEN
            problem := format('band at bound %s on metric "%s" must earn a finite number of points, not %s',
                              NEW.bound, NEW.metric, NEW.points);
        END IF;
    WHEN 'policy_reviewer' THEN
        IF NEW.reviewer_role IS NOT NULL AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = NEW.reviewer_role) THEN
            problem := format('reviewer_role %s of department "%s" is not a role', NEW.reviewer_role, NEW.department);
        END IF;
    WHEN 'policy_tier' THEN
        IF NEW.min_score = 'NaN' THEN
            problem := format('min_score of tier %s must be a number, not NaN', NEW.tier);
        END IF;
    ELSE
        NULL;
    END CASE;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'policy "%": %', pol, problem
            USING ERRCODE = 'check_violation', HINT = coalesce(hint, '');
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_row_check() IS
    'trigger: refuses a policy row that is wrong on its own (method, approval, weights, NaN bounds), naming the policy';

-- The whole-policy check: what no single row can tell.
CREATE FUNCTION @extschema@.policy_check(policy_name text) RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p custier.policy;
    r record;
    relkind "char";
BEGIN
    SELECT * INTO p FROM custier.policy WHERE name OPERATOR(pg_catalog.=) policy_name;
    IF NOT FOUND THEN
        RETURN;     -- deleted (or renamed: the new name is checked by its own trigger)
    END IF;

    -- Tiers outside A..lowest.
    FOR r IN SELECT 'tier ' || t.tier::text AS what, t.tier
               FROM custier.policy_tier t
              WHERE t.policy = p.name AND t.tier OPERATOR(custier.<) p.lowest
             UNION ALL
             SELECT format('threshold for tier %s on metric "%s"', t.tier, t.metric), t.tier
               FROM custier.policy_threshold t
              WHERE t.policy = p.name AND t.tier OPERATOR(custier.<) p.lowest
             ORDER BY 2 DESC, 1 LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": % is outside its grades A..%', p.name, r.what, p.lowest
            USING ERRCODE = 'check_violation',
                  HINT = 'Delete the rows of tiers below the lowest grade, or lower the policy''s lowest grade.';
    END LOOP;

    -- A better tier must not have an easier threshold than a worse one.
    FOR r IN SELECT * FROM (
                SELECT t.metric, t.tier, t.bound, c.higher_is_better,
                       lead(t.tier) OVER w AS worse_tier, lead(t.bound) OVER w AS worse_bound
                  FROM custier.policy_threshold t
                  JOIN custier.policy_criterion c USING (policy, metric)
                 WHERE t.policy = p.name
                WINDOW w AS (PARTITION BY t.metric ORDER BY t.tier DESC)) s
              WHERE CASE WHEN higher_is_better THEN bound < worse_bound ELSE bound > worse_bound END
              ORDER BY metric, tier DESC LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": threshold for tier % on metric "%" (bound %) is easier than tier %''s (bound %)',
                        p.name, r.tier, r.metric, r.bound, r.worse_tier, r.worse_bound
            USING ERRCODE = 'check_violation',
                  HINT = CASE WHEN r.higher_is_better
                              THEN 'Higher is better on this metric: a better tier needs a bound at least as high.'
                              ELSE 'Lower is better on this metric: a better tier needs a bound at least as low.' END;
    END LOOP;

    -- A harder band must not earn fewer points than an easier one.
    FOR r IN SELECT * FROM (
                SELECT b.metric, b.bound, b.points, c.higher_is_better,
                       lead(b.bound) OVER w AS easier_bound, lead(b.points) OVER w AS easier_points
                  FROM custier.policy_band b
                  JOIN custier.policy_criterion c USING (policy, metric)
                 WHERE b.policy = p.name
                WINDOW w AS (PARTITION BY b.metric
                             ORDER BY CASE WHEN c.higher_is_better THEN b.bound ELSE -b.bound END DESC)) s
              WHERE points < easier_points
              ORDER BY metric LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": band at bound % on metric "%" earns % points, fewer than the easier band at bound % (% points)',
                        p.name, r.bound, r.metric, r.points, r.easier_bound, r.easier_points
            USING ERRCODE = 'check_violation',
                  HINT = 'A metric earns the points of the hardest band it meets: harder bands must earn at least as many points.';
    END LOOP;

    -- A better tier must not need a lower score than a worse one.
    FOR r IN SELECT * FROM (
                SELECT t.tier, t.min_score,
                       lead(t.tier) OVER w AS worse_tier, lead(t.min_score) OVER w AS worse_min_score
                  FROM custier.policy_tier t
                 WHERE t.policy = p.name AND t.min_score IS NOT NULL
                WINDOW w AS (ORDER BY t.tier DESC)) s
              WHERE min_score < worse_min_score
              ORDER BY tier DESC LIMIT 1
    LOOP
        RAISE EXCEPTION 'policy "%": min_score of tier % (%) is easier than tier %''s (%)',
                        p.name, r.tier, r.min_score, r.worse_tier, r.worse_min_score
            USING ERRCODE = 'check_violation',
                  HINT = 'A better tier needs a min_score at least as high as a worse one.';
    END LOOP;

    -- Metrics (and the key) must be columns of the metrics source.
    IF p.metrics_source IS NOT NULL THEN
        SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = p.metrics_source;
        IF relkind IS NULL OR relkind NOT IN ('r', 'v', 'm', 'f', 'p') THEN
            RAISE EXCEPTION 'policy "%": metrics source % is not a table or view', p.name, p.metrics_source
                USING ERRCODE = 'check_violation';
        END IF;
        IF p.key_column IS NOT NULL AND NOT EXISTS (
                SELECT FROM pg_catalog.pg_attribute a
                 WHERE a.attrelid = p.metrics_source AND a.attname = p.key_column
                   AND a.attnum > 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'policy "%": key column "%" is not a column of its metrics source %',
                            p.name, p.key_column, p.metrics_source
                USING ERRCODE = 'check_violation';
        END IF;
        FOR r IN SELECT c.metric, a.atttypid::regtype AS typ
                   FROM custier.policy_criterion c
                   LEFT JOIN pg_catalog.pg_attribute a
                          ON a.attrelid = p.metrics_source AND a.attname = c.metric
                         AND a.attnum > 0 AND NOT a.attisdropped
                  WHERE c.policy = p.name
                    AND (a.attname IS NULL OR NOT custier.policy_numeric_type(a.atttypid))
                  ORDER BY c.metric LIMIT 1
        LOOP
            IF r.typ IS NULL THEN
                RAISE EXCEPTION 'policy "%": metric "%" is not a column of its metrics source %',
                                p.name, r.metric, p.metrics_source
                    USING ERRCODE = 'check_violation';
            ELSE
                RAISE EXCEPTION 'policy "%": metric "%" is a column of type % in its metrics source %, not a number',
                                p.name, r.metric, r.typ, p.metrics_source
                    USING ERRCODE = 'check_violation',
                          HINT = 'Metric columns are smallint, integer, bigint, real, double precision or numeric (or a domain over one).';
            END IF;
        END LOOP;
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_check(text) IS
    'raises check_violation naming the policy, metric and tier if the policy is inconsistent; the validation triggers call it';

CREATE FUNCTION @extschema@.policy_consistency_trigger() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A restore replays policies as they were, table by table.
    IF custier._restore_load(TG_RELID) THEN RETURN NULL; END IF;
    IF coalesce(TG_ARGV[0], TG_TABLE_NAME) = 'policy' THEN   -- see policy_row_check
        PERFORM custier.policy_check(NEW.name);
    ELSE
        PERFORM custier.policy_check(NEW.policy);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@.policy_consistency_trigger() IS
    'constraint trigger: checks the whole policy of the written row (see custier.policy_check)';

-- Bumps this backend's policy generation, so that cached compiled policies
-- (assign_tier's fn_extra) are recompiled after an edit, even mid-statement.
CREATE FUNCTION @extschema@.policy_edited() RETURNS trigger
    AS 'MODULE_PATHNAME', 'custier_policy_edited' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.policy_edited() IS
    'statement trigger: tells cached compiled policies of this backend that a policy table changed';

-- The audit log: every edit of a policy table, who made it and when, with
-- the old and new row.  Append-only for every role, owner included.
-- audit_id is indexed, not unique (a restore replays the log as it was:
-- see src/lifecycle.c; 0.1.0 re-audited restored policy rows).
CREATE TABLE @extschema@.policy_audit (
    audit_id   bigserial NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    changed_by name NOT NULL,
    txid       bigint NOT NULL DEFAULT pg_catalog.txid_current(),
    tbl        text NOT NULL,
    operation  text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
    policy     text,
    old_row    jsonb,
    new_row    jsonb
);
CREATE INDEX ON @extschema@.policy_audit (audit_id);
CREATE INDEX ON @extschema@.policy_audit (policy, changed_at);
COMMENT ON TABLE @extschema@.policy_audit IS
    'append-only log of every edit of the policy tables: who, when, which table, old and new row';
COMMENT ON SEQUENCE @extschema@.policy_audit_audit_id_seq IS 'numbers the rows of custier.policy_audit';
REVOKE ALL ON @extschema@.policy_audit FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.policy_audit_audit_id_seq FROM PUBLIC;

CREATE FUNCTION @extschema@.policy_audit_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'custier_policy_audit_trigger' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.policy_audit_trigger() IS
    'trigger: writes the edited policy row to custier.policy_audit as the table owner, recording the editing role';

CREATE FUNCTION @extschema@.policy_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'custier.policy_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Policy edits are audit data; the log can only grow.';
END
$$;
COMMENT ON FUNCTION @extschema@.policy_audit_append_only() IS
    'trigger: refuses UPDATE, DELETE and TRUNCATE on custier.policy_audit for every role';
CREATE TRIGGER policy_audit_append_only BEFORE UPDATE OR DELETE ON @extschema@.policy_audit
    FOR EACH ROW EXECUTE FUNCTION @extschema@.policy_audit_append_only();
CREATE TRIGGER policy_audit_no_truncate BEFORE TRUNCATE ON @extschema@.policy_audit
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_audit_append_only();
-- Audit and append-only triggers fire under session_replication_role = replica too.
ALTER TABLE @extschema@.policy_audit ENABLE ALWAYS TRIGGER policy_audit_append_only;
ALTER TABLE @extschema@.policy_audit ENABLE ALWAYS TRIGGER policy_audit_no_truncate;

-- Triggers on the policy tables.  Row checks run BEFORE; whole-policy checks
-- are constraint triggers, DEFERRABLE INITIALLY IMMEDIATE: a multi-row
-- statement is checked at its end, once consistent, and a transaction can
-- rewrite a policy over several statements after
-- SET CONSTRAINTS ALL DEFERRED (checked at COMMIT).  Each trigger gets the
-- table's name as its argument, so that the same triggers work on the
-- shards of a Citus reference table (doc/citus.md).
CREATE FUNCTION @extschema@._policy_triggers(t text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_row_check(%L)',
                   t || '_row_check', t, t);
    IF t <> 'policy_reviewer' THEN
        EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE ON custier.%I DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION custier.policy_consistency_trigger(%L)',
                       t || '_consistency', t, t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_edited()',
                       t || '_edited', t);
        -- Also under session_replication_role = replica: a stale compiled
        -- policy is wrong whatever the role.
        EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_edited');
    END IF;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON custier.%I FOR EACH ROW EXECUTE FUNCTION custier.policy_audit_trigger(%L)',
                   t || '_audit', t, t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON custier.%I FOR EACH STATEMENT EXECUTE FUNCTION custier.policy_audit_trigger(%L)',
                   t || '_audit_truncate', t, t);
    -- The audit fires under session_replication_role = replica too.
    EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit');
    EXECUTE format('ALTER TABLE custier.%I ENABLE ALWAYS TRIGGER %I', t, t || '_audit_truncate');
END
$$;
COMMENT ON FUNCTION @extschema@._policy_triggers(text) IS
    'internal: creates the validation, cache and audit triggers of one policy table (used by the install and update scripts)';
REVOKE ALL ON FUNCTION @extschema@._policy_triggers(text) FROM PUBLIC;

DO $do$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policy', 'policy_tier', 'policy_criterion', 'policy_threshold',
                             'policy_band', 'policy_reviewer'] LOOP
        PERFORM custier._policy_triggers(t);
    END LOOP;
END
$do$;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_audit', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_audit_audit_id_seq', '');

-- Tier assignment (src/policy.c).  They read the policy tables once per
-- statement per call site, as the caller; STABLE because an edit is seen by
-- the next statement; PARALLEL SAFE because they only read.
CREATE FUNCTION @extschema@.assign_tier(policy text, metrics jsonb) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_assign_tier_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.assign_tier(policy text, metrics record) RETURNS @extschema@.tier
    AS 'MODULE_PATHNAME', 'custier_assign_tier_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.score(policy text, metrics jsonb) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_score_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.score(policy text, metrics record) RETURNS numeric
    AS 'MODULE_PATHNAME', 'custier_score_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.explain(policy text, metrics jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_explain_jsonb' LANGUAGE C STRICT STABLE PARALLEL SAFE;
CREATE FUNCTION @extschema@.explain(policy text, metrics record) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'custier_explain_record' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.assign_tier(text, jsonb) IS
    'the grade the policy gives these metrics (keys of a JSON object; numbers or numeric strings; null or absent = missing)';
COMMENT ON FUNCTION @extschema@.assign_tier(text, record) IS
    'the grade the policy gives this row (metrics read from the columns of that name)';
COMMENT ON FUNCTION @extschema@.score(text, jsonb) IS
    'the weighted score: sum of weight x points / sum of weights (thresholds method: 100 x (n - r + 1) / n points)';
COMMENT ON FUNCTION @extschema@.score(text, record) IS
    'the weighted score of this row (see score(text, jsonb))';
COMMENT ON FUNCTION @extschema@.explain(text, jsonb) IS
    'jsonb evidence: per criterion the value, best tier met or band, points; the score and resulting tier';
COMMENT ON FUNCTION @extschema@.explain(text, record) IS
    'jsonb evidence for this row (see explain(text, jsonb))';
-- The evaluation query's one call per customer: assign_tier, score and
-- (when asked) explain of one row from one reading of it.  Not STRICT: a
-- customer without a metrics row is graded as '{}'.  It reads only what
-- assign_tier, score and explain read, so it is as executable as they are.
-- A named type, not an anonymous record: on Citus a worker sends it to the
-- coordinator, where an anonymous record's type would be unknown.
CREATE TYPE @extschema@._grade_result AS (qualified_tier @extschema@.tier, score numeric, explanation jsonb);
COMMENT ON TYPE @extschema@._grade_result IS 'internal: what custier._grade returns';
CREATE FUNCTION @extschema@._grade(policy text, metrics record, has_metrics boolean, with_explanation boolean)
    RETURNS @extschema@._grade_result
    AS 'MODULE_PATHNAME', 'custier_grade_record' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._grade(text, record, boolean, boolean) IS
    'internal: assign_tier, score and (with_explanation) explain of one metrics row in one call; no metrics row (has_metrics false) grades as ''{}''';
