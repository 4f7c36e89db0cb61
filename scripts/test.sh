#!/usr/bin/env bash
# Run every test: unit, conformance vectors, and integration tests against the real peers
# (registry, referrers registry, dockerd, containerd, notation). Installs what it needs.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command -v pkg-config >/dev/null && [[ -f /usr/include/openssl/ssl.h ]] || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pkg-config libssl-dev >/dev/null
}
command -v systemd-analyze >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
}
# The package test: man (systemd-analyze checks the unit's man: link), openssl (a test CA).
command -v man >/dev/null && command -v openssl >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends man-db openssl >/dev/null
}
# podman and skopeo through the mirror (tests/podman.rs).
command -v podman >/dev/null && command -v skopeo >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman skopeo >/dev/null
}
# The real Prometheus and promtool (tests/metrics.rs).
command -v prometheus >/dev/null && command -v promtool >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}
eval "$(bash scripts/peers-up.sh)"
for bin in notation oras crane docker-registry dockerd containerd systemd-analyze setpriv python3 dpkg-deb man openssl podman skopeo prometheus promtool; do
  command -v "$bin" >/dev/null || { echo "test: peer $bin is missing" >&2; exit 1; }
done
export PG_REQUIRE_PEERS=1
LOG=$(mktemp /tmp/pullguard-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT
set +e
cargo test --no-fail-fast --lib --bins --tests "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
# The Debian package (cargo-deb, from the debug build the tests just made: PACKAGE_PROFILE=dev;
# scripts/package.sh alone packages a release build): built, installed into a throwaway root,
# checked, removed. Counted as one test in the closing line; not run when cargo test is given a
# filter (`bash scripts/test.sh mirror`), nor is the interop set over TLS just before it.
if [[ $# -eq 0 ]]; then
  # The interop set once more over TLS (scripts/test-tls.sh: its own TLS registry and test CA).
  bash scripts/test-tls.sh 2>&1 | tee -a "$LOG"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || rc=1
  if PACKAGE_PROFILE=${PACKAGE_PROFILE:-dev} bash scripts/test-package.sh; then
    echo "test result: ok. 1 passed; 0 failed (scripts/test-package.sh)" >>"$LOG"
  else
    echo "test result: FAILED. 0 passed; 1 failed (scripts/test-package.sh)" | tee -a "$LOG"
    rc=1
  fi
fi
set -e
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$LOG"
exit "$rc"
