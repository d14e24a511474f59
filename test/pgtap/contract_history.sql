-- pgTAP acceptance: managed tables and grade history, checked black-box
-- against the documented contract (doc/reference.md).
-- Every description says the documented behaviour it checks.
\ir contract_setup.inc

SELECT plan(68);

-- hist(tbl): the history of one table as "key:old>new" in order, NULL shown as '-'.
CREATE FUNCTION pg_temp.hist(t regclass) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(customer_key || ':' || coalesce(old_tier::text, '-') || '>' || coalesce(new_tier::text, '-'), ' ' ORDER BY history_id)
    FROM custier.tier_history WHERE tbl = t $$;
-- mark(): a clock reading strictly between two statements' changes.
CREATE FUNCTION pg_temp.mark() RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE t timestamptz;
BEGIN
    PERFORM pg_sleep(0.002); t := clock_timestamp(); PERFORM pg_sleep(0.002);
    RETURN t;
END $$;
CREATE TEMP TABLE marks (name text PRIMARY KEY, at timestamptz);

CREATE ROLE custier_test_contract_clerk;
CREATE ROLE custier_test_contract_owner;
GRANT USAGE ON SCHEMA custier TO custier_test_contract_clerk, custier_test_contract_owner;

-- Signatures and the history table
SELECT is(pg_temp.sig('manage'), 'tbl regclass, key_column name, tier_column name, policy text, require_approval boolean DEFAULT false -> void',
          '"custier.manage(tbl regclass, key_column name, tier_column name, policy text, require_approval boolean DEFAULT false) → void"');
SELECT is(pg_temp.sig('unmanage'), 'tbl regclass -> void', '"custier.unmanage(tbl regclass) → void"');
SELECT is(pg_temp.sig('tier_at'), 'tbl regclass, customer_key text, at timestamp with time zone -> tier',
          '"custier.tier_at(tbl regclass, customer_key text, at timestamptz) → tier"');
SELECT is(pg_temp.sig('tiers_at'), 'tbl regclass, at timestamp with time zone -> TABLE(customer_key text, tier tier)',
          '"custier.tiers_at(tbl regclass, at timestamptz) → TABLE(customer_key text, tier tier)"');
SELECT has_table('custier', 'tier_history', 'custier.tier_history exists');
SELECT is(pg_temp.cols('tier_history', '{history_id,tbl,customer_key,old_tier,new_tier,changed_at,changed_by,adjustment_id,reason}'),
          'history_id bigint, tbl regclass, customer_key text, old_tier tier, new_tier tier, changed_at timestamp with time zone, changed_by name, adjustment_id bigint, reason text',
          'tier_history columns history_id bigint, tbl regclass, customer_key text, old_tier tier, new_tier tier, changed_at timestamptz, changed_by name, adjustment_id bigint, reason text');

INSERT INTO custier.policy (name) VALUES ('contract_hist'), ('contract_hist2'), ('contract_hist3'), ('contract_guarded');

-- manage refusals, each leaving the table unmanaged
CREATE TABLE contract_bad_type (id int PRIMARY KEY, grade text);
CREATE TABLE contract_bad_key (id int NOT NULL, grade custier.tier);
CREATE TABLE contract_null_key (id int UNIQUE, grade custier.tier);
SELECT is(pg_temp.err($$SELECT custier.manage('contract_bad_type', 'id', 'grade', 'contract_hist')$$)->>'state', '42804',
          'manage: "the tier column must be of type custier.tier" (text refused)');
SELECT is(pg_temp.err($$SELECT custier.manage('contract_bad_key', 'id', 'grade', 'contract_hist')$$)->>'state', '42P10',
          'manage: "the key column unique and not null" (no unique index refused)');
SELECT is(pg_temp.err($$SELECT custier.manage('contract_null_key', 'id', 'grade', 'contract_hist')$$)->>'state', '42P10',
          'manage: "the key column unique and not null" (nullable key refused)');
SELECT is(pg_temp.err($$SELECT custier.manage('contract_bad_type', 'id', 'grade', 'contract_hist')$$)->>'state', '42804',
          'manage (README: 42804): a tier column of the wrong type');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid IN ('contract_bad_type'::regclass, 'contract_bad_key'::regclass, 'contract_null_key'::regclass)), 0,
          'a refused manage installs no trigger');
SELECT is((SELECT count(*)::int FROM custier.tier_history WHERE tbl IN ('contract_bad_type'::regclass, 'contract_bad_key'::regclass, 'contract_null_key'::regclass)), 0,
          'a refused manage writes no history');
CREATE TABLE contract_ok_key (id int PRIMARY KEY, grade custier.tier);
SELECT is(pg_temp.err($$SELECT custier.manage('contract_ok_key', 'id', 'grade', 'contract_nope')$$)->>'state', '42704',
          'manage with an unknown policy raises 42704');

-- A managed table
CREATE TABLE contract_cust (id int PRIMARY KEY, name text, grade custier.tier, grade2 custier.tier);
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_cust TO custier_test_contract_clerk;
INSERT INTO contract_cust VALUES (1, 'pre-existing', 'C', NULL);
INSERT INTO marks VALUES ('before_manage', pg_temp.mark());
SELECT lives_ok($$SELECT custier.manage('contract_cust', 'id', 'grade', 'contract_hist')$$, 'manage(tbl, key, tier column, policy) with require_approval defaulting to false');
INSERT INTO marks VALUES ('managed', pg_temp.mark());
SELECT ok((SELECT bool_or(l.lanname = 'c') FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
           WHERE t.tgrelid = 'contract_cust'::regclass AND NOT t.tgisinternal),
          'tier_history is "written by a trigger function in C" (manage installed a C trigger)');
SELECT is(custier.tier_at('contract_cust', '1', (SELECT at FROM marks WHERE name = 'managed'))::text, 'C',
          'tier_at: "the customer''s grade as it stood at at" — a grade held when the table was managed');
SELECT is(pg_temp.err($$SELECT custier.manage('contract_cust', 'id', 'grade2', 'contract_hist2')$$)->>'state', '42710',
          'manage: "one managed tier column per table" (a second tier column refused)');
CREATE TABLE contract_cust_b (id int PRIMARY KEY, grade custier.tier);
SELECT is(pg_temp.err($$SELECT custier.manage('contract_cust_b', 'id', 'grade', 'contract_hist')$$)->>'state', '42710',
          '"a policy serves at most one managed table" (a second table for the same policy refused)');
SELECT is((SELECT count(*)::int FROM pg_trigger WHERE tgrelid = 'contract_cust_b'::regclass), 0, 'that refused manage installs no trigger');

-- history rows: insert, update, no-op update, delete
DELETE FROM contract_cust WHERE id = 1;
CREATE TEMP TABLE h0 AS SELECT coalesce(max(history_id), 0) AS id FROM custier.tier_history;
SET ROLE custier_test_contract_clerk;
INSERT INTO contract_cust VALUES (2, 'two', 'B');
RESET ROLE;
INSERT INTO marks VALUES ('t1', pg_temp.mark());
SELECT is((SELECT format('%s|%s|%s|%s', customer_key, coalesce(old_tier::text, 'NULL'), new_tier, changed_by)
           FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass AND history_id > (SELECT id FROM h0)),
          '2|NULL|B|custier_test_contract_clerk',
          'tier_history: an INSERT is a first grading: "old_tier tier (NULL on first grading)", changed_by the role');
SELECT is((SELECT adjustment_id FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass AND history_id > (SELECT id FROM h0)), NULL,
          'tier_history: "adjustment_id bigint (NULL for a change that did not come through an adjustment)"');
SELECT ok((SELECT changed_at BETWEEN (SELECT at FROM marks WHERE name = 'managed') AND (SELECT at FROM marks WHERE name = 't1')
           FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass AND history_id > (SELECT id FROM h0)),
          'tier_history: changed_at is when the change was made');
SET ROLE custier_test_contract_clerk;
UPDATE contract_cust SET grade = 'A' WHERE id = 2;
RESET ROLE;
INSERT INTO marks VALUES ('t2', pg_temp.mark());
SELECT is(pg_temp.hist('contract_cust'), '1:->C 1:C>- 2:->B 2:B>A',
          '"one row per grade change" (manage recorded 1:C, delete 1, insert 2, update 2 B→A)');
UPDATE contract_cust SET grade = 'A', name = 'renamed' WHERE id = 2;
UPDATE contract_cust SET name = 'renamed again' WHERE id = 2;
SELECT is(pg_temp.hist('contract_cust'), '1:->C 1:C>- 2:->B 2:B>A', '"An UPDATE that leaves the grade as it was writes nothing"');
INSERT INTO contract_cust VALUES (3, 'three', NULL);
SELECT is(pg_temp.hist('contract_cust'), '1:->C 1:C>- 2:->B 2:B>A', 'a customer inserted without a grade has no grade change to record');
UPDATE contract_cust SET grade = 'D' WHERE id = 3;
INSERT INTO marks VALUES ('t3', pg_temp.mark());
SELECT is(pg_temp.hist('contract_cust'), '1:->C 1:C>- 2:->B 2:B>A 3:->D', 'first grading by UPDATE: old_tier NULL');
SET ROLE custier_test_contract_clerk;
DELETE FROM contract_cust WHERE id = 3;
RESET ROLE;
INSERT INTO marks VALUES ('t4', pg_temp.mark());
SELECT is(pg_temp.hist('contract_cust'), '1:->C 1:C>- 2:->B 2:B>A 3:->D 3:D>-', '"new_tier tier (NULL when the row is deleted)"');

-- key change keeps the history together
UPDATE contract_cust SET id = 22 WHERE id = 2;
INSERT INTO marks VALUES ('t5', pg_temp.mark());
SELECT ok((SELECT count(*) FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass AND customer_key = '22') > 0,
          '"Changing the key of a customer keeps its history together (record it …)" — history names the new key');
SELECT is(custier.tier_at('contract_cust', '22', (SELECT at FROM marks WHERE name = 't5'))::text, 'A', 'tier_at finds the customer under its new key');
SELECT is(custier.tier_at('contract_cust', '22', (SELECT at FROM marks WHERE name = 't1'))::text, 'B',
          '"do not orphan it" — the new key''s grade before the key change (B at t1) is still found');
SELECT is((SELECT string_agg(coalesce(old_tier::text, '-') || '>' || new_tier::text, ' ' ORDER BY history_id)
           FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass AND customer_key = '2' AND new_tier IS NOT NULL), '->B B>A',
          'the old key''s rows are kept');
SELECT is(custier.tier_at('contract_cust', '2', (SELECT at FROM marks WHERE name = 't1'))::text, 'B', 'tier_at under the old key, before the change');

-- tier_at / tiers_at
SELECT is(custier.tier_at('contract_cust', '2', (SELECT at FROM marks WHERE name = 'before_manage')), NULL,
          'tier_at: "NULL before the customer had one"');
SELECT is(custier.tier_at('contract_cust', '2', (SELECT at FROM marks WHERE name = 't2'))::text, 'A', 'tier_at: grade after the update');
SELECT is(custier.tier_at('contract_cust', '3', (SELECT at FROM marks WHERE name = 't3'))::text, 'D', 'tier_at: customer 3 at t3');
SELECT is(custier.tier_at('contract_cust', '1', (SELECT at FROM marks WHERE name = 't1')), NULL, 'tier_at: a deleted customer has no grade (README)');
SELECT is(custier.tier_at('contract_cust', '999', now()), NULL, 'tier_at: an unknown customer has no grade');
SELECT is((SELECT string_agg(customer_key || '=' || tier::text, ',' ORDER BY customer_key) FROM custier.tiers_at('contract_cust', (SELECT at FROM marks WHERE name = 't1'))),
          '2=B', 'tiers_at: "everyone''s grade at at" (t1)');
SELECT is((SELECT string_agg(customer_key || '=' || tier::text, ',' ORDER BY customer_key) FROM custier.tiers_at('contract_cust', (SELECT at FROM marks WHERE name = 't3'))),
          '2=A,3=D', 'tiers_at: everyone''s grade at t3');
SELECT is((SELECT string_agg(customer_key || '=' || tier::text, ',' ORDER BY customer_key) FROM custier.tiers_at('contract_cust', (SELECT at FROM marks WHERE name = 'managed'))),
          '1=C', 'tiers_at: the grades at manage time');
SELECT is((SELECT count(*)::int FROM custier.tiers_at('contract_cust', (SELECT at FROM marks WHERE name = 'before_manage'))), 0,
          'tiers_at: nobody before anyone had a grade');

-- append-only, owner (here: superuser) included
CREATE TEMP TABLE hcount AS SELECT count(*) AS n, md5(string_agg(h::text, ';' ORDER BY history_id)) AS s FROM custier.tier_history h;
SELECT is(pg_temp.err($$UPDATE custier.tier_history SET reason = 'forged'$$)->>'state', '42501', '"append-only: UPDATE … on it fail for every role, owner included"');
SELECT is(pg_temp.err($$DELETE FROM custier.tier_history$$)->>'state', '42501', 'append-only: DELETE fails for the owner');
SELECT is(pg_temp.err($$TRUNCATE custier.tier_history$$)->>'state', '42501', 'append-only: TRUNCATE fails for the owner');
SELECT is(pg_temp.err($$DELETE FROM custier.tier_history$$)->>'state', '42501', 'append-only (README: 42501)');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$UPDATE custier.tier_history SET reason = 'forged'$$)->>'state', '42501',
          'append-only: UPDATE fails for another role');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$DELETE FROM custier.tier_history$$)->>'state', '42501',
          'append-only: DELETE fails for another role');
SELECT is((SELECT count(*) FROM custier.tier_history), (SELECT n FROM hcount), 'tier_history unchanged after the refused writes (count)');
SELECT is((SELECT md5(string_agg(h::text, ';' ORDER BY history_id)) FROM custier.tier_history h), (SELECT s FROM hcount),
          'tier_history unchanged after the refused writes (content)');

-- unmanage: triggers go, history stays
SELECT lives_ok($$SELECT custier.unmanage('contract_cust')$$, 'unmanage(tbl)');
UPDATE contract_cust SET grade = 'D' WHERE id = 22;
SELECT is(pg_temp.hist('contract_cust') ~ '22:A>D', false, 'unmanage: "removes the triggers" (no history after it)');
SELECT ok((SELECT count(*) FROM custier.tier_history WHERE tbl = 'contract_cust'::regclass) >= 8, 'unmanage: "history stays"');
SELECT is(custier.tier_at('contract_cust', '2', (SELECT at FROM marks WHERE name = 't2'))::text, 'A', 'unmanage: tier_at still answers from the kept history');

-- require_approval guard
CREATE TABLE contract_guarded (id text PRIMARY KEY, grade custier.tier);
GRANT SELECT, INSERT, UPDATE, DELETE ON contract_guarded TO custier_test_contract_clerk;
INSERT INTO contract_guarded VALUES ('g1', 'B'), ('g2', 'C');
SELECT lives_ok($$SELECT custier.manage('contract_guarded', 'id', 'grade', 'contract_guarded', require_approval => true)$$,
                'manage(…, require_approval => true)');
CREATE TEMP TABLE g_err AS SELECT pg_temp.err_as('custier_test_contract_clerk', $$UPDATE contract_guarded SET grade = 'A' WHERE id = 'g1'$$) AS e;
SELECT is((SELECT e->>'state' FROM g_err), '42501', 'with require_approval, an UPDATE that changes the grade "fails with SQLSTATE 42501"');
SELECT matches((SELECT e->>'hint' FROM g_err), 'custier\.propose', '"and a hint naming custier.propose"');
SELECT is(pg_temp.err($$UPDATE contract_guarded SET grade = 'D' WHERE id = 'g2'$$)->>'state', '42501',
          'the guard also refuses the table owner (a superuser here) changing a grade directly');
SELECT is((SELECT string_agg(id || grade::text, ',' ORDER BY id) FROM contract_guarded), 'g1B,g2C', 'the refused UPDATEs changed no grade');
SELECT is((SELECT count(*)::int FROM custier.tier_history WHERE tbl = 'contract_guarded'::regclass AND new_tier IN ('A', 'D')), 0,
          'the refused UPDATEs wrote no history');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$UPDATE contract_guarded SET grade = grade WHERE id = 'g1'$$), NULL,
          'the guard lets an UPDATE through that does not change the grade');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$INSERT INTO contract_guarded VALUES ('g3', 'A')$$), NULL,
          'the guard is about UPDATEs that change the grade: an INSERT with a grade passes');
SELECT is((SELECT new_tier::text FROM custier.tier_history WHERE tbl = 'contract_guarded'::regclass AND customer_key = 'g3'), 'A',
          'the guarded INSERT is recorded as a first grading');

SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$UPDATE contract_guarded SET grade = NULL WHERE id = 'g1'$$)->>'state', '42501',
          'the guard refuses an UPDATE that clears the grade (a grade change)');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$UPDATE contract_guarded SET id = 'g11', grade = 'A' WHERE id = 'g1'$$)->>'state', '42501',
          'the guard refuses an UPDATE that changes key and grade at once');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$INSERT INTO contract_guarded VALUES ('g2', 'A') ON CONFLICT (id) DO UPDATE SET grade = excluded.grade$$)->>'state', '42501',
          'the guard refuses INSERT … ON CONFLICT DO UPDATE changing a grade (it is an UPDATE)');
SELECT is(pg_temp.err_as('custier_test_contract_clerk', $$UPDATE contract_guarded SET id = 'g22' WHERE id = 'g2'$$), NULL,
          'the guard lets a key change through (the grade stays)');
SELECT is((SELECT string_agg(id || grade::text, ',' ORDER BY id) FROM contract_guarded), 'g1B,g22C,g3A', 'only the key change took effect');

-- manage NULL-safety: a missing column is refused
SELECT is(pg_temp.err($$SELECT custier.manage('contract_cust_b', 'id', 'no_such_column', 'contract_hist3')$$)->>'state', '42703',
          'manage: a tier column that does not exist is refused');

SELECT * FROM finish();
ROLLBACK;
