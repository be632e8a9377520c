#!/usr/bin/env bash
# Installs, idempotently, what building, running and testing GhostTools needs on a Debian
# machine that has Rust and Node: the wasm target, and pinned: worker-build, the wasm-bindgen CLI
# matching Cargo.lock, npm packages from package-lock.json (wrangler, esbuild, binaryen's
# wasm-opt, maildev, playwright-core); not pinned, from apt when missing: the PostgreSQL server
# and Chromium for the browser tests (the versions the machine's Debian release ships). Ends by
# printing the versions in use (scripts/versions.sh). A second run only checks: seconds.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

WORKER_BUILD_VERSION=0.8.7

command -v cargo >/dev/null || die "Rust is required (https://rustup.rs)"
command -v npm >/dev/null || die "Node.js and npm are required"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [ "$(worker-build --version 2>/dev/null | grep -oE "[0-9]+\.[0-9]+\.[0-9]+")" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

WBG="$(wasm_bindgen_version)"
[ -n "$WBG" ] || die "cannot read the wasm-bindgen version from Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WBG" ]; then
  say "installing wasm-bindgen-cli $WBG (must equal Cargo.lock; a few minutes, once)"
  # Not --locked: the CLI's own lock file pins a yanked crate.
  cargo install wasm-bindgen-cli --version "$WBG" --force
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi

if [ -z "$(pg_bin_dir)" ]; then
  say "installing the PostgreSQL server (Debian package postgresql)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  [ -n "$(pg_bin_dir)" ] || die "PostgreSQL server binaries still missing after install"
fi

if ! command -v chromium >/dev/null; then
  say "installing Chromium for the browser tests (Debian package chromium)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null || die "chromium still missing after install"
fi

if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  # Postgres refuses to run as root; scripts/pg.sh runs it as this user instead.
  as_root useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

scripts/versions.sh
