-- custier held grades (see doc/simulation.md): propose(..., hold_until), the
-- custier.held view, evaluations before and after hold_until, and what
-- happens to an upgrade_after/downgrade_after streak during a hold:
--
--   while a hold lasts, evaluations record the customer's qualified tier as
--   usual (action 'held', proposed_tier = the held grade); the streak rules
--   look back on those recorded tiers, so a streak that runs through the
--   hold applies at the first evaluation after hold_until, and one that
--   broke during the hold does not.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
\set VERBOSITY terse
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE ROLE custier_test_hold_marketing;
CREATE ROLE custier_test_hold_manager;
-- The department sales is a role: both may review for it.
CREATE ROLE custier_test_hold_sales;
GRANT custier_test_hold_sales TO custier_test_hold_marketing, custier_test_hold_manager;
GRANT USAGE ON SCHEMA custier TO custier_test_hold_marketing, custier_test_hold_manager;

-- Grades move only after two evaluations in a row say so.
INSERT INTO custier.policy (name, metrics_source, key_column, upgrade_after, downgrade_after)
VALUES ('hold policy', NULL, NULL, 2, 2);
INSERT INTO custier.policy_reviewer VALUES ('hold policy', 'sales', 'custier_test_hold_sales');
CREATE TABLE hold_customer (id text PRIMARY KEY, grade tier);
CREATE TABLE hold_metrics (id text PRIMARY KEY, spend numeric);
UPDATE custier.policy SET metrics_source = 'hold_metrics', key_column = 'id' WHERE name = 'hold policy';
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('hold policy', 'spend');
INSERT INTO custier.policy_threshold VALUES
    ('hold policy', 'spend', 'A', 1000), ('hold policy', 'spend', 'B', 500), ('hold policy', 'spend', 'C', 100);
-- H1, H2 at A and H3 at C are about to be held; N1 at A is not.  All of
-- them qualify for D only.
INSERT INTO hold_customer VALUES ('H1', 'A'), ('H2', 'A'), ('H3', 'C'), ('H4', 'B'), ('H5', 'B'), ('N1', 'A');
INSERT INTO hold_metrics SELECT id, 50 FROM hold_customer;
SELECT custier.manage('hold_customer', 'id', 'grade', 'hold policy');
GRANT SELECT ON hold_customer TO custier_test_hold_marketing, custier_test_hold_manager;
GRANT EXECUTE ON FUNCTION custier.propose(regclass, text, tier, text, jsonb, timestamptz), custier.withdraw(bigint)
    TO custier_test_hold_marketing;
GRANT EXECUTE ON FUNCTION custier.approve(bigint, text), custier.review(bigint, text, text, text)
    TO custier_test_hold_manager, custier_test_hold_marketing;

-- 1. Holds are adjustments: proposed (with reasons), reviewed, approved by
-- someone else.  A hold may keep the grade as it is (H1, H2) or come with
-- a change (H3: C -> A).
SET ROLE custier_test_hold_marketing;
SELECT custier.propose('hold_customer', 'H1', 'A', 'contract renewal under way', hold_until => '2100-01-01') AS h1 \gset
SELECT custier.propose('hold_customer', 'H2', 'A', 'strategic account', NULL, '2100-01-01') AS h2 \gset
SELECT custier.propose('hold_customer', 'H3', 'A', 'pilot partner for a year', '{"deal": "pilot"}', '2100-01-01') AS h3 \gset
RESET ROLE;
SELECT customer_key, from_tier, to_tier, status, hold_until FROM custier.adjustment ORDER BY adjustment_id;
SET ROLE custier_test_hold_manager;
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :h1)) AS before_review;
SELECT custier.review(a, 'sales', 'support') FROM unnest(ARRAY[:h1, :h2, :h3]) a;
SELECT custier.approve(a) FROM unnest(ARRAY[:h1, :h2, :h3]) a;
RESET ROLE;
-- The proposer cannot approve its own hold (four eyes).
SET ROLE custier_test_hold_marketing;
SELECT custier.propose('hold_customer', 'H4', 'B', 'keep B through the audit', hold_until => '2100-01-01') AS h4 \gset
SELECT custier.review(:h4, 'sales', 'support');
SELECT pg_temp.fails(format('SELECT custier.approve(%s)', :h4)) AS own_hold;
RESET ROLE;
SET ROLE custier_test_hold_manager;
SELECT custier.approve(:h4);
RESET ROLE;
SELECT id, grade FROM hold_customer ORDER BY id;
SELECT customer_key, tier, hold_until, adjustment_id = ANY (ARRAY[:h1, :h2, :h3, :h4]) AS its_adjustment
  FROM custier.held ORDER BY customer_key;
-- Every step is in the log, as for any adjustment.
SELECT e.event, count(*) FROM custier.adjustment_event e
 WHERE e.adjustment_id IN (:h1, :h2, :h3, :h4) GROUP BY e.event ORDER BY e.event;

-- 2. Evaluations before hold_until: the qualified tier is recorded, no change
-- is proposed for the held customers (action 'held'); N1, not held,
-- follows the usual rules.
SELECT customer_key, current_tier, qualified_tier, proposed_tier FROM custier.evaluate('hold policy', '2099-01-01') ORDER BY 1;
SET client_min_messages = warning;
CALL custier.run_evaluation('hold policy', '2099-01-01');
-- H2's metrics recover for one evaluation: its streak breaks.
UPDATE hold_metrics SET spend = 1500 WHERE id = 'H2';
CALL custier.run_evaluation('hold policy', '2099-06-01');
UPDATE hold_metrics SET spend = 50 WHERE id = 'H2';
RESET client_min_messages;
SELECT e.as_of::date, r.customer_key, r.current_tier, r.qualified_tier, r.proposed_tier, r.action
  FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
 ORDER BY r.customer_key, e.as_of;
SELECT id, grade FROM hold_customer ORDER BY id;

-- 3. Ending a hold early is a new adjustment.  An adjustment to the grade
-- the customer already has is refused ...
SET ROLE custier_test_hold_marketing;
SELECT pg_temp.fails($$SELECT custier.propose('hold_customer', 'N1', 'D', 'same grade')$$) AS no_hold;
-- ... unless it sets a hold, or a hold is in force: then it ends it (no
-- hold_until) or changes it (another hold_until).
SELECT custier.propose('hold_customer', 'H4', 'B', 'audit done: release the hold') AS h4_end \gset
SELECT custier.propose('hold_customer', 'H3', 'A', 'pilot extended by a year', hold_until => '2101-01-01') AS h3_longer \gset
RESET ROLE;
SET ROLE custier_test_hold_manager;
SELECT custier.review(a, 'sales', 'support'), custier.approve(a) FROM unnest(ARRAY[:h4_end, :h3_longer]) a;
RESET ROLE;
SELECT customer_key, tier, hold_until, adjustment_id = :h3_longer AS the_new_one FROM custier.held ORDER BY customer_key;
-- Neither moved the grade, so neither wrote history.
SELECT count(*) AS history_rows FROM custier.tier_history WHERE adjustment_id IN (:h4_end, :h3_longer);
-- 4. After hold_until the usual rules apply, on the qualified tiers recorded
-- during the hold: H1 qualified for D in the evaluation before, so its
-- downgrade streak (2) is complete at once; H2's broke (it qualified for A),
-- so it keeps its grade; H3's hold now lasts until 2101; H4's hold ended
-- early, and its streak, recorded while it was held, applies too.
SELECT customer_key, current_tier, qualified_tier, proposed_tier FROM custier.evaluate('hold policy', '2100-02-01') ORDER BY 1;
SET client_min_messages = warning;
CALL custier.run_evaluation('hold policy', '2100-02-01');
RESET client_min_messages;
SELECT r.customer_key, r.current_tier, r.qualified_tier, r.proposed_tier, r.action
  FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
 WHERE e.as_of = '2100-02-01' ORDER BY 1;
SELECT id, grade FROM hold_customer ORDER BY id;
-- The view lists the holds in force now: evaluations as of 2100 do not end
-- them (H1's grade is D, and its hold, until 2100, is still in force).
SELECT customer_key, tier, hold_until FROM custier.held ORDER BY customer_key;


-- A later adjustment of any kind ends a hold in force: H3 -> B, no hold.
SET ROLE custier_test_hold_marketing;
SELECT custier.propose('hold_customer', 'H3', 'B', 'pilot stopped') AS h3_down \gset
RESET ROLE;
SET ROLE custier_test_hold_manager;
SELECT custier.review(:h3_down, 'sales', 'support'), custier.approve(:h3_down);
RESET ROLE;
SELECT customer_key, tier FROM custier.held ORDER BY customer_key;

-- 5. A hold on a customer that is deleted ends with it, and does not come
-- back with a new customer under the same key.
SET ROLE custier_test_hold_marketing;
SELECT custier.propose('hold_customer', 'H5', 'B', 'hold', hold_until => '2100-01-01') AS h5 \gset
RESET ROLE;
SET ROLE custier_test_hold_manager;
SELECT custier.review(:h5, 'sales', 'support'), custier.approve(:h5);
RESET ROLE;
SELECT customer_key FROM custier.held;
DELETE FROM hold_customer WHERE id = 'H5';
SELECT count(*) AS holds_in_force FROM custier.held;
INSERT INTO hold_customer VALUES ('H5', 'B');
SELECT count(*) AS holds_in_force FROM custier.held;

-- 6. Refusals: a hold that ends in the past or now (22023), hold_until
-- edited afterwards (55000), also by direct writes.
SET ROLE custier_test_hold_marketing;
SELECT pg_temp.fails($$SELECT custier.propose('hold_customer', 'N1', 'A', 'x', hold_until => '2000-01-01')$$) AS past;
SELECT split_part(pg_temp.fails($$SELECT custier.propose('hold_customer', 'N1', 'A', 'x', hold_until => now())$$), ':', 1) AS now;
SELECT custier.propose('hold_customer', 'N1', 'C', 'open one') AS n1 \gset
RESET ROLE;
SELECT pg_temp.fails(format('UPDATE custier.adjustment SET hold_until = %L WHERE adjustment_id = %s', '2100-01-01', :n1)) AS edit_open;
SELECT pg_temp.fails(format('UPDATE custier.adjustment SET status = %L, decision_note = %L, hold_until = %L WHERE adjustment_id = %s',
                            'rejected', 'no', '2100-01-01', :n1)) AS edit_while_deciding;
SELECT pg_temp.fails(format('UPDATE custier.adjustment SET hold_until = NULL WHERE adjustment_id = %s', :h3)) AS edit_applied;
SELECT pg_temp.fails($$INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, proposed_by, proposed_at, hold_until)
                      VALUES ('hold_customer', 'H1', 'A', 'x', current_user, '1999-01-01', '2000-01-01')$$) AS direct_past;
SELECT customer_key, hold_until FROM custier.adjustment WHERE adjustment_id = :n1;

SELECT custier.unmanage('hold_customer');
DROP TABLE hold_customer, hold_metrics;
DROP OWNED BY custier_test_hold_marketing, custier_test_hold_manager, custier_test_hold_sales;
DROP ROLE custier_test_hold_marketing, custier_test_hold_manager, custier_test_hold_sales;
