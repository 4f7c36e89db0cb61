//! A small OCI distribution client: manifests, blobs and referrers, with the anonymous, basic
//! and bearer-token auth flows, plain HTTP for `--insecure-registry` hosts, and bounded reads
//! (a registry cannot make pullguard buffer more than the limits of the Notary spec).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, RANGE, WWW_AUTHENTICATE,
};
use hyper::{Method, StatusCode};

use crate::http::{Http, Resp};

use crate::auth::{Credential, DockerConfig};
use crate::oci::{
    Descriptor, ImageRef, MANIFEST_ACCEPT, MAX_MANIFEST_SIZE, Manifest, check_digest, digest_with,
};

mod error;
mod primed;
mod referrers;
mod source;

pub use error::{Detail, RegistryError};
pub use primed::Primed;
pub use referrers::REMEMBERED as REFERRERS_REMEMBERED;
pub use source::{BoxFuture, Registry, shape};

/// Where registry credentials come from.
#[derive(Clone)]
pub enum Credentials {
    /// A Docker `config.json` (auths, credsStore, credHelpers).
    DockerConfig(Arc<DockerConfig>),
    /// Given by the caller (for example a Docker client's `X-Registry-Auth`), for every host.
    Fixed(Option<Credential>),
}

#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Hosts (`host[:port]`) reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Connect timeout and the whole-request timeout.
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// TLS trust per registry and the HTTP proxies (crate::tls, crate::proxy_env).
    pub hosts: Arc<crate::tls::RegistryHosts>,
    pub proxies: Arc<crate::proxy_env::ProxyConfig>,
    /// Offer HTTP/2 to TLS registries (the one-shot CLI; see [`crate::https`] for why the
    /// daemon does not).
    pub http2: bool,
    /// The registry (`host[:port]`) whose first two plain-HTTP connections are opened
    /// together (the one-shot CLI: see [`crate::http::Ahead`]).
    pub connect_ahead: Option<String>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            hosts: Arc::default(),
            proxies: crate::http::env_proxies(),
            http2: false,
            connect_ahead: None,
        }
    }
}

/// A fetched manifest: exact bytes, the media type the registry served, and its digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: bytes::Bytes,
    pub media_type: String,
    pub digest: String,
}

impl Fetched {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as i64,
            artifact_type: None,
            annotations: None,
            platform: None,
        }
    }
}

pub struct RegistryClient {
    http: Http,
    opts: RegistryOptions,
    creds: Credentials,
    /// Authorization header value per `host/repository`, learnt from a 401 challenge.
    authz: Mutex<HashMap<String, String>>,
    /// Which registries support the Referrers API (shared with the copies of this client).
    referrers: referrers::Capabilities,
}

impl RegistryClient {
    pub fn new(opts: RegistryOptions, creds: Credentials) -> Result<Self, String> {
        let http = Http::with(
            opts.connect_timeout,
            opts.request_timeout,
            opts.hosts.clone(),
            opts.proxies.clone(),
        );
        let http = if opts.http2 { http.offering_h2() } else { http };
        let http = match &opts.connect_ahead {
            Some(registry) => http.connecting_ahead(registry),
            None => http,
        };
        Ok(RegistryClient {
            http,
            opts,
            creds,
            authz: Mutex::new(HashMap::new()),
            referrers: Default::default(),
        })
    }

    /// Default options, no credentials.
    pub fn anonymous() -> RegistryClient {
        let opts = RegistryOptions::default();
        RegistryClient {
            http: Http::new(opts.connect_timeout, opts.request_timeout),
            opts,
            creds: Credentials::Fixed(None),
            authz: Mutex::new(HashMap::new()),
            referrers: Default::default(),
        }
    }

    pub fn with_credentials(&self, creds: Credentials) -> RegistryClient {
        RegistryClient {
            http: self.http.clone(),
            opts: self.opts.clone(),
            creds,
            authz: Mutex::new(HashMap::new()),
            referrers: self.referrers.clone(),
        }
    }

    fn base_url(&self, registry: &str) -> String {
        let host = if registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            registry
        };
        let plain = crate::docker::dockerd::is_insecure(&self.opts.insecure, registry);
        let scheme = if plain || self.opts.hosts.plain_http(registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{host}")
    }

    /// GET `/v2/<repo>/<path>` with auth, returning the response whatever its status.
    async fn get(
        &self,
        image: &ImageRef,
        path: &str,
        accept: &[&str],
    ) -> Result<Resp, RegistryError> {
        self.get_with(image, path, accept, &[]).await
    }

    /// [`Self::get`] with extra request headers (a `Range`, say).
    async fn get_with(
        &self,
        image: &ImageRef,
        path: &str,
        accept: &[&str],
        extra: &[(HeaderName, String)],
    ) -> Result<Resp, RegistryError> {
        let url = format!(
            "{}/v2/{}/{}",
            self.base_url(&image.registry),
            image.repository,
            path
        );
        self.get_url(image, &url, accept, extra).await
    }

    /// GET an absolute URL on `image`'s registry, answering a 401 challenge once.
    async fn get_url(
        &self,
        image: &ImageRef,
        url: &str,
        accept: &[&str],
        extra: &[(HeaderName, String)],
    ) -> Result<Resp, RegistryError> {
        let key = image.scope();
        let cached = self.authz.lock().ok().and_then(|m| m.get(&key).cloned());
        let resp = self.send(url, accept, extra, cached.as_deref()).await?;
        if resp.status != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let header = self.authorize(image, &challenge, cached.as_deref()).await?;
        if let Ok(mut m) = self.authz.lock() {
            m.insert(key, header.clone());
        }
        self.send(url, accept, extra, Some(&header)).await
    }

    async fn send(
        &self,
        url: &str,
        accept: &[&str],
        extra: &[(HeaderName, String)],
        authz: Option<&str>,
    ) -> Result<Resp, RegistryError> {
        let mut headers: Vec<(HeaderName, String)> =
            accept.iter().map(|a| (ACCEPT, a.to_string())).collect();
        headers.extend_from_slice(extra);
        if let Some(h) = authz {
            headers.push((AUTHORIZATION, h.to_string()));
        }
        let start = std::time::Instant::now();
        let r = self
            .http
            .send(Method::GET, url, &headers, Bytes::new())
            .await;
        crate::metrics::registry_request(url, r.as_ref().ok().map(|r| r.status.as_u16()), start);
        r.map_err(|e| {
            let message = format!("registry request failed: {e}");
            // A TLS failure (a certificate that does not verify, a client certificate refused,
            // TLS meeting plain HTTP) is no registry that is down: it is denied like any other
            // protocol error, not answered "unavailable" and retried.
            if is_tls_failure(&message) {
                RegistryError::protocol(message)
            } else {
                RegistryError::transient(message)
            }
        })
    }

    async fn credential(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        match &self.creds {
            Credentials::Fixed(c) => Ok(c.clone()),
            Credentials::DockerConfig(cfg) => {
                let cfg = cfg.clone();
                let host = registry.to_string();
                tokio::task::spawn_blocking(move || cfg.credentials_for(&host))
                    .await
                    .map_err(|e| RegistryError::protocol(format!("credential lookup failed: {e}")))?
                    .map_err(|e| {
                        RegistryError::protocol(format!(
                            "credential lookup for {registry} failed: {e}"
                        ))
                    })
            }
        }
    }

    /// Answer a 401 challenge: the Authorization header to retry with.
    async fn authorize(
        &self,
        image: &ImageRef,
        challenge: &str,
        refused: Option<&str>,
    ) -> Result<String, RegistryError> {
        let cred = self.credential(&image.registry).await?;
        let (scheme, params) = parse_challenge(challenge);
        let denied = |why: &str| {
            RegistryError::from_status(
                401,
                Some("UNAUTHORIZED".into()),
                format!("registry {} refused access: {why}", image.registry),
            )
        };
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => match cred {
                Some(Credential::Basic { username, password }) => Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                )),
                _ => Err(denied(
                    "it requires basic auth and no credentials were found",
                )),
            },
            "bearer" => {
                let realm = params
                    .get("realm")
                    .ok_or_else(|| denied("bearer challenge without realm"))?;
                let scope = params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| format!("repository:{}:pull", image.repository));
                let stale = refused.and_then(|h| h.strip_prefix("Bearer "));
                let service = params.get("service").map(String::as_str);
                let tokens = &self.http.tokens;
                match tokens
                    .token(&self.http, realm, service, &scope, cred.as_ref(), stale)
                    .await
                {
                    Ok(t) => Ok(format!("Bearer {t}")),
                    Err(crate::token::TokenError::Denied(why)) => Err(denied(&why)),
                    Err(crate::token::TokenError::Failed(m)) => Err(RegistryError::transient(m)),
                }
            }
            _ => Err(denied("unsupported authentication challenge")),
        }
    }

    /// Fetch a manifest by tag or digest. The digest is computed from the bytes; a digest
    /// reference and the registry's `Docker-Content-Digest` header must both agree with it.
    pub async fn manifest(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<Fetched, RegistryError> {
        let resp = self
            .get(image, &format!("manifests/{reference}"), &MANIFEST_ACCEPT)
            .await?;
        let resp = check_status(resp, &format!("manifest {image}")).await?;
        let media_type = content_type(&resp.headers);
        let header_digest = resp
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(len) = resp.content_length()
            && len > MAX_MANIFEST_SIZE
        {
            return Err(RegistryError::protocol(format!(
                "manifest {image} is {len} bytes, over the {MAX_MANIFEST_SIZE}-byte limit"
            )));
        }
        let bytes = read_limited(resp, MAX_MANIFEST_SIZE)
            .await
            .map_err(|e| e.map_message(|m| format!("manifest {image}: {m}")))?;
        let digest = if reference.contains(':') {
            check_digest(reference, &bytes)
                .map_err(|e| RegistryError::protocol(format!("manifest {image}: {e}")))?;
            reference.to_string()
        } else {
            let alg = header_digest
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .map_or("sha256", |(a, _)| a);
            digest_with(alg, &bytes).map_err(RegistryError::protocol)?
        };
        if let Some(h) = header_digest
            && h != digest
        {
            return Err(RegistryError::protocol(format!(
                "manifest {image}: registry says digest {h} but the content hashes to {digest}"
            )));
        }
        let media_type = media_type
            .or_else(|| Manifest::parse(&bytes).ok().and_then(|m| m.media_type))
            .unwrap_or_default();
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// Fetch a blob, refusing anything over `max` bytes or not matching its digest.
    pub async fn blob(
        &self,
        image: &ImageRef,
        desc: &Descriptor,
        max: u64,
    ) -> Result<bytes::Bytes, RegistryError> {
        if desc.size < 0 || desc.size as u64 > max {
            return Err(RegistryError::protocol(format!(
                "blob {} is {} bytes, over the {max}-byte limit",
                desc.digest, desc.size
            )));
        }
        crate::oci::validate_digest(&desc.digest).map_err(RegistryError::protocol)?;
        let resp = self
            .get(image, &format!("blobs/{}", desc.digest), &["*/*"])
            .await?;
        let resp = check_status(resp, &format!("blob {}", desc.digest)).await?;
        let bytes = read_limited(resp, desc.size as u64).await?;
        if bytes.len() as i64 != desc.size {
            return Err(RegistryError::protocol(format!(
                "blob {} is {} bytes, the descriptor says {}",
                desc.digest,
                bytes.len(),
                desc.size
            )));
        }
        check_digest(&desc.digest, &bytes).map_err(RegistryError::protocol)?;
        Ok(bytes)
    }

    /// GET a blob without reading it: the upstream response (status, headers, and the body to
    /// stream), `Range` passed on when given. The request timeout covers the headers only; the
    /// caller bounds the body, checks the status and checks the content against the digest.
    pub async fn blob_stream(
        &self,
        image: &ImageRef,
        digest: &str,
        range: Option<&str>,
    ) -> Result<Resp, RegistryError> {
        crate::oci::validate_digest(digest).map_err(RegistryError::protocol)?;
        let extra: Vec<(HeaderName, String)> =
            range.map(|r| (RANGE, r.to_string())).into_iter().collect();
        self.get_with(image, &format!("blobs/{digest}"), &["*/*"], &extra)
            .await
    }
}

/// Referrers pages followed at most (each up to 4 MiB).
const MAX_REFERRERS_PAGES: usize = 16;

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(h: &HeaderMap) -> Option<String> {
    h.get_all(hyper::header::LINK).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.split(',').find_map(|part| {
            let (url, params) = part.trim().split_once(';')?;
            let is_next = params
                .split(';')
                .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
            let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| url.to_string())
        })
    })
}

fn parse_index(body: &[u8]) -> Result<Vec<Descriptor>, RegistryError> {
    let m = Manifest::parse(body).map_err(RegistryError::protocol)?;
    Ok(m.manifests.unwrap_or_default())
}

fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .filter(|v| !v.is_empty())
}

fn oci_error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("errors")?
        .as_array()?
        .first()?
        .get("code")?
        .as_str()
        .map(str::to_owned)
}

async fn check_status(resp: Resp, what: &str) -> Result<Resp, RegistryError> {
    let status = resp.status;
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.read_limited(64 * 1024).await.unwrap_or_default();
    let code = oci_error_code(&body);
    let detail = match &code {
        Some(c) => format!("{status} ({c})"),
        None => status.to_string(),
    };
    Err(RegistryError::from_status(
        status.as_u16(),
        code,
        format!("{what}: registry answered {detail}"),
    ))
}

/// Read a response body, failing once more than `max` bytes arrive.
pub async fn read_limited(resp: Resp, max: u64) -> Result<Bytes, RegistryError> {
    resp.read_limited(max)
        .await
        .map_err(RegistryError::protocol)
}

/// `Bearer realm="...",service="...",scope="..."` → ("Bearer", {realm, service, scope}).
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut val = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            (val, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        params.insert(k, v);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_string(), params)
}

/// Whether a failed request failed in TLS (OpenSSL's error, or the sentence crate::tls makes
/// of it).
fn is_tls_failure(message: &str) -> bool {
    message.contains("SSL routines:") || message.contains("TLS: ")
}

#[cfg(test)]
fn form_encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                crate::http::pct_encode(k),
                crate::http::pct_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
fn with_query(base: &str, pairs: &[(&str, String)]) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", form_encode(pairs))
}

/// For the `discovery` fuzz target only: the private readers of a registry's answers (an
/// index body, `Link`, `Content-Type` and `WWW-Authenticate` headers, an error body).
#[doc(hidden)]
pub fn fuzz_answer(body: &[u8], link: &str, content: &str, challenge: &str) -> String {
    let mut h = HeaderMap::new();
    for (k, v) in [(hyper::header::LINK, link), (CONTENT_TYPE, content)] {
        if let Ok(v) = hyper::header::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    let index = parse_index(body)
        .map(|v| v.len())
        .map_err(|e| e.to_string());
    format!(
        "{index:?} {:?} {:?} {:?} {:?}",
        next_link(&h),
        content_type(&h),
        oci_error_code(body),
        parse_challenge(challenge)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_failures_are_not_a_registry_that_is_down() {
        assert!(is_tls_failure(
            "registry request failed: client error (Connect): error:0A00010B:SSL routines:ssl3_get_record:wrong version number:x"
        ));
        assert!(is_tls_failure(
            "registry request failed: TLS: the certificate of registry r:5443 did not verify (x); y"
        ));
        assert!(!is_tls_failure(
            "registry request failed: client error (Connect): tcp connect error: Connection refused (os error 111)"
        ));
    }

    #[test]
    fn challenges_parse() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/busybox:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(s, "Basic");
        assert_eq!(p["realm"], "Registry Realm");
        let (s, p) = parse_challenge("");
        assert_eq!(s, "");
        assert!(p.is_empty());
    }

    #[test]
    fn link_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            hyper::header::LINK,
            "</v2/a/referrers/sha256:x?n=1&last=y>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=1&last=y")
        );
        h.insert(
            hyper::header::LINK,
            "<http://r/x>; rel=\"prev\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            with_query("https://a/t", &[("scope", "repository:x/y:pull".into())]),
            "https://a/t?scope=repository%3Ax%2Fy%3Apull"
        );
    }
}
