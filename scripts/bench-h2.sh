#!/usr/bin/env bash
# Does HTTP/2 pay for pullguard's registry requests over TLS? Side by side, against the real
# docker-registry serving TLS (it offers h2 by ALPN), alternating, RUNS (default 31) each,
# medians of whole-process wall time:
#   - `pullguard verify` as built (HTTP/1.1) and built with scripts/bench-h2.patch (ALPN h2 and
#     hyper's h2 client: the whole change h2 would be), release builds;
#   - the exact requests of one verification (from the registry's log) replayed by curl over
#     one connection with --http1.1 and with --http2;
#   - `notation verify` (Go negotiates h2) on the same image, for scale.
# The patch is applied to the work tree only for its build and reverted right after (the script
# refuses to run with local changes to the files it touches). PULLGUARD_BIN / PULLGUARD_H2_BIN:
# use these builds instead.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[[ -n "${PG_REGISTRY:-}" ]] || eval "$(bash scripts/peers-up.sh)"
RUNS=${RUNS:-31}
W=$(mktemp -d /tmp/pullguard-h2.XXXXXX)
REG_PID=
PATCHED=0
cleanup() {
  if [[ $PATCHED -eq 1 ]]; then git apply -R scripts/bench-h2.patch; fi
  if [[ -n "$REG_PID" ]]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
PG1=${PULLGUARD_BIN:-}
PG2=${PULLGUARD_H2_BIN:-}
if [[ -z "$PG1" || -z "$PG2" ]]; then
  git diff --quiet -- Cargo.toml src/http.rs src/tls.rs ||
    { echo "bench-h2: Cargo.toml, src/http.rs or src/tls.rs has local changes" >&2; exit 1; }
  cargo build --release --quiet --bin pullguard
  cp target/release/pullguard "$W/pullguard-h1"
  git apply scripts/bench-h2.patch
  PATCHED=1
  cargo build --release --quiet --bin pullguard
  cp target/release/pullguard "$W/pullguard-h2"
  git apply -R scripts/bench-h2.patch
  PATCHED=0
  PG1=$W/pullguard-h1 PG2=$W/pullguard-h2
fi

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
{ cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat "$W/cert.pem"; } >"$W/bundle.pem"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$W/registry.yml" <<EOF
version: 0.1
log: {level: info, formatter: json}
storage:
  filesystem: {rootdirectory: $W/storage}
http:
  addr: 127.0.0.1:$PORT
  tls: {certificate: $W/cert.pem, key: $W/key.pem}
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 </dev/null &
REG_PID=$!
for _ in $(seq 100); do
  curl -sf --cacert "$W/cert.pem" "https://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done
export SSL_CERT_FILE=$W/bundle.pem XDG_CONFIG_HOME=$W/config
REPO=127.0.0.1:$PORT/bench/h2
echo bench >"$W/a.txt"; tar -C "$W" -czf "$W/a.tgz" a.txt
crane append --insecure -f "$W/a.tgz" -t "$REPO:v1" 2>/dev/null
DIGEST=$(crane digest --insecure "$REPO:v1")
notation cert generate-test --default pullguard.bench >/dev/null
notation sign "$REPO@$DIGEST" >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
DIR=$XDG_CONFIG_HOME/notation
PGV=("$PG1" verify --policy-dir "$DIR" "$REPO@$DIGEST")
PGV2=("$PG2" verify --policy-dir "$DIR" "$REPO@$DIGEST")
"${PGV[@]}" >/dev/null
"${PGV2[@]}" >/dev/null

# The requests of that one verification, in order, from the registry's log.
python3 - "$W/registry.log" "$W/protos" >"$W/requests" <<'PY'
import json, sys
seen = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if "pullguard/" in e.get("http.request.useragent", "") and e.get("msg", "").startswith("response completed"):
        seen.append((e["http.request.method"], e["http.request.uri"], e["http.request.remoteaddr"]))
half = len(seen) // 2  # the HTTP/1.1 build's verification, then the h2 build's
for m, u, _ in seen[:half]:
    print(m, u)
with open(sys.argv[2], "w") as f:
    f.write(f"as built {len(set(a for *_, a in seen[:half]))}, patched {len(set(a for *_, a in seen[half:]))}\n")
PY
echo "TCP connections per verification (registry log): $(cat "$W/protos")"
[[ -s "$W/requests" ]] || { echo "bench-h2: no pullguard request in the registry log" >&2; exit 1; }
echo "one pullguard verify = $(wc -l <"$W/requests") requests:"; sed 's/^/  /' "$W/requests"
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json'
curl_args() { # $1: --http1.1 or --http2
  local first=1 m u
  while read -r m u; do
    [[ $first -eq 1 ]] || printf '%s\n' --next
    first=0
    printf '%s\n' "$1" -s -o /dev/null --cacert "$W/cert.pem" -H "$ACCEPT"
    [[ $m == HEAD ]] && printf '%s\n' -I
    printf '%s\n' "https://127.0.0.1:$PORT$u"
  done <"$W/requests"
}
mapfile -t H1 < <(curl_args --http1.1)
mapfile -t H2 < <(curl_args --http2)
curl -w '%{http_version}\n' "${H2[@]}" | sort -u | sed 's/^/  curl --http2 negotiated HTTP\//'
NV=(notation verify "$REPO@$DIGEST")

run() { local a b; a=$(date +%s%N); "$@" >/dev/null 2>&1; b=$(date +%s%N); echo $(((b - a) / 1000)); }
: >"$W/t"
for ((i = 0; i < RUNS; i++)); do
  echo "curl-h1 $(run curl "${H1[@]}")" >>"$W/t"
  echo "curl-h2 $(run curl "${H2[@]}")" >>"$W/t"
  echo "pullguard-h1 $(run "${PGV[@]}")" >>"$W/t"
  echo "pullguard-h2 $(run "${PGV2[@]}")" >>"$W/t"
  echo "notation-h2 $(run "${NV[@]}")" >>"$W/t"
done
python3 - "$W/t" "$RUNS" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    t.setdefault(k, []).append(int(v) / 1000)
print(f"medians of {sys.argv[2]} alternating runs (ms, whole process):")
for k, label in [("curl-h1", "curl, the verification's requests, HTTP/1.1"),
                 ("curl-h2", "curl, the verification's requests, h2"),
                 ("pullguard-h1", "pullguard verify, as built (HTTP/1.1)"),
                 ("pullguard-h2", "pullguard verify, bench-h2.patch (h2)"),
                 ("notation-h2", "notation verify (Go, h2)")]:
    v = sorted(t[k])
    print(f"  {label:48s} {statistics.median(v):8.2f}  (min {v[0]:.2f}, max {v[-1]:.2f})")
PY
