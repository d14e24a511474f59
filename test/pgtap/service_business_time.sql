-- pgTAP: business_add and business_between against a slow reference in SQL
-- (doc/service-groups.md).  The reference is the definition itself: every minute of two
-- 60-day windows around the 2026 DST changes is tested one by one ("is its
-- wall-clock time, in the calendar's zone, within day_start..day_end of a
-- working day?"), numbered, and looked up.  Thousands of random cases, seeded;
-- the seed is printed (re-run one with: SET custier.test_seed = '<seed>').
\ir setup.inc

SELECT plan(9);

-- Zones with DST (Berlin, New York) with hours around the change, make-up
-- days on the Sundays the clocks change, one working day a week, midnight
-- bounds (00:00-24:00, 22:00-24:00), holidays.
INSERT INTO custier.calendar (name, timezone, workdays, day_start, day_end) VALUES
    ('ber',  'Europe/Berlin',    '{1,2,3,4,5}',     '01:00', '04:00'),
    ('ny',   'America/New_York', '{1,2,3,4,5,6,7}', '00:00', '24:00'),
    ('nyx',  'America/New_York', '{1,2,3,4,5,6,7}', '01:30', '02:30'),
    ('one',  'Asia/Shanghai',    '{3}',             '09:00', '18:00'),
    ('cn',   'Asia/Shanghai',    '{1,2,3,4,5}',     '09:00', '18:00'),
    ('late', 'Europe/Berlin',    '{5,6,7}',         '22:00', '24:00');
INSERT INTO custier.calendar_day (calendar, day, working, note) VALUES
    ('ber', '2026-03-29', true,  'clocks go forward: worked'),
    ('ber', '2026-10-25', true,  'clocks go back: worked'),
    ('ber', '2026-03-30', false, 'holiday'),
    ('ny',  '2026-03-10', false, 'holiday'),
    ('ny',  '2026-11-03', false, 'holiday'),
    ('one', '2026-03-04', false, 'holiday on the one working day'),
    ('one', '2026-03-07', true,  'make-up Saturday'),
    ('one', '2026-10-14', false, 'holiday'),
    ('one', '2026-10-17', true,  'make-up Saturday'),
    ('cn',  '2026-04-06', false, 'Qingming'),
    ('cn',  '2026-10-01', false, 'National Day'), ('cn', '2026-10-02', false, 'National Day'),
    ('cn',  '2026-10-05', false, 'National Day'), ('cn', '2026-10-06', false, 'National Day'),
    ('cn',  '2026-10-07', false, 'National Day'), ('cn', '2026-10-10', true,  'make-up Saturday'),
    ('late', '2026-03-28', false, 'holiday'), ('late', '2026-10-29', true, 'make-up Thursday');

CREATE TEMP TABLE win (w int PRIMARY KEY, lo timestamptz, hi timestamptz);
INSERT INTO win VALUES (1, '2026-02-25 00:00+00', '2026-04-26 00:00+00'),
                       (2, '2026-10-01 00:00+00', '2026-11-30 00:00+00');

-- Business minutes, numbered per calendar and window.
CREATE TEMP TABLE bm AS
SELECT c.name AS cal, w.w, m,
       row_number() OVER (PARTITION BY c.name, w.w ORDER BY m) AS rn
  FROM custier.calendar c CROSS JOIN win w
 CROSS JOIN LATERAL generate_series(w.lo, w.hi - interval '1 minute', interval '1 minute') m
 CROSS JOIN LATERAL (SELECT m AT TIME ZONE c.timezone AS lt) l
  LEFT JOIN custier.calendar_day d ON d.calendar = c.name AND d.day = l.lt::date
 WHERE coalesce(d.working, extract(isodow FROM l.lt)::int = ANY (c.workdays))
   AND l.lt::time >= c.day_start AND l.lt::time < c.day_end;
CREATE INDEX ON bm (cal, w, m);
CREATE INDEX ON bm (cal, w, rn);
ANALYZE bm;

-- rank of the first business minute at or after t (last + 1 when none)
CREATE FUNCTION pg_temp.rank_ge(c text, ww int, t timestamptz) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT rn FROM bm WHERE cal = c AND w = ww AND m >= t ORDER BY m LIMIT 1),
                    (SELECT max(rn) + 1 FROM bm WHERE cal = c AND w = ww))
$$;

SELECT cmp_ok((SELECT count(*) FROM bm), '>', 100000::bigint, 'the reference has its minutes');

-- The seed: random unless custier.test_seed is set.
SELECT coalesce(nullif(current_setting('custier.test_seed', true), ''), random()::text) AS seed \gset
SELECT diag('seed ' || :'seed');
SELECT setseed(:'seed'::float8);

CREATE TEMP TABLE cases AS
SELECT i, cal, w, start, u, use_days
  FROM (SELECT i, (ARRAY['ber','ny','nyx','one','cn','late'])[1 + floor(random() * 6)::int] AS cal,
               1 + floor(random() * 2)::int AS w, random() AS s, random() AS u, random() < 0.4 AS use_days
          FROM generate_series(1, 4000) i) r
  JOIN win USING (w)
 CROSS JOIN LATERAL (SELECT win.lo + floor(r.s * 30 * 1440) * interval '1 minute'
                            AS start) x;
-- Some starts exactly at openings, closings and the DST changes.
INSERT INTO cases
SELECT 10000 + row_number() OVER (), c.cal, c.w, t, random(), random() < 0.4
  FROM (SELECT DISTINCT cal, w FROM bm) c,
       unnest(ARRAY['2026-03-29 00:59+00', '2026-03-29 01:00+00', '2026-03-29 02:00+01', '2026-03-29 03:00+02',
                    '2026-03-08 06:59+00', '2026-03-08 07:00+00', '2026-03-08 07:30+00', '2026-03-08 08:00+00',
                    '2026-10-25 00:00+00', '2026-10-25 00:59+00', '2026-10-25 01:00+00', '2026-10-25 02:00+00',
                    '2026-11-01 05:00+00', '2026-11-01 05:30+00', '2026-11-01 06:00+00', '2026-11-01 06:30+00',
                    '2026-03-06 09:00+08', '2026-03-06 18:00+08', '2026-10-09 17:59+08', '2026-03-27 23:00+01',
                    '2026-03-28 00:00+01']::timestamptz[]) t
 WHERE t >= (SELECT lo FROM win WHERE win.w = c.w) AND t < (SELECT lo + interval '30 days' FROM win WHERE win.w = c.w);

-- Amounts in minutes: up to 6000 (weeks for the short calendars), never past
-- the window's last business minute; some written with days.
CREATE TEMP TABLE add_cases AS
SELECT c.*, r0, n, amount,
       CASE WHEN n = 0 THEN (SELECT m FROM bm WHERE bm.cal = c.cal AND bm.w = c.w AND rn = r0 + 1)
            ELSE (SELECT m FROM bm WHERE bm.cal = c.cal AND bm.w = c.w AND rn = r0 + n) + interval '1 minute' END AS expected
  FROM cases c
 CROSS JOIN LATERAL (SELECT pg_temp.rank_ge(c.cal, c.w, c.start) - 1 AS r0,
                            (SELECT max(rn) FROM bm WHERE bm.cal = c.cal AND bm.w = c.w) AS top) r
 CROSS JOIN LATERAL (SELECT CASE WHEN c.i % 10 = 0 THEN 0
                                 ELSE floor(c.u * least(6000, r.top - r.r0 - 1))::bigint END AS n) nn
 CROSS JOIN LATERAL (SELECT extract(epoch FROM k.day_end - k.day_start)::bigint / 60 AS daylen
                       FROM custier.calendar k WHERE k.name = c.cal) k
 CROSS JOIN LATERAL (SELECT CASE WHEN c.use_days
                                 THEN make_interval(days => (nn.n / k.daylen)::int, mins => (nn.n % k.daylen)::int)
                                 ELSE make_interval(mins => nn.n::int) END AS amount) a;

SELECT cmp_ok((SELECT count(*) FROM add_cases WHERE expected IS NOT NULL), '>=', 4000::bigint,
              'thousands of business_add cases have a reference answer');
SELECT is_empty($$
    SELECT i, cal, start, amount, expected, custier.business_add(cal, start, amount) AS got
      FROM add_cases
     WHERE custier.business_add(cal, start, amount) IS DISTINCT FROM expected
     ORDER BY i LIMIT 10
$$, 'business_add agrees with the minute-by-minute reference (DST, holidays, make-up days, midnight bounds, zero)');
SELECT cmp_ok((SELECT count(*) FROM add_cases WHERE amount >= interval '1 day' AND cal IN ('one', 'ber', 'late')),
              '>', 50::bigint, 'some of them span weeks of a short calendar');

-- business_between: both ways, within a window.
CREATE TEMP TABLE between_cases AS
SELECT c.i, c.cal, c.w, c.start AS t1, t2,
       (pg_temp.rank_ge(c.cal, c.w, t2) - pg_temp.rank_ge(c.cal, c.w, c.start)) * interval '1 minute' AS expected
  FROM cases c JOIN win USING (w)
 CROSS JOIN LATERAL (SELECT greatest(win.lo, least(win.hi, c.start + floor((random() - 0.4) * 20 * 1440) * interval '1 minute')) AS t2) x;
SELECT is_empty($$
    SELECT i, cal, t1, t2, expected, custier.business_between(cal, t1, t2) AS got
      FROM between_cases
     WHERE custier.business_between(cal, t1, t2) IS DISTINCT FROM expected
     ORDER BY i LIMIT 10
$$, 'business_between agrees with the reference, negative when t2 < t1');
SELECT cmp_ok((SELECT count(*) FROM between_cases WHERE t2 < t1), '>', 500::bigint, 'a good share of them run backwards');

-- Round trips: business_between(start, business_add(start, x)) = x whenever
-- the start is in business time.
SELECT is_empty($$
    SELECT i, cal, start, amount
      FROM add_cases a
     WHERE n > 0 AND EXISTS (SELECT FROM bm WHERE bm.cal = a.cal AND bm.w = a.w AND bm.m = a.start)
       AND custier.business_between(cal, start, custier.business_add(cal, start, amount))
           <> n * interval '1 minute'
     LIMIT 10
$$, 'business_between undoes business_add');

-- The DST days themselves: a 01:00-04:00 Berlin window is 2 hours long on
-- 29 March 2026 and 4 hours on 25 October 2026.
SELECT results_eq($$
    SELECT custier.business_between('ber', '2026-03-29 00:00 Europe/Berlin', '2026-03-30 00:00 Europe/Berlin'),
           custier.business_between('ber', '2026-10-25 00:00 Europe/Berlin', '2026-10-26 00:00 Europe/Berlin')
$$, $$ VALUES (interval '2 hours', interval '4 hours') $$, 'business hours follow the clocks on DST days');
SELECT results_eq($$
    SELECT custier.business_add('ber', '2026-03-29 01:30 Europe/Berlin', '1 hour'),
           custier.business_add('ber', '2026-10-25 02:30+02', '1 hour')
$$, $$ VALUES (timestamptz '2026-03-29 03:30+02', timestamptz '2026-10-25 02:30+01') $$,
   'an hour across the change ends an hour of real time later');

SELECT * FROM finish();
ROLLBACK;
