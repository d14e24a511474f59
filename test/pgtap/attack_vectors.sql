-- pgTAP attacks beyond those eleven: shadowed functions and operators in a
-- schema each role owns and puts ahead of pg_catalog, pg_temp shadows,
-- casts, index expressions, row-level security functions, defaults and
-- triggers on custier's tables, event triggers, direct writes, internal
-- functions, nested custier calls from a table owner's trigger, policy
-- ownership.  Each as a non-superuser role logged in as itself, each
-- checked: the attack failed with its SQLSTATE, or the planted code ran
-- with its own role's rights only, and nobody gained anything.
\ir setup.inc
\ir attack_setup.inc

SELECT plan(57);

SELECT pg_temp.shadow('reviewer'), pg_temp.shadow('approver'), pg_temp.shadow('proposer'),
       pg_temp.shadow('table_owner'), pg_temp.shadow('cycle_runner'), pg_temp.shadow('bi_reader'),
       pg_temp.shadow('policy_maintainer');
-- Tables named like custier's, in the attackers' schemas too.
SET SESSION AUTHORIZATION approver;
CREATE VIEW approver_shadow.managed_table AS SELECT * FROM custier.managed_table WHERE public.payload('shadow view');
CREATE VIEW approver_shadow.adjustment AS SELECT * FROM custier.adjustment WHERE public.payload('shadow view');
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;

-- ---------------------------------------------------------------------
-- V1. Every custier function each role may call, under a search_path that
--     puts the role's own schema of shadows ahead of pg_catalog.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION proposer;
SELECT is(pg_temp.attempt('proposer_shadow, pg_catalog', $$SELECT custier.propose('public.customer', '1', 'A', 'growth')$$), 'ok', 'V1. propose under shadows');
SELECT custier.propose('customer', '2', 'B', 'growth') AS adj0 \gset
SELECT is(pg_temp.attempt('proposer_shadow, pg_catalog', format('SELECT custier.withdraw(%s)', :adj0)), 'ok', 'V1. withdraw under shadows');
SELECT custier.propose('customer', '2', 'B', 'growth, again') AS adj2 \gset
SELECT adjustment_id AS adj1 FROM custier.adjustment WHERE customer_key = '1' AND status = 'proposed' \gset
SET SESSION AUTHORIZATION reviewer;
SELECT is(pg_temp.attempt('reviewer_shadow, pg_catalog', format('SELECT custier.review(%s, %L, %L)', :adj1, 'sales', 'support')), 'ok', 'V1. review under shadows');
SELECT custier.review(:adj2, 'sales', 'oppose');
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('approver_shadow, pg_catalog', format('SELECT custier.approve(%s)', :adj1)), 'ok', 'V1. approve under shadows (and views named like custier''s tables)');
SELECT is(pg_temp.attempt('approver_shadow, pg_catalog', format('SELECT custier.reject(%s, %L)', :adj2, 'no')), 'ok', 'V1. reject under shadows');
SET SESSION AUTHORIZATION cycle_runner;
SELECT is(pg_temp.attempt('cycle_runner_shadow, pg_catalog', $$SELECT count(*) FROM custier.evaluate('retail', '2026-01-01')$$), 'ok', 'V1. evaluate under shadows');
SET SESSION AUTHORIZATION bi_reader;
SELECT is(pg_temp.attempt('bi_reader_shadow, pg_catalog', $$SELECT count(*) FROM custier.tiers_at('public.customer', 'infinity')$$), 'ok', 'V1. tiers_at under shadows');
SELECT is(pg_temp.attempt('bi_reader_shadow, pg_catalog', $$SELECT custier.tier_at('public.customer', '1', 'infinity')$$), 'ok', 'V1. tier_at under shadows');
SELECT is(pg_temp.attempt('bi_reader_shadow, pg_catalog', $$SELECT count(*) FROM custier.tier_history$$), 'ok', 'V1. tier_history under shadows');
RESET SESSION AUTHORIZATION;
CREATE TABLE second (id int PRIMARY KEY, grade custier.tier);
ALTER TABLE second OWNER TO table_owner;
SET SESSION AUTHORIZATION policy_maintainer;
SELECT is(pg_temp.attempt('policy_maintainer_shadow, pg_catalog', $$INSERT INTO custier.policy (name, owner) VALUES ('second', 'retail_policy')$$), 'ok',
          'V1. a policy edit (audited) under shadows');
SET SESSION AUTHORIZATION table_owner;
SELECT is(pg_temp.attempt('table_owner_shadow, pg_catalog', $$SELECT custier.manage('public.second', 'id', 'grade', 'second', true)$$), 'ok', 'V1. manage under shadows');
SELECT is(pg_temp.attempt('table_owner_shadow, pg_catalog', 'ALTER TABLE public.second ADD COLUMN note text'), 'ok', 'V1. DDL on a managed table (custier''s event triggers) under shadows');
SELECT is(pg_temp.attempt('table_owner_shadow, pg_catalog', $$SELECT custier.unmanage('public.second')$$), 'ok', 'V1. unmanage under shadows');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.shadowed(), '', 'V1. not one shadow function, operator or view ran inside custier');
SELECT is((SELECT grade::text FROM customer WHERE id = 1), 'A', 'V1. and the legitimate flow worked');

-- ---------------------------------------------------------------------
-- V2. Shadows in pg_temp, which custier's pinned search_path lists last.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION proposer;
CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE plpgsql AS 'BEGIN PERFORM public.payload(''shadow pg_temp.now''); RETURN pg_catalog.now(); END';
CREATE FUNCTION pg_temp.eq(text, text) RETURNS boolean LANGUAGE plpgsql AS 'BEGIN PERFORM public.payload(''shadow pg_temp.=''); RETURN $1 OPERATOR(pg_catalog.=) $2; END';
CREATE OPERATOR pg_temp.= (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_temp.eq);
SELECT is(pg_temp.attempt('pg_temp, pg_catalog', $$SELECT custier.propose('public.customer', '3', 'C', 'first grade')$$), 'ok', 'V2. propose with pg_temp first');
RESET SESSION AUTHORIZATION;
SELECT adjustment_id AS adj_c FROM custier.adjustment WHERE customer_key = '3' AND status = 'proposed' \gset
SELECT is(pg_temp.shadowed(), '', 'V2. no pg_temp shadow ran');

-- ---------------------------------------------------------------------
-- V3. A cast the table owner defines into its key type; V4. an index
--     expression; V5. row-level security functions (FORCE: the owner too):
--     all run as the table's owner (or the reader), never as custier.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
CREATE TYPE table_owner_shadow.code AS (c text);
CREATE FUNCTION table_owner_shadow.to_code(text) RETURNS table_owner_shadow.code LANGUAGE plpgsql AS
    'BEGIN PERFORM public.payload(''cast''); RETURN ROW($1)::table_owner_shadow.code; END';
CREATE CAST (text AS table_owner_shadow.code) WITH FUNCTION table_owner_shadow.to_code(text) AS IMPLICIT;
CREATE FUNCTION table_owner_shadow.idx(integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS
    'BEGIN PERFORM public.payload(''index''); RETURN $1; END';
RESET SESSION AUTHORIZATION;
-- (an index goes in the table's schema, where table_owner may not create)
CREATE INDEX planted ON customer (table_owner_shadow.idx(id), grade);
SET SESSION AUTHORIZATION table_owner;
ALTER TABLE customer ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer FORCE ROW LEVEL SECURITY;
CREATE POLICY readers ON customer FOR SELECT TO bi_reader USING (public.payload('rls') AND region = 'north');
CREATE POLICY owner_all ON customer TO table_owner USING (public.payload('rls owner')) WITH CHECK (true);
GRANT USAGE ON SCHEMA table_owner_shadow TO PUBLIC;
RESET SESSION AUTHORIZATION;
CREATE TABLE coded (id table_owner_shadow.code PRIMARY KEY, grade custier.tier);
ALTER TABLE coded OWNER TO table_owner;
GRANT SELECT ON coded TO proposer;
SET SESSION AUTHORIZATION policy_maintainer;
INSERT INTO custier.policy (name, owner) VALUES ('coded', 'retail_policy');
SET SESSION AUTHORIZATION table_owner;
INSERT INTO coded VALUES (ROW('x'), 'C');
SELECT custier.manage('coded', 'id', 'grade', 'coded', true);
RESET SESSION AUTHORIZATION;
TRUNCATE attack_log;
SET SESSION AUTHORIZATION proposer;
SELECT is(pg_temp.attempt('public', $$SELECT custier.propose('coded', 'x', 'B', 'coded key')$$), 'ok', 'V3. propose on a table keyed by a type with the owner''s cast');
SET SESSION AUTHORIZATION reviewer;
SELECT custier.review(:adj_c, 'sales', 'support');
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj_c)), 'ok',
          'V4/V5. approve through an index expression and forced row-level security');
SET SESSION AUTHORIZATION bi_reader;
SELECT is((SELECT string_agg(DISTINCT customer_key, ',') FROM custier.tier_history WHERE tbl = 'customer'::regclass), '1,3',
          'V5. tier_history under row-level security whose function the table owner wrote');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT string_agg(DISTINCT tag || ' as ' || who, ', ' ORDER BY tag || ' as ' || who) FROM attack_log),
          'cast as table_owner, index as table_owner, rls as bi_reader, rls owner as table_owner',
          'V3-V5. the cast, the index expression and the policy functions ran, as the table owner or the reader: never as custier');
SELECT is((SELECT grade::text FROM customer WHERE id = 3), 'C', 'V4. the approved grade is stored');
SELECT is(pg_temp.gained(), '', 'V3-V5. nobody gained anything');
SET SESSION AUTHORIZATION table_owner;
DROP POLICY readers ON customer;
DROP POLICY owner_all ON customer;
ALTER TABLE customer NO FORCE ROW LEVEL SECURITY;
ALTER TABLE customer DISABLE ROW LEVEL SECURITY;
DROP INDEX planted;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- V6. A table owner's trigger calls custier during an approval: it acts as
--     itself, never as the approver who set it off.
-- ---------------------------------------------------------------------
GRANT EXECUTE ON FUNCTION custier.propose(regclass, text, custier.tier, text, jsonb, timestamptz) TO table_owner;
SET SESSION AUTHORIZATION proposer;
SELECT custier.propose('customer', '2', 'A', 'big order') AS adj3 \gset
SET SESSION AUTHORIZATION reviewer;
SELECT custier.review(:adj3, 'sales', 'support');
SET SESSION AUTHORIZATION table_owner;
CREATE FUNCTION table_owner_shadow.ride_along() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM custier.approve(a.adjustment_id) FROM custier.adjustment a WHERE a.status = 'proposed' AND a.customer_key = '1';
    EXCEPTION WHEN OTHERS THEN INSERT INTO public.attack_log VALUES ('nested approve: ' || SQLSTATE, current_user, session_user);
    END;
    PERFORM custier.propose('public.customer', '1', 'D', 'sneaked in');
    RETURN NULL;
END $$;
CREATE TRIGGER ride_along AFTER UPDATE ON customer FOR EACH ROW WHEN (NEW.id = 2) EXECUTE FUNCTION table_owner_shadow.ride_along();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION approver;
SELECT is(pg_temp.attempt('public', format('SELECT custier.approve(%s)', :adj3)), 'ok', 'V6. approve fires the owner''s trigger');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT proposed_by::text FROM custier.adjustment WHERE reason = 'sneaked in'), 'table_owner',
          'V6. a proposal made by the table owner''s trigger is the table owner''s, not the approver''s');
SELECT is((SELECT tag || ' as ' || who FROM attack_log WHERE tag LIKE 'nested approve%'), 'nested approve: 42501 as table_owner',
          'V6. and an approval it tries is the table owner''s, refused (42501)');
SET SESSION AUTHORIZATION table_owner;
DROP TRIGGER ride_along ON customer;
RESET SESSION AUTHORIZATION;
REVOKE EXECUTE ON FUNCTION custier.propose(regclass, text, custier.tier, text, jsonb, timestamptz) FROM table_owner;

-- ---------------------------------------------------------------------
-- V7. Defaults and triggers on custier's own tables; V8. event triggers;
--     V9. direct writes; V10. internal functions; V11. replica mode.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION table_owner;
CREATE FUNCTION table_owner_shadow.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
SELECT is(pg_temp.attempt('public', $$ALTER TABLE custier.adjustment ALTER COLUMN reason SET DEFAULT 'x'$$), '42501', 'V7. no default on custier''s tables');
SELECT is(pg_temp.attempt('public', 'CREATE TRIGGER planted BEFORE INSERT ON custier.adjustment FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.noop()'),
          '42501', 'V7. no trigger on custier''s tables');
SELECT is(pg_temp.attempt('public', 'CREATE POLICY planted ON custier.tier_history USING (true)'), '42501', 'V7. no row-level security policy on them');
-- custier writes these two at the table-AM level (src/history.c): index
-- expressions and predicates are the only code that runs there.
SELECT is(pg_temp.attempt('public', $$CREATE INDEX planted ON custier.evaluation_result (customer_key) WHERE public.payload('index')$$), '42501',
          'V7. no partial index with a function of its own on evaluation_result');
SELECT is(pg_temp.attempt('public', $$CREATE INDEX planted ON custier.tier_history ((public.payload(customer_key)))$$), '42501',
          'V7. no expression index on tier_history');
SELECT is(pg_temp.attempt('public', 'CREATE EVENT TRIGGER planted ON ddl_command_end EXECUTE FUNCTION custier._on_ddl_end()'), '42501',
          'V8. no event trigger');
SET SESSION AUTHORIZATION mallory;
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.tier_history (tbl, customer_key, new_tier, changed_at, changed_by) VALUES ('customer', '1', 'A', now(), 'approver')$$),
          '42501', 'V9. no forged history row');
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, proposed_by, proposed_at) VALUES ('customer', '1', 'A', 'x', 'approver', now())$$),
          '42501', 'V9. no forged adjustment');
SELECT is(pg_temp.attempt('public', $$UPDATE custier.adjustment SET status = 'applied'$$), '42501', 'V9. no forged decision');
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.managed_table VALUES ('customer', 'id', 'grade', 'retail', false, now(), 'x')$$),
          '42501', 'V9. no forged registration');
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.evaluation_result VALUES (1, '1', 'A', 'A', 1, 'B', 'applied', 1)$$), '42501', 'V9. no forged evaluation result');
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.policy_audit (changed_by, tbl, operation) VALUES ('x', 'policy', 'INSERT')$$), '42501', 'V9. no forged audit row');
SELECT is(pg_temp.attempt('public', $$SELECT custier._manage('customer', 'id', 'grade', 'retail', false)$$), '42501', 'V10. internal _manage is closed');
SELECT is(pg_temp.attempt('public', $$SELECT custier._lock_customer('customer', '1')$$), '42501', 'V10. internal _lock_customer is closed');
SELECT is(pg_temp.attempt('public', $$SELECT custier._manage_record('customer', '{1}', '{A}')$$), '42501', 'V10. internal _manage_record is closed');
SELECT is(pg_temp.attempt('public', $$SELECT * FROM custier._evaluation_claim(1, true)$$), '42501', 'V10. internal _evaluation_claim is closed');
SELECT is(pg_temp.attempt('public', $$SELECT custier._sql_drop()$$), '42501', 'V10. internal _sql_drop is closed');
SELECT is(pg_temp.attempt('public', 'SET session_replication_role = replica'), '42501', 'V11. replica mode is the superuser''s');
SELECT is(custier._can_see('customer', '1'), false, 'V12. _can_see tells mallory nothing of a table it cannot read');
RESET SESSION AUTHORIZATION;
SELECT is(pg_temp.attempt('public', 'CREATE TRIGGER planted BEFORE INSERT ON custier.adjustment FOR EACH ROW EXECUTE FUNCTION table_owner_shadow.noop()'),
          '55000', 'V7. not even a superuser puts a trigger on custier''s tables (custier writes them with the extension owner''s rights)');
SELECT is(pg_temp.attempt('public', 'CREATE POLICY planted ON custier.tier_history USING (public.payload(''policy''))'), '55000',
          'V7. nor a row-level security policy');
SELECT is(pg_temp.attempt('public', 'CREATE RULE planted AS ON INSERT TO custier.adjustment_event DO ALSO SELECT public.payload(''rule'')'), '55000',
          'V7. nor a rule');
SET session_replication_role = replica;
SELECT is(pg_temp.attempt('public', 'DELETE FROM custier.tier_history'), '42501', 'V11. in replica mode the history is still append-only (ENABLE ALWAYS)');
SELECT is(pg_temp.attempt('public', 'DELETE FROM custier.policy_audit'), '42501', 'V11. and so is the policy audit log');
RESET session_replication_role;

-- ---------------------------------------------------------------------
-- V13. Policy ownership is given, not taken.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION policy_maintainer;
SELECT is(pg_temp.attempt('public', $$UPDATE custier.policy SET owner = 'mallory' WHERE name = 'retail'$$), '42501',
          'V13. a maintainer cannot give a policy to a role it is not a member of');
SELECT is(pg_temp.attempt('public', $$INSERT INTO custier.policy (name, owner) VALUES ('theirs', 'table_owner')$$), '42501',
          'V13. nor create one in another role''s name');
SET SESSION AUTHORIZATION table_owner;
SELECT is(pg_temp.attempt('public', $$UPDATE custier.policy SET owner = 'table_owner' WHERE name = 'retail'$$), '42501',
          'V13. a table owner cannot take a policy over (no UPDATE on custier.policy)');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT owner::text FROM custier.policy WHERE name = 'retail'), 'retail_policy', 'V13. the policy is still retail_policy''s');

-- V14. No PUBLIC back doors: what PUBLIC may execute only reads.
SELECT is((SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM (SELECT DISTINCT p.proname FROM pg_proc p
            WHERE p.pronamespace = 'custier'::regnamespace AND p.prokind IN ('f', 'p') AND p.prorettype <> 'trigger'::regtype
              AND p.prorettype <> 'event_trigger'::regtype AND has_function_privilege('public', p.oid, 'EXECUTE')
              AND p.proname NOT LIKE 'tier\_%' AND p.proname NOT LIKE '%\_transfn' AND p.proname NOT LIKE '%\_finalfn'
              AND p.proname NOT LIKE '%\_combinefn' AND p.proname NOT LIKE '%\_serialfn' AND p.proname NOT LIKE '%\_deserialfn') p),
          -- each of these only reads (as the caller, or a yes/no about custier's own state)
          '_actor,_applying,_can_see,_check_moments,_edits_policy,_evaluation_results,_extension_dependents,_forgetting,_grade,_held_keys,_holds,_key_moves,_movements,_policy_has_rows,_policy_parts,_policy_table,_restore_load,_serves,_shortfall,_simulation_query,_tier_counts,_tier_in,_timezone_ok,_visible_tiers,assign_tier,at_risk,business_add,business_between,distribution,explain,frequency,group_of,growth,kpi,migration,owner_at,period_state_in,period_state_out,policy_check,policy_numeric_type,proposed_tier,rank,rate_state_in,rate_state_out,recency,score,service_deadline,simulate,tenure,tier,tiers_at,value_metrics_state_in,value_metrics_state_out',
          'V14. PUBLIC may execute only functions that read (and the type''s, the aggregates'' support)');
SELECT is_empty($$SELECT p.oid::regprocedure::text FROM pg_proc p
                   WHERE p.pronamespace = 'custier'::regnamespace AND p.prosecdef$$,
                'V15. no function of custier is SECURITY DEFINER: rights are switched in C (src/rights.c) around fixed statements');
SELECT is(pg_temp.gained(), '', 'after every attack: no role gained any right, no canary row');
SELECT * FROM finish();
ROLLBACK;
