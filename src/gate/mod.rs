//! The gate: the pull path as one chain, for every front end (the Docker proxy and the
//! authorization plugin through [`crate::docker::Guard`], the mirror, `ctl verify` and the
//! containerd verifier through the control API, the store watch, and the one-shot
//! `pullguard verify`):
//!
//! resolve → select statement → discover → fetch → verify → check target → platform → verdict
//!
//! [`Gate::check`] is that chain; its answer is a [`Verdict`]: a [`Verified`] proof (only the
//! gate builds one) or a [`Denial`]. The gate holds the current trust configuration (swapped
//! whole on reload, with a generation number), the verdict [`cache`] (single flight, with
//! lifetimes by kind of verdict) and the [`decisions`] log. Its seams: where images come from
//! ([`Registry`]) and what time it is ([`Clock`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::auth::Credential;
use crate::oci::{Descriptor, ImageRef};
use crate::registry::{Fetched, Registry, RegistryClient};
use crate::revocation::{RevocationCheck, RevocationChecker};
use crate::verify::{
    Failure, Outcome, TrustConfig, VerifyOptions, resolve_or_deny, verifies_signatures,
    verify_discovered,
};

mod cache;
mod decisions;
mod platform;
mod verdict;

pub use decisions::{Counters, Decision};
pub use verdict::{Denial, Evidence, Verdict, Verified, outcome_of};

use cache::{Cache, Lifetimes};
use decisions::Decisions;

/// One image to let in or not.
#[derive(Debug, Clone)]
pub struct Request {
    pub image: ImageRef,
    pub platform: Platform,
    /// The client's registry credentials (a Docker client's `X-Registry-Auth`); else the
    /// daemon's own.
    pub credentials: Option<Credential>,
    /// Who asked: docker, containerd-verifier, mirror, ctl, store, cli.
    pub origin: String,
}

impl Request {
    pub fn new(image: ImageRef, origin: &str) -> Request {
        Request {
            image,
            platform: Platform::Pick(None),
            credentials: None,
            origin: origin.to_string(),
        }
    }

    pub fn platform(self, platform: Platform) -> Request {
        Request { platform, ..self }
    }

    pub fn credentials(self, credentials: Option<Credential>) -> Request {
        Request {
            credentials,
            ..self
        }
    }
}

/// Which manifest of a multi-arch index will run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Platform {
    /// The child for this `os/arch[/variant]` (`None`: this host's). With
    /// `require_platform_signature` it must verify on its own, and the verdict is about it
    /// (pull that digest).
    Pick(Option<String>),
    /// Not known here which child will run (the containerd verifier, `ctl verify`, the store
    /// watch, a Docker create or start: the platform is the client's, not this host's). With
    /// `require_platform_signature` every runnable child must verify on its own; the verdict is
    /// about the index.
    Every,
    /// The index itself is served and each child is asked for by digest (the mirror): the
    /// rule is applied to a child then, by [`Gate::check_child`].
    Served,
}

/// What time it is, for the signature's validity (expiry, certificate validity) and the log.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// One trust configuration and the generation it was installed as.
pub struct Snapshot {
    pub trust: Arc<TrustConfig>,
    pub generation: u64,
    pub loaded_at: OffsetDateTime,
}

pub struct GateOptions {
    pub max_signatures: usize,
    /// How long a denial is remembered (short: the cause may be transient).
    pub negative_ttl: Duration,
    /// How long an allow is remembered within one policy generation (signatures can expire).
    pub positive_ttl: Duration,
    /// How long a denial caused by a registry that could not be asked is remembered (at most
    /// `negative_ttl`).
    pub transient_ttl: Duration,
    /// Decisions kept for `ctl decisions`; 0 keeps and logs none (the one-shot CLI).
    pub decision_ring: usize,
    /// For a multi-arch index, the platform manifest must verify on its own too.
    pub require_platform_signature: bool,
    /// Policy scope instead of the image's `registry/repository` (notation's `--scope`).
    pub scope: Option<String>,
    /// `--user-metadata` pairs the payload must carry.
    pub user_metadata: BTreeMap<String, String>,
    /// Verification plugins: `--plugin-config` and the run deadline.
    pub plugins: crate::plugin::PluginSettings,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            max_signatures: 100,
            negative_ttl: Duration::from_secs(5),
            positive_ttl: Duration::from_secs(300),
            transient_ttl: Duration::from_secs(1),
            decision_ring: 1000,
            require_platform_signature: false,
            scope: None,
            user_metadata: BTreeMap::new(),
            plugins: Default::default(),
        }
    }
}

/// How many indexes deep a platform is followed (an index in an index: 1).
pub const MAX_NESTING: usize = 4;
/// How many manifests of one index (its nested indexes' included) are checked, at most.
pub const MAX_CHILDREN: usize = 256;

/// The denial of the index `desc` (verified as `index`) of `image`, for `reason`.
fn index_denied(
    image: &ImageRef,
    desc: &Descriptor,
    index: &Outcome,
    reason: String,
    transient: bool,
) -> (Arc<Outcome>, Option<Fetched>) {
    let mut d = Outcome::denied(&image.to_string(), reason);
    d.descriptor = Some(desc.clone());
    d.policy = index.policy.clone();
    d.transient = transient;
    (Arc::new(d), None)
}

fn too_deep() -> String {
    format!(
        "the index nests indexes more than {MAX_NESTING} levels deep (require_platform_signature)"
    )
}

pub struct Gate {
    snapshot: RwLock<Arc<Snapshot>>,
    /// Where `check` resolves and discovers (the daemon's registry client, a layout, a fake).
    registry: Arc<dyn Registry>,
    /// The daemon's registry client (the mirror streams blobs with it).
    client: Arc<RegistryClient>,
    cache: Cache,
    pub counters: Counters,
    decisions: Decisions,
    opts: GateOptions,
    clock: Arc<dyn Clock>,
    /// One OCSP/CRL checker for every verification (its CRL cache outlives them), judged at
    /// the clock's time; a fake in tests.
    revocation: Arc<dyn RevocationCheck>,
    /// The generation installed last, for those that act on a reload (the store watch).
    installed: tokio::sync::watch::Sender<u64>,
}

impl Gate {
    /// The daemon's gate: images from `client`, the wall clock.
    pub fn new(trust: TrustConfig, client: RegistryClient, opts: GateOptions) -> Gate {
        let client = Arc::new(client);
        Gate::build(trust, client.clone(), client, opts, Arc::new(SystemClock))
    }

    /// A gate on any [`Registry`] and [`Clock`] (an OCI layout, a fake in tests).
    pub fn with_registry(
        trust: TrustConfig,
        registry: Arc<dyn Registry>,
        opts: GateOptions,
        clock: Arc<dyn Clock>,
    ) -> Gate {
        let client = Arc::new(RegistryClient::anonymous());
        Gate::build(trust, registry, client, opts, clock)
    }

    fn build(
        trust: TrustConfig,
        registry: Arc<dyn Registry>,
        client: Arc<RegistryClient>,
        opts: GateOptions,
        clock: Arc<dyn Clock>,
    ) -> Gate {
        crate::metrics::trust(&trust, 1);
        Gate {
            snapshot: RwLock::new(Arc::new(Snapshot {
                trust: Arc::new(trust),
                generation: 1,
                loaded_at: clock.now(),
            })),
            registry,
            client,
            cache: Cache::new(Lifetimes {
                positive: opts.positive_ttl,
                negative: opts.negative_ttl,
                transient: opts.transient_ttl,
            }),
            counters: Counters::default(),
            decisions: Decisions::new(opts.decision_ring),
            opts,
            clock,
            revocation: Arc::new(RevocationChecker::default()),
            installed: tokio::sync::watch::Sender::new(1),
        }
    }

    /// Told each generation [`Gate::install`] installs.
    pub fn installed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.installed.subscribe()
    }

    /// The same gate, checking OCSP/CRL with `revocation` (a fake responder in tests).
    pub fn with_revocation(self, revocation: Arc<dyn RevocationCheck>) -> Gate {
        Gate { revocation, ..self }
    }

    /// The pull path: may `req.image` come in, and exactly which digest?
    pub async fn check(&self, req: &Request) -> Verdict {
        let own;
        let registry: &dyn Registry = match req.credentials.as_ref() {
            Some(c) => match self.registry.with_credential(c) {
                Some(r) => {
                    own = r;
                    &*own
                }
                None => &*self.registry,
            },
            None => &*self.registry,
        };
        // resolve → select statement → discover → fetch → verify → check target
        // Boxed, as the platform checks below: every caller's future would carry it inline.
        let (outcome, manifest) = Box::pin(self.verify(registry, &req.image, &req.origin)).await;
        // platform: the child of an index that will run must verify too. Boxed: their futures
        // hold further verifications, and every caller's future would carry them inline (in a
        // debug build, past a worker thread's stack).
        let (outcome, manifest) = match &req.platform {
            Platform::Pick(p) if self.opts.require_platform_signature => {
                Box::pin(self.platform(registry, req, p.as_deref(), outcome, manifest)).await
            }
            Platform::Every if self.opts.require_platform_signature => {
                Box::pin(self.every_platform(registry, req, outcome, manifest)).await
            }
            _ => (outcome, manifest),
        };
        // verdict
        Verified::judge(outcome, manifest)
    }

    /// A child manifest of an index that verified through the mirror (`index` is its
    /// `registry/repository@digest`, `policy` its statement, `child` the index's entry):
    /// covered by the index's signature, unless `require_platform_signature` wants its own.
    /// The index is checked again first (a cache hit while its allow is fresh): a child is
    /// never served on an index verdict that has expired, or that a revocation or expiry has
    /// turned since.
    pub async fn check_child(
        &self,
        req: &Request,
        index: &str,
        policy: &str,
        child: Descriptor,
    ) -> Verdict {
        if self.opts.require_platform_signature {
            return self.check(req).await;
        }
        let parent = ImageRef::parse(index)
            .map_err(|e| Denial::new(&req.image.to_string(), None, Some(policy), e))?;
        let parent_req = Request {
            image: parent,
            platform: Platform::Served,
            credentials: req.credentials.clone(),
            origin: req.origin.clone(),
        };
        let verified = self.check(&parent_req).await?;
        if Some(verified.digest()) != parent_req.image.digest.as_deref() {
            return Err(Denial::new(
                &req.image.to_string(),
                None,
                Some(policy),
                format!("the index {index} it is part of did not verify as itself"),
            ));
        }
        Ok(Verified::child(
            index,
            policy,
            &req.image.to_string(),
            child,
        ))
    }

    /// One artifact through the cache: resolve (a digest with a fresh verdict needs no
    /// registry round trip), then notation's Verify once per (artifact, generation). Hands
    /// back the manifest exactly as served when this call fetched it.
    async fn verify(
        &self,
        registry: &dyn Registry,
        image: &ImageRef,
        origin: &str,
    ) -> (Arc<Outcome>, Option<Fetched>) {
        let start = Instant::now();
        let snap = self.snapshot();
        if let Some(d) = &image.digest {
            let key = (format!("{}@{d}", image.scope()), snap.generation);
            if let Some(mut o) = self.cache.fresh(&key) {
                let asked = image.to_string();
                if o.reference != asked {
                    let mut renamed = (*o).clone();
                    renamed.reference = asked;
                    o = Arc::new(renamed);
                }
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                crate::metrics::cache_hit();
                self.record(origin, &o, snap.generation, true, start);
                return (o, None);
            }
        }
        // By digest the signature list needs nothing the resolve answers: both go at once
        // (unless the statement skips verification, no signature would be looked at, or a
        // verification of this digest is already under way: this call will join it).
        let opts = self.verify_options();
        let (resolved, discovered) = match &image.digest {
            Some(d)
                if opts.max_signatures > 0
                    && verifies_signatures(&snap.trust, image, d, &opts)
                    && !self
                        .cache
                        .settling(&(format!("{}@{d}", image.scope()), snap.generation)) =>
            {
                let pinned = image.with_digest(d);
                let (r, s) = tokio::join!(
                    resolve_or_deny(registry, image),
                    registry.signatures(&pinned, d)
                );
                (r, Some(s))
            }
            _ => (resolve_or_deny(registry, image).await, None),
        };
        let fetched = match resolved {
            Ok(f) => f,
            Err(mut o) => {
                o.timings.total_ms = ms(start);
                let o = Arc::new(o);
                self.record(origin, &o, snap.generation, false, start);
                return (o, None);
            }
        };
        let target = fetched.descriptor();
        let key = (
            format!("{}@{}", image.scope(), target.digest),
            snap.generation,
        );
        let (outcome, cached) = self
            .cache
            .get_or_verify(key, &target, async {
                self.counters.verifications.fetch_add(1, Ordering::Relaxed);
                let began = std::time::Instant::now();
                let o = verify_discovered(&snap.trust, registry, image, &target, &opts, discovered)
                    .await;
                crate::metrics::verification(began);
                o
            })
            .await;
        if cached {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            crate::metrics::cache_hit();
        }
        self.record(origin, &outcome, snap.generation, cached, start);
        (outcome, Some(fetched))
    }

    fn verify_options(&self) -> VerifyOptions {
        VerifyOptions {
            max_signatures: self.opts.max_signatures,
            now: self.clock.now(),
            scope: self.opts.scope.clone(),
            revocation: self.revocation.clone(),
            user_metadata: self.opts.user_metadata.clone(),
            plugins: self.opts.plugins.clone(),
        }
    }

    /// For an allowed index: the child for `platform` must verify too; its outcome is the
    /// verdict (pull that digest). A child that is itself an index is followed the same way,
    /// as containerd and dockerd follow it, down to [`MAX_NESTING`] levels (such an index is
    /// not a platform manifest: its own signature is not asked for). Anything else passes
    /// through.
    async fn platform(
        &self,
        registry: &dyn Registry,
        req: &Request,
        platform: Option<&str>,
        index: Arc<Outcome>,
        fetched: Option<Fetched>,
    ) -> (Arc<Outcome>, Option<Fetched>) {
        let Some(desc) = index.descriptor.clone() else {
            return (index, fetched);
        };
        if !index.allowed || !platform::is_index(&desc) {
            return (index, fetched);
        }
        let image = &req.image;
        let deny =
            |reason: String, transient: bool| index_denied(image, &desc, &index, reason, transient);
        // The index at hand, its bytes when known, and how deep it is nested (the one asked
        // for: 0).
        let mut at = desc.digest.clone();
        let mut bytes = fetched.filter(|f| f.digest == desc.digest).map(|f| f.bytes);
        let mut level = 0;
        loop {
            let b = match bytes.take() {
                Some(b) => b,
                None => match registry.resolve(&image.with_digest(&at)).await {
                    Ok(f) => f.bytes,
                    Err(e) => return deny(e.to_string(), e.is_transient()),
                },
            };
            let (digest, nested) = match platform::child_for(&b, platform) {
                Ok(c) => c,
                Err(e) => return deny(e, false),
            };
            if nested {
                level += 1;
                if level > MAX_NESTING {
                    return deny(too_deep(), false);
                }
                at = digest;
                continue;
            }
            let child_ref = ImageRef {
                tag: None,
                ..image.with_digest(&digest)
            };
            let (o, f) = self.verify(registry, &child_ref, &req.origin).await;
            if !o.allowed {
                let mut d = (*o).clone();
                let reason = format!(
                    "the platform manifest {digest} of index {at} must be signed too (require_platform_signature): {}",
                    o.reason.as_deref().unwrap_or("denied")
                );
                // The CLI prints this line as it is.
                d.failure = Some(Failure::Plain(reason.clone()));
                d.reason = Some(reason);
                return (Arc::new(d), None);
            }
            // Listed as a manifest and served as an index: followed too.
            if o.descriptor.as_ref().is_some_and(platform::is_index) {
                level += 1;
                if level > MAX_NESTING {
                    return deny(too_deep(), false);
                }
                bytes = f.filter(|f| f.digest == digest).map(|f| f.bytes);
                at = digest;
                continue;
            }
            return (o, f);
        }
    }

    /// For an allowed index whose running platform is not known: every runnable child must
    /// verify too, and every runnable child of a child that is itself an index (containerd
    /// follows nested indexes), down to [`MAX_NESTING`] levels. The index's outcome stands when
    /// they all do; the first that does not is the denial.
    async fn every_platform(
        &self,
        registry: &dyn Registry,
        req: &Request,
        index: Arc<Outcome>,
        fetched: Option<Fetched>,
    ) -> (Arc<Outcome>, Option<Fetched>) {
        let Some(desc) = index.descriptor.clone() else {
            return (index, fetched);
        };
        if !index.allowed || !platform::is_index(&desc) {
            return (index, fetched);
        }
        let image = &req.image;
        let deny =
            |reason: String, transient: bool| index_denied(image, &desc, &index, reason, transient);
        let bytes_of =
            |f: Option<Fetched>, digest: &str| f.filter(|f| f.digest == digest).map(|f| f.bytes);
        // The indexes still to look into: (digest, its bytes when at hand, nesting level);
        // each digest looked at once, and so many children in all.
        let mut pending = vec![(
            desc.digest.clone(),
            bytes_of(fetched.clone(), &desc.digest),
            0,
        )];
        let mut seen = std::collections::HashSet::from([desc.digest.clone()]);
        let mut budget = MAX_CHILDREN;
        while let Some((at, bytes, level)) = pending.pop() {
            let bytes = match bytes {
                Some(b) => b,
                None => match registry.resolve(&image.with_digest(&at)).await {
                    Ok(f) => f.bytes,
                    Err(e) => return deny(e.to_string(), e.is_transient()),
                },
            };
            let children = match platform::runnable_children(&bytes) {
                Ok(c) => c,
                Err(e) => return deny(e, false),
            };
            for child in children {
                if !seen.insert(child.digest.clone()) {
                    continue;
                }
                if budget == 0 {
                    return deny(
                        format!(
                            "the index lists more than {MAX_CHILDREN} manifests to check (require_platform_signature)"
                        ),
                        false,
                    );
                }
                budget -= 1;
                let child_ref = ImageRef {
                    tag: None,
                    ..image.with_digest(&child.digest)
                };
                // An index inside is followed, as containerd follows it; it is not itself a
                // platform manifest, so its own signature is not asked for (its digest pins it).
                if child.index {
                    if level >= MAX_NESTING {
                        return deny(too_deep(), false);
                    }
                    pending.push((child.digest, None, level + 1));
                    continue;
                }
                if child.unplaced {
                    match registry.resolve(&child_ref).await {
                        Ok(f) if platform::runs_nowhere(&f.bytes) => continue,
                        Ok(_) => {}
                        Err(e) => return deny(e.to_string(), e.is_transient()),
                    }
                }
                let (o, f) = self.verify(registry, &child_ref, &req.origin).await;
                if !o.allowed {
                    let mut d = (*o).clone();
                    let reason = format!(
                        "the platform manifest {} ({}) of index {at} must be signed too (require_platform_signature; which platform will run is not known here, so every one must verify): {}",
                        child.digest,
                        child.name,
                        o.reason.as_deref().unwrap_or("denied")
                    );
                    d.failure = Some(Failure::Plain(reason.clone()));
                    d.reason = Some(reason);
                    return (Arc::new(d), None);
                }
                // Listed as a manifest and served as an index: followed too.
                if o.descriptor.as_ref().is_some_and(platform::is_index) {
                    if level >= MAX_NESTING {
                        return deny(too_deep(), false);
                    }
                    pending.push((child.digest.clone(), bytes_of(f, &child.digest), level + 1));
                }
            }
        }
        (index, fetched)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Install a new trust configuration; returns its generation. Cached verdicts of older
    /// generations are dropped.
    /// A configuration identical to the current one (same source hash) changes nothing.
    pub fn install(&self, trust: TrustConfig) -> u64 {
        let mut guard = match self.snapshot.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if guard.trust.source_hash == trust.source_hash {
            return guard.generation;
        }
        let generation = guard.generation + 1;
        *guard = Arc::new(Snapshot {
            trust: Arc::new(trust),
            generation,
            loaded_at: self.clock.now(),
        });
        crate::metrics::trust(&guard.trust, generation);
        drop(guard);
        self.purge_cache();
        self.installed.send_replace(generation);
        generation
    }

    pub fn purge_cache(&self) -> usize {
        self.cache.purge()
    }

    /// The registry client verification uses (the daemon's credentials).
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    fn record(&self, origin: &str, o: &Outcome, generation: u64, cached: bool, start: Instant) {
        let now = self.clock.now();
        self.decisions.record(
            &self.counters,
            now,
            origin,
            o,
            generation,
            cached,
            ms(start),
        );
    }

    /// Put a verdict made without a verification (e.g. an image with no registry digest at all)
    /// into the decision log, under the current generation.
    pub fn note(&self, origin: &str, o: &Outcome) {
        let generation = self.snapshot().generation;
        self.record(origin, o, generation, false, Instant::now());
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.decisions.list()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Decision> {
        self.decisions.subscribe()
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
