//! A trust store certificate file (PEM, DER, several in one file) as a named store reads it:
//! parse, the store's validation rules, the root-CA rule of TSA stores, the accessors the
//! engine uses. And the same bytes loaded from a real store directory.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::policy::StoreKind;
use pullguard::truststore;
use std::sync::OnceLock;

fn root() -> &'static tempfile::TempDir {
    static R: OnceLock<tempfile::TempDir> = OnceLock::new();
    R.get_or_init(|| {
        tempfile::TempDir::new_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = pullguard::x509::parse_certs(data) {
        let _ = truststore::validate_certificates(&certs);
        for c in &certs {
            let _ = truststore::is_root_ca_certificate(c);
            let _ = (
                c.subject(),
                c.issuer(),
                c.not_before(),
                c.not_after(),
                c.is_ca(),
            );
            let _ = (
                c.key_usage(),
                c.ext_key_usage(),
                c.public_key_info(),
                c.revocation_urls(),
            );
            let _ = (
                c.is_self_signed(),
                c.check_self_signature(),
                c.sha256_fingerprint(),
            );
            let _ = pullguard::x509::signature_algorithm(c);
        }
    }
    // The store loader proper (file reading and its own rules), for a CA and a TSA store.
    let base = root().path();
    for (kind, dir) in [(StoreKind::Ca, "ca"), (StoreKind::Tsa, "tsa")] {
        let d = base.join("x509").join(dir).join("s");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("cert.crt"), data).unwrap();
        let _ = truststore::load_named_store(base, kind, "s");
    }
});
