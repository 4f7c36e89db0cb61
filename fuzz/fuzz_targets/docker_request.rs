//! What reaches the Docker guard, from the proxy's socket or as dockerd's authorization-plugin
//! request (`{"RequestMethod":…,"RequestUri":…,"RequestBody":<base64>,…}`, when the input is
//! a JSON object): the request target (origin or absolute form, percent-decoding, the API
//! version), the route, the query (`fromImage`, `tag`), the reference built from them, the
//! rewritten pull query (asserted to read back the same), a `containers/create` body, and the
//! `X-Registry-Auth` header.
//! Raw input parts: method | request target | X-Registry-Auth | Content-Type | body.
#![no_main]
use base64::Engine as _;
use hyper::Method;
use libfuzzer_sys::fuzz_target;
use pullguard::config::DockerSection;
use pullguard::docker::authz::AuthzRequest;
use pullguard::docker::route::{self, Call};
use pullguard::http::query_pairs;

fuzz_target!(|data: &[u8]| {
    let (method, uri, auth, content_type, body) = if data.first() == Some(&b'{') {
        let Ok(r) = serde_json::from_slice::<AuthzRequest>(data) else {
            return;
        };
        let body = r
            .body
            .as_deref()
            .map(|b| base64::engine::general_purpose::STANDARD.decode(b));
        let Ok(body) = body.transpose() else {
            return;
        };
        let ct = r.headers.as_ref().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone())
        });
        (r.method, r.uri, String::new(), ct, body.unwrap_or_default())
    } else {
        let p = pg_fuzz::parts(data, 5);
        let get = |i: usize| p.get(i).map(|b| pg_fuzz::text(b)).unwrap_or_default();
        let body = p.get(4).copied().unwrap_or_default().to_vec();
        (get(0), get(1), get(2), Some(get(3)), body)
    };
    let _ = pullguard::auth::from_x_registry_auth(&auth);
    let _ = route::create_image(&body);
    let _ = route::is_form(content_type.as_deref());
    let Some((path, query)) = route::request_target(&uri) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let (_version, p) = route::split_version(&path);
    let call = route::classify(&method, p, &DockerSection::default());
    let pairs = query_pairs(Some(query));
    if call == Call::Pull
        && let Some(from) = route::query_get(&pairs, "fromImage")
    {
        let t = route::pull_target(from, route::query_get(&pairs, "tag"));
        let _ = pullguard::oci::ImageRef::parse(&t.name);
        if let Some(d) = &t.digest {
            let _ = pullguard::oci::ImageRef::parse(&format!("{}@{d}", t.name));
        }
        if let Some(tag) = &t.tag {
            let _ = pullguard::oci::ImageRef::parse(&format!("{}:{tag}", t.name));
        }
    }
    // The proxy pulls with a query it re-encodes from the decoded pairs: dockerd must read back
    // exactly those pairs, or the verified image and the pulled one could differ.
    let again = query_pairs(Some(&route::encode_query(&pairs)));
    assert_eq!(again, pairs, "the re-encoded query reads back differently");
});
