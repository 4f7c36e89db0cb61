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
# COMPARE="name=/path/to/pullguard ..." adds daemons of other builds (checking on), for A/B runs.
# PERF=NAME (on, off or a COMPARE name): instead, profile that daemon (`perf record -g`) over 3
# fetches and print `perf report` by DSO and by symbol. STRACE=NAME: its syscall counts over one.
# CONC=N: instead, N fetches at once from each daemon, with the time and the daemon's peak RSS.
# TLS=1: the upstream serves TLS (a second docker-registry on the same storage, its CA trusted
# through SSL_CERT_DIR as a host trusts one), as registries on the internet do: direct, the
# mirror and the pull-through cache all read it over TLS.
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
UP=$PG_REGISTRY SCHEME=http INSECURE="insecure_registries = [\"$PG_REGISTRY\"]" CURL=(curl)
REGPID=$(pgrep -f "docker-registry serve $PG_PEERS/registry.yml" | head -1)
if [[ ${TLS:-0} == 1 ]]; then
  source scripts/tls-registry.sh
  tls_registry "$W" "$PG_PEERS/registry-data"
  REGPID=$TLS_PID; PIDS+=("$TLS_PID")
  UP=127.0.0.1:$TLS_PORT SCHEME=https INSECURE= CURL=(curl --cacert "$TLS_CA")
fi
# The daemons: digest checking on and off, and (COMPARE="name=binary ...") other builds with
# checking on, for A/B runs of a change on a noisy machine.
declare -A PORT PID
NAMES=(on off)
declare -A BIN=([on]=target/release/pullguard [off]=target/release/pullguard) CHECK=([on]=true [off]=false)
for c in ${COMPARE:-}; do NAMES+=("${c%%=*}"); BIN[${c%%=*}]=${c#*=}; CHECK[${c%%=*}]=true; done
for n in "${NAMES[@]}"; do
  PORT[$n]=$(free_port)
  cat >"$W/config-$n.toml" <<TOML
$INSECURE
[mirror]
listen = "127.0.0.1:${PORT[$n]}"
upstreams = ["$UP"]
check_blob_digests = ${CHECK[$n]}
TOML
  PULLGUARD_LOG=warn "${BIN[$n]}" serve --config "$W/config-$n.toml" --policy-dir "$XDG_CONFIG_HOME/notation" \
    --docker-listen "$W/docker-$n.sock" --docker-upstream "$PG_DOCKER_SOCK" --control-listen "$W/control-$n.sock" &
  PID[$n]=$!; PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:${PORT[$n]}/v2/" >/dev/null && break; sleep 0.05; done
  curl -sf -H "$ACCEPT" -o /dev/null "http://127.0.0.1:${PORT[$n]}/v2/$REPO/manifests/v1?ns=$UP"   # verify + grant
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
proxy: {remoteurl: $SCHEME://$UP}
YML
  docker-registry serve "$W/pt/config.yml" >"$W/pt/log" 2>&1 & PTPID=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PTPORT/v2/" >/dev/null && return; sleep 0.05; done
  echo "bench-mirror: the pull-through registry did not start:" >&2; cat "$W/pt/log" >&2; exit 1
}
pull_through_down() { kill "$PTPID" 2>/dev/null || true; wait "$PTPID" 2>/dev/null || true; PTPID=; rm -rf "$W/pt"; }
# CPU seconds (user + system) a process spent so far, all its threads.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# Speed in bytes/s; fails the run when curl did not get the whole blob. With a second
# argument, appends "registry-CPU curl-CPU" seconds of this fetch to that file.
speed() {
  local out r0 r1
  r0=$(cpu "$REGPID")
  out=$(/usr/bin/time -f '%U %S' -o "$W/time" "${CURL[@]}" -sf -o /dev/null -w '%{speed_download} %{size_download}' "$1")
  r1=$(cpu "$REGPID")
  [[ ${out#* } == "$SIZE_BYTES" ]] || { echo "bench-mirror: $1 gave ${out#* } bytes, want $SIZE_BYTES" >&2; exit 1; }
  [[ -z ${2:-} ]] || echo "$r0 $r1 $(cat "$W/time")" | awk '{print $2 - $1, $3 + $4}' >>"$2"
  echo "${out% *}"
}
if [[ -n ${PERF:-} ]]; then
  perf record -q -g -o "$W/perf.data" -p "${PID[$PERF]}" -- bash -c "for _ in 1 2 3; do curl -sf -o /dev/null 'http://127.0.0.1:${PORT[$PERF]}/v2/$REPO/blobs/$LAYER?ns=$UP'; done" 2>/dev/null
  perf report -i "$W/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
  perf report -i "$W/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
  exit 0
fi
if [[ -n ${CONC:-} ]]; then   # CONC fetches at once from each daemon: time and peak RSS
  for n in "${NAMES[@]}"; do
    t0=$(date +%s.%N)
    CP=(); for _ in $(seq "$CONC"); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$n]}/v2/$REPO/blobs/$LAYER?ns=$UP" & CP+=($!); done
    for p in "${CP[@]}"; do wait "$p" || { echo "bench-mirror: a fetch from $n failed" >&2; exit 1; }; done
    t1=$(date +%s.%N)
    echo "$n: $CONC at once in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s, peak RSS $(awk '/VmHWM/ {print $2}' /proc/${PID[$n]}/status) kB"
  done
  exit 0
fi
if [[ -n ${STRACE:-} ]]; then   # syscall counts of one fetch (strace slows it: counts only)
  strace -c -f -o "$W/strace" -p "${PID[$STRACE]}" & ST=$!; sleep 1
  curl -sf -o /dev/null "http://127.0.0.1:${PORT[$STRACE]}/v2/$REPO/blobs/$LAYER?ns=$UP"
  sleep 0.5; kill -INT "$ST"; wait "$ST" || true; head -14 "$W/strace"; exit 0
fi
SIZE_BYTES=$("${CURL[@]}" -sfI "$SCHEME://$UP/v2/$REPO/blobs/$LAYER" | awk -F': ' 'tolower($1)=="content-length" {print $2+0}')
: >"$W/direct"; : >"$W/pt.speeds"; for n in "${NAMES[@]}"; do : >"$W/$n"; done
for i in $(seq "$RUNS"); do
  line="round $i/$RUNS:"
  speed "$SCHEME://$UP/v2/$REPO/blobs/$LAYER" "$W/direct.cpu" >>"$W/direct"; line+=" direct $(tail -1 "$W/direct")"
  for n in "${NAMES[@]}"; do
    speed "http://127.0.0.1:${PORT[$n]}/v2/$REPO/blobs/$LAYER?ns=$UP" "$W/$n.cpu" >>"$W/$n"; line+=" $n $(tail -1 "$W/$n")"
  done
  pull_through_up
  speed "http://127.0.0.1:$PTPORT/v2/$REPO/blobs/$LAYER" >>"$W/pt.speeds"; line+=" pull-through $(tail -1 "$W/pt.speeds")"
  pull_through_down
  echo "$line B/s" >&2
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
for n in "${NAMES[@]}"; do echo "$n $(median "$W/$n") $(hwm "${PID[$n]}") $(cpu "${PID[$n]}")"; done >"$W/daemons"
python3 - "$(median "$W/direct")" "$(median "$W/pt.speeds")" "$SIZE_MB" "$RUNS" "$(cut -d' ' -f1-3 /proc/loadavg)" "$W/daemons" "$W" <<'PY'
import statistics, sys
d, pt = float(sys.argv[1]), float(sys.argv[2])
size, runs, load = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
gib = size * runs / 1024
rows = {}
for line in open(sys.argv[6]):
    n, speed, hwm, cpu = line.split()
    rows[n] = (float(speed), int(hwm) / 1024, float(cpu) / gib)
print(f"layer {size} MiB, {runs} alternating rounds, medians (load average {load}):")
print(f"  {'direct':34} {d/1e6:6.0f} MB/s")
print(f"  {'distribution pull-through, cold':34} {pt/1e6:6.0f} MB/s  {pt/d:.2f} of direct")
for n, (speed, hwm, cpu) in rows.items():
    label = {"on": "mirror, check_blob_digests=true", "off": "mirror, check_blob_digests=false"}.get(n, f"mirror ({n}), checking on")
    print(f"  {label:34} {speed/1e6:6.0f} MB/s  {speed/d:.2f} of direct, {speed/pt:.2f} of pull-through; daemon CPU {cpu:.2f} s/GiB, peak RSS {hwm:.1f} MB")
on, hwm_on, _ = rows["on"]
off, hwm_off, _ = rows["off"]
# The 2 cores' budget: what the registry and curl spend per GiB (measured per fetch), and the
# daemon. Three processes in a row on 2 cores go at most 2 / (their CPU per GiB together) and
# at most as fast as the busiest alone; direct is measured.
def per_gib(name):
    rows = [tuple(map(float, l.split())) for l in open(f"{sys.argv[7]}/{name}.cpu")]
    return (statistics.median(r for r, _ in rows) / (size / 1024),
            statistics.median(c for _, c in rows) / (size / 1024))
rd, cd = per_gib("direct")
rm_, cm = per_gib("on")
m = rows["on"][2]
bound = min(2 / (rm_ + cm + m), 1 / max(rm_, cm, m)) * 2**30
print(f"CPU per GiB: direct: registry {rd:.2f} s, curl {cd:.2f} s; through the mirror (checking on): registry {rm_:.2f} s, curl {cm:.2f} s, pullguard {m:.2f} s")
print(f"the 2 cores allow the mirror (checking on) at most {bound/1e6:.0f} MB/s = {bound/d:.2f} of direct")
print(f"mirror (checking off)/direct = {off/d:.2f}")
print(f"mirror/direct = {on/d:.2f} (target >= 0.70)")
print(f"mirror/pull-through = {on/pt:.2f} (target >= 1.0)")
print(f"daemon peak RSS = {hwm_on:.1f} MB checking on, {hwm_off:.1f} MB off, {size} MiB blob (target: flat in blob size)")
PY
