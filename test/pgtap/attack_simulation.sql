-- pgTAP: privileges and attacks on simulation and held grades
-- (doc/simulation.md): nothing here runs with borrowed rights, so a role
-- gets through copy_policy, simulate and custier.held exactly what its own
-- privileges give it, and a shadowing schema gains nothing.
\ir setup.inc

SELECT plan(28);

CREATE ROLE custier_test_sima_maint;     -- policy maintainer: edits policies
CREATE ROLE custier_test_sima_analyst;   -- reads the customers and the metrics
CREATE ROLE custier_test_sima_attacker;  -- reads the customers, not the metrics
CREATE ROLE custier_test_sima_outsider;  -- reads nothing
GRANT USAGE ON SCHEMA custier TO custier_test_sima_maint, custier_test_sima_analyst,
                                 custier_test_sima_attacker, custier_test_sima_outsider;
GRANT INSERT, UPDATE, DELETE ON custier.policy, custier.policy_tier, custier.policy_criterion,
      custier.policy_threshold, custier.policy_band, custier.policy_reviewer TO custier_test_sima_maint;
GRANT EXECUTE ON FUNCTION custier.copy_policy(text, text) TO custier_test_sima_maint, custier_test_sima_attacker;

CREATE TABLE sima_customer (id int PRIMARY KEY, region text, grade custier.tier);
CREATE TABLE sima_metrics (id int PRIMARY KEY, spend numeric);
CREATE TABLE sima_metrics_other (id int PRIMARY KEY, spend numeric);
INSERT INTO sima_customer SELECT i, CASE WHEN i <= 3 THEN 'north' ELSE 'south' END, 'C' FROM generate_series(1, 8) i;
INSERT INTO sima_metrics SELECT i, i * 100 FROM generate_series(1, 8) i;
INSERT INTO sima_metrics_other SELECT i, i * 300 FROM generate_series(1, 8) i;
INSERT INTO custier.policy (name, metrics_source, key_column) VALUES ('sima', 'sima_metrics', 'id');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('sima', 'spend');
INSERT INTO custier.policy_threshold VALUES ('sima', 'spend', 'A', 700), ('sima', 'spend', 'B', 400);
SELECT custier.manage('sima_customer', 'id', 'grade', 'sima');
GRANT SELECT ON sima_customer TO custier_test_sima_maint, custier_test_sima_analyst, custier_test_sima_attacker;
GRANT SELECT ON sima_metrics TO custier_test_sima_maint, custier_test_sima_analyst;

-- What they are: no borrowed rights, pinned names.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace AND p.prosecdef
       AND p.proname IN ('copy_policy', 'simulate', '_simulation_query', '_policy_parts', '_holds', '_held_keys',
                         '_same_grade_allowed', '_adjustment_hold_guard')
$$, 'no simulation or hold function is SECURITY DEFINER');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('copy_policy', 'simulate', '_simulation_query', '_policy_parts', '_holds', '_held_keys',
                         '_same_grade_allowed', '_adjustment_hold_guard')
       AND NOT coalesce(p.proconfig @> '{"search_path=pg_catalog, pg_temp"}', false)
$$, 'every simulation and hold function pins search_path = pg_catalog, pg_temp');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'custier'::regnamespace
              AND p.proname IN ('copy_policy', 'simulate', '_simulation_query', '_holds', '_held_keys',
                                '_same_grade_allowed', '_adjustment_hold_guard', '_policy_parts')),
          8, 'the functions checked above exist');
SELECT ok(NOT has_function_privilege('public', 'custier.copy_policy(text, text)', 'EXECUTE'),
          'PUBLIC cannot execute copy_policy (it writes)');
SELECT ok(NOT has_function_privilege('public', 'custier._same_grade_allowed(custier.adjustment)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'custier._adjustment_hold_guard()', 'EXECUTE'),
          'PUBLIC cannot execute the hold guard or its helper');
SELECT ok((SELECT c.reloptions @> '{security_invoker=true}' FROM pg_class c WHERE c.oid = 'custier.held'::regclass),
          'custier.held reads as the caller (security_invoker)');
SELECT is_empty($$
    SELECT a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = 'custier.held'::regclass AND a.grantee = 0 AND a.privilege_type <> 'SELECT'
$$, 'PUBLIC may only SELECT custier.held');

-- copy_policy writes as the caller.
SET ROLE custier_test_sima_attacker;
SELECT throws_ok($$SELECT custier.copy_policy('sima', 'sima stolen')$$, '42501', NULL,
                 'a role without INSERT on the policy tables cannot copy a policy');
RESET ROLE;
SELECT ok(NOT EXISTS (SELECT FROM custier.policy WHERE name = 'sima stolen'), '... and no policy row was written');
SET ROLE custier_test_sima_maint;
SELECT lives_ok($$SELECT custier.copy_policy('sima', 'sima draft')$$, 'a policy maintainer copies a policy');
RESET ROLE;
SELECT is((SELECT array_agg(DISTINCT changed_by::text) FROM custier.policy_audit WHERE policy = 'sima draft'),
          ARRAY['custier_test_sima_maint'], 'the copy is audited as made by the maintainer');
UPDATE custier.policy_threshold SET bound = 900 WHERE policy = 'sima draft' AND tier = 'A';

-- simulate reads the managed table and the metrics sources as the caller.
SET ROLE custier_test_sima_analyst;
SELECT is((SELECT count(*)::int FROM custier.simulate('sima', 'sima draft')), 8,
          'a role that can read the customers and the metrics simulates them all');
RESET ROLE;
SET ROLE custier_test_sima_attacker;
SELECT throws_ok($$SELECT * FROM custier.simulate('sima', 'sima draft')$$, '42501', NULL,
                 'a role without SELECT on the metrics source gets nothing through simulate');
RESET ROLE;
SET ROLE custier_test_sima_outsider;
SELECT throws_ok($$SELECT * FROM custier.simulate('sima', 'sima draft')$$, '42501', NULL,
                 'a role without SELECT on the managed table gets nothing through simulate');
RESET ROLE;
-- A draft over a source the analyst may not read.
SELECT custier.copy_policy('sima', 'sima draft other');
UPDATE custier.policy SET metrics_source = 'sima_metrics_other' WHERE name = 'sima draft other';
SET ROLE custier_test_sima_analyst;
SELECT throws_ok($$SELECT * FROM custier.simulate('sima', 'sima draft other')$$, '42501', NULL,
                 'a draft over a metrics source the caller cannot read gives nothing either');
RESET ROLE;
-- Row-level security of the managed table holds through simulate.
ALTER TABLE sima_customer ENABLE ROW LEVEL SECURITY;
CREATE POLICY north_only ON sima_customer FOR SELECT TO custier_test_sima_analyst USING (region = 'north');
SET ROLE custier_test_sima_analyst;
SELECT is((SELECT array_agg(customer_key ORDER BY customer_key) FROM custier.simulate('sima', 'sima draft')),
          ARRAY['1', '2', '3'], 'row-level security of the managed table: simulate shows only the rows the caller sees');
RESET ROLE;
ALTER TABLE sima_customer DISABLE ROW LEVEL SECURITY;

-- A shadowing schema before pg_catalog gains nothing: none of its objects runs.
CREATE SCHEMA sima_evil;
GRANT USAGE ON SCHEMA sima_evil TO PUBLIC;
CREATE FUNCTION sima_evil.trap() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'shadowing object called' USING ERRCODE = 'P0666'; END $$;
CREATE FUNCTION sima_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION sima_evil.format(text, text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION sima_evil.quote_ident(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION sima_evil.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION sima_evil.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE OPERATOR sima_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sima_evil.texteq);
CREATE FUNCTION sima_evil.inteq(int, int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE OPERATOR sima_evil.= (LEFTARG = int, RIGHTARG = int, FUNCTION = sima_evil.inteq);
CREATE FUNCTION sima_evil.tsgt(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM sima_evil.trap(); RETURN NULL; END $$;
CREATE OPERATOR sima_evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sima_evil.tsgt);
CREATE OPERATOR sima_evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sima_evil.tsgt);
CREATE TABLE sima_evil.policy (name text);
CREATE TABLE sima_evil.managed_table (policy text);

CREATE TEMP TABLE sima_clean AS SELECT * FROM custier.simulate('sima', 'sima draft');
CREATE TEMP TABLE sima_shadowed (LIKE sima_clean);
CREATE TEMP TABLE sima_tried (what text, result text);
GRANT ALL ON sima_shadowed, sima_tried TO PUBLIC;
-- try(sql): 'ok', or the SQLSTATE it raised.  It uses no operator, so that
-- it runs as well under the shadowing path as the calls it makes.
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;
SET ROLE custier_test_sima_analyst;
SET search_path = sima_evil, pg_catalog, public, custier;
INSERT INTO sima_tried VALUES
    ('simulate', pg_temp.try($$INSERT INTO sima_shadowed SELECT * FROM custier.simulate('sima', 'sima draft')$$)),
    ('simulate as of 2000', pg_temp.try($$SELECT * FROM custier.simulate('sima', 'sima draft', '2000-01-01')$$)),
    ('held', pg_temp.try($$SELECT * FROM custier.held$$)),
    ('control', pg_temp.try($$SELECT 1 WHERE 'a'::text = 'a'::text$$));
RESET ROLE;
SET ROLE custier_test_sima_maint;
INSERT INTO sima_tried VALUES ('copy_policy', pg_temp.try($$SELECT custier.copy_policy('sima', 'sima draft 2')$$));
RESET ROLE;
SET search_path = public, custier;
SELECT is((SELECT result FROM sima_tried WHERE what = 'control'), 'P0666',
          'control: the shadowing operator does catch an unqualified text = text');
SELECT is((SELECT result FROM sima_tried WHERE what = 'simulate'), 'ok',
          'simulate under a shadowing search_path calls none of its objects');
SELECT is((SELECT count(*)::int FROM sima_shadowed s JOIN sima_clean c USING (customer_key)
            WHERE c.draft_tier = s.draft_tier AND c.live_tier = s.live_tier), 8,
          '... and gives the same answer as under a clean search_path');
SELECT is((SELECT result FROM sima_tried WHERE what = 'simulate as of 2000'), 'ok',
          'simulate of a past as_of under a shadowing search_path calls none of its objects');
SELECT is((SELECT result FROM sima_tried WHERE what = 'held'), 'ok',
          'custier.held under a shadowing search_path calls none of its objects');
SELECT is((SELECT result FROM sima_tried WHERE what = 'copy_policy'), 'ok',
          'copy_policy under a shadowing search_path calls none of its objects');
SELECT is((SELECT count(*)::int FROM custier.policy_threshold WHERE policy = 'sima draft 2'), 2,
          '... and copies every row');

-- Held grades follow the table: a role sees the holds of the customers it can read.
CREATE ROLE custier_test_sima_boss;
GRANT SELECT ON sima_customer TO custier_test_sima_boss;
GRANT USAGE ON SCHEMA custier TO custier_test_sima_boss;
GRANT EXECUTE ON FUNCTION custier.approve(bigint, text) TO custier_test_sima_boss;
GRANT EXECUTE ON FUNCTION custier.propose(regclass, text, custier.tier, text, jsonb, timestamptz) TO custier_test_sima_analyst;
SET ROLE custier_test_sima_analyst;
SELECT custier.propose('sima_customer', '5', 'A', 'hold it', hold_until => now() + interval '30 days') AS hold_id \gset
RESET ROLE;
SET ROLE custier_test_sima_boss;
SELECT custier.approve(:hold_id);
RESET ROLE;
SET ROLE custier_test_sima_analyst;
SELECT is((SELECT array_agg(customer_key) FROM custier.held WHERE tbl = 'sima_customer'::regclass), ARRAY['5'],
          'a role that can read the managed table sees its holds');
RESET ROLE;
SET ROLE custier_test_sima_outsider;
SELECT is_empty($$SELECT * FROM custier.held$$, 'a role that cannot read the managed table sees none of its holds');
SELECT throws_ok(format($$SELECT custier.propose('sima_customer', '5', 'A', 'end it')$$), '42501', NULL,
                 'a role without EXECUTE on propose cannot end a hold');
RESET ROLE;
-- A direct write cannot move a hold's end.
SELECT throws_ok(format('UPDATE custier.adjustment SET hold_until = now() + interval ''1 year'' WHERE adjustment_id = %s', :hold_id),
                 '55000', NULL, 'hold_until of an applied adjustment cannot be changed, even by its owner');
SELECT is((SELECT hold_until > now() + interval '29 days' AND hold_until < now() + interval '31 days'
             FROM custier.adjustment WHERE adjustment_id = :hold_id), true, '... it is as approved');

SELECT * FROM finish();
ROLLBACK;
