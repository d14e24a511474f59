-- bench/tier.sql — ORDER BY and GROUP BY over 10M grades: custier.tier
-- against the same letters stored as "char" and as text (database collation).
-- Goal: tier no slower than "char" (ratio <= 1.0, noise allowed to 1.05) and
-- at least 1.5x faster than text (ratio <= 0.667).  GROUP BY is measured as
-- the planner does it (hash aggregation) and sorted (enable_hashagg = off):
-- a hash aggregate spends most of its time in the executor, not in the type,
-- so there even "char" is only ~1.2x faster than text.
\set QUIET 1
DROP TABLE IF EXISTS bench_tier;
CREATE TABLE bench_tier AS
SELECT g::tier AS t, g::text::"char" AS c, g::text AS x
FROM (SELECT custier.tier(1 + (hashint4(i) & 2147483647) % 4) AS g
      FROM generate_series(1, 10000000) i) s;
VACUUM ANALYZE bench_tier;
SET work_mem = '1GB';
\unset QUIET
\echo '10M rows; medians of 3 runs; ratio = tier / baseline'
SELECT * FROM bench.compare('ORDER BY: tier vs "char"',
    'SELECT t FROM bench_tier ORDER BY t', 'SELECT c FROM bench_tier ORDER BY c', '<= 1.05', 3)
UNION ALL
SELECT * FROM bench.compare('ORDER BY: tier vs text',
    'SELECT t FROM bench_tier ORDER BY t', 'SELECT x FROM bench_tier ORDER BY x', '<= 0.667', 3)
UNION ALL
SELECT * FROM bench.compare('GROUP BY: tier vs "char"',
    'SELECT t, count(*) FROM bench_tier GROUP BY t', 'SELECT c, count(*) FROM bench_tier GROUP BY c', '<= 1.05', 3)
UNION ALL
SELECT * FROM bench.compare('GROUP BY: tier vs text',
    'SELECT t, count(*) FROM bench_tier GROUP BY t', 'SELECT x, count(*) FROM bench_tier GROUP BY x', '<= 0.667', 3)
UNION ALL
SELECT * FROM bench.compare('GROUP BY (hash): "char" vs text, for scale',
    'SELECT c, count(*) FROM bench_tier GROUP BY c', 'SELECT x, count(*) FROM bench_tier GROUP BY x', NULL, 3);
SET enable_hashagg = off;
SELECT * FROM bench.compare('GROUP BY (sorted): tier vs "char"',
    'SELECT t, count(*) FROM bench_tier GROUP BY t', 'SELECT c, count(*) FROM bench_tier GROUP BY c', '<= 1.05', 3)
UNION ALL
SELECT * FROM bench.compare('GROUP BY (sorted): tier vs text',
    'SELECT t, count(*) FROM bench_tier GROUP BY t', 'SELECT x, count(*) FROM bench_tier GROUP BY x', '<= 0.667', 3);
RESET enable_hashagg;
DROP TABLE bench_tier;
