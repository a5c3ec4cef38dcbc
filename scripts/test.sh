#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, then typecheck, lint, tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"
ensure_node
ensure_deps "$ROOT"
cd "$ROOT"

log "typecheck"; npx tsc -p tsconfig.json
log "lint"; npx eslint .
log "build bundles"; node scripts/build.ts
log "tests"
node --test --test-reporter=spec --test-concurrency=2 \
  "wire/**/*.test.ts" "cli/**/*.test.ts" "test/**/*.test.ts"
