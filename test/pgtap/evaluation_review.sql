-- pgTAP review of evaluate() and run_evaluation() since they look back on
-- earlier evaluations in C (src/evaluation.c) and evaluate() reads its
-- customers a batch at a time: the results must be what the per-customer
-- look-back run as the caller gave (0.1.0's correlated subquery, under the
-- row-level security of custier.evaluation_result), for every caller.
--
--   1. The look-back tells a caller nothing about customers of another
--      table it cannot read: an earlier evaluation of a table the policy
--      graded before (no SELECT on it, row-level security on it, or the
--      table dropped) counts only for the customers the caller may read
--      there (evaluation_result's policy _can_see(tbl, key)).
--   2. evaluate() over more than one batch (10000 customers) gives every
--      customer once, with its metrics, whatever the key's operators: a
--      metrics key in another collation than the table's key, a unique
--      index of another operator class on the key.
--   3. run_evaluation() over more than one batch, the same two tables:
--      every customer once, with its metrics.  Each batch resumes after the
--      last key: ORDER BY, the table's resume filter and the metrics rows'
--      filter must follow one order (the unique index's operators, the key
--      column's collation), or a customer is skipped (review_ops) or loses
--      its metrics row (review_coll).
--
-- run_evaluation commits, so this file runs WITHOUT a wrapping transaction
-- and cleans up after itself (the role it creates, its tables).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap,
       'review_' || pg_backend_pid() AS p, 'review_q_' || pg_backend_pid() AS q,
       'review_coll_' || pg_backend_pid() AS pc, 'review_ops_' || pg_backend_pid() AS po \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
SET search_path = public, custier;
SET TimeZone = 'UTC';

SELECT plan(13);

DROP ROLE IF EXISTS custier_review_reader;
CREATE ROLE custier_review_reader;
GRANT USAGE ON SCHEMA custier TO custier_review_reader;
GRANT EXECUTE ON FUNCTION custier.evaluate(text, timestamptz) TO custier_review_reader;
GRANT EXECUTE ON PROCEDURE custier.run_evaluation(text, timestamptz, integer) TO custier_review_reader;

-- 1. The policy graded review_old first, then review_new; the same keys in
-- both.  Two evaluations in a row must agree before a grade moves.
CREATE TABLE review_old (k text PRIMARY KEY, grade tier);
CREATE TABLE review_new (k text PRIMARY KEY, grade tier);
CREATE TABLE review_metrics (k text PRIMARY KEY, amount numeric);
INSERT INTO review_old VALUES ('x1', 'C'), ('x2', 'C');
INSERT INTO review_new VALUES ('x1', 'C'), ('x2', 'C'), ('x3', 'C');
INSERT INTO review_metrics VALUES ('x1', 2000), ('x2', 2000), ('x3', 2000);
INSERT INTO custier.policy (name, metrics_source, key_column, upgrade_after, downgrade_after)
VALUES (:'p', 'review_metrics', 'k', 2, 2), (:'q', 'review_metrics', 'k', 1, 1);
INSERT INTO custier.policy_criterion (policy, metric) VALUES (:'p', 'amount'), (:'q', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound)
SELECT x, 'amount', t, b FROM unnest(ARRAY[:'p', :'q']) x, (VALUES ('A'::tier, 1000), ('B', 500), ('C', 100)) v(t, b);
SELECT custier.manage('review_old', 'k', 'grade', :'p');
-- Batches of one: the look-back's range of batches is then several batches wide.
CALL custier.run_evaluation(:'p', '2026-01-01', 1);
SELECT custier.unmanage('review_old');
SELECT custier.manage('review_new', 'k', 'grade', :'p');
-- review_old stays managed (by another policy): row-level security on it counts per customer.
SELECT custier.manage('review_old', 'k', 'grade', :'q');
GRANT SELECT ON review_new, review_metrics TO custier_review_reader;
GRANT UPDATE (grade) ON review_new TO custier_review_reader;

CREATE FUNCTION pg_temp.proposals(p text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(e.customer_key || ':' || e.proposed_tier, ',' ORDER BY e.customer_key)
      FROM custier.evaluate(p, '2026-02-01') e
$$;
GRANT EXECUTE ON FUNCTION pg_temp.proposals(text) TO custier_review_reader;

SELECT is(pg_temp.proposals(:'p'), 'x1:A,x2:A,x3:C',
          '1. a superuser: the evaluation of the table graded before counts (x1 and x2 qualified for A twice in a row)');
SET SESSION AUTHORIZATION custier_review_reader;
SELECT is(pg_temp.proposals(:'p'), 'x1:C,x2:C,x3:C',
          '1. a reader without SELECT on the table graded before: that evaluation tells it nothing');
RESET SESSION AUTHORIZATION;

GRANT SELECT ON review_old TO custier_review_reader;
ALTER TABLE review_old ENABLE ROW LEVEL SECURITY;
CREATE POLICY review_hides_x2 ON review_old FOR SELECT USING (k <> 'x2');
SET SESSION AUTHORIZATION custier_review_reader;
SELECT is(pg_temp.proposals(:'p'), 'x1:A,x2:C,x3:C',
          '1. a reader under row-level security on the table graded before: only the customers it sees there count');
-- Its run_evaluation decides the same way.
CALL custier.run_evaluation(:'p', '2026-02-01', 2);
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(r.customer_key || ':' || r.proposed_tier || ':' || r.action, ',' ORDER BY r.customer_key)
             FROM custier.evaluation e JOIN custier.evaluation_result r USING (evaluation_id)
            WHERE e.policy = :'p' AND e.as_of = '2026-02-01'),
          'x1:A:applied,x2:C:kept,x3:C:kept',
          '1. run_evaluation by that reader: x1 is upgraded, x2 (hidden in the table graded before) is not');

-- The table graded before is dropped: its evaluation stays, readable past
-- row-level security only.
SELECT custier.unmanage('review_old');
DROP TABLE review_old;
SET SESSION AUTHORIZATION custier_review_reader;
SELECT is(pg_temp.proposals(:'p'), 'x1:A,x2:C,x3:C',
          '1. a reader, once the table graded before is dropped: its evaluation tells it nothing (x2 stays C)');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.proposals(:'p'), 'x1:A,x2:A,x3:C',
          '1. a superuser, once the table graded before is dropped: its evaluation still counts (x2 to A)');

-- 2. and 3. More customers than one batch (evaluate() reads 10000 at a
-- time).  In the ICU root collation 'Zed' sorts after 'k…', in the
-- database's (C.UTF-8, the metrics key's) before.
CREATE TABLE review_coll (k text COLLATE "und-x-icu" PRIMARY KEY, grade tier);
CREATE TABLE review_coll_metrics (k text PRIMARY KEY, amount numeric);
-- The key is unique through an index of another operator class, which
-- orders by bytes ('Zed' before 'a…' before 'k…').
CREATE TABLE review_ops (k text COLLATE "und-x-icu" NOT NULL, grade tier);
CREATE UNIQUE INDEX review_ops_k ON review_ops (k text_pattern_ops);
CREATE TABLE review_ops_metrics (k text COLLATE "und-x-icu" PRIMARY KEY, amount numeric);
INSERT INTO review_coll SELECT 'k' || lpad(i::text, 5, '0'), 'C' FROM generate_series(1, 10000) i;
INSERT INTO review_coll VALUES ('Zed', 'C'), ('a1', 'C');
INSERT INTO review_coll_metrics SELECT k, 2000 FROM review_coll;
INSERT INTO review_ops SELECT k, grade FROM review_coll;
INSERT INTO review_ops_metrics SELECT k, 2000 FROM review_ops;
INSERT INTO custier.policy (name, metrics_source, key_column)
VALUES (:'pc', 'review_coll_metrics', 'k'), (:'po', 'review_ops_metrics', 'k');
INSERT INTO custier.policy_criterion (policy, metric) VALUES (:'pc', 'amount'), (:'po', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound)
SELECT x, 'amount', t, b FROM unnest(ARRAY[:'pc', :'po']) x, (VALUES ('A'::tier, 1000), ('B', 500), ('C', 100)) v(t, b);
SELECT custier.manage('review_coll', 'k', 'grade', :'pc');
SELECT custier.manage('review_ops', 'k', 'grade', :'po');

SELECT is((SELECT count(*) || ' customers, ' || count(DISTINCT customer_key) || ' distinct, '
                  || count(*) FILTER (WHERE qualified_tier = 'A') || ' qualified A'
             FROM custier.evaluate(:'pc', '2026-01-01')),
          '10002 customers, 10002 distinct, 10002 qualified A',
          '2. evaluate(), metrics key in another collation: every customer once, with its metrics');
SELECT is((SELECT qualified_tier::text FROM custier.evaluate(:'pc', '2026-01-01') WHERE customer_key = 'Zed'), 'A',
          '2. evaluate(), metrics key in another collation: the customer after the first batch has its metrics');
SELECT is((SELECT count(*) || ' customers, ' || count(DISTINCT customer_key) || ' distinct, '
                  || count(*) FILTER (WHERE qualified_tier = 'A') || ' qualified A'
             FROM custier.evaluate(:'po', '2026-01-01')),
          '10002 customers, 10002 distinct, 10002 qualified A',
          '2. evaluate(), unique index of another operator class on the key: every customer once');
SELECT is((SELECT string_agg(customer_key, ',' ORDER BY customer_key COLLATE "C")
             FROM custier.evaluate(:'po', '2026-01-01') WHERE customer_key NOT LIKE 'k%'),
          'Zed,a1', '2. evaluate(), unique index of another operator class: none of the customers is lost');

-- 3. run_evaluation takes its batches by resuming after the last key (it
-- commits each): the same two tables.
CALL custier.run_evaluation(:'pc', '2026-01-01', 10000);
CALL custier.run_evaluation(:'po', '2026-01-01', 10000);
SELECT is((SELECT count(*) || ' customers, ' || count(*) FILTER (WHERE r.qualified_tier = 'A') || ' qualified A'
             FROM custier.evaluation e JOIN custier.evaluation_result r USING (evaluation_id) WHERE e.policy = :'pc'),
          '10002 customers, 10002 qualified A',
          '3. run_evaluation, metrics key in another collation: every customer with its metrics');
SELECT is((SELECT count(*) || ' customers, ' || count(*) FILTER (WHERE r.qualified_tier = 'A') || ' qualified A'
             FROM custier.evaluation e JOIN custier.evaluation_result r USING (evaluation_id) WHERE e.policy = :'po'),
          '10002 customers, 10002 qualified A',
          '3. run_evaluation, unique index of another operator class on the key: every customer');
SELECT is((SELECT string_agg(k, ',' ORDER BY k COLLATE "C") FROM review_ops WHERE grade IS DISTINCT FROM 'A'), NULL,
          '3. run_evaluation, unique index of another operator class on the key: every grade applied');

SELECT * FROM finish();

SELECT custier.unmanage('review_new'), custier.unmanage('review_coll'), custier.unmanage('review_ops');
DROP TABLE review_new, review_metrics, review_coll, review_coll_metrics, review_ops, review_ops_metrics;
DROP FUNCTION pg_temp.proposals(text);
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
DROP OWNED BY custier_review_reader;
DROP ROLE custier_review_reader;
