//! The daemon as a library: [`run`] loads and validates the trust configuration (refusing to
//! start on any problem), takes the sockets (systemd socket activation by name, else bound
//! here), serves the Docker proxy, the authorization plugin, the registry mirror, the store
//! watch and the control API until `shutdown` resolves, then drains within the grace period.
//! `pullguard serve` passes SIGTERM/SIGINT as `shutdown`; a test passes its own future.
//!
//! - [`signal`]: SIGTERM/SIGINT (the drain) and SIGHUP (a reload).
//! - [`reload`]: the one reload path (SIGHUP, RPC, file watcher) and its systemd notifications.
//! - [`watch`]: the policy-dir watcher.
//! - [`systemd`]: `sd_notify` and socket activation.
//! - [`listen`]: the daemon's own Unix sockets: one instance per path, removal on exit.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;

use crate::auth::DockerConfig;
use crate::config::Config;
use crate::control::{self, ControlState};
use crate::docker::{AuthzPlugin, DockerProxy, Dockerd, Guard};
use crate::gate::{Gate, GateOptions};
use crate::mirror::Mirror;
use crate::registry::{Credentials, RegistryClient, RegistryOptions};

pub mod listen;
pub mod reload;
pub mod signal;
pub mod systemd;
pub mod watch;

pub use reload::load_strict;

use crate::config::SocketPerms;
use listen::Sockets;

/// What `pullguard serve` runs: the config file, with the command line's flags applied.
/// After the work in flight is done: how long the servers get to write out responses already
/// built before the connections still open (endless streams) are cut.
const SERVER_FLUSH: Duration = Duration::from_secs(1);

pub struct Options {
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

/// Why the daemon did not start (it exits 2).
#[derive(Debug)]
pub enum DaemonError {
    /// The trust configuration has problems: every one of them, and the dir.
    Trust { problems: Vec<String>, dir: PathBuf },
    /// Anything else that stops it from starting (a socket, the config, the runtime).
    Setup(String),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Trust { problems, dir } => write!(
                f,
                "refusing to start: {} problem(s) in {}",
                problems.len(),
                dir.display()
            ),
            DaemonError::Setup(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DaemonError {}

impl From<String> for DaemonError {
    fn from(msg: String) -> DaemonError {
        DaemonError::Setup(msg)
    }
}

impl DaemonError {
    /// Print the error as `pullguard serve` always has: `Error: …` lines on stderr.
    pub fn report(&self) {
        match self {
            DaemonError::Trust { problems, .. } => {
                for p in problems {
                    eprintln!("Error: {p}");
                }
                eprintln!("pullguard: {self}");
            }
            DaemonError::Setup(msg) => eprintln!("Error: {msg}"),
        }
    }
}

pub fn registry_options(cfg: &Config, insecure: Vec<String>) -> RegistryOptions {
    RegistryOptions {
        insecure,
        connect_timeout: cfg.registry_connect_timeout,
        request_timeout: cfg.registry_timeout,
        hosts: Arc::new(crate::tls::RegistryHosts::from_config(cfg)),
        proxies: Arc::new(crate::proxy_env::ProxyConfig::from_section(
            cfg.proxy.as_ref(),
        )),
        http2: false,
        connect_ahead: None,
    }
}

/// The trust configuration, the registry client and the engine (the verdict cache) over them.
fn engine(opts: &Options) -> Result<Arc<Gate>, DaemonError> {
    let cfg = &opts.config;
    let trust = load_strict(&opts.policy_dir).map_err(|problems| DaemonError::Trust {
        problems,
        dir: opts.policy_dir.clone(),
    })?;
    let docker_cfg = DockerConfig::load(cfg.docker_config.as_deref())?;
    // dockerd's own plain-HTTP registries (daemon.json), so a pull through the proxy works
    // wherever it works straight to dockerd.
    let daemon_json = cfg
        .docker
        .daemon_json
        .clone()
        .unwrap_or_else(|| crate::docker::dockerd::DEFAULT_DAEMON_JSON.into());
    let mut insecure = opts.insecure.clone();
    insecure.extend(
        crate::docker::dockerd::daemon_json_insecure(&daemon_json).map_err(DaemonError::Setup)?,
    );
    let ropts = registry_options(cfg, insecure);
    // [registries] files and [proxy]/HTTPS_PROXY checked at start.
    if let Some(p) = ropts
        .hosts
        .problems()
        .into_iter()
        .chain(ropts.proxies.problems())
        .next()
    {
        return Err(DaemonError::Setup(p));
    }
    let client = RegistryClient::new(ropts, Credentials::DockerConfig(Arc::new(docker_cfg)))?;
    Ok(Arc::new(Gate::new(
        trust,
        client,
        GateOptions {
            decision_ring: cfg.control.decisions,
            max_signatures: cfg.max_signatures,
            negative_ttl: cfg.negative_cache,
            positive_ttl: cfg.positive_cache,
            require_platform_signature: cfg.require_platform_signature,
            plugins: crate::plugin::PluginSettings {
                timeout: Some(cfg.plugin_timeout),
                ..Default::default()
            },
            ..GateOptions::default()
        },
    )))
}

/// The listeners, taken from systemd by name when activated, else bound here (refusing a path
/// another daemon serves). `sockets` removes on drop, at exit or on any early return, only what
/// it bound.
struct Taken {
    sockets: Sockets,
    docker: Option<UnixListener>,
    control: UnixListener,
    authz: Option<UnixListener>,
    mirror: Option<(Arc<Mirror>, tokio::net::TcpListener)>,
    metrics: Option<crate::metrics::MetricsListener>,
}

async fn take_sockets(opts: &Options, engine: &Arc<Gate>) -> Result<Taken, DaemonError> {
    let cfg = &opts.config;
    let mut activated = systemd::Activated::from_env();
    let mut sockets = Sockets::default();
    let like = Some(opts.docker_upstream.as_path());
    let docker = sockets
        .unix(
            &mut activated,
            "docker",
            opts.docker_listen.as_deref(),
            &cfg.docker_socket,
            like,
        )
        .await?;
    let owner_only = SocketPerms {
        mode: Some(0o600),
        uid: None,
        gid: None,
    };
    let control = sockets
        .unix(
            &mut activated,
            "control",
            Some(opts.control_listen.as_path()),
            &owner_only,
            None,
        )
        .await?
        .ok_or_else(|| DaemonError::Setup("no control socket".into()))?;
    // The verifying registry mirror (optional).
    let mirror_fd = activated.take_tcp("mirror")?;
    let mirror_activated = mirror_fd.is_some();
    let mirror = match (&opts.mirror_listen, mirror_fd) {
        (None, None) => None,
        (addr, fd) => {
            let addr = addr.as_deref().unwrap_or("(systemd)");
            let (m, l, bound) = Mirror::setup(engine.clone(), cfg, addr, fd).await?;
            sockets.add("mirror", format!("http://{bound}"), mirror_activated);
            Some((m, l))
        }
    };
    // The Docker authorization plugin: dockerd (root) is its only client.
    let authz = sockets
        .unix(
            &mut activated,
            "authz",
            opts.authz_listen.as_deref(),
            &owner_only,
            None,
        )
        .await?;
    let metrics =
        crate::metrics::listener(&mut activated, &mut sockets, opts.metrics_listen.as_deref())
            .await?;
    // After every take: what systemd passed and nothing took.
    for name in activated.names() {
        tracing::warn!(
            name,
            "systemd passed a socket pullguard does not use; ignored"
        );
    }
    Ok(Taken {
        sockets,
        docker,
        control,
        authz,
        mirror,
        metrics,
    })
}

/// Run the daemon until `shutdown` resolves, then drain: no new connections, the requests in
/// flight (pull streams and their re-tags, blob streams, hijacked sessions) get the grace
/// period (`shutdown_grace_secs`) to finish, and a warning names what was cut off after it.
/// `Err` only when it cannot start; the sockets it bound are removed either way.
pub async fn run(
    opts: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DaemonError> {
    let cfg = &opts.config;
    // The policy-dir watch comes first: a change made from here on, even before the sockets are
    // bound or the reload loop runs, is reloaded (a client that sees the sockets and then edits
    // the policy must not race the watch).
    let policy_watch = cfg
        .control
        .watch
        .then(|| watch::PolicyWatch::start(&opts.policy_dir));
    let engine = engine(&opts)?;
    let Taken {
        sockets,
        docker,
        control,
        authz,
        mirror,
        metrics,
    } = take_sockets(&opts, &engine).await?;
    let watching = cfg.watch.containerd.is_some() || cfg.watch.docker.is_some();
    if docker.is_none() && mirror.is_none() && authz.is_none() && !watching {
        return Err(DaemonError::Setup(
            "nothing to serve: configure the Docker proxy (--docker-listen), the mirror (--mirror-listen), the authorization plugin (--authz-listen) and/or the store watch ([watch])".into(),
        ));
    }
    let mut hangups = signal::Hangups::install()?;

    // One guard (and one verdict cache) for the proxy and the plugin.
    let guard = Arc::new(Guard {
        engine: engine.clone(),
        dockerd: Dockerd::new(opts.docker_upstream.clone()),
        switches: cfg.docker.clone(),
    });
    let proxy = Arc::new(DockerProxy::new(guard.clone()));
    let authz_plugin = Arc::new(AuthzPlugin::new(guard));
    let mut state = ControlState::new(engine.clone(), opts.policy_dir.clone(), sockets.lines());
    state.mirror = mirror.as_ref().map(|(m, _)| m.counters.clone());
    let state = Arc::new(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let docker_task = docker.map(|l| tokio::spawn(proxy.clone().serve(l, stop_rx.clone())));
    let authz_task = authz.map(|l| tokio::spawn(authz_plugin.clone().serve(l, stop_rx.clone())));
    let _metrics_task = metrics.map(|l| tokio::spawn(crate::metrics::serve(l, stop_rx.clone())));
    let (mirror, mirror_task) = match mirror {
        Some((m, l)) => (
            Some(m.clone()),
            Some(tokio::spawn(m.serve(l, stop_rx.clone()))),
        ),
        None => (None, None),
    };
    // The store watch: images that arrive around every pull guard.
    let _store_tasks = crate::store::watch::start(engine.clone(), &cfg.watch, stop_rx.clone());
    let mut control_stop = stop_rx.clone();
    let control_task = tokio::spawn(control::serve(
        state.clone(),
        control,
        cfg.control.allowed_uids.clone(),
        async move {
            let _ = control_stop.changed().await;
        },
    ));

    match policy_watch {
        Some(Ok(w)) => w.run(state.clone(), cfg.control.debounce),
        Some(Err(e)) => tracing::warn!(error = %e, "policy dir watching disabled"),
        None => {}
    }

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
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = hangups.recv() => {
                let _ = state.reload("SIGHUP").await;
            }
            _ = status_tick.tick() => systemd::status(&state.status_line()),
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    systemd::stopping();
    let _ = stop_tx.send(true);
    let grace = cfg.shutdown_grace;
    let deadline = tokio::time::Instant::now() + grace;
    // The work in flight holds tickets (pull streams and their re-tags, creates and their
    // after-checks, blob streams, every handler until its response is built) and gets the grace
    // period. A connection that streams without end (`docker events`, `logs -f`, attach and exec
    // sessions) holds none: it must not hold the host's shutdown for the grace period, and is
    // cut at exit. The servers themselves return once their connections have closed; they get
    // a moment more, so that responses already built are written out.
    let busy = || {
        proxy.in_flight.count()
            + authz_plugin.in_flight.count()
            + mirror.as_ref().map_or(0, |m| m.in_flight())
    };
    while busy() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cut_off = busy();
    if cut_off > 0 {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            in_flight = cut_off,
            "shutdown grace period over; cutting off what is still in flight"
        );
    }
    let servers = async {
        for task in [docker_task, mirror_task, authz_task].into_iter().flatten() {
            let _ = task.await;
        }
    };
    let flush =
        (tokio::time::Instant::now() + SERVER_FLUSH).min(deadline.max(tokio::time::Instant::now()));
    if tokio::time::timeout_at(flush, servers).await.is_err() {
        tracing::debug!("connections still open at exit (endless streams) are cut");
    }
    if let Some(m) = &mirror {
        m.log_counters();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), control_task).await;
    // Only the sockets bound here, and only while their paths still name them.
    drop(sockets);
    Ok(())
}
