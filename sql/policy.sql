-- Policies and tier assignment (see doc/reference.md): both methods, scores, explain,
-- NULL and missing metrics, bound inclusivity, lower-is-better criteria,
-- jsonb and record input, and when an edit is seen.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse

-- The A/B/C/D grading standard: purchase amount, purchase count, potential
-- (1..10) and days to pay (lower is better).
INSERT INTO policy (name, description) VALUES ('seeds', 'A/B/C/D by amount, purchases, potential and days to pay');
INSERT INTO policy_tier (policy, tier, label) VALUES
    ('seeds', 'A', 'A级客户'), ('seeds', 'B', 'B级客户'), ('seeds', 'C', 'C级客户'), ('seeds', 'D', 'D级客户');
INSERT INTO policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('seeds', 'amount', 2, true), ('seeds', 'purchases', 1, true),
    ('seeds', 'potential', 1, true), ('seeds', 'days_to_pay', 1, false);
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('seeds', 'amount', 'A', 1000000), ('seeds', 'amount', 'B', 500000), ('seeds', 'amount', 'C', 100000),
    ('seeds', 'purchases', 'A', 12), ('seeds', 'purchases', 'B', 6),
    ('seeds', 'potential', 'A', 8),
    ('seeds', 'days_to_pay', 'A', 30), ('seeds', 'days_to_pay', 'B', 60);

-- Thresholds: the best tier all of whose thresholds are met, else lowest.
SELECT m AS metrics, assign_tier('seeds', m::jsonb) AS tier, score('seeds', m::jsonb) AS score
FROM (VALUES ('{"amount": 1200000, "purchases": 15, "potential": 9, "days_to_pay": 20}'),
             ('{"amount": 1200000, "purchases": 15, "potential": 7, "days_to_pay": 20}'),
             ('{"amount": 600000, "purchases": 6, "potential": 1, "days_to_pay": 60}'),
             ('{"amount": 600000, "purchases": 5, "potential": 9, "days_to_pay": 10}'),
             ('{"amount": 99999.99, "purchases": 50, "potential": 10, "days_to_pay": 1}'),
             ('{"amount": 0, "purchases": 0, "potential": 0, "days_to_pay": 365}')) v(m);

-- Bounds are inclusive: exactly the bound meets it, in both directions; one
-- cent (or one day) short does not.
SELECT assign_tier('seeds', '{"amount": 1000000, "purchases": 12, "potential": 8, "days_to_pay": 30}'::jsonb) AS at_bounds,
       assign_tier('seeds', '{"amount": 999999.99, "purchases": 12, "potential": 8, "days_to_pay": 30}'::jsonb) AS amount_short,
       assign_tier('seeds', '{"amount": 1000000, "purchases": 12, "potential": 8, "days_to_pay": 31}'::jsonb) AS one_day_late,
       assign_tier('seeds', '{"amount": 1000000, "purchases": 12, "potential": 8, "days_to_pay": 30.0000001}'::jsonb) AS a_bit_late;

-- Lower is better: fewer days to pay is better, more is worse.
SELECT d AS days_to_pay, assign_tier('seeds', jsonb_build_object('amount', 2000000, 'purchases', 20, 'potential', 10, 'days_to_pay', d)) AS tier
FROM (VALUES (0), (30), (45), (60), (61)) v(d);

-- The thresholds score: a criterion earns 100 × (n − r + 1) ÷ n points (n = 4
-- grades A..D, r = rank of the best tier met, 0 if none), weighted.
-- amount meets B (75 points, weight 2), purchases A (100), potential none (0),
-- days_to_pay B (75): (2×75 + 100 + 0 + 75) ÷ 5 = 65.
SELECT score('seeds', '{"amount": 600000, "purchases": 12, "potential": 2, "days_to_pay": 50}'::jsonb);
SELECT score('seeds', '{"amount": 600000, "purchases": 12, "potential": 2, "days_to_pay": 50}'::jsonb)
       = (2 * 75 + 100 + 0 + 75) / 5.0 AS equals_by_hand;

-- NULL and missing metrics meet no bound and earn no points.
SELECT assign_tier('seeds', '{}'::jsonb) AS empty, score('seeds', '{}'::jsonb) AS empty_score,
       assign_tier('seeds', '{"amount": null, "purchases": null, "potential": null, "days_to_pay": null}'::jsonb) AS nulls,
       assign_tier('seeds', '{"amount": 200000}'::jsonb) AS only_amount,
       assign_tier('seeds', '{"amount": 2000000, "purchases": 20, "potential": 9}'::jsonb) AS no_days_to_pay,
       score('seeds', '{"amount": 2000000, "purchases": 20, "potential": 9}'::jsonb) AS its_score;
-- Keys that are no criterion are ignored.
SELECT assign_tier('seeds', '{"amount": 200000, "colour": "blue", "nested": {"a": 1}}'::jsonb);

-- A string holding a number counts as that number (blanks, sign, exponent allowed).
SELECT assign_tier('seeds', '{"amount": "1000000", "purchases": " 12 ", "potential": "8e0", "days_to_pay": "+30.0"}'::jsonb) AS strings;

-- Anything else is refused, naming the policy, metric and value.
SELECT assign_tier('seeds', '{"amount": "lots"}'::jsonb);
SELECT assign_tier('seeds', '{"amount": ""}'::jsonb);
SELECT assign_tier('seeds', '{"amount": "1 000"}'::jsonb);
SELECT assign_tier('seeds', '{"amount": "NaN"}'::jsonb);
SELECT assign_tier('seeds', '{"amount": true}'::jsonb);
SELECT assign_tier('seeds', '{"amount": {"eur": 5}}'::jsonb);
SELECT assign_tier('seeds', '{"amount": [5]}'::jsonb);
SELECT assign_tier('seeds', '[1, 2]'::jsonb);
SELECT assign_tier('seeds', '5'::jsonb);
DO $$ BEGIN PERFORM custier.assign_tier('seeds', '{"amount": "x"}'::jsonb);
   EXCEPTION WHEN invalid_text_representation THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
DO $$ BEGIN PERFORM custier.assign_tier('seeds', '{"amount": false}'::jsonb);
   EXCEPTION WHEN datatype_mismatch THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
DO $$ BEGIN PERFORM custier.assign_tier('seeds', '{"amount": "nan"}'::jsonb);
   EXCEPTION WHEN invalid_parameter_value THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
-- "Infinity" is a number, and meets every bound it exceeds.
SELECT assign_tier('seeds', '{"amount": "Infinity", "purchases": 6, "days_to_pay": "-inf"}'::jsonb);

-- An unknown policy: 42704.
SELECT assign_tier('nope', '{}'::jsonb);
SELECT score('nope', '{}'::jsonb);
SELECT explain('nope', '{}'::jsonb);
DO $$ BEGIN PERFORM custier.assign_tier('nope', '{}'::jsonb);
   EXCEPTION WHEN undefined_object THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
-- NULL in, NULL out.
SELECT assign_tier(NULL, '{}'::jsonb) IS NULL AS null_policy, assign_tier('seeds', NULL::jsonb) IS NULL AS null_metrics,
       score('seeds', NULL::jsonb) IS NULL AS null_score, explain('seeds', NULL::jsonb) IS NULL AS null_explain;

-- explain: the evidence, criteria in metric order.
SELECT jsonb_pretty(explain('seeds', '{"amount": 600000, "purchases": 12, "potential": 2}'::jsonb));

-- The record form reads the columns of that name, of any numeric type or a
-- domain over one; a column that is missing is a missing metric.
CREATE DOMAIN money_amount AS numeric(14, 2) CHECK (VALUE >= -1e12);
CREATE TABLE customer_metrics (
    customer    text PRIMARY KEY,
    amount      money_amount,
    purchases   smallint,
    potential   bigint,
    days_to_pay real,
    note        text
);
INSERT INTO customer_metrics VALUES
    ('acme',    1200000, 15, 9, 20, 'key account'),
    ('bolt',    1000000, 12, 8, 30, 'exactly at the A bounds'),
    ('cask',     600000,  6, 1, 60.5, 'half a day late for B'),
    ('dune',     600000,  6, 1, 60, NULL),
    ('echo',     150000, NULL, NULL, NULL, 'only an amount'),
    ('fjord',   NULL, NULL, NULL, NULL, 'nothing known');
SELECT customer, assign_tier('seeds', m) AS tier, score('seeds', m) AS score,
       assign_tier('seeds', m) = assign_tier('seeds', to_jsonb(m)) AS same_as_jsonb,
       score('seeds', m) = score('seeds', to_jsonb(m)) AS same_score
FROM customer_metrics m ORDER BY customer;
SELECT explain('seeds', m) FROM customer_metrics m WHERE customer = 'cask';
-- Integer columns compare exactly with fractional bounds (v >= 5.5 means v >= 6).
CREATE TEMP TABLE int_metrics (purchases int, amount int8, potential int, days_to_pay int2);
INSERT INTO int_metrics VALUES (12, 1000000, 8, 30), (11, 1000000, 8, 30), (12, 999999, 8, 30), (12, 1000000, 8, 31),
                               (12, 9223372036854775807, 2147483647, -32768);
SELECT purchases, amount, days_to_pay, assign_tier('seeds', m) FROM int_metrics m;
-- Anonymous records work too; a row without the metric's columns has no metrics.
SELECT assign_tier('seeds', r) FROM (SELECT 1000000 AS amount, 12 AS purchases, 8.0 AS potential, 30::float8 AS days_to_pay) r;
SELECT assign_tier('seeds', ROW(1000000, 12, 8, 30));
-- A column that is not a number: 42804, naming policy, metric and type.
SELECT assign_tier('seeds', r) FROM (SELECT '1000000'::text AS amount) r;
SELECT assign_tier('seeds', r) FROM (SELECT true AS purchases) r;
DO $$ BEGIN PERFORM custier.assign_tier('seeds', r) FROM (SELECT now() AS amount) r;
   EXCEPTION WHEN datatype_mismatch THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;
-- A NaN float is refused like a NaN string.
SELECT assign_tier('seeds', r) FROM (SELECT 'NaN'::float8 AS amount) r;
SELECT assign_tier('seeds', NULL::customer_metrics) IS NULL AS null_row;

-- The score method: points of the best band met, weighted; the best tier
-- whose min_score the score reaches, else lowest.
INSERT INTO policy (name, method, lowest) VALUES ('points', 'score', 'C');
INSERT INTO policy_tier (policy, tier, label, min_score) VALUES
    ('points', 'A', 'Key account', 80), ('points', 'B', 'Growth', 50), ('points', 'C', 'Standard', NULL);
INSERT INTO policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('points', 'amount', 3, true), ('points', 'days_to_pay', 1, false);
INSERT INTO policy_band (policy, metric, bound, points) VALUES
    ('points', 'amount', 1000000, 100), ('points', 'amount', 500000, 70), ('points', 'amount', 100000, 30),
    ('points', 'days_to_pay', 30, 100), ('points', 'days_to_pay', 60, 50), ('points', 'days_to_pay', 90, 10);
SELECT a AS amount, d AS days_to_pay,
       score('points', jsonb_build_object('amount', a, 'days_to_pay', d)) AS score,
       assign_tier('points', jsonb_build_object('amount', a, 'days_to_pay', d)) AS tier
FROM (VALUES (1000000, 30), (1000000, 31), (999999, 30), (500000, 30), (500000, 60), (500000, 91),
             (100000, 10), (99999, 10), (NULL, 10), (NULL, NULL)) v(a, d)
ORDER BY score DESC NULLS LAST, a;
-- (3 × 70 + 50) ÷ 4 = 65: B (min_score 50 ≤ 65 < 80).
SELECT score('points', '{"amount": 500000, "days_to_pay": 60}'::jsonb) = (3 * 70 + 50) / 4.0 AS equals_by_hand,
       assign_tier('points', '{"amount": 500000, "days_to_pay": 60}'::jsonb) AS tier;
-- Scores are exact: PostgreSQL's numeric division, trailing zeros trimmed.
SELECT score('points', '{"amount": 100000, "days_to_pay": 90}'::jsonb), (3 * 30 + 10) / 4.0 AS by_hand,
       score('points', '{"amount": 100000, "days_to_pay": 90}'::jsonb) = (3 * 30 + 10) / 4.0 AS equal;
SELECT jsonb_pretty(explain('points', '{"amount": 600000, "days_to_pay": 45}'::jsonb));
SELECT explain('points', m) FROM customer_metrics m WHERE customer = 'fjord';

-- Thresholds score with three grades: thirds, as numeric division gives them.
INSERT INTO policy (name, lowest) VALUES ('abc', 'C');
INSERT INTO policy_criterion (policy, metric) VALUES ('abc', 'amount');
INSERT INTO policy_threshold VALUES ('abc', 'amount', 'A', 100), ('abc', 'amount', 'B', 10), ('abc', 'amount', 'C', 1);
SELECT a, assign_tier('abc', jsonb_build_object('amount', a)), score('abc', jsonb_build_object('amount', a))
FROM (VALUES (100), (10), (1), (0)) v(a);
-- A tier with no thresholds is not a step of its own: only tiers that have
-- thresholds (and lowest) can be assigned.
DELETE FROM policy_threshold WHERE policy = 'abc' AND tier = 'B';
SELECT a, assign_tier('abc', jsonb_build_object('amount', a)) FROM (VALUES (100), (10), (1), (0)) v(a);
-- A policy with no criteria: everyone gets lowest, the score is NULL.
INSERT INTO policy (name) VALUES ('empty');
SELECT assign_tier('empty', '{"amount": 5}'::jsonb), score('empty', '{"amount": 5}'::jsonb) IS NULL AS no_score,
       explain('empty', '{}'::jsonb);

-- The next statement sees an edit; within one statement the policy is read once.
SELECT assign_tier('abc', '{"amount": 50}'::jsonb);
UPDATE policy_threshold SET bound = 50 WHERE policy = 'abc' AND tier = 'A';
SELECT assign_tier('abc', '{"amount": 50}'::jsonb);
-- Several policies in one statement, varying per row.
SELECT p, assign_tier(p, '{"amount": 600000, "days_to_pay": 45}'::jsonb)
FROM (VALUES ('seeds'), ('points'), ('abc'), ('seeds'), ('empty'), ('points')) v(p);
-- Edits earlier in the same transaction, and in the same PL/pgSQL function,
-- are seen (cached simple expressions included); so is a rolled-back edit.
BEGIN;
SELECT assign_tier('abc', '{"amount": 50}'::jsonb);
UPDATE policy_threshold SET bound = 60 WHERE policy = 'abc' AND tier = 'A';
SELECT assign_tier('abc', '{"amount": 50}'::jsonb);
ROLLBACK;
DO $$
DECLARE t custier.tier;
BEGIN
    t := custier.assign_tier('abc', '{"amount": 50}'::jsonb);
    RAISE NOTICE 'before: %', t;
    UPDATE custier.policy_threshold SET bound = 70 WHERE policy = 'abc' AND tier = 'A';
    t := custier.assign_tier('abc', '{"amount": 50}'::jsonb);
    RAISE NOTICE 'after the edit: %', t;
    BEGIN
        UPDATE custier.policy_threshold SET bound = 40 WHERE policy = 'abc' AND tier = 'A';
        t := custier.assign_tier('abc', '{"amount": 50}'::jsonb);
        RAISE NOTICE 'inside the block: %', t;
        RAISE EXCEPTION 'undo';
    EXCEPTION WHEN raise_exception THEN
        t := custier.assign_tier('abc', '{"amount": 50}'::jsonb);
        RAISE NOTICE 'after rolling the block back: %', t;
    END;
    UPDATE custier.policy_threshold SET bound = 50 WHERE policy = 'abc' AND tier = 'A';
END $$;
-- Errors caught per row elsewhere in the statement (a subtransaction rolled
-- back per row) do not make the policy be read again per row: it is read
-- once here, not 100 times.
CREATE FUNCTION pg_temp.zero_on_error(i int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN RETURN 1 / 0; EXCEPTION WHEN division_by_zero THEN RETURN 0; END $$;
BEGIN;
SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) AS reads_before
  FROM pg_stat_xact_user_tables WHERE relid = 'custier.policy'::regclass \gset
SELECT count(assign_tier('seeds', jsonb_build_object('amount', i))) AS graded, sum(pg_temp.zero_on_error(i)) AS caught
  FROM generate_series(1, 100) i;
SELECT sum(seq_scan + coalesce(idx_scan, 0)) - :reads_before AS policy_reads
  FROM pg_stat_xact_user_tables WHERE relid = 'custier.policy'::regclass;
ROLLBACK;

-- Under session_replication_role = replica (triggers off) an edit is still
-- seen by the next grading at the same call site.
SET session_replication_role = replica;
DO $$
DECLARE t custier.tier;
BEGIN
    FOR i IN 1..2 LOOP
        t := custier.assign_tier('abc', '{"amount": 50}'::jsonb);
        RAISE NOTICE 'replica role, round %: %', i, t;
        UPDATE custier.policy_threshold SET bound = 70 WHERE policy = 'abc' AND tier = 'A';
    END LOOP;
    UPDATE custier.policy_threshold SET bound = 50 WHERE policy = 'abc' AND tier = 'A';
END $$;
RESET session_replication_role;

-- A call site keeps one compiled policy per policy graded, however the name
-- varies: six policies over 600 rows are read six times, not per row …
SET max_parallel_workers_per_gather = 0;
INSERT INTO policy (name) SELECT 'many' || i FROM generate_series(1, 6) i;
INSERT INTO policy_criterion (policy, metric) SELECT 'many' || i, 'amount' FROM generate_series(1, 6) i;
INSERT INTO policy_threshold SELECT 'many' || i, 'amount', 'A', i * 10 FROM generate_series(1, 6) i;
WITH graded AS MATERIALIZED (
    SELECT string_agg(assign_tier('many' || (i % 6 + 1), jsonb_build_object('amount', 30))::text, '' ORDER BY i) AS tiers
    FROM generate_series(0, 599) i)
SELECT substr(tiers, 1, 12) AS first_tiers, length(tiers),
       (SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'custier compiled policy') AS compiled
FROM graded;
-- … and rows whose record type alternates cost no memory per row.
WITH graded AS MATERIALIZED (
    SELECT string_agg(assign_tier('seeds', r)::text, '' ORDER BY i) AS tiers
    FROM (SELECT i, CASE WHEN i % 2 = 0 THEN (SELECT x FROM (SELECT 30 AS days_to_pay, 12 AS purchases, 8 AS potential, 1e6 AS amount) x)
                         ELSE (SELECT x FROM (SELECT 200000 AS amount, 'n/a' AS note) x) END AS r
          FROM generate_series(1, 20000) i) s)
SELECT substr(tiers, 1, 6) AS first_tiers, length(tiers),
       (SELECT sum(total_bytes) FROM pg_backend_memory_contexts WHERE name = 'custier compiled policy') < 65536 AS small
FROM graded;
RESET max_parallel_workers_per_gather;

-- Renaming a policy carries its rows along.
UPDATE policy SET name = 'abc2' WHERE name = 'abc';
SELECT assign_tier('abc2', '{"amount": 50}'::jsonb);
SELECT assign_tier('abc', '{"amount": 50}'::jsonb);

DROP TABLE customer_metrics;
DROP DOMAIN money_amount;
DROP EXTENSION custier CASCADE;
