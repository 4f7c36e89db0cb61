#!/usr/bin/env bash
# Whole-process timing, side by side: `pullguard verify` vs the real `notation verify` on the
# same signed image in the real registry (loopback), same policy and trust store, by digest
# and by tag, next to the floor measured in the same run (a trivial exec plus the registry's own
# round trips for the requests a verification needs): scripts/bench_verify.py. Release build.
# TLS=1: against a registry serving TLS (see below). RUNS: rounds (default 31). BENCH_ALT:
# another pullguard build measured in the same rounds.
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
if [[ ${TLS:-0} == 1 ]]; then
  # TLS=1: the same against a docker-registry serving TLS, its CA trusted the way a host
  # trusts one: hashed into a copy of the system's certificate directory (SSL_CERT_DIR; no
  # SSL_CERT_FILE), which both Go (notation) and OpenSSL (pullguard) read.
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
  mkdir -p "$W/certs"
  cp -a /etc/ssl/certs/. "$W/certs/"
  cp "$W/cert.pem" "$W/certs/$(openssl x509 -noout -subject_hash -in "$W/cert.pem").0"
  PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n  tls: {certificate: %s, key: %s}\n' \
    "$W/storage" "$PORT" "$W/cert.pem" "$W/key.pem" >"$W/registry.yml"
  docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 </dev/null &
  REG_PID=$!
  for _ in $(seq 100); do
    curl -sf --cacert "$W/cert.pem" "https://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  unset SSL_CERT_FILE
  export SSL_CERT_DIR=$W/certs BENCH_CAFILE=$W/cert.pem
  REGISTRY=127.0.0.1:$PORT
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
python3 scripts/bench_verify.py "${RUNS:-31}" "$REGISTRY" "bench/app-$$" "$DIGEST" v1 "$DIR" "$PG"
