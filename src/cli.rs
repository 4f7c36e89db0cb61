//! The `pullguard` command line. Exit codes: 0 allowed/ok, 1 denied or verification failed,
//! 2 usage or configuration error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::DockerConfig;
use crate::config::{self, Config};
use crate::layout::OciLayout;
use crate::oci::ImageRef;
use crate::registry::{Credentials, RegistryClient, RegistryOptions};
use crate::verify::{Outcome, Source, TrustConfig, VerifyOptions, verify_image};

pub const EXIT_OK: i32 = 0;
pub const EXIT_DENIED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "pullguard",
    version,
    about = "Lets a container image in only when its Notation signature verifies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify an image's Notation signature once (a drop-in for `notation verify`).
    Verify(VerifyArgs),
    /// Run the daemon: the Docker Engine API proxy in front of docker.sock, and/or the
    /// verifying registry mirror.
    #[command(after_help = SERVE_KEYS)]
    Serve(ServeArgs),
    /// Ask the running daemon (the control API).
    Ctl {
        /// Control socket (default $PULLGUARD_CONTROL_SOCKET, else /run/pullguard/control.sock).
        #[arg(long, global = true)]
        socket: Option<PathBuf>,
        /// Output format: text, or json (one object per line for --follow).
        #[arg(long, short = 'o', value_enum, default_value_t = Output::Text, global = true)]
        output: Output,
        #[command(subcommand)]
        command: crate::ctl::CtlCommand,
    },
    /// Inventory the Docker and containerd image stores: each image's digest, verdict, policy
    /// and reason. Exit 1 when any image does not verify.
    Audit(crate::store::audit::AuditArgs),
    /// Trust policy tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

/// `serve --help`: where the settings without a flag are.
const SERVE_KEYS: &str = "\
Settings without a flag are keys of the config file (/etc/pullguard/config.toml lists every key,
commented out at its default): docker_config, max_signatures, registry_connect_timeout_secs,
registry_timeout_secs, negative_cache_secs, positive_cache_secs, require_platform_signature,
shutdown_grace_secs; [docker] socket_mode, socket_user, socket_group, allow_load, allow_import,
allow_build, allow_plugins, allow_services, allow_commit, allow_scratch; [control] allowed_uids,
watch, debounce_ms; [mirror] upstreams, default_upstream, check_blob_digests; [watch] containerd,
namespaces, docker, on_unverified.";

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Validate the trust policy and trust stores; print every problem.
    Check {
        /// Directory with trustpolicy(.oci).json and truststore/ (default: policy_dir of the
        /// config, else /etc/pullguard if it has a policy, else notation's config dir).
        #[arg(long)]
        policy_dir: Option<PathBuf>,
        /// Config file (TOML; default /etc/pullguard/config.toml if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Config file (TOML; default /etc/pullguard/config.toml if present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with trustpolicy(.oci).json and truststore/ (default: policy_dir of the
    /// config, else /etc/pullguard).
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// The proxy socket for Docker clients (default /run/pullguard/docker.sock).
    #[arg(long)]
    docker_listen: Option<PathBuf>,
    /// The real Docker daemon socket (default /var/run/docker.sock).
    #[arg(long)]
    docker_upstream: Option<PathBuf>,
    /// The control API socket (default /run/pullguard/control.sock).
    #[arg(long)]
    control_listen: Option<PathBuf>,
    /// Serve the verifying registry mirror on this TCP address (IP:PORT). With the mirror, the
    /// authorization plugin or the store watch on, the Docker proxy runs only when its socket is
    /// configured.
    #[arg(long, value_name = "ADDR")]
    mirror_listen: Option<String>,
    /// Serve the Docker authorization plugin on this socket (e.g.
    /// /run/docker/plugins/pullguard.sock for dockerd --authorization-plugin=pullguard).
    #[arg(long, value_name = "SOCK")]
    authz_listen: Option<PathBuf>,
    /// Registry (host[:port]) to reach over plain HTTP, added to insecure_registries. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
    /// Log format: text or json.
    #[arg(long)]
    log_format: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Config file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with trustpolicy(.oci).json and truststore/ (default: /etc/pullguard if it has a
    /// policy, else notation's config dir).
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// Registry (host[:port]) to reach over plain HTTP. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    insecure_registry: Vec<String>,
    /// Docker config.json for registry credentials (default: $DOCKER_CONFIG, ~/.docker).
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// Output format: text or json.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Signatures to try at most.
    #[arg(long)]
    max_signatures: Option<usize>,
    /// REF is `DIR[:TAG|@DIGEST]`, an OCI image layout on disk.
    #[arg(long)]
    oci_layout: bool,
    /// Trust policy scope for --oci-layout (e.g. local/myimage).
    #[arg(long)]
    scope: Option<String>,
    /// Image reference (name[:tag][@digest]).
    reference: String,
}

/// The whole command line, for the man pages and shell completions the package is built with
/// (`examples/gen_docs.rs`, run by `scripts/package.sh`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Verify(args) => {
            init_tracing(false);
            run_verify(args)
        }
        Command::Ctl {
            socket,
            output,
            command,
        } => {
            init_tracing(false);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(crate::ctl::run(socket, output == Output::Json, command)),
                Err(e) => {
                    eprintln!("Error: cannot start the runtime: {e}");
                    EXIT_USAGE
                }
            }
        }
        Command::Audit(args) => {
            init_tracing(false);
            crate::store::audit::run(args)
        }
        Command::Policy {
            command: PolicyCommand::Check { policy_dir, config },
        } => {
            init_tracing(false);
            policy_check(policy_dir, config)
        }
    }
}

fn init_tracing(daemon: bool) {
    init_tracing_format(daemon, false)
}

fn init_tracing_format(daemon: bool, json: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PULLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

fn run_serve(args: ServeArgs) -> i32 {
    let cfg = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    };
    let format = args
        .log_format
        .clone()
        .or(cfg.log_format.clone())
        .unwrap_or_else(|| "text".into());
    if format != "text" && format != "json" {
        eprintln!("Error: log format must be text or json, got {format:?}");
        return EXIT_USAGE;
    }
    init_tracing_format(true, format == "json");
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
    let opts = crate::serve::ServeOptions {
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
        insecure,
        config: cfg,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    runtime.block_on(crate::serve::run(opts))
}

fn policy_dir(flag: Option<PathBuf>, cfg: &Config) -> PathBuf {
    flag.or_else(|| cfg.policy_dir.clone())
        .unwrap_or_else(config::default_policy_dir)
}

fn policy_check(flag: Option<PathBuf>, config_path: Option<PathBuf>) -> i32 {
    let cfg = match Config::load(config_path.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    };
    let dir = policy_dir(flag, &cfg);
    match TrustConfig::load(&dir) {
        Err(problems) => {
            for p in &problems {
                println!("Error: {p}");
            }
            println!("{} problem(s) in {}", problems.len(), dir.display());
            EXIT_DENIED
        }
        Ok(tc) => {
            let problems = tc.store_problems();
            for p in &problems {
                println!("Error: {p}");
            }
            if problems.is_empty() {
                println!(
                    "ok: {} ({} statement(s), {} trust store(s))",
                    tc.policy_path.display(),
                    tc.policy.statements.len(),
                    tc.stores.len()
                );
                EXIT_OK
            } else {
                println!("{} problem(s) in {}", problems.len(), dir.display());
                EXIT_DENIED
            }
        }
    }
}

fn run_verify(args: VerifyArgs) -> i32 {
    let cfg = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_USAGE;
        }
    };
    let dir = policy_dir(args.policy_dir.clone(), &cfg);
    let trust = match TrustConfig::load(&dir) {
        Ok(t) => t,
        Err(problems) => {
            for p in &problems {
                eprintln!("Error: {p}");
            }
            return EXIT_USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the runtime: {e}");
            return EXIT_USAGE;
        }
    };
    let opts = VerifyOptions {
        max_signatures: args.max_signatures.or(cfg.max_signatures).unwrap_or(100),
        scope: args.scope.clone(),
        ..VerifyOptions::default()
    };
    let outcome = if args.oci_layout {
        let (path, reference) = split_layout_ref(&args.reference);
        let layout = match OciLayout::open(std::path::Path::new(path)) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        };
        let Some(scope) = args.scope.clone() else {
            eprintln!("Error: --scope is required with --oci-layout");
            return EXIT_USAGE;
        };
        let image = ImageRef {
            registry: "local".into(),
            repository: "layout".into(),
            tag: reference.filter(|r| !r.contains(':')).map(str::to_owned),
            digest: reference.filter(|r| r.contains(':')).map(str::to_owned),
        };
        let opts = VerifyOptions {
            scope: Some(scope),
            ..opts
        };
        let mut o = runtime.block_on(verify_image(
            &trust,
            &Source::Layout(&layout),
            &image,
            &opts,
        ));
        o.reference = args.reference.clone();
        o
    } else {
        let image = match ImageRef::parse(&args.reference) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        };
        let docker = match DockerConfig::load(
            args.docker_config
                .as_deref()
                .or(cfg.docker_config.as_deref()),
        ) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        };
        let mut insecure = cfg.insecure_registries.clone();
        insecure.extend(args.insecure_registry.iter().cloned());
        let ropts = RegistryOptions {
            insecure,
            connect_timeout: Duration::from_secs(cfg.registry_connect_timeout_secs.unwrap_or(5)),
            request_timeout: Duration::from_secs(cfg.registry_timeout_secs.unwrap_or(30)),
        };
        let client = match RegistryClient::new(ropts, Credentials::DockerConfig(Arc::new(docker))) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error: {e}");
                return EXIT_USAGE;
            }
        };
        if image.digest.is_none() && args.output == Output::Text {
            eprintln!(
                "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:{}) because resolved digest may not point to the same signed artifact, as tags are mutable.",
                image.tag.as_deref().unwrap_or("latest")
            );
        }
        runtime.block_on(verify_image(
            &trust,
            &Source::Registry(&client),
            &image,
            &opts,
        ))
    };
    print_outcome(&outcome, args.output);
    if outcome.allowed {
        EXIT_OK
    } else {
        EXIT_DENIED
    }
}

/// `dir:tag` or `dir@sha256:...` → (dir, reference).
fn split_layout_ref(s: &str) -> (&str, Option<&str>) {
    if let Some((p, d)) = s.rsplit_once('@') {
        return (p, Some(d));
    }
    let after_slash = s.rfind('/').map_or(0, |i| i + 1);
    match s[after_slash..].rfind(':') {
        Some(i) => (&s[..after_slash + i], Some(&s[after_slash + i + 1..])),
        None => (s, None),
    }
}

fn print_outcome(o: &Outcome, output: Output) {
    if output == Output::Json {
        match serde_json::to_string_pretty(o) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("Error: cannot render the outcome: {e}"),
        }
        return;
    }
    let artifact = o.artifact.as_deref().unwrap_or(&o.reference);
    if o.allowed {
        if let Some(sig) = &o.signature {
            for w in sig.warnings() {
                eprintln!("Warning: {w}");
            }
            println!("Successfully verified signature for {artifact}");
            println!(
                "  trust policy: {:?} (level {})",
                o.policy.as_deref().unwrap_or("-"),
                o.level.as_deref().unwrap_or("-")
            );
            println!("  signer:       {}", sig.signer.as_deref().unwrap_or("-"));
            println!(
                "  signed at:    {}",
                sig.signing_time.as_deref().unwrap_or("-")
            );
            println!(
                "  signature:    {} ({})",
                sig.digest, sig.envelope_media_type
            );
        } else {
            println!("Trust policy is configured to skip signature verification for {artifact}");
        }
    } else {
        eprintln!("Error: {}", o.summary());
        for f in &o.failed {
            for w in f.warnings() {
                eprintln!("  Warning: {w}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_refs_split() {
        assert_eq!(split_layout_ref("/a/b:v1"), ("/a/b", Some("v1")));
        assert_eq!(
            split_layout_ref("dir@sha256:ab"),
            ("dir", Some("sha256:ab"))
        );
        assert_eq!(split_layout_ref("./x.y/dir"), ("./x.y/dir", None));
    }
}
