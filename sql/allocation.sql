-- custier allocation: account owners, set_allocation, allocate, owner
-- history and owner_at; bad input is refused with its SQLSTATE and changes
-- nothing; run_evaluation allocates after its last batch.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'UTC';
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE ROLE custier_test_alloc_eu_bank;
CREATE ROLE custier_test_alloc_eu;
CREATE ROLE custier_test_alloc_bank;
CREATE ROLE custier_test_alloc_any1;
CREATE ROLE custier_test_alloc_any2;

INSERT INTO custier.policy (name, lowest) VALUES ('accounts', 'D');
CREATE TABLE client (id int PRIMARY KEY, grade tier, region text, industry text, am name, note int);
INSERT INTO client VALUES
    (1, 'A', 'EU', 'bank', NULL, 0), (2, 'A', 'EU', 'retail', NULL, 0), (3, 'B', 'US', 'bank', NULL, 0),
    (4, 'B', 'US', 'tech', NULL, 0), (5, 'C', 'EU', 'bank', NULL, 0), (6, 'D', NULL, NULL, NULL, 0),
    (7, 'C', 'EU', 'tech', NULL, 0), (8, NULL, 'US', 'retail', NULL, 0);

-- Bad input: each refusal names the problem and changes nothing.
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'am')$$);
SELECT custier.manage('client', 'id', 'grade', 'accounts');
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'nope')$$);
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'note')$$);
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'am', 'regio')$$);
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'am', 'region', 'industri')$$);
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', 'grade')$$);
SELECT pg_temp.fails($$SELECT custier.set_allocation('client', NULL)$$);
SELECT pg_temp.fails($$SELECT * FROM custier.allocate('client')$$);
SELECT count(*) AS allocations, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'client'::regclass AND tgname LIKE 'custier_owner%') AS owner_triggers
  FROM custier.allocation;
SELECT pg_temp.fails($$INSERT INTO custier.account_owner (policy, owner) VALUES ('accounts', 'custier_test_alloc_nobody')$$);
SELECT pg_temp.fails($$INSERT INTO custier.account_owner (policy, owner, capacity) VALUES ('accounts', 'custier_test_alloc_eu', -1)$$);
SELECT pg_temp.fails($$INSERT INTO custier.account_owner (policy, owner) VALUES ('no such policy', 'custier_test_alloc_eu')$$);
SELECT count(*) AS account_owners FROM custier.account_owner;

SELECT custier.set_allocation('client', 'am', 'region', 'industry');
INSERT INTO custier.account_owner (policy, owner, region, industry, tiers, capacity) VALUES
    ('accounts', 'custier_test_alloc_eu_bank', 'EU', 'bank', '{A,B}', 1),
    ('accounts', 'custier_test_alloc_eu', 'EU', NULL, NULL, NULL),
    ('accounts', 'custier_test_alloc_bank', NULL, 'bank', NULL, NULL),
    ('accounts', 'custier_test_alloc_any1', NULL, NULL, '{A,B,C}', NULL),
    ('accounts', 'custier_test_alloc_any2', NULL, NULL, '{A,B,C}', NULL);

-- The most specific owner with room wins; a full one sends its customers
-- to the next most specific; equally specific owners share by load.
SELECT * FROM custier.allocate('client') ORDER BY customer_key;
SELECT id, grade, region, industry, am FROM client ORDER BY id;
-- Nothing to do the second time.
SELECT * FROM custier.allocate('client');

-- Grades and owners change: only customers without an eligible owner move.
UPDATE client SET grade = 'D' WHERE id = 4;
UPDATE custier.account_owner SET active = false WHERE owner = 'custier_test_alloc_eu';
UPDATE client SET am = 'custier_test_alloc_any1' WHERE id = 3;
SELECT * FROM custier.allocate('client') ORDER BY customer_key;
-- A new owner, and rebalance: customer 3, set by hand to a generic owner,
-- goes to the more specific one with room; the generic loads differ by <= 1.
CREATE ROLE custier_test_alloc_any3;
INSERT INTO custier.account_owner (policy, owner, tiers) VALUES ('accounts', 'custier_test_alloc_any3', '{A,B,C}');
SELECT * FROM custier.allocate('client', true) ORDER BY customer_key;
SELECT am, count(*) FROM client GROUP BY am ORDER BY am;

-- Every change is recorded once: by allocate as its caller, by hand as the role.
SELECT customer_key, old_owner, new_owner, changed_by = current_user AS by_caller, reason
  FROM custier.owner_history WHERE tbl = 'client'::regclass ORDER BY history_id;
SELECT pg_temp.fails($$UPDATE custier.owner_history SET reason = 'x'$$);

-- owner_at, across a key change.
CREATE TEMP TABLE mark AS SELECT clock_timestamp() AS before_rename;
UPDATE client SET id = 10 WHERE id = 1;
UPDATE client SET am = 'custier_test_alloc_any2' WHERE id = 10;
SELECT custier.owner_at('client', '10', (SELECT before_rename FROM mark)) AS before_rename,
       custier.owner_at('client', '10', 'infinity') AS now,
       custier.owner_at('client', '1', 'infinity') AS old_key_now,
       custier.owner_at('client', '10', '-infinity') AS at_the_beginning;

-- DDL that would stop the recording is refused while the table has an allocation.
SELECT pg_temp.fails($$ALTER TABLE client DROP COLUMN region$$);
SELECT pg_temp.fails($$ALTER TABLE client RENAME COLUMN am TO account_manager$$);
SELECT pg_temp.fails($$ALTER TABLE client DISABLE TRIGGER custier_owner_history$$);
SELECT pg_temp.fails($$DROP TRIGGER custier_owner_history_flush ON client$$);

-- run_evaluation allocates after its last batch: a customer whose grade
-- leaves its owner's tiers gets an eligible one in the same cycle.
CREATE TABLE client_metrics (id int PRIMARY KEY, spend numeric);
INSERT INTO client_metrics SELECT id, 0 FROM client;
UPDATE custier.policy SET metrics_source = 'client_metrics', key_column = 'id' WHERE name = 'accounts';
UPDATE client SET am = 'custier_test_alloc_any1' WHERE id = 2;
\set VERBOSITY terse
CALL custier.run_evaluation('accounts', '2026-01-01', 3);
SELECT id, grade, am FROM client ORDER BY id;

-- unmanage removes the owner triggers too; the history stays.
SELECT custier.unmanage('client');
SELECT count(*) AS owner_triggers FROM pg_trigger WHERE tgrelid = 'client'::regclass;
SELECT count(*) AS allocations FROM custier.allocation;
SELECT count(*) > 0 AS history_kept FROM custier.owner_history WHERE tbl = 'client'::regclass;

DROP TABLE client, client_metrics;
DELETE FROM custier.account_owner;
DROP ROLE custier_test_alloc_eu_bank, custier_test_alloc_eu, custier_test_alloc_bank,
          custier_test_alloc_any1, custier_test_alloc_any2, custier_test_alloc_any3;
