//! A verification plugin's answers: its `get-plugin-metadata` stdout (checked as notation-go
//! checks it), a failed command's stderr (notation's RequestError JSON), and its
//! `verify-signature` stdout. A plugin is a local program, but what it prints is data.
//! Input parts: metadata | stderr | verify response.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = pg_fuzz::parts(data, 3);
    let part = |i: usize| p.get(i).copied().unwrap_or_default();
    let _ = pullguard::plugin::fuzz_output(part(0), part(1), part(2));
});
