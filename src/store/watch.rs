//! The store watch in `pullguard serve`: subscribe to a store's image events, catch up with a
//! listing on every (re)connect (so nothing that arrived while disconnected is missed), verify
//! each image that appears or changes through the engine (decision origin `store`; the verdict
//! cache means a digest is not verified twice), and report or remove what does not verify.
//! Every image is checked again at each policy reload (under the new policy) and every
//! `recheck_secs`, as signatures expire and certificates are revoked after their arrival.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::containerd::{Containerd, Envelope, Record, image_event};
use super::{Finding, check_containerd, check_docker, docker};
use crate::config::{OnUnverified, WatchSection};
use crate::docker::{Dockerd, Guard};
use crate::gate::Gate;

/// Verifications running at once per store.
const PARALLEL: usize = 8;
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a Subscribe request gets to reach containerd before the catch-up listing.
const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(200);
/// `[watch] recheck_secs` when the file does not say: daily (each sweep asks the registry
/// about every image again; registries count manifest requests).
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(86_400);
/// A sweep's check that could not ask the registry (down, timing out) is tried again this
/// often, this many times, before the image is left as it stands until the next sweep.
const RETRY_AFTER: Duration = Duration::from_secs(30);
const RETRIES: u32 = 3;

/// Why every image of a store is to be checked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// A new policy generation: the records' (digest, generation) are new, checked at once.
    Reload,
    /// `recheck_secs` went by: what was verified is forgotten first.
    Periodic,
}

/// A session's sweeps: each policy generation installed, and the store's periodic sweep, whose
/// time the [`Watcher`] keeps across reconnects.
struct Sweeps {
    installed: watch::Receiver<u64>,
    store: &'static str,
}

impl Sweeps {
    fn new(engine: &Gate, store: &'static str) -> Sweeps {
        Sweeps {
            installed: engine.installed(),
            store,
        }
    }

    async fn next(&mut self, w: &Watcher) -> Sweep {
        let periodic = async {
            match w.due(self.store) {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            // Closed (the gate is gone, never while the daemon runs): only the period is left.
            Ok(()) = self.installed.changed() => Sweep::Reload,
            () = periodic => {
                w.swept(self.store);
                Sweep::Periodic
            }
        }
    }
}

/// `every` give or take a tenth, so that hosts started together do not sweep together.
fn jittered(every: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let tenth = every / 10;
    // r / u64::MAX of two tenths, then one tenth off: every * [0.9, 1.1].
    let span = tenth.as_nanos().saturating_mul(2);
    let off = Duration::from_nanos(((span * u128::from(r)) / u128::from(u64::MAX)) as u64);
    (every + off).saturating_sub(tenth)
}

/// A time no sweep reaches (a `recheck_secs` too large to add to now).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400)
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Watcher {
    engine: Arc<Gate>,
    on_unverified: OnUnverified,
    /// What was last handled per record (store/namespace/name or docker image ID): its digest
    /// and the policy generation, so a replayed event or a catch-up does not report it again.
    seen: Mutex<HashMap<String, (String, u64)>>,
    limit: Arc<Semaphore>,
    /// `recheck_secs`; `None`: only at a reload.
    recheck: Option<Duration>,
    /// Each store's next periodic sweep (kept across reconnects).
    due: Mutex<HashMap<&'static str, tokio::time::Instant>>,
    /// Checks spawned and not yet done, per store: a periodic sweep waits for the last one's.
    busy: Mutex<HashMap<&'static str, usize>>,
}

/// One check in flight for a store, counted in [`Watcher::busy`] until dropped.
struct Busy {
    watcher: Arc<Watcher>,
    store: &'static str,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut b) = self.watcher.busy.lock()
            && let Some(n) = b.get_mut(self.store)
        {
            *n = n.saturating_sub(1);
        }
    }
}

/// Start the configured watches; each ends when `stop` turns true.
pub fn start(
    engine: Arc<Gate>,
    cfg: &WatchSection,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let w = Arc::new(Watcher {
        engine,
        on_unverified: cfg.on_unverified,
        seen: Mutex::new(HashMap::new()),
        limit: Arc::new(Semaphore::new(PARALLEL)),
        recheck: match cfg.recheck_secs {
            Some(0) => None,
            Some(s) => Some(Duration::from_secs(s)),
            None => Some(DEFAULT_RECHECK),
        },
        due: Mutex::new(HashMap::new()),
        busy: Mutex::new(HashMap::new()),
    });
    let mut tasks = Vec::new();
    if let Some(sock) = &cfg.containerd {
        tasks.push(tokio::spawn(w.clone().containerd(
            sock.clone(),
            cfg.namespaces.clone(),
            stop.clone(),
        )));
    }
    if let Some(sock) = &cfg.docker {
        tasks.push(tokio::spawn(w.clone().docker(sock.clone(), stop)));
    }
    tasks
}

/// Run `session` again and again (with backoff) until `stop`.
async fn reconnecting<F, Fut>(store: &str, mut stop: watch::Receiver<bool>, mut session: F)
where
    F: FnMut(Arc<std::sync::atomic::AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let mut backoff = BACKOFF_MIN;
    loop {
        let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let why = tokio::select! {
            w = session(connected.clone()) => w,
            _ = stop.changed() => return,
        };
        if *stop.borrow() {
            return;
        }
        if connected.load(std::sync::atomic::Ordering::Relaxed) {
            backoff = BACKOFF_MIN;
        }
        tracing::warn!(target: "pullguard::store", store, error = %why, retry_ms = backoff.as_millis() as u64, "store watch disconnected; reconnecting");
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

impl Watcher {
    /// Already handled at this digest and generation? Marks it handled otherwise. `None`:
    /// handled already. `Some(trusted)`: to be checked, `trusted` when it verified at
    /// this digest under an earlier policy generation (a reload seen on a reconnect's
    /// catch-up): such a record is rechecked as a sweep rechecks it.
    fn first_time(&self, key: String, digest: &str) -> Option<bool> {
        let generation = self.engine.snapshot().generation;
        let Ok(mut seen) = self.seen.lock() else {
            return Some(false);
        };
        let now = (digest.to_string(), generation);
        let before = seen.get(&key);
        if before == Some(&now) {
            return None;
        }
        let trusted = before.is_some_and(|(d, _)| d == digest);
        if seen.len() > 100_000 {
            seen.clear();
        }
        seen.insert(key, now);
        Some(trusted)
    }

    /// When `store`'s next periodic sweep is due (`None`: never), set on first asking.
    fn due(&self, store: &'static str) -> Option<tokio::time::Instant> {
        let every = self.recheck?;
        let mut due = self.due.lock().ok()?;
        let at = *due.entry(store).or_insert_with(|| {
            tokio::time::Instant::now()
                .checked_add(jittered(every))
                .unwrap_or_else(far_future)
        });
        Some(at)
    }

    /// `store` swept now: its next sweep is a period on.
    fn swept(&self, store: &'static str) {
        if let (Some(every), Ok(mut due)) = (self.recheck, self.due.lock()) {
            let next = tokio::time::Instant::now()
                .checked_add(jittered(every))
                .unwrap_or_else(far_future);
            due.insert(store, next);
        }
    }

    /// A check for `store` is spawned: counted until the guard drops.
    fn busy(self: &Arc<Self>, store: &'static str) -> Busy {
        if let Ok(mut b) = self.busy.lock() {
            *b.entry(store).or_insert(0) += 1;
        }
        Busy {
            watcher: self.clone(),
            store,
        }
    }

    fn in_flight(&self, store: &'static str) -> usize {
        self.busy
            .lock()
            .map_or(0, |b| b.get(store).copied().unwrap_or(0))
    }

    /// Whether to sweep `store` now (a periodic sweep waits while the checks of the last one
    /// are still running: a slow registry must not pile sweeps up), and what a periodic one
    /// forgets first.
    fn sweeping(&self, store: &'static str, why: Sweep) -> bool {
        if why == Sweep::Periodic {
            let busy = self.in_flight(store);
            if busy > 0 {
                tracing::warn!(target: "pullguard::store", store, in_flight = busy, "the last sweep's checks of the store are still running; this recheck waits a minute");
                if let (Some(every), Ok(mut due)) = (self.recheck, self.due.lock()) {
                    let soon = tokio::time::Instant::now() + every.min(Duration::from_secs(60));
                    due.insert(store, soon);
                }
                return false;
            }
            let prefix = format!("{store}\0");
            if let Ok(mut seen) = self.seen.lock() {
                seen.retain(|k, _| !k.starts_with(&prefix));
            }
        }
        let why = match why {
            Sweep::Reload => "policy reloaded",
            Sweep::Periodic => "recheck_secs",
        };
        tracing::info!(target: "pullguard::store", store, why, "checking every image of the store again");
        true
    }

    /// Forget a record, so the next event or catch-up about it is handled again.
    fn forget(&self, key: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(key);
        }
    }

    fn log(&self, f: &Finding, action: &str) {
        if f.verified {
            tracing::info!(target: "pullguard::store", store = f.store, namespace = f.namespace.as_deref().unwrap_or(""), image = %f.image, digest = f.digest.as_deref().unwrap_or(""), id = f.id.as_deref().unwrap_or(""), policy = f.policy.as_deref().unwrap_or(""), verdict = "verified", reason = %f.reason, action, "store image");
        } else {
            tracing::warn!(target: "pullguard::store", store = f.store, namespace = f.namespace.as_deref().unwrap_or(""), image = %f.image, digest = f.digest.as_deref().unwrap_or(""), id = f.id.as_deref().unwrap_or(""), policy = f.policy.as_deref().unwrap_or(""), verdict = "unverified", reason = %f.reason, action, "store image");
        }
    }

    async fn containerd(
        self: Arc<Self>,
        socket: PathBuf,
        namespaces: Vec<String>,
        stop: watch::Receiver<bool>,
    ) {
        reconnecting("containerd", stop, |connected| {
            let me = self.clone();
            let socket = socket.clone();
            let namespaces = namespaces.clone();
            async move {
                match me.containerd_session(&socket, &namespaces, connected).await {
                    Ok(()) => "the event stream ended".to_string(),
                    Err(e) => e,
                }
            }
        })
        .await
    }

    async fn containerd_session(
        self: &Arc<Self>,
        socket: &std::path::Path,
        namespaces: &[String],
        connected: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), String> {
        let c = Containerd::connect(socket).await?;
        connected.store(true, std::sync::atomic::Ordering::Relaxed);
        // containerd answers a Subscribe only with its first event: read the stream in a task
        // of its own, and list once the subscription is in place, so whatever arrives in
        // between is in one or the other.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Envelope, String>>(1024);
        let sub = c.clone();
        let filters_ns = namespaces.to_vec();
        let _reader = AbortOnDrop(tokio::spawn(async move {
            let mut stream = match sub.subscribe(&filters_ns).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            loop {
                let item = match stream.message().await {
                    Ok(Some(env)) => Ok(env),
                    Ok(None) => Err("the event stream ended".to_string()),
                    Err(s) => Err(format!(
                        "containerd event stream: {:?}: {}",
                        s.code(),
                        s.message()
                    )),
                };
                let end = item.is_err();
                if tx.send(item).await.is_err() || end {
                    return;
                }
            }
        }));
        tokio::time::sleep(SUBSCRIBE_SETTLE).await;
        let mut sweeps = Sweeps::new(&self.engine, "containerd");
        let all = self.containerd_list(&c, namespaces, false).await?;
        tracing::info!(target: "pullguard::store", store = "containerd", socket = %socket.display(), namespaces = %all.join(","), "watching the containerd image store");
        loop {
            let env = tokio::select! {
                env = rx.recv() => env,
                why = sweeps.next(self) => {
                    if self.sweeping("containerd", why) {
                        self.containerd_list(&c, namespaces, true).await?;
                    }
                    continue;
                }
            };
            let Some(env) = env else {
                return Ok(());
            };
            let env = env?;
            let ev = match image_event(&env) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) => {
                    // Which image it was about is unknown: look at the whole namespace again.
                    tracing::warn!(target: "pullguard::store", store = "containerd", namespace = %env.namespace, error = %e, "unreadable image event; listing the namespace again");
                    if !env.namespace.is_empty()
                        && (namespaces.is_empty() || namespaces.contains(&env.namespace))
                    {
                        for rec in c.images(&env.namespace, Vec::new()).await? {
                            self.containerd_record(&c, &env.namespace, rec, false);
                        }
                    }
                    continue;
                }
            };
            if !namespaces.is_empty() && !namespaces.contains(&ev.namespace) {
                continue;
            }
            match c.image(&ev.namespace, &ev.name).await {
                Ok(Some(rec)) => self.containerd_record(&c, &ev.namespace, rec, false),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: "pullguard::store", store = "containerd", namespace = %ev.namespace, image = %ev.name, error = %e, "cannot read the image record")
                }
            }
        }
    }

    /// Check every record of the watched namespaces (all of them when none are named); the
    /// namespaces listed. `sweep`: a recheck of what may have been verified before.
    async fn containerd_list(
        self: &Arc<Self>,
        c: &Containerd,
        namespaces: &[String],
        sweep: bool,
    ) -> Result<Vec<String>, String> {
        let all = if namespaces.is_empty() {
            c.namespaces().await?
        } else {
            namespaces.to_vec()
        };
        for ns in &all {
            for rec in c.images(ns, Vec::new()).await? {
                self.containerd_record(c, ns, rec, sweep);
            }
        }
        Ok(all)
    }

    /// Verify one record (in a task of its own, at most PARALLEL at once). In a `sweep`, a
    /// record the registry could not be asked about (down, timing out) is asked about again
    /// and, failing that, left as it stands: what was trusted is not removed for an outage.
    fn containerd_record(self: &Arc<Self>, c: &Containerd, ns: &str, rec: Record, sweep: bool) {
        let key = format!("containerd\0{ns}\0{}", rec.name);
        let Some(trusted) = self.first_time(key.clone(), &rec.digest) else {
            return;
        };
        // A sweep's own checks are counted: the next sweep waits for them.
        let busy = sweep.then(|| self.busy("containerd"));
        let sweep = sweep || trusted;
        let me = self.clone();
        let c = c.clone();
        let ns = ns.to_string();
        tokio::spawn(async move {
            let _busy = busy;
            let mut tries = 0;
            let f = loop {
                let Ok(permit) = me.limit.clone().acquire_owned().await else {
                    return;
                };
                let f = check_containerd(&me.engine, &c, &ns, &rec).await;
                drop(permit);
                if !(sweep && f.unavailable()) || tries == RETRIES {
                    break f;
                }
                tries += 1;
                me.log(&f, "retried");
                tokio::time::sleep(RETRY_AFTER).await;
            };
            if f.verified {
                me.log(&f, "none");
                return;
            }
            // Kept as it stood: still remembered, so that an event before the next sweep does
            // not judge it as a new arrival.
            if sweep && f.unavailable() {
                me.log(&f, "kept");
                return;
            }
            // Only a verified record is remembered: one that is still there, or brought back
            // after its removal (the same tarball imported again), is handled again.
            me.forget(&key);
            if me.on_unverified == OnUnverified::Report {
                me.log(&f, "reported");
                return;
            }
            match c.delete(&ns, &rec.name, &rec.digest).await {
                Ok(()) => me.log(&f, "removed"),
                Err(e) => {
                    me.log(&f, "remove failed");
                    tracing::error!(target: "pullguard::store", store = "containerd", namespace = %ns, image = %rec.name, error = %e, "could not remove an unverified image");
                }
            }
        });
    }

    async fn docker(self: Arc<Self>, socket: PathBuf, stop: watch::Receiver<bool>) {
        let guard = Arc::new(Guard {
            engine: self.engine.clone(),
            dockerd: Dockerd::new(socket.clone()),
            switches: Default::default(),
        });
        reconnecting("docker", stop, |connected| {
            let me = self.clone();
            let guard = guard.clone();
            async move {
                match me.docker_session(&guard, connected).await {
                    Ok(()) => "the event stream ended".to_string(),
                    Err(e) => e,
                }
            }
        })
        .await
    }

    async fn docker_session(
        self: &Arc<Self>,
        guard: &Arc<Guard>,
        connected: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<(), String> {
        let mut body = docker::events(&guard.dockerd).await?;
        connected.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(target: "pullguard::store", store = "docker", socket = %guard.dockerd.socket.display(), "watching the Docker image store");
        let mut sweeps = Sweeps::new(&self.engine, "docker");
        self.docker_list(guard, false).await?;
        let mut lines = docker::EventLines::default();
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                why = sweeps.next(self) => {
                    if self.sweeping("docker", why) {
                        self.docker_list(guard, true).await?;
                    }
                    continue;
                }
            };
            let Some(frame) = frame else {
                break;
            };
            let frame = frame.map_err(|e| format!("dockerd event stream: {e}"))?;
            let Some(chunk) = frame.data_ref() else {
                continue;
            };
            for ev in lines.push(chunk)? {
                if docker::ARRIVALS.contains(&ev.action.as_str()) {
                    // The reference the event names (a pull's), else the image's own tags.
                    let tags = if ev.image.starts_with("sha256:") {
                        Vec::new()
                    } else {
                        vec![ev.image.clone()]
                    };
                    self.docker_image(guard, ev.image, tags, false);
                }
            }
        }
        Ok(())
    }

    /// Check every image of the Docker store (`sweep`: see [`Watcher::containerd_record`]).
    async fn docker_list(self: &Arc<Self>, guard: &Arc<Guard>, sweep: bool) -> Result<(), String> {
        for img in docker::list(&guard.dockerd).await? {
            self.docker_image(guard, img.id, img.tags, sweep);
        }
        Ok(())
    }

    fn docker_image(
        self: &Arc<Self>,
        guard: &Arc<Guard>,
        image: String,
        tags: Vec<String>,
        sweep: bool,
    ) {
        let me = self.clone();
        let guard = guard.clone();
        let busy = sweep.then(|| self.busy("docker"));
        tokio::spawn(async move {
            let _busy = busy;
            let Ok(permit) = me.limit.clone().acquire_owned().await else {
                return;
            };
            // Resolve to the image ID first: a tag event and a pull of the same image are one.
            let id = match guard.dockerd.image("", &image).await {
                Ok(Some(i)) => i.id,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(target: "pullguard::store", store = "docker", image = %image, error = %e, "cannot inspect the image");
                    return;
                }
            };
            let key = format!("docker\0{id}");
            let Some(trusted) = me.first_time(key.clone(), &id) else {
                return;
            };
            let sweep = sweep || trusted;
            let mut permit = Some(permit);
            let mut tries = 0;
            let (f, info) = loop {
                let held = match permit.take() {
                    Some(p) => p,
                    None => match me.limit.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let checked = check_docker(&guard, &id, &tags).await;
                drop(held);
                let (f, info) = match checked {
                    Ok(Some(x)) => x,
                    Ok(None) => return,
                    Err(e) => {
                        me.forget(&key);
                        tracing::warn!(target: "pullguard::store", store = "docker", image = %image, error = %e, "cannot check the image");
                        return;
                    }
                };
                if !(sweep && f.unavailable()) || tries == RETRIES {
                    break (f, info);
                }
                tries += 1;
                me.log(&f, "retried");
                tokio::time::sleep(RETRY_AFTER).await;
            };
            if f.verified {
                me.log(&f, "none");
                return;
            }
            if sweep && f.unavailable() {
                me.log(&f, "kept");
                return;
            }
            me.forget(&key);
            if me.on_unverified == OnUnverified::Report {
                me.log(&f, "reported");
                return;
            }
            match docker::remove(&guard.dockerd, &info.id).await {
                Ok(()) => me.log(&f, "removed"),
                Err(e) => {
                    me.log(&f, "remove failed");
                    tracing::error!(target: "pullguard::store", store = "docker", image = %f.image, error = %e, "could not remove an unverified image");
                }
            }
        });
    }
}
