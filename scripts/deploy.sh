#!/usr/bin/env bash
# The deployed version is the commit deployed: `make deploy` runs `scripts/deploy.sh --check`
# first (before preflight and migrations) and `scripts/deploy.sh` last. Both refuse a tree with
# uncommitted changes or untracked files (what would be uploaded would be no commit at all).
# The last step runs `wrangler deploy --var GHOSTTOOLS_VERSION:<commit>`: the Worker reports
# that in /api/health and to Sentry, whether or not the wasm was rebuilt (a commit touching
# only documents or scripts does not rebuild it, so the build's own id can be older).
# WRANGLER overrides the wrangler command (tests point it at a fake).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

dirty="$(git status --porcelain 2>/dev/null)" || die "not a git checkout: cannot tell which commit would be deployed"
if [ -n "$dirty" ]; then
  printf '%s\n' "$dirty" >&2
  die "the tree has uncommitted changes or untracked files (above): commit or stash them, so the deployed version is a commit"
fi
version="$(git rev-parse --short=12 HEAD)"
if [ "${1:-}" = "--check" ]; then
  echo "deploy: clean tree at $version"
  exit 0
fi
read -r -a wrangler <<<"${WRANGLER:-npx wrangler}"
say "deploying $version"
"${wrangler[@]}" deploy --var "GHOSTTOOLS_VERSION:$version"
