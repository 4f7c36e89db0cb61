//! The verifying OCI registry mirror: the pull side of the distribution API on a TCP address,
//! for containerd's `hosts.toml` (`?ns=` names the upstream registry). A manifest, by tag or
//! digest, is resolved upstream and verified through the [`Gate`]; it is then served with
//! the upstream's exact bytes, media type and digest. What a verified manifest references
//! (config, layers, index children, and their config and layers once fetched) is granted for
//! the current policy generation; a blob is served only when granted, streamed from upstream
//! without buffering and checked against its digest on the way (the part that completes it is
//! held back until the digest matches). Everything else is the OCI error `DENIED` with a message
//! naming the image, the digest, the policy and the reason.
//!
//! It does not push, list tags or catalogs, serve referrers, or fetch a layer's foreign
//! `urls`; it does not authenticate its own clients (bind it to loopback).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, RANGE};
use hyper::{Method, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::docker::Body;
use crate::drain::{InFlight, Ticket};
use crate::gate::Gate;
use crate::oci::{Manifest, validate_digest};
use crate::registry::Fetched;

mod blob;
mod body;
mod grants;
mod manifest;
mod options;
mod range;
mod response;
mod route;

pub use options::MirrorOptions;
pub use route::fuzz_route;

use grants::{Grant, Grants, Kind};
use response::{denied_response, full};
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
}
