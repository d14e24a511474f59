-- The custier.tier type (see doc/reference.md): input, output, order, arithmetic, casts.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS custier;
RESET client_min_messages;
SET search_path = public, custier;

-- Input: one ASCII letter, either case, blanks around it ignored.
SELECT 'A'::tier, 'b'::tier, ' c '::tier, E'\td\n'::tier, 'z'::tier;

-- Everything else is refused with 22P02, naming the text, with a hint.
\set VERBOSITY default
SELECT ''::tier;
\set VERBOSITY terse
SELECT '   '::tier;
SELECT 'AB'::tier;
SELECT 'a b'::tier;
SELECT '1'::tier;
SELECT 'Ä'::tier;
SELECT '@'::tier;
SELECT '['::tier;
-- The SQLSTATE itself.
DO $$ BEGIN PERFORM 'AA'::custier.tier; EXCEPTION WHEN invalid_text_representation THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;

-- Output is the upper-case letter; every letter round-trips through text.
SELECT string_agg(t::text, '' ORDER BY r) AS upper,
       bool_and(lower(t::text)::tier = t) AS lower_round_trip
FROM (SELECT r, tier(r) AS t FROM generate_series(1, 26) r) s;

-- Order: a better grade is greater.
SELECT 'A'::tier > 'B'::tier AS a_gt_b, 'Z'::tier < 'Y'::tier AS z_lt_y,
       'C'::tier >= 'c'::tier AS ge, 'C'::tier <= 'D'::tier AS le_false,
       'B'::tier = ' b'::tier AS eq, 'B'::tier <> 'C'::tier AS ne;

CREATE TABLE grades (id int, grade tier);
INSERT INTO grades VALUES (1, 'C'), (2, 'A'), (3, 'D'), (4, 'B'), (5, 'A'), (6, NULL), (7, 'C');
SELECT id, grade FROM grades ORDER BY grade DESC NULLS LAST, id;
SELECT grade, count(*) FROM grades GROUP BY grade ORDER BY grade;
SELECT DISTINCT grade FROM grades ORDER BY 1;
SELECT id FROM grades WHERE grade >= 'B' ORDER BY id;
SELECT max(grade) AS best, min(grade) AS worst, count(grade) FROM grades;
SELECT max(grade), min(grade) FROM grades WHERE false;

-- Indexes: btree and hash both are usable.
CREATE INDEX grades_btree ON grades (grade);
CREATE INDEX grades_hash ON grades USING hash (grade);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM grades WHERE grade > 'C';
SELECT id FROM grades WHERE grade > 'C' ORDER BY id;
DROP INDEX grades_btree;
EXPLAIN (COSTS OFF) SELECT id FROM grades WHERE grade = 'A';
SELECT id FROM grades WHERE grade = 'A' ORDER BY id;
RESET enable_seqscan;

-- Hash join and hash aggregate.
SET enable_mergejoin = off; SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT g.id, h.id FROM grades g JOIN grades h ON g.grade = h.grade;
SELECT g.id, h.id FROM grades g JOIN grades h ON g.grade = h.grade WHERE g.id < h.id ORDER BY 1, 2;
RESET enable_mergejoin; RESET enable_nestloop;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT grade, count(*) FROM grades GROUP BY grade;
SELECT grade, count(*) FROM grades GROUP BY grade ORDER BY count(*) DESC, grade DESC;
RESET enable_sort;

-- Arithmetic: how many grades the left is above the right.
SELECT 'A'::tier - 'C'::tier AS a_c, 'C'::tier - 'A'::tier AS c_a, 'Z'::tier - 'Z'::tier AS z_z;

-- rank / tier(int), and their casts.
SELECT rank('A'::tier), custier.rank('Z'), tier(1), tier(26), 'D'::tier::int AS d_rank, 2::tier AS two;
SELECT tier(0);
SELECT tier(27);
SELECT (-1)::tier;
DO $$ BEGIN PERFORM custier.tier(99); EXCEPTION WHEN numeric_value_out_of_range THEN RAISE NOTICE 'caught %', SQLSTATE; END $$;

-- tier_up / tier_down saturate; negative steps move the other way.
SELECT tier_up('C') AS up1, tier_up('C', 5) AS up5, tier_up('C', -2) AS up_neg,
       tier_down('C') AS down1, tier_down('C', 99) AS down99, tier_down('C', -1) AS down_neg,
       tier_up('B', 2147483647) AS up_max, tier_up('B', -2147483648) AS up_min,
       tier_down('B', -2147483648) AS down_min, tier_down('Y', 0) AS zero;

-- STRICT: NULL in, NULL out.
SELECT tier_up(NULL, 1) IS NULL AS a, tier_up('B', NULL) IS NULL AS b,
       rank(NULL::tier) IS NULL AS c, tier(NULL::int) IS NULL AS d, (NULL::tier - 'A') IS NULL AS e;

-- No implicit cast to text: a tier never compares with text silently.
SELECT 'B'::tier = 'B'::text;
SELECT 'B'::tier::text = 'B'::text AS explicit_ok;
-- text -> tier is an assignment cast.
CREATE TABLE from_text (g tier);
INSERT INTO from_text SELECT x FROM (VALUES ('a'::text), ('D')) v(x);
SELECT g FROM from_text ORDER BY g;
INSERT INTO from_text SELECT 'bad'::text;

-- Binary send/receive.
SELECT tier_send('C'), tier_send('z');
COPY (SELECT grade FROM grades WHERE grade IS NOT NULL ORDER BY id) TO STDOUT;

DROP TABLE grades, from_text;
