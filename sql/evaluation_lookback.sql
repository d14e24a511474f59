-- How run_evaluation looks back on earlier evaluations (src/evaluation.c,
-- doc/reference.md): the customers whose move needs a streak are looked up
-- by key, or, when a quarter of the batch or more needs it, read as one
-- range of evaluation_result's primary key (least to greatest key, byte
-- for byte, at most twice the batch plus 1000 rows), the rest by key.  The
-- DEBUG lines show which path each batch took: 3000 integer keys in
-- batches of 300, most moving every cycle; the first batch (keys 1 to 300,
-- as text '1' to '99': nearly every key) stops at its bound, and the
-- customers the range did not reach are looked up by key.  pgTAP evaluation_lookback
-- checks the results against a per-customer look-up.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse

CREATE TABLE lb_customer (id int PRIMARY KEY, grade tier);
CREATE TABLE lb_metrics (id int PRIMARY KEY, amount numeric);
INSERT INTO lb_customer SELECT i, (ARRAY['A', 'B', 'C', 'D'])[1 + i % 4]::tier FROM generate_series(1, 3000) i;
INSERT INTO lb_metrics SELECT i, (i * 37) % 1400 FROM generate_series(1, 3000) i;
INSERT INTO policy (name, upgrade_after, downgrade_after, metrics_source, key_column) VALUES ('lb', 3, 3, 'lb_metrics', 'id');
INSERT INTO policy_criterion (policy, metric) VALUES ('lb', 'amount');
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('lb', 'amount', 'A', 1000), ('lb', 'amount', 'B', 500), ('lb', 'amount', 'C', 100);
SELECT manage('lb_customer', 'id', 'grade', 'lb');
SET client_min_messages = warning;
CALL run_evaluation('lb', '2026-01-01', 300);
UPDATE lb_metrics SET amount = (amount + 700) % 1400;
CALL run_evaluation('lb', '2026-02-01', 300);
UPDATE lb_metrics SET amount = (amount + 700) % 1400;
-- Cycle 3: most of each batch of 300 need both earlier evaluations.
SET client_min_messages = debug1;
CALL run_evaluation('lb', '2026-03-01', 300);
SET client_min_messages = warning;
-- Cycle 4, batches of 1000: nine customers in ten qualify for their grade;
-- fewer than a quarter of a batch need a look-back, all of them by key.
UPDATE lb_metrics m SET amount = CASE c.grade WHEN 'A' THEN 1200 WHEN 'B' THEN 700 WHEN 'C' THEN 300 ELSE 50 END
FROM lb_customer c WHERE c.id = m.id AND m.id % 10 <> 0;
SET client_min_messages = debug1;
CALL run_evaluation('lb', '2026-04-01', 1000);
RESET client_min_messages;
SELECT e.as_of::date, e.customers, e.changed, count(r.*) AS results
FROM evaluation e JOIN evaluation_result r USING (evaluation_id) GROUP BY 1, 2, 3 ORDER BY 1;

SELECT unmanage('lb_customer');
DROP TABLE lb_customer, lb_metrics;
