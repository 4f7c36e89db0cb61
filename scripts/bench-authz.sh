#!/usr/bin/env bash
# `docker create` + `docker start -a` + `docker rm` of the same verified image on two private
# dockerds that differ only in `--authorization-plugin=<pullguard>`, alternating runs; prints the
# medians and their ratio (target <= 1.05). Release build; real peers from ../shared.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
W=$(mktemp -d /tmp/pgab.XXXXXX)
export XDG_CONFIG_HOME=$W/config
NAME=pgbench$$
REPO=$PG_REGISTRY/bench/run-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2; rm -f "/etc/docker/plugins/$NAME.spec"; rm -rf "$W" 2>/dev/null || true
}
trap cleanup EXIT
# A runnable image: a static binary that prints /msg.
printf '#include <unistd.h>\nint main(void){write(1,"ok\\n",3);return 0;}\n' >"$W/hello.c"
gcc -static -O2 -o "$W/hello" "$W/hello.c"
tar -C "$W" -czf "$W/l.tgz" hello
crane append --insecure -f "$W/l.tgz" -t "$REPO:v1" >/dev/null 2>&1
crane mutate --insecure --entrypoint /hello "$REPO:v1" >/dev/null 2>&1
notation cert generate-test --default pullguard.bench >/dev/null
notation sign --insecure-registry "$REPO@$(crane digest --insecure "$REPO:v1")" >/dev/null 2>&1
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
mkdir -p "$W/with" "$W/without" /etc/docker/plugins
echo "unix://$W/authz.sock" >"/etc/docker/plugins/$NAME.spec"
printf '[authz]\nlisten = "%s"\n' "$W/authz.sock" >"$W/pg.toml"
PULLGUARD_LOG=warn target/release/pullguard serve --config "$W/pg.toml" --policy-dir "$XDG_CONFIG_HOME/notation" \
  --docker-upstream "$W/with/d.sock" --control-listen "$W/control.sock" --insecure-registry "$PG_REGISTRY" &
PIDS+=($!)
for _ in $(seq 100); do [[ -S $W/authz.sock ]] && break; sleep 0.05; done
start_dockerd() { # dir extra-flags...
  local d=$1; shift
  setsid dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
    --host "unix://$d/d.sock" --data-root "$d/root" --exec-root "$d/x" --pidfile "$d/d.pid" \
    --insecure-registry "$PG_REGISTRY" "$@" >"$d/dockerd.log" 2>&1 </dev/null &
  PIDS+=($!)
  for _ in $(seq 200); do docker -H "unix://$d/d.sock" version >/dev/null 2>&1 && return; sleep 0.1; done
  echo "dockerd in $d did not start" >&2; exit 1
}
start_dockerd "$W/with" "--authorization-plugin=$NAME"
start_dockerd "$W/without"
WITH="docker -H unix://$W/with/d.sock"
WITHOUT="docker -H unix://$W/without/d.sock"
$WITH pull -q "$REPO:v1" >/dev/null
$WITHOUT pull -q "$REPO:v1" >/dev/null
# Alternating runs (one with, one without, ...) so that load on the machine hits both alike.
python3 - "$WITHOUT" "$WITH" "$REPO:v1" "${RUNS:-30}" <<'PY'
import statistics, subprocess, sys, time
without, with_, image, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def once(docker):
    t = time.perf_counter()
    cid = subprocess.run(docker.split() + ["create", "--network", "none", image], check=True, capture_output=True, text=True).stdout.strip()
    out = subprocess.run(docker.split() + ["start", "-a", cid], check=True, capture_output=True, text=True).stdout
    subprocess.run(docker.split() + ["rm", cid], check=True, capture_output=True)
    assert out.strip() == "ok", out
    return time.perf_counter() - t
for d in (without, with_):
    for _ in range(3):
        once(d)  # warm up
times = {without: [], with_: []}
for _ in range(runs):
    for d in (without, with_):
        times[d].append(once(d))
a, b = statistics.median(times[without]), statistics.median(times[with_])
print(f"| create+start+rm | median | p90 |")
print(f"|---|---:|---:|")
for name, d in (("no plugin", without), ("pullguard authz plugin", with_)):
    q = sorted(times[d])
    print(f"| {name} | {statistics.median(q)*1000:.1f} ms | {q[int(len(q)*0.9)-1]*1000:.1f} ms |")
print(f"median ratio (plugin / no plugin): {b / a:.3f} over {runs} alternating runs each")
PY
