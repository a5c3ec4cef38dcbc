#!/usr/bin/env bash
# The SDKs' own suites: the Python SDK's pytest run (in its virtualenv, made by ensure_python_sdk) and the
# TypeScript SDK's typecheck and node:test files (vectors, API, the dual ESM/CJS build on this Node and on
# the machine's older system Node). The cross-language tests and the examples live in test/sdk/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"
ensure_node
ensure_python_sdk "$ROOT"
cd "$ROOT"

log "Python SDK: pytest"; (cd sdk/python && "$INTENTGATE_PYTHON" -m pytest -q -p no:cacheprovider)
log "TypeScript SDK: typecheck"; npx tsc -p sdk/typescript/tsconfig.json
log "TypeScript SDK: tests"; node --test --test-reporter=spec --test-concurrency=1 "sdk/typescript/test/*.test.ts"
