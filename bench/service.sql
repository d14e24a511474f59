-- bench/service.sql — service groups:
--  (1) service_deadline over 1M tickets (grade at opening from the history,
--      business time for B-D, wall clock for A) against opened + interval
--      from a join of the same tickets to the customers and service_group.
--      Goal: ratio <= 3.
--  (2) business_add alone over 1M rows.  Goal: >= 2M rows/s.  Baseline for
--      scale: opened + interval.
--  (3) a full scan of a 1M-row restricted table by staff (one group: sees a
--      quarter; all four groups: sees all) against the owner's scan (no
--      row-level security).  Goal: ratio <= 1.3.
\set QUIET 1
DROP TABLE IF EXISTS bench_ticket, bench_customer, bench_rcustomer;
DELETE FROM custier.service_group WHERE policy IN ('bench_svc', 'bench_rls');
DELETE FROM custier.policy WHERE name IN ('bench_svc', 'bench_rls');
DELETE FROM custier.calendar WHERE name = 'bench_cn';
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_owner') THEN CREATE ROLE bench_owner; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_staff_b') THEN CREATE ROLE bench_staff_b; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_staff_all') THEN CREATE ROLE bench_staff_all; END IF;
END $$;
GRANT bench_staff_b TO bench_staff_all;
GRANT EXECUTE ON FUNCTION custier.manage(regclass, name, name, text, boolean), custier.restrict(regclass) TO bench_owner;
GRANT USAGE, CREATE ON SCHEMA public TO bench_owner;

INSERT INTO custier.calendar (name, timezone) VALUES ('bench_cn', 'Asia/Shanghai');
INSERT INTO custier.calendar_day (calendar, day, working)
SELECT 'bench_cn', d::date, extract(isodow FROM d) > 5
  FROM generate_series(timestamp '2026-01-01', '2028-12-31', '5 days') d;   -- holidays and make-up days
INSERT INTO custier.policy (name) VALUES ('bench_svc'), ('bench_rls');
INSERT INTO custier.service_group (policy, tier, name, staff_role, calendar, urgent_response, general_response, resolution) VALUES
    ('bench_svc', 'A', 'A', 'bench_staff_all', NULL,       '2 hours', '1 day',  '3 days'),
    ('bench_svc', 'B', 'B', 'bench_staff_b',   'bench_cn', '4 hours', '2 days', '5 days'),
    ('bench_svc', 'C', 'C', 'bench_staff_all', 'bench_cn', '8 hours', '3 days', '10 days'),
    ('bench_svc', 'D', 'D', 'bench_staff_all', 'bench_cn', '1 day',   '5 days', '15 days');
INSERT INTO custier.service_group (policy, tier, name, staff_role)
SELECT 'bench_rls', tier, name, staff_role FROM custier.service_group WHERE policy = 'bench_svc';

-- 100 000 customers, managed; a fifth change grade once; 1M tickets opened
-- over the next 30 days, so every ticket's grade is on record.
CREATE TABLE bench_customer (id int PRIMARY KEY, grade custier.tier);
INSERT INTO bench_customer SELECT i, custier.tier(1 + (hashint4(i) & 2147483647) % 4) FROM generate_series(1, 100000) i;
SELECT custier.manage('bench_customer', 'id', 'grade', 'bench_svc');
UPDATE bench_customer SET grade = custier.tier_up(grade) WHERE id % 5 = 0;
CREATE TABLE bench_ticket AS
SELECT i AS ticket_id, 1 + (hashint4(i * 3) & 2147483647) % 100000 AS customer_id,
       clock_timestamp() + interval '1 minute' + ((hashint4(i * 7) & 2147483647) % 2592000) * interval '1 second' AS opened
  FROM generate_series(1, 1000000) i;
VACUUM ANALYZE bench_customer, bench_ticket, custier.tier_history, custier.service_group;

-- 1M customers in a restricted table owned by bench_owner.
SET ROLE bench_owner;
CREATE TABLE bench_rcustomer (id int PRIMARY KEY, grade custier.tier, name text, region text, score numeric);
INSERT INTO bench_rcustomer
SELECT i, custier.tier(1 + (hashint4(i) & 2147483647) % 4), 'customer ' || i, (ARRAY['N','S','E','W'])[1 + i % 4], i % 1000
  FROM generate_series(1, 1000000) i;
SELECT custier.manage('bench_rcustomer', 'id', 'grade', 'bench_rls');
SELECT custier.restrict('bench_rcustomer');
GRANT SELECT ON bench_rcustomer TO bench_staff_b, bench_staff_all;
RESET ROLE;
VACUUM ANALYZE bench_rcustomer;

-- Executor time of q run as role r (EXPLAIN ANALYZE, TIMING OFF).
CREATE OR REPLACE FUNCTION bench.query_ms_as(r text, q text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE ms double precision;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    ms := bench.query_ms(q);
    RESET ROLE;
    RETURN ms;
END $$;
GRANT EXECUTE ON FUNCTION bench.query_ms(text), bench.query_ms_as(text, text) TO PUBLIC;
GRANT USAGE ON SCHEMA bench TO PUBLIC;
CREATE OR REPLACE FUNCTION bench.compare_as(title text, cand_role text, cand text, base_role text, base text,
                                            want text, runs int DEFAULT 5)
RETURNS TABLE (benchmark text, candidate_ms numeric, baseline_ms numeric, ratio numeric, goal text, verdict text)
LANGUAGE plpgsql AS $$
DECLARE c double precision[] := '{}'; b double precision[] := '{}'; i int; r numeric;
BEGIN
    PERFORM bench.query_ms_as(cand_role, cand);
    PERFORM bench.query_ms_as(base_role, base);
    FOR i IN 1 .. runs LOOP
        c := c || bench.query_ms_as(cand_role, cand);
        b := b || bench.query_ms_as(base_role, base);
    END LOOP;
    r := round((bench.median(c) / nullif(bench.median(b), 0))::numeric, 3);
    RETURN QUERY SELECT title, round(bench.median(c)::numeric, 1), round(bench.median(b)::numeric, 1), r, want,
                        CASE WHEN r <= trim(substr(want, 3))::numeric THEN 'met' ELSE 'MISSED' END;
END $$;
\unset QUIET

\echo '(1) service_deadline: 1M tickets, 100 000 customers (120 000 history rows); medians of 5 runs'
SELECT * FROM bench.compare('service_deadline vs opened + interval (join)',
    $$SELECT custier.service_deadline('bench_customer', t.customer_id::text, t.opened, 'general') FROM bench_ticket t$$,
    $$SELECT CASE WHEN g.calendar IS NULL THEN t.opened + g.general_response ELSE t.opened + g.general_response END
        FROM bench_ticket t JOIN bench_customer c ON c.id = t.customer_id
        JOIN custier.service_group g ON g.policy = 'bench_svc' AND g.tier = c.grade$$,
    '<= 3', 5);
\echo 'for scale: the history read alone (tier_history of the table, in key order)'
SELECT round(bench.query_ms($$SELECT h.customer_key, h.changed_at, h.new_tier FROM custier.tier_history h
                             WHERE h.tbl = 'bench_customer'::regclass
                             ORDER BY h.customer_key, h.changed_at DESC, h.history_id DESC$$)::numeric, 1) AS history_read_ms;

\echo '(2) business_add over 1M rows (4 business hours; Shanghai Mon-Fri 09-18, weekly exceptions)'
SELECT * FROM bench.compare('business_add vs opened + interval',
    $$SELECT custier.business_add('bench_cn', opened, '4 hours') FROM bench_ticket$$,
    $$SELECT opened + interval '4 hours' FROM bench_ticket$$, NULL, 5);
SELECT round(1000000 / (bench.median(ARRAY[
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '4 hours') FROM bench_ticket$$),
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '4 hours') FROM bench_ticket$$),
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '4 hours') FROM bench_ticket$$)]) / 1000))
       AS business_add_rows_per_s,
       '>= 2000000' AS goal;
SELECT round(1000000 / (bench.median(ARRAY[
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '3 days 4 hours') FROM bench_ticket$$),
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '3 days 4 hours') FROM bench_ticket$$),
           bench.query_ms($$SELECT custier.business_add('bench_cn', opened, '3 days 4 hours') FROM bench_ticket$$)]) / 1000))
       AS rows_per_s_3_days_4_hours;

\echo '(3) full scan of 1M restricted rows: staff (RLS policy, InitPlan) vs owner (no RLS); medians of 5 runs'
SELECT * FROM bench.compare_as('floor: owner with the same row test, no RLS', 'bench_owner',
    'SELECT count(*) FROM bench_rcustomer WHERE custier._tier_in(grade, 4)', 'bench_owner', 'SELECT count(*) FROM bench_rcustomer', '<= 1.3')
UNION ALL
SELECT * FROM bench.compare_as('floor: owner with any row test (grade IS NOT NULL)', 'bench_owner',
    'SELECT count(*) FROM bench_rcustomer WHERE grade IS NOT NULL', 'bench_owner', 'SELECT count(*) FROM bench_rcustomer', '<= 1.3')
UNION ALL
SELECT * FROM bench.compare_as('count(*): staff of B (sees 1/4) vs owner', 'bench_staff_b',
    'SELECT count(*) FROM bench_rcustomer', 'bench_owner', 'SELECT count(*) FROM bench_rcustomer', '<= 1.3')
UNION ALL
SELECT * FROM bench.compare_as('count(*): staff of A-D (sees all) vs owner', 'bench_staff_all',
    'SELECT count(*) FROM bench_rcustomer', 'bench_owner', 'SELECT count(*) FROM bench_rcustomer', '<= 1.3')
UNION ALL
SELECT * FROM bench.compare_as('SELECT *: staff of B vs owner', 'bench_staff_b',
    'SELECT * FROM bench_rcustomer', 'bench_owner', 'SELECT * FROM bench_rcustomer', '<= 1.3')
UNION ALL
SELECT * FROM bench.compare_as('SELECT *: staff of A-D vs owner', 'bench_staff_all',
    'SELECT * FROM bench_rcustomer', 'bench_owner', 'SELECT * FROM bench_rcustomer', '<= 1.3');
SET ROLE bench_staff_b;
EXPLAIN (COSTS OFF) SELECT count(*) FROM bench_rcustomer;
RESET ROLE;

\set QUIET 1
SET ROLE bench_owner;
SELECT custier.unmanage('bench_rcustomer');
DROP TABLE bench_rcustomer;
RESET ROLE;
SELECT custier.unmanage('bench_customer');
DROP TABLE bench_ticket, bench_customer;
\unset QUIET
