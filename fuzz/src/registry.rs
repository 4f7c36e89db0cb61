//! A registry on 127.0.0.1 inside the fuzz process whose answers come from the fuzz input, so
//! that the real client (`RegistryClient`) and engine (`verify_image`) read them end to end:
//! the subject manifest, the Referrers API (status, Content-Type, Link pages), the tag-schema
//! index, the signature manifest and the envelope blob.
//!
//! Placeholders let mutated answers still point at each other by digest: `@SIG@`/`@SIGSIZE@`
//! (the signature manifest), `@ENV@`/`@ENVSIZE@` (the envelope), `@TARGET@`/`@TARGETSIZE@`
//! (the subject manifest). Only loopback is ever reached: the answers carry no redirect and no
//! 401 (so no token realm is followed), and `Link` pages stay on this host by the client's rule.

use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pullguard::oci::sha256_digest;

/// The subject every discovery input is about (an OCI image manifest).
pub const SUBJECT: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

#[derive(Default)]
pub struct Answers {
    /// Referrers API: status, Content-Type, Link.
    pub status: u16,
    pub content_type: String,
    pub link: String,
    /// Referrers pages: the first answer (the only one with `link`), then every later page.
    pub page1: Vec<u8>,
    pub page2: Vec<u8>,
    /// The `sha256-<hex>` tag (404 when empty).
    pub tag_index: Vec<u8>,
    pub signature: Vec<u8>,
    pub envelope: Vec<u8>,
    pages_served: usize,
}

static ANSWERS: Mutex<Option<Answers>> = Mutex::new(None);

/// Referrers statuses the registry may answer with: no redirect (a Location could point
/// anywhere) and no 401 (a challenge names a token realm).
fn status(code: u16) -> StatusCode {
    match code {
        200 | 201 | 204 | 400 | 403 | 404 | 405 | 406 | 429 | 500 | 502 | 503 => {
            StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
        }
        _ => StatusCode::OK,
    }
}

fn answer(path: &str) -> Response<Full<Bytes>> {
    let mut guard = ANSWERS.lock().unwrap_or_else(|p| p.into_inner());
    let a = guard.get_or_insert_with(Answers::default);
    let target = sha256_digest(SUBJECT.as_bytes());
    let tag = target.replace(':', "-");
    let repo = "/v2/fuzz/app/";
    let rest = path.strip_prefix(repo).unwrap_or("");
    let ok = |ct: &str, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        if let Ok(v) = ct.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    let not_found = || {
        let mut r = Response::new(Full::new(Bytes::from_static(
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}"#,
        )));
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    };
    if let Some(_d) = rest.strip_prefix("referrers/") {
        let body = if a.pages_served == 0 {
            a.page1.clone()
        } else {
            a.page2.clone()
        };
        a.pages_served += 1;
        let mut r = ok(&a.content_type, body);
        *r.status_mut() = status(a.status);
        // A next page only from the first answer: the client's page bound is a unit test's job;
        // here every input should stay fast.
        if a.pages_served == 1
            && let Ok(v) = a.link.parse()
        {
            r.headers_mut().insert(hyper::header::LINK, v);
        }
        return r;
    }
    if let Some(reference) = rest.strip_prefix("manifests/") {
        if reference == target {
            return ok("application/vnd.oci.image.manifest.v1+json", SUBJECT.into());
        }
        if reference == tag {
            if a.tag_index.is_empty() {
                return not_found();
            }
            return ok(
                "application/vnd.oci.image.index.v1+json",
                a.tag_index.clone(),
            );
        }
        if reference == sha256_digest(&a.signature) {
            return ok(
                "application/vnd.oci.image.manifest.v1+json",
                a.signature.clone(),
            );
        }
        return not_found();
    }
    if let Some(d) = rest.strip_prefix("blobs/")
        && d == sha256_digest(&a.envelope)
    {
        return ok("application/octet-stream", a.envelope.clone());
    }
    not_found()
}

/// Start the registry (once) on the fixture's runtime; its `host:port`.
pub fn start() -> &'static str {
    static ADDR: OnceLock<String> = OnceLock::new();
    ADDR.get_or_init(|| {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap().to_string();
        let rt = &crate::fixture().runtime;
        let _enter = rt.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        rt.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(answer(req.uri().path()))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    })
}

fn fill(template: &[u8], pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::from_utf8_lossy(template).into_owned();
    for (k, v) in pairs {
        s = s.replace(k, v);
    }
    s.into_bytes()
}

/// Set the answers for the next requests from the raw parts (placeholders filled in).
pub fn set(
    status: u16,
    content_type: &str,
    link: &str,
    pages: [&[u8]; 3],
    signature: &[u8],
    envelope: &[u8],
) {
    let target = sha256_digest(SUBJECT.as_bytes());
    let target_size = SUBJECT.len().to_string();
    let env_digest = sha256_digest(envelope);
    let env_size = envelope.len().to_string();
    let base = [
        ("@TARGETSIZE@", target_size.as_str()),
        ("@TARGET@", target.as_str()),
        ("@ENVSIZE@", env_size.as_str()),
        ("@ENV@", env_digest.as_str()),
    ];
    let signature = fill(signature, &base);
    let sig_digest = sha256_digest(&signature);
    let sig_size = signature.len().to_string();
    let all = [
        base[0],
        base[1],
        ("@SIGSIZE@", sig_size.as_str()),
        ("@SIG@", sig_digest.as_str()),
    ];
    let a = Answers {
        status,
        content_type: content_type.to_string(),
        link: link.to_string(),
        page1: fill(pages[0], &all),
        page2: fill(pages[1], &all),
        tag_index: fill(pages[2], &all),
        signature,
        envelope: envelope.to_vec(),
        pages_served: 0,
    };
    *ANSWERS.lock().unwrap_or_else(|p| p.into_inner()) = Some(a);
}
