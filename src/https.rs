//! HTTPS to registries: OpenSSL through tokio-openssl, on top of [`ProxyConnector`] (so a
//! CONNECT tunnel carries it when a proxy applies).
//!
//! The system roots are looked up by subject hash in OpenSSL's certificate directory when a
//! certificate needs one (`/etc/ssl/certs`, kept hashed by `update-ca-certificates`), not read
//! from the bundle file up front. OpenSSL's default paths (what native-tls and
//! `SslConnector::builder` set) parse the whole bundle, ~140 certificates through OpenSSL 3.0's
//! key decoders, for every connector: 40 ms and more per `pullguard verify` of an HTTPS
//! registry, more than the whole rest of the verification. The bundle file is still read, up
//! front, when `SSL_CERT_FILE` names one or the directory holds no hashed names.
//!
//! What the handshake checks is what `SslConnector` (and so native-tls) checks: the peer's
//! chain against the roots, the host name (no partial wildcards) or IP address the request
//! names (SNI sent for names), TLS 1.2 at least, SslConnector's cipher list.
//!
//! The one-shot CLI offers HTTP/2 by ALPN (`h2`, then `http/1.1`), as Go's client (and so
//! notation) offers it: a registry that takes it serves every request of a verification on one
//! connection, one handshake instead of one per request in flight. hyper-util's pool only holds
//! a request back for a connection under way when it is told up front that the host speaks h2,
//! which ALPN learns only from the first handshake; so the connector does it (see
//! [`HttpsConnector`]). The daemon stays on HTTP/1.1: its connections are pooled, so the
//! handshakes are paid once, and over one h2 connection the mirror's blob streams would share a
//! flow-control window with the verifications (a slow puller stalling the others).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use openssl::ssl::{
    Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode, SslOptions, SslVerifyMode,
    SslVersion,
};
use openssl::x509::X509VerifyResult;
use openssl::x509::verify::X509CheckFlags;
use tokio_openssl::SslStream;

use crate::http::{BoxError, Conn, ProxyConnector};

/// Where the system roots are, as OpenSSL names them: `SSL_CERT_FILE` / `SSL_CERT_DIR`, else
/// `OPENSSLDIR/cert.pem` and `OPENSSLDIR/certs`.
struct SystemRoots {
    file: Option<PathBuf>,
    dirs: Vec<PathBuf>,
}

fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let openssl_dir = openssl::version::dir()
            .split('"')
            .nth(1)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/ssl"));
        let env_file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        let env_dirs = std::env::var_os("SSL_CERT_DIR").map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect::<Vec<_>>()
        });
        let dirs = env_dirs.unwrap_or_else(|| vec![openssl_dir.join("certs")]);
        // The bundle is read when asked for by name, or when no directory can be looked up.
        let file = match env_file {
            Some(f) => Some(f),
            None if dirs.iter().any(|d| has_hashed_names(d)) => None,
            None => Some(openssl_dir.join("cert.pem")),
        };
        SystemRoots { file, dirs }
    })
}

/// Does `dir` hold `HHHHHHHH.N` names (OpenSSL's by-hash lookup, made by `c_rehash`)?
fn has_hashed_names(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.split_once('.').is_some_and(|(hash, n)| {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// A client context as `SslConnector::builder` makes one, with the system roots looked up
/// on demand, offering h2 by ALPN when `http2`; the caller adds a registry's own CAs and
/// client identity.
pub fn context_builder(http2: bool) -> Result<SslContextBuilder, openssl::error::ErrorStack> {
    // The default provider's ciphers, fetched once for the whole process (OpenSSL 3 builds all
    // of them at the first fetch). `Cipher::fetch` does not wait for OpenSSL's start on the
    // trust loader's thread (openssl-sys's `init`, which `SslContext::builder` takes), so this
    // ~0.7 ms of the context's set-up runs beside that start instead of after it; what is
    // left of `ssl_load_ciphers` then finds the ciphers built. A failure here is the
    // builder's to report.
    let _ = openssl::cipher::Cipher::fetch(None, "AES-128-GCM", None);
    let mut b = SslContext::builder(SslMethod::tls_client())?;
    let mut opts =
        SslOptions::ALL | SslOptions::NO_COMPRESSION | SslOptions::NO_SSLV2 | SslOptions::NO_SSLV3;
    opts &= !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS;
    b.set_options(opts);
    b.set_mode(
        SslMode::AUTO_RETRY
            | SslMode::ACCEPT_MOVING_WRITE_BUFFER
            | SslMode::ENABLE_PARTIAL_WRITE
            | SslMode::RELEASE_BUFFERS,
    );
    // Read ahead: a read from the socket takes what is there (several records) into OpenSSL's
    // buffer, instead of one read for a record's header and one for its body (blobs through
    // the mirror). Not under h2 (the CLI, small answers): there a registry's refusal of a
    // missing client certificate (TLS 1.3 sends the alert after the handshake) was read too
    // late for the failed request to name it, in most runs under load
    // (`tests/registries.rs::tls_client_certificates`).
    b.set_read_ahead(!http2);
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    // SslConnector's cipher list (no anonymous, null, MD5, DES/3DES, RC4, IDEA, SEED, DSS,
    // SRP or PSK suites), whatever a system openssl.cnf says.
    b.set_cipher_list("DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK")?;
    b.set_verify(SslVerifyMode::PEER);
    if http2 {
        b.set_alpn_protos(ALPN_H2_HTTP1)?;
    }
    let roots = system_roots();
    for dir in &roots.dirs {
        if let Some(d) = dir.to_str() {
            b.cert_store_mut()
                .add_lookup(openssl::x509::store::X509Lookup::hash_dir())?
                .add_dir(d, SslFiletype::PEM)?;
        }
    }
    if let Some(file) = &roots.file
        && file.exists()
    {
        b.set_ca_file(file)?;
    }
    Ok(b)
}

/// A connector's TLS context, built at most once: given ([`LazyContext::ready`]), or built at
/// the connector's first TLS connect once that connect's TCP handshake (or name lookup, or
/// proxy connect) is under way ([`LazyContext::new`]), so that the ~2-3 ms OpenSSL takes to set
/// up a context (its ciphers and digests fetched from the default provider, waiting for
/// OpenSSL's start if another thread runs it) overlap the round trip instead of preceding it.
/// A context that could not be built fails each TLS connect with the same error.
#[derive(Clone)]
pub struct LazyContext(Arc<LazyInner>);

struct LazyInner {
    built: OnceLock<Result<SslContext, String>>,
    build: Box<dyn Fn() -> Result<SslContext, String> + Send + Sync>,
}

impl LazyContext {
    pub fn new(build: impl Fn() -> Result<SslContext, String> + Send + Sync + 'static) -> Self {
        LazyContext(Arc::new(LazyInner {
            built: OnceLock::new(),
            build: Box::new(build),
        }))
    }

    pub fn ready(ctx: SslContext) -> Self {
        LazyContext::new(move || Ok(ctx.clone()))
    }

    fn get(&self) -> Result<SslContext, String> {
        self.0.built.get_or_init(|| (self.0.build)()).clone()
    }

    /// Whether the context is built (for tests).
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.0.built.get().is_some()
    }
}

/// What a client that offers h2 sends by ALPN.
const ALPN_H2_HTTP1: &[u8] = b"\x02h2\x08http/1.1";

/// [`ProxyConnector`] with TLS for `https` URIs (plain streams for `http`).
///
/// With h2 offered ([`HttpsConnector::offering_h2`]), the first TLS connection to an authority
/// holds back the others asked for while its handshake runs: if it negotiates h2, hyper-util
/// pools it as shared and hands it to the requests waiting on the pool, so the held connects
/// are not needed; if HTTP/1.1, they go ahead at once (each request then has its own
/// connection, as before). What was negotiated is remembered per authority for the
/// connector's life (a client's, as its pool).
#[derive(Clone)]
pub struct HttpsConnector {
    inner: ProxyConnector,
    ctx: LazyContext,
    alpn: Arc<Mutex<HashMap<String, Alpn>>>,
    /// Set when the context offers h2: connects are held as above, and the alerts of h2
    /// connections kept here.
    alerts: Option<Arc<TlsAlerts>>,
}

/// What an authority's TLS connections negotiate.
#[derive(Clone)]
enum Alpn {
    /// The first handshake is under way; its outcome (h2 or not, or why it failed) is sent
    /// when it is known.
    Learning(tokio::sync::watch::Receiver<Option<Result<bool, String>>>),
    Known,
}

/// How long a connect held back for a first connection that negotiated h2 waits before it
/// gives up: long before that, hyper-util has pooled the shared connection (its h2 handshake
/// waits for nothing from the network), handed it to the held request, and moved this connect
/// to the background, where its error is dropped. Were the request still waiting (the shared
/// connection died before it got it), the error fails it, as the dead connection would have.
const SHARED_H2_GRACE: Duration = Duration::from_secs(5);

impl HttpsConnector {
    /// HTTP/1.1 only (the context offers no ALPN).
    pub fn new(inner: ProxyConnector, ctx: LazyContext) -> HttpsConnector {
        HttpsConnector {
            inner,
            ctx,
            alpn: Arc::new(Mutex::new(HashMap::new())),
            alerts: None,
        }
    }

    /// For a context that offers h2 (`context_builder(true)`); its h2 connections' alerts go to
    /// `alerts`.
    pub fn offering_h2(
        inner: ProxyConnector,
        ctx: LazyContext,
        alerts: Arc<TlsAlerts>,
    ) -> HttpsConnector {
        HttpsConnector {
            alerts: Some(alerts),
            ..HttpsConnector::new(inner, ctx)
        }
    }
}

pub enum MaybeHttps {
    Http(Conn),
    /// The stream, and for an h2 connection where its alerts go and the authority it is to.
    Https(
        TokioIo<Records<SslStream<TokioIo<Conn>>>>,
        Option<(Arc<TlsAlerts>, Arc<str>)>,
    ),
}

/// A TLS stream read record after record into one buffer, as long as records are there without
/// waiting. `SSL_read` returns one record (at most 16 KiB) a call, and hyper makes each read
/// one frame of a body: a blob through the mirror from a TLS registry went as ~65,000 frames a
/// GiB, each a wake-up of the task passing it on and a `writev` (`strace -c`: 16,191 writevs
/// for 256 MiB). Reading on while records are buffered or arrive makes hyper's reads as large
/// as its buffer, as over plain TCP: with OpenSSL's read-ahead, the daemon's CPU per GiB from a
/// TLS registry went 3.30 → 2.44 s and the mirror's throughput 297 → 350 MB/s (read-ahead
/// alone: 3.20 s, 323 MB/s; `TLS=1 COMPARE=... bash scripts/bench-mirror.sh`, paired). An
/// error after some data is kept for the next read, so neither the data nor the error is lost.
///
/// Only over HTTP/1.1 (the daemon's blobs): an h2 connection (the CLI's small answers) reads one
/// record a call as before, as a TLS 1.3 refusal of a missing client certificate, an alert
/// after the handshake, must reach the failed request's error (`tls_client_certificates`
/// lost it in 1 run of 8 under load with this reading, 0 of 8 without).
pub struct Records<S> {
    inner: S,
    error: Option<std::io::Error>,
    batch: bool,
}

impl<S> Records<S> {
    fn new(inner: S, batch: bool) -> Records<S> {
        Records {
            inner,
            error: None,
            batch,
        }
    }
    fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Records<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.batch {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if let Some(e) = this.error.take() {
            return Poll::Ready(Err(e));
        }
        let start = buf.filled().len();
        loop {
            let before = buf.filled().len();
            match Pin::new(&mut this.inner).poll_read(cx, buf) {
                Poll::Ready(Ok(())) if buf.filled().len() > before && buf.remaining() > 0 => {}
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) if buf.filled().len() > start => {
                    this.error = Some(e);
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Pending with data read: the waker is registered, and what was read goes now.
                Poll::Pending if buf.filled().len() > start => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Records<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// How long a TLS alert is kept for a request's error to name.
const ALERT_KEPT: Duration = Duration::from_secs(30);

/// The TLS alerts a client's h2 connections ended with, per authority, and when they came:
/// under h2, a request whose connection failed learns only that it closed (hyper's "connection
/// closed"), and what failed is in the alert, e.g. the one a TLS 1.3 server sends after the
/// handshake to refuse a missing client certificate. Alerts only: a connection's other read
/// errors (a peer that closes without `close_notify`) say nothing about a later request.
#[derive(Default)]
pub struct TlsAlerts(Mutex<HashMap<String, (std::time::Instant, String)>>);

impl TlsAlerts {
    fn record(&self, authority: &str, e: &std::io::Error) {
        let text = e.to_string();
        if !text.contains(" alert ") {
            return;
        }
        if let Ok(mut alerts) = self.0.lock() {
            alerts.retain(|_, (at, _)| at.elapsed() < ALERT_KEPT);
            alerts.insert(authority.to_string(), (std::time::Instant::now(), text));
        }
    }

    /// The alert an h2 connection to `authority` ended with in the last 30 s, if any.
    pub fn recent(&self, authority: &str) -> Option<String> {
        let alerts = self.0.lock().ok()?;
        alerts
            .get(authority)
            .filter(|(at, _)| at.elapsed() < ALERT_KEPT)
            .map(|(_, e)| e.clone())
    }
}

impl Connection for MaybeHttps {
    fn connected(&self) -> Connected {
        match self {
            MaybeHttps::Http(c) => c.connected(),
            MaybeHttps::Https(s, _) => {
                let tls = s.inner().get_ref();
                let c = tls.get_ref().inner().connected();
                if tls.ssl().selected_alpn_protocol() == Some(b"h2") {
                    c.negotiated_h2()
                } else {
                    c
                }
            }
        }
    }
}

impl Read for MaybeHttps {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeHttps::Http(c) => Pin::new(c).poll_read(cx, buf),
            MaybeHttps::Https(s, alerts) => {
                let r = Pin::new(s).poll_read(cx, buf);
                // Only h2 connections have alerts to keep, and they read a record at a time.
                if let (Poll::Ready(Err(e)), Some((alerts, authority))) = (&r, alerts) {
                    alerts.record(authority, e);
                }
                r
            }
        }
    }
}

impl MaybeHttps {
    /// After a failed write on an h2 connection: under h2 a write can fail (a broken pipe, the
    /// registry having closed) before the connection's read has met the TLS alert the registry
    /// sent before closing (TLS 1.3 refuses a missing client certificate after the handshake),
    /// and then no read comes (CI saw `tls_client_certificates` lose the alert so). One more
    /// read, without waiting, keeps that alert for the requests' errors; what else it reads is
    /// dropped with the dead connection.
    fn collect_alert(&mut self, cx: &mut Context<'_>) {
        if let MaybeHttps::Https(s, Some((alerts, authority))) = self {
            let mut scratch = [0u8; 512];
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            if let Poll::Ready(Err(e)) =
                tokio::io::AsyncRead::poll_read(Pin::new(s.inner_mut()), cx, &mut buf)
            {
                alerts.record(authority, &e);
            }
        }
    }
}

impl Write for MaybeHttps {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = match this {
            MaybeHttps::Http(c) => Pin::new(c).poll_write(cx, buf),
            MaybeHttps::Https(s, _) => Pin::new(s).poll_write(cx, buf),
        };
        if let Poll::Ready(Err(_)) = r {
            this.collect_alert(cx);
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let r = match this {
            MaybeHttps::Http(c) => Pin::new(c).poll_flush(cx),
            MaybeHttps::Https(s, _) => Pin::new(s).poll_flush(cx),
        };
        if let Poll::Ready(Err(_)) = r {
            this.collect_alert(cx);
        }
        r
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeHttps::Http(c) => Pin::new(c).poll_shutdown(cx),
            MaybeHttps::Https(s, _) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A handshake failure as native-tls words it: OpenSSL's error, then the certificate
/// verification result in parentheses when that is what failed ([`crate::tls`]'s `explain`
/// reads both).
#[derive(Debug)]
struct HandshakeError(String);

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HandshakeError {}

impl tower::Service<Uri> for HttpsConnector {
    type Response = MaybeHttps;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeHttps, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let https = dst.scheme_str() == Some("https");
        let host = dst
            .host()
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let ctx = self.ctx.clone();
        // The first TLS connect to this authority learns what it speaks; the others wait.
        let authority = dst.authority().map(|a| a.to_string()).unwrap_or_default();
        let alerts = self.alerts.clone();
        let (first, held) = match (https && alerts.is_some(), self.alpn.lock()) {
            (true, Ok(mut known)) => match known.get(&authority) {
                None => {
                    let (tx, rx) = tokio::sync::watch::channel(None);
                    known.insert(authority.clone(), Alpn::Learning(rx));
                    (Some(tx), None)
                }
                Some(Alpn::Learning(rx)) => (None, Some(rx.clone())),
                Some(Alpn::Known) => (None, None),
            },
            _ => (None, None),
        };
        let alpn = self.alpn.clone();
        let mut inner = self.inner.clone();
        Box::pin(async move {
            if let Some(mut rx) = held {
                // Sent, or the first connect failed (its sender dropped): connect as usual.
                let h2 = match rx.wait_for(Option::is_some).await {
                    Ok(v) => match &*v {
                        Some(Ok(h2)) => *h2,
                        // The first failed to connect or shake hands: so does this one, at
                        // once (and not one connect timeout later).
                        Some(Err(e)) => {
                            let e: BoxError = e.clone().into();
                            return Err(e);
                        }
                        None => false,
                    },
                    Err(_) => {
                        // The first connect ended unlearned (failed, or was dropped): the
                        // next connect learns again.
                        if let Ok(mut known) = alpn.lock()
                            && let Some(Alpn::Learning(r)) = known.get(&authority)
                            && r.has_changed().is_err()
                        {
                            known.remove(&authority);
                        }
                        false
                    }
                };
                if h2 {
                    tokio::time::sleep(SHARED_H2_GRACE).await;
                    let e: BoxError = format!(
                        "the HTTP/2 connection to {authority} closed before it served this request"
                    )
                    .into();
                    return Err(e);
                }
            }
            let learned = |outcome: Result<bool, String>| {
                if let Some(tx) = &first {
                    if let Ok(mut known) = alpn.lock() {
                        match outcome {
                            Ok(_) => known.insert(authority.clone(), Alpn::Known),
                            // Failed: the next connect learns again.
                            Err(_) => known.remove(&authority),
                        };
                    }
                    let _ = tx.send(Some(outcome));
                }
            };
            // The connect is started (its first poll sends the SYN, or starts the name lookup
            // or the proxy's connect) before the TLS context is built, which then takes its
            // milliseconds of CPU while the TCP handshake's round trip runs.
            let mut connecting = std::pin::pin!(tower::Service::<Uri>::call(&mut inner, dst));
            let started =
                std::future::poll_fn(|cx| Poll::Ready(connecting.as_mut().poll(cx))).await;
            let ctx = if https {
                match ctx.get() {
                    Ok(c) => Some(c),
                    Err(e) => {
                        learned(Err(e.clone()));
                        let e: BoxError = e.into();
                        return Err(e);
                    }
                }
            } else {
                None
            };
            let connected = match started {
                Poll::Ready(r) => r,
                Poll::Pending => connecting.await,
            };
            let conn: Conn = match connected {
                Ok(c) => c,
                Err(e) => {
                    learned(Err(crate::http::error_chain(e.as_ref())));
                    return Err(e);
                }
            };
            let Some(ctx) = ctx else {
                return Ok(MaybeHttps::Http(conn));
            };
            // No name, no name check (OpenSSL would verify the chain alone): refused.
            if host.is_empty() {
                let e: BoxError = "https URL without a host name".into();
                return Err(e);
            }
            let mut ssl = Ssl::new(&ctx)?;
            match host.parse::<IpAddr>() {
                Ok(ip) => ssl.param_mut().set_ip(ip)?,
                Err(_) => {
                    ssl.set_hostname(&host)?;
                    // As SslConnector: `r*.corp` does not name `registry.corp`.
                    ssl.param_mut()
                        .set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
                    ssl.param_mut().set_host(&host)?;
                }
            }
            let mut stream = SslStream::new(ssl, TokioIo::new(conn))?;
            if let Err(e) = Pin::new(&mut stream).connect().await {
                let verify = stream.ssl().verify_result();
                let text = match e.ssl_error() {
                    Some(stack) => stack.to_string(),
                    None => e.to_string(),
                };
                let text = if verify == X509VerifyResult::OK {
                    text
                } else {
                    format!("{text} ({})", verify.error_string())
                };
                learned(Err(text.clone()));
                let e: BoxError = Box::new(HandshakeError(text));
                return Err(e);
            }
            let h2 = stream.ssl().selected_alpn_protocol() == Some(b"h2");
            learned(Ok(h2));
            let alerts = alerts.filter(|_| h2).map(|a| (a, Arc::from(authority)));
            Ok(MaybeHttps::Https(
                TokioIo::new(Records::new(stream, !h2)),
                alerts,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use tokio::io::{AsyncRead, ReadBuf};

    /// A stream that answers each read with the next step: bytes, "would block" or an error.
    /// A hand-written fake: the order of records, stalls and errors a real TLS peer cannot be
    /// made to produce on demand.
    enum Step {
        Data(&'static [u8]),
        Wait,
        Fail,
    }
    struct Scripted(VecDeque<Step>);
    impl AsyncRead for Scripted {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            match self.get_mut().0.pop_front() {
                Some(Step::Data(d)) => {
                    buf.put_slice(d);
                    Poll::Ready(Ok(()))
                }
                Some(Step::Wait) => Poll::Pending,
                Some(Step::Fail) => Poll::Ready(Err(std::io::Error::other("tlsv1 alert"))),
                None => Poll::Ready(Ok(())),
            }
        }
    }

    fn records(steps: impl IntoIterator<Item = Step>, batch: bool) -> Records<Scripted> {
        Records::new(Scripted(steps.into_iter().collect()), batch)
    }

    fn read(r: &mut Records<Scripted>, room: usize) -> Poll<std::io::Result<Vec<u8>>> {
        let mut space = vec![0u8; room];
        let mut buf = ReadBuf::new(&mut space);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(r)
            .poll_read(&mut cx, &mut buf)
            .map_ok(|()| buf.filled().to_vec())
    }

    /// One read that must give data (or the end: empty).
    fn data(r: &mut Records<Scripted>, room: usize) -> Vec<u8> {
        match read(r, room) {
            Poll::Ready(Ok(d)) => d,
            other => panic!("want data, got {other:?}"),
        }
    }

    #[test]
    fn records_are_read_on_until_none_is_there_and_errors_wait_for_the_next_read() {
        use Step::*;
        let mut r = records(
            [Data(b"ab"), Data(b"cd"), Wait, Data(b"ef"), Wait, Wait],
            true,
        );
        assert_eq!(data(&mut r, 64), b"abcd");
        assert_eq!(data(&mut r, 64), b"ef");
        assert!(read(&mut r, 64).is_pending(), "nothing read: pending");

        // A full buffer stops the reading; the rest comes with the next read.
        let mut r = records([Data(b"ab"), Data(b"cd")], true);
        assert_eq!(data(&mut r, 2), b"ab");
        assert_eq!(data(&mut r, 2), b"cd");

        // An error after data: the data now, the error on the next read; alone, at once.
        let mut r = records([Data(b"ab"), Fail, Fail], true);
        assert_eq!(data(&mut r, 64), b"ab");
        match read(&mut r, 64) {
            Poll::Ready(Err(e)) => assert!(e.to_string().contains("alert"), "{e}"),
            other => panic!("want the kept error, got {other:?}"),
        }
        assert!(matches!(read(&mut r, 64), Poll::Ready(Err(_))));

        // The end of the stream after data: the data, then the end.
        let mut r = records([Data(b"ab")], true);
        assert_eq!(data(&mut r, 64), b"ab");
        assert_eq!(data(&mut r, 64), b"");

        // Not batching (h2): one read a call, its error at once.
        let mut r = records([Data(b"ab"), Data(b"cd"), Fail], false);
        assert_eq!(data(&mut r, 64), b"ab");
        assert_eq!(data(&mut r, 64), b"cd");
        assert!(matches!(read(&mut r, 64), Poll::Ready(Err(_))));
    }
}
