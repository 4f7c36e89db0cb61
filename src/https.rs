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

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

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
/// on demand; the caller adds a registry's own CAs and client identity.
pub fn context_builder() -> Result<SslContextBuilder, openssl::error::ErrorStack> {
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
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    // SslConnector's cipher list (no anonymous, null, MD5, DES/3DES, RC4, IDEA, SEED, DSS,
    // SRP or PSK suites), whatever a system openssl.cnf says.
    b.set_cipher_list("DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK")?;
    b.set_verify(SslVerifyMode::PEER);
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

/// [`ProxyConnector`] with TLS for `https` URIs (plain streams for `http`).
#[derive(Clone)]
pub struct HttpsConnector {
    inner: ProxyConnector,
    ctx: SslContext,
}

impl HttpsConnector {
    pub fn new(inner: ProxyConnector, ctx: SslContext) -> HttpsConnector {
        HttpsConnector { inner, ctx }
    }
}

pub enum MaybeHttps {
    Http(Conn),
    Https(TokioIo<SslStream<TokioIo<Conn>>>),
}

impl Connection for MaybeHttps {
    fn connected(&self) -> Connected {
        match self {
            MaybeHttps::Http(c) => c.connected(),
            MaybeHttps::Https(s) => s.inner().get_ref().inner().connected(),
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
            MaybeHttps::Https(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl Write for MaybeHttps {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            MaybeHttps::Http(c) => Pin::new(c).poll_write(cx, buf),
            MaybeHttps::Https(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeHttps::Http(c) => Pin::new(c).poll_flush(cx),
            MaybeHttps::Https(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            MaybeHttps::Http(c) => Pin::new(c).poll_shutdown(cx),
            MaybeHttps::Https(s) => Pin::new(s).poll_shutdown(cx),
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
        let connecting = tower::Service::<Uri>::call(&mut self.inner, dst);
        Box::pin(async move {
            let conn: Conn = connecting.await?;
            if !https {
                return Ok(MaybeHttps::Http(conn));
            }
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
                let e: BoxError = Box::new(HandshakeError(text));
                return Err(e);
            }
            Ok(MaybeHttps::Https(TokioIo::new(stream)))
        })
    }
}
