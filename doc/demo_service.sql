-- doc/demo_service.sql — the service-group chapter of the demo (run by
-- doc/demo.sql at its end): the grading standard's four service groups with
-- their staff, cadences and response times, complaints with deadlines in
-- business time by the grade at opening, the on-time rate per tier, and
-- access by group.
\set QUIET 1
\pset pager off

\echo
\echo '=== 9. Service groups: staff, cadences and SLAs per tier; deadlines in business time'
-- Business time: Shanghai, Monday to Friday 09:00-18:00, with the Spring
-- Festival 2027 off and its make-up working weekend days (调休).
INSERT INTO calendar (name, timezone, workdays, day_start, day_end) VALUES ('cn-office', 'Asia/Shanghai', '{1,2,3,4,5}', '09:00', '18:00');
INSERT INTO calendar_day (calendar, day, working, note)
SELECT 'cn-office', d::date, false, 'Spring Festival' FROM generate_series(timestamp '2027-02-05', '2027-02-11', '1 day') d
UNION ALL VALUES ('cn-office', date '2027-01-31', true, 'make-up working Sunday'),
                 ('cn-office', date '2027-02-20', true, 'make-up working Saturday'),
                 ('cn-office', date '2027-01-01', false, 'New Year');
CREATE ROLE demo_exec; CREATE ROLE demo_kam;                 -- executives, key account managers
CREATE ROLE demo_group_a; GRANT demo_group_a TO demo_exec, demo_kam;   -- both serve group A
CREATE ROLE demo_group_b; CREATE ROLE demo_group_c; CREATE ROLE demo_group_d;
CREATE ROLE demo_anna; GRANT demo_group_a TO demo_anna;      -- a key account manager
CREATE ROLE demo_bo;   GRANT demo_group_b TO demo_bo;        -- core-group service staff
CREATE ROLE demo_cai;  GRANT demo_group_c, demo_group_d TO demo_cai;   -- serves C and D
INSERT INTO service_group (policy, tier, name, staff_role, calendar, meet_every,
                           urgent_response, general_response, resolution, description) VALUES
    ('standard', 'A', 'A级客户专属群 (exclusive group)', 'demo_group_a', NULL,        '1 month',  '2 hours', '4 hours', '1 day',
     'executives and key account managers; around the clock'),
    ('standard', 'B', 'B级客户核心群 (core group)',      'demo_group_b', 'cn-office', '3 months', '4 hours', '1 day',   '3 days', NULL),
    ('standard', 'C', 'C级客户普通群 (general group)',   'demo_group_c', 'cn-office', '6 months', '1 day',   '2 days',  '5 days', NULL),
    ('standard', 'D', 'D级客户观察群 (observation group)', 'demo_group_d', 'cn-office', NULL,     '2 days',  '3 days',  '10 days', NULL);
\unset QUIET
SELECT tier, name, staff_role, coalesce(calendar, '(around the clock)') AS calendar, meet_every,
       urgent_response AS urgent, general_response AS general, resolution
FROM service_group WHERE policy = 'standard' ORDER BY tier DESC;
\echo 'Business time (custier.business_add): a complaint opened on Thursday 2027-02-04 17:00 in Shanghai, before the Spring Festival:'
SELECT g.tier, g.resolution,
       business_add(g.calendar, '2027-02-04 17:00+08', g.resolution) AT TIME ZONE 'Asia/Shanghai' AS resolve_by_shanghai
FROM service_group g WHERE g.policy = 'standard' AND g.calendar IS NOT NULL ORDER BY g.tier DESC;
\set QUIET 1

-- Complaints: 20 000 over the next 60 days (the history starts with this
-- demo, so a ticket's grade at opening is on record); 8% still open.
CREATE TABLE complaint (complaint_id int PRIMARY KEY, customer_id int NOT NULL, opened timestamptz NOT NULL, resolved timestamptz);
INSERT INTO complaint
SELECT i, c, o, CASE WHEN h % 100 < 8 THEN NULL ELSE o + (h % (24 * 12)) * interval '1 hour' * (1 + (c % 4)) / 4 END
FROM (SELECT i, 1 + (hashint4(i * 17) & 2147483647) % 50000 AS c, (hashint4(i * 19) & 2147483647) AS h,
             date_trunc('minute', now()) + ((hashint4(i * 23) & 2147483647) % (60 * 24 * 60)) * interval '1 minute' AS o
      FROM generate_series(1, 20000) i) s;
ANALYZE complaint;
\unset QUIET
\echo 'Complaint on-time rate per tier (custier.service_deadline: the group of the grade at opening, in its business time;'
\echo 'custier.on_time_rate(resolved, deadline): open complaints count as late once overdue):'
\timing on
SELECT tier_at('customer', k.customer_id::text, k.opened) AS tier_at_opening, count(*) AS complaints,
       count(*) FILTER (WHERE k.resolved IS NULL) AS still_open,
       round(on_time_rate(k.resolved, service_deadline('customer', k.customer_id::text, k.opened, 'resolution')), 1) AS on_time_pct
FROM complaint k
GROUP BY 1 ORDER BY 1 DESC NULLS LAST;
\timing off
\echo 'The grade at opening matters: a customer upgraded in cycle 2 had the group and deadline of the old grade before it:'
SELECT r.customer_key, r.current_tier AS was, c.grade AS now,
       group_of('customer', r.customer_key, e.started_at) AS group_then,
       group_of('customer', r.customer_key) AS group_now,
       service_deadline('customer', r.customer_key, e.started_at, 'urgent') - e.started_at AS urgent_allowance_then
FROM evaluation_result r JOIN evaluation e USING (evaluation_id) JOIN customer c ON c.customer_id = r.customer_key::int
WHERE r.evaluation_id = 2 AND r.action = 'applied'
ORDER BY r.customer_key::int LIMIT 3;
\echo 'Grade changes that moved customers between groups (custier.group_change), what the CRM acts on:'
SELECT coalesce(from_group, '(none)') AS from_group, coalesce(to_group, '(none)') AS to_group, count(*) AS customers
FROM group_change WHERE tbl = 'customer'::regclass AND from_group IS NOT NULL
GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 6;
\set QUIET 1

\echo
\echo '=== 10. Group meetings and access by group'
GRANT INSERT ON group_meeting TO demo_group_a, demo_group_b;
SET ROLE demo_anna;
INSERT INTO group_meeting (policy, tier, held_at, note) VALUES ('standard', 'A', now() - interval '40 days', 'quarterly plans with key accounts');
SET ROLE demo_bo;
INSERT INTO group_meeting (policy, tier, held_at, note) VALUES ('standard', 'B', now() - interval '10 days', 'core group review');
RESET ROLE;
\unset QUIET
SELECT tier, name, meet_every, last_held::date, due_at::date, overdue FROM meetings_due WHERE policy = 'standard' ORDER BY tier DESC;
\set QUIET 1
-- The owner restricts the customer table: staff see the customers of the
-- groups they serve, and nobody else's.
SELECT restrict('customer') \g /dev/null
GRANT SELECT ON customer TO demo_group_a, demo_group_b, demo_group_c, demo_group_d;
\unset QUIET
\echo 'What each member of staff sees of the 50 000 customers:'
\set QUIET 1
SET ROLE demo_anna;
\unset QUIET
SELECT 'demo_anna (A)' AS staff, string_agg(DISTINCT grade::text, ',') AS grades, count(*) AS customers FROM customer;
\set QUIET 1
SET ROLE demo_bo;
\unset QUIET
SELECT 'demo_bo (B)' AS staff, string_agg(DISTINCT grade::text, ',') AS grades, count(*) AS customers FROM customer;
\set QUIET 1
SET ROLE demo_cai;
\unset QUIET
SELECT 'demo_cai (C and D)' AS staff, string_agg(DISTINCT grade::text, ',' ORDER BY grade::text) AS grades, count(*) AS customers FROM customer;
\echo 'The groups a role serves are worked out once per statement (an InitPlan), not per row:'
EXPLAIN (COSTS OFF) SELECT count(*) FROM customer;
\set QUIET 1
RESET ROLE;
SELECT unrestrict('customer') \g /dev/null
\unset QUIET
