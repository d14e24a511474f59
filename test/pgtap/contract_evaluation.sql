-- pgTAP acceptance: evaluation runs — catalog facts and
-- custier.evaluate() inside a transaction. Earlier evaluations are written
-- into custier.evaluation/evaluation_result (the tables
-- upgrade_after/downgrade_after look back on). CALL run_evaluation commits,
-- so it is checked in contract_evaluation_run.sql.
-- Every description says the documented behaviour it checks.
\ir contract_setup.inc
SET LOCAL TimeZone = 'UTC';

SELECT plan(26);

SET LOCAL check_function_bodies = off;
-- state(): what evaluate() must not change.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM contract_eval_cust t),
        (SELECT count(*) FROM custier.tier_history), (SELECT count(*) FROM custier.adjustment),
        (SELECT count(*) FROM custier.adjustment_event),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.evaluation t),
        (SELECT count(*) FROM custier.evaluation_result))) $$;
-- ev(as_of): evaluate() as "key:current>qualified>proposed" sorted by key.
CREATE FUNCTION pg_temp.ev(p text, a timestamptz) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(customer_key || ':' || coalesce(current_tier::text, '-') || '>' || coalesce(qualified_tier::text, '-') || '>'
                      || coalesce(proposed_tier::text, '-'), ' ' ORDER BY customer_key)
    FROM custier.evaluate(p, a) $$;
RESET check_function_bodies;

-- Signatures and tables
SELECT is(pg_temp.sig('evaluate'),
          'policy text, as_of timestamp with time zone DEFAULT now() -> TABLE(customer_key text, current_tier tier, qualified_tier tier, proposed_tier tier, score numeric, explanation jsonb)',
          '"custier.evaluate(policy text, as_of timestamptz DEFAULT now()) → TABLE(customer_key text, current_tier tier, qualified_tier tier, proposed_tier tier, score numeric, explanation jsonb)"');
SELECT is((SELECT prokind::text FROM pg_proc WHERE pronamespace = 'custier'::regnamespace AND proname = 'run_evaluation'), 'p',
          'run_evaluation is a procedure ("CALL custier.run_evaluation")');
SELECT is(pg_temp.sig('run_evaluation'), 'policy text, as_of timestamp with time zone DEFAULT now(), batch_size integer DEFAULT 10000 -> procedure',
          '"run_evaluation(policy text, as_of timestamptz DEFAULT now(), batch_size int DEFAULT 10000)"');
SELECT is(pg_temp.cols('evaluation', '{evaluation_id,policy,as_of,started_at,finished_at,customers,changed,proposed}') ~ 'MISSING', false,
          'custier.evaluation has evaluation_id, policy, as_of, started_at, finished_at, customers, changed, proposed');
SELECT is(pg_temp.cols('evaluation', '{evaluation_id,policy,as_of,customers,changed,proposed}'),
          'evaluation_id bigint, policy text, as_of timestamp with time zone, customers bigint, changed bigint, proposed bigint',
          'evaluation_id bigint, policy text, as_of timestamptz, customers bigint, changed bigint, proposed bigint');
SELECT is(pg_temp.cols('evaluation_result', '{evaluation_id,customer_key,qualified_tier,proposed_tier,score}'),
          'evaluation_id bigint, customer_key text, qualified_tier tier, proposed_tier tier, score numeric',
          'custier.evaluation_result (evaluation_id, customer_key text, qualified_tier, proposed_tier, score numeric)');

-- Setup: thresholds A ≥ 1000, B ≥ 500, C ≥ 100 on "amount"; lowest D
CREATE TABLE contract_eval_metrics (cust text PRIMARY KEY, amount numeric);
CREATE TABLE contract_eval_cust (id text PRIMARY KEY, grade custier.tier);
INSERT INTO custier.policy (name, metrics_source, key_column, upgrade_after, downgrade_after, max_step)
VALUES ('contract_eval', 'contract_eval_metrics', 'cust', 2, 2, 2);
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_eval', 'amount');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('contract_eval', 'amount', 'A', 1000), ('contract_eval', 'amount', 'B', 500), ('contract_eval', 'amount', 'C', 100);
INSERT INTO contract_eval_cust VALUES
    ('new', NULL), ('nometrics', 'C'), ('same', 'B'), ('up', 'C'), ('up_broken', 'C'), ('up_missing', 'C'),
    ('down', 'A'), ('down_broken', 'A'), ('step', 'D');
INSERT INTO contract_eval_metrics VALUES
    ('new', 600), ('same', 700), ('up', 1500), ('up_broken', 1500), ('up_missing', 1500),
    ('down', 50), ('down_broken', 50), ('step', 2000), ('stranger', 5000);
SELECT custier.manage('contract_eval_cust', 'id', 'grade', 'contract_eval');
-- an earlier, finished evaluation of this policy
INSERT INTO custier.evaluation (evaluation_id, policy, as_of, started_at, finished_at, customers, changed, proposed, tbl)
VALUES (987654321, 'contract_eval', '2024-07-01', '2024-07-01', '2024-07-01 00:10', 8, 0, 0, 'contract_eval_cust');
-- action and batch are columns the reference adds (NOT NULL there)
INSERT INTO custier.evaluation_result (evaluation_id, customer_key, qualified_tier, proposed_tier, score, action, batch) VALUES
    (987654321, 'nometrics', 'C', 'C', 50, 'kept', 1), (987654321, 'same', 'B', 'B', 75, 'kept', 1), (987654321, 'up', 'B', 'C', 75, 'kept', 1),
    (987654321, 'up_broken', 'C', 'C', 50, 'kept', 1), (987654321, 'down', 'C', 'A', 50, 'kept', 1), (987654321, 'down_broken', 'A', 'A', 100, 'kept', 1),
    (987654321, 'step', 'A', 'D', 100, 'kept', 1);

CREATE TEMP TABLE st AS SELECT pg_temp.state() AS s;
CREATE TEMP TABLE ev AS SELECT * FROM custier.evaluate('contract_eval', '2025-01-01');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'evaluate: "changes nothing"');
SELECT is((SELECT string_agg(customer_key, ',' ORDER BY customer_key) FROM ev),
          'down,down_broken,new,nometrics,same,step,up,up_broken,up_missing',
          'evaluate: "covers every customer of the managed table that uses this policy" (and no one else)');
SELECT is((SELECT format('%s>%s>%s', coalesce(current_tier::text, '-'), qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'new'), '->B>B',
          'evaluate: "a customer with no grade yet gets its qualified tier at once" (despite upgrade_after 2)');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'nometrics'), 'C>D>C',
          'evaluate: "a customer with no metrics row has no metrics" (qualifies lowest; one evaluation below is no streak of 2)');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'same'), 'B>B>B',
          'evaluate: "qualified_tier is what the metrics give today"; no change proposed');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'up'), 'C>A>B',
          'evaluate: upgrade after upgrade_after = 2 consecutive evaluations above, "goes to the worst tier of that streak" (A now, B before → B)');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'up_broken'), 'C>A>C',
          'evaluate: no upgrade when the earlier evaluation was not above the grade');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'up_missing'), 'C>A>C',
          'evaluate: no upgrade without an earlier evaluation of the customer (README: missing breaks the streak)');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'down'), 'A>D>C',
          'evaluate: "a downgrade likewise goes to the best tier of its streak" (D now, C before → C)');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'down_broken'), 'A>D>A',
          'evaluate: no downgrade without downgrade_after consecutive evaluations below');
SELECT is((SELECT format('%s>%s>%s', current_tier, qualified_tier, proposed_tier) FROM ev WHERE customer_key = 'step'), 'D>A>B',
          'evaluate: max_step = 2 caps the move (D → A becomes D → B)');
SELECT is((SELECT score FROM ev WHERE customer_key = 'up'), custier.score('contract_eval', '{"amount": 1500}'::jsonb),
          'evaluate: score is the policy''s score of the customer''s metrics');
SELECT is((SELECT explanation->>'tier' FROM ev WHERE customer_key = 'down'), 'D', 'evaluate: explanation is the explain() evidence of the qualified tier');
SELECT is((SELECT explanation FROM ev WHERE customer_key = 'up'), (SELECT custier.explain('contract_eval', m) FROM contract_eval_metrics m WHERE cust = 'up'),
          'evaluate: explanation equals custier.explain(policy, metrics row)');
SELECT is(pg_temp.ev('contract_eval', '2024-07-01'),
          'down:A>D>A down_broken:A>D>A new:->B>B nometrics:C>D>C same:B>B>B step:D>A>D up:C>A>C up_broken:C>A>C up_missing:C>A>C',
          'evaluate: an evaluation as of the earlier evaluation''s date does not look back on it (earlier evaluations only)');

-- upgrade_after / downgrade_after = 1: immediate moves, still capped by max_step
UPDATE custier.policy SET upgrade_after = 1, downgrade_after = 1, max_step = NULL WHERE name = 'contract_eval';
SELECT is(pg_temp.ev('contract_eval', '2025-01-01'),
          'down:A>D>D down_broken:A>D>D new:->B>B nometrics:C>D>D same:B>B>B step:D>A>A up:C>A>A up_broken:C>A>A up_missing:C>A>A',
          'evaluate: with upgrade_after = downgrade_after = 1 and max_step NULL ("no limit") the qualified tier is proposed');
UPDATE custier.policy SET max_step = 1 WHERE name = 'contract_eval';
SELECT is(pg_temp.ev('contract_eval', '2025-01-01'),
          'down:A>D>B down_broken:A>D>B new:->B>B nometrics:C>D>D same:B>B>B step:D>A>C up:C>A>B up_broken:C>A>B up_missing:C>A>B',
          'evaluate: max_step = 1 moves one grade at most (a first grading is not capped)');
-- three-evaluation streak: the worst tier of the streak
UPDATE custier.policy SET upgrade_after = 3, max_step = NULL WHERE name = 'contract_eval';
INSERT INTO custier.evaluation (evaluation_id, policy, as_of, started_at, finished_at, customers, changed, proposed, tbl)
VALUES (987654320, 'contract_eval', '2024-01-01', '2024-01-01', '2024-01-01 00:10', 1, 0, 0, 'contract_eval_cust');
-- action and batch are columns the reference adds (NOT NULL there)
INSERT INTO custier.evaluation_result (evaluation_id, customer_key, qualified_tier, proposed_tier, score, action, batch) VALUES
    (987654320, 'up', 'A', 'C', 100, 'kept', 1), (987654320, 'step', 'B', 'D', 75, 'kept', 1);
SELECT is((SELECT string_agg(customer_key || ':' || proposed_tier::text, ' ' ORDER BY customer_key) FROM custier.evaluate('contract_eval', '2025-01-01')
           WHERE customer_key IN ('up', 'step', 'up_broken')),
          'step:B up:B up_broken:C',
          'evaluate: upgrade_after = 3 — A, B, A → B (worst of the streak); A, A, B → B; a broken streak → no move');

-- unknown policy
SELECT is(pg_temp.err($$SELECT * FROM custier.evaluate('contract_nope', now())$$)->>'state', '42704', 'evaluate of an unknown policy raises 42704');
-- the as_of default
SELECT is((SELECT count(*)::int FROM custier.evaluate('contract_eval')), 9, 'evaluate: as_of DEFAULT now()');

SELECT * FROM finish();
ROLLBACK;
