//! Real registries the way they run outside a test box: the real `docker-registry` serving TLS
//! with a CA made here (and a second instance requiring client certificates), trusted through
//! a Docker `certs.d` root (a temp dir the config points at) and through `[registries."HOST"]`;
//! the same registry with `auth: token` behind a token server; and a forward CONNECT proxy.
//!
//! Hand-written stand-ins, named as such: `TokenServerStandIn` (the Docker token protocol:
//! it checks Basic credentials and the requested scope and signs RS256 JWTs the real registry
//! verifies) and `ConnectProxyStandIn` (a forward proxy that logs every CONNECT and resolves
//! the test's registry names itself, as a corporate proxy resolves names its clients cannot).
//!
//! Every registry here shares one storage directory with a plain-HTTP instance that crane
//! pushes to and the real `notation sign` signs through (crane and notation cannot present a
//! client certificate); the instances under test only serve what is already stored.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::daemon::direct_docker;
use common::*;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509, X509NameBuilder};

// ---------------------------------------------------------------------------------------------
// A test PKI, made with OpenSSL in the test.

struct Cert {
    cert: X509,
    key: PKey<Private>,
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

/// A CA, or (with `issuer`) a leaf for `sans` (`DNS:x`, `IP:x`), server or client.
fn make_cert(cn: &str, issuer: Option<&Cert>, sans: &[&str], client: bool) -> Cert {
    let key = rsa_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_u32())
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |i| i.cert.subject_name()))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match issuer {
        None => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        Some(i) => {
            let mut san = SubjectAlternativeName::new();
            for s in sans {
                match s.split_once(':') {
                    Some(("DNS", d)) => san.dns(d),
                    Some(("IP", ip)) => san.ip(ip),
                    _ => panic!("bad SAN {s}"),
                };
            }
            if !sans.is_empty() {
                let ext = san.build(&b.x509v3_context(Some(&i.cert), None)).unwrap();
                b.append_extension(ext).unwrap();
            }
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let mut eku = ExtendedKeyUsage::new();
            if client {
                eku.client_auth();
            } else {
                eku.server_auth();
            }
            b.append_extension(eku.build().unwrap()).unwrap();
        }
    }
    b.sign(issuer.map_or(&key, |i| &i.key), MessageDigest::sha256())
        .unwrap();
    Cert {
        cert: b.build(),
        key,
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u32::from_le_bytes(b) >> 1
}

fn pem(c: &Cert) -> Vec<u8> {
    c.cert.to_pem().unwrap()
}

/// The key as Docker users often have it: PKCS#1 `RSA PRIVATE KEY`.
fn pkcs1_key(c: &Cert) -> Vec<u8> {
    c.key.rsa().unwrap().private_key_to_pem().unwrap()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// Real docker-registry instances on one storage.

struct Registry {
    child: Child,
    host: String,
    log: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `extra` is YAML added under `http:` (tls) and at the top level (auth), given as
    /// (http_extra, top_extra). `probe` is the curl arguments that tell it is up.
    fn start(
        dir: &Path,
        name: &str,
        storage: &Path,
        http_extra: &str,
        top_extra: &str,
    ) -> Registry {
        Registry::start_on("127.0.0.1", dir, name, storage, http_extra, top_extra)
    }

    /// As `start`, listening on `ip` (a free port there).
    fn start_on(
        ip: &str,
        dir: &Path,
        name: &str,
        storage: &Path,
        http_extra: &str,
        top_extra: &str,
    ) -> Registry {
        let log = dir.join(format!("{name}.log"));
        for _ in 0..3 {
            let port = TcpListener::bind((ip, 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap_or_else(|e| panic!("cannot bind {ip}:0: {e}"));
            let host = format!("{ip}:{port}");
            let cfg = dir.join(format!("{name}.yml"));
            std::fs::write(
                &cfg,
                format!(
                    "version: 0.1\nlog: {{level: info}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {host}\n  secret: pullguard-tests\n{http_extra}{top_extra}",
                    storage.display()
                ),
            )
            .unwrap();
            let f = std::fs::File::create(&log).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(f.try_clone().unwrap())
                .stderr(f)
                .spawn()
                .expect("docker-registry (start the peers: scripts/peers-up.sh installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(&host).is_ok() {
                    up = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            if up {
                return Registry { child, host, log };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry {name} did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn port(&self) -> u16 {
        self.host.rsplit_once(':').unwrap().1.parse().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The plain instance, a signed image and an unsigned one in `repo`, and the policy dir
/// trusting the signer.
struct World {
    tmp: tempfile::TempDir,
    storage: PathBuf,
    _plain: Registry,
    policy_dir: PathBuf,
    repo: String,
    signed: String,
    unsigned: String,
}

impl World {
    fn new(name: &str, repo_prefix: &str) -> World {
        peers(); // the shared peers (and so the tools) must be there: fail, never skip
        let tmp = tempfile::tempdir().unwrap();
        let storage = tmp.path().join("storage");
        let plain = Registry::start(tmp.path(), "plain", &storage, "", "");
        let repo = format!("{repo_prefix}/{name}-{}", std::process::id());
        let work = tmp.path().join("img");
        std::fs::create_dir_all(&work).unwrap();
        let mut digests = Vec::new();
        for tag in ["signed", "unsigned"] {
            std::fs::write(work.join("file.txt"), format!("{name} {tag}")).unwrap();
            run_ok(
                Command::new("tar")
                    .current_dir(&work)
                    .args(["czf", "layer.tgz", "file.txt"]),
            );
            let r = format!("{}/{repo}:{tag}", plain.host);
            let crane = |args: &[&str]| {
                run_ok(
                    Command::new("crane")
                        .env("DOCKER_CONFIG", tmp.path().join("nowhere"))
                        .current_dir(&work)
                        .args(args),
                )
            };
            crane(&["append", "--insecure", "-f", "layer.tgz", "-t", &r]);
            digests.push(crane(&["digest", "--insecure", &r]).trim().to_string());
        }
        let home = tmp.path().join("notation-home");
        let notation = || {
            let mut c = Command::new("notation");
            c.env("XDG_CONFIG_HOME", &home);
            c
        };
        run_ok(notation().args(["cert", "generate-test", "--default", "pgtls.test"]));
        run_ok(notation().args([
            "sign",
            "--insecure-registry",
            &format!("{}/{repo}@{}", plain.host, digests[0]),
        ]));
        let policy_dir = home.join("notation");
        write_policy(&policy_dir, "strict", &["ca:pgtls.test"]);
        World {
            storage,
            _plain: plain,
            policy_dir,
            repo,
            signed: digests[0].clone(),
            unsigned: digests[1].clone(),
            tmp,
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    fn reference(&self, host: &str, digest: &str) -> String {
        format!("{host}/{}@{digest}", self.repo)
    }

    /// `pullguard verify` with `config` (TOML) and no ambient credentials or proxies.
    fn verify(&self, config: &str, reference: &str, env: &[(&str, &str)]) -> Output {
        let cfg = self.path(&format!("config-{}.toml", rand_u32()));
        std::fs::write(&cfg, config).unwrap();
        let mut c = pullguard();
        c.arg("verify")
            .arg("--config")
            .arg(&cfg)
            .arg("--policy-dir")
            .arg(&self.policy_dir)
            .args(["-v", reference])
            .env("DOCKER_CONFIG", self.path("nowhere"))
            .env("HOME", self.path("nowhere"))
            .env_remove("PULLGUARD_LOG")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        for k in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "NO_PROXY",
            "no_proxy",
            "REQUEST_METHOD",
        ] {
            c.env_remove(k);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    }
}

fn assert_allowed(out: &Output, digest: &str, logs: &str) {
    assert_eq!(
        exit_code(out),
        0,
        "expected allowed\nstdout: {}\nstderr: {}\nregistry: {logs}",
        stdout_of(out),
        stderr_of(out)
    );
    let so = stdout_of(out);
    assert!(
        so.contains("Successfully verified signature") && so.contains(digest),
        "{so}"
    );
}

/// No raw OpenSSL error text, and never twice the same sentence.
fn assert_clear(err: &str) {
    assert!(!err.contains("error:0A"), "raw OpenSSL error shown: {err}");
    assert!(!err.contains("statem"), "raw OpenSSL error shown: {err}");
}

/// A server cert for these names, signed by `ca`; the registry's `http.tls` YAML.
fn tls_yaml(dir: &Path, name: &str, ca: &Cert, sans: &[&str], client_ca: Option<&Cert>) -> String {
    let server = make_cert(name, Some(ca), sans, false);
    let crt = write(&dir.join(format!("{name}-server.crt")), &pem(&server));
    let key = write(
        &dir.join(format!("{name}-server.key")),
        &server.key.private_key_to_pem_pkcs8().unwrap(),
    );
    let mut y = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        crt.display(),
        key.display()
    );
    if let Some(cc) = client_ca {
        let p = write(&dir.join(format!("{name}-clientca.crt")), &pem(cc));
        y.push_str(&format!("    clientcas:\n      - {}\n", p.display()));
    }
    y
}

// ---------------------------------------------------------------------------------------------
// TLS

/// The client address of each of pullguard's requests in docker-registry's log (its logrus
/// line's `http.request.remoteaddr`): one per connection.
fn our_client_addrs(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("useragent=pullguard/"))
        .filter_map(|l| {
            l.split("http.request.remoteaddr=\"")
                .nth(1)?
                .split('"')
                .next()
        })
        .collect()
}

/// The protocol of each of pullguard's requests in docker-registry's log (its combined-format
/// line: `"GET /v2/... HTTP/2.0" 200 ... "pullguard/VERSION"`).
fn our_protocols(log: &str) -> Vec<&str> {
    let ua = concat!("\"pullguard/", env!("CARGO_PKG_VERSION"), "\"");
    log.lines()
        .filter(|l| l.ends_with(ua))
        .filter_map(|l| l.split('"').nth(1)?.rsplit(' ').next())
        .collect()
}

/// A stand-in for a TLS front that speaks HTTP/1.1 only (no ALPN, as a plain TLS terminator
/// or an old proxy): Python's `ssl` in front of the plain registry, byte for byte. Go's
/// registry cannot be made to stop offering h2 (with `GODEBUG=http2server=0` it still offers
/// it by ALPN and then cannot speak it).
const H1_TLS_FRONT: &str = r#"
import select, socket, ssl, sys, threading
cert, key, port_file, backend = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(64)
host, port = backend.rsplit(":", 1)
def pipe(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        b = socket.create_connection((host, int(port)))
    except Exception:
        c.close()
        return
    try:
        while True:
            r = [s] if s.pending() else select.select([s, b], [], [], 30)[0]
            if not r:
                return
            for x in r:
                d = x.recv(65536)
                if not d:
                    return
                (b if x is s else s).sendall(d)
    except Exception:
        pass
    finally:
        s.close()
        b.close()
open(port_file + ".tmp", "w").write(str(ls.getsockname()[1]))
import os; os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    threading.Thread(target=pipe, args=(c,), daemon=True).start()
"#;

/// A TLS registry that speaks HTTP/1.1 only: the first connection tells so, the requests held
/// for it go on connections of their own, and the verification is as usual.
#[test]
fn tls_registry_without_http2() {
    let w = World::new("tls", "h1");
    let ca = make_cert("pullguard test CA", None, &[], false);
    let server = make_cert("h1", Some(&ca), &["IP:127.0.0.1"], false);
    let crt = write(&w.path("h1/server.crt"), &pem(&server));
    let key = write(
        &w.path("h1/server.key"),
        &server.key.private_key_to_pem_pkcs8().unwrap(),
    );
    let port_file = w.path("h1/port");
    let mut front = Command::new("python3")
        .arg("-c")
        .arg(H1_TLS_FRONT)
        .args([&crt, &key, &port_file])
        .arg(&w._plain.host)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(&port_file) {
            break p;
        }
        assert!(Instant::now() < deadline, "the TLS front did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let host = format!("127.0.0.1:{port}");
    let certs_d = w.path("certs.d");
    write(&certs_d.join(&host).join("ca.crt"), &pem(&ca));
    let cfg_d = format!("docker_certs_dir = {:?}\n", certs_d.display().to_string());
    let before = w._plain.log().len();
    let out = w.verify(&cfg_d, &w.reference(&host, &w.signed), &[]);
    let log = w._plain.log()[before..].to_string();
    let _ = front.kill();
    let _ = front.wait();
    assert_allowed(&out, &w.signed, &log);
    let protocols = our_protocols(&log);
    assert!(protocols.len() >= 5, "{log}");
    assert!(protocols.iter().all(|p| *p == "HTTP/1.1"), "{log}");
    // The resolve, the Referrers API and the tag schema were in flight together: one
    // connection each once the first said HTTP/1.1 (the Referrers API's 404 names no client
    // in the log, so two at least are seen).
    let peers: BTreeSet<&str> = our_client_addrs(&log).into_iter().collect();
    assert!(peers.len() >= 2, "{peers:?}\n{log}");
}

#[test]
fn tls_private_ca_via_certs_d_and_config() {
    let w = World::new("tls", "tls");
    let ca = make_cert("pullguard test CA", None, &[], false);
    let other_ca = make_cert("some other CA", None, &[], false);
    let yaml = tls_yaml(
        w.tmp.path(),
        "tls",
        &ca,
        &["IP:127.0.0.1", "DNS:localhost"],
        None,
    );
    let reg = Registry::start(w.tmp.path(), "tls", &w.storage, &yaml, "");
    let signed = w.reference(&reg.host, &w.signed);
    let unsigned = w.reference(&reg.host, &w.unsigned);

    // It really serves TLS: plain HTTP is refused, curl with the CA gets /v2/.
    let ca_file = write(&w.path("ca/ca.pem"), &pem(&ca));
    run_ok(
        Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(&ca_file)
            .arg(format!("https://{}/v2/", reg.host)),
    );

    // 1. Not trusted (an empty certs.d root): denied with the clear error.
    let empty = w.path("certs-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cfg_empty = format!("docker_certs_dir = {:?}\n", empty.display().to_string());
    let out = w.verify(&cfg_empty, &signed, &[]);
    let want_dir = format!("{}/{}/ca.crt", empty.display(), reg.host);
    let err = assert_denied(
        &out,
        &[
            &format!(
                "TLS: the certificate of registry {} did not verify (unable to get local issuer certificate)",
                reg.host
            ),
            &want_dir,
            &format!("[registries.\"{}\"]", reg.host),
        ],
    );
    assert_clear(&err);

    // 2. Trusted through certs.d (ca.crt, as for dockerd): signed allowed, unsigned denied.
    let certs_d = w.path("certs.d");
    write(&certs_d.join(&reg.host).join("ca.crt"), &pem(&ca));
    let cfg_d = format!("docker_certs_dir = {:?}\n", certs_d.display().to_string());
    let before = reg.log().len();
    assert_allowed(&w.verify(&cfg_d, &signed, &[]), &w.signed, &reg.log());
    // HTTP/2, as the registry offers it: the whole verification (resolve, the Referrers API
    // and the tag schema at once, the signature manifest, its envelope) on one connection.
    let log = reg.log()[before..].to_string();
    let addrs = our_client_addrs(&log);
    let peers: BTreeSet<&str> = addrs.iter().copied().collect();
    // (docker-registry's line for a 404, the Referrers API's here, names no client.)
    assert!(addrs.len() >= 4, "{log}");
    assert_eq!(peers.len(), 1, "one connection: {peers:?}\n{log}");
    let protocols = our_protocols(&log);
    assert!(protocols.len() >= 5, "{log}");
    assert!(protocols.iter().all(|p| *p == "HTTP/2.0"), "{log}");
    assert_denied(&w.verify(&cfg_d, &unsigned, &[]), &["no signature"]);

    // 3. Trusted through the config's [registries] table (certs.d empty).
    let cfg_t = format!(
        "{cfg_empty}[registries.{:?}]\nca = {:?}\n",
        reg.host,
        ca_file.display().to_string()
    );
    assert_allowed(&w.verify(&cfg_t, &signed, &[]), &w.signed, &reg.log());
    assert_denied(&w.verify(&cfg_t, &unsigned, &[]), &["no signature"]);

    // 4. The wrong CA, in either place: denied with the clear error.
    let wrong = w.path("certs-wrong");
    write(&wrong.join(&reg.host).join("ca.crt"), &pem(&other_ca));
    let cfg_w = format!("docker_certs_dir = {:?}\n", wrong.display().to_string());
    let err = assert_denied(
        &w.verify(&cfg_w, &signed, &[]),
        &["did not verify", &reg.host],
    );
    assert_clear(&err);
    let other_file = write(&w.path("ca/other.pem"), &pem(&other_ca));
    let cfg_w2 = format!(
        "{cfg_empty}[registries.{:?}]\nca = {:?}\n",
        reg.host,
        other_file.display().to_string()
    );
    assert_clear(&assert_denied(
        &w.verify(&cfg_w2, &signed, &[]),
        &["did not verify"],
    ));

    // 5. `insecure = true`: TLS without verification (as Docker's insecure registries).
    let cfg_i = format!("{cfg_empty}[registries.{:?}]\ninsecure = true\n", reg.host);
    assert_allowed(&w.verify(&cfg_i, &signed, &[]), &w.signed, &reg.log());

    // 7. The system roots: looked up by subject hash in the certificate directory (the CA
    // as `HASH.0` there, as update-ca-certificates leaves /etc/ssl/certs), or read from the
    // bundle file named by SSL_CERT_FILE; a directory without hashed names is not searched.
    let hashed = w.path("sysroots-hashed");
    let out = run_ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-subject_hash", "-in"])
            .arg(&ca_file),
    );
    write(&hashed.join(format!("{}.0", out.trim())), &pem(&ca));
    let hashed_dir = hashed.display().to_string();
    assert_allowed(
        &w.verify(&cfg_empty, &signed, &[("SSL_CERT_DIR", &hashed_dir)]),
        &w.signed,
        &reg.log(),
    );
    let unhashed = w.path("sysroots-plain");
    let bundle = write(&unhashed.join("bundle.pem"), &pem(&ca));
    let unhashed_dir = unhashed.display().to_string();
    assert_clear(&assert_denied(
        &w.verify(&cfg_empty, &signed, &[("SSL_CERT_DIR", &unhashed_dir)]),
        &["did not verify (unable to get local issuer certificate)"],
    ));
    let bundle = bundle.display().to_string();
    assert_allowed(
        &w.verify(
            &cfg_empty,
            &signed,
            &[("SSL_CERT_DIR", &unhashed_dir), ("SSL_CERT_FILE", &bundle)],
        ),
        &w.signed,
        &reg.log(),
    );

    // 6. certs.d as dockerd reads it: a .cert without its .key is an error naming both.
    write(&certs_d.join(&reg.host).join("client.cert"), b"x");
    assert_denied(
        &w.verify(&cfg_d, &signed, &[]),
        &["missing key client.key for client certificate client.cert"],
    );
}

#[test]
fn tls_client_certificates() {
    let w = World::new("mtls", "mtls");
    let ca = make_cert("pullguard test CA", None, &[], false);
    let client_ca = make_cert("pullguard client CA", None, &[], false);
    let yaml = tls_yaml(
        w.tmp.path(),
        "mtls",
        &ca,
        &["IP:127.0.0.1"],
        Some(&client_ca),
    );
    let reg = Registry::start(w.tmp.path(), "mtls", &w.storage, &yaml, "");
    let signed = w.reference(&reg.host, &w.signed);
    let client = make_cert("pullguard client", Some(&client_ca), &[], true);
    let stranger_ca = make_cert("stranger CA", None, &[], false);
    let stranger = make_cert("stranger", Some(&stranger_ca), &[], true);

    // The CA is trusted, no client certificate: denied, the error says what is missing.
    let certs_d = w.path("certs.d");
    let dir = certs_d.join(&reg.host);
    write(&dir.join("ca.crt"), &pem(&ca));
    let cfg_d = format!("docker_certs_dir = {:?}\n", certs_d.display().to_string());
    let err = assert_denied(
        &w.verify(&cfg_d, &signed, &[]),
        &[
            &format!("TLS: registry {} refused the connection", reg.host),
            "requires a client certificate",
            &format!("{}/client.cert", dir.display()),
        ],
    );
    assert_clear(&err);

    // A client certificate from a CA the registry does not trust: denied too.
    write(&dir.join("client.cert"), &pem(&stranger));
    write(&dir.join("client.key"), &pkcs1_key(&stranger));
    assert_clear(&assert_denied(
        &w.verify(&cfg_d, &signed, &[]),
        &["requires a client certificate"],
    ));

    // The right pair in certs.d (PKCS#1 key, as Docker users have them): allowed.
    write(&dir.join("client.cert"), &pem(&client));
    write(&dir.join("client.key"), &pkcs1_key(&client));
    assert_allowed(&w.verify(&cfg_d, &signed, &[]), &w.signed, &reg.log());
    assert_denied(
        &w.verify(&cfg_d, &w.reference(&reg.host, &w.unsigned), &[]),
        &["no signature"],
    );

    // The same through the config table (certs.d off).
    let cert = write(&w.path("client/c.pem"), &pem(&client));
    let key = write(
        &w.path("client/k.pem"),
        &client.key.private_key_to_pem_pkcs8().unwrap(),
    );
    let ca_file = write(&w.path("client/ca.pem"), &pem(&ca));
    let cfg_t = format!(
        "docker_certs_dir = \"\"\n[registries.{:?}]\nca = {:?}\nclient_cert = {:?}\nclient_key = {:?}\n",
        reg.host,
        ca_file.display().to_string(),
        cert.display().to_string(),
        key.display().to_string()
    );
    assert_allowed(&w.verify(&cfg_t, &signed, &[]), &w.signed, &reg.log());

    // The daemon checks [registries] files at start: a missing key refuses to start.
    let broken = format!(
        "[registries.{:?}]\nclient_cert = {:?}\nclient_key = \"/nonexistent/k.pem\"\n",
        reg.host,
        cert.display().to_string()
    );
    let cfg_file = write(&w.path("broken.toml"), broken.as_bytes());
    let out = run(pullguard()
        .arg("serve")
        .arg("--config")
        .arg(&cfg_file)
        .arg("--policy-dir")
        .arg(&w.policy_dir)
        .arg("--control-listen")
        .arg(w.path("broken-control.sock"))
        .args(["--mirror-listen", "127.0.0.1:0"]));
    assert_eq!(exit_code(&out), 2, "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "[registries.\"{}\"] client_key: cannot read /nonexistent/k.pem",
            reg.host
        )),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// A forward CONNECT proxy (stand-in).

/// A forward proxy on loopback: CONNECT tunnels (and absolute-form plain HTTP), every request
/// logged as `CONNECT host:port` / `GET url` with whether Proxy-Authorization came. Names in
/// `names` resolve to the given address here (the proxy resolves, not the client).
struct ConnectProxyStandIn {
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxyStandIn {
    fn start(names: BTreeMap<String, String>) -> ConnectProxyStandIn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let (log, names) = (log2.clone(), names.clone());
                std::thread::spawn(move || proxy_conn(conn, &log, &names));
            }
        });
        ConnectProxyStandIn { addr, log }
    }

    fn seen(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn proxy_conn(conn: TcpStream, log: &Mutex<Vec<String>>, names: &BTreeMap<String, String>) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut auth = false;
    let mut head_lines = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("proxy-authorization:") {
            auth = true;
        } else if !lower.starts_with("connection:") && !lower.starts_with("proxy-connection:") {
            head_lines.push(h);
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    log.lock()
        .unwrap()
        .push(format!("{method} {target} auth={auth}"));
    if method != "CONNECT" {
        forward_plain(&conn, method, target, &head_lines, names);
        return;
    }
    let (host, port) = target.rsplit_once(':').unwrap_or((target, "443"));
    let upstream = match names.get(host) {
        Some(ip) => format!("{ip}:{port}"),
        None => target.to_string(),
    };
    let Ok(up) = TcpStream::connect(&upstream) else {
        let _ = (&conn).write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let _ = (&conn).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let buffered = r.buffer().to_vec();
    let (mut c2, mut u2) = (conn.try_clone().unwrap(), up.try_clone().unwrap());
    let _ = (&up).write_all(&buffered);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut u2, &mut c2);
        let _ = c2.shutdown(std::net::Shutdown::Write);
    });
    let mut conn = conn;
    let mut up = up;
    let _ = std::io::copy(&mut conn, &mut up);
    let _ = up.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// Plain HTTP through the proxy: an absolute-form GET sent on in origin form, one request per
/// connection (`Connection: close` both ways).
fn forward_plain(
    conn: &TcpStream,
    method: &str,
    target: &str,
    head_lines: &[String],
    names: &BTreeMap<String, String>,
) {
    let Some(rest) = target.strip_prefix("http://") else {
        let _ = (&*conn).write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
    let upstream = format!("{}:{port}", names.get(host).map_or(host, String::as_str));
    let Ok(mut up) = TcpStream::connect(&upstream) else {
        let _ = (&*conn).write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    for h in head_lines {
        req.push_str(h);
    }
    req.push_str("Connection: close\r\n\r\n");
    let _ = up.write_all(req.as_bytes());
    let mut answer = Vec::new();
    let _ = up.read_to_end(&mut answer);
    // Tell the client this connection ends here.
    if let Some(eol) = answer.windows(2).position(|w| w == b"\r\n") {
        answer.splice(eol + 2..eol + 2, b"Connection: close\r\n".iter().copied());
    }
    let _ = (&*conn).write_all(&answer);
    let _ = conn.shutdown(std::net::Shutdown::Both);
}

/// A name other than `localhost` that /etc/hosts maps to 127.0.0.1 (Go never proxies
/// `localhost` or loopback IPs, but it does proxy such a name): needed to show NO_PROXY. On a
/// host without one (this runs as root on a test machine) one is added: `pgproxy-alias.test`.
fn loopback_alias() -> String {
    const ADDED: &str = "pgproxy-alias.test";
    let find = || {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        hosts
            .lines()
            .filter_map(|l| {
                let mut f = l.split('#').next()?.split_whitespace();
                (f.next()? == "127.0.0.1").then(|| f.map(str::to_owned).collect::<Vec<_>>())
            })
            .flatten()
            .find(|n| !n.starts_with("localhost"))
    };
    if let Some(n) = find() {
        return n;
    }
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open("/etc/hosts")
        .expect("this test needs a name other than localhost for 127.0.0.1 in /etc/hosts, and cannot add one");
    writeln!(f, "127.0.0.1 {ADDED}").unwrap();
    find().expect("added a loopback name to /etc/hosts")
}

#[test]
fn https_proxy_connect_and_no_proxy() {
    let w = World::new("proxy", "proxy");
    let ca = make_cert("pullguard test CA", None, &[], false);
    let alias = loopback_alias();
    let far = "registry.pgproxy.test"; // resolvable only by the proxy
    let sans = [
        format!("DNS:{far}"),
        format!("DNS:{alias}"),
        "IP:127.0.0.1".into(),
    ];
    let sans: Vec<&str> = sans.iter().map(String::as_str).collect();
    let yaml = tls_yaml(w.tmp.path(), "proxied", &ca, &sans, None);
    let reg = Registry::start(w.tmp.path(), "proxied", &w.storage, &yaml, "");
    let port = reg.port();
    let proxy =
        ConnectProxyStandIn::start(BTreeMap::from([(far.to_string(), "127.0.0.1".to_string())]));
    let ca_file = write(&w.path("ca.pem"), &pem(&ca));
    let mut cfg = String::from("docker_certs_dir = \"\"\n");
    for h in [
        format!("{far}:{port}"),
        format!("{alias}:{port}"),
        reg.host.clone(),
    ] {
        cfg.push_str(&format!(
            "[registries.{h:?}]\nca = {:?}\n",
            ca_file.display().to_string()
        ));
    }
    let proxy_url = format!("http://pguser:Pr0xy-s3cret@{}", proxy.addr);

    // Through HTTPS_PROXY: every registry request is a CONNECT to the far name.
    let far_ref = format!("{far}:{port}/{}@{}", w.repo, w.signed);
    let out = w.verify(&cfg, &far_ref, &[("HTTPS_PROXY", &proxy_url)]);
    assert_allowed(&out, &w.signed, &reg.log());
    let all = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(
        !all.contains("Pr0xy-s3cret"),
        "proxy password printed: {all}"
    );
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "nothing went through the proxy");
    assert!(
        seen.iter()
            .all(|s| *s == format!("CONNECT {far}:{port} auth=true")),
        "{seen:?}"
    );
    // The registry saw the requests only from the proxy's tunnels: a direct connection to
    // the far name is impossible (it does not resolve here).
    let unsigned_far = format!("{far}:{port}/{}@{}", w.repo, w.unsigned);
    assert_denied(
        &w.verify(&cfg, &unsigned_far, &[("https_proxy", &proxy_url)]),
        &["no signature"],
    );
    let n = proxy.seen().len();
    assert!(n > seen.len(), "lower-case https_proxy not used");

    // The config's [proxy] replaces the environment (here: no env at all).
    let cfg_p = format!("{cfg}[proxy]\nhttps_proxy = {proxy_url:?}\n");
    assert_allowed(&w.verify(&cfg_p, &far_ref, &[]), &w.signed, &reg.log());
    assert!(proxy.seen().len() > n, "[proxy] https_proxy not used");

    // NO_PROXY: the alias (proxied by Go's rules otherwise) goes direct.
    let alias_ref = format!("{alias}:{port}/{}@{}", w.repo, w.signed);
    let before = proxy.seen().len();
    assert_allowed(
        &w.verify(
            &cfg,
            &alias_ref,
            &[
                ("HTTPS_PROXY", &proxy_url),
                ("NO_PROXY", &format!("example.com,{alias}")),
            ],
        ),
        &w.signed,
        &reg.log(),
    );
    assert_eq!(
        proxy.seen().len(),
        before,
        "NO_PROXY not honoured: {:?}",
        proxy.seen()
    );
    // Without NO_PROXY the alias is proxied (as Go does)...
    assert_allowed(
        &w.verify(&cfg, &alias_ref, &[("HTTPS_PROXY", &proxy_url)]),
        &w.signed,
        &reg.log(),
    );
    assert!(
        proxy.seen()[before..]
            .iter()
            .all(|s| *s == format!("CONNECT {alias}:{port} auth=true")),
        "{:?}",
        proxy.seen()
    );
    let before = proxy.seen().len();
    // ...and a loopback IP never is.
    let ip_ref = w.reference(&reg.host, &w.signed);
    assert_allowed(
        &w.verify(&cfg, &ip_ref, &[("HTTPS_PROXY", &proxy_url)]),
        &w.signed,
        &reg.log(),
    );
    assert_eq!(proxy.seen().len(), before, "loopback was proxied");

    // A proxy that is down: denied, naming the proxy without its password.
    let dead = format!("http://pguser:Pr0xy-s3cret@127.0.0.1:{}", free_port());
    let err = assert_denied(
        &w.verify(&cfg, &far_ref, &[("HTTPS_PROXY", &dead)]),
        &["cannot reach proxy http://***@127.0.0.1:"],
    );
    assert!(!err.contains("Pr0xy-s3cret"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Token auth behind a token server (stand-in).

const TOKEN_USER: &str = "pgtoken";

/// The Docker token protocol: `GET /token?service&scope[&offline_token&client_id]` with
/// optional Basic auth, `POST /token` with `grant_type=refresh_token`. Anonymous callers get
/// pull on `pub/*` only; `TOKEN_USER` with the password gets pull on everything. Tokens are
/// RS256 JWTs with an `x5c` header the registry checks against its `rootcertbundle`. Their
/// `exp` lies `valid_secs` ahead of the registry's 60 s leeway (so a short-lived token is
/// really refused by the registry after `valid_secs`), while `expires_in` says 60.
struct TokenServerStandIn {
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
    /// The User-Agent of each logged request, in the same order.
    agents: Arc<Mutex<Vec<String>>>,
    cert_file: PathBuf,
}

impl TokenServerStandIn {
    fn start(dir: &Path, password: &str, valid_secs: i64) -> TokenServerStandIn {
        let signer = make_cert("token signer", None, &[], false);
        let cert_file = write(&dir.join("token-signer.crt"), &pem(&signer));
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let agents = Arc::new(Mutex::new(Vec::new()));
        let (log2, agents2, password) = (log.clone(), agents.clone(), password.to_string());
        let signer = Arc::new(signer);
        std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                let (log, ag, pw, s) = (
                    log2.clone(),
                    agents2.clone(),
                    password.clone(),
                    signer.clone(),
                );
                std::thread::spawn(move || token_conn(conn, (&*log, &*ag), &pw, &s, valid_secs));
            }
        });
        TokenServerStandIn {
            addr,
            log,
            agents,
            cert_file,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The requests pullguard made (its User-Agent), not dockerd's.
    fn seen_from_pullguard(&self) -> Vec<String> {
        let (log, agents) = (self.log.lock().unwrap(), self.agents.lock().unwrap());
        log.iter()
            .zip(agents.iter())
            .filter(|(_, a)| a.starts_with("pullguard/"))
            .map(|(l, _)| l.clone())
            .collect()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

type Logs<'a> = (&'a Mutex<Vec<String>>, &'a Mutex<Vec<String>>);

fn token_conn(conn: TcpStream, logs: Logs, password: &str, signer: &Cert, valid: i64) {
    let (log, agents) = logs;
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let (mut basic, mut len, mut agent) = (None, 0usize, String::new());
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.to_ascii_lowercase().as_str() {
            "authorization" => basic = v.trim().strip_prefix("Basic ").map(str::to_owned),
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "user-agent" => agent = v.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0u8; len];
    let _ = r.read_exact(&mut body);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let query = if method == "POST" {
        String::from_utf8_lossy(&body).into_owned()
    } else {
        target.split_once('?').map_or("", |(_, q)| q).to_string()
    };
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), pct_decode(v)))
        .collect();
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let user = basic.and_then(|b| String::from_utf8(STANDARD.decode(b).ok()?).ok());
    let refresh_ok = get("grant_type") == "refresh_token"
        && get("refresh_token") == format!("refresh-for-{TOKEN_USER}");
    let who = match (&user, method) {
        (_, "POST") if refresh_ok => Some(TOKEN_USER),
        (_, "POST") => None,
        (Some(u), _) if *u == format!("{TOKEN_USER}:{password}") => Some(TOKEN_USER),
        (Some(_), _) => {
            log.lock()
                .unwrap()
                .push(format!("{method} bad-credentials scope={}", get("scope")));
            let _ = (&conn).write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        (None, _) => None,
    };
    let grant = if method == "POST" {
        "refresh"
    } else if who.is_some() {
        "basic"
    } else {
        "anonymous"
    };
    log.lock().unwrap().push(format!(
        "{method} {grant} service={} scope={} offline={}",
        get("service"),
        get("scope"),
        get("offline_token")
    ));
    agents.lock().unwrap().push(agent);
    if method == "POST" && !refresh_ok {
        let _ = (&conn).write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    // The scope the client asked for, granted as far as this caller may pull it.
    let mut access = Vec::new();
    for s in get("scope").split(' ') {
        let f: Vec<&str> = s.split(':').collect();
        if f.len() == 3
            && f[0] == "repository"
            && f[2].split(',').any(|a| a == "pull")
            && (who.is_some() || f[1].starts_with("pub/"))
        {
            {
                access.push(
                    serde_json::json!({"type": "repository", "name": f[1], "actions": ["pull"]}),
                );
            }
        }
    }
    let t = now();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [STANDARD.encode(signer.cert.to_der().unwrap())]});
    let claims = serde_json::json!({
        "iss": "pgtest-token-standin", "sub": who.unwrap_or(""), "aud": get("service"),
        "exp": t - 60 + valid, "nbf": t - 120, "iat": t - 120, "jti": format!("{}", rand_u32()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), &signer.key).unwrap();
    s.update(signing_input.as_bytes()).unwrap();
    let jwt = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(s.sign_to_vec().unwrap())
    );
    let mut answer = serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 60, "issued_at": "2026-01-01T00:00:00Z"});
    if who.is_some() && (get("offline_token") == "true" || method == "POST") {
        answer["refresh_token"] = serde_json::json!(format!("refresh-for-{TOKEN_USER}"));
    }
    let body = answer.to_string();
    let _ = (&conn).write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if b[i] == b'%'
            && let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct TokenWorld {
    pub_w: World,
    token: TokenServerStandIn,
    reg: Registry,
    password: String,
    priv_repo: String,
    priv_signed: String,
}

impl TokenWorld {
    fn new(name: &str, valid_secs: i64) -> TokenWorld {
        let pub_w = World::new(name, "pub");
        // A private repository in the same storage, signed by the same key.
        let priv_repo = format!("priv/{name}-{}", std::process::id());
        let plain = &pub_w._plain.host;
        let src = format!("{plain}/{}@{}", pub_w.repo, pub_w.signed);
        let dst = format!("{plain}/{priv_repo}:signed");
        run_ok(
            Command::new("crane")
                .env("DOCKER_CONFIG", pub_w.path("nowhere"))
                .args(["copy", "--insecure", &src, &dst]),
        );
        run_ok(
            Command::new("notation")
                .env("XDG_CONFIG_HOME", pub_w.path("notation-home"))
                .args([
                    "sign",
                    "--insecure-registry",
                    &format!("{plain}/{priv_repo}@{}", pub_w.signed),
                ]),
        );
        let password = format!("Tok-s3cret-{}", rand_u32());
        let token = TokenServerStandIn::start(pub_w.tmp.path(), &password, valid_secs);
        let top = format!(
            "auth:\n  token:\n    realm: http://{}/token\n    service: pgtest-registry\n    issuer: pgtest-token-standin\n    rootcertbundle: {}\n",
            token.addr,
            token.cert_file.display()
        );
        let reg = Registry::start(pub_w.tmp.path(), "token", &pub_w.storage, "", &top);
        TokenWorld {
            priv_signed: pub_w.signed.clone(),
            pub_w,
            token,
            reg,
            password,
            priv_repo,
        }
    }

    fn docker_config(&self, password: &str) -> PathBuf {
        let auth = STANDARD.encode(format!("{TOKEN_USER}:{password}"));
        write(
            &self.pub_w.path(&format!("dc-{}/config.json", rand_u32())),
            serde_json::json!({"auths": {self.reg.host.clone(): {"auth": auth}}})
                .to_string()
                .as_bytes(),
        )
    }

    fn config(&self, docker_config: Option<&Path>) -> String {
        let mut c = format!("insecure_registries = [{:?}]\n", self.reg.host);
        if let Some(d) = docker_config {
            c.push_str(&format!("docker_config = {:?}\n", d.display().to_string()));
        }
        c
    }
}

#[test]
fn token_auth_anonymous_and_with_credentials() {
    let t = TokenWorld::new("tok", 300);
    let w = &t.pub_w;
    // The registry really wants a token: /v2/ answers a Bearer challenge.
    let head = run_ok(Command::new("curl").args([
        "-s",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://{}/v2/", t.reg.host),
    ]));
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: bearer realm="),
        "{head}"
    );

    // Public repository, anonymous: allowed with exactly one token request.
    let out = w.verify(&t.config(None), &w.reference(&t.reg.host, &w.signed), &[]);
    assert_allowed(&out, &w.signed, &t.reg.log());
    let scope = format!("repository:{}:pull", w.repo);
    assert_eq!(
        t.token.seen(),
        vec![format!(
            "GET anonymous service=pgtest-registry scope={scope} offline="
        )]
    );
    assert_denied(
        &w.verify(&t.config(None), &w.reference(&t.reg.host, &w.unsigned), &[]),
        &["no signature"],
    );

    // Private repository: anonymous gets a token without access, so the registry refuses.
    let priv_ref = format!("{}/{}@{}", t.reg.host, t.priv_repo, t.priv_signed);
    assert_denied(&w.verify(&t.config(None), &priv_ref, &[]), &["401"]);

    // With config.json credentials: allowed, one token request (basic, offline token asked).
    let n = t.token.seen().len();
    let dc = t.docker_config(&t.password);
    let out = w.verify(&t.config(Some(&dc)), &priv_ref, &[]);
    assert_allowed(&out, &t.priv_signed, &t.reg.log());
    let all = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(!all.contains(&t.password), "password printed: {all}");
    let pscope = format!("repository:{}:pull", t.priv_repo);
    assert_eq!(
        t.token.seen()[n..].to_vec(),
        vec![format!(
            "GET basic service=pgtest-registry scope={pscope} offline=true"
        )]
    );

    // Wrong password: the token server refuses, so pullguard denies.
    let bad = t.docker_config("wrong-password");
    assert_denied(
        &w.verify(&t.config(Some(&bad)), &priv_ref, &[]),
        &["token endpoint answered 401"],
    );
}

#[test]
fn token_reused_in_the_daemon_and_refreshed_when_refused() {
    // Tokens the registry accepts for 4 s only (while they say expires_in 60).
    let t = TokenWorld::new("tokd", 4);
    let dc = t.docker_config(&t.password);
    let cfg = format!(
        "docker_config = {:?}\npositive_cache_secs = 0\nnegative_cache_secs = 0\n",
        dc.display().to_string()
    );
    let d = common::daemon::Daemon::start_with(
        &t.pub_w.policy_dir,
        "/nonexistent.sock",
        &t.reg.host,
        &cfg,
    );
    let priv_ref = format!("{}/{}@{}", t.reg.host, t.priv_repo, t.priv_signed);
    let verify = || run(d.ctl().args(["verify", &priv_ref]));
    let out = verify();
    assert_eq!(
        exit_code(&out),
        0,
        "{}\n{}\n{}",
        stdout_of(&out),
        stderr_of(&out),
        d.log()
    );
    let pscope = format!("repository:{}:pull", t.priv_repo);
    let first = vec![format!(
        "GET basic service=pgtest-registry scope={pscope} offline=true"
    )];
    assert_eq!(t.token.seen(), first, "one token request per verification");
    // Again at once: the cached token is reused (no token request at all).
    assert_eq!(exit_code(&verify()), 0, "{}", d.log());
    assert_eq!(t.token.seen(), first, "the token was not reused");

    // After the registry stops accepting it: refused once, refreshed with the refresh token.
    std::thread::sleep(Duration::from_secs(5));
    let out = verify();
    assert_eq!(exit_code(&out), 0, "{}\n{}", stderr_of(&out), d.log());
    let seen = t.token.seen();
    assert_eq!(
        seen[1..].to_vec(),
        vec![format!(
            "POST refresh service=pgtest-registry scope={pscope} offline="
        )],
        "{seen:?}"
    );
    // (Only a refusal makes pullguard ask before the 60 s it was told: the refresh proves it.)
}

#[test]
fn token_auth_with_x_registry_auth_through_the_docker_proxy() {
    let t = TokenWorld::new("tokx", 300);
    let p = peers();
    // pullguard itself has no credentials: only the client's X-Registry-Auth can open the repo.
    let empty = write(&t.pub_w.path("pg-docker/config.json"), b"{}");
    let cfg = format!(
        "docker_config = {:?}\npositive_cache_secs = 0\n",
        empty.display().to_string()
    );
    let d =
        common::daemon::Daemon::start_with(&t.pub_w.policy_dir, &p.docker_sock, &t.reg.host, &cfg);
    let priv_ref = format!("{}/{}@{}", t.reg.host, t.priv_repo, t.priv_signed);
    let client_cfg = t.docker_config(&t.password);
    let client_dir = client_cfg.parent().unwrap();
    let out = run(d
        .docker()
        .env("DOCKER_CONFIG", client_dir)
        .args(["pull", &priv_ref]));
    let pulled = out.status.success();
    let _ = run(direct_docker().args(["rmi", "-f", &priv_ref]));
    assert!(
        pulled,
        "{}\n{}\n{}",
        stdout_of(&out),
        stderr_of(&out),
        d.log()
    );
    let pscope = format!("repository:{}:pull", t.priv_repo);
    assert_eq!(
        t.token.seen_from_pullguard(),
        vec![format!(
            "GET basic service=pgtest-registry scope={pscope} offline=true"
        )],
        "pullguard's own token requests (all: {:?})",
        t.token.seen()
    );
    // Wrong credentials from the client: pullguard's token request is refused, the pull denied.
    let bad = t.docker_config("wrong-password");
    let out = run(d
        .docker()
        .env("DOCKER_CONFIG", bad.parent().unwrap())
        .args(["pull", &priv_ref]));
    let _ = run(direct_docker().args(["rmi", "-f", &priv_ref]));
    assert!(!out.status.success(), "pulled with a wrong password");
    let err = stderr_of(&out);
    assert!(err.contains("token endpoint answered 401"), "{err}");
    assert!(
        !err.contains(&t.password) && !d.log().contains(&t.password),
        "password leaked"
    );
}

// ---------------------------------------------------------------------------------------------
// The mirror to a TLS upstream, pulled through by the real containerd 1.6.

/// `pullguard serve` with the mirror on a free port; returns (child, its address, log path).
fn start_mirror(dir: &Path, policy_dir: &Path, config: &str) -> (Child, String, PathBuf) {
    let cfg = write(&dir.join("mirror.toml"), config.as_bytes());
    let log = dir.join("mirror-log.json");
    let mut child = pullguard()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .arg("--policy-dir")
        .arg(policy_dir)
        .arg("--control-listen")
        .arg(dir.join("mirror-control.sock"))
        .args(["--mirror-listen", "127.0.0.1:0", "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let addr = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|e| e["message"] == "mirror listening")
            .and_then(|e| e["addr"].as_str().map(str::to_owned));
        if let Some(a) = addr {
            return (child, a, log);
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("pullguard serve exited ({st}): {text}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mirror did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctr_pull_through_the_mirror_to_a_tls_upstream() {
    let w = World::new("mirror", "mirror");
    let p = peers();
    let ca = make_cert("pullguard test CA", None, &[], false);
    let yaml = tls_yaml(w.tmp.path(), "mtlsup", &ca, &["IP:127.0.0.1"], None);
    let reg = Registry::start(w.tmp.path(), "tlsup", &w.storage, &yaml, "");
    let ca_file = write(&w.path("up-ca.pem"), &pem(&ca));
    let cfg = format!(
        "docker_certs_dir = \"\"\n[mirror]\nupstreams = [{h:?}]\n[registries.{h:?}]\nca = {:?}\n",
        ca_file.display().to_string(),
        h = reg.host
    );
    let (mut child, addr, log) = start_mirror(w.tmp.path(), &w.policy_dir, &cfg);
    let hosts = w.path("hosts");
    write(
        &hosts.join(&reg.host).join("hosts.toml"),
        format!(
            "server = \"http://{addr}\"\n[host.\"http://{addr}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        )
        .as_bytes(),
    );
    let ctr = |args: &[&str]| {
        let mut c = Command::new("ctr");
        c.args(["--address", &p.containerd_sock]).args(args);
        run(&mut c)
    };
    let signed = format!("{}/{}:signed", reg.host, w.repo);
    let unsigned = format!("{}/{}:unsigned", reg.host, w.repo);
    let hosts_s = hosts.display().to_string();
    let ok = ctr(&["images", "pull", "--hosts-dir", &hosts_s, &signed]);
    let bad = ctr(&["images", "pull", "--hosts-dir", &hosts_s, &unsigned]);
    for r in [&signed, &unsigned] {
        let _ = ctr(&["images", "rm", "--sync", r]);
    }
    let mlog = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok.status.success(),
        "{}\n{mlog}\n{}",
        stderr_of(&ok),
        reg.log()
    );
    assert!(mlog.contains(&w.signed), "{mlog}");
    assert!(!bad.status.success(), "an unsigned image was pulled");
    let err = stderr_of(&bad);
    assert!(
        err.contains("pullguard: denied") && err.contains("no signature"),
        "{err}"
    );
    // The TLS instance (it speaks nothing else) served the mirror's requests, over HTTP/1.1
    // though it offers h2: the daemon does not offer h2 (its blob streams would share one
    // connection's flow-control window with the verifications).
    assert!(
        reg.log().contains(&format!("/v2/{}/manifests/", w.repo)),
        "{}",
        reg.log()
    );
    let log = reg.log();
    let protocols = our_protocols(&log);
    assert!(!protocols.is_empty(), "{log}");
    assert!(protocols.iter().all(|p| *p == "HTTP/1.1"), "{log}");
}

#[test]
fn http_proxy_for_plain_http_registries() {
    let w = World::new("hproxy", "hproxy");
    let far = "plain.pgproxy.test"; // resolvable only by the proxy
    let port = w._plain.port();
    let proxy =
        ConnectProxyStandIn::start(BTreeMap::from([(far.to_string(), "127.0.0.1".to_string())]));
    let host = format!("{far}:{port}");
    let cfg = format!("insecure_registries = [{host:?}]\n");
    let proxy_url = format!("http://pguser:Pr0xy-s3cret@{}", proxy.addr);
    let signed = format!("{host}/{}@{}", w.repo, w.signed);

    // HTTP_PROXY carries plain-HTTP registries, requests in absolute form with the credentials.
    let out = w.verify(&cfg, &signed, &[("HTTP_PROXY", &proxy_url)]);
    assert_allowed(&out, &w.signed, "");
    let all = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(
        !all.contains("Pr0xy-s3cret"),
        "proxy password printed: {all}"
    );
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "nothing went through the proxy");
    let prefix = format!("GET http://{host}/v2/{}/", w.repo);
    assert!(
        seen.iter()
            .all(|s| s.starts_with(&prefix) && s.ends_with(" auth=true")),
        "{seen:?}"
    );
    let unsigned = format!("{host}/{}@{}", w.repo, w.unsigned);
    assert_denied(
        &w.verify(&cfg, &unsigned, &[("http_proxy", &proxy_url)]),
        &["no signature"],
    );

    // Go's CGI rule: with REQUEST_METHOD set, HTTP_PROXY is refused (fail closed).
    let before = proxy.seen().len();
    let out = w.verify(
        &cfg,
        &signed,
        &[("HTTP_PROXY", &proxy_url), ("REQUEST_METHOD", "GET")],
    );
    assert_denied(
        &out,
        &["refusing to use HTTP_PROXY value in CGI environment"],
    );
    assert_eq!(proxy.seen().len(), before);
}

// ---------------------------------------------------------------------------------------------
// `docker pull` through the Docker proxy from a TLS registry with a private CA, the real dockerd
// trusting the same CA the Docker way.

/// This host's first IPv4 address that is not loopback. dockerd treats `127.0.0.0/8` and `::1`
/// as insecure registries whatever its flags (moby `loadInsecureRegistries` appends them), and
/// for an insecure registry it skips certificate verification and never reads certs.d
/// (`newTLSConfig`: `InsecureSkipVerify = !isSecure`). So a registry on 127.0.0.1 would prove
/// nothing about dockerd's trust; this address makes dockerd verify.
fn non_loopback_ipv4() -> String {
    let out = run_ok(Command::new("hostname").arg("-I"));
    out.split_whitespace()
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|a| !a.is_loopback() && !a.is_unspecified())
        .map(|a| a.to_string())
        .unwrap_or_else(|| {
            panic!("this host has no non-loopback IPv4 address (hostname -I: {out:?}); dockerd verifies TLS only for such a registry")
        })
}

/// `/etc/docker/certs.d/HOST:PORT/ca.crt`, the only place the rootful dockerd reads a
/// registry's CA from (moby `registry.CertsDir()`; no flag), made for this test's own registry
/// (a fresh port: no other test uses the name) and removed on drop.
struct DockerCertsD {
    dir: PathBuf,
}

impl DockerCertsD {
    fn install(host: &str, ca_pem: &[u8]) -> DockerCertsD {
        let dir = Path::new("/etc/docker/certs.d").join(host);
        assert!(
            !dir.exists(),
            "{} exists already: another run's leftover?",
            dir.display()
        );
        write(&dir.join("ca.crt"), ca_pem);
        DockerCertsD { dir }
    }
}

impl Drop for DockerCertsD {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn docker_pull_through_the_proxy_from_a_tls_registry_dockerd_trusts() {
    let w = World::new("dockertls", "dockertls");
    let p = peers();
    let ip = non_loopback_ipv4();
    let ca = make_cert("pullguard docker test CA", None, &[], false);
    let other_ca = make_cert("some other CA", None, &[], false);
    let yaml = tls_yaml(w.tmp.path(), "dtls", &ca, &[&format!("IP:{ip}")], None);
    let reg = Registry::start_on(&ip, w.tmp.path(), "dtls", &w.storage, &yaml, "");
    let signed = w.reference(&reg.host, &w.signed);
    let unsigned = w.reference(&reg.host, &w.unsigned);
    let rmi = |r: &str| {
        let _ = run(direct_docker().args(["rmi", "-f", r]));
    };

    // dockerd really verifies this registry: without certs.d it refuses the certificate.
    let out = run(direct_docker().args(["pull", &signed]));
    rmi(&signed);
    assert!(
        !out.status.success(),
        "dockerd pulled from a registry whose CA it does not know"
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("x509") || err.contains("certificate"),
        "dockerd failed for another reason: {err}"
    );

    // The Docker way: /etc/docker/certs.d/HOST:PORT/ca.crt. Now dockerd pulls straight.
    let _certs = DockerCertsD::install(&reg.host, &pem(&ca));
    let out = run(direct_docker().args(["pull", &signed]));
    rmi(&signed);
    assert!(
        out.status.success(),
        "dockerd with certs.d: {}\n{}",
        stderr_of(&out),
        reg.log()
    );

    // pullguard with its default certs.d root (the same /etc/docker/certs.d): signed pulled,
    // unsigned denied with pullguard's reason.
    let d = common::daemon::Daemon::start(&w.policy_dir, &p.docker_sock, &w._plain.host);
    let out = run(d.docker().args(["pull", &signed]));
    rmi(&signed);
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        stderr_of(&out),
        d.log(),
        reg.log()
    );
    assert!(
        d.decisions(&w.signed).iter().any(|(v, _)| v == "allowed"),
        "{}",
        d.log()
    );
    // pullguard's own requests reached the TLS instance (the only one on this address).
    assert!(
        reg.log().contains("pullguard/"),
        "no pullguard request in the TLS registry's log: {}",
        reg.log()
    );
    let out = run(d.docker().args(["pull", &unsigned]));
    rmi(&unsigned);
    assert!(!out.status.success(), "an unsigned image was pulled");
    let err = stderr_of(&out);
    assert!(
        err.contains("pullguard: denied") && err.contains("no signature"),
        "{err}"
    );
    drop(d);

    // A wrong CA for pullguard (its own certs.d root): denied with the clear error, although
    // dockerd trusts the registry.
    let wrong = w.path("wrong-certs.d");
    write(&wrong.join(&reg.host).join("ca.crt"), &pem(&other_ca));
    let cfg = format!("docker_certs_dir = {:?}\n", wrong.display().to_string());
    let d = common::daemon::Daemon::start_with(&w.policy_dir, &p.docker_sock, &w._plain.host, &cfg);
    let out = run(d.docker().args(["pull", &signed]));
    rmi(&signed);
    assert!(
        !out.status.success(),
        "pulled although pullguard's CA is wrong"
    );
    let err = stderr_of(&out);
    assert!(
        err.contains("pullguard: denied")
            && err.contains(&format!(
                "TLS: the certificate of registry {} did not verify",
                reg.host
            ))
            && err.contains(&format!("{}/ca.crt", wrong.join(&reg.host).display())),
        "{err}"
    );
    assert_clear(&err);
    let out = run(direct_docker().args(["pull", &signed]));
    rmi(&signed);
    assert!(
        out.status.success(),
        "dockerd no longer trusts the registry: {}",
        stderr_of(&out)
    );
}
