#!/usr/bin/env bash
# The daemon under load and its start (issue 13), against a release daemon and the real peers:
# 64 distinct signed images verified cold at once through the control API (verifications/s,
# p99), 10,000 warm verdicts by digest from 64 clients (p50/p99), 64 concurrent `docker pull`s
# through the proxy vs straight to dockerd (ratio), and start to READY=1 with a 1,000-statement
# policy and 100 certificates. The last lines print each figure next to its target.
# Knobs (env): IMAGES CLIENTS WARM COLD_ROUNDS PULL_ROUNDS STARTS ONLY=cold,warm,pull,start
# (see examples/bench_load.rs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bins --example bench_load
# The registry's CPU is reported next to the daemon's (it shares the 2 cores).
REGISTRY_PID=$(pgrep -f "docker-registry serve $PG_PEERS/registry.yml" | head -1 || true)
export REGISTRY_PID
exec target/release/examples/bench_load
