#!/usr/bin/env bash
# A private PostgreSQL cluster in a project folder, on its own port (never the system service).
#
#   pg.sh start DIR PORT [DB...]   initdb if needed, start, create the databases; idempotent
#   pg.sh stop DIR                 fast shutdown (no error when not running)
#   pg.sh running DIR              exit 0 when the cluster in DIR is running
#
# Role `ghosttools`, trust auth on 127.0.0.1 only (any password works; Hyperdrive's local
# connection string needs one). PG_FAST=1 trades durability for speed (tests).
# Postgres refuses to run as root: as root, the server runs as the `postgres` user.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BIN="$(pg_bin_dir)"
[ -n "$BIN" ] || die "PostgreSQL server binaries not found: run make setup"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

prepare_dir() {
  local dir="$1"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    # The server user must be able to reach the folder (mktemp clones are 0700).
    local p="$dir"
    while [ "$p" != "/" ]; do
      p="$(dirname "$p")"
      if ! runuser -u postgres -- test -x "$p"; then chmod o+x "$p"; fi
    done
  fi
}

cmd="${1:-}"; dir="${2:-}"
[ -n "$dir" ] || die "usage: pg.sh start|stop|running DIR [PORT [DB...]]"
dir="$(mkdir -p "$dir" && cd "$dir" && pwd)"
data="$dir/data"

case "$cmd" in
  start)
    port="${3:?port needed}"; shift 3
    prepare_dir "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
      as_pg "$BIN/initdb" -D "$data" -U ghosttools --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    if ! as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200"
      if [ "${PG_FAST:-0}" = 1 ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
      fi
      as_pg "$BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null \
        || { tail -20 "$dir/postgres.log" >&2; die "postgres did not start (port $port busy?)"; }
    fi
    for db in "$@"; do
      exists="$("$BIN/psql" -h 127.0.0.1 -p "$port" -U ghosttools -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'")"
      [ "$exists" = 1 ] || "$BIN/createdb" -h 127.0.0.1 -p "$port" -U ghosttools "$db"
    done
    ;;
  stop)
    if [ -f "$data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    ;;
  running)
    [ -f "$data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
    ;;
  *) die "unknown command $cmd" ;;
esac
