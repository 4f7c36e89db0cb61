#!/usr/bin/env python3
"""What an idle `pullguard serve` does: policy-dir opens, systemd notifications, log lines, CPU.

Starts a daemon on a policy of --statements statements and --certs trust store certificates
(10 stores), waits until it is ready, then watches it for --seconds without touching anything:

- opens of files and directories in the policy dir tree, by anyone (inotify IN_OPEN, counted
  from outside the daemon: no ptrace, nothing slowed down);
- RELOADING=1 / READY=1 datagrams on a NOTIFY_SOCKET (unless --no-notify);
- log lines at info or above;
- CPU: utime + stime from /proc/PID/stat over the window, as % of one core.

With --invalid the policy on disk is made invalid (in place) before the window: the daemon
keeps the last good one and should say so once, not over and over.

With --change it then rewrites one statement of trustpolicy.json in place and counts, over the
next 3 s, the generation, RELOADING=1 and "reloaded" log lines (a change must reload once).

    python3 scripts/idle-check.py [--seconds 10] [--bin target/release/pullguard] [--json]

Without --bin it builds and uses target/release/pullguard. Needs openssl (the CLI) and Linux.
"""

import argparse
import ctypes
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_OPEN = 0x20
IN_ISDIR = 0x40000000


def ca_pem(work, cn):
    key, crt = os.path.join(work, cn + ".key"), os.path.join(work, cn + ".crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", crt, "-days", "365", "-subj", "/CN=" + cn,
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,digitalSignature"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(crt) as f:
        return f.read()


def policy_doc(statements, variant):
    sts = [{"name": f"s{i}-{variant}", "registryScopes": [f"registry.example/team{i}/app"],
            "signatureVerification": {"level": "strict"}, "trustStores": [f"ca:big{i % 10}"],
            "trustedIdentities": ["*"]} for i in range(statements)]
    sts.append({"name": f"default-{variant}", "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"}, "trustStores": ["ca:big0"],
                "trustedIdentities": ["*"]})
    return json.dumps({"version": "1.0", "trustPolicies": sts})


def make_policy_dir(work, statements, certs):
    d = os.path.join(work, "policy")
    pems = [ca_pem(work, "idle-ca%d" % i) for i in range(min(certs, 10))]
    for i in range(max(certs, 10)):
        store = os.path.join(d, "truststore", "x509", "ca", "big%d" % (i % 10))
        os.makedirs(store, exist_ok=True)
        if i < certs or i < 10:
            with open(os.path.join(store, "c%d.pem" % i), "w") as f:
                f.write(pems[i % len(pems)])
    with open(os.path.join(d, "trustpolicy.json"), "w") as f:
        f.write(policy_doc(statements, 0))
    return d


class OpenCounter:
    """IN_OPEN on every directory of a tree: opens of its files and of the directories. Read
    continuously by a thread: the kernel merges identical events left unread (a lower bound)."""

    def __init__(self, top):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.files = 0
        self.dirs = 0
        for root, _, _ in os.walk(top, followlinks=True):
            if self.libc.inotify_add_watch(self.fd, root.encode(), IN_OPEN) < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch " + root)
        self.lock = threading.Lock()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            select.select([self.fd], [], [], 0.5)
            self.drain()

    def drain(self):
        with self.lock:
            self.drain_locked()

    def drain_locked(self):
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            off = 0
            while off + 16 <= len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, off)
                off += 16 + n
                if mask & IN_OPEN:
                    if mask & IN_ISDIR:
                        self.dirs += 1
                    else:
                        self.files += 1

    def reset(self):
        with self.lock:
            self.drain_locked()
            self.files = self.dirs = 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def log_lines(path, start):
    """Log lines at info or above written after byte offset `start`."""
    with open(path, "rb") as f:
        f.seek(start)
        out = []
        for line in f.read().decode(errors="replace").splitlines():
            try:
                v = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            if v.get("level") in ("INFO", "WARN", "ERROR"):
                out.append(str(v.get("message", line)))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--bin")
    ap.add_argument("--statements", type=int, default=1000)
    ap.add_argument("--certs", type=int, default=100)
    ap.add_argument("--no-notify", action="store_true")
    ap.add_argument("--change", action="store_true")
    ap.add_argument("--invalid", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "pullguard"],
                       cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "pullguard")
    work = tempfile.mkdtemp(prefix="pg-idle-")
    pdir = make_policy_dir(work, a.statements, a.certs)
    ctl_sock = os.path.join(work, "control.sock")
    env = dict(os.environ, PULLGUARD_CONTROL_SOCKET=ctl_sock)
    env.pop("NOTIFY_SOCKET", None)
    env.pop("LISTEN_FDS", None)
    env.pop("PULLGUARD_LOG", None)
    notify = None
    if not a.no_notify:
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(os.path.join(work, "notify.sock"))
        env["NOTIFY_SOCKET"] = os.path.join(work, "notify.sock")
    with open(os.path.join(work, "config.toml"), "w") as f:
        f.write("")
    log_path = os.path.join(work, "log.json")
    log = open(log_path, "wb")
    d = subprocess.Popen(
        [binary, "serve", "--config", os.path.join(work, "config.toml"), "--policy-dir", pdir,
         "--docker-listen", os.path.join(work, "docker.sock"),
         "--docker-upstream", os.path.join(work, "no-docker.sock"),
         "--control-listen", ctl_sock, "--log-format", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    counts = {"RELOADING=1": 0, "READY=1": 0}

    def pump(until):
        while True:
            left = until - time.time()
            if left <= 0 or notify is None:
                return
            r, _, _ = select.select([notify], [], [], left)
            if r:
                for w in notify.recv(4096).decode(errors="replace").split("\n"):
                    if w in counts:
                        counts[w] += 1

    def generation():
        out = subprocess.run([binary, "ctl", "status", "-o", "json"], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            return None
        return json.loads(out.stdout)["policy"]["generation"]

    result = {}
    try:
        deadline = time.time() + 30
        while generation() is None:
            if d.poll() is not None or time.time() > deadline:
                log.flush()
                sys.exit("daemon did not start:\n" + open(log_path).read())
            time.sleep(0.05)
        if notify is not None:
            while counts["READY=1"] == 0 and time.time() < deadline:
                pump(time.time() + 0.1)
        if a.invalid:
            with open(os.path.join(pdir, "trustpolicy.json"), "w") as f:
                f.write('{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["*"],'
                        '"signatureVerification":{"level":"bogus"}}]}')
            pump(time.time() + 1.0) if notify else time.sleep(1.0)
        # Settle, then the window.
        opens = OpenCounter(pdir)
        pump(time.time() + 1.0) if notify else time.sleep(1.0)
        opens.reset()
        for k in counts:
            counts[k] = 0
        log.flush()
        log_start = os.path.getsize(log_path)
        g0 = generation()
        c0, t0 = cpu_ticks(d.pid), time.time()
        if notify:
            pump(t0 + a.seconds)
        else:
            time.sleep(a.seconds)
        c1, t1 = cpu_ticks(d.pid), time.time()
        opens.drain()
        hz = os.sysconf("SC_CLK_TCK")
        result = {
            "seconds": round(t1 - t0, 2),
            "statements": a.statements,
            "certs": a.certs,
            "notify": notify is not None,
            "file_opens": opens.files,
            "dir_opens": opens.dirs,
            "reloading": counts["RELOADING=1"],
            "ready": counts["READY=1"],
            "log_lines": log_lines(log_path, log_start),
            "generation_before": g0,
            "generation_after": generation(),
            "cpu_ticks": c1 - c0,
            "cpu_percent": round(100.0 * (c1 - c0) / hz / (t1 - t0), 2),
        }
        if a.change:
            for k in counts:
                counts[k] = 0
            log_start = os.path.getsize(log_path)
            with open(os.path.join(pdir, "trustpolicy.json"), "w") as f:
                f.write(policy_doc(a.statements, 1))
            if notify:
                pump(time.time() + 3)
            else:
                time.sleep(3)
            lines = log_lines(log_path, log_start)
            result["change"] = {
                "generation": generation(),
                "reloading": counts["RELOADING=1"],
                "ready": counts["READY=1"],
                "reloaded_log_lines": sum(1 for m in lines if "reloaded" in m),
                "log_lines": lines,
            }
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(10)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
    if a.json:
        print(json.dumps(result))
    else:
        n = len(result["log_lines"])
        notif = (f"{result['reloading']} RELOADING=1 + {result['ready']} READY=1"
                 if result["notify"] else "no NOTIFY_SOCKET")
        invalid = ", policy on disk invalid" if a.invalid else ""
        print(f"idle {result['seconds']} s, {a.statements} statements + {a.certs} certs{invalid}: "
              f"{result['file_opens']} file opens + {result['dir_opens']} dir opens in the "
              f"policy dir, {notif}, {n} log lines (info+), generation "
              f"{result['generation_before']} -> {result['generation_after']}, "
              f"CPU {result['cpu_percent']}% of a core ({result['cpu_ticks']} ticks)")
        if "change" in result:
            c = result["change"]
            print(f"one in-place change: generation {c['generation']}, {c['reloading']} "
                  f"RELOADING=1, {c['reloaded_log_lines']} \"reloaded\" log lines")


if __name__ == "__main__":
    main()
