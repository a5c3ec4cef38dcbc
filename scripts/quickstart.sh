#!/usr/bin/env bash
# The quick start, in one command on a fresh machine: installs Node 24 and the dependencies, makes
# keys, mints and attenuates a capability token, starts the gateway (standalone mode: local files,
# the finance example policy) in front of a demo MCP server, and runs a scripted agent through it.
#   scripts/quickstart.sh           run the demo and stop
#   scripts/quickstart.sh --serve   leave the gateway and the demo server running (Ctrl-C stops)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/toolchain.sh"
ensure_node
ensure_deps "$ROOT"

SERVE=false
[ "${1:-}" = "--serve" ] && SERVE=true
GATEWAY_PORT="${INTENTGATE_DEMO_GATEWAY_PORT:-7070}"
ADMIN_PORT="${INTENTGATE_DEMO_ADMIN_PORT:-7071}"
DEMO_PORT="${INTENTGATE_DEMO_SERVER_PORT:-3001}"
WORK="${INTENTGATE_DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/intentgate-demo.XXXXXX")}"
mkdir -p "$WORK"
ig() { node "$ROOT/cli/main.ts" "$@"; }
step() { printf '\n== %s\n' "$*"; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

step "keys (written 0600 to $WORK/keys.json)"
ig keys generate --out "$WORK/keys.json" --kid demo-key --force >/dev/null
ig keys list --keys "$WORK/keys.json"
echo '{"version":1,"revoked":[]}' >"$WORK/revocations.json"
ig audit keygen --out "$WORK/audit-keys.json" --public-out "$WORK/audit-public.pem" --key-id demo-audit --force >/dev/null

step "mint a token for demo-agent: files and payments tools, never delete, 1 hour"
TOKEN=$(ig token mint --keys "$WORK/keys.json" --tenant demo --agent demo-agent \
  --tools 'files.*' 'payments.*' --deny-tools 'files.delete_*' --ttl 1h)
echo "$TOKEN"
step "attenuate it offline (no key): transfers of at most 50,000, 15 minutes"
TOKEN=$(ig token attenuate --token "$TOKEN" --arg 'amount le 50000' --arg-tools 'payments.transfer' --ttl 15m)
ig token inspect "$TOKEN" | node -e 'const t=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(JSON.stringify({ids:t.effective.ids,tools:t.effective.toolAllow,deny:t.effective.toolDeny,args:t.effective.args,expiresAt:t.effective.expiresAt}))'
step "verify it covers files.read_file, and that it refuses files.delete_file"
ig token verify --keys "$WORK/keys.json" --token "$TOKEN" --tool files.read_file --args '{"path":"/data/report.csv"}' >/dev/null && echo "files.read_file: covered"
ig token verify --keys "$WORK/keys.json" --token "$TOKEN" --tool files.delete_file 2>/dev/null | grep -o '"code": "[a-z_]*"' || true

cat >"$WORK/gateway.yaml" <<YAML
tenant: demo
agent: demo-agent
listen: { host: 127.0.0.1, port: $GATEWAY_PORT }
admin: { host: 127.0.0.1, port: $ADMIN_PORT }
keys: keys.json
revocations: { file: revocations.json }
upstreams:
  - { name: files, url: "http://127.0.0.1:$DEMO_PORT/mcp", sseUrl: "http://127.0.0.1:$DEMO_PORT/sse" }
  - { name: payments, url: "http://127.0.0.1:$DEMO_PORT/mcp" }
policy:
  bundle: $ROOT/policies/finance/build/policy.wasm
  data: $ROOT/policies/finance/build/data.json
budget:
  agent: { calls: { max: 3, windowSeconds: 3600 } }
audit: { spool: audit-spool, keys: audit-keys.json, stream: demo.demo-agent }
logLevel: warn
YAML

step "start the demo MCP server and the gateway"
PORT="$DEMO_PORT" node "$ROOT/examples/demo/mcp-server.ts" &
pids+=($!)
node "$ROOT/cli/main.ts" sidecar --config "$WORK/gateway.yaml" &
pids+=($!)
ready=false
for _ in $(seq 1 150); do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "the gateway exited; see the error above" >&2; exit 1; }
  if curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1; then ready=true; break; fi
  sleep 0.1
done
$ready || { echo "the gateway did not become ready" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$ADMIN_PORT/readyz"; echo
echo "gateway: http://127.0.0.1:$GATEWAY_PORT/mcp/{files,payments}   metrics: http://127.0.0.1:$ADMIN_PORT/metrics"

step "a scripted agent calls tools through the gateway"
node "$ROOT/examples/demo/agent.ts" "http://127.0.0.1:$GATEWAY_PORT" "$TOKEN"

step "every decision is in the hash-chained audit log ($WORK/audit-spool)"
cat "$WORK"/audit-spool/seg-*.ndjson | node -e 'for (const l of require("fs").readFileSync(0,"utf8").trim().split("\n")) { const r=JSON.parse(l); console.log(String(r.seq).padStart(3), r.kind.padEnd(9), (r.disposition ?? r.outcome).padEnd(9), (r.server+"."+r.tool).padEnd(22), (r.code ?? "").padEnd(20), r.hash.slice(0,16)) }'

if $SERVE; then
  step "serving until Ctrl-C (token in $WORK/token)"
  echo "$TOKEN" >"$WORK/token"
  wait
fi
