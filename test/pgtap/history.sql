-- pgTAP: privileges, append-only and row-level security of the history and
-- adjustment modules: what PUBLIC may do, what nobody may do.
\ir setup.inc

SELECT plan(24);

-- PUBLIC: reads at most, writes nothing.
SELECT is_empty($$
    SELECT c.relname || ': ' || a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'custier'::regnamespace
       AND c.relname IN ('managed_table', 'tier_history', 'customer_key_change',
                         'adjustment', 'adjustment_review', 'adjustment_event')
       AND a.grantee = 0 AND a.privilege_type <> 'SELECT'
$$, 'PUBLIC has no privilege but SELECT on the history and adjustment tables');
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'custier'::regnamespace
       AND c.relname IN ('managed_table', 'tier_history', 'customer_key_change',
                         'adjustment', 'adjustment_review', 'adjustment_event')
       AND c.relacl IS NULL
$$, 'those tables have explicit privileges (not the owner-only default that pg_dump would not restore as is)');
SELECT is_empty($$
    SELECT c.relname || ': ' || a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'custier'::regnamespace
       AND c.relname IN ('tier_history_history_id_seq', 'adjustment_adjustment_id_seq', 'adjustment_event_event_id_seq')
       AND a.grantee = 0
$$, 'PUBLIC has no privilege on their sequences');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('history_trigger', 'guard_trigger', 'history_append_only', '_manage', '_unmanage',
                         '_managed_problem', '_tiers_at', '_lock_customer', '_decide', '_approval', '_adjustment_log',
                         '_missing_reviews', '_acts_for', 'propose', 'review', 'approve', 'reject', 'withdraw',
                         'manage', 'unmanage')
       AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'PUBLIC cannot execute the triggers, the internal functions, manage/unmanage or the adjustment functions');
SELECT is((SELECT count(*)::int FROM pg_proc p
            WHERE p.pronamespace = 'custier'::regnamespace
              AND p.proname IN ('history_trigger', 'guard_trigger', 'history_append_only', '_manage', '_unmanage',
                                '_managed_problem', '_tiers_at', '_lock_customer', '_decide', '_approval', '_adjustment_log',
                                '_missing_reviews', '_acts_for', 'propose', 'review', 'approve', 'reject', 'withdraw',
                                'manage', 'unmanage')),
          20, 'and all of those exist (the check above is not vacuous)');
SELECT ok((SELECT bool_and(p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
             FROM pg_proc p WHERE p.oid IN ('custier.tiers_at(regclass,timestamptz)'::regprocedure,
                                            'custier.tier_at(regclass,text,timestamptz)'::regprocedure,
                                            'custier._can_see(regclass,text)'::regprocedure)),
          'tiers_at, tier_at and _can_see read (what the caller may see) and are for everyone');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace AND p.prosecdef
       AND p.proname IN ('history_trigger', 'guard_trigger', 'history_append_only', '_manage', '_unmanage',
                         '_managed_problem', '_tiers_at', '_lock_customer', '_decide', '_approval', '_adjustment_log',
                         '_missing_reviews', '_acts_for', 'propose', 'review', 'approve', 'reject', 'withdraw',
                         'manage', 'unmanage', 'tiers_at', 'tier_at', '_actor', '_applying')
$$, 'none of them is SECURITY DEFINER: rights are switched in C, around fixed queries');

-- Append-only, for every role: the triggers fire always, even in replica mode.
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.oid IN ('custier.tier_history'::regclass, 'custier.customer_key_change'::regclass,
                     'custier.adjustment_event'::regclass)
       AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'append_only'
                         AND t.tgenabled = 'A')
$$, 'history tables have an ENABLE ALWAYS append_only trigger');

CREATE TABLE tap_customer (id int PRIMARY KEY, grade tier);
CREATE TABLE tap_hidden (id int PRIMARY KEY, grade tier);
INSERT INTO custier.policy (name) VALUES ('tap_customer'), ('tap_hidden');
INSERT INTO tap_customer VALUES (1, 'A'), (2, 'B');
INSERT INTO tap_hidden VALUES (1, 'C');
SELECT custier.manage('tap_customer', 'id', 'grade', 'tap_customer');
SELECT custier.manage('tap_hidden', 'id', 'grade', 'tap_hidden');
UPDATE tap_customer SET grade = 'C' WHERE id = 2;

-- The owner of the extension (running this file) is refused like anyone.
SELECT throws_ok($$UPDATE custier.tier_history SET reason = 'edited'$$, '42501', NULL, 'owner cannot UPDATE tier_history');
SELECT throws_ok($$DELETE FROM custier.tier_history$$, '42501', NULL, 'owner cannot DELETE from tier_history');
SELECT throws_ok($$TRUNCATE custier.tier_history$$, '42501', NULL, 'owner cannot TRUNCATE tier_history');
SELECT throws_ok($$UPDATE custier.customer_key_change SET new_key = 'x'$$, '42501', NULL, 'owner cannot UPDATE customer_key_change');
SELECT throws_ok($$DELETE FROM custier.adjustment_event$$, '42501', NULL, 'owner cannot DELETE from adjustment_event');
SELECT throws_ok($$TRUNCATE custier.adjustment CASCADE$$, '42501', NULL, 'owner cannot TRUNCATE adjustment');

-- Row-level security: a role sees the history (and adjustments) of the
-- tables it may read, and only those; tiers_at and tier_at agree.
SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.oid IN ('custier.tier_history'::regclass, 'custier.customer_key_change'::regclass,
                     'custier.adjustment'::regclass, 'custier.adjustment_review'::regclass,
                     'custier.adjustment_event'::regclass)
       AND NOT c.relrowsecurity
$$, 'row-level security is on for the history and adjustment tables');
CREATE ROLE custier_test_history_tap_reader;
GRANT SELECT ON tap_customer TO custier_test_history_tap_reader;
SET ROLE custier_test_history_tap_reader;
SELECT count(*) AS seen_customer FROM custier.tier_history WHERE tbl = 'tap_customer'::regclass \gset
SELECT count(*) AS seen_hidden FROM custier.tier_history WHERE tbl = 'tap_hidden'::regclass \gset
SELECT count(*) AS tiers_customer FROM custier.tiers_at('tap_customer', 'infinity') \gset
SELECT count(*) AS tiers_hidden FROM custier.tiers_at('tap_hidden', 'infinity') \gset
SELECT custier.tier_at('tap_customer', '2', 'infinity') AS tier_customer \gset
SELECT coalesce(custier.tier_at('tap_hidden', '1', 'infinity')::text, 'none') AS tier_hidden \gset
RESET ROLE;
SELECT is(:seen_customer::int, 3, 'a reader sees the history of a table it may read');
SELECT is(:seen_hidden::int, 0, 'and none of a table it may not read');
SELECT is(:tiers_customer::int, 2, 'tiers_at answers it for a table it may read');
SELECT is(:tiers_hidden::int, 0, 'tiers_at answers nothing for a table it may not read');
SELECT is(:'tier_customer'::text, 'C', 'tier_at likewise');
SELECT is(:'tier_hidden'::text, 'none', 'tier_at answers NULL for a table it may not read');
SELECT throws_ok($$SET ROLE custier_test_history_tap_reader;
                   INSERT INTO custier.tier_history (tbl, customer_key, new_tier, changed_at, changed_by)
                   VALUES ('tap_customer', '9', 'A', now(), 'forged')$$,
                 '42501', NULL, 'a reader cannot write history');
RESET ROLE;

-- A dropped table's history stays, by its name; its OID, which a new table
-- may take, no longer finds it.
SELECT 'tap_hidden'::regclass::oid AS hidden_oid \gset
DROP TABLE tap_hidden;
SELECT is((SELECT count(*)::int FROM custier.tier_history WHERE dropped_table = 'public.tap_hidden' AND tbl = 0), 1,
          'the history of a dropped table stays, by name');
SELECT is((SELECT count(*)::int FROM custier.tiers_at((:hidden_oid)::oid::regclass, 'infinity')), 0,
          'the OID of a dropped table no longer finds its history');

SELECT * FROM finish();
ROLLBACK;
