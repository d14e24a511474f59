-- pgTAP attacks found by a review of the service group, allocation and
-- owner history code: a cycle runner under row-level security allocating
-- customers it cannot see, owner history showing them, and a policy
-- maintainer making itself staff or account owner of a policy it does not
-- own.  Grants of doc/security.md; each checks the SQLSTATE and that
-- nothing was gained or written.
\ir setup.inc
\ir attack_setup.inc

SELECT plan(9);

-- The table owner's customers get an account owner column; group A is
-- served by staff_a only, and the table is restricted to the groups' staff.
CREATE ROLE staff_a;
CREATE ROLE am1;
ALTER TABLE customer ADD COLUMN acct name;
INSERT INTO customer VALUES (11, 'north', 'A'), (12, 'south', 'B'), (13, 'north', 'C');
SET ROLE policy_maintainer;
INSERT INTO custier.service_group (policy, tier, name, staff_role) VALUES ('retail', 'A', 'gold', 'staff_a');
INSERT INTO custier.account_owner (policy, owner) VALUES ('retail', 'am1');
RESET ROLE;
SET ROLE table_owner;
SELECT custier.set_allocation('customer', 'acct', 'region');
SELECT custier.restrict('customer');
GRANT UPDATE (acct) ON customer TO cycle_runner;
RESET ROLE;
GRANT EXECUTE ON FUNCTION custier.allocate(regclass, boolean) TO cycle_runner;

SET SESSION AUTHORIZATION cycle_runner;
SELECT is((SELECT count(*)::int FROM customer), 0, 'row-level security hides every customer from the cycle runner (so the next tests test something)');
SELECT throws_ok($$SELECT * FROM custier.allocate('customer')$$, '42501', NULL,
                 'allocate is refused to a role that row-level security keeps from seeing every customer');
RESET SESSION AUTHORIZATION;
SELECT is((SELECT count(*)::int FROM customer WHERE acct IS NOT NULL), 0, 'and no customer got an owner');

-- The table owner allocates; owner history then shows a BI reader nothing
-- of the customers it cannot see in the table.
SET ROLE table_owner;
SELECT count(*) FROM custier.allocate('customer');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM custier.owner_history WHERE tbl = 'customer'::regclass AND new_owner IS NOT NULL),
          (SELECT count(*)::int FROM customer), 'the owner''s allocation is recorded, one row per customer');
SET SESSION AUTHORIZATION bi_reader;
SELECT is((SELECT count(*)::int FROM custier.owner_history), 0,
          'owner history shows a BI reader none of the customers row-level security hides from it');
SELECT is(custier.owner_at('customer', '11', 'infinity'), NULL, 'nor does owner_at');
RESET SESSION AUTHORIZATION;

-- A policy the maintainer does not own.
INSERT INTO custier.policy (name, owner) VALUES ('vip', 'postgres');
SET SESSION AUTHORIZATION policy_maintainer;
SELECT throws_ok($$INSERT INTO custier.service_group (policy, tier, name, staff_role) VALUES ('vip', 'A', 'hijack', 'policy_maintainer')$$,
                 '42501', NULL, 'a maintainer cannot make itself staff of a group of a policy it does not own');
SELECT throws_ok($$INSERT INTO custier.account_owner (policy, owner) VALUES ('vip', 'policy_maintainer')$$,
                 '42501', NULL, 'nor an account owner of it');
RESET SESSION AUTHORIZATION;

SELECT is(pg_temp.gained(), '', 'no role gained any right, no canary row');
SELECT * FROM finish();
ROLLBACK;
