#!/usr/bin/env bash
# A soak with faults (not in CI). PULLS mixed pulls (default 5000) by CONCURRENCY clients
# (default 32, each starting a pull at most every CYCLE s, default 2) through pullguard's Docker proxy and its registry mirror, plus a real containerd pull every
# few seconds, of signed, unsigned, tampered and moving-tag images, while on a schedule:
#   - the registry is SIGKILLed and restarted (every REG_EVERY s, default 15) and slowed
#     (a TCP proxy in front of it: 0.3 s per chunk, sometimes a 20 s stall; SLOW_EVERY, 10);
#   - the trust policy is replaced every second: valid (trusting the key, reformatted, trusting
#     another key only) and invalid (truncated, a missing trust store, duplicate names), by
#     rename and in place;
#   - the daemon is SIGKILLed and restarted (every KILL_EVERY s, default 20), until 70% of the
#     pulls have started: the last daemon serves the rest alone (its RSS and fds are reported).
# Every peer is private (a docker-registry, a dockerd, the daemon; containerd pulls go to the
# shared containerd 1.6 in a namespace of their own). Asserts at the end, then prints the counts
# and the daemon's peak RSS as its last line; exit 1 on a failure. SOAK_CANARY=1 also fetches an
# unsigned manifest straight from the registry and pulls an unsigned image straight into dockerd
# (around pullguard), so the asserts can be seen to catch them. The answers, samples and logs
# stay in the printed work dir when KEEP=1.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PULLS=${PULLS:-5000}
CONCURRENCY=${CONCURRENCY:-32}
REG_EVERY=${REG_EVERY:-15}
SLOW_EVERY=${SLOW_EVERY:-10}
KILL_EVERY=${KILL_EVERY:-20}
CYCLE=${CYCLE:-2}           # each client starts a pull at most every CYCLE s
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bins
PG=$ROOT/target/release/pullguard
W=$(mktemp -d /tmp/pgsoak.XXXXXX)
echo "soak: work dir $W" >&2
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
REG_PORT=$(port); SLOW_PORT=$(port); MIRROR_PORT=$(port)
REGISTRY=127.0.0.1:$SLOW_PORT
mkdir -p "$W"/{reg,out,policy,pol,certs.d/"$REGISTRY",d}
PIDS=()
DOCKERD_PID=
cleanup() {
  set +e
  for p in "${PIDS[@]}" "${SLOWPID:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null; done
  [[ -f $W/daemon.pid ]] && kill -KILL "$(cat "$W/daemon.pid")" 2>/dev/null
  [[ -f $W/registry.pid ]] && kill -KILL "$(cat "$W/registry.pid")" 2>/dev/null
  if [[ -n $DOCKERD_PID ]]; then
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null
    umount -R -l "$W/d" 2>/dev/null
  fi
  if [[ -n ${CTR_NS:-} ]]; then
    ctr --address "$PG_CONTAINERD_SOCK" -n "$CTR_NS" images ls -q 2>/dev/null |
      xargs -r ctr --address "$PG_CONTAINERD_SOCK" -n "$CTR_NS" images rm --sync >/dev/null 2>&1
    ctr --address "$PG_CONTAINERD_SOCK" -n "$CTR_NS" content ls -q 2>/dev/null |
      xargs -r ctr --address "$PG_CONTAINERD_SOCK" -n "$CTR_NS" content rm >/dev/null 2>&1
    ctr --address "$PG_CONTAINERD_SOCK" namespaces rm "$CTR_NS" >/dev/null 2>&1
  fi
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$W"
}
trap cleanup EXIT

# --- the private registry (restartable) and the slowing proxy in front of it
cat >"$W/registry.yml" <<YML
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $W/reg}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$REG_PORT
YML
start_registry() {
  docker-registry serve "$W/registry.yml" >>"$W/registry.log" 2>&1 </dev/null &
  echo $! >"$W/registry.pid"; disown
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0; sleep 0.05; done
  echo "soak: the registry did not start" >&2; return 1
}
start_registry
echo fast >"$W/slow.state"
python3 scripts/soak.py slowproxy "$SLOW_PORT" "$REG_PORT" "$W/slow.state" 2>>"$W/slowproxy.log" & SLOWPID=$!

# --- the private dockerd (its registry is the slow proxy's address)
dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
  --host "unix://$W/d/d.sock" --data-root "$W/d/root" --exec-root "$W/d/x" --pidfile "$W/d/d.pid" \
  --insecure-registry "$REGISTRY" >"$W/dockerd.log" 2>&1 </dev/null & DOCKERD_PID=$!
for _ in $(seq 300); do DOCKER_HOST=unix://$W/d/d.sock docker version >/dev/null 2>&1 && break; sleep 0.1; done
DOCKER_HOST=unix://$W/d/d.sock docker version >/dev/null

# --- images and keys
export XDG_CONFIG_HOME=$W/notation-home
notation cert generate-test --default soak.trusted >/dev/null
notation cert generate-test soak.other >/dev/null
python3 scripts/soak.py prepare "$W/plan.json" "$REG_PORT" "$SLOW_PORT" "$W/reg" "$XDG_CONFIG_HOME"
N=$XDG_CONFIG_HOME/notation
cp -a "$N/truststore" "$W/policy/"

# --- policies: valid and invalid variants
pol() { printf '{"version":"1.0","trustPolicies":[%s]}\n' "$1"; }
ST='{"name":"%s","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["%s"],"trustedIdentities":["*"]}'
pol "$(printf "$ST" soak ca:soak.trusted)" >"$W/pol/good1.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["trustPolicies"][0]["name"]="soak-reformatted"; print(json.dumps(d, indent=4))' "$W/pol/good1.json" >"$W/pol/good2.json"
pol "$(printf "$ST" other ca:soak.other)" >"$W/pol/other.json"          # valid, trusts no image here
head -c 60 "$W/pol/good1.json" >"$W/pol/bad-truncated.json"
pol "$(printf "$ST" soak ca:soak.nowhere)" >"$W/pol/bad-store.json"
pol "$(printf "$ST" dup ca:soak.trusted),$(printf "$ST" dup ca:soak.trusted)" >"$W/pol/bad-dup.json"
for v in good1 good2 other bad-truncated bad-store bad-dup; do   # each variant is what it says
  mkdir -p "$W/polcheck-$v" && cp -a "$N/truststore" "$W/polcheck-$v/" && cp "$W/pol/$v.json" "$W/polcheck-$v/trustpolicy.json"
  rc=0; "$PG" policy check --policy-dir "$W/polcheck-$v" >/dev/null 2>&1 || rc=$?
  [[ ($v == bad-* && $rc != 0) || ($v != bad-* && $rc == 0) ]] || { echo "soak: policy $v: policy check exit $rc" >&2; exit 1; }
done
cp "$W/pol/good1.json" "$W/policy/trustpolicy.json"
"$PG" policy check --policy-dir "$W/policy" >/dev/null

# --- the daemon (restartable)
cat >"$W/config.toml" <<TOML
insecure_registries = ["$REGISTRY"]
registry_connect_timeout_secs = 2
registry_timeout_secs = 10
positive_cache_secs = 3
negative_cache_secs = 1
[mirror]
listen = "127.0.0.1:$MIRROR_PORT"
upstreams = ["$REGISTRY"]
[control]
debounce_ms = 200
TOML
DAEMON_STARTS=0; DAEMON_REFUSED=0
start_daemon() {
  # Started while the policy on disk is invalid, the daemon exits 2 (by design): try again.
  for _ in $(seq 50); do
    PULLGUARD_LOG=info "$PG" serve --config "$W/config.toml" --policy-dir "$W/policy" \
      --docker-listen "$W/docker.sock" --docker-upstream "$W/d/d.sock" --control-listen "$W/control.sock" \
      --log-format json >>"$W/daemon.log" 2>&1 </dev/null &
    local pid=$!
    echo $pid >"$W/daemon.pid"; disown
    for _ in $(seq 100); do
      kill -0 $pid 2>/dev/null || break
      if curl -sf -o /dev/null "http://127.0.0.1:$MIRROR_PORT/v2/" && [[ -S $W/docker.sock ]]; then
        DAEMON_STARTS=$((DAEMON_STARTS + 1)); return 0
      fi
      sleep 0.05
    done
    DAEMON_REFUSED=$((DAEMON_REFUSED + 1))
    kill -KILL $pid 2>/dev/null || true
    sleep 0.2
  done
  echo "soak: the daemon does not start" >&2; return 1
}
start_daemon
sleep 1
python3 scripts/soak.py idle "$W/daemon.pid" "$W/out/idle-start.json"

cat >"$W/certs.d/$REGISTRY/hosts.toml" <<TOML
server = "http://127.0.0.1:$MIRROR_PORT"
[host."http://127.0.0.1:$MIRROR_PORT"]
  capabilities = ["pull", "resolve"]
TOML
CTR_NS=pgsoak-$$

# --- the fault schedules (background loops; each stops when the driver is done)
fault_registry() {
  set +e   # a kill of a process already gone must not end the schedule
  while sleep "$REG_EVERY"; do
    kill -KILL "$(cat "$W/registry.pid")" 2>/dev/null
    echo "$(date +%s.%N) registry killed" >>"$W/faults.log"
    sleep 1.5
    start_registry || true
    echo "$(date +%s.%N) registry restarted" >>"$W/faults.log"
  done
}
fault_slow() {
  set +e   # a kill of a process already gone must not end the schedule
  local modes=(slow stall)
  while sleep "$SLOW_EVERY"; do
    local m=${modes[RANDOM % 2]}
    echo "$m" >"$W/slow.state"; echo "$(date +%s.%N) registry $m" >>"$W/faults.log"
    sleep 4
    echo fast >"$W/slow.state"; echo "$(date +%s.%N) registry fast" >>"$W/faults.log"
  done
}
fault_policy() {
  set +e   # a kill of a process already gone must not end the schedule
  local variants=(good1 good1 good2 good2 other bad-truncated bad-store bad-dup) n=0
  while sleep 1; do
    local v=${variants[RANDOM % ${#variants[@]}]}
    n=$((n + 1))
    if ((RANDOM % 2)); then
      cp "$W/pol/$v.json" "$W/policy/.trustpolicy.json.new" && mv "$W/policy/.trustpolicy.json.new" "$W/policy/trustpolicy.json"
      echo "$(date +%s.%N) policy $v by rename" >>"$W/faults.log"
    else
      cat "$W/pol/$v.json" >"$W/policy/trustpolicy.json"
      echo "$(date +%s.%N) policy $v in place" >>"$W/faults.log"
    fi
  done
}
fault_daemon() {
  set +e   # a kill of a process already gone must not end the schedule
  while sleep "$KILL_EVERY"; do
    [[ -e $W/out/calm ]] && break   # the last 30% of the pulls: one daemon, for the RSS / fd figures
    kill -KILL "$(cat "$W/daemon.pid")" 2>/dev/null
    echo "$(date +%s.%N) daemon killed" >>"$W/faults.log"
    sleep 1
    start_daemon
    echo "$(date +%s.%N) daemon restarted ($DAEMON_STARTS starts, $DAEMON_REFUSED refused an invalid policy)" >>"$W/faults.log"
  done
}
fault_registry & PIDS+=($!)
fault_slow & PIDS+=($!)
fault_policy & PIDS+=($!)
fault_daemon & FDPID=$!; PIDS+=($FDPID)
python3 scripts/soak.py move "$W/plan.json" & PIDS+=($!)

export SOAK_PROXY_SOCK=$W/docker.sock SOAK_DOCKERD_SOCK=$W/d/d.sock SOAK_MIRROR=127.0.0.1:$MIRROR_PORT \
  SOAK_DAEMON_PIDFILE=$W/daemon.pid SOAK_CTR="ctr --address $PG_CONTAINERD_SOCK" SOAK_CTR_NS=$CTR_NS \
  SOAK_CONCURRENCY=$CONCURRENCY SOAK_HOSTS_DIR=$W/certs.d SOAK_DAEMON_LOG=$W/daemon.log SOAK_PULLGUARD=$PG SOAK_POLICY_DIR=$W/policy
START=$(date +%s)
python3 scripts/soak.py drive "$W/plan.json" "$PULLS" "$CONCURRENCY" "$W/out" "$CYCLE"
END=$(date +%s)

# --- stop the faults, back to a good state, then the asserts
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${PIDS[@]}" 2>/dev/null || true
PIDS=()
echo fast >"$W/slow.state"
cp "$W/pol/good1.json" "$W/policy/.trustpolicy.json.new" && mv "$W/policy/.trustpolicy.json.new" "$W/policy/trustpolicy.json"
kill -0 "$(cat "$W/registry.pid")" 2>/dev/null || start_registry
kill -0 "$(cat "$W/daemon.pid")" 2>/dev/null || start_daemon
python3 scripts/soak.py repair "$W/plan.json"
sleep 3
python3 scripts/soak.py idle "$W/daemon.pid" "$W/out/idle-end.json"
echo "soak: $((END - START)) s of load; faults: $(grep -c 'registry killed' "$W/faults.log") registry kills," \
  "$(grep -c 'registry s' "$W/faults.log") slow/stall windows, $(grep -c 'policy ' "$W/faults.log") policy replacements," \
  "$(grep -c 'daemon killed' "$W/faults.log") daemon SIGKILLs ($(grep 'daemon restarted' "$W/faults.log" | tail -1 | sed 's/.*(//; s/)//'))"
python3 scripts/soak.py check "$W/plan.json" "$W/out"
