#!/usr/bin/env bash
# `make test`: build with warnings as errors, then on a throwaway cluster
# pg_regress + isolation specs (make installcheck), the pgTAP suites
# (pg_prove), the docs test (every ```sql block of README.md and doc/*.md)
# and the 0.1.0 update check.  Each step's full output goes to a log that is
# printed only when the step fails; a green run prints one line per step and
# a summary.
source "$(dirname "$0")/cluster.sh"
cd "$CUSTIER_TOP"
started=$SECONDS

need_packages make gcc postgresql-$PGVER postgresql-server-dev-$PGVER \
  postgresql-$PGVER-pgtap libtap-parser-sourcehandler-pgtap-perl
build_custier
start_cluster
logs=$CUSTIER_RUNDIR/logs
mkdir -p "$logs"

status=0
failed=()
step_failed() { status=1; failed+=("$1"); }

# As a superuser not named postgres: outputs must not depend on who runs
# them (the pgTAP suites below run as postgres).
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE ROLE custier_admin SUPERUSER LOGIN' >/dev/null
log "pg_regress and isolation specs (make installcheck, as superuser custier_admin)"
rm -rf results output_iso regression.diffs regression.out
if PGUSER=custier_admin make -s installcheck PG_CFLAGS="$WARN_CFLAGS" > "$logs/installcheck" 2>&1; then
  mapfile -t passed < <(sed -n 's/^ *All \([0-9]*\) tests passed\. *$/\1/p' "$logs/installcheck")
  n_regress=${passed[0]:-?} n_iso=${passed[1]:-?}
  echo "pg_regress: $n_regress tests passed; isolation: $n_iso specs passed"
else
  step_failed "pg_regress/isolation"
  grep -E '^(test |     |not ok|ok )|FAILED|failed' "$logs/installcheck" || cat "$logs/installcheck"
  for d in regression.diffs output_iso/regression.diffs; do
    [ -f "$d" ] && { echo "--- $d ---"; head -n 300 "$d"; }
  done
fi

log "pgTAP suites (pg_prove)"
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE custier_tap' >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d custier_tap -c "ALTER DATABASE custier_tap SET search_path = \"\$user\", public, custier" >/dev/null
if pg_prove --ext .sql -d custier_tap test/pgtap/ > "$logs/pgtap" 2>&1; then
  tap=$(sed -n 's/^Files=\([0-9]*\), Tests=\([0-9]*\),.*/\1 files, \2 assertions/p' "$logs/pgtap")
  echo "pgTAP: $tap passed"
else
  step_failed "pgTAP"
  cat "$logs/pgtap"
fi

log "docs: every sql block of README.md and doc/*.md"
if perl test/docs/check.pl README.md $(ls doc/*.md 2>/dev/null) > "$logs/docs" 2>&1; then
  cat "$logs/docs"
else
  step_failed "docs"
  cat "$logs/docs"
fi

log "update from 0.1.0 compared with a fresh install"
bash .ci/upgrade-check.sh || step_failed "update check"

log "update from 0.1.0 of a database in use keeps its data"
bash test/lifecycle/update-data.sh > "$logs/update-data" 2>&1 && grep "^custier" "$logs/update-data" || { step_failed "update with data"; cat "$logs/update-data"; }

log "dump and restore (plain, custom, directory -j 4), packaging"
{ bash test/lifecycle/dump-restore.sh && bash test/lifecycle/packaging.sh; } > "$logs/dump-restore" 2>&1 && grep "^custier" "$logs/dump-restore" || { step_failed "dump/restore"; cat "$logs/dump-restore"; }

elapsed=$((SECONDS - started))
if [ $status -eq 0 ]; then
  log "all tests passed in ${elapsed}s: ${n_regress} pg_regress, ${n_iso} isolation, pgTAP ${tap}, $(sed -n 's/^docs: \([0-9]*\) sql blocks.*/\1/p' "$logs/docs") docs blocks, update check, dump/restore"
else
  log "TESTS FAILED (${failed[*]}) after ${elapsed}s"
fi
exit $status
