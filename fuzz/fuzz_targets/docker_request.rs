//! What a Docker client sends the proxy: the request path (percent-decoding, API version),
//! the query (`fromImage`, `tag`), the image reference built from them, a `containers/create`
//! body, and the `X-Registry-Auth` header.
//! Input parts: path | query | X-Registry-Auth | body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pullguard::http::{pct_decode, pct_encode, query_pairs};

fuzz_target!(|data: &[u8]| {
    let p = pg_fuzz::parts(data, 4);
    let get = |i: usize| p.get(i).map(|b| pg_fuzz::text(b)).unwrap_or_default();
    let (path, query, auth) = (get(0), get(1), get(2));
    let body = p.get(3).copied().unwrap_or_default();
    let pairs = query_pairs(Some(&query));
    let find = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let from = find("fromImage").unwrap_or("");
    let out = pullguard::docker::fuzz_parsers(&path, from, find("tag"), body);
    let _ = pullguard::oci::ImageRef::parse(from);
    // The proxy rewrites the query from the decoded pairs: it must read back the same.
    for (k, v) in &pairs {
        assert_eq!(
            pct_decode(&pct_encode(v)),
            *v,
            "value {v:?} of {k:?} does not round-trip"
        );
    }
    let _ = pullguard::auth::from_x_registry_auth(&auth);
    std::hint::black_box(out);
});
