-- run_evaluation() resumes after its backend is killed mid-run, doing every
-- customer exactly once (see doc/reference.md).  A second session (dblink) runs the
-- evaluation in batches of 100; this session holds a row lock that the 5th
-- batch waits on, kills the runner there, and calls run_evaluation again.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'UTC';
\set VERBOSITY terse

CREATE TABLE rs_customer (id int PRIMARY KEY, grade tier);
CREATE TABLE rs_metrics (id int PRIMARY KEY, amount numeric);
-- amount 0, 400, 800, 1200 qualifies D, C, B, A; everyone starts at C.
INSERT INTO rs_customer SELECT i, 'C' FROM generate_series(1, 1000) i;
INSERT INTO rs_metrics SELECT i, (i % 4) * 400 FROM generate_series(1, 1000) i;
INSERT INTO policy (name, metrics_source, key_column) VALUES ('resume', 'rs_metrics', 'id');
INSERT INTO policy_criterion (policy, metric) VALUES ('resume', 'amount');
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('resume', 'amount', 'A', 1000), ('resume', 'amount', 'B', 500), ('resume', 'amount', 'C', 100);
SELECT manage('rs_customer', 'id', 'grade', 'resume');

-- The runner's pid, once it waits for a lock (customer 450, held here).
CREATE FUNCTION pg_temp.blocked_runner() RETURNS int LANGUAGE plpgsql AS $$
DECLARE runner int;
BEGIN
    FOR i IN 1 .. 600 LOOP
        PERFORM pg_stat_clear_snapshot();
        SELECT pid INTO runner FROM pg_stat_activity
        WHERE query LIKE '%CALL custier.run_evaluation%' AND pid <> pg_backend_pid() AND wait_event_type = 'Lock';
        EXIT WHEN runner IS NOT NULL;
        PERFORM pg_sleep(0.05);
    END LOOP;
    IF runner IS NULL THEN RAISE EXCEPTION 'the runner never blocked'; END IF;
    RETURN runner;
END $$;

BEGIN;
SELECT id FROM rs_customer WHERE id = 450 FOR UPDATE;
SELECT dblink_connect('runner', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_database(), current_user));
SELECT dblink_send_query('runner', $$CALL custier.run_evaluation('resume', '2026-01-01', 100)$$);
-- Wait until the runner is blocked on customer 450, then kill it.
SELECT pg_terminate_backend(pg_temp.blocked_runner(), 10000);
COMMIT;
SELECT dblink_disconnect('runner');

-- Four batches were committed before the crash; the fifth was rolled back.
SELECT customers, batches, last_key, finished_at IS NULL AS unfinished FROM evaluation;
SELECT count(*) AS results FROM evaluation_result;
SELECT count(*) AS history_rows FROM tier_history WHERE reason LIKE 'evaluation%';

-- The same call resumes after customer 400 and finishes.
CALL run_evaluation('resume', '2026-01-01', 100);
SELECT customers, changed, batches, finished_at IS NOT NULL AS finished FROM evaluation;
SELECT count(*) AS results, count(DISTINCT customer_key) AS customers,
       min(customer_key::int) AS first, max(customer_key::int) AS last FROM evaluation_result;
-- Every customer changed at most once, and exactly those the policy moved.
SELECT count(*) AS history_rows, count(DISTINCT customer_key) AS customers_changed
FROM tier_history WHERE reason LIKE 'evaluation%';
SELECT grade, count(*) FROM rs_customer GROUP BY grade ORDER BY grade DESC;

-- A call reads its plan again when the policy changes between two of its
-- batches: the runner waits in its 5th batch (customer 450 locked here)
-- while the policy's approval becomes 'all'; its first five batches
-- apply their changes, the last five propose them.
UPDATE rs_metrics SET amount = 1200;
BEGIN;
SELECT id FROM rs_customer WHERE id = 450 FOR UPDATE;
SELECT dblink_connect('runner', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_database(), current_user));
SELECT dblink_send_query('runner', $$CALL custier.run_evaluation('resume', '2026-02-01', 100)$$);
SELECT pg_temp.blocked_runner() IS NOT NULL AS runner_waits;
UPDATE policy SET approval = 'all' WHERE name = 'resume';
COMMIT;
SELECT * FROM dblink_get_result('runner') AS r(status text);
SELECT dblink_disconnect('runner');
SELECT r.batch, r.action, count(*)
FROM evaluation_result r JOIN evaluation e USING (evaluation_id)
WHERE e.as_of = '2026-02-01' GROUP BY r.batch, r.action ORDER BY r.batch, r.action;

-- One evaluation grades one table: an unfinished evaluation whose policy
-- meanwhile manages another table is not resumed (55000).
INSERT INTO evaluation (policy, as_of, tbl, customers, batches, last_key)
VALUES ('resume', '2026-03-01', 'rs_customer', 100, 1, '100');
SELECT unmanage('rs_customer');
CREATE TABLE rs_other (id int PRIMARY KEY, grade tier);
SELECT manage('rs_other', 'id', 'grade', 'resume');
CALL run_evaluation('resume', '2026-03-01', 100);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT customers, batches, finished_at IS NULL AS unfinished FROM evaluation WHERE as_of = '2026-03-01';
SELECT unmanage('rs_other');
DROP TABLE rs_other;

-- A call's plan reads the table by its name: renamed between two of its
-- batches, with another table created under the old name, the call plans
-- again and goes on grading the table its evaluation records (under its new
-- name); the other table is not read nor written.  The runner waits in its
-- first batch (customer 2 locked here), the rename waits for the runner.
CREATE TABLE rn_customer (id int PRIMARY KEY, grade tier);
CREATE TABLE rn_metrics (id int PRIMARY KEY, amount numeric);
INSERT INTO rn_customer SELECT i, 'C' FROM generate_series(1, 4) i;
INSERT INTO rn_metrics SELECT i, 1200 FROM generate_series(1, 5) i;
INSERT INTO policy (name, metrics_source, key_column) VALUES ('rename', 'rn_metrics', 'id');
INSERT INTO policy_criterion (policy, metric) VALUES ('rename', 'amount');
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('rename', 'amount', 'A', 1000), ('rename', 'amount', 'B', 500), ('rename', 'amount', 'C', 100);
SELECT manage('rn_customer', 'id', 'grade', 'rename');
CREATE FUNCTION pg_temp.renamer_waits() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. 600 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_stat_activity WHERE query LIKE '%RENAME TO rn_customer_old%'
                   AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND wait_event = 'relation') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE EXCEPTION 'the rename never waited';
END $$;
BEGIN;
SELECT id FROM rn_customer WHERE id = 2 FOR UPDATE;
SELECT dblink_connect('runner', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_database(), current_user));
SELECT dblink_connect('renamer', format('host=%s port=%s dbname=%s user=%s',
    split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
    current_database(), current_user));
SELECT dblink_send_query('runner', $$CALL custier.run_evaluation('rename', '2026-01-01', 2)$$);
SELECT pg_temp.blocked_runner() IS NOT NULL AS runner_waits;
SELECT dblink_send_query('renamer', $q$DO $r$ BEGIN
    ALTER TABLE rn_customer RENAME TO rn_customer_old;
    CREATE TABLE rn_customer (id int PRIMARY KEY, grade custier.tier);
    INSERT INTO rn_customer VALUES (3, 'D'), (4, 'D'), (5, 'D');
END $r$$q$);
SELECT pg_temp.renamer_waits();
COMMIT;
SELECT * FROM dblink_get_result('runner') AS r(status text);
SELECT * FROM dblink_get_result('renamer') AS r(status text);
SELECT dblink_disconnect('runner');
SELECT dblink_disconnect('renamer');
SELECT tbl, customers, changed, batches, finished_at IS NOT NULL AS finished FROM evaluation WHERE policy = 'rename';
SELECT r.customer_key, r.current_tier, r.proposed_tier, r.action, r.batch
FROM evaluation_result r JOIN evaluation e USING (evaluation_id) WHERE e.policy = 'rename' ORDER BY 1;
SELECT 'rn_customer_old' AS t, * FROM rn_customer_old UNION ALL SELECT 'rn_customer', * FROM rn_customer ORDER BY 1, 2;
SELECT tbl, customer_key, old_tier, new_tier FROM tier_history
WHERE reason LIKE 'evaluation%' AND tbl IN ('rn_customer_old'::regclass, 'rn_customer'::regclass) ORDER BY history_id;
DROP TABLE rn_customer, rn_customer_old, rn_metrics;

DROP TABLE rs_customer, rs_metrics;
DROP EXTENSION dblink;
