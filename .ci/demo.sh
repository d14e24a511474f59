#!/usr/bin/env bash
# `make demo`: build, install into a throwaway cluster, run doc/demo.sql.
source "$(dirname "$0")/cluster.sh"
cd "$CUSTIER_TOP"
need_packages make gcc postgresql-$PGVER postgresql-server-dev-$PGVER
build_custier
start_cluster
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE custier_demo' >/dev/null
psql -qX -v ON_ERROR_STOP=1 -d custier_demo \
  -c "ALTER DATABASE custier_demo SET search_path = \"\$user\", public, custier" >/dev/null
log "custier demo"
psql -X -v ON_ERROR_STOP=1 -d custier_demo -f doc/demo.sql
log "demo finished"
