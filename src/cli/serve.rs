//! `pullguard serve`: the daemon, from its flags.

use super::*;

pub(super) fn run_serve(args: ServeArgs) -> i32 {
    let cfg = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    };
    let format = match args.log_format.as_deref().map(config::LogFormat::parse) {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
        None => cfg.log_format.unwrap_or_default(),
    };
    init_tracing_format(true, format == config::LogFormat::Json);
    let policy_dir = args
        .policy_dir
        .clone()
        .or_else(|| cfg.policy_dir.clone())
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_POLICY_DIR));
    let mut insecure = cfg.insecure_registries.clone();
    insecure.extend(args.insecure_registry.iter().cloned());
    let mirror_listen = args
        .mirror_listen
        .clone()
        .or_else(|| cfg.mirror.listen.clone());
    let authz_listen = args
        .authz_listen
        .clone()
        .or_else(|| cfg.authz.listen.clone());
    let opts = crate::daemon::Options {
        policy_dir,
        docker_listen: args
            .docker_listen
            .clone()
            .or_else(|| cfg.docker.listen.clone())
            .or_else(|| {
                // The proxy keeps its default socket only when nothing else is served.
                let other = mirror_listen.is_some()
                    || authz_listen.is_some()
                    || cfg.watch.containerd.is_some()
                    || cfg.watch.docker.is_some();
                (!other).then(|| PathBuf::from(config::DEFAULT_DOCKER_LISTEN))
            }),
        docker_upstream: args
            .docker_upstream
            .clone()
            .or_else(|| cfg.docker.upstream.clone())
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DOCKER_UPSTREAM)),
        control_listen: args
            .control_listen
            .clone()
            .or_else(|| cfg.control.listen.clone())
            .unwrap_or_else(|| PathBuf::from(crate::control::DEFAULT_CONTROL_SOCKET)),
        mirror_listen,
        authz_listen,
        metrics_listen: args
            .metrics_listen
            .clone()
            .or_else(|| cfg.metrics.listen.clone()),
        insecure,
        config: cfg,
    };
    // 8 MiB worker stacks (tokio's default is 2): a request's future nests the guard's checks
    // and the gate's verification, which a debug build lays out on the stack uncompacted.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    runtime.block_on(async {
        let ran = match crate::daemon::signal::shutdown() {
            Ok(shutdown) => crate::daemon::run(opts, shutdown).await,
            Err(e) => Err(e),
        };
        match ran {
            Ok(()) => EXIT_OK,
            Err(e) => {
                e.report();
                EXIT_USAGE
            }
        }
    })
}
