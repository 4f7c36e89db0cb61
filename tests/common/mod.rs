//! Shared test support: a test PKI and a Notation envelope signer (so tests can make the
//! signatures `notation sign` never would), and access to the real peers.
#![allow(dead_code)]

pub mod containerd;
pub mod daemon;
pub mod fake_dockerd;
pub mod fake_registry;
pub mod in_process;
pub mod payload;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage};
use openssl::x509::{X509, X509NameBuilder};

pub fn testdata() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/testdata/notation"
    ))
}

#[derive(Clone, Copy, Debug)]
pub enum KeySpec {
    Rsa(u32),
    Ec(Nid),
}

pub fn key(spec: KeySpec) -> PKey<Private> {
    match spec {
        KeySpec::Rsa(bits) => PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap(),
        KeySpec::Ec(nid) => {
            let g = EcGroup::from_curve_name(nid).unwrap();
            PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap()
        }
    }
}

pub fn alg_for(spec: KeySpec) -> (&'static str, i64, MessageDigest) {
    match spec {
        KeySpec::Rsa(2048) => ("PS256", -37, MessageDigest::sha256()),
        KeySpec::Rsa(3072) => ("PS384", -38, MessageDigest::sha384()),
        KeySpec::Rsa(_) => ("PS512", -39, MessageDigest::sha512()),
        KeySpec::Ec(Nid::X9_62_PRIME256V1) => ("ES256", -7, MessageDigest::sha256()),
        KeySpec::Ec(Nid::SECP384R1) => ("ES384", -35, MessageDigest::sha384()),
        KeySpec::Ec(_) => ("ES512", -36, MessageDigest::sha512()),
    }
}

pub struct Pki {
    pub root: X509,
    pub root_key: PKey<Private>,
    pub leaf: X509,
    pub leaf_key: PKey<Private>,
    pub spec: KeySpec,
}

pub struct CertOpts {
    pub days_before: u32,
    pub days_after: i64,
}

impl Default for CertOpts {
    fn default() -> Self {
        CertOpts {
            days_before: 1,
            days_after: 365,
        }
    }
}

fn name(cn: &str) -> openssl::x509::X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    b.append_entry_by_text("C", "US").unwrap();
    b.append_entry_by_text("ST", "WA").unwrap();
    b.append_entry_by_text("L", "Seattle").unwrap();
    b.append_entry_by_text("O", "pullguard-tests").unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn serial() -> openssl::asn1::Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

fn validity(b: &mut openssl::x509::X509Builder, o: &CertOpts) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let nb = Asn1Time::from_unix(now - o.days_before as i64 * 86400).unwrap();
    let na = Asn1Time::from_unix(now + o.days_after * 86400).unwrap();
    b.set_not_before(&nb).unwrap();
    b.set_not_after(&na).unwrap();
}

/// A CA root and a code-signing leaf it issued.
pub fn pki(spec: KeySpec, leaf_cn: &str, leaf_opts: CertOpts) -> Pki {
    let root_key = key(spec);
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    let rn = name(&format!("{leaf_cn} Root"));
    b.set_subject_name(&rn).unwrap();
    b.set_issuer_name(&rn).unwrap();
    b.set_pubkey(&root_key).unwrap();
    validity(&mut b, &CertOpts::default());
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
    let md = alg_for(spec).2;
    b.sign(&root_key, md).unwrap();
    let root = b.build();

    let leaf_key = key(spec);
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name(leaf_cn)).unwrap();
    b.set_issuer_name(root.subject_name()).unwrap();
    b.set_pubkey(&leaf_key).unwrap();
    validity(&mut b, &leaf_opts);
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
    b.sign(&root_key, md).unwrap();
    let leaf = b.build();
    Pki {
        root,
        root_key,
        leaf,
        leaf_key,
        spec,
    }
}

impl Pki {
    pub fn chain(&self) -> Vec<X509> {
        vec![self.leaf.clone(), self.root.clone()]
    }

    /// Write the root as trust store `x509/<kind>/<name>/root.pem` under `dir/truststore`.
    pub fn install_root(&self, dir: &Path, kind: &str, name: &str) {
        let d = dir.join("truststore/x509").join(kind).join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("root.pem"), self.root.to_pem().unwrap()).unwrap();
    }

    pub fn raw_sign(&self, input: &[u8], cose: bool) -> Vec<u8> {
        let md = alg_for(self.spec).2;
        let mut s = Signer::new(md, &self.leaf_key).unwrap();
        match self.spec {
            KeySpec::Rsa(_) => {
                s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                s.set_rsa_mgf1_md(md).unwrap();
                s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                let _ = cose;
                s.sign_oneshot_to_vec(input).unwrap()
            }
            KeySpec::Ec(nid) => {
                let der = s.sign_oneshot_to_vec(input).unwrap();
                let sig = EcdsaSig::from_der(&der).unwrap();
                let w = match nid {
                    Nid::X9_62_PRIME256V1 => 32,
                    Nid::SECP384R1 => 48,
                    _ => 66,
                };
                let mut out = sig.r().to_vec_padded(w).unwrap();
                out.extend(sig.s().to_vec_padded(w).unwrap());
                out
            }
        }
    }
}

pub fn payload(media_type: &str, digest: &str, size: i64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "targetArtifact": {"mediaType": media_type, "digest": digest, "size": size}
    }))
    .unwrap()
}

/// A Notation protected header for the x509 scheme, as JSON.
pub fn protected_x509(alg: &str, signing_time: &str, expiry: Option<&str>) -> serde_json::Value {
    let mut crit = vec!["io.cncf.notary.signingScheme"];
    let mut h = serde_json::json!({
        "alg": alg,
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": signing_time,
    });
    if let Some(e) = expiry {
        crit.push("io.cncf.notary.expiry");
        h["io.cncf.notary.expiry"] = e.into();
    }
    h["crit"] = crit.into();
    h
}

/// Sign a flattened JWS JSON envelope. `protected` is used verbatim.
pub fn sign_jws(pki: &Pki, protected: &serde_json::Value, payload: &[u8]) -> Vec<u8> {
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(protected).unwrap());
    let pl = URL_SAFE_NO_PAD.encode(payload);
    let sig = pki.raw_sign(format!("{p}.{pl}").as_bytes(), false);
    let x5c: Vec<String> = pki
        .chain()
        .iter()
        .map(|c| STANDARD.encode(c.to_der().unwrap()))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "payload": pl,
        "protected": p,
        "header": {"x5c": x5c, "io.cncf.notary.signingAgent": "pullguard-tests"},
        "signature": URL_SAFE_NO_PAD.encode(sig),
    }))
    .unwrap()
}

/// Sign a COSE_Sign1 envelope (x509 scheme) with the given signing time (unix seconds).
pub fn sign_cose(pki: &Pki, payload: &[u8], signing_time: i64, expiry: Option<i64>) -> Vec<u8> {
    use ciborium::Value;
    let (_, cose_alg, _) = alg_for(pki.spec);
    let mut crit = vec![Value::Text("io.cncf.notary.signingScheme".into())];
    let mut prot = vec![
        (Value::Integer(1.into()), Value::Integer(cose_alg.into())),
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
    ];
    if let Some(e) = expiry {
        crit.push(Value::Text("io.cncf.notary.expiry".into()));
        prot.push((
            Value::Text("io.cncf.notary.expiry".into()),
            Value::Tag(1, Box::new(Value::Integer(e.into()))),
        ));
    }
    prot.push((Value::Integer(2.into()), Value::Array(crit)));
    let mut prot_bytes = Vec::new();
    ciborium::into_writer(&Value::Map(prot), &mut prot_bytes).unwrap();
    let tbs = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(prot_bytes.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut tbs_bytes = Vec::new();
    ciborium::into_writer(&tbs, &mut tbs_bytes).unwrap();
    let sig = pki.raw_sign(&tbs_bytes, true);
    let chain = pki
        .chain()
        .iter()
        .map(|c| Value::Bytes(c.to_der().unwrap()))
        .collect();
    let msg = Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(prot_bytes),
            Value::Map(vec![(Value::Integer(33.into()), Value::Array(chain))]),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(sig),
        ])),
    );
    let mut out = Vec::new();
    ciborium::into_writer(&msg, &mut out).unwrap();
    out
}

pub fn rfc3339(offset_days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(offset_days);
    t.replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn unix(offset_days: i64) -> i64 {
    (time::OffsetDateTime::now_utc() + time::Duration::days(offset_days)).unix_timestamp()
}

// ---------------------------------------------------------------------------------------------
// Real peers

pub struct Peers {
    pub registry: String,
    pub referrers_registry: String,
    pub docker_sock: String,
    /// containerd 1.6 (bookworm's `ctr` drives it).
    pub containerd_sock: String,
    /// containerd 2.1 and its own `ctr`.
    pub containerd2_sock: String,
    pub ctr2: String,
}

/// The peers started by `scripts/peers-up.sh`. Missing peers fail the test: never a silent skip.
pub fn peers() -> Peers {
    let get = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: start the real peers with `eval \"$(bash scripts/peers-up.sh)\"` (scripts/test.sh does it)")
        })
    };
    let p = Peers {
        registry: get("PG_REGISTRY"),
        referrers_registry: get("PG_REFERRERS_REGISTRY"),
        docker_sock: get("PG_DOCKER_SOCK"),
        containerd_sock: get("PG_CONTAINERD_SOCK"),
        containerd2_sock: get("PG_CONTAINERD2_SOCK"),
        ctr2: get("PG_CTR2"),
    };
    for s in [&p.docker_sock, &p.containerd_sock, &p.containerd2_sock] {
        assert!(
            std::fs::metadata(s).is_ok(),
            "peer socket {s} is missing: start the peers (scripts/peers-up.sh)"
        );
    }
    assert!(
        Path::new(&p.ctr2).exists(),
        "containerd 2.1's ctr is missing at {}",
        p.ctr2
    );
    for r in [&p.registry, &p.referrers_registry] {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://{r}/v2/")])
            .output()
            .expect("curl");
        assert!(out.status.success(), "registry {r} is not up");
    }
    p
}

/// The TLS registry `scripts/test-tls.sh` starts for a run of the interop set over TLS:
/// `PG_TLS_REGISTRY` (host:port) serves https with a test CA (`PG_TLS_CA`, PEM) that notation,
/// oras and pullguard trust through `SSL_CERT_FILE` (the script sets it to the system bundle plus
/// that CA). `None` when unset (the plain-HTTP peers). Set but not answering: the test fails.
pub fn tls_registry() -> Option<String> {
    let host = std::env::var("PG_TLS_REGISTRY")
        .ok()
        .filter(|h| !h.is_empty())?;
    let ca = std::env::var("PG_TLS_CA")
        .unwrap_or_else(|_| panic!("PG_TLS_REGISTRY={host} is set without PG_TLS_CA"));
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new("curl")
            .args(["-sf", "--cacert", &ca, &format!("https://{host}/v2/")])
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "TLS registry {host} (PG_TLS_REGISTRY) does not answer https with CA {ca}"
        );
    });
    Some(host)
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn pullguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pullguard"))
}

// ---------------------------------------------------------------------------------------------
// Small helpers for fault and auth tests

/// A loopback port nobody listens on right now (bound, then released), below Linux's
/// ephemeral range (32768-60999): between its release and the bind of whoever it is for, no
/// `:0` listener (CRI's stream server, say) and no outgoing connection is given it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..10_000 {
        let r = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let port = 20_000 + (r % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// pullguard ended on its own with one of its documented exit codes (0 allowed, 1 denied,
/// 2 usage): no panic, no signal. Returns the code.
pub fn exit_code(out: &Output) -> i32 {
    let err = stderr_of(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "pullguard panicked: {err}"
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "pullguard exited with {:?} (signal or undocumented code)\nstdout: {}\nstderr: {err}",
        out.status,
        stdout_of(out)
    );
    code.unwrap()
}

/// Assert a denial (exit 1) whose stderr contains every one of `needles`; returns stderr.
pub fn assert_denied(out: &Output, needles: &[&str]) -> String {
    let code = exit_code(out);
    let err = stderr_of(out);
    assert_eq!(code, 1, "expected a denial, got exit {code}\nstderr: {err}");
    assert!(err.contains("denied"), "no denial line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    err
}

/// A one-statement OCI trust policy for every registry (`*`) at `level`, in `dir`.
pub fn write_policy(dir: &Path, level: &str, stores: &[&str]) {
    let stores: Vec<String> = stores.iter().map(|s| format!("{s:?}")).collect();
    let p = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"tests","registryScopes":["*"],"signatureVerification":{{"level":"{level}"}},"trustStores":[{}],"trustedIdentities":["*"]}}]}}"#,
        stores.join(",")
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("trustpolicy.json"), p).unwrap();
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let h = openssl::sha::sha256(bytes);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
