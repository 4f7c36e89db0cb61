//! OCSP and CRL revocation checks over real HTTP on loopback.
//!
//! - CRL: the Notary Project's e2e vectors (`certs/revocation-e2e/certchain_with_crl.pem`, whose
//!   CDPs are `http://localhost:10086/{leaf,intermediate}.crl`), served by a fake HTTP server
//!   bound to 127.0.0.1:10086 with the CRL file swapped per case. Port 10086 is fixed, so those
//!   tests take `PORT_10086` in turn.
//! - OCSP: no key exists for the vectors' responder, so a test CA, responders and certificates
//!   are made with the `openssl` CLI, responses with `openssl ocsp`, CRLs with `openssl ca`, and
//!   a fake responder on an ephemeral port answers what each case needs.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{KeySpec, Pki, payload, protected_x509, rfc3339, sign_jws, testdata};
use openssl::nid::Nid;
use openssl::ocsp::OcspRequest;
use openssl::pkey::PKey;
use openssl::x509::X509;
use pullguard::oci::Descriptor;
use pullguard::revocation::{Purpose, RevocationChecker};
use pullguard::verify::{TrustConfig, verify_envelope};
use pullguard::x509::{Cert, parse_certs};
use time::OffsetDateTime;
use time::macros::datetime;

static PORT_10086: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What the fake answers to an OCSP POST.
#[derive(Clone)]
enum Answer {
    Body(Vec<u8>),
    Status(u16),
    /// Accept, read the request, never answer.
    Hang,
}

#[derive(Default)]
struct Routes {
    ocsp: Option<Answer>,
    /// GET path → body.
    files: HashMap<String, Vec<u8>>,
    /// Content-Type and body of every POST.
    posts: Vec<(String, Vec<u8>)>,
    gets: usize,
}

/// A fake HTTP/1.1 server standing in for OCSP responders and CRL distribution points. The port
/// closes when it is dropped.
struct FakeServer {
    port: u16,
    routes: Arc<Mutex<Routes>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    fn bind(addr: &str) -> FakeServer {
        // The fixed port of the CRL vectors may still be held for a moment by the server the
        // previous case dropped (its last connection closing): try again for a while.
        let start = std::time::Instant::now();
        let listener = loop {
            match TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && start.elapsed() < std::time::Duration::from_secs(10) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("bind {addr}: {e}"),
            }
        };
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (routes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let r = r.clone();
                        std::thread::spawn(move || handle(stream, &r));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer {
            port,
            routes,
            stop,
            thread: Some(thread),
        }
    }

    fn set_ocsp(&self, a: Answer) {
        self.routes.lock().unwrap().ocsp = Some(a);
    }

    fn set_file(&self, path: &str, body: Option<Vec<u8>>) {
        let mut r = self.routes.lock().unwrap();
        match body {
            Some(b) => r.files.insert(path.to_string(), b),
            None => r.files.remove(path),
        };
    }

    fn posts(&self) -> Vec<(String, Vec<u8>)> {
        self.routes.lock().unwrap().posts.clone()
    }

    fn gets(&self) -> usize {
        self.routes.lock().unwrap().gets
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut s: TcpStream, routes: &Mutex<Routes>) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    let answer = {
        let mut r = routes.lock().unwrap();
        if method == "POST" {
            r.posts
                .push((header("content-type").unwrap_or_default(), body));
            r.ocsp.clone().unwrap_or(Answer::Status(404))
        } else {
            r.gets += 1;
            match r.files.get(path) {
                Some(b) => Answer::Body(b.clone()),
                None => Answer::Status(404),
            }
        }
    };
    let (status, body) = match answer {
        Answer::Body(b) => (200, b),
        Answer::Status(c) => (c, Vec::new()),
        Answer::Hang => {
            std::thread::sleep(Duration::from_secs(6));
            return;
        }
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status} X\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(&body);
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join("certs/revocation-e2e").join(name)).unwrap()
}

fn crl_chain() -> Vec<Cert> {
    parse_certs(&vector("certchain_with_crl.pem")).unwrap()
}

const E2E_LEAF: &str = r#""CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;
const E2E_INTER: &str = r#""CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;

/// The fake CRL server on 127.0.0.1:10086 serving the given vector files.
fn crl_server(leaf: &str, intermediate: &str) -> FakeServer {
    let s = FakeServer::bind("127.0.0.1:10086");
    s.set_file("/leaf.crl", Some(vector(leaf)));
    s.set_file("/intermediate.crl", Some(vector(intermediate)));
    s
}

async fn check(rc: &RevocationChecker, chain: &[Cert]) -> Result<(), String> {
    rc.check_chain(chain, Purpose::CodeSigning, None, OffsetDateTime::now_utc())
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn crl_good_chain_passes_and_is_cached() {
    let _port = PORT_10086.lock().await;
    let chain = crl_chain();
    let rc = RevocationChecker::default();
    {
        let s = crl_server("leaf.crl", "intermediate.crl");
        // The intermediate names an OCSP responder that does not resolve
        // (http://localhost.test/ocsp): OCSP is unknown, the CRL decides.
        assert_eq!(check(&rc, &chain).await, Ok(()));
        assert_eq!(s.gets(), 2);
        assert_eq!(rc.cached_crls(), 2);
        assert_eq!(check(&rc, &chain).await, Ok(()));
        assert_eq!(s.gets(), 2, "the second check is answered from the cache");
    }
    // Server gone: the cached CRLs still answer until their nextUpdate...
    assert_eq!(check(&rc, &chain).await, Ok(()));
    // ...and without them the status is unknown.
    rc.purge_cache();
    let e = check(&rc, &chain).await.unwrap_err();
    assert!(
        e.starts_with(&format!(
            "signing certificate with subject {E2E_LEAF} revocation status is unknown: CRL http://localhost:10086/leaf.crl: "
        )),
        "{e}"
    );
}

#[tokio::test]
async fn crl_revoked_leaf_and_intermediate() {
    let _port = PORT_10086.lock().await;
    let chain = crl_chain();
    let s = crl_server("leaf_revoked.crl", "intermediate.crl");
    let e = check(&RevocationChecker::default(), &chain)
        .await
        .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "signing certificate with subject {E2E_LEAF} is revoked: CRL http://localhost:10086/leaf.crl: revoked at Mon, 11 Nov 2024 05:30:52 +0000"
        )),
        "{e}"
    );
    drop(s);
    let s = crl_server("leaf.crl", "intermediate_revoked.crl");
    let e = check(&RevocationChecker::default(), &chain)
        .await
        .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "signing certificate with subject {E2E_INTER} is revoked: CRL http://localhost:10086/intermediate.crl"
        )),
        "{e}"
    );
    // Revoked wins over unknown, and the wording follows the purpose.
    s.set_file("/leaf.crl", None);
    let e = RevocationChecker::default()
        .check_chain(
            &chain,
            Purpose::Timestamping,
            None,
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "timestamping certificate with subject {E2E_INTER} is revoked: "
        )),
        "{e}"
    );
}

#[tokio::test]
async fn crl_expired_missing_or_down_is_unknown() {
    let _port = PORT_10086.lock().await;
    let chain = crl_chain();
    let unknown = format!(
        "signing certificate with subject {E2E_LEAF} revocation status is unknown: CRL http://localhost:10086/leaf.crl: "
    );
    {
        // leaf_expired.crl: past its nextUpdate (and signed by another key than this
        // intermediate's, which is checked first, as notation does).
        let _s = crl_server("leaf_expired.crl", "intermediate.crl");
        let e = check(&RevocationChecker::default(), &chain)
            .await
            .unwrap_err();
        assert!(e.starts_with(&unknown), "{e}");
        assert!(e.contains("CRL is not signed by CA"), "{e}");
    }
    {
        let s = crl_server("leaf.crl", "intermediate.crl");
        s.set_file("/leaf.crl", None);
        let e = check(&RevocationChecker::default(), &chain)
            .await
            .unwrap_err();
        assert!(e.starts_with(&unknown), "{e}");
        assert!(e.contains("HTTP 404"), "{e}");
        // Not a CRL at all.
        s.set_file("/leaf.crl", Some(b"not a CRL".to_vec()));
        let e = check(&RevocationChecker::default(), &chain)
            .await
            .unwrap_err();
        assert!(e.contains("malformed CRL"), "{e}");
    }
    // Port closed.
    let t = Instant::now();
    let e = check(&RevocationChecker::default(), &chain)
        .await
        .unwrap_err();
    assert!(e.starts_with(&unknown), "{e}");
    assert!(e.contains("Connection refused"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3));
}

// ---------------------------------------------------------------------------------------------
// A test CA with OCSP.

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// Serials (hex) of the test certificates.
const LEAF: &str = "1001"; // OCSP only
const BOTH: &str = "1002"; // OCSP and CRL
const CRL_ONLY: &str = "1003";

/// The invalidity date the test CA records for its revocations (reason keyCompromise).
const INVALID_FROM: OffsetDateTime = datetime!(2099-01-01 00:00 UTC);

struct OcspPki {
    dir: tempfile::TempDir,
    server: FakeServer,
    root: Cert,
    certs: HashMap<&'static str, Cert>,
}

impl OcspPki {
    fn new() -> OcspPki {
        let server = FakeServer::bind("127.0.0.1:0");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let url = format!("http://127.0.0.1:{}", server.port);
        let mut args = vec!["req", "-x509", "-nodes", "-keyout", "root.key", "-out"];
        args.extend([
            "root.crt",
            "-subj",
            "/CN=Revocation Test Root",
            "-days",
            "30",
        ]);
        args.extend(EC);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        args.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(d, &args);
        let mut args = vec!["req", "-x509", "-nodes", "-keyout", "rogue_root.key"];
        args.extend([
            "-out",
            "rogue_root.crt",
            "-subj",
            "/CN=Rogue Root",
            "-days",
            "30",
        ]);
        args.extend(EC);
        args.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        openssl(d, &args);
        let leaf_ext = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n";
        let aia = format!("authorityInfoAccess=OCSP;URI:{url}/ocsp\n");
        let cdp = format!("crlDistributionPoints=URI:{url}/root.crl\n");
        let responder =
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,OCSPSigning\n";
        let issue = |name: &str, cn: &str, serial: &str, ext: &str, ca: &str| {
            std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
            let mut args = vec!["req", "-new", "-nodes"];
            let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
            let subj = format!("/CN={cn}");
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            args.extend(EC);
            openssl(d, &args);
            let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
            let (crt, ext_file, serial) = (
                format!("{name}.crt"),
                format!("{name}.ext"),
                format!("0x{serial}"),
            );
            let mut args = vec![
                "x509", "-req", "-in", &csr, "-CA", &ca_crt, "-CAkey", &ca_key,
            ];
            args.extend(["-set_serial", &serial, "-days", "30", "-extfile", &ext_file]);
            args.extend(["-out", &crt]);
            openssl(d, &args);
        };
        issue(
            "leaf",
            "OCSP Leaf",
            LEAF,
            &format!("{leaf_ext}{aia}"),
            "root",
        );
        issue(
            "both",
            "Both Leaf",
            BOTH,
            &format!("{leaf_ext}{aia}{cdp}"),
            "root",
        );
        issue(
            "crlonly",
            "CRL Leaf",
            CRL_ONLY,
            &format!("{leaf_ext}{cdp}"),
            "root",
        );
        issue("responder", "Responder", "2001", responder, "root");
        issue(
            "noeku",
            "Responder Without EKU",
            "2002",
            "keyUsage=critical,digitalSignature\n",
            "root",
        );
        issue("rogue", "Rogue Responder", "2003", responder, "rogue_root");
        for name in ["leaf", "both"] {
            let (crt, req) = (format!("{name}.crt"), format!("{name}.req"));
            let mut args = vec!["ocsp", "-issuer", "root.crt", "-cert", &crt, "-no_nonce"];
            args.extend(["-reqout", &req]);
            openssl(d, &args);
        }
        let load = |name: &str| {
            parse_certs(&std::fs::read(d.join(format!("{name}.crt"))).unwrap())
                .unwrap()
                .remove(0)
        };
        let certs = HashMap::from([
            (LEAF, load("leaf")),
            (BOTH, load("both")),
            (CRL_ONLY, load("crlonly")),
        ]);
        OcspPki {
            root: load("root"),
            certs,
            server,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn chain(&self, serial: &str) -> Vec<Cert> {
        vec![self.certs[serial].clone(), self.root.clone()]
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/ocsp", self.server.port)
    }

    /// An index.txt line per (serial, revoked).
    fn index(&self, name: &str, entries: &[(&str, bool)]) -> String {
        let mut s = String::new();
        for (serial, revoked) in entries {
            let rev = if *revoked {
                "250101000000Z,keyTime,20990101000000Z"
            } else {
                ""
            };
            let flag = if *revoked { 'R' } else { 'V' };
            s.push_str(&format!(
                "{flag}\t991231000000Z\t{rev}\t{serial}\tunknown\t/CN=x{serial}\n"
            ));
        }
        let file = format!("{name}.idx");
        std::fs::write(self.path(&file), s).unwrap();
        file
    }

    /// An OCSP response from `openssl ocsp` for the request of `cert` ("leaf" or "both").
    fn response(&self, cert: &str, entries: &[(&str, bool)], signer: &str, next: bool) -> Vec<u8> {
        let idx = self.index(&format!("{cert}-{signer}-{next}"), entries);
        let (req, crt, key) = (
            format!("{cert}.req"),
            format!("{signer}.crt"),
            format!("{signer}.key"),
        );
        let mut args = vec!["ocsp", "-index", &idx, "-CA", "root.crt", "-reqin", &req];
        args.extend(["-rsigner", &crt, "-rkey", &key, "-respout", "out.der"]);
        if next {
            args.extend(["-ndays", "1"]);
        }
        openssl(self.dir.path(), &args);
        std::fs::read(self.path("out.der")).unwrap()
    }

    /// A DER CRL from `openssl ca -gencrl`.
    fn crl(&self, entries: &[(&str, bool)]) -> Vec<u8> {
        let idx = self.index("crl", entries);
        std::fs::write(self.path("crlnumber"), "1000\n").unwrap();
        std::fs::write(
            self.path("ca.cnf"),
            format!("[ca]\ndefault_ca = d\n[d]\ndatabase = {idx}\ncrlnumber = crlnumber\n"),
        )
        .unwrap();
        let mut args = vec!["ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "root.key"];
        args.extend(["-cert", "root.crt", "-md", "sha256", "-crldays", "7"]);
        args.extend(["-out", "crl.pem"]);
        openssl(self.dir.path(), &args);
        let mut args = vec!["crl", "-in", "crl.pem", "-outform", "DER"];
        args.extend(["-out", "crl.der"]);
        openssl(self.dir.path(), &args);
        std::fs::read(self.path("crl.der")).unwrap()
    }
}

#[tokio::test]
async fn ocsp_answers() {
    let p = OcspPki::new();
    let chain = p.chain(LEAF);
    let url = p.url();
    let leaf = r#""CN=OCSP Leaf""#;
    let unknown = format!(
        "signing certificate with subject {leaf} revocation status is unknown: OCSP {url}: "
    );
    let good = [(LEAF, false)];
    let revoked = [(LEAF, true)];
    let cases: Vec<(&str, Answer, Result<(), String>)> = vec![
        (
            "good, delegated responder",
            Answer::Body(p.response("leaf", &good, "responder", true)),
            Ok(()),
        ),
        (
            "good, signed by the issuer",
            Answer::Body(p.response("leaf", &good, "root", true)),
            Ok(()),
        ),
        (
            "revoked",
            Answer::Body(p.response("leaf", &revoked, "responder", true)),
            Err(format!(
                "signing certificate with subject {leaf} is revoked: OCSP {url}: revoked at Wed, 01 Jan 2025 00:00:00 +0000 (keyCompromise)"
            )),
        ),
        (
            "unknown",
            Answer::Body(p.response("leaf", &[(BOTH, false)], "responder", true)),
            Err(format!(
                "{unknown}the responder reports the status as unknown"
            )),
        ),
        (
            "garbage",
            Answer::Body(b"garbage".to_vec()),
            Err(format!("{unknown}malformed OCSP response")),
        ),
        (
            "HTTP 500",
            Answer::Status(500),
            Err(format!(
                "{unknown}the responder answered HTTP 500 Internal Server Error"
            )),
        ),
        (
            "tryLater",
            Answer::Body(vec![0x30, 0x03, 0x0a, 0x01, 0x03]),
            Err(format!("{unknown}the responder answered tryLater")),
        ),
        (
            "no nextUpdate",
            Answer::Body(p.response("leaf", &good, "responder", false)),
            Err(format!("{unknown}the response has no nextUpdate")),
        ),
        (
            "responder not issued by the issuer",
            Answer::Body(p.response("leaf", &good, "rogue", true)),
            Err(format!(
                "{unknown}the response is not signed by the issuer or a responder it authorized"
            )),
        ),
        (
            "responder without id-kp-OCSPSigning",
            Answer::Body(p.response("leaf", &good, "noeku", true)),
            Err(format!(
                "{unknown}the response is not signed by the issuer or a responder it authorized"
            )),
        ),
        (
            "a response about another certificate",
            Answer::Body(p.response("both", &[(BOTH, false)], "responder", true)),
            Err(format!(
                "{unknown}the response has no status for the certificate"
            )),
        ),
    ];
    for (name, answer, want) in cases {
        p.server.set_ocsp(answer);
        let got = check(&RevocationChecker::default(), &chain).await;
        match (&got, &want) {
            (Ok(()), Ok(())) => {}
            (Err(g), Err(w)) if g.starts_with(w.as_str()) => {}
            _ => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
    // Every request was a DER OCSP request POSTed as application/ocsp-request.
    let posts = p.server.posts();
    assert_eq!(posts.len(), 11);
    for (ct, body) in posts {
        assert_eq!(ct, "application/ocsp-request");
        OcspRequest::from_der(&body).unwrap();
    }
}

/// A real `openssl ocsp` response (thisUpdate now, nextUpdate a day later) is judged at the time
/// the caller gives, not at the wall clock's.
#[tokio::test]
async fn ocsp_currency_is_judged_at_the_given_time() {
    let p = OcspPki::new();
    let chain = p.chain(LEAF);
    p.server.set_ocsp(Answer::Body(p.response(
        "leaf",
        &[(LEAF, false)],
        "responder",
        true,
    )));
    let unknown = format!(
        "signing certificate with subject \"CN=OCSP Leaf\" revocation status is unknown: OCSP {}: ",
        p.url()
    );
    let rc = RevocationChecker::default();
    let at = async |now| {
        rc.check_chain(&chain, Purpose::CodeSigning, None, now)
            .await
            .map_err(|e| e.to_string())
    };
    let now = OffsetDateTime::now_utc();
    assert_eq!(at(now).await, Ok(()));
    assert_eq!(
        at(now + time::Duration::days(2)).await,
        Err(format!("{unknown}expired OCSP response"))
    );
    assert_eq!(
        at(now - time::Duration::hours(1)).await,
        Err(format!(
            "{unknown}OCSP response outside its validity period: status not yet valid"
        ))
    );
}

#[tokio::test]
async fn ocsp_timeout_is_two_seconds() {
    let p = OcspPki::new();
    p.server.set_ocsp(Answer::Hang);
    let t = Instant::now();
    let e = check(&RevocationChecker::default(), &p.chain(LEAF))
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert!(e.contains("revocation status is unknown"), "{e}");
    assert!(e.contains("timed out after 2s"), "{e}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2900),
        "{took:?}"
    );
    // Configurable.
    let t = Instant::now();
    let rc = RevocationChecker::new(Duration::from_millis(300), Duration::from_secs(5));
    assert!(check(&rc, &p.chain(LEAF)).await.is_err());
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn ocsp_unknown_falls_back_to_the_crl() {
    let p = OcspPki::new();
    let chain = p.chain(BOTH);
    let both = r#""CN=Both Leaf""#;
    let crl_url = format!("http://127.0.0.1:{}/root.crl", p.server.port);
    // OCSP unusable, CRL good.
    p.server.set_ocsp(Answer::Status(503));
    p.server
        .set_file("/root.crl", Some(p.crl(&[(BOTH, false)])));
    assert_eq!(check(&RevocationChecker::default(), &chain).await, Ok(()));
    // OCSP says unknown, the CRL says revoked.
    p.server.set_ocsp(Answer::Body(p.response(
        "both",
        &[(LEAF, false)],
        "responder",
        true,
    )));
    p.server.set_file("/root.crl", Some(p.crl(&[(BOTH, true)])));
    let e = check(&RevocationChecker::default(), &chain)
        .await
        .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "signing certificate with subject {both} is revoked: CRL {crl_url}: revoked at Wed, 01 Jan 2025 00:00:00 +0000"
        )),
        "{e}"
    );
    // A definitive OCSP answer is not second-guessed by the CRL.
    p.server.set_ocsp(Answer::Body(p.response(
        "both",
        &[(BOTH, false)],
        "responder",
        true,
    )));
    assert_eq!(check(&RevocationChecker::default(), &chain).await, Ok(()));
    // Both unusable: unknown, naming both.
    p.server.set_ocsp(Answer::Status(503));
    p.server.set_file("/root.crl", None);
    let e = check(&RevocationChecker::default(), &chain)
        .await
        .unwrap_err();
    assert!(
        e.starts_with(&format!(
            "signing certificate with subject {both} revocation status is unknown: OCSP {}: the responder answered HTTP 503 Service Unavailable; then CRL {crl_url}: download failed with HTTP 404",
            p.url()
        )),
        "{e}"
    );
}

#[tokio::test]
async fn invalidity_date_after_the_signing_time() {
    let p = OcspPki::new();
    let before = Some(INVALID_FROM - Duration::from_secs(1));
    let at = Some(INVALID_FROM);
    // OCSP.
    p.server.set_ocsp(Answer::Body(p.response(
        "leaf",
        &[(LEAF, true)],
        "responder",
        true,
    )));
    let rc = RevocationChecker::default();
    let chain = p.chain(LEAF);
    assert_eq!(
        rc.check_chain(
            &chain,
            Purpose::CodeSigning,
            before,
            OffsetDateTime::now_utc()
        )
        .await,
        Ok(())
    );
    assert!(
        rc.check_chain(&chain, Purpose::CodeSigning, at, OffsetDateTime::now_utc())
            .await
            .is_err()
    );
    assert!(
        rc.check_chain(
            &chain,
            Purpose::CodeSigning,
            None,
            OffsetDateTime::now_utc()
        )
        .await
        .is_err()
    );
    // CRL.
    p.server
        .set_file("/root.crl", Some(p.crl(&[(CRL_ONLY, true)])));
    let chain = p.chain(CRL_ONLY);
    assert_eq!(
        rc.check_chain(
            &chain,
            Purpose::CodeSigning,
            before,
            OffsetDateTime::now_utc()
        )
        .await,
        Ok(())
    );
    let e = rc
        .check_chain(&chain, Purpose::CodeSigning, at, OffsetDateTime::now_utc())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("is revoked: CRL"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Through verify_envelope: the revocation validation's action.

const TARGET: (&str, &str, i64) = (
    "application/vnd.oci.image.manifest.v1+json",
    "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e",
    528,
);

#[tokio::test]
async fn verify_envelope_honours_the_revocation_action() {
    let p = OcspPki::new();
    let read = |n: &str| std::fs::read(p.path(n)).unwrap();
    let pki = Pki {
        root: X509::from_pem(&read("root.crt")).unwrap(),
        root_key: PKey::private_key_from_pem(&read("root.key")).unwrap(),
        leaf: X509::from_pem(&read("leaf.crt")).unwrap(),
        leaf_key: PKey::private_key_from_pem(&read("leaf.key")).unwrap(),
        spec: KeySpec::Ec(Nid::X9_62_PRIME256V1),
    };
    let target = Descriptor {
        media_type: TARGET.0.into(),
        digest: TARGET.1.into(),
        size: TARGET.2,
        artifact_type: None,
        annotations: None,
        platform: None,
    };
    let pl = payload(TARGET.0, TARGET.1, TARGET.2);
    let x509_env = sign_jws(&pki, &protected_x509("ES256", &rfc3339(0), None), &pl);
    let sa_env = sign_jws(
        &pki,
        &serde_json::json!({
            "alg": "ES256",
            "cty": "application/vnd.cncf.notary.payload.v1+json",
            "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime"],
            "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
            "io.cncf.notary.authenticSigningTime": rfc3339(0),
        }),
        &pl,
    );
    p.server.set_ocsp(Answer::Body(p.response(
        "leaf",
        &[(LEAF, true)],
        "responder",
        true,
    )));
    let rc = RevocationChecker::default();
    let verify = async |level: &str, extra: &str, store: &str, env: &[u8]| {
        let dir = tempfile::tempdir().unwrap();
        pki.install_root(dir.path(), store, "rev");
        std::fs::write(
            dir.path().join("trustpolicy.json"),
            format!(
                r#"{{"version":"1.0","trustPolicies":[{{"name":"t","registryScopes":["*"],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":["{store}:rev"],"trustedIdentities":["*"]}}]}}"#
            ),
        )
        .unwrap();
        let cfg = TrustConfig::load(dir.path()).unwrap();
        let stmt = &cfg.policy.statements[0];
        let now = OffsetDateTime::now_utc();
        verify_envelope(&cfg, stmt, "application/jose+json", env, &target, now, &rc).await
    };
    let revoked = r#"signing certificate with subject "CN=OCSP Leaf" is revoked: "#;
    // strict: enforced.
    let r = verify("strict", "", "ca", &x509_env).await;
    let e = r.error.clone().unwrap_or_default();
    assert!(
        e.starts_with(&format!(
            "revocation validation failed. Failure reason: {revoked}"
        )),
        "{e}"
    );
    // permissive and audit: logged.
    for level in ["permissive", "audit"] {
        let r = verify(level, "", "ca", &x509_env).await;
        assert!(r.passed(), "{level}: {:?}", r.error);
        let v = r
            .validations
            .iter()
            .find(|v| v.kind == "revocation")
            .unwrap();
        assert_eq!(v.action, "log");
        assert!(v.error.as_deref().unwrap().starts_with(revoked));
    }
    // skip: no OCSP request at all.
    let before = p.server.posts().len();
    let r = verify(
        "strict",
        r#","override":{"revocation":"skip"}"#,
        "ca",
        &x509_env,
    )
    .await;
    assert!(r.passed(), "{:?}", r.error);
    assert_eq!(p.server.posts().len(), before);
    // signingAuthority: the authentic signing time is before the invalidity date (2099).
    let r = verify("strict", "", "signingAuthority", &sa_env).await;
    assert!(r.passed(), "{:?}", r.error);
    // A good answer passes strict.
    p.server.set_ocsp(Answer::Body(p.response(
        "leaf",
        &[(LEAF, false)],
        "responder",
        true,
    )));
    let r = verify("strict", "", "ca", &x509_env).await;
    assert!(r.passed(), "{:?}", r.error);
}
