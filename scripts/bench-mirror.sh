#!/usr/bin/env bash
# Mirror blob streaming: one large layer fetched with curl straight from the registry and through
# pullguard's mirror (release build), alternating, median throughput of each and their ratio, and
# the daemon's peak RSS (VmHWM). SIZE_MB (default 1024) sets the layer size; RUNS (default 7);
# CHECK_DIGESTS=false measures with `[mirror] check_blob_digests = false`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-7}
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
export XDG_CONFIG_HOME=$W/config
REPO=bench/mirror-$$
PGPID=
cleanup() { [[ -n $PGPID ]] && kill "$PGPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
# An uncompressed tar layer of random bytes (crane takes it as is).
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$W/blob.bin"
tar -C "$W" -cf "$W/layer.tar" blob.bin && rm "$W/blob.bin"
crane append --insecure -f "$W/layer.tar" -t "$PG_REGISTRY/$REPO:v1" >/dev/null 2>&1
rm "$W/layer.tar"
DIGEST=$(crane digest --insecure "$PG_REGISTRY/$REPO:v1")
LAYER=$(crane manifest --insecure "$PG_REGISTRY/$REPO:v1" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(max(m["layers"], key=lambda l: l["size"])["digest"])')
notation cert generate-test --default pullguard.bench >/dev/null
notation sign --insecure-registry "$PG_REGISTRY/$REPO@$DIGEST" >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$W/config.toml" <<TOML
insecure_registries = ["$PG_REGISTRY"]
[mirror]
listen = "127.0.0.1:$PORT"
upstreams = ["$PG_REGISTRY"]
check_blob_digests = ${CHECK_DIGESTS:-true}
TOML
PULLGUARD_LOG=warn target/release/pullguard serve --config "$W/config.toml" --policy-dir "$XDG_CONFIG_HOME/notation" \
  --docker-listen "$W/docker.sock" --docker-upstream "$PG_DOCKER_SOCK" --control-listen "$W/control.sock" & PGPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.05; done
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
curl -sf -H "$ACCEPT" -o /dev/null "http://127.0.0.1:$PORT/v2/$REPO/manifests/v1?ns=$PG_REGISTRY"   # verify + grant
speed() { curl -sf -o /dev/null -w '%{speed_download}\n' "$1"; }
: >"$W/direct"; : >"$W/mirror"
for _ in $(seq "$RUNS"); do
  speed "http://$PG_REGISTRY/v2/$REPO/blobs/$LAYER" >>"$W/direct"
  speed "http://127.0.0.1:$PORT/v2/$REPO/blobs/$LAYER?ns=$PG_REGISTRY" >>"$W/mirror"
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
D=$(median "$W/direct"); M=$(median "$W/mirror")
HWM=$(awk '/VmHWM/ {print $2, $3}' "/proc/$PGPID/status")
python3 - "$D" "$M" "$SIZE_MB" "$RUNS" "$HWM" <<'PY'
import sys
d, m, size, runs, hwm = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], " ".join(sys.argv[5:])
print(f"check_blob_digests={__import__('os').environ.get('CHECK_DIGESTS','true')}: layer {size} MiB, {runs} runs each, medians: direct {d/1e6:.0f} MB/s, through the mirror {m/1e6:.0f} MB/s, ratio {m/d:.2f}; daemon peak RSS {hwm}")
PY
