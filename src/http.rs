//! A small HTTP/1.1 client for registries: plain HTTP without any TLS setup, HTTPS through
//! OpenSSL built lazily on first use (loading the system roots costs tens of milliseconds, which
//! a one-shot `verify` against a plain-HTTP registry should not pay), pooled connections,
//! redirects, a deadline per request and bounded body reads.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_tls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

const UA: &str = concat!("pullguard/", env!("CARGO_PKG_VERSION"));

type Plain = Client<HttpConnector, Full<Bytes>>;
type Tls = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Clone)]
pub struct Http {
    plain: Plain,
    tls: std::sync::Arc<OnceLock<Result<Tls, String>>>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

/// A response whose body is still to be read, before the request's deadline.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: Incoming,
    deadline: Instant,
}

fn connector(connect_timeout: Duration) -> HttpConnector {
    let mut c = HttpConnector::new();
    c.set_connect_timeout(Some(connect_timeout));
    c.set_nodelay(true);
    c.enforce_http(false);
    c
}

impl Http {
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Http {
        let plain = Client::builder(TokioExecutor::new()).build(connector(connect_timeout));
        Http {
            plain,
            tls: std::sync::Arc::new(OnceLock::new()),
            connect_timeout,
            request_timeout,
        }
    }

    fn tls(&self) -> Result<&Tls, String> {
        self.tls
            .get_or_init(|| {
                let tls = hyper_tls::native_tls::TlsConnector::new()
                    .map_err(|e| format!("cannot set up TLS: {e}"))?;
                let https = HttpsConnector::from((connector(self.connect_timeout), tls.into()));
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Send one request (following up to 5 redirects; `Authorization` is dropped when a
    /// redirect leaves the original host). The deadline covers headers and body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(hyper::header::HeaderName, String)],
        body: Bytes,
    ) -> Result<Resp, String> {
        let deadline = Instant::now() + self.request_timeout;
        let mut uri: Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let origin = uri.authority().map(|a| a.to_string());
        for _ in 0..6 {
            let same_host = uri.authority().map(|a| a.to_string()) == origin;
            let mut req = Request::builder().method(method.clone()).uri(uri.clone());
            for (k, v) in headers {
                if *k == AUTHORIZATION && !same_host {
                    continue;
                }
                let v = HeaderValue::from_str(v)
                    .map_err(|_| format!("invalid header value for {k}"))?;
                req = req.header(k, v);
            }
            let req = req
                .header(USER_AGENT, UA)
                .body(Full::new(body.clone()))
                .map_err(|e| format!("cannot build the request to {uri}: {e}"))?;
            let fut = async {
                match uri.scheme_str() {
                    Some("https") => self.tls()?.request(req).await.map_err(|e| error_chain(&e)),
                    Some("http") => self.plain.request(req).await.map_err(|e| error_chain(&e)),
                    other => Err(format!("unsupported URL scheme {other:?}")),
                }
            };
            let resp = tokio::time::timeout_at(deadline, fut)
                .await
                .map_err(|_| {
                    format!(
                        "request to {uri} timed out after {:?}",
                        self.request_timeout
                    )
                })?
                .map_err(|e| format!("request to {uri} failed: {e}"))?;
            if resp.status().is_redirection()
                && let Some(loc) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok())
            {
                uri = join(&uri, loc)?;
                continue;
            }
            let (parts, body) = resp.into_parts();
            return Ok(Resp {
                status: parts.status,
                headers: parts.headers,
                body,
                deadline,
            });
        }
        Err(format!("too many redirects from {url}"))
    }
}

/// Resolve a `Location` against the URL it came from.
fn join(base: &Uri, loc: &str) -> Result<Uri, String> {
    if loc.contains("://") {
        return loc
            .parse()
            .map_err(|e| format!("invalid redirect {loc:?}: {e}"));
    }
    let scheme = base.scheme_str().unwrap_or("https");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let path = if loc.starts_with('/') {
        loc.to_string()
    } else {
        let p = base.path();
        format!("{}/{loc}", &p[..p.rfind('/').unwrap_or(0)])
    };
    format!("{scheme}://{authority}{path}")
        .parse()
        .map_err(|e| format!("invalid redirect {loc:?}: {e}"))
}

impl Resp {
    /// Read the body, failing once more than `max` bytes arrive or the deadline passes.
    pub async fn read_limited(mut self, max: u64) -> Result<Bytes, String> {
        let mut buf = bytes::BytesMut::new();
        loop {
            let frame = tokio::time::timeout_at(self.deadline, self.body.frame())
                .await
                .map_err(|_| "timed out reading the response body".to_string())?;
            let Some(frame) = frame else { break };
            let frame =
                frame.map_err(|e| format!("reading the response failed: {}", error_chain(&e)))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() as u64 + data.len() as u64 > max {
                    return Err(format!("response is larger than the {max}-byte limit"));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    }

    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }

    pub fn into_body(self) -> Incoming {
        self.body
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `a=1&b=%2F` → [("a", "1"), ("b", "/")] (form decoding: `+` is a space).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

/// Undo percent-encoding (and `+` for a space); invalid escapes are kept as they are.
pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A gRPC channel over a Unix socket (tonic needs a URI; the connector ignores it). `what` names
/// the peer in the error: "containerd", "the pullguard daemon".
pub async fn unix_grpc_channel(
    path: &std::path::Path,
    what: &str,
) -> Result<tonic::transport::Channel, String> {
    let p = path.to_path_buf();
    tonic::transport::Endpoint::try_from("http://[::]:50051")
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let p = p.clone();
            async move {
                tokio::net::UnixStream::connect(p)
                    .await
                    .map(hyper_util::rt::TokioIo::new)
            }
        }))
        .await
        .map_err(|e| {
            format!(
                "cannot reach {what} at {}: {}",
                path.display(),
                error_chain(&e)
            )
        })
}

/// The error and its sources on one line (hyper's top-level message alone is vague).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_join() {
        let base: Uri = "http://a:5000/v2/x/blobs/sha256:1".parse().unwrap();
        assert_eq!(
            join(&base, "/b/c").unwrap().to_string(),
            "http://a:5000/b/c"
        );
        assert_eq!(
            join(&base, "https://s3/x?y=1").unwrap().to_string(),
            "https://s3/x?y=1"
        );
        assert_eq!(
            join(&base, "d").unwrap().to_string(),
            "http://a:5000/v2/x/blobs/d"
        );
    }
}
