-- pgTAP acceptance: adjustment approvals, checked black-box against the
-- documented contract (doc/reference.md). The NOTIFY payload
-- needs a commit: see contract_adjustment_notify.sql.
-- Every description says the documented behaviour it checks.
\ir contract_setup.inc

SELECT plan(81);

-- val_as(role, sql): the single value a query returns, run as another role (errors propagate).
CREATE FUNCTION pg_temp.val_as(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    EXECUTE q INTO v;
    RESET ROLE;
    RETURN v;
END $$;
SET LOCAL check_function_bodies = off;
-- dry_as(role, sql): run a statement as a role and roll it back; NULL if it succeeded, else its error.
CREATE FUNCTION pg_temp.dry_as(r text, q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE s text; m text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    EXECUTE q;
    RAISE EXCEPTION 'dry run' USING ERRCODE = 'P0099';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
    RETURN CASE WHEN s = 'P0099' THEN NULL ELSE jsonb_build_object('state', s, 'message', m) END;
END $$;
-- state(): everything a refused call must leave as it was.
CREATE FUNCTION pg_temp.state() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(t::text, ';' ORDER BY t.adjustment_id) FROM custier.adjustment t),
        (SELECT string_agg(t::text, ';' ORDER BY t.adjustment_id, t.department) FROM custier.adjustment_review t),
        (SELECT count(*) FROM custier.adjustment_event),
        (SELECT count(*) FROM custier.tier_history),
        (SELECT string_agg(t::text, ';' ORDER BY t.id) FROM contract_acct t),
        (SELECT string_agg(t::text, ';' ORDER BY t.id) FROM contract_loose t))) $$;
RESET check_function_bodies;
CREATE TEMP TABLE ids (name text PRIMARY KEY, id bigint);
CREATE TEMP TABLE st (s text);

-- Tables and signatures
SELECT is(pg_temp.cols('adjustment', '{adjustment_id,tbl,customer_key,from_tier,to_tier,reason,evidence,status,proposed_by,proposed_at,decided_by,decided_at,decision_note,evaluation_id}'),
          'adjustment_id bigint, tbl regclass, customer_key text, from_tier tier, to_tier tier, reason text, evidence jsonb, status text, proposed_by name, proposed_at timestamp with time zone, decided_by name, decided_at timestamp with time zone, decision_note text, evaluation_id bigint',
          'custier.adjustment columns (adjustment_id bigint, tbl regclass, customer_key text, from_tier, to_tier tier, reason text, evidence jsonb, status text, proposed_by name, proposed_at timestamptz, decided_by name, decided_at timestamptz, decision_note text, evaluation_id bigint)');
SELECT is(pg_temp.cols('adjustment_review', '{adjustment_id,department,reviewer,opinion,comment}'),
          'adjustment_id bigint, department text, reviewer name, opinion text, comment text',
          'custier.adjustment_review (adjustment_id, department, reviewer name, opinion text, comment text, …)');
SELECT has_column('custier', 'adjustment_review', 'reviewed_at', 'adjustment_review.reviewed_at');
SELECT is(pg_temp.cols('adjustment_event', '{adjustment_id,event,actor,at,detail}') ~ 'MISSING', false,
          'custier.adjustment_event has adjustment_id, event, actor, at, detail');
SELECT is(pg_temp.cols('adjustment_event', '{detail}'), 'detail jsonb', 'adjustment_event.detail is jsonb');
SELECT matches(pg_temp.sig('propose'), '^tbl regclass, customer_key text, to_tier tier, reason text, evidence jsonb DEFAULT NULL(::jsonb)?(, hold_until timestamp with time zone DEFAULT NULL(::timestamp with time zone)?)? -> bigint$',
               '"custier.propose(tbl regclass, customer_key text, to_tier tier, reason text, evidence jsonb DEFAULT NULL) → bigint"');
SELECT matches(pg_temp.sig('review'), '^adjustment_id bigint, department text, opinion text, comment text DEFAULT NULL(::text)? -> void$',
               '"custier.review(adjustment_id bigint, department text, opinion text, comment text DEFAULT NULL) → void"');
SELECT matches(pg_temp.sig('approve'), '^adjustment_id bigint, note text DEFAULT NULL(::text)? -> void$',
               '"custier.approve(adjustment_id bigint, note text DEFAULT NULL) → void"');
SELECT is(pg_temp.sig('reject'), 'adjustment_id bigint, note text -> void', '"custier.reject(adjustment_id bigint, note text) → void"');
SELECT is(pg_temp.sig('withdraw'), 'adjustment_id bigint -> void', '"custier.withdraw(adjustment_id bigint) → void"');

-- Setup: a guarded table with two reviewing departments, and an unguarded one without reviewers
CREATE ROLE custier_test_contract_mkt;
CREATE ROLE custier_test_contract_sales;
CREATE ROLE custier_test_contract_service;
CREATE ROLE custier_test_contract_boss;
CREATE ROLE custier_test_contract_other;
GRANT USAGE ON SCHEMA custier TO custier_test_contract_mkt, custier_test_contract_sales, custier_test_contract_service,
    custier_test_contract_boss, custier_test_contract_other;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA custier TO custier_test_contract_mkt, custier_test_contract_sales, custier_test_contract_service,
    custier_test_contract_boss, custier_test_contract_other;
INSERT INTO custier.policy (name) VALUES ('contract_adj'), ('contract_loose');
INSERT INTO custier.policy_reviewer (policy, department, reviewer_role)
    VALUES ('contract_adj', 'sales', 'custier_test_contract_sales'), ('contract_adj', 'service', 'custier_test_contract_service');
CREATE TABLE contract_acct (id text PRIMARY KEY, grade custier.tier);
CREATE TABLE contract_loose (id text PRIMARY KEY, grade custier.tier);
GRANT SELECT ON contract_acct, contract_loose TO custier_test_contract_mkt, custier_test_contract_sales, custier_test_contract_service,
    custier_test_contract_boss, custier_test_contract_other;
INSERT INTO contract_acct VALUES ('K1', 'B'), ('K2', 'C'), ('K3', 'D'), ('K4', 'B'), ('K5', 'C');
INSERT INTO contract_loose VALUES ('L1', 'C'), ('L2', 'B');
SELECT custier.manage('contract_acct', 'id', 'grade', 'contract_adj', true);
SELECT custier.manage('contract_loose', 'id', 'grade', 'contract_loose');

-- propose
INSERT INTO ids SELECT 'k1', pg_temp.val_as('custier_test_contract_mkt',
    $$SELECT custier.propose('contract_acct', 'K1', 'A', 'revenue doubled', '{"monetary": 1200000}')$$)::bigint;
SELECT isnt((SELECT id FROM ids WHERE name = 'k1'), NULL, 'propose: returns the adjustment id (bigint)');
SELECT is((SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', tbl, customer_key, from_tier, to_tier, reason, evidence->>'monetary', status, proposed_by)
           FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'contract_acct|K1|B|A|revenue doubled|1200000|proposed|custier_test_contract_mkt',
          'propose: "opens an adjustment (status proposed) from the customer''s current grade", reason, evidence, proposed_by = the caller');
SELECT ok((SELECT proposed_at IS NOT NULL AND decided_by IS NULL AND decided_at IS NULL AND evaluation_id IS NULL
           FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'a manual proposal has proposed_at, no decision and no evaluation_id');
SELECT is((SELECT grade::text FROM contract_acct WHERE id = 'K1'), 'B', 'proposing does not change the grade');
SELECT ok((SELECT count(*) FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')
             AND actor = 'custier_test_contract_mkt') >= 1,
          '"every step adds an adjustment_event row" (propose, actor = proposer)');
INSERT INTO ids SELECT 'k4', pg_temp.val_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K4', 'C', 'late payments')$$)::bigint;
SELECT is((SELECT evidence FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k4')), NULL,
          'propose: "evidence jsonb DEFAULT NULL"');

-- propose refusals, each changing nothing
INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K9', 'A', 'who?')$$)->>'state', 'P0002',
          'propose: "refuses an unknown customer"');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K2', 'C', 'same')$$)->>'state', '22023',
          'propose: refuses "to_tier equal to the current grade"');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K2', 'E', 'below D')$$)->>'state', '22023',
          'propose: refuses to_tier "outside the policy''s scale" (E, lowest D)');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K2', 'B', '')$$)->>'state', '22023',
          'propose: refuses "an empty reason"');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K1', 'C', 'again')$$)->>'state', '23505',
          'propose: refuses "a second open adjustment for the same customer"');
SELECT is(pg_temp.err_as('custier_test_contract_other', $$SELECT custier.propose('contract_acct', 'K1', 'A', 'me too')$$)->>'state', '23505',
          'propose: a second open adjustment is refused whoever proposes it');
SELECT matches(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K9', 'A', 'who?')$$)->>'message', 'K9',
               'the unknown-customer refusal names the customer');
SELECT matches(pg_temp.err_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K2', 'E', 'below D')$$)->>'message', '\mE\M',
               'the outside-scale refusal names the tier');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused proposals changed nothing (no adjustment, event, history or grade)');

-- review
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_other', format($$SELECT custier.review(%s, 'legal', 'support')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '22023',
          'review: "the department must be one of the policy''s reviewers"');
SELECT is(pg_temp.err_as('custier_test_contract_sales', format($$SELECT custier.review(%s, 'sales', 'maybe')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '22023',
          'opinion is "''support'' or ''oppose''" (other values refused)');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused reviews changed nothing');
SELECT is(pg_temp.err_as('custier_test_contract_sales', format($$SELECT custier.review(%s, 'sales', 'support', 'confirmed')$$, (SELECT id FROM ids WHERE name = 'k1'))), NULL,
          'review: a reviewing department records its opinion');
SELECT is((SELECT format('%s|%s|%s|%s', department, reviewer, opinion, comment) FROM custier.adjustment_review
           WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'sales|custier_test_contract_sales|support|confirmed', 'adjustment_review row (department, reviewer, opinion, comment)');
SELECT isnt((SELECT reviewed_at FROM custier.adjustment_review WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')), NULL,
            'adjustment_review.reviewed_at is set');
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_sales', format($$SELECT custier.review(%s, 'sales', 'oppose')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '23505',
          'review: "one review per department" (second review by sales refused)');
SELECT is(pg_temp.err_as('custier_test_contract_other', format($$SELECT custier.review(%s, 'sales', 'oppose')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '42501',
          'review: one review per department, whoever speaks for it');
-- approve before every review
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.approve(%s)$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '55000',
          'approve: "needs every required department''s review" (service has not reviewed)');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused second review and early approval changed nothing');
SELECT is(pg_temp.err_as('custier_test_contract_service', format($$SELECT custier.review(%s, 'service', 'oppose')$$, (SELECT id FROM ids WHERE name = 'k1'))), NULL,
          'review: the second department reviews (comment DEFAULT NULL)');
-- approve by the proposer
SELECT is(pg_temp.err_as('custier_test_contract_mkt', format($$SELECT custier.approve(%s)$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '42501',
          'approve: "the approver must not be the proposer"');
SELECT is((SELECT status FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')), 'proposed',
          'the refused approvals left the adjustment proposed');
SELECT is((SELECT grade::text FROM contract_acct WHERE id = 'K1'), 'B', 'the refused approvals left the grade');
-- approve
CREATE TEMP TABLE h0 AS SELECT coalesce(max(history_id), 0) AS id FROM custier.tier_history;
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.approve(%s, 'agreed')$$, (SELECT id FROM ids WHERE name = 'k1'))), NULL,
          'approve: another role approves once every department has reviewed (an oppose opinion is a review)');
SELECT is((SELECT format('%s|%s|%s', status, decided_by, decision_note) FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'applied|custier_test_contract_boss|agreed', 'approve: status applied, decided_by the approver, the note kept');
SELECT isnt((SELECT decided_at FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')), NULL, 'approve: decided_at set');
SELECT is((SELECT grade::text FROM contract_acct WHERE id = 'K1'), 'A', 'approve: "applies the change to the managed table in the same transaction"');
SELECT is((SELECT format('%s>%s|%s|%s', old_tier, new_tier, adjustment_id = (SELECT id FROM ids WHERE name = 'k1'), reason)
           FROM custier.tier_history WHERE tbl = 'contract_acct'::regclass AND history_id > (SELECT id FROM h0)),
          'B>A|t|revenue doubled', 'approve: "the history row carrying the adjustment''s id and reason"');
SELECT is((SELECT count(*)::int FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')), 4,
          '"every step adds an adjustment_event row" (propose, two reviews, approve)');
SELECT is((SELECT string_agg(DISTINCT actor::text, ',') FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'custier_test_contract_boss,custier_test_contract_mkt,custier_test_contract_sales,custier_test_contract_service',
          'adjustment_event.actor is who took each step');
SELECT ok((SELECT bool_and(at IS NOT NULL AND event IS NOT NULL) FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k1')),
          'each event row has event and at');
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_service', format($$SELECT custier.review(%s, 'service', 'support')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '55000',
          'review: "only while proposed"');
SELECT is(pg_temp.err_as('custier_test_contract_other', format($$SELECT custier.approve(%s)$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '55000',
          'an applied adjustment cannot be approved again');
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.reject(%s, 'too late')$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '55000',
          'an applied adjustment cannot be rejected');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', format($$SELECT custier.withdraw(%s)$$, (SELECT id FROM ids WHERE name = 'k1')))->>'state', '55000',
          'an applied adjustment cannot be withdrawn');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused steps on an applied adjustment changed nothing');
SELECT is(pg_temp.dry_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K1', 'B', 'back down')$$), NULL,
            'after approval the customer''s grade is A: proposing B is allowed');

-- reject
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.reject(%s, NULL)$$, (SELECT id FROM ids WHERE name = 'k4')))->>'state', '22023',
          'reject: "a note is required" (NULL)');
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.reject(%s, '')$$, (SELECT id FROM ids WHERE name = 'k4')))->>'state', '22023',
          'reject: "a note is required" (empty)');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused rejections changed nothing');
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.reject(%s, 'not convinced')$$, (SELECT id FROM ids WHERE name = 'k4'))), NULL,
          'reject: with a note');
SELECT is((SELECT format('%s|%s|%s', status, decided_by, decision_note) FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k4')),
          'rejected|custier_test_contract_boss|not convinced', 'reject: "status rejected"');
SELECT is((SELECT grade::text FROM contract_acct WHERE id = 'K4'), 'B', 'reject: the grade is unchanged');
SELECT is((SELECT count(*)::int FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k4')), 2,
          'every step adds an adjustment_event row (propose, reject)');

-- withdraw
INSERT INTO ids SELECT 'k4b', pg_temp.val_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_acct', 'K4', 'C', 'second try')$$)::bigint;
SELECT isnt((SELECT id FROM ids WHERE name = 'k4b'), NULL, 'a rejected adjustment is not open: a new proposal for the customer is allowed');
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_other', format($$SELECT custier.withdraw(%s)$$, (SELECT id FROM ids WHERE name = 'k4b')))->>'state', '42501',
          'withdraw: "the proposer takes it back" (someone else cannot)');
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.withdraw(%s)$$, (SELECT id FROM ids WHERE name = 'k4b')))->>'state', '42501',
          'withdraw: the approver cannot withdraw it either');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused withdrawals changed nothing');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', format($$SELECT custier.withdraw(%s)$$, (SELECT id FROM ids WHERE name = 'k4b'))), NULL,
          'withdraw: by the proposer');
SELECT is((SELECT status FROM custier.adjustment WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k4b')), 'withdrawn',
          'withdraw: "status withdrawn"');
SELECT is((SELECT count(*)::int FROM custier.adjustment_event WHERE adjustment_id = (SELECT id FROM ids WHERE name = 'k4b')), 2,
          'every step adds an adjustment_event row (propose, withdraw)');
SELECT is(pg_temp.err_as('custier_test_contract_mkt', format($$SELECT custier.review(%s, 'sales', 'support')$$, (SELECT id FROM ids WHERE name = 'k4b')))->>'state', '55000',
          'review: "only while proposed" (withdrawn)');

-- approve after the grade moved: fails, changing nothing
INSERT INTO ids SELECT 'l1', pg_temp.val_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_loose', 'L1', 'B', 'good year')$$)::bigint;
UPDATE contract_loose SET grade = 'D' WHERE id = 'L1';
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.approve(%s)$$, (SELECT id FROM ids WHERE name = 'l1')))->>'state', '55000',
          'approve: "fails … if the customer''s grade is no longer from_tier"');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'approve: the failed approval is "changing nothing"');
SELECT is((SELECT grade::text FROM contract_loose WHERE id = 'L1'), 'D', 'approve: the moved grade stays');
-- a policy without reviewers needs no review
INSERT INTO ids SELECT 'l2', pg_temp.val_as('custier_test_contract_mkt', $$SELECT custier.propose('contract_loose', 'L2', 'A', 'strategic')$$)::bigint;
SELECT is(pg_temp.err_as('custier_test_contract_boss', format($$SELECT custier.approve(%s)$$, (SELECT id FROM ids WHERE name = 'l2'))), NULL,
          'approve: with no required departments, approval needs no review (note DEFAULT NULL)');
SELECT is((SELECT grade::text FROM contract_loose WHERE id = 'L2'), 'A', 'approve: applied to the unguarded table too');

-- status values
SELECT is_empty($$SELECT status FROM custier.adjustment WHERE status NOT IN ('proposed', 'approved', 'applied', 'rejected', 'withdrawn')$$,
                'status values are proposed, approved/applied, rejected, withdrawn');

-- the state machine is enforced on the tables themselves
DELETE FROM st; INSERT INTO st SELECT pg_temp.state();
SELECT is(pg_temp.err($$UPDATE custier.adjustment SET status = 'applied' WHERE adjustment_id = $$ || (SELECT id FROM ids WHERE name = 'l1'))->>'state', '42501',
          '"writing to them directly cannot skip a step" (UPDATE status to applied)');
SELECT is(pg_temp.err($$UPDATE custier.adjustment SET status = 'proposed' WHERE adjustment_id = $$ || (SELECT id FROM ids WHERE name = 'k4'))->>'state', '55000',
          'direct writes cannot reopen a rejected adjustment');
SELECT is(pg_temp.err($$DELETE FROM custier.adjustment_event$$)->>'state', '42501', 'adjustment_event is an "append-only log" (DELETE fails)');
SELECT is(pg_temp.err($$UPDATE custier.adjustment_event SET actor = 'x'$$)->>'state', '42501', 'adjustment_event is append-only (UPDATE fails)');
SELECT is(pg_temp.err($$TRUNCATE custier.adjustment_event$$)->>'state', '42501', 'adjustment_event is append-only (TRUNCATE fails)');
SELECT is(pg_temp.state(), (SELECT s FROM st), 'the refused direct writes changed nothing');
SELECT is(pg_temp.err($$INSERT INTO custier.adjustment_review (adjustment_id, department, reviewer, opinion) VALUES ($$
                        || (SELECT id FROM ids WHERE name = 'k1') || $$, 'service', 'x', 'support')$$)->>'state', '55000',
            'a direct INSERT of a review cannot skip the rules (applied adjustment, department already reviewed)');

SELECT * FROM finish();
ROLLBACK;
