-- pgTAP attacks on CALL custier.run_evaluation (attack_issue.sql's items
-- 1, 8 and 11): it commits, so this file runs WITHOUT a wrapping transaction, on a
-- database where custier is not installed yet (it installs and drops it,
-- and drops the roles of doc/security.md it creates).
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION custier;
SET search_path = public, custier;
SET TimeZone = 'UTC';
\ir attack_setup.inc
SELECT pg_temp.shadow('cycle_runner'), pg_temp.shadow('table_owner');

SELECT plan(14);

-- The table owner plants code in its table (a trigger, a CHECK) and in the
-- metrics view the maintainer points the policy at.
SET SESSION AUTHORIZATION table_owner;
CREATE FUNCTION table_owner_shadow.planted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.payload('trigger'); RETURN NEW; END $$;
CREATE TRIGGER planted BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.planted();
ALTER TABLE customer ADD CONSTRAINT planted CHECK (public.payload('check'));
CREATE VIEW table_owner_shadow.metrics_view AS SELECT m.id, m.revenue, public.payload('view') AS planted FROM public.customer_metrics m;
GRANT USAGE ON SCHEMA table_owner_shadow TO cycle_runner, policy_maintainer;
GRANT SELECT ON table_owner_shadow.metrics_view TO cycle_runner, policy_maintainer;
SET SESSION AUTHORIZATION policy_maintainer;
UPDATE custier.policy SET metrics_source = 'table_owner_shadow.metrics_view' WHERE name = 'retail';
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;

-- The cycle runner runs it, with its shadows ahead of pg_catalog.
SET SESSION AUTHORIZATION cycle_runner;
SET search_path = cycle_runner_shadow, pg_catalog, public, custier;
CALL custier.run_evaluation('retail', '2026-01-01 00:00+00', 2);
RESET search_path;
RESET SESSION AUTHORIZATION;
SET search_path = public, custier;

SELECT is((SELECT string_agg(DISTINCT tag || ' as ' || who, ', ' ORDER BY tag || ' as ' || who) FROM attack_log WHERE tag NOT LIKE 'shadow %'),
          'check as table_owner, trigger as table_owner, view as cycle_runner',
          '1. during run_evaluation the table''s trigger and CHECK ran as the table''s owner, the metrics view as the cycle runner');
SELECT is(pg_temp.shadowed(), '', '1. none of the cycle runner''s shadows ran inside run_evaluation');
SELECT is(pg_temp.gained(), '', '1. nobody gained anything');
SELECT is((SELECT string_agg(id || ':' || coalesce(grade::text, '-'), ',' ORDER BY id) FROM customer), '1:A,2:C,3:B',
          '1. the upgrade and the first grading are applied; the downgrade waits for approval');

-- 11. started_by is the role that ran it; it reads its evaluation without a grant.
SET SESSION AUTHORIZATION cycle_runner;
SELECT is((SELECT started_by::text || '|' || customers || '|' || changed || '|' || proposed || '|' || (finished_at IS NOT NULL)
             FROM custier.evaluation WHERE policy = 'retail'), 'cycle_runner|3|2|1|true',
          '11. custier.evaluation (readable by the cycle runner): started_by is the role that ran it');
SELECT is((SELECT count(*)::int FROM custier.evaluation_result), 3, '11. and so are the results of the customers it may see');
RESET SESSION AUTHORIZATION;

-- 8. The adjustment a run opens is proposed by the role that ran it, which
--    cannot approve it (even with EXECUTE on approve); another role can.
SELECT adjustment_id AS adj, proposed_by AS proposer FROM custier.adjustment WHERE evaluation_id IS NOT NULL \gset
SELECT is(:'proposer'::text, 'cycle_runner', '8. the run''s adjustment is proposed by the role that ran it');
SET SESSION AUTHORIZATION reviewer;
SELECT custier.review(:adj, 'sales', 'support');
RESET SESSION AUTHORIZATION;
GRANT EXECUTE ON FUNCTION custier.approve(bigint, text) TO cycle_runner;
SET SESSION AUTHORIZATION cycle_runner;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj)), '42501', '8. the role that ran the evaluation cannot approve its proposal');
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj)), 'ok', '8. the approver can');
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION custier.approve(bigint, text) FROM cycle_runner;
SELECT is((SELECT grade::text FROM customer WHERE id = 2), 'D', '8. and the downgrade is applied');
SELECT is((SELECT decided_by::text FROM custier.adjustment WHERE adjustment_id = :adj), 'approver', '8. decided by the approver');

-- A stranger cannot run one; nothing internal needs a grant.
SET SESSION AUTHORIZATION mallory;
SELECT is(pg_temp.attempt('public', $$CALL custier.run_evaluation('retail', '2026-07-01 00:00+00')$$), '42501', 'a stranger cannot run an evaluation');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM custier.evaluation), 1, 'no evaluation was started by the stranger');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'custier'::regnamespace AND p.proname LIKE '\_%'
                    AND has_function_privilege('cycle_runner', p.oid, 'EXECUTE') AND NOT has_function_privilege('public', p.oid, 'EXECUTE')$$,
                'the cycle runner holds no grant on an internal function');

SELECT * FROM finish();

-- Clean up: tables, the extension, the roles.
DROP TABLE customer, customer_metrics, canary, attack_log, baseline CASCADE;
-- The attackers' shadows use custier's type: custier refuses to drop what
-- depends on it from outside, so they go first.
DO $$ DECLARE s name; BEGIN
    FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE '%\_shadow' LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', s);
    END LOOP;
END $$;
DROP EXTENSION custier CASCADE;
DROP OWNED BY policy_maintainer, retail_policy, table_owner, cycle_runner, proposer, sales, reviewer, approver, bi_reader,
              mallory, both_hats CASCADE;
DROP ROLE policy_maintainer, retail_policy, table_owner, cycle_runner, proposer, sales, reviewer, approver, bi_reader,
          mallory, both_hats;
DROP FUNCTION public.payload(text);
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
