//! An RFC 3161 TimeStampToken: parse (BER normalised), TSTInfo, the imprint check, the CMS
//! signature and signing-certificate rules, the chain to the fixed TSA roots at genTime, and
//! the timestamping chain rules on the chain it returns.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::timestamp;

fuzz_target!(|data: &[u8]| {
    let roots = pg_fuzz::anchors();
    let _ = timestamp::verify_token(data, b"signature", roots);
    let Ok(token) = timestamp::parse_token(data) else {
        return;
    };
    let Ok(info) = token.tst_info() else {
        return;
    };
    let _ = info.validate(b"signature");
    let _ = info.range();
    if let Ok(chain) = token.verify(info.gen_time, roots) {
        let certs: Result<Vec<_>, _> = chain
            .iter()
            .map(|d| pullguard::x509::Cert::from_der(d))
            .collect();
        if let Ok(certs) = certs {
            let _ = pullguard::x509::validate_timestamping_chain(&certs);
        }
    }
});
