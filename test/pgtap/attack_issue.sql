-- pgTAP attacks: the eleven ways 0.1.0 could be abused (the security model of doc/security.md), each
-- tried by a non-superuser role logged in as itself (SET SESSION
-- AUTHORIZATION; SET ROLE where the attack is about membership), with the
-- grants of doc/security.md.  Each checks the attack failed with its
-- SQLSTATE and that the attacker gained nothing: no superuser, no new
-- privilege or membership, no grade changed, no custier row written.
-- run_evaluation commits: its attacks are in attack_evaluation_run.sql.
\ir setup.inc
\ir attack_setup.inc

SELECT plan(61);

-- The privileges block ran: the documented roles exist with the documented grants.
SELECT ok(has_function_privilege('table_owner', 'custier.manage(regclass,name,name,text,boolean)', 'EXECUTE')
          AND NOT has_function_privilege('mallory', 'custier.manage(regclass,name,name,text,boolean)', 'EXECUTE')
          AND has_function_privilege('reviewer', 'custier.review(bigint,text,text,text)', 'EXECUTE')
          AND has_function_privilege('cycle_runner', 'custier.run_evaluation(text,timestamptz,integer)', 'EXECUTE')
          AND (SELECT owner FROM custier.policy WHERE name = 'retail') = 'retail_policy'
          AND EXISTS (SELECT FROM custier.managed_table WHERE tbl = 'customer'::regclass),
          'the suite runs with the roles and grants of doc/security.md');
SELECT pg_temp.shadow('reviewer'), pg_temp.shadow('approver'), pg_temp.shadow('proposer'),
       pg_temp.shadow('table_owner'), pg_temp.shadow('cycle_runner'), pg_temp.shadow('bi_reader');
SELECT count(*) AS history_rows FROM custier.tier_history \gset

-- ---------------------------------------------------------------------
-- 1. The table's own triggers and CHECK constraints, and functions in a
--    metrics view, ran as the extension owner.  Now: as the table's owner
--    (grades) and as the caller (metrics).
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
CREATE FUNCTION table_owner_shadow.planted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.payload('trigger'); RETURN NEW; END $$;
CREATE TRIGGER planted BEFORE UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.planted();
ALTER TABLE customer ADD CONSTRAINT planted CHECK (public.payload('check'));
CREATE VIEW table_owner_shadow.metrics_view AS SELECT m.id, m.revenue, public.payload('view') AS planted FROM public.customer_metrics m;
GRANT USAGE ON SCHEMA table_owner_shadow TO cycle_runner, policy_maintainer;
GRANT SELECT ON table_owner_shadow.metrics_view TO cycle_runner, policy_maintainer;
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;
SET SESSION AUTHORIZATION proposer;
SELECT custier.propose('customer', '1', 'A', 'revenue doubled') AS adj1 \gset
SET SESSION AUTHORIZATION reviewer;
SELECT custier.review(:adj1, 'sales', 'support');
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('approver_shadow, pg_catalog', format('SELECT custier.approve(%s, %L)', :adj1, 'ok')), 'ok',
          '1/4. approve works for the approver, whatever its search_path');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(DISTINCT tag || ' as ' || who, ', ') FROM attack_log WHERE tag IN ('trigger', 'check')),
          'check as table_owner, trigger as table_owner',
          '1. the table''s trigger and CHECK constraint ran while approve applied the grade: as the table''s owner');
SELECT is(pg_temp.gained(), '', '1. and gained it nothing');
SELECT is((SELECT grade::text FROM customer WHERE id = 1), 'A', '1. the approved grade is applied');

SET SESSION AUTHORIZATION policy_maintainer;
UPDATE custier.policy SET metrics_source = 'table_owner_shadow.metrics_view' WHERE name = 'retail';
SET SESSION AUTHORIZATION cycle_runner;
SELECT is(pg_temp.attempt('cycle_runner_shadow, pg_catalog', $$SELECT count(*) FROM custier.evaluate('retail', '2026-01-01')$$), 'ok',
          '1. evaluate reads a metrics view with the caller''s rights');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(DISTINCT who, ', ') FROM attack_log WHERE tag = 'view'), 'cycle_runner',
          '1. functions in the metrics view ran as the cycle runner, not as custier');
SELECT is(pg_temp.gained(), '', '1. and gained nothing');
SET SESSION AUTHORIZATION policy_maintainer;
UPDATE custier.policy SET metrics_source = 'public.customer_metrics' WHERE name = 'retail';
SET SESSION AUTHORIZATION table_owner;
DROP TRIGGER planted ON customer;
ALTER TABLE customer DROP CONSTRAINT planted;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 2. review() called an unqualified now() as the extension owner under the
--    caller's search_path.
-- ---------------------------------------------------------------------
TRUNCATE attack_log;
SET SESSION AUTHORIZATION proposer;
SELECT custier.propose('customer', '2', 'B', 'new contract') AS adj2 \gset
SET SESSION AUTHORIZATION reviewer;
SELECT is(pg_temp.attempt('reviewer_shadow, pg_catalog', 'SELECT now()'), 'ok', '2. the reviewer''s shadow now() is what its own unqualified now() calls');
SELECT is((SELECT count(*)::int FROM attack_log WHERE tag = 'shadow now'), 1, '2. (so the shadow works: the test is not vacuous)');
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;
SET SESSION AUTHORIZATION reviewer;
SELECT is(pg_temp.attempt('reviewer_shadow, pg_catalog', format('SELECT custier.review(%s, %L, %L)', :adj2, 'sales', 'support')), 'ok',
          '2. review works under the shadowing search_path');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.shadowed(), '', '2. none of the reviewer''s shadows ran inside review');
SELECT is(pg_temp.gained(), '', '2. and the reviewer gained nothing');

-- ---------------------------------------------------------------------
-- 3. propose() cast the key to the key column's type (a domain with a
--    CHECK) as the extension owner.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
CREATE DOMAIN table_owner_shadow.key_d AS integer CHECK (public.payload('domain'));
GRANT USAGE ON SCHEMA table_owner_shadow TO PUBLIC;
RESET SESSION AUTHORIZATION;
CREATE TABLE customer_d (id table_owner_shadow.key_d PRIMARY KEY, grade custier.tier);
ALTER TABLE customer_d OWNER TO table_owner;
SET SESSION AUTHORIZATION policy_maintainer;
INSERT INTO custier.policy (name, owner) VALUES ('retail_d', 'retail_policy');
SET SESSION AUTHORIZATION table_owner;
INSERT INTO customer_d VALUES (7, 'C');
SELECT custier.manage('customer_d', 'id', 'grade', 'retail_d', true);
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;
SET SESSION AUTHORIZATION proposer;
SELECT is(pg_temp.attempt('proposer_shadow, pg_catalog', $$SELECT custier.propose('public.customer_d', '7', 'B', 'domain key')$$), 'ok',
          '3. propose on a table whose key is a domain');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(DISTINCT who, ', ') FROM attack_log WHERE tag = 'domain'), 'table_owner',
          '3. the domain''s CHECK ran as the table''s owner, not as custier');
SELECT is(pg_temp.shadowed(), '', '3. none of the proposer''s shadows ran');
SELECT is(pg_temp.gained(), '', '3. and nobody gained anything');

-- ---------------------------------------------------------------------
-- 4. approve() built its UPDATE with an unqualified =, run as the table owner.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('approver_shadow, pg_catalog', 'SELECT 1 = 1'), 'ok', '4. the approver''s shadow = is what its own 1 = 1 calls');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM attack_log WHERE tag = 'shadow = integer'), 1, '4. (the shadow works)');
TRUNCATE attack_log;
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('approver_shadow, pg_catalog', format('SELECT custier.approve(%s)', :adj2)), 'ok',
          '4. approve under the shadowing search_path');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.shadowed(), '', '4. none of the approver''s operators or functions ran inside approve');
SELECT is((SELECT grade::text FROM customer WHERE id = 2), 'B', '4. the grade is applied');

-- ---------------------------------------------------------------------
-- 5. manage was PUBLIC and took any policy.
-- ---------------------------------------------------------------------
CREATE TABLE mallory_t (id int PRIMARY KEY, grade custier.tier);
ALTER TABLE mallory_t OWNER TO mallory;
CREATE TABLE owner_t (id int PRIMARY KEY, grade custier.tier);
ALTER TABLE owner_t OWNER TO table_owner;
SET SESSION AUTHORIZATION policy_maintainer;
INSERT INTO custier.policy (name) VALUES ('maintainers_own');
SET SESSION AUTHORIZATION mallory;
SELECT is(pg_temp.attempt('public', $$SELECT custier.manage('mallory_t', 'id', 'grade', 'maintainers_own')$$), '42501',
          '5. a stranger cannot call manage');
SET SESSION AUTHORIZATION table_owner;
SELECT is(pg_temp.attempt('public', $$SELECT custier.manage('owner_t', 'id', 'grade', 'maintainers_own')$$), '42501',
          '5. a table owner cannot attach its table to a policy whose owner it is not a member of');
SELECT is(pg_temp.attempt('public', $$SELECT custier.manage('mallory_t', 'id', 'grade', 'retail_d')$$), '42501',
          '5. nor attach a table it does not own');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM custier.managed_table WHERE tbl IN ('mallory_t'::regclass, 'owner_t'::regclass)), 0,
          '5. nothing was registered');

-- ---------------------------------------------------------------------
-- 6. manage on a temporary table broke every later CREATE/ALTER TABLE.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION policy_maintainer;
INSERT INTO custier.policy (name, owner) VALUES ('retail_tmp', 'retail_policy');
SET SESSION AUTHORIZATION table_owner;
CREATE TEMP TABLE tmp_customer (id int PRIMARY KEY, grade custier.tier);
SELECT is(pg_temp.attempt('public', $$SELECT custier.manage('tmp_customer', 'id', 'grade', 'retail_tmp')$$), '0A000',
          '6. manage refuses a temporary table');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM custier.managed_table WHERE policy = 'retail_tmp'), 0, '6. nothing registered');

-- ---------------------------------------------------------------------
-- 7. The owner replaced custier's triggers and dropped the key's primary key.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
CREATE FUNCTION table_owner_shadow.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
SELECT is(pg_temp.attempt('public', $$CREATE OR REPLACE TRIGGER custier_guard AFTER UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.noop()$$),
          '55000', '7. CREATE OR REPLACE TRIGGER cannot replace the guard');
SELECT is(pg_temp.attempt('public', $$CREATE OR REPLACE TRIGGER custier_history AFTER UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.noop()$$),
          '55000', '7. nor the history trigger');
SELECT is(pg_temp.attempt('public', $$CREATE TRIGGER custier_sneak AFTER UPDATE ON customer FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.noop()$$),
          '55000', '7. nor add a trigger under custier''s names');
SELECT is(pg_temp.attempt('public', 'ALTER TABLE customer DROP CONSTRAINT customer_pkey'), '55000', '7. the key''s primary key cannot be dropped');
SELECT is(pg_temp.attempt('public', 'ALTER TABLE customer DISABLE TRIGGER custier_guard'), '55000', '7. the guard cannot be disabled');
SELECT is(pg_temp.attempt('public', 'ALTER TABLE customer ENABLE REPLICA TRIGGER custier_history'), '55000', '7. nor set to fire in replica mode only');
SELECT is(pg_temp.attempt('public', 'ALTER TRIGGER custier_history ON customer RENAME TO gone'), '55000', '7. nor renamed');
SELECT is(pg_temp.attempt('public', 'DROP TRIGGER custier_history_flush ON customer'), '55000', '7. nor dropped');
SELECT is(pg_temp.attempt('public', $$UPDATE customer SET grade = 'A' WHERE id = 2$$), '42501', '7. and the guard still refuses a direct change');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(t.tgname || ':' || n.nspname || '.' || p.proname || ':' || t.tgenabled::text, ', ' ORDER BY t.tgname)
             FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE t.tgrelid = 'customer'::regclass AND t.tgname LIKE 'custier%'),
          'custier_guard:custier.guard_trigger:O, custier_guard_insert:custier.guard_trigger:O, custier_history:custier.history_trigger:O, custier_history_flush:custier.history_trigger:O, custier_history_insert_delete:custier.history_trigger:O, custier_history_truncate:custier.history_trigger:O',
          '7. custier''s triggers are all there, custier''s, enabled');

-- ---------------------------------------------------------------------
-- 8. Four eyes.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION both_hats;
SET ROLE proposer;
SELECT custier.propose('customer', '3', 'B', 'graded at last') AS adj3 \gset
RESET ROLE;
SET SESSION AUTHORIZATION reviewer;
SELECT custier.review(:adj3, 'sales', 'support');
SET SESSION AUTHORIZATION both_hats;
SET ROLE approver;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj3)), '42501',
          '8. a login that is a member of both the proposing and the approving role cannot approve its own proposal');
RESET ROLE;
RESET SESSION AUTHORIZATION;
CREATE ROLE deputy IN ROLE proposer;
GRANT EXECUTE ON FUNCTION custier.approve(bigint, text) TO deputy;
GRANT SELECT ON customer TO deputy;
SET SESSION AUTHORIZATION deputy;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj3)), '42501',
          '8. nor can a role that is a member of the proposer');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT status FROM custier.adjustment WHERE adjustment_id = :adj3), 'proposed', '8. the adjustment is still proposed');
SELECT custier.propose('customer', '2', 'A', 'by the superuser') AS adj4 \gset
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj4)), '42501', '8. a superuser cannot approve its own proposal');
SET SESSION AUTHORIZATION policy_maintainer;
INSERT INTO custier.policy_reviewer (policy, department, reviewer_role) VALUES ('retail', 'finance', 'retail_policy');
SET SESSION AUTHORIZATION reviewer;
SELECT is(pg_temp.attempt('public', format('SELECT custier.review(%s, %L, %L)', :adj3, 'finance', 'support')), '42501',
          '8. a reviewer cannot review for a department whose role it is not a member of');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM custier.adjustment_review WHERE adjustment_id = :adj3 AND department = 'finance'), 0, '8. no review recorded');
SELECT is((SELECT grade::text FROM customer WHERE id = 3), NULL, '8. no grade changed');

-- ---------------------------------------------------------------------
-- 9. Row-level security on the managed table: tier_history, tiers_at and
--    tier_at (and adjustments) showed every customer.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
ALTER TABLE customer ENABLE ROW LEVEL SECURITY;
CREATE POLICY north_only ON customer FOR SELECT TO bi_reader USING (region = 'north');
SET SESSION AUTHORIZATION bi_reader;
SELECT is((SELECT string_agg(DISTINCT customer_key, ',' ORDER BY customer_key) FROM custier.tier_history WHERE tbl = 'customer'::regclass),
          '1', '9. tier_history shows bi_reader the customers it can SELECT (north) only');
SELECT is((SELECT string_agg(customer_key, ',' ORDER BY customer_key) FROM custier.tiers_at('customer', 'infinity')),
          '1', '9. tiers_at too');
SELECT is(custier.tier_at('customer', '2', 'infinity')::text, NULL, '9. tier_at of a customer it cannot see: NULL');
SELECT is(custier.tier_at('customer', '1', 'infinity')::text, 'A', '9. tier_at of one it can see');
SELECT is((SELECT string_agg(DISTINCT customer_key, ',') FROM custier.adjustment WHERE tbl = 'customer'::regclass), '1,3',
          '9. adjustments only of visible customers');
SELECT is((SELECT count(*)::int FROM custier.adjustment_event e JOIN custier.adjustment a USING (adjustment_id) WHERE a.customer_key = '2'), 0,
          '9. nor their events');
SET SESSION AUTHORIZATION mallory;
SELECT is((SELECT count(*)::int FROM custier.tier_history), 0, '9. a role without SELECT on the table sees no history');
SELECT is((SELECT count(*)::int FROM custier.tiers_at('customer', 'infinity')), 0, '9. nor grades');
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- 10. TRUNCATE custier.policy CASCADE emptied the registrations.
-- ---------------------------------------------------------------------
SELECT is(pg_temp.attempt('public', 'TRUNCATE custier.policy CASCADE'), '55000', '10. TRUNCATE custier.policy CASCADE is refused while tables are managed (even for a superuser)');
SET SESSION AUTHORIZATION policy_maintainer;
SELECT is(pg_temp.attempt('public', 'TRUNCATE custier.policy CASCADE'), '42501', '10. and a maintainer may not truncate at all');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM custier.managed_table), 2, '10. the registrations are all there');

-- ---------------------------------------------------------------------
-- 11. The cycle runner needed grants on internals and could not read
--     custier.evaluation.  (run_evaluation itself: attack_evaluation_run.sql)
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION cycle_runner;
SELECT is(pg_temp.attempt('public', $$SELECT * FROM custier.evaluate('retail', '2026-01-01')$$), 'ok', '11. evaluate with the documented grants alone');
SELECT is(pg_temp.attempt('public', 'SELECT count(*) FROM custier.evaluation'), 'ok', '11. the cycle runner reads custier.evaluation');
SELECT is(pg_temp.attempt('public', $$SELECT custier._evaluation_begin('retail', now(), 10)$$), '42501', '11. internal functions stay closed to it');
RESET SESSION AUTHORIZATION;

SELECT is(pg_temp.gained(), '', 'after every attack: no role gained any right, no canary row');
SELECT is((SELECT count(*)::int FROM custier.tier_history h WHERE h.changed_by NOT IN ('approver', 'postgres', 'table_owner')), 0,
          'every history row names the approver, the table owner or the superuser who set up');
SELECT * FROM finish();
ROLLBACK;
