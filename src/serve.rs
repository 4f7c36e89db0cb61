//! `pullguard serve`: load and validate the trust configuration (refuse to start on any
//! problem), take the sockets (systemd socket activation by name, else bind), serve the Docker
//! proxy and the control API, reload on SIGHUP / RPC / policy-dir change (keeping the last good
//! configuration on error), and drain in-flight requests on SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::auth::DockerConfig;
use crate::config::{self, Config};
use crate::control::{self, ControlState};
use crate::docker::{AuthzPlugin, DockerProxy, Dockerd, Guard};
use crate::engine::{Engine, EngineOptions};
use crate::listen::{self, SocketPerms};
use crate::mirror::Mirror;
use crate::registry::{Credentials, RegistryClient, RegistryOptions};
use crate::systemd;
use crate::verify::TrustConfig;

pub struct ServeOptions {
    pub config: Config,
    pub policy_dir: PathBuf,
    /// The Docker proxy socket; `None`: no proxy (unless systemd passes one).
    pub docker_listen: Option<PathBuf>,
    pub docker_upstream: PathBuf,
    pub control_listen: PathBuf,
    /// The verifying registry mirror's TCP address; `None`: no mirror.
    pub mirror_listen: Option<String>,
    /// The Docker authorization plugin's socket; `None`: no plugin (unless systemd passes one).
    pub authz_listen: Option<PathBuf>,
    /// Prometheus metrics: a TCP address or a Unix socket path; `None`: none.
    pub metrics_listen: Option<String>,
    pub insecure: Vec<String>,
}

/// Load the trust configuration for serving: policy errors and store errors both refuse.
pub fn load_strict(dir: &Path) -> Result<TrustConfig, Vec<String>> {
    let tc = TrustConfig::load(dir)?;
    let problems = tc.store_problems();
    if problems.is_empty() {
        Ok(tc)
    } else {
        Err(problems)
    }
}

pub fn registry_options(cfg: &Config, insecure: Vec<String>) -> RegistryOptions {
    RegistryOptions {
        insecure,
        connect_timeout: Duration::from_secs(cfg.registry_connect_timeout_secs.unwrap_or(5)),
        request_timeout: Duration::from_secs(cfg.registry_timeout_secs.unwrap_or(30)),
        hosts: Arc::new(crate::tls::RegistryHosts::from_config(cfg)),
        proxies: Arc::new(crate::proxy_env::ProxyConfig::from_section(
            cfg.proxy.as_ref(),
        )),
    }
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("Error: {msg}");
    2
}

/// Run the daemon. Returns the process exit code.
pub async fn run(opts: ServeOptions) -> i32 {
    let cfg = &opts.config;
    let trust = match load_strict(&opts.policy_dir) {
        Ok(t) => t,
        Err(problems) => {
            for p in &problems {
                eprintln!("Error: {p}");
            }
            eprintln!(
                "pullguard: refusing to start: {} problem(s) in {}",
                problems.len(),
                opts.policy_dir.display()
            );
            return 2;
        }
    };
    let docker_cfg = match DockerConfig::load(cfg.docker_config.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let daemon_json = cfg.docker.daemon_json.clone();
    let daemon_json =
        daemon_json.unwrap_or_else(|| crate::docker::dockerd::DEFAULT_DAEMON_JSON.into());
    let mut insecure = opts.insecure.clone();
    match crate::docker::dockerd::daemon_json_insecure(&daemon_json) {
        Ok(more) => insecure.extend(more),
        Err(e) => return fail(e),
    }
    let ropts = registry_options(cfg, insecure);
    if let Some(p) = ropts
        .hosts
        .problems()
        .into_iter()
        .chain(ropts.proxies.problems())
        .next()
    {
        return fail(p); // [registries] files and [proxy]/HTTPS_PROXY checked at start
    }
    let client = match RegistryClient::new(ropts, Credentials::DockerConfig(Arc::new(docker_cfg))) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let decision_ring = cfg.control.decisions.unwrap_or(1000);
    if !(1..=1_000_000).contains(&decision_ring) {
        return fail(format!(
            "[control] decisions must be between 1 and 1000000, got {decision_ring}"
        ));
    }
    let engine = Arc::new(Engine::new(
        trust,
        client,
        EngineOptions {
            decision_ring,
            max_signatures: cfg.max_signatures.unwrap_or(100),
            negative_ttl: Duration::from_secs(cfg.negative_cache_secs.unwrap_or(5)),
            positive_ttl: Duration::from_secs(cfg.positive_cache_secs.unwrap_or(300)),
        },
    ));

    // Sockets: from systemd by name when activated, else bound here (refusing a path another
    // daemon serves). `sockets` removes on exit, or on any early return, only what it bound.
    let mut activated = systemd::Activated::from_env();
    let mut sockets = listen::Sockets::default();
    let d = &cfg.docker;
    let perms = match socket_perms(d) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let docker_listen = opts.docker_listen.as_deref();
    let like = Some(opts.docker_upstream.as_path());
    let docker_listener = match sockets
        .unix(&mut activated, "docker", docker_listen, &perms, like)
        .await
    {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let control_perms = SocketPerms {
        mode: Some(0o600),
        uid: None,
        gid: None,
    };
    let control_listen = Some(opts.control_listen.as_path());
    let control_listener = match sockets
        .unix(
            &mut activated,
            "control",
            control_listen,
            &control_perms,
            None,
        )
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => return fail("no control socket"),
        Err(e) => return fail(e),
    };
    // The verifying registry mirror (optional).
    let mirror_fd = match activated.take_tcp("mirror") {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let mirror_activated = mirror_fd.is_some();
    let mirror = match (&opts.mirror_listen, mirror_fd) {
        (None, None) => None,
        (addr, fd) => {
            let addr = addr.as_deref().unwrap_or("(systemd)");
            match Mirror::setup(engine.clone(), cfg, addr, fd).await {
                Ok(m) => Some(m),
                Err(e) => return fail(e),
            }
        }
    };
    if let Some((_, _, addr)) = &mirror {
        sockets.add("mirror", format!("http://{addr}"), mirror_activated);
    }
    // The Docker authorization plugin: dockerd (root) is its only client.
    let authz_perms = SocketPerms {
        mode: Some(0o600),
        uid: None,
        gid: None,
    };
    let authz_listen = opts.authz_listen.as_deref();
    let authz_listener = match sockets
        .unix(&mut activated, "authz", authz_listen, &authz_perms, None)
        .await
    {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let metrics = match crate::metrics::listener(
        &mut activated,
        &mut sockets,
        opts.metrics_listen.as_deref(),
    )
    .await
    {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    // After every take: what systemd passed and nothing took.
    for name in activated.names() {
        tracing::warn!(
            name,
            "systemd passed a socket pullguard does not use; ignored"
        );
    }
    let watching = cfg.watch.containerd.is_some() || cfg.watch.docker.is_some();
    if docker_listener.is_none() && mirror.is_none() && authz_listener.is_none() && !watching {
        return fail(
            "nothing to serve: configure the Docker proxy (--docker-listen), the mirror (--mirror-listen), the authorization plugin (--authz-listen) and/or the store watch ([watch])",
        );
    }
    let listeners = sockets.lines();

    // One guard (and one verdict cache) for the proxy and the plugin.
    let guard = Arc::new(Guard {
        engine: engine.clone(),
        dockerd: Dockerd::new(opts.docker_upstream.clone()),
        switches: d.clone(),
        require_platform_signature: cfg.require_platform_signature,
    });
    let proxy = Arc::new(DockerProxy::new(guard.clone()));
    let authz = Arc::new(AuthzPlugin::new(guard));
    let mut state = ControlState::new(engine.clone(), opts.policy_dir.clone(), listeners);
    state.mirror = mirror.as_ref().map(|(m, _, _)| m.counters.clone());
    state.require_platform_signature = cfg.require_platform_signature;
    let state = Arc::new(state);
    let (stop_tx, stop_rx) = watch::channel(false);
    let docker_task =
        docker_listener.map(|l| tokio::spawn(proxy.clone().serve(l, stop_rx.clone())));
    let authz_task = authz_listener.map(|l| tokio::spawn(authz.clone().serve(l, stop_rx.clone())));
    let _metrics_task = metrics.map(|l| tokio::spawn(crate::metrics::serve(l, stop_rx.clone())));
    let (mirror, mirror_task) = match mirror {
        Some((m, l, _)) => (
            Some(m.clone()),
            Some(tokio::spawn(m.serve(l, stop_rx.clone()))),
        ),
        None => (None, None),
    };
    let allowed = cfg.control.allowed_uids.clone().unwrap_or_else(|| {
        let me = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap_or(0);
        let mut v = vec![0];
        if me != 0 {
            v.push(me);
        }
        v
    });
    // The store watch: images that arrive around every pull guard.
    let _store_tasks = crate::store::watch::start(
        engine.clone(),
        &cfg.watch,
        cfg.require_platform_signature,
        stop_rx.clone(),
    );
    let mut control_stop = stop_rx.clone();
    let control_task = tokio::spawn(control::serve(
        state.clone(),
        control_listener,
        allowed,
        async move {
            let _ = control_stop.changed().await;
        },
    ));

    // Policy dir watcher: editors and config managers replace files by rename, so watch the
    // directory tree, debounce, then reload (whole or not at all).
    let debounce_ms = cfg.control.debounce_ms.unwrap_or(200);
    if cfg.control.watch.unwrap_or(true)
        && let Err(e) = watch_policy_dir(state.clone(), debounce_ms)
    {
        tracing::warn!(error = %e, "policy dir watching disabled");
    }

    let (mut hup, mut term, mut int) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => return fail("cannot install signal handlers"),
    };
    tracing::info!(
        docker = %sockets.addr("docker"),
        mirror = %sockets.addr("mirror"),
        control = %sockets.addr("control"),
        authz = %sockets.addr("authz"),
        metrics = %sockets.addr("metrics"),
        activated = %sockets.activated(),
        upstream = %opts.docker_upstream.display(),
        policy = %engine.snapshot().trust.policy_path.display(),
        "pullguard serving"
    );
    systemd::ready(&state.status_line());
    systemd::spawn_watchdog();
    let mut status_tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = state.reload("SIGHUP").await;
            }
            _ = status_tick.tick() => systemd::status(&state.status_line()),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    systemd::stopping();
    let _ = stop_tx.send(true);
    for task in [docker_task, mirror_task, authz_task].into_iter().flatten() {
        let _ = task.await;
    }
    let grace = Duration::from_secs(cfg.shutdown_grace_secs.unwrap_or(30));
    let start = Instant::now();
    let busy = || {
        proxy.in_flight.count()
            + authz.in_flight.count()
            + mirror.as_ref().map_or(0, |m| m.in_flight())
    };
    while busy() > 0 && start.elapsed() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(m) = &mirror {
        m.log_counters();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), control_task).await;
    // Only the sockets bound here, and only while their paths still name them.
    drop(sockets);
    0
}

/// Event kinds that can change what a reload reads: creation, data writes, renames, removal,
/// metadata (mode, owner: readability). Opens, reads and closes without a write, the daemon's
/// own reloads among them, cannot; reacting to them made an idle daemon reload itself forever.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind as K;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        K::Access(AccessKind::Close(AccessMode::Write)) => true,
        K::Access(_) => false,
        K::Create(_) | K::Modify(_) | K::Remove(_) | K::Any | K::Other => true,
    }
}

/// The directories a reload reads through, by identity (device and inode, symlinks followed):
/// the policy dir, `truststore`, `truststore/x509` and its three type dirs, any of which may be
/// a symlink, even out of the tree. When one is replaced (a symlink re-pointed, a directory
/// renamed over), the watches are set up again on what is there now.
fn tree_identity(dir: &Path) -> Vec<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let x509 = dir.join("truststore").join("x509");
    [
        dir.to_path_buf(),
        dir.join("truststore"),
        x509.clone(),
        x509.join("ca"),
        x509.join("signingAuthority"),
        x509.join("tsa"),
    ]
    .iter()
    .map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
    .collect()
}

/// Watch the policy dir tree (symlinks followed) for content changes; each one pokes `tx`
/// (one pending poke at most: they coalesce).
fn watch_tree(
    dir: &Path,
    tx: tokio::sync::mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // A watcher error (e.g. the kernel queue overflowed) may hide a change: reload.
        if res.as_ref().map_or(true, |ev| changes_content(&ev.kind)) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    Ok(watcher)
}

/// Watch the policy dir and reload (silently unless something changed) once changes have been
/// quiet for `debounce_ms` (at most 10× that, and at least 2 s, after the first).
fn watch_policy_dir(state: Arc<ControlState>, debounce_ms: u64) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let dir = state.policy_dir.clone();
    let mut identity = tree_identity(&dir);
    let mut watcher = watch_tree(&dir, tx.clone())?;
    let quiet = Duration::from_millis(debounce_ms);
    let longest = (quiet * 10).max(Duration::from_secs(2));
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let cap = tokio::time::Instant::now() + longest;
            loop {
                let until = (tokio::time::Instant::now() + quiet).min(cap);
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(())) if tokio::time::Instant::now() < cap => continue,
                    _ => break,
                }
            }
            let now = tree_identity(&dir);
            if now != identity {
                identity = now;
                match watch_tree(&dir, tx.clone()) {
                    Ok(w) => {
                        tracing::debug!("policy dir tree replaced; watching it again");
                        watcher = w;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot watch the policy dir again"),
                }
            }
            let _ = state.reload_if_changed().await;
        }
        drop(watcher);
    });
    Ok(())
}

fn socket_perms(d: &config::DockerSection) -> Result<SocketPerms, String> {
    Ok(SocketPerms {
        mode: d
            .socket_mode
            .as_deref()
            .map(config::parse_mode)
            .transpose()?,
        uid: d
            .socket_user
            .as_deref()
            .map(|u| config::lookup_id(u, "/etc/passwd"))
            .transpose()?,
        gid: d
            .socket_group
            .as_deref()
            .map(|g| config::lookup_id(g, "/etc/group"))
            .transpose()?,
    })
}
