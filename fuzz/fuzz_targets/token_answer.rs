//! A registry token endpoint's JSON answer (`token` / `access_token`, `expires_in`,
//! `refresh_token`), as the token cache reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pullguard::token::fuzz_answer(data);
});
