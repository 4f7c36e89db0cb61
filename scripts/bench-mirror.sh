#!/usr/bin/env bash
# Mirror blob streaming, side by side in one run: one large layer fetched with curl
#   - straight from the registry (direct),
#   - through pullguard's mirror with `check_blob_digests = true` (the default),
#   - through pullguard's mirror with `check_blob_digests = false`,
#   - through distribution's own pull-through cache, cold: a docker-registry of our own with
#     `proxy: remoteurl` pointing at the registry and a fresh storage directory each run, so it
#     streams from upstream while it hashes and writes the blob to disk,
# alternating (one of each per round), median throughput of each and the ratios. Peak RSS
# (VmHWM) of both daemons. SIZE_MB (default 1024) sets the layer size; RUNS (default 7).
# The last lines are each figure and its target.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
command -v docker-registry >/dev/null || { echo "bench-mirror: docker-registry not found (the peers install it)" >&2; exit 1; }
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-7}
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
export XDG_CONFIG_HOME=$W/config
REPO=bench/mirror-$$
PIDS=()
PTPID=
cleanup() {
  for p in "${PIDS[@]}" $PTPID; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
# Two daemons, digest checking on and off.
declare -A PORT
for check in true false; do
  PORT[$check]=$(free_port)
  cat >"$W/config-$check.toml" <<TOML
insecure_registries = ["$PG_REGISTRY"]
[mirror]
listen = "127.0.0.1:${PORT[$check]}"
upstreams = ["$PG_REGISTRY"]
check_blob_digests = $check
TOML
  PULLGUARD_LOG=warn target/release/pullguard serve --config "$W/config-$check.toml" --policy-dir "$XDG_CONFIG_HOME/notation" \
    --docker-listen "$W/docker-$check.sock" --docker-upstream "$PG_DOCKER_SOCK" --control-listen "$W/control-$check.sock" &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${PORT[$check]}/v2/" >/dev/null && break; sleep 0.05; done
  curl -sf -H "$ACCEPT" -o /dev/null "http://127.0.0.1:${PORT[$check]}/v2/$REPO/manifests/v1?ns=$PG_REGISTRY"   # verify + grant
done
# distribution's pull-through cache: its own port, a fresh storage directory per run.
PTPORT=$(free_port)
pull_through_up() {
  rm -rf "$W/pt"; mkdir -p "$W/pt/data"
  cat >"$W/pt/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $W/pt/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PTPORT}
proxy: {remoteurl: http://$PG_REGISTRY}
YML
  docker-registry serve "$W/pt/config.yml" >"$W/pt/log" 2>&1 & PTPID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PTPORT/v2/" >/dev/null && return; sleep 0.05; done
  echo "bench-mirror: the pull-through registry did not start:" >&2; cat "$W/pt/log" >&2; exit 1
}
pull_through_down() { kill "$PTPID" 2>/dev/null || true; wait "$PTPID" 2>/dev/null || true; PTPID=; rm -rf "$W/pt"; }
# Speed in bytes/s; fails the run when curl did not get the whole blob.
speed() {
  local out
  out=$(curl -sf -o /dev/null -w '%{speed_download} %{size_download}' "$1")
  [[ ${out#* } == "$SIZE_BYTES" ]] || { echo "bench-mirror: $1 gave ${out#* } bytes, want $SIZE_BYTES" >&2; exit 1; }
  echo "${out% *}"
}
SIZE_BYTES=$(curl -sfI "http://$PG_REGISTRY/v2/$REPO/blobs/$LAYER" | awk -F': ' 'tolower($1)=="content-length" {print $2+0}')
: >"$W/direct"; : >"$W/on"; : >"$W/off"; : >"$W/pt.speeds"
for i in $(seq "$RUNS"); do
  speed "http://$PG_REGISTRY/v2/$REPO/blobs/$LAYER" >>"$W/direct"
  speed "http://127.0.0.1:${PORT[true]}/v2/$REPO/blobs/$LAYER?ns=$PG_REGISTRY" >>"$W/on"
  speed "http://127.0.0.1:${PORT[false]}/v2/$REPO/blobs/$LAYER?ns=$PG_REGISTRY" >>"$W/off"
  pull_through_up
  speed "http://127.0.0.1:$PTPORT/v2/$REPO/blobs/$LAYER" >>"$W/pt.speeds"
  pull_through_down
  echo "round $i/$RUNS: direct $(tail -1 "$W/direct") on $(tail -1 "$W/on") off $(tail -1 "$W/off") pull-through $(tail -1 "$W/pt.speeds") B/s" >&2
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
python3 - "$(median "$W/direct")" "$(median "$W/on")" "$(median "$W/off")" "$(median "$W/pt.speeds")" \
  "$SIZE_MB" "$RUNS" "$(hwm "${PIDS[0]}")" "$(hwm "${PIDS[1]}")" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
d, on, off, pt = map(float, sys.argv[1:5])
size, runs, hwm_on, hwm_off, load = sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8]), sys.argv[9]
print(f"layer {size} MiB, {runs} alternating rounds, medians (load average {load}):")
print(f"  direct                          {d/1e6:6.0f} MB/s")
print(f"  mirror, check_blob_digests=true  {on/1e6:6.0f} MB/s")
print(f"  mirror, check_blob_digests=false {off/1e6:6.0f} MB/s")
print(f"  distribution pull-through, cold {pt/1e6:6.0f} MB/s  ({pt/d:.2f} of direct)")
print(f"mirror/direct = {on/d:.2f} (target >= 0.70)")
print(f"mirror/pull-through = {on/pt:.2f} (target >= 1.0)")
print(f"mirror (checking off)/direct = {off/d:.2f}")
print(f"daemon peak RSS = {hwm_on/1024:.1f} MB checking on, {hwm_off/1024:.1f} MB off (target: flat in blob size)")
PY
