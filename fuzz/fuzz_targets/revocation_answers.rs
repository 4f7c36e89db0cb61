//! What an OCSP responder or a CRL distribution point answers (DER, the HTTP layer aside): read
//! as a CRL of each certificate of the Notary Project's revocation chains (the CRL parse, the
//! issuer rules, the signature, nextUpdate, critical extensions, the entry lookup with its
//! invalidityDate) and as an OCSP response about each certificate under its issuer (status,
//! responder, signature, thisUpdate/nextUpdate, the single-response invalidityDate walk). At
//! the fixed clock and at one inside the vectors' validity, so that the vectors' own CRLs are
//! read to their entries.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pullguard::x509::{self, Cert};
use time::macros::datetime;

fn chains() -> &'static [Vec<Cert>] {
    static C: OnceLock<Vec<Vec<Cert>>> = OnceLock::new();
    C.get_or_init(|| {
        let dir = pg_fuzz::testdata().join("certs/revocation-e2e");
        ["certchain_with_crl.pem", "certchain_with_ocsp.pem"]
            .iter()
            .map(|f| {
                let pem = std::fs::read(dir.join(f)).expect("revocation vectors");
                x509::parse_certs(&pem).expect("revocation chain")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    for chain in chains() {
        for now in [pg_fuzz::NOW, datetime!(2024-11-12 00:00 UTC)] {
            let _ = pullguard::revocation::fuzz_answer(data, chain, now);
        }
    }
});
