-- pgTAP: custier writes tier_history and evaluation_result as COPY does
-- (src/history.c, CustierAppender), by their columns as custier defines
-- them (scores: the policy's, amount 1000 / 600 / 50 against bounds 900 /
-- 500 / 100).  A column someone adds stops the writes with 55000 and changes
-- nothing; once it is dropped again (a dropped column stays in the table's
-- layout) the writes go on, with every value in its column.
-- run_evaluation commits, so this file runs WITHOUT a wrapping transaction
-- and cleans up after itself.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
SET search_path = public, custier;

SELECT plan(14);

CREATE TABLE shape_cust (code text PRIMARY KEY, grade tier);
CREATE TABLE shape_metrics (code text PRIMARY KEY, amount numeric);
INSERT INTO shape_cust VALUES ('K1', 'C'), ('K2', 'C'), ('K3', NULL);
INSERT INTO shape_metrics VALUES ('K1', 1000), ('K2', 600), ('K3', 50);
INSERT INTO custier.policy (name, metrics_source, key_column) VALUES ('shape', 'shape_metrics', 'code');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('shape', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('shape', 'amount', 'A', 900), ('shape', 'amount', 'B', 500), ('shape', 'amount', 'C', 100);
SELECT custier.manage('shape_cust', 'code', 'grade', 'shape');

-- tier_history: written when a statement that changed grades ends.
ALTER TABLE custier.tier_history ADD COLUMN note text;
SELECT throws_ok($$UPDATE shape_cust SET grade = 'B' WHERE code = 'K1'$$, '55000', NULL,
                 'tier_history with a column of someone else''s: a grade change fails with 55000');
SELECT is((SELECT grade FROM shape_cust WHERE code = 'K1'), 'C'::tier, '... and the grade stays');
ALTER TABLE custier.tier_history DROP COLUMN note;
-- A column of another type: its values would be misread; refused.
ALTER TABLE custier.tier_history ALTER COLUMN reason TYPE varchar(200);
SELECT throws_ok($$UPDATE shape_cust SET grade = 'B' WHERE code = 'K1'$$, '55000', NULL,
                 'tier_history with a column of another type: a grade change fails with 55000');
ALTER TABLE custier.tier_history ALTER COLUMN reason TYPE text;
UPDATE shape_cust SET grade = 'B' WHERE code = 'K1';
SELECT results_eq($$SELECT customer_key COLLATE "default", old_tier, new_tier, changed_by::text FROM custier.tier_history
                     WHERE tbl = 'shape_cust'::regclass AND reason IS NULL ORDER BY history_id$$,
                  $$VALUES ('K1', 'C'::tier, 'B'::tier, current_user::text)$$,
                  'the column dropped again: the change is recorded, every value in its column');

-- evaluation_result: written by every batch of a run.
ALTER TABLE custier.evaluation_result ADD COLUMN note text;
\set ON_ERROR_STOP 0
CALL custier.run_evaluation('shape', '2026-01-01', 2);
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '55000', 'evaluation_result with a column of someone else''s: run_evaluation fails with 55000');
SELECT is((SELECT count(*) FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
            WHERE e.policy = 'shape'), 0::bigint, '... having recorded nothing');
SELECT results_eq($$SELECT code, grade FROM shape_cust ORDER BY code$$,
                  $$VALUES ('K1', 'B'::tier), ('K2', 'C'::tier), ('K3', NULL::tier)$$,
                  '... and changed no grade');
ALTER TABLE custier.evaluation_result DROP COLUMN note;
-- A column of another type (a tier as text: read as text, it would crash
-- the server), or a column of custier's missing: refused, nothing recorded.
ALTER TABLE custier.evaluation_result ALTER COLUMN current_tier TYPE text USING current_tier::text;
\set ON_ERROR_STOP 0
CALL custier.run_evaluation('shape', '2026-01-01', 2);
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '55000', 'evaluation_result with a column of another type: run_evaluation fails with 55000');
ALTER TABLE custier.evaluation_result ALTER COLUMN current_tier TYPE tier USING current_tier::tier;
ALTER TABLE custier.evaluation_result DROP COLUMN batch;
\set ON_ERROR_STOP 0
CALL custier.run_evaluation('shape', '2026-01-01', 2);
\set ON_ERROR_STOP 1
SELECT is(:'LAST_ERROR_SQLSTATE'::text, '55000', 'evaluation_result without its column batch: run_evaluation fails with 55000');
SELECT is((SELECT count(*) FROM custier.evaluation WHERE policy = 'shape'), 0::bigint, '... having started no evaluation');
-- Added again, it comes last, as it was.
ALTER TABLE custier.evaluation_result ADD COLUMN batch integer NOT NULL DEFAULT 0;
ALTER TABLE custier.evaluation_result ALTER COLUMN batch DROP DEFAULT;
CALL custier.run_evaluation('shape', '2026-01-01', 2);
SELECT results_eq($$SELECT r.customer_key COLLATE "default", r.qualified_tier, r.proposed_tier, r.score, r.current_tier, r.action, r.batch
                      FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
                     WHERE e.policy = 'shape' ORDER BY r.customer_key$$,
                  $$VALUES ('K1', 'A'::tier, 'A'::tier, 100::numeric, 'B'::tier, 'applied', 1),
                           ('K2', 'B'::tier, 'B'::tier, 75::numeric, 'C'::tier, 'applied', 1),
                           ('K3', 'D'::tier, 'D'::tier, 0::numeric, NULL::tier, 'applied', 2)$$,
                  'the column dropped again: a run records every customer, every value in its column');
SELECT results_eq($$SELECT code, grade FROM shape_cust ORDER BY code$$,
                  $$VALUES ('K1', 'A'::tier), ('K2', 'B'::tier), ('K3', 'D'::tier)$$,
                  '... and applies its changes');
SELECT is((SELECT count(*) FROM custier.tier_history WHERE tbl = 'shape_cust'::regclass AND reason LIKE 'evaluation %'), 3::bigint,
          '... each with its history row');
SELECT is((SELECT changed FROM custier.evaluation WHERE policy = 'shape'), 3::bigint, '... counted');

SELECT * FROM finish();

SELECT custier.unmanage('shape_cust');
DROP TABLE shape_cust, shape_metrics;
DELETE FROM custier.evaluation_result r USING custier.evaluation e WHERE e.evaluation_id = r.evaluation_id AND e.policy = 'shape';
DELETE FROM custier.evaluation WHERE policy = 'shape';
DELETE FROM custier.policy WHERE name = 'shape';
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
