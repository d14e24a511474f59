-- pgTAP property: run_evaluation and evaluate look back on earlier
-- evaluations by looking up the keys of the customers that need it, or,
-- when a quarter of a batch or more does (and at least 64), by reading one
-- range of evaluation_result's primary key (the least to the greatest of
-- their keys, byte for byte, up to twice the batch plus 1000 rows) and
-- looking up by key the customers not found there.  Whatever the batch
-- sizes of the earlier runs, customers coming and going between runs, a
-- text key whose collation orders the batches, a collation changed between
-- runs (the earlier runs then took the keys in another order), and integer
-- keys whose text is not in their order (a batch's range then holds more
-- than the bound: the read stops short), every result row must carry the
-- proposed tier that looking each customer up in every earlier evaluation
-- gives.  Random, seeded (the seed is printed).  Which runs take which
-- path: runs 4, 6 and 7 and the integer runs read ranges (batches of 290
-- and more, most customers moving); the others look keys up; the integer
-- runs' first batches (keys '1' to '500' span '1' to '99') stop at the bound.
-- run_evaluation commits, so this file runs WITHOUT a wrapping transaction
-- and cleans up after itself.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap,
       'lookback_' || pg_backend_pid() AS p \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
SET search_path = public, custier;
SET TimeZone = 'UTC';

SELECT plan(22);
\set seed 0.4242
SELECT diag('seed ' || :seed);
SELECT setseed(:seed);

-- Text keys in the "C" collation, where 'B10' < 'B9' and 'a' > 'Z'.
CREATE TABLE lookback_cust (k text COLLATE "C" PRIMARY KEY, grade tier);
CREATE TABLE lookback_metrics (k text COLLATE "C" PRIMARY KEY, amount numeric);
INSERT INTO lookback_cust
SELECT pfx || i, (ARRAY['A', 'B', 'C', 'D'])[1 + floor(random() * 4)::int]::tier
FROM generate_series(1, 150) i, unnest(ARRAY['B', 'a', 'Z']) pfx;
INSERT INTO custier.policy (name, upgrade_after, downgrade_after, metrics_source, key_column)
VALUES (:'p', 3, 3, 'lookback_metrics', 'k');
INSERT INTO custier.policy_criterion (policy, metric) VALUES (:'p', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    (:'p', 'amount', 'A', 1000), (:'p', 'amount', 'B', 500), (:'p', 'amount', 'C', 100);
SELECT custier.manage('lookback_cust', 'k', 'grade', :'p');

-- The rule, looked up customer by customer (what 0.1.0 did).
CREATE FUNCTION pg_temp.lookback_mismatches(p text, as_of timestamptz) RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*)
    FROM custier.evaluation e
    JOIN custier.evaluation_result r ON r.evaluation_id = e.evaluation_id
    WHERE e.policy = p AND e.as_of = $2
      AND r.proposed_tier IS DISTINCT FROM custier.proposed_tier(r.current_tier, r.qualified_tier,
            ARRAY(SELECT o.qualified_tier FROM unnest(custier._earlier_evaluations(p, $2)) WITH ORDINALITY x(id, n)
                  LEFT JOIN custier.evaluation_result o ON o.evaluation_id = x.id AND o.customer_key = r.customer_key
                  ORDER BY x.n),
            3, 3, NULL)
$$;

-- Six runs, each with new metrics, a different batch size, and customers
-- added and removed (new keys fall between old ones).
CREATE TEMP TABLE lookback_run (n int, as_of timestamptz, batch int);
INSERT INTO lookback_run VALUES (1, '2026-01-01', 7), (2, '2026-02-01', 50), (3, '2026-03-01', 13),
    (4, '2026-04-01', 1000), (5, '2026-05-01', 3), (6, '2026-06-01', 290);
\set n 1
\ir evaluation_lookback_run.inc
\set n 2
\ir evaluation_lookback_run.inc
\set n 3
\ir evaluation_lookback_run.inc
\set n 4
\ir evaluation_lookback_run.inc
\set n 5
\ir evaluation_lookback_run.inc
\set n 6
\ir evaluation_lookback_run.inc
-- The key's order changes: ICU's root collation puts 'a1' next to 'B1'
-- and 'Z1', where "C" put all of 'B…' before 'Z…' before 'a…'.
-- (custier's triggers name the key column: unmanaged while it changes.)
SELECT custier.unmanage('lookback_cust');
ALTER TABLE lookback_metrics ALTER COLUMN k TYPE text COLLATE "und-x-icu";
ALTER TABLE lookback_cust ALTER COLUMN k TYPE text COLLATE "und-x-icu";
SELECT custier.manage('lookback_cust', 'k', 'grade', :'p');
INSERT INTO lookback_run VALUES (7, '2026-07-01', 400);
\set n 7
\ir evaluation_lookback_run.inc

-- evaluate() looks back the same way, without writing anything.
SELECT is((SELECT count(*) FROM custier.evaluate(:'p', '2026-08-01') v
           WHERE v.proposed_tier IS DISTINCT FROM custier.proposed_tier(v.current_tier, v.qualified_tier,
                 ARRAY(SELECT o.qualified_tier FROM unnest(custier._earlier_evaluations(:'p', '2026-08-01')) WITH ORDINALITY x(id, n)
                       LEFT JOIN custier.evaluation_result o ON o.evaluation_id = x.id AND o.customer_key = v.customer_key
                       ORDER BY x.n),
                 3, 3, NULL)),
          0::bigint, 'evaluate(): every proposed tier is what a per-customer look-back gives');
SELECT is((SELECT count(*) FROM custier.evaluate(:'p', '2026-08-01')), (SELECT count(*) FROM lookback_cust),
          'evaluate(): one row per customer');

-- Integer keys: 3000 customers in batches of 500; every grade random, so
-- that most customers move and every batch reads a range.
CREATE TABLE lookback_int (id int PRIMARY KEY, grade tier);
CREATE TABLE lookback_int_metrics (id int PRIMARY KEY, amount numeric);
INSERT INTO lookback_int SELECT i, (ARRAY['A', 'B', 'C', 'D'])[1 + floor(random() * 4)::int]::tier FROM generate_series(1, 3000) i;
INSERT INTO custier.policy (name, upgrade_after, downgrade_after, metrics_source, key_column)
VALUES (:'p' || '_int', 3, 3, 'lookback_int_metrics', 'id');
INSERT INTO custier.policy_criterion (policy, metric) VALUES (:'p' || '_int', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    (:'p' || '_int', 'amount', 'A', 1000), (:'p' || '_int', 'amount', 'B', 500), (:'p' || '_int', 'amount', 'C', 100);
SELECT custier.manage('lookback_int', 'id', 'grade', :'p' || '_int');
\set n 1
\ir evaluation_lookback_int.inc
\set n 2
\ir evaluation_lookback_int.inc
\set n 3
\ir evaluation_lookback_int.inc

SELECT * FROM finish();

SELECT custier.unmanage('lookback_cust');
SELECT custier.unmanage('lookback_int');
DROP TABLE lookback_cust, lookback_metrics, lookback_int, lookback_int_metrics;
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
