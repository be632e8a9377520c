#!/usr/bin/env bash
# `make dev`: the whole product on this machine — a private Postgres cluster in .pg/ on port
# 54329, migrations applied, a mail inbox (maildev: SMTP 1025, web 1080), local stand-ins for
# Stripe, OpenAI and Google when .dev.vars has no keys for them (the e2e fakes, fakes/), and
# wrangler dev on 8787. Real keys in .dev.vars use the real services. Ctrl-C stops everything.
#
# Every port and place can be moved (the e2e test runs a second copy beside yours): APP_PORT,
# PG_PORT, MAIL_SMTP_PORT, MAIL_WEB_PORT, STRIPE_STANDIN_PORT (12111), OPENAI_STANDIN_PORT
# (12112), GOOGLE_STANDIN_PORT (12113), DEV_VARS (.dev.vars), PG_DIR (.pg), DEV_STATE
# (.wrangler: the Worker's local storage and the variables this script hands it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PG_PORT="${PG_PORT:-54329}"
APP_PORT="${APP_PORT:-8787}"
MAIL_SMTP_PORT="${MAIL_SMTP_PORT:-1025}"
MAIL_WEB_PORT="${MAIL_WEB_PORT:-1080}"
STRIPE_STANDIN_PORT="${STRIPE_STANDIN_PORT:-12111}"
OPENAI_STANDIN_PORT="${OPENAI_STANDIN_PORT:-12112}"
GOOGLE_STANDIN_PORT="${GOOGLE_STANDIN_PORT:-12113}"
DEV_VARS="${DEV_VARS:-.dev.vars}"
PG_DIR="${PG_DIR:-.pg}"
DEV_STATE="${DEV_STATE:-.wrangler}"
DB_URL="postgres://ghosttools:dev@127.0.0.1:$PG_PORT/ghosttools"
SITE="http://localhost:$APP_PORT"

scripts/setup.sh

if [ ! -f "$DEV_VARS" ]; then
  say "creating $DEV_VARS from .dev.vars.example"
  cp .dev.vars.example "$DEV_VARS"
fi

# The value $DEV_VARS gives a variable (the last line naming it), or nothing.
dev_var() {
  sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=[[:space:]]*//p" "$DEV_VARS" | tail -n 1 |
    sed -E "s/[[:space:]]+\$//; s/^\"(.*)\"\$/\\1/; s/^'(.*)'\$/\\1/"
}

# An ENVIRONMENT exported in the shell wins over $DEV_VARS (production makes the stand-ins refuse).
environment="${ENVIRONMENT:-$(dev_var ENVIRONMENT)}"
environment="${environment:-development}"

started_pg=0
pids=()
cleanup() {
  trap - EXIT INT TERM
  say "stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_pg" = 1 ]; then scripts/pg.sh stop "$PG_DIR"; fi
}
trap cleanup EXIT INT TERM

if ! scripts/pg.sh running "$PG_DIR"; then started_pg=1; fi
say "postgres on 127.0.0.1:$PG_PORT (data in $PG_DIR/)"
scripts/pg.sh start "$PG_DIR" "$PG_PORT" ghosttools

say "applying migrations"
DATABASE_URL="$DB_URL" cargo run --quiet --bin migrate

say "mail inbox (maildev)"
maildev --smtp "$MAIL_SMTP_PORT" --web "$MAIL_WEB_PORT" --ip 127.0.0.1 --silent >/dev/null 2>&1 &
pids+=($!)

# A service is real when $DEV_VARS has its key; otherwise a local stand-in takes its place.
standin_args=()
stripe_line="real (test keys from $DEV_VARS). Forward its webhooks: stripe listen --forward-to localhost:$APP_PORT/api/stripe/webhook"
openai_line="real (OPENAI_API_KEY from $DEV_VARS)"
google_line="real (GOOGLE_CLIENT_ID from $DEV_VARS; redirect URI $SITE/signin/google/callback)"
if [ -z "$(dev_var STRIPE_SECRET_KEY)" ]; then
  standin_args+=(--stripe "$STRIPE_STANDIN_PORT" --webhook "http://127.0.0.1:$APP_PORT/api/stripe/webhook")
  stripe_line="stand-in on http://127.0.0.1:$STRIPE_STANDIN_PORT (card 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined)"
fi
if [ -z "$(dev_var OPENAI_API_KEY)" ]; then
  standin_args+=(--openai "$OPENAI_STANDIN_PORT")
  openai_line="stand-in on http://127.0.0.1:$OPENAI_STANDIN_PORT (writes from your brief, transcribes any audio)"
fi
if [ -z "$(dev_var GOOGLE_CLIENT_ID)" ]; then
  standin_args+=(--google "$GOOGLE_STANDIN_PORT")
  google_line="stand-in on http://127.0.0.1:$GOOGLE_STANDIN_PORT (any address signs in)"
fi

mkdir -p "$DEV_STATE"
standin_vars="$DEV_STATE/standins.env"
rm -f "$standin_vars"
if [ "${#standin_args[@]}" -gt 0 ]; then
  say "local stand-ins"
  cargo build --quiet -p ghosttools-fakes --bin standins
  ENVIRONMENT="$environment" "${CARGO_TARGET_DIR:-target}/debug/standins" "${standin_args[@]}" --vars-out "$standin_vars" &
  pids+=($!)
  for _ in $(seq 1 100); do
    [ -f "$standin_vars" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || die "the stand-ins did not start (see above)"
    sleep 0.1
  done
  [ -f "$standin_vars" ] || die "the stand-ins did not start in 10 s"
else
  standin_vars=/dev/null
fi

# What the Worker gets: development defaults, then the stand-ins, then $DEV_VARS, whose
# non-empty values win (wrangler reads this instead of .dev.vars; it holds your keys: 0600).
worker_vars="$DEV_STATE/dev-vars.env"
(
  umask 077
  {
    echo "ENVIRONMENT=$environment"
    echo "NEXTAUTH_URL=$SITE"
    echo "NEXTAUTH_SECRET=dev-only-secret-change-me-0123456789abcdef"
    echo "EMAIL_SERVER=smtp://dev:dev@127.0.0.1:$MAIL_SMTP_PORT"
    echo "EMAIL_FROM=GhostTools <noreply@localhost>"
    echo "PODSCRIBE_ENABLED=true"
    cat "$standin_vars"
    grep -v -E '^[[:space:]]*(export[[:space:]]+)?[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=[[:space:]]*$' "$DEV_VARS" || true
  } >"$worker_vars"
)

cat >&2 <<URLS

  GhostTools     $SITE
  Health         $SITE/api/health
  Mail inbox     http://localhost:$MAIL_WEB_PORT   (SMTP on 127.0.0.1:$MAIL_SMTP_PORT)
  Postgres       $DB_URL

  Stripe         $stripe_line
  OpenAI         $openai_line
  Google         $google_line

  Ctrl-C stops everything.

URLS

# wrangler builds the Worker ([build] in wrangler.toml) and rebuilds on changes.
CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB="$DB_URL" \
  wrangler dev --ip 127.0.0.1 --port "$APP_PORT" --env-file "$worker_vars" \
  --persist-to "$DEV_STATE/state" --show-interactive-dev-session=false &
pids+=($!)
wait "${pids[-1]}"
