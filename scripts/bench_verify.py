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

CPU: each command's own (user + system, all its threads, from wait4 in the timed rounds)
and, with BENCH_REGISTRY_PID set, the registry's for it: after the timed rounds, each command
and each request again, one at a time, the registry's on-CPU time (the sum over its threads of
/proc/PID/task/*/schedstat) read before it and 30 ms after it, so that what the registry does
after answering is counted too (the pauses are kept out of the timed rounds: after a pause each
request is slower, and the floor would move). The registry shares the cores here, so a
verification's wall time is bounded below by (its CPU + the registry's CPU for it) / cores as
well as by the floor.

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
registry_pid = os.environ.get("BENCH_REGISTRY_PID")


def registry_cpu():
    """The registry's on-CPU time so far, in seconds."""
    total = 0
    for t in os.listdir(f"/proc/{registry_pid}/task"):
        try:
            with open(f"/proc/{registry_pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between the listing and the read
    return total / 1e9

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



def spawn(name):
    """Runs one command to its end: (wall seconds, CPU seconds, exit status)."""
    t = time.perf_counter()
    pid = os.posix_spawnp(commands[name][0], commands[name], os.environ,
                          file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime, status


times = {k: [] for k in list(commands) + list(requests) + (["TLS handshake"] if cafile else [])}
cpu = {k: [] for k in commands}
names = list(commands)
for i in range(rounds):
    order = names[i % len(names):] + names[:i % len(names)]
    for name in order:
        wall, used, status = spawn(name)
        times[name].append(wall)
        cpu[name].append(used)
        if status != 0:
            sys.exit(f"{name}: failed in round {i}")
    for name, path in requests.items():
        times[name].append(get(path, ACCEPT if "blob" not in name else None)[0])
    if cafile:
        t = time.perf_counter()
        connect().close()
        times["TLS handshake"].append(time.perf_counter() - t)

reg_cpu = {k: [] for k in list(commands) + list(requests)}
for i in range(min(rounds, 15) if registry_pid else 0):
    for name in list(commands) + list(requests):
        r0 = registry_cpu()
        if name in commands:
            spawn(name)
        else:
            get(requests[name], ACCEPT if "blob" not in name else None)
        time.sleep(0.03)
        reg_cpu[name].append(registry_cpu() - r0)

med = {k: statistics.median(v) * 1000 for k, v in times.items()}
q = {k: (sorted(v)[len(v) // 10] * 1000, sorted(v)[(len(v) * 9) // 10] * 1000) for k, v in times.items()}
rtt = f", registry {rtt_ms:g} ms away (latency proxy)" if rtt_ms else ""
print(f"\n{rounds} alternating rounds{rtt}, medians (p10 .. p90), load average {os.getloadavg()[0]:.2f}")
mean_cpu = {k: statistics.mean(v) * 1000 for k, v in cpu.items()}
mean_reg = {k: statistics.mean(v) * 1000 for k, v in reg_cpu.items() if v}
print("| measured | median | p10 | p90 | own CPU (mean) | registry CPU (mean) |")
print("|---|---:|---:|---:|---:|---:|")
for k in times:
    own = f"{mean_cpu[k]:.2f} ms" if k in mean_cpu else ""
    reg = f"{mean_reg[k]:.2f} ms" if k in mean_reg else ""
    print(f"| {k} | {med[k]:.2f} ms | {q[k][0]:.2f} | {q[k][1]:.2f} | {own} | {reg} |")
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
    cores = os.cpu_count() or 1
    for tool in ("pullguard", "notation") if registry_pid else ():
        k = f"{tool} verify {kind}"
        need = (mean_cpu[k] + mean_reg[k]) / cores
        print(f"{tool} {kind}: {mean_cpu[k]:.2f} ms of its own CPU + {mean_reg[k]:.2f} ms of the registry's: "
              f"on {cores} shared cores at least {need:.2f} ms ({need / floor:.2f} of the floor)")
