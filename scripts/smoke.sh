#!/usr/bin/env bash
# `make smoke URL=https://…`: after a deploy, checks what a monitor and a customer would see —
# health is ok with the database reachable and the schema current, pages carry the security
# headers, the sign-in page serves its form, and the Stripe webhook refuses an unsigned and a
# wrongly signed event, and a short database soak (SMOKE_SOAK sequential health reads, 300 by
# default). Read-only: it changes nothing on the site (a refused event is not recorded). Exit 1
# when any check fails; each line says ok or FAIL with what was seen.
set -euo pipefail
url="${1:-}"
[ -n "$url" ] || { echo "usage: make smoke URL=https://your-site (or scripts/smoke.sh URL)" >&2; exit 2; }
url="${url%/}"
fail=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1${3:+ — $3}"; fail=1; fi; }
fetch() { curl -sS --max-time 15 "$@" 2>&1 || true; }

# Health: GET /api/health answers 200 {"status":"ok",…} with every check ok.
health="$(fetch -w '\n%{http_code}' "$url/api/health")"
health_code="${health##*$'\n'}" health="${health%$'\n'*}"
failing="$(grep -o '"failing":\[[^]]*\]' <<<"$health" || echo "not the health JSON: ${health:0:200}")"
check "health answers 200 ok" '[ "$health_code" = 200 ] && [[ "$health" == *"\"status\":\"ok\""* ]]' "HTTP $health_code, $failing"
check "database reachable" '[[ "$health" == *"\"database\":{\"status\":\"ok\""* ]]' "see /api/health"
check "schema up to date" '[[ "$health" == *"\"schema\":{\"status\":\"ok\""* ]]' "run the migrations: DATABASE_URL=… make migrate"
check "configuration complete" '[[ "$health" == *"\"configuration\":{\"status\":\"ok\""* ]]' "/api/health lists the variables"

# Security headers on a page.
headers="$(fetch -D - -o /dev/null "$url/")"
status_line="$(head -n1 <<<"$headers" | tr -d '\r')"
has() { grep -qiE "^$1" <<<"$headers"; }
check "landing page 200" 'grep -qE "^HTTP/[0-9.]+ 200" <<<"$headers"' "$status_line"
check "CSP with a nonce" 'has "content-security-policy:.*nonce-"'
check "CSP forbids framing" 'has "content-security-policy:.*frame-ancestors .none."'
check "X-Content-Type-Options nosniff" 'has "x-content-type-options: *nosniff"'
check "Referrer-Policy" 'has "referrer-policy: *strict-origin-when-cross-origin"'
check "X-Request-Id" 'has "x-request-id: *[^ ]"'
check "HSTS on https" '[[ "$url" != https://* ]] || has "strict-transport-security: *max-age=[1-9]"' "is NEXTAUTH_URL the https origin?"

# The sign-in page: its form posts to /signin with an email field and a CSRF token.
signin="$(fetch -w '\n%{http_code}' "$url/signin")"
signin_code="${signin##*$'\n'}"
check "sign-in page 200" '[ "$signin_code" = 200 ]' "HTTP $signin_code"
check "sign-in form (email, CSRF)" '[[ "$signin" == *"action=\"/signin\""* && "$signin" == *"name=\"email\""* && "$signin" == *"name=\"csrf\""* ]]'

# The Stripe webhook: an unsigned and a wrongly signed event are refused with 400, recorded
# nowhere. 503 means the Stripe settings are missing on the Worker.
event='{"id":"evt_smoke","type":"checkout.session.completed","data":{"object":{}}}'
webhook() { fetch -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' "$@" --data "$event" "$url/api/stripe/webhook"; }
unsigned="$(webhook)"
forged="$(webhook -H "stripe-signature: t=$(date +%s),v1=$(printf '0%.0s' {1..64})")"
why() { case "$1" in 503) echo "503: STRIPE_* not configured on the Worker";; 2*) echo "$1: the event was ACCEPTED";; *) echo "HTTP $1";; esac; }
check "unsigned webhook refused (400)" '[ "$unsigned" = 400 ]' "$(why "$unsigned")"
check "forged webhook signature refused (400)" '[ "$forged" = 400 ]' "$(why "$forged")"

# A database soak: SMOKE_SOAK (300) sequential health polls, each a multi-row read through
# Hyperdrive (the shape public reports say tokio-postgres can fail to follow through its
# pooler). Any 5xx fails the smoke; every status is counted.
soak="${SMOKE_SOAK:-300}"
statuses="$(for _ in $(seq "$soak"); do curl -sS --max-time 15 -o /dev/null -w '%{http_code}\n' "$url/api/health" 2>/dev/null || echo 000; done | sort | uniq -c | awk '{printf "%s%s×%s", sep, $2, $1; sep=", "}')"
check "database soak: $soak sequential health reads, no 5xx" '! grep -qE "(^|, )(5[0-9][0-9]|000)×" <<<"$statuses"' "statuses: $statuses"
echo "      soak statuses: $statuses"

if [ "$fail" = 0 ]; then echo "smoke: all checks passed for $url"; else echo "smoke: FAILED for $url"; fi
exit "$fail"
