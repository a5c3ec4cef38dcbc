#!/usr/bin/env bash
# Fails when the committed policy artifacts (policies/**/build/, policies/build-manifest.json) are
# not exactly what a fresh build of the committed sources gives: a policy edited without
# rebuilding, or a hand-edited wasm, never reaches a sidecar unnoticed. Like Gatekeeper's
# regenerate-and-diff. Rebuilds into a temp dir; the checkout is left untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"

FRESH="$(mktemp -d)"
trap 'rm -rf "$FRESH"' EXIT
bash "$ROOT/scripts/build-policies.sh" "$FRESH"

COMMITTED="$ROOT/policies"
FIX="run scripts/build-policies.sh and commit policies/"
if [ ! -f "$COMMITTED/build-manifest.json" ]; then
  log "policies/build-manifest.json is missing: $FIX"
  exit 1
fi

failed=0
# Every artifact of the fresh build must exist, byte for byte, in the checkout...
while IFS= read -r -d '' file; do
  rel="${file#"$FRESH/"}"
  if [ ! -f "$COMMITTED/$rel" ]; then
    log "policies/$rel is missing"
    failed=1
  elif ! cmp -s "$file" "$COMMITTED/$rel"; then
    log "policies/$rel differs from a fresh build (committed sha256 $(sha256sum "$COMMITTED/$rel" | cut -c1-12), fresh $(sha256sum "$file" | cut -c1-12))"
    failed=1
  fi
done < <(find "$FRESH" -type f \( -name policy.wasm -o -name data.json -o -name build-manifest.json \) -print0 | sort -z)

# ...and the checkout must hold no compiled artifact that the sources no longer produce.
while IFS= read -r -d '' file; do
  rel="${file#"$COMMITTED/"}"
  if [ ! -f "$FRESH/$rel" ]; then
    log "policies/$rel is stale: no policy source builds it any more"
    failed=1
  fi
done < <(find "$COMMITTED" -path '*/build/*' -type f -print0 | sort -z)

if [ "$failed" -ne 0 ]; then
  log "committed policy artifacts do not match their sources: $FIX"
  exit 1
fi
log "policy artifacts match a fresh build ($(grep -c '"wasm_sha256"' "$COMMITTED/build-manifest.json") policies)"
