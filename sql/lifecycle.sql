-- Lifecycle: uninstall and dropped tables.  (Dump/restore and the update
-- from 0.1.0 are tested by test/lifecycle/*.sh, which need pg_dump.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse

INSERT INTO policy (name) VALUES ('life'), ('life2');
CREATE TABLE life_customer (id int PRIMARY KEY, grade tier);
INSERT INTO life_customer VALUES (1, 'B'), (2, 'C');
SELECT manage('life_customer', 'id', 'grade', 'life');
CREATE VIEW life_best AS SELECT id FROM life_customer WHERE grade >= 'B';

-- 1. No uninstall while a table is managed, with or without CASCADE.
\set VERBOSITY default
DROP EXTENSION custier;
DROP EXTENSION custier CASCADE;
DROP SCHEMA custier CASCADE;
\set VERBOSITY terse
SELECT unmanage('life_customer');
-- Unmanaged, CASCADE would still drop the users' grade column and view.
\set VERBOSITY default
DROP EXTENSION custier CASCADE;
\set VERBOSITY terse
-- Without CASCADE, PostgreSQL itself says what depends on it.
DROP EXTENSION custier;
-- Once the users' objects no longer need it, it drops cleanly ...
DROP VIEW life_best;
ALTER TABLE life_customer ALTER COLUMN grade TYPE char(1) USING grade::text;
DROP EXTENSION custier;
-- ... and leaves their tables and columns alone.
SELECT * FROM life_customer ORDER BY id;
SELECT count(*) AS custier_objects FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'custier';

-- 2. A dropped table's history stays, by name; a new table never takes it.
CREATE EXTENSION custier;
INSERT INTO policy (name, approval) VALUES ('gone', 'all');
INSERT INTO policy_reviewer VALUES ('gone', 'sales');
CREATE TABLE gone_customer (code text PRIMARY KEY, grade tier);
INSERT INTO gone_customer VALUES ('a', 'B'), ('b', 'C');
SELECT manage('gone_customer', 'code', 'grade', 'gone', require_approval => true);
UPDATE gone_customer SET code = 'a2' WHERE code = 'a';
SELECT propose('gone_customer', 'b', 'A', 'open when the table goes') > 0 AS proposed;
SELECT 'gone_customer'::regclass::oid AS gone_oid \gset
DROP TABLE gone_customer;
SELECT tbl, dropped_table, customer_key, old_tier, new_tier, reason FROM tier_history ORDER BY history_id;
SELECT tbl, dropped_table, old_key, new_key FROM customer_key_change;
-- Its open adjustment was closed when the table went.
SELECT tbl, dropped_table, customer_key, status, decision_note FROM adjustment;
SELECT event FROM adjustment_event ORDER BY event_id;
SELECT count(*) AS registrations FROM managed_table;
-- Nothing refers to the old OID any more, whatever gets it next.
SELECT count(*) AS rows_with_old_oid
  FROM (SELECT tbl FROM tier_history UNION ALL SELECT tbl FROM customer_key_change
        UNION ALL SELECT tbl FROM adjustment UNION ALL SELECT tbl FROM evaluation) r
 WHERE r.tbl::oid = :gone_oid;
CREATE TABLE gone_customer (code text PRIMARY KEY, grade tier);
INSERT INTO gone_customer VALUES ('a2', 'D');
SELECT manage('gone_customer', 'code', 'grade', 'gone');
SELECT tier_at('gone_customer', 'a2', 'infinity'), tier_at('gone_customer', 'b', 'infinity');
SELECT count(*) AS new_table_history FROM tier_history WHERE tbl = 'gone_customer'::regclass;
-- Re-pointing is custier's alone: for a table that exists it refuses, and
-- the history stays append-only.
SELECT _forget_table('gone_customer'::regclass, 'x');
UPDATE tier_history SET dropped_table = 'x';

-- 3. Outside a restore, COPY into custier's tables is a direct write like
-- any other (test/lifecycle/dump-restore.sh tries the rest).
SELECT _restoring() AS restoring;
COPY adjustment (tbl, customer_key, to_tier, reason, status, proposed_by, proposed_at) FROM stdin;
gone_customer	a2	A	forged	applied	someone	2026-01-01
\.
SELECT count(*) AS applied FROM adjustment WHERE status = 'applied';

SELECT unmanage('gone_customer');
DROP TABLE gone_customer, life_customer;
