-- custier adjustments (see doc/reference.md): propose, review, approve / reject / withdraw,
-- the state machine enforced by triggers, four eyes, and every refusal.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE ROLE custier_test_adjustment_marketing;
CREATE ROLE custier_test_adjustment_sales;
CREATE ROLE custier_test_adjustment_service;
CREATE ROLE custier_test_adjustment_manager;
CREATE ROLE custier_test_adjustment_nobody;

INSERT INTO custier.policy (name, lowest) VALUES ('key accounts', 'D');
-- Departments are roles: members of the reviewer_role review for the department.
INSERT INTO custier.policy_reviewer VALUES ('key accounts', 'sales', 'custier_test_adjustment_sales'),
                                          ('key accounts', 'service', 'custier_test_adjustment_service');
CREATE TABLE account (code text PRIMARY KEY, name text, grade tier);
INSERT INTO account VALUES ('K1', 'Acme', 'B'), ('K2', 'Bolt', 'C'), ('K3', 'Cog', NULL);
SELECT custier.manage('account', 'code', 'grade', 'key accounts', require_approval => true);
GRANT SELECT ON account TO custier_test_adjustment_marketing, custier_test_adjustment_sales,
                            custier_test_adjustment_service, custier_test_adjustment_manager;
GRANT EXECUTE ON FUNCTION custier.propose(regclass, text, tier, text, jsonb, timestamptz), custier.withdraw(bigint)
    TO custier_test_adjustment_marketing, custier_test_adjustment_manager;
GRANT EXECUTE ON FUNCTION custier.review(bigint, text, text, text)
    TO custier_test_adjustment_sales, custier_test_adjustment_service;
GRANT EXECUTE ON FUNCTION custier.approve(bigint, text), custier.reject(bigint, text)
    TO custier_test_adjustment_manager, custier_test_adjustment_marketing;

-- 1. Marketing proposes K1: B -> A, with reasons and evidence.
SET ROLE custier_test_adjustment_marketing;
SELECT custier.propose('account', 'K1', 'A', 'revenue doubled two quarters running',
                       '{"monetary": 1200000}') AS k1 \gset
-- Refusals: unknown customer, same grade, outside the scale, empty reason,
-- a second open adjustment, NULLs, unmanaged table.
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K9', 'A', 'x')$$);
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K2', 'C', 'x')$$);
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K2', 'E', 'x')$$);
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K2', 'B', '  ')$$);
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K1', 'C', 'another one')$$);
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K2', NULL, 'x')$$);
RESET ROLE;
CREATE TABLE loose (code text PRIMARY KEY, grade tier);
INSERT INTO loose VALUES ('L1', 'B');
SELECT pg_temp.fails($$SELECT custier.propose('loose', 'L1', 'A', 'x')$$);
SET ROLE custier_test_adjustment_nobody;
SELECT pg_temp.fails($$SELECT custier.propose('account', 'K2', 'B', 'x')$$);
RESET ROLE;
SELECT adjustment_id = :k1 AS is_k1, tbl, customer_key, from_tier, to_tier, reason, evidence, status, proposed_by
  FROM custier.adjustment ORDER BY adjustment_id;

-- 2. The departments review; approval waits for all of them.
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k1));
RESET ROLE;
SET ROLE custier_test_adjustment_sales;
SELECT custier.review(:k1, 'sales', 'support', 'confirmed with the account team');
SELECT pg_temp.fails(format($$SELECT custier.review(%s, 'sales', 'oppose')$$, :k1));
SELECT pg_temp.fails(format($$SELECT custier.review(%s, 'finance', 'support')$$, :k1));
SELECT pg_temp.fails(format($$SELECT custier.review(%s, 'service', 'maybe')$$, :k1));
SELECT pg_temp.fails($$SELECT custier.review(999, 'service', 'support')$$);
RESET ROLE;
SET ROLE custier_test_adjustment_service;
SELECT custier.review(:k1, 'service', 'support');
RESET ROLE;
SELECT department, reviewer, opinion, comment FROM custier.adjustment_review ORDER BY department;

-- 3. Four eyes: the proposer cannot approve; the manager can, and the grade
--    changes at once, the history row carrying the adjustment.
SET ROLE custier_test_adjustment_marketing;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k1));
RESET ROLE;
-- Nor a role the proposer can SET ROLE to.
GRANT custier_test_adjustment_manager TO custier_test_adjustment_marketing;
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k1));
RESET ROLE;
REVOKE custier_test_adjustment_manager FROM custier_test_adjustment_marketing;
SET ROLE custier_test_adjustment_manager;
SELECT custier.approve(:k1, 'agreed at the monthly review');
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k1));
SELECT pg_temp.fails(format($$SELECT custier.reject(%s, 'too late')$$, :k1));
RESET ROLE;
SELECT code, grade FROM account ORDER BY code;
SELECT status, decided_by, decision_note FROM custier.adjustment WHERE adjustment_id = :k1;
SELECT customer_key, old_tier, new_tier, changed_by, adjustment_id = :k1 AS by_k1, reason
  FROM custier.tier_history ORDER BY history_id DESC LIMIT 1;
SELECT event, actor, detail FROM custier.adjustment_event WHERE adjustment_id = :k1 ORDER BY event_id;

-- 4. Reject needs a note; withdraw is the proposer's.
SET ROLE custier_test_adjustment_marketing;
SELECT custier.propose('account', 'K2', 'B', 'new contract') AS k2 \gset
SELECT custier.propose('account', 'K3', 'D', 'first grading') AS k3 \gset
RESET ROLE;
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format($$SELECT custier.reject(%s, NULL)$$, :k2));
SELECT pg_temp.fails(format($$SELECT custier.reject(%s, '')$$, :k2));
SELECT custier.reject(:k2, 'contract not signed yet');
SELECT pg_temp.fails(format('SELECT custier.withdraw(%s)', :k3));
RESET ROLE;
SET ROLE custier_test_adjustment_marketing;
SELECT custier.withdraw(:k3);
SELECT pg_temp.fails(format('SELECT custier.withdraw(%s)', :k3));
RESET ROLE;
SELECT adjustment_id - :k1 AS n, customer_key, from_tier, to_tier, status, proposed_by, decided_by, decision_note
  FROM custier.adjustment ORDER BY adjustment_id;

-- 5. approve fails, changing nothing, when the grade moved since the proposal.
SET ROLE custier_test_adjustment_marketing;
SELECT custier.propose('account', 'K2', 'A', 'strategic') AS k4 \gset
RESET ROLE;
SET ROLE custier_test_adjustment_sales;
SELECT custier.review(:k4, 'sales', 'support');
RESET ROLE;
SET ROLE custier_test_adjustment_service;
SELECT custier.review(:k4, 'service', 'oppose', 'tickets pile up');
RESET ROLE;
SELECT custier.unmanage('account');
UPDATE account SET grade = 'D' WHERE code = 'K2';
SELECT custier.manage('account', 'code', 'grade', 'key accounts', require_approval => true);
SELECT count(*) AS history_before FROM custier.tier_history \gset
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k4));
RESET ROLE;
SELECT code, grade FROM account WHERE code = 'K2';
SELECT status FROM custier.adjustment WHERE adjustment_id = :k4;
SELECT count(*) = :history_before AS no_history_written FROM custier.tier_history;

-- 6. Direct writes obey the state machine too (even for the owner).
SELECT pg_temp.fails(format($$UPDATE custier.adjustment SET status = 'applied' WHERE adjustment_id = %s$$, :k4));
SELECT pg_temp.fails(format($$UPDATE custier.adjustment SET status = 'approved' WHERE adjustment_id = %s$$, :k4));
SELECT pg_temp.fails(format($$UPDATE custier.adjustment SET to_tier = 'B' WHERE adjustment_id = %s$$, :k4));
SELECT pg_temp.fails(format($$UPDATE custier.adjustment SET status = 'proposed' WHERE adjustment_id = %s$$, :k1));
SELECT pg_temp.fails(format($$DELETE FROM custier.adjustment WHERE adjustment_id = %s$$, :k2));
SELECT pg_temp.fails($$INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, status, proposed_by, proposed_at)
                       VALUES ('account', 'K3', 'A', 'sneaky', 'applied', 'x', now())$$);
SELECT pg_temp.fails(format($$UPDATE custier.adjustment_review SET opinion = 'support' WHERE adjustment_id = %s$$, :k4));
SELECT pg_temp.fails(format($$DELETE FROM custier.adjustment_review WHERE adjustment_id = %s$$, :k4));
SELECT pg_temp.fails($$UPDATE custier.adjustment_event SET actor = 'x'$$);
SELECT pg_temp.fails($$DELETE FROM custier.adjustment_event$$);
SELECT pg_temp.fails($$TRUNCATE custier.adjustment_event$$);
SELECT pg_temp.fails($$TRUNCATE custier.adjustment CASCADE$$);
-- A direct INSERT by the owner is a proposal like any other, by the owner.
INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, proposed_by, proposed_at)
VALUES ('account', 'K3', 'A', 'direct', 'someone else', '2000-01-01');
SELECT customer_key, from_tier, to_tier, status, CASE WHEN proposed_by = current_user THEN 'current_user' ELSE proposed_by END AS proposed_by, proposed_at > '2000-01-01' AS stamped_now
  FROM custier.adjustment WHERE reason = 'direct';
-- Non-owners cannot write the tables at all.
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails($$UPDATE custier.adjustment SET status = 'rejected', decision_note = 'x'$$);
SELECT pg_temp.fails($$INSERT INTO custier.adjustment_event (adjustment_id, event, actor, at) VALUES (1, 'x', 'y', now())$$);
RESET ROLE;

-- 7. approve applies the approved change and nothing else: not another
--    grade set by a BEFORE trigger, not changes made by the triggers it fires.
SET ROLE custier_test_adjustment_marketing;
SELECT custier.withdraw(:k4);
SELECT custier.propose('account', 'K2', 'C', 'recovering') AS k5 \gset
RESET ROLE;
SET ROLE custier_test_adjustment_sales;
SELECT custier.review(:k5, 'sales', 'support');
RESET ROLE;
SET ROLE custier_test_adjustment_service;
SELECT custier.review(:k5, 'service', 'support');
RESET ROLE;
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.grade := 'A'; RETURN NEW; END $$;
CREATE TRIGGER a_bump BEFORE UPDATE ON account FOR EACH ROW EXECUTE FUNCTION bump();
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k5));
RESET ROLE;
DROP TRIGGER a_bump ON account;
CREATE FUNCTION piggyback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE public.account SET grade = 'B' WHERE code = 'K3'; RETURN NULL; END $$;
CREATE TRIGGER a_piggyback AFTER UPDATE ON account FOR EACH ROW WHEN (NEW.code = 'K2') EXECUTE FUNCTION piggyback();
SET ROLE custier_test_adjustment_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :k5));
RESET ROLE;
SELECT code, grade FROM account ORDER BY code;
SELECT status FROM custier.adjustment WHERE adjustment_id = :k5;
DROP TRIGGER a_piggyback ON account;
SET ROLE custier_test_adjustment_manager;
SELECT custier.approve(:k5);
RESET ROLE;
SELECT code, grade FROM account ORDER BY code;
-- On a table without require_approval nothing refuses the piggybacked
-- change, but only the approved one carries the adjustment.
INSERT INTO custier.policy (name) VALUES ('loose');
INSERT INTO loose VALUES ('L2', 'C');
SELECT custier.manage('loose', 'code', 'grade', 'loose');
CREATE OR REPLACE FUNCTION piggyback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE public.loose SET grade = 'A' WHERE code = 'L2'; RETURN NULL; END $$;
CREATE TRIGGER a_piggyback AFTER UPDATE ON loose FOR EACH ROW WHEN (NEW.code = 'L1') EXECUTE FUNCTION piggyback();
SET ROLE custier_test_adjustment_marketing;
SELECT custier.propose('loose', 'L1', 'A', 'loyal') AS k6 \gset
RESET ROLE;
SET ROLE custier_test_adjustment_manager;
SELECT custier.approve(:k6);
RESET ROLE;
SELECT customer_key, old_tier, new_tier,
       CASE WHEN changed_by = current_user THEN '(table owner)' ELSE changed_by END AS changed_by,
       adjustment_id = :k6 AS by_k6, reason
  FROM custier.tier_history WHERE tbl = 'loose'::regclass AND old_tier IS NOT NULL ORDER BY history_id;
SELECT custier.unmanage('loose');
DROP TRIGGER a_piggyback ON loose;
DROP FUNCTION bump(), piggyback();

-- 8. A customer is named by its key as custier records it: '007' of an
--    integer key is customer 7 (one open adjustment, whatever the spelling),
--    and a key longer than a varchar(3) column is no customer of it.
INSERT INTO custier.policy (name) VALUES ('numbered'), ('short');
CREATE TABLE numbered (id int PRIMARY KEY, grade tier);
CREATE TABLE short (code varchar(3) PRIMARY KEY, grade tier);
INSERT INTO numbered VALUES (7, 'C');
INSERT INTO short VALUES ('abc', 'C');
SELECT custier.manage('numbered', 'id', 'grade', 'numbered', true), custier.manage('short', 'code', 'grade', 'short', true);
SET ROLE custier_test_adjustment_marketing;
SELECT custier.propose('numbered', '007', 'B', 'spelled oddly') AS k7 \gset
RESET ROLE;
SELECT pg_temp.fails($$SELECT custier.propose('numbered', '7', 'A', 'a second one')$$);
SELECT pg_temp.fails($$SELECT custier.propose('short', 'abcd', 'A', 'too long')$$);
SET ROLE custier_test_adjustment_manager;
SELECT custier.approve(:k7);
RESET ROLE;
SELECT id, grade FROM numbered;
SELECT customer_key, count(*) FROM custier.adjustment WHERE tbl IN ('numbered'::regclass, 'short'::regclass) GROUP BY 1;
SELECT customer_key, old_tier, new_tier, adjustment_id = :k7 AS by_k7 FROM custier.tier_history
 WHERE tbl = 'numbered'::regclass ORDER BY history_id;
DROP TABLE numbered, short;

DROP TABLE account, loose;
DROP OWNED BY custier_test_adjustment_marketing, custier_test_adjustment_sales, custier_test_adjustment_service,
              custier_test_adjustment_manager, custier_test_adjustment_nobody;
DROP ROLE custier_test_adjustment_marketing, custier_test_adjustment_sales, custier_test_adjustment_service,
          custier_test_adjustment_manager, custier_test_adjustment_nobody;
DROP EXTENSION custier;
