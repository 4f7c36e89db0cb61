//! Faults a real registry cannot produce, served by a hand-written FAKE registry (a std
//! `TcpListener` thread speaking just enough HTTP/1.1, one request per connection), and the
//! CLI's usage and policy errors. Every case must end in a clear denial (exit 1) or usage error
//! (exit 2), never a panic.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const JWS: &str = "application/jose+json";
const COSE: &str = "application/cose";
const NOTATION: &str = "application/vnd.cncf.notary.signature";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

// ---------------------------------------------------------------------------------------------
// The fake registry

/// What the fake registry answers for one path.
#[derive(Clone)]
enum Reply {
    /// A complete response. `length: false` leaves out Content-Length (the body ends at EOF).
    Body {
        status: u16,
        content_type: Option<String>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        length: bool,
    },
    /// `307 Temporary Redirect` to this location.
    Redirect(String),
    /// The status line, headers (with the full Content-Length) and the first `sent` bytes of
    /// the body, then nothing: the connection stays open and silent.
    HangMidBody {
        content_type: String,
        body: Vec<u8>,
        sent: usize,
    },
}

impl Reply {
    fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Body {
            status: 200,
            content_type: Some(content_type.to_string()),
            headers: Vec::new(),
            body,
            length: true,
        }
    }

    /// A manifest with the `Docker-Content-Digest` header a real registry sends.
    fn manifest(content_type: &str, body: Vec<u8>) -> Reply {
        let digest = sha256(&body);
        Reply::ok(content_type, body).with_header("Docker-Content-Digest", &digest)
    }

    fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Body { headers, .. } = &mut self {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    fn not_found(code: &str) -> Reply {
        Reply::Body {
            status: 404,
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            body: format!(r#"{{"errors":[{{"code":"{code}","message":"not found"}}]}}"#)
                .into_bytes(),
            length: true,
        }
    }
}

/// One request the fake registry saw.
#[derive(Clone, Debug)]
struct Seen {
    line: String,
    authorization: Option<String>,
}

/// The FAKE registry: routes by path (the query string is ignored), logs every request. With
/// `basic`, a request without exactly that `Authorization` value gets a 401 Basic challenge.
struct FakeRegistry {
    host: String,
    log: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl FakeRegistry {
    fn start(routes: HashMap<String, Reply>) -> FakeRegistry {
        Self::start_with_auth(routes, None)
    }

    fn start_with_auth(routes: HashMap<String, Reply>, basic: Option<String>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let routes = Arc::new(routes);
        let (log2, stop2) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (routes, log, stop) = (routes.clone(), log2.clone(), stop2.clone());
                let basic = basic.clone();
                std::thread::spawn(move || serve_one(conn, &routes, basic.as_deref(), &log, &stop));
            }
        });
        FakeRegistry { host, log, stop }
    }

    /// Request lines seen so far ("GET /v2/... HTTP/1.1").
    fn requests(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.line).collect()
    }

    fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host); // wake the accept loop
    }
}

fn serve_one(
    mut conn: TcpStream,
    routes: &HashMap<String, Reply>,
    basic: Option<&str>,
    log: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or("").to_string();
    let authorization = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().to_string())
    });
    log.lock().unwrap().push(Seen {
        line: line.clone(),
        authorization: authorization.clone(),
    });
    let target = line.split(' ').nth(1).unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let mut reply = routes
        .get(path)
        .cloned()
        .unwrap_or_else(|| Reply::not_found("MANIFEST_UNKNOWN"));
    if basic.is_some() && authorization.as_deref() != basic {
        reply = Reply::Body {
            status: 401,
            content_type: Some("application/json".into()),
            headers: vec![("WWW-Authenticate".into(), "Basic realm=\"fake\"".into())],
            body: br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                .to_vec(),
            length: true,
        };
    }
    match reply {
        Reply::Redirect(location) => {
            let h = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nConnection: close\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = conn.write_all(h.as_bytes());
        }
        Reply::Body {
            status,
            content_type,
            headers,
            body,
            length,
        } => {
            let mut h = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
            if let Some(ct) = content_type {
                h.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            if length {
                h.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            for (k, v) in headers {
                h.push_str(&format!("{k}: {v}\r\n"));
            }
            h.push_str("\r\n");
            // The client may hang up early (a refused oversize body): write errors are fine.
            let _ = conn.write_all(h.as_bytes());
            let _ = conn.write_all(&body);
        }
        Reply::HangMidBody {
            content_type,
            body,
            sent,
        } => {
            let h = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nDocker-Content-Digest: {}\r\n\r\n",
                body.len(),
                sha256(&body)
            );
            let _ = conn.write_all(h.as_bytes());
            let _ = conn.write_all(&body[..sent]);
            let _ = conn.flush();
            // Silence until the client gives up (or the test ends).
            let until = Instant::now() + Duration::from_secs(20);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                let mut buf = [0u8; 64];
                let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
                if let Ok(0) = conn.read(&mut buf) {
                    break; // the client closed its end
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Content: a signed image laid out the way a registry with the Referrers API serves it

fn json(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn desc(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

/// One image in one repository of the fake registry, its trust policy and a test PKI.
struct Scenario {
    tmp: tempfile::TempDir,
    pki: Pki,
    repo: String,
    routes: HashMap<String, Reply>,
    manifest: Vec<u8>,
    /// Descriptors of the signature manifests listed by the Referrers API, in order.
    referrers: Vec<serde_json::Value>,
}

impl Scenario {
    fn new(name: &str) -> Scenario {
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki(
            KeySpec::Ec(openssl::nid::Nid::X9_62_PRIME256V1),
            name,
            CertOpts::default(),
        );
        pki.install_root(&tmp.path().join("policy"), "ca", "fake");
        write_policy(&tmp.path().join("policy"), "strict", &["ca:fake"]);
        let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"name\":\"{name}\"}}");
        let layer = format!("layer of {name}");
        let manifest = json(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": desc("application/vnd.oci.image.config.v1+json", config.as_bytes()),
            "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer.as_bytes())],
        }));
        let mut s = Scenario {
            tmp,
            pki,
            repo: format!("faults/{name}"),
            routes: HashMap::new(),
            manifest: manifest.clone(),
            referrers: Vec::new(),
        };
        s.set_manifest("1", Reply::manifest(MANIFEST, manifest.clone()));
        let digest = s.digest();
        s.set_manifest(&digest, Reply::manifest(MANIFEST, manifest));
        s
    }

    fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    fn policy_dir(&self) -> PathBuf {
        self.tmp.path().join("policy")
    }

    fn set_manifest(&mut self, reference: &str, reply: Reply) {
        let path = format!("/v2/{}/manifests/{reference}", self.repo);
        self.routes.insert(path, reply);
    }

    fn set_blob(&mut self, digest: &str, reply: Reply) {
        let path = format!("/v2/{}/blobs/{digest}", self.repo);
        self.routes.insert(path, reply);
    }

    /// The payload a signature for this image signs.
    fn payload(&self) -> Vec<u8> {
        payload(MANIFEST, &self.digest(), self.manifest.len() as i64)
    }

    fn good_jws(&self) -> Vec<u8> {
        sign_jws(
            &self.pki,
            &protected_x509("ES256", &rfc3339(0), None),
            &self.payload(),
        )
    }

    fn good_cose(&self) -> Vec<u8> {
        sign_cose(&self.pki, &self.payload(), unix(0), Some(unix(30)))
    }

    /// The signature manifest for these layers (OCI image manifest form, as notation writes).
    fn signature_manifest(&self, layers: Vec<serde_json::Value>) -> Vec<u8> {
        json(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": NOTATION,
            "config": {"mediaType": EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": layers,
            "subject": desc(MANIFEST, &self.manifest),
            "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[]"},
        }))
    }

    /// Serve this signature manifest and list it in the referrers index.
    fn add_signature_manifest(&mut self, manifest: Vec<u8>) -> String {
        let digest = sha256(&manifest);
        let mut d = desc(MANIFEST, &manifest);
        d["artifactType"] = NOTATION.into();
        self.referrers.push(d);
        self.set_manifest(&digest, Reply::manifest(MANIFEST, manifest));
        digest
    }

    /// A complete signature: envelope blob + signature manifest + referrers entry.
    fn add_signature(&mut self, envelope: &[u8], media_type: &str) -> String {
        self.set_blob(
            &sha256(envelope),
            Reply::ok("application/octet-stream", envelope.to_vec()),
        );
        let m = self.signature_manifest(vec![desc(media_type, envelope)]);
        self.add_signature_manifest(m)
    }

    fn referrers_index(&self) -> Vec<u8> {
        json(serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": self.referrers,
        }))
    }

    fn serve(&mut self) -> FakeRegistry {
        self.serve_with_auth(None)
    }

    fn serve_with_auth(&mut self, basic: Option<String>) -> FakeRegistry {
        let path = format!("/v2/{}/referrers/{}", self.repo, self.digest());
        if !self.routes.contains_key(&path) {
            self.routes
                .insert(path, Reply::ok(INDEX, self.referrers_index()));
        }
        FakeRegistry::start_with_auth(self.routes.clone(), basic)
    }

    fn by_tag(&self, reg: &FakeRegistry) -> String {
        format!("{}/{}:1", reg.host, self.repo)
    }

    fn by_digest(&self, reg: &FakeRegistry) -> String {
        format!("{}/{}@{}", reg.host, self.repo, self.digest())
    }

    /// `pullguard verify` against the fake registry, with an optional config file.
    fn verify(&self, reg: &FakeRegistry, reference: &str, config: Option<&str>) -> Output {
        self.verify_with(reg, reference, config, &[])
    }

    fn verify_with(
        &self,
        reg: &FakeRegistry,
        reference: &str,
        config: Option<&str>,
        flags: &[&str],
    ) -> Output {
        let mut c = pullguard();
        c.arg("verify").args(flags);
        if let Some(toml) = config {
            let path = self.tmp.path().join("config.toml");
            std::fs::write(&path, toml).unwrap();
            c.arg("--config").arg(path);
        }
        c.arg("--policy-dir")
            .arg(self.policy_dir())
            .args(["-v", "--insecure-registries", &reg.host, reference])
            .env("DOCKER_CONFIG", self.tmp.path().join("no-docker"))
            .env_remove("PULLGUARD_LOG");
        run(&mut c)
    }
}

fn assert_allowed(out: &Output) {
    let code = exit_code(out);
    assert_eq!(
        code,
        0,
        "expected allowed\nstdout: {}\nstderr: {}",
        stdout_of(out),
        stderr_of(out)
    );
}

// ---------------------------------------------------------------------------------------------
// The fake registry works: a well-formed signed image is allowed (so denials below are the faults)

#[test]
fn fake_registry_serves_a_verifiable_image() {
    let mut s = Scenario::new("control");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let cose = s.good_cose();
    s.add_signature(&cose, COSE);
    let reg = s.serve();
    for reference in [s.by_tag(&reg), s.by_digest(&reg)] {
        let out = s.verify(&reg, &reference, None);
        assert_allowed(&out);
        assert!(stdout_of(&out).contains("Successfully verified"));
    }
    let reqs = reg.requests();
    assert!(
        reqs.iter().any(|r| r.contains("/referrers/")),
        "the Referrers API was used: {reqs:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Manifests

#[test]
fn manifest_over_4_mib_is_refused() {
    let big = {
        let mut v = b"{\"schemaVersion\":2,\"padding\":\"".to_vec();
        v.resize(5 * 1024 * 1024 - 2, b'a');
        v.extend_from_slice(b"\"}");
        v
    };
    // With a Content-Length: refused from the header.
    let mut s = Scenario::new("big-declared");
    s.set_manifest("1", Reply::manifest(MANIFEST, big.clone()));
    let reg = s.serve();
    let started = Instant::now();
    let out = s.verify(&reg, &s.by_tag(&reg), None);
    assert_denied(&out, &["5242880 bytes", "over the 4194304-byte limit"]);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Without one (the body runs to EOF): refused once 4 MiB have arrived.
    let mut s = Scenario::new("big-streamed");
    let Reply::Body { headers, .. } = Reply::manifest(MANIFEST, big.clone()) else {
        unreachable!()
    };
    s.set_manifest(
        "1",
        Reply::Body {
            status: 200,
            content_type: Some(MANIFEST.into()),
            headers,
            body: big,
            length: false,
        },
    );
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_tag(&reg), None);
    assert_denied(&out, &["larger than the 4194304-byte limit"]);
}

#[test]
fn manifest_bytes_must_match_the_requested_digest() {
    let mut s = Scenario::new("digest-mismatch");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let digest = s.digest();
    // Asked by digest, the registry serves other bytes (with a header that agrees with them).
    let other = s.manifest.iter().rev().cloned().collect::<Vec<u8>>();
    s.set_manifest(&digest, Reply::manifest(MANIFEST, other.clone()));
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_digest(&reg), None);
    assert_denied(
        &out,
        &[
            "cannot resolve the image",
            "content digest mismatch",
            &format!("expected {digest}, got {}", sha256(&other)),
        ],
    );
}

#[test]
fn docker_content_digest_header_must_agree() {
    let mut s = Scenario::new("header-mismatch");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let wrong = sha256(b"something else");
    let manifest = s.manifest.clone();
    let digest = s.digest();
    s.set_manifest(
        "1",
        Reply::manifest(MANIFEST, manifest.clone()).with_header("Docker-Content-Digest", &wrong),
    );
    s.set_manifest(
        &digest,
        Reply::manifest(MANIFEST, manifest).with_header("Docker-Content-Digest", &wrong),
    );
    let reg = s.serve();
    for reference in [s.by_tag(&reg), s.by_digest(&reg)] {
        let out = s.verify(&reg, &reference, None);
        assert_denied(
            &out,
            &[&format!(
                "registry says digest {wrong} but the content hashes to {digest}"
            )],
        );
    }
}

#[test]
fn garbage_manifests_and_indexes_are_denied() {
    // The signature manifest is not JSON.
    let mut s = Scenario::new("garbage-sigmanifest");
    let sig = s.add_signature_manifest(b"{\"schemaVersion\": 2, \"layers\": [".to_vec());
    let reg = s.serve();
    // notation-go stops the whole verification on a signature it cannot retrieve.
    let err = assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &[&format!(
            "Error: signature verification failed: unable to retrieve digital signature with digest \"{sig}\""
        )],
    );
    assert!(
        err.to_lowercase().contains("json") || err.contains("manifest"),
        "{err}"
    );

    // The referrers index is not JSON.
    let mut s = Scenario::new("garbage-index");
    let path = format!("/v2/{}/referrers/{}", s.repo, s.digest());
    s.routes
        .insert(path, Reply::ok(INDEX, b"\x00\xffnot json".to_vec()));
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["cannot list signatures"],
    );

    // The image manifest itself is garbage (no media type either): nothing can be signed for
    // it here, so it is denied, not crashed on.
    let mut s = Scenario::new("garbage-image");
    let garbage = b"\xde\xad\xbe\xef garbage".to_vec();
    s.set_manifest(
        "1",
        Reply::Body {
            status: 200,
            content_type: None,
            headers: vec![("Docker-Content-Digest".into(), sha256(&garbage))],
            body: garbage,
            length: true,
        },
    );
    let reg = s.serve();
    assert_denied(&s.verify(&reg, &s.by_tag(&reg), None), &[]);

    // A referrers index whose entry is not a signature manifest type.
    let mut s = Scenario::new("odd-entry");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    s.referrers[0]["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &[
            "Error: signature verification failed: unable to retrieve digital signature",
            "sigManifestDesc.MediaType requires",
        ],
    );
}

#[test]
fn signature_manifest_with_two_layers_is_denied() {
    let mut s = Scenario::new("two-layers");
    let (a, b) = (s.good_jws(), s.good_cose());
    s.set_blob(
        &sha256(&a),
        Reply::ok("application/octet-stream", a.clone()),
    );
    s.set_blob(
        &sha256(&b),
        Reply::ok("application/octet-stream", b.clone()),
    );
    let m = s.signature_manifest(vec![desc(JWS, &a), desc(COSE, &b)]);
    s.add_signature_manifest(m);
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["exactly one signature envelope blob, got 2"],
    );
    // And none at all.
    let mut s = Scenario::new("zero-layers");
    let m = s.signature_manifest(vec![]);
    s.add_signature_manifest(m);
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["exactly one signature envelope blob, got 0"],
    );
}

// ---------------------------------------------------------------------------------------------
// Signature blobs and envelopes

#[test]
fn signature_layer_with_unsupported_media_type_is_denied() {
    let mut s = Scenario::new("bad-envelope-type");
    let env = s.good_jws();
    s.add_signature(&env, "application/pgp-signature");
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &[
            "integrity validation failed",
            "\"application/pgp-signature\" is not supported",
        ],
    );
}

#[test]
fn signature_blob_must_match_its_digest() {
    let mut s = Scenario::new("blob-mismatch");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    // Same size, one byte changed.
    let mut tampered = env.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 0x01;
    s.set_blob(
        &sha256(&env),
        Reply::ok("application/octet-stream", tampered.clone()),
    );
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &[
            "content digest mismatch",
            &format!("expected {}, got {}", sha256(&env), sha256(&tampered)),
        ],
    );

    // Longer than its descriptor says.
    let mut s = Scenario::new("blob-longer");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let mut longer = env.clone();
    longer.extend_from_slice(b"   ");
    s.set_blob(&sha256(&env), Reply::ok("application/octet-stream", longer));
    let reg = s.serve();
    assert_denied(&s.verify(&reg, &s.by_tag(&reg), None), &["limit"]);
}

#[test]
fn malformed_envelopes_are_denied_without_panic() {
    let mut s = Scenario::new("envelopes");
    let good = s.good_jws();
    let v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut v = v.clone();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage base64 payload",
            with("payload", "!!!not*base64!!!".into()),
            "illegal base64",
        ),
        (
            "garbage base64 protected",
            with("protected", "%%%".into()),
            "illegal base64",
        ),
        (
            "garbage base64 signature",
            with("signature", "a.b.c".into()),
            "illegal base64",
        ),
        (
            "garbage base64 x5c",
            with("header", serde_json::json!({"x5c": ["@@@"]})),
            "x5c entry is not valid base64",
        ),
        (
            "truncated JSON",
            good[..good.len() / 2].to_vec(),
            "unable to parse the digital signature",
        ),
        ("empty", Vec::new(), "unable to parse the digital signature"),
        ("JSON array", b"[1,2,3]".to_vec(), "not a JSON object"),
    ];
    for (_, env, _) in &cases {
        s.add_signature(env, JWS);
    }
    // COSE garbage: truncated, and not CBOR at all.
    let cose = s.good_cose();
    let cose_cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated COSE", cose[..cose.len() / 2].to_vec()),
        ("COSE first byte only", cose[..1].to_vec()),
        ("not CBOR", b"\xff\xff\xff\xff".to_vec()),
    ];
    for (_, env) in &cose_cases {
        s.add_signature(env, COSE);
    }
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_tag(&reg), None);
    let err = assert_denied(
        &out,
        &["signature verification failed for all the signatures"],
    );
    for (name, _, needle) in &cases {
        assert!(
            err.contains(needle),
            "{name}: stderr lacks {needle:?}: {err}"
        );
    }
    let reported = err
        .matches("failed to verify signature with digest")
        .count();
    assert_eq!(
        reported,
        cases.len() + cose_cases.len(),
        "every signature is tried and reported: {err}"
    );
}

#[test]
fn every_truncation_of_an_envelope_is_a_clean_denial() {
    // One run tries every signature (max_signatures 100): a truncated JWS and COSE envelope at
    // many cut points, and single flipped bytes. Any panic fails the exit code check.
    let mut s = Scenario::new("truncations");
    let jws = s.good_jws();
    let cose = s.good_cose();
    let mut n = 0;
    for (env, mt) in [(&jws, JWS), (&cose, COSE)] {
        let step = (env.len() / 24).max(1);
        for cut in (1..env.len()).step_by(step) {
            s.add_signature(&env[..cut], mt);
            n += 1;
        }
        for at in (0..env.len()).step_by(step * 2) {
            let mut e = env.clone();
            e[at] ^= 0x5a;
            s.add_signature(&e, mt);
            n += 1;
        }
    }
    assert!(n < 100, "{n} signatures must fit max_signatures");
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_tag(&reg), None);
    let err = assert_denied(&out, &[]);
    assert_eq!(
        err.matches("failed to verify signature with digest")
            .count(),
        n,
        "{err}"
    );
}

#[test]
fn oversize_envelope_descriptor_is_refused_before_download() {
    let mut s = Scenario::new("huge-envelope");
    let env = s.good_jws();
    let digest = sha256(&env);
    s.set_blob(&digest, Reply::ok("application/octet-stream", env.clone()));
    let huge = 32 * 1024 * 1024 + 1;
    let m = s.signature_manifest(vec![
        serde_json::json!({"mediaType": JWS, "digest": digest, "size": huge}),
    ]);
    s.add_signature_manifest(m);
    // A signature manifest descriptor over 4 MiB too.
    let mut big = desc(MANIFEST, b"x");
    big["digest"] = sha256(b"never fetched").into();
    big["size"] = (5 * 1024 * 1024).into();
    big["artifactType"] = NOTATION.into();
    s.referrers.push(big);
    let reg = s.serve();
    // The first one stops the verification (notation-go: a signature that cannot be
    // retrieved is an error, not a failed signature); neither is downloaded.
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["signature blob too large: 33554433 bytes"],
    );
    let mut reqs = reg.requests();
    s.referrers.remove(0);
    s.routes
        .retain(|path, _| !path.starts_with(&format!("/v2/{}/referrers/", s.repo)));
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["signature manifest too large: 5242880 bytes"],
    );
    reqs.extend(reg.requests());
    assert!(
        !reqs.iter().any(|r| r.contains(&digest)),
        "the oversize blob was requested: {reqs:?}"
    );
    assert!(
        !reqs.iter().any(|r| r.contains(&sha256(b"never fetched"))),
        "the oversize manifest was requested: {reqs:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Redirects (blob storage elsewhere, as with S3): followed, without the registry's credentials

#[test]
fn redirects_are_followed_and_credentials_stay_on_the_registry_host() {
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("fakeuser:fake-Pa55")
    );
    let mut s = Scenario::new("redirect");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    // The envelope lives on another host (another port: another authority), reached by a
    // redirect; the signature manifest moved within the registry (a relative Location).
    let mut storage_routes = HashMap::new();
    storage_routes.insert(
        "/storage/envelope".to_string(),
        Reply::ok("application/octet-stream", env.clone()),
    );
    let storage = FakeRegistry::start(storage_routes);
    s.set_blob(
        &sha256(&env),
        Reply::Redirect(format!("http://{}/storage/envelope", storage.host)),
    );
    let sig_digest = s.referrers[0]["digest"].as_str().unwrap().to_string();
    let sig_path = format!("/v2/{}/manifests/{sig_digest}", s.repo);
    let sig_manifest = s.routes.remove(&sig_path).unwrap();
    s.routes.insert("/moved/sig".into(), sig_manifest);
    s.routes
        .insert(sig_path, Reply::Redirect("/moved/sig".into()));
    let reg = s.serve_with_auth(Some(basic.clone()));
    let cfg = s.tmp.path().join("docker-config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"auths": {reg.host.clone(): {"username": "fakeuser", "password": "fake-Pa55"}}})
            .to_string(),
    )
    .unwrap();
    let flags = ["--docker-config", cfg.to_str().unwrap()];
    let out = s.verify_with(&reg, &s.by_tag(&reg), None, &flags);
    assert_allowed(&out);
    assert!(!stderr_of(&out).contains("fake-Pa55"));
    let seen = reg.seen();
    assert!(
        seen.iter()
            .any(|r| r.line.contains("/moved/sig")
                && r.authorization.as_deref() == Some(basic.as_str())),
        "a same-host redirect keeps the credentials: {seen:?}"
    );
    let stored = storage.seen();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0].authorization, None,
        "credentials must not follow a redirect to another host"
    );

    // A redirect loop ends in a denial.
    let mut s = Scenario::new("redirect-loop");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let blob = format!("/v2/{}/blobs/{}", s.repo, sha256(&env));
    s.routes.insert(blob.clone(), Reply::Redirect(blob));
    let reg = s.serve();
    assert_denied(
        &s.verify(&reg, &s.by_tag(&reg), None),
        &["too many redirects"],
    );
}

// ---------------------------------------------------------------------------------------------
// A registry that stops talking mid-body

fn assert_times_out(s: &Scenario, reg: &FakeRegistry, reference: &str, needles: &[&str]) {
    let started = Instant::now();
    let out = s.verify(reg, reference, Some("registry_timeout_secs = 1\n"));
    let took = started.elapsed();
    assert_denied(&out, needles);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "denied after {took:?}, the timeout is 1 s"
    );
}

#[test]
fn registry_hanging_mid_body_is_denied_within_the_timeout() {
    // The image manifest: headers and half the body, then silence.
    let mut s = Scenario::new("hang-manifest");
    let manifest = s.manifest.clone();
    let half = manifest.len() / 2;
    s.set_manifest(
        "1",
        Reply::HangMidBody {
            content_type: MANIFEST.into(),
            body: manifest,
            sent: half,
        },
    );
    let reg = s.serve();
    assert_times_out(
        &s,
        &reg,
        &s.by_tag(&reg),
        &["cannot resolve the image", "timed out"],
    );

    // The envelope blob.
    let mut s = Scenario::new("hang-blob");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    s.set_blob(
        &sha256(&env),
        Reply::HangMidBody {
            content_type: "application/octet-stream".into(),
            body: env.clone(),
            sent: 10,
        },
    );
    let reg = s.serve();
    assert_times_out(&s, &reg, &s.by_tag(&reg), &["timed out"]);

    // The referrers index.
    let mut s = Scenario::new("hang-referrers");
    let env = s.good_jws();
    s.add_signature(&env, JWS);
    let index = s.referrers_index();
    let path = format!("/v2/{}/referrers/{}", s.repo, s.digest());
    s.routes.insert(
        path,
        Reply::HangMidBody {
            content_type: INDEX.into(),
            body: index,
            sent: 5,
        },
    );
    let reg = s.serve();
    assert_times_out(
        &s,
        &reg,
        &s.by_tag(&reg),
        &["cannot list signatures", "timed out"],
    );
}

// ---------------------------------------------------------------------------------------------
// CLI: policy check and usage errors

fn policies() -> PathBuf {
    testdata().join("policies")
}

fn policy_check(dir: &Path) -> Output {
    run(pullguard()
        .args(["policy", "check", "--policy-dir"])
        .arg(dir))
}

/// Every OCI entry of the vectors' `invalid` lists: (file, first expected error).
fn invalid_vectors() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for f in [
        "e2e-policies.expected.json",
        "notation-go-unit-policies.expected.json",
    ] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(policies().join(f)).unwrap()).unwrap();
        for e in doc["invalid"].as_array().unwrap() {
            if e["documentType"].as_str().unwrap_or("oci") != "oci" {
                continue;
            }
            v.push((
                e["file"].as_str().unwrap().to_string(),
                e["expectedError"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(v.len() > 40, "vectors missing: {}", v.len());
    v
}

#[test]
fn policy_check_reports_each_invalid_vector() {
    for (file, want) in invalid_vectors() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(policies().join(&file), tmp.path().join("trustpolicy.json")).unwrap();
        let out = policy_check(tmp.path());
        assert_eq!(exit_code(&out), 1, "{file}: {}", stdout_of(&out));
        let so = stdout_of(&out);
        assert_eq!(
            so.lines().next(),
            Some(format!("Error: {want}").as_str()),
            "{file}: the first problem is notation's message\n{so}"
        );
    }
}

#[test]
fn policy_check_prints_every_problem_of_a_policy_with_several_mistakes() {
    // Statements taken from several invalid vectors, renamed and given their own scopes, in one
    // document with an unsupported version: every mistake must be printed, not only the first.
    let picks = [
        "invalid/e2e_empty_trusted_identity_trustpolicy.json",
        "invalid/e2e_malformed_trust_store_trustpolicy.json",
        "invalid/e2e_malformed_trusted_identity_trustpolicy.json",
        "invalid/e2e_missing_country_trusted_identity_trustpolicy.json",
        "invalid/e2e_override_integrity_for_permissive_trustpolicy.json",
        "invalid/e2e_wildcard_trust_store_trustpolicy.json",
        "invalid/notation-go_oci_invalid_level.json",
        "invalid/notation-go_oci_truststore_invalid_type.json",
        "invalid/notation-go_oci_ti_duplicate_rdn.json",
    ];
    let expected: HashMap<String, String> = invalid_vectors().into_iter().collect();
    let mut statements = Vec::new();
    let mut want = vec!["oci trust policy document uses unsupported version \"1.1\"".to_string()];
    for (i, file) in picks.iter().enumerate() {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(policies().join(file)).unwrap()).unwrap();
        let mut st = doc["trustPolicies"][0].clone();
        let old = st["name"].as_str().unwrap().to_string();
        let new = format!("mistake-{i}");
        st["name"] = new.clone().into();
        st["registryScopes"] = serde_json::json!([format!("example.com/app{i}")]);
        statements.push(st);
        want.push(expected[*file].replace(
            &format!("statement \"{old}\""),
            &format!("statement \"{new}\""),
        ));
    }
    // And a well-formed statement whose trust stores are missing / hold no certificate: a
    // policy that does not validate still gets its stores checked, so one run lists it all.
    statements.push(serde_json::json!({
        "name": "stores", "registryScopes": ["example.com/stores"],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:absent-store", "tsa:empty-store"], "trustedIdentities": ["*"],
    }));
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("truststore/x509/tsa/empty-store")).unwrap();
    let doc = serde_json::json!({"version": "1.1", "trustPolicies": statements});
    std::fs::write(tmp.path().join("trustpolicy.json"), doc.to_string()).unwrap();
    let out = policy_check(tmp.path());
    assert_eq!(exit_code(&out), 1);
    let so = stdout_of(&out);
    let lines: Vec<&str> = so.lines().collect();
    assert_eq!(lines[0], format!("Error: {}", want[0]), "{so}");
    for w in &want {
        assert!(
            lines.contains(&format!("Error: {w}").as_str()),
            "missing problem {w:?} in:\n{so}"
        );
    }
    for store in ["absent-store", "empty-store"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("Error: ") && l.contains(store)),
            "trust store {store} not reported:\n{so}"
        );
    }
    let summary = lines.last().unwrap();
    assert!(summary.contains("problem(s) in"), "{so}");
    let count: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(count, lines.len() - 1, "the count matches the lines: {so}");
    assert!(count >= want.len() + 2, "{so}");
}

#[test]
fn policy_check_valid_dir_and_missing_trust_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        policies().join("valid/e2e_trustpolicy.json"),
        dir.join("trustpolicy.json"),
    )
    .unwrap();
    let p = pki(KeySpec::Rsa(2048), "check", CertOpts::default());
    p.install_root(dir, "ca", "e2e");
    let out = policy_check(dir);
    assert_eq!(exit_code(&out), 0, "{}", stdout_of(&out));
    assert!(stdout_of(&out).starts_with("ok: "), "{}", stdout_of(&out));

    // A valid policy naming two trust stores that do not exist: both reported.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[
            {"name":"a","registryScopes":["example.com/a"],"signatureVerification":{"level":"strict"},"trustStores":["ca:missing-one"],"trustedIdentities":["*"]},
            {"name":"b","registryScopes":["example.com/b"],"signatureVerification":{"level":"strict"},"trustStores":["ca:missing-two"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let out = policy_check(dir);
    assert_eq!(exit_code(&out), 1);
    let so = stdout_of(&out);
    assert!(
        so.contains("missing-one") && so.contains("missing-two"),
        "both stores reported: {so}"
    );
    assert!(so.contains("2 problem(s)"), "{so}");
}

#[test]
fn verify_usage_errors_exit_1_like_notation() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policy");
    write_policy(&dir, "strict", &["ca:x"]);
    pki(KeySpec::Rsa(2048), "usage", CertOpts::default()).install_root(&dir, "ca", "x");
    let verify = |args: &[&str]| {
        let mut c = pullguard();
        c.arg("verify").args(args).env_remove("PULLGUARD_LOG");
        run(&mut c)
    };
    // notation exits 1 on every error, usage ones included; so does `pullguard verify`.
    let usage = |out: Output, needle: &str| {
        assert_eq!(exit_code(&out), 1, "{}", stderr_of(&out));
        assert_eq!(stdout_of(&out), "", "nothing on stdout");
        assert!(
            stderr_of(&out).contains(needle),
            "{needle:?}: {}",
            stderr_of(&out)
        );
    };
    let d = dir.to_str().unwrap();
    // Malformed references: nothing is contacted.
    for bad in [
        "not a reference",
        "127.0.0.1:5000/UPPER/case:1",
        "127.0.0.1:5000/app:bad tag",
        "127.0.0.1:5000/app@sha256:short",
        "",
    ] {
        usage(verify(&["--policy-dir", d, bad]), "Error");
    }
    // No trust policy in the policy dir.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    usage(
        verify(&["--policy-dir", empty.to_str().unwrap(), "127.0.0.1:1/a/b:1"]),
        "trust policy is not present",
    );
    // An invalid policy.
    let bad_policy = tmp.path().join("bad");
    std::fs::create_dir_all(&bad_policy).unwrap();
    std::fs::write(bad_policy.join("trustpolicy.json"), "{").unwrap();
    usage(
        verify(&[
            "--policy-dir",
            bad_policy.to_str().unwrap(),
            "127.0.0.1:1/a/b:1",
        ]),
        "malformed trust policy",
    );
    // A config file with an unknown key, and one that does not exist.
    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, "registry_timeout = 1\n").unwrap();
    usage(
        verify(&[
            "--config",
            cfg.to_str().unwrap(),
            "--policy-dir",
            d,
            "127.0.0.1:1/a/b:1",
        ]),
        "registry_timeout",
    );
    usage(
        verify(&[
            "--config",
            tmp.path().join("nope.toml").to_str().unwrap(),
            "--policy-dir",
            d,
            "127.0.0.1:1/a/b:1",
        ]),
        "nope.toml",
    );
    // An unknown flag, and no reference at all (clap).
    usage(
        verify(&["--no-such-flag", "x"]),
        "Error: unknown flag: --no-such-flag",
    );
    usage(verify(&[]), "Error: missing reference to the artifact");
}

#[test]
fn referrers_pages_are_followed_on_the_same_registry_only() {
    let mut s = Scenario::new("pages");
    // Page 1 lists a signature by a key nobody trusts; page 2 (behind `Link: rel="next"`) the good one.
    let stranger = pki(
        KeySpec::Ec(openssl::nid::Nid::X9_62_PRIME256V1),
        "stranger",
        CertOpts::default(),
    );
    let bad = sign_jws(
        &stranger,
        &protected_x509("ES256", &rfc3339(0), None),
        &s.payload(),
    );
    s.add_signature(&bad, JWS);
    let page1 = s.referrers_index();
    s.referrers.clear();
    let good = s.good_jws();
    s.add_signature(&good, JWS);
    let page2 = s.referrers_index();
    let first = format!("/v2/{}/referrers/{}", s.repo, s.digest());
    let second = format!("/v2/{}/referrers-page-2", s.repo);
    s.routes.insert(
        first.clone(),
        Reply::ok(INDEX, page1.clone())
            .with_header("Link", &format!("<{second}?n=1&last=x>; rel=\"next\"")),
    );
    s.routes.insert(second.clone(), Reply::ok(INDEX, page2));
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_digest(&reg), None);
    assert_allowed(&out);
    assert!(
        reg.requests()
            .iter()
            .any(|r| r.contains("referrers-page-2")),
        "{:?}",
        reg.requests()
    );

    // A next page on another host is not followed: only the untrusted signature is seen.
    s.routes.insert(
        first,
        Reply::ok(INDEX, page1).with_header(
            "Link",
            "<http://127.0.0.2:9/v2/x/referrers/y>; rel=\"next\"",
        ),
    );
    let reg = s.serve();
    let out = s.verify(&reg, &s.by_digest(&reg), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("does not contain any trusted certificate"),
        "{}",
        stderr_of(&out)
    );
}
