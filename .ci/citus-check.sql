-- .ci/citus-check.sql — run by .ci/citus-check.sh on the coordinator of a
-- three-node Citus cluster where custier is installed everywhere.  Every
-- check raises an error when it fails, so the script stops (ON_ERROR_STOP).
\set QUIET 1
SET client_min_messages = warning;
SET search_path = public, custier;
\pset footer off
\pset pager off

-- The purchases: 400 000 rows of 20 000 customers in 5 regions (distributed
-- by customer) and the same rows in a local twin.  Region 'Z' holds amounts
-- that push the states to their rare forms (128-bit and numeric spill, many
-- decimals, NaN/Infinity are left out as they absorb everything).
CREATE TABLE tx_local (customer_id int NOT NULL, region text NOT NULL, at timestamptz NOT NULL,
                       amount numeric NOT NULL, grade tier, opened timestamptz, resolved timestamptz);
INSERT INTO tx_local
SELECT 1 + (hashint4(i) & 2147483647) % 20000,
       (ARRAY['North', 'South', 'East', 'West', 'Centre'])[1 + (hashint4(i + 3) & 2147483647) % 5],
       t,
       (CASE WHEN i % 20 = 0 THEN -((hashint4(i + 13) & 2147483647) % 5000)::numeric / 100
             ELSE ((hashint4(i + 13) & 2147483647) % 100000 + 1)::numeric / 100 END),
       tier(1 + (hashint4(i + 5) & 2147483647) % 4),
       t, CASE WHEN i % 7 = 0 THEN NULL ELSE t + ((hashint4(i + 17) & 2147483647) % 96) * interval '1 hour' END
FROM (SELECT i, timestamptz '2025-01-01 00:00:00+00' - (hashint4(i + 7) & 2147483647) % (730 * 86400) * interval '1 second' AS t
      FROM generate_series(1, 400000) i) s;
INSERT INTO tx_local
SELECT 20000 + i % 16, 'Z', timestamptz '2024-12-15 00:00:00+00' - i * interval '1 day',
       CASE i % 4 WHEN 0 THEN 99999999999999999999999999999999.99999 WHEN 1 THEN -12345678901234567890.123456789
                  WHEN 2 THEN 0.000001 ELSE 170141183460469231731687303715884105727 END,
       'A', NULL, NULL
FROM generate_series(1, 64) i;
CREATE TABLE tx (LIKE tx_local);
SELECT create_distributed_table('tx', 'customer_id');
INSERT INTO tx SELECT * FROM tx_local;
ANALYZE tx_local;
\unset QUIET
SELECT (SELECT count(*) FROM tx) AS distributed_rows, (SELECT count(*) FROM tx_local) AS local_rows,
       (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'tx'::regclass) AS shards,
       (SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary') AS nodes;
\set QUIET 1

-- same(label, query with %s for the table): the query on tx and on tx_local
-- must print the same rows (ORDER BY in the query).
CREATE FUNCTION same(label text, q text, dist text[] DEFAULT '{tx}', twin text[] DEFAULT '{tx_local}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE r record; a text := ''; b text := ''; n int := 0;
BEGIN
    FOR r IN EXECUTE format(q, VARIADIC dist) LOOP a := a || r::text || E'\n'; n := n + 1; END LOOP;
    FOR r IN EXECUTE format(q, VARIADIC twin) LOOP b := b || r::text || E'\n'; END LOOP;
    IF a IS DISTINCT FROM b OR n = 0 THEN
        RAISE EXCEPTION 'citus-check: % differs from its local twin (% rows)', label, n
            USING DETAIL = format(E'distributed:\n%s\nlocal:\n%s', left(a, 1500), left(b, 1500));
    END IF;
    RETURN format('ok  %s: %s rows equal to the local twin', label, n);
END $$;

\echo
\echo '== 1. Every aggregate equal to a local twin'
\set aggs 'value_metrics(at, amount) AS vm, period_amounts(at, amount, ''2025-01-01'', ''1 month'', 12) AS pa, period_counts(at, amount, ''2025-01-01'', ''1 month'', 12) AS pc, share(amount > 500) AS sh, on_time_rate(opened, resolved, ''2 days'') AS otr, max(grade) AS best, min(grade) AS worst, count(*) AS n'
\unset QUIET
SELECT same('GROUP BY region (split: partial on the workers)',
            format('SELECT region, %s FROM %%s GROUP BY region ORDER BY region', :'aggs'))
UNION ALL
SELECT same('GROUP BY customer_id (pushed down whole)',
            format('SELECT customer_id, %s FROM %%s GROUP BY customer_id ORDER BY customer_id', :'aggs'))
UNION ALL
SELECT same('whole table (no GROUP BY)', format('SELECT %s FROM %%s', :'aggs'))
UNION ALL
SELECT same('GROUP BY month of purchase (neither column)',
            format('SELECT date_trunc(''month'', at) AS m, %s FROM %%s GROUP BY 1 ORDER BY 1', :'aggs'));
\set QUIET 1
-- With row-pulling aggregation forbidden, Citus must split every aggregate.
SET citus.coordinator_aggregation_strategy = 'disabled';
\unset QUIET
SELECT same('GROUP BY region, citus.coordinator_aggregation_strategy = disabled',
            format('SELECT region, %s FROM %%s GROUP BY region ORDER BY region', :'aggs'));
\set QUIET 1
RESET citus.coordinator_aggregation_strategy;

\echo
\echo '== 2. Partial aggregation on the workers, in EXPLAIN (VERBOSE)'
CREATE TEMP TABLE plan_lines (n serial, line text);
DO $$
DECLARE l text;
BEGIN
    FOR l IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) SELECT region, custier.value_metrics(at, amount) FROM tx GROUP BY region' LOOP
        INSERT INTO plan_lines (line) VALUES (l);
    END LOOP;
    IF NOT EXISTS (SELECT FROM plan_lines WHERE line LIKE '%coord_combine_agg(%value_metrics%')
       OR NOT EXISTS (SELECT FROM plan_lines WHERE line LIKE '%worker_partial_agg(%value_metrics%') THEN
        RAISE EXCEPTION 'citus-check: value_metrics is not split into worker_partial_agg and coord_combine_agg';
    END IF;
END $$;
\unset QUIET
SELECT line AS "EXPLAIN (VERBOSE, COSTS OFF) SELECT region, custier.value_metrics(at, amount) FROM tx GROUP BY region"
FROM plan_lines ORDER BY n;
\set QUIET 1

\echo
\echo '== 3. Bytes the coordinator receives for a region GROUP BY'
-- Citus 13.2's EXPLAIN ANALYZE cannot run a query whose workers return
-- worker_partial_agg's cstring (it declares the columns' types in a column
-- definition list, where cstring is refused), so the partial results are
-- measured where they are made: the worker query Citus sends (the "Query:"
-- of section 2, for all the aggregates) runs on every shard placement and
-- the text of its rows is counted — what Citus receives in text format.
-- (cstring travels as its bytes in text and binary format alike.)  The rows
-- the aggregates read are measured with Citus's own counter (EXPLAIN
-- ANALYZE, "Tuple data received from nodes"): Citus fetches them in binary
-- format, smaller than their text, so it is the stricter denominator.
CREATE FUNCTION shipped_bytes(worker_query text) RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(result::bigint)::bigint
    FROM run_command_on_placements('tx', format('SELECT coalesce(sum(octet_length(r::text)), 0) FROM (%s) r', worker_query))
$$;
CREATE FUNCTION received_bytes(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO plan;
    RETURN (SELECT sum(pg_size_bytes(v #>> '{}'))
            FROM jsonb_path_query(plan, 'strict $.**."Tuple data received from nodes"') v);
END $$;
CREATE TEMP TABLE bytes AS
SELECT shipped_bytes($q$SELECT region,
         worker_partial_agg('custier.value_metrics(timestamptz,numeric)'::regprocedure, ROW(at, amount)) AS vm,
         worker_partial_agg('custier.period_amounts(timestamptz,numeric,timestamptz,interval,integer)'::regprocedure,
                            ROW(at, amount, '2025-01-01'::timestamptz, '1 month'::interval, 12)) AS pa,
         worker_partial_agg('custier.period_counts(timestamptz,numeric,timestamptz,interval,integer)'::regprocedure,
                            ROW(at, amount, '2025-01-01'::timestamptz, '1 month'::interval, 12)) AS pc,
         worker_partial_agg('custier.share(boolean)'::regprocedure, amount > 500) AS sh,
         worker_partial_agg('custier.on_time_rate(timestamptz,timestamptz,interval)'::regprocedure,
                            ROW(opened, resolved, '2 days'::interval)) AS otr,
         worker_partial_agg('custier.max(custier.tier)'::regprocedure, grade) AS best,
         worker_partial_agg('custier.min(custier.tier)'::regprocedure, grade) AS worst, count(*) AS n
       FROM %s GROUP BY region$q$) AS aggregates,
       shipped_bytes('SELECT region, at, amount, grade, opened, resolved FROM %s') AS rows,
       received_bytes('SELECT region, at, amount, grade, opened, resolved FROM tx') AS rows_citus,
       received_bytes('SELECT region, sum(amount), count(*) FROM tx GROUP BY region') AS builtin_citus;
\unset QUIET
SELECT pg_size_pretty(aggregates) AS "8 aggregates by region", pg_size_pretty(rows_citus) AS "the rows they read",
       round(100.0 * aggregates / rows_citus, 3) AS percent,
       pg_size_pretty(rows) AS "the rows as text", pg_size_pretty(builtin_citus) AS "sum, count by region"
FROM bytes;
\set QUIET 1
DO $$
BEGIN
    IF (SELECT aggregates > rows_citus / 100 OR aggregates = 0 FROM bytes) THEN
        RAISE EXCEPTION 'citus-check: the coordinator receives more than 1%% of the rows'' size';
    END IF;
END $$;

\echo
\echo '== 4. Policies as reference tables; grading, evaluate and run_evaluation over a distributed metrics view'
-- The policy tables become Citus reference tables (a full copy on every
-- node, written by two-phase commit).  Their triggers go along: they name
-- their table by argument, so they work on the shards.  The foreign keys
-- between them are set aside meanwhile and added back afterwards: Citus
-- would otherwise first turn every table they connect into a "Citus local
-- table", re-creating it on the workers, where custier's own copy already
-- exists.  The two foreign keys from coordinator-only tables
-- (custier.managed_table and custier.evaluation) cannot come back for the
-- same reason (doc/citus.md).  doc/citus.md gives this block to users.
CREATE TEMP TABLE policy_fkeys AS
SELECT format('%I.%I', n.nspname, r.relname) AS tbl, r.relname LIKE 'policy%' AS policy_table,
       c.conname, pg_get_constraintdef(c.oid) AS def
FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
JOIN pg_class f ON f.oid = c.confrelid
WHERE c.contype = 'f' AND f.relnamespace = 'custier'::regnamespace AND f.relname LIKE 'policy%';
DO $$
DECLARE fk record;
BEGIN
    FOR fk IN SELECT * FROM policy_fkeys LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        -- and on the workers' own copies (the tables' shells from now on)
        PERFORM run_command_on_workers(format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', fk.tbl, fk.conname));
    END LOOP;
END $$;
SET citus.enable_unsafe_triggers = on;
SELECT create_reference_table('custier.policy');
SELECT create_reference_table('custier.policy_tier');
SELECT create_reference_table('custier.policy_criterion');
SELECT create_reference_table('custier.policy_threshold');
SELECT create_reference_table('custier.policy_band');
SELECT create_reference_table('custier.policy_reviewer');
RESET citus.enable_unsafe_triggers;
DO $$
DECLARE fk record;
BEGIN
    FOR fk IN SELECT * FROM policy_fkeys WHERE policy_table ORDER BY tbl LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
    END LOOP;
END $$;

CREATE VIEW metrics_dist AS
SELECT customer_id, (m).purchases, (m).monetary, round(frequency(m, '2025-01-01', '1 month'), 2) AS per_month,
       p[1] + p[2] + p[3] AS last_quarter
FROM (SELECT customer_id, value_metrics(at, amount) AS m,
             period_amounts(at, amount, '2025-01-01', '1 month', 3) AS p
      FROM tx WHERE region <> 'Z' GROUP BY customer_id) s;
SET client_min_messages = error;   -- a view over a local table stays local: Citus says so
CREATE VIEW metrics_twin AS
SELECT customer_id, (m).purchases, (m).monetary, round(frequency(m, '2025-01-01', '1 month'), 2) AS per_month,
       p[1] + p[2] + p[3] AS last_quarter
FROM (SELECT customer_id, value_metrics(at, amount) AS m,
             period_amounts(at, amount, '2025-01-01', '1 month', 3) AS p
      FROM tx_local WHERE region <> 'Z' GROUP BY customer_id) s;
SET client_min_messages = warning;

-- A policy row names its metrics source by regclass, which each node
-- resolves by name: the twin's local view must exist on the workers too
-- (empty there; it is only read on the coordinator).
SELECT run_command_on_workers($c$SET citus.enable_ddl_propagation = off; CREATE TABLE tx_local (customer_id int NOT NULL, region text NOT NULL, at timestamptz NOT NULL,
       amount numeric NOT NULL, grade custier.tier, opened timestamptz, resolved timestamptz)$c$);
SELECT run_command_on_workers(format('SET citus.enable_ddl_propagation = off; SET search_path = public, custier; CREATE VIEW metrics_twin AS %s',
                                     pg_get_viewdef('metrics_twin')));
INSERT INTO policy (name, method, lowest, period, metrics_source, key_column)
VALUES ('dist', 'thresholds', 'D', '3 months', 'metrics_dist', 'customer_id');
INSERT INTO policy_tier (policy, tier, label) VALUES ('dist', 'A', 'key'), ('dist', 'B', 'good'), ('dist', 'C', 'fair'), ('dist', 'D', 'watch');
INSERT INTO policy_criterion (policy, metric, weight) VALUES ('dist', 'monetary', 2), ('dist', 'per_month', 1), ('dist', 'last_quarter', 1);
INSERT INTO policy_threshold (policy, metric, tier, bound) VALUES
    ('dist', 'monetary', 'A', 14000), ('dist', 'monetary', 'B', 10000), ('dist', 'monetary', 'C', 6000),
    ('dist', 'per_month', 'A', 1), ('dist', 'last_quarter', 'A', 1500), ('dist', 'last_quarter', 'B', 500);
INSERT INTO policy (name, method, lowest, period, metrics_source, key_column)
VALUES ('twin', 'thresholds', 'D', '3 months', 'metrics_twin', 'customer_id');
INSERT INTO policy_tier SELECT 'twin', tier, label, min_score FROM policy_tier WHERE policy = 'dist';
INSERT INTO policy_criterion SELECT 'twin', metric, weight, higher_is_better FROM policy_criterion WHERE policy = 'dist';
INSERT INTO policy_threshold SELECT 'twin', metric, tier, bound FROM policy_threshold WHERE policy = 'dist';

-- The managed customer tables stay regular tables on the coordinator.
CREATE TABLE customer_dist (customer_id int PRIMARY KEY, grade tier);
CREATE TABLE customer_twin (customer_id int PRIMARY KEY, grade tier);
INSERT INTO customer_dist SELECT i, NULL FROM generate_series(1, 20000) i;
INSERT INTO customer_twin SELECT i, NULL FROM generate_series(1, 20000) i;
SELECT manage('customer_dist', 'customer_id', 'grade', 'dist');
SELECT manage('customer_twin', 'customer_id', 'grade', 'twin');
-- The grading is pushed down: assign_tier runs on the workers.
DO $$
DECLARE l text; found boolean := false;
BEGIN
    FOR l IN EXPLAIN (VERBOSE, COSTS OFF) SELECT customer_id, custier.assign_tier('dist', m) FROM metrics_dist m LOOP
        found := found OR (l LIKE '%Query:%assign_tier(%' );
    END LOOP;
    IF NOT found THEN
        RAISE EXCEPTION 'citus-check: assign_tier is not pushed down to the workers';
    END IF;
END $$;
\unset QUIET
SELECT same('assign_tier/score/explain over the metrics view (graded on the workers)',
            'SELECT customer_id, assign_tier(%1$L, m), score(%1$L, m), explain(%1$L, m) - ''policy'' FROM %2$s m ORDER BY 1',
            '{dist,metrics_dist}', '{twin,metrics_twin}');
SELECT same('evaluate(policy, as_of)', 'SELECT customer_key, current_tier, qualified_tier, proposed_tier, score, explanation - ''policy'' FROM evaluate(%L, ''2025-01-01'') ORDER BY 1',
            '{dist}', '{twin}');
CALL run_evaluation('dist', '2025-01-01', 5000);
CALL run_evaluation('twin', '2025-01-01', 5000);
SELECT same('run_evaluation: grades of the managed table', 'SELECT customer_id, grade FROM %s ORDER BY 1', '{customer_dist}', '{customer_twin}');
SELECT grade, count(*) AS customers FROM customer_dist GROUP BY grade ORDER BY grade DESC;
\set QUIET 1

\echo
\echo '== 5. A policy edit is seen by the next statement, on every node'
UPDATE policy_threshold SET bound = 8000 WHERE policy IN ('dist', 'twin') AND metric = 'monetary' AND tier = 'B';
\unset QUIET
SELECT same('assign_tier right after an edit',
            'SELECT customer_id, assign_tier(%1$L, m) FROM %2$s m ORDER BY 1',
            '{dist,metrics_dist}', '{twin,metrics_twin}');
SELECT tbl, operation, count(*) FROM policy_audit WHERE policy = 'dist' GROUP BY 1, 2 ORDER BY 1, 2;
\set QUIET 1
DO $$
DECLARE moved bigint;
BEGIN
    SELECT count(*) INTO moved FROM metrics_dist m WHERE assign_tier('dist', m) = 'B' AND m.monetary >= 8000 AND m.monetary < 10000;
    IF moved = 0 THEN
        RAISE EXCEPTION 'citus-check: the edit did not reach the grading';
    END IF;
    IF EXISTS (SELECT FROM policy_audit WHERE tbl LIKE '%\_1_____%') THEN
        RAISE EXCEPTION 'citus-check: the audit log names a shard';
    END IF;
END $$;
-- A bad edit is refused by the triggers on the shards too.
SET client_min_messages = notice;
DO $$
BEGIN
    UPDATE policy_criterion SET weight = 0 WHERE policy = 'dist' AND metric = 'monetary';
    RAISE EXCEPTION 'citus-check: a zero weight was accepted';
EXCEPTION WHEN check_violation THEN
    RAISE NOTICE 'ok  a zero weight is refused (%): %', SQLSTATE, SQLERRM;
END $$;
SET client_min_messages = warning;

\echo
\echo '== 6. manage refuses Citus tables'
CREATE TABLE ref_customer (customer_id int PRIMARY KEY, grade tier);
SELECT create_reference_table('ref_customer');
CREATE TABLE dist_customer (customer_id int PRIMARY KEY, grade tier);
SELECT create_distributed_table('dist_customer', 'customer_id');
SET client_min_messages = notice;
DO $$
DECLARE t text; st text; msg text; hint text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dist_customer', 'ref_customer'] LOOP
        BEGIN
            PERFORM custier.manage(t::regclass, 'customer_id', 'grade', 'dist');
            RAISE EXCEPTION 'citus-check: manage accepted the Citus table %', t;
        EXCEPTION WHEN feature_not_supported THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
            RAISE NOTICE E'ok  manage(%) refused: %: %\n    hint: %', t, st, msg, hint;
        END;
    END LOOP;
END $$;
