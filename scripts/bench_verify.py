#!/usr/bin/env python3
"""Side by side, alternating: `pullguard verify` and `notation verify` (by digest and by tag),
a trivial exec, and the registry's own round-trip times for the requests a verification needs.

The floor of one verification is what no client can avoid on this machine: starting a process
(a trivial binary, spawned the same way as the others) plus the registry's time for the four
sequential requests (resolve, signature list, signature manifest, envelope blob), each measured
from a minimal client on one kept-alive connection. Every round runs every command once, in a
rotating order; the figures are medians over the rounds.

Over TLS (BENCH_CAFILE set: the registry's CA), the floor adds one TLS handshake (a new
connection each round, measured the same way) and both tools are given --insecure-registry no more.
With BENCH_RTT_MS set (the registry behind scripts/latency_proxy.py), the requests are measured
through the same proxy, and over plain HTTP the floor adds one round trip for the TCP handshake
(the TLS handshake's measurement has it already).

Usage: bench_verify.py ROUNDS REGISTRY REPO DIGEST TAG POLICY_DIR PULLGUARD
"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

rounds, registry, repo, digest, tag, policy_dir, pg = sys.argv[1:8]
rounds = int(rounds)
host, port = registry.split(":")
ref = f"{registry}/{repo}"
cafile = os.environ.get("BENCH_CAFILE")
rtt_ms = float(os.environ.get("BENCH_RTT_MS", "0"))
insecure = [] if cafile else ["--insecure-registry"]

commands = {
    "exec /bin/true": ["/bin/true"],
    "notation verify @digest": ["notation", "verify", *insecure, f"{ref}@{digest}"],
    "pullguard verify @digest": [pg, "verify", "--policy-dir", policy_dir, *insecure, f"{ref}@{digest}"],
    "notation verify :tag": ["notation", "verify", *insecure, f"{ref}:{tag}"],
    "pullguard verify :tag": [pg, "verify", "--policy-dir", policy_dir, *insecure, f"{ref}:{tag}"],
}
# BENCH_ALT=/path/to/pullguard: another build (a profile being tried) in the same rounds.
alt = os.environ.get("BENCH_ALT")
if alt:
    commands["alt pullguard verify @digest"] = [alt, "verify", "--policy-dir", policy_dir, *insecure, f"{ref}@{digest}"]
    commands["alt pullguard verify :tag"] = [alt, "verify", "--policy-dir", policy_dir, *insecure, f"{ref}:{tag}"]

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


def connect():
    if not cafile:
        return http.client.HTTPConnection(host, int(port))
    import ssl
    c = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=cafile))
    c.connect()
    return c


conn = connect()


def get(path, accept=ACCEPT):
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept} if accept else {})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status}")
    return time.perf_counter() - t, body


# The signature list as notation reads it from this registry (docker-registry 2.8 has no
# Referrers API: the tag schema), then the signature manifest and its envelope blob.
_, index = get(f"/v2/{repo}/manifests/{digest.replace(':', '-')}")
sig = json.loads(index)["manifests"][0]["digest"]
_, sig_manifest = get(f"/v2/{repo}/manifests/{sig}")
blob = json.loads(sig_manifest)["layers"][0]["digest"]
requests = {
    "resolve :tag": f"/v2/{repo}/manifests/{tag}",
    "resolve @digest": f"/v2/{repo}/manifests/{digest}",
    "signature list": f"/v2/{repo}/manifests/{digest.replace(':', '-')}",
    "signature manifest": f"/v2/{repo}/manifests/{sig}",
    "envelope blob": f"/v2/{repo}/blobs/{blob}",
}

for name, argv in commands.items():  # warm up, and fail loudly if one does not pass
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"{name}: exit {r.returncode}: {r.stderr.decode()}")

times = {k: [] for k in list(commands) + list(requests) + (["TLS handshake"] if cafile else [])}
names = list(commands)
for i in range(rounds):
    order = names[i % len(names):] + names[:i % len(names)]
    for name in order:
        t = time.perf_counter()
        pid = os.posix_spawnp(commands[name][0], commands[name], os.environ,
                              file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                            (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
        _, status = os.waitpid(pid, 0)
        times[name].append(time.perf_counter() - t)
        if status != 0:
            sys.exit(f"{name}: failed in round {i}")
    for name, path in requests.items():
        times[name].append(get(path, ACCEPT if "blob" not in name else None)[0])
    if cafile:
        t = time.perf_counter()
        connect().close()
        times["TLS handshake"].append(time.perf_counter() - t)

med = {k: statistics.median(v) * 1000 for k, v in times.items()}
q = {k: (sorted(v)[len(v) // 10] * 1000, sorted(v)[(len(v) * 9) // 10] * 1000) for k, v in times.items()}
rtt = f", registry {rtt_ms:g} ms away (latency proxy)" if rtt_ms else ""
print(f"\n{rounds} alternating rounds{rtt}, medians (p10 .. p90), load average {os.getloadavg()[0]:.2f}")
print("| measured | median | p10 | p90 |\n|---|---:|---:|---:|")
for k in times:
    print(f"| {k} | {med[k]:.2f} ms | {q[k][0]:.2f} | {q[k][1]:.2f} |")
chain = med["signature list"] + med["signature manifest"] + med["envelope blob"]
for kind in ("@digest", ":tag"):
    connect = med["TLS handshake"] if cafile else rtt_ms
    floor = med["exec /bin/true"] + med[f"resolve {kind}"] + chain + connect
    pgm, nm = med[f"pullguard verify {kind}"], med[f"notation verify {kind}"]
    tls = " + TLS handshake" if cafile else (f" + TCP handshake ({rtt_ms:g} ms RTT)" if rtt_ms else "")
    print(f"floor {kind}: {floor:.2f} ms (exec{tls} + resolve + signature list + signature manifest + envelope blob)")
    print(f"pullguard/floor {kind} = {pgm / floor:.2f} (target <= 1.20); notation/pullguard = {nm / pgm:.2f} (bounded by notation/floor = {nm / floor:.2f})")
    if alt:
        print(f"alt/floor {kind} = {med[f'alt pullguard verify {kind}'] / floor:.2f}")
