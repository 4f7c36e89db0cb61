//! The `pullguard` command line. Exit codes: 0 allowed/ok, 1 denied or verification failed,
//! 2 usage or configuration error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::DockerConfig;
use crate::config::{self, Config};
use crate::gate::{Gate, GateOptions, Request, SystemClock, outcome_of};
use crate::layout::OciLayout;
use crate::oci::ImageRef;
use crate::registry::{Credentials, Primed, Registry, RegistryClient, RegistryOptions};
use crate::verify::{Outcome, TrustConfig};

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
shutdown_grace_secs; [docker] daemon_json, socket_mode, socket_user, socket_group, allow_load,
allow_import, allow_build, allow_plugins, allow_services, allow_commit, allow_scratch; [control]
allowed_uids, watch, debounce_ms, decisions; [mirror] upstreams, default_upstream, prefixes,
check_blob_digests; [watch] containerd, namespaces, docker, on_unverified; TLS and proxies:
docker_certs_dir, [registries.\"HOST\"] (ca, client_cert, client_key, insecure, plain_http), [proxy].";

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Validate the trust policy and trust stores; print every problem.
    Check {
        /// Directory with trustpolicy.json and truststore/ (default: policy_dir of the
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
    /// Directory with trustpolicy.json and truststore/ (default: policy_dir of the
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
    /// Serve Prometheus metrics at /metrics on this TCP address (IP:PORT) or Unix socket path
    /// (default: [metrics] listen; off when neither is set).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
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

/// `pullguard verify`: notation's `verify` flags with their meaning, and pullguard's own
/// (`--policy-dir`, `--config`, `--docker-config`, `--insecure-registries`, `--output json`).
/// Boolean switches take `--flag` or `--flag=true|false` as pflag does.
#[derive(Args, Debug)]
struct VerifyArgs {
    /// Config file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Directory with trustpolicy.json and truststore/ (default: /etc/pullguard if it has a
    /// policy, else notation's config dir).
    #[arg(long)]
    policy_dir: Option<PathBuf>,
    /// Use plain HTTP to the reference's registry (notation's switch).
    #[arg(long = "insecure-registry", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    insecure_registry: Option<bool>,
    /// Registries (host[:port]) reached over plain HTTP: comma-separated, repeatable
    /// (also `insecure_registries` in the config file, and notation's config.json
    /// `insecureRegistries`).
    #[arg(
        long = "insecure-registries",
        value_name = "HOST[:PORT],...",
        value_delimiter = ','
    )]
    insecure_registries: Vec<String>,
    /// Docker config.json for registry credentials (default: $DOCKER_CONFIG, ~/.docker).
    #[arg(long)]
    docker_config: Option<PathBuf>,
    /// text: notation's output; json: the whole outcome (pullguard's extension).
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Maximum number of signatures to evaluate or examine (default 100).
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    max_signatures: Option<String>,
    /// REF is `DIR:TAG` or `DIR@DIGEST`, an OCI image layout on disk (requires --scope).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_parser = go_bool, value_name = "BOOL")]
    oci_layout: Option<bool>,
    /// Trust policy scope for --oci-layout (e.g. local/myimage); only with --oci-layout.
    #[arg(long)]
    scope: Option<String>,
    /// Debug mode (debug logs on stderr).
    #[arg(short = 'd', long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    debug: Option<bool>,
    /// Verbose mode (the verification details and info logs on stderr).
    #[arg(short = 'v', long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    verbose: Option<bool>,
    /// {key}={value} pairs passed as they are to the verification plugin a signature names.
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    plugin_config: Vec<String>,
    /// Seconds a verification plugin may run, per call (default 10; pullguard's own bound).
    #[arg(long = "plugin-timeout", value_name = "SECS")]
    plugin_timeout: Option<u64>,
    /// {key}={value} pairs that must be present in the signature for successful verification.
    #[arg(short = 'm', long = "user-metadata", value_name = "KEY=VALUE")]
    user_metadata: Vec<String>,
    /// Deprecated in notation (the Referrers API is always tried first); accepted, no effect.
    #[arg(long = "allow-referrers-api", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    allow_referrers_api: Option<bool>,
    /// Username for registry operations (default $NOTATION_USERNAME).
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Password for registry operations (default $NOTATION_PASSWORD); alone, an identity token.
    #[arg(short = 'p', long)]
    password: Option<String>,
    /// Image reference (registry/repository:tag or registry/repository@digest). As with
    /// notation, arguments after the first are ignored.
    #[arg(value_name = "REFERENCE")]
    reference: Vec<String>,
}

/// pflag's boolean values (Go's `strconv.ParseBool`).
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// pflag's `int` (Go's `strconv.ParseInt(s, 0, 64)`: sign, 0x/0o/0b/0 prefixes, `_` between
/// digits with a prefix), with pflag's error text.
fn go_int(flag: &str, s: &str) -> Result<i64, String> {
    let err = |why: &str| {
        format!(
            "invalid argument {} for {} flag: strconv.ParseInt: parsing {}: {why}",
            crate::gocompat::quote::quote(s),
            crate::gocompat::quote::quote(&format!("--{flag}")),
            crate::gocompat::quote::quote(s)
        )
    };
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        let ok = prefixed
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__");
        if !ok {
            return Err(err("invalid syntax"));
        }
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(err("invalid syntax"));
    }
    let v = i128::from_str_radix(&digits, radix).map_err(|_| err("value out of range"))?;
    let v = if neg { -v } else { v };
    i64::try_from(v).map_err(|_| err("value out of range"))
}

/// notation's `ParseFlagMap`: `key=value`, both non-empty; the last one of a key wins.
fn flag_map(pairs: &[String], flag: &str) -> Result<BTreeMap<String, String>, String> {
    let mut m = BTreeMap::new();
    for p in pairs {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                m.insert(k.to_string(), v.to_string());
            }
            _ => {
                return Err(format!(
                    "could not parse flag {flag}: key-value pair requires \"=\" as separator"
                ));
            }
        }
    }
    Ok(m)
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
            if !e.use_stderr() {
                let _ = e.print();
                return EXIT_OK;
            }
            // `verify` is a drop-in for `notation verify`: its usage errors exit 1, with
            // pflag's wording where a script may look for it.
            if std::env::args().nth(1).as_deref() == Some("verify") {
                eprintln!("{}", verify_usage_error(&e));
                return EXIT_DENIED;
            }
            let _ = e.print();
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Verify(args) => run_verify(args),
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

/// A clap error on `verify`, worded as pflag words the common ones.
fn verify_usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = arg
        .as_deref()
        .map(|a| a.split([' ', '=']).next().unwrap_or(a).to_string());
    match (e.kind(), flag) {
        (ErrorKind::UnknownArgument, Some(f)) if f.starts_with("--") => {
            format!("Error: unknown flag: {f}")
        }
        (ErrorKind::UnknownArgument, Some(f)) if f.starts_with('-') => format!(
            "Error: unknown shorthand flag: '{}' in {f}",
            f.trim_start_matches('-').chars().next().unwrap_or('-')
        ),
        (ErrorKind::InvalidValue, Some(f)) if f.starts_with('-') => {
            format!("Error: flag needs an argument: {f}")
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            format!("Error: {first}")
        }
    }
}

fn init_tracing(daemon: bool) {
    init_tracing_format(daemon, false)
}

/// The CLI's log level: `verify` logs nothing by default (notation prints no logs), `info`
/// with `-v`, `debug` with `-d`; `PULLGUARD_LOG` overrides.
fn init_tracing_level(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PULLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
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
            for w in &tc.warnings {
                println!("Warning: {w}");
            }
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
    let verbose = args.verbose.unwrap_or(false);
    let debug = args.debug.unwrap_or(false);
    init_tracing_level(if debug {
        "debug"
    } else if verbose {
        "info"
    } else {
        "error"
    });
    match verify_cli(&args, verbose || debug) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            EXIT_DENIED
        }
    }
}

/// `registry/repository` as typed and the image, parsed as oras-go's `ParseReference` reads a
/// notation reference: the registry is everything before the first `/` (no Docker Hub
/// defaults), and a tag or a digest is required.
fn notation_reference(input: &str) -> Result<(String, ImageRef), String> {
    let expecting = "Expecting <registry>/<repository>:<tag> or <registry>/<repository>@<digest>";
    let q = crate::gocompat::quote::quote(input);
    let (registry, rest) = match input.split_once('/') {
        Some((r, rest)) if !r.is_empty() && !rest.is_empty() => (r, rest),
        _ => {
            return Err(format!(
                "{q}: invalid reference: missing registry or repository. {expecting}"
            ));
        }
    };
    let (name, has_ref) = match rest.rsplit_once('@') {
        Some((n, _)) => (n, true),
        None => {
            let last = rest.rfind('/').map_or(0, |i| i + 1);
            match rest[last..].rfind(':') {
                Some(i) => (&rest[..last + i], true),
                None => (rest, false),
            }
        }
    };
    if !has_ref {
        return Err(format!(
            "{q}: invalid reference: no tag or digest. {expecting}"
        ));
    }
    // Parse under a placeholder host so that no Docker Hub rule applies to the repository,
    // then put the registry back (spelled canonically: lowercase, no trailing dot).
    let placeholder = ImageRef::parse(&format!("pullguard.invalid/{rest}"))
        .map_err(|e| e.replace("pullguard.invalid/", &format!("{registry}/")))?;
    let canonical = ImageRef::parse(&format!("{registry}/x:1"))
        .ok()
        .filter(|r| r.repository == "x")
        .map(|r| r.registry)
        .unwrap_or_else(|| {
            registry
                .to_ascii_lowercase()
                .trim_end_matches('.')
                .to_string()
        });
    Ok((
        format!("{registry}/{name}"),
        ImageRef {
            registry: canonical,
            ..placeholder
        },
    ))
}

fn verify_cli(args: &VerifyArgs, verbose: bool) -> Result<i32, String> {
    // The order of notation's checks: the argument, the flag group, --max-signatures, the
    // trust policy, --plugin-config, --user-metadata, then the reference.
    let Some(input) = args.reference.first() else {
        return Err("missing reference to the artifact: use `pullguard verify --help` to see what parameters are required".into());
    };
    let oci_layout = args.oci_layout.unwrap_or(false);
    // notation: MarkFlagsRequiredTogether("oci-layout", "scope"). Without --oci-layout, a
    // --scope would replace the registry scope the policy is chosen by: refused.
    match (oci_layout, args.scope.is_some()) {
        (true, false) => {
            return Err("if any flags in the group [oci-layout scope] are set they must all be set; missing [scope]".into());
        }
        (false, true) => {
            return Err("if any flags in the group [oci-layout scope] are set they must all be set; missing [oci-layout]".into());
        }
        _ => {}
    }
    let cfg = Config::load(args.config.as_deref())?;
    let max_signatures = match &args.max_signatures {
        Some(s) => go_int("max-signatures", s)?,
        None => cfg.max_signatures as i64,
    };
    if max_signatures <= 0 {
        return Err(format!(
            "max-signatures value {max_signatures} must be a positive number"
        ));
    }
    if args.allow_referrers_api.is_some() {
        eprintln!(
            "Warning: flag '--allow-referrers-api' is deprecated and will be removed in future versions."
        );
    }
    // notation's NOTATION_CONFIG names its config dir; it comes after pullguard's own choices.
    let notation_config = std::env::var_os("NOTATION_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|_| {
            args.policy_dir.is_none()
                && cfg.policy_dir.is_none()
                && !std::path::Path::new(config::DEFAULT_POLICY_DIR)
                    .join("trustpolicy.json")
                    .exists()
        });
    let dir = notation_config.unwrap_or_else(|| policy_dir(args.policy_dir.clone(), &cfg));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    // The registry's first round trip does not wait for the trust policy: the image is
    // resolved (and by digest its signatures listed) while the policy and its stores load on
    // another thread. Errors are still reported in notation's order, below.
    let remote = (!oci_layout).then(|| remote_target(args, &cfg, &dir, input));
    let primed = match &remote {
        Some(Ok(r)) => {
            let _entered = runtime.enter();
            Some(Primed::start(r.client.clone(), &r.image))
        }
        _ => None,
    };
    let loading = {
        let dir = dir.clone();
        runtime.spawn_blocking(move || TrustConfig::load(&dir))
    };
    let trust = match runtime.block_on(loading) {
        Ok(Ok(t)) => t,
        Ok(Err(problems)) => {
            for p in problems.iter().skip(1) {
                eprintln!("Error: {p}");
            }
            return Err(problems.into_iter().next().unwrap_or_default());
        }
        Err(e) => return Err(format!("cannot load the trust policy: {e}")),
    };
    for w in &trust.warnings {
        eprintln!("Warning: {w}");
    }
    let plugin_config = flag_map(&args.plugin_config, "plugin-config")?;
    let user_metadata = flag_map(&args.user_metadata, "user-metadata")?;
    // The daemon's chain, require_platform_signature included; no decision log.
    let opts = GateOptions {
        max_signatures: usize::try_from(max_signatures).unwrap_or(usize::MAX),
        user_metadata,
        plugins: crate::plugin::PluginSettings {
            config: plugin_config,
            timeout: args.plugin_timeout.map(Duration::from_secs),
        },
        require_platform_signature: cfg.require_platform_signature,
        decision_ring: 0,
        ..GateOptions::default()
    };
    let verify_image = |registry: Arc<dyn Registry>, image: &ImageRef, opts: GateOptions| {
        let gate = Gate::with_registry(trust, registry, opts, Arc::new(SystemClock));
        let verdict = runtime.block_on(gate.check(&Request::new(image.clone(), "cli")));
        (*outcome_of(&verdict)).clone()
    };
    let (outcome, resolved_name, tag) = match remote {
        None => {
            let (path, reference) = split_layout_ref(input);
            let Some(reference) = reference.filter(|r| !r.is_empty()) else {
                return Err(format!(
                    "{}: invalid reference: missing tag or digest. Expecting <file_path>:<tag> or <file_path>@<digest>",
                    crate::gocompat::quote::quote(input)
                ));
            };
            let layout = OciLayout::open(std::path::Path::new(path))?;
            let is_digest = input.rfind('@').is_some();
            let image = ImageRef {
                registry: "local".into(),
                repository: "layout".into(),
                tag: (!is_digest).then(|| reference.to_string()),
                digest: is_digest.then(|| reference.to_string()),
            };
            let opts = GateOptions {
                scope: args.scope.clone(),
                ..opts
            };
            let mut o = verify_image(Arc::new(layout), &image, opts);
            o.reference = input.clone();
            (o, path.to_string(), image.tag.clone())
        }
        Some(remote) => {
            let r = remote?;
            let registry: Arc<dyn Registry> = match primed {
                Some(p) => Arc::new(p),
                None => r.client,
            };
            let mut o = verify_image(registry, &r.image, opts);
            if let Some(crate::verify::Failure::Resolve(e)) = &mut o.failure {
                notation_resolve_error(e, input, r.plain_http);
            }
            let tag = r
                .image
                .digest
                .is_none()
                .then(|| r.image.tag.clone())
                .flatten();
            (o, r.name, tag)
        }
    };
    let resolved = match outcome.digest() {
        Some(d) => format!("{resolved_name}@{d}"),
        None => input.clone(),
    };
    if let (Some(tag), Some(_)) = (&tag, outcome.digest())
        && args.output == Output::Text
    {
        eprintln!(
            "Warning: Always verify the artifact using digest(@sha256:...) rather than a tag(:{tag}) because resolved digest may not point to the same signed artifact, as tags are mutable."
        );
    }
    print_outcome(&outcome, args.output, &resolved, verbose);
    Ok(if outcome.allowed {
        EXIT_OK
    } else {
        EXIT_DENIED
    })
}

/// `-u`/`-p` (else `$NOTATION_USERNAME`/`$NOTATION_PASSWORD`), as notation's
/// `SecureFlagOpts.Credential`: a password alone is a refresh (identity) token.
/// What `pullguard verify` asks a registry with: the reference as notation names it, the
/// image, the client (credentials, TLS or plain HTTP as notation decides) and whether the
/// registry is spoken to in plain HTTP.
struct Remote {
    name: String,
    image: ImageRef,
    client: Arc<RegistryClient>,
    plain_http: bool,
}

fn remote_target(
    args: &VerifyArgs,
    cfg: &Config,
    dir: &std::path::Path,
    input: &str,
) -> Result<Remote, String> {
    let (name, image) = notation_reference(input)?;
    let docker = DockerConfig::load(
        args.docker_config
            .as_deref()
            .or(cfg.docker_config.as_deref()),
    )?;
    let mut insecure = cfg.insecure_registries.clone();
    insecure.extend(args.insecure_registries.iter().cloned());
    insecure.extend(notation_insecure_registries(dir));
    // notation: --insecure-registry, a registry in its config.json, or localhost:PORT.
    let host = image.registry.split(':').next().unwrap_or("");
    if args.insecure_registry.unwrap_or(false)
        || host == "localhost"
        || insecure
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&image.registry))
    {
        insecure.push(image.registry.clone());
    }
    let plain_http = insecure.contains(&image.registry);
    let ropts = RegistryOptions {
        insecure,
        ..crate::daemon::registry_options(cfg, Vec::new())
    };
    let creds = match notation_credential(args) {
        Some(c) => Credentials::Fixed(Some(c)),
        None => Credentials::DockerConfig(Arc::new(docker)),
    };
    let client = Arc::new(RegistryClient::new(ropts, creds)?);
    Ok(Remote {
        name,
        image,
        client,
        plain_http,
    })
}

fn notation_credential(args: &VerifyArgs) -> Option<crate::auth::Credential> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let username = args
        .username
        .clone()
        .or_else(|| env("NOTATION_USERNAME"))
        .unwrap_or_default();
    let password = args
        .password
        .clone()
        .or_else(|| env("NOTATION_PASSWORD"))
        .unwrap_or_default();
    match (username.is_empty(), password.is_empty()) {
        (true, true) => None,
        (true, false) => Some(crate::auth::Credential::IdentityToken(password)),
        (false, _) => Some(crate::auth::Credential::Basic { username, password }),
    }
}

/// notation's `config.json` (`insecureRegistries`) in the notation config dir.
fn notation_insecure_registries(dir: &std::path::Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(dir.join("config.json")) else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    v.as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("insecureRegistries"))
                .map(|(_, v)| v)
        })
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A resolve error as oras-go words the usual ones: a 404 is `<reference>: not found`, and a
/// TLS handshake that met a plain-HTTP server is Go's `http: server gave HTTP response to
/// HTTPS client`, with the flag to use named.
fn notation_resolve_error(e: &mut String, reference: &str, plain_http: bool) {
    if e.contains("registry answered 404") {
        *e = format!("{reference}: not found");
        return;
    }
    let lower = e.to_ascii_lowercase();
    if !plain_http
        && (lower.contains("wrong version number") || lower.contains("packet length too long"))
    {
        let url = e
            .split_once("request to ")
            .and_then(|(_, rest)| rest.split_once(" failed"))
            .map_or("", |(u, _)| u);
        *e = format!(
            "Get {}: http: server gave HTTP response to HTTPS client (a plain-HTTP registry: use --insecure-registry)",
            crate::gocompat::quote::quote(url)
        );
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

/// Go's `text/tabwriter` (minwidth 0, padding 3, spaces) over tab-terminated cells, as
/// notation's `PrintMetadataMap` uses it: every cell padded to its column's width + 3.
fn tab_table(rows: &[[&str; 2]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0) + 3;
    let (w0, w1) = (width(0), width(1));
    rows.iter()
        .map(|r| {
            let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
            format!("{}{}\n", pad(r[0], w0), pad(r[1], w1))
        })
        .collect()
}

fn print_outcome(o: &Outcome, output: Output, resolved: &str, verbose: bool) {
    if output == Output::Json {
        match serde_json::to_string_pretty(o) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("Error: cannot render the outcome: {e}"),
        }
        return;
    }
    // What notation prints, on the same streams; the details on stderr under -v/-d.
    if o.allowed {
        if let Some(sig) = &o.signature {
            for w in sig.warnings() {
                eprintln!("Warning: {w}");
            }
            println!("Successfully verified signature for {resolved}");
            if let Some(meta) = sig.user_metadata.as_ref().filter(|m| !m.is_empty()) {
                println!("\nThe artifact was signed with the following user metadata.");
                let mut rows = vec![["KEY", "VALUE"]];
                rows.extend(meta.iter().map(|(k, v)| [k.as_str(), v.as_str()]));
                print!("\n{}", tab_table(&rows));
            }
            if verbose {
                eprintln!("{}", o.summary());
                eprintln!(
                    "  trust policy: {:?} (level {})",
                    o.policy.as_deref().unwrap_or("-"),
                    o.level.as_deref().unwrap_or("-")
                );
                eprintln!("  signer:       {}", sig.signer.as_deref().unwrap_or("-"));
                eprintln!(
                    "  signed at:    {}",
                    sig.signing_time.as_deref().unwrap_or("-")
                );
                eprintln!(
                    "  signature:    {} ({})",
                    sig.digest, sig.envelope_media_type
                );
            }
        } else {
            println!("Trust policy is configured to skip signature verification for {resolved}");
            if verbose {
                eprintln!("{}", o.summary());
            }
        }
    } else {
        eprintln!("Error: {}", o.notation_error(resolved));
        if verbose {
            eprintln!("{}", o.summary());
            for f in &o.failed {
                for w in f.warnings() {
                    eprintln!("  Warning: {w}");
                }
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
