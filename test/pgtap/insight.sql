-- pgTAP: insight.  distribution, migration, kpi and tiers_at
-- checked against a brute-force reading of custier.tier_history and
-- custier.customer_key_change over a scenario with grade changes, deletes,
-- key changes (a chain, and a key freed by a delete then taken by a rename),
-- ungrading and customers added; at_risk against its definition; explain's
-- gaps by a seeded property test; the BI reader's grants; bad input.
\ir setup.inc

SELECT plan(59);

-- ---------------------------------------------------------------------
-- Policy and scenario
-- ---------------------------------------------------------------------
CREATE TABLE ins_metrics (id int PRIMARY KEY, monetary numeric, purchases int, days_since numeric);
INSERT INTO custier.policy (name, lowest, metrics_source, key_column, downgrade_after)
VALUES ('ins', 'D', 'ins_metrics', 'id', 3);
INSERT INTO custier.policy_criterion (policy, metric, higher_is_better)
VALUES ('ins', 'monetary', true), ('ins', 'purchases', true), ('ins', 'days_since', false);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('ins', 'monetary', 'A', 10000), ('ins', 'monetary', 'B', 5000), ('ins', 'monetary', 'C', 1000),
    ('ins', 'purchases', 'A', 20), ('ins', 'purchases', 'B', 10),
    ('ins', 'days_since', 'A', 30), ('ins', 'days_since', 'B', 60), ('ins', 'days_since', 'C', 180);
INSERT INTO custier.policy_tier (policy, tier, label) VALUES ('ins', 'A', 'Key account'), ('ins', 'B', 'Major');

CREATE TABLE ins_customer (id int PRIMARY KEY, name text, grade tier);
SELECT custier.manage('ins_customer', 'id', 'grade', 'ins');

-- Moments between the steps; the history stamps rows with the clock.
CREATE TEMP TABLE ins_moment (n int PRIMARY KEY, at timestamptz);
CREATE FUNCTION pg_temp.mark(n int) RETURNS void LANGUAGE sql AS $$
    SELECT pg_sleep(0.002);
    INSERT INTO ins_moment VALUES (n, clock_timestamp());
    SELECT pg_sleep(0.002);
$$;
SELECT pg_temp.mark(0);
INSERT INTO ins_customer SELECT i, 'c' || i, tier(1 + i % 4) FROM generate_series(1, 40) i;
SELECT pg_temp.mark(1);
UPDATE ins_customer SET grade = tier_down(grade) WHERE id % 3 = 0;   -- downgrades (D stays D)
UPDATE ins_customer SET grade = tier_up(grade) WHERE id % 5 = 0;     -- upgrades (A stays A)
DELETE FROM ins_customer WHERE id IN (7, 11);
UPDATE ins_customer SET id = 107 WHERE id = 8;                        -- a key change
SELECT pg_temp.mark(2);
UPDATE ins_customer SET id = 7 WHERE id = 107;                        -- ... onto the key 7 freed by a delete
UPDATE ins_customer SET id = 112 WHERE id = 12;                       -- a chain: 12 -> 112 -> 212
UPDATE ins_customer SET id = 212, grade = 'A' WHERE id = 112;
INSERT INTO ins_customer VALUES (41, 'c41', 'C'), (42, 'c42', NULL), (43, 'c43', 'A');
UPDATE ins_customer SET grade = NULL WHERE id = 13;                   -- ungraded
SELECT pg_temp.mark(3);
UPDATE ins_customer SET grade = 'B' WHERE id IN (13, 42);             -- graded again / first time
INSERT INTO ins_customer VALUES (11, 'c11 again', 'D');               -- a deleted key comes back
UPDATE ins_customer SET id = 14, grade = 'D' WHERE id = 14;           -- no key change
DELETE FROM ins_customer WHERE id = 41;
SELECT pg_temp.mark(4);

-- Brute force, written independently of custier's queries: the grade at t
-- is the new_tier of the key's history row that no later row (≤ t) follows.
CREATE FUNCTION pg_temp.bf_state(t timestamptz) RETURNS TABLE (k text, g tier) LANGUAGE sql AS $$
    SELECT h.customer_key, h.new_tier FROM custier.tier_history h
     WHERE h.tbl = 'ins_customer'::regclass AND h.changed_at <= t AND h.new_tier IS NOT NULL
       AND NOT EXISTS (SELECT FROM custier.tier_history l
                        WHERE l.tbl = h.tbl AND l.customer_key = h.customer_key AND l.changed_at <= t
                          AND (l.changed_at, l.history_id) > (h.changed_at, h.history_id))
$$;
-- Who holds which key at t: replay every key change up to t (a key seen
-- for the first time is a new customer; a key change hands the identity on,
-- taking the key from whoever had it).
CREATE FUNCTION pg_temp.bf_ids(t timestamptz) RETURNS TABLE (k text, cid text) LANGUAGE plpgsql AS $$
DECLARE e record; ids jsonb := '{}';
BEGIN
    FOR e IN SELECT c.old_key, c.new_key FROM custier.customer_key_change c
              WHERE c.tbl = 'ins_customer'::regclass AND c.changed_at <= t ORDER BY c.changed_at LOOP
        ids := (ids - e.old_key) || jsonb_build_object(e.new_key, coalesce(ids ->> e.old_key, e.old_key));
    END LOOP;
    RETURN QUERY SELECT s.k, coalesce(ids ->> s.k, s.k) FROM pg_temp.bf_state(t) s;
END $$;
CREATE FUNCTION pg_temp.bf_migration(a timestamptz, b timestamptz)
RETURNS TABLE (from_tier tier, to_tier tier, customers bigint) LANGUAGE sql AS $$
    SELECT f.g, e.g, count(*)
      FROM (SELECT s.g, i.cid FROM pg_temp.bf_state(a) s JOIN pg_temp.bf_ids(a) i USING (k)) f
      FULL JOIN (SELECT s.g, i.cid FROM pg_temp.bf_state(b) s JOIN pg_temp.bf_ids(b) i USING (k)) e USING (cid)
     GROUP BY 1, 2
$$;
CREATE FUNCTION pg_temp.bf_distribution(a timestamptz)
RETURNS TABLE (tier tier, label text, customers bigint, percent numeric) LANGUAGE sql AS $$
    SELECT g.t, pt.label, count(s.g),
           round(100.0 * count(s.g) / nullif((SELECT count(*) FROM pg_temp.bf_state(a)), 0), 2)
      FROM (SELECT unnest('{A,B,C,D}'::tier[]) UNION SELECT g FROM pg_temp.bf_state(a)) g(t)
      LEFT JOIN pg_temp.bf_state(a) s ON s.g = g.t
      LEFT JOIN custier.policy_tier pt ON pt.policy = 'ins' AND pt.tier = g.t
     GROUP BY g.t, pt.label
$$;
CREATE FUNCTION pg_temp.bf_kpi(a timestamptz, b timestamptz)
RETURNS TABLE (tier tier, start_customers bigint, end_customers bigint, retained bigint, upgraded bigint,
               downgraded bigint, retention_rate numeric, upgrade_rate numeric, downgrade_rate numeric)
LANGUAGE sql AS $$
    WITH m AS (SELECT * FROM pg_temp.bf_migration(a, b)),
    rows AS (
        SELECT g.t,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier = g.t) AS s,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.to_tier = g.t) AS e,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier = g.t AND m.to_tier IS NOT NULL) AS r,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier = g.t AND m.to_tier > m.from_tier) AS u,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier = g.t AND m.to_tier < m.from_tier) AS d
          FROM (SELECT unnest('{A,B,C,D}'::tier[]) UNION SELECT from_tier FROM m UNION SELECT to_tier FROM m) g(t)
         WHERE g.t IS NOT NULL
        UNION ALL
        SELECT NULL,
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier IS NOT NULL),
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.to_tier IS NOT NULL),
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.from_tier IS NOT NULL AND m.to_tier IS NOT NULL),
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.to_tier > m.from_tier),
               (SELECT coalesce(sum(customers), 0) FROM m WHERE m.to_tier < m.from_tier)
    )
    SELECT t, s::bigint, e::bigint, r::bigint, u::bigint, d::bigint,
           round(100.0 * r / nullif(s, 0), 2), round(100.0 * u / nullif(s, 0), 2), round(100.0 * d / nullif(s, 0), 2)
      FROM rows
$$;

-- The scenario really has what it claims.  (tier_down saturates at Z, not at
-- the policy's lowest: some customers go to E, outside the scale A..D, and
-- the functions give them a row of their own.)
SELECT ok((SELECT count(*) FROM custier.customer_key_change WHERE tbl = 'ins_customer'::regclass) = 4
          AND EXISTS (SELECT FROM custier.tier_history WHERE tbl = 'ins_customer'::regclass AND customer_key = '7'
                         AND new_tier IS NOT NULL AND changed_at > (SELECT at FROM ins_moment WHERE n = 2)),
          'scenario: four key changes, key 7 deleted and then taken by a renamed customer');

-- tiers_at and distribution at every moment; migration and kpi between pairs.
SELECT set_eq(format('SELECT customer_key, tier FROM custier.tiers_at(%L, %L)', 'ins_customer', m.at),
              format('SELECT k, g FROM pg_temp.bf_state(%L)', m.at),
              'tiers_at at moment ' || m.n || ' = brute force')
  FROM ins_moment m ORDER BY m.n;
SELECT results_eq(format('SELECT * FROM custier.distribution(%L, %L)', 'ins', m.at),
                  format('SELECT * FROM pg_temp.bf_distribution(%L) ORDER BY 1 DESC', m.at),
                  'distribution at moment ' || m.n || ' = brute force')
  FROM ins_moment m ORDER BY m.n;
SELECT set_eq(format('SELECT * FROM custier.migration(%L, %L, %L)', 'ins', a.at, b.at),
              format('SELECT * FROM pg_temp.bf_migration(%L, %L)', a.at, b.at),
              'migration from moment ' || a.n || ' to ' || b.n || ' = brute force')
  FROM ins_moment a, ins_moment b WHERE (a.n, b.n) IN ((0, 4), (1, 2), (1, 3), (2, 3), (1, 4), (3, 4), (2, 2))
 ORDER BY a.n, b.n;
SELECT results_eq(format('SELECT * FROM custier.kpi(%L, %L, %L)', 'ins', a.at, b.at),
                  format('SELECT * FROM pg_temp.bf_kpi(%L, %L) ORDER BY 1 DESC NULLS LAST', a.at, b.at),
                  'kpi from moment ' || a.n || ' to ' || b.n || ' = brute force')
  FROM ins_moment a, ins_moment b WHERE (a.n, b.n) IN ((0, 4), (1, 2), (1, 4), (2, 3))
 ORDER BY a.n, b.n;

SELECT is((SELECT customers FROM custier.migration('ins', (SELECT at FROM ins_moment WHERE n = 1), (SELECT at FROM ins_moment WHERE n = 4))
            WHERE from_tier IS NULL AND to_tier = 'B'), 1::bigint,
          'migration: the customer first graded after from_at is new (from_tier NULL)');
SELECT ok(NOT EXISTS (SELECT FROM custier.migration('ins', (SELECT at FROM ins_moment WHERE n = 1), (SELECT at FROM ins_moment WHERE n = 4))
                       WHERE customers = 0),
          'migration: only non-empty cells');
SELECT results_eq($$SELECT tier::text, customers, percent FROM custier.distribution('ins', '-infinity')$$,
                  $$VALUES ('A', 0::bigint, NULL::numeric), ('B', 0, NULL), ('C', 0, NULL), ('D', 0, NULL)$$,
                  'distribution before any grade: every tier, zero customers, NULL percent');
SELECT results_eq($$SELECT tier::text, start_customers, retention_rate FROM custier.kpi('ins', '-infinity', now()) WHERE tier IS NULL OR tier = 'A'$$,
                  $$VALUES ('A', 0::bigint, NULL::numeric), (NULL, 0, NULL)$$,
                  'kpi from an empty start: NULL rates');

-- ---------------------------------------------------------------------
-- at_risk: evaluations recorded as run_evaluation records them
-- ---------------------------------------------------------------------
INSERT INTO ins_metrics VALUES
    (1, 12000, 25, 10),      -- grade B (1 + 1 % 4 = 2), qualifies A: not at risk
    (2, 6000, 5, 90),        -- grade C, qualifies C: not at risk
    (3, 400, 2, 400),        -- grade D: nothing below D
    (5, 800, 1, 200),        -- grade A (upgraded), qualifies D: 3 cycles below
    (6, 4000, 12, 50),       -- grade C, qualifies C
    (17, 2000, 8, 100),      -- grade B: qualifies C, 1 cycle (the one before qualified B)
    (10, 5000, 9, 61);       -- grade B (upgraded from C), qualifies C: 2 cycles (the first qualified A)
INSERT INTO custier.evaluation (policy, as_of, finished_at, customers, tbl) VALUES
    ('ins', '2025-01-01', now(), 40, 'ins_customer'),
    ('ins', '2025-04-01', now(), 40, 'ins_customer'),
    ('ins', '2025-07-01', now(), 40, 'ins_customer'),
    ('ins', '2025-10-01', NULL, 40, 'ins_customer');    -- unfinished: ignored
INSERT INTO custier.evaluation_result (evaluation_id, customer_key, qualified_tier, proposed_tier, current_tier, action, batch)
SELECT e.evaluation_id, r.k, r.q, r.q, r.q, 'kept', 1
  FROM (VALUES ('2025-01-01'::timestamptz, '5', 'C'::tier), ('2025-04-01', '5', 'D'), ('2025-07-01', '5', 'D'),
               ('2025-01-01', '17', 'C'), ('2025-04-01', '17', 'B'), ('2025-07-01', '17', 'C'),
               ('2025-01-01', '10', 'A'), ('2025-04-01', '10', 'C'), ('2025-07-01', '10', 'C'),
               ('2025-07-01', '1', 'A'), ('2025-07-01', '2', 'C'), ('2025-07-01', '3', 'D'), ('2025-07-01', '6', 'C'),
               ('2025-10-01', '2', 'D')) r(at, k, q)
  JOIN custier.evaluation e ON e.policy = 'ins' AND e.as_of = r.at;
SELECT results_eq($$SELECT customer_key, current_tier::text, qualified_tier::text, cycles_below, shortfall FROM custier.at_risk('ins')$$,
                  $$VALUES ('5', 'A', 'D', 3, '{"monetary": 9200, "purchases": 19, "days_since": -170}'::jsonb),
                           ('10', 'B', 'C', 2, '{"purchases": 1, "days_since": -1}'::jsonb),
                           ('17', 'B', 'C', 1, '{"monetary": 3000, "purchases": 2, "days_since": -40}'::jsonb)$$,
                  'at_risk: the latest finished evaluation, consecutive cycles below the grade, and what each metric lacks');
-- cycles_below against its definition, for every row: the finished
-- evaluations e such that every one from e to the latest has the customer
-- qualified below its grade.
SELECT is_empty($$
    SELECT a.customer_key FROM custier.at_risk('ins') a
     WHERE a.cycles_below <> (
        SELECT count(*) FROM custier.evaluation e
         WHERE e.policy = 'ins' AND e.finished_at IS NOT NULL
           AND NOT EXISTS (SELECT FROM custier.evaluation l
                             LEFT JOIN custier.evaluation_result lr
                                    ON lr.evaluation_id = l.evaluation_id AND lr.customer_key = a.customer_key
                            WHERE l.policy = 'ins' AND l.finished_at IS NOT NULL AND l.as_of >= e.as_of
                              AND (lr.qualified_tier IS NULL OR lr.qualified_tier >= a.current_tier)))
$$, 'at_risk: cycles_below = the unbroken run of evaluations, ending with the latest, below the grade');
-- shortfall against the thresholds: value + shortfall = the bound of the grade held.
SELECT is_empty($$
    SELECT a.customer_key, s.key FROM custier.at_risk('ins') a, jsonb_each(a.shortfall) s,
           LATERAL (SELECT to_jsonb(m) ->> s.key AS v FROM ins_metrics m WHERE m.id::text = a.customer_key) m
     WHERE m.v::numeric + s.value::text::numeric IS DISTINCT FROM
           (SELECT bound FROM custier.policy_threshold th WHERE th.policy = 'ins' AND th.metric = s.key AND th.tier = a.current_tier)
$$, 'at_risk: value + shortfall = the bound of the grade held, for every metric listed');

-- ---------------------------------------------------------------------
-- explain's gaps: a seeded property test
-- ---------------------------------------------------------------------
SELECT diag('explain gap property seed: 0.4242');
SELECT setseed(0.4242);
CREATE TEMP TABLE ins_sample AS
SELECT i, jsonb_build_object('monetary', round((random() * 14000)::numeric, 2),
                             'purchases', floor(random() * 30)::int,
                             'days_since', round((random() * 250)::numeric, 1)) AS m
  FROM generate_series(1, 400) i;
CREATE TEMP TABLE ins_explained AS
SELECT s.i, s.m, e AS x, (e ->> 'tier')::tier AS t, (e ->> 'next_tier')::tier AS nt
  FROM ins_sample s, custier.explain('ins', s.m) e;
CREATE TEMP TABLE ins_crit AS
SELECT x.i, x.m, x.t, x.nt, c ->> 'metric' AS metric, (c ->> 'value')::numeric AS v,
       (c ->> 'keep_gap')::numeric AS keep_gap, (c ->> 'next_gap')::numeric AS next_gap,
       c ->> 'direction' AS direction,
       (SELECT bound FROM custier.policy_threshold th WHERE th.policy = 'ins' AND th.metric = c ->> 'metric' AND th.tier = x.t) AS keep_bound,
       (SELECT bound FROM custier.policy_threshold th WHERE th.policy = 'ins' AND th.metric = c ->> 'metric' AND th.tier = x.nt) AS next_bound
  FROM ins_explained x, jsonb_array_elements(x.x -> 'criteria') c;
SELECT ok((SELECT count(DISTINCT t) FROM ins_explained) = 4, 'property sample covers every tier A..D');
SELECT is_empty($$SELECT i FROM ins_crit WHERE t < 'D' AND keep_gap <> 0$$,
                'keep_gap is 0 for every criterion of a tier qualified by its thresholds');
SELECT is_empty($$SELECT i FROM ins_crit WHERE t = 'D' AND keep_gap <> 0$$,
                'keep_gap is 0 at the lowest tier, which has no thresholds');
SELECT is_empty($$SELECT i FROM ins_explained WHERE (t = 'A') <> (nt IS NULL)$$,
                'next_tier (and so next_gap) is NULL exactly at A');
SELECT is_empty($$SELECT i FROM ins_crit WHERE (t = 'A') <> (next_gap IS NULL)$$,
                'next_gap is NULL exactly at A');
SELECT is_empty($$SELECT i FROM ins_crit WHERE next_gap <> 0 AND next_bound IS DISTINCT FROM v + next_gap$$,
                'a non-zero next_gap is exactly what the metric lacks: value + next_gap = the next tier''s bound');
SELECT is_empty($$SELECT i FROM ins_crit WHERE next_gap = 0 AND next_bound IS NOT NULL
                    AND NOT (CASE WHEN direction = 'higher is better' THEN v >= next_bound ELSE v <= next_bound END)$$,
                'next_gap is 0 only when the next tier''s bound is met (or the next tier has none for it)');
SELECT is_empty($$SELECT i FROM ins_crit WHERE (direction = 'higher is better' AND next_gap < 0)
                    OR (direction = 'lower is better' AND next_gap > 0)$$,
                'sign: next_gap >= 0 when higher is better, <= 0 when lower is better');
SELECT is_empty($$
    SELECT x.i FROM ins_explained x
     WHERE x.nt IS NOT NULL
       AND custier.assign_tier('ins', (SELECT jsonb_object_agg(c.metric, c.v + c.next_gap) FROM ins_crit c WHERE c.i = x.i)) < x.nt
$$, 'adding every next_gap qualifies the customer for the next tier');
SELECT is_empty($$
    SELECT x.i FROM ins_explained x JOIN ins_crit c ON c.i = x.i AND c.next_gap <> 0
     WHERE (SELECT count(*) FROM ins_crit o WHERE o.i = x.i AND o.next_gap <> 0) = 1
       AND custier.assign_tier('ins', x.m || jsonb_build_object(c.metric, c.v + c.next_gap)) < x.nt
$$, 'where one metric lacks, adding its next_gap, the others unchanged, qualifies for the next tier');
SELECT ok((SELECT count(DISTINCT x.i) FROM ins_explained x JOIN ins_crit c ON c.i = x.i AND c.next_gap <> 0
            WHERE (SELECT count(*) FROM ins_crit o WHERE o.i = x.i AND o.next_gap <> 0) = 1) >= 10
          AND (SELECT count(DISTINCT c.i) FROM ins_crit c
                WHERE (SELECT count(*) FROM ins_crit o WHERE o.i = c.i AND o.next_gap <> 0) >= 2) >= 10,
          'the sample has customers lacking one metric and customers lacking several');
SELECT is_empty($$
    SELECT x.i, c.metric FROM ins_explained x JOIN ins_crit c ON c.i = x.i AND c.next_gap <> 0
     WHERE custier.assign_tier('ins', (SELECT jsonb_object_agg(o.metric, CASE WHEN o.metric = c.metric THEN o.v ELSE o.v + o.next_gap END)
                                         FROM ins_crit o WHERE o.i = x.i)) >= x.nt
$$, 'leaving any one lacking metric as it is does not qualify for the next tier (the gaps are needed)');

-- Score method: score_to_next.
INSERT INTO custier.policy (name, method, lowest) VALUES ('ins_score', 'score', 'C');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('ins_score', 'monetary');
INSERT INTO custier.policy_band (policy, metric, bound, points) VALUES
    ('ins_score', 'monetary', 1000, 40), ('ins_score', 'monetary', 5000, 70), ('ins_score', 'monetary', 10000, 100);
INSERT INTO custier.policy_tier (policy, tier, min_score) VALUES ('ins_score', 'A', 90), ('ins_score', 'B', 60);
SELECT results_eq($$SELECT e ->> 'tier', e ->> 'next_tier', (e ->> 'score_to_next')::numeric, e -> 'criteria' -> 0 ? 'next_gap'
                      FROM unnest(ARRAY[0, 2000, 6000, 20000]) v, custier.explain('ins_score', jsonb_build_object('monetary', v)) e$$,
                  $$VALUES ('C', 'B', 60::numeric, false), ('C', 'B', 20, false), ('B', 'A', 20, false), ('A', NULL, NULL, false)$$,
                  'score method: score_to_next = the next tier''s min_score - score, NULL at A; no per-criterion gaps');

-- ---------------------------------------------------------------------
-- A BI reader: USAGE on schema custier, SELECT on the managed table (and
-- the metrics source, for at_risk's shortfall).  Nothing else.
-- ---------------------------------------------------------------------
CREATE ROLE ins_bi NOLOGIN;
CREATE ROLE ins_stranger NOLOGIN;
GRANT USAGE ON SCHEMA custier TO ins_bi, ins_stranger;
GRANT SELECT ON ins_customer, ins_metrics TO ins_bi;
CREATE TEMP TABLE ins_as_owner AS
SELECT 'd' AS f, to_jsonb(d) AS r FROM custier.distribution('ins', (SELECT at FROM ins_moment WHERE n = 2)) d
UNION ALL SELECT 'm', to_jsonb(m) FROM custier.migration('ins', (SELECT at FROM ins_moment WHERE n = 1), 'infinity') m
UNION ALL SELECT 'k', to_jsonb(k) FROM custier.kpi('ins', (SELECT at FROM ins_moment WHERE n = 1), 'infinity') k
UNION ALL SELECT 'r', to_jsonb(a) FROM custier.at_risk('ins') a
UNION ALL SELECT 't', to_jsonb(t) FROM custier.tiers_at('ins_customer', 'infinity') t;
GRANT SELECT ON ins_as_owner, ins_moment TO ins_bi, ins_stranger;
SET ROLE ins_bi;
SELECT set_eq($$
    SELECT 'd', to_jsonb(d) FROM custier.distribution('ins', (SELECT at FROM ins_moment WHERE n = 2)) d
    UNION ALL SELECT 'm', to_jsonb(m) FROM custier.migration('ins', (SELECT at FROM ins_moment WHERE n = 1), 'infinity') m
    UNION ALL SELECT 'k', to_jsonb(k) FROM custier.kpi('ins', (SELECT at FROM ins_moment WHERE n = 1), 'infinity') k
    UNION ALL SELECT 'r', to_jsonb(a) FROM custier.at_risk('ins') a
    UNION ALL SELECT 't', to_jsonb(t) FROM custier.tiers_at('ins_customer', 'infinity') t$$,
    'SELECT f, r FROM ins_as_owner',
    'a BI reader gets from distribution, migration, kpi, at_risk and tiers_at what the owner gets');
SELECT is((custier.explain('ins', '{"monetary": 6000, "purchases": 12, "days_since": 40}'::jsonb) ->> 'next_tier'), 'A',
          'a BI reader can explain');
RESET ROLE;
SET ROLE ins_stranger;
SELECT is((SELECT sum(customers) FROM custier.distribution('ins', 'infinity')), 0::numeric,
          'a role that may not read the table counts no customer');
SELECT is_empty($$SELECT * FROM custier.migration('ins', '-infinity', 'infinity')$$, 'nor sees any migration');
SELECT throws_ok($$SELECT * FROM custier.at_risk('ins')$$, '42501', NULL,
                 'at_risk reads the managed table and the metrics source as its caller: permission denied');
RESET ROLE;
-- Row-level security on the managed table: at_risk shows the rows the role may read.
ALTER TABLE ins_customer ENABLE ROW LEVEL SECURITY;
CREATE POLICY ins_some ON ins_customer FOR SELECT TO ins_bi USING (id <> 5);
SET ROLE ins_bi;
SELECT results_eq($$SELECT customer_key FROM custier.at_risk('ins')$$, $$VALUES ('10'), ('17')$$,
                  'at_risk follows row-level security on the managed table');
RESET ROLE;
ALTER TABLE ins_customer DISABLE ROW LEVEL SECURITY;
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('distribution', 'migration', 'kpi', 'at_risk')
       AND (p.prosecdef OR NOT has_function_privilege('public', p.oid, 'EXECUTE'))
$$, 'distribution, migration, kpi and at_risk run as their caller and are executable by PUBLIC');

-- ---------------------------------------------------------------------
-- Bad input
-- ---------------------------------------------------------------------
INSERT INTO custier.policy (name) VALUES ('ins_unattached');
SELECT throws_ok($$SELECT * FROM custier.distribution('nope')$$, '42704', 'policy "nope" does not exist', 'distribution: unknown policy');
SELECT throws_ok($$SELECT * FROM custier.migration('nope', now(), now())$$, '42704', NULL, 'migration: unknown policy');
SELECT throws_ok($$SELECT * FROM custier.kpi('nope', now(), now())$$, '42704', NULL, 'kpi: unknown policy');
SELECT throws_ok($$SELECT * FROM custier.at_risk('nope')$$, '42704', NULL, 'at_risk: unknown policy');
SELECT throws_ok($$SELECT * FROM custier.distribution('ins_unattached')$$, '55000', 'policy "ins_unattached" grades no managed table',
                 'a policy that grades no table: 55000');
SELECT throws_ok($$SELECT * FROM custier.at_risk('ins_unattached')$$, '55000', NULL, 'at_risk: a policy that grades no table');
SELECT throws_ok($$SELECT * FROM custier.migration('ins', now(), now() - interval '1 day')$$, '22023', NULL,
                 'migration: from_at later than to_at');
SELECT throws_ok($$SELECT * FROM custier.kpi('ins', now(), now() - interval '1 day')$$, '22023', NULL,
                 'kpi: from_at later than to_at');
SELECT throws_ok($$SELECT * FROM custier.kpi('ins', NULL, now())$$, '22004', NULL, 'kpi: NULL from_at');
SELECT throws_ok($$SELECT * FROM custier.distribution(NULL)$$, '22004', NULL, 'distribution: NULL policy');

SELECT * FROM finish();
ROLLBACK;
