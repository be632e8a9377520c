#!/usr/bin/env bash
# `make bench-ratelimit`: what the rate limiter costs, measured in one run on this machine.
#
# Starts the release Worker twice under `wrangler dev` (loopback only, no database needed):
#   unlimited  RATE_LIMITS=pages=off,general_api=off
#   limited    the production page policy (1200/min per client), never refused (see below):
#              page views are counted in the isolate and reported to the client's Durable
#              Object in batches (rate_limit::tally), so this measures the gate as pages pay
#              it; plus RATE_LIMITS=stripe_webhook=1/1d for the flood below. The cost of one
#              exact decision (fail-closed policies) is the rate-limited target of `make bench`
# and drives the landing page of each with wrk, straight at the Worker's own port (wrangler's
# entry proxy would be the bottleneck and hide the difference), alternating the two so both see
# the same machine: at concurrency 1 (the latency a decision adds) and 8 (decisions per second).
# Requests rotate over 256 client IPs (CF-Connecting-IP), i.e. 256 limiter objects, so no
# client nears its limit below ~5000 req/s. Last, one
# client floods a route it is over the limit for: refusals answered from the isolate's memory.
#
# Env: BENCH_SECONDS (per run, default 4), BENCH_ROUNDS (default 2). Takes about a minute.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SECONDS_PER_RUN="${BENCH_SECONDS:-4}"
ROUNDS="${BENCH_ROUNDS:-2}"

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  as_root apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq wrk >/dev/null; }
fi
scripts/setup.sh
say "building the release Worker"
make -s wasm

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ghosttools-bench.XXXXXX")"
groups=()
cleanup() {
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  sleep 2
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# Starts wrangler dev with RATE_LIMITS=$2 from a copy of wrangler.toml (no build step, absolute
# paths, its own .dev.vars and state) in a process group of its own; sets WORKER_PORT to the
# Worker's own port.
start_worker() {
  local name="$1" limits="$2" dir="$WORK/$1" port
  mkdir -p "$dir"
  port="$(free_port)"
  awk -v root="$ROOT" '
    /^\[/ { skip = ($0 == "[build]") }
    skip { next }
    /^main = / { print "main = \"" root "/build/worker/shim.mjs\""; next }
    /^directory = / { print "directory = \"" root "/static\""; next }
    { print }' wrangler.toml >"$dir/wrangler.toml"
  cat >"$dir/.dev.vars" <<VARS
ENVIRONMENT=test
NEXTAUTH_URL=http://127.0.0.1:$port
NEXTAUTH_SECRET=bench-only-secret-0123456789abcdef0123
RATE_LIMITS=$limits
VARS
  (cd "$dir" && NO_COLOR=1 exec setsid wrangler dev --config "$dir/wrangler.toml" \
      --ip 127.0.0.1 --port "$port" --inspector-port "$(free_port)" --persist-to "$dir/state" \
      --show-interactive-dev-session=false >"$dir/log" 2>&1) &
  local pid=$!
  groups+=("$pid")
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$pid" 2>/dev/null || { tail -30 "$dir/log" >&2; die "wrangler dev ($name) exited"; }
    sleep 0.2
  done
  # The Worker's own port: a loopback port of this wrangler's workerd, other than the entry
  # port, that answers / with our X-Request-Id header.
  local pids p
  pids="$(pgrep -g "$pid" workerd | paste -sd'|')"
  for p in $(ss -ltnpH | grep -E "pid=($pids)," | awk '{print $4}' | sed 's/.*://' | sort -u); do
    [ "$p" = "$port" ] && continue
    if curl -s -m 2 -D - -o /dev/null -H "CF-Connecting-IP: 192.0.2.1" "http://127.0.0.1:$p/" \
        | grep -qi '^x-request-id:'; then
      WORKER_PORT="$p"; return
    fi
  done
  die "cannot find the Worker's own port for $name"
}

cat >"$WORK/rotate.lua" <<'LUA'
-- Each request comes from one of 256 client IPs (one limiter object each).
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, { ["CF-Connecting-IP"] = "198.18." .. (math.floor(n / 128) % 2) .. "." .. (n % 128 + 1) })
end
LUA
cat >"$WORK/flood.lua" <<'LUA'
wrk.headers["CF-Connecting-IP"] = "198.19.0.1"
LUA

say "starting the unlimited and the limited Worker"
start_worker unlimited "pages=off,general_api=off,stripe_webhook=off"
UNLIMITED="$WORKER_PORT"
start_worker limited "stripe_webhook=1/1d"
LIMITED="$WORKER_PORT"
curl -sf -D - -o /dev/null -H "CF-Connecting-IP: 192.0.2.2" "http://127.0.0.1:$LIMITED/" \
  | grep -qi '^ratelimit-limit: 1200' || die "the limited Worker does not limit"
curl -sf -D - -o /dev/null "http://127.0.0.1:$UNLIMITED/" | grep -qi '^ratelimit-limit' \
  && die "the unlimited Worker limits"

# run <port> <connections> <script> <path> → "req/s p50_ms p99_ms non2xx"
run() {
  local out
  out="$(wrk -t1 -c"$2" -d"${SECONDS_PER_RUN}s" --latency -s "$3" "http://127.0.0.1:$1$4")"
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad + 0 }' <<<"$out"
}

say "warming up"
run "$UNLIMITED" 4 "$WORK/rotate.lua" / >/dev/null
run "$LIMITED" 4 "$WORK/rotate.lua" / >/dev/null

declare -A sum_rps sum_p50 sum_p99
for round in $(seq 1 "$ROUNDS"); do
  for c in 1 8; do
    for which in unlimited limited; do
      port="$UNLIMITED"; [ "$which" = limited ] && port="$LIMITED"
      read -r rps p50 p99 bad < <(run "$port" "$c" "$WORK/rotate.lua" /)
      [ "$bad" = 0 ] || die "$which: $bad responses were not 2xx"
      printf '  round %d  c=%d  %-9s %7s req/s  p50 %7s ms  p99 %7s ms\n' "$round" "$c" "$which" "$rps" "$p50" "$p99" >&2
      k="$which/$c"
      sum_rps[$k]=$(awk -v a="${sum_rps[$k]:-0}" -v b="$rps" 'BEGIN { print a + b }')
      sum_p50[$k]=$(awk -v a="${sum_p50[$k]:-0}" -v b="$p50" 'BEGIN { print a + b }')
      sum_p99[$k]=$(awk -v a="${sum_p99[$k]:-0}" -v b="$p99" 'BEGIN { print a + b }')
    done
  done
done

read -r flood_rps flood_p50 _ flood_bad < <(run "$LIMITED" 8 "$WORK/flood.lua" /api/stripe/webhook)

mean() { awk -v s="$1" -v n="$ROUNDS" "BEGIN { printf \"$2\", s / n }"; }
u1=$(mean "${sum_p50[unlimited/1]}" %.3f); l1=$(mean "${sum_p50[limited/1]}" %.3f)
u99=$(mean "${sum_p99[unlimited/1]}" %.3f); l99=$(mean "${sum_p99[limited/1]}" %.3f)
u8=$(mean "${sum_rps[unlimited/8]}" %.0f); l8=$(mean "${sum_rps[limited/8]}" %.0f)
u8p=$(mean "${sum_p50[unlimited/8]}" %.3f); l8p=$(mean "${sum_p50[limited/8]}" %.3f)

cat <<REPORT

Rate limiter benchmark — GET / under wrangler dev (release build), ${ROUNDS} alternating rounds of ${SECONDS_PER_RUN} s,
$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ). Shared machine: compare the ratios, not the absolute numbers.

                               unlimited      limited     limited / unlimited
  latency p50, 1 connection    ${u1} ms     ${l1} ms    +$(awk -v a="$l1" -v b="$u1" 'BEGIN { printf "%.3f ms (%.2fx)", a - b, a / b }')
  latency p99, 1 connection    ${u99} ms     ${l99} ms    $(awk -v a="$l99" -v b="$u99" 'BEGIN { printf "%.2fx", a / b }')
  throughput, 8 connections    ${u8} req/s    ${l8} req/s   $(awk -v a="$l8" -v b="$u8" 'BEGIN { printf "%.2fx", a / b }')
  latency p50, 8 connections   ${u8p} ms     ${l8p} ms    $(awk -v a="$l8p" -v b="$u8p" 'BEGIN { printf "%.2fx", a / b }')

  page views per second with the production page policy (limited, 8 connections, counted in batches): ${l8}
  refusals per second, one client over its limit (answered from the isolate's memory): ${flood_rps} (${flood_bad} non-2xx, p50 ${flood_p50} ms)
REPORT
