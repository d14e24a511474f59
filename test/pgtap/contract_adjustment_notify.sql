-- pgTAP acceptance: NOTIFY custier_adjustment with a JSON payload.
-- A notification is delivered only on commit, so this file runs WITHOUT a
-- wrapping transaction and listens through a dblink connection. It cleans up
-- after itself: its table and roles are dropped, and the custier, pgtap and
-- dblink extensions only if this file created them (if custier was already
-- installed, its append-only adjustment rows stay, under a table name
-- unique to this backend's run).
-- Every description says the documented behaviour it checks.
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'custier') AS own_custier,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pgtap') AS own_pgtap,
       NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') AS own_dblink,
       'contract_notify_' || pg_backend_pid() AS p \gset
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS custier;
CREATE EXTENSION IF NOT EXISTS dblink;
SET search_path = public, custier;

SELECT plan(9);

CREATE ROLE custier_test_contract_n_mkt;
CREATE ROLE custier_test_contract_n_boss;
GRANT USAGE ON SCHEMA custier TO custier_test_contract_n_mkt, custier_test_contract_n_boss;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA custier TO custier_test_contract_n_mkt, custier_test_contract_n_boss;
INSERT INTO custier.policy (name) VALUES (:'p');
CREATE TABLE contract_notify_acct (id text PRIMARY KEY, grade custier.tier);
GRANT SELECT ON contract_notify_acct TO custier_test_contract_n_mkt, custier_test_contract_n_boss;
INSERT INTO contract_notify_acct VALUES ('N1', 'C'), ('N2', 'B');
SELECT custier.manage('contract_notify_acct', 'id', 'grade', :'p', true);

-- A listener in another session.
SELECT dblink_connect('contract_listener',
       format('dbname=%s port=%s host=%s user=%s', current_database(), current_setting('port'),
              split_part(current_setting('unix_socket_directories'), ',', 1), current_user)) IS NOT NULL AS connected \gset
SELECT dblink_exec('contract_listener', 'LISTEN custier_adjustment') IS NOT NULL AS listening \gset

SET ROLE custier_test_contract_n_mkt;
SELECT custier.propose('contract_notify_acct', 'N1', 'B', 'more orders') AS a1 \gset
SELECT custier.propose('contract_notify_acct', 'N2', 'C', 'fewer orders') AS a2 \gset
RESET ROLE;
SET ROLE custier_test_contract_n_boss;
SELECT custier.approve(:a1);
SELECT custier.reject(:a2, 'no');
RESET ROLE;
SET ROLE custier_test_contract_n_mkt;
SELECT custier.propose('contract_notify_acct', 'N2', 'A', 'big deal') AS a3 \gset
SELECT custier.withdraw(:a3);
RESET ROLE;
SELECT pg_sleep(0.2);

CREATE TEMP TABLE got AS
SELECT n.notify_name, n.be_pid, n.extra::jsonb AS payload, row_number() OVER () AS i
FROM dblink_get_notify('contract_listener') n;

SELECT is((SELECT count(*)::int FROM got WHERE (payload->>'adjustment_id')::bigint IN (:a1, :a2, :a3)), 6,
          '"every step … sends NOTIFY custier_adjustment" (propose ×3, approve, reject, withdraw)');
SELECT ok((SELECT bool_and(notify_name = 'custier_adjustment') FROM got), 'the channel is custier_adjustment');
SELECT is_empty($$SELECT k FROM unnest(ARRAY['adjustment_id', 'status', 'tbl', 'customer_key', 'from_tier', 'to_tier']) k
                  WHERE NOT (SELECT bool_and(payload ? k) FROM got)$$,
                'the JSON payload has adjustment_id, status, tbl, customer_key, from_tier, to_tier');
SELECT is((SELECT string_agg(payload->>'status', ',' ORDER BY i) FROM got WHERE (payload->>'adjustment_id')::bigint = :a1), 'proposed,applied',
          'payload status follows the steps (proposed, then applied on approve)');
SELECT is((SELECT format('%s|%s|%s|%s', (payload->>'tbl')::regclass = 'contract_notify_acct'::regclass, payload->>'customer_key', payload->>'from_tier', payload->>'to_tier')
           FROM got WHERE (payload->>'adjustment_id')::bigint = :a1 ORDER BY i LIMIT 1),
          't|N1|C|B', 'payload tbl (the table, as a regclass name), customer_key, from_tier, to_tier describe the adjustment');
SELECT is((SELECT string_agg(payload->>'status', ',' ORDER BY i) FROM got WHERE (payload->>'adjustment_id')::bigint = :a2), 'proposed,rejected',
          'reject notifies status rejected');
SELECT is((SELECT string_agg(payload->>'status', ',' ORDER BY i) FROM got WHERE (payload->>'adjustment_id')::bigint = :a3), 'proposed,withdrawn',
          'withdraw notifies status withdrawn');
SELECT is((SELECT count(*)::int FROM custier.adjustment_event WHERE adjustment_id IN (:a1, :a2, :a3)), 6,
          '"every step adds an adjustment_event row" (6 steps)');
SELECT is((SELECT string_agg(adjustment_id || ':' || status, ',' ORDER BY adjustment_id) FROM custier.adjustment WHERE adjustment_id IN (:a1, :a2, :a3)),
          format('%s:applied,%s:rejected,%s:withdrawn', :a1, :a2, :a3), 'final statuses applied, rejected, withdrawn');

SELECT * FROM finish();

-- Clean up.
SELECT dblink_disconnect('contract_listener') IS NOT NULL AS disconnected \gset
DROP TABLE contract_notify_acct;
\if :own_dblink
DROP EXTENSION dblink;
\endif
\if :own_custier
DROP EXTENSION custier CASCADE;
\endif
\if :own_pgtap
DROP EXTENSION pgtap;
\endif
DROP OWNED BY custier_test_contract_n_mkt, custier_test_contract_n_boss;
DROP ROLE custier_test_contract_n_mkt;
DROP ROLE custier_test_contract_n_boss;
