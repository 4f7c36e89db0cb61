#!/usr/bin/env bash
# The store watch under a burst: N (default 100) distinct signed images in one tarball, imported
# with `ctr images import` into a private containerd 2.1 that `pullguard serve` watches. Prints
# the latency from each image's /images/create event (its timestamp as `ctr events` prints it)
# to its verdict in the daemon's log (p50, p90, max), and the daemon's RSS before and after.
# Release build; real peers from ../shared.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
N=${N:-100}
W=$(mktemp -d /tmp/pgbs.XXXXXX)
export XDG_CONFIG_HOME=$W/config
BIN=$PG_PEERS/ctrd2/usr/bin
REPO=$PG_REGISTRY/bench/store-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1; umount -R -l "$W" 2>/dev/null || true; rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT
notation cert generate-test --default pullguard.bench >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
# A private containerd 2.1.
cat >"$W/containerd.toml" <<TOML
version = 3
root = "$W/root"
state = "$W/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.sandbox.controller.v1.shim"]
[grpc]
  address = "$W/c.sock"
[ttrpc]
  address = "$W/c.sock.ttrpc"
[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "$W/opt"
TOML
PATH=$BIN:$PATH setsid "$BIN/containerd" --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 </dev/null &
PIDS+=($!)
CTR="$BIN/ctr --address $W/c.sock"
for _ in $(seq 200); do $CTR version >/dev/null 2>&1 && break; sleep 0.05; done
echo "pushing and signing $N images..." >&2
REFS=()
for i in $(seq "$N"); do
  mkdir -p "$W/img/$i" && echo "bench $$ $i" >"$W/img/$i/f.txt"
  tar -C "$W/img/$i" -czf "$W/img/$i/l.tgz" f.txt
  crane append --insecure -f "$W/img/$i/l.tgz" -t "$REPO:i$i" >/dev/null 2>&1
  notation sign --insecure-registry "$REPO@$(crane digest --insecure "$REPO:i$i")" >/dev/null 2>&1
  $CTR -n scratch images pull --plain-http --local "$REPO:i$i" >/dev/null
  REFS+=("$REPO:i$i")
done
$CTR -n scratch images export "$W/all.tar" "${REFS[@]}"
printf '[watch]\ncontainerd = "%s"\nnamespaces = ["bench"]\n' "$W/c.sock" >"$W/pg.toml"
target/release/pullguard serve --config "$W/pg.toml" --policy-dir "$XDG_CONFIG_HOME/notation" \
  --docker-listen "$W/docker.sock" --docker-upstream /nonexistent.sock --control-listen "$W/control.sock" \
  --insecure-registry "$PG_REGISTRY" --log-format json 2>"$W/pg.log" &
PG=$!
PIDS+=($PG)
for _ in $(seq 200); do grep -q "watching the containerd image store" "$W/pg.log" 2>/dev/null && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$PG/status"; }
RSS0=$(rss)
$CTR events >"$W/events.txt" 2>/dev/null &
PIDS+=($!)
sleep 0.5
T0=$(date +%s.%N)
$CTR -n bench images import "$W/all.tar" >/dev/null
T1=$(date +%s.%N)
for _ in $(seq 600); do
  [[ $(grep -c '"message":"store image"' "$W/pg.log" || true) -ge $N ]] && break
  sleep 0.1
done
RSS1=$(rss)
sleep 0.5
python3 - "$W/pg.log" "$T0" "$T1" "$N" "$RSS0" "$RSS1" "$W/events.txt" <<'PY'
import json, re, sys
from datetime import datetime, timezone
log, t0, t1, n, rss0, rss1, evf = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
# ctr events: "2026-12-01 20:57:20.123456789 +0000 UTC bench /images/create {"name":"..."}"
created = {}
for l in open(evf):
    m = re.match(r"(\S+ \S+) \+0000 UTC bench /images/create (\{.*\})", l)
    if not m:
        continue
    day, clock = m.group(1).split(" ")
    whole, _, frac = clock.partition(".")
    t = datetime.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    created[json.loads(m.group(2))["name"]] = t + float("0." + (frac or "0"))
lines = [json.loads(l) for l in open(log) if l.startswith("{")]
store = [l for l in lines if l.get("message") == "store image"]
verdict_at = {l["image"]: datetime.fromisoformat(l["timestamp"].replace("Z", "+00:00")).timestamp() for l in store}
ts = sorted(verdict_at[k] - created[k] for k in verdict_at if k in created)
if len(created) < n:
    sys.exit(f"only {len(created)} of {n} create events seen")
verified = sum(1 for l in store if l.get("verdict") == "verified")
checks = sum(1 for l in lines if l.get("message") == "decision" and l.get("origin") == "store" and not l.get("cached"))
if len(ts) < n:
    sys.exit(f"only {len(ts)} of {n} verdicts")
q = lambda p: ts[min(len(ts) - 1, int(p * len(ts)))]
first, last = min(created.values()) - t0, max(created.values()) - t0
print(f"{n} images imported in one tarball: import took {t1 - t0:.2f} s, its {n} create events from {first:.2f} s to {last:.2f} s; {verified} verified, {checks} verifications")
print(f"/images/create event -> verdict: p50 {q(0.5) * 1000:.0f} ms, p90 {q(0.9) * 1000:.0f} ms, max {ts[-1] * 1000:.0f} ms")
print(f"daemon RSS: {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB after")
PY
