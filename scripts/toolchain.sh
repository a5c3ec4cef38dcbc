# Sourced by the other scripts: puts Node 24 (and, with --opa, a pinned opa) on PATH, installing
# them into a cache outside the checkout so a second run on the same machine takes seconds.
# Everything comes from the npm registry and the Go module proxy; nothing is downloaded by hand.
set -euo pipefail

NODE_MAJOR=24
OPA_VERSION=v1.22.3
TOOLS="${INTENTGATE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/intentgate}"
mkdir -p "$TOOLS/bin"

log() { printf '[intentgate] %s\n' "$*" >&2; }

ensure_node() {
  local node="$TOOLS/node$NODE_MAJOR/node_modules/.bin/node"
  if [ ! -x "$node" ] || [ "$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$NODE_MAJOR" ]; then
    log "installing Node $NODE_MAJOR into $TOOLS/node$NODE_MAJOR (npm registry)"
    npm install --prefix "$TOOLS/node$NODE_MAJOR" --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR" >&2
  fi
  export PATH="$TOOLS/node$NODE_MAJOR/node_modules/.bin:$TOOLS/bin:$PATH"
}

ensure_opa() {
  if [ ! -x "$TOOLS/bin/opa" ] || ! "$TOOLS/bin/opa" version 2>/dev/null | grep -q "Version: ${OPA_VERSION#v}"; then
    log "building opa $OPA_VERSION from the Go module proxy (a few minutes the first time)"
    CGO_ENABLED=0 GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/open-policy-agent/opa@$OPA_VERSION" >&2
  fi
  export PATH="$TOOLS/bin:$PATH"
}

# Installs the project's npm dependencies when package-lock.json changed since the last install.
ensure_deps() {
  local root="$1" stamp="$1/node_modules/.intentgate-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$root/package-lock.json" "$stamp"; then
    log "installing npm dependencies (npm ci)"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$root/package-lock.json" "$stamp"
  fi
}

# PostgreSQL server binaries (initdb, pg_ctl) from Debian's packages. Tests start their own clusters
# in temporary folders, so nothing here starts a server.
ensure_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    log "installing PostgreSQL from Debian's packages"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  export INTENTGATE_PG_BIN="$bin"
}

# iptables from Debian's packages, for the redirect interception test (network namespaces, as root).
ensure_iptables() {
  if ! command -v iptables >/dev/null 2>&1; then
    log "installing iptables from Debian's packages"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq iptables >&2
  fi
}

# kube-apiserver, kubectl and etcd built from the Go module proxy (no release downloads here).
# k8s.io/kubernetes cannot be `go install`ed because of its replace directives, so a throw-away
# module replaces each staging module with its published version. 10-20 min cold, seconds warm.
KUBE_VERSION=1.36.3
ETCD_VERSION=v3.6.8
ensure_kube() {
  local dir="$TOOLS/k8s-$KUBE_VERSION"
  if [ ! -x "$dir/bin/kube-apiserver" ] || [ ! -x "$dir/bin/kubectl" ] || [ ! -x "$dir/bin/etcd" ]; then
    log "building kube-apiserver, kubectl $KUBE_VERSION and etcd $ETCD_VERSION from the Go module proxy (10-20 min the first time)"
    mkdir -p "$dir"
    (
      cd "$dir"
      export GOFLAGS=-mod=mod CGO_ENABLED=0
      [ -f go.mod ] || go mod init local/k8sbin >&2
      local gomod
      gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
      for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}' "$gomod"); do
        go mod edit "-replace=$m=$m@v0.${KUBE_VERSION#1.}"
      done
      go get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION" \
        "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
      go build -o bin/ k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2
      go build -o bin/etcd go.etcd.io/etcd/server/v3 >&2
    )
  fi
  export INTENTGATE_KUBE_BIN="$dir/bin"
}

# helm from the Go module proxy, for the chart's lint, template and golden tests (a minute or two the first time).
HELM_VERSION=v3.22.0
ensure_helm() {
  if [ ! -x "$TOOLS/bin/helm" ] || [ "$(cat "$TOOLS/bin/.helm-version" 2>/dev/null)" != "$HELM_VERSION" ]; then
    log "building helm $HELM_VERSION from the Go module proxy"
    CGO_ENABLED=0 GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
    echo "$HELM_VERSION" > "$TOOLS/bin/.helm-version"
  fi
  export PATH="$TOOLS/bin:$PATH"
}

# A virtualenv for the Python SDK's tests: pytest, the official MCP Python SDK (`mcp`) and the SDK
# itself (editable), from PyPI. Reinstalled when sdk/python/pyproject.toml changes.
ensure_python_sdk() {
  local root="$1" venv="$TOOLS/pyvenv-sdk" py="" candidate
  for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)' 2>/dev/null; then
      py="$candidate"; break
    fi
  done
  if [ -z "$py" ]; then log "no Python 3.10-3.13 found for the Python SDK"; return 1; fi
  local stamp="$venv/.intentgate-pyproject"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/sdk/python/pyproject.toml" "$stamp"; then
    log "creating the Python SDK's virtualenv in $venv (PyPI)"
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest>=8" "mcp>=1.9,<2" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root/sdk/python" >&2
    cp "$root/sdk/python/pyproject.toml" "$stamp"
  fi
  export INTENTGATE_PYTHON="$venv/bin/python"
}
