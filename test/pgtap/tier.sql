-- pgTAP: catalog facts and round trips for custier.tier.
\ir setup.inc

SELECT plan(21);

SELECT has_type('custier', 'tier', 'type custier.tier exists');
SELECT is((SELECT typlen::int FROM pg_type WHERE oid = 'custier.tier'::regtype), 1, 'tier is one byte');
SELECT ok((SELECT typbyval FROM pg_type WHERE oid = 'custier.tier'::regtype), 'tier is passed by value');
SELECT ok((SELECT typreceive <> 0 AND typsend <> 0 FROM pg_type WHERE oid = 'custier.tier'::regtype), 'tier has binary send/receive');

SELECT is((SELECT count(*)::int FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod
           WHERE c.opcintype = 'custier.tier'::regtype AND c.opcdefault AND a.amname IN ('btree', 'hash')),
          2, 'default btree and hash operator classes');
SELECT ok(EXISTS (SELECT FROM pg_amproc p JOIN pg_opfamily f ON f.oid = p.amprocfamily
                  JOIN pg_am a ON a.oid = f.opfmethod
                  WHERE a.amname = 'btree' AND p.amproclefttype = 'custier.tier'::regtype AND p.amprocnum = 2),
          'btree sort support is registered');

-- Every function of the extension is STRICT, IMMUTABLE and PARALLEL SAFE where the contract says so.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'custier'
    WHERE p.prokind = 'f' AND (p.prorettype = 'custier.tier'::regtype OR 'custier.tier'::regtype = ANY (p.proargtypes))
      AND p.proargtypes::oid[] <@ ARRAY['custier.tier'::regtype, 'int4'::regtype, 'int8'::regtype, 'cstring'::regtype, 'internal'::regtype]::oid[]  -- the type's own functions, not table readers such as assign_tier
      AND NOT (p.proisstrict AND p.provolatile = 'i' AND p.proparallel = 's')$$,
    'tier functions are strict, immutable and parallel safe');
SELECT is((SELECT string_agg(p.proname || ':' || p.proparallel::text, ',' ORDER BY p.proname)
           FROM pg_proc p WHERE p.prokind = 'a' AND p.pronamespace = 'custier'::regnamespace
             AND p.proargtypes[0] = 'custier.tier'::regtype),
          'max:s,min:s', 'max and min are parallel-safe aggregates');
SELECT ok((SELECT aggcombinefn <> 0 FROM pg_aggregate WHERE aggfnoid = 'custier.max(custier.tier)'::regprocedure),
          'max(tier) has a combine function');

-- Every object of the extension carries a comment.
SELECT is_empty($$
    SELECT pg_describe_object(d.classid, d.objid, 0) FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'custier'
    WHERE d.deptype = 'e' AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_operator'::regclass,
                                            'pg_opclass'::regclass, 'pg_opfamily'::regclass, 'pg_cast'::regclass,
                                            'pg_class'::regclass)
      AND obj_description(d.objid, d.classid::regclass::name) IS NULL
      AND NOT (d.classid = 'pg_type'::regclass AND EXISTS (SELECT FROM pg_type t WHERE t.oid = d.objid AND (t.typelem <> 0 AND t.typlen = -1 OR t.typrelid <> 0 AND t.typtype <> 'c')))$$,
    'every custier object has a comment');

-- No cast from tier to text is implicit or assignment.
SELECT is((SELECT castcontext::text FROM pg_cast WHERE castsource = 'custier.tier'::regtype AND casttarget = 'text'::regtype),
          'e', 'tier -> text is explicit only');
SELECT is((SELECT string_agg(castcontext::text, '') FROM pg_cast
           WHERE (castsource, casttarget) IN (('custier.tier'::regtype, 'int4'::regtype), ('int4'::regtype, 'custier.tier'::regtype))),
          'ee', 'integer <-> tier casts are explicit');

-- Round trip of every letter, both cases, through text.
SELECT is((SELECT count(*)::int FROM generate_series(1, 26) r,
                  LATERAL (VALUES (chr(64 + r)), (chr(96 + r)), (' ' || chr(96 + r) || ' ')) v(s)
           WHERE v.s::tier = custier.tier(r) AND v.s::tier::text = chr(64 + r)),
          78, 'all 26 letters read in both cases and print upper-case');

-- Binary COPY round trip (server-side files in the data directory).
SELECT current_setting('data_directory') || '/custier_tap_tiers.bin' AS tiers_bin,
       current_setting('data_directory') || '/custier_tap_chars.bin' AS chars_bin,
       current_setting('data_directory') || '/custier_tap_tiers.txt' AS tiers_txt \gset
CREATE TABLE tap_tiers (r int, t tier);
INSERT INTO tap_tiers SELECT r, custier.tier(r) FROM generate_series(1, 26) r;
COPY tap_tiers TO :'tiers_bin' (FORMAT binary);
CREATE TABLE tap_tiers_back (r int, t tier);
COPY tap_tiers_back FROM :'tiers_bin' (FORMAT binary);
SELECT results_eq('SELECT r, t FROM tap_tiers_back ORDER BY r', 'SELECT r, t FROM tap_tiers ORDER BY r',
                  'binary COPY round-trips every tier');
SELECT is((SELECT string_agg(encode(custier.tier_send(t), 'escape'), '' ORDER BY r) FROM tap_tiers),
          'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'the binary form is the upper-case letter');

-- A binary value that is not an upper-case letter is refused (22P03).
CREATE TABLE tap_chars (r int, c "char");
INSERT INTO tap_chars VALUES (1, 'a');
COPY tap_chars TO :'chars_bin' (FORMAT binary);
SELECT throws_ok(format('COPY tap_tiers_back FROM %L (FORMAT binary)', :'chars_bin'), '22P03', NULL,
                 'binary input rejects a lower-case byte');

-- Text COPY round trip.
COPY tap_tiers TO :'tiers_txt';
TRUNCATE tap_tiers_back;
COPY tap_tiers_back FROM :'tiers_txt';
SELECT results_eq('SELECT r, t FROM tap_tiers_back ORDER BY r', 'SELECT r, t FROM tap_tiers ORDER BY r',
                  'text COPY round-trips every tier');

-- Error paths.
SELECT throws_ok($$SELECT 'AB'::custier.tier$$, '22P02', 'invalid input syntax for type tier: "AB"', 'two letters');
SELECT throws_ok($$SELECT convert_from('\x4200'::bytea, 'UTF8')::custier.tier$$, '22021', NULL, 'a NUL byte never reaches the type');
SELECT throws_ok($$SELECT custier.tier(27)$$, '22003', 'tier rank 27 is out of range', 'rank 27');

-- Order matches rank, exhaustively: t1 > t2 exactly when rank(t1) < rank(t2).
SELECT is((SELECT count(*)::int FROM generate_series(1, 26) a, generate_series(1, 26) b
           WHERE (custier.tier(a) > custier.tier(b)) <> (a < b)
              OR (custier.tier(a) = custier.tier(b)) <> (a = b)
              OR (custier.tier(a) - custier.tier(b)) <> (b - a)), 0,
          'comparison and subtraction agree with rank for all 676 pairs');

SELECT * FROM finish();
ROLLBACK;
