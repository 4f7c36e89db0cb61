//! The verifying registry mirror, pulled through by the real containerd 1.6 and 2.1 (a
//! hosts.toml with the mirror as `server` and as the only `[host]`, given with `--hosts-dir`,
//! so nothing goes past it), and a hand-written fake upstream for the faults: down, hanging,
//! a blob whose bytes do not match its digest, a blob that stalls halfway, ranged answers that
//! lie, a manifest whose media type changes under a cached allow.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::daemon::*;
use common::*;

/// `pullguard serve` with the mirror on a free loopback port (and no Docker proxy).
struct Mirror {
    child: Child,
    tmp: tempfile::TempDir,
    addr: String,
}

impl Mirror {
    /// `extra`: top-level config keys (TOML).
    fn start(policy_dir: &Path, upstreams: &[&str], extra: &str) -> Mirror {
        Mirror::start_with(policy_dir, upstreams, extra, "")
    }

    /// `mirror_keys`: more keys of `[mirror]`.
    fn start_with(policy_dir: &Path, upstreams: &[&str], extra: &str, mirror_keys: &str) -> Mirror {
        let tmp = tempfile::tempdir().unwrap();
        let list = upstreams
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = tmp.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "insecure_registries = [{list}]\n{extra}\n[mirror]\nupstreams = [{list}]\n{mirror_keys}\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(tmp.path().join("log.json")).unwrap();
        let child = pullguard()
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--policy-dir")
            .arg(policy_dir)
            .arg("--control-listen")
            .arg(tmp.path().join("control.sock"))
            .args(["--mirror-listen", "127.0.0.1:0", "--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut m = Mirror {
            child,
            tmp,
            addr: String::new(),
        };
        let start = Instant::now();
        loop {
            let listening = m
                .events()
                .into_iter()
                .find(|e| e["message"] == "mirror listening");
            if let Some(a) = listening.as_ref().and_then(|e| e["addr"].as_str()) {
                m.addr = a.to_string();
                return m;
            }
            if let Ok(Some(st)) = m.child.try_wait() {
                panic!("pullguard serve exited ({st}): {}", m.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the mirror did not start: {}",
                m.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("log.json")).unwrap_or_default()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The mirror's request events of one kind: manifest, blob, denied, blob_failed.
    fn kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }

    /// Digests of the blobs the mirror served.
    fn blobs_served(&self) -> Vec<String> {
        self.kind("blob")
            .iter()
            .filter_map(|e| e["digest"].as_str().map(str::to_owned))
            .collect()
    }

    /// A hosts dir sending `registry` to this mirror only: `server` and the one `[host]`.
    fn hosts_dir(&self, registry: &str) -> PathBuf {
        let root = self.tmp.path().join("hosts");
        let dir = root.join(registry);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("hosts.toml"),
            format!(
                "server = \"http://{a}\"\n[host.\"http://{a}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
                a = self.addr
            ),
        )
        .unwrap();
        root
    }

    /// GET through the mirror with curl: (curl exit code, HTTP status, body).
    fn get(&self, path: &str) -> (i32, u16, Vec<u8>) {
        let r = self.request(path, None);
        (r.code, r.status, r.body)
    }

    /// GET through the mirror with curl, with a `Range:` header when given.
    fn request(&self, path: &str, range: Option<&str>) -> Got {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let file = self.tmp.path().join(format!("body-{n}"));
        let head = self.tmp.path().join(format!("head-{n}"));
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "30", "-o"])
            .arg(&file)
            .arg("-D")
            .arg(&head);
        if let Some(r) = range {
            c.args(["-H", &format!("Range: {r}")]);
        }
        let out = run(c.args(["-w", "%{http_code}", &format!("http://{}{path}", self.addr)]));
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        Got {
            code: out.status.code().unwrap_or(-1),
            status,
            body: std::fs::read(&file).unwrap_or_default(),
            head: std::fs::read_to_string(&head)
                .unwrap_or_default()
                .to_ascii_lowercase(),
        }
    }
}

/// One answer through the mirror: curl's exit code, the status, the body, the header block
/// (lowercased).
struct Got {
    code: i32,
    status: u16,
    body: Vec<u8>,
    head: String,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim())
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

#[derive(Clone, Copy, Debug)]
enum Ctrd {
    V16,
    V21,
}

impl Ctrd {
    fn ctr(self, p: &Peers) -> Command {
        let (bin, sock) = match self {
            Ctrd::V16 => ("ctr", &p.containerd_sock),
            Ctrd::V21 => (p.ctr2.as_str(), &p.containerd2_sock),
        };
        let mut c = Command::new(bin);
        c.arg("--address").arg(sock);
        c
    }

    fn pull(self, p: &Peers, hosts: &Path, reference: &str, platform: Option<&str>) -> Output {
        let mut c = self.ctr(p);
        c.args(["images", "pull", "--hosts-dir"]).arg(hosts);
        if let Some(pl) = platform {
            c.args(["--platform", pl]);
        }
        run(c.arg(reference))
    }

    fn content(self, p: &Peers) -> String {
        run_ok(self.ctr(p).args(["content", "ls", "-q"]))
    }

    fn images(self, p: &Peers) -> String {
        run_ok(self.ctr(p).args(["images", "ls", "-q"]))
    }

    fn rm(self, p: &Peers, reference: &str) {
        run(self.ctr(p).args(["images", "rm", "--sync", reference]));
    }

    /// Remove `refs` when the guard drops, whether the test passed or not.
    fn cleanup(self, p: &Peers, refs: &[String]) -> Cleanup {
        let c = self.ctr(p);
        Cleanup {
            bin: c.get_program().to_os_string(),
            args: c.get_args().map(|a| a.to_os_string()).collect(),
            refs: refs.to_vec(),
        }
    }
}

struct Cleanup {
    bin: std::ffi::OsString,
    args: Vec<std::ffi::OsString>,
    refs: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in &self.refs {
            let _ = Command::new(&self.bin)
                .args(&self.args)
                .args(["images", "rm", "--sync", r])
                .output();
        }
    }
}

fn unique(what: &str) -> String {
    format!(
        "{what} {} {} {:?}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst),
        SystemTime::now()
    )
}

fn crane_json(args: &[&str]) -> serde_json::Value {
    let mut c = Command::new("crane");
    c.args(args).arg("--insecure");
    serde_json::from_str(&run_ok(&mut c)).unwrap()
}

/// The config and layer digests of an image manifest.
fn blobs(reference: &str) -> Vec<String> {
    let m = crane_json(&["manifest", reference]);
    let mut v = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        v.push(l["digest"].as_str().unwrap().to_string());
    }
    v
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn signed_unsigned_and_moved(c: Ctrd) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let tag = |t: &str| format!("{}:{t}", imgs.name());
    let signed = imgs.push("signed", &unique("signed"));
    imgs.sign(&signed);
    let unsigned = imgs.push("unsigned", &unique("unsigned"));
    let signed_blobs = blobs(&tag("signed"));
    let unsigned_blobs = blobs(&tag("unsigned"));
    let by_digest = format!("{}@{signed}", imgs.name());
    let _cleanup = c.cleanup(&p, &[tag("signed"), tag("unsigned"), by_digest.clone()]);
    let m = Mirror::start(&imgs.dir(), &[&p.registry], "");
    let hosts = m.hosts_dir(&p.registry);

    // Signed: pulled, everything through the mirror, in the content store.
    let out = c.pull(&p, &hosts, &tag("signed"), None);
    assert!(out.status.success(), "{c:?}: {}\n{}", stderr(&out), m.log());
    assert!(c.images(&p).contains(&tag("signed")));
    let content = c.content(&p);
    let served = m.blobs_served();
    for b in &signed_blobs {
        assert!(content.contains(b), "{b} not in {c:?}'s content store");
        assert!(served.contains(b), "{b} did not come through the mirror");
    }
    assert!(
        m.kind("manifest")
            .iter()
            .any(|e| e["digest"] == signed.as_str()),
        "{}",
        m.log()
    );

    // Unsigned: refused with pullguard's reason, and not one blob served.
    let blobs_before = m.kind("blob").len();
    let out = c.pull(&p, &hosts, &tag("unsigned"), None);
    assert!(!out.status.success(), "{c:?} pulled an unsigned image");
    let err = stderr(&out);
    assert!(
        err.contains("pullguard: denied")
            && err.contains(&unsigned)
            && err.contains("docker-tests")
            && err.contains("no signature"),
        "{c:?}: {err}"
    );
    assert_eq!(m.kind("blob").len(), blobs_before, "{}", m.log());
    let denied = m.kind("denied");
    let last = denied.last().expect("a denial is logged");
    assert_eq!(last["blobs_served"], blobs_before as u64, "{last}");
    let content = c.content(&p);
    for b in &unsigned_blobs {
        assert!(!content.contains(b), "{b} of the unsigned image is stored");
        assert!(!m.blobs_served().contains(b));
    }
    // Asked for straight, a blob of the unsigned image is denied too.
    let (_, status, body) = m.get(&format!(
        "/v2/{}/blobs/{}?ns={}",
        imgs.repo, unsigned_blobs[1], p.registry
    ));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("\"DENIED\"") && body.contains("not referenced by any manifest verified"),
        "{body}"
    );

    // The tag moved to unsigned content: denied.
    c.rm(&p, &tag("signed"));
    let moved = imgs.push("signed", &unique("moved"));
    let out = c.pull(&p, &hosts, &tag("signed"), None);
    assert!(!out.status.success(), "{c:?} pulled a moved tag");
    let err = stderr(&out);
    assert!(
        err.contains("pullguard: denied") && err.contains(&moved),
        "{c:?}: {err}"
    );
    assert!(!c.images(&p).contains(&tag("signed")));

    // The signed content by digest still pulls.
    let out = c.pull(&p, &hosts, &by_digest, None);
    assert!(out.status.success(), "{c:?}: {}", stderr(&out));

    // The mirror's counters are in `ctl status`.
    let status = run_ok(
        pullguard()
            .env(
                "PULLGUARD_CONTROL_SOCKET",
                m.tmp.path().join("control.sock"),
            )
            .args(["ctl", "status", "-o", "json"]),
    );
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let mirror = &status["mirror"];
    assert!(
        mirror["blobs_served"].as_u64().unwrap() >= signed_blobs.len() as u64,
        "{status}"
    );
    assert!(mirror["denials"].as_u64().unwrap() >= 3, "{status}");
    assert!(
        status["listeners"]
            .to_string()
            .contains(&format!("mirror http://{}", m.addr)),
        "{status}"
    );
}

#[test]
fn containerd_1_6_pulls_signed_through_the_mirror_and_is_refused_unsigned_and_moved() {
    signed_unsigned_and_moved(Ctrd::V16);
}

#[test]
fn containerd_2_1_pulls_signed_through_the_mirror_and_is_refused_unsigned_and_moved() {
    signed_unsigned_and_moved(Ctrd::V21);
}

/// A signed index (signed by digest) of two single-platform images, tagged `multi`:
/// (index digest, amd64 child, arm64 child).
fn signed_index(imgs: &Images) -> (String, String, String) {
    let tag = |t: &str| format!("{}:{t}", imgs.name());
    for arch in ["amd64", "arm64"] {
        imgs.push(arch, &unique(arch));
        run_ok(Command::new("crane").args([
            "mutate",
            "--insecure",
            "--set-platform",
            &format!("linux/{arch}"),
            &tag(arch),
            "-t",
            &tag(arch),
        ]));
    }
    run_ok(Command::new("crane").args([
        "index",
        "append",
        "--insecure",
        "-m",
        &tag("amd64"),
        "-m",
        &tag("arm64"),
        "-t",
        &tag("multi"),
    ]));
    let index = run_ok(Command::new("crane").args(["digest", "--insecure", &tag("multi")]))
        .trim()
        .to_string();
    imgs.sign(&index);
    let child = |arch: &str| {
        let m = crane_json(&["manifest", &tag("multi")]);
        m["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["platform"]["architecture"] == arch)
            .and_then(|d| d["digest"].as_str())
            .unwrap()
            .to_string()
    };
    (index, child("amd64"), child("arm64"))
}

fn multi_arch_index(c: Ctrd) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let tag = |t: &str| format!("{}:{t}", imgs.name());
    let (index, amd, arm) = signed_index(&imgs);
    let amd_blobs = blobs(&format!("{}@{amd}", imgs.name()));
    let arm_blobs = blobs(&format!("{}@{arm}", imgs.name()));
    let alone = format!("{}@{amd}", imgs.name());
    let _cleanup = c.cleanup(&p, &[tag("multi"), alone.clone()]);
    let m = Mirror::start(&imgs.dir(), &[&p.registry], "");
    let hosts = m.hosts_dir(&p.registry);

    // A child alone is not signed: denied.
    let out = c.pull(&p, &hosts, &alone, None);
    assert!(
        !out.status.success(),
        "{c:?} pulled an unsigned child alone"
    );
    assert!(stderr(&out).contains("no signature"), "{}", stderr(&out));

    // The signed index, one platform: its child comes under the index's signature.
    let out = c.pull(&p, &hosts, &tag("multi"), Some("linux/amd64"));
    assert!(out.status.success(), "{c:?}: {}\n{}", stderr(&out), m.log());
    let content = c.content(&p);
    let served = m.blobs_served();
    for b in &amd_blobs {
        assert!(content.contains(b), "{b} not in {c:?}'s content store");
        assert!(served.contains(b), "{b} did not come through the mirror");
    }
    // containerd 2.x also fetches the other platforms' manifests and configs (metadata),
    // never their layers.
    for b in &arm_blobs[1..] {
        assert!(
            !served.contains(b),
            "layer {b} of the other platform was served"
        );
    }
    let manifests = m.kind("manifest");
    let via_index = manifests
        .iter()
        .find(|e| e["digest"] == amd.as_str())
        .unwrap_or_else(|| panic!("the amd64 child was not served: {}", m.log()));
    assert!(
        via_index["via"].as_str().unwrap().ends_with(&index),
        "{via_index}"
    );
    // The other platform's layer is granted only once its manifest has been fetched (2.x
    // fetches it as metadata; 1.6 does not).
    let arm_fetched = manifests.iter().any(|e| e["digest"] == arm.as_str());
    let (_, status, _) = m.get(&format!(
        "/v2/{}/blobs/{}?ns={}",
        imgs.repo, arm_blobs[1], p.registry
    ));
    assert_eq!(status, if arm_fetched { 200 } else { 403 }, "{c:?}");
    if let Ctrd::V16 = c {
        assert!(!arm_fetched, "1.6 fetched the other platform's manifest");
    }
}

#[test]
fn containerd_1_6_pulls_one_platform_of_a_signed_index() {
    multi_arch_index(Ctrd::V16);
}

#[test]
fn containerd_2_1_pulls_one_platform_of_a_signed_index() {
    multi_arch_index(Ctrd::V21);
}

#[test]
fn require_platform_signature_makes_the_mirror_ask_the_child_for_its_own() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let (_, amd, _) = signed_index(&imgs);
    let multi = format!("{}:multi", imgs.name());
    let _cleanup = Ctrd::V16.cleanup(&p, std::slice::from_ref(&multi));
    let m = Mirror::start(
        &imgs.dir(),
        &[&p.registry],
        // no negative cache: the child is signed right after its denial
        "require_platform_signature = true\nnegative_cache_secs = 0",
    );
    let hosts = m.hosts_dir(&p.registry);
    let out = Ctrd::V16.pull(&p, &hosts, &multi, Some("linux/amd64"));
    assert!(
        !out.status.success(),
        "an unsigned platform manifest came in"
    );
    let err = stderr(&out);
    assert!(
        err.contains("require_platform_signature") && err.contains(&amd),
        "{err}"
    );
    assert!(m.blobs_served().is_empty(), "{}", m.log());
    // Signed too: the pull goes through.
    imgs.sign(&amd);
    let out = Ctrd::V16.pull(&p, &hosts, &multi, Some("linux/amd64"));
    assert!(out.status.success(), "{}\n{}", stderr(&out), m.log());
}

// ---------------------------------------------------------------------------------------------
// A hand-written fake upstream registry: it forwards requests to the real registry, except
// where its fault says otherwise.

#[derive(Clone)]
enum Fault {
    /// Accept, read the request, never answer.
    Hang,
    /// This blob's bytes come back with the last byte changed.
    CorruptBlob(String),
    /// This blob's headers and half its bytes, then silence.
    StallBlob(String),
    /// This blob's ranged answers (206) lie as the switch says (`None`: the truth).
    LieInRanges(String, Arc<Mutex<Option<RangeLie>>>),
    /// While the switch is on, this manifest (by digest, and the tag `signed`) comes back with
    /// another manifest media type as its `Content-Type`: the same bytes, a different descriptor.
    Retype(String, Arc<AtomicBool>),
}

/// How a fake upstream lies in a 206 answer.
#[derive(Clone, Copy, Debug)]
enum RangeLie {
    /// Five bytes more than `Content-Range` says, `Content-Length` counting them.
    Long,
    /// Five bytes more, no `Content-Length` (the body ends when the connection closes).
    LongUnframed,
    /// Half the bytes, `Content-Length` counting them.
    Short,
    /// Half the bytes, no `Content-Length`.
    ShortUnframed,
    /// The bytes asked for, labelled as starting at 0.
    Shifted,
    /// The last byte flipped; lengths all true.
    Flipped,
}

struct FakeUpstream {
    addr: String,
}

impl FakeUpstream {
    fn start(real: &str, fault: Fault) -> FakeUpstream {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let real = real.to_string();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let (real, fault) = (real.clone(), fault.clone());
                std::thread::spawn(move || fake_serve(conn, &real, &fault));
            }
        });
        FakeUpstream { addr }
    }
}

/// An address nothing listens on.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn read_head(c: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match c.read(&mut b) {
            Ok(1) => buf.push(b[0]),
            _ => return None,
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// One request to the real registry with `Connection: close`; the raw response.
fn forward(real: &str, head: &str) -> Vec<u8> {
    let mut lines = head.split("\r\n");
    let mut req = format!(
        "{}\r\nHost: {real}\r\nConnection: close\r\n",
        lines.next().unwrap_or("")
    );
    for l in lines.filter(|l| !l.is_empty()) {
        let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name != "host" && name != "connection" {
            req.push_str(l);
            req.push_str("\r\n");
        }
    }
    req.push_str("\r\n");
    let mut up = TcpStream::connect(real).unwrap();
    up.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    resp
}

fn split_response(resp: &[u8]) -> (&[u8], &[u8]) {
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |i| i + 4);
    resp.split_at(at)
}

fn fake_serve(mut c: TcpStream, real: &str, fault: &Fault) {
    let Some(head) = read_head(&mut c) else {
        return;
    };
    let path = head.split(' ').nth(1).unwrap_or("").to_string();
    let is_blob = |d: &str| path.contains(&format!("/blobs/{d}"));
    match fault {
        Fault::Hang => std::thread::sleep(Duration::from_secs(30)),
        Fault::CorruptBlob(d) if is_blob(d) => {
            let resp = forward(real, &head);
            let (h, body) = split_response(&resp);
            let mut body = body.to_vec();
            if let Some(last) = body.last_mut() {
                *last ^= 0xff;
            }
            let _ = c.write_all(h);
            let _ = c.write_all(&body);
        }
        Fault::StallBlob(d) if is_blob(d) => {
            let resp = forward(real, &head);
            let (h, body) = split_response(&resp);
            let _ = c.write_all(h);
            let _ = c.write_all(&body[..body.len() / 2]);
            let _ = c.flush();
            std::thread::sleep(Duration::from_secs(30));
        }
        Fault::LieInRanges(d, lie) if is_blob(d) => {
            let lie = *lie.lock().unwrap();
            let resp = forward(real, &head);
            let (h, body) = split_response(&resp);
            let h = String::from_utf8_lossy(h).into_owned();
            // Only a 206 lies, except Flipped, which flips a whole blob's last byte too.
            let partial = h.starts_with("HTTP/1.1 206");
            let lie = lie.filter(|l| partial || matches!(l, RangeLie::Flipped));
            let Some(lie) = lie else {
                let _ = c.write_all(&resp);
                return;
            };
            let mut body = body.to_vec();
            let mut range = header_of(&h, "content-range");
            let mut length = true;
            match lie {
                RangeLie::Long | RangeLie::LongUnframed => {
                    body.extend_from_slice(b"EXTRA");
                    length = matches!(lie, RangeLie::Long);
                }
                RangeLie::Short | RangeLie::ShortUnframed => {
                    body.truncate(body.len() / 2);
                    length = matches!(lie, RangeLie::Short);
                }
                RangeLie::Shifted => {
                    let total = range.as_deref().and_then(|r| r.rsplit('/').next());
                    range = Some(format!(
                        "bytes 0-{}/{}",
                        body.len() - 1,
                        total.unwrap_or("")
                    ));
                }
                RangeLie::Flipped => {
                    if let Some(last) = body.last_mut() {
                        *last ^= 0xff;
                    }
                }
            }
            let mut out = String::new();
            for l in h.split("\r\n").filter(|l| !l.is_empty()) {
                let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
                if name != "content-length" && name != "content-range" {
                    out.push_str(l);
                    out.push_str("\r\n");
                }
            }
            if let Some(range) = range {
                out.push_str(&format!("Content-Range: {range}\r\n"));
            }
            if length {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            out.push_str("\r\n");
            let _ = c.write_all(out.as_bytes());
            let _ = c.write_all(&body);
        }
        Fault::Retype(d, on) => {
            let p = path.split('?').next().unwrap_or("");
            let resp = forward(real, &head);
            let is_it = p.ends_with(&format!("/manifests/{d}")) || p.ends_with("/manifests/signed");
            if !is_it || !on.load(Ordering::SeqCst) {
                let _ = c.write_all(&resp);
                return;
            }
            let (h, body) = split_response(&resp);
            let h = String::from_utf8_lossy(h).into_owned();
            let mut out = String::new();
            for l in h.split("\r\n").filter(|l| !l.is_empty()) {
                match l.split_once(':') {
                    Some((n, v)) if n.eq_ignore_ascii_case("content-type") => {
                        out.push_str(&format!("Content-Type: {}\r\n", other_media_type(v.trim())));
                    }
                    _ => {
                        out.push_str(l);
                        out.push_str("\r\n");
                    }
                }
            }
            out.push_str("\r\n");
            let _ = c.write_all(out.as_bytes());
            let _ = c.write_all(body);
        }
        _ => {
            let _ = c.write_all(&forward(real, &head));
        }
    }
}

/// A header's value in a raw header block.
fn header_of(head: &str, name: &str) -> Option<String> {
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
}

/// The other image manifest media type (OCI for Docker's, Docker's for anything else).
fn other_media_type(t: &str) -> &'static str {
    if t == "application/vnd.oci.image.manifest.v1+json" {
        "application/vnd.docker.distribution.manifest.v2+json"
    } else {
        "application/vnd.oci.image.manifest.v1+json"
    }
}

#[test]
fn upstream_faults_fail_the_request_and_the_mirror_keeps_serving() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("faults"));
    imgs.sign(&signed);
    let signed_blobs = blobs(&format!("{}:signed", imgs.name()));
    let layer = signed_blobs[1].clone();
    let down = closed_port();
    let hang = FakeUpstream::start(&p.registry, Fault::Hang);
    let corrupt = FakeUpstream::start(&p.registry, Fault::CorruptBlob(layer.clone()));
    let stall = FakeUpstream::start(&p.registry, Fault::StallBlob(layer.clone()));
    let m = Mirror::start(
        &imgs.dir(),
        &[&p.registry, &down, &hang.addr, &corrupt.addr, &stall.addr],
        "registry_timeout_secs = 2\nregistry_connect_timeout_secs = 1",
    );
    let manifest = |ns: &str| m.get(&format!("/v2/{}/manifests/signed?ns={ns}", imgs.repo));
    let blob = |ns: &str| m.get(&format!("/v2/{}/blobs/{layer}?ns={ns}", imgs.repo));
    let healthy = || {
        let (_, status, body) = manifest(&p.registry);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let (code, status, body) = blob(&p.registry);
        assert_eq!((code, status), (0, 200));
        assert!(
            openssl::sha::sha256(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                == layer.trim_start_matches("sha256:")
        );
    };
    healthy();

    // Upstream down: unavailable at once (503, not a denial of the image), with the reason.
    let (_, status, body) = manifest(&down);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("\"UNAVAILABLE\"") && body.contains("cannot resolve"),
        "{body}"
    );
    healthy();

    // Upstream hanging: unavailable once the registry timeout passes.
    let t = Instant::now();
    let (_, status, body) = manifest(&hang.addr);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("timed out"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    healthy();

    // A blob whose bytes do not match its digest: the manifest verifies (the fake passes it
    // on), the blob's stream ends in an error before its last bytes.
    let (_, status, _) = manifest(&corrupt.addr);
    assert_eq!(status, 200, "{}", m.log());
    let (code, status, body) = blob(&corrupt.addr);
    // A one-frame blob fails before hyper has flushed the head: no response at all (0).
    assert!(status == 200 || status == 0, "{status}");
    assert_ne!(code, 0, "curl must see a failed transfer");
    let size = crane_json(&["manifest", &format!("{}:signed", imgs.name())])["layers"][0]["size"]
        .as_u64()
        .unwrap();
    assert!((body.len() as u64) < size, "the whole wrong blob was sent");
    let failed = m.kind("blob_failed");
    assert!(
        failed
            .iter()
            .any(|e| e["reason"].as_str().unwrap_or("").contains("hashing to")),
        "{}",
        m.log()
    );
    healthy();
    // containerd pulling through the corrupting upstream fails too.
    let hosts = m.hosts_dir(&corrupt.addr);
    let reference = format!("{}/{}:signed", corrupt.addr, imgs.repo);
    let _cleanup_corrupt = Ctrd::V16.cleanup(&p, std::slice::from_ref(&reference));
    let out = Ctrd::V16.pull(&p, &hosts, &reference, None);
    assert!(!out.status.success(), "containerd stored a corrupt blob");

    // A blob that stalls halfway: failed after the registry timeout.
    let (_, status, _) = manifest(&stall.addr);
    assert_eq!(status, 200);
    let t = Instant::now();
    let (code, _, body) = blob(&stall.addr);
    assert_ne!(code, 0);
    assert!((body.len() as u64) < size);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(
        m.kind("blob_failed")
            .iter()
            .any(|e| e["reason"].as_str().unwrap_or("").contains("stalled")),
        "{}",
        m.log()
    );

    // Still serving: a real pull through the mirror.
    healthy();
    let hosts = m.hosts_dir(&p.registry);
    let reference = format!("{}:signed", imgs.name());
    let _cleanup = Ctrd::V16.cleanup(&p, std::slice::from_ref(&reference));
    let out = Ctrd::V16.pull(&p, &hosts, &reference, None);
    assert!(out.status.success(), "{}\n{}", stderr(&out), m.log());
}

#[test]
fn bad_mirror_config_is_refused_at_startup() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "[mirror]\nupstreams = [\"https://bad/\"]\n").unwrap();
    let out = run(pullguard()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--policy-dir")
        .arg(imgs.dir())
        .arg("--control-listen")
        .arg(tmp.path().join("control.sock"))
        .args(["--mirror-listen", "127.0.0.1:0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a registry host[:port]"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&config, "[mirror]\nupstreams = []\n").unwrap();
    let out = run(pullguard()
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--policy-dir")
        .arg(imgs.dir())
        .arg("--control-listen")
        .arg(tmp.path().join("control.sock"))
        .args(["--mirror-listen", "127.0.0.1:0"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no upstream"), "{}", stderr(&out));
}

/// A blob as the real registry stores it.
fn blob_bytes(registry: &str, repo: &str, digest: &str) -> Vec<u8> {
    let out = run(Command::new("curl").args([
        "-sf",
        &format!("http://{registry}/v2/{repo}/blobs/{digest}"),
    ]));
    assert!(out.status.success(), "cannot fetch {digest}");
    out.stdout
}

/// The reasons of the denials and blob failures the mirror logged after the first `skip`.
fn failures_since(m: &Mirror, skip: usize) -> Vec<String> {
    m.events()
        .into_iter()
        .filter(|e| e["event"] == "denied" || e["event"] == "blob_failed")
        .skip(skip)
        .map(|e| e["reason"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Ranged blob requests through the mirror, with `check_blob_digests` on (the part is cut out
/// of the whole blob, which is hashed) or off (the Range goes upstream, its 206 is counted).
fn ranges(check_digests: bool) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("ranges"));
    imgs.sign(&signed);
    let layer = blobs(&format!("{}:signed", imgs.name()))[1].clone();
    let real = blob_bytes(&p.registry, &imgs.repo, &layer);
    let size = real.len();
    assert!(size > 40, "{size}");
    let lie = Arc::new(Mutex::new(None));
    let fake = FakeUpstream::start(&p.registry, Fault::LieInRanges(layer.clone(), lie.clone()));
    let keys = format!("check_blob_digests = {check_digests}");
    let m = Mirror::start_with(&imgs.dir(), &[&fake.addr], "", &keys);
    let (_, status, _) = m.get(&format!(
        "/v2/{}/manifests/signed?ns={}",
        imgs.repo, fake.addr
    ));
    assert_eq!(status, 200, "{}", m.log());
    let path = format!("/v2/{}/blobs/{layer}?ns={}", imgs.repo, fake.addr);
    let truth = |what: &str| {
        // Every single byte range served as asked, with its own Content-Range and length.
        for (range, start, end) in [
            ("bytes=10-".to_string(), 10, size - 1),
            ("bytes=3-7".to_string(), 3, 7),
            ("bytes=-5".to_string(), size - 5, size - 1),
            ("bytes=0-".to_string(), 0, size - 1),
            (format!("bytes=10-{}", size * 10), 10, size - 1),
        ] {
            let r = m.request(&path, Some(&range));
            assert_eq!((r.code, r.status), (0, 206), "{what} {range}: {}", m.log());
            assert!(r.body == real[start..=end], "{what} {range}: other bytes");
            let want = format!("bytes {start}-{end}/{size}");
            assert_eq!(r.header("content-range"), Some(want.as_str()), "{range}");
            let len = (end - start + 1).to_string();
            assert_eq!(r.header("content-length"), Some(len.as_str()), "{range}");
        }
    };
    truth("the truth");
    // Not one satisfiable byte range: ignored (RFC 9110), the whole blob.
    for range in ["bytes=0-1,4-5", "items=0-3", "bytes=7-3", "bytes=x-"] {
        let r = m.request(&path, Some(range));
        assert_eq!((r.code, r.status), (0, 200), "{range}: {}", m.log());
        assert!(r.body == real, "{range}");
    }
    // Past the end: 416, and the size.
    let r = m.request(&path, Some(&format!("bytes={size}-")));
    assert_eq!(r.status, 416, "{}", m.log());
    let want = format!("bytes */{size}");
    assert_eq!(r.header("content-range"), Some(want.as_str()));

    if check_digests {
        // The upstream never sees a Range: its ranged lies change nothing...
        for l in [
            RangeLie::Long,
            RangeLie::LongUnframed,
            RangeLie::Short,
            RangeLie::ShortUnframed,
            RangeLie::Shifted,
        ] {
            *lie.lock().unwrap() = Some(l);
            truth(&format!("{l:?}"));
        }
        // ...and a wrong byte anywhere in the blob breaks every part of it: the whole is hashed.
        *lie.lock().unwrap() = Some(RangeLie::Flipped);
        for range in ["bytes=0-", "bytes=10-", "bytes=3-7"] {
            let before = failures_since(&m, 0).len();
            let r = m.request(&path, Some(range));
            let clean = r.code == 0 && (200..300).contains(&r.status);
            assert!(
                !clean,
                "{range}: a clean {} of {} bytes",
                r.status,
                r.body.len()
            );
            let reasons = failures_since(&m, before);
            assert!(
                reasons.iter().any(|r| r.contains("hashing to")),
                "{reasons:?}"
            );
        }
        return;
    }
    // The Range goes upstream, and its lies end in a denial or a broken transfer, never in a
    // clean answer with other bytes than the range asked for.
    for (l, needle) in [
        (RangeLie::Long, "Content-Length"),
        (RangeLie::LongUnframed, "more than the"),
        (RangeLie::Short, "Content-Length"),
        (RangeLie::ShortUnframed, "bytes of the range"),
        (RangeLie::Shifted, "Content-Range"),
    ] {
        *lie.lock().unwrap() = Some(l);
        let before = failures_since(&m, 0).len();
        let r = m.request(&path, Some("bytes=10-"));
        let clean = r.code == 0 && (200..300).contains(&r.status);
        assert!(
            !clean,
            "{l:?}: a clean {} of {} bytes: {}",
            r.status,
            r.body.len(),
            m.log()
        );
        let reasons = failures_since(&m, before);
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "{l:?}: {reasons:?}"
        );
    }
    // What cannot be checked without the digest: a part of the right length with the wrong
    // bytes. The client's check of the whole blob is what catches it.
    *lie.lock().unwrap() = Some(RangeLie::Flipped);
    let r = m.request(&path, Some("bytes=10-"));
    assert_eq!((r.code, r.status, r.body.len()), (0, 206, size - 10));
    assert!(r.body != real[10..]);
    *lie.lock().unwrap() = None;
    truth("the truth again");
}

#[test]
fn ranged_blobs_are_cut_from_the_whole_hashed_blob() {
    ranges(true);
}

#[test]
fn ranged_blobs_without_digest_checks_are_counted_and_must_be_the_range_asked_for() {
    ranges(false);
}

/// Random hex, `n` characters: a layer that does not compress to one frame.
fn noise(n: usize) -> String {
    let mut b = vec![0u8; n / 2];
    openssl::rand::rand_bytes(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// containerd resumes a broken blob with `Range: bytes=N-`, and the mirror's own broken
/// streams (a blob that does not hash to its digest) are such breaks. A part is cut out of the
/// whole hashed blob, so a lying upstream cannot get a wrong tail into containerd's partial
/// ingest: the next pull, through an honest upstream, completes.
fn resumes_through_the_mirror(c: Ctrd) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &noise(4 << 20));
    imgs.sign(&signed);
    let layer = blobs(&format!("{}:signed", imgs.name()))[1].clone();
    let corrupt = FakeUpstream::start(&p.registry, Fault::CorruptBlob(layer.clone()));
    let m = Mirror::start(&imgs.dir(), &[&p.registry, &corrupt.addr], "");
    let broken = format!("{}/{}:signed", corrupt.addr, imgs.repo);
    let good = format!("{}:signed", imgs.name());
    let _cleanup = c.cleanup(&p, &[broken.clone(), good.clone()]);
    let ranges = |registry: &str| -> Vec<String> {
        m.kind("blob")
            .iter()
            .filter(|e| e["digest"] == layer.as_str())
            .filter(|e| e["image"] == format!("{registry}/{}", imgs.repo).as_str())
            .map(|e| e["range"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let out = c.pull(&p, &m.hosts_dir(&corrupt.addr), &broken, None);
    assert!(!out.status.success(), "{c:?} stored a corrupt blob");
    let tried = ranges(&corrupt.addr);
    assert!(
        tried.first().is_some_and(String::is_empty)
            && tried[1..]
                .iter()
                .any(|r| r.starts_with("bytes=") && r != "bytes=0-"),
        "{c:?} did not resume the broken blob: {tried:?}"
    );
    let out = c.pull(&p, &m.hosts_dir(&p.registry), &good, None);
    // (containerd 1.6 often resumes its partial ingest here too; 2.1 starts over.)
    assert!(out.status.success(), "{c:?}: {}\n{}", stderr(&out), m.log());
    assert!(c.content(&p).contains(&layer));
}

#[test]
fn containerd_1_6_resumes_a_broken_blob_with_a_range() {
    resumes_through_the_mirror(Ctrd::V16);
}

#[test]
fn containerd_2_1_resumes_a_broken_blob_with_a_range() {
    resumes_through_the_mirror(Ctrd::V21);
}

#[test]
fn a_cached_allow_serves_only_the_descriptor_that_was_verified() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("retype"));
    imgs.sign(&signed);
    let on = Arc::new(AtomicBool::new(false));
    let fake = FakeUpstream::start(&p.registry, Fault::Retype(signed.clone(), on.clone()));
    let m = Mirror::start(&imgs.dir(), &[&fake.addr], "negative_cache_secs = 0");
    let by_tag = format!("/v2/{}/manifests/signed?ns={}", imgs.repo, fake.addr);
    let by_digest = format!("/v2/{}/manifests/{signed}?ns={}", imgs.repo, fake.addr);
    let first = m.request(&by_digest, None);
    assert_eq!(first.status, 200, "{}", m.log());
    let verified = first.header("content-type").unwrap().to_string();
    let ctl = || {
        let mut c = pullguard();
        c.env(
            "PULLGUARD_CONTROL_SOCKET",
            m.tmp.path().join("control.sock"),
        )
        .arg("ctl");
        c
    };

    // The upstream now labels the same bytes with another media type: the cached allow does
    // not cover that descriptor. By digest the verdict needs no fetch: the manifest fetched to
    // serve differs from the verified one. By tag the resolved descriptor differs from the
    // cached verdict's, so it is verified afresh.
    on.store(true, Ordering::SeqCst);
    for (path, needle) in [
        (&by_digest, "media type"),
        (&by_tag, "content descriptor mismatch"),
    ] {
        let r = m.request(path, None);
        let body = String::from_utf8_lossy(&r.body);
        let served = r.header("content-type");
        assert_eq!(r.status, 403, "{path}: served as {served:?}: {body}");
        assert!(body.contains(&verified) && body.contains(needle), "{body}");
    }
    // A fresh check denies it too, for the signature's own reason.
    run_ok(ctl().args(["cache", "purge"]));
    let r = m.request(&by_digest, None);
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, 403, "{body}");
    assert!(body.contains("content descriptor mismatch"), "{body}");

    // The upstream tells the truth again: served, with the verified media type.
    on.store(false, Ordering::SeqCst);
    for path in [&by_digest, &by_tag] {
        let r = m.request(path, None);
        assert_eq!(r.status, 200, "{}", m.log());
        assert_eq!(r.header("content-type"), Some(verified.as_str()));
    }
}
