#!/usr/bin/env bash
# `docker pull` of the same signed image straight to dockerd vs through pullguard (release
# build), each cold (the image is removed before every run), by hyperfine; prints the ratio.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
export XDG_CONFIG_HOME=$W/config
REPO=$PG_REGISTRY/bench/pull-$$
head -c 4000000 /dev/urandom >"$W/blob.bin"; tar -C "$W" -czf "$W/l.tgz" blob.bin
crane append --insecure -f "$W/l.tgz" -t "$REPO:v1" 2>/dev/null
notation cert generate-test --default pullguard.bench >/dev/null
notation sign --insecure-registry "$REPO@$(crane digest --insecure "$REPO:v1")" >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
PGPID=
cleanup() { [[ -n $PGPID ]] && kill "$PGPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
PULLGUARD_LOG=warn target/release/pullguard serve --config /dev/null --policy-dir "$XDG_CONFIG_HOME/notation" \
  --docker-listen "$W/docker.sock" --docker-upstream "$PG_DOCKER_SOCK" --control-listen "$W/control.sock" \
  --insecure-registry "$PG_REGISTRY" & PGPID=$!
for _ in $(seq 100); do [[ -S $W/docker.sock ]] && break; sleep 0.05; done
DIRECT="docker -H unix://$PG_DOCKER_SOCK"
PROXY="docker -H unix://$W/docker.sock"
RM="$DIRECT rmi -f $REPO:v1"
hyperfine -N --warmup 2 --runs ${RUNS:-15} --prepare "$RM" --export-markdown "$W/pull.md" \
  -n "docker pull, straight to dockerd" "$DIRECT pull -q $REPO:v1" \
  -n "docker pull, through pullguard" "$PROXY pull -q $REPO:v1"
cat "$W/pull.md"
