#!/usr/bin/env bash
# Whole-process timing, side by side: `pullguard verify` vs the real `notation verify` on the
# same signed image in the real registry (loopback), same policy and trust store, by digest
# and by tag, next to the floor measured in the same run (a trivial exec plus the registry's own
# round trips for the requests a verification needs): scripts/bench_verify.py. Release build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
# PG=/path/to/pullguard measures another build (a profile being tried) instead.
if [[ -z ${PG:-} ]]; then
  cargo build --release --quiet --bin pullguard
  PG=$ROOT/target/release/pullguard
fi
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_CONFIG_HOME=$W/config
REPO=$PG_REGISTRY/bench/app-$$
echo bench >"$W/a.txt"; tar -C "$W" -czf "$W/a.tgz" a.txt
crane append --insecure -f "$W/a.tgz" -t "$REPO:v1" 2>/dev/null
DIGEST=$(crane digest --insecure "$REPO:v1")
notation cert generate-test --default pullguard.bench >/dev/null
notation sign --insecure-registry "$REPO@$DIGEST" >/dev/null
cat >"$XDG_CONFIG_HOME/notation/trustpolicy.json" <<JSON
{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}]}
JSON
DIR=$XDG_CONFIG_HOME/notation
python3 scripts/bench_verify.py "${RUNS:-31}" "$PG_REGISTRY" "bench/app-$$" "$DIGEST" v1 "$DIR" "$PG"
