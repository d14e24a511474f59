-- Keys of any collation (ICU, nondeterministic) and any type with a btree
-- operator class, through batched evaluations (each batch resumes after the
-- last key of the one before, in the key column's own order) and the other
-- functions.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS custier CASCADE;
CREATE EXTENSION custier;
RESET client_min_messages;
SET search_path = public, custier;
SET TimeZone = 'UTC';
\set VERBOSITY terse
CREATE COLLATION lc_case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

-- In the database's collation (C.UTF-8) capitals sort first; in ICU's and
-- the case-insensitive one they do not.
CREATE TABLE icu_customer (id text COLLATE "en-x-icu" PRIMARY KEY, grade tier);
CREATE TABLE icu_metrics (id text COLLATE "en-x-icu" PRIMARY KEY, amount numeric);
CREATE TABLE ci_customer (id text COLLATE lc_case_insensitive PRIMARY KEY, grade tier);
CREATE TABLE ci_metrics (id text COLLATE lc_case_insensitive PRIMARY KEY, amount numeric);
CREATE TABLE uuid_customer (id uuid PRIMARY KEY, grade tier);
CREATE TABLE uuid_metrics (id uuid PRIMARY KEY, amount numeric);
INSERT INTO icu_customer SELECT k, 'C' FROM unnest('{a1,B2,c3,D4,e5,F6,g7}'::text[]) k;
INSERT INTO icu_metrics SELECT id, 700 FROM icu_customer;
INSERT INTO ci_customer SELECT k, 'C' FROM unnest('{alpha,Beta,GAMMA,delta,Epsilon,zeta,Eta}'::text[]) k;
INSERT INTO ci_metrics SELECT id, 700 FROM ci_customer;
INSERT INTO uuid_customer SELECT ('00000000-0000-0000-0000-00000000000' || i)::uuid, 'C' FROM generate_series(1, 7) i;
INSERT INTO uuid_metrics SELECT id, 700 FROM uuid_customer;
-- The case-insensitive key is unique as the collation sees it.
INSERT INTO ci_customer VALUES ('ALPHA', 'D');

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['icu', 'ci', 'uuid'] LOOP
        INSERT INTO custier.policy (name, metrics_source, key_column, approval)
        VALUES (t, (t || '_metrics')::regclass, 'id', 'downgrade');
        INSERT INTO custier.policy_criterion (policy, metric) VALUES (t, 'amount');
        INSERT INTO custier.policy_threshold (policy, metric, tier, bound)
        VALUES (t, 'amount', 'A', 1000), (t, 'amount', 'B', 500), (t, 'amount', 'C', 100);
        PERFORM custier.manage((t || '_customer')::regclass, 'id', 'grade', t);
    END LOOP;
END $$;

-- Batches of two: four batches each, every customer once.
CALL run_evaluation('icu', '2026-01-01', 2);
CALL run_evaluation('ci', '2026-01-01', 2);
CALL run_evaluation('uuid', '2026-01-01', 2);
SELECT e.policy, e.customers, e.changed, e.batches, e.finished_at IS NOT NULL AS finished,
       count(r.*) AS results, count(DISTINCT r.customer_key) AS distinct_keys
  FROM evaluation e JOIN evaluation_result r USING (evaluation_id)
 GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;
-- Batches follow the key column's order.
SELECT policy, string_agg(customer_key, ' ' ORDER BY batch, customer_key COLLATE "en-x-icu") AS keys_by_batch
  FROM evaluation e JOIN evaluation_result r USING (evaluation_id)
 WHERE policy <> 'uuid' GROUP BY 1 ORDER BY 1;
SELECT grade, count(*) FROM icu_customer GROUP BY 1
UNION ALL SELECT grade, count(*) FROM ci_customer GROUP BY 1
UNION ALL SELECT grade, count(*) FROM uuid_customer GROUP BY 1;

-- evaluate(), the history, tier_at and the workflow take the keys as well;
-- a case-insensitive key is found whatever its case, and recorded as stored.
SELECT count(*) AS evaluated FROM evaluate('ci', '2026-02-01');
SELECT tier_at('icu_customer', 'B2', 'infinity') AS icu, tier_at('ci_customer', 'Beta', 'infinity') AS ci,
       tier_at('uuid_customer', '00000000-0000-0000-0000-000000000003', 'infinity') AS uuid;
UPDATE policy SET approval = 'all' WHERE name = 'ci';
SELECT propose('ci_customer', 'BETA', 'A', 'case does not matter') AS ci_adjustment \gset
SELECT customer_key, from_tier, to_tier, status FROM adjustment WHERE adjustment_id = :ci_adjustment;
SELECT propose('ci_customer', 'beta', 'C', 'a second open one') ;
SELECT withdraw(:ci_adjustment);
SELECT propose('uuid_customer', '00000000-0000-0000-0000-000000000004', 'A', 'uuid key') > 0 AS proposed;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['icu', 'ci', 'uuid'] LOOP
        PERFORM custier.unmanage((t || '_customer')::regclass);
    END LOOP;
END $$;
DROP TABLE icu_customer, icu_metrics, ci_customer, ci_metrics, uuid_customer, uuid_metrics;
DROP COLLATION lc_case_insensitive;
