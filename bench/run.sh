#!/usr/bin/env bash
# bench/run.sh [NAME ...] — runs bench/NAME.sql (all of them when none is
# named) on a throwaway cluster, after bench/lib.sql.  Each benchmark times a
# candidate and its baseline in the same run and prints the ratio.
source "$(dirname "$0")/../.ci/cluster.sh"
cd "$CUSTIER_TOP"
need_packages make gcc postgresql-$PGVER postgresql-server-dev-$PGVER
build_custier
start_cluster
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/*.sql; do b=$(basename "$f" .sql); [ "$b" = lib ] || names+=("$b"); done
fi
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE custier_bench' >/dev/null
for n in "${names[@]}"; do
  log "benchmark: $n"
  psql -qX -v ON_ERROR_STOP=1 -d custier_bench -f bench/lib.sql -f "bench/$n.sql"
done
