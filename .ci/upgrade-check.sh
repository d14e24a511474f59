#!/usr/bin/env bash
# Installs custier 0.1.0, updates it to the default version, and compares
# every object of the extension with a fresh install (test/upgrade/objects.sql)
# and the two `pg_dump --schema-only -n custier`.  Needs a running cluster
# (PGHOST/PGPORT set by .ci/cluster.sh's start_cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
q() { PGOPTIONS='-c client_min_messages=warning' psql -qX -v ON_ERROR_STOP=1 "$@"; }
for db in custier_fresh custier_updated; do
  q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done
q -d custier_fresh -c 'CREATE EXTENSION custier CASCADE' >/dev/null
q -d custier_updated -c "CREATE EXTENSION custier VERSION '0.1.0' CASCADE" -c 'ALTER EXTENSION custier UPDATE' >/dev/null
status=0
for db in custier_fresh custier_updated; do
  q -d "$db" -f test/upgrade/objects.sql > "$out/$db.objects"
  pg_dump --schema-only -n custier "$db" | grep -v -E '^(--|$|\\(un)?restrict )' > "$out/$db.dump"
done
for kind in objects dump; do
  if ! diff -u "$out/custier_fresh.$kind" "$out/custier_updated.$kind" > "$out/$kind.diff"; then
    echo "custier: 0.1.0 updated differs from a fresh install ($kind; - fresh, + updated):" >&2
    head -n "${CUSTIER_DIFF_LINES:-80}" "$out/$kind.diff" >&2
    status=1
  fi
done
version=$(q -At -d custier_updated -c "SELECT extversion FROM pg_extension WHERE extname = 'custier'")
n=$(wc -l < "$out/custier_fresh.objects")
[ $status -eq 0 ] && echo "custier $version: updated from 0.1.0 = fresh install ($n object lines compared)"
q -c 'DROP DATABASE custier_fresh' -c 'DROP DATABASE custier_updated' >/dev/null
exit $status
