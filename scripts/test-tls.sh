#!/usr/bin/env bash
# The interop set (tests/interop.rs: the real notation, oras and crane against pullguard) once
# more over TLS: a docker-registry of its own serving https with a CA made here (own port, temp
# dir), trusted by every tool through SSL_CERT_FILE (the system bundle plus the test CA: Go's
# crypto/x509 reads it for notation and oras, OpenSSL's default paths for pullguard; crane runs
# with --insecure anyway). The tests read PG_TLS_REGISTRY and PG_TLS_CA (tests/common/mod.rs,
# tls_registry()). Extra arguments go to cargo test (a filter, say).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ -n "${PG_REGISTRY:-}" ]] || eval "$(bash scripts/peers-up.sh)"
for bin in docker-registry openssl curl python3; do
  command -v "$bin" >/dev/null || { echo "test-tls: $bin is missing" >&2; exit 1; }
done
W=$(mktemp -d /tmp/pullguard-tls.XXXXXX)
REG_PID=
cleanup() {
  if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

# The test CA and the registry's certificate (127.0.0.1 and localhost).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pullguard interop TLS CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$W/ca.key" -out "$W/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$W/server.key" -out "$W/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >"$W/ext.cnf"
openssl x509 -req -in "$W/server.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/ext.cnf" -out "$W/server.pem" 2>/dev/null
SYSTEM_BUNDLE=/etc/ssl/certs/ca-certificates.crt
{ [[ -f $SYSTEM_BUNDLE ]] && cat "$SYSTEM_BUNDLE"; cat "$W/ca.pem"; } >"$W/bundle.pem"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$W/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $W/storage}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$PORT
  secret: pullguard-tls-tests
  tls:
    certificate: $W/server.pem
    key: $W/server.key
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 </dev/null &
REG_PID=$!
for _ in $(seq 100); do
  curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
  kill -0 "$REG_PID" 2>/dev/null || { cat "$W/registry.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf --cacert "$W/ca.pem" "https://127.0.0.1:$PORT/v2/" >/dev/null || {
  echo "test-tls: the TLS registry did not come up" >&2; cat "$W/registry.log" >&2; exit 1
}

export PG_TLS_REGISTRY=127.0.0.1:$PORT PG_TLS_CA=$W/ca.pem SSL_CERT_FILE=$W/bundle.pem
export PG_REQUIRE_PEERS=1
echo "test-tls: interop over TLS against $PG_TLS_REGISTRY"
# Without arguments, the tests that never touch this registry are left out (they keep the
# plain-HTTP peers on purpose: the `--insecure-registry` switch itself, a daemon and a plugin
# driven with it, faults of fake registries); they ran in the plain pass already.
args=("$@")
if [[ $# -eq 0 ]]; then
  args=(-- --skip every_notation_verify_flag_works_the_same --skip scope_without_oci_layout_cannot_pick_a_skip_policy
        --skip only_trustpolicy_json_is_read_by_verify_and_the_daemon_as_by_notation
        --skip verification_plugins_run_as_notation_runs_them --skip registry_down_or_hanging_is_a_clear_denial)
fi
set +e
cargo test --test interop "${args[@]}"
rc=$?
set -e
exit "$rc"
