#!/usr/bin/env bash
# update-data.sh — custier 0.1.0 in use (fixture.sql: policies, managed
# tables with history, adjustments, evaluations) is updated to the default
# version: every row is kept (rows.sql, leaving out the columns the update
# adds), the guard and the workflow go on, and rows about a table dropped
# under 0.1.0 no longer carry its OID.  .ci/upgrade-check.sh compares the
# objects.  Needs a running cluster (.ci/cluster.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
dbs=(custier_up_data custier_up_dropped)
q() { PGOPTIONS='-c client_min_messages=warning' psql -qX -v ON_ERROR_STOP=1 "$@"; }
cleanup() { for db in "${dbs[@]}"; do q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done; rm -rf "$out"; }
trap cleanup EXIT
status=0
new_columns='{dropped_table,hold_until,batch_last_keys,owner,reviewer_role}'
for db in "${dbs[@]}"; do q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null; done

# A database in use at 0.1.0 ran 0.1.0's library: build it from the commit
# that released 0.1.0, install it while the 0.1.0 data is made, then put this
# version's library back and update, as a DBA upgrading the package would.
v010_ref=${CUSTIER_V010_REF:-77180f6a5c5ed142f00fa301e7b0620da3bc7c08}
pkglib=$(q -At -c "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")
mkdir -p "$out/v010"
git archive "$v010_ref" | tar -x -C "$out/v010"
make -C "$out/v010" -s PG_CFLAGS=-w >/dev/null 2>&1 || { echo "custier: could not build 0.1.0's library ($v010_ref)" >&2; exit 1; }
# Swap by rename, never by writing into the file: a backend that has the
# library mapped would run the new bytes as its code.
swap_lib() { cp "$1" "$pkglib/custier.so.swap" && mv -f "$pkglib/custier.so.swap" "$pkglib/custier.so"; }
cp "$pkglib/custier.so" "$out/custier.so.new"
swap_lib "$out/v010/custier.so"
trap 'swap_lib "$out/custier.so.new"; cleanup' EXIT

q -d custier_up_data -c "CREATE EXTENSION custier VERSION '0.1.0'" >/dev/null
q -d custier_up_data -v keep_gone=1 -f test/lifecycle/fixture.sql >/dev/null
q -d custier_up_data -v strip="$new_columns" -f test/lifecycle/rows.sql > "$out/before.rows"
# A table dropped under 0.1.0: its rows lose the bare OID on update (below).
q -d custier_up_dropped >/dev/null <<'SQL'
CREATE EXTENSION custier VERSION '0.1.0';
INSERT INTO custier.policy (name) VALUES ('old');
CREATE TABLE old_customer (id int PRIMARY KEY, grade custier.tier);
INSERT INTO old_customer VALUES (1, 'B');
SELECT custier.manage('old_customer', 'id', 'grade', 'old');
DROP TABLE old_customer;
SQL
swap_lib "$out/custier.so.new"
q -d custier_up_data -c 'ALTER EXTENSION custier UPDATE' >/dev/null
q -d custier_up_data -v strip="$new_columns" -f test/lifecycle/rows.sql > "$out/after.rows"
# Every row of 0.1.0 must be there as it was; what the update adds (the new
# modules' empty tables and fresh sequences) may come on top.
lost=$(sort "$out/before.rows" | comm -23 - <(sort "$out/after.rows"))
if [ -n "$lost" ]; then
  diff -u "$out/before.rows" "$out/after.rows" >&2
  echo "custier: ALTER EXTENSION UPDATE changed or lost these rows:" >&2; echo "$lost" >&2; status=1
fi
q -d custier_up_data > "$out/after.log" 2>&1 <<'SQL' || { status=1; echo "custier: after the update:" >&2; tail -n 5 "$out/after.log" >&2; }
SET search_path = public, custier;
-- The one step an update asks of the DBA (doc/operations.md): name the role
-- of each reviewing department, without which nobody may review for it.
UPDATE custier.policy_reviewer SET reviewer_role = 'custier_lc_sales' WHERE department = 'sales';
DO $$ BEGIN
    UPDATE lc_customer SET grade = 'D' WHERE id = 'C011' AND grade <> 'D';
    RAISE 'the guard let a direct grade change through after the update';
EXCEPTION WHEN insufficient_privilege THEN NULL;
END $$;
SET ROLE custier_lc_proposer;
SELECT propose('lc_customer', 'C011', 'A', 'after the update') AS new_id \gset
SET ROLE custier_lc_sales;
SELECT review(:new_id, 'sales', 'support');
SET ROLE custier_lc_approver;
SELECT approve(:new_id, 'updated and approved');
RESET ROLE;
SELECT set_config('custier_test.new_id', :'new_id', false);
UPDATE lc_branch SET grade = 'C' WHERE no = 1;
CALL run_evaluation('lc', '2026-03-01', 10);
DROP TABLE lc_gone;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM tier_history WHERE adjustment_id = current_setting('custier_test.new_id')::bigint AND new_tier = 'A') THEN
        RAISE 'the approval after the update was not recorded';
    END IF;
    IF (SELECT customer_key || ':' || new_tier FROM tier_history WHERE tbl = 'lc_branch'::regclass
         ORDER BY history_id DESC LIMIT 1) IS DISTINCT FROM '1:C' THEN
        RAISE 'the updated triggers of lc_branch recorded the wrong columns';
    END IF;
    IF EXISTS (SELECT FROM pg_trigger t JOIN managed_table m ON m.tbl = t.tgrelid
                WHERE t.tgname LIKE 'custier\_%' AND encode(t.tgargs, 'escape') ~ '^\d') THEN
        RAISE 'triggers still give column numbers after the update';
    END IF;
    IF NOT EXISTS (SELECT FROM tier_history WHERE dropped_table = 'public.lc_gone' AND tbl = 0) THEN
        RAISE 'dropping a table after the update did not keep its history by name';
    END IF;
    IF custier._restoring() THEN
        RAISE 'an updated database counts as being restored';
    END IF;
END $$;
SQL

# A table dropped under 0.1.0: its rows lose the bare OID on update.
q -d custier_up_dropped -c 'ALTER EXTENSION custier UPDATE' >/dev/null
got=$(q -At -d custier_up_dropped -c "SELECT count(*) FILTER (WHERE tbl <> 0), count(*) FILTER (WHERE dropped_table LIKE '(dropped before custier 0.2.0; OID %)') FROM custier.tier_history")
[ "$got" = "0|1" ] || { echo "custier: history of a table dropped under 0.1.0 after the update: $got" >&2; status=1; }

[ $status -eq 0 ] && echo "custier: 0.1.0 in use updated: $(wc -l < "$out/after.rows") rows kept, guard and workflow go on"
exit $status
