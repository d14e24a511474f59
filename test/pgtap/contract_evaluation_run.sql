-- pgTAP acceptance: CALL custier.run_evaluation, checked black-box.
-- run_evaluation commits, so this file runs WITHOUT a wrapping transaction.
-- It cleans up after itself: it drops its own tables, and drops the custier
-- (and pgtap) extension only if it created it; if custier was already
-- installed, its policies and history rows (append-only) are left behind
-- under names unique to this backend.
-- Every description says the documented behaviour it checks.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap,
       'contract_run_' || pg_backend_pid() AS p \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
SET search_path = public, custier;
SET TimeZone = 'UTC';

SELECT plan(29);

-- Three policies, one per approval mode; thresholds A ≥ 1000, B ≥ 500, C ≥ 100 on "amount"; lowest D.
CREATE TABLE contract_run_metrics (cust text PRIMARY KEY, amount numeric);
INSERT INTO contract_run_metrics VALUES
    ('d_new', 600), ('d_up', 1500), ('d_down', 50), ('d_same', 700),
    ('n_up', 1500), ('n_down', 50),
    ('a_new', 600), ('a_up', 1500), ('a_down', 50);
INSERT INTO custier.policy (name, approval, upgrade_after, downgrade_after, metrics_source, key_column) VALUES
    (:'p' || '_down', 'downgrade', 2, 1, 'contract_run_metrics', 'cust'),
    (:'p' || '_none', 'none', 1, 1, 'contract_run_metrics', 'cust'),
    (:'p' || '_all', 'all', 1, 1, 'contract_run_metrics', 'cust');
INSERT INTO custier.policy_criterion (policy, metric) SELECT name, 'amount' FROM custier.policy WHERE name LIKE :'p' || '\_%';
INSERT INTO custier.policy_threshold (policy, metric, tier, bound)
SELECT name, 'amount', t, b FROM custier.policy, (VALUES ('A'::custier.tier, 1000), ('B', 500), ('C', 100)) v(t, b)
WHERE name LIKE :'p' || '\_%';
CREATE TABLE contract_run_down (id text PRIMARY KEY, grade custier.tier);
CREATE TABLE contract_run_none (id text PRIMARY KEY, grade custier.tier);
CREATE TABLE contract_run_all (id text PRIMARY KEY, grade custier.tier);
INSERT INTO contract_run_down VALUES ('d_new', NULL), ('d_up', 'C'), ('d_down', 'B'), ('d_same', 'B');
INSERT INTO contract_run_none VALUES ('n_up', 'C'), ('n_down', 'B');
INSERT INTO contract_run_all VALUES ('a_new', NULL), ('a_up', 'C'), ('a_down', 'B');
SELECT custier.manage('contract_run_down', 'id', 'grade', :'p' || '_down', true);
SELECT custier.manage('contract_run_none', 'id', 'grade', :'p' || '_none', true);
SELECT custier.manage('contract_run_all', 'id', 'grade', :'p' || '_all', true);
SELECT max(history_id) AS h0 FROM custier.tier_history \gset

-- Cycle 1 (batch_size 2 for the downgrade policy: several commits)
CALL custier.run_evaluation(:'p' || '_down', '2025-01-01 00:00+00', 2);
CALL custier.run_evaluation(:'p' || '_none', '2025-01-01 00:00+00');
CALL custier.run_evaluation(:'p' || '_all', '2025-01-01 00:00+00', batch_size => 1);
SELECT evaluation_id AS e1 FROM custier.evaluation WHERE policy = :'p' || '_down' AND as_of = '2025-01-01 00:00+00' \gset

SELECT is((SELECT format('%s|%s|%s|%s|%s', policy = :'p' || '_down', as_of, finished_at IS NOT NULL, customers, started_at IS NOT NULL)
           FROM custier.evaluation WHERE evaluation_id = :e1),
          't|2025-01-01 00:00:00+00|t|4|t',
          'run_evaluation: "records an evaluation (custier.evaluation …)": policy, as_of, started_at, finished_at set when done, customers done');
SELECT is((SELECT string_agg(customer_key || ':' || qualified_tier::text || '>' || proposed_tier::text, ' ' ORDER BY customer_key)
           FROM custier.evaluation_result WHERE evaluation_id = :e1),
          'd_down:D>D d_new:B>B d_same:B>B d_up:A>C',
          'evaluation_result "one row per customer per evaluation" with qualified_tier and proposed_tier');
SELECT is((SELECT count(*)::int FROM custier.evaluation_result WHERE evaluation_id = :e1 AND score IS NOT NULL), 4, 'evaluation_result carries the score');
SELECT is((SELECT string_agg(id || '=' || coalesce(grade::text, '-'), ',' ORDER BY id) FROM contract_run_down),
          'd_down=B,d_new=B,d_same=B,d_up=C',
          'run_evaluation (approval downgrade): first grading applied at once; the upgrade waits for upgrade_after = 2; the downgrade waits for approval');
SELECT is((SELECT format('%s|%s>%s|%s|%s', count(*), min(from_tier::text), min(to_tier::text), min(status), bool_and(evaluation_id = :e1))
           FROM custier.adjustment WHERE tbl = 'contract_run_down'::regclass AND customer_key = 'd_down'),
          '1|B>D|proposed|t',
          'under approval downgrade a downgrade "opens an adjustment for approval" (status proposed, evaluation_id set)');
SELECT is((SELECT format('%s|%s', changed, proposed) FROM custier.evaluation WHERE evaluation_id = :e1), '1|1',
          'evaluation.changed and .proposed count what the run applied and proposed');
SELECT is((SELECT string_agg(customer_key || ':' || coalesce(old_tier::text, '-') || '>' || new_tier::text, ' ' ORDER BY customer_key)
           FROM custier.tier_history WHERE tbl = 'contract_run_down'::regclass AND history_id > :h0),
          'd_new:->B', 'the applied first grading is in tier_history');
SELECT is((SELECT string_agg(id || '=' || grade::text, ',' ORDER BY id) FROM contract_run_none), 'n_down=D,n_up=A',
          '(approval none): every change is applied — through the require_approval guard ("an evaluation run whose policy lets the change through")');
SELECT is((SELECT count(*)::int FROM custier.adjustment WHERE tbl = 'contract_run_none'::regclass), 0, '(approval none): no adjustment is opened');
SELECT is((SELECT string_agg(id || '=' || coalesce(grade::text, '-'), ',' ORDER BY id) FROM contract_run_all), 'a_down=B,a_new=B,a_up=C',
          '(approval all): changes wait for approval; a first grading is applied at once');
SELECT is((SELECT string_agg(customer_key || ':' || from_tier::text || '>' || to_tier::text || ':' || status, ' ' ORDER BY customer_key)
           FROM custier.adjustment WHERE tbl = 'contract_run_all'::regclass),
          'a_down:B>D:proposed a_up:C>A:proposed', '(approval all): an adjustment for every change, upgrade and downgrade');
SELECT ok((SELECT bool_and(evaluation_id IS NOT NULL AND reason IS NOT NULL AND reason <> '' AND evidence IS NOT NULL)
           FROM custier.adjustment WHERE tbl = 'contract_run_all'::regclass),
          'adjustments opened by a run carry the evaluation id, a reason and evidence');
SELECT is((SELECT count(*)::int FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
           WHERE e.policy = :'p' || '_all'), 3, 'batch_size 1 still records one result row per customer');

-- Calling again for the same policy and as_of does no customer twice
SELECT count(*) AS r1 FROM custier.evaluation_result WHERE evaluation_id = :e1 \gset
SELECT count(*) AS hh1 FROM custier.tier_history \gset
SELECT count(*) AS a1 FROM custier.adjustment \gset
CALL custier.run_evaluation(:'p' || '_down', '2025-01-01 00:00+00', 2);
SELECT is((SELECT count(*)::int FROM custier.evaluation WHERE policy = :'p' || '_down'), 1,
          '"when called again for the same policy and as_of" there is still one evaluation');
SELECT is((SELECT count(*) FROM custier.evaluation_result WHERE evaluation_id = :e1), :r1::bigint,
          'called again, "without doing any customer twice" (results)');
SELECT ok((SELECT count(*) FROM custier.tier_history) = :hh1 AND (SELECT count(*) FROM custier.adjustment) = :a1,
          'called again, no grade change or adjustment is made twice');

-- Cycle 2
CALL custier.run_evaluation(:'p' || '_down', '2025-07-01 00:00+00', 2);
CALL custier.run_evaluation(:'p' || '_all', '2025-07-01 00:00+00');
SELECT evaluation_id AS e2 FROM custier.evaluation WHERE policy = :'p' || '_down' AND as_of = '2025-07-01 00:00+00' \gset
SELECT is((SELECT grade::text FROM contract_run_down WHERE id = 'd_up'), 'A',
          '(approval downgrade): after two consecutive evaluations above, the upgrade "goes to the worst tier of that streak" and is applied');
SELECT is((SELECT count(*)::int FROM custier.adjustment WHERE tbl = 'contract_run_down'::regclass AND customer_key = 'd_down'), 1,
          'no second open adjustment for a customer in a later cycle');
SELECT is((SELECT count(*)::int FROM custier.adjustment WHERE tbl = 'contract_run_all'::regclass), 2,
          '(approval all): no duplicate open adjustments in the second cycle');
SELECT is((SELECT adjustment_id IS NULL FROM custier.tier_history WHERE tbl = 'contract_run_down'::regclass AND customer_key = 'd_up' AND new_tier = 'A'), true,
          'an applied evaluation change "did not come through an adjustment": adjustment_id NULL');
SELECT is((SELECT count(*)::int FROM custier.evaluation_result WHERE evaluation_id = :e2), 4, 'cycle 2 records a result for every customer');
SELECT ok((SELECT finished_at IS NOT NULL AND customers = 4 FROM custier.evaluation WHERE evaluation_id = :e2), 'cycle 2 finished');

-- Resume after a crash: the run dies part-way (a user trigger on the managed
-- table fails on customer s07, in the fourth batch of two) and is called again.
CREATE TABLE contract_run_slow_cust (id text PRIMARY KEY, grade custier.tier);
CREATE TABLE contract_run_slow (cust text PRIMARY KEY, amount numeric);
CREATE TABLE contract_run_crash (armed boolean);
INSERT INTO contract_run_crash VALUES (true);
CREATE FUNCTION pg_temp.contract_run_crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 's07' AND (SELECT armed FROM public.contract_run_crash) THEN
        RAISE EXCEPTION 'simulated crash at customer %', NEW.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER contract_run_crash BEFORE UPDATE ON contract_run_slow_cust FOR EACH ROW EXECUTE FUNCTION pg_temp.contract_run_crash();
INSERT INTO contract_run_slow_cust SELECT 's' || lpad(i::text, 2, '0'), 'C' FROM generate_series(1, 12) i;
INSERT INTO contract_run_slow SELECT id, 1500 FROM contract_run_slow_cust;
INSERT INTO custier.policy (name, metrics_source, key_column) VALUES (:'p' || '_slow', 'contract_run_slow', 'cust');
INSERT INTO custier.policy_criterion (policy, metric) VALUES (:'p' || '_slow', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES (:'p' || '_slow', 'amount', 'A', 1000), (:'p' || '_slow', 'amount', 'B', 500);
SELECT custier.manage('contract_run_slow_cust', 'id', 'grade', :'p' || '_slow');
SELECT max(history_id) AS hs FROM custier.tier_history \gset
\warn '# expected: the CALL below stops with "ERROR:  simulated crash at customer s07" (this test''s trigger raises it)'
\set ON_ERROR_STOP 0
\set VERBOSITY terse
CALL custier.run_evaluation(:'p' || '_slow', '2025-01-01 00:00+00', 2);
\set VERBOSITY default
\set ON_ERROR_STOP 1
UPDATE contract_run_crash SET armed = false;
SELECT is((SELECT format('unfinished=%s, some done=%s, some left=%s', finished_at IS NULL, customers > 0, customers < 12)
             FROM custier.evaluation WHERE policy = :'p' || '_slow'),
          'unfinished=t, some done=t, some left=t',
          'the crash happened part-way: the evaluation is unfinished, with some customers done and some left');
-- What the crashed run committed, to show that resuming does none of it again.
SELECT max(history_id) AS hc FROM custier.tier_history \gset
CREATE TEMP TABLE contract_run_done_before AS
    SELECT r.customer_key FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
     WHERE e.policy = :'p' || '_slow';
CALL custier.run_evaluation(:'p' || '_slow', '2025-01-01 00:00+00', 2);
SELECT is((SELECT format('%s|%s', finished_at IS NOT NULL, customers) FROM custier.evaluation WHERE policy = :'p' || '_slow'), 't|12',
          '"when called again for the same policy and as_of after a crash, resumes" and finishes');
SELECT is((SELECT count(*)::int FROM custier.evaluation WHERE policy = :'p' || '_slow'), 1, 'resuming does not start a second evaluation');
SELECT is((SELECT count(DISTINCT customer_key)::text || '/' || count(*) FROM custier.evaluation_result r JOIN custier.evaluation e USING (evaluation_id)
           WHERE e.policy = :'p' || '_slow'), '12/12', 'after the resume every customer has exactly one result ("without doing any customer twice")');
SELECT is((SELECT count(*)::text || '/' || count(DISTINCT customer_key) FROM custier.tier_history WHERE tbl = 'contract_run_slow_cust'::regclass AND history_id > :hs),
          '12/12', 'after the resume each customer''s grade was changed exactly once');
SELECT is((SELECT count(*)::int FROM custier.tier_history h JOIN contract_run_done_before d USING (customer_key)
            WHERE h.tbl = 'contract_run_slow_cust'::regclass AND h.history_id > :hc), 0,
          'resuming changed no grade of a customer the crashed run had already done');
SELECT is((SELECT string_agg(DISTINCT grade::text, ',') FROM contract_run_slow_cust), 'A', 'every customer upgraded C → A');

SELECT * FROM finish();

-- Clean up: our tables; the extensions only if this file created them.
DROP TABLE contract_run_slow_cust, contract_run_slow, contract_run_crash, contract_run_down, contract_run_none, contract_run_all, contract_run_metrics;
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
