-- custier history (see doc/reference.md): managed tables, grade history, as-of queries,
-- the approval guard, and what tampering attempts run into.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'UTC';
-- fails(sql): the SQLSTATE and message of the error sql raises.
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE ROLE custier_test_history_clerk;
CREATE ROLE custier_test_history_other;
-- As a table owner would be granted (doc/security.md): manage() itself then
-- checks that the caller owns the table.
GRANT EXECUTE ON FUNCTION custier.manage(regclass, name, name, text, boolean), custier.unmanage(regclass)
    TO custier_test_history_clerk;

INSERT INTO custier.policy (name) VALUES ('retail'), ('wholesale'), ('spare');
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, grade tier);
INSERT INTO customer VALUES (1, 'Ann', 'B'), (2, 'Bob', 'C'), (3, 'Cy', NULL);
GRANT SELECT, INSERT, UPDATE, DELETE ON customer TO custier_test_history_clerk;

-- manage() refuses what it cannot manage; nothing is registered then.
CREATE VIEW customer_view AS SELECT * FROM customer;
CREATE TABLE wrong_type (id int PRIMARY KEY, grade text);
CREATE TABLE nullable_key (id int UNIQUE, grade tier);
CREATE TABLE no_unique (id int NOT NULL, grade tier);
CREATE TABLE partial_unique (id int NOT NULL, grade tier);
CREATE UNIQUE INDEX ON partial_unique (id) WHERE id > 0;
CREATE TABLE other_owner (id int PRIMARY KEY, grade tier);
ALTER TABLE other_owner OWNER TO custier_test_history_other;
SELECT pg_temp.fails($$SELECT custier.manage('customer_view', 'id', 'grade', 'retail')$$);
DROP VIEW customer_view;
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'nope', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'id', 'nope', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('wrong_type', 'id', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('nullable_key', 'id', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('no_unique', 'id', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('partial_unique', 'id', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'grade', 'grade', 'retail')$$);
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'id', 'grade', 'no such policy')$$);
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'id', 'grade', NULL)$$);
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'id', 'grade', 'retail')$$);
RESET ROLE;
SELECT count(*) AS registered FROM custier.managed_table;
SELECT count(*) AS history_rows FROM custier.tier_history;

-- Managing records the grades the table holds now.
SELECT custier.manage('customer', 'id', 'grade', 'retail');
SELECT tbl, key_column, tier_column, policy, require_approval, CASE WHEN managed_by = current_user THEN 'current_user' ELSE managed_by END AS managed_by FROM custier.managed_table;
SELECT customer_key, old_tier, new_tier, CASE WHEN changed_by = current_user THEN 'current_user' ELSE changed_by END AS changed_by, adjustment_id, reason
  FROM custier.tier_history ORDER BY history_id;
SELECT clock_timestamp() AS t0 \gset

-- Managed twice, or a policy serving a second table: refused.
SELECT pg_temp.fails($$SELECT custier.manage('customer', 'id', 'grade', 'spare')$$);
CREATE TABLE branch_customer (code text PRIMARY KEY, level tier);
SELECT pg_temp.fails($$SELECT custier.manage('branch_customer', 'code', 'level', 'retail')$$);

-- Grade changes are recorded, by the role that made them; everything else is not.
SET ROLE custier_test_history_clerk;
UPDATE customer SET grade = 'A' WHERE id = 1;
UPDATE customer SET name = upper(name);              -- no grade changed: nothing written
UPDATE customer SET grade = grade;                    -- no-op: nothing written
UPDATE customer SET grade = 'C' WHERE id = 3;         -- first grading
INSERT INTO customer VALUES (4, 'Dee', 'D'), (5, 'Eve', NULL);
RESET ROLE;
SELECT clock_timestamp() AS t1 \gset
SELECT customer_key, old_tier, new_tier, changed_by, adjustment_id, reason
  FROM custier.tier_history WHERE changed_at > :'t0' ORDER BY history_id;

-- Key changes keep a customer's history together; deletes are recorded.
UPDATE customer SET id = 10 WHERE id = 1;
DELETE FROM customer WHERE id = 2;
SELECT clock_timestamp() AS t2 \gset
UPDATE customer SET grade = 'B', id = 11 WHERE id = 10;
SELECT customer_key, old_tier, new_tier, reason
  FROM custier.tier_history WHERE changed_at > :'t1' ORDER BY history_id;
SELECT old_key, new_key, CASE WHEN changed_by = current_user THEN 'current_user' ELSE changed_by END AS changed_by FROM custier.customer_key_change ORDER BY changed_at;

-- As-of queries.
SELECT * FROM custier.tiers_at('customer', :'t0') ORDER BY customer_key;
SELECT * FROM custier.tiers_at('customer', :'t1') ORDER BY customer_key;
SELECT * FROM custier.tiers_at('customer', now() + interval '1 hour') ORDER BY customer_key;
SELECT custier.tier_at('customer', '11', :'t0') AS "11 at t0",   -- followed back to key 1
       custier.tier_at('customer', '11', :'t1') AS "11 at t1",
       custier.tier_at('customer', '11', :'t2') AS "11 at t2",
       custier.tier_at('customer', '11', 'infinity') AS "11 now",
       custier.tier_at('customer', '1', :'t1') AS "1 at t1",
       custier.tier_at('customer', '1', 'infinity') AS "1 now",
       custier.tier_at('customer', '2', :'t1') AS "2 at t1",
       custier.tier_at('customer', '2', 'infinity') AS "2 now",
       custier.tier_at('customer', '5', 'infinity') AS "5 never graded",
       custier.tier_at('customer', '1', '-infinity') AS "before everything";
-- tiers_at is one ordered pass over the history index (no sort, no per-customer query).
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT DISTINCT ON (h.customer_key) h.customer_key, h.new_tier
  FROM custier.tier_history h
 WHERE h.tbl = (SELECT 'customer'::regclass) AND h.changed_at <= now()
 ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC;
RESET enable_seqscan;

-- History is append-only for everyone, owner and superuser included.
SELECT count(*) AS before_tampering FROM custier.tier_history \gset
SELECT pg_temp.fails($$UPDATE custier.tier_history SET new_tier = 'A'$$);
SELECT pg_temp.fails($$DELETE FROM custier.tier_history$$);
SELECT pg_temp.fails($$TRUNCATE custier.tier_history$$);
SELECT pg_temp.fails($$UPDATE custier.customer_key_change SET new_key = 'x'$$);
SELECT pg_temp.fails($$DELETE FROM custier.customer_key_change$$);
SET session_replication_role = replica;
SELECT pg_temp.fails($$DELETE FROM custier.tier_history$$);
RESET session_replication_role;
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$INSERT INTO custier.tier_history (tbl, customer_key, new_tier, changed_at, changed_by) VALUES ('customer', '4', 'A', now(), 'someone')$$);
SELECT pg_temp.fails($$UPDATE custier.tier_history SET new_tier = 'A'$$);
SELECT pg_temp.fails($$DELETE FROM custier.tier_history$$);
SELECT pg_temp.fails($$TRUNCATE custier.tier_history$$);
SELECT pg_temp.fails($$INSERT INTO custier.managed_table VALUES ('other_owner', 'id', 'grade', 'spare', false, now(), 'x')$$);
SELECT pg_temp.fails($$DELETE FROM custier.managed_table$$);
-- The clerk may read the history of the tables it may read, and only those.
SELECT count(*) > 0 AS sees_customer_history FROM custier.tier_history WHERE tbl = 'customer'::regclass;
RESET ROLE;
SELECT count(*) = :before_tampering AS history_unchanged FROM custier.tier_history;

-- A managed table cannot be truncated, nor its recording switched off.
SELECT pg_temp.fails($$TRUNCATE customer$$);
SELECT pg_temp.fails($$ALTER TABLE customer DISABLE TRIGGER custier_history$$);
SELECT pg_temp.fails($$ALTER TABLE customer DISABLE TRIGGER ALL$$);
SELECT pg_temp.fails($$ALTER TABLE customer ENABLE REPLICA TRIGGER custier_history_flush$$);
SELECT pg_temp.fails($$ALTER TRIGGER custier_history ON customer RENAME TO x$$);
SELECT pg_temp.fails($$DROP TRIGGER custier_history_insert_delete ON customer$$);
SELECT pg_temp.fails($$ALTER TABLE customer RENAME COLUMN grade TO level$$);
SELECT pg_temp.fails($$ALTER TABLE customer RENAME COLUMN id TO customer_id$$);
SELECT pg_temp.fails($$ALTER TABLE customer ALTER COLUMN id DROP NOT NULL$$);
SELECT pg_temp.fails($$ALTER TABLE customer DROP COLUMN grade CASCADE$$);
-- Child tables would show rows in customer that never pass its triggers.
SELECT pg_temp.fails($$CREATE TABLE customer_child () INHERITS (customer)$$);
CREATE TABLE customer_parent (id int, name text, grade tier) PARTITION BY RANGE (id);
SELECT pg_temp.fails($$ALTER TABLE customer_parent ATTACH PARTITION customer FOR VALUES FROM (0) TO (1000000)$$);
SELECT pg_temp.fails($$SELECT custier.manage('customer_parent', 'id', 'grade', 'spare')$$);
DROP TABLE customer_parent;
ALTER TABLE customer RENAME COLUMN name TO full_name;   -- other columns are the owner's business
SELECT count(*) AS customers FROM customer;

-- require_approval: the guard.  Grade changes need an approved adjustment;
-- no setting a user can make opens that door.
SELECT pg_temp.fails($$SELECT custier.unmanage('branch_customer')$$);
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$SELECT custier.unmanage('customer')$$);
RESET ROLE;
SELECT custier.unmanage('customer');
SELECT count(*) AS registered, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customer'::regclass) AS triggers
  FROM custier.managed_table;
UPDATE customer SET grade = 'A' WHERE id = 4;        -- unmanaged: not recorded
SELECT custier.manage('customer', 'id', 'grade', 'retail', require_approval => true);
-- Re-managing picked the unrecorded change up:
SELECT customer_key, old_tier, new_tier, reason FROM custier.tier_history ORDER BY history_id DESC LIMIT 1;
SELECT count(*) AS history_before_guard FROM custier.tier_history \gset
SELECT pg_temp.fails($$UPDATE customer SET grade = 'B' WHERE id = 4$$);
SET custier.adjustment_id = '1';
SET custier.authorized = 'on';
SET custier.reason = 'forged';
SET application_name = 'custier';
SELECT pg_temp.fails($$UPDATE customer SET grade = 'B' WHERE id = 4$$);
RESET custier.adjustment_id; RESET custier.authorized; RESET custier.reason; RESET application_name;
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$UPDATE customer SET grade = 'B' WHERE id = 4$$);
-- A BEFORE trigger cannot sneak a grade change past the guard either.
RESET ROLE;
CREATE FUNCTION sneak() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.grade := 'A'; RETURN NEW; END $$;
CREATE TRIGGER zz_sneak BEFORE UPDATE ON customer FOR EACH ROW WHEN (NEW.id = 3) EXECUTE FUNCTION sneak();
SELECT pg_temp.fails($$UPDATE customer SET full_name = 'Cyrus' WHERE id = 3$$);
DROP TRIGGER zz_sneak ON customer;
\set VERBOSITY default
UPDATE customer SET grade = 'B' WHERE id = 4;
\set VERBOSITY terse
-- New customers, key changes, other columns and deletes stay allowed (and recorded).
SET ROLE custier_test_history_clerk;
INSERT INTO customer VALUES (6, 'Fay', 'C');
UPDATE customer SET id = 7, full_name = 'Fay Fox' WHERE id = 6;
DELETE FROM customer WHERE id = 4;
RESET ROLE;
SELECT customer_key, old_tier, new_tier, changed_by, adjustment_id, reason
  FROM custier.tier_history WHERE history_id > :history_before_guard ORDER BY history_id;
SELECT id, full_name, grade FROM customer ORDER BY id;

-- Nor can a customer be deleted and inserted again with another grade, or
-- another row be moved onto its key: a key comes back at its recorded grade
-- (or none), whatever statement brings it.  (4 was deleted at A, 6 renamed
-- to 7 at C, 3 is C.)
SELECT max(history_id) AS history_before_comeback FROM custier.tier_history \gset
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$INSERT INTO customer VALUES (4, 'Dee', 'B')$$);
COPY customer FROM stdin;
4	Dee	B
\.
SELECT pg_temp.fails($$WITH d AS (DELETE FROM customer WHERE id = 3 RETURNING *)
                       INSERT INTO customer SELECT id, full_name, 'A' FROM d$$);
SELECT pg_temp.fails($$INSERT INTO customer VALUES (3, 'CY', 'A') ON CONFLICT (id) DO UPDATE SET grade = EXCLUDED.grade$$);
SELECT pg_temp.fails($$MERGE INTO customer c USING (VALUES (3, 'A'::tier)) v (id, grade) ON c.id = v.id
                       WHEN MATCHED THEN UPDATE SET grade = v.grade$$);
SELECT pg_temp.fails($$MERGE INTO customer c USING (VALUES (4, 'B'::tier)) v (id, grade) ON c.id = v.id
                       WHEN NOT MATCHED THEN INSERT VALUES (v.id, 'Dee', v.grade)$$);
SELECT pg_temp.fails($$UPDATE customer SET id = 4 WHERE id = 7$$);
\set VERBOSITY default
INSERT INTO customer VALUES (4, 'Dee', 'B');
UPDATE customer SET id = 4 WHERE id = 3;
\set VERBOSITY terse
RESET ROLE;
-- Through a view with an INSTEAD OF trigger, the change still hits the guard.
CREATE VIEW customer_grades AS SELECT id, grade FROM customer;
CREATE FUNCTION customer_grades_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE customer SET grade = NEW.grade WHERE id = OLD.id; RETURN NEW; END $$;
CREATE TRIGGER instead INSTEAD OF UPDATE ON customer_grades FOR EACH ROW EXECUTE FUNCTION customer_grades_update();
GRANT SELECT, UPDATE ON customer_grades TO custier_test_history_clerk;
SET ROLE custier_test_history_clerk;
SELECT pg_temp.fails($$UPDATE customer_grades SET grade = 'A' WHERE id = 3$$);
-- Back at the recorded grade, or ungraded, or renamed back: allowed.
INSERT INTO customer VALUES (4, 'Dee', 'A'), (2, 'Bob', NULL);
UPDATE customer SET id = 6 WHERE id = 7;
RESET ROLE;
DROP VIEW customer_grades;
DROP FUNCTION customer_grades_update();
SELECT customer_key, old_tier, new_tier, changed_by, reason
  FROM custier.tier_history WHERE history_id > :history_before_comeback ORDER BY history_id;
SELECT id, full_name, grade FROM customer ORDER BY id;

-- Changes made in a rolled-back (sub)transaction leave no history.
SELECT count(*) AS history_before_rollback FROM custier.tier_history \gset
BEGIN;
INSERT INTO customer VALUES (8, 'Gus', 'A');
SAVEPOINT s;
INSERT INTO customer VALUES (9, 'Hal', 'B');
ROLLBACK TO SAVEPOINT s;
INSERT INTO customer VALUES (12, 'Ida', 'C');
COMMIT;
BEGIN;
DELETE FROM customer WHERE id = 8;
ROLLBACK;
SELECT customer_key, old_tier, new_tier FROM custier.tier_history
 WHERE history_id > :history_before_rollback ORDER BY history_id;

-- A changed grade and a changed key in one statement, over many rows.
SELECT custier.unmanage('customer');
SELECT custier.manage('customer', 'id', 'grade', 'retail');
SELECT count(*) AS history_before_bulk FROM custier.tier_history \gset
INSERT INTO customer SELECT i, 'bulk', 'D' FROM generate_series(100, 1099) i;
UPDATE customer SET grade = 'C' WHERE id >= 100 AND id % 2 = 0;
SELECT count(*) FILTER (WHERE old_tier IS NULL) AS first_gradings,
       count(*) FILTER (WHERE old_tier = 'D' AND new_tier = 'C') AS upgrades
  FROM custier.tier_history WHERE history_id > :history_before_bulk;
SELECT count(*) AS graded_now FROM custier.tiers_at('customer', 'infinity');

-- A trigger whose subtransaction rolls back after a nested statement on a
-- managed table: the outer statement's changes are still recorded (they are
-- written by the subtransaction that made them, not by the nested one).
CREATE FUNCTION nested_rollback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        UPDATE customer SET grade = grade WHERE false;
        RAISE EXCEPTION 'rolled back';
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_nested_rollback AFTER UPDATE ON customer FOR EACH ROW WHEN (NEW.id = 100) EXECUTE FUNCTION nested_rollback();
SELECT max(history_id) AS history_before_nested FROM custier.tier_history \gset
UPDATE customer SET grade = 'B' WHERE id IN (100, 101);
DROP TRIGGER zz_nested_rollback ON customer;
DROP FUNCTION nested_rollback();
SELECT customer_key, old_tier, new_tier FROM custier.tier_history
 WHERE history_id > :history_before_nested ORDER BY customer_key;

-- Dropping a managed table keeps its history and forgets the registration.
SELECT count(*) AS history_before_drop FROM custier.tier_history \gset
DROP TABLE customer;
SELECT count(*) AS registered FROM custier.managed_table;
SELECT count(*) = :history_before_drop AS history_kept FROM custier.tier_history;

-- Odd key types: uuid, text with quotes and blanks, a composite.
INSERT INTO custier.policy (name) VALUES ('by uuid'), ('by text'), ('by pair');
CREATE TABLE by_uuid (id uuid PRIMARY KEY, grade tier);
CREATE TABLE by_text (code text PRIMARY KEY, grade tier);
CREATE TYPE pair AS (region text, n int);
CREATE TABLE by_pair (id pair PRIMARY KEY, grade tier);
SELECT custier.manage('by_uuid', 'id', 'grade', 'by uuid', true),
       custier.manage('by_text', 'code', 'grade', 'by text', true),
       custier.manage('by_pair', 'id', 'grade', 'by pair', true);
INSERT INTO by_uuid VALUES ('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'B');
INSERT INTO by_text VALUES ($$O'Brien "the" 'Shop' $$, 'C');
INSERT INTO by_pair VALUES (ROW('north, "x"', 1), 'D');
UPDATE by_uuid SET id = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';
UPDATE by_text SET code = code || '!';
UPDATE by_pair SET id = ROW('south', 2);
DELETE FROM by_text;
SELECT pg_temp.fails($$INSERT INTO by_text VALUES ('O''Brien "the" ''Shop'' !', 'A')$$);
SELECT pg_temp.fails($$UPDATE by_pair SET grade = 'A'$$);
SELECT tbl, customer_key, old_tier, new_tier, reason FROM custier.tier_history
 WHERE tbl IN ('by_uuid'::regclass, 'by_text'::regclass, 'by_pair'::regclass) ORDER BY history_id;
SELECT custier.tier_at('by_uuid', '6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'infinity') AS uuid_now,
       custier.tier_at('by_pair', '(south,2)', 'infinity') AS pair_now,
       custier.tier_at('by_text', $$O'Brien "the" 'Shop' $$, 'infinity') AS text_deleted;
DROP TABLE by_uuid, by_text, by_pair;
DROP TYPE pair;

DROP TABLE wrong_type, nullable_key, no_unique, partial_unique, other_owner, branch_customer;
DROP FUNCTION sneak();
DROP OWNED BY custier_test_history_clerk;
DROP ROLE custier_test_history_clerk;
DROP ROLE custier_test_history_other;
DROP EXTENSION custier;
