-- Policy validation (see doc/reference.md): every inconsistent edit is refused with an
-- error naming the policy, metric and tier, and changes nothing; the audit
-- log; privileges; pg_dump registration.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
DROP ROLE IF EXISTS custier_test_policy_editor;
DROP ROLE IF EXISTS custier_test_policy_reader;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse
\set SHOW_CONTEXT errors

CREATE TABLE sales_metrics (customer_id int PRIMARY KEY, amount numeric, purchases int, region text, score_f float8);
INSERT INTO policy (name, metrics_source, key_column) VALUES ('p', 'sales_metrics', 'customer_id');
INSERT INTO policy_tier (policy, tier, min_score) VALUES ('p', 'A', 90), ('p', 'B', 60), ('p', 'C', 30);
INSERT INTO policy_criterion (policy, metric) VALUES ('p', 'amount'), ('p', 'purchases');
INSERT INTO policy_criterion (policy, metric, higher_is_better) VALUES ('p', 'score_f', false);
INSERT INTO policy_threshold VALUES ('p', 'amount', 'A', 1000), ('p', 'amount', 'B', 500), ('p', 'amount', 'C', 100),
                                    ('p', 'score_f', 'A', 1), ('p', 'score_f', 'B', 5);
INSERT INTO policy_band VALUES ('p', 'amount', 1000, 100), ('p', 'amount', 100, 40);

-- A snapshot of the policy, to show that refused edits change nothing.
CREATE FUNCTION policy_snapshot() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.name) FROM custier.policy x),
        (SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.policy, x.tier) FROM custier.policy_tier x),
        (SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.policy, x.metric) FROM custier.policy_criterion x),
        (SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.policy, x.metric, x.tier) FROM custier.policy_threshold x),
        (SELECT string_agg(to_jsonb(x)::text, ',' ORDER BY x.policy, x.metric, x.bound) FROM custier.policy_band x),
        (SELECT count(*) FROM custier.policy_audit)::text))
$$;
SELECT policy_snapshot() AS before \gset

-- Row checks (SQLSTATE 23514 check_violation throughout).
INSERT INTO policy (name, method) VALUES ('q', 'vibes');
UPDATE policy SET method = 'ranking' WHERE name = 'p';
UPDATE policy SET approval = 'sometimes' WHERE name = 'p';
UPDATE policy SET upgrade_after = 0 WHERE name = 'p';
UPDATE policy SET downgrade_after = -1 WHERE name = 'p';
UPDATE policy SET max_step = 0 WHERE name = 'p';
UPDATE policy SET period = '-1 day' WHERE name = 'p';
INSERT INTO policy (name) VALUES ('');
INSERT INTO policy_criterion (policy, metric, weight) VALUES ('p', 'region', 0);
UPDATE policy_criterion SET weight = -2 WHERE policy = 'p' AND metric = 'amount';
UPDATE policy_criterion SET weight = 'Infinity' WHERE policy = 'p' AND metric = 'amount';
UPDATE policy_criterion SET weight = 'NaN' WHERE policy = 'p' AND metric = 'amount';
UPDATE policy_threshold SET bound = 'NaN' WHERE policy = 'p' AND metric = 'amount' AND tier = 'B';
UPDATE policy_band SET points = 'Infinity' WHERE policy = 'p' AND bound = 100;
UPDATE policy_band SET bound = 'NaN' WHERE policy = 'p' AND bound = 100;
UPDATE policy_tier SET min_score = 'NaN' WHERE policy = 'p' AND tier = 'A';

-- Whole-policy checks.
-- A better tier with an easier bound than a worse one (higher is better) …
UPDATE policy_threshold SET bound = 50 WHERE policy = 'p' AND metric = 'amount' AND tier = 'B';
INSERT INTO policy_threshold VALUES ('p', 'amount', 'D', 2000);
-- … and when lower is better.
UPDATE policy_threshold SET bound = 6 WHERE policy = 'p' AND metric = 'score_f' AND tier = 'A';
-- Flipping the direction makes existing thresholds inconsistent.
UPDATE policy_criterion SET higher_is_better = false WHERE policy = 'p' AND metric = 'amount';
-- Tiers outside A..lowest.
INSERT INTO policy_threshold VALUES ('p', 'amount', 'E', 10);
INSERT INTO policy_tier (policy, tier) VALUES ('p', 'F');
UPDATE policy SET lowest = 'B' WHERE name = 'p';
-- A harder band earning fewer points than an easier one.
INSERT INTO policy_band VALUES ('p', 'amount', 5000, 90);
-- A better tier needing a lower score.
UPDATE policy_tier SET min_score = 20 WHERE policy = 'p' AND tier = 'B';
-- A metric that is not a numeric column of the metrics source.
INSERT INTO policy_criterion (policy, metric) VALUES ('p', 'region');
INSERT INTO policy_criterion (policy, metric) VALUES ('p', 'margin');
UPDATE policy_criterion SET metric = 'customer' WHERE policy = 'p' AND metric = 'purchases';
CREATE TABLE other_metrics (customer_id int, amount text, purchases int, score_f real);
UPDATE policy SET metrics_source = 'other_metrics' WHERE name = 'p';
CREATE TABLE keyless_metrics (amount numeric, purchases int, score_f real);
UPDATE policy SET metrics_source = 'keyless_metrics' WHERE name = 'p';
CREATE SEQUENCE not_a_table;
UPDATE policy SET metrics_source = 'not_a_table' WHERE name = 'p';
UPDATE policy SET key_column = 'id' WHERE name = 'p';
-- The SQLSTATE.
DO $$ BEGIN UPDATE custier.policy_threshold SET bound = 1 WHERE policy = 'p' AND tier = 'A' AND metric = 'amount';
   EXCEPTION WHEN check_violation THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
DO $$ BEGIN UPDATE custier.policy SET method = 'x' WHERE name = 'p';
   EXCEPTION WHEN check_violation THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
-- The hint of the direction check.
\set VERBOSITY default
\set SHOW_CONTEXT never
UPDATE policy_threshold SET bound = 50 WHERE policy = 'p' AND metric = 'amount' AND tier = 'B';
\set VERBOSITY terse
\set SHOW_CONTEXT errors

-- Nothing changed, not even the audit log.
SELECT policy_snapshot() = :'before' AS unchanged;

-- Consistent edits pass.  A multi-row statement is checked once it is done:
-- swapping the A and C bounds' roles in one UPDATE is fine.
UPDATE policy_threshold SET bound = CASE tier WHEN 'A' THEN 2000 WHEN 'B' THEN 1000 ELSE 500 END
 WHERE policy = 'p' AND metric = 'amount';
SELECT tier, bound FROM policy_threshold WHERE policy = 'p' AND metric = 'amount' ORDER BY tier DESC;
-- Several statements in one transaction: checked at COMMIT once deferred.
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
UPDATE policy_threshold SET bound = 100 WHERE policy = 'p' AND metric = 'amount' AND tier = 'A';
UPDATE policy_threshold SET bound = 50 WHERE policy = 'p' AND metric = 'amount' AND tier = 'B';
UPDATE policy_threshold SET bound = 10 WHERE policy = 'p' AND metric = 'amount' AND tier = 'C';
COMMIT;
SELECT tier, bound FROM policy_threshold WHERE policy = 'p' AND metric = 'amount' ORDER BY tier DESC;
-- … and a transaction that ends inconsistent is refused at COMMIT.
SELECT policy_snapshot() AS before \gset
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
UPDATE policy_threshold SET bound = 1 WHERE policy = 'p' AND metric = 'amount' AND tier = 'A';
COMMIT;
SELECT policy_snapshot() = :'before' AS unchanged;
-- Lowering the lowest grade works once the rows below it are gone.
BEGIN;
DELETE FROM policy_threshold WHERE policy = 'p' AND tier = 'C';
DELETE FROM policy_tier WHERE policy = 'p' AND tier = 'C';
UPDATE policy SET lowest = 'C' WHERE name = 'p';
SELECT name, lowest FROM policy;
ROLLBACK;
-- A policy without a metrics source may grade on any key.
UPDATE policy SET metrics_source = NULL, key_column = NULL WHERE name = 'p';
INSERT INTO policy_criterion (policy, metric) VALUES ('p', 'margin');
-- … but setting a source checks every metric again.
UPDATE policy SET metrics_source = 'sales_metrics' WHERE name = 'p';
DELETE FROM policy_criterion WHERE policy = 'p' AND metric = 'margin';
UPDATE policy SET metrics_source = 'sales_metrics', key_column = 'customer_id' WHERE name = 'p';
-- Views, and domains over numeric types, are fine sources.
CREATE DOMAIN positive_amount AS numeric CHECK (VALUE >= 0);
CREATE VIEW sales_view AS SELECT customer_id, amount::positive_amount AS amount, purchases::int8 AS purchases,
                                 score_f::real AS score_f FROM sales_metrics;
UPDATE policy SET metrics_source = 'sales_view' WHERE name = 'p';
SELECT custier.policy_numeric_type(t) AS numeric_type, t
FROM unnest('{int2,int4,int8,float4,float8,numeric,positive_amount,text,bool,money,timestamptz}'::regtype[]) t;

-- The audit log: who, when, which table, old and new row.
SELECT audit_id, changed_by = current_user AS by_me, tbl, operation, policy,
       old_row ->> 'bound' AS old_bound, new_row ->> 'bound' AS new_bound
FROM policy_audit WHERE tbl = 'policy_threshold' ORDER BY audit_id;
SELECT operation, old_row ->> 'metrics_source' AS old_source, new_row ->> 'metrics_source' AS new_source
FROM policy_audit WHERE tbl = 'policy' ORDER BY audit_id;
SELECT count(*) AS deleted_rows_logged FROM policy_audit WHERE operation = 'DELETE' AND old_row ->> 'metric' = 'margin';
-- Append-only, owner included.
UPDATE policy_audit SET changed_by = 'someone_else';
DELETE FROM policy_audit;
TRUNCATE policy_audit;
DO $$ BEGIN DELETE FROM custier.policy_audit;
   EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;

-- Privileges: everyone may read policies and grade; only those granted may edit.
CREATE ROLE custier_test_policy_reader;
CREATE ROLE custier_test_policy_editor;
GRANT USAGE ON SCHEMA custier TO custier_test_policy_editor;
GRANT INSERT, UPDATE, DELETE ON policy, policy_tier, policy_criterion, policy_threshold, policy_band
   TO custier_test_policy_editor;
GRANT USAGE ON SCHEMA custier TO custier_test_policy_reader;
SET ROLE custier_test_policy_reader;
SELECT custier.assign_tier('p', m), custier.score('p', m) FROM (SELECT 800 AS amount, 0.5 AS score_f) m;
UPDATE custier.policy_threshold SET bound = 1 WHERE policy = 'p';
INSERT INTO custier.policy (name) VALUES ('mine');
SELECT count(*) FROM custier.policy_audit;
INSERT INTO custier.policy_audit (changed_by, tbl, operation) VALUES ('x', 'y', 'INSERT');
RESET ROLE;
SET ROLE custier_test_policy_editor;
UPDATE custier.policy_threshold SET bound = 120 WHERE policy = 'p' AND metric = 'amount' AND tier = 'A';
INSERT INTO custier.policy_audit (changed_by, tbl, operation) VALUES ('x', 'y', 'INSERT');
RESET ROLE;
SELECT changed_by, tbl, operation, old_row ->> 'bound' AS old_bound, new_row ->> 'bound' AS new_bound
FROM policy_audit ORDER BY audit_id DESC LIMIT 1;
-- A TRUNCATE of a policy table is logged too.
BEGIN;
TRUNCATE policy_band;
SELECT tbl, operation, policy, old_row, new_row FROM policy_audit ORDER BY audit_id DESC LIMIT 1;
ROLLBACK;

-- pg_dump keeps the policy tables and the log (extension configuration).
SELECT c::regclass AS config FROM pg_extension e, unnest(e.extconfig) c
WHERE e.extname = 'custier' AND c::regclass::text LIKE 'policy%' ORDER BY c::regclass::text;
-- Catalog facts: STABLE STRICT PARALLEL SAFE, C.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict, p.proparallel, l.lanname
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'custier'::regnamespace AND p.proname IN ('assign_tier', 'score', 'explain')
ORDER BY 1::text;

DROP VIEW sales_view;
DROP DOMAIN positive_amount;
DROP TABLE sales_metrics, other_metrics, keyless_metrics;
DROP SEQUENCE not_a_table;
DROP FUNCTION policy_snapshot();
DROP EXTENSION custier CASCADE;
DROP OWNED BY custier_test_policy_reader, custier_test_policy_editor;
DROP ROLE custier_test_policy_reader;
DROP ROLE custier_test_policy_editor;
