#!/usr/bin/env bash
# What docker-registry itself spends per request of a verification (the peer the daemon's cold
# verifications and the proxied pulls are bounded by): 2,000 sequential GETs of each kind on one
# kept-alive connection, the registry's CPU (user + system, from /proc) per request and the
# time per request. One signed image is pushed first (crane, notation). N sets the count.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(bash scripts/peers-up.sh)"
W=$(mktemp -d /tmp/pullguard-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
export XDG_CONFIG_HOME=$W/config
REPO=bench/registry-$$
echo bench >"$W/a.txt"; tar -C "$W" -czf "$W/a.tgz" a.txt
crane append --insecure -f "$W/a.tgz" -t "$PG_REGISTRY/$REPO:v1" 2>/dev/null
DIGEST=$(crane digest --insecure "$PG_REGISTRY/$REPO:v1")
notation cert generate-test --default pullguard.bench >/dev/null
notation sign --insecure-registry "$PG_REGISTRY/$REPO@$DIGEST" >/dev/null
REGPID=$(pgrep -f "docker-registry serve $PG_PEERS/registry.yml" | head -1)
[[ -n $REGPID ]] || { echo "bench-registry: the peers' docker-registry is not running" >&2; exit 1; }
python3 - "$REGPID" "$PG_REGISTRY" "$REPO" "$DIGEST" "${N:-2000}" <<'PY'
import http.client, json, sys, time
pid, registry, repo, digest, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
hz = 100  # USER_HZ on Linux
def cpu_ms():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / hz
accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
host, port = registry.split(":")
c = http.client.HTTPConnection(host, int(port))
def get(path, headers):
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    return r.status, r.read()
_, index = get(f"/v2/{repo}/manifests/{digest.replace(':', '-')}", {"Accept": accept})
sig = json.loads(index)["manifests"][0]["digest"]
_, m = get(f"/v2/{repo}/manifests/{sig}", {"Accept": accept})
blob = json.loads(m)["layers"][0]["digest"]
kinds = {
    "manifest by tag": (f"/v2/{repo}/manifests/v1", {"Accept": accept}),
    "manifest by digest": (f"/v2/{repo}/manifests/{digest}", {"Accept": accept}),
    "Referrers API (404 here)": (f"/v2/{repo}/referrers/{digest}", {"Accept": accept}),
    "tag-schema signature list": (f"/v2/{repo}/manifests/{digest.replace(':', '-')}", {"Accept": accept}),
    "signature manifest": (f"/v2/{repo}/manifests/{sig}", {"Accept": accept}),
    "envelope blob": (f"/v2/{repo}/blobs/{blob}", {}),
}
print(f"docker-registry, {n} sequential requests of each kind:")
for name, (path, headers) in kinds.items():
    a, t = cpu_ms(), time.perf_counter()
    for _ in range(n):
        status, _ = get(path, headers)
    el, b = time.perf_counter() - t, cpu_ms()
    print(f"  {name:28} status {status}: registry CPU {(b - a) / n:.2f} ms/request, {el / n * 1000:.2f} ms each")
PY
