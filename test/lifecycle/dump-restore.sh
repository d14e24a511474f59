#!/usr/bin/env bash
# dump-restore.sh — a database using every part of custier (fixture.sql) is
# dumped and restored in the plain (psql), custom (pg_restore) and directory
# (pg_restore -j 4) formats: no error, every row of every custier table back
# (rows.sql), then the guard and the workflow work and take the next ids
# (after-restore.sql).  Then the ways to forge rows that a restore might
# open are tried and must fail.  Needs a running cluster (.ci/cluster.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
dbs=(custier_lc_src custier_lc_plain custier_lc_custom custier_lc_directory custier_lc_fresh)
q() { PGOPTIONS='-c client_min_messages=warning' psql -qX -v ON_ERROR_STOP=1 "$@"; }
cleanup() { for db in "${dbs[@]}"; do q -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done; rm -rf "$out"; }
trap cleanup EXIT
fail() { echo "custier dump/restore: $*" >&2; status=1; }
status=0

for db in "${dbs[@]}"; do q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null; done
q -d custier_lc_src -c 'CREATE EXTENSION custier' >/dev/null
q -d custier_lc_src -f test/lifecycle/fixture.sql >/dev/null
q -d custier_lc_src -f test/lifecycle/rows.sql > "$out/src.rows"

pg_dump -f "$out/dump.sql" custier_lc_src
pg_dump -Fc -f "$out/dump.custom" custier_lc_src
pg_dump -Fd -f "$out/dump.dir" custier_lc_src

restore() {
  case $1 in
    plain)     psql -qX -v ON_ERROR_STOP=1 -d custier_lc_plain -f "$out/dump.sql" ;;
    custom)    pg_restore --exit-on-error -d custier_lc_custom "$out/dump.custom" ;;
    directory) pg_restore --exit-on-error -j 4 -d custier_lc_directory "$out/dump.dir" ;;
  esac
}
for fmt in plain custom directory; do
  db=custier_lc_$fmt
  if ! restore $fmt > "$out/$fmt.log" 2>&1 || grep -q -E 'ERROR|WARNING|error:' "$out/$fmt.log"; then
    fail "restoring the $fmt format failed:"; head -n 20 "$out/$fmt.log" >&2; continue
  fi
  q -d $db -f test/lifecycle/rows.sql > "$out/$fmt.rows"
  if ! diff -u "$out/src.rows" "$out/$fmt.rows" > "$out/$fmt.diff"; then
    fail "rows differ after restoring the $fmt format (- dumped, + restored):"; head -n 40 "$out/$fmt.diff" >&2; continue
  fi
  q -d $db -f test/lifecycle/after-restore.sql > "$out/$fmt.after" 2>&1 ||
    { fail "after restoring the $fmt format:"; tail -n 5 "$out/$fmt.after" >&2; continue; }
  echo "custier: $fmt dump restored: $(wc -l < "$out/$fmt.rows") rows and sequences identical; guard, workflow and next ids ok"
done

# expect SQLSTATE DB [psql args]: the script on stdin must fail with SQLSTATE.
expect() {
  local code=$1 db=$2 got; shift 2
  got=$(psql -qX -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d "$db" "$@" 2>&1 >/dev/null | sed -n 's/^.*ERROR:  \([0-9A-Z]\{5\}\).*$/\1/p' | head -n 1) || true
  [ "$got" = "$code" ] || fail "expected SQLSTATE $code, got '${got:-no error}' in $db for: $(cat "$out/stdin")"
}
forge() { cat > "$out/stdin"; expect "$@" < "$out/stdin"; }
row=$'public.lc_customer\tC012\tC\tA\tforged\t\\N\tapplied\tcustier_lc_proposer\t2026-01-01 00:00:00+00\tcustier_lc_approver\t2026-01-01 00:00:00+00\tok\t\\N'
cols='(tbl, customer_key, from_tier, to_tier, reason, evidence, status, proposed_by, proposed_at, decided_by, decided_at, decision_note, evaluation_id)'

# In a database in use, the owner's COPY is a direct write like any other.
forge 55000 custier_lc_src <<SQL
\set VERBOSITY sqlstate
COPY custier.adjustment $cols FROM stdin;
$row
\.
SQL
# Nor can anyone else COPY (no INSERT privilege), restore window or not.
forge 42501 custier_lc_src <<SQL
\set VERBOSITY sqlstate
SET ROLE custier_lc_proposer;
COPY custier.adjustment $cols FROM stdin;
$row
\.
SQL
q -d custier_lc_fresh -c 'CREATE EXTENSION custier' >/dev/null
forge 42501 custier_lc_fresh <<SQL
\set VERBOSITY sqlstate
SET ROLE custier_lc_proposer;
COPY custier.tier_history (tbl, customer_key, new_tier, changed_at, changed_by) FROM stdin;
pg_class	x	A	2026-01-01	someone
\.
SQL
# A restore load leaves session_replication_role as it was, even inside a
# transaction, and does not end the restore window.
got=$(q -At -d custier_lc_fresh <<'SQL'
BEGIN;
COPY custier.policy (name) FROM stdin;
loaded
\.
SHOW session_replication_role;
ROLLBACK;
SELECT custier._restoring();
SQL
)
[ "$got" = $'origin\nt' ] || fail "after a restore load: session_replication_role and window were '$got'"
# Before a restore, the owner's INSERT (not COPY) is not a restore: refused,
# and it ends the window, so that a COPY after it is refused too.
forge 55000 custier_lc_fresh <<'SQL'
\set VERBOSITY sqlstate
INSERT INTO custier.adjustment (tbl, customer_key, to_tier, reason, status, proposed_by, proposed_at)
VALUES ('pg_class', 'x', 'A', 'forged', 'applied', 'someone', now());
SQL
[ "$(q -At -d custier_lc_fresh -c 'SELECT custier._restoring()')" = f ] || fail "a refused direct write did not end the restore window"
forge 55000 custier_lc_fresh <<SQL
\set VERBOSITY sqlstate
COPY custier.adjustment $cols FROM stdin;
${row/public.lc_customer/pg_catalog.pg_class}
\.
SQL
[ $status -eq 0 ] && echo "custier: forging rows through COPY is refused outside a restore"
exit $status
