#!/usr/bin/env bash
# `make citus-check` (not part of `make test`: it takes minutes the first
# time).  Builds Citus from source once (cached outside the repository, see
# .ci/citus-build.sh), installs it and custier into a throwaway copy of the
# server, starts a coordinator and two workers on a private socket
# directory, and runs .ci/citus-check.sql on the coordinator: every
# aggregate equal to a local twin, partial aggregation in EXPLAIN, the bytes
# the coordinator receives, evaluate/run_evaluation over a distributed
# metrics view, a policy edit seen by the next statement, manage refused.
#
#   CUSTIER_CITUS_PORT   first of three ports (default 54401)
#   CUSTIER_CITUS_SRC, CUSTIER_CITUS_TAG, CUSTIER_CITUS_CACHE: .ci/citus-build.sh
source "$(dirname "$0")/cluster.sh"
source "$(dirname "$0")/citus-build.sh"
cd "$CUSTIER_TOP"
: "${CUSTIER_CITUS_PORT:=54401}"

need_packages make gcc postgresql-$PGVER postgresql-server-dev-$PGVER liblz4-dev libzstd-dev libkrb5-dev
build_citus
build_custier

RUNDIR=$(mktemp -d /tmp/custier-citus.XXXXXX)
chmod 755 "$RUNDIR"
INST="$RUNDIR/inst"
PGBIN="$INST/usr/lib/postgresql/$PGVER/bin"
AS=()
[ "$(id -u)" -eq 0 ] && AS=(runuser -u postgres --)
PORTS=("$CUSTIER_CITUS_PORT" "$((CUSTIER_CITUS_PORT + 1))" "$((CUSTIER_CITUS_PORT + 2))")
NAMES=(coordinator worker1 worker2)

stop_nodes() {
  local rc=$? n
  # debugging: CUSTIER_CITUS_HOLD=600 keeps the nodes up that long after a failure
  [ $rc -ne 0 ] && [ -n "${CUSTIER_CITUS_HOLD:-}" ] && { echo "nodes kept up in $RUNDIR for $CUSTIER_CITUS_HOLD s" >&2; sleep "$CUSTIER_CITUS_HOLD"; }
  for n in "${NAMES[@]}"; do
    if [ -f "$RUNDIR/$n/postmaster.pid" ]; then
      "${AS[@]}" "$PGBIN/pg_ctl" -D "$RUNDIR/$n" -m immediate -s stop || true
    fi
    if [ $rc -ne 0 ] && [ -s "$RUNDIR/$n.log" ]; then
      echo "--- last lines of the $n log ---" >&2
      grep -v -e "^\t" -e " LOG: " "$RUNDIR/$n.log" | tail -n "${CUSTIER_CITUS_LOG_LINES:-15}" >&2 || true
    fi
  done
  rm -rf "$RUNDIR"
  exit $rc
}
trap stop_nodes EXIT
trap 'exit 130' INT TERM

log "installing PostgreSQL, Citus and custier into $INST"
mkdir -p "$INST/usr/lib/postgresql" "$INST/usr/share/postgresql"
cp -a "/usr/lib/postgresql/$PGVER" "$INST/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$PGVER" "$INST/usr/share/postgresql/"
cp -a "$CITUS_DEST/usr/." "$INST/usr/"
make -s install DESTDIR="$INST" >/dev/null

SOCK="$RUNDIR/sock"
mkdir -p "$SOCK"
[ ${#AS[@]} -gt 0 ] && chown postgres: "$RUNDIR" "$SOCK"
log "starting a coordinator and two workers (socket $SOCK, ports ${PORTS[*]})"
for i in 0 1 2; do
  n=${NAMES[$i]}
  "${AS[@]}" "$PGBIN/initdb" -D "$RUNDIR/$n" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$RUNDIR/$n/postgresql.conf" <<CONF
shared_preload_libraries = 'citus'
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = ${PORTS[$i]}
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = '128MB'
work_mem = '32MB'
max_worker_processes = 8
max_parallel_workers_per_gather = 0
citus.shard_count = 8
citus.enable_statistics_collection = off
TimeZone = 'UTC'
CONF
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$RUNDIR/$n" -l "$RUNDIR/$n.log" -w -s start
done
export PGHOST="$SOCK" PGUSER=postgres PGDATABASE=postgres
q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
for p in "${PORTS[@]}"; do
  q -p "$p" -c 'CREATE EXTENSION citus' >/dev/null
done
# The nodes reach each other through the private socket directory (a host
# name starting with a slash is a socket directory for libpq).
q -p "${PORTS[0]}" -c "SELECT citus_set_coordinator_host('$SOCK', ${PORTS[0]})" \
  -c "SELECT citus_add_node('$SOCK', ${PORTS[1]})" -c "SELECT citus_add_node('$SOCK', ${PORTS[2]})" >/dev/null
# Citus propagates CREATE EXTENSION to the workers.
q -p "${PORTS[0]}" -c 'CREATE EXTENSION custier' >/dev/null
for p in "${PORTS[1]}" "${PORTS[2]}"; do
  v=$(q -p "$p" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'custier'")
  [ -n "$v" ] || { echo "custier: the extension did not reach the worker on port $p" >&2; exit 1; }
done
log "Citus $(q -p "${PORTS[0]}" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), custier on all three nodes; running .ci/citus-check.sql"
PGPORT=${PORTS[0]} psql -X -v ON_ERROR_STOP=1 -v worker_port="${PORTS[1]}" -f .ci/citus-check.sql
log "citus-check passed"
