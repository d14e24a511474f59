-- pgTAP: properties of custier.allocate on generated data (seeded; the seed
-- is printed): every assigned owner is eligible, no owner goes above its
-- capacity, the most specific match wins, customers with an eligible owner
-- keep it, rebalance evens out equally specific owners to within one,
-- nothing moves twice in one call, and the same input gives the same result.
\ir setup.inc

SELECT plan(27);

\set seed 0.4242
SELECT diag('seed: ' || :'seed');
SELECT setseed(:seed);

INSERT INTO policy (name) VALUES ('tap_alloc');
CREATE TABLE tap_cust (id int PRIMARY KEY, grade tier, region text, industry text, am name);
SELECT manage('tap_cust', 'id', 'grade', 'tap_alloc');
SELECT set_allocation('tap_cust', 'am', 'region', 'industry');

-- 30 owners, of every kind of specificity, grade range and capacity.
DO $$
BEGIN
    FOR i IN 1 .. 30 LOOP
        EXECUTE format('CREATE ROLE tap_o%s NOLOGIN', lpad(i::text, 2, '0'));
    END LOOP;
END $$;
INSERT INTO account_owner (policy, owner, region, industry, tiers, capacity)
SELECT 'tap_alloc', format('tap_o%s', lpad(i::text, 2, '0')),
       CASE WHEN random() < 0.5 THEN (ARRAY['N', 'S', 'E', 'W'])[1 + floor(random() * 4)::int] END,
       CASE WHEN random() < 0.5 THEN (ARRAY['bank', 'retail', 'tech'])[1 + floor(random() * 3)::int] END,
       CASE WHEN random() < 0.4 THEN (CASE floor(random() * 3)::int WHEN 0 THEN '{A,B}' WHEN 1 THEN '{C,D}' ELSE '{A,B,C}' END)::tier[] END,
       CASE WHEN random() < 0.6 THEN 20 + floor(random() * 120)::int END
FROM generate_series(1, 30) i;
INSERT INTO tap_cust
SELECT i, CASE WHEN random() < 0.05 THEN NULL ELSE tier(1 + floor(random() * 4)::int) END,
       CASE WHEN random() < 0.9 THEN (ARRAY['N', 'S', 'E', 'W', 'X'])[1 + floor(random() * 5)::int] END,
       CASE WHEN random() < 0.9 THEN (ARRAY['bank', 'retail', 'tech'])[1 + floor(random() * 3)::int] END,
       NULL
FROM generate_series(1, 3000) i;

-- The test's own reading of the rules.
CREATE VIEW tap_match AS
SELECT c.id, o.owner, (o.region IS NOT NULL)::int * 2 + (o.industry IS NOT NULL)::int AS level
  FROM tap_cust c JOIN account_owner o ON o.policy = 'tap_alloc' AND o.active
   AND (o.region IS NULL OR o.region = c.region)
   AND (o.industry IS NULL OR o.industry = c.industry)
   AND (o.tiers IS NULL OR coalesce(c.grade = ANY (o.tiers), false));
CREATE VIEW tap_load AS
SELECT o.owner, o.capacity, (SELECT count(*) FROM tap_cust c WHERE c.am = o.owner) AS load,
       (o.region IS NOT NULL)::int * 2 + (o.industry IS NOT NULL)::int AS level
  FROM account_owner o WHERE o.policy = 'tap_alloc' AND o.active;
CREATE VIEW tap_room AS SELECT * FROM tap_load WHERE capacity IS NULL OR load < capacity;

-- The properties every allocate keeps; :'run' names the call.
CREATE TEMP TABLE run (customer_key text, old_owner name, new_owner name);
CREATE FUNCTION pg_temp.invariants(label text, since bigint) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEXT is_empty($q$
        SELECT c.id, c.am FROM tap_cust c
         WHERE c.am IS NOT NULL AND NOT EXISTS (SELECT FROM tap_match m WHERE m.id = c.id AND m.owner = c.am)$q$,
        label || ': every assigned owner is eligible (active, region, industry, grade)');
    RETURN NEXT is_empty($q$SELECT * FROM tap_load WHERE load > capacity$q$,
        label || ': no owner is above its capacity');
    RETURN NEXT is_empty($q$
        SELECT r.customer_key FROM run r
          JOIN tap_match m ON m.id = r.customer_key::int AND m.owner = r.new_owner
          JOIN tap_match better ON better.id = m.id AND better.level > m.level
          JOIN tap_room room ON room.owner = better.owner$q$,
        label || ': the most specific match wins (no more specific owner with room is left)');
    RETURN NEXT is_empty($q$
        SELECT c.id FROM tap_cust c JOIN tap_match m ON m.id = c.id JOIN tap_room room ON room.owner = m.owner
         WHERE c.am IS NULL$q$,
        label || ': a customer left without an owner has no eligible owner with room');
    RETURN NEXT is_empty($q$
        SELECT customer_key FROM run GROUP BY customer_key HAVING count(*) > 1
        UNION ALL
        SELECT h.customer_key FROM owner_history h
         WHERE h.tbl = 'tap_cust'::regclass AND h.history_id > $q$ || since || $q$
         GROUP BY h.customer_key HAVING count(*) > 1$q$,
        label || ': nothing moves twice (one result row and one history row per customer at most)');
    RETURN NEXT is((SELECT count(*) FROM run r JOIN tap_cust c ON c.id = r.customer_key::int
                     WHERE c.am IS NOT DISTINCT FROM r.new_owner AND r.old_owner IS DISTINCT FROM r.new_owner),
                   (SELECT count(*) FROM run),
                   label || ': every returned change is a real change, and is in the table');
END $$;

-- 1. Everyone unassigned.
SELECT coalesce(max(history_id), 0) AS since FROM owner_history \gset
INSERT INTO run SELECT * FROM allocate('tap_cust');
SELECT * FROM pg_temp.invariants('first allocation', :since);
SELECT cmp_ok((SELECT count(*) FROM run WHERE new_owner IS NOT NULL), '>', 2000::bigint,
              'the first allocation assigns most customers (the property checks are not vacuous)');
SELECT is((SELECT count(*) FROM owner_history WHERE tbl = 'tap_cust'::regclass AND reason = 'custier.allocate'),
          (SELECT count(*) FROM run WHERE new_owner IS NOT NULL),
          'every change of an owner is recorded once in owner_history');

-- 2. Things change: grades move, owners leave, capacities drop, owners set by hand.
UPDATE tap_cust SET grade = tier(1 + floor(random() * 4)::int) WHERE random() < 0.2;
UPDATE account_owner SET active = false WHERE policy = 'tap_alloc' AND owner IN ('tap_o03', 'tap_o17');
UPDATE account_owner SET capacity = 10 WHERE policy = 'tap_alloc' AND owner IN ('tap_o05', 'tap_o21');
UPDATE tap_cust SET am = 'tap_o01' WHERE id % 97 = 0;
UPDATE tap_cust SET am = 'somebody_else' WHERE id % 89 = 0;
CREATE TEMP TABLE before AS
SELECT c.id, c.am,
       coalesce(EXISTS (SELECT FROM tap_match m WHERE m.id = c.id AND m.owner = c.am)
                AND (SELECT l.capacity IS NULL OR l.load <= l.capacity FROM tap_load l WHERE l.owner = c.am), false) AS eligible
  FROM tap_cust c;
-- Same input, same result: run, undo, run again.
SAVEPOINT same_input;
SELECT string_agg(format('%s:%s>%s', customer_key, old_owner, new_owner), ',' ORDER BY customer_key) AS run_a
  FROM allocate('tap_cust') \gset
ROLLBACK TO SAVEPOINT same_input;
SELECT coalesce(max(history_id), 0) AS since FROM owner_history \gset
TRUNCATE run;
INSERT INTO run SELECT * FROM allocate('tap_cust');
SELECT is((SELECT string_agg(format('%s:%s>%s', customer_key, old_owner, new_owner), ',' ORDER BY customer_key) FROM run),
          :'run_a', 'same input, same result');
SELECT * FROM pg_temp.invariants('after changes', :since);
SELECT is_empty($$SELECT b.id, b.am, c.am FROM before b JOIN tap_cust c USING (id)
                   WHERE b.eligible AND c.am IS DISTINCT FROM b.am$$,
                'customers with an eligible owner keep it without rebalance');
SELECT ok((SELECT count(*) FILTER (WHERE eligible) > 1000 AND count(*) FILTER (WHERE NOT eligible AND am IS NOT NULL) > 100
             FROM before),
          'many customers had an eligible owner, and many an ineligible one (not vacuous)');

-- 3. Owners come back and join: rebalance evens out the loads.
UPDATE account_owner SET active = true WHERE policy = 'tap_alloc' AND owner = 'tap_o03';
CREATE ROLE tap_o31 NOLOGIN;
CREATE ROLE tap_o32 NOLOGIN;
INSERT INTO account_owner (policy, owner, region, industry) VALUES
    ('tap_alloc', 'tap_o31', NULL, NULL), ('tap_alloc', 'tap_o32', 'N', 'bank');
SELECT coalesce(max(history_id), 0) AS since FROM owner_history \gset
TRUNCATE run;
INSERT INTO run SELECT * FROM allocate('tap_cust', true);
SELECT * FROM pg_temp.invariants('rebalance', :since);
SELECT is_empty($$
    SELECT c.id, c.am, mine.load, other.owner, other.load
      FROM tap_cust c JOIN tap_load mine ON mine.owner = c.am
      JOIN tap_match m ON m.id = c.id AND m.level = mine.level
      JOIN tap_room other ON other.owner = m.owner
     WHERE other.load <= mine.load - 2$$,
    'after rebalance, no customer could go to an equally specific owner with two customers fewer: loads differ by at most one');
SELECT is_empty($$
    SELECT c.id FROM tap_cust c JOIN tap_load mine ON mine.owner = c.am
      JOIN tap_match m ON m.id = c.id AND m.level > mine.level
      JOIN tap_room r ON r.owner = m.owner$$,
    'after rebalance, no customer has a more specific owner with room');
SELECT cmp_ok((SELECT count(*) FROM run WHERE new_owner IN ('tap_o31', 'tap_o32', 'tap_o03')), '>', 10::bigint,
              'rebalance moved customers to the owners that joined (not vacuous)');
SELECT is_empty($$SELECT * FROM allocate('tap_cust', true)$$, 'a second rebalance moves nothing');

SELECT * FROM finish();
ROLLBACK;
