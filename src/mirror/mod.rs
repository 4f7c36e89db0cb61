//! The verifying OCI registry mirror: the pull side of the distribution API on a TCP address,
//! for containerd's `hosts.toml` (`?ns=` names the upstream registry). A manifest, by tag or
//! digest, is resolved upstream and verified through the [`Gate`]; it is then served with
//! the upstream's exact bytes, media type and digest. What a verified manifest references
//! (config, layers, index children, and their config and layers once fetched) is granted for
//! the current policy generation; a blob is served only when granted, streamed from upstream
//! without buffering and checked against its digest on the way (the last frame is held back
//! until the digest matches). Everything else is the OCI error `DENIED` with a message naming
//! the image, the digest, the policy and the reason.
//!
//! It does not push, list tags or catalogs, serve referrers, or fetch a layer's foreign
//! `urls`; it does not authenticate its own clients (bind it to loopback).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, HeaderName, HeaderValue,
    RANGE,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::docker::Body;
use crate::drain::{InFlight, Ticket};
use crate::gate::Gate;
use crate::gate::{self, Denial, Evidence, Platform, Verified};
use crate::oci::{Descriptor, ImageRef, Manifest, validate_digest};
use crate::registry::Fetched;

mod body;
mod grants;
mod options;
mod range;
mod response;
mod route;

pub use options::MirrorOptions;
pub use route::fuzz_route;

use body::{BlobBody, Check};
use grants::{Grant, Grants, Kind};
use range::{Want, parse_content_range, parse_range};
use response::{denied_response, full, unavailable_response, unsatisfiable, value};
use route::{Route, image_ref, parse_route};

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

#[derive(Default)]
pub struct MirrorCounters {
    /// Manifest GETs answered (a HEAD carries no content and is not counted).
    pub manifests_served: AtomicU64,
    /// Blob GETs answered (the stream started).
    pub blobs_served: AtomicU64,
    pub denials: AtomicU64,
    /// Blob streams failed after their headers went out (upstream error, stall, bad digest).
    pub blob_failures: AtomicU64,
}

impl MirrorCounters {
    /// (manifests served, blobs served, denials, blob failures).
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.manifests_served.load(Ordering::Relaxed),
            self.blobs_served.load(Ordering::Relaxed),
            self.denials.load(Ordering::Relaxed),
            self.blob_failures.load(Ordering::Relaxed),
        )
    }
}

pub struct Mirror {
    engine: Arc<Gate>,
    opts: MirrorOptions,
    grants: Mutex<Grants>,
    pub counters: Arc<MirrorCounters>,
    /// Requests in flight, blob streams included, for draining on shutdown.
    in_flight: InFlight,
}

/// Why the manifest `f` the registry served now is not the descriptor that was verified.
fn descriptor_differs(verified: &Descriptor, f: &Fetched) -> Option<String> {
    let size = f.bytes.len() as i64;
    if f.digest != verified.digest || size != verified.size {
        Some(format!(
            "the registry served {} ({size} bytes) where {} ({} bytes) was verified",
            f.digest, verified.digest, verified.size
        ))
    } else if f.media_type != verified.media_type {
        Some(format!(
            "the registry now serves {} with media type {:?}, the verified descriptor has {:?}",
            f.digest, f.media_type, verified.media_type
        ))
    } else {
        None
    }
}

impl Mirror {
    pub fn new(engine: Arc<Gate>, opts: MirrorOptions) -> Mirror {
        Mirror {
            engine,
            opts,
            grants: Mutex::new(Grants::default()),
            counters: Arc::new(MirrorCounters::default()),
            in_flight: InFlight::default(),
        }
    }

    /// For `serve`: the options from `cfg` (`[mirror]`, the registry timeout as the stall
    /// limit) and the listener on `addr`, logged with the port actually bound.
    /// Bind `addr`, or use `activated`, a listener systemd passed (FileDescriptorName=mirror).
    pub async fn setup(
        engine: Arc<Gate>,
        cfg: &Config,
        addr: &str,
        activated: Option<TcpListener>,
    ) -> Result<(Arc<Mirror>, TcpListener, SocketAddr), String> {
        let idle = cfg.registry_timeout;
        let opts = MirrorOptions::from_section(&cfg.mirror, idle)?;
        let listener = match activated {
            Some(l) => l,
            None => {
                let want: SocketAddr = addr
                    .parse()
                    .map_err(|e| format!("invalid mirror address {addr:?} (want IP:PORT): {e}"))?;
                TcpListener::bind(want)
                    .await
                    .map_err(|e| format!("cannot listen on {want} for the mirror: {e}"))?
            }
        };
        let bound = listener
            .local_addr()
            .map_err(|e| format!("mirror listener: {e}"))?;
        tracing::info!(addr = %bound, upstreams = %opts.upstreams.join(","), "mirror listening");
        Ok((Arc::new(Mirror::new(engine, opts)), listener, bound))
    }

    /// The counters as one log line's worth of fields.
    pub fn log_counters(&self) {
        let (manifests, blobs, denials, failures) = self.counters.get();
        tracing::info!(
            target: "pullguard::mirror",
            manifests_served = manifests,
            blobs_served = blobs,
            denials,
            blob_failures = failures,
            "mirror counters"
        );
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.count()
    }

    /// Serve connections until `shutdown` turns true; then stop accepting and drain them
    /// ([`crate::server`] owns the loop, its limits and the drain).
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: watch::Receiver<bool>) {
        crate::server::Server::new("mirror")
            .serve(
                listener,
                move |req: Request<Incoming>| {
                    let who = crate::who::Who::from_peer(req.extensions().get());
                    crate::who::scope(who, self.clone().handle(req))
                },
                crate::server::turned_true(shutdown),
            )
            .await
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        let guard = self.in_flight.ticket();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        match self.route(req, guard).await {
            Ok(r) => r,
            Err(message) => {
                let message = format!("pullguard: {message}");
                let denials = self.counters.denials.fetch_add(1, Ordering::Relaxed) + 1;
                let (manifests, blobs, _, _) = self.counters.get();
                tracing::warn!(
                    target: "pullguard::mirror",
                    event = "denied",
                    method = %method,
                    path = %path,
                    reason = %message,
                    manifests_served = manifests,
                    blobs_served = blobs,
                    denials,
                    "mirror denied"
                );
                denied_response(&message)
            }
        }
    }

    async fn route(&self, req: Request<Incoming>, guard: Ticket) -> Result<Response<Body>, String> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            ref m => return Err(format!("the mirror is read-only: {m} is not served")),
        };
        match parse_route(req.uri().path())? {
            Route::Base => {
                let mut r = Response::new(full("{}"));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r.headers_mut().insert(
                    "docker-distribution-api-version",
                    HeaderValue::from_static("registry/2.0"),
                );
                Ok(r)
            }
            Route::Manifest { name, reference } => {
                let (registry, name) = self.upstream(req.uri().query(), &name)?;
                let image = image_ref(&registry, name, &reference)?;
                self.manifest(head, image).await
            }
            Route::Blob { name, digest } => {
                validate_digest(&digest)?;
                let (registry, name) = self.upstream(req.uri().query(), &name)?;
                let image = image_ref(&registry, name, &digest)?;
                let range = req
                    .headers()
                    .get(RANGE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                self.blob(head, image, range, guard).await
            }
        }
    }

    /// The upstream registry and the repository in it: `?ns=` (containerd) names the registry;
    /// without it, a first name component in `[mirror] prefixes` (podman's `location =
    /// "mirror/PREFIX"`), else `default_upstream`. Only configured registries.
    fn upstream<'n>(
        &self,
        query: Option<&str>,
        name: &'n str,
    ) -> Result<(String, &'n str), String> {
        options::upstream(&self.opts, query, name)
    }

    fn grant(&self, generation: u64, scope: &str, digest: &str) -> Option<Grant> {
        match self.grants.lock() {
            Ok(mut g) => g.get(generation, scope, digest),
            Err(p) => p.into_inner().get(generation, scope, digest),
        }
    }

    fn insert_grant(&self, generation: u64, scope: &str, digest: &str, grant: Grant) {
        match self.grants.lock() {
            Ok(mut g) => g.insert(generation, scope, digest, grant),
            Err(p) => p.into_inner().insert(generation, scope, digest, grant),
        }
    }

    /// Grant what a served manifest references: config, layers and blobs as blobs, an
    /// index's children as manifests.
    fn grant_references(
        &self,
        generation: u64,
        scope: &str,
        f: &Fetched,
        via: &str,
        policy: &Option<String>,
    ) -> Result<(), String> {
        let m = Manifest::parse(&f.bytes)?;
        let blobs = m
            .config
            .iter()
            .chain(m.layers.iter().flatten())
            .chain(m.blobs.iter().flatten())
            .map(|d| (d, Kind::Blob));
        let children = m.manifests.iter().flatten().map(|d| (d, Kind::Manifest));
        for (d, kind) in blobs.chain(children) {
            if validate_digest(&d.digest).is_err() || d.size < 0 {
                continue;
            }
            let grant = Grant {
                kind,
                media_type: d.media_type.clone(),
                size: d.size,
                via: via.to_string(),
                policy: policy.clone(),
            };
            self.insert_grant(generation, scope, &d.digest, grant);
        }
        Ok(())
    }

    fn policy_name(&self, scope: &str, digest: &str) -> Option<String> {
        let snap = self.engine.snapshot();
        snap.trust
            .policy
            .statement_for(&format!("{scope}@{digest}"))
            .ok()
            .map(|s| s.name.clone())
    }

    async fn manifest(&self, head: bool, image: ImageRef) -> Result<Response<Body>, String> {
        let generation = self.engine.snapshot().generation;
        let scope = image.scope();
        // A child of a verified index, by digest: served under the index's signature, unless
        // require_platform_signature wants its own.
        let child = image
            .digest
            .as_deref()
            .and_then(|d| self.grant(generation, &scope, d).map(|g| (d, g)))
            .filter(|(_, g)| g.kind == Kind::Manifest);
        let req = gate::Request::new(image.clone(), "mirror").platform(Platform::Served);
        let verdict = match &child {
            Some((digest, g)) => {
                // An index entry without a media type (not valid OCI) pins none: the served
                // one is taken (checked against the grant's digest and size below).
                let child = Descriptor {
                    media_type: g.media_type.clone(),
                    digest: digest.to_string(),
                    size: g.size,
                    artifact_type: None,
                    annotations: None,
                    platform: None,
                };
                let policy = g.policy.as_deref().unwrap_or("-");
                self.engine.check_child(&req, &g.via, policy, child).await
            }
            None => self.engine.check(&req).await,
        };
        let verified = match verdict {
            Ok(v) => v,
            // The upstream could not be asked: no verdict on the image, and a client that
            // retries later may get one.
            Err(d) if d.is_transient() => {
                let message = format!("pullguard: {d}");
                tracing::warn!(target: "pullguard::mirror", event = "unavailable", image = %image, reason = %message, "mirror upstream unavailable");
                return Ok(unavailable_response(&message));
            }
            Err(d) => {
                return Err(match &child {
                    Some((_, g)) => format!(
                        "{d} (a platform manifest of {}: require_platform_signature wants it signed too)",
                        g.via
                    ),
                    None => d.to_string(),
                });
            }
        };
        self.serve_verified(head, &image, &verified, generation)
            .await
    }

    /// Serve what the gate verified, as the upstream serves it now: media type, digest and
    /// size must be the verified descriptor's (a verdict from the cache was made on bytes
    /// fetched earlier). What it references is granted for this generation.
    async fn serve_verified(
        &self,
        head: bool,
        image: &ImageRef,
        v: &Verified,
        generation: u64,
    ) -> Result<Response<Body>, String> {
        let scope = image.scope();
        let (via, denied): (String, Box<dyn Fn(String) -> String + Send + Sync>) =
            match v.evidence() {
                Evidence::IndexChild { index } => {
                    let (index, policy, digest) = (
                        index.clone(),
                        v.policy().to_string(),
                        v.digest().to_string(),
                    );
                    let scope = scope.clone();
                    (
                        index.clone(),
                        Box::new(move |why| {
                            let item = format!("{scope}@{digest}");
                            Denial::part_of(&item, &index, &policy, why).to_string()
                        }),
                    )
                }
                _ => {
                    let d = v.clone();
                    (
                        format!("{scope}@{}", v.digest()),
                        Box::new(move |why| d.deny(why).to_string()),
                    )
                }
            };
        let f = match v.manifest() {
            Some(f) => f.clone(),
            None => self
                .engine
                .client()
                .manifest(image, v.digest())
                .await
                .map_err(|e| denied(e.to_string()))?,
        };
        let mut verified = v.descriptor().clone();
        if verified.media_type.is_empty() && matches!(v.evidence(), Evidence::IndexChild { .. }) {
            verified.media_type = f.media_type.clone();
        }
        if let Some(why) = descriptor_differs(&verified, &f) {
            return Err(denied(why));
        }
        // The manifest itself is not granted: asked for again (by digest), it goes through the
        // verdict cache, whose allow expires (a signature can).
        let policy = Some(v.policy().to_string());
        self.grant_references(generation, &scope, &f, &via, &policy)
            .map_err(denied)?;
        Ok(self.serve_manifest(head, image, &f, &via))
    }

    /// The upstream's exact bytes, media type, digest and length.
    fn serve_manifest(
        &self,
        head: bool,
        image: &ImageRef,
        f: &Fetched,
        via: &str,
    ) -> Response<Body> {
        let manifests = if head {
            self.counters.manifests_served.load(Ordering::Relaxed)
        } else {
            self.counters
                .manifests_served
                .fetch_add(1, Ordering::Relaxed)
                + 1
        };
        let (_, blobs, denials, _) = self.counters.get();
        tracing::info!(
            target: "pullguard::mirror",
            event = "manifest",
            method = if head { "HEAD" } else { "GET" },
            image = %image,
            digest = %f.digest,
            media_type = %f.media_type,
            size = f.bytes.len(),
            via,
            manifests_served = manifests,
            blobs_served = blobs,
            denials,
            "mirror served manifest"
        );
        crate::metrics::mirror_bytes(false, if head { 0 } else { f.bytes.len() });
        let mut r = Response::new(full(f.bytes.clone()));
        let h = r.headers_mut();
        if let Some(v) = value(&f.media_type).filter(|_| !f.media_type.is_empty()) {
            h.insert(CONTENT_TYPE, v);
        }
        if let Some(v) = value(&f.digest) {
            h.insert(DOCKER_CONTENT_DIGEST, v);
        }
        h.insert(CONTENT_LENGTH, HeaderValue::from(f.bytes.len()));
        r
    }

    async fn blob(
        &self,
        head: bool,
        image: ImageRef,
        range: Option<String>,
        guard: Ticket,
    ) -> Result<Response<Body>, String> {
        let generation = self.engine.snapshot().generation;
        let scope = image.scope();
        let digest = image.digest.clone().unwrap_or_default();
        // Only config and layer grants are blobs: an index child (a manifest grant) is served
        // by the manifests route, which applies require_platform_signature.
        let Some(g) = self
            .grant(generation, &scope, &digest)
            .filter(|g| g.kind == Kind::Blob)
        else {
            let under = match self.policy_name(&scope, &digest) {
                Some(p) => format!(" under trust policy {p:?}"),
                None => String::new(),
            };
            return Err(format!(
                "denied blob {scope}@{digest}{under}: it is not referenced by any manifest verified through this mirror under the current trust policy (generation {generation}); pull the image by tag or digest through the mirror"
            ));
        };
        let denied = |why: String| {
            format!(
                "denied blob {scope}@{digest} (part of {}) under trust policy {:?}: {why}",
                g.via,
                g.policy.as_deref().unwrap_or("-")
            )
        };
        if head {
            let mut r = Response::new(full(Bytes::new()));
            let h = r.headers_mut();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(CONTENT_LENGTH, HeaderValue::from(g.size));
            if let Some(v) = value(&digest) {
                h.insert(DOCKER_CONTENT_DIGEST, v);
            }
            return Ok(r);
        }
        let size = g.size as u64;
        let want = range
            .as_deref()
            .map_or(Want::Whole, |r| parse_range(r, size));
        let part = match want {
            Want::Whole => None,
            Want::Part(start, end) => Some((start, end)),
            Want::Unsatisfiable => return Ok(unsatisfiable(size)),
        };
        // With digests checked, a part is cut out of the whole blob, which is hashed: the
        // upstream never sees the Range (it costs the bytes outside it). Without, the Range goes
        // upstream and its 206 is checked for range and length only.
        let ask = part
            .filter(|&(s, e)| !self.opts.check_blob_digests && (s, e) != (0, size - 1))
            .map(|(s, e)| format!("bytes={s}-{e}"));
        let resp = self
            .engine
            .client()
            .blob_stream(&image, &digest, ask.as_deref())
            .await
            .map_err(|e| denied(e.to_string()))?;
        let check = if resp.status == StatusCode::OK {
            if let Some(len) = resp.content_length()
                && len != size
            {
                return Err(denied(format!(
                    "the registry announced {len} bytes, the verified manifest says {size}"
                )));
            }
            let c = Check::new(&digest, size, self.opts.check_blob_digests).map_err(denied)?;
            match part {
                Some((s, e)) => c.window(s, e),
                None => c,
            }
        } else if let (StatusCode::PARTIAL_CONTENT, Some(asked), Some((s, e))) =
            (resp.status, &ask, part)
        {
            let claimed = resp
                .headers
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if parse_content_range(claimed) != Some((s, e, size)) {
                return Err(denied(format!(
                    "the registry answered {asked} with Content-Range {claimed:?}, not \"bytes {s}-{e}/{size}\""
                )));
            }
            let len = e - s + 1;
            if let Some(l) = resp.content_length()
                && l != len
            {
                return Err(denied(format!(
                    "the registry announced a Content-Length of {l} for the range bytes {s}-{e}/{size}, which has {len}"
                )));
            }
            Check::part(len, format!("bytes {s}-{e}/{size}"))
        } else {
            return Err(denied(format!("the registry answered {}", resp.status)));
        };
        let upstream = resp.headers.clone();
        let idle = self.opts.idle_timeout;
        let body = BlobBody {
            upstream: resp.into_body(),
            check,
            idle,
            stall: Box::pin(tokio::time::sleep(idle)),
            done: false,
            what: format!("{scope}@{digest}"),
            counters: self.counters.clone(),
            _in_flight: guard,
        };
        let mut r = Response::new(BodyExt::boxed(body));
        let h = r.headers_mut();
        for name in [CONTENT_TYPE, ETAG] {
            if let Some(v) = upstream.get(&name) {
                h.insert(name, v.clone());
            }
        }
        if !h.contains_key(CONTENT_TYPE) {
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        match part {
            Some((s, e)) => {
                h.insert(CONTENT_LENGTH, HeaderValue::from(e - s + 1));
                if let Some(v) = value(&format!("bytes {s}-{e}/{size}")) {
                    h.insert(CONTENT_RANGE, v);
                }
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            None => {
                h.insert(CONTENT_LENGTH, HeaderValue::from(size));
            }
        }
        let h = r.headers_mut();
        if let Some(v) = value(&digest) {
            h.insert(DOCKER_CONTENT_DIGEST, v);
        }
        let blobs = self.counters.blobs_served.fetch_add(1, Ordering::Relaxed) + 1;
        crate::metrics::mirror_blob();
        let (manifests, _, denials, _) = self.counters.get();
        tracing::info!(
            target: "pullguard::mirror",
            event = "blob",
            image = %scope,
            digest = %digest,
            size = g.size,
            range = range.as_deref().unwrap_or(""),
            via = %g.via,
            manifests_served = manifests,
            blobs_served = blobs,
            denials,
            "mirror serving blob"
        );
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_verified_descriptor_is_served() {
        let bytes = Bytes::from_static(b"{}");
        let digest = crate::oci::sha256_digest(&bytes);
        let f = |media_type: &str, digest: &str| Fetched {
            bytes: bytes.clone(),
            media_type: media_type.into(),
            digest: digest.into(),
        };
        let verified = f(crate::oci::MEDIA_OCI_INDEX, &digest).descriptor();
        assert_eq!(
            descriptor_differs(&verified, &f(crate::oci::MEDIA_OCI_INDEX, &digest)),
            None
        );
        let e = descriptor_differs(&verified, &f(crate::oci::MEDIA_DOCKER_LIST, &digest)).unwrap();
        assert!(
            e.contains("media type") && e.contains(crate::oci::MEDIA_OCI_INDEX),
            "{e}"
        );
        let other = format!("sha256:{}", "0".repeat(64));
        let e = descriptor_differs(&verified, &f(crate::oci::MEDIA_OCI_INDEX, &other)).unwrap();
        assert!(e.contains("was verified"), "{e}");
        let bigger = Descriptor {
            size: 3,
            ..verified.clone()
        };
        let e = descriptor_differs(&bigger, &f(crate::oci::MEDIA_OCI_INDEX, &digest)).unwrap();
        assert!(e.contains("(3 bytes) was verified"), "{e}");
    }
}
