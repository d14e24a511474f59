-- bench/lib.sql — helpers every benchmark uses.  Loaded before bench/NAME.sql.
--
-- bench.query_ms(sql): executor time of one run of a query, from EXPLAIN
--   (ANALYZE, TIMING OFF): every output column is computed, nothing is sent.
-- bench.statement_ms(sql): wall time of one statement, rolled back afterwards
--   (for UPDATEs and procedures whose effects must not accumulate).
-- bench.compare(title, candidate_sql, baseline_sql, want, runs, kind): runs candidate
--   and baseline alternately `runs` times, takes each one's median, and prints
--   the ratio candidate/baseline next to the goal ('<= 0.8' style).
\set QUIET 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS custier;
CREATE SCHEMA IF NOT EXISTS bench;
SET search_path = public, custier;
SET max_parallel_workers_per_gather = 0;   -- serial unless a benchmark says otherwise
SET jit = off;

CREATE OR REPLACE FUNCTION bench.query_ms(q text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 ->> 'Execution Time')::double precision;
END $$;

CREATE OR REPLACE FUNCTION bench.statement_ms(q text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz; ms double precision;
BEGIN
    t0 := clock_timestamp();
    BEGIN
        EXECUTE q;
        ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'bench rollback';
    EXCEPTION WHEN SQLSTATE 'P0001' THEN
        IF SQLERRM <> 'bench rollback' THEN RAISE; END IF;
    END;
    RETURN ms;
END $$;

CREATE OR REPLACE FUNCTION bench.median(double precision[]) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest($1) x
$$;

CREATE OR REPLACE FUNCTION bench.compare(title text, candidate_sql text, baseline_sql text,
                                         want text DEFAULT NULL, runs int DEFAULT 5,
                                         kind text DEFAULT 'query')
RETURNS TABLE (benchmark text, candidate_ms numeric, baseline_ms numeric, ratio numeric, goal text, verdict text)
LANGUAGE plpgsql AS $$
DECLARE c double precision[] := '{}'; b double precision[] := '{}'; i int; r numeric;
        timer text := CASE kind WHEN 'statement' THEN 'bench.statement_ms' ELSE 'bench.query_ms' END;
        ms double precision;
BEGIN
    -- One warm-up run each, then alternate so that noise hits both alike.
    EXECUTE format('SELECT %s($1)', timer) USING candidate_sql;
    EXECUTE format('SELECT %s($1)', timer) USING baseline_sql;
    FOR i IN 1 .. runs LOOP
        EXECUTE format('SELECT %s($1)', timer) INTO ms USING candidate_sql; c := c || ms;
        EXECUTE format('SELECT %s($1)', timer) INTO ms USING baseline_sql; b := b || ms;
    END LOOP;
    r := round((bench.median(c) / nullif(bench.median(b), 0))::numeric, 3);
    benchmark := title;
    candidate_ms := round(bench.median(c)::numeric, 1);
    baseline_ms := round(bench.median(b)::numeric, 1);
    ratio := r;
    goal := want;
    verdict := CASE WHEN want IS NULL THEN 'info'
                    WHEN want LIKE '<=%' AND r <= trim(substr(want, 3))::numeric THEN 'met'
                    WHEN want LIKE '>=%' AND r >= trim(substr(want, 3))::numeric THEN 'met'
                    ELSE 'MISSED' END;
    RETURN NEXT;
END $$;
\unset QUIET
