-- doc/demo_insight.sql — insight for BI on top of what doc/demo.sql built:
-- the distribution at any moment, the migration between two moments, the
-- grading standard's KPIs, and who is about to drop a grade and by how much.
-- Every figure comes from one custier function a BI tool can call.
\pset pager off
\set QUIET 1
SELECT started_at AS before_cycle_1 FROM evaluation WHERE evaluation_id = 1 \gset

\echo
\echo '=== 9. Insight for BI: distribution, migration, KPIs, customers at risk'
\unset QUIET
\echo 'Tier distribution now (custier.distribution):'
SELECT * FROM distribution('standard');
\echo 'The same as it stood before cycle 1, read from the history:'
SELECT * FROM distribution('standard', :'before_cycle_1');
\echo 'Migration from before cycle 1 to now (custier.migration; only non-empty cells):'
SELECT * FROM migration('standard', :'before_cycle_1', now());
\echo 'KPIs per grade held before cycle 1, and in total (custier.kpi):'
SELECT * FROM kpi('standard', :'before_cycle_1', now());
\echo 'Service KPIs over the same time (custier.share, custier.on_time_rate):'
SELECT (SELECT round(share(score >= 4), 2) FROM survey WHERE answered_at > '2026-06-30') AS satisfaction_pct,
       (SELECT round(on_time_rate(opened, resolved, '48 hours'), 2) FROM ticket) AS complaints_on_time_pct;
\echo 'At risk after cycle 2: qualified below their grade, for how many cycles, and what each metric lacks (custier.at_risk):'
SELECT cycles_below, current_tier, qualified_tier, count(*) AS customers
FROM at_risk('standard') GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2 DESC, 3 DESC;
SELECT * FROM at_risk('standard') LIMIT 8;
\set QUIET 1
SELECT customer_key AS first_at_risk FROM at_risk('standard') LIMIT 1 \gset
\unset QUIET
\echo 'The evidence for the first of them: explain with keep_gap / next_gap per criterion:'
SELECT c ->> 'metric' AS metric, c -> 'value' AS value, c ->> 'tier_met' AS tier_met,
       c -> 'keep_gap' AS keep_gap, c -> 'next_gap' AS next_gap
FROM customer_metrics m, jsonb_array_elements(explain('standard', m) -> 'criteria') c
WHERE m.customer_id = :first_at_risk;
\set QUIET 1
-- A BI reader needs no more than this (at_risk also reads the metrics view).
CREATE ROLE demo_bi;
GRANT USAGE ON SCHEMA custier TO demo_bi;
GRANT SELECT ON customer, customer_metrics TO demo_bi;
SET ROLE demo_bi;
\unset QUIET
\echo 'The same KPIs read by a BI role with SELECT on the customer table only (plus the metrics view):'
SELECT * FROM kpi('standard', :'before_cycle_1', now()) WHERE tier IS NULL;
SELECT count(*) AS at_risk_seen_by_bi FROM at_risk('standard');
\set QUIET 1
RESET ROLE;
