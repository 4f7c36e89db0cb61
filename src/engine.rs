//! The daemon's verification engine: the current trust configuration (swapped whole on reload,
//! with a generation number), a verdict cache keyed by (artifact, generation) with single
//! flight, counters, and the decision log (a ring plus a broadcast for watchers).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::{OnceCell, broadcast};

use crate::auth::Credential;
use crate::oci::{Descriptor, ImageRef, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX};
use crate::registry::{Credentials, Fetched, RegistryClient};
use crate::revocation::RevocationChecker;
use crate::verify::{Outcome, Source, TrustConfig, VerifyOptions, resolve, verify_target};

/// One trust configuration and the generation it was installed as.
pub struct Snapshot {
    pub trust: Arc<TrustConfig>,
    pub generation: u64,
    pub loaded_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub time: String,
    /// Who asked: docker, containerd-verifier, mirror, ctl, store (the store watch and audit).
    pub origin: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub verdict: &'static str,
    pub reason: String,
    pub generation: u64,
    pub cached: bool,
    pub duration_ms: f64,
}

#[derive(Default)]
pub struct Counters {
    pub verifications: AtomicU64,
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub cache_hits: AtomicU64,
}

struct CacheEntry {
    cell: OnceCell<(Arc<Outcome>, Instant)>,
}

/// Verdicts kept at most (a flood of distinct digests cannot grow the cache without bound).
const MAX_CACHE_ENTRIES: usize = 50_000;

pub struct EngineOptions {
    pub max_signatures: usize,
    /// How long a denial is remembered (short: the cause may be transient).
    pub negative_ttl: Duration,
    /// How long an allow is remembered within one policy generation (signatures can expire).
    pub positive_ttl: Duration,
    pub decision_ring: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_signatures: 100,
            negative_ttl: Duration::from_secs(5),
            positive_ttl: Duration::from_secs(300),
            decision_ring: 1000,
        }
    }
}

pub struct Engine {
    snapshot: RwLock<Arc<Snapshot>>,
    client: RegistryClient,
    cache: Mutex<HashMap<(String, u64), Arc<CacheEntry>>>,
    pub counters: Counters,
    decisions: Mutex<VecDeque<Decision>>,
    watch: broadcast::Sender<Decision>,
    opts: EngineOptions,
    /// One OCSP/CRL checker for every verification: its CRL cache outlives them.
    revocation: Arc<RevocationChecker>,
}

impl Engine {
    pub fn new(trust: TrustConfig, client: RegistryClient, opts: EngineOptions) -> Engine {
        let (watch, _) = broadcast::channel(1024);
        Engine {
            snapshot: RwLock::new(Arc::new(Snapshot {
                trust: Arc::new(trust),
                generation: 1,
                loaded_at: OffsetDateTime::now_utc(),
            })),
            client,
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            decisions: Mutex::new(VecDeque::new()),
            watch,
            opts,
            revocation: Arc::new(RevocationChecker::default()),
        }
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
            loaded_at: OffsetDateTime::now_utc(),
        });
        drop(guard);
        self.purge_cache();
        generation
    }

    pub fn purge_cache(&self) -> usize {
        match self.cache.lock() {
            Ok(mut c) => {
                let n = c.len();
                c.clear();
                n
            }
            Err(_) => 0,
        }
    }

    /// The registry client verification uses (the daemon's credentials).
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// Resolve `image` (always, so a moved tag is seen) and verify the digest it names, through
    /// the cache. The outcome says which digest was verified: pull exactly that one.
    pub async fn check(
        &self,
        image: &ImageRef,
        creds: Option<Credential>,
        origin: &str,
    ) -> Arc<Outcome> {
        self.check_manifest(image, creds, origin).await.0
    }

    /// [`Engine::check`], also handing back the manifest exactly as the registry served it when
    /// this call fetched it (a tag, or a digest without a fresh verdict): the bytes whose digest
    /// the outcome is about, for a caller that serves them on (the mirror). `None` when the
    /// verdict came from the cache without a registry round trip, or nothing was resolved.
    pub async fn check_manifest(
        &self,
        image: &ImageRef,
        creds: Option<Credential>,
        origin: &str,
    ) -> (Arc<Outcome>, Option<Fetched>) {
        let start = Instant::now();
        let snap = self.snapshot();
        let own_client;
        let client = match creds {
            Some(c) => {
                own_client = self.client.with_credentials(Credentials::Fixed(Some(c)));
                &own_client
            }
            None => &self.client,
        };
        let source = Source::Registry(client);
        // A digest is immutable: a fresh verdict for it needs no registry round trip.
        if let Some(d) = &image.digest {
            let key = (format!("{}@{d}", image.scope()), snap.generation);
            if let Some(mut o) = self.fresh_outcome(&key) {
                let asked = image.to_string();
                if o.reference != asked {
                    let mut renamed = (*o).clone();
                    renamed.reference = asked;
                    o = Arc::new(renamed);
                }
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                self.record(origin, &o, snap.generation, true, start);
                return (o, None);
            }
        }
        let fetched = match resolve(&source, image).await {
            Ok(f) => f,
            Err(e) => {
                let mut o = Outcome::denied(&image.to_string(), e);
                o.timings.total_ms = start.elapsed().as_secs_f64() * 1000.0;
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
        let entry = {
            let mut cache = match self.cache.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            // A verdict is about one descriptor: the same digest served now with another media
            // type (or size) is verified afresh, not allowed from the cache.
            let usable = |o: &Outcome, at: Instant| {
                self.is_fresh(o, at) && o.descriptor.as_ref().is_none_or(|d| same(d, &target))
            };
            match cache.get(&key) {
                Some(e) if e.cell.get().is_none_or(|(o, at)| usable(o, *at)) => e.clone(),
                _ => {
                    if cache.len() >= MAX_CACHE_ENTRIES {
                        // Bounded: drop what is stale first, then every settled verdict.
                        cache.retain(|_, e| {
                            e.cell.get().is_none_or(|(o, at)| self.is_fresh(o, *at))
                        });
                        if cache.len() >= MAX_CACHE_ENTRIES {
                            cache.retain(|_, e| e.cell.get().is_none());
                        }
                    }
                    let e = Arc::new(CacheEntry {
                        cell: OnceCell::new(),
                    });
                    cache.insert(key.clone(), e.clone());
                    e
                }
            }
        };
        let mut computed = false;
        let (outcome, _) = entry
            .cell
            .get_or_init(|| async {
                computed = true;
                self.counters.verifications.fetch_add(1, Ordering::Relaxed);
                let opts = VerifyOptions {
                    max_signatures: self.opts.max_signatures,
                    now: OffsetDateTime::now_utc(),
                    scope: None,
                    revocation: self.revocation.clone(),
                    user_metadata: Default::default(),
                    plugins: Default::default(),
                };
                let o = verify_target(&snap.trust, &source, image, &target, &opts).await;
                (Arc::new(o), Instant::now())
            })
            .await
            .clone();
        if !computed {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        self.record(origin, &outcome, snap.generation, !computed, start);
        (outcome, Some(fetched))
    }

    /// [`Engine::check`], and for an allowed multi-arch index, the child manifest for
    /// `platform` (`os/arch[/variant]`, default this host's) must verify too. Returns the child's
    /// outcome (pull that digest), or the image's own outcome when it is not an index.
    pub async fn check_with_platform(
        &self,
        image: &ImageRef,
        platform: Option<&str>,
        creds: Option<Credential>,
        origin: &str,
    ) -> Arc<Outcome> {
        let (index, fetched) = self.check_manifest(image, creds.clone(), origin).await;
        self.check_platform(image, index, fetched, platform, creds, origin)
            .await
    }

    async fn check_platform(
        &self,
        image: &ImageRef,
        index: Arc<Outcome>,
        fetched: Option<Fetched>,
        platform: Option<&str>,
        creds: Option<Credential>,
        origin: &str,
    ) -> Arc<Outcome> {
        let Some(desc) = index.descriptor.clone() else {
            return index;
        };
        if !index.allowed
            || (desc.media_type != MEDIA_OCI_INDEX && desc.media_type != MEDIA_DOCKER_LIST)
        {
            return index;
        }
        let own_client;
        let client = match &creds {
            Some(c) => {
                own_client = self
                    .client
                    .with_credentials(Credentials::Fixed(Some(c.clone())));
                &own_client
            }
            None => &self.client,
        };
        let pinned = image.with_digest(&desc.digest);
        let child = async {
            // The index bytes the verdict was made on, or (verdict from the cache) fetched now.
            let fetched = match fetched.filter(|f| f.digest == desc.digest) {
                Some(f) => f,
                None => client
                    .manifest(&pinned, &desc.digest)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            let m = crate::oci::Manifest::parse(&fetched.bytes)?;
            let (os, arch, variant) = platform_parts(platform);
            m.manifests
                .unwrap_or_default()
                .into_iter()
                .find(|d| {
                    d.platform.as_ref().is_some_and(|p| {
                        p.os == os
                            && p.architecture == arch
                            && variant
                                .as_ref()
                                .is_none_or(|v| p.variant.as_ref() == Some(v))
                    })
                })
                .map(|d| d.digest)
                .ok_or_else(|| format!("the index has no manifest for platform {os}/{arch}"))
        }
        .await;
        match child {
            Ok(digest) => {
                let child_ref = ImageRef {
                    tag: None,
                    ..image.with_digest(&digest)
                };
                let o = self.check(&child_ref, creds, origin).await;
                if o.allowed {
                    o
                } else {
                    let mut d = (*o).clone();
                    d.reason = Some(format!(
                        "the platform manifest {digest} of index {} must be signed too (require_platform_signature): {}",
                        desc.digest,
                        o.reason.as_deref().unwrap_or("denied")
                    ));
                    Arc::new(d)
                }
            }
            Err(e) => {
                let mut d = Outcome::denied(&image.to_string(), e);
                d.descriptor = Some(desc);
                d.policy = index.policy.clone();
                Arc::new(d)
            }
        }
    }

    fn is_fresh(&self, o: &Outcome, at: Instant) -> bool {
        let ttl = if o.allowed {
            self.opts.positive_ttl
        } else {
            self.opts.negative_ttl
        };
        at.elapsed() < ttl
    }

    /// A completed, still fresh verdict for `key`.
    fn fresh_outcome(&self, key: &(String, u64)) -> Option<Arc<Outcome>> {
        let cache = self.cache.lock().ok()?;
        let (o, at) = cache.get(key)?.cell.get()?;
        self.is_fresh(o, *at).then(|| o.clone())
    }

    fn record(&self, origin: &str, o: &Outcome, generation: u64, cached: bool, start: Instant) {
        if o.allowed {
            self.counters.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.denied.fetch_add(1, Ordering::Relaxed);
        }
        let d = Decision {
            time: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            origin: origin.to_string(),
            image: o.reference.clone(),
            digest: o.digest().map(str::to_owned),
            policy: o.policy.clone(),
            verdict: if o.allowed { "allowed" } else { "denied" },
            reason: o.summary(),
            generation,
            cached,
            duration_ms: start.elapsed().as_secs_f64() * 1000.0,
        };
        tracing::info!(
            target: "pullguard::decision",
            origin = %d.origin,
            image = %d.image,
            digest = d.digest.as_deref().unwrap_or(""),
            policy = d.policy.as_deref().unwrap_or(""),
            verdict = d.verdict,
            reason = %d.reason,
            generation = d.generation,
            cached = d.cached,
            duration_ms = d.duration_ms,
            "decision"
        );
        if let Ok(mut ring) = self.decisions.lock() {
            if ring.len() >= self.opts.decision_ring {
                ring.pop_front();
            }
            ring.push_back(d.clone());
        }
        let _ = self.watch.send(d);
    }

    /// Put a verdict made without a verification (e.g. an image with no registry digest at all)
    /// into the decision log, under the current generation.
    pub fn note(&self, origin: &str, o: &Outcome) {
        let generation = self.snapshot().generation;
        self.record(origin, o, generation, false, Instant::now());
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.decisions
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Decision> {
        self.watch.subscribe()
    }
}

/// The same content descriptor, as a signature covers it: media type, digest and size.
fn same(a: &Descriptor, b: &Descriptor) -> bool {
    a.media_type == b.media_type && a.digest == b.digest && a.size == b.size
}

/// `os/arch[/variant]`, defaulting to this host's platform in Go's names.
fn platform_parts(p: Option<&str>) -> (String, String, Option<String>) {
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    let mut it = p.unwrap_or("").split('/').filter(|s| !s.is_empty());
    let os = it.next().unwrap_or("linux").to_string();
    let arch = it.next().unwrap_or(host_arch).to_string();
    let variant = it.next().map(str::to_owned);
    (os, arch, variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        assert_eq!(
            platform_parts(Some("linux/arm64/v8")),
            ("linux".into(), "arm64".into(), Some("v8".into()))
        );
        assert_eq!(platform_parts(Some("windows/amd64")).2, None);
        assert_eq!(platform_parts(None).0, "linux");
    }
}
