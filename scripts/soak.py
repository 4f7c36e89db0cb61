#!/usr/bin/env python3
"""The soak's helpers (driven by scripts/soak.sh; standard library only).

  soak.py slowproxy LISTEN_PORT UPSTREAM_PORT STATE_FILE
      A TCP proxy in front of the private registry. STATE_FILE holds "fast", "slow" (each
      chunk forwarded 0.3 s late) or "stall" (as slow, and 1 connection in 20 held silent for
      20 s, longer than the daemon's registry timeout).
  soak.py prepare PLAN REGISTRY_PORT SLOW_PORT REGISTRY_DATA NOTATION_HOME
      Push and sign the image set, make the tampered ones, write PLAN (JSON).
  soak.py move PLAN
      Every 0.7 s point each moving tag at its signed or its unsigned manifest.
  soak.py repair PLAN
      After the faults: put the moving tags' manifests again (a torn write of a killed registry).
  soak.py drive PLAN PULLS CONCURRENCY OUT_DIR CYCLE
      The pulls by CONCURRENCY clients, each starting one at most every CYCLE s, every request
      with a deadline; at 70% of the pulls the file OUT_DIR/calm; the RSS / fd sampler; results
      as JSON lines in OUT_DIR/answers.jsonl, samples in OUT_DIR/samples.jsonl.
  soak.py check PLAN OUT_DIR
      The end asserts; prints the counts as its last line; exit 1 on any failure.
"""

import asyncio
import hashlib
import json
import os
import random
import subprocess
import sys
import time
import urllib.request

DOCKER_TIMEOUT = 60.0
MIRROR_TIMEOUT = 30.0
CTR_TIMEOUT = 60.0
ACCEPT = ",".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])


# ---------------------------------------------------------------- slow proxy

async def slowproxy(listen_port, upstream_port, state_file):
    state = {"mode": "fast"}

    async def watch():
        while True:
            try:
                with open(state_file) as f:
                    state["mode"] = f.read().strip() or "fast"
            except OSError:
                state["mode"] = "fast"
            await asyncio.sleep(0.2)

    async def pipe(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                if state["mode"] in ("slow", "stall"):
                    await asyncio.sleep(0.3)
                w.write(data)
                await w.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            try:
                w.close()
            except OSError:
                pass

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            cw.close()
            return
        if state["mode"] == "stall" and random.random() < 0.05:
            await asyncio.sleep(20)
        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    asyncio.ensure_future(watch())
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port, backlog=512)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- prepare

def run(*args, env=None, check=True):
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        sys.exit(f"soak prepare: {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.strip()


def prepare(plan_path, reg_port, slow_port, reg_data, notation_home):
    reg = f"127.0.0.1:{reg_port}"        # pushes and signing go straight to the registry
    pub = f"127.0.0.1:{slow_port}"       # what clients and the daemon use (through the slow proxy)
    env = dict(os.environ, XDG_CONFIG_HOME=notation_home)
    work = os.path.join(os.path.dirname(plan_path), "img")
    os.makedirs(work, exist_ok=True)
    images = []
    seq = [0]

    def push(repo, tag, text):
        seq[0] += 1
        d = os.path.join(work, str(seq[0]))
        os.makedirs(d)
        with open(os.path.join(d, "f.txt"), "w") as f:
            f.write(f"{text} {seq[0]} {random.random()}\n")
        run("tar", "-C", d, "-czf", os.path.join(d, "l.tgz"), "f.txt")
        ref = f"{reg}/{repo}:{tag}"
        run("crane", "append", "--insecure", "-f", os.path.join(d, "l.tgz"), "-t", ref)
        digest = run("crane", "digest", "--insecure", ref)
        m = json.loads(run("crane", "manifest", "--insecure", f"{reg}/{repo}@{digest}"))
        blobs = [m["config"]["digest"]] + [l["digest"] for l in m["layers"]]
        return digest, blobs

    def sign(repo, digest):
        run("notation", "sign", "--insecure-registry", f"{reg}/{repo}@{digest}", env=env)

    def signature_of(repo, digest):
        """(signature manifest digest, envelope blob digest) of the one signature (tag schema)."""
        idx = json.loads(run("crane", "manifest", "--insecure", f"{reg}/{repo}:sha256-{digest[7:]}"))
        sig = idx["manifests"][0]["digest"]
        m = json.loads(run("crane", "manifest", "--insecure", f"{reg}/{repo}@{sig}"))
        return sig, m["layers"][0]["digest"], idx

    def blob_path(digest):
        h = digest[7:]
        return os.path.join(reg_data, "docker/registry/v2/blobs/sha256", h[:2], h, "data")

    def flip_signature(envelope: bytes) -> bytes:
        doc = json.loads(envelope)
        s = doc["signature"]
        i = len(s) // 2
        doc["signature"] = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
        return json.dumps(doc).encode()

    def add(cls, repo, tag, digest, blobs, note):
        images.append({"class": cls, "repo": repo, "tag": tag, "digest": digest,
                       "blobs": blobs, "note": note})

    for i in range(8):
        repo = f"soak/signed-{i}"
        d, b = push(repo, "v1", repo)
        sign(repo, d)
        add("signed", repo, "v1", d, b, "signed by the trusted key")
    for i in range(3):
        repo = f"soak/unsigned-{i}"
        d, b = push(repo, "v1", repo)
        add("unverified", repo, "v1", d, b, "no signature")
    for i in range(2):
        # The envelope blob altered in the registry's storage: same size, same digest claimed.
        repo = f"soak/tamperblob-{i}"
        d, b = push(repo, "v1", repo)
        sign(repo, d)
        _, env_digest, _ = signature_of(repo, d)
        path = blob_path(env_digest)
        with open(path, "rb") as f:
            data = f.read()
        doc = json.loads(data)
        s = doc["signature"]
        i2 = len(s) // 2
        flipped = s[:i2] + ("A" if s[i2] != "A" else "B") + s[i2 + 1:]
        data2 = data.replace(s.encode(), flipped.encode())
        assert len(data2) == len(data) and data2 != data
        with open(path, "wb") as f:
            f.write(data2)
        add("unverified", repo, "v1", d, b, "its envelope blob altered on the registry's disk")
    for i in range(2):
        # A valid envelope blob (right digest) whose signature was altered, attached as the only
        # signature: sign, take the envelope, delete the signature, attach the altered copy.
        repo = f"soak/badsig-{i}"
        d, b = push(repo, "v1", repo)
        sign(repo, d)
        sig, env_digest, idx = signature_of(repo, d)
        env_bytes = subprocess.run(["crane", "blob", "--insecure", f"{reg}/{repo}@{env_digest}"],
                                   capture_output=True, check=True).stdout
        idx_digest = run("crane", "digest", "--insecure", f"{reg}/{repo}:sha256-{d[7:]}")
        run("crane", "delete", "--insecure", f"{reg}/{repo}@{sig}")
        run("crane", "delete", "--insecure", f"{reg}/{repo}@{idx_digest}")
        p = os.path.join(work, f"badsig-{i}.jws")
        with open(p, "wb") as f:
            f.write(flip_signature(env_bytes))
        subprocess.run(["oras", "attach", "--plain-http", "--artifact-type",
                        "application/vnd.cncf.notary.signature", f"{reg}/{repo}@{d}",
                        f"{os.path.basename(p)}:application/jose+json"],
                       cwd=work, capture_output=True, check=True)
        add("unverified", repo, "v1", d, b, "its only signature's bytes altered (valid blob digest)")
    for i in range(2):
        # Another image's valid envelope attached: it signs a different digest.
        repo = f"soak/forged-{i}"
        d, b = push(repo, "v1", repo)
        donor = images[i]
        _, env_digest, _ = signature_of(donor["repo"], donor["digest"])
        env_bytes = subprocess.run(
            ["crane", "blob", "--insecure", f"{reg}/{donor['repo']}@{env_digest}"],
            capture_output=True, check=True).stdout
        p = os.path.join(work, f"forged-{i}.jws")
        with open(p, "wb") as f:
            f.write(env_bytes)
        subprocess.run(["oras", "attach", "--plain-http", "--artifact-type",
                        "application/vnd.cncf.notary.signature", f"{reg}/{repo}@{d}",
                        f"{os.path.basename(p)}:application/jose+json"],
                       cwd=work, capture_output=True, check=True)
        add("unverified", repo, "v1", d, b, "another image's signature attached")
    for i in range(2):
        # A manifest changed after signing, in the registry's storage: the registry still
        # claims the signed digest, the bytes hash to something else.
        repo = f"soak/changed-{i}"
        d, b = push(repo, "v1", repo)
        sign(repo, d)
        path = blob_path(d)
        with open(path, "rb") as f:
            data = f.read()
        cfg = b[0][7:].encode()
        data2 = data.replace(cfg, cfg[:-1] + (b"0" if cfg[-1:] != b"0" else b"1"), 1)
        assert len(data2) == len(data) and data2 != data
        with open(path, "wb") as f:
            f.write(data2)
        real = "sha256:" + hashlib.sha256(data2).hexdigest()
        add("corrupt", repo, "v1", d, b, f"manifest bytes changed after signing (they hash to {real})")
        add("unverified", repo, "changed-bytes", real, [], "the changed bytes' own digest")
    moving = []
    for i in range(2):
        # A tag that moves between a signed manifest and an unsigned one during the run.
        repo = f"soak/moving-{i}"
        ds, bs = push(repo, "signed", repo + " signed")
        sign(repo, ds)
        du, bu = push(repo, "unsigned", repo + " unsigned")
        add("signed", repo, "signed", ds, bs, "the moving tag's signed manifest")
        add("unverified", repo, "unsigned", du, bu, "the moving tag's unsigned manifest")
        run("crane", "tag", "--insecure", f"{reg}/{repo}@{ds}", "live")
        moving.append({"repo": repo, "tag": "live", "signed": ds, "unsigned": du})
    plan = {
        "registry": pub,
        "registry_direct": reg,
        "images": images,
        "moving": moving,
    }
    with open(plan_path, "w") as f:
        json.dump(plan, f, indent=1)
    print(f"soak: {len(images)} images ({sum(i['class'] == 'signed' for i in images)} signed), "
          f"{len(moving)} moving tags", file=sys.stderr)


def sets(plan):
    signed = {i["digest"] for i in plan["images"] if i["class"] == "signed"}
    unverified = {i["digest"] for i in plan["images"] if i["class"] == "unverified"}
    corrupt = {i["digest"] for i in plan["images"] if i["class"] == "corrupt"}
    signed_blobs = set()
    unverified_blobs = set()
    for i in plan["images"]:
        if i["class"] == "signed":
            signed_blobs.update(i["blobs"])
        elif i["class"] in ("unverified", "corrupt"):
            unverified_blobs.update(i["blobs"])
    unverified_blobs -= signed_blobs
    return signed, unverified, corrupt, signed_blobs, unverified_blobs


# ---------------------------------------------------------------- moving tags

def move(plan_path):
    plan = json.load(open(plan_path))
    reg = plan["registry_direct"]
    while True:
        for m in plan["moving"]:
            d = random.choice([m["signed"], m["unsigned"]])
            subprocess.run(["crane", "tag", "--insecure", f"{reg}/{m['repo']}@{d}", m["tag"]],
                           capture_output=True)
        time.sleep(0.7)


def repair(plan_path):
    """After the faults: the moving tags' manifests put again. A SIGKILL of docker-registry in
    the middle of a put can leave an empty revision link (the registry then answers 500 for that
    digest, and pullguard denies it); putting the manifest again rewrites it."""
    plan = json.load(open(plan_path))
    reg = plan["registry_direct"]
    for m in plan["moving"]:
        for d in (m["unsigned"], m["signed"]):
            for _ in range(20):
                if subprocess.run(["crane", "tag", "--insecure", f"{reg}/{m['repo']}@{d}", m["tag"]],
                                  capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)


# ---------------------------------------------------------------- HTTP client

async def http(method, path, *, unix=None, host=None, port=None, headers=None, body=b"",
               max_body=64 << 20):
    """One HTTP/1.1 request on a fresh connection; (status, headers, body)."""
    if unix:
        r, w = await asyncio.open_unix_connection(unix)
        hosthdr = "docker"
    else:
        r, w = await asyncio.open_connection(host, port)
        hosthdr = f"{host}:{port}"
    try:
        h = {"Host": hosthdr, "Connection": "close", "Content-Length": str(len(body))}
        h.update(headers or {})
        req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        w.write(req.encode() + b"\r\n" + body)
        await w.drain()
        line = await r.readline()
        if not line:
            raise ConnectionError("connection closed before an answer")
        parts = line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        hdrs = {}
        while True:
            line = await r.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        out = bytearray()
        if method == "HEAD" or status in (204, 304):
            return status, hdrs, b""
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size_line = await r.readline()
                if not size_line:
                    raise ConnectionError("chunked body broken off")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await r.readline()
                    break
                out += await r.readexactly(size)
                await r.readexactly(2)
                if len(out) > max_body:
                    raise ConnectionError("body too large")
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            if n > max_body:
                raise ConnectionError("body too large")
            out += await r.readexactly(n)
        else:
            out += await r.read(max_body)
        return status, hdrs, bytes(out)
    finally:
        w.close()


# ---------------------------------------------------------------- drive

class Driver:
    def __init__(self, plan, out_dir, env):
        self.plan = plan
        self.out = open(os.path.join(out_dir, "answers.jsonl"), "a")
        self.out_dir = out_dir
        self.docker_sock = env["SOAK_PROXY_SOCK"]
        self.direct_sock = env["SOAK_DOCKERD_SOCK"]
        self.mirror = env["SOAK_MIRROR"]
        self.pidfile = env["SOAK_DAEMON_PIDFILE"]
        self.ctr = env.get("SOAK_CTR")
        self.ctr_ns = env.get("SOAK_CTR_NS")
        self.hosts_dir = env.get("SOAK_HOSTS_DIR")
        self.signed, self.unverified, self.corrupt, self.signed_blobs, self.unverified_blobs = sets(plan)
        self.done = False

    def log(self, **rec):
        rec["t"] = round(time.time(), 3)
        self.out.write(json.dumps(rec) + "\n")

    def pick_ref(self):
        """(name, reference, by_digest, expected class)."""
        reg = self.plan["registry"]
        if random.random() < 0.15:
            m = random.choice(self.plan["moving"])
            return f"{reg}/{m['repo']}", m["tag"], False, "moving"
        im = random.choice([i for i in self.plan["images"] if i["tag"] != "changed-bytes"]
                           if random.random() < 0.9 else self.plan["images"])
        if im["tag"] == "changed-bytes" or random.random() < 0.4:
            return f"{reg}/{im['repo']}", im["digest"], True, im["class"]
        return f"{reg}/{im['repo']}", im["tag"], False, im["class"]

    async def docker_pull(self):
        name, ref, by_digest, cls = self.pick_ref()
        q = f"fromImage={name}" + (f"@{ref}" if by_digest else f"&tag={ref}")
        rec = {"kind": "docker", "ref": f"{name}{'@' if by_digest else ':'}{ref}", "class": cls}
        status, hdrs, body = await http("POST", f"/v1.41/images/create?{q}", unix=self.docker_sock)
        rec["status"] = status
        text = body.decode("utf-8", "replace")
        if status == 200:
            err = None
            digest = None
            for line in text.splitlines():
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if "error" in j or "errorDetail" in j:
                    err = j.get("error") or json.dumps(j.get("errorDetail"))
                st = j.get("status", "")
                if st.startswith("Digest: "):
                    digest = st[len("Digest: "):].strip()
            if err:
                rec["verdict"] = "denied" if "pullguard" in err and "denied" in err else "error"
                rec["message"] = err[:300]
            else:
                rec["verdict"] = "allowed"
                rec["digest"] = digest or (ref if by_digest else None)
        else:
            rec["verdict"] = "denied" if status == 403 and "denied" in text else "error"
            rec["message"] = text[:300]
        return rec

    async def mirror_get(self, path):
        host, port = self.mirror.rsplit(":", 1)
        return await http("GET", path, host=host, port=int(port), headers={"Accept": ACCEPT})

    async def mirror_pull(self):
        name, ref, by_digest, cls = self.pick_ref()
        reg = self.plan["registry"]
        repo = name[len(reg) + 1:]
        rec = {"kind": "mirror", "ref": f"{name}{'@' if by_digest else ':'}{ref}", "class": cls}
        status, hdrs, body = await self.mirror_get(f"/v2/{repo}/manifests/{ref}?ns={reg}")
        rec["status"] = status
        if status != 200:
            rec["verdict"] = "denied" if status in (403, 404) else "error"
            rec["message"] = body[:300].decode("utf-8", "replace")
            return rec
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        rec["verdict"] = "allowed"
        rec["digest"] = got
        rec["header_digest"] = hdrs.get("docker-content-digest")
        rec["blobs"] = []
        try:
            m = json.loads(body)
            blobs = [m["config"]["digest"]] + [l["digest"] for l in m.get("layers", [])]
        except (ValueError, KeyError, TypeError):
            blobs = []
        for b in blobs:
            s, _, bb = await self.mirror_get(f"/v2/{repo}/blobs/{b}?ns={reg}")
            ok = s == 200 and "sha256:" + hashlib.sha256(bb).hexdigest() == b
            rec["blobs"].append({"digest": b, "status": s, "hash_ok": ok if s == 200 else None})
        return rec

    async def mirror_probe(self):
        """Ask the mirror for a blob of an unverified image directly (never granted)."""
        reg = self.plan["registry"]
        im = random.choice([i for i in self.plan["images"]
                            if i["class"] in ("unverified", "corrupt") and i["blobs"]])
        b = random.choice(im["blobs"])
        s, _, bb = await self.mirror_get(f"/v2/{im['repo']}/blobs/{b}?ns={reg}")
        return {"kind": "probe", "ref": f"{reg}/{im['repo']}@{b}", "class": "unverified",
                "status": s, "verdict": "allowed" if s == 200 else
                ("denied" if s in (403, 404) else "error"), "digest": b}

    async def one(self, i):
        r = random.random()
        if r < 0.50:
            kind, fn, timeout = "docker", self.docker_pull, DOCKER_TIMEOUT
        elif r < 0.90:
            kind, fn, timeout = "mirror", self.mirror_pull, MIRROR_TIMEOUT
        else:
            kind, fn, timeout = "probe", self.mirror_probe, MIRROR_TIMEOUT
        start = time.monotonic()
        try:
            rec = await asyncio.wait_for(fn(), timeout)
        except asyncio.TimeoutError:
            rec = {"kind": kind, "verdict": "hang", "message": f"no answer in {timeout:.0f} s"}
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
            rec = {"kind": kind, "verdict": "error", "message": f"{type(e).__name__}: {e}"[:300],
                   "connection": True}
        rec["n"] = i
        rec["secs"] = round(time.monotonic() - start, 3)
        self.log(**rec)
        return rec

    async def worker(self, queue, counts, cycle, calm_at):
        """One client: a pull, then the rest of its cycle idle (a client does not retry in a
        hot loop; without that, the pulls are spent in the fast denials of a registry outage)."""
        await asyncio.sleep(random.random() * cycle)
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if i == calm_at:
                open(os.path.join(self.out_dir, "calm"), "w").close()
            start = time.monotonic()
            rec = await self.one(i)
            counts[rec["verdict"]] = counts.get(rec["verdict"], 0) + 1
            await asyncio.sleep(max(0.0, cycle - (time.monotonic() - start)))

    async def rmi(self):
        """Now and then remove an image from dockerd (straight, not through the proxy), so
        pulls keep bringing content in."""
        while not self.done:
            await asyncio.sleep(2.0)
            try:
                _, _, body = await http("GET", "/v1.41/images/json", unix=self.direct_sock)
                imgs = json.loads(body)
                if imgs:
                    im = random.choice(imgs)
                    await http("DELETE", f"/v1.41/images/{im['Id']}?force=1",
                               unix=self.direct_sock)
            except (OSError, ConnectionError, ValueError, asyncio.IncompleteReadError):
                pass

    async def ctr_pulls(self, counts):
        """Real containerd pulls through the mirror (hosts.toml), one every few seconds."""
        if not self.ctr:
            return
        n = 0
        while not self.done:
            await asyncio.sleep(3.0)
            name, ref, by_digest, cls = self.pick_ref()
            full = f"{name}{'@' if by_digest else ':'}{ref}"
            start = time.monotonic()
            p = await asyncio.create_subprocess_exec(
                *self.ctr.split(), "-n", self.ctr_ns, "images", "pull", "--hosts-dir",
                self.hosts_dir, full, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            try:
                _, err = await asyncio.wait_for(p.communicate(), CTR_TIMEOUT)
                verdict = "allowed" if p.returncode == 0 else (
                    "denied" if b"403" in err or b"denied" in err or b"not found" in err
                    else "error")
                rec = {"kind": "ctr", "ref": full, "class": cls, "verdict": verdict,
                       "message": err.decode("utf-8", "replace")[-300:]}
            except asyncio.TimeoutError:
                p.kill()
                await p.wait()
                rec = {"kind": "ctr", "ref": full, "class": cls, "verdict": "hang"}
            n += 1
            rec["n"] = f"ctr{n}"
            rec["secs"] = round(time.monotonic() - start, 3)
            counts[rec["verdict"]] = counts.get(rec["verdict"], 0) + 1
            self.log(**rec)

    async def sampler(self):
        out = open(os.path.join(self.out_dir, "samples.jsonl"), "a")
        while not self.done:
            try:
                pid = int(open(self.pidfile).read().strip())
                rss = None
                for line in open(f"/proc/{pid}/status"):
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                fds = len(os.listdir(f"/proc/{pid}/fd"))
                out.write(json.dumps({"t": round(time.time(), 2), "pid": pid, "rss_kb": rss,
                                      "fds": fds}) + "\n")
                out.flush()
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.5)

    async def canary(self):
        """SOAK_CANARY=1: what the asserts must catch, done around pullguard: an unsigned
        manifest fetched straight from the registry, logged as a mirror answer, and an unsigned
        image pulled straight into dockerd."""
        reg = self.plan["registry"]
        im = next(i for i in self.plan["images"] if i["repo"].startswith("soak/unsigned"))
        host, port = reg.rsplit(":", 1)
        for _ in range(40):   # the registry may be down (a fault) just now
            try:
                s, h, body = await http("GET", f"/v2/{im['repo']}/manifests/{im['digest']}",
                                        host=host, port=int(port), headers={"Accept": ACCEPT})
                if s == 200:
                    break
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                pass
            await asyncio.sleep(0.5)
        self.log(kind="mirror", ref=f"{reg}/{im['repo']}@{im['digest']}", **{"class": "unverified"},
                 status=s, verdict="allowed" if s == 200 else "error",
                 digest="sha256:" + hashlib.sha256(body).hexdigest(), blobs=[], n="canary", secs=0)
        self.out.flush()
        for _ in range(40):
            s, _, body = await http("POST", f"/v1.41/images/create?fromImage={reg}/{im['repo']}&tag={im['tag']}",
                                    unix=self.direct_sock)
            if s == 200 and b'"error' not in body:
                break
            await asyncio.sleep(0.5)
        if self.ctr:
            p = await asyncio.create_subprocess_exec(
                *self.ctr.split(), "-n", self.ctr_ns, "images", "pull", "--plain-http",
                f"{reg}/{im['repo']}:{im['tag']}", stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            await p.wait()
            if p.returncode != 0:   # once more, after a registry restart
                await asyncio.sleep(2)
                p = await asyncio.create_subprocess_exec(
                    *self.ctr.split(), "-n", self.ctr_ns, "images", "pull", "--plain-http",
                    f"{reg}/{im['repo']}:{im['tag']}", stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL)
                await p.wait()
        print(f"soak: canary: {im['repo']}:{im['tag']} pulled straight into dockerd: {s} "
              f"{body[-200:].decode('utf-8', 'replace').strip()}", file=sys.stderr)

    async def run(self, pulls, conc, cycle):
        queue = asyncio.Queue()
        for i in range(pulls):
            queue.put_nowait(i)
        counts = {}
        side = [asyncio.ensure_future(self.sampler()), asyncio.ensure_future(self.rmi()),
                asyncio.ensure_future(self.ctr_pulls(counts))]
        start = time.monotonic()

        async def progress():
            while not self.done:
                await asyncio.sleep(15)
                print(f"soak: {time.monotonic() - start:.0f} s, {pulls - queue.qsize()} of "
                      f"{pulls} started, {counts}", file=sys.stderr, flush=True)
        side.append(asyncio.ensure_future(progress()))
        calm_at = int(pulls * 0.7)   # no daemon SIGKILL after this: the last daemon serves 30%
        await asyncio.gather(*(self.worker(queue, counts, cycle, calm_at) for _ in range(conc)))
        self.done = True
        await asyncio.gather(*side, return_exceptions=True)
        if os.environ.get("SOAK_CANARY") == "1":
            await self.canary()   # after the image removals stopped
        self.out.flush()
        print(f"soak: {pulls} pulls in {time.monotonic() - start:.0f} s at concurrency {conc}: "
              f"{counts}", file=sys.stderr)


# ---------------------------------------------------------------- check

def check(plan_path, out_dir, env):
    plan = json.load(open(plan_path))
    signed, unverified, corrupt, signed_blobs, unverified_blobs = sets(plan)
    failures = []
    answers = [json.loads(l) for l in open(os.path.join(out_dir, "answers.jsonl"))]
    counts = {"allowed": 0, "denied": 0, "error": 0, "hang": 0}
    by_kind = {}
    admitted = 0
    for a in answers:
        counts[a["verdict"]] = counts.get(a["verdict"], 0) + 1
        k = by_kind.setdefault(a["kind"], {})
        k[a["verdict"]] = k.get(a["verdict"], 0) + 1
        if a["verdict"] != "allowed":
            continue
        bad = None
        if a["kind"] == "docker":
            d = a.get("digest")
            if d is not None and d not in signed:
                bad = f"docker pull allowed with digest {d}"
            elif d is None and a["class"] in ("unverified", "corrupt"):
                bad = "docker pull of an unverified image allowed"
        elif a["kind"] == "mirror":
            if a["digest"] not in signed:
                bad = f"mirror served manifest bytes hashing to {a['digest']} (not signed)"
            elif a.get("header_digest") not in (None, a["digest"]):
                bad = f"mirror's Docker-Content-Digest {a['header_digest']} != body {a['digest']}"
            for b in a.get("blobs", []):
                if b["status"] == 200 and (b["digest"] not in signed_blobs or not b["hash_ok"]):
                    bad = f"mirror served blob {b['digest']} (signed blob: {b['digest'] in signed_blobs}, hash ok: {b['hash_ok']})"
        elif a["kind"] == "probe":
            bad = f"mirror served the unverified blob {a['digest']}"
        elif a["kind"] == "ctr" and a["class"] in ("unverified", "corrupt"):
            bad = f"ctr pulled the unverified {a['ref']}"
        if bad:
            admitted += 1
            failures.append(bad + f" ({a.get('ref')})")
    if counts["hang"]:
        failures.append(f"{counts['hang']} requests got no answer within their deadline")

    # The daemon's decision log (every incarnation appends to it).
    decisions = allowed_bad = 0
    for line in open(env["SOAK_DAEMON_LOG"], errors="replace"):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("message") == "panic" or "panicked" in line:
            failures.append("the daemon panicked: " + line[:300])
        if j.get("message") != "decision":
            continue
        decisions += 1
        if j.get("verdict") == "allowed" and (j.get("digest") in unverified or
                                              j.get("digest") not in signed | corrupt):
            allowed_bad += 1
            failures.append(f"decision log: allowed {j.get('image')} {j.get('digest')}")
    admitted += allowed_bad

    # dockerd's store: every image has a RepoDigest that is signed and verifies now.
    imgs = json.loads(subprocess.run(
        ["curl", "-s", "--unix-socket", env["SOAK_DOCKERD_SOCK"], "http://d/v1.41/images/json"],
        capture_output=True, check=True).stdout)
    store_bad = 0
    verified_now = 0
    for im in imgs:
        rds = im.get("RepoDigests") or []
        good = [r for r in rds if r.rsplit("@", 1)[-1] in signed]
        wrong = [r for r in rds if r.rsplit("@", 1)[-1] not in signed]
        if not good or wrong:
            store_bad += 1
            failures.append(f"dockerd store: {im['Id']} RepoDigests {rds} RepoTags {im.get('RepoTags')}")
            continue
        p = subprocess.run([env["SOAK_PULLGUARD"], "verify", "--insecure-registries",
                            plan["registry"], "--policy-dir", env["SOAK_POLICY_DIR"], good[0]],
                           capture_output=True, text=True)
        if p.returncode != 0:
            store_bad += 1
            failures.append(f"dockerd store: {good[0]} does not verify: {(p.stdout + p.stderr).strip()[:300]}")
        else:
            verified_now += 1
    admitted += store_bad

    # containerd's content (the namespace the ctr pulls used).
    ctr_bad = 0
    ctr_content = 0
    if env.get("SOAK_CTR"):
        out = subprocess.run(env["SOAK_CTR"].split() + ["-n", env["SOAK_CTR_NS"], "content", "ls",
                                                        "-q"], capture_output=True, text=True).stdout
        for d in out.split():
            ctr_content += 1
            if d not in signed and d not in signed_blobs:
                ctr_bad += 1
                failures.append(f"containerd content: {d} is not from a signed image")
    admitted += ctr_bad

    # RSS and fds.
    samples = [json.loads(l) for l in open(os.path.join(out_dir, "samples.jsonl"))]
    samples = [s for s in samples if s.get("rss_kb")]
    q = max(1, len(samples) // 4)
    first, last = samples[:q], samples[-q:]
    mean = lambda xs: sum(xs) / len(xs)
    rss1, rss4 = mean([s["rss_kb"] for s in first]), mean([s["rss_kb"] for s in last])
    fd1, fd4 = mean([s["fds"] for s in first]), mean([s["fds"] for s in last])
    peak = max(s["rss_kb"] for s in samples)
    peak_fds = max(s["fds"] for s in samples)
    pids = len({s["pid"] for s in samples})
    last_pid = samples[-1]["pid"]
    lone = [s for s in samples if s["pid"] == last_pid]
    lq = max(1, len(lone) // 4)
    lrss1, lrss4 = mean([s["rss_kb"] for s in lone[:lq]]), mean([s["rss_kb"] for s in lone[-lq:]])
    lfd1, lfd4 = mean([s["fds"] for s in lone[:lq]]), mean([s["fds"] for s in lone[-lq:]])
    lsecs = lone[-1]["t"] - lone[0]["t"]
    long_enough = len(lone) >= 120
    if long_enough and lrss4 > lrss1 * 1.5 + 8192:
        failures.append(f"RSS of the last daemon grew: {lrss1 / 1024:.1f} -> {lrss4 / 1024:.1f} MB")
    if long_enough and lfd4 > lfd1 * 1.5 + 16:
        failures.append(f"fds of the last daemon grew: {lfd1:.0f} -> {lfd4:.0f}")
    idle0 = json.load(open(os.path.join(out_dir, "idle-start.json")))
    idle1 = json.load(open(os.path.join(out_dir, "idle-end.json")))
    long_enough = len(samples) >= 240   # 2 min of samples: shorter runs are all ramp-up
    if long_enough and rss4 > rss1 * 1.5 + 8192:
        failures.append(f"RSS grew: first quarter {rss1 / 1024:.1f} MB, last {rss4 / 1024:.1f} MB")
    if long_enough and fd4 > fd1 * 1.5 + 16:
        failures.append(f"fds grew: first quarter {fd1:.0f}, last {fd4:.0f}")
    # After the load, the daemon may still hold idle keep-alive connections to the registry
    # (hyper's pool, 90 s): at most about one per client.
    if idle1["fds"] > idle0["fds"] + int(env.get("SOAK_CONCURRENCY", "32")) + 8:
        failures.append(f"idle fds after the run {idle1['fds']} > at start {idle0['fds']}")
    ev = []
    for a in answers:
        if a["kind"] != "ctr" and "secs" in a:
            ev += [(a["t"] - a["secs"], 1), (a["t"], -1)]
    ev.sort()
    cur = top = 0
    busy = {}
    prev = ev[0][0] if ev else 0
    for t, d in ev:
        busy[cur] = busy.get(cur, 0) + t - prev
        prev, cur = t, cur + d
        top = max(top, cur)
    span = sum(busy.values()) or 1
    half = sum(v for k, v in busy.items() if k >= 16) / span
    docker_pulls = sum(1 for a in answers if a["kind"] == "docker")
    mirror_pulls = sum(1 for a in answers if a["kind"] in ("mirror", "probe"))
    ctr_pulls = sum(1 for a in answers if a["kind"] == "ctr")
    print(f"soak: by kind {json.dumps(by_kind, sort_keys=True)}")
    print(f"soak: requests in flight: at most {top}, 16 or more {100 * half:.0f}% of the time")
    print(f"soak: {decisions} decisions in the daemon log, {allowed_bad} allowed for an unverified digest")
    print(f"soak: dockerd store {len(imgs)} images, {verified_now} verified now by `pullguard verify`, {store_bad} bad; "
          f"containerd content {ctr_content} blobs, {ctr_bad} bad")
    print(f"soak: daemon RSS mean first/last quarter {rss1 / 1024:.1f}/{rss4 / 1024:.1f} MB, "
          f"fds {fd1:.0f}/{fd4:.0f}, peak fds {peak_fds}, idle fds start/end {idle0['fds']}/{idle1['fds']}, "
          f"idle RSS start/end {idle0['rss_kb'] / 1024:.1f}/{idle1['rss_kb'] / 1024:.1f} MB, "
          f"{pids} daemon processes sampled; the last one ({lsecs:.0f} s, no SIGKILL): RSS "
          f"{lrss1 / 1024:.1f}/{lrss4 / 1024:.1f} MB, fds {lfd1:.0f}/{lfd4:.0f}")
    for f in failures[:30]:
        print("soak FAIL: " + f)
    print(f"soak: pulls {len(answers)} (docker {docker_pulls}, mirror {mirror_pulls}, ctr {ctr_pulls}), "
          f"allowed {counts['allowed']}, denied {counts['denied']}, errors {counts['error']}, "
          f"hangs {counts['hang']}, unverified admitted {admitted}, peak RSS {peak / 1024:.1f} MB"
          f"{'' if not failures else ', FAILED (' + str(len(failures)) + ')'}")
    return 1 if failures else 0


def idle(pidfile, out):
    pid = int(open(pidfile).read().strip())
    rss = [int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")][0]
    json.dump({"pid": pid, "rss_kb": rss, "fds": len(os.listdir(f"/proc/{pid}/fd"))}, open(out, "w"))


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "slowproxy":
        asyncio.run(slowproxy(int(a[0]), int(a[1]), a[2]))
    elif cmd == "prepare":
        prepare(*a)
    elif cmd == "move":
        move(a[0])
    elif cmd == "repair":
        repair(a[0])
    elif cmd == "drive":
        plan = json.load(open(a[0]))
        asyncio.run(Driver(plan, a[3], os.environ).run(int(a[1]), int(a[2]), float(a[4])))
    elif cmd == "check":
        sys.exit(check(a[0], a[1], os.environ))
    elif cmd == "idle":
        idle(a[0], a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
