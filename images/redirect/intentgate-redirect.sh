#!/bin/sh
# Installs the pod's MCP interception rules (run once by the intentgate-redirect init container).
# Outbound TCP to each declared MCP server destination (host:port) is REDIRECTed to the sidecar on
# 127.0.0.1:$INTENTGATE_PROXY_PORT, except the sidecar's own traffic (its uid), so its upstream calls
# are not looped back. Nothing else is touched: one chain, INTENTGATE_OUTPUT, in the nat table, and
# one jump to it from OUTPUT. Running it again rebuilds the chain to the same rules.
#
#   INTENTGATE_REDIRECT_DESTINATIONS  host:port,host:port   (names resolved here, IPv4, via getent)
#   INTENTGATE_PROXY_UID              the sidecar's uid      (default 1337)
#   INTENTGATE_PROXY_PORT             the sidecar's port     (default 7070)
#   INTENTGATE_IPTABLES               iptables binary        (default iptables)
set -eu

CHAIN=INTENTGATE_OUTPUT
IPT="${INTENTGATE_IPTABLES:-iptables}"
PROXY_UID="${INTENTGATE_PROXY_UID:-1337}"
PROXY_PORT="${INTENTGATE_PROXY_PORT:-7070}"
DESTINATIONS="${INTENTGATE_REDIRECT_DESTINATIONS:-}"

fail() {
  echo "intentgate-redirect: $*" >&2
  exit 1
}
is_port() {
  case "$1" in '' | *[!0-9]*) return 1 ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

[ -n "$DESTINATIONS" ] || fail "INTENTGATE_REDIRECT_DESTINATIONS is empty: nothing to intercept"
case "$PROXY_UID" in '' | *[!0-9]*) fail "INTENTGATE_PROXY_UID must be a number, got '$PROXY_UID'" ;; esac
is_port "$PROXY_PORT" || fail "INTENTGATE_PROXY_PORT must be a port, got '$PROXY_PORT'"
command -v "$IPT" >/dev/null 2>&1 || fail "$IPT not found"

# Resolve everything before changing anything: a name that does not resolve stops the pod here,
# rather than leaving a server reachable around the sidecar.
targets=""
old_ifs=$IFS
IFS=','
for destination in $DESTINATIONS; do
  IFS=$old_ifs
  destination=$(printf '%s' "$destination" | tr -d ' \t')
  [ -n "$destination" ] || continue
  host=${destination%:*}
  port=${destination##*:}
  [ "$host" != "$destination" ] && [ -n "$host" ] || fail "'$destination' is not host:port"
  is_port "$port" || fail "'$destination' has no valid port"
  addresses=$(getent ahostsv4 "$host" | awk '{ print $1 }' | sort -u) || fail "cannot resolve '$host'"
  [ -n "$addresses" ] || fail "'$host' has no IPv4 address"
  for address in $addresses; do
    targets="$targets $address:$port"
  done
  IFS=','
done
IFS=$old_ifs
[ -n "$targets" ] || fail "no destination to intercept"

"$IPT" -w -t nat -n -L "$CHAIN" >/dev/null 2>&1 || "$IPT" -w -t nat -N "$CHAIN" || fail "cannot create chain $CHAIN"
"$IPT" -w -t nat -F "$CHAIN" || fail "cannot flush chain $CHAIN"
"$IPT" -w -t nat -A "$CHAIN" -m owner --uid-owner "$PROXY_UID" -j RETURN || fail "cannot exclude uid $PROXY_UID"
for target in $targets; do
  "$IPT" -w -t nat -A "$CHAIN" -p tcp -d "${target%:*}" --dport "${target##*:}" -j REDIRECT --to-ports "$PROXY_PORT" ||
    fail "cannot redirect $target"
done
"$IPT" -w -t nat -C OUTPUT -p tcp -j "$CHAIN" 2>/dev/null || "$IPT" -w -t nat -A OUTPUT -p tcp -j "$CHAIN" || fail "cannot jump to $CHAIN from OUTPUT"

echo "intentgate-redirect: intercepting$targets -> 127.0.0.1:$PROXY_PORT (uid $PROXY_UID excluded)" >&2
"$IPT" -w -t nat -S "$CHAIN" >&2
