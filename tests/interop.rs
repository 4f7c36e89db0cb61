//! Interop with the real peers: images in the real registries (with and without the Referrers
//! API), signed by the real `notation sign` and by test-made envelopes, verified by both the real
//! `notation verify` and `pullguard verify`. The verdicts must agree, except the documented
//! divergences (unknown critical headers).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use openssl::nid::Nid;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A notation config dir with its own test key, and an image pushed for this test.
struct Fixture {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    registry: String,
    repo: String,
    digest: String,
}

impl Fixture {
    fn new(registry: &str, name: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("cfg");
        std::fs::create_dir_all(&home).unwrap();
        let f = Fixture {
            home,
            registry: registry.to_string(),
            repo: format!(
                "interop/{name}-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ),
            digest: String::new(),
            _tmp: tmp,
        };
        run_ok(
            f.notation()
                .args(["cert", "generate-test", "--default", "pullguard.test"]),
        );
        f.write_policy("strict", &["ca:pullguard.test"], "");
        let mut f = f;
        f.digest = f.push_image("1", name);
        f
    }

    fn dir(&self) -> PathBuf {
        self.home.join("notation")
    }

    /// Whether this is the TLS registry of `scripts/test-tls.sh` (trusted through
    /// `SSL_CERT_FILE`) rather than a plain-HTTP peer.
    fn tls(&self) -> bool {
        tls_registry().as_deref() == Some(self.registry.as_str())
    }

    /// notation's switch for this registry: `--insecure-registry` (plain HTTP), none over TLS.
    fn ir(&self) -> &'static [&'static str] {
        if self.tls() {
            &[]
        } else {
            &["--insecure-registry"]
        }
    }

    /// `ir()` followed by `rest`.
    fn with_ir<'a>(&self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v: Vec<&'a str> = self.ir().to_vec();
        v.extend_from_slice(rest);
        v
    }

    /// oras's switch for this registry: `--plain-http`, none over TLS.
    fn plain_http(&self) -> &'static [&'static str] {
        if self.tls() { &[] } else { &["--plain-http"] }
    }

    fn notation(&self) -> Command {
        let mut c = Command::new("notation");
        c.env("XDG_CONFIG_HOME", &self.home);
        c
    }

    fn write_policy(&self, level: &str, stores: &[&str], extra: &str) {
        let stores: Vec<String> = stores.iter().map(|s| format!("{s:?}")).collect();
        let p = format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"interop","registryScopes":["*"],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":[{}],"trustedIdentities":["*"]}}]}}"#,
            stores.join(",")
        );
        std::fs::create_dir_all(self.dir()).unwrap();
        std::fs::write(self.dir().join("trustpolicy.json"), p).unwrap();
    }

    /// Push a one-layer image with crane; returns its digest.
    fn push_image(&self, tag: &str, content: &str) -> String {
        let work = self.home.join(format!("img-{tag}"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("file.txt"), content).unwrap();
        run_ok(
            Command::new("tar")
                .current_dir(&work)
                .args(["czf", "layer.tgz", "file.txt"]),
        );
        let target = format!("{}/{}:{tag}", self.registry, self.repo);
        run_ok(Command::new("crane").current_dir(&work).args([
            "append",
            "--insecure",
            "-f",
            "layer.tgz",
            "-t",
            &target,
        ]));
        run_ok(Command::new("crane").args(["digest", "--insecure", &target]))
            .trim()
            .to_string()
    }

    fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.registry, self.repo, self.digest)
    }

    fn by_tag(&self, tag: &str) -> String {
        format!("{}/{}:{tag}", self.registry, self.repo)
    }

    fn notation_sign(&self, extra: &[&str]) {
        let mut c = self.notation();
        c.arg("sign")
            .args(self.ir())
            .args(extra)
            .arg(self.by_digest());
        run_ok(&mut c);
    }

    /// Attach a test-made envelope as a Notation signature with oras.
    fn attach(&self, envelope: &[u8], media_type: &str) {
        let file = if media_type == "application/cose" {
            "sig.cose"
        } else {
            "sig.jws"
        };
        let dir = self
            .home
            .join(format!("sig-{}", SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), envelope).unwrap();
        run_ok(
            Command::new("oras")
                .current_dir(&dir)
                .arg("attach")
                .args(self.plain_http())
                .args([
                    "--disable-path-validation",
                    "--artifact-type",
                    "application/vnd.cncf.notary.signature",
                    "--annotation",
                    "io.cncf.notary.x509chain.thumbprint#S256=[]",
                    &self.by_digest(),
                    &format!("{file}:{media_type}"),
                ]),
        );
    }

    /// (notation allowed?, pullguard allowed?, pullguard json outcome)
    fn verdicts(&self, reference: &str) -> (bool, bool, serde_json::Value) {
        let n = run(self.notation().arg("verify").args(self.ir()).arg(reference));
        let mut p = pullguard();
        p.args(["verify", "--policy-dir", self.dir().to_str().unwrap()]);
        if !self.tls() {
            p.args(["--insecure-registries", &self.registry]);
        }
        let p = run(p.args(["--output", "json", reference]));
        let code = p.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "pullguard exited {code:?}: {}",
            String::from_utf8_lossy(&p.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap_or_else(|e| {
            panic!(
                "pullguard printed no JSON ({e}): {}",
                String::from_utf8_lossy(&p.stdout)
            )
        });
        assert_eq!(json["allowed"].as_bool(), Some(code == Some(0)));
        (n.status.success(), p.status.success(), json)
    }

    fn assert_same(&self, reference: &str, expect_allowed: bool) -> serde_json::Value {
        let (n, p, json) = self.verdicts(reference);
        assert_eq!(n, expect_allowed, "notation verdict on {reference}");
        assert_eq!(
            p, expect_allowed,
            "pullguard verdict on {reference}: {json:#}"
        );
        json
    }

    fn payload(&self) -> Vec<u8> {
        let m = run_ok(Command::new("crane").args(["manifest", "--insecure", &self.by_digest()]));
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        payload(
            v["mediaType"].as_str().unwrap(),
            &self.digest,
            m.len() as i64,
        )
    }
}

fn both_registries() -> Vec<String> {
    let p = peers();
    vec![registry(), p.referrers_registry]
}

/// The registry (2.8, tag schema) most tests use: the TLS one when `scripts/test-tls.sh` runs
/// the set (`PG_TLS_REGISTRY`), else the plain-HTTP peer. Tests of the `--insecure-registry`
/// switch itself, and those driving a daemon or a plugin with it, keep the plain peer.
fn registry() -> String {
    tls_registry().unwrap_or_else(|| peers().registry)
}

#[test]
fn notation_signed_jws_and_cose_are_allowed_on_both_registries() {
    for reg in both_registries() {
        for format in ["jws", "cose"] {
            let f = Fixture::new(&reg, &format!("notation-{format}"));
            f.notation_sign(&["--signature-format", format]);
            let json = f.assert_same(&f.by_digest(), true);
            assert_eq!(json["policy"], "interop");
            assert_eq!(json["descriptor"]["digest"], f.digest);
            assert!(
                json["signature"]["signer"]
                    .as_str()
                    .unwrap()
                    .contains("pullguard.test")
            );
            // By tag too: resolved once, to the signed digest.
            f.assert_same(&f.by_tag("1"), true);
        }
    }
}

#[test]
fn unsigned_untrusted_and_moved_tags_are_denied() {
    for reg in both_registries() {
        let f = Fixture::new(&reg, "unsigned");
        let json = f.assert_same(&f.by_digest(), false);
        assert!(
            json["reason"]
                .as_str()
                .unwrap()
                .contains("no signature is associated"),
            "{json}"
        );

        // Signed, then the tag moves to unsigned content.
        f.notation_sign(&[]);
        f.assert_same(&f.by_tag("1"), true);
        f.push_image("1", "moved");
        let json = f.assert_same(&f.by_tag("1"), false);
        assert!(
            json["reason"].as_str().unwrap().contains("no signature"),
            "{json}"
        );

        // Signed only by a key the policy does not trust.
        let g = Fixture::new(&reg, "untrusted");
        run_ok(g.notation().args(["cert", "generate-test", "other.key"]));
        run_ok(
            g.notation()
                .arg("sign")
                .args(g.ir())
                .args(["--key", "other.key", &g.by_digest()]),
        );
        // The generated cert was added to trust store ca:other.key, which the policy does not name.
        let json = g.assert_same(&g.by_digest(), false);
        assert!(
            json["failed"][0]["error"]
                .as_str()
                .unwrap()
                .contains("does not contain any trusted certificate"),
            "{json}"
        );
        // Two signers, one trusted: allowed.
        g.notation_sign(&[]);
        g.assert_same(&g.by_digest(), true);
    }
}

/// Test-made envelopes with a PKI of our own in trust store ca:made.
fn made(reg: &str, name: &str, spec: KeySpec, opts: CertOpts) -> (Fixture, Pki) {
    let f = Fixture::new(reg, name);
    let pki = pki(spec, name, opts);
    pki.install_root(&f.dir(), "ca", "made");
    f.write_policy("strict", &["ca:made"], "");
    (f, pki)
}

#[test]
fn test_made_valid_envelopes_all_algorithms() {
    let reg = registry();
    for spec in [
        KeySpec::Rsa(2048),
        KeySpec::Rsa(3072),
        KeySpec::Rsa(4096),
        KeySpec::Ec(Nid::X9_62_PRIME256V1),
        KeySpec::Ec(Nid::SECP384R1),
        KeySpec::Ec(Nid::SECP521R1),
    ] {
        let (f, pki) = made(&reg, "alg", spec, CertOpts::default());
        let (alg, _, _) = alg_for(spec);
        let env = sign_jws(&pki, &protected_x509(alg, &rfc3339(0), None), &f.payload());
        f.attach(&env, "application/jose+json");
        let json = f.assert_same(&f.by_digest(), true);
        assert_eq!(
            json["signature"]["envelopeMediaType"],
            "application/jose+json"
        );
        // And as COSE.
        let (f, pki) = made(&reg, "alg-cose", spec, CertOpts::default());
        let env = sign_cose(&pki, &f.payload(), unix(0), Some(unix(30)));
        f.attach(&env, "application/cose");
        f.assert_same(&f.by_digest(), true);
    }
}

#[test]
fn test_made_bad_envelopes_are_denied_like_notation() {
    let reg = registry();
    let spec = KeySpec::Rsa(2048);

    // Expired signature: strict denies; permissive allows with a warning.
    let (f, pki) = made(&reg, "expired", spec, CertOpts::default());
    let env = sign_jws(
        &pki,
        &protected_x509("PS256", &rfc3339(-2), Some(&rfc3339(-1))),
        &f.payload(),
    );
    f.attach(&env, "application/jose+json");
    let json = f.assert_same(&f.by_digest(), false);
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("expiry validation failed"),
        "{json}"
    );
    f.write_policy("permissive", &["ca:made"], "");
    let json = f.assert_same(&f.by_digest(), true);
    let v = &json["signature"]["validations"];
    assert!(
        v.to_string().contains("digital signature has expired"),
        "{json}"
    );

    // Signed for another digest.
    let (f, pki) = made(&reg, "wrongdigest", spec, CertOpts::default());
    let other = payload(
        "application/vnd.oci.image.manifest.v1+json",
        &format!("sha256:{}", "0".repeat(64)),
        100,
    );
    f.attach(
        &sign_jws(&pki, &protected_x509("PS256", &rfc3339(0), None), &other),
        "application/jose+json",
    );
    let json = f.assert_same(&f.by_digest(), false);
    assert!(
        json.to_string().contains("content descriptor mismatch"),
        "{json}"
    );

    // Tampered payload after signing.
    let (f, pki) = made(&reg, "tampered", spec, CertOpts::default());
    let env = sign_jws(
        &pki,
        &protected_x509("PS256", &rfc3339(0), None),
        &f.payload(),
    );
    let mut v: serde_json::Value = serde_json::from_slice(&env).unwrap();
    let sig = v["signature"].as_str().unwrap().to_string();
    let first = if sig.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &sig[1..]);
    v["signature"] = flipped.into();
    f.attach(&serde_json::to_vec(&v).unwrap(), "application/jose+json");
    let json = f.assert_same(&f.by_digest(), false);
    assert!(
        json.to_string().contains("integrity validation failed"),
        "{json}"
    );

    // alg header that does not match the key (PS384 on RSA-2048).
    let (f, pki) = made(&reg, "wrongalg", spec, CertOpts::default());
    f.attach(
        &sign_jws(
            &pki,
            &protected_x509("PS384", &rfc3339(0), None),
            &f.payload(),
        ),
        "application/jose+json",
    );
    let json = f.assert_same(&f.by_digest(), false);
    assert!(
        json.to_string()
            .contains("mismatch between signature algorithm"),
        "{json}"
    );

    // Expired signing certificate, no timestamp: authenticTimestamp fails at strict.
    let (f, pki) = made(
        &reg,
        "expiredcert",
        spec,
        CertOpts {
            days_before: 10,
            days_after: -1,
        },
    );
    f.attach(
        &sign_jws(
            &pki,
            &protected_x509("PS256", &rfc3339(-5), None),
            &f.payload(),
        ),
        "application/jose+json",
    );
    let json = f.assert_same(&f.by_digest(), false);
    assert!(
        json.to_string()
            .contains("authenticTimestamp validation failed"),
        "{json}"
    );
    f.write_policy("audit", &["ca:made"], "");
    f.assert_same(&f.by_digest(), true);
}

#[test]
fn signing_authority_scheme() {
    let reg = registry();
    let f = Fixture::new(&reg, "sa");
    let pki = pki(KeySpec::Rsa(2048), "sa", CertOpts::default());
    pki.install_root(&f.dir(), "signingAuthority", "sa");
    f.write_policy("strict", &["signingAuthority:sa"], "");
    let protected = serde_json::json!({
        "alg": "PS256",
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime"],
        "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
        "io.cncf.notary.authenticSigningTime": rfc3339(0),
    });
    f.attach(
        &sign_jws(&pki, &protected, &f.payload()),
        "application/jose+json",
    );
    let json = f.assert_same(&f.by_digest(), true);
    assert_eq!(
        json["signature"]["signingScheme"],
        "notary.x509.signingAuthority"
    );
    // The same root in a ca store instead does not authenticate an SA signature.
    f.write_policy("strict", &["ca:sa2"], "");
    pki.install_root(&f.dir(), "ca", "sa2");
    f.assert_same(&f.by_digest(), false);
}

#[test]
fn unknown_critical_header_divergence() {
    // notation 1.3 accepts an unknown critical header when no plugin is named; RFC 7515 says a
    // recipient that does not understand a critical header must reject. pullguard rejects.
    let reg = registry();
    let (f, pki) = made(&reg, "crit", KeySpec::Rsa(2048), CertOpts::default());
    let mut protected = protected_x509("PS256", &rfc3339(0), None);
    protected["com.example.mustUnderstand"] = "x".into();
    protected["crit"] =
        serde_json::json!(["io.cncf.notary.signingScheme", "com.example.mustUnderstand"]);
    f.attach(
        &sign_jws(&pki, &protected, &f.payload()),
        "application/jose+json",
    );
    let (n, p, json) = f.verdicts(&f.by_digest());
    assert!(
        n,
        "notation 1.3 is expected to accept (if this fails, notation fixed it: update the docs)"
    );
    assert!(!p, "pullguard must reject: {json}");
    assert!(
        json.to_string().contains("com.example.mustUnderstand"),
        "{json}"
    );
}

#[test]
fn chain_with_intermediate_signed_by_real_notation() {
    let reg = registry();
    let f = Fixture::new(&reg, "intermediate");
    let (root, root_key) = {
        let p = pki(KeySpec::Rsa(2048), "chain", CertOpts::default());
        (p.root, p.root_key)
    };
    let (inter, inter_key) = issue_ca(&root, &root_key, "chain Intermediate");
    let leaf_pki = issue_leaf(&inter, &inter_key, "chain Leaf");
    // notation's local key: key file + cert chain file (leaf, intermediate, root).
    let keydir = f.home.join("chainkey");
    std::fs::create_dir_all(&keydir).unwrap();
    let key_path = keydir.join("leaf.key");
    let crt_path = keydir.join("leaf.crt");
    std::fs::write(&key_path, leaf_pki.1.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let mut chain = leaf_pki.0.to_pem().unwrap();
    chain.extend(inter.to_pem().unwrap());
    chain.extend(root.to_pem().unwrap());
    std::fs::write(&crt_path, chain).unwrap();
    let keys = serde_json::json!({"default": "chain", "keys": [
        {"name": "chain", "keyPath": key_path, "certPath": crt_path}]});
    std::fs::write(f.dir().join("signingkeys.json"), keys.to_string()).unwrap();
    let d = f.dir().join("truststore/x509/ca/chain");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("root.pem"), root.to_pem().unwrap()).unwrap();
    f.write_policy("strict", &["ca:chain"], "");
    f.notation_sign(&[]);
    let json = f.assert_same(&f.by_digest(), true);
    assert!(
        json["signature"]["signer"]
            .as_str()
            .unwrap()
            .contains("chain Leaf")
    );
    // Trusting only the intermediate works too (notation: any chain cert in the store).
    std::fs::write(d.join("root.pem"), inter.to_pem().unwrap()).unwrap();
    f.assert_same(&f.by_digest(), true);
}

fn issue_ca(
    root: &openssl::x509::X509,
    root_key: &openssl::pkey::PKey<openssl::pkey::Private>,
    cn: &str,
) -> (
    openssl::x509::X509,
    openssl::pkey::PKey<openssl::pkey::Private>,
) {
    issue(root, root_key, cn, true)
}

fn issue_leaf(
    ca: &openssl::x509::X509,
    ca_key: &openssl::pkey::PKey<openssl::pkey::Private>,
    cn: &str,
) -> (
    openssl::x509::X509,
    openssl::pkey::PKey<openssl::pkey::Private>,
) {
    issue(ca, ca_key, cn, false)
}

fn issue(
    issuer: &openssl::x509::X509,
    issuer_key: &openssl::pkey::PKey<openssl::pkey::Private>,
    cn: &str,
    ca: bool,
) -> (
    openssl::x509::X509,
    openssl::pkey::PKey<openssl::pkey::Private>,
) {
    use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
    let k = key(KeySpec::Rsa(2048));
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = openssl::bn::BigNum::from_u32(SEQ.fetch_add(1, Ordering::SeqCst) as u32 + 1000)
        .unwrap()
        .to_asn1_integer()
        .unwrap();
    b.set_serial_number(&serial).unwrap();
    let mut n = openssl::x509::X509NameBuilder::new().unwrap();
    for (k2, v) in [
        ("C", "US"),
        ("ST", "WA"),
        ("O", "pullguard-tests"),
        ("CN", cn),
    ] {
        n.append_entry_by_text(k2, v).unwrap();
    }
    b.set_subject_name(&n.build()).unwrap();
    b.set_issuer_name(issuer.subject_name()).unwrap();
    b.set_pubkey(&k).unwrap();
    b.set_not_before(issuer.not_before()).unwrap();
    b.set_not_after(issuer.not_after()).unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
            .unwrap();
    } else {
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .build()
                .unwrap(),
        )
        .unwrap();
        b.append_extension(ExtendedKeyUsage::new().code_signing().build().unwrap())
            .unwrap();
    }
    b.sign(issuer_key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    (b.build(), k)
}

#[test]
fn registry_down_or_hanging_is_a_clear_denial() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let pki = pki(KeySpec::Rsa(2048), "x", CertOpts::default());
    pki.install_root(dir, "ca", "x");
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let reference = format!("127.0.0.1:{port}/a/b:1");
    let out = run(pullguard().args([
        "verify",
        "--policy-dir",
        dir.to_str().unwrap(),
        "-v",
        "--insecure-registries",
        &format!("127.0.0.1:{port}"),
        &reference,
    ]));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("denied") && err.contains(&reference) && err.contains("cannot resolve"),
        "{err}"
    );

    // A fake registry that accepts and never answers (a fault the real registry cannot produce).
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hang.local_addr().unwrap().port();
    std::fs::write(dir.join("config.toml"), "registry_timeout_secs = 1\n").unwrap();
    let started = std::time::Instant::now();
    let out = run(pullguard().args([
        "verify",
        "--config",
        dir.join("config.toml").to_str().unwrap(),
        "--policy-dir",
        dir.to_str().unwrap(),
        "-v",
        "--insecure-registries",
        &format!("127.0.0.1:{port}"),
        &format!("127.0.0.1:{port}/a/b:1"),
    ]));
    drop(hang);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("denied"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Drop-in: envelopes crafted at the edges of the Go decoders, and every `notation verify` flag,
// through both CLIs.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Both CLIs on the same command line (pullguard gets `--policy-dir` in front).
struct Both {
    n: std::process::Output,
    p: std::process::Output,
}

impl Both {
    fn summary(&self) -> String {
        format!(
            "notation: exit {:?}\n  stdout: {}\n  stderr: {}\npullguard: exit {:?}\n  stdout: {}\n  stderr: {}",
            self.n.status.code(),
            String::from_utf8_lossy(&self.n.stdout),
            String::from_utf8_lossy(&self.n.stderr),
            self.p.status.code(),
            String::from_utf8_lossy(&self.p.stdout),
            String::from_utf8_lossy(&self.p.stderr)
        )
    }

    /// Same exit code and byte-identical stdout.
    fn assert_same(&self, what: &str) {
        assert_eq!(
            self.n.status.code(),
            self.p.status.code(),
            "{what}: exit codes differ\n{}",
            self.summary()
        );
        assert_eq!(
            String::from_utf8_lossy(&self.n.stdout),
            String::from_utf8_lossy(&self.p.stdout),
            "{what}: stdout differs\n{}",
            self.summary()
        );
    }
}

impl Fixture {
    fn both(&self, args: &[&str], env: &[(&str, &str)]) -> Both {
        let mut n = self.notation();
        n.arg("verify").args(args);
        let mut p = pullguard();
        p.env("XDG_CONFIG_HOME", &self.home)
            .arg("verify")
            .arg("--policy-dir")
            .arg(self.dir())
            .args(args)
            .env_remove("PULLGUARD_LOG");
        for (k, v) in env {
            n.env(k, v);
            p.env(k, v);
        }
        let both = Both {
            n: run(&mut n),
            p: run(&mut p),
        };
        exit_code(&both.p);
        both
    }

    fn payload_for(&self, digest: &str) -> Vec<u8> {
        let r = format!("{}/{}@{digest}", self.registry, self.repo);
        let m = run_ok(Command::new("crane").args(["manifest", "--insecure", &r]));
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        payload(v["mediaType"].as_str().unwrap(), digest, m.len() as i64)
    }

    fn attach_to(&self, digest: &str, envelope: &[u8], media_type: &str) {
        let saved = format!("{}/{}@{digest}", self.registry, self.repo);
        let file = if media_type == "application/cose" {
            "sig.cose"
        } else {
            "sig.jws"
        };
        let dir = self
            .home
            .join(format!("sig-{}", SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), envelope).unwrap();
        run_ok(
            Command::new("oras")
                .current_dir(&dir)
                .arg("attach")
                .args(self.plain_http())
                .args([
                    "--disable-path-validation",
                    "--artifact-type",
                    "application/vnd.cncf.notary.signature",
                    &saved,
                    &format!("{file}:{media_type}"),
                ]),
        );
    }
}

/// A flattened JWS over the exact segment strings given (so that a test can put newlines or
/// odd trailing bits into them); `header` is the unprotected header.
fn jws_from_segments(
    pki: &Pki,
    protected_seg: &str,
    payload_seg: &str,
    header: serde_json::Value,
) -> Vec<u8> {
    let sig = pki.raw_sign(format!("{protected_seg}.{payload_seg}").as_bytes(), false);
    serde_json::to_vec(&serde_json::json!({
        "payload": payload_seg,
        "protected": protected_seg,
        "header": header,
        "signature": URL_SAFE_NO_PAD.encode(sig),
    }))
    .unwrap()
}

fn x5c(pki: &Pki) -> Vec<String> {
    pki.chain()
        .iter()
        .map(|c| STANDARD.encode(c.to_der().unwrap()))
        .collect()
}

/// Set the unused low bits of the last base64 character (before any padding).
fn set_trailing_bits(b64: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const STD_ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let body = b64.trim_end_matches('=');
    let pad = b64.len() - body.len();
    let unused_bits = match body.len() % 4 {
        2 => 4,
        3 => 2,
        _ => return b64.to_string(),
    };
    let alpha = if b64.contains(['+', '/']) || pad > 0 {
        STD_ALPHA
    } else {
        ALPHA
    };
    let last = *body.as_bytes().last().unwrap();
    let idx = alpha.iter().position(|c| *c == last).unwrap();
    let tweaked = alpha[idx | ((1 << unused_bits) - 1)] as char;
    format!("{}{tweaked}{}", &body[..body.len() - 1], "=".repeat(pad))
}

/// A raw JSON protected header for the x509 scheme; `fields` is inserted verbatim.
fn raw_protected(alg: &str, fields: &str) -> String {
    format!(
        r#"{{"alg":"{alg}","cty":"application/vnd.cncf.notary.payload.v1+json","io.cncf.notary.signingScheme":"notary.x509"{fields}}}"#
    )
}

/// A COSE_Sign1 message from raw protected-header bytes and an unprotected header built by
/// `unprotected` (given the chain); `prefix` replaces the usual tag-18 + array(4) bytes.
fn cose_raw(pki: &Pki, protected: &[u8], payload: &[u8], unprotected: &[u8]) -> Vec<u8> {
    use ciborium::Value;
    let tbs = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut tbs_bytes = Vec::new();
    ciborium::into_writer(&tbs, &mut tbs_bytes).unwrap();
    let sig = pki.raw_sign(&tbs_bytes, true);
    let mut out = vec![0xd2, 0x84];
    let enc = |v: &Value| {
        let mut b = Vec::new();
        ciborium::into_writer(v, &mut b).unwrap();
        b
    };
    out.extend(enc(&Value::Bytes(protected.to_vec())));
    out.extend(unprotected);
    out.extend(enc(&Value::Bytes(payload.to_vec())));
    out.extend(enc(&Value::Bytes(sig)));
    out
}

fn cbor(v: &ciborium::Value) -> Vec<u8> {
    let mut b = Vec::new();
    ciborium::into_writer(v, &mut b).unwrap();
    b
}

fn cose_chain(pki: &Pki) -> ciborium::Value {
    ciborium::Value::Array(
        pki.chain()
            .iter()
            .map(|c| ciborium::Value::Bytes(c.to_der().unwrap()))
            .collect(),
    )
}

/// The usual protected-header pairs of a COSE x509 signature (alg, cty, scheme, signing time,
/// crit), for tests to edit.
fn cose_pairs(pki: &Pki, signing_time: i64) -> Vec<(ciborium::Value, ciborium::Value)> {
    use ciborium::Value;
    let (_, alg, _) = alg_for(pki.spec);
    vec![
        (Value::Integer(1.into()), Value::Integer(alg.into())),
        (
            Value::Integer(2.into()),
            Value::Array(vec![Value::Text("io.cncf.notary.signingScheme".into())]),
        ),
        (
            Value::Integer(3.into()),
            Value::Text("application/vnd.cncf.notary.payload.v1+json".into()),
        ),
        (
            Value::Text("io.cncf.notary.signingScheme".into()),
            Value::Text("notary.x509".into()),
        ),
        (
            Value::Text("io.cncf.notary.signingTime".into()),
            Value::Tag(1, Box::new(Value::Integer(signing_time.into()))),
        ),
    ]
}

#[test]
fn envelope_edge_cases_get_notations_verdict() {
    use ciborium::Value;
    let reg = registry();
    let (f, pki) = made(&reg, "edges", KeySpec::Rsa(2048), CertOpts::default());
    let now = time::OffsetDateTime::now_utc();
    let day = |d: i64| (now + time::Duration::days(d)).date();
    let date = day(-1).to_string();
    let ts = |rest: &str| format!("{date}T{rest}");
    let t0 = unix(-1);
    let unprot = |extra: Vec<(Value, Value)>| {
        let mut m = vec![(Value::Integer(33.into()), cose_chain(&pki))];
        m.extend(extra);
        cbor(&Value::Map(m))
    };

    type Build<'a> = Box<dyn Fn(&[u8]) -> (Vec<u8>, &'static str) + 'a>;
    let jws_time = |time: String| -> Build {
        let pki = &pki;
        Box::new(move |payload: &[u8]| {
            let p = raw_protected(
                "PS256",
                &format!(
                    r#","io.cncf.notary.signingTime":"{time}","crit":["io.cncf.notary.signingScheme"]"#
                ),
            );
            (
                jws_from_segments(
                    pki,
                    &URL_SAFE_NO_PAD.encode(p),
                    &URL_SAFE_NO_PAD.encode(payload),
                    serde_json::json!({"x5c": x5c(pki)}),
                ),
                "application/jose+json",
            )
        })
    };
    let jws_prot = |p: String| -> Build {
        let pki = &pki;
        Box::new(move |payload: &[u8]| {
            (
                jws_from_segments(
                    pki,
                    &URL_SAFE_NO_PAD.encode(&p),
                    &URL_SAFE_NO_PAD.encode(payload),
                    serde_json::json!({"x5c": x5c(pki)}),
                ),
                "application/jose+json",
            )
        })
    };
    let jws_raw = |fields: String| jws_prot(raw_protected("PS256", &fields));
    let good_time = ts("03:04:05Z");
    let crit_scheme = r#","crit":["io.cncf.notary.signingScheme"]"#;
    type Edit = Box<dyn Fn(&mut Vec<(Value, Value)>)>;
    let cose_with = |edit: Edit, unprotected: Vec<u8>| -> Build {
        let pki = &pki;
        Box::new(move |payload: &[u8]| {
            let mut pairs = cose_pairs(pki, t0);
            edit(&mut pairs);
            (
                cose_raw(pki, &cbor(&Value::Map(pairs)), payload, &unprotected),
                "application/cose",
            )
        })
    };

    // (case, expected notation verdict from the Go rules, envelope)
    let cases: Vec<(&str, bool, Build)> = vec![
        ("jws: baseline", true, jws_time(good_time.clone())),
        (
            "jws time: lowercase t",
            false,
            jws_time(format!("{date}t03:04:05Z")),
        ),
        ("jws time: lowercase z", false, jws_time(ts("03:04:05z"))),
        (
            "jws time: space separator",
            false,
            jws_time(format!("{date} 03:04:05Z")),
        ),
        (
            "jws time: comma fraction (Go's generic parser)",
            true,
            jws_time(ts("03:04:05,5Z")),
        ),
        (
            "jws time: one-digit hour (Go's generic parser)",
            true,
            jws_time(ts("3:04:05Z")),
        ),
        (
            "jws time: offset +24:00",
            true,
            jws_time(ts("03:04:05+24:00")),
        ),
        (
            "jws time: offset +25:00",
            false,
            jws_time(ts("03:04:05+25:00")),
        ),
        (
            "jws time: offset without colon",
            false,
            jws_time(ts("03:04:05+0100")),
        ),
        (
            "jws time: 12 fraction digits",
            true,
            jws_time(ts("03:04:05.123456789123Z")),
        ),
        ("jws time: no zone", false, jws_time(ts("03:04:05"))),
        (
            "jws time: JSON escape (Go parses the raw text)",
            false,
            jws_time(format!("\\u0032{}", &good_time[1..])),
        ),
        (
            "jws: \"Cty\" (Go matches struct fields case-insensitively)",
            true,
            jws_prot(
                raw_protected(
                    "PS256",
                    &format!(r#","io.cncf.notary.signingTime":"{good_time}"{crit_scheme}"#),
                )
                .replace("\"cty\"", "\"Cty\""),
            ),
        ),
        (
            "jws: \"IO.CNCF.NOTARY.SIGNINGTIME\"",
            true,
            jws_raw(format!(
                r#","IO.CNCF.NOTARY.SIGNINGTIME":"{good_time}"{crit_scheme}"#
            )),
        ),
        (
            "jws: duplicate signingScheme, the last one valid",
            true,
            jws_raw(format!(
                r#","io.cncf.notary.signingScheme":"bogus","io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"{good_time}"{crit_scheme}"#
            )),
        ),
        (
            "jws crit: signingTime marked critical (not allowed for JWS)",
            false,
            jws_raw(format!(
                r#","io.cncf.notary.signingTime":"{good_time}","crit":["io.cncf.notary.signingScheme","io.cncf.notary.signingTime"]"#
            )),
        ),
        (
            "jws crit: signingScheme twice",
            false,
            jws_raw(format!(
                r#","io.cncf.notary.signingTime":"{good_time}","crit":["io.cncf.notary.signingScheme","io.cncf.notary.signingScheme"]"#
            )),
        ),
        (
            "jws crit: empty",
            false,
            jws_raw(format!(
                r#","io.cncf.notary.signingTime":"{good_time}","crit":[]"#
            )),
        ),
        (
            "jws: zero expiry, not critical (Go: IsZero, ignored)",
            true,
            jws_raw(format!(
                r#","io.cncf.notary.signingTime":"{good_time}","io.cncf.notary.expiry":"0001-01-01T00:00:00Z"{crit_scheme}"#
            )),
        ),
        (
            "jws: expiry not marked critical",
            false,
            jws_raw(format!(
                r#","io.cncf.notary.signingTime":"{good_time}","io.cncf.notary.expiry":"{}T00:00:00Z"{crit_scheme}"#,
                day(30)
            )),
        ),
        ("jws: x5c with \\r\\n in the base64", true, {
            let pki = &pki;
            let good_time = good_time.clone();
            Box::new(move |payload: &[u8]| {
                let p = raw_protected(
                    "PS256",
                    &format!(r#","io.cncf.notary.signingTime":"{good_time}"{crit_scheme}"#),
                );
                let chain: Vec<String> = x5c(pki)
                    .into_iter()
                    .map(|c| format!("{}\r\n{}", &c[..64], &c[64..]))
                    .collect();
                (
                    jws_from_segments(
                        pki,
                        &URL_SAFE_NO_PAD.encode(p),
                        &URL_SAFE_NO_PAD.encode(payload),
                        serde_json::json!({ "x5c": chain }),
                    ),
                    "application/jose+json",
                )
            })
        }),
        ("jws: x5c with non-zero unused bits", true, {
            let pki = &pki;
            let good_time = good_time.clone();
            Box::new(move |payload: &[u8]| {
                let p = raw_protected(
                    "PS256",
                    &format!(r#","io.cncf.notary.signingTime":"{good_time}"{crit_scheme}"#),
                );
                let chain: Vec<String> = x5c(pki).iter().map(|c| set_trailing_bits(c)).collect();
                (
                    jws_from_segments(
                        pki,
                        &URL_SAFE_NO_PAD.encode(p),
                        &URL_SAFE_NO_PAD.encode(payload),
                        serde_json::json!({ "x5c": chain }),
                    ),
                    "application/jose+json",
                )
            })
        }),
        (
            "jws: segments with non-zero unused bits and a newline",
            true,
            {
                let pki = &pki;
                let good_time = good_time.clone();
                Box::new(move |payload: &[u8]| {
                    // Pad the header so that its base64url leaves unused bits.
                    let mut p = raw_protected(
                        "PS256",
                        &format!(r#","io.cncf.notary.signingTime":"{good_time}"{crit_scheme}"#),
                    );
                    while p.len().is_multiple_of(3) {
                        p.insert(1, ' ');
                    }
                    let prot = set_trailing_bits(&URL_SAFE_NO_PAD.encode(&p));
                    let mut pl = URL_SAFE_NO_PAD.encode(payload);
                    pl.insert(8, '\n');
                    (
                        jws_from_segments(pki, &prot, &pl, serde_json::json!({"x5c": x5c(pki)})),
                        "application/jose+json",
                    )
                })
            },
        ),
        (
            "cose: baseline",
            true,
            cose_with(Box::new(|_| {}), unprot(vec![])),
        ),
        (
            "cose: duplicate key in the protected header",
            false,
            cose_with(
                Box::new(|p| {
                    p.push((
                        Value::Integer(3.into()),
                        Value::Text("application/vnd.cncf.notary.payload.v1+json".into()),
                    ))
                }),
                unprot(vec![]),
            ),
        ),
        (
            "cose: duplicate key in the unprotected header",
            false,
            cose_with(
                Box::new(|_| {}),
                unprot(vec![
                    (
                        Value::Text("io.cncf.notary.signingAgent".into()),
                        Value::Text("a".into()),
                    ),
                    (
                        Value::Text("io.cncf.notary.signingAgent".into()),
                        Value::Text("b".into()),
                    ),
                ]),
            ),
        ),
        (
            "cose crit: signingTime marked critical (allowed for COSE)",
            true,
            cose_with(
                Box::new(|p| {
                    p[1].1 = Value::Array(vec![
                        Value::Text("io.cncf.notary.signingScheme".into()),
                        Value::Text("io.cncf.notary.signingTime".into()),
                    ])
                }),
                unprot(vec![]),
            ),
        ),
        (
            "cose crit: absent",
            false,
            cose_with(
                Box::new(|p| {
                    p.remove(1);
                }),
                unprot(vec![]),
            ),
        ),
        (
            "cose crit: empty",
            false,
            cose_with(Box::new(|p| p[1].1 = Value::Array(vec![])), unprot(vec![])),
        ),
        (
            "cose: authenticSigningTime beside signingTime for notary.x509 (not checked for COSE)",
            true,
            cose_with(
                Box::new(move |p| {
                    p.push((
                        Value::Text("io.cncf.notary.authenticSigningTime".into()),
                        Value::Tag(1, Box::new(Value::Integer(t0.into()))),
                    ))
                }),
                unprot(vec![]),
            ),
        ),
        (
            "cose: signing time without tag 1",
            false,
            cose_with(
                Box::new(move |p| p[4].1 = Value::Integer(t0.into())),
                unprot(vec![]),
            ),
        ),
        (
            "cose: a tag in the unprotected header",
            false,
            cose_with(
                Box::new(|_| {}),
                unprot(vec![(
                    Value::Text("io.cncf.notary.signingAgent".into()),
                    Value::Tag(32, Box::new(Value::Text("x".into()))),
                )]),
            ),
        ),
        ("cose: indefinite-length crit array", false, {
            let pki = &pki;
            let unprotected = unprot(vec![]);
            Box::new(move |payload: &[u8]| {
                let mut prot = cbor(&Value::Map(cose_pairs(pki, t0)));
                // crit is [tstr]: 0x81 -> 0x9f ... 0xff
                let crit_at = prot.windows(2).position(|w| w == [0x02, 0x81]).unwrap() + 1;
                prot[crit_at] = 0x9f;
                let end = crit_at + 1 + 1 + "io.cncf.notary.signingScheme".len();
                prot.insert(end, 0xff);
                (
                    cose_raw(pki, &prot, payload, &unprotected),
                    "application/cose",
                )
            })
        }),
        ("cose: indefinite-length unprotected map", false, {
            let pki = &pki;
            Box::new(move |payload: &[u8]| {
                let mut u = vec![0xbf];
                u.extend(cbor(&Value::Integer(33.into())));
                u.extend(cbor(&cose_chain(pki)));
                u.push(0xff);
                let prot = cbor(&Value::Map(cose_pairs(pki, t0)));
                (cose_raw(pki, &prot, payload, &u), "application/cose")
            })
        }),
        ("cose: trailing byte", false, {
            let pki = &pki;
            let unprotected = unprot(vec![]);
            Box::new(move |payload: &[u8]| {
                let prot = cbor(&Value::Map(cose_pairs(pki, t0)));
                let mut m = cose_raw(pki, &prot, payload, &unprotected);
                m.push(0x00);
                (m, "application/cose")
            })
        }),
        ("cose: tag 18 in two bytes", false, {
            let pki = &pki;
            let unprotected = unprot(vec![]);
            Box::new(move |payload: &[u8]| {
                let prot = cbor(&Value::Map(cose_pairs(pki, t0)));
                let m = cose_raw(pki, &prot, payload, &unprotected);
                let mut out = vec![0xd8, 0x12];
                out.extend(&m[1..]);
                (out, "application/cose")
            })
        }),
    ];

    let mut table =
        String::from("| case | expected (Go rules) | notation | pullguard |\n|---|---|---|---|\n");
    let mut mismatches = Vec::new();
    for (i, (name, expected, build)) in cases.iter().enumerate() {
        let digest = f.push_image(&format!("e{i}"), &format!("edge case {i}: {name}"));
        let (envelope, media_type) = build(&f.payload_for(&digest));
        f.attach_to(&digest, &envelope, media_type);
        let reference = format!("{}/{}@{digest}", f.registry, f.repo);
        let both = f.both(&f.with_ir(&[&reference]), &[]);
        let (n, p) = (both.n.status.success(), both.p.status.success());
        table.push_str(&format!("| {name} | {expected} | {n} | {p} |\n"));
        if n != *expected || p != n {
            mismatches.push(format!(
                "{name}: expected {expected}, notation {n}, pullguard {p}\n{}",
                both.summary()
            ));
        } else {
            both.assert_same(name);
        }
    }
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "{table}\n{}",
        mismatches.join("\n\n")
    );
}

/// The tag-schema referrers index of `digest` (registry 2.8 has no Referrers API), edited and
/// pushed back, so that a signature notation would stop on comes first.
impl Fixture {
    fn referrers_tag(&self, digest: &str) -> String {
        format!(
            "{}/{}:{}",
            self.registry,
            self.repo,
            digest.replace(':', "-")
        )
    }

    fn edit_referrers(&self, digest: &str, edit: impl Fn(&mut Vec<serde_json::Value>)) {
        let tag = self.referrers_tag(digest);
        let idx = run_ok(Command::new("crane").args(["manifest", "--insecure", &tag]));
        let mut v: serde_json::Value = serde_json::from_str(&idx).unwrap();
        let mut list = v["manifests"].as_array().cloned().unwrap_or_default();
        edit(&mut list);
        v["manifests"] = list.into();
        let file = self
            .home
            .join(format!("index-{}.json", SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&file, v.to_string()).unwrap();
        run_ok(
            Command::new("oras")
                .args(["manifest", "push"])
                .args(self.plain_http())
                .args([
                    "--media-type",
                    "application/vnd.oci.image.index.v1+json",
                    &tag,
                    file.to_str().unwrap(),
                ]),
        );
    }
}

#[test]
fn signature_discovery_stops_where_notation_stops() {
    // registry 2.8: the tag schema, whose index a test can rewrite.
    let reg = registry();
    let f = Fixture::new(&reg, "discovery");
    let sign = |digest: &str| {
        run_ok(
            f.notation()
                .arg("sign")
                .args(f.ir())
                .arg(format!("{}/{}@{digest}", f.registry, f.repo)),
        );
    };
    // (case, expected notation verdict, edit of the index whose only entry is a good signature)
    type Edit = Box<dyn Fn(&mut Vec<serde_json::Value>)>;
    let cases: Vec<(&str, bool, Edit)> = vec![
        ("unchanged", true, Box::new(|_| {})),
        (
            "an index-typed entry first",
            false,
            Box::new(move |l| {
                let mut bad = l[0].clone();
                bad["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
                l.insert(0, bad);
            }),
        ),
        (
            "an entry whose size is wrong, first",
            false,
            Box::new(move |l| {
                let mut bad = l[0].clone();
                bad["size"] = (bad["size"].as_i64().unwrap() + 1).into();
                l.insert(0, bad);
            }),
        ),
        (
            "an entry of another artifact type first (filtered out)",
            true,
            Box::new(move |l| {
                let mut other = l[0].clone();
                other["artifactType"] = "application/example".into();
                other["size"] = 1.into();
                l.insert(0, other);
            }),
        ),
        (
            "the good signature first, a broken entry after",
            true,
            Box::new(move |l| {
                let mut bad = l[0].clone();
                bad["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
                l.push(bad);
            }),
        ),
    ];
    let mut table =
        String::from("| index | expected | notation | pullguard |\n|---|---|---|---|\n");
    let mut mismatches = Vec::new();
    for (i, (name, expected, edit)) in cases.iter().enumerate() {
        let digest = f.push_image(&format!("d{i}"), &format!("discovery {i}"));
        sign(&digest);
        f.edit_referrers(&digest, edit);
        let reference = format!("{}/{}@{digest}", f.registry, f.repo);
        let both = f.both(&f.with_ir(&[&reference]), &[]);
        let (n, p) = (both.n.status.success(), both.p.status.success());
        table.push_str(&format!("| {name} | {expected} | {n} | {p} |\n"));
        if n != *expected || p != n {
            mismatches.push(format!("{name}: expected {expected}\n{}", both.summary()));
            continue;
        }
        both.assert_same(name);
        if !n {
            // Both stop with the retrieval error, not "all signatures failed".
            let err = String::from_utf8_lossy(&both.p.stderr);
            assert!(
                err.contains(
                    "Error: signature verification failed: unable to retrieve digital signature"
                ),
                "{name}: {}",
                both.summary()
            );
            assert!(
                String::from_utf8_lossy(&both.n.stderr).contains(
                    "Error: signature verification failed: unable to retrieve digital signature"
                ),
                "{name}: {}",
                both.summary()
            );
        }
    }
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "{table}\n{}",
        mismatches.join("\n\n")
    );

    // First in the index: an image manifest with two layers, listed as a signature (notation:
    // "exactly one signature envelope blob"), or a Docker manifest under an OCI media type
    // (oras-go: "mismatch response Content-Type"). Then a good signature.
    let docker_digest = f.digest.clone();
    let docker_size =
        run_ok(Command::new("crane").args(["manifest", "--insecure", &f.by_digest()])).len();
    let work = f.home.join("two-layers");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("a.txt"), "a").unwrap();
    std::fs::write(work.join("b.txt"), "b").unwrap();
    let two_layers = format!("{}/{}:two-layers", f.registry, f.repo);
    run_ok(
        Command::new("oras")
            .current_dir(&work)
            .arg("push")
            .args(f.plain_http())
            .args(["--disable-path-validation", &two_layers, "a.txt", "b.txt"]),
    );
    let m = run_ok(Command::new("crane").args(["manifest", "--insecure", &two_layers]));
    let two_digest = run_ok(Command::new("crane").args(["digest", "--insecure", &two_layers]))
        .trim()
        .to_string();
    for (name, bad_digest, bad_size, needle) in [
        (
            "two layers",
            two_digest.clone(),
            m.len(),
            "signature manifest requries exactly one signature envelope blob, got 2",
        ),
        (
            "a Docker manifest as OCI",
            docker_digest,
            docker_size,
            "mismatch response Content-Type \"application/vnd.docker.distribution.manifest.v2+json\": expect \"application/vnd.oci.image.manifest.v1+json\"",
        ),
    ] {
        let digest = f.push_image(&format!("first-{}", name.len()), name);
        sign(&digest);
        f.edit_referrers(&digest, |l| {
            let mut bad = l[0].clone();
            bad["digest"] = bad_digest.clone().into();
            bad["size"] = (bad_size as i64).into();
            l.insert(0, bad);
        });
        let reference = format!("{}/{}@{digest}", f.registry, f.repo);
        let both = f.both(&f.with_ir(&[&reference]), &[]);
        assert!(!both.n.status.success(), "{name}: {}", both.summary());
        both.assert_same(name);
        for out in [&both.n, &both.p] {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(needle),
                "{name}: {}",
                both.summary()
            );
        }
    }
}

#[test]
fn every_notation_verify_flag_works_the_same() {
    let reg = peers().registry;
    let f = Fixture::new(&reg, "flags");
    f.notation_sign(&["--user-metadata", "team=blue"]);
    let by_digest = f.by_digest();
    let by_tag = f.by_tag("1");
    let unsigned_digest = f.push_image("unsigned", "nobody signed this");
    let unsigned = format!("{}/{}@{unsigned_digest}", f.registry, f.repo);
    let no_tag = format!("{}/{}", f.registry, f.repo);
    let missing_tag = format!("{}/{}:no-such-tag", f.registry, f.repo);
    let ir = "--insecure-registry";
    let exp = [("NOTATION_EXPERIMENTAL", "1")];
    let creds = [
        ("NOTATION_USERNAME", "someone"),
        ("NOTATION_PASSWORD", "secret"),
    ];
    // (args, env, expected exit code)
    type Case<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)], i32);
    let cases: Vec<Case> = vec![
        (vec![ir, &by_digest], &[], 0),
        (vec![ir, &by_tag], &[], 0),
        (vec!["--insecure-registry=true", &by_digest], &[], 0),
        (vec![ir, &by_digest, "ignored-extra-argument"], &[], 0),
        (vec!["-d", ir, &by_digest], &[], 0),
        (vec!["--debug", ir, &by_digest], &[], 0),
        (vec!["-v", ir, &by_digest], &[], 0),
        (vec!["--verbose", ir, &by_tag], &[], 0),
        (
            vec!["--debug=false", "--verbose=false", ir, &by_digest],
            &[],
            0,
        ),
        (vec!["-m", "team=blue", ir, &by_digest], &[], 0),
        (vec!["--user-metadata", "team=blue", ir, &by_tag], &[], 0),
        (vec!["--user-metadata=team=blue", ir, &by_digest], &[], 0),
        (vec!["-m", "team=red", ir, &by_digest], &[], 1),
        (
            vec!["-m", "team=blue", "-m", "env=prod", ir, &by_digest],
            &[],
            1,
        ),
        (vec!["-m", "team", ir, &by_digest], &[], 1),
        (vec!["-m", "=blue", ir, &by_digest], &[], 1),
        (vec!["--plugin-config", "k=v", ir, &by_digest], &[], 0),
        (vec!["--plugin-config", "k", ir, &by_digest], &[], 1),
        (vec!["--max-signatures", "1", ir, &by_digest], &[], 0),
        (vec!["--max-signatures=0x10", ir, &by_digest], &[], 0),
        (vec!["--max-signatures", "0", ir, &by_digest], &[], 1),
        (vec!["--max-signatures=-1", ir, &by_digest], &[], 1),
        (vec!["--max-signatures", "x", ir, &by_digest], &[], 1),
        (
            vec!["-u", "someone", "-p", "secret", ir, &by_digest],
            &[],
            0,
        ),
        (
            vec!["--username=someone", "--password=secret", ir, &by_tag],
            &[],
            0,
        ),
        (vec![ir, &by_digest], &creds, 0),
        (vec!["--allow-referrers-api", ir, &by_digest], &exp, 0),
        (vec!["--scope", "local/x", ir, &by_digest], &exp, 1),
        (vec!["--scope", "local/x", ir, &by_digest], &[], 1),
        (vec!["--oci-layout", "./nowhere:1"], &exp, 1),
        (vec!["--no-such-flag", ir, &by_digest], &[], 1),
        (vec!["-x", ir, &by_digest], &[], 1),
        (vec![], &[], 1),
        (vec![ir, &no_tag], &[], 1),
        (vec![ir, "not-a-reference"], &[], 1),
        (vec![ir, &unsigned], &[], 1),
        (vec![ir, &missing_tag], &[], 1),
        // Plain HTTP registry without the switch: both fail to reach it over TLS.
        (vec![&by_digest], &[], 1),
    ];
    let mut table = String::from(
        "| arguments | env | exit notation | exit pullguard | stdout equal |\n|---|---|---|---|---|\n",
    );
    for (args, env, want) in &cases {
        let both = f.both(args, env);
        let what = format!("{args:?} {env:?}");
        let equal = both.n.stdout == both.p.stdout;
        table.push_str(&format!(
            "| `{}` | {} | {:?} | {:?} | {equal} |\n",
            args.join(" "),
            env.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(" "),
            both.n.status.code(),
            both.p.status.code()
        ));
        both.assert_same(&what);
        assert_eq!(
            both.n.status.code(),
            Some(*want),
            "{what}\n{}",
            both.summary()
        );
    }
    // --oci-layout with --scope, on a layout signed by `notation sign --oci-layout`.
    let layout = f.home.join("layout");
    run_ok(Command::new("oras").args([
        "cp",
        "--from-plain-http",
        &by_tag,
        "--to-oci-layout",
        &format!("{}:v1", layout.display()),
    ]));
    let at_digest = format!("{}@{}", layout.display(), f.digest);
    run_ok(f.notation().env("NOTATION_EXPERIMENTAL", "1").args([
        "sign",
        "--oci-layout",
        &at_digest,
    ]));
    let at_tag = format!("{}:v1", layout.display());
    for (args, want) in [
        (
            vec!["--oci-layout", "--scope", "local/app", at_tag.as_str()],
            0,
        ),
        (
            vec!["--oci-layout", "--scope=local/app", at_digest.as_str()],
            0,
        ),
        (vec!["--oci-layout", at_tag.as_str()], 1),
    ] {
        let both = f.both(&args, &exp);
        let what = format!("{args:?}");
        table.push_str(&format!(
            "| `{}` | NOTATION_EXPERIMENTAL | {:?} | {:?} | {} |\n",
            args.join(" "),
            both.n.status.code(),
            both.p.status.code(),
            both.n.stdout == both.p.stdout
        ));
        both.assert_same(&what);
        assert_eq!(
            both.n.status.code(),
            Some(want),
            "{what}\n{}",
            both.summary()
        );
    }
    println!("{table}");
    // NOTATION_CONFIG names the config dir for both (no --policy-dir).
    let nowhere = f.home.join("nowhere");
    let n = run(Command::new("notation")
        .args(["verify", ir, &by_digest])
        .env("XDG_CONFIG_HOME", &nowhere)
        .env("NOTATION_CONFIG", f.dir()));
    let p = run(pullguard()
        .args(["verify", ir, &by_digest])
        .env("XDG_CONFIG_HOME", &nowhere)
        .env("NOTATION_CONFIG", f.dir()));
    let both = Both { n, p };
    both.assert_same("NOTATION_CONFIG");
    assert_eq!(both.p.status.code(), Some(0), "{}", both.summary());
    // The user metadata table is on stdout, as notation prints it.
    let both = f.both(&[ir, &by_digest], &[]);
    let out = String::from_utf8_lossy(&both.p.stdout);
    assert!(out.contains("team") && out.contains("blue"), "{out}");
    // Plain HTTP without the switch: notation's words, and the flag named.
    let err = String::from_utf8_lossy(&f.both(&[&by_digest], &[]).p.stderr).to_string();
    assert!(
        err.contains("http: server gave HTTP response to HTTPS client")
            && err.contains("--insecure-registry"),
        "{err}"
    );
}

#[test]
fn scope_without_oci_layout_cannot_pick_a_skip_policy() {
    // Security regression: `--scope` once replaced the registry scope the policy is chosen
    // by, so that a `skip` statement for another scope let an unsigned registry image through.
    let reg = peers().registry;
    let f = Fixture::new(&reg, "scope");
    let policy = r#"{"version":"1.0","trustPolicies":[
        {"name":"dev","registryScopes":["local/dev"],"signatureVerification":{"level":"skip"}},
        {"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.test"],"trustedIdentities":["*"]}]}"#;
    std::fs::write(f.dir().join("trustpolicy.json"), policy).unwrap();
    let unsigned = f.by_digest();
    let exp = [("NOTATION_EXPERIMENTAL", "1")];
    for args in [
        vec!["--scope", "local/dev", "--insecure-registry", &unsigned],
        vec!["--scope=local/dev", "--insecure-registry", &unsigned],
    ] {
        let both = f.both(&args, &exp);
        both.assert_same(&format!("{args:?}"));
        assert_eq!(both.p.status.code(), Some(1), "{}", both.summary());
        let err = String::from_utf8_lossy(&both.p.stderr);
        assert!(
            err.contains(
                "Error: if any flags in the group [oci-layout scope] are set they must all be set; missing [oci-layout]"
            ),
            "{err}"
        );
    }
    // And a skip statement for the registry scope itself prints notation's line.
    let policy = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"skip","registryScopes":["{}/{}"],"signatureVerification":{{"level":"skip"}}}}]}}"#,
        f.registry, f.repo
    );
    std::fs::write(f.dir().join("trustpolicy.json"), policy).unwrap();
    let both = f.both(&["--insecure-registry", &unsigned], &[]);
    both.assert_same("skip");
    assert_eq!(both.p.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&both.p.stdout)
            .starts_with("Trust policy is configured to skip signature verification for"),
        "{}",
        both.summary()
    );
}

#[test]
fn only_trustpolicy_json_is_read_by_verify_and_the_daemon_as_by_notation() {
    // notation 1.3 reads trustpolicy.json only. With a trustpolicy.oci.json beside it that
    // would skip verification, an unsigned image is still denied by all three, and pullguard
    // says loudly that the other file is ignored.
    let p = peers();
    let f = Fixture::new(&p.registry, "policyfile");
    let skip_all = r#"{"version":"1.0","trustPolicies":[{"name":"skip-all","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}"#;
    std::fs::write(f.dir().join("trustpolicy.oci.json"), skip_all).unwrap();
    let unsigned = f.by_digest();
    let both = f.both(&["--insecure-registry", &unsigned], &[]);
    both.assert_same("trustpolicy.oci.json beside trustpolicy.json");
    assert_eq!(both.p.status.code(), Some(1), "{}", both.summary());
    assert!(
        String::from_utf8_lossy(&both.p.stderr).contains("Warning: ")
            && String::from_utf8_lossy(&both.p.stderr).contains("trustpolicy.oci.json is ignored"),
        "{}",
        both.summary()
    );
    let check =
        run(pullguard().args(["policy", "check", "--policy-dir", f.dir().to_str().unwrap()]));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("trustpolicy.oci.json is ignored"),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );

    // The daemon: same file, same verdict, the same warning in its log.
    let d = common::daemon::Daemon::start(&f.dir(), &p.docker_sock, &f.registry);
    let out = run(d.ctl().args(["verify", &unsigned]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        d.log().contains("trustpolicy.oci.json is ignored"),
        "{}",
        d.log()
    );

    // Only trustpolicy.oci.json: "not present" for all, and pullguard names the ignored file.
    std::fs::remove_file(f.dir().join("trustpolicy.json")).unwrap();
    let both = f.both(&["--insecure-registry", &unsigned], &[]);
    both.assert_same("only trustpolicy.oci.json");
    let err = String::from_utf8_lossy(&both.p.stderr);
    assert!(
        err.contains("Error: trust policy is not present")
            && err.contains("trustpolicy.oci.json is ignored"),
        "{}",
        both.summary()
    );
}

#[test]
fn verification_plugins_run_as_notation_runs_them() {
    // Within 2 s, the process `pid` is gone (or a zombie: killed, not yet reaped).
    fn gone(pid: &str) -> bool {
        let stat = format!("/proc/{}/stat", pid.trim());
        (0..40).any(|_| {
            let alive = std::fs::read_to_string(&stat)
                .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')));
            if alive {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            !alive
        })
    }
    // A signature that names the test plugin `pgtest` (tests/data/notation-pgtest, a script)
    // and an extended attribute the plugin must process; both CLIs run the installed plugin.
    let reg = peers().registry;
    let (f, pki) = made(&reg, "plugin", KeySpec::Rsa(2048), CertOpts::default());
    let plugin_dir = f.dir().join("plugins/pgtest");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    let exe = plugin_dir.join("notation-pgtest");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/notation-pgtest"),
        &exe,
    )
    .unwrap();
    let mut protected = protected_x509("PS256", &rfc3339(0), None);
    protected["io.cncf.notary.verificationPlugin"] = "pgtest".into();
    protected["io.cncf.notary.verificationPluginMinVersion"] = "1.0.0".into();
    protected["com.example.reviewed"] = "yes".into();
    protected["crit"] = serde_json::json!([
        "io.cncf.notary.signingScheme",
        "io.cncf.notary.verificationPlugin",
        "io.cncf.notary.verificationPluginMinVersion",
        "com.example.reviewed"
    ]);
    f.attach(
        &sign_jws(&pki, &protected, &f.payload()),
        "application/jose+json",
    );
    let reference = f.by_digest();
    let set_mode = |m: &str| std::fs::write(plugin_dir.join("mode"), m).unwrap();
    let mut table = String::from("| plugin behaviour | notation | pullguard |\n|---|---|---|\n");
    for (mode, allowed) in [
        ("ok", true),
        ("identity-fail", false),
        ("revocation-fail", false),
        ("old", false),
        ("crash-metadata", false),
        ("crash", false),
        ("garbage", false),
        ("error", false),
        ("unprocessed", false),
        ("missing-result", false),
    ] {
        set_mode(mode);
        let both = f.both(&["--insecure-registry", &reference], &[]);
        table.push_str(&format!(
            "| {mode} | {} | {} |\n",
            both.n.status.success(),
            both.p.status.success()
        ));
        assert_eq!(
            both.n.status.success(),
            allowed,
            "{mode}: notation\n{}",
            both.summary()
        );
        both.assert_same(mode);
        if !allowed {
            // pullguard's reason is the plugin's, not something incidental.
            let v = run(pullguard().args([
                "verify",
                "-o",
                "json",
                "--policy-dir",
                f.dir().to_str().unwrap(),
                "--insecure-registry",
                &reference,
            ]));
            let json = String::from_utf8_lossy(&v.stdout);
            assert!(json.contains("plugin"), "{mode}: {json}");
        }
    }
    let calls = std::fs::read_to_string(plugin_dir.join("calls.log")).unwrap();
    assert!(
        calls.contains("get-plugin-metadata") && calls.contains("verify-signature"),
        "{calls}"
    );
    // --plugin-config reaches the plugin as it is.
    set_mode("ok");
    let both = f.both(
        &[
            "--plugin-config",
            "region=eu",
            "--insecure-registry",
            &reference,
        ],
        &[],
    );
    both.assert_same("plugin-config");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(plugin_dir.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg, serde_json::json!({"region": "eu"}));
    // Revocation skipped by the policy: the plugin is not asked for it, so a plugin that would
    // report a revocation passes.
    f.write_policy(
        "strict",
        &["ca:made"],
        r#","override":{"revocation":"skip"}"#,
    );
    set_mode("revocation-fail");
    let both = f.both(&["--insecure-registry", &reference], &[]);
    both.assert_same("revocation skipped");
    assert!(both.p.status.success(), "{}", both.summary());
    f.write_policy("strict", &["ca:made"], "");
    // A plugin that hangs: pullguard denies within its deadline (notation waits for ever; it
    // is given 10 s here and killed).
    set_mode("hang");
    let started = std::time::Instant::now();
    let out = run(pullguard().args([
        "verify",
        "--policy-dir",
        f.dir().to_str().unwrap(),
        "--plugin-timeout",
        "2",
        "--insecure-registry",
        &reference,
    ]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    let n = run(Command::new("timeout")
        .args([
            "10",
            "notation",
            "verify",
            "--insecure-registry",
            &reference,
        ])
        .env("XDG_CONFIG_HOME", &f.home));
    assert!(!n.status.success());
    table.push_str("| hang | killed after 10 s (no verdict) | denied after the 2 s deadline |\n");
    // A plugin that leaves a child behind holding its output pipes: the verdict does not wait
    // for the child, and the child does not outlive the run (pullguard kills the plugin's
    // process group). notation kills only the plugin, and waits for the pipes to close.
    for (mode, allowed) in [("fork-ok", true), ("fork-hang", false)] {
        set_mode(mode);
        let pid_file = plugin_dir.join("child.pid");
        let _ = std::fs::remove_file(&pid_file);
        let started = std::time::Instant::now();
        let out = run(pullguard().args([
            "verify",
            "--policy-dir",
            f.dir().to_str().unwrap(),
            "--plugin-timeout",
            "4",
            "--insecure-registry",
            &reference,
        ]));
        assert_eq!(
            out.status.success(),
            allowed,
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if allowed {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "{mode}: waited for the child"
            );
        }
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(
            gone(&pid),
            "{mode}: the plugin's child {pid} outlived the run"
        );
    }
    table.push_str("| leaves a child behind | waits for its pipes; the child lives on | verdict at the plugin's exit; its process group killed |\n");
    // Over the output limit, then hanging: denied at once, not at the deadline.
    set_mode("flood");
    let started = std::time::Instant::now();
    let out = run(pullguard().args([
        "verify",
        "-o",
        "json",
        "--policy-dir",
        f.dir().to_str().unwrap(),
        "--plugin-timeout",
        "8",
        "--insecure-registry",
        &reference,
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("byte limit"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Ctrl-C (SIGINT) while a plugin and its child run: both go with pullguard, which exits
    // 130 (the plugin's own process group gets no Ctrl-C from the terminal).
    set_mode("fork-hang");
    let pid_file = plugin_dir.join("child.pid");
    let _ = std::fs::remove_file(&pid_file);
    let mut cli = pullguard()
        .args([
            "verify",
            "--policy-dir",
            f.dir().to_str().unwrap(),
            "--insecure-registry",
            &reference,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "the plugin did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    common::daemon::unsafe_kill(cli.id(), "INT");
    let status = cli.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        gone(&pid),
        "the plugin's child {pid} outlived an interrupted pullguard"
    );
    // Not installed.
    std::fs::remove_dir_all(&plugin_dir).unwrap();
    let both = f.both(&["--insecure-registry", &reference], &[]);
    both.assert_same("not installed");
    assert!(!both.p.status.success());
    table.push_str("| not installed | false | false |\n");
    println!("{table}");
}

/// The client remembers what each registry said of the Referrers API (as oras-go's
/// repository does): registry 2.8 (none, the tag schema) and the referrers peer (the API).
/// Once known it asks only the one that answers, and still lists the signatures notation
/// pushed; a client made for other credentials shares the memory.
#[test]
fn the_referrers_capability_is_remembered_per_registry() {
    use pullguard::registry::{Credentials, RegistryClient, RegistryOptions};
    let p = peers();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (reg, supported) in [
        (p.registry.clone(), false),
        (p.referrers_registry.clone(), true),
    ] {
        let f = Fixture::new(&reg, "capability");
        f.notation_sign(&[]);
        let client = RegistryClient::new(
            RegistryOptions {
                insecure: vec![reg.clone()],
                ..RegistryOptions::default()
            },
            Credentials::Fixed(None),
        )
        .unwrap();
        let image = pullguard::oci::ImageRef::parse(&f.by_digest()).unwrap();
        assert_eq!(client.referrers_supported(&reg), None);
        let first = rt.block_on(client.signatures(&image, &f.digest)).unwrap();
        assert_eq!(first.len(), 1, "{reg}: {first:?}");
        assert_eq!(client.referrers_supported(&reg), Some(supported), "{reg}");
        let again = rt.block_on(client.signatures(&image, &f.digest)).unwrap();
        assert_eq!(again, first, "{reg}: asked the known way only");
        let other = client.with_credentials(Credentials::Fixed(None));
        assert_eq!(
            other.referrers_supported(&reg),
            Some(supported),
            "{reg}: shared"
        );
        // An unsigned digest in the same repository: none, the known way.
        let unsigned = f.push_image("2", "capability-unsigned");
        let none = rt
            .block_on(client.signatures(&image.with_digest(&unsigned), &unsigned))
            .unwrap();
        assert!(none.is_empty(), "{reg}: {none:?}");
    }
}
