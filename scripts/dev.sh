#!/usr/bin/env bash
# `make dev`: the product on this machine with embedded defaults — a private Postgres cluster in
# .pg/ on port 54329, migrations applied, a mail inbox (maildev: SMTP 1025, web 1080),
# .dev.vars from .dev.vars.example, and wrangler dev on 8787. Ctrl-C stops everything started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PG_PORT="${PG_PORT:-54329}"
APP_PORT="${APP_PORT:-8787}"
MAIL_SMTP_PORT="${MAIL_SMTP_PORT:-1025}"
MAIL_WEB_PORT="${MAIL_WEB_PORT:-1080}"
DB_URL="postgres://ghosttools:dev@127.0.0.1:$PG_PORT/ghosttools"

scripts/setup.sh

if [ ! -f .dev.vars ]; then
  say "creating .dev.vars from .dev.vars.example"
  cp .dev.vars.example .dev.vars
fi

started_pg=0
pids=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_pg" = 1 ]; then scripts/pg.sh stop .pg; fi
}
trap cleanup EXIT INT TERM

if ! scripts/pg.sh running .pg; then started_pg=1; fi
say "postgres on 127.0.0.1:$PG_PORT (data in .pg/)"
scripts/pg.sh start .pg "$PG_PORT" ghosttools

say "applying migrations"
DATABASE_URL="$DB_URL" cargo run --quiet --bin migrate

say "mail inbox (maildev)"
maildev --smtp "$MAIL_SMTP_PORT" --web "$MAIL_WEB_PORT" --ip 127.0.0.1 --silent >/dev/null 2>&1 &
pids+=($!)

cat >&2 <<URLS

  GhostTools     http://localhost:$APP_PORT
  Health         http://localhost:$APP_PORT/api/health
  Mail inbox     http://localhost:$MAIL_WEB_PORT   (SMTP on 127.0.0.1:$MAIL_SMTP_PORT)
  Postgres       $DB_URL

  Ctrl-C stops everything.

URLS

# wrangler builds the Worker ([build] in wrangler.toml) and rebuilds on changes.
CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB="$DB_URL" \
  wrangler dev --ip 127.0.0.1 --port "$APP_PORT" --show-interactive-dev-session=false &
pids+=($!)
wait "${pids[-1]}"
