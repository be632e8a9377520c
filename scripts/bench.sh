#!/usr/bin/env bash
# `make bench`: how fast the Worker is, ranked against baselines measured in the same run.
#
# Installs what is missing (wrk, the bench's own npm packages), builds the release Worker,
# starts a private Postgres cluster (PG_FAST=1, its own port) with the migrations applied, then
# hands over to bench/run.mjs, which starts our Worker, a trivial JavaScript Worker (the
# ceiling) and the Hono peer under `wrangler dev`, measures them (loopback only) and prints the
# table and the budgets. See BENCHMARKS.md for what is measured and how to read it.
#
# Env: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (interleaved rounds, default 3),
# BENCH_CONNECTIONS (default 8), BENCH_ONLY (comma-separated target names), BENCH_STRICT=1
# (exit 1 when a budget fails), BENCH_DB_DELAY_MS (far copies of the database routes, Postgres
# that many ms away each way), BENCH_PIN=0 (no taskset pinning of wrk and the Workers),
# BENCH_MAX_SPREAD (how far a judged ratio may spread across rounds, default 0.15).
# Results: bench/results/latest.{json,md}.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  as_root apt-get install -y -qq wrk >/dev/null 2>&1 \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq wrk >/dev/null; }
fi
scripts/setup.sh
if [ ! -f bench/node_modules/.package-lock.json ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  say "installing the bench's npm packages (bench/package-lock.json)"
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
  touch bench/node_modules/.package-lock.json
fi
say "building the release Worker"
make -s wasm
if [ ! -f bench/floor/build/index_bg.wasm ] || [ -n "$(find bench/floor/src bench/floor/Cargo.toml -newer bench/floor/build/index_bg.wasm)" ]; then
  say "building the Rust floor (bench/floor)"
  (export_build_env && cd bench/floor && worker-build --release >/dev/null)
fi

WORK="$ROOT/target/bench"
PG_DIR="$WORK/pg"
mkdir -p "$WORK"
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
cleanup() { scripts/pg.sh stop "$PG_DIR" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
scripts/pg.sh stop "$PG_DIR" 2>/dev/null || true
PG_PORT="$(free_port)"
say "postgres on 127.0.0.1:$PG_PORT (fsync off, data in target/bench/pg)"
PG_FAST=1 scripts/pg.sh start "$PG_DIR" "$PG_PORT"
# A fresh database every run: no rows left over from an earlier run change the figures.
psql="$(pg_bin_dir)/psql"
"$psql" -q -h 127.0.0.1 -p "$PG_PORT" -U ghosttools -d postgres \
  -c "DROP DATABASE IF EXISTS ghosttools_bench WITH (FORCE)" -c "CREATE DATABASE ghosttools_bench"
DB_URL="postgres://ghosttools:bench@127.0.0.1:$PG_PORT/ghosttools_bench"
say "applying migrations"
DATABASE_URL="$DB_URL" cargo run --quiet --bin migrate

BENCH_DATABASE_URL="$DB_URL" BENCH_WORK="$WORK" node bench/run.mjs
