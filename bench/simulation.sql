-- bench/simulation.sql — simulate() over 1M customers against evaluate() of
-- the same policy, in the same run (medians of alternating runs, executor
-- time from EXPLAIN ANALYZE: every row computed, none sent).
-- Goal: simulate(policy, draft) <= 2.5x evaluate(policy), for a draft over
-- the same metrics source and for one over another source.
\set QUIET 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_customer, bench_metrics, bench_metrics_b CASCADE;
DELETE FROM custier.policy WHERE name IN ('bench', 'bench draft', 'bench draft b');
CREATE TABLE bench_customer (id int PRIMARY KEY, grade custier.tier);
CREATE TABLE bench_metrics (id int PRIMARY KEY, amount numeric, purchases int, tenure_days int);
INSERT INTO bench_customer SELECT i, custier.tier(1 + (hashint4(i) & 2147483647) % 4) FROM generate_series(1, 1000000) i;
INSERT INTO bench_metrics
SELECT i, round(((hashint4(i * 7) & 2147483647) % 200000) / 100.0, 2), (hashint4(i * 13) & 2147483647) % 40,
       (hashint4(i * 17) & 2147483647) % 2000
FROM generate_series(1, 1000000) i;
-- Another source for a draft: the same customers, other numbers.
CREATE TABLE bench_metrics_b AS SELECT id, amount * 1.1 AS amount, purchases, tenure_days FROM bench_metrics;
ALTER TABLE bench_metrics_b ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_customer;
VACUUM ANALYZE bench_metrics;
VACUUM ANALYZE bench_metrics_b;
INSERT INTO custier.policy (name, upgrade_after, downgrade_after, max_step, metrics_source, key_column)
VALUES ('bench', 2, 1, 1, 'bench_metrics', 'id');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('bench', 'amount'), ('bench', 'purchases'), ('bench', 'tenure_days');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('bench', 'amount', 'A', 1500), ('bench', 'amount', 'B', 800), ('bench', 'amount', 'C', 200),
    ('bench', 'purchases', 'A', 24), ('bench', 'purchases', 'B', 12), ('bench', 'purchases', 'C', 4),
    ('bench', 'tenure_days', 'A', 720), ('bench', 'tenure_days', 'B', 365);
SELECT custier.manage('bench_customer', 'id', 'grade', 'bench');
-- The draft: the A bounds 20% higher.
SELECT custier.copy_policy('bench', 'bench draft');
UPDATE custier.policy_threshold SET bound = bound * 1.2 WHERE policy = 'bench draft' AND tier = 'A';
SELECT custier.copy_policy('bench draft', 'bench draft b');
UPDATE custier.policy SET metrics_source = 'bench_metrics_b' WHERE name = 'bench draft b';
RESET client_min_messages;
\unset QUIET
\echo '1M customers, 3 criteria, thresholds method; medians of 3 alternating runs'
SELECT * FROM bench.compare('simulate (draft on the same source) vs evaluate',
    $$SELECT * FROM custier.simulate('bench', 'bench draft')$$,
    $$SELECT * FROM custier.evaluate('bench')$$, '<= 2.5', 3)
UNION ALL
SELECT * FROM bench.compare('simulate (draft on another source) vs evaluate',
    $$SELECT * FROM custier.simulate('bench', 'bench draft b')$$,
    $$SELECT * FROM custier.evaluate('bench')$$, '<= 2.5', 3)
UNION ALL
SELECT * FROM bench.compare('simulate + GROUP BY summary vs evaluate',
    $$SELECT live_tier, draft_tier, count(*) FROM custier.simulate('bench', 'bench draft') GROUP BY 1, 2$$,
    $$SELECT * FROM custier.evaluate('bench')$$, '<= 2.5', 3)
UNION ALL
SELECT * FROM bench.compare('simulate vs two assign_tier over the join (floor)',
    $$SELECT * FROM custier.simulate('bench', 'bench draft')$$,
    $$SELECT t.id, t.grade, custier.assign_tier('bench', m), custier.assign_tier('bench draft', m)
      FROM bench_customer t LEFT JOIN bench_metrics m ON m.id = t.id$$, NULL, 3);
\set QUIET 1
SELECT custier.unmanage('bench_customer');
DROP TABLE bench_customer, bench_metrics, bench_metrics_b;
\unset QUIET
