-- bench/allocation.sql — custier.allocate on 1M customers and 200 account
-- owners (8 regions, 6 industries, every kind of specificity, some with
-- grade ranges and capacities):
--   allocate of 1M unassigned customers vs an UPDATE that sets the same
--   owners from a precomputed mapping (joined by key), on the same table
--   with the same triggers (custier's history and owner history)   goal <= 3
-- and, for information: a rebalance after 10% of the owners leave, against
-- the same baseline; and what allocate's own read of the table costs (the
-- scan it runs as the table owner, by block ranges).
\set QUIET 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_alloc, bench_alloc_map, bench_alloc_mapping;
DELETE FROM custier.policy WHERE name IN ('bench_alloc', 'bench_alloc_map');
INSERT INTO custier.policy (name) VALUES ('bench_alloc'), ('bench_alloc_map');
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = format('bench_am%s', i)) THEN
            EXECUTE format('CREATE ROLE bench_am%s NOLOGIN', i);
        END IF;
    END LOOP;
END $$;

CREATE TABLE bench_alloc (id int PRIMARY KEY, name text NOT NULL, grade tier, region text, industry text, am name);
INSERT INTO bench_alloc
SELECT i, 'customer ' || i, custier.tier(1 + (hashint4(i) & 2147483647) % 4),
       'R' || (hashint4(i * 3) & 2147483647) % 8, 'I' || (hashint4(i * 5) & 2147483647) % 6, NULL
  FROM generate_series(1, 1000000) i;
-- A copy on which allocate runs once: its result is the baseline's mapping.
CREATE TABLE bench_alloc_map (LIKE bench_alloc INCLUDING ALL);
INSERT INTO bench_alloc_map SELECT * FROM bench_alloc;
VACUUM ANALYZE bench_alloc, bench_alloc_map;
SELECT custier.manage('bench_alloc', 'id', 'grade', 'bench_alloc');
SELECT custier.manage('bench_alloc_map', 'id', 'grade', 'bench_alloc_map');
SELECT custier.set_allocation('bench_alloc', 'am', 'region', 'industry');
SELECT custier.set_allocation('bench_alloc_map', 'am', 'region', 'industry');
-- 60 region+industry, 50 region, 40 industry, 50 anywhere; a third serve A/B
-- only or C/D only; a quarter have a capacity.
INSERT INTO custier.account_owner (policy, owner, region, industry, tiers, capacity)
SELECT p, format('bench_am%s', i),
       CASE WHEN i <= 110 THEN 'R' || i % 8 END,
       CASE WHEN i <= 60 OR i BETWEEN 111 AND 150 THEN 'I' || i % 6 END,
       CASE i % 3 WHEN 0 THEN '{A,B}'::tier[] WHEN 1 THEN NULL ELSE '{C,D}'::tier[] END,
       CASE WHEN i % 4 = 0 THEN 3000 END
  FROM generate_series(1, 200) i, unnest(ARRAY['bench_alloc', 'bench_alloc_map']) p;
SELECT count(*) FROM custier.allocate('bench_alloc_map');
CREATE TABLE bench_alloc_mapping AS SELECT id, am FROM bench_alloc_map;
ALTER TABLE bench_alloc_mapping ADD PRIMARY KEY (id);
VACUUM ANALYZE bench_alloc_mapping;
\unset QUIET
SELECT sum(n) AS customers, sum(n) FILTER (WHERE am IS NOT NULL) AS assigned, count(am) AS owners_used,
       max(n) FILTER (WHERE am IS NOT NULL) AS max_load, min(n) FILTER (WHERE am IS NOT NULL) AS min_load
  FROM (SELECT am, count(*) AS n FROM bench_alloc_mapping GROUP BY am) l;

SELECT * FROM bench.compare('allocate 1M unassigned over 200 owners vs UPDATE from the mapping',
    $$SELECT count(*) FROM custier.allocate('bench_alloc')$$,
    $$UPDATE bench_alloc c SET am = m.am FROM bench_alloc_mapping m WHERE m.id = c.id AND m.am IS NOT NULL$$,
    '<= 3', 3, 'statement')
UNION ALL
SELECT * FROM bench.compare('allocate''s read of the table (as its owner, by block ranges) vs the same columns in one scan',
    $$SELECT count(*) FROM (SELECT t.ctid, t.grade, format('%s', t.id), t.region, t.industry, t.am::text FROM bench_alloc t) s$$,
    $$SELECT count(*) FROM (SELECT t.ctid, t.grade, t.id::text, t.region, t.industry, t.am::text FROM bench_alloc t) s$$,
    NULL, 3, 'statement');

-- Rebalance after 10% of the owners leave, from the allocated state.
\set QUIET 1
UPDATE bench_alloc c SET am = m.am FROM bench_alloc_mapping m WHERE m.id = c.id AND m.am IS NOT NULL;
UPDATE custier.account_owner SET active = false WHERE policy = 'bench_alloc' AND owner IN (SELECT format('bench_am%s', i) FROM generate_series(10, 200, 10) i);
VACUUM ANALYZE bench_alloc;
\unset QUIET
BEGIN;
SELECT count(*) AS moved_by_rebalance FROM (SELECT * FROM custier.allocate('bench_alloc', true)) r \gset
ROLLBACK;
\echo customers moved by a rebalance after 20 of 200 owners left: :moved_by_rebalance
SELECT * FROM bench.compare('rebalance after 10% of owners leave vs UPDATE of 1M from the mapping',
    $$SELECT count(*) FROM custier.allocate('bench_alloc', true)$$,
    $$UPDATE bench_alloc c SET am = m.am FROM bench_alloc_mapping m WHERE m.id = c.id AND m.am IS NOT NULL$$,
    NULL, 3, 'statement');
\set QUIET 1
SELECT custier.unmanage('bench_alloc');
SELECT custier.unmanage('bench_alloc_map');
DROP TABLE bench_alloc, bench_alloc_map, bench_alloc_mapping;
DELETE FROM custier.policy WHERE name IN ('bench_alloc', 'bench_alloc_map');
DO $$
BEGIN
    FOR i IN 1 .. 200 LOOP
        EXECUTE format('DROP ROLE bench_am%s', i);
    END LOOP;
END $$;
\unset QUIET
