-- doc/demo_allocation.sql — the allocation chapter of `make demo` (run by
-- doc/demo.sql at its end, on its customers): a dozen account owners by
-- region, industry and value; who serves whom; a rebalance when one leaves.
\set QUIET 1
\pset pager off
\echo
\echo '=== 9. Account owners: a dozen, by region, industry and value'
-- The customers get an industry and an owner column.
ALTER TABLE customer ADD COLUMN industry text, ADD COLUMN account_owner name;
UPDATE customer SET industry = (ARRAY['finance', 'retail', 'tech', 'manufacturing'])[1 + (hashint4(customer_id * 7) & 2147483647) % 4];
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['am_north_finance', 'am_south_finance', 'am_east_retail', 'am_west_retail',
                             'am_north', 'am_south', 'am_east', 'am_west', 'am_key_1', 'am_key_2', 'am_tech', 'am_pool'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;
-- Specialists take A and B customers of their region and industry; regional
-- owners B to D; two key-account managers take A customers anywhere (up to
-- 1 500 each); one owner serves tech anywhere, the pool the rest (B to D).
INSERT INTO account_owner (policy, owner, region, industry, tiers, capacity) VALUES
    ('standard', 'am_north_finance', 'North', 'finance', '{A,B}', 3000),
    ('standard', 'am_south_finance', 'South', 'finance', '{A,B}', 3000),
    ('standard', 'am_east_retail',   'East',  'retail',  '{A,B}', 3000),
    ('standard', 'am_west_retail',   'West',  'retail',  '{A,B}', 3000),
    ('standard', 'am_north',         'North', NULL,      '{B,C,D}', NULL),
    ('standard', 'am_south',         'South', NULL,      '{B,C,D}', NULL),
    ('standard', 'am_east',          'East',  NULL,      '{B,C,D}', NULL),
    ('standard', 'am_west',          'West',  NULL,      '{B,C,D}', NULL),
    ('standard', 'am_key_1',         NULL,    NULL,      '{A}',     1500),
    ('standard', 'am_key_2',         NULL,    NULL,      '{A}',     1500),
    ('standard', 'am_tech',          NULL,    'tech',    '{B,C,D}', NULL),
    ('standard', 'am_pool',          NULL,    NULL,      '{B,C,D}', NULL);
SELECT set_allocation('customer', 'account_owner', 'region', 'industry');
\timing on
SELECT count(*) AS customers_allocated FROM allocate('customer');
\timing off
\unset QUIET
\echo 'Per-owner loads (most specific first):'
SELECT o.owner, o.region, o.industry, o.tiers, o.capacity, count(c.customer_id) AS customers
FROM account_owner o LEFT JOIN customer c ON c.account_owner = o.owner
WHERE o.policy = 'standard'
GROUP BY o.owner, o.region, o.industry, o.tiers, o.capacity
ORDER BY (o.region IS NOT NULL)::int * 2 + (o.industry IS NOT NULL)::int DESC, o.owner;
\echo 'Who serves the A customers:'
SELECT account_owner, count(*) AS a_customers FROM customer WHERE grade = 'A' GROUP BY account_owner ORDER BY 2 DESC, 1;
\echo 'am_east leaves; a rebalance gives its customers to the others and evens out the loads:'
UPDATE account_owner SET active = false WHERE owner = 'am_east';
SELECT count(*) AS moved, count(*) FILTER (WHERE old_owner = 'am_east') AS from_am_east
FROM allocate('customer', rebalance => true);
SELECT account_owner, count(*) AS customers FROM customer WHERE region = 'East' GROUP BY account_owner ORDER BY 1;
\echo 'Every change is on record (custier.owner_history):'
SELECT customer_key, old_owner, new_owner, changed_by, reason FROM owner_history
WHERE customer_key = (SELECT customer_key FROM owner_history WHERE old_owner = 'am_east' ORDER BY history_id LIMIT 1)
ORDER BY history_id;
\set QUIET 1
