#!/usr/bin/env bash
# `make smoke URL=https://…`: after a deploy, checks what a monitor and a customer would see —
# health is ok with the database reachable, pages carry the security headers, and the Stripe
# webhook refuses an unsigned event. Read-only: it changes nothing on the site.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
url="${1:?usage: smoke.sh https://your-site}"
url="${url%/}"
fail=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; fail=1; fi; }

health="$(curl -fsS --max-time 15 "$url/api/health" || true)"
check "health answers ok" '[[ "$health" == *"\"status\":\"ok\""* ]]'
check "database reachable" '[[ "$health" == *"\"database\":{\"status\":\"ok\""* ]]'
headers="$(curl -sS -D - -o /dev/null --max-time 15 "$url/" || true)"
check "landing page 200" 'grep -qE "^HTTP/[0-9.]+ 200" <<<"$headers"'
check "CSP with a nonce" 'grep -qi "^content-security-policy:.*nonce-" <<<"$headers"'
check "HSTS on https" '[[ "$url" != https://* ]] || grep -qi "^strict-transport-security:" <<<"$headers"'
code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 15 -X POST -H 'content-type: application/json' --data '{}' "$url/api/stripe/webhook" || true)"
check "unsigned webhook refused (400)" '[ "$code" = 400 ]'
exit "$fail"
