#!/usr/bin/env bash
# `make test`: install what is missing, build the Worker, run the native unit tests and the
# end-to-end suite (which starts Postgres, the fakes and wrangler dev itself), and stop
# everything it started again — also when a test fails or the run is interrupted.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

E2E="$ROOT/target/e2e"
sweep() {
  # Processes the e2e harness started (each leads its own process group). A pid is only
  # trusted while its process still works inside this checkout's target/e2e: pids get reused.
  if [ -f "$E2E/pids" ]; then
    while read -r pid; do
      case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in
        "$E2E"/*) kill -KILL -- "-$pid" 2>/dev/null || true ;;
      esac
    done <"$E2E/pids"
    rm -f "$E2E/pids"
  fi
  for cluster in "$E2E"/pg "$E2E"/pg-*; do
    [ -d "$cluster/data" ] && scripts/pg.sh stop "$cluster" 2>/dev/null || true
  done
}
trap sweep EXIT INT TERM
sweep

scripts/setup.sh
say "building the Worker (release wasm)"
make -s wasm
say "deploy check (wrangler deploy --dry-run: the bundle builds and fits the size limit)"
scripts/deploy-check.sh
say "unit tests"
cargo test --quiet --workspace --lib --bins
say "fuzzing the parsers briefly (FUZZ_CASES=${FUZZ_CASES:-500} per target; make fuzz runs long)"
cargo test --quiet --test fuzz
say "end-to-end tests (workerd + Postgres + fakes)"
cargo test --quiet --test e2e
