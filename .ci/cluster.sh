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

# need_packages PKG... — installs what is missing (as root, or through
# passwordless sudo), else says what to install.  Then checks that the
# tools the scripts use are really there.
need_packages() {
  local missing=() p as_root=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
      else
        echo "custier: missing Debian packages: ${missing[*]}" >&2
        echo "  install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
      fi
    fi
    log "installing ${missing[*]}"
    local aptlog
    aptlog=$(mktemp)
    # A fresh machine has no package lists; a stale source must not stop us
    # when the lists we need are there.
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$aptlog" 2>&1 ||
      echo "custier: apt-get update reported errors; trying the install anyway" >&2
    if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1; then
      echo "custier: installing ${missing[*]} failed:" >&2
      tail -n 30 "$aptlog" >&2
      rm -f "$aptlog"
      exit 1
    fi
    rm -f "$aptlog"
  fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      { echo "custier: package $p is still not installed" >&2; exit 1; }
  done
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
  # Extra settings for one run (benchmarks): CUSTIER_CONF="shared_buffers = '128MB'".
  if [ -n "${CUSTIER_CONF:-}" ]; then
    printf '%s\n' "$CUSTIER_CONF" >> "$CUSTIER_RUNDIR/data/postgresql.conf"
  fi
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
