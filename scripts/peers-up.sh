#!/usr/bin/env bash
# Install (if needed) and start the real peers from ../shared/peers, then print their env.
# Fails loudly when a peer is missing: tests never skip silently.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${PULLGUARD_SHARED:-$ROOT/../shared}
PEERS=$SHARED/peers/peers.sh
[[ -f $PEERS ]] || { echo "peers-up: $PEERS not found (../shared must sit beside the repo)" >&2; exit 1; }
bash "$PEERS" install >&2
bash "$PEERS" start >&2
bash "$PEERS" env
