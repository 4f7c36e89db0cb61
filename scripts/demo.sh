#!/usr/bin/env bash
# The main job, end to end against real peers: a registry, the real notation CLI, pullguard.
# Pushes two images, signs one with `notation sign`, and shows pullguard allowing the signed one
# and denying the unsigned one (side by side with `notation verify`).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --quiet --bin pullguard
PG=$ROOT/target/debug/pullguard
W=$(mktemp -d /tmp/pullguard-demo.XXXXXX)
PGPID=
cleanup() { [[ -n $PGPID ]] && kill "$PGPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export XDG_CONFIG_HOME=$W/config
REPO=$PG_REGISTRY/demo/app-$$

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "push two images to the real registry ($PG_REGISTRY)"
echo signed >"$W/a.txt"; tar -C "$W" -czf "$W/a.tgz" a.txt
echo unsigned >"$W/b.txt"; tar -C "$W" -czf "$W/b.tgz" b.txt
crane append --insecure -f "$W/a.tgz" -t "$REPO:signed" 2>/dev/null
crane append --insecure -f "$W/b.tgz" -t "$REPO:unsigned" 2>/dev/null

say "sign $REPO:signed with the real notation CLI (test key pullguard.demo)"
notation cert generate-test --default pullguard.demo >/dev/null
notation sign --insecure-registry "$REPO@$(crane digest --insecure "$REPO:signed")"
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"demo","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.demo"],"trustedIdentities":["*"]}]}
JSON
$PG policy check --policy-dir "$XDG_CONFIG_HOME/notation"

say "pullguard verify $REPO:signed   (expect: allowed, exit 0)"
$PG verify --policy-dir "$XDG_CONFIG_HOME/notation" --insecure-registry "$REPO:signed"
echo "exit $?"

say "pullguard verify $REPO:unsigned (expect: denied, exit 1)"
set +e
$PG verify --policy-dir "$XDG_CONFIG_HOME/notation" --insecure-registry "$REPO:unsigned"
rc=$?
set -e
echo "exit $rc"
[[ $rc == 1 ]] || { echo "demo: expected the unsigned image to be denied" >&2; exit 1; }

say "the same two verdicts from the real notation verify"
notation verify --insecure-registry "$REPO:signed" 2>/dev/null && echo "notation: signed allowed"
notation verify --insecure-registry "$REPO:unsigned" >/dev/null 2>&1 || echo "notation: unsigned denied"

say "the Docker guard: pullguard serve in front of the real dockerd"
PULLGUARD_LOG=warn $PG serve --config /dev/null --policy-dir "$XDG_CONFIG_HOME/notation" \
  --docker-listen "$W/docker.sock" --docker-upstream "$PG_DOCKER_SOCK" --control-listen "$W/control.sock" \
  --insecure-registry "$PG_REGISTRY" & PGPID=$!
for _ in $(seq 100); do [[ -S $W/docker.sock ]] && break; sleep 0.05; done
export DOCKER_HOST=unix://$W/docker.sock
docker pull "$REPO:signed"
set +e
docker pull "$REPO:unsigned"
rc=$?
set -e
[[ $rc != 0 ]] || { echo "demo: the unsigned pull should have been refused" >&2; exit 1; }
say "decisions, from the control API (pullguard ctl)"
PULLGUARD_CONTROL_SOCKET=$W/control.sock $PG ctl decisions
