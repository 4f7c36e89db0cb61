//! The mirror's own answers: small bodies, header values from outside data, the OCI errors.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::docker::Body;

pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|e| match e {}).boxed()
}

/// A header value from outside data; `None` when it cannot be one.
pub(super) fn value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(s).ok()
}

/// The denial: 403, the OCI error JSON, and the message as the reason phrase too, since a
/// HEAD answer has no body and containerd prints the status line.
pub(super) fn denied_response(message: &str) -> Response<Body> {
    error_response(StatusCode::FORBIDDEN, "DENIED", message)
}

/// The upstream registry could not be asked (down, timing out, 5xx): 503 `UNAVAILABLE`
/// (distribution's errcode), not a denial of the image.
pub(super) fn unavailable_response(message: &str) -> Response<Body> {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
}

pub(super) fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string();
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let phrase: Vec<u8> = message
        .bytes()
        .take(1024)
        .map(|b| {
            if b == b' ' || b.is_ascii_graphic() {
                b
            } else {
                b'?'
            }
        })
        .collect();
    if let Ok(p) = hyper::ext::ReasonPhrase::try_from(phrase) {
        r.extensions_mut().insert(p);
    }
    r
}

/// 416 for a range past the end of a blob of `size` bytes.
pub(super) fn unsatisfiable(size: u64) -> Response<Body> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
    if let Some(v) = value(&format!("bytes */{size}")) {
        r.headers_mut().insert(CONTENT_RANGE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_oci_errors_with_the_message_as_reason_phrase() {
        let r = denied_response("pullguard: denied x (sha256:1): \"no\"\nsignature ✗");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let phrase = r
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
            .unwrap();
        assert_eq!(
            phrase,
            "pullguard: denied x (sha256:1): \"no\"?signature ???"
        );
        assert_eq!(
            r.headers().get(CONTENT_TYPE).unwrap(),
            HeaderValue::from_static("application/json")
        );
    }
}
