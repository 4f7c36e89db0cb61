//! A small HTTP/1.1 client for registries: plain HTTP without any TLS setup, HTTPS through
//! OpenSSL set up on first use ([`crate::https`]: the system roots looked up by hash when a
//! handshake needs one), per-registry trust
//! ([`crate::tls`]: certs.d and `[registries]`), HTTP proxies chosen as Go chooses them
//! ([`crate::proxy_env`]; a CONNECT tunnel for https), pooled connections, redirects, a
//! deadline per request and bounded body reads.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::https::HttpsConnector;
use crate::proxy_env::{Proxy, ProxyConfig};
use crate::tls::RegistryHosts;

const UA: &str = concat!("pullguard/", env!("CARGO_PKG_VERSION"));

type Plain = Client<ProxyConnector, Full<Bytes>>;
type Tls = Client<HttpsConnector, Full<Bytes>>;

#[derive(Clone)]
pub struct Http {
    plain: Plain,
    tls: Arc<OnceLock<Result<Tls, String>>>,
    /// Clients for registries with their own trust (a CA, a client certificate, insecure).
    /// `None`: the host has nothing of its own (the shared client), remembered too.
    per_host: Arc<Mutex<HashMap<String, Option<Tls>>>>,
    hosts: Arc<RegistryHosts>,
    proxies: Arc<ProxyConfig>,
    /// Bearer tokens, shared by every client made from this one (see [`crate::token`]).
    pub tokens: Arc<crate::token::TokenCache>,
    connect_timeout: Duration,
    request_timeout: Duration,
    /// Set when h2 is offered to TLS registries ([`Http::offering_h2`]): where the h2
    /// connections' TLS alerts are kept for the errors of their requests.
    tls_alerts: Option<Arc<crate::https::TlsAlerts>>,
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

/// How far hyper's HTTP/1.1 read buffer may grow (its default is ~400 KiB). It grows only when
/// reads fill it, so small answers keep small buffers; a blob streamed through the mirror is
/// read in pieces of up to this size, each one frame to hash and pass on. With the default,
/// a 512 MiB layer took ~1,440 reads and as many cross-thread wake-ups, and the scheduling
/// (task switches, wake-ups, softirqs: 22% of the daemon's CPU) cost as much as the copies:
/// at 4 MiB, 1.72 → 1.42 s of daemon CPU per GiB and +30% throughput (`COMPARE=`
/// `bash scripts/bench-mirror.sh`; +9% in another run). The cost is memory when the upstream is
/// faster than the mirror: a stream holds up to about two such buffers (the one being read,
/// the one being written): one 512 MiB blob peaks at 35 MB of daemon RSS (16 MB before), eight
/// at once at 87 MB (24 MB before), for no more throughput then (the cores are busy either
/// way). A registry over the internet rarely fills even the default. It is also the limit on an
/// answer's header block, as before.
const READ_BUF_MAX: usize = 4 << 20;

/// The plain client: HTTP/1.1 over TCP (or a proxy's tunnel).
fn plain_client(pc: ProxyConnector) -> Plain {
    Client::builder(TokioExecutor::new())
        .http1_max_buf_size(READ_BUF_MAX)
        .build(pc)
}

/// A client over `https`. Under h2, response headers may take as much as HTTP/1.1 lets them
/// (16 KiB is hyper's h2 default): a registry or a CDN in front of one answering with long
/// headers works the same either way.
fn tls_client(https: HttpsConnector) -> Tls {
    Client::builder(TokioExecutor::new())
        .http1_max_buf_size(READ_BUF_MAX)
        .http2_max_header_list_size(400 * 1024)
        .build(https)
}

/// The process environment's proxies, read once (as Go's `envProxyFunc`).
pub fn env_proxies() -> Arc<ProxyConfig> {
    static ENV: OnceLock<Arc<ProxyConfig>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(ProxyConfig::from_env()))
        .clone()
}

impl Http {
    /// Default trust (system roots) and the environment's proxies.
    pub fn new(connect_timeout: Duration, request_timeout: Duration) -> Http {
        Http::with(
            connect_timeout,
            request_timeout,
            Arc::new(RegistryHosts::default()),
            env_proxies(),
        )
    }

    pub fn with(
        connect_timeout: Duration,
        request_timeout: Duration,
        hosts: Arc<RegistryHosts>,
        proxies: Arc<ProxyConfig>,
    ) -> Http {
        let pc = ProxyConnector {
            inner: connector(connect_timeout),
            proxies: proxies.clone(),
            ahead: None,
        };
        let plain = plain_client(pc);
        Http {
            plain,
            tls: Arc::new(OnceLock::new()),
            per_host: Arc::new(Mutex::new(HashMap::new())),
            hosts,
            proxies,
            tokens: Arc::new(crate::token::TokenCache::default()),
            connect_timeout,
            request_timeout,
            tls_alerts: None,
        }
    }

    /// The same, offering HTTP/2 to TLS registries (see [`crate::https`]): for the one-shot
    /// CLI, whose requests of a verification then share one connection and handshake.
    pub fn offering_h2(self) -> Http {
        Http {
            tls_alerts: Some(Arc::default()),
            ..self
        }
    }

    /// The same, its first two plain-HTTP connections to `registry` opened together (see
    /// [`Ahead`]): for the one-shot CLI, whose second request to the registry then finds its
    /// connection made.
    pub fn connecting_ahead(self, registry: &str) -> Http {
        let pc = ProxyConnector {
            ahead: Ahead::new(registry).map(Arc::new),
            ..self.proxy_connector()
        };
        Http {
            plain: plain_client(pc),
            ..self
        }
    }

    fn https_connector(&self, ctx: crate::https::LazyContext) -> HttpsConnector {
        match &self.tls_alerts {
            Some(alerts) => {
                HttpsConnector::offering_h2(self.proxy_connector(), ctx, alerts.clone())
            }
            None => HttpsConnector::new(self.proxy_connector(), ctx),
        }
    }

    pub fn hosts(&self) -> &RegistryHosts {
        &self.hosts
    }

    fn proxy_connector(&self) -> ProxyConnector {
        ProxyConnector {
            inner: connector(self.connect_timeout),
            proxies: self.proxies.clone(),
            ahead: None,
        }
    }

    fn tls(&self) -> Result<&Tls, String> {
        self.tls
            .get_or_init(|| {
                // Built at the first TLS connect, beside its TCP handshake.
                let h2 = self.tls_alerts.is_some();
                let ctx = crate::https::LazyContext::new(move || {
                    crate::https::context_builder(h2)
                        .map(|b| b.build())
                        .map_err(|e| format!("cannot set up TLS: {e}"))
                });
                Ok(tls_client(self.https_connector(ctx)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The TLS client for `authority`: its own when certs.d or the config give it a CA, a
    /// client certificate or `insecure`; else the shared one. Read on first use per host.
    fn tls_for(&self, authority: &str) -> Result<Tls, String> {
        match self
            .per_host
            .lock()
            .ok()
            .and_then(|m| m.get(authority).cloned())
        {
            Some(Some(c)) => return Ok(c),
            Some(None) => return self.tls().cloned(),
            None => {}
        }
        let t = self.hosts.tls_for(authority)?;
        if t.is_default() {
            if let Ok(mut m) = self.per_host.lock() {
                m.insert(authority.to_string(), None);
            }
            return self.tls().cloned();
        }
        let ctx = crate::tls::connector(authority, &t, self.tls_alerts.is_some())?;
        let https = self.https_connector(crate::https::LazyContext::ready(ctx));
        let client: Tls = tls_client(https);
        if let Ok(mut m) = self.per_host.lock() {
            m.insert(authority.to_string(), Some(client.clone()));
        }
        Ok(client)
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
            let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
            let same_host = Some(&authority) == origin.as_ref();
            let mut req = Request::builder().method(method.clone()).uri(uri.clone());
            for (k, v) in headers {
                if *k == AUTHORIZATION && !same_host {
                    continue;
                }
                let v = HeaderValue::from_str(v)
                    .map_err(|_| format!("invalid header value for {k}"))?;
                req = req.header(k, v);
            }
            if uri.scheme_str() == Some("http")
                && let Ok(Some(Proxy {
                    authorization: Some(a),
                    ..
                })) = self
                    .proxies
                    .proxy_for("http", uri.host().unwrap_or(""), uri.port_u16())
            {
                req = req.header(hyper::header::PROXY_AUTHORIZATION, a);
            }
            let req = req
                .header(USER_AGENT, UA)
                .body(Full::new(body.clone()))
                .map_err(|e| format!("cannot build the request to {uri}: {e}"))?;
            let fut = async {
                match uri.scheme_str() {
                    Some("https") => {
                        let client = self.tls_for(&authority)?;
                        client.request(req).await.map_err(|e| {
                            let mut raw = error_chain(&e);
                            // Under h2 a request on a connection that failed learns only
                            // that it closed: what failed is in the connection's TLS alert.
                            let closed = ["closed", "canceled", "connection error"]
                                .iter()
                                .any(|w| raw.contains(w));
                            if closed
                                && let Some(tls) =
                                    self.tls_alerts.as_ref().and_then(|a| a.recent(&authority))
                                && !raw.contains(&tls)
                            {
                                raw = format!("{raw}: {tls}");
                            }
                            self.hosts.explain(&authority, &raw).unwrap_or(raw)
                        })
                    }
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

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A TCP connection, straight or through an HTTP proxy: for https a `CONNECT` tunnel (TLS
/// then runs inside it, end to end), for http the proxy itself (requests in absolute form).
#[derive(Clone)]
pub struct ProxyConnector {
    inner: HttpConnector,
    proxies: Arc<ProxyConfig>,
    /// Set for the one-shot CLI ([`Http::connecting_ahead`]).
    ahead: Option<Arc<Ahead>>,
}

type Opening = tokio::task::JoinHandle<Result<TokioIo<TcpStream>, String>>;

/// A second plain-HTTP connection to the registry being verified, opened beside the first.
/// By tag, a verification's first answer (the resolve) is followed by two questions at once
/// (the Referrers API and the tag schema's index, notation's two ways to list signatures):
/// one goes on the connection the resolve freed, the other needed a new one, a TCP handshake
/// more on the critical path (one round trip: with the registry 10 ms away, `RTT_MS=10 bash
/// scripts/bench-verify.sh`, pullguard by tag was 22 ms behind by digest instead of 10).
/// Only by tag (by digest the first three questions go at once), only that registry (a token
/// server is asked once), only direct plain-HTTP connections (through a proxy, or TLS, they
/// are made as asked), one spare; when the chain ends after one request the spare is closed
/// unused at exit.
pub struct Ahead {
    /// `host:port` of the registry.
    authority: String,
    spare: Mutex<Spare>,
}

enum Spare {
    NotYet,
    Opening(Opening),
    Taken,
}

/// `host:port`, the port defaulting to HTTP's.
fn authority_of(host: &str, port: Option<u16>) -> String {
    format!("{host}:{}", port.unwrap_or(80))
}

impl Ahead {
    /// For `registry` (`host[:port]`); `None` if that is no authority.
    fn new(registry: &str) -> Option<Ahead> {
        let uri: Uri = format!("http://{registry}/").parse().ok()?;
        Some(Ahead {
            authority: authority_of(uri.host()?, uri.port_u16()),
            spare: Mutex::new(Spare::NotYet),
        })
    }

    /// For a connect to `authority`: the first to the registry opens the spare with `open`
    /// and connects as usual (`None`), the second takes the spare, the others connect as
    /// usual.
    fn take(&self, authority: &str, open: impl FnOnce() -> Opening) -> Option<Opening> {
        if authority != self.authority {
            return None;
        }
        let mut spare = self.spare.lock().ok()?;
        match std::mem::replace(&mut *spare, Spare::Taken) {
            Spare::NotYet => {
                *spare = Spare::Opening(open());
                None
            }
            Spare::Opening(o) => Some(o),
            Spare::Taken => None,
        }
    }
}

pub struct Conn {
    io: TokioIo<TcpStream>,
    /// Plain HTTP to a proxy: hyper writes absolute-form request targets.
    to_proxy: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.to_proxy)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tower::Service<Uri> for ProxyConnector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.inner, cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let proxies = self.proxies.clone();
        let ahead = self.ahead.clone();
        Box::pin(async move {
            let scheme = dst.scheme_str().unwrap_or("http").to_string();
            let host = dst.host().unwrap_or("").to_string();
            let port = dst.port_u16();
            let Some(proxy) = proxies.proxy_for(&scheme, &host, port)? else {
                if let Some(ahead) = ahead.filter(|_| scheme == "http") {
                    let authority = authority_of(&host, port);
                    let (mut spare, to) = (inner.clone(), dst.clone());
                    let open = move || {
                        tokio::spawn(
                            async move { spare.call(to).await.map_err(|e| error_chain(&e)) },
                        )
                    };
                    // A spare that did not connect: this connect tries again (and reports).
                    if let Some(opening) = ahead.take(&authority, open)
                        && let Ok(Ok(io)) = opening.await
                    {
                        return Ok(Conn {
                            io,
                            to_proxy: false,
                        });
                    }
                }
                let io = inner.call(dst).await?;
                return Ok(Conn {
                    io,
                    to_proxy: false,
                });
            };
            let shown = proxy.redacted();
            let proxy_uri: Uri = format!("http://{}", proxy.authority)
                .parse()
                .map_err(|e| format!("proxy {shown}: {e}"))?;
            let io = inner
                .call(proxy_uri)
                .await
                .map_err(|e| format!("cannot reach proxy {shown}: {}", error_chain(&e)))?;
            tracing::debug!(proxy = %shown, %scheme, %host, "through the proxy");
            if scheme != "https" {
                return Ok(Conn { io, to_proxy: true });
            }
            let target = match port {
                Some(p) if host.contains(':') => format!("[{host}]:{p}"),
                Some(p) => format!("{host}:{p}"),
                None if host.contains(':') => format!("[{host}]:443"),
                None => format!("{host}:443"),
            };
            let tcp = tunnel(io.into_inner(), &target, proxy.authorization.as_deref())
                .await
                .map_err(|e| format!("proxy {shown}: {e}"))?;
            Ok(Conn {
                io: TokioIo::new(tcp),
                to_proxy: false,
            })
        })
    }
}

/// `CONNECT target HTTP/1.1` and a `2xx` answer: the stream is then the tunnel.
async fn tunnel(mut tcp: TcpStream, target: &str, auth: Option<&str>) -> Result<TcpStream, String> {
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {UA}\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("CONNECT {target}: {e}"))?;
    // Byte by byte up to the blank line: nothing of the tunnel may be read here.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(format!("CONNECT {target}: answer headers too large"));
        }
        let b = tcp
            .read_u8()
            .await
            .map_err(|e| format!("CONNECT {target}: no answer ({e})"))?;
        head.push(b);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.lines().next().unwrap_or("").trim().to_string();
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if !code.starts_with('2') || !status.starts_with("HTTP/1.") {
        return Err(format!("CONNECT {target} refused: {status:?}"));
    }
    Ok(tcp)
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A loopback listener that counts the connections it accepts (and keeps them open).
    async fn counting_listener() -> (Uri, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(s);
            }
        });
        (uri, accepted)
    }

    /// The count once it reached `want` (or after 1 s), and 50 ms more: long enough for a
    /// connection nobody should have opened to show.
    async fn settle(accepted: &AtomicUsize, want: usize) -> usize {
        for _ in 0..200 {
            if accepted.load(Ordering::SeqCst) >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        accepted.load(Ordering::SeqCst)
    }

    fn direct(ahead: Option<&Uri>) -> ProxyConnector {
        ProxyConnector {
            inner: connector(Duration::from_secs(5)),
            proxies: Arc::new(ProxyConfig::default()),
            ahead: ahead
                .and_then(|u| u.authority())
                .and_then(|a| Ahead::new(a.as_str()))
                .map(Arc::new),
        }
    }

    /// The TLS context is built at the first TLS connect, after that connect's SYN went out:
    /// the build finds the connection in the listener's queue (built first, as before, it
    /// would find the queue empty). A failed build fails the connect with its error.
    #[tokio::test]
    async fn the_tls_context_is_built_while_the_first_connect_is_under_way() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let uri: Uri = format!("https://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let queued = Arc::new(Mutex::new(Vec::new()));
        let seen = queued.clone();
        let ctx = crate::https::LazyContext::new(move || {
            seen.lock().unwrap().push(listener.accept().is_ok());
            crate::https::context_builder(false)
                .map(|b| b.build())
                .map_err(|e| e.to_string())
        });
        let mut https = HttpsConnector::new(direct(None), ctx.clone());
        assert!(!ctx.is_built(), "built before any connect");
        // The listener's side closes at once (it was taken by the build and dropped), so the
        // handshake fails; what counts is when the context was built.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            tower::Service::<Uri>::call(&mut https, uri.clone()),
        )
        .await;
        assert!(ctx.is_built());
        assert_eq!(*queued.lock().unwrap(), vec![true]);
        // Built once: a second connect does not build again (nobody accepts it: the
        // handshake waits, and the timeout ends it).
        let _ = tokio::time::timeout(
            Duration::from_millis(200),
            tower::Service::<Uri>::call(&mut https, uri),
        )
        .await;
        assert_eq!(queued.lock().unwrap().len(), 1);

        let failing = crate::https::LazyContext::new(|| Err("cannot set up TLS: test".into()));
        let (plain, _) = counting_listener().await;
        let tls: Uri = format!("https://{}/", plain.authority().unwrap())
            .parse()
            .unwrap();
        let mut https = HttpsConnector::new(direct(None), failing);
        let e = match tower::Service::<Uri>::call(&mut https, tls).await {
            Ok(_) => panic!("connected without a context"),
            Err(e) => e.to_string(),
        };
        assert_eq!(e, "cannot set up TLS: test");
        // Plain HTTP needs no context.
        assert!(tower::Service::<Uri>::call(&mut https, plain).await.is_ok());
    }

    #[tokio::test]
    async fn connecting_ahead_opens_the_second_connection_beside_the_first() {
        let (uri, accepted) = counting_listener().await;
        let (other, other_accepted) = counting_listener().await;
        let mut pc = direct(Some(&uri));
        let _a = tower::Service::call(&mut pc, uri.clone()).await.unwrap();
        assert_eq!(
            settle(&accepted, 2).await,
            2,
            "the first connect opens a spare"
        );
        let _b = tower::Service::call(&mut pc, uri.clone()).await.unwrap();
        assert_eq!(settle(&accepted, 2).await, 2, "the second takes the spare");
        let _c = tower::Service::call(&mut pc, uri.clone()).await.unwrap();
        assert_eq!(settle(&accepted, 3).await, 3, "later ones connect as asked");
        // Another authority (a token server, say) is connected as asked.
        let _d = tower::Service::call(&mut pc, other.clone()).await.unwrap();
        assert_eq!(settle(&other_accepted, 1).await, 1);
        let _e = tower::Service::call(&mut pc, other).await.unwrap();
        assert_eq!(settle(&other_accepted, 2).await, 2);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn without_connecting_ahead_each_connect_is_one_connection() {
        let (uri, accepted) = counting_listener().await;
        let mut pc = direct(None);
        let _a = tower::Service::call(&mut pc, uri.clone()).await.unwrap();
        assert_eq!(settle(&accepted, 1).await, 1);
        let _b = tower::Service::call(&mut pc, uri).await.unwrap();
        assert_eq!(settle(&accepted, 2).await, 2);
    }

    #[tokio::test]
    async fn a_spare_that_did_not_connect_is_connected_again() {
        // Nothing listens: the first connect and its spare fail; the second connect tries
        // again and reports its own error.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri: Uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let mut pc = direct(Some(&uri));
        assert!(tower::Service::call(&mut pc, uri.clone()).await.is_err());
        let e = tower::Service::call(&mut pc, uri).await.err().unwrap();
        assert!(
            error_chain(e.as_ref()).contains("refused"),
            "{}",
            error_chain(e.as_ref())
        );
    }

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
