//! A trust policy document: parse and validate, then statement selection for a few artifact
//! references and the trusted-identity check of each statement against a real leaf.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::policy::PolicyDocument;
use std::sync::OnceLock;

fn leaf() -> &'static pullguard::x509::Cert {
    static L: OnceLock<pullguard::x509::Cert> = OnceLock::new();
    L.get_or_init(|| {
        let pem = std::fs::read(
            pg_fuzz::testdata()
                .join("certs/signing/notation-go_mock_ca_valid_sig_env.json.chain.pem"),
        )
        .unwrap();
        pullguard::x509::parse_certs(&pem).unwrap().remove(0)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = PolicyDocument::from_json(data) else {
        return;
    };
    for r in [
        "registry.invalid/fuzz@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "localhost:5000/a/b@sha256:1111111111111111111111111111111111111111111111111111111111111111",
        "wabbit-networks.io/software/net-monitor@sha256:2222222222222222222222222222222222222222222222222222222222222222",
    ] {
        let _ = doc.statement_for(r);
    }
    for st in &doc.statements {
        let _ = st.check_trusted_identity(leaf());
    }
});
