#!/usr/bin/env bash
# Whole-process timing, side by side: `pullguard verify` vs the real `notation verify` on the
# same signed image in the real registry (loopback), same policy and trust store, by digest
# and by tag. Uses hyperfine (installed from Debian if missing) and the release build.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
eval "$(bash scripts/peers-up.sh)"
cargo build --release --quiet --bin pullguard
PG=$ROOT/target/release/pullguard
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
hyperfine -N --warmup 5 --runs ${RUNS:-50} --export-markdown "$W/by-digest.md" \
  -n "notation verify @digest" "notation verify --insecure-registry $REPO@$DIGEST" \
  -n "pullguard verify @digest" "$PG verify --policy-dir $DIR --insecure-registry $REPO@$DIGEST"
hyperfine -N --warmup 5 --runs ${RUNS:-50} --export-markdown "$W/by-tag.md" \
  -n "notation verify :tag" "notation verify --insecure-registry $REPO:v1" \
  -n "pullguard verify :tag" "$PG verify --policy-dir $DIR --insecure-registry $REPO:v1"
cat "$W/by-digest.md" "$W/by-tag.md"
