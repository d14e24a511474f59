-- fixture.sql — a database that uses every part of custier, for the
-- dump/restore and update tests (test/lifecycle/*.sh).  Uses only what
-- 0.1.0 offered, so that the update test can load it into 0.1.0.
-- Run as a superuser with psql -v ON_ERROR_STOP=1, outside a transaction.
SET client_min_messages = warning;
SET search_path = public, custier;
DO $$ BEGIN
    CREATE ROLE custier_lc_proposer; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE ROLE custier_lc_approver; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
    CREATE ROLE custier_lc_sales; EXCEPTION WHEN duplicate_object THEN NULL; END $$;

-- Metrics and customers: a text key (guarded) and an integer key.
CREATE TABLE lc_metrics (id text PRIMARY KEY, amount numeric);
CREATE TABLE lc_customer (id text PRIMARY KEY, name text, grade tier);
-- lc_branch had a column dropped: restored, its columns are numbered anew.
CREATE TABLE lc_branch (legacy int, no int NOT NULL UNIQUE, grade tier, note text);
ALTER TABLE lc_branch DROP COLUMN legacy;
CREATE TABLE lc_gone (id int PRIMARY KEY, grade tier);
INSERT INTO lc_customer SELECT 'C' || lpad(i::text, 3, '0'), 'customer ' || i,
       (ARRAY['B', 'C', 'D', NULL])[1 + i % 4]::tier FROM generate_series(1, 40) i;
INSERT INTO lc_metrics SELECT 'C' || lpad(i::text, 3, '0'), (i % 5) * 300 FROM generate_series(1, 40) i;
INSERT INTO lc_branch SELECT i, 'C', 'branch ' || i FROM generate_series(1, 5) i;
INSERT INTO lc_gone VALUES (1, 'A'), (2, 'B');

-- Policies (every policy table), edited so that the audit has rows.
INSERT INTO policy (name, lowest, approval, metrics_source, key_column, description)
VALUES ('lc', 'D', 'downgrade', 'lc_metrics', 'id', 'lifecycle fixture');
INSERT INTO policy_tier (policy, tier, label) VALUES ('lc', 'A', 'key account'), ('lc', 'B', 'important'),
    ('lc', 'C', 'regular'), ('lc', 'D', 'watch');
INSERT INTO policy_criterion (policy, metric) VALUES ('lc', 'amount');
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('lc', 'amount', 'A', 1200), ('lc', 'amount', 'B', 600), ('lc', 'amount', 'C', 300);
INSERT INTO policy_reviewer (policy, department) VALUES ('lc', 'sales');
-- Since 0.2.0 a department is a role: its members review.
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'custier.policy_reviewer'::regclass AND attname = 'reviewer_role') THEN
        EXECUTE $u$UPDATE custier.policy_reviewer SET reviewer_role = 'custier_lc_sales' WHERE policy = 'lc'$u$;
    END IF;
END $$;
UPDATE policy SET description = 'lifecycle fixture, edited' WHERE name = 'lc';
INSERT INTO policy (name, method, lowest) VALUES ('lc_score', 'score', 'C');
INSERT INTO policy_tier (policy, tier, min_score) VALUES ('lc_score', 'A', 80), ('lc_score', 'B', 40), ('lc_score', 'C', 0);
INSERT INTO policy_criterion (policy, metric, weight) VALUES ('lc_score', 'amount', 2);
INSERT INTO policy_band (policy, metric, bound, points) VALUES ('lc_score', 'amount', 0, 10), ('lc_score', 'amount', 1000, 90);
INSERT INTO policy (name) VALUES ('lc_gone');

SELECT manage('lc_customer', 'id', 'grade', 'lc', require_approval => true);
SELECT manage('lc_branch', 'no', 'grade', 'lc_score');
SELECT manage('lc_gone', 'id', 'grade', 'lc_gone');

-- Grade history: direct changes, a key change, a delete.
UPDATE lc_branch SET grade = 'A' WHERE no = 1;
UPDATE lc_branch SET grade = 'B' WHERE no IN (2, 3);
UPDATE lc_branch SET no = 50 WHERE no = 5;
DELETE FROM lc_branch WHERE no = 4;
UPDATE lc_gone SET grade = 'C' WHERE id = 2;

-- Adjustments in every status a person can leave them in, with reviews.
GRANT SELECT ON lc_customer TO custier_lc_proposer, custier_lc_approver, custier_lc_sales;
-- propose without arguments: 0.1.0 has five, 0.2.0 six (hold_until).
GRANT EXECUTE ON FUNCTION propose, withdraw(bigint) TO custier_lc_proposer;
GRANT EXECUTE ON FUNCTION review(bigint, text, text, text) TO custier_lc_sales;
GRANT EXECUTE ON FUNCTION approve(bigint, text), reject(bigint, text) TO custier_lc_approver;
SET ROLE custier_lc_proposer;
SELECT propose('lc_customer', 'C001', 'A', 'applied: big contract', '{"deal": 1}');
SELECT propose('lc_customer', 'C002', 'A', 'rejected: not enough');
SELECT propose('lc_customer', 'C003', 'B', 'withdrawn: typo');
SELECT propose('lc_customer', 'C005', 'A', 'still open: waiting for sales');
SELECT propose('lc_customer', 'C006', 'B', 'still open: reviewed');
SET ROLE custier_lc_sales;
SELECT review(adjustment_id, 'sales', 'support', 'ok') FROM adjustment WHERE customer_key IN ('C001', 'C006');
SELECT review(adjustment_id, 'sales', 'oppose') FROM adjustment WHERE customer_key = 'C002';
SET ROLE custier_lc_approver;
SELECT approve(adjustment_id, 'go') FROM adjustment WHERE customer_key = 'C001';
SELECT reject(adjustment_id, 'sales opposes') FROM adjustment WHERE customer_key = 'C002';
SET ROLE custier_lc_proposer;
SELECT withdraw(adjustment_id) FROM adjustment WHERE customer_key = 'C003';
RESET ROLE;

-- Two evaluations in small batches: upgrades applied, downgrades proposed,
-- customers with an open adjustment pending.
CALL run_evaluation('lc', '2026-01-01', 7);
UPDATE lc_metrics SET amount = amount + 300 WHERE id < 'C010';
CALL run_evaluation('lc', '2026-02-01', 9);

-- A managed table dropped: its history stays (psql -v keep_gone=1 keeps it).
\if :{?keep_gone}
\else
DROP TABLE lc_gone;
\endif
