#!/usr/bin/env bash
# `make deploy-check`: proves the Worker bundles for Cloudflare and fits the upload size limit,
# with no network and no login. `wrangler deploy --dry-run --outdir target/deploy` runs the
# [build] command of wrangler.toml (`make -s wasm`), bundles the shim and the wasm and reads the
# static assets, prints "Total Upload: <raw> KiB / gzip: <gzip> KiB" and stops before anything
# is sent (in wrangler 4.86 a dry run asks for no account and calls no API; the update check
# gives up on its own and metrics are off). Fails when the gzip size is over the limit:
# DEPLOY_LIMIT_KIB, default 3072 (3 MiB: Workers Free; Workers Paid allows 10240).
# WRANGLER overrides the wrangler command and DEPLOY_OUTDIR the output folder (tests point them
# at a fake and at a folder of their own: two checks at once must not empty each other's).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
limit_kib="${DEPLOY_LIMIT_KIB:-3072}"
out="${DEPLOY_OUTDIR:-$ROOT/target/deploy}"
rm -rf "$out"
mkdir -p "$out"
read -r -a wrangler <<<"${WRANGLER:-wrangler}"
if ! log="$("${wrangler[@]}" deploy --dry-run --outdir "$out" 2>&1)"; then
  printf '%s\n' "$log" >&2
  die "wrangler deploy --dry-run failed: the Worker does not bundle (output above)"
fi
# No colours (wrangler colours the figures on a terminal).
line="$(sed -E 's/\x1b\[[0-9;]*m//g' <<<"$log" | grep -o 'Total Upload: .*' || true)"
if [[ ! "$line" =~ Total\ Upload:\ ([0-9.]+)\ KiB\ /\ gzip:\ ([0-9.]+)\ KiB ]]; then
  printf '%s\n' "$log" >&2
  die "wrangler printed no 'Total Upload: … KiB / gzip: … KiB' line (output above)"
fi
raw="${BASH_REMATCH[1]}" gzip="${BASH_REMATCH[2]}"
echo "bundle: $raw KiB raw, $gzip KiB gzip (limit $limit_kib KiB gzip); files in ${out#"$ROOT"/}"
if awk -v g="$gzip" -v l="$limit_kib" 'BEGIN { exit !(g > l) }'; then
  die "the Worker is $gzip KiB gzip, over the $limit_kib KiB upload limit: Cloudflare would refuse it (see make size)"
fi
echo "deploy-check: ok (dry run, nothing uploaded)"
