//! A JWS envelope (`application/jose+json`) through to verification: integrity, authenticity
//! against the fixed trust stores, expiry and the timestamp at the fixed clock, revocation
//! (offline: fails closed), identity, the descriptor check. Under both policy statements.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pg_fuzz::verify::envelope("application/jose+json", data);
});
