-- bench/evaluation.sql — run_evaluation() over 1M customers with
-- precomputed metrics: customers per second, and the ratio to evaluate()
-- alone on the same data (the cost of recording, applying and committing).
-- Goals: >= 30k customers/s; run_evaluation <= 3x evaluate().
\set QUIET 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_customer, bench_metrics CASCADE;
DELETE FROM custier.policy WHERE name = 'bench';
CREATE TABLE bench_customer (id int PRIMARY KEY, grade custier.tier);
CREATE TABLE bench_metrics (id int PRIMARY KEY, amount numeric, purchases int, tenure_days int);
INSERT INTO bench_customer SELECT i, custier.tier(1 + (hashint4(i) & 2147483647) % 4) FROM generate_series(1, 1000000) i;
INSERT INTO bench_metrics
SELECT i, round(((hashint4(i * 7) & 2147483647) % 200000) / 100.0, 2), (hashint4(i * 13) & 2147483647) % 40,
       (hashint4(i * 17) & 2147483647) % 2000
FROM generate_series(1, 1000000) i;
VACUUM ANALYZE bench_customer;
VACUUM ANALYZE bench_metrics;
INSERT INTO custier.policy (name, upgrade_after, downgrade_after, max_step, metrics_source, key_column)
VALUES ('bench', 2, 1, 1, 'bench_metrics', 'id');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('bench', 'amount'), ('bench', 'purchases'), ('bench', 'tenure_days');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('bench', 'amount', 'A', 1500), ('bench', 'amount', 'B', 800), ('bench', 'amount', 'C', 200),
    ('bench', 'purchases', 'A', 24), ('bench', 'purchases', 'B', 12), ('bench', 'purchases', 'C', 4),
    ('bench', 'tenure_days', 'A', 720), ('bench', 'tenure_days', 'B', 365);
SELECT custier.manage('bench_customer', 'id', 'grade', 'bench');
RESET client_min_messages;

-- One cycle: evaluate() twice (best of two), then run_evaluation() timed.
CREATE TEMP TABLE bench_cycle (cycle int, evaluate_ms float8, run_ms float8, changed bigint);
\set cycle 1
\set as_of '2026-06-30'
\ir evaluation_cycle.inc
\set cycle 2
\set as_of '2026-12-31'
\ir evaluation_cycle.inc
\unset QUIET
\echo '1M customers, 3 criteria; cycle 2 looks back on cycle 1 (upgrade_after = 2); batch_size 10000'
SELECT cycle, round(evaluate_ms) AS evaluate_ms, round(run_ms) AS run_evaluation_ms, changed,
       round(1000000 / (run_ms / 1000)) AS customers_per_s, '>= 30000' AS goal_rate,
       round((run_ms / evaluate_ms)::numeric, 2) AS ratio_to_evaluate, '<= 3' AS goal_ratio,
       CASE WHEN 1000000 / (run_ms / 1000) >= 30000 AND run_ms / evaluate_ms <= 3 THEN 'met' ELSE 'MISSED' END AS verdict
FROM bench_cycle ORDER BY cycle;
\set QUIET 1
SELECT custier.unmanage('bench_customer');
DROP TABLE bench_customer, bench_metrics;
\unset QUIET
