-- policy.sql — grading policies (SPEC §3): tables, validation, assign_tier/score/explain (src/policy.c).

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
    description     text
);
COMMENT ON TABLE @extschema@.policy IS 'grading policies: how metrics become a grade, and how grades may move';

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
    PRIMARY KEY (policy, department)
);
COMMENT ON TABLE @extschema@.policy_reviewer IS 'departments that must review an adjustment before it can be approved';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_tier', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_criterion', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_threshold', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_band', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policy_reviewer', '');
