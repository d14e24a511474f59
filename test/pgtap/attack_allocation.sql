-- pgTAP: privileges of the allocation module and attacks on it that fail:
-- taking over someone's allocation, borrowing rights through allocate (a
-- table owner's trigger, default or shadowing operator), forging or
-- altering owner_history.
\ir setup.inc

SELECT plan(24);

-- PUBLIC: reads at most, writes nothing, runs no internal function.
SELECT is_empty($$
    SELECT c.relname || ': ' || a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'custier'::regnamespace
       AND c.relname IN ('account_owner', 'allocation', 'owner_history', 'owner_history_history_id_seq')
       AND a.grantee = 0 AND a.privilege_type <> 'SELECT'
$$, 'PUBLIC has no privilege but SELECT on the allocation tables, none on the sequence');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('allocate', 'set_allocation', '_set_allocation', 'owner_history_trigger', '_account_owner_check', '_allocation_problem')
       AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'PUBLIC cannot execute allocate, set_allocation, the triggers or the internal functions');
SELECT is((SELECT count(*)::int FROM pg_proc p WHERE p.pronamespace = 'custier'::regnamespace
            AND p.proname IN ('allocate', 'set_allocation', '_set_allocation', 'owner_history_trigger', '_account_owner_check', '_allocation_problem')),
          6, 'and all of those exist (the check above is not vacuous)');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace AND p.prosecdef
       AND p.proname IN ('allocate', 'set_allocation', '_set_allocation', 'owner_at', 'owner_history_trigger', '_account_owner_check')
$$, 'none of them is SECURITY DEFINER: rights are switched in C, around fixed statements');

CREATE ROLE tap_victim NOLOGIN;
CREATE ROLE tap_attacker NOLOGIN;
CREATE ROLE tap_am1 NOLOGIN;
CREATE ROLE tap_am2 NOLOGIN;
GRANT USAGE ON SCHEMA custier TO tap_victim, tap_attacker;
GRANT CREATE ON SCHEMA public TO tap_victim, tap_attacker;
GRANT EXECUTE ON FUNCTION custier.allocate(regclass, boolean) TO tap_victim, tap_attacker;
DO $$BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO tap_attacker', current_database()); END $$;
INSERT INTO policy (name) VALUES ('tap_victim'), ('tap_attacker');
INSERT INTO account_owner (policy, owner, capacity) VALUES
    ('tap_victim', 'tap_am1', NULL), ('tap_attacker', 'tap_am1', 3), ('tap_attacker', 'tap_am2', 3);

SET ROLE tap_victim;
CREATE TABLE victim_cust (id int PRIMARY KEY, grade tier, am name);
INSERT INTO victim_cust SELECT i, 'B', NULL FROM generate_series(1, 5) i;
RESET ROLE;
SELECT manage('victim_cust', 'id', 'grade', 'tap_victim');
UPDATE managed_table SET managed_by = 'tap_victim' WHERE tbl = 'victim_cust'::regclass;
-- Both may call set_allocation: only the table's owner gets anywhere.
GRANT EXECUTE ON FUNCTION custier.set_allocation(regclass, name, name, name) TO tap_victim, tap_attacker;
SET ROLE tap_victim;
SELECT set_allocation('victim_cust', 'am');
RESET ROLE;

-- Someone else's table.
SET ROLE tap_attacker;
SELECT throws_ok($$SELECT custier.set_allocation('victim_cust', 'grade')$$, '42501', NULL,
                 'a non-owner cannot set_allocation on someone''s table');
SELECT throws_ok($$SELECT * FROM custier.allocate('victim_cust')$$, '42501', NULL,
                 'nor allocate its customers without UPDATE on its owner column, EXECUTE on allocate notwithstanding');
SELECT throws_ok($$INSERT INTO custier.owner_history (tbl, customer_key, new_owner, changed_at, changed_by)
                   VALUES ('victim_cust', '1', 'tap_attacker', now(), 'tap_victim')$$, '42501', NULL,
                 'nor write owner_history');
SELECT throws_ok($$INSERT INTO custier.account_owner (policy, owner) VALUES ('tap_victim', 'tap_attacker')$$, '42501', NULL,
                 'nor make itself an account owner');
SELECT throws_ok($$SELECT custier._set_allocation('victim_cust', 'am', NULL, NULL)$$, '42501', NULL,
                 'nor call the internal function');
RESET ROLE;
SELECT is((SELECT owner_column::text FROM allocation WHERE tbl = 'victim_cust'::regclass), 'am',
          'the victim''s allocation is unchanged');
SELECT is((SELECT count(*)::int FROM victim_cust WHERE am IS NOT NULL), 0, 'and its customers untouched');

-- Append-only, for every role, in replica mode too.
SET ROLE tap_victim;
SELECT count(*) AS allocated FROM allocate('victim_cust') \gset
RESET ROLE;
SELECT is((SELECT count(*)::int FROM owner_history WHERE tbl = 'victim_cust'::regclass AND changed_by = 'tap_victim'), 5,
          'the owner''s allocate is recorded, by the owner');
SET session_replication_role = replica;
SELECT throws_ok($$UPDATE custier.owner_history SET new_owner = 'tap_attacker'$$, '42501', NULL,
                 'owner_history cannot be updated, even by a superuser in replica mode');
SELECT throws_ok($$DELETE FROM custier.owner_history$$, '42501', NULL, 'nor deleted from');
SELECT throws_ok($$TRUNCATE custier.owner_history$$, '42501', NULL, 'nor truncated');
SET session_replication_role = origin;
SET ROLE tap_victim;
SELECT throws_ok($$ALTER TABLE victim_cust DISABLE TRIGGER custier_owner_history$$, '55000', NULL,
                 'the table''s owner cannot disable the owner history trigger');
CREATE FUNCTION public.victim_noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END $$;
SELECT throws_ok($$CREATE OR REPLACE TRIGGER custier_owner_history AFTER UPDATE ON victim_cust
                   FOR EACH ROW EXECUTE FUNCTION public.victim_noop()$$, '55000', NULL,
                 'nor replace it with one that records nothing');
SELECT throws_ok($$ALTER TABLE victim_cust ALTER COLUMN am TYPE int USING 0$$, '55000', NULL,
                 'nor retype the owner column');
RESET ROLE;

-- A table owner's code gains nothing when a superuser allocates its table.
SET ROLE tap_attacker;
CREATE SCHEMA evil;
CREATE TABLE evil.seen (who name, what text);
GRANT ALL ON evil.seen TO PUBLIC;
CREATE FUNCTION evil.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.seen VALUES (current_user, 'operator');
    BEGIN ALTER ROLE tap_attacker SUPERUSER; EXCEPTION WHEN OTHERS THEN NULL; END;
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.tideq(tid, tid) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.seen VALUES (current_user, 'tid operator');
    RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR evil.= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = evil.tideq);
CREATE TABLE attacker_cust (id int PRIMARY KEY, grade tier, am name, note text DEFAULT 'x');
INSERT INTO attacker_cust SELECT i, 'B', NULL FROM generate_series(1, 6) i;
INSERT INTO attacker_cust VALUES (7, 'B', 'tap_am1');
CREATE FUNCTION evil.grab() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evil.seen VALUES (current_user, TG_WHEN || ' ' || TG_LEVEL);
    BEGIN ALTER ROLE tap_attacker SUPERUSER; EXCEPTION WHEN OTHERS THEN NULL; END;
    BEGIN INSERT INTO custier.owner_history (tbl, customer_key, changed_at, changed_by) VALUES ('attacker_cust', '1', now(), 'postgres');
    EXCEPTION WHEN OTHERS THEN NULL; END;
    IF TG_LEVEL = 'STATEMENT' AND pg_trigger_depth() = 1 THEN
        -- A nested change of the owner column: recorded as the attacker's.
        UPDATE public.attacker_cust SET am = 'tap_am2' WHERE id = 7 AND am IS DISTINCT FROM 'tap_am2';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER a_grab BEFORE UPDATE ON attacker_cust FOR EACH ROW EXECUTE FUNCTION evil.grab();
CREATE TRIGGER a_grab_stmt AFTER UPDATE ON attacker_cust FOR EACH STATEMENT EXECUTE FUNCTION evil.grab();
RESET ROLE;
SELECT manage('attacker_cust', 'id', 'grade', 'tap_attacker');
SET ROLE tap_attacker;
SELECT set_allocation('attacker_cust', 'am');
RESET ROLE;
-- (pgTAP's own functions would find the shadowing operators too: only the
-- allocate runs with this search_path.)
SET search_path = evil, pg_catalog, public, custier;
SELECT count(*) AS allocated FROM custier.allocate('attacker_cust') \gset
SET search_path = public, custier;
SELECT is(:allocated, 5,
          'a superuser allocates the attacker''s table (operators shadowed on its search_path; 7 kept tap_am1, one left over capacity)');
SELECT ok(NOT (SELECT rolsuper FROM pg_roles WHERE rolname = 'tap_attacker'), 'the attacker did not become superuser');
SELECT is((SELECT array_agg(DISTINCT who) FROM evil.seen), ARRAY['tap_attacker']::name[],
          'the table''s own triggers ran as its owner, never as the caller');
SELECT is((SELECT count(*)::int FROM evil.seen WHERE what LIKE '%operator'), 0,
          'the shadowing operators never ran: allocate''s statements pin search_path');
SELECT is((SELECT count(*)::int FROM owner_history WHERE tbl = 'attacker_cust'::regclass AND changed_by = 'postgres'), 5,
          'allocate''s own changes are recorded once each, as the caller''s');
SELECT is((SELECT changed_by::text || '/' || coalesce(reason, 'by hand') FROM owner_history
            WHERE tbl = 'attacker_cust'::regclass AND customer_key = '7' AND new_owner = 'tap_am2'),
          'tap_attacker/by hand', 'a change the table''s trigger made meanwhile is the attacker''s, not the caller''s');

SELECT * FROM finish();
ROLLBACK;
