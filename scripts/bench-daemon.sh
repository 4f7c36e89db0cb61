#!/usr/bin/env bash
# Daemon figures: cold/warm verdict latency, policy change -> in effect, big-policy reload.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bins
cargo run --release --quiet --example bench_daemon
