#!/usr/bin/env bash
# Checks, tests and compiles every policy under policies/ (each folder holding .rego files, and
# the fixtures under policies/testdata/) to the wasm the sidecar evaluates, then records the
# sha256 of each artifact in build-manifest.json.
#
#   scripts/build-policies.sh            write into policies/ (commit the result)
#   scripts/build-policies.sh OUT_DIR    write the same tree under OUT_DIR (check-policies.sh)
#
# Output is deterministic: opa runs inside each policy folder on relative file names, because
# the paths end up in the wasm (error locations). Same opa version + same sources = same bytes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"
ensure_node
ensure_deps "$ROOT"
ensure_opa
export LC_ALL=C # glob order, hence manifest order, must not depend on the locale

OUT="$(mkdir -p "${1:-$ROOT/policies}" && cd "${1:-$ROOT/policies}" && pwd)"
ENTRYPOINT="intentgate/decision"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The SDK's capabilities make `opa build` refuse any builtin opa-wasm cannot run, instead of the
# call failing at evaluation time; rego_v1 is the feature OPA requires to parse v1 syntax.
CAPS="$WORK/capabilities.json"
node -e '
  const caps = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  caps.features = ["rego_v1"];
  process.stdout.write(JSON.stringify(caps, null, 2) + "\n");
' "$ROOT/node_modules/@open-policy-agent/opa-wasm/capabilities.json" >"$CAPS"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

: >"$WORK/manifest.tsv"
built=0
for dir in "$ROOT"/policies/*/ "$ROOT"/policies/testdata/*/; do
  dir="${dir%/}"
  rel="${dir#"$ROOT/policies/"}"
  sources=() tests=() data=()
  for f in "$dir"/*.rego; do
    [ -e "$f" ] || continue
    case "$f" in *_test.rego) tests+=("$(basename "$f")") ;; *) sources+=("$(basename "$f")") ;; esac
  done
  [ "${#sources[@]}" -gt 0 ] || continue # policies/testdata itself, build/ folders, ...
  [ -f "$dir/data.json" ] && data=(data.json)
  if [ "${#tests[@]}" -eq 0 ]; then
    log "policies/$rel has no *_test.rego: every policy ships with opa unit tests"
    exit 1
  fi

  log "policies/$rel: fmt, check, test, build"
  (
    cd "$dir"
    if ! opa fmt --list --fail "${sources[@]}" "${tests[@]}" >"$WORK/fmt.txt"; then
      log "policies/$rel: not opa-formatted (run: opa fmt -w policies/$rel): $(tr '\n' ' ' <"$WORK/fmt.txt")"
      exit 1
    fi
    opa check --strict --capabilities "$CAPS" "${sources[@]}" "${data[@]}" >&2
    opa test "${sources[@]}" "${tests[@]}" "${data[@]}" >&2
    opa build -t wasm -e "$ENTRYPOINT" --capabilities "$CAPS" -o "$WORK/bundle.tar.gz" "${sources[@]}" "${data[@]}" >&2
  )

  dest="$OUT/$rel/build"
  mkdir -p "$dest"
  rm -f "$dest/policy.wasm" "$dest/data.json"
  # -O writes the member to stdout, so -P (keep the leading "/" of bundle paths) writes nothing
  # outside $dest; it only silences tar's warning about that slash.
  tar -xzOPf "$WORK/bundle.tar.gz" /policy.wasm >"$dest/policy.wasm"
  data_sha=""
  if [ "${#data[@]}" -gt 0 ]; then
    tar -xzOPf "$WORK/bundle.tar.gz" /data.json >"$dest/data.json"
    data_sha="$(sha256 "$dest/data.json")"
  fi
  printf '%s\t%s\t%s\n' "$rel" "$(sha256 "$dest/policy.wasm")" "$data_sha" >>"$WORK/manifest.tsv"
  built=$((built + 1))
done

[ "$built" -gt 0 ] || { log "no policies found under policies/"; exit 1; }

OPA_SEMVER="$(opa version | sed -n 's/^Version: //p')"
node -e '
  const [tsv, opa, entrypoint] = process.argv.slice(1);
  const policies = {};
  for (const line of require("node:fs").readFileSync(tsv, "utf8").split("\n")) {
    if (line === "") continue;
    const [name, wasm, data] = line.split("\t");
    policies[name] = {
      wasm: `${name}/build/policy.wasm`,
      wasm_sha256: wasm,
      data: data === "" ? null : `${name}/build/data.json`,
      data_sha256: data === "" ? null : data,
    };
  }
  const manifest = { opa, entrypoint, policies };
  process.stdout.write(JSON.stringify(manifest, null, 2) + "\n");
' "$WORK/manifest.tsv" "$OPA_SEMVER" "$ENTRYPOINT" >"$OUT/build-manifest.json"
log "built $built policies into $OUT (manifest: $OUT/build-manifest.json)"
