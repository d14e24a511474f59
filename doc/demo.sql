-- doc/demo.sql — what `make demo` runs: a company grades 50 000 customers
-- from 1 000 000 purchases, for two half-year cycles, routes the downgrades
-- through review and approval, and looks at the result.
\set QUIET 1
\set ON_ERROR_STOP 1
\pset footer off
\pset pager off
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION custier;
SET search_path = public, custier;
\timing off

\echo
\echo '=== 1. The data: 50 000 customers, 1 000 000 purchases (2025-2026), surveys and tickets'
\echo '(generating the data takes about half a minute)'
CREATE TABLE customer (
    customer_id int PRIMARY KEY,
    name        text NOT NULL,
    region      text NOT NULL,
    grade       tier
);
INSERT INTO customer
SELECT i, format('Customer %s', i), (ARRAY['North', 'South', 'East', 'West'])[1 + i % 4], NULL
FROM generate_series(1, 50000) i;

\echo '  50 000 customers done; 1 000 000 purchases ...'
-- Low ids buy more often; each customer has its own basket size and trend.
CREATE TABLE purchase (customer_id int NOT NULL, at timestamptz NOT NULL, amount numeric(12,2) NOT NULL);
INSERT INTO purchase
SELECT c, at,
       round((CASE WHEN r % 50 = 0 THEN -0.5 ELSE 1 END)          -- 2% refunds
             * (20 + (hashint4(c * 3) & 2147483647) % 600)        -- basket size
             * (1 + ((hashint4(c * 5) & 2147483647) % 150 - 50) / 100.0
                  * extract(epoch FROM at - '2025-01-01') / extract(epoch FROM interval '2 years'))
             , 2)
FROM (SELECT i AS r,
             1 + floor(50000 * power((hashint4(i) & 2147483647) / 2147483648.0, 1.6))::int AS c,
             '2025-01-01'::timestamptz + ((hashint4(i * 7) & 2147483647) % 63072000) * interval '1 second' AS at
      FROM generate_series(1, 1000000) i) s;
CREATE INDEX ON purchase (customer_id);
\echo '  surveys and tickets ...'
CREATE TABLE survey (customer_id int, answered_at timestamptz, score int);
INSERT INTO survey
SELECT 1 + (hashint4(i) & 2147483647) % 50000, '2025-01-01'::timestamptz + (i % 730) * interval '1 day',
       1 + (hashint4(i * 11) & 2147483647) % 5 FROM generate_series(1, 20000) i;
CREATE TABLE ticket (customer_id int, opened timestamptz, resolved timestamptz);
INSERT INTO ticket
SELECT 1 + (hashint4(i) & 2147483647) % 50000, o,
       o + ((hashint4(i * 13) & 2147483647) % 96) * interval '1 hour'
FROM (SELECT i, '2025-01-01'::timestamptz + (i % 700) * interval '1 day' AS o FROM generate_series(1, 10000) i) s;
\echo '  analyzing ...'
ANALYZE customer, purchase, survey, ticket;
\unset QUIET
SELECT count(*) AS purchases, count(DISTINCT customer_id) AS buying_customers,
       sum(amount) AS revenue, count(*) FILTER (WHERE amount < 0) AS refunds
FROM purchase;
\set QUIET 1

\echo
\echo '=== 2. Value metrics, from the C aggregates (a view the policy reads)'
-- The evaluation date lives in a one-row table, so each cycle sees its own half-year.
CREATE TABLE demo_clock (as_of timestamptz NOT NULL);
INSERT INTO demo_clock VALUES ('2026-06-30 23:59:59+00');
CREATE VIEW customer_metrics AS
SELECT s.customer_id,
       s.last[1] + s.last[2]                                 AS amount_12m,
       round(frequency(s.m, s.as_of, '1 month'), 2)          AS purchases_per_month,
       floor(extract(epoch FROM tenure(s.m, s.as_of)) / 2629800)::int AS tenure_months,
       round(least(g[1], g[2]), 1)                           AS growth_2_cycles
FROM (SELECT p.customer_id, c.as_of,
             value_metrics(p.at, p.amount) AS m,
             period_amounts(p.at, p.amount, c.as_of, '6 months', 3) AS last
      FROM purchase p CROSS JOIN demo_clock c
      WHERE p.at <= c.as_of
      GROUP BY p.customer_id, c.as_of) s
CROSS JOIN LATERAL (SELECT growth(s.last) AS g) x;
\unset QUIET
SELECT * FROM customer_metrics WHERE customer_id IN (1, 500, 20000) ORDER BY customer_id;
\set QUIET 1

\echo
\echo '=== 3. The policy: policy "standard", the A/B/C/D grading standard'
INSERT INTO policy (name, method, lowest, period, upgrade_after, downgrade_after, max_step, approval,
                    metrics_source, key_column, description)
VALUES ('standard', 'thresholds', 'D', '6 months', 2, 1, 1, 'downgrade', 'customer_metrics', 'customer_id',
        'A key accounts … D watch list; upgrades after two good cycles, one grade at a time; downgrades need approval');
INSERT INTO policy_tier (policy, tier, label) VALUES
    ('standard', 'A', 'A级客户 key account'), ('standard', 'B', 'B级客户 important'),
    ('standard', 'C', 'C级客户 regular'),     ('standard', 'D', 'D级客户 watch list');
INSERT INTO policy_criterion (policy, metric, weight) VALUES
    ('standard', 'amount_12m', 3), ('standard', 'purchases_per_month', 2),
    ('standard', 'tenure_months', 1), ('standard', 'growth_2_cycles', 1);
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('standard', 'amount_12m', 'A', 7000), ('standard', 'amount_12m', 'B', 4000), ('standard', 'amount_12m', 'C', 1800),
    ('standard', 'purchases_per_month', 'A', 1.3), ('standard', 'purchases_per_month', 'B', 0.9),
    ('standard', 'purchases_per_month', 'C', 0.6),
    ('standard', 'tenure_months', 'A', 9), ('standard', 'tenure_months', 'B', 3),
    ('standard', 'growth_2_cycles', 'A', -30);
INSERT INTO policy_reviewer (policy, department) VALUES ('standard', 'sales'), ('standard', 'service');
\unset QUIET
SELECT t.tier, t.label,
       coalesce(string_agg(format('%s >= %s', h.metric, h.bound), ', ' ORDER BY h.metric)
                FILTER (WHERE h.metric IS NOT NULL), '(everyone else)') AS needs
FROM policy_tier t LEFT JOIN policy_threshold h ON h.policy = t.policy AND h.tier = t.tier
WHERE t.policy = 'standard' GROUP BY t.tier, t.label ORDER BY t.tier DESC;
\echo 'One customer, graded and explained (custier.assign_tier / custier.explain):'
SELECT assign_tier('standard', m) AS tier, score('standard', m), jsonb_pretty(explain('standard', m)) AS explanation
FROM customer_metrics m WHERE customer_id = 500;
\set QUIET 1

\echo
\echo '=== 4. Last year''s grades come from the old CRM; custier takes the table over'
UPDATE demo_clock SET as_of = '2025-12-31 23:59:59+00';
UPDATE customer c SET grade = assign_tier('standard', m) FROM customer_metrics m WHERE m.customer_id = c.customer_id;
SELECT manage('customer', 'customer_id', 'grade', 'standard', require_approval => true);
\unset QUIET
SELECT coalesce(grade::text, '(none: no purchases yet)') AS grade, count(*) AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct
FROM customer GROUP BY customer.grade ORDER BY customer.grade DESC NULLS LAST;
\echo 'From now on a grade change by hand is refused (the ERROR below is expected): it has to go through the form.'
\set ON_ERROR_STOP 0
UPDATE customer SET grade = 'A' WHERE customer_id = 49999;
\set ON_ERROR_STOP 1
\set QUIET 1

\echo
\echo '=== 5. Cycle 1 (as of 2026-06-30): downgrades go to approval, upgrades wait for a second good cycle'
UPDATE demo_clock SET as_of = '2026-06-30 23:59:59+00';
\unset QUIET
SELECT current_tier, proposed_tier, count(*) AS customers
FROM evaluate('standard', '2026-06-30 23:59:59+00')
WHERE current_tier <> qualified_tier GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC;
\timing on
\echo 'Running the evaluation (50 000 customers, 5 batches) ...'
CALL run_evaluation('standard', '2026-06-30 23:59:59+00', 10000);
\timing off
SELECT action, count(*) FROM evaluation_result WHERE evaluation_id = 1 GROUP BY action ORDER BY action;
\set QUIET 1

\echo
\echo '=== 6. The approval form: sales and service review every proposal, management decides'
CREATE ROLE demo_sales; CREATE ROLE demo_service; CREATE ROLE demo_manager;
-- Adjustments are visible to those who may read the customer table.
GRANT SELECT ON customer TO demo_sales, demo_service, demo_manager;
GRANT EXECUTE ON FUNCTION review(bigint, text, text, text) TO demo_sales, demo_service;
GRANT EXECUTE ON FUNCTION approve(bigint, text), reject(bigint, text) TO demo_manager;
-- Departments are roles: members of a department's reviewer_role review for it.
UPDATE policy_reviewer SET reviewer_role = 'demo_' || department WHERE policy = 'standard';
\unset QUIET
SELECT adjustment_id, customer_key, from_tier, to_tier, status, proposed_by, reason
FROM adjustment ORDER BY adjustment_id LIMIT 3;
\set QUIET 1
SET ROLE demo_sales;
SELECT count(review(adjustment_id, 'sales', 'support', 'volume confirmed with the account team')) AS sales_reviews
FROM adjustment WHERE status = 'proposed';
SET ROLE demo_service;
-- Service opposes one in ten: an open complaint is being handled.
SELECT count(review(adjustment_id, 'service', CASE WHEN adjustment_id % 10 = 0 THEN 'oppose' ELSE 'support' END,
                    CASE WHEN adjustment_id % 10 = 0 THEN 'open complaint; wait a cycle' END)) AS service_reviews
FROM adjustment WHERE status = 'proposed';
RESET ROLE;
-- The run's adjustments were proposed by the role that ran it (this
-- session's login): four eyes wants the manager in a session of its own.
SET SESSION AUTHORIZATION demo_manager;
SELECT count(CASE WHEN r.opinion = 'oppose' THEN reject(a.adjustment_id, 'service opposed: keep the grade one more cycle')
                  ELSE approve(a.adjustment_id, 'half-year review') END) AS decisions
FROM adjustment a JOIN adjustment_review r ON r.adjustment_id = a.adjustment_id AND r.department = 'service'
WHERE a.status = 'proposed';
RESET SESSION AUTHORIZATION;
\unset QUIET
SELECT status, decided_by, count(*) FROM adjustment GROUP BY 1, 2 ORDER BY 1;
SELECT event, actor, count(*) FROM adjustment_event GROUP BY 1, 2 ORDER BY min(event_id);
\set QUIET 1

\echo
\echo '=== 7. Cycle 2 (as of 2026-12-31): two good cycles in a row earn an upgrade'
UPDATE demo_clock SET as_of = '2026-12-31 23:59:59+00';
\echo 'Running the evaluation ...'
\timing on
CALL run_evaluation('standard', '2026-12-31 23:59:59+00', 10000);
\timing off
\unset QUIET
SELECT evaluation_id, as_of, customers, changed, proposed, finished_at - started_at AS took FROM evaluation ORDER BY 1;
SELECT action, count(*) FROM evaluation_result WHERE evaluation_id = 2 GROUP BY action ORDER BY action;

\echo
\echo '=== 8. The result'
\echo 'The history of three customers: every change, who made it, and why:'
SELECT customer_key, old_tier, new_tier, changed_at::date, changed_by, adjustment_id, reason
FROM tier_history
WHERE customer_key IN ((SELECT customer_key FROM adjustment WHERE status = 'applied' ORDER BY adjustment_id LIMIT 1),
                       (SELECT customer_key FROM adjustment WHERE status = 'rejected' ORDER BY adjustment_id LIMIT 1),
                       (SELECT customer_key FROM evaluation_result WHERE evaluation_id = 2 AND action = 'applied'
                        ORDER BY customer_key::int LIMIT 1))
ORDER BY customer_key::int, history_id;
\ir demo_service.sql
\ir demo_insight.sql
\ir demo_simulation.sql
\ir demo_allocation.sql
