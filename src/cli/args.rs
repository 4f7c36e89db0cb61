//! The command line as clap reads it, and the flag values as Go's pflag parses them.

use super::*;

#[derive(Parser, Debug)]
#[command(
    name = "pullguard",
    version,
    about = "Lets a container image in only when its Notation signature verifies"
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

// Deferred (here and in the nested command enums): a run builds only the arguments of the
// subcommand it runs, not the whole tree (that was ~0.5 ms of every `pullguard verify`).
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum Command {
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
pub(super) const SERVE_KEYS: &str = "\
Settings without a flag are keys of the config file (/etc/pullguard/config.toml lists every key,
commented out at its default): docker_config, max_signatures, registry_connect_timeout_secs,
registry_timeout_secs, plugin_timeout_secs, negative_cache_secs, positive_cache_secs,
require_platform_signature, shutdown_grace_secs; [docker] daemon_json, socket_mode, socket_user,
socket_group, allow_load, allow_import, allow_build, allow_plugins, allow_services,
allow_commit, allow_scratch, allow_image_mounts; [control] allowed_uids, watch, debounce_ms,
decisions; [mirror] upstreams, default_upstream, prefixes, check_blob_digests; [watch]
containerd, namespaces, docker, on_unverified, recheck_secs; TLS and proxies: docker_certs_dir,
[registries.\"HOST\"] (ca, client_cert, client_key, insecure, plain_http), [proxy].";

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum PolicyCommand {
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
pub(super) struct ServeArgs {
    /// Config file (TOML; default /etc/pullguard/config.toml if present).
    #[arg(long)]
    pub(super) config: Option<PathBuf>,
    /// Directory with trustpolicy.json and truststore/ (default: policy_dir of the
    /// config, else /etc/pullguard).
    #[arg(long)]
    pub(super) policy_dir: Option<PathBuf>,
    /// The proxy socket for Docker clients (default /run/pullguard/docker.sock).
    #[arg(long)]
    pub(super) docker_listen: Option<PathBuf>,
    /// The real Docker daemon socket (default /var/run/docker.sock).
    #[arg(long)]
    pub(super) docker_upstream: Option<PathBuf>,
    /// The control API socket (default /run/pullguard/control.sock).
    #[arg(long)]
    pub(super) control_listen: Option<PathBuf>,
    /// Serve the verifying registry mirror on this TCP address (IP:PORT). With the mirror, the
    /// authorization plugin or the store watch on, the Docker proxy runs only when its socket is
    /// configured.
    #[arg(long, value_name = "ADDR")]
    pub(super) mirror_listen: Option<String>,
    /// Serve the Docker authorization plugin on this socket (e.g.
    /// /run/docker/plugins/pullguard.sock for dockerd --authorization-plugin=pullguard).
    #[arg(long, value_name = "SOCK")]
    pub(super) authz_listen: Option<PathBuf>,
    /// Serve Prometheus metrics at /metrics on this TCP address (IP:PORT) or Unix socket path
    /// (default: [metrics] listen; off when neither is set).
    #[arg(long, value_name = "ADDR")]
    pub(super) metrics_listen: Option<String>,
    /// Registry (host[:port]) to reach over plain HTTP, added to insecure_registries. Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub(super) insecure_registry: Vec<String>,
    /// Log format: text or json.
    #[arg(long)]
    pub(super) log_format: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Output {
    Text,
    Json,
}

// `pullguard verify`: notation's `verify` flags with their meaning, and pullguard's own
// (`--policy-dir`, `--config`, `--docker-config`, `--insecure-registries`, `--output json`).
// Boolean switches take `--flag` or `--flag=true|false` as pflag does.
#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    /// Config file (TOML).
    #[arg(long)]
    pub(super) config: Option<PathBuf>,
    /// Directory with trustpolicy.json and truststore/ (default: /etc/pullguard if it has a
    /// policy, else notation's config dir).
    #[arg(long)]
    pub(super) policy_dir: Option<PathBuf>,
    /// Use plain HTTP to the reference's registry (notation's switch).
    #[arg(long = "insecure-registry", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub(super) insecure_registry: Option<bool>,
    /// Registries (host[:port]) reached over plain HTTP: comma-separated, repeatable
    /// (also `insecure_registries` in the config file, and notation's config.json
    /// `insecureRegistries`).
    #[arg(
        long = "insecure-registries",
        value_name = "HOST[:PORT],...",
        value_delimiter = ','
    )]
    pub(super) insecure_registries: Vec<String>,
    /// Docker config.json for registry credentials (default: $DOCKER_CONFIG, ~/.docker).
    #[arg(long)]
    pub(super) docker_config: Option<PathBuf>,
    /// text: notation's output; json: the whole outcome (pullguard's extension).
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub(super) output: Output,
    /// Maximum number of signatures to evaluate or examine (default 100).
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub(super) max_signatures: Option<String>,
    /// REF is `DIR:TAG` or `DIR@DIGEST`, an OCI image layout on disk (requires --scope).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_parser = go_bool, value_name = "BOOL")]
    pub(super) oci_layout: Option<bool>,
    /// Trust policy scope for --oci-layout (e.g. local/myimage); only with --oci-layout.
    #[arg(long)]
    pub(super) scope: Option<String>,
    /// Debug mode (debug logs on stderr).
    #[arg(short = 'd', long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub(super) debug: Option<bool>,
    /// Verbose mode (the verification details and info logs on stderr).
    #[arg(short = 'v', long, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub(super) verbose: Option<bool>,
    /// {key}={value} pairs passed as they are to the verification plugin a signature names.
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub(super) plugin_config: Vec<String>,
    /// Seconds a verification plugin may run, per call (default: plugin_timeout_secs of the
    /// config file, else 10; pullguard's own bound).
    #[arg(long = "plugin-timeout", value_name = "SECS")]
    pub(super) plugin_timeout: Option<u64>,
    /// {key}={value} pairs that must be present in the signature for successful verification.
    #[arg(short = 'm', long = "user-metadata", value_name = "KEY=VALUE")]
    pub(super) user_metadata: Vec<String>,
    /// Deprecated in notation (the Referrers API is always tried first); accepted, no effect.
    #[arg(long = "allow-referrers-api", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = go_bool, value_name = "BOOL")]
    pub(super) allow_referrers_api: Option<bool>,
    /// Username for registry operations (default $NOTATION_USERNAME).
    #[arg(short = 'u', long)]
    pub(super) username: Option<String>,
    /// Password for registry operations (default $NOTATION_PASSWORD); alone, an identity token.
    #[arg(short = 'p', long)]
    pub(super) password: Option<String>,
    /// Image reference (registry/repository:tag or registry/repository@digest). As with
    /// notation, arguments after the first are ignored.
    #[arg(value_name = "REFERENCE")]
    pub(super) reference: Vec<String>,
}

/// pflag's boolean values (Go's `strconv.ParseBool`).
pub(super) fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// pflag's `int` (Go's `strconv.ParseInt(s, 0, 64)`: sign, 0x/0o/0b/0 prefixes, `_` between
/// digits with a prefix), with pflag's error text.
pub(super) fn go_int(flag: &str, s: &str) -> Result<i64, String> {
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
pub(super) fn flag_map(pairs: &[String], flag: &str) -> Result<BTreeMap<String, String>, String> {
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
