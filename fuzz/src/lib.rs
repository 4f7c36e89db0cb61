//! Shared pieces of the fuzz targets: the Notary Project test data, a fixed trust configuration
//! (policy + stores built once from that data), a fixed clock, an offline revocation checker,
//! and the splitting of one fuzz input into several parts.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pullguard::revocation::RevocationChecker;
use pullguard::verify::TrustConfig;
use time::OffsetDateTime;
use time::macros::datetime;

pub mod registry;
pub mod verify;

/// The verification clock: fixed, so that a crash replays the same way on any day.
pub const NOW: OffsetDateTime = datetime!(2026-11-25 00:00 UTC);

/// Separates the parts of a multi-part input (a chain, a request, registry answers).
pub const SEP: &[u8] = b"\n--pg--\n";

/// `../shared/testdata/notation` beside the repository (or `$PG_TESTDATA`).
pub fn testdata() -> PathBuf {
    if let Some(p) = std::env::var_os("PG_TESTDATA") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/notation")
}

/// Split `data` on [`SEP`], at most `n` parts (the last takes the rest).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// Lossy text of a part (the daemon sees text from HTTP headers, paths and files).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub struct Fixture {
    pub trust: TrustConfig,
    pub revocation: RevocationChecker,
    pub runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// The statements of the fixed policy (scopes in [`fixture`]):
/// - "strict-any": strict, every store, any identity, timestamps checked after expiry;
/// - "audit-identity": audit, CA and TSA stores, one named identity, timestamps always.
const POLICY: &str = r#"{
  "version": "1.0",
  "trustPolicies": [
    {
      "name": "strict-any",
      "registryScopes": ["*"],
      "signatureVerification": {"level": "strict"},
      "trustStores": ["ca:valid-trust-store", "ca:fuzz-roots", "signingAuthority:valid-trust-store",
                      "signingAuthority:fuzz-roots", "tsa:test-timestamp", "tsa:fuzz-tsa"],
      "trustedIdentities": ["*"]
    },
    {
      "name": "audit-identity",
      "registryScopes": ["registry.invalid/fuzz"],
      "signatureVerification": {"level": "audit", "verifyTimestamp": "always"},
      "trustStores": ["ca:valid-trust-store", "ca:fuzz-roots", "tsa:fuzz-tsa"],
      "trustedIdentities": ["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=wabbit-networks.io"]
    }
  ]
}"#;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The trust configuration every envelope target verifies against, built once per process.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // Verification plugins are looked up under the (empty) fixture dir only: none exists,
        // so an envelope that names one is refused without running anything.
        // SAFETY: set before any thread of this process reads the environment.
        unsafe { std::env::remove_var("NOTATION_LIBEXEC") };
        let td = testdata();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trustpolicy.json"), POLICY).unwrap();
        let store = dir.path().join("truststore");
        copy_tree(
            &td.join("truststores/notation-go_verifier_testdata_truststore"),
            &store,
        );
        let add = |kind: &str, name: &str, files: &[PathBuf]| {
            let d = store.join("x509").join(kind).join(name);
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                std::fs::copy(f, d.join(f.file_name().unwrap())).unwrap();
            }
        };
        let roots: Vec<PathBuf> = std::fs::read_dir(td.join("certs/roots"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        add("ca", "fuzz-roots", &roots);
        add("signingAuthority", "fuzz-roots", &roots);
        let tsa = td.join("certs/tsa-roots");
        add(
            "tsa",
            "fuzz-tsa",
            &[
                tsa.join("globalsignTSARoot_R6.cer"),
                tsa.join("DigiCertTSARootSHA384.cer"),
                tsa.join("notation-go_example_verifyWithTimestamp_1.pem"),
            ],
        );
        let trust = TrustConfig::load(dir.path()).expect("fuzz trust policy");
        let problems = trust.store_problems();
        assert!(problems.is_empty(), "fuzz trust stores: {problems:?}");
        Fixture {
            trust,
            revocation: RevocationChecker::offline(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            _dir: dir,
        }
    })
}

/// The DER of every trust-store certificate of the fixture (the anchors of chain targets).
pub fn anchors() -> &'static [Vec<u8>] {
    static A: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    A.get_or_init(|| {
        let mut v: Vec<Vec<u8>> = fixture()
            .trust
            .stores
            .values()
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|s| s.iter().map(|c| c.der.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    })
}
