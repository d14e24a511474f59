-- bench/evaluation.sql — the evaluation cycle against its floors, at 100k
-- and 1M customers (and 10M when BENCH_EVALUATION_10M is set in the
-- environment: `BENCH_EVALUATION_10M=1 make bench BENCH=evaluation`).
--
-- Per scale, one run of three cycles (as_of 2026-06-30, 2026-12-31,
-- 2027-06-30) of a three-criterion thresholds policy (upgrade_after 3,
-- downgrade_after 2: cycle 3 looks back on two earlier evaluations),
-- approval 'none', batch_size 10000, precomputed metrics in a table (3% of
-- the customers have no metrics row, 2% have no grade yet).  Two scenarios:
-- steady (a policy in use: grades are what the metrics give, and one
-- customer in 25 moves between cycles) at every scale, and churn (grades
-- random at first, metrics moving for everyone: half the grades change in
-- cycles 2 and 3) at 1M.
--
--   evaluate / floor   evaluate(policy) against the plain join that grades
--                      the same customers (executor time, EXPLAIN ANALYZE
--                      TIMING OFF; median of 3 at 100k, of 1 beyond), in
--                      cycles 1 and 3.  Goal <= 3, explanations included.
--                      Both wall (executor) and CPU time of the backend.
--                      Cycle 3 also against the floor with the look-back
--                      read: the same join with every customer's qualified
--                      tier in the two earlier evaluations (info).
--   run_evaluation     customers per second (wall time of the CALL, and CPU
--                      time of the backend, which the load of other jobs on
--                      the shared machine does not inflate), cycles 1 and 3.
--                      Goals >= 250k/s and cycle 3 <= 1.2x cycle 1 (on CPU).
--                      Beside it the floor of a run: the grading floor above,
--                      plus writing the run's result rows as COPY does (binary,
--                      in the run's order) into a table indexed as
--                      evaluation_result is, plus applying its changes (the
--                      same UPDATE on an unmanaged copy of the table, the same
--                      history rows into a table indexed as tier_history is),
--                      each timed in the same run.
--   linear             time per customer of the three cycles together, per
--                      scale, against 1M.  Goal within 20%.  Beside it the
--                      same for the floor (cycles 1 and 3).
--   memory             the peak memory (VmHWM) of the backend during each
--                      run_evaluation CALL (a fresh backend; VmHWM is reset
--                      just before it),
--                      the largest of the three cycles.  VmHWM counts the
--                      pages of shared_buffers the backend touched
--                      (RssShmem): the private peak is VmHWM - RssShmem, also
--                      printed.  Goal < 300 MB at 10M.
\set QUIET 1
\getenv big BENCH_EVALUATION_10M
DROP TABLE IF EXISTS bench.evaluation_log;
CREATE TABLE bench.evaluation_log (
    scenario text, customers bigint, cycle int, floor_ms float8, evaluate_ms float8, run_ms float8, changed bigint,
    vmhwm_mb float8, rss_shmem_mb float8, floor_cpu_ms float8, evaluate_cpu_ms float8, run_cpu_ms float8,
    write_ms float8, write_cpu_ms float8, apply_ms float8, apply_cpu_ms float8, floor_lookback_cpu_ms float8);
DROP TABLE IF EXISTS bench.result_copy, bench.history_copy;
CREATE TABLE bench.result_copy (LIKE custier.evaluation_result INCLUDING INDEXES);
CREATE TABLE bench.history_copy (LIKE custier.tier_history INCLUDING ALL);
-- CPU time (user + system) this backend has used, in ms: the machine is
-- shared, so wall times carry other jobs' load; CPU times much less so.
CREATE OR REPLACE FUNCTION bench.cpu_ms() RETURNS float8
LANGUAGE sql AS $$
    SELECT (f[14]::float8 + f[15]::float8) * 10
    FROM (SELECT regexp_split_to_array(split_part(pg_read_file('/proc/' || pg_backend_pid() || '/stat'), ') ', 2), ' ') AS g) s,
         LATERAL (SELECT ARRAY['', ''] || g AS f) x
$$;
CREATE OR REPLACE FUNCTION bench.query_cpu(q text, OUT wall_ms float8, OUT cpu_ms float8)
LANGUAGE plpgsql AS $$
DECLARE c0 float8 := bench.cpu_ms();
BEGIN
    wall_ms := bench.query_ms(q);
    cpu_ms := bench.cpu_ms() - c0;
END $$;
-- Resets this backend's VmHWM to its current RSS (Linux clear_refs "5"), so
-- that VmHWM read after a statement is that statement's peak.
CREATE OR REPLACE FUNCTION bench.reset_hwm() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT 5) TO %L', '/proc/' || pg_backend_pid() || '/clear_refs');
END $$;
CREATE OR REPLACE FUNCTION bench.proc_status_mb(field text) RETURNS float8
LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), field || ':\s+(\d+) kB'))[1]::float8 / 1024
$$;

\set scenario steady
\set n 100000
\set runs 3
\ir evaluation_scale.inc
\set n 1000000
\set runs 1
\ir evaluation_scale.inc
\if :{?big}
\set n 10000000
\ir evaluation_scale.inc
\endif
\set scenario churn
\set n 1000000
\ir evaluation_scale.inc

\unset QUIET
\echo 'evaluate() against its floor (SELECT c.id, c.grade, assign_tier(p, m) FROM customer c LEFT JOIN metrics m USING (id)); cycle 3 also against that join with each customer''s qualified tier in the two earlier evaluations'
SELECT scenario, customers, cycle, round(floor_ms) AS floor_ms, round(evaluate_ms) AS evaluate_ms,
       round((evaluate_ms / floor_ms)::numeric, 2) AS ratio, round(floor_cpu_ms) AS floor_cpu_ms,
       round(evaluate_cpu_ms) AS evaluate_cpu_ms, round((evaluate_cpu_ms / floor_cpu_ms)::numeric, 2) AS cpu_ratio, '<= 3' AS goal,
       CASE WHEN evaluate_cpu_ms / floor_cpu_ms <= 3 THEN 'met' ELSE 'MISSED' END AS verdict,
       round(floor_lookback_cpu_ms) AS lookback_floor_cpu_ms,
       round((evaluate_cpu_ms / floor_lookback_cpu_ms)::numeric, 2) AS to_lookback_floor
FROM bench.evaluation_log WHERE cycle IN (1, 3) ORDER BY scenario DESC, customers, cycle;

\echo 'run_evaluation(): customers per second; cycle 3 looks back on cycles 1 and 2; floor: grading + COPY of the result rows + applying the changes'
SELECT l.scenario, l.customers, l.cycle, l.changed, round(l.run_ms) AS run_ms, round(l.run_cpu_ms) AS run_cpu_ms,
       round(l.customers / (l.run_ms / 1000)) AS per_s_wall, round(l.customers / (l.run_cpu_ms / 1000)) AS per_s_cpu,
       round(l.customers / ((l.floor_cpu_ms + l.write_cpu_ms + l.apply_cpu_ms) / 1000)) AS floor_per_s_cpu,
       round((l.run_cpu_ms / (l.floor_cpu_ms + l.write_cpu_ms + l.apply_cpu_ms))::numeric, 2) AS to_floor,
       '>= 250000' AS goal_rate,
       round((l.run_cpu_ms / c1.run_cpu_ms)::numeric, 2) AS to_cycle_1, '<= 1.2' AS goal_lookback,
       CASE WHEN l.customers / (l.run_cpu_ms / 1000) >= 250000 AND l.run_cpu_ms / c1.run_cpu_ms <= 1.2 THEN 'met' ELSE 'MISSED' END AS verdict
FROM bench.evaluation_log l JOIN bench.evaluation_log c1 ON c1.scenario = l.scenario AND c1.customers = l.customers AND c1.cycle = 1
WHERE l.cycle IN (1, 3) ORDER BY l.scenario DESC, l.customers, l.cycle;

\echo 'linear: CPU time per customer of the three run_evaluation() cycles, and of their floor (per customer and cycle, cycles 1 and 3); peak memory of the backend (a fresh one per run) during them'
WITH s AS (SELECT scenario, customers, sum(run_cpu_ms) * 1000 / customers AS us_per_customer,
                  sum(floor_cpu_ms + write_cpu_ms + apply_cpu_ms) FILTER (WHERE cycle IN (1, 3)) * 1000 / (2 * customers) AS floor_us,
                  max(vmhwm_mb) AS vmhwm_mb, max(rss_shmem_mb) AS rss_shmem_mb
           FROM bench.evaluation_log GROUP BY scenario, customers)
SELECT s.scenario, s.customers, round(s.us_per_customer::numeric, 2) AS us_per_customer,
       round((s.us_per_customer / m.us_per_customer)::numeric, 2) AS to_1m, '0.8 .. 1.2' AS goal_linear,
       round(s.floor_us::numeric, 2) AS floor_us_per_customer_cycle, round((s.floor_us / m.floor_us)::numeric, 2) AS floor_to_1m,
       round(s.vmhwm_mb) AS vmhwm_mb, round(s.rss_shmem_mb) AS rss_shmem_mb,
       round((s.vmhwm_mb - s.rss_shmem_mb)::numeric) AS private_mb, '< 300 (10M)' AS goal_memory,
       current_setting('shared_buffers') AS shared_buffers,
       CASE WHEN s.us_per_customer / m.us_per_customer BETWEEN 0.8 AND 1.2
             AND (s.customers < 10000000 OR s.vmhwm_mb < 300) THEN 'met' ELSE 'MISSED' END AS verdict
FROM s JOIN (SELECT scenario, us_per_customer, floor_us FROM s WHERE customers = 1000000) m USING (scenario)
ORDER BY s.scenario DESC, s.customers;
