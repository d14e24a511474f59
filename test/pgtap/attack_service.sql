-- pgTAP: privileges and attacks on service groups: what
-- PUBLIC may do, what staff of one group can reach of another's customers,
-- what a stranger can do to someone else's table, and what a shadowing
-- schema before pg_catalog gains.  Each attack checks that nothing changed.
\ir setup.inc

SELECT plan(43);

-- err_as(role, sql): the SQLSTATE a statement raises as that role; NULL if none.
CREATE FUNCTION pg_temp.err_as(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q;
    RESET ROLE;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE;
    RETURN s;
END $$;
-- as(role, sql): a scalar query's answer as that role, as text.
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', r);
    EXECUTE q INTO v;
    RESET ROLE;
    RETURN v;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.err_as(text, text), pg_temp.as_role(text, text) TO PUBLIC;

-- ---------------------------------------------------------------- catalog
SELECT is_empty($$
    SELECT c.relname || ': ' || a.privilege_type
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.relnamespace = 'custier'::regnamespace
       AND c.relname IN ('calendar', 'calendar_day', 'service_group', 'group_meeting', 'meetings_due', 'group_change')
       AND a.grantee = 0 AND a.privilege_type <> 'SELECT'
$$, 'PUBLIC may only read the service tables and views');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('restrict', 'unrestrict', '_calendar_check', '_service_group_check', '_service_append_only')
       AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
$$, 'PUBLIC cannot execute restrict, unrestrict or the trigger functions');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))
       AND p.proname IN ('group_of', '_serves', '_visible_tiers', 'restrict', 'unrestrict', '_calendar_check', '_service_group_check')
       AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
$$, 'every SQL and PL/pgSQL function of the module pins search_path');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace AND p.prosecdef
       AND p.proname IN ('group_of', '_serves', '_visible_tiers', '_tier_in', 'restrict', 'unrestrict', 'service_deadline',
                         'business_add', 'business_between', '_calendar_check', '_service_group_check')
$$, 'none of them runs with borrowed rights (SECURITY DEFINER)');
SELECT is_empty($$
    SELECT x FROM unnest(ARRAY['custier.calendar', 'custier.calendar_day', 'custier.service_group', 'custier.group_meeting',
                               'custier.meetings_due', 'custier.group_change']) x
     WHERE obj_description(x::regclass, 'pg_class') IS NULL
    UNION ALL
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'custier'::regnamespace
       AND p.proname IN ('business_add', 'business_between', '_timezone_ok', '_calendar_check', '_service_group_check',
                         '_serves', '_service_append_only', 'group_of', 'service_deadline', 'on_time_rate',
                         'deadline_rate_transfn', '_visible_tiers', '_tier_in', 'restrict', 'unrestrict')
       AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every table, view and function of the module has a comment');
SELECT set_eq($$
    SELECT 'custier.' || k.relname FROM pg_extension e, unnest(e.extconfig) c JOIN pg_class k ON k.oid = c
     WHERE e.extname = 'custier' AND k.relname IN ('calendar', 'calendar_day', 'service_group', 'group_meeting')
$$, ARRAY['custier.calendar', 'custier.calendar_day', 'custier.service_group', 'custier.group_meeting'],
   'the calendars, groups and meetings are dumped by pg_dump');
SELECT is((SELECT tgenabled::text FROM pg_trigger WHERE tgrelid = 'custier.group_meeting'::regclass AND tgname = 'append_only'),
          'A', 'group_meeting''s append-only trigger fires always (session_replication_role too)');
SELECT is((SELECT aggcombinefn::text || ' ' || aggtranstype::regtype::text || ' ' || proparallel::text
             FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
            WHERE a.aggfnoid = 'custier.on_time_rate(timestamptz, timestamptz)'::regprocedure),
          'rate_combinefn rate_state s',
          'on_time_rate(resolved, deadline) is parallel safe with a combine function and a real state type (Citus splits it)');

-- ---------------------------------------------------------------- setup
CREATE ROLE custier_att_owner;
CREATE ROLE custier_att_a;
CREATE ROLE custier_att_b;
CREATE ROLE custier_att_bc;      -- serves B and C
CREATE ROLE custier_att_stranger;
GRANT custier_att_b TO custier_att_bc;
CREATE ROLE custier_att_c;
GRANT custier_att_c TO custier_att_bc;
INSERT INTO custier.calendar (name, timezone) VALUES ('att', 'Asia/Shanghai');
-- The table owner's own policy: manage needs membership in the policy's owner.
INSERT INTO custier.policy (name, owner) VALUES ('att', 'custier_att_owner');
INSERT INTO custier.service_group (policy, tier, name, staff_role, calendar, urgent_response) VALUES
    ('att', 'A', 'A group', 'custier_att_a', 'att', '2 hours'),
    ('att', 'B', 'B group', 'custier_att_b', 'att', '4 hours'),
    ('att', 'C', 'C group', 'custier_att_c', NULL, '8 hours'),
    ('att', 'D', 'D group', NULL, NULL, NULL);
CREATE TABLE public.att_customer (id int PRIMARY KEY, name text NOT NULL, grade custier.tier);
ALTER TABLE public.att_customer OWNER TO custier_att_owner;
INSERT INTO public.att_customer SELECT i, 'c' || i, custier.tier(1 + i % 4) FROM generate_series(1, 40) i;
GRANT EXECUTE ON FUNCTION custier.manage(regclass, name, name, text, boolean), custier.restrict(regclass),
                          custier.unrestrict(regclass) TO custier_att_owner, custier_att_stranger;
SELECT pg_temp.as_role('custier_att_owner', $$SELECT custier.manage('public.att_customer', 'id', 'grade', 'att')::text$$);
SELECT pg_temp.as_role('custier_att_owner', $$SELECT custier.restrict('public.att_customer')::text$$);
SET LOCAL ROLE custier_att_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.att_customer TO custier_att_a, custier_att_b, custier_att_bc, custier_att_stranger;
RESET ROLE;
GRANT INSERT ON custier.group_meeting TO custier_att_a, custier_att_b;
CREATE TEMP TABLE before AS SELECT * FROM public.att_customer;
GRANT SELECT ON before TO PUBLIC;

-- ---------------------------------------------------------------- the table
SELECT is(pg_temp.as_role('custier_att_b', 'SELECT string_agg(DISTINCT grade::text, '','') FROM public.att_customer'),
          'B', 'B''s staff see only B customers');
SELECT is(pg_temp.as_role('custier_att_bc', 'SELECT string_agg(DISTINCT grade::text, '','' ORDER BY grade::text) FROM public.att_customer'),
          'B,C', 'a role serving B and C (through membership) sees both');
SELECT is(pg_temp.as_role('custier_att_stranger', 'SELECT count(*) FROM public.att_customer'),
          '0', 'a role serving no group sees no customer');
SELECT is(pg_temp.as_role('custier_att_owner', 'SELECT count(*) FROM public.att_customer'),
          '40', 'the owner sees all');
SELECT is(pg_temp.as_role('custier_att_b', $$WITH u AS (UPDATE public.att_customer SET name = 'x' WHERE grade = 'A' RETURNING 1) SELECT count(*) FROM u$$),
          '0', 'B''s staff change no A customer');
SELECT is(pg_temp.as_role('custier_att_b', $$WITH u AS (DELETE FROM public.att_customer WHERE grade = 'A' RETURNING 1) SELECT count(*) FROM u$$),
          '0', 'nor delete one');
SELECT is(pg_temp.err_as('custier_att_b', $$UPDATE public.att_customer SET grade = 'A' WHERE grade = 'B'$$),
          '42501', 'nor move a B customer into A');
SELECT is(pg_temp.err_as('custier_att_b', $$INSERT INTO public.att_customer VALUES (100, 'new', 'A')$$),
          '42501', 'nor insert an A customer');
SELECT is_empty($$SELECT * FROM public.att_customer EXCEPT SELECT * FROM before$$, 'no customer changed');
SELECT is(pg_temp.err_as('custier_att_b', $$UPDATE custier.service_group SET staff_role = 'custier_att_b' WHERE tier = 'A'$$),
          '42501', 'staff cannot join another group by editing service_group');
SELECT is(pg_temp.err_as('custier_att_b', $$INSERT INTO custier.calendar_day VALUES ('att', '2026-06-01', false)$$),
          '42501', 'nor edit a calendar');
SELECT is(pg_temp.err_as('custier_att_b', $$DROP POLICY custier_service_group ON public.att_customer$$),
          '42501', 'nor drop the table''s policy');
SELECT is(pg_temp.err_as('custier_att_b', $$ALTER TABLE public.att_customer DISABLE ROW LEVEL SECURITY$$),
          '42501', 'nor switch row-level security off');

-- ---------------------------------------------------------------- meetings
SELECT is(pg_temp.err_as('custier_att_b', $$INSERT INTO custier.group_meeting (policy, tier, note) VALUES ('att', 'A', 'forged')$$),
          '42501', 'staff cannot record a meeting of another group');
SELECT is(pg_temp.err_as('custier_att_b', $$INSERT INTO custier.group_meeting (policy, tier, note, recorded_by) VALUES ('att', 'B', 'x', 'custier_att_a')$$),
          '42501', 'nor record one in someone else''s name');
SELECT is(pg_temp.err_as('custier_att_a', $$INSERT INTO custier.group_meeting (policy, tier, note) VALUES ('att', 'A', 'A only: secret plans')$$),
          NULL, 'A''s staff record their meeting');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT count(*) FROM custier.group_meeting$$),
          '0', 'and B''s staff do not read its notes');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT count(*) FROM custier.meetings_due WHERE last_held IS NOT NULL$$),
          '1', 'while meetings_due shows every group''s dates');
SELECT is(pg_temp.err_as('custier_att_owner', $$DELETE FROM custier.group_meeting$$),
          '42501', 'meetings cannot be deleted');

-- ---------------------------------------------------------------- strangers
SELECT is(pg_temp.err_as('custier_att_stranger', $$SELECT custier.unrestrict('public.att_customer')$$),
          '42501', 'a stranger cannot unrestrict someone else''s table');
SELECT is(pg_temp.err_as('custier_att_stranger', $$SELECT custier.restrict('public.att_customer')$$),
          '42501', 'nor restrict it');
SELECT is(pg_temp.err_as('custier_att_a', $$SELECT custier.restrict('public.att_customer')$$),
          '42501', 'a role without the grant cannot call restrict at all');
SELECT is((SELECT count(*)::int FROM pg_policy WHERE polrelid = 'public.att_customer'::regclass), 1, 'the policy is still there');

-- ---------------------------------------------------------------- functions and views
-- What the history shows a role follows tier_history's rules (§8): once it
-- follows the table's row-level security, B's staff see nothing of A here.
SELECT is(pg_temp.as_role('custier_att_owner', $$SELECT custier.group_of('public.att_customer', '4', 'infinity')$$),
          'A group', 'the owner learns customer 4''s group (so the next tests test something)');
SELECT isnt(pg_temp.as_role('custier_att_owner', $$SELECT custier.service_deadline('public.att_customer', '4', clock_timestamp(), 'urgent')::text$$),
          NULL, 'and its deadline');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT count(*) FROM custier.group_change WHERE to_group = 'A group'$$),
          '0', 'group_change shows B''s staff no A customer');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT custier.group_of('public.att_customer', '4', 'infinity')$$),
          NULL, 'group_of tells B''s staff nothing of an A customer');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT custier.service_deadline('public.att_customer', '4', clock_timestamp(), 'urgent')::text$$),
          NULL, 'service_deadline neither');
SELECT is(pg_temp.as_role('custier_att_b', $$SELECT count(*) FROM custier.group_change WHERE to_group = 'B group'$$),
          '10', 'group_change shows B''s staff their own customers');

-- ---------------------------------------------------------------- shadowing schema
CREATE SCHEMA evil AUTHORIZATION custier_att_b;
SET LOCAL ROLE custier_att_b;
CREATE FUNCTION evil.pg_has_role(oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION evil.pg_has_role(name, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION evil.to_regrole(text) RETURNS regrole LANGUAGE sql AS $$SELECT 'custier_att_a'::regrole$$;
CREATE FUNCTION evil.quote_ident(text) RETURNS text LANGUAGE sql AS $$SELECT 'custier_att_b'$$;
CREATE FUNCTION evil.texteq(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
CREATE FUNCTION evil.oideq(oid, oid) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = evil.oideq);
RESET ROLE;
-- shadowed(role, sql): a scalar query's answer as that role, with evil
-- before pg_catalog on its search_path (pgTAP itself keeps the normal one).
CREATE FUNCTION pg_temp.shadowed(r text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v text; old text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', 'evil, pg_catalog, public, custier', true);
    EXECUTE format('SET LOCAL ROLE %I', r);
    BEGIN
        EXECUTE q INTO v;
    EXCEPTION WHEN OTHERS THEN
        v := 'error ' || SQLSTATE;
    END;
    RESET ROLE;
    PERFORM set_config('search_path', old, true);
    RETURN v;
END $$;
SELECT is(pg_temp.shadowed('custier_att_b', 'SELECT 1 OPERATOR(evil.=) 2 AND pg_has_role(0::oid, ''x'')'),
          'true', 'the shadowing schema is in force in these tests');
SELECT is(pg_temp.shadowed('custier_att_b', 'SELECT string_agg(DISTINCT grade::text, '','') FROM public.att_customer'),
          'B', 'a schema shadowing pg_catalog does not widen what B''s staff see');
SELECT is(pg_temp.shadowed('custier_att_b', $$SELECT custier._serves('att', 'A')::text || custier._visible_tiers('public.att_customer')::text$$),
          'false4', 'nor make them serve A');
SELECT is(pg_temp.shadowed('custier_att_b', $$SELECT custier.business_add('att', '2026-05-29 17:00+08', '2 hours')::text$$),
          (SELECT custier.business_add('att', '2026-05-29 17:00+08', '2 hours')::text), 'nor change business_add');
SELECT is(pg_temp.shadowed('custier_att_b', $$SELECT custier.service_deadline('public.att_customer', '1', clock_timestamp(), 'urgent') > clock_timestamp()$$),
          'true', 'nor service_deadline');
SELECT is(pg_temp.err_as('custier_att_b', $x$CREATE FUNCTION custier._visible_tiers(regclass) RETURNS custier.tier[] LANGUAGE sql AS $q$SELECT '{A,B,C,D}'::custier.tier[]$q$$x$),
          '42501', 'and nobody can put functions into schema custier');

SELECT * FROM finish();
ROLLBACK;
