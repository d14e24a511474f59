-- after-restore.sql — run on a database restored from a dump of fixture.sql
-- (test/lifecycle/dump-restore.sh): the guard holds again, the workflow
-- goes on, and every new row takes the next id.  Any failure raises.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET search_path = public, custier;

CREATE TEMP TABLE before_use AS
SELECT custier._restoring() AS restoring,
       (SELECT max(history_id) FROM tier_history) AS history_id,
       (SELECT max(adjustment_id) FROM adjustment) AS adjustment_id,
       (SELECT max(event_id) FROM adjustment_event) AS event_id,
       (SELECT max(evaluation_id) FROM evaluation) AS evaluation_id,
       (SELECT max(audit_id) FROM policy_audit) AS audit_id;
DO $$ BEGIN
    IF NOT (SELECT restoring FROM before_use) THEN
        RAISE 'custier should still count as being restored before its first use';
    END IF;
END $$;

-- The managed tables are guarded again, with their triggers once each.
DO $$ BEGIN
    UPDATE lc_customer SET grade = 'D' WHERE id = 'C011' AND grade <> 'D';
    RAISE 'the guard let a direct grade change through after the restore';
EXCEPTION WHEN insufficient_privilege THEN NULL;
END $$;
DO $$ BEGIN
    IF (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'lc_customer'::regclass AND tgname LIKE 'custier\_%') <> 6
       OR (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'lc_branch'::regclass AND tgname LIKE 'custier\_%') <> 4 THEN
        RAISE 'custier''s triggers on the managed tables are not back exactly once';
    END IF;
END $$;

-- The workflow goes on: propose, review, approve; then a grade change and
-- a policy edit.  Each new row takes the next id.
SET ROLE custier_lc_proposer;
SELECT propose('lc_customer', 'C011', 'A', 'after the restore') AS new_id \gset
SET ROLE custier_lc_sales;
SELECT review(:new_id, 'sales', 'support');
SET ROLE custier_lc_approver;
SELECT approve(:new_id, 'restored and approved');
RESET ROLE;
UPDATE lc_branch SET grade = 'C' WHERE no = 1;
UPDATE policy SET description = 'edited after the restore' WHERE name = 'lc_score';
CALL run_evaluation('lc', '2026-03-01', 100);
DO $$
DECLARE b before_use;
BEGIN
    SELECT * INTO b FROM before_use;
    IF (SELECT status FROM adjustment WHERE adjustment_id = b.adjustment_id + 1) IS DISTINCT FROM 'applied' THEN
        RAISE 'the new adjustment did not get id % or was not applied', b.adjustment_id + 1;
    END IF;
    IF NOT EXISTS (SELECT FROM tier_history WHERE history_id = b.history_id + 1 AND adjustment_id = b.adjustment_id + 1) THEN
        RAISE 'the approved change was not recorded with history_id %', b.history_id + 1;
    END IF;
    IF (SELECT min(event_id) FROM adjustment_event WHERE event_id > b.event_id) <> b.event_id + 1 THEN
        RAISE 'the next event did not get id %', b.event_id + 1;
    END IF;
    IF (SELECT min(audit_id) FROM policy_audit WHERE audit_id > b.audit_id) <> b.audit_id + 1 THEN
        RAISE 'the next policy audit row did not get id %', b.audit_id + 1;
    END IF;
    IF (SELECT max(evaluation_id) FROM evaluation) <> b.evaluation_id + 1 THEN
        RAISE 'the next evaluation did not get id %', b.evaluation_id + 1;
    END IF;
    IF (SELECT customer_key || ':' || new_tier FROM tier_history WHERE tbl = 'lc_branch'::regclass
         ORDER BY history_id DESC LIMIT 1) IS DISTINCT FROM '1:C' THEN
        RAISE 'the history trigger of a table restored without its dropped column recorded the wrong columns';
    END IF;
    IF custier._restoring() THEN
        RAISE 'using custier did not end its restore window';
    END IF;
    -- History of the dropped table: readable by name, attached to no table.
    IF NOT EXISTS (SELECT FROM tier_history WHERE dropped_table = 'public.lc_gone' AND tbl = 0)
       OR EXISTS (SELECT FROM tier_history WHERE dropped_table IS NOT NULL AND tbl <> 0) THEN
        RAISE 'the dropped table''s history did not come back by name';
    END IF;
END $$;
