-- pgTAP acceptance: policies and tier assignment, checked black-box against
-- the documented contract (doc/reference.md).
-- Every description says the documented behaviour it checks.
\ir contract_setup.inc

SELECT plan(103);

-- dry(sql): run a statement and roll it back; NULL if it succeeded, else its error.
CREATE FUNCTION pg_temp.dry(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE s text; m text;
BEGIN
    EXECUTE q;
    RAISE EXCEPTION 'dry run' USING ERRCODE = 'P0099';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    RETURN CASE WHEN s = 'P0099' THEN NULL ELSE jsonb_build_object('state', s, 'message', m) END;
END $$;
-- pk(table): the primary key columns of custier.<table>, in order.
CREATE FUNCTION pg_temp.pk(t text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(a.attname, ',' ORDER BY k.i)
    FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY k(n, i), pg_attribute a
    WHERE c.conrelid = ('custier.' || t)::regclass AND c.contype = 'p' AND a.attrelid = c.conrelid AND a.attnum = k.n $$;
-- snap(): every policy row of every policy table, to show that a refused edit changed nothing.
CREATE FUNCTION pg_temp.snap() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy t),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy_tier t),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy_criterion t),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy_threshold t),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy_band t),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM custier.policy_reviewer t))) $$;

-- Tables, columns, keys
SELECT has_table('custier', 'policy', 'table custier.policy exists');
SELECT is(pg_temp.cols('policy', '{name,method,lowest,period,upgrade_after,downgrade_after,max_step,approval,metrics_source,key_column,description}'),
          'name text, method text, lowest tier, period interval, upgrade_after integer, downgrade_after integer, max_step integer, approval text, metrics_source regclass, key_column name, description text',
          'custier.policy columns: name text, method text, lowest tier, period interval, upgrade_after int, downgrade_after int, max_step int, approval text, metrics_source regclass, key_column name, description text');
SELECT is(pg_temp.pk('policy'), 'name', 'policy key is **name**');
SELECT is(pg_temp.cols('policy_tier', '{policy,tier,label,min_score}'), 'policy text, tier tier, label text, min_score numeric',
          'custier.policy_tier (policy, tier, label text, min_score numeric)');
SELECT is(pg_temp.pk('policy_tier'), 'policy,tier', 'policy_tier key is **policy**, **tier**');
SELECT is(pg_temp.cols('policy_criterion', '{policy,metric,weight,higher_is_better}'), 'policy text, metric name, weight numeric, higher_is_better boolean',
          'custier.policy_criterion (policy, metric name, weight numeric, higher_is_better boolean)');
SELECT is(pg_temp.pk('policy_criterion'), 'policy,metric', 'policy_criterion key is **policy**, **metric name**');
SELECT is(pg_temp.cols('policy_threshold', '{policy,metric,tier,bound}'), 'policy text, metric name, tier tier, bound numeric',
          'custier.policy_threshold (policy, metric, tier, bound numeric)');
SELECT is(pg_temp.pk('policy_threshold'), 'policy,metric,tier', 'policy_threshold key is **policy**, **metric**, **tier**');
SELECT is(pg_temp.cols('policy_band', '{policy,metric,bound,points}'), 'policy text, metric name, bound numeric, points numeric',
          'custier.policy_band (policy, metric, bound numeric, points numeric)');
SELECT is(pg_temp.pk('policy_band'), 'policy,metric,bound', 'policy_band key is **policy**, **metric**, **bound numeric**');
SELECT is(pg_temp.cols('policy_reviewer', '{policy,department}'), 'policy text, department text',
          'custier.policy_reviewer (policy, department text)');
SELECT is(pg_temp.pk('policy_reviewer'), 'policy,department', 'policy_reviewer key is **policy**, **department text**');
SELECT is((SELECT array_agg(c ORDER BY c) FROM unnest((SELECT extconfig::regclass[]::text[] FROM pg_extension WHERE extname = 'custier')) c
           WHERE c IN ('custier.policy', 'custier.policy_tier', 'custier.policy_criterion', 'custier.policy_threshold',
                       'custier.policy_band', 'custier.policy_reviewer', 'policy', 'policy_tier', 'policy_criterion',
                       'policy_threshold', 'policy_band', 'policy_reviewer')),
          ARRAY['policy', 'policy_band', 'policy_criterion', 'policy_reviewer', 'policy_threshold', 'policy_tier'],
          'the six policy tables "are registered with pg_extension_config_dump"');

-- Defaults
INSERT INTO custier.policy (name) VALUES ('contract_defaults');
SELECT is((SELECT format('%s|%s|%s|%s|%s|%s|%s', method, lowest, (period = interval '6 months')::text, upgrade_after, downgrade_after,
                         coalesce(max_step::text, 'NULL'), approval) FROM custier.policy WHERE name = 'contract_defaults'),
          'thresholds|D|true|1|1|NULL|none',
          'policy defaults: method ''thresholds'', lowest ''D'', period ''6 months'', upgrade_after 1, downgrade_after 1, max_step NULL, approval ''none''');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_defaults', 'x');
SELECT is((SELECT format('%s|%s', weight, higher_is_better::text) FROM custier.policy_criterion WHERE policy = 'contract_defaults'),
          '1|true', 'policy_criterion defaults: weight 1, higher_is_better true');

-- Function signatures
SELECT is(pg_temp.sig('assign_tier'), 'policy text, metrics jsonb -> tier | policy text, metrics record -> tier',
          '"custier.assign_tier(policy text, metrics jsonb) → tier" and "(policy text, metrics record) → tier"');
SELECT is(pg_temp.sig('score'), 'policy text, metrics jsonb -> numeric | policy text, metrics record -> numeric',
          '"custier.score(policy text, metrics jsonb / record) → numeric"');
SELECT is(pg_temp.sig('explain'), 'policy text, metrics jsonb -> jsonb | policy text, metrics record -> jsonb',
          '"custier.explain(policy text, metrics jsonb / record) → jsonb"');

-- The seeds' A/B/C/D thresholds policy (README worked example)
INSERT INTO custier.policy (name, description) VALUES ('contract_seeds', 'A/B/C/D');
INSERT INTO custier.policy_tier (policy, tier, label) VALUES
    ('contract_seeds', 'A', 'A级客户'), ('contract_seeds', 'B', 'B级客户'), ('contract_seeds', 'C', 'C级客户'), ('contract_seeds', 'D', 'Observation');
INSERT INTO custier.policy_criterion (policy, metric, weight) VALUES
    ('contract_seeds', 'amount', 3), ('contract_seeds', 'purchases', 2), ('contract_seeds', 'potential', 1),
    ('contract_seeds', 'years', 1), ('contract_seeds', 'influence', 1);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('contract_seeds', 'amount', 'A', 1000000), ('contract_seeds', 'purchases', 'A', 12), ('contract_seeds', 'potential', 'A', 8),
    ('contract_seeds', 'years', 'A', 3), ('contract_seeds', 'influence', 'A', 7),
    ('contract_seeds', 'amount', 'B', 500000), ('contract_seeds', 'purchases', 'B', 6), ('contract_seeds', 'potential', 'B', 6),
    ('contract_seeds', 'years', 'B', 1),
    ('contract_seeds', 'amount', 'C', 100000), ('contract_seeds', 'purchases', 'C', 2);

SELECT is(custier.assign_tier('contract_seeds', '{"amount": 1250000, "purchases": 14, "potential": 9, "years": 6, "influence": 8}'::jsonb)::text, 'A',
          'thresholds: meets every A threshold → A');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 1000000, "purchases": 12, "potential": 8, "years": 3, "influence": 7}'::jsonb)::text, 'A',
          'thresholds: "meeting tier T … means value ≥ bound" (bounds inclusive)');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)::text, 'B',
          'thresholds: "it gets the best tier it qualifies for" (fails A on influence → B)');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 150000, "purchases": 3, "potential": 2, "years": 0.5, "influence": 1}'::jsonb)::text, 'C',
          'thresholds: C when every C threshold is met');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 20000, "purchases": 1}'::jsonb)::text, 'D',
          'thresholds: "else lowest"');
SELECT is(custier.assign_tier('contract_seeds', '{"purchases": 14, "potential": 9, "years": 6, "influence": 8}'::jsonb)::text, 'D',
          '"A NULL or missing metric meets no bound" (amount missing → lowest)');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": null, "purchases": 14, "potential": 9, "years": 6, "influence": 8}'::jsonb)::text, 'D',
          'a NULL metric meets no bound');
SELECT is(custier.score('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb), 68.75,
          'score (thresholds): 100 × (n − r + 1) ÷ n per criterion, weighted: (3×75 + 2×75 + 75 + 100 + 0) ÷ 8 = 68.75');
SELECT is(custier.score('contract_seeds', '{"amount": 150000, "purchases": 3, "potential": 2, "years": 0.5, "influence": 1}'::jsonb), 31.25,
          'score (thresholds): C on two criteria, none on three: (3×50 + 2×50) ÷ 8 = 31.25');
SELECT is(custier.score('contract_seeds', '{"amount": 1250000, "purchases": 14, "potential": 9, "years": 6, "influence": 8}'::jsonb), 100::numeric,
          'score (thresholds): meeting A everywhere scores 100');
SELECT is(custier.score('contract_seeds', '{"amount": 1}'::jsonb), 0::numeric,
          'score (thresholds): "(0 if none)"');

-- n depends on lowest: grades A..F (n = 6), thresholds at A, C, E only
INSERT INTO custier.policy (name, lowest) VALUES ('contract_six', 'F');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_six', 'x');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('contract_six', 'x', 'A', 100), ('contract_six', 'x', 'C', 50), ('contract_six', 'x', 'E', 10);
SELECT is(round(custier.score('contract_six', '{"x": 60}'::jsonb), 10), round(100 * 4 / 6.0, 10),
          'score (thresholds): n = 6 grades A..F, best tier met C (r = 3): 100 × 4 ÷ 6');
SELECT is(round(custier.score('contract_six', '{"x": 10}'::jsonb), 10), round(100 * 2 / 6.0, 10),
          'score (thresholds): r = 5 (E): 100 × 2 ÷ 6');
SELECT is(custier.assign_tier('contract_six', '{"x": 60}'::jsonb)::text, 'C', 'thresholds: best tier qualified for is C');
SELECT is(custier.assign_tier('contract_six', '{"x": 9.99}'::jsonb)::text, 'F', 'thresholds: below every bound → lowest F');
SELECT is(custier.assign_tier('contract_six', '{"x": "100"}'::jsonb)::text, 'A', 'a jsonb number given as a string (README) counts as that number');

-- a threshold at the lowest grade: r = n earns 100 × 1 ÷ n
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES ('contract_six', 'x', 'F', 1);
SELECT is(round(custier.score('contract_six', '{"x": 5}'::jsonb), 10), round(100 / 6.0, 10),
          'score (thresholds): meeting only the lowest grade''s threshold (r = n = 6) earns 100 × 1 ÷ 6');
SELECT is(custier.score('contract_six', '{"x": 0}'::jsonb), 0::numeric, 'score (thresholds): meeting no threshold earns 0');
SELECT is(custier.assign_tier('contract_six', NULL::jsonb), NULL, 'assign_tier is NULL in, NULL out');

-- qualification: "for every criterion that has a threshold at T"
INSERT INTO custier.policy (name) VALUES ('contract_partial');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_partial', 'x'), ('contract_partial', 'y');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('contract_partial', 'x', 'A', 100), ('contract_partial', 'y', 'A', 100),
    ('contract_partial', 'x', 'B', 50), ('contract_partial', 'x', 'C', 10), ('contract_partial', 'y', 'C', 10);
SELECT is(custier.assign_tier('contract_partial', '{"x": 100, "y": 0}'::jsonb)::text, 'B',
          'thresholds: "qualifies for tier T when, for every criterion that has a threshold at T, the metric meets it" (B has no y threshold)');
SELECT is(custier.assign_tier('contract_partial', '{"x": 100, "y": 100}'::jsonb)::text, 'A', 'thresholds: both A thresholds met → A');

-- lower is better
INSERT INTO custier.policy (name) VALUES ('contract_low');
INSERT INTO custier.policy_criterion (policy, metric, higher_is_better) VALUES ('contract_low', 'days_to_pay', false);
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES
    ('contract_low', 'days_to_pay', 'A', 10), ('contract_low', 'days_to_pay', 'B', 30), ('contract_low', 'days_to_pay', 'C', 60);
SELECT is(custier.assign_tier('contract_low', '{"days_to_pay": 10}'::jsonb)::text, 'A', '"(≤ when lower is better)": 10 ≤ 10 → A');
SELECT is(custier.assign_tier('contract_low', '{"days_to_pay": 31}'::jsonb)::text, 'C', 'lower is better: 31 → C');
SELECT is(custier.assign_tier('contract_low', '{"days_to_pay": 61}'::jsonb)::text, 'D', 'lower is better: 61 → lowest');

-- score method (README example)
INSERT INTO custier.policy (name, method) VALUES ('contract_points', 'score');
INSERT INTO custier.policy_tier (policy, tier, min_score) VALUES ('contract_points', 'A', 85), ('contract_points', 'B', 60), ('contract_points', 'C', 35);
INSERT INTO custier.policy_criterion (policy, metric, weight, higher_is_better) VALUES
    ('contract_points', 'amount', 4, true), ('contract_points', 'purchases', 2, true), ('contract_points', 'days_to_pay', 1, false);
INSERT INTO custier.policy_band (policy, metric, bound, points) VALUES
    ('contract_points', 'amount', 1000000, 100), ('contract_points', 'amount', 500000, 70), ('contract_points', 'amount', 100000, 40),
    ('contract_points', 'purchases', 12, 100), ('contract_points', 'purchases', 6, 60), ('contract_points', 'purchases', 2, 20),
    ('contract_points', 'days_to_pay', 30, 100), ('contract_points', 'days_to_pay', 60, 50);
SELECT is(round(custier.score('contract_points', '{"amount": 640000, "purchases": 9, "days_to_pay": 45}'::jsonb), 10),
          round((4 * 70 + 2 * 60 + 50) / 7.0, 10),
          'score method: "score = Σ weight × points ÷ Σ weight", points of "the best band whose bound it meets"');
SELECT is(custier.assign_tier('contract_points', '{"amount": 640000, "purchases": 9, "days_to_pay": 45}'::jsonb)::text, 'B',
          'score method: "the best tier whose min_score ≤ score" (60 ≤ 64.29 < 85 → B)');
SELECT is(custier.score('contract_points', '{"amount": 1000000, "purchases": 12, "days_to_pay": 30}'::jsonb), 100::numeric,
          'score method: every best band met → 100 (bounds inclusive)');
SELECT is(custier.assign_tier('contract_points', '{"amount": 1000000, "purchases": 12, "days_to_pay": 30}'::jsonb)::text, 'A',
          'score method: 100 ≥ 85 → A');
SELECT is(custier.score('contract_points', '{"amount": 99999, "purchases": 1, "days_to_pay": 61}'::jsonb), 0::numeric,
          'score method: "0 if none"');
SELECT is(custier.assign_tier('contract_points', '{"amount": 99999, "purchases": 1, "days_to_pay": 61}'::jsonb)::text, 'D',
          'score method: no min_score reached → "else lowest"');
SELECT is(round(custier.score('contract_points', '{"amount": 500000, "purchases": 6}'::jsonb), 10), round(400 / 7.0, 10),
          'score method: a missing metric "earns no points": (4×70 + 2×60 + 1×0) ÷ 7');
SELECT is(custier.assign_tier('contract_points', '{"amount": 500000, "purchases": 6}'::jsonb)::text, 'C',
          'score method: 35 ≤ 57.14 < 60 → C');
SELECT is(custier.assign_tier('contract_points', '{"amount": 1000000, "purchases": 6, "days_to_pay": 60}'::jsonb)::text, 'B',
          'score method: (400 + 120 + 50) ÷ 7 = 81.43 → B');

-- record form
CREATE TEMP TABLE contract_m (id int, amount numeric, purchases int, potential bigint, years double precision, influence smallint, note text);
INSERT INTO contract_m VALUES
    (1, 1250000, 14, 9, 6, 8, 'x'), (2, 640000, 9, 7, 4, 3, 'y'), (3, 150000, 3, 2, 0.5, 1, NULL), (4, 20000, 1, NULL, NULL, NULL, NULL);
SELECT is((SELECT string_agg(id || '=' || custier.assign_tier('contract_seeds', m)::text, ',' ORDER BY id) FROM contract_m m),
          '1=A,2=B,3=C,4=D', 'assign_tier(policy, record): "metric values are read from the columns of that name"');
SELECT is((SELECT string_agg(id || '=' || custier.score('contract_seeds', m)::text, ',' ORDER BY id) FROM contract_m m),
          '1=100,2=68.75,3=31.25,4=0', 'score(policy, record) equals the jsonb form');
SELECT is_empty($$SELECT FROM contract_m m
                  WHERE custier.assign_tier('contract_seeds', m) IS DISTINCT FROM custier.assign_tier('contract_seeds', to_jsonb(m))
                     OR custier.score('contract_seeds', m) IS DISTINCT FROM custier.score('contract_seeds', to_jsonb(m))$$,
                '"the same from a row" — record and jsonb forms agree');

-- explain
SELECT is(custier.explain('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)->>'tier', 'B',
          'explain: carries "the resulting tier"');
SELECT is((SELECT c->>'value' FROM jsonb_array_elements(custier.explain('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)->'criteria') c
           WHERE c->>'metric' = 'amount'), '640000', 'explain: "per criterion: value" (README key criteria[].value)');
SELECT is((SELECT (c->>'tier_met') || '/' || (c->>'points') FROM jsonb_array_elements(custier.explain('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)->'criteria') c
           WHERE c->>'metric' = 'amount'), 'B/75', 'explain: per criterion "the best tier met / points earned"');
SELECT is((SELECT (c->>'points')::numeric FROM jsonb_array_elements(custier.explain('contract_points', '{"amount": 640000, "purchases": 9, "days_to_pay": 45}'::jsonb)->'criteria') c
           WHERE c->>'metric' = 'days_to_pay'), 50::numeric, 'explain (score method): per criterion points earned');
SELECT is(jsonb_array_length(custier.explain('contract_seeds', '{}'::jsonb)->'criteria'), 5, 'explain: one entry per criterion');
SELECT is((SELECT custier.explain('contract_seeds', m) FROM contract_m m WHERE id = 2),
          custier.explain('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb),
          'explain(policy, record) equals the jsonb form');

-- unknown policy: 42704
SELECT is(pg_temp.err($$SELECT custier.assign_tier('contract_nope', '{}'::jsonb)$$)->>'state', '42704', 'assign_tier(jsonb): "An unknown policy raises SQLSTATE 42704"');
SELECT is(pg_temp.err($$SELECT custier.assign_tier('contract_nope', m) FROM contract_m m$$)->>'state', '42704', 'assign_tier(record): unknown policy 42704');
SELECT is(pg_temp.err($$SELECT custier.score('contract_nope', '{}'::jsonb)$$)->>'state', '42704', 'score(jsonb): unknown policy 42704');
SELECT is(pg_temp.err($$SELECT custier.score('contract_nope', m) FROM contract_m m$$)->>'state', '42704', 'score(record): unknown policy 42704');
SELECT is(pg_temp.err($$SELECT custier.explain('contract_nope', '{}'::jsonb)$$)->>'state', '42704', 'explain(jsonb): unknown policy 42704');
SELECT is(pg_temp.err($$SELECT custier.explain('contract_nope', m) FROM contract_m m$$)->>'state', '42704', 'explain(record): unknown policy 42704');
SELECT matches(pg_temp.err($$SELECT custier.assign_tier('contract_nope', '{}'::jsonb)$$)->>'message', 'contract_nope', 'the unknown-policy message names the policy');

-- no per-row reads of the policy tables; an edit is seen by the next statement
CREATE TEMP TABLE contract_many AS SELECT i AS id, (i * 37 % 2000000)::numeric AS amount, i % 20 AS purchases, i % 10 AS potential, i % 7 AS years, i % 9 AS influence
FROM generate_series(1, 20000) i;
CREATE TEMP TABLE scans0 AS SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) AS n FROM pg_stat_xact_user_tables WHERE schemaname = 'custier';
SELECT is((SELECT count(*)::int FROM (SELECT custier.assign_tier('contract_seeds', m) FROM contract_many m) s), 20000, 'grading 20000 rows works');
SELECT cmp_ok((SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)) FROM pg_stat_xact_user_tables WHERE schemaname = 'custier') - (SELECT n FROM scans0),
              '<', 100::numeric, '"must not query the policy tables once per row" (20000 rows: fewer than 100 scans of custier tables)');
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)::text, 'B', 'before the edit: B');
UPDATE custier.policy_threshold SET bound = 3 WHERE policy = 'contract_seeds' AND metric = 'influence' AND tier = 'A';
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)::text, 'B',
          'after lowering the influence A bound, the other A bounds still fail → B');
UPDATE custier.policy_threshold SET bound = CASE metric WHEN 'amount' THEN 600000 WHEN 'purchases' THEN 9 WHEN 'potential' THEN 7 ELSE bound END
WHERE policy = 'contract_seeds' AND tier = 'A';
SELECT is(custier.assign_tier('contract_seeds', '{"amount": 640000, "purchases": 9, "potential": 7, "years": 4, "influence": 3}'::jsonb)::text, 'A',
          '"an edit to a policy is seen by the next statement"');

-- Validation refusals, each changing nothing
CREATE TEMP TABLE contract_src (cust int PRIMARY KEY, amount numeric, visits int, score real, name text, born date);
INSERT INTO custier.policy (name, metrics_source, key_column) VALUES ('contract_v', 'contract_src', 'cust');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v', 'amount'), ('contract_v', 'visits');
INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES ('contract_v', 'amount', 'B', 500), ('contract_v', 'amount', 'C', 100);
CREATE TEMP TABLE snap0 AS SELECT pg_temp.snap() AS s;

CREATE TEMP TABLE v_err AS SELECT pg_temp.err($$INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES ('contract_v', 'amount', 'A', 400)$$) AS e;
SELECT is((SELECT e->>'state' FROM v_err), '23514', '(README: 23514 check_violation): easier bound refusal SQLSTATE');
SELECT matches((SELECT e->>'message' FROM v_err), 'contract_v', 'the error names the policy');
SELECT matches((SELECT e->>'message' FROM v_err), 'amount', 'the error names the metric');
SELECT matches((SELECT e->>'message' FROM v_err), '\mA\M', 'the error names the tier');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused easier bound changed nothing');
SELECT is(pg_temp.err($$UPDATE custier.policy_threshold SET bound = 600 WHERE policy = 'contract_v' AND metric = 'amount' AND tier = 'C'$$)->>'state', '23514',
          'refused: an UPDATE making a worse tier harder than a better one');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused UPDATE changed nothing');

DELETE FROM v_err;
INSERT INTO v_err SELECT pg_temp.err($$INSERT INTO custier.policy_threshold (policy, metric, tier, bound) VALUES ('contract_v', 'amount', 'E', 10)$$);
SELECT is((SELECT e->>'state' FROM v_err), '23514', 'refused: "a tier outside A..lowest" (threshold at E, lowest D)');
SELECT ok((SELECT e->>'message' ~ 'contract_v' AND e->>'message' ~ '\mE\M' FROM v_err), 'the tier-outside error names the policy and the tier');
SELECT is(pg_temp.err($$INSERT INTO custier.policy_tier (policy, tier) VALUES ('contract_v', 'F')$$)->>'state', '23514',
          'refused: a policy_tier outside A..lowest');
SELECT is(pg_temp.err($$UPDATE custier.policy SET lowest = 'B' WHERE name = 'contract_v'$$)->>'state', '23514',
          'refused: raising lowest above a tier that has a threshold (C outside A..B)');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused tier edits changed nothing');

SELECT is(pg_temp.err($$UPDATE custier.policy_criterion SET weight = 0 WHERE policy = 'contract_v' AND metric = 'visits'$$)->>'state', '23514',
          'refused: "a weight ≤ 0" (0)');
SELECT is(pg_temp.err($$INSERT INTO custier.policy_criterion (policy, metric, weight) VALUES ('contract_v', 'score', -1)$$)->>'state', '23514',
          'refused: "a weight ≤ 0" (-1)');
SELECT matches(pg_temp.err($$INSERT INTO custier.policy_criterion (policy, metric, weight) VALUES ('contract_v', 'score', -1)$$)->>'message',
               'contract_v', 'the weight error names the policy');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused weights changed nothing');

DELETE FROM v_err;
INSERT INTO v_err SELECT pg_temp.err($$INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v', 'name')$$);
SELECT is((SELECT e->>'state' FROM v_err), '23514', 'refused: "a metric that is not a numeric-convertible column of the metrics source" (text column)');
SELECT ok((SELECT e->>'message' ~ 'contract_v' AND e->>'message' ~ 'name' FROM v_err), 'the metric error names the policy and metric');
SELECT is(pg_temp.err($$INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v', 'born')$$)->>'state', '23514',
          'refused: a date column of the metrics source as a metric');
SELECT is(pg_temp.err($$INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v', 'no_such_column')$$)->>'state', '23514',
          'refused: a metric that is no column of the metrics source');
SELECT is(pg_temp.dry($$INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v', 'score')$$), NULL,
          'accepted: a real column is numeric-convertible (then rolled back)');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused metrics changed nothing');
INSERT INTO custier.policy (name) VALUES ('contract_v2');
INSERT INTO custier.policy_criterion (policy, metric) VALUES ('contract_v2', 'name');
UPDATE snap0 SET s = pg_temp.snap();
SELECT is(pg_temp.err($$UPDATE custier.policy SET metrics_source = 'contract_src', key_column = 'cust' WHERE name = 'contract_v2'$$)->>'state', '23514',
          'refused: pointing a policy at a metrics source where its metric is a text column');
SELECT is((SELECT metrics_source FROM custier.policy WHERE name = 'contract_v2'), NULL, 'the refused metrics_source changed nothing');

DELETE FROM v_err;
INSERT INTO v_err SELECT pg_temp.err($$INSERT INTO custier.policy (name, method) VALUES ('contract_vibes', 'vibes')$$);
SELECT is((SELECT e->>'state' FROM v_err), '23514', 'refused: "an unknown method"');
SELECT ok((SELECT e->>'message' ~ 'contract_vibes' AND e->>'message' ~ 'vibes' FROM v_err), 'the unknown-method error names the policy and method');
SELECT is(pg_temp.err($$UPDATE custier.policy SET method = 'magic' WHERE name = 'contract_v'$$)->>'state', '23514', 'refused: UPDATE to an unknown method');
SELECT is(pg_temp.snap(), (SELECT s FROM snap0), 'the refused methods changed nothing');

-- score method: a better tier with an easier min_score than a worse one
SELECT is(pg_temp.err($$UPDATE custier.policy_tier SET min_score = 50 WHERE policy = 'contract_points' AND tier = 'A'$$)->>'state', '23514',
          'refused: "a better tier with an easier bound than a worse one" (score method: A''s min_score 50 below B''s 60)');
-- lower is better: a better tier with a higher (easier) bound is refused
SELECT is(pg_temp.err($$UPDATE custier.policy_threshold SET bound = 40 WHERE policy = 'contract_low' AND tier = 'A'$$)->>'state', '23514',
          'refused: lower is better, A bound 40 is easier than B''s 30');

SELECT * FROM finish();
ROLLBACK;
