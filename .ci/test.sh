#!/usr/bin/env bash
# `make test`: build with warnings as errors, then pg_regress + isolation
# (make installcheck) and the pgTAP suites (pg_prove) on a throwaway cluster.
source "$(dirname "$0")/cluster.sh"
cd "$CUSTIER_TOP"

need_packages make gcc postgresql-$PGVER postgresql-server-dev-$PGVER \
  postgresql-$PGVER-pgtap libtap-parser-sourcehandler-pgtap-perl
build_custier
start_cluster

status=0
log "pg_regress and isolation specs (make installcheck)"
rm -rf results output_iso regression.diffs regression.out
if ! make -s installcheck PG_CFLAGS="$WARN_CFLAGS"; then
  status=1
  for d in regression.diffs output_iso/regression.diffs; do
    [ -f "$d" ] && { echo "--- $d ---"; head -n 300 "$d"; }
  done
fi

log "pgTAP suites (pg_prove)"
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE custier_tap' >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d custier_tap -c "ALTER DATABASE custier_tap SET search_path = \"\$user\", public, custier" >/dev/null
pg_prove --ext .sql -d custier_tap test/pgtap/ || status=1

log "update from 0.1.0 compared with a fresh install"
bash .ci/upgrade-check.sh || status=1

if [ $status -eq 0 ]; then log "all tests passed"; else log "TESTS FAILED"; fi
exit $status
