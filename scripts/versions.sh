#!/usr/bin/env bash
# Prints the versions of the toolchain in use, and which of them the project pins: `make setup`
# ends with it, so a report or a failing build can say exactly what it ran on.
#   pinned  the exact version is fixed here: worker-build (scripts/setup.sh), the wasm-bindgen
#           CLI (= Cargo.lock's wasm-bindgen), npm packages (package-lock.json)
#   system  what the machine brings (Rust with the wasm32 target, Node.js): not pinned
#   apt     Debian packages installed when missing (PostgreSQL, Chromium): whatever version the
#           machine's Debian release ships, not pinned
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

row() { printf '  %-7s %-17s %s\n' "$1" "$2" "${3:-missing}"; }
first_version() { grep -oE '[0-9]+(\.[0-9]+)+' | head -n 1; }
npm_version() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null; }

echo "versions in use (pinned: fixed by this repository; system, apt: not pinned):"
row pinned worker-build "$(worker-build --version 2>/dev/null | first_version)"
row pinned wasm-bindgen "$(wasm-bindgen --version 2>/dev/null | first_version) (Cargo.lock: $(wasm_bindgen_version))"
for pkg in wrangler esbuild binaryen maildev playwright-core axe-core; do
  row pinned "$pkg" "$(npm_version "$pkg")"
done
row system rustc "$(rustc --version 2>/dev/null | first_version)"
row system node "$(node --version 2>/dev/null | first_version)"
pg="$(pg_bin_dir)"
row apt postgresql "$([ -n "$pg" ] && "$pg/postgres" --version 2>/dev/null | first_version)"
row apt chromium "$(chromium --version 2>/dev/null | first_version)"
