-- custier service groups: calendars and business time, service
-- groups and their SLAs, deadlines by the grade at opening, on-time rates,
-- meetings, group changes, and access by group (restrict).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'Asia/Shanghai';
-- fails(sql): the SQLSTATE and message of the error sql raises.
CREATE FUNCTION pg_temp.fails(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- The example: Mon-Fri 09:00-18:00 in Shanghai.
INSERT INTO calendar (name, timezone) VALUES ('cn', 'Asia/Shanghai');
SELECT * FROM calendar;
SELECT business_add('cn', '2026-05-29 17:00+08', '2 hours') AS friday_plus_2h,
       business_add('cn', '2026-05-29 17:00+08', '1 day')   AS friday_plus_1d,
       business_add('cn', '2026-05-30 10:00+08', '1 hour')  AS saturday_plus_1h;
-- Zero moves to the next business moment; an amount ending at closing time
-- ends then, not the next morning.
SELECT business_add('cn', '2026-05-29 17:00+08', '0')       AS in_hours,
       business_add('cn', '2026-05-29 18:00+08', '0')       AS at_closing,
       business_add('cn', '2026-05-29 17:00+08', '1 hour')  AS to_closing,
       business_add('cn', '2026-05-29 17:00+08', '2 days 30 minutes') AS days_and_minutes;
SELECT business_between('cn', '2026-05-29 17:00+08', '2026-06-01 10:00+08') AS forward,
       business_between('cn', '2026-06-01 10:00+08', '2026-05-29 17:00+08') AS backward,
       business_between('cn', '2026-05-01 00:00+08', '2026-06-01 00:00+08') AS may_2026;

-- Holidays and make-up working days (调休, "shifted working days").
INSERT INTO calendar_day (calendar, day, working, note) VALUES
    ('cn', '2026-06-01', false, 'a holiday on a Monday'),
    ('cn', '2026-05-30', true,  'a make-up working Saturday');
SELECT business_add('cn', '2026-05-29 17:00+08', '2 hours') AS friday_plus_2h,
       business_add('cn', '2026-05-31 10:00+08', '1 hour')  AS sunday_plus_1h;
-- A calendar edit is seen by the next statement, also inside one function.
DO $$
DECLARE t timestamptz;
BEGIN
    t := custier.business_add('cn', '2026-05-29 17:00+08', '2 hours');
    RAISE NOTICE 'before: %', t;
    DELETE FROM custier.calendar_day WHERE calendar = 'cn';
    t := custier.business_add('cn', '2026-05-29 17:00+08', '2 hours');
    RAISE NOTICE 'after: %', t;
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'undo';
EXCEPTION WHEN SQLSTATE 'P0001' THEN NULL;
END $$;

-- Midnight bounds: around the clock, and one working day a week.
INSERT INTO calendar (name, timezone, workdays, day_start, day_end) VALUES
    ('always', 'UTC', '{1,2,3,4,5,6,7}', '00:00', '24:00'),
    ('wednesdays', 'Europe/Berlin', '{3}', '20:00', '24:00');
SELECT business_add('always', '2026-05-29 17:00+00', '3 days 1 hour') AS always,
       business_add('wednesdays', '2026-05-29 17:00+00', '5 hours') AS wednesdays,
       business_between('wednesdays', '2026-01-01 00:00+00', '2027-01-01 00:00+00') AS wednesdays_2026;
-- Across a DST change (Berlin, 29 March 2026: 02:00 becomes 03:00).
INSERT INTO calendar (name, timezone, workdays, day_start, day_end)
VALUES ('night', 'Europe/Berlin', '{1,2,3,4,5,6,7}', '01:00', '04:00');
SELECT business_between('night', '2026-03-29 00:00 Europe/Berlin', '2026-03-30 00:00 Europe/Berlin') AS spring_day,
       business_between('night', '2026-10-25 00:00 Europe/Berlin', '2026-10-26 00:00 Europe/Berlin') AS autumn_day,
       business_add('night', '2026-03-29 01:30 Europe/Berlin', '1 hour') AT TIME ZONE 'Europe/Berlin' AS spring_1h;

-- Bad input: a clear error with its SQLSTATE, nothing changed.
SELECT pg_temp.fails($$SELECT business_add('nope', now(), '1 hour')$$);
SELECT pg_temp.fails($$SELECT business_between('nope', now(), now())$$);
SELECT pg_temp.fails($$SELECT business_add('cn', now(), '1 month')$$);
SELECT pg_temp.fails($$SELECT business_add('cn', now(), '-1 hour')$$);
SELECT pg_temp.fails($$SELECT business_add('cn', now(), '1 day -1 hour')$$);
SELECT pg_temp.fails($$SELECT business_between('cn', now(), 'infinity')$$);
SELECT business_add('cn', 'infinity', '1 hour') AS infinite_start, business_add('cn', now(), NULL) AS null_amount;
SELECT pg_temp.fails($$INSERT INTO calendar (name, workdays) VALUES ('bad', '{}')$$);
SELECT pg_temp.fails($$INSERT INTO calendar (name, workdays) VALUES ('bad', '{0,8}')$$);
SELECT pg_temp.fails($$INSERT INTO calendar (name, day_start, day_end) VALUES ('bad', '18:00', '09:00')$$);
SELECT pg_temp.fails($$INSERT INTO calendar (name, day_start, day_end) VALUES ('bad', '09:00', '09:00')$$);
SELECT pg_temp.fails($$INSERT INTO calendar (name, timezone) VALUES ('bad', 'Mars/Olympus_Mons')$$);
SELECT pg_temp.fails($$UPDATE calendar SET timezone = 'PST8PDT-nonsense' WHERE name = 'cn'$$);
SELECT pg_temp.fails($$INSERT INTO calendar_day VALUES ('nope', '2026-01-01', false)$$);
SELECT count(*) AS calendars FROM calendar;

-- Service groups of a policy, one per grade.
CREATE ROLE custier_test_svc_a;
CREATE ROLE custier_test_svc_b;
CREATE ROLE custier_test_svc_c;
CREATE ROLE custier_test_svc_cd;   -- serves C and D (through membership in C's role)
GRANT custier_test_svc_c TO custier_test_svc_cd;
INSERT INTO policy (name) VALUES ('retail');
INSERT INTO service_group (policy, tier, name, staff_role, calendar, meet_every,
                           urgent_response, general_response, resolution, description) VALUES
    ('retail', 'A', 'A: exclusive group', 'custier_test_svc_a', NULL, '1 month', '2 hours', '1 day', '3 days', 'executives and key account managers'),
    ('retail', 'B', 'B: core group', 'custier_test_svc_b', 'cn', '3 months', '4 hours', '2 days', '5 days', NULL),
    ('retail', 'C', 'C: general group', 'custier_test_svc_c', 'cn', NULL, '8 hours', '3 days', '10 days', NULL),
    ('retail', 'D', 'D: observation group', 'custier_test_svc_cd', 'cn', NULL, NULL, '5 days', NULL, NULL);
SELECT pg_temp.fails($$INSERT INTO service_group (policy, tier, name) VALUES ('retail', 'E', 'beyond the lowest grade')$$);
SELECT pg_temp.fails($$INSERT INTO service_group (policy, tier, name) VALUES ('nope', 'A', 'no policy')$$);
SELECT pg_temp.fails($$UPDATE service_group SET staff_role = 'custier_test_nobody' WHERE tier = 'A'$$);
SELECT pg_temp.fails($$UPDATE service_group SET urgent_response = '-1 hour' WHERE tier = 'A'$$);
SELECT pg_temp.fails($$UPDATE service_group SET resolution = '1 month' WHERE tier = 'B'$$);
SELECT pg_temp.fails($$UPDATE service_group SET meet_every = '0' WHERE tier = 'B'$$);
SELECT pg_temp.fails($$UPDATE service_group SET calendar = 'nope' WHERE tier = 'B'$$);
SELECT pg_temp.fails($$DELETE FROM calendar WHERE name = 'cn'$$);
-- Months are fine around the clock (wall-clock arithmetic).
UPDATE service_group SET resolution = '1 month' WHERE tier = 'A';

-- A managed customer table.
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, grade tier);
INSERT INTO customer VALUES (1, 'Ann', 'A'), (2, 'Bob', 'B'), (3, 'Cy', 'C'), (4, 'Di', 'D'), (5, 'Ed', NULL);
SELECT manage('customer', 'id', 'grade', 'retail');
SELECT id, group_of('customer', id::text) FROM customer ORDER BY id;
SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00') AS before_change \gset
UPDATE customer SET grade = 'C' WHERE id = 2;
SELECT group_of('customer', '2', :'before_change') AS then, group_of('customer', '2') AS now;

-- Deadlines follow the grade at opening: Bob's ticket opened before his
-- change is a B ticket (4 business hours), one opened now a C ticket (8).
SELECT service_deadline('customer', '2', :'before_change', 'urgent')
         = business_add('cn', :'before_change', '4 hours') AS b_deadline,
       service_deadline('customer', '2', now(), 'urgent')
         = business_add('cn', now(), '8 hours') AS c_deadline,
       service_deadline('customer', '1', now(), 'resolution') = now() + interval '1 month' AS a_wall_clock,
       service_deadline('customer', '4', now(), 'urgent') AS d_sets_none,
       service_deadline('customer', '5', now(), 'urgent') AS ungraded,
       service_deadline('customer', '2', '2000-01-01', 'urgent') AS before_any_grade;
SELECT pg_temp.fails($$SELECT service_deadline('customer', '1', now(), 'soon')$$);

-- Many tickets: after the first few rows the history is read once, in bulk;
-- the answers are those of tier_at row by row.
CREATE TABLE ticket (ticket_id int, customer_id int, opened timestamptz, resolved timestamptz);
INSERT INTO ticket
SELECT i, 1 + i % 5, CASE WHEN i % 2 = 0 THEN :'before_change'::timestamptz ELSE now() END - (i % 7) * interval '1 hour',
       now() + (i % 3 - 1) * interval '3 days'
  FROM generate_series(1, 200) i;
SELECT count(*) AS tickets,
       count(*) FILTER (WHERE service_deadline('customer', customer_id::text, opened, 'general') IS NOT DISTINCT FROM
              (SELECT CASE WHEN g.calendar IS NULL THEN t.opened + g.general_response
                           ELSE business_add(g.calendar, t.opened, g.general_response) END
                 FROM service_group g
                WHERE g.policy = 'retail' AND g.tier = tier_at('customer', t.customer_id::text, t.opened))) AS agree
  FROM ticket t;

-- on_time_rate(resolved, deadline): unresolved rows count once overdue.
SELECT on_time_rate(resolved, deadline) AS rate FROM (VALUES
    (timestamptz '2026-01-01 10:00', timestamptz '2026-01-01 12:00'),   -- on time
    ('2026-01-01 12:00', '2026-01-01 12:00'),                           -- on time, just
    ('2026-01-02 10:00', '2026-01-01 12:00'),                           -- late
    (NULL, '2026-01-01 12:00'),                                         -- open and overdue: late
    (NULL, 'infinity'),                                                 -- open, still has time: left out
    ('2026-01-01 10:00', NULL)) AS t(resolved, deadline);               -- no deadline: left out
SELECT on_time_rate(r, d) AS none FROM (SELECT NULL::timestamptz r, 'infinity'::timestamptz d) s;

-- Meetings: append-only; meetings_due.
INSERT INTO group_meeting (policy, tier, held_at, note) VALUES
    ('retail', 'A', '2020-01-01 10:00+08', 'long ago'),
    ('retail', 'B', now(), 'today');
SELECT policy, tier, name, meet_every, last_held = now() AS held_today, overdue FROM meetings_due ORDER BY tier DESC;
SELECT pg_temp.fails($$UPDATE group_meeting SET note = 'rewritten'$$);
SELECT pg_temp.fails($$DELETE FROM group_meeting$$);
SELECT pg_temp.fails($$TRUNCATE group_meeting$$);

-- group_change: the changes that moved customers between groups.
UPDATE customer SET grade = 'B' WHERE id = 3;
UPDATE customer SET name = 'Ann Smith' WHERE id = 1;   -- no grade change
SELECT customer_key, from_group, to_group FROM group_change ORDER BY history_id;

-- restrict: staff see and change only the customers of their groups.
SELECT pg_temp.fails($$SELECT restrict('ticket')$$);
SELECT restrict('customer');
SELECT polname, polpermissive, pg_get_expr(polqual, polrelid) AS using FROM pg_policy WHERE polrelid = 'customer'::regclass;
GRANT SELECT, UPDATE ON customer TO custier_test_svc_a, custier_test_svc_b, custier_test_svc_c, custier_test_svc_cd;
SET ROLE custier_test_svc_b;
SELECT id, grade FROM customer ORDER BY id;
-- once per statement: the visible grades are an InitPlan
EXPLAIN (COSTS OFF) SELECT * FROM customer;
UPDATE customer SET name = name || '!' RETURNING id;
RESET ROLE;
SET ROLE custier_test_svc_cd;   -- C (inherited) and D
SELECT id, grade FROM customer ORDER BY id;
RESET ROLE;
-- A grade change moves a customer from one group's view to the other's,
-- in the same transaction.
BEGIN;
UPDATE customer SET grade = 'D' WHERE id = 3;   -- B -> D
SET LOCAL ROLE custier_test_svc_b;
SELECT count(*) AS b_sees_cy FROM customer WHERE id = 3;
RESET ROLE;
SET LOCAL ROLE custier_test_svc_cd;
SELECT count(*) AS cd_sees_cy FROM customer WHERE id = 3;
ROLLBACK;
-- restrict and unrestrict are for table owners (granted by the DBA).
SELECT pg_temp.fails($$SET ROLE custier_test_svc_a; SELECT restrict('customer')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION restrict(regclass), unrestrict(regclass) TO custier_test_svc_a;
SELECT pg_temp.fails($$SET ROLE custier_test_svc_a; SELECT restrict('customer')$$);
RESET ROLE;
SELECT pg_temp.fails($$SET ROLE custier_test_svc_a; SELECT unrestrict('customer')$$);
RESET ROLE;
REVOKE EXECUTE ON FUNCTION restrict(regclass), unrestrict(regclass) FROM custier_test_svc_a;
SELECT unrestrict('customer');
SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = 'customer'::regclass) AS policies
  FROM pg_class WHERE oid = 'customer'::regclass;

SELECT unmanage('customer');
DROP TABLE customer, ticket;
DROP ROLE custier_test_svc_a, custier_test_svc_b, custier_test_svc_cd, custier_test_svc_c;
