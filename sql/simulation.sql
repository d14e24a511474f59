-- custier simulation (see doc/simulation.md): copy_policy makes a draft,
-- simulate grades a managed table's customers with the live policy and the
-- draft side by side and changes nothing, and every refusal.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE sim_customer (id int PRIMARY KEY, name text, grade tier);
CREATE TABLE sim_metrics (id int PRIMARY KEY, spend numeric, orders int);
INSERT INTO sim_customer SELECT i, 'c' || i, NULL FROM generate_series(1, 12) i;
-- Customer 12 has no metrics row.
INSERT INTO sim_metrics SELECT i, i * 100, i FROM generate_series(1, 11) i;
INSERT INTO custier.policy (name, metrics_source, key_column, downgrade_after, description)
VALUES ('sim live', 'sim_metrics', 'id', 2, 'what grades sim_customer');
INSERT INTO custier.policy_tier (policy, tier, label) VALUES ('sim live', 'A', 'key account'), ('sim live', 'B', 'core');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('sim live', 'spend'), ('sim live', 'orders');
INSERT INTO custier.policy_threshold VALUES
    ('sim live', 'spend', 'A', 800), ('sim live', 'spend', 'B', 500), ('sim live', 'spend', 'C', 200),
    ('sim live', 'orders', 'A', 5);
INSERT INTO custier.policy_reviewer VALUES ('sim live', 'sales'), ('sim live', 'service');
SELECT custier.manage('sim_customer', 'id', 'grade', 'sim live');
SET client_min_messages = warning;
CALL custier.run_evaluation('sim live', '2026-01-01');
RESET client_min_messages;

-- 1. copy_policy: every row of the source under the new name, serving no table.
SELECT custier.copy_policy('sim live', 'sim draft');
SELECT name, method, lowest, period, upgrade_after, downgrade_after, max_step, approval, metrics_source, key_column, description
  FROM custier.policy WHERE name LIKE 'sim%' ORDER BY name;
SELECT policy, tier, label FROM custier.policy_tier WHERE policy LIKE 'sim%' ORDER BY tier, policy;
SELECT policy, metric, tier, bound FROM custier.policy_threshold WHERE policy LIKE 'sim%' ORDER BY metric, tier, policy;
SELECT policy, department FROM custier.policy_reviewer WHERE policy LIKE 'sim%' ORDER BY department, policy;
SELECT count(*) AS tables_served_by_draft FROM custier.managed_table WHERE policy = 'sim draft';
-- The copy is an edit like any other: audited, as the caller.
SELECT tbl, count(*) FROM custier.policy_audit WHERE policy = 'sim draft' AND operation = 'INSERT' GROUP BY tbl ORDER BY tbl;
-- Refusals.
SELECT pg_temp.fails($$SELECT custier.copy_policy('no such', 'x')$$);
SELECT pg_temp.fails($$SELECT custier.copy_policy('sim live', 'sim draft')$$);
SELECT pg_temp.fails($$SELECT custier.copy_policy('sim live', NULL)$$);
SELECT pg_temp.fails($$SELECT custier.copy_policy('sim live', '')$$);

-- 2. simulate: the draft raises the A bound on spend by 20%.
UPDATE custier.policy_threshold SET bound = bound * 1.2 WHERE policy = 'sim draft' AND metric = 'spend' AND tier = 'A';
SELECT * FROM custier.simulate('sim live', 'sim draft') ORDER BY customer_key::int;
-- The migration live -> draft is one GROUP BY away.
SELECT live_tier, draft_tier, count(*) AS customers
  FROM custier.simulate('sim live', 'sim draft') GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC;
-- live_tier is the qualified tier: what evaluate() says the metrics give.
SELECT count(*) AS differ_from_evaluate
  FROM custier.simulate('sim live', 'sim draft') s JOIN custier.evaluate('sim live') e USING (customer_key)
 WHERE s.live_tier::text IS DISTINCT FROM e.qualified_tier::text OR s.current_tier::text IS DISTINCT FROM e.current_tier::text;
-- A past as_of shows the grade as it stood then: none before the first
-- evaluation; before this transaction, not the grade it has just set.
SELECT count(*) FILTER (WHERE current_tier IS NULL) AS ungraded, count(*) AS customers
  FROM custier.simulate('sim live', 'sim draft', '2000-01-01');
BEGIN;
UPDATE sim_customer SET grade = 'A' WHERE id = 1;
SELECT 'now' AS as_of, current_tier FROM custier.simulate('sim live', 'sim draft') WHERE customer_key = '1'
UNION ALL
SELECT 'just before', current_tier FROM custier.simulate('sim live', 'sim draft', now() - interval '1 microsecond') WHERE customer_key = '1';
ROLLBACK;

-- 3. A draft over another metrics source (here a view, keyed by a bigint column).
CREATE VIEW sim_metrics_v2 AS SELECT id::bigint AS customer, spend * 2 AS spend, orders FROM sim_metrics WHERE id <> 1;
SELECT custier.copy_policy('sim live', 'sim draft v2');
UPDATE custier.policy SET metrics_source = 'sim_metrics_v2', key_column = 'customer' WHERE name = 'sim draft v2';
SELECT customer_key, live_tier, draft_tier FROM custier.simulate('sim live', 'sim draft v2') ORDER BY customer_key::int;

-- 4. Nothing changes: every custier table, the managed table and every
-- sequence are as they were, and the transaction never even got an id.
CREATE FUNCTION pg_temp.everything() RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; v text; acc text := '';
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c
              WHERE (c.relnamespace = 'custier'::regnamespace AND c.relkind IN ('r', 'S'))
                 OR c.oid = 'sim_customer'::regclass
              ORDER BY c.oid::regclass::text LOOP
        IF r.relkind = 'S' THEN
            EXECUTE format('SELECT last_value || '':'' || is_called FROM %s', r.rel) INTO v;
        ELSE
            EXECUTE format('SELECT md5(coalesce(string_agg(t::text, '';'' ORDER BY t::text), '''')) FROM %s t', r.rel) INTO v;
        END IF;
        acc := acc || r.rel || '=' || v || E'\n';
    END LOOP;
    RETURN acc;
END $$;
CREATE TEMP TABLE before AS SELECT pg_temp.everything() AS s;
BEGIN;
SELECT count(*) FROM custier.simulate('sim live', 'sim draft');
SELECT count(*) FROM custier.simulate('sim live', 'sim draft v2', '2000-01-01');
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_transaction_id;
COMMIT;
SELECT (SELECT s FROM before) = pg_temp.everything() AS nothing_changed,
       (SELECT count(*) FROM regexp_split_to_table((SELECT s FROM before), E'\n')) > 20 AS compared_many;

-- 5. Refusals: unknown policies, a draft that serves a table, a policy that
-- serves none, NULLs, a draft without a metrics source, a draft made
-- inconsistent behind the validation's back, a key that cannot be compared.
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('no such', 'sim draft')$$);
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'no such')$$);
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim draft', 'sim live')$$);
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim live')$$);
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim draft', NULL)$$);
SELECT pg_temp.fails($$SELECT * FROM custier.simulate(NULL, 'sim draft')$$);
SELECT custier.copy_policy('sim live', 'sim no source');
UPDATE custier.policy SET metrics_source = NULL, key_column = NULL WHERE name = 'sim no source';
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim no source')$$);
-- The validation refuses an inconsistent edit ...
SELECT pg_temp.fails($$UPDATE custier.policy_threshold SET bound = 100 WHERE policy = 'sim draft' AND metric = 'spend' AND tier = 'A'$$);
-- ... but a metrics source can change under a policy afterwards: simulate checks again.
CREATE TABLE sim_metrics_v3 (id int PRIMARY KEY, spend numeric, orders int);
SELECT custier.copy_policy('sim live', 'sim draft v3');
UPDATE custier.policy SET metrics_source = 'sim_metrics_v3' WHERE name = 'sim draft v3';
ALTER TABLE sim_metrics_v3 DROP COLUMN orders;
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim draft v3')$$);
ALTER TABLE sim_metrics_v3 ADD COLUMN orders text;
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim draft v3')$$);
-- ... and so can the policy itself, with the checks switched off.
SET session_replication_role = replica;
UPDATE custier.policy_threshold SET bound = 100 WHERE policy = 'sim draft' AND metric = 'spend' AND tier = 'A';
RESET session_replication_role;
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim draft')$$);
-- A key of a type the table's key cannot be compared with.
CREATE TABLE sim_metrics_v4 (id inet PRIMARY KEY, spend numeric, orders int);
SELECT custier.copy_policy('sim live', 'sim draft v4');
UPDATE custier.policy SET metrics_source = 'sim_metrics_v4' WHERE name = 'sim draft v4';
SELECT pg_temp.fails($$SELECT * FROM custier.simulate('sim live', 'sim draft v4')$$);

SELECT custier.unmanage('sim_customer');
DROP VIEW sim_metrics_v2;
DROP TABLE sim_customer, sim_metrics, sim_metrics_v3, sim_metrics_v4;
