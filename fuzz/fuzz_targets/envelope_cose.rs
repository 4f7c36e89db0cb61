//! A COSE_Sign1 envelope (`application/cose`) through to verification, as `envelope_jws`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pg_fuzz::verify::envelope("application/cose", data);
});
