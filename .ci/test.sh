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
# As a superuser not named postgres: outputs must not depend on who runs
# them (the pgTAP suites below run as postgres).
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE ROLE custier_admin SUPERUSER LOGIN' >/dev/null
log "pg_regress and isolation specs (make installcheck, as superuser custier_admin)"
rm -rf results output_iso regression.diffs regression.out
if ! PGUSER=custier_admin make -s installcheck PG_CFLAGS="$WARN_CFLAGS"; then
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

log "update from 0.1.0 of a database in use keeps its data"
bash test/lifecycle/update-data.sh || status=1

log "dump and restore (plain, custom, directory -j 4)"
bash test/lifecycle/dump-restore.sh || status=1
bash test/lifecycle/packaging.sh || status=1

if [ $status -eq 0 ]; then log "all tests passed"; else log "TESTS FAILED"; fi
exit $status
