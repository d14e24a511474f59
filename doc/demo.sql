-- doc/demo.sql — what `make demo` runs.  It grows with each module.
\set QUIET 1
\pset footer off
CREATE EXTENSION custier;
\unset QUIET

\echo '--- 1. The tier type: A is the best grade, and compares greatest'
CREATE TABLE customer (id int PRIMARY KEY, name text, grade tier);
INSERT INTO customer
SELECT i, 'customer ' || i, tier(1 + (hashint4(i) & 2147483647) % 4)
FROM generate_series(1, 1000) i;
CREATE INDEX ON customer (grade);

SELECT grade, count(*) AS customers FROM customer GROUP BY grade ORDER BY grade DESC;
SELECT id, name, grade FROM customer WHERE grade >= 'B' ORDER BY grade DESC, id LIMIT 5;
SELECT max(grade) AS best, min(grade) AS worst FROM customer;
SELECT 'A'::tier - 'C'::tier AS "A minus C", tier_up('C') AS "C up one", tier_down('C', 5) AS "C down five",
       rank('B'::tier) AS "rank of B", tier(3) AS "tier 3";
