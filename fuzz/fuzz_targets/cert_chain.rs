//! A certificate chain (leaf first; DER or PEM parts) through the chain rules: code-signing
//! and timestamping chain validation, validity at the fixed clock, the issuer signatures, and
//! the revocation checker offline (URL and issuer handling without network).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::revocation::Purpose;
use pullguard::x509::{self, Cert};

fuzz_target!(|data: &[u8]| {
    let mut chain: Vec<Cert> = Vec::new();
    for p in pg_fuzz::parts(data, 6) {
        match x509::parse_certs(p) {
            Ok(c) => chain.extend(c),
            Err(_) => return,
        }
    }
    let _ = x509::validate_code_signing_chain(&chain);
    let _ = x509::validate_timestamping_chain(&chain);
    let _ = x509::check_validity_at(&chain, pg_fuzz::NOW);
    for w in chain.windows(2) {
        let _ = w[0].check_signature_from(&w[1]);
    }
    let f = pg_fuzz::fixture();
    let _ = f.runtime.block_on(f.revocation.check_chain(
        &chain,
        Purpose::CodeSigning,
        Some(pg_fuzz::NOW),
        pg_fuzz::NOW,
    ));
});
