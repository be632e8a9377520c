# Shared helpers for the scripts in this folder. Source it; don't run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false

say() { printf '\033[1;35m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as root when we are not root (apt-get).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

# The folder holding initdb/pg_ctl/postgres (newest installed major version), or empty.
pg_bin_dir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  d="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")"
  [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && echo "$d"
}

# The wasm-bindgen version Cargo.lock resolved: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

# Environment for worker-build: our pinned tools instead of downloads.
export_build_env() {
  export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
  export ESBUILD_BIN="$ROOT/node_modules/esbuild/bin/esbuild"
  export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
  GHOSTTOOLS_BUILD="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo dev)"
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    GHOSTTOOLS_BUILD="$GHOSTTOOLS_BUILD-dirty"
  fi
  export GHOSTTOOLS_BUILD
}
