-- bench/insight.sql — insight over 1M customers and 2M history rows (every
-- customer graded once, then every grade changed once); "a past moment" is
-- between the two, so each customer's newer history row must be passed over.
--   distribution at a past moment vs SELECT grade, count(*) … GROUP BY grade
--   on the managed table                                          goal <= 3
--   tiers_at at a past moment vs reading (key, grade) from the table
--                                                                 goal <= 5
-- and, for information: the same two as a BI reader (SELECT on the table
-- only), tiers_at the way 0.1.0 ran it (custier._tiers_at, the SQL query),
-- and migration/kpi between the past moment and now.
\set QUIET 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_insight;
DELETE FROM custier.policy WHERE name = 'bench_insight';
INSERT INTO custier.policy (name) VALUES ('bench_insight');
CREATE TABLE bench_insight (id int PRIMARY KEY, grade tier);
SELECT custier.manage('bench_insight', 'id', 'grade', 'bench_insight');
INSERT INTO bench_insight SELECT i, custier.tier(1 + i % 4) FROM generate_series(1, 1000000) i;
SELECT pg_sleep(0.01);
SELECT clock_timestamp() AS past \gset
SELECT pg_sleep(0.01);
UPDATE bench_insight SET grade = CASE WHEN id % 2 = 0 THEN tier_down(grade) ELSE tier_up(grade) END;
VACUUM ANALYZE bench_insight, custier.tier_history;
DROP ROLE IF EXISTS bench_bi_reader;
CREATE ROLE bench_bi_reader;
GRANT SELECT ON bench_insight TO bench_bi_reader;
GRANT USAGE ON SCHEMA bench TO bench_bi_reader;
\unset QUIET
SELECT count(*) AS history_rows FROM custier.tier_history WHERE tbl = 'bench_insight'::regclass;
\echo 'executor time, medians of 5 runs (EXPLAIN ANALYZE, TIMING OFF), serial'
SELECT * FROM bench.compare('distribution at a past moment vs GROUP BY on the table',
    format($$SELECT * FROM custier.distribution('bench_insight', %L)$$, :'past'),
    $$SELECT grade, count(*) FROM bench_insight GROUP BY grade$$, '<= 3', 5)
UNION ALL
SELECT * FROM bench.compare('tiers_at at a past moment vs reading the table',
    format($$SELECT * FROM custier.tiers_at('bench_insight', %L)$$, :'past'),
    $$SELECT id::text, grade FROM bench_insight$$, '<= 5', 5)
UNION ALL
SELECT * FROM bench.compare('tiers_at now vs reading the table',
    $$SELECT * FROM custier.tiers_at('bench_insight', 'infinity')$$,
    $$SELECT id::text, grade FROM bench_insight$$, '<= 5', 5)
UNION ALL
SELECT * FROM bench.compare('0.1.0 tiers_at query (custier._tiers_at) vs reading the table',
    format($$SELECT * FROM custier._tiers_at('bench_insight', %L)$$, :'past'),
    $$SELECT id::text, grade FROM bench_insight$$, NULL, 3)
UNION ALL
SELECT * FROM bench.compare('migration past -> now vs GROUP BY on the table',
    format($$SELECT * FROM custier.migration('bench_insight', %L, now())$$, :'past'),
    $$SELECT grade, count(*) FROM bench_insight GROUP BY grade$$, NULL, 3)
UNION ALL
SELECT * FROM bench.compare('kpi past -> now vs GROUP BY on the table',
    format($$SELECT * FROM custier.kpi('bench_insight', %L, now())$$, :'past'),
    $$SELECT grade, count(*) FROM bench_insight GROUP BY grade$$, NULL, 3);
SET ROLE bench_bi_reader;
SELECT * FROM bench.compare('distribution at a past moment as a BI reader vs GROUP BY',
    format($$SELECT * FROM custier.distribution('bench_insight', %L)$$, :'past'),
    $$SELECT grade, count(*) FROM bench_insight GROUP BY grade$$, '<= 3', 5)
UNION ALL
SELECT * FROM bench.compare('tiers_at at a past moment as a BI reader vs reading the table',
    format($$SELECT * FROM custier.tiers_at('bench_insight', %L)$$, :'past'),
    $$SELECT id::text, grade FROM bench_insight$$, '<= 5', 5);
RESET ROLE;
\set QUIET 1
SELECT custier.unmanage('bench_insight');
DROP TABLE bench_insight;
DROP OWNED BY bench_bi_reader;
DROP ROLE bench_bi_reader;
DELETE FROM custier.policy WHERE name = 'bench_insight';
\unset QUIET
