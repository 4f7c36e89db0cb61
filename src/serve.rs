//! `pullguard serve`: load and validate the trust configuration (refuse to start on any
//! problem), bind the sockets, serve, reload on SIGHUP (keeping the last good configuration on
//! error), and drain in-flight requests on SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::auth::DockerConfig;
use crate::config::{self, Config};
use crate::docker::{DockerProxy, DockerSwitches, SocketPerms, bind_socket};
use crate::engine::{Engine, EngineOptions};
use crate::registry::{Credentials, RegistryClient, RegistryOptions};
use crate::verify::TrustConfig;

pub struct ServeOptions {
    pub config: Config,
    pub policy_dir: PathBuf,
    pub docker_listen: PathBuf,
    pub docker_upstream: PathBuf,
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
    }
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
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let client = match RegistryClient::new(
        registry_options(cfg, opts.insecure.clone()),
        Credentials::DockerConfig(Arc::new(docker_cfg)),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let engine = Arc::new(Engine::new(
        trust,
        client,
        EngineOptions {
            max_signatures: cfg.max_signatures.unwrap_or(100),
            negative_ttl: Duration::from_secs(cfg.negative_cache_secs.unwrap_or(5)),
            positive_ttl: Duration::from_secs(cfg.positive_cache_secs.unwrap_or(300)),
            ..EngineOptions::default()
        },
    ));

    let d = &cfg.docker;
    let perms = match socket_perms(d) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let listener = match bind_socket(&opts.docker_listen, &perms, Some(&opts.docker_upstream)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Error: {e}");
            return 2;
        }
    };
    let switches = DockerSwitches {
        allow_load: d.allow_load,
        allow_import: d.allow_import,
        allow_build: d.allow_build,
        allow_plugins: d.allow_plugins,
        allow_services: d.allow_services,
    };
    let proxy = Arc::new(DockerProxy::new(
        engine.clone(),
        opts.docker_upstream.clone(),
        switches,
    ));
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(proxy.clone().serve(listener, stop_rx));
    tracing::info!(
        docker = %opts.docker_listen.display(),
        upstream = %opts.docker_upstream.display(),
        policy = %engine.snapshot().trust.policy_path.display(),
        "pullguard serving"
    );

    let (mut hup, mut term, mut int) = match (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        _ => {
            eprintln!("Error: cannot install signal handlers");
            return 2;
        }
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let _ = reload(&engine, &opts.policy_dir, "SIGHUP");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!("shutting down: no new connections, draining in-flight requests");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let grace = Duration::from_secs(cfg.shutdown_grace_secs.unwrap_or(30));
    let start = Instant::now();
    while proxy.in_flight.load(Ordering::SeqCst) > 0 && start.elapsed() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(&opts.docker_listen);
    0
}

/// Build and validate a new trust configuration aside; install it only if it is whole.
pub fn reload(engine: &Engine, dir: &Path, why: &str) -> Result<u64, Vec<String>> {
    match load_strict(dir) {
        Ok(t) => {
            let generation = engine.install(t);
            tracing::info!(generation, trigger = why, "trust policy reloaded");
            Ok(generation)
        }
        Err(problems) => {
            tracing::error!(
                trigger = why,
                problems = %problems.join("; "),
                "trust policy reload rejected; keeping the last good policy"
            );
            Err(problems)
        }
    }
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
