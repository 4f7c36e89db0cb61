//! A mirror request: the distribution API path (`/v2/<name>/manifests|blobs/<ref>`) and the
//! `?ns=` query, as the mirror routes them to an image reference.
//! Input parts: path | query.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = pg_fuzz::parts(data, 2);
    let path = pg_fuzz::text(p[0]);
    let query = p.get(1).map(|q| pg_fuzz::text(q));
    let _ = pullguard::mirror::fuzz_route(&path, query.as_deref());
});
