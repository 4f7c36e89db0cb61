#!/usr/bin/env bash
# Whole-process timing, side by side: `pullguard verify` vs the real `notation verify` on the
# same signed image in the real registry (loopback), same policy and trust store, by digest
# and by tag, next to the floor measured in the same run (a trivial exec plus the registry's own
# round trips for the requests a verification needs): scripts/bench_verify.py. Release build.
# TLS=1: against a registry serving TLS (see below). RTT_MS=N: the registry N ms away (a
# latency proxy in front of it). RUNS: rounds (default 31). BENCH_ALT: another pullguard build
# measured in the same rounds.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
# PG=/path/to/pullguard measures another build (a profile being tried) instead.
if [[ -z ${PG:-} ]]; then
  cargo build --release --quiet --bin pullguard
  PG=$ROOT/target/release/pullguard
fi
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
REG_PID=
cleanup() {
  if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
export XDG_CONFIG_HOME=$W/config
REGISTRY=$PG_REGISTRY
INSECURE=--insecure-registry
# The registry's CPU is read per command (it shares the cores with both tools).
BENCH_REGISTRY_PID=$(pgrep -f "docker-registry serve $PG_PEERS/registry.yml" | head -1 || true)
if [[ ${TLS:-0} == 1 ]]; then
  # TLS=1: the same against a docker-registry serving TLS, its CA trusted as a host trusts one.
  source scripts/tls-registry.sh
  tls_registry "$W" "$W/storage"
  REG_PID=$TLS_PID
  BENCH_REGISTRY_PID=$TLS_PID
  export BENCH_CAFILE=$TLS_CA
  REGISTRY=127.0.0.1:$TLS_PORT
  INSECURE=
fi
REPO=$REGISTRY/bench/app-$$
echo bench >"$W/a.txt"; tar -C "$W" -czf "$W/a.tgz" a.txt
crane append --insecure -f "$W/a.tgz" -t "$REPO:v1" 2>/dev/null
DIGEST=$(crane digest --insecure "$REPO:v1")
notation cert generate-test --default pullguard.bench >/dev/null
notation sign $INSECURE "$REPO@$DIGEST" >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
DIR=$XDG_CONFIG_HOME/notation
if [[ -n ${RTT_MS:-} ]]; then
  # RTT_MS=N: both tools (and the floor's requests) reach the registry through
  # scripts/latency_proxy.py, which makes it N ms away, as registries on the internet are.
  python3 scripts/latency_proxy.py 0 "$REGISTRY" "$RTT_MS" >"$W/proxy.out" 2>&1 &
  PROXY_PID=$!
  trap 'kill $PROXY_PID 2>/dev/null; cleanup' EXIT
  for _ in $(seq 50); do grep -q ready "$W/proxy.out" 2>/dev/null && break; sleep 0.1; done
  PROXY_PORT=$(awk '/^ready/ {print $2}' "$W/proxy.out")
  [[ -n $PROXY_PORT ]] || { echo "latency proxy did not start: $(cat "$W/proxy.out")" >&2; exit 1; }
  REGISTRY=127.0.0.1:$PROXY_PORT
  export BENCH_RTT_MS=$RTT_MS
fi
[[ -n $BENCH_REGISTRY_PID ]] || { echo "the registry's process was not found" >&2; exit 1; }
export BENCH_REGISTRY_PID
python3 scripts/bench_verify.py "${RUNS:-31}" "$REGISTRY" "bench/app-$$" "$DIGEST" v1 "$DIR" "$PG"
