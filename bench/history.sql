-- bench/history.sql — the cost of custier's history on the application's own
-- UPDATEs: one UPDATE changing 200k grades of a 200k-customer table.
--   managed vs the same table unmanaged                       goal <= 2
--   managed vs a PL/pgSQL AFTER ROW history trigger writing
--   to a table indexed like custier.tier_history               goal <= 0.5
-- and, for information, managed against its floor: the same UPDATE on an
-- unmanaged copy writing the same history rows itself, in the same
-- statement, sorted as the trigger writes them, into a table indexed exactly
-- like custier.tier_history -- the writes without any trigger machinery;
-- and tiers_at over 1M customers' history, as the superuser and as a plain
-- role that may read the table (row-level security on tier_history applies
-- to it: the two should cost the same).
\set QUIET 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_plain, bench_managed, bench_plpgsql, bench_plpgsql_history, bench_floor, bench_floor_history, bench_million;
DELETE FROM custier.policy WHERE name IN ('bench_history', 'bench_million');
INSERT INTO custier.policy (name) VALUES ('bench_history'), ('bench_million');

CREATE TABLE bench_plain (id int PRIMARY KEY, name text NOT NULL, region text NOT NULL, grade tier);
INSERT INTO bench_plain
SELECT i, 'customer ' || i, (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4], custier.tier(2 + i % 3)
  FROM generate_series(1, 200000) i;
CREATE INDEX ON bench_plain (grade);
CREATE TABLE bench_managed (LIKE bench_plain INCLUDING ALL);
INSERT INTO bench_managed SELECT * FROM bench_plain;
CREATE TABLE bench_plpgsql (LIKE bench_plain INCLUDING ALL);
INSERT INTO bench_plpgsql SELECT * FROM bench_plain;
CREATE TABLE bench_floor (LIKE bench_plain INCLUDING ALL);
INSERT INTO bench_floor SELECT * FROM bench_plain;
CREATE TABLE bench_floor_history (LIKE custier.tier_history INCLUDING ALL);

SELECT custier.manage('bench_managed', 'id', 'grade', 'bench_history');

-- The baseline: what one writes by hand without custier.
CREATE TABLE bench_plpgsql_history (
    history_id bigserial PRIMARY KEY, tbl regclass NOT NULL, customer_key text COLLATE "C" NOT NULL,
    old_tier tier, new_tier tier, changed_at timestamptz NOT NULL, changed_by name NOT NULL,
    adjustment_id bigint, reason text);
CREATE INDEX ON bench_plpgsql_history (tbl, customer_key, changed_at DESC, history_id DESC) INCLUDE (new_tier);
CREATE FUNCTION bench_plpgsql_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_plpgsql_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by)
    VALUES (TG_RELID, NEW.id::text, OLD.grade, NEW.grade, clock_timestamp(), current_user);
    RETURN NULL;
END $$;
CREATE TRIGGER history AFTER UPDATE ON bench_plpgsql FOR EACH ROW
    WHEN (OLD.grade IS DISTINCT FROM NEW.grade) EXECUTE FUNCTION bench_plpgsql_history();
-- The floor's history starts as bench_managed's does (its registration rows).
INSERT INTO bench_floor_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by, reason)
SELECT 'bench_floor'::regclass, customer_key, old_tier, new_tier, changed_at, changed_by, reason
  FROM custier.tier_history WHERE tbl = 'bench_managed'::regclass;
-- old grade = tier_up(new grade) holds here: grades are B..D and every run is rolled back.
SELECT $$WITH u AS (UPDATE bench_floor SET grade = tier_down(grade) RETURNING id, tier_up(grade) AS old_grade, grade)
    INSERT INTO bench_floor_history (tbl, customer_key, old_tier, new_tier, changed_at, changed_by)
    SELECT 'bench_floor'::regclass, id::text, old_grade, grade, clock_timestamp(), current_user
      FROM u ORDER BY id::text COLLATE "C"$$ AS floor_update \gset
VACUUM ANALYZE bench_plain, bench_managed, bench_plpgsql, bench_plpgsql_history, bench_floor, bench_floor_history,
    custier.tier_history;

-- 1M customers with a few changes each, for tiers_at.
CREATE TABLE bench_million (id int PRIMARY KEY, grade tier);
SELECT custier.manage('bench_million', 'id', 'grade', 'bench_million');
INSERT INTO bench_million SELECT i, custier.tier(1 + i % 4) FROM generate_series(1, 1000000) i;
UPDATE bench_million SET grade = tier_down(grade) WHERE id % 2 = 0;
UPDATE bench_million SET grade = tier_up(grade) WHERE id % 3 = 0;
VACUUM ANALYZE bench_million, custier.tier_history;
DROP ROLE IF EXISTS bench_history_reader;
CREATE ROLE bench_history_reader;
GRANT SELECT ON bench_million TO bench_history_reader;
GRANT USAGE ON SCHEMA bench TO bench_history_reader;
\unset QUIET
\echo 'UPDATE changing 200k grades (200k-row table, PK + grade index); statement time, medians of 5 runs'
SELECT * FROM bench.compare('UPDATE 200k grades: managed vs unmanaged',
    $$UPDATE bench_managed SET grade = tier_down(grade)$$,
    $$UPDATE bench_plain SET grade = tier_down(grade)$$, '<= 2', 5, 'statement')
UNION ALL
SELECT * FROM bench.compare('UPDATE 200k grades: managed vs PL/pgSQL trigger',
    $$UPDATE bench_managed SET grade = tier_down(grade)$$,
    $$UPDATE bench_plpgsql SET grade = tier_down(grade)$$, '<= 0.5', 5, 'statement')
UNION ALL
SELECT * FROM bench.compare('UPDATE 200k grades: managed vs UPDATE + sorted INSERT (floor)',
    $$UPDATE bench_managed SET grade = tier_down(grade)$$,
    :'floor_update', NULL, 5, 'statement')
UNION ALL
SELECT * FROM bench.compare('UPDATE 200k grades: floor vs PL/pgSQL trigger',
    :'floor_update',
    $$UPDATE bench_plpgsql SET grade = tier_down(grade)$$, NULL, 5, 'statement')
UNION ALL
SELECT * FROM bench.compare('UPDATE 200k other columns: managed vs unmanaged',
    $$UPDATE bench_managed SET region = upper(region)$$,
    $$UPDATE bench_plain SET region = upper(region)$$, NULL, 3, 'statement')
UNION ALL
SELECT * FROM bench.compare('tiers_at over 1M customers (2M history rows) vs reading the table',
    $$SELECT * FROM custier.tiers_at('bench_million', 'infinity')$$,
    $$SELECT id::text, grade FROM bench_million$$, NULL, 3, 'query');
SET ROLE bench_history_reader;
SELECT * FROM bench.compare('tiers_at over 1M customers as a plain reader vs reading the table',
    $$SELECT * FROM custier.tiers_at('bench_million', 'infinity')$$,
    $$SELECT id::text, grade FROM bench_million$$, NULL, 3, 'query');
RESET ROLE;
\set QUIET 1
SELECT custier.unmanage('bench_managed');
SELECT custier.unmanage('bench_million');
DROP TABLE bench_plain, bench_managed, bench_plpgsql, bench_plpgsql_history, bench_floor, bench_floor_history, bench_million;
DROP FUNCTION bench_plpgsql_history();
DROP OWNED BY bench_history_reader;
DROP ROLE bench_history_reader;
DELETE FROM custier.policy WHERE name IN ('bench_history', 'bench_million');
\unset QUIET
