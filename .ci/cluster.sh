# Shared by .ci/test.sh, .ci/demo.sh and bench/run.sh: make sure the Debian
# packages are there, build, install custier into a private copy of the
# PostgreSQL 15 installation, and run a throwaway cluster on a private socket.
# Nothing outside $CUSTIER_RUNDIR is touched, so it works as a normal user too.
# Source it; then call need_packages, build_custier, start_cluster.
set -euo pipefail

PGVER=15
PGBIN_SYS=/usr/lib/postgresql/$PGVER/bin
: "${CUSTIER_PORT:=54329}"
CUSTIER_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARN_CFLAGS='-Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers'

log() { printf '\n== %s\n' "$*"; }

# need_packages PKG... — installs what is missing when root, else says what to install.
need_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "custier: missing Debian packages: ${missing[*]}" >&2
    echo "  install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
}

# build_custier [extra make args] — warnings are errors.
build_custier() {
  log "building custier (warnings are errors)"
  make -C "$CUSTIER_TOP" -s clean >/dev/null
  make -C "$CUSTIER_TOP" -s PG_CFLAGS="$WARN_CFLAGS" "$@"
}

# start_cluster — private install tree + cluster in $CUSTIER_RUNDIR; stopped
# and removed by the EXIT trap whatever happens.
start_cluster() {
  CUSTIER_RUNDIR=$(mktemp -d /tmp/custier-run.XXXXXX)
  chmod 755 "$CUSTIER_RUNDIR"
  trap stop_cluster EXIT
  trap 'exit 130' INT TERM
  local inst="$CUSTIER_RUNDIR/inst"
  mkdir -p "$inst/usr/lib/postgresql" "$inst/usr/share/postgresql"
  # A copy of the server finds share/ and lib/ relative to its own binary.
  cp -a "/usr/lib/postgresql/$PGVER" "$inst/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PGVER" "$inst/usr/share/postgresql/"
  log "installing custier into $inst"
  make -C "$CUSTIER_TOP" -s install DESTDIR="$inst" >/dev/null
  PGBIN="$inst/usr/lib/postgresql/$PGVER/bin"

  mkdir -p "$CUSTIER_RUNDIR/data" "$CUSTIER_RUNDIR/sock"
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres: "$CUSTIER_RUNDIR/data" "$CUSTIER_RUNDIR/sock"
    touch "$CUSTIER_RUNDIR/server.log"; chown postgres: "$CUSTIER_RUNDIR/server.log"
    as=(runuser -u postgres --)
  fi
  # The bootstrap superuser is "postgres" whoever runs it, so expected
  # outputs that name the acting role are the same for root and for users.
  export PGUSER=postgres
  AS_SERVER_USER=("${as[@]}")
  log "starting a throwaway cluster (socket $CUSTIER_RUNDIR/sock, port $CUSTIER_PORT)"
  "${as[@]}" "$PGBIN/initdb" -D "$CUSTIER_RUNDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cat >> "$CUSTIER_RUNDIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$CUSTIER_RUNDIR/sock'
port = $CUSTIER_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 8
max_parallel_workers_per_gather = 2
shared_buffers = '512MB'
work_mem = '64MB'
maintenance_work_mem = '256MB'
max_wal_size = '4GB'
CONF
  "${as[@]}" "$PGBIN/pg_ctl" -D "$CUSTIER_RUNDIR/data" -l "$CUSTIER_RUNDIR/server.log" -w -s start
  export PGHOST="$CUSTIER_RUNDIR/sock" PGPORT="$CUSTIER_PORT" PGDATABASE=postgres
}

stop_cluster() {
  local rc=$?
  if [ -n "${CUSTIER_RUNDIR:-}" ] && [ -d "$CUSTIER_RUNDIR" ]; then
    if [ -f "$CUSTIER_RUNDIR/data/postmaster.pid" ]; then
      "${AS_SERVER_USER[@]}" "$PGBIN/pg_ctl" -D "$CUSTIER_RUNDIR/data" -m immediate -s stop || true
    fi
    if [ $rc -ne 0 ] && [ -s "$CUSTIER_RUNDIR/server.log" ]; then
      echo "--- last lines of the server log ---" >&2
      tail -n 30 "$CUSTIER_RUNDIR/server.log" >&2 || true
    fi
    rm -rf "$CUSTIER_RUNDIR"
  fi
  exit $rc
}
