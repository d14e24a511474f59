-- doc/demo_simulation.sql — chapter of `make demo` (\ir'd at the end of
-- doc/demo.sql, on its data): preview a policy change over every customer
-- before anyone applies it, and hold one grade through an adjustment.
\set QUIET 1
\echo
\echo '=== What if: raise the A bound by 20% (custier.copy_policy + custier.simulate)'
SELECT copy_policy('standard', 'standard A+20%') \g /dev/null
UPDATE policy_threshold SET bound = bound * 1.2 WHERE policy = 'standard A+20%' AND tier = 'A';
\unset QUIET
SELECT d.metric, l.bound AS live_bound, d.bound AS draft_bound
FROM policy_threshold d JOIN policy_threshold l ON l.policy = 'standard' AND l.metric = d.metric AND l.tier = d.tier
WHERE d.policy = 'standard A+20%' AND d.tier = 'A' ORDER BY d.metric;
\echo 'Migration from the live grading to the draft''s, 50 000 customers graded twice, nothing changed:'
\timing on
SELECT live_tier, draft_tier, count(*) AS customers
FROM simulate('standard', 'standard A+20%')
GROUP BY live_tier, draft_tier ORDER BY live_tier DESC, draft_tier DESC;
\timing off
\echo 'The same against the grades customers have now (rows: current grade; columns: the draft''s):'
SELECT current_tier,
       count(*) FILTER (WHERE draft_tier = 'A') AS "A", count(*) FILTER (WHERE draft_tier = 'B') AS "B",
       count(*) FILTER (WHERE draft_tier = 'C') AS "C", count(*) FILTER (WHERE draft_tier = 'D') AS "D"
FROM simulate('standard', 'standard A+20%')
GROUP BY current_tier ORDER BY current_tier DESC NULLS LAST;
SELECT count(*) AS policies, count(*) FILTER (WHERE name = 'standard A+20%') AS drafts,
       (SELECT count(*) FROM managed_table WHERE policy = 'standard A+20%') AS tables_the_draft_grades
FROM policy;
\set QUIET 1

\echo
\echo '=== A held grade: an A customer whose metrics slipped keeps A through its contract renewal'
-- An A customer for whom the last cycle proposed a downgrade (any A customer
-- without an open adjustment if there is none).
SELECT coalesce(
         (SELECT a.customer_key FROM adjustment a JOIN customer c ON c.customer_id = a.customer_key::int
           WHERE a.status = 'proposed' AND a.evaluation_id IS NOT NULL AND c.grade = 'A'
           ORDER BY a.customer_key::int LIMIT 1),
         (SELECT c.customer_id::text FROM customer c
           WHERE c.grade = 'A' AND NOT EXISTS (SELECT FROM adjustment a WHERE a.customer_key = c.customer_id::text
                                                AND a.status IN ('proposed', 'approved'))
           ORDER BY c.customer_id LIMIT 1)) AS held_key \gset
\unset QUIET
\echo 'Customer' :held_key 'has an A grade and a downgrade proposed by the last cycle:'
SELECT adjustment_id, from_tier, to_tier, status, reason FROM adjustment
WHERE customer_key = :'held_key' AND status = 'proposed';
\echo 'Its proposer (the role that ran the cycle) withdraws it, and proposes a hold instead:'
\set QUIET 1
SELECT withdraw(adjustment_id) FROM adjustment WHERE customer_key = :'held_key' AND status = 'proposed' \g /dev/null
SELECT propose('customer', :'held_key', 'A', 'contract renewal under way: keep A until it is signed',
               hold_until => '2027-12-31 23:59:59+00') AS hold_id \gset
SET ROLE demo_sales;
SELECT review(:hold_id, 'sales', 'support', 'renewal confirmed with the account team') \g /dev/null
SET ROLE demo_service;
SELECT review(:hold_id, 'service', 'support') \g /dev/null
RESET ROLE;
-- The manager approves in a session of its own: four eyes counts the login.
SET SESSION AUTHORIZATION demo_manager;
SELECT approve(:hold_id, 'hold approved until the end of 2027') \g /dev/null
RESET SESSION AUTHORIZATION;
\unset QUIET
SELECT tbl, customer_key, tier, hold_until FROM held;
\echo 'An evaluation before the end of the hold records what the customer qualifies for, and proposes no change:'
SELECT customer_key, current_tier, qualified_tier, proposed_tier
FROM evaluate('standard', '2027-01-15 00:00:00+00') WHERE customer_key = :'held_key';
SELECT event, actor, detail->>'department' AS department FROM adjustment_event WHERE adjustment_id = :hold_id ORDER BY event_id;
\set QUIET 1
