#!/usr/bin/env bash
# `make size`: the Worker bundle as Cloudflare would receive it — the wasm raw and gzipped, and
# wrangler's own total upload figure (from a dry-run deploy; nothing is uploaded).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
make -s wasm >/dev/null
wasm=build/index_bg.wasm
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
upload="$(wrangler deploy --dry-run --outdir "$out" 2>&1 | grep -o 'Total Upload: .*' || echo 'Total Upload: (dry run failed)')"
awk -v r="$raw" -v g="$gz" 'BEGIN {
  printf "wasm raw   %8.1f KiB\n", r / 1024
  printf "wasm gzip  %8.1f KiB   (budget 700 KiB; Cloudflare free limit 3072 KiB)\n", g / 1024 }'
echo "$upload"
