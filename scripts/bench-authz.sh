#!/usr/bin/env bash
# `docker create` + `docker start -a` (+ rm) of the same verified image on two private dockerds
# that differ only in `--authorization-plugin=<pullguard>`, by hyperfine, alternating; prints the
# table and the median ratio (target <= 1.05). Release build; real peers from ../shared.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
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
run() { echo "id=\$($1 create --network none $REPO:v1) && $1 start -a \$id >/dev/null && $1 rm \$id >/dev/null"; }
hyperfine --warmup 3 --runs "${RUNS:-30}" --export-json "$W/run.json" --export-markdown "$W/run.md" \
  -n "create+start, no plugin" "$(run "$WITHOUT")" \
  -n "create+start, pullguard authz plugin" "$(run "$WITH")"
cat "$W/run.md"
python3 - "$W/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] for x in r]
print(f"median ratio (plugin / no plugin): {m[1] / m[0]:.3f}  ({m[0]*1000:.1f} ms vs {m[1]*1000:.1f} ms)")
PY
