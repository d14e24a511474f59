-- pgTAP: the exact 128-bit accumulator (src/numeric128.c) on its own
-- terms — boundaries of int64 and int128, overflow into the numeric spill
-- and back, negative values, many seeded random sums against sum(numeric) —
-- and the text form of the aggregate states that carries it between Citus
-- nodes (type input(output(state)) gives the same state).
\ir setup.inc
SET LOCAL TimeZone = 'UTC';
SELECT plan(12);

-- monetary of value_metrics and the one bucket of period_amounts, as text,
-- must equal sum(numeric) as text (value and display scale).
CREATE FUNCTION pg_temp.sums_match(vals numeric[]) RETURNS boolean LANGUAGE sql AS $$
    SELECT (value_metrics('2024-01-01', v)).monetary::text = sum(v)::text
       AND (period_amounts('2024-01-01', v, '2024-01-01', '1 day', 1))[1]::text = sum(v)::text
    FROM unnest(vals) v
$$;

SELECT ok(pg_temp.sums_match(ARRAY[9223372036854775807, 1, 9223372036854775807, -1]::numeric[]),
          'int64 edge: sums past 2^63 stay exact');
SELECT ok(pg_temp.sums_match(ARRAY[170141183460469231731687303715884105727, 1]::numeric[]),
          'int128 edge: 2^127 - 1 plus 1 goes to the numeric spill');
SELECT ok(pg_temp.sums_match(ARRAY[-170141183460469231731687303715884105727, -1, -1]::numeric[]),
          'int128 edge, negative');
SELECT ok(pg_temp.sums_match(ARRAY[99999999999999999999999999999999999999, 99999999999999999999999999999999999999,
                                   -99999999999999999999999999999999999999, 0.5]::numeric[]),
          'overflow into the spill and back down with a new scale');
SELECT ok(pg_temp.sums_match(ARRAY[1e-30, 1e30, -1e30]::numeric[]),
          'scales beyond 38 digits in all: spill');
SELECT ok(pg_temp.sums_match(ARRAY[-0.10, -0.20, 0.30]::numeric[]),
          'negative values; a zero keeps the largest scale');
SELECT ok(pg_temp.sums_match(ARRAY[0.000000000000000001, 12345678901234567.89]::numeric[]),
          'period_amounts past its 18-digit small form');

-- Many random sums, seeded (the seed is printed).
SELECT diag('seed: 0.19');
SELECT setseed(0.19);
SELECT is((SELECT count(*) FROM (
               SELECT g, (value_metrics('2024-01-01', v)).monetary AS m,
                      (period_amounts('2024-01-01', v, '2024-01-01', '1 day', 1))[1] AS p, sum(v) AS s
               FROM (SELECT g, round(((random() - 0.5) * 10 ^ (random() * 45))::numeric, (random() * 12)::int) AS v
                     FROM generate_series(1, 200) g, generate_series(1, 50) i) r
               GROUP BY g) x
           WHERE m::text <> s::text OR p::text <> s::text), 0::bigint,
          '200 groups of 50 random amounts (magnitudes up to 1e45, scales 0..12): equal to sum(numeric)');

-- The states' text form carries the whole state.
SELECT is((SELECT (value_metrics_state_in(value_metrics_state_out(s)::cstring))::text = s::text
           FROM (SELECT value_metrics_transfn(value_metrics_transfn(NULL, '2024-01-01', 170141183460469231731687303715884105727),
                                              '2024-02-01', 5.5) AS s) x), true,
          'value_metrics_state: input(output(state)) = state, spill included');
SELECT is(value_metrics_transfn(NULL, '2000-01-01 00:00:01+00', 2.50)::text, '1 2.50 1000000 1000000',
          'value_metrics_state text: purchases, monetary, first and last purchase in microseconds since 2000');
SELECT is('amounts 0 1 0 0 2 1.50 -3'::period_state::text, 'amounts 0 1 0 0 2 1.50 -3',
          'period_state text round-trips');
SELECT throws_ok($$SELECT '5 3'::rate_state$$, '22P02', NULL,
                 'a rate_state with more hits than rows is refused');

SELECT * FROM finish();
ROLLBACK;
