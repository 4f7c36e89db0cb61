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
        c.args(["sign", "--insecure-registry"])
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
        run_ok(Command::new("oras").current_dir(&dir).args([
            "attach",
            "--plain-http",
            "--disable-path-validation",
            "--artifact-type",
            "application/vnd.cncf.notary.signature",
            "--annotation",
            "io.cncf.notary.x509chain.thumbprint#S256=[]",
            &self.by_digest(),
            &format!("{file}:{media_type}"),
        ]));
    }

    /// (notation allowed?, pullguard allowed?, pullguard json outcome)
    fn verdicts(&self, reference: &str) -> (bool, bool, serde_json::Value) {
        let n = run(self
            .notation()
            .args(["verify", "--insecure-registry", reference]));
        let p = run(pullguard().args([
            "verify",
            "--policy-dir",
            self.dir().to_str().unwrap(),
            "--insecure-registries",
            &self.registry,
            "--output",
            "json",
            reference,
        ]));
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
    vec![p.registry, p.referrers_registry]
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
        run_ok(g.notation().args([
            "sign",
            "--insecure-registry",
            "--key",
            "other.key",
            &g.by_digest(),
        ]));
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
    let reg = peers().registry;
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
    let reg = peers().registry;
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
    let reg = peers().registry;
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
    let reg = peers().registry;
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
    let reg = peers().registry;
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
