//! Notation X.509 trust stores (spec §5), with the behaviour and messages of
//! notation-go `verifier/truststore` (`x509TrustStore.GetCertificates`).
//!
//! Layout: `<root>/x509/{ca,signingAuthority,tsa}/<named-store>/<files>`, where
//! `<root>` is `{NOTATION_CONFIG}/truststore`.

use std::path::Path;

use crate::gocompat::quote::quote as go_quote;
use crate::policy::StoreKind;
use crate::x509::{Cert, parse_certs};

/// A trust store error: `message` is Go's `Error()` text; `inner` is the
/// wrapped Go error (`InnerError`), when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    pub message: String,
    pub inner: Option<String>,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

fn err(message: String, inner: Option<String>) -> StoreError {
    StoreError { message, inner }
}

/// Named store names must match `^[a-zA-Z0-9_.-]+$` (notation-go `file.IsValidFileName`).
pub fn is_valid_store_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Loads every certificate of `<root>/x509/<kind>/<name>/`; the error is Go's
/// error text.
pub fn load_named_store(root: &Path, kind: StoreKind, name: &str) -> Result<Vec<Cert>, String> {
    load_named_store_detailed(root, kind, name).map_err(|e| e.message)
}

/// Same as [`load_named_store`], keeping Go's inner error.
pub fn load_named_store_detailed(
    root: &Path,
    kind: StoreKind,
    name: &str,
) -> Result<Vec<Cert>, StoreError> {
    let ty = kind.as_str();
    if !is_valid_store_name(name) {
        return Err(err(
            format!("trust store name needs to follow [a-zA-Z0-9_.-]+ format, {name} is invalid"),
            None,
        ));
    }
    let path = root.join("x509").join(ty).join(name);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(err(
                format!(
                    "the trust store {} of type {} does not exist",
                    go_quote(name),
                    go_quote(ty)
                ),
                Some(e.to_string()),
            ));
        }
        Err(e) => {
            return Err(err(
                format!(
                    "failed to access the trust store {} of type {}",
                    go_quote(name),
                    go_quote(ty)
                ),
                Some(e.to_string()),
            ));
        }
    };
    if !meta.is_dir() || meta.file_type().is_symlink() {
        return Err(err(
            format!(
                "the trust store {name} of type {ty} with path {} is not a regular directory (symlinks are not supported)",
                path.display()
            ),
            None,
        ));
    }
    let access_error = |e: std::io::Error| {
        err(
            format!(
                "failed to access the trust store {} of type {}",
                go_quote(name),
                go_quote(ty)
            ),
            Some(e.to_string()),
        )
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(access_error)? {
        let entry = entry.map_err(access_error)?;
        let file_type = entry.file_type().map_err(access_error)?;
        entries.push((entry.file_name(), file_type));
    }
    // Go's os.ReadDir returns the entries sorted by file name.
    entries.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));

    let mut certificates = Vec::new();
    for (file_name, file_type) in entries {
        let file = file_name.to_string_lossy().into_owned();
        // Go rejects directories and symlinks; other non-regular files (FIFOs,
        // sockets, devices) get the same answer here instead of a blocking read.
        if !file_type.is_file() {
            return Err(err(
                format!(
                    "trusted certificate {file} in trust store {name} of type {ty} is not a regular file (directories or symlinks are not supported)"
                ),
                None,
            ));
        }
        let read_error = |inner: String| {
            err(
                format!(
                    "failed to read the trusted certificate {file} in trust store {name} of type {ty}"
                ),
                Some(inner),
            )
        };
        let data = std::fs::read(path.join(&file_name)).map_err(|e| read_error(e.to_string()))?;
        let certs = parse_certs(&data).map_err(read_error)?;
        validate_certificates(&certs).map_err(|inner| {
            err(
                format!(
                    "failed to validate the trusted certificate {file} in trust store {name} of type {ty}"
                ),
                Some(inner),
            )
        })?;
        if kind == StoreKind::Tsa {
            for cert in &certs {
                if let Err(inner) = is_root_ca_certificate(cert) {
                    return Err(err(
                        format!(
                            "trusted certificate {file} in trust store {name} of type {ty} is invalid: {inner}"
                        ),
                        Some(inner),
                    ));
                }
            }
        }
        certificates.extend(certs);
    }
    if certificates.is_empty() {
        return Err(err(
            format!(
                "no x509 certificates were found in trust store {} of type {}",
                go_quote(name),
                go_quote(ty)
            ),
            Some("file does not exist".to_string()),
        ));
    }
    Ok(certificates)
}

/// notation-go `truststore.ValidateCertificates`: every certificate must be a
/// CA, or be self-signed (its signature verifies with its own key).
pub fn validate_certificates(certs: &[Cert]) -> Result<(), String> {
    if certs.is_empty() {
        return Err("input certs cannot be empty".to_string());
    }
    for cert in certs {
        if !cert.is_ca() && cert.check_self_signature().is_err() {
            return Err(format!(
                "certificate with subject {} is not a CA certificate or self-signed signing certificate",
                go_quote(cert.subject())
            ));
        }
    }
    Ok(())
}

/// notation-go `isRootCACertificate` (required of `tsa` store certificates).
pub fn is_root_ca_certificate(cert: &Cert) -> Result<(), String> {
    let q = go_quote(cert.subject());
    cert.check_signature_from(cert)
        .map_err(|e| format!("certificate with subject {q} is not a root CA certificate: {e}"))?;
    if cert.raw_subject() != cert.raw_issuer() {
        return Err(format!(
            "certificate with subject {q} is not a root CA certificate: issuer ({}) and subject ({}) are not the same",
            cert.issuer(),
            cert.subject()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");

    fn upstream_root() -> PathBuf {
        PathBuf::from(TESTDATA).join("truststores/notation-go_verifier_testdata_truststore")
    }

    fn subjects(certs: &[Cert]) -> Vec<&str> {
        certs.iter().map(|c| c.subject()).collect()
    }

    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }

    /// A writable copy of the upstream tree.
    fn temp_root() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("truststore");
        copy_tree(&upstream_root(), &root);
        (tmp, root)
    }

    const GLOBALSIGN_R3: &str = "CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign";
    const WABBIT: &str = "CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US";

    #[test]
    fn valid_stores_load() {
        let root = upstream_root();
        let certs = load_named_store(&root, StoreKind::Ca, "valid-trust-store").unwrap();
        // Files in Go's os.ReadDir (byte-sorted) order.
        assert_eq!(
            subjects(&certs),
            [
                GLOBALSIGN_R3,
                GLOBALSIGN_R3,
                "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US",
                "CN=alpine,O=Notary,L=Seattle,ST=WA,C=US",
                "CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US",
                WABBIT,
            ]
        );
        // Self-signed non-CA leaf certificates are accepted.
        assert!(!certs[5].is_ca());
        assert!(certs[5].is_self_signed());

        let certs = load_named_store(&root, StoreKind::Ca, "valid-trust-store-2").unwrap();
        assert_eq!(subjects(&certs), [GLOBALSIGN_R3, GLOBALSIGN_R3]);

        let certs =
            load_named_store(&root, StoreKind::Ca, "valid-trust-store-self-signed").unwrap();
        assert_eq!(certs.len(), 1);
        assert!(!certs[0].is_ca());
        assert_eq!(
            certs[0].subject(),
            "OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US"
        );

        let certs =
            load_named_store(&root, StoreKind::SigningAuthority, "valid-trust-store").unwrap();
        assert_eq!(certs.len(), 3);
        let certs =
            load_named_store(&root, StoreKind::SigningAuthority, "valid-trust-store-2").unwrap();
        assert_eq!(certs.len(), 2);

        let certs = load_named_store(&root, StoreKind::Tsa, "test-timestamp").unwrap();
        assert_eq!(
            subjects(&certs),
            ["CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign"]
        );
        let certs = load_named_store(&root, StoreKind::Tsa, "test-mismatch").unwrap();
        assert_eq!(
            subjects(&certs),
            ["CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"]
        );
    }

    #[test]
    fn invalid_certificate_file() {
        let e = load_named_store_detailed(
            &upstream_root(),
            StoreKind::Ca,
            "trust-store-with-invalid-certs",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "failed to read the trusted certificate invalid in trust store trust-store-with-invalid-certs of type ca"
        );
        assert!(e.inner.is_some());
    }

    #[test]
    fn leaf_certificates_are_refused_in_ca_stores() {
        let root = upstream_root();
        let e = load_named_store_detailed(&root, StoreKind::Ca, "trust-store-with-leaf-certs")
            .unwrap_err();
        assert_eq!(
            e.message,
            "failed to validate the trusted certificate non-ca.crt in trust store trust-store-with-leaf-certs of type ca"
        );
        assert_eq!(
            e.inner.as_deref(),
            Some(
                "certificate with subject \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" is not a CA certificate or self-signed signing certificate"
            )
        );
        assert_eq!(e.to_string(), e.message);
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "trust-store-with-leaf-certs").unwrap_err(),
            e.message
        );

        let e = load_named_store_detailed(
            &root,
            StoreKind::Ca,
            "trust-store-with-leaf-certs-in-single-file",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "failed to validate the trusted certificate RootAndLeafCerts.crt in trust store trust-store-with-leaf-certs-in-single-file of type ca"
        );
        assert_eq!(
            e.inner.as_deref(),
            Some(
                "certificate with subject \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" is not a CA certificate or self-signed signing certificate"
            )
        );
    }

    #[test]
    fn tsa_stores_require_root_certificates() {
        let root = upstream_root();
        assert_eq!(
            load_named_store(&root, StoreKind::Tsa, "test-nonCA").unwrap_err(),
            r#"trusted certificate wabbit-networks.io.crt in trust store test-nonCA of type tsa is invalid: certificate with subject "CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US" is not a root CA certificate: x509: invalid signature: parent certificate cannot sign this kind of certificate"#
        );
        assert_eq!(
            load_named_store(&root, StoreKind::Tsa, "test-nonSelfIssued").unwrap_err(),
            r#"trusted certificate nonSelfIssued.crt in trust store test-nonSelfIssued of type tsa is invalid: certificate with subject "CN=Notation Test Revokable RSA Chain Cert 2,O=Notary,L=Seattle,ST=WA,C=US" is not a root CA certificate: issuer (CN=Notation Test Revokable RSA Chain Cert Root,O=Notary,L=Seattle,ST=WA,C=US) and subject (CN=Notation Test Revokable RSA Chain Cert 2,O=Notary,L=Seattle,ST=WA,C=US) are not the same"#
        );
        // The same certificates are acceptable in a ca store.
        let (_tmp, troot) = temp_root();
        let ca_dir = troot.join("x509/ca/from-tsa");
        std::fs::create_dir_all(&ca_dir).unwrap();
        std::fs::copy(
            troot.join("x509/tsa/test-nonSelfIssued/nonSelfIssued.crt"),
            ca_dir.join("nonSelfIssued.crt"),
        )
        .unwrap();
        std::fs::copy(
            troot.join("x509/tsa/test-nonCA/wabbit-networks.io.crt"),
            ca_dir.join("wabbit-networks.io.crt"),
        )
        .unwrap();
        assert_eq!(
            load_named_store(&troot, StoreKind::Ca, "from-tsa")
                .unwrap()
                .len(),
            2
        );
        // An intermediate CA in a tsa store.
        let tsa_dir = troot.join("x509/tsa/intermediate");
        std::fs::create_dir_all(&tsa_dir).unwrap();
        std::fs::copy(
            PathBuf::from(TESTDATA)
                .join("certs/cert-validation/notation-core-go_timestamp_intermediate.crt"),
            tsa_dir.join("inter.crt"),
        )
        .unwrap();
        assert_eq!(
            load_named_store(&troot, StoreKind::Tsa, "intermediate").unwrap_err(),
            r#"trusted certificate inter.crt in trust store intermediate of type tsa is invalid: certificate with subject "CN=DigiCert Trusted G4 RSA4096 SHA256 TimeStamping CA,O=DigiCert\\, Inc.,C=US" is not a root CA certificate: crypto/rsa: verification error"#
        );
    }

    #[test]
    fn missing_and_invalid_store_names() {
        let root = upstream_root();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "does-not-exist").unwrap_err(),
            r#"the trust store "does-not-exist" of type "ca" does not exist"#
        );
        assert_eq!(
            load_named_store(&root, StoreKind::SigningAuthority, "test-timestamp").unwrap_err(),
            r#"the trust store "test-timestamp" of type "signingAuthority" does not exist"#
        );
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(
            load_named_store(tmp.path(), StoreKind::Tsa, "x").unwrap_err(),
            r#"the trust store "x" of type "tsa" does not exist"#
        );
        for bad in ["", "a b", "../ca", "a/b", "é", "x:y"] {
            assert_eq!(
                load_named_store(&root, StoreKind::Ca, bad).unwrap_err(),
                format!(
                    "trust store name needs to follow [a-zA-Z0-9_.-]+ format, {bad} is invalid"
                )
            );
        }
        assert!(is_valid_store_name("A-z_0.9"));
        assert!(!is_valid_store_name(""));
    }

    #[test]
    fn empty_store_and_empty_file() {
        let (_tmp, root) = temp_root();
        let dir = root.join("x509/ca/empty");
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "empty").unwrap_err(),
            r#"no x509 certificates were found in trust store "empty" of type "ca""#
        );
        // An empty file parses to no certificate, which fails validation.
        std::fs::write(dir.join("empty.pem"), b"").unwrap();
        let e = load_named_store_detailed(&root, StoreKind::Ca, "empty").unwrap_err();
        assert_eq!(
            e.message,
            "failed to validate the trusted certificate empty.pem in trust store empty of type ca"
        );
        assert_eq!(e.inner.as_deref(), Some("input certs cannot be empty"));
    }

    #[test]
    fn directories_and_symlinks() {
        let (_tmp, root) = temp_root();
        // A sub-directory inside a named store.
        let store = root.join("x509/ca/trust-store-with-directories");
        std::fs::create_dir_all(store.join("sub-dir")).unwrap();
        std::fs::copy(
            root.join("x509/ca/valid-trust-store-2/GlobalSignRootCA.crt"),
            store.join("GlobalSignRootCA.crt"),
        )
        .unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "trust-store-with-directories").unwrap_err(),
            "trusted certificate sub-dir in trust store trust-store-with-directories of type ca is not a regular file (directories or symlinks are not supported)"
        );
        // A symlinked certificate inside a named store.
        let store = root.join("x509/ca/trust-store-with-cert-symlinks");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(
            root.join("x509/ca/valid-trust-store-2/GlobalSignRootCA.crt"),
            store.join("GlobalSignRootCA.crt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            store.join("GlobalSignRootCA.crt"),
            store.join("GlobalSignRootCA_SYMLINK.crt"),
        )
        .unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "trust-store-with-cert-symlinks").unwrap_err(),
            "trusted certificate GlobalSignRootCA_SYMLINK.crt in trust store trust-store-with-cert-symlinks of type ca is not a regular file (directories or symlinks are not supported)"
        );
        // A named store that is a symlink to a valid store.
        let link = root.join("x509/ca/valid-trust-store_SYMLINK");
        std::os::unix::fs::symlink(root.join("x509/ca/valid-trust-store"), &link).unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "valid-trust-store_SYMLINK").unwrap_err(),
            format!(
                "the trust store valid-trust-store_SYMLINK of type ca with path {} is not a regular directory (symlinks are not supported)",
                link.display()
            )
        );
        // A dangling symlink store is a symlink too, not a missing store.
        let dangling = root.join("x509/tsa/dangling");
        std::os::unix::fs::symlink(root.join("nowhere"), &dangling).unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Tsa, "dangling").unwrap_err(),
            format!(
                "the trust store dangling of type tsa with path {} is not a regular directory (symlinks are not supported)",
                dangling.display()
            )
        );
        // A named store that is a regular file.
        let file = root.join("x509/signingAuthority/plain-file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::SigningAuthority, "plain-file").unwrap_err(),
            format!(
                "the trust store plain-file of type signingAuthority with path {} is not a regular directory (symlinks are not supported)",
                file.display()
            )
        );
    }

    #[test]
    fn every_file_is_read_whatever_its_extension() {
        let (_tmp, root) = temp_root();
        let store = root.join("x509/ca/mixed");
        std::fs::create_dir_all(&store).unwrap();
        let certs = PathBuf::from(TESTDATA).join("certs");
        std::fs::copy(
            certs.join("roots/NotationTestRoot.pem"),
            store.join("b.txt"),
        )
        .unwrap();
        std::fs::copy(
            certs.join("cert-validation/notation-core-go_multi-der.der"),
            store.join("a"),
        )
        .unwrap();
        std::fs::copy(
            certs.join("revocation-e2e/crl_root.crt"),
            store.join(".hidden"),
        )
        .unwrap();
        let loaded = load_named_store(&root, StoreKind::Ca, "mixed").unwrap();
        assert_eq!(
            subjects(&loaded),
            [
                "CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US",
                GLOBALSIGN_R3,
                GLOBALSIGN_R3,
                "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US",
            ]
        );
        // A leaf chain file (leaf + CA) is refused because of the leaf.
        std::fs::copy(
            certs.join("revocation-e2e/certchain_with_crl.pem"),
            store.join("c.pem"),
        )
        .unwrap();
        assert_eq!(
            load_named_store(&root, StoreKind::Ca, "mixed").unwrap_err(),
            "failed to validate the trusted certificate c.pem in trust store mixed of type ca"
        );
    }

    #[test]
    fn kinds() {
        for kind in [StoreKind::Ca, StoreKind::SigningAuthority, StoreKind::Tsa] {
            assert_eq!(StoreKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(StoreKind::parse("CA"), None);
        assert_eq!(StoreKind::SigningAuthority.as_str(), "signingAuthority");
    }
}
