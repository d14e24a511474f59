-- pgTAP: a hold is an adjustment like any other, NOTIFY included: the
-- payload of each step of a hold carries hold_until, and the payload of an
-- adjustment without a hold is as it was (no hold_until key).  A
-- notification is delivered only on commit, so this file runs WITHOUT a
-- wrapping transaction and listens through a dblink connection; it cleans
-- up after itself like contract_adjustment_notify.sql.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') AS own_dblink,
       'hold_notify_' || pg_backend_pid() AS p \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, custier;

SELECT plan(4);

CREATE ROLE custier_test_hold_n_mkt;
CREATE ROLE custier_test_hold_n_boss;
GRANT USAGE ON SCHEMA custier TO custier_test_hold_n_mkt, custier_test_hold_n_boss;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA custier TO custier_test_hold_n_mkt, custier_test_hold_n_boss;
INSERT INTO custier.policy (name) VALUES (:'p');
CREATE TABLE hold_notify_acct (id text PRIMARY KEY, grade custier.tier);
GRANT SELECT ON hold_notify_acct TO custier_test_hold_n_mkt, custier_test_hold_n_boss;
INSERT INTO hold_notify_acct VALUES ('N1', 'A'), ('N2', 'B');
SELECT custier.manage('hold_notify_acct', 'id', 'grade', :'p');

SELECT dblink_connect('hold_listener',
       format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user)) IS NOT NULL AS connected \gset
SELECT dblink_exec('hold_listener', 'LISTEN custier_adjustment') IS NOT NULL AS listening \gset

SET ROLE custier_test_hold_n_mkt;
SELECT custier.propose('hold_notify_acct', 'N1', 'A', 'hold it', hold_until => '2100-01-01 00:00:00+00') AS a1 \gset
SELECT custier.propose('hold_notify_acct', 'N2', 'C', 'no hold') AS a2 \gset
RESET ROLE;
SET ROLE custier_test_hold_n_boss;
SELECT custier.approve(:a1);
SELECT custier.approve(:a2);
RESET ROLE;
SELECT pg_sleep(0.2);

CREATE TEMP TABLE got AS
SELECT n.extra::jsonb AS payload, row_number() OVER () AS i
FROM dblink_get_notify('hold_listener') n
WHERE (n.extra::jsonb->>'adjustment_id')::bigint IN (:a1, :a2);

SELECT is((SELECT string_agg(payload->>'status', ',' ORDER BY i) FROM got WHERE (payload->>'adjustment_id')::bigint = :a1),
          'proposed,applied', 'each step of a hold is announced, like any adjustment');
SELECT is((SELECT count(*)::int FROM got WHERE (payload->>'adjustment_id')::bigint = :a1
              AND (payload->>'hold_until')::timestamptz = '2100-01-01 00:00:00+00'), 2,
          'the payload of each step of a hold carries its hold_until');
SELECT is((SELECT count(*)::int FROM got WHERE (payload->>'adjustment_id')::bigint = :a2 AND NOT payload ? 'hold_until'), 2,
          'the payload of an adjustment without a hold has no hold_until');
SELECT is((SELECT count(*)::int FROM custier.held WHERE tbl = 'hold_notify_acct'::regclass AND adjustment_id = :a1), 1,
          'the applied hold is in force');

SELECT * FROM finish();

-- Clean up.
SELECT dblink_disconnect('hold_listener') IS NOT NULL AS disconnected \gset
SELECT custier.unmanage('hold_notify_acct');
DROP TABLE hold_notify_acct;
\if :own_dblink
DROP EXTENSION dblink;
\endif
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
DROP OWNED BY custier_test_hold_n_mkt, custier_test_hold_n_boss;
DROP ROLE custier_test_hold_n_mkt;
DROP ROLE custier_test_hold_n_boss;
