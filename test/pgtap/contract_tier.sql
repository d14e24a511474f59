-- pgTAP acceptance: the schema and the tier type, checked black-box against
-- the documented contract (doc/reference.md). Every description says the
-- documented behaviour it checks.
\ir contract_setup.inc

SELECT plan(74);



-- Preamble
SELECT has_schema('custier', '"Everything lives in schema custier (CREATE EXTENSION custier creates it"');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'custier'), 'custier',
          'the extension lives in schema custier');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'custier'), false,
          '"the extension is not relocatable"');

-- values, size
SELECT has_type('custier', 'tier', 'values: type custier.tier exists');
SELECT ok((SELECT typlen > 0 AND typbyval FROM pg_type WHERE oid = 'custier.tier'::regtype),
          'size: "fixed length, passed by value"');
SELECT ok((SELECT typreceive <> 0 AND typsend <> 0 FROM pg_type WHERE oid = 'custier.tier'::regtype),
          'size: "binary send/receive supported"');

-- input (accepted letters, messages and hints: sql/tier.sql)
SELECT is(pg_temp.err($$SELECT ''::custier.tier$$)->>'state', '22P02', 'input: empty raises 22P02');
SELECT is(pg_temp.err($$SELECT '   '::custier.tier$$)->>'state', '22P02', 'input: blanks only raises 22P02');
SELECT is(pg_temp.err($$SELECT 'AB'::custier.tier$$)->>'state', '22P02', 'input: two letters raise 22P02');
SELECT is(pg_temp.err($$SELECT 'A B'::custier.tier$$)->>'state', '22P02', 'input: two letters with a blank between raise 22P02');
SELECT is(pg_temp.err($$SELECT '1'::custier.tier$$)->>'state', '22P02', 'input: digits raise 22P02');
SELECT is(pg_temp.err($$SELECT 'Ä'::custier.tier$$)->>'state', '22P02', 'input: Ä raises 22P02');
SELECT is(pg_temp.err($$SELECT 'é'::custier.tier$$)->>'state', '22P02', 'input: non-ASCII letter é raises 22P02');
SELECT is(pg_temp.err($$SELECT '-'::custier.tier$$)->>'state', '22P02', 'input: punctuation raises 22P02');
SELECT matches(pg_temp.err($$SELECT '7'::custier.tier$$)->>'hint', '\mA\M.*\mZ\M', 'input: the hint says what is accepted (A … Z)');
SELECT is(pg_temp.err($$SELECT custier.tier_up('AB', 1)$$)->>'state', '22P02', 'input: bad literal passed to a function raises 22P02');

-- output
SELECT is('q'::tier::text, 'Q', 'output: "the upper-case letter"');
SELECT is(format('%s', 'c'::tier), 'C', 'output: the upper-case letter through the output function');

-- binary send/receive: a COPY BINARY round trip
CREATE TEMP TABLE tier_bin (t tier);
INSERT INTO tier_bin SELECT custier.tier(i) FROM generate_series(1, 26) i;
SELECT lives_ok(format($$COPY tier_bin TO %L (FORMAT binary)$$, '/tmp/custier_contract_tier_' || pg_backend_pid() || '.bin'),
                'size: COPY BINARY out of a tier column works');
CREATE TEMP TABLE tier_bin2 (t tier);
SELECT lives_ok(format($$COPY tier_bin2 FROM %L (FORMAT binary)$$, '/tmp/custier_contract_tier_' || pg_backend_pid() || '.bin'),
                'size: COPY BINARY into a tier column works');
SELECT set_eq('SELECT t::text FROM tier_bin2', 'SELECT t::text FROM tier_bin', 'size: binary send/receive round-trips every grade');
SELECT is((SELECT count(*)::int FROM tier_bin2), 26, 'size: binary round trip keeps all 26 rows');
SELECT format($$COPY (SELECT) TO PROGRAM %L$$, 'rm -f /tmp/custier_contract_tier_' || pg_backend_pid() || '.bin') AS rm_bin \gset
:rm_bin;

-- order
SELECT ok(NOT ('B'::tier > 'A'::tier), 'order: B is not greater than A');
SELECT ok('B'::tier >= 'B'::tier AND 'A'::tier >= 'B'::tier AND NOT ('C'::tier >= 'B'::tier),
          'order: "WHERE t >= ''B'' means B or better"');
SELECT ok('C'::tier < 'B'::tier AND 'C'::tier <= 'C'::tier AND NOT ('A'::tier <= 'B'::tier), 'operators: < and <=');
SELECT ok('b'::tier = 'B'::tier AND 'A'::tier <> 'B'::tier AND NOT ('A'::tier <> 'A'::tier), 'operators: = and <>');
CREATE TEMP TABLE tier_grades (id int, t tier);
INSERT INTO tier_grades VALUES (1, 'C'), (2, 'A'), (3, 'D'), (4, 'B'), (5, 'B'), (6, 'Z'), (7, NULL);
SELECT is((SELECT max(t)::text FROM tier_grades), 'A', 'aggregates: "max(t) is the best grade"');
SELECT is((SELECT min(t)::text FROM tier_grades), 'Z', 'aggregates: "min(tier) (worst)"');
SELECT is((SELECT max(t) FROM tier_grades WHERE false), NULL, 'aggregates: max over no rows is NULL');
SELECT is((SELECT string_agg(id::text, ',' ORDER BY id) FROM tier_grades WHERE t >= 'B'), '2,4,5',
          'order: WHERE t >= ''B'' selects B or better');
SELECT is((SELECT string_agg(t::text, '' ORDER BY t DESC) FROM tier_grades WHERE t IS NOT NULL), 'ABBCDZ',
          'operators: ORDER BY t DESC lists the best first');
SELECT is((SELECT string_agg(t::text, '' ORDER BY t) FROM (SELECT DISTINCT t FROM tier_grades WHERE t IS NOT NULL) s), 'ZDCBA',
          'operators: DISTINCT works');
SELECT is((SELECT string_agg(t::text || n, ',' ORDER BY t DESC) FROM (SELECT t, count(*) n FROM tier_grades WHERE t IS NOT NULL GROUP BY t) s),
          'A1,B2,C1,D1,Z1', 'operators: GROUP BY works');

-- operator classes; index and hash join use
SELECT is((SELECT string_agg(a.amname, ',' ORDER BY a.amname) FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
           WHERE c.opcintype = 'custier.tier'::regtype AND c.opcdefault), 'btree,hash',
          'operators: "default btree and hash operator classes"');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '=' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier = tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '<>' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier <> tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '<' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier < tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '<=' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier <= tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '>' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier > tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '>=' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'boolean', 'operators: tier >= tier');
SELECT is((SELECT oprresult::regtype::text FROM pg_operator WHERE oprname = '-' AND oprleft = 'custier.tier'::regtype AND oprright = 'custier.tier'::regtype), 'integer', 'operators: "tier - tier → integer"');
CREATE TEMP TABLE tier_idx AS SELECT i AS id, custier.tier(1 + i % 26) AS t FROM generate_series(1, 2000) i;
CREATE INDEX ON tier_idx (t);
CREATE INDEX tier_idx_hash ON tier_idx USING hash (t);
ANALYZE tier_idx;
SET LOCAL enable_seqscan = off;
SELECT is((SELECT count(*)::int FROM tier_idx WHERE t >= 'B'), 153, 'operators: "indexes … work" (btree range scan result)');
SELECT matches(pg_temp.plan($$SELECT count(*) FROM tier_idx WHERE t >= 'B'$$), 'Index|Bitmap',
               'operators: "indexes … work" (the btree index serves t >= ''B'')');
SELECT matches(pg_temp.plan($$SELECT count(*) FROM tier_idx WHERE t = 'B'$$), 'Index|Bitmap',
               'operators: the index serves t = ''B''');
RESET enable_seqscan;
SET LOCAL enable_mergejoin = off;
SET LOCAL enable_nestloop = off;
SELECT is((SELECT count(*)::int FROM tier_grades a JOIN tier_grades b ON a.t = b.t), 8,
          'operators: "hash joins … work" (result)');
SELECT matches(pg_temp.plan($$SELECT count(*) FROM tier_grades a JOIN tier_grades b ON a.t = b.t$$), 'Hash Join',
               'operators: a join on tier can be a hash join');
RESET enable_mergejoin;
RESET enable_nestloop;

-- tier - tier
SELECT is('A'::tier - 'Z'::tier, 25, 'operators: A - Z = 25');

-- functions: signatures
SELECT is(pg_temp.sig('rank'), 'tier -> integer', 'functions: "custier.rank(tier) → int"');
SELECT is(pg_temp.sig('tier'), 'integer -> tier', 'functions: "custier.tier(int) → tier"');
SELECT is(pg_temp.sig('tier_up'), 't tier, steps integer DEFAULT 1 -> tier',
          'functions: "custier.tier_up(t tier, steps int DEFAULT 1) → tier"');
SELECT is(pg_temp.sig('tier_down'), 't tier, steps integer DEFAULT 1 -> tier',
          'functions: "custier.tier_down(t tier, steps int DEFAULT 1) → tier"');
-- functions: behaviour
SELECT is(custier.rank('c'::tier), 3, 'functions: rank C = 3');
SELECT is((SELECT count(*)::int FROM generate_series(1, 26) i WHERE custier.rank(custier.tier(i)) = i), 26,
          'functions: tier(int) is the inverse of rank for 1..26');
SELECT is(pg_temp.err($$SELECT custier.tier(0)$$)->>'state', '22003', 'functions: tier(0) "out of 1..26 raises 22003"');
SELECT is(pg_temp.err($$SELECT custier.tier(27)$$)->>'state', '22003', 'functions: tier(27) raises 22003');
SELECT is(pg_temp.err($$SELECT custier.tier(-1)$$)->>'state', '22003', 'functions: tier(-1) raises 22003');
SELECT is(custier.tier_up('C', 2)::text, 'A', 'functions: tier_up by 2');
SELECT is(custier.tier_up('B', 5)::text, 'A', 'functions: tier_up "saturating at A"');
SELECT is(custier.tier_down('Y', 5)::text, 'Z', 'functions: tier_down "saturating at … Z"');
SELECT is(custier.tier_down('C', -100)::text, 'A', 'functions: tier_down by a large negative step saturates at A');
SELECT is(custier.tier_up(t => 'D', steps => 3)::text, 'A', 'functions: tier_up callable with the named arguments t and steps');

-- aggregates
SELECT is((SELECT string_agg(p.proname || ':' || p.proparallel::text || ':' || (a.aggcombinefn <> 0)::text, ',' ORDER BY p.proname)
           FROM pg_proc p JOIN pg_aggregate a ON a.aggfnoid = p.oid
           WHERE p.pronamespace = 'custier'::regnamespace AND p.pronargs = 1 AND p.proargtypes[0] = 'custier.tier'::regtype),
          'max:s:true,min:s:true', 'aggregates: "max(tier) (best), min(tier) (worst), both parallel safe"');

-- casts
SELECT is((SELECT castcontext::text FROM pg_cast WHERE castsource = 'custier.tier'::regtype AND casttarget = 'text'::regtype), 'e',
          'casts: "no cast from tier to text is implicit" (tier → text exists and is explicit)');
SELECT ok(EXISTS (SELECT FROM pg_cast WHERE castsource = 'text'::regtype AND casttarget = 'custier.tier'::regtype),
          'casts: "text ↔ tier" (text → tier exists)');
SELECT is(pg_temp.err($$SELECT length('A'::custier.tier)$$)->>'state', '42883',
          'no implicit tier → text (length(tier) does not resolve)');
SELECT is(('x'::text)::tier::text, 'X', 'casts: text → tier via the input function');
SELECT is(pg_temp.err($$SELECT ('xy'::text)::custier.tier$$)->>'state', '22P02', 'casts: text → tier rejects bad text with 22P02');
SELECT is((SELECT string_agg(castsource::regtype::text || '>' || casttarget::regtype::text || ':' || castcontext::text, ',' ORDER BY castsource::regtype::text)
           FROM pg_cast WHERE (castsource = 'int4'::regtype AND casttarget = 'custier.tier'::regtype)
                           OR (castsource = 'custier.tier'::regtype AND casttarget = 'int4'::regtype)),
          'integer>tier:e,tier>integer:e', 'casts: "integer ↔ tier explicit"');
SELECT is((2::int)::tier::text, 'B', 'casts: integer → tier via rank (2 → B)');
SELECT is(('C'::tier)::int, 3, 'casts: tier → integer via rank (C → 3)');
SELECT is(pg_temp.err($$SELECT 27::custier.tier$$)->>'state', '22003', 'casts: integer → tier out of 1..26 raises 22003');

-- strictness
SELECT ok(custier.rank(NULL) IS NULL AND custier.tier(NULL) IS NULL AND custier.tier_up(NULL) IS NULL
          AND custier.tier_up('A', NULL) IS NULL AND custier.tier_down(NULL, 1) IS NULL,
          'strictness: "NULL in, NULL out"');
SELECT is((SELECT string_agg(proname || ':' || proisstrict::int || provolatile::text || proparallel::text, ',' ORDER BY proname)
           FROM pg_proc WHERE pronamespace = 'custier'::regnamespace AND proname IN ('rank', 'tier', 'tier_up', 'tier_down')),
          'rank:1is,tier:1is,tier_down:1is,tier_up:1is', 'strictness: rank, tier, tier_up, tier_down are STRICT, IMMUTABLE and PARALLEL SAFE');
SELECT is_empty($$SELECT o.oid FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
                  WHERE o.oprleft = 'custier.tier'::regtype AND o.oprright = 'custier.tier'::regtype
                    AND NOT (p.proisstrict AND p.provolatile = 'i' AND p.proparallel = 's')$$,
                'strictness: the tier operators'' functions are STRICT, IMMUTABLE and PARALLEL SAFE');

SELECT * FROM finish();
ROLLBACK;
