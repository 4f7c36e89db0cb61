//! Signature discovery answers: a registry (in this process, on 127.0.0.1) answers from the
//! input, and `verify_image` reads them end to end: the Referrers API index and its Link
//! pages, the tag-schema index, the signature manifest's shape rules, the envelope.
//! Input parts: `STATUS CONTENT-TYPE` line + Link line | page 1 | page 2 | tag-schema index |
//! signature manifest | envelope | a WWW-Authenticate challenge (parsed only).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pg_fuzz::verify::discovery(data);
});
