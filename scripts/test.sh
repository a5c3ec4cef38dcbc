#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs (Node 24, npm packages, opa,
# PostgreSQL's server binaries, etcd, kube-apiserver, kubectl and helm; tests start their own servers),
# then typecheck, lint, policy rebuild-and-compare, bundle build, and every test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"
ensure_node
ensure_deps "$ROOT"
ensure_opa
ensure_postgres
ensure_iptables
ensure_kube
ensure_helm
cd "$ROOT"

log "typecheck"; npx tsc -p tsconfig.json
log "lint"; npx eslint .
log "policies: opa test, rebuild and compare with the committed bundles"; bash scripts/check-policies.sh
log "build bundles"; node scripts/build.ts
log "tests"
node --test --test-reporter=spec --test-concurrency=2 \
  "wire/**/*.test.ts" "cli/**/*.test.ts" "sidecar/**/*.test.ts" "controller/**/*.test.ts" "test/**/*.test.ts"
log "SDKs: Python and TypeScript suites"; bash scripts/test-sdks.sh
