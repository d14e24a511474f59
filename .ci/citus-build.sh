# Sourced by .ci/citus-check.sh: builds Citus from source once and caches the
# installed files (a DESTDIR tree holding only Citus's files) outside the
# repository, so that reruns only copy them into a fresh server copy.
#
#   CUSTIER_CITUS_SRC    git dir of citusdata/citus (default: the mirror
#                        /work/.mirror/citusdata+citus/repo), or an already
#                        unpacked source tree (a directory with ./configure)
#   CUSTIER_CITUS_TAG    release tag (default v13.2.2)
#   CUSTIER_CITUS_CACHE  cache directory (default ~/.cache/custier-citus)
: "${CUSTIER_CITUS_SRC:=/work/.mirror/citusdata+citus/repo}"
: "${CUSTIER_CITUS_TAG:=v13.2.2}"
: "${CUSTIER_CITUS_CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/custier-citus}"
CITUS_DEST="$CUSTIER_CITUS_CACHE/$CUSTIER_CITUS_TAG-pg$PGVER/dest"

build_citus() {
  if [ -f "$CITUS_DEST/.built" ]; then
    log "Citus $CUSTIER_CITUS_TAG: cached in $CITUS_DEST"
    return 0
  fi
  local work="$CUSTIER_CITUS_CACHE/$CUSTIER_CITUS_TAG-pg$PGVER/src"
  rm -rf "$work" "$CITUS_DEST"
  mkdir -p "$work"
  if [ -x "$CUSTIER_CITUS_SRC/configure" ]; then
    log "Citus: copying the source tree $CUSTIER_CITUS_SRC"
    cp -a "$CUSTIER_CITUS_SRC/." "$work/"
  elif git --git-dir="$CUSTIER_CITUS_SRC" rev-parse -q --verify "$CUSTIER_CITUS_TAG^{commit}" >/dev/null 2>&1; then
    log "Citus: exporting $CUSTIER_CITUS_TAG from $CUSTIER_CITUS_SRC"
    git --git-dir="$CUSTIER_CITUS_SRC" archive "$CUSTIER_CITUS_TAG" | tar -x -C "$work"
  else
    echo "custier: no Citus source: set CUSTIER_CITUS_SRC to a git dir of citusdata/citus holding tag $CUSTIER_CITUS_TAG, or to an unpacked source tree" >&2
    exit 1
  fi
  # PostgreSQL 15.20 exports have_createdb_privilege() (commands/dbcommands.h);
  # Citus 13.2's compatibility header still defines a static copy for servers
  # before 16 ("static declaration follows non-static declaration").  The
  # server's function does the same thing: drop the static one.
  perl -0pi -e 's/static inline bool\s*\nhave_createdb_privilege\(void\)\s*\n\{.*?\n\}\n//s' \
    "$work/src/include/pg_version_compat.h"
  if grep -q '^have_createdb_privilege(void)' "$work/src/include/pg_version_compat.h"; then
    echo "custier: could not apply the have_createdb_privilege fix to Citus's pg_version_compat.h" >&2
    exit 1
  fi
  log "Citus: configure and build (several minutes; log in $work/build.log)"
  if ! ( cd "$work" &&
         ./configure --without-libcurl PG_CONFIG="$PGBIN_SYS/pg_config" &&
         nice make -j"$(nproc)" &&
         make install DESTDIR="$CITUS_DEST" ) >"$work/build.log" 2>&1; then
    echo "custier: building Citus failed; last lines of $work/build.log:" >&2
    tail -n 40 "$work/build.log" >&2
    exit 1
  fi
  touch "$CITUS_DEST/.built"
  rm -rf "$work"
}
