//! The configuration, in two stages: [`raw`] is the TOML file exactly as written (unknown keys
//! rejected; command-line flags override it), and [`Config`] is what everything downstream
//! takes: every default filled in here, once (durations as [`Duration`], the socket mode parsed,
//! users and groups resolved, the control allow-list computed), with every problem of the file
//! reported in one run.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub mod raw;

pub use raw::{
    AuthzSection, ControlSection, DockerSection, MetricsSection, MirrorSection, OnUnverified,
    RawConfig, WatchSection,
};

pub const DEFAULT_CONFIG: &str = "/etc/pullguard/config.toml";
pub const DEFAULT_POLICY_DIR: &str = "/etc/pullguard";
pub const DEFAULT_DOCKER_LISTEN: &str = "/run/pullguard/docker.sock";
pub const DEFAULT_DOCKER_UPSTREAM: &str = "/var/run/docker.sock";

/// `max_signatures` when the file does not say.
pub const DEFAULT_MAX_SIGNATURES: usize = 100;
pub const DEFAULT_REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);
/// `plugin_timeout_secs` when the file does not say (the CLI's `--plugin-timeout` default too).
pub const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_NEGATIVE_CACHE: Duration = Duration::from_secs(5);
pub const DEFAULT_POSITIVE_CACHE: Duration = Duration::from_secs(300);
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
pub const DEFAULT_WATCH_DEBOUNCE: Duration = Duration::from_millis(200);
/// `[control] decisions` when the file does not say.
pub const DEFAULT_DECISIONS: usize = 1000;

/// The typed configuration: the file with its defaults resolved (see the module doc). The
/// sections without a default to resolve (`[mirror]`, `[authz]`, `[watch]`, `[docker]`'s
/// switches) are kept as the file has them.
#[derive(Debug, Clone)]
pub struct Config {
    /// The notation layout; `None`: the command's default (see [`default_policy_dir`]).
    pub policy_dir: Option<PathBuf>,
    pub insecure_registries: Vec<String>,
    pub docker_config: Option<PathBuf>,
    /// `max_signatures` (default 100).
    pub max_signatures: usize,
    /// `registry_connect_timeout_secs` (default 5 s).
    pub registry_connect_timeout: Duration,
    /// `registry_timeout_secs` (default 30 s): a registry request, and the mirror's blob stall
    /// limit.
    pub registry_timeout: Duration,
    /// `plugin_timeout_secs` (default 10 s): each run of a verification plugin.
    pub plugin_timeout: Duration,
    /// `log_format`; `None`: the file does not say (text, unless `--log-format`).
    pub log_format: Option<LogFormat>,
    /// `negative_cache_secs` / `positive_cache_secs` (default 5 s / 300 s).
    pub negative_cache: Duration,
    pub positive_cache: Duration,
    pub require_platform_signature: bool,
    /// `shutdown_grace_secs` (default 30 s).
    pub shutdown_grace: Duration,
    /// `[registries."HOST[:PORT]"]`, as written (`crate::tls::RegistryHosts` reads them).
    pub registries: std::collections::BTreeMap<String, crate::tls::RegistryEntry>,
    /// `docker_certs_dir`, as written (`crate::tls::RegistryHosts` resolves the default).
    pub docker_certs_dir: Option<PathBuf>,
    /// `[proxy]`, as written (`crate::proxy_env::ProxyConfig` resolves it with the environment).
    pub proxy: Option<crate::proxy_env::ProxySection>,
    /// `[docker]` as written (the switches, the listen and upstream paths).
    pub docker: DockerSection,
    /// `[docker] socket_mode`, `socket_user`, `socket_group`, parsed and resolved.
    pub docker_socket: SocketPerms,
    pub control: Control,
    pub mirror: MirrorSection,
    pub authz: AuthzSection,
    pub watch: WatchSection,
    /// `[metrics]` as written.
    pub metrics: MetricsSection,
}

/// `[control]`, resolved.
#[derive(Debug, Clone)]
pub struct Control {
    /// The socket (default: `crate::control::DEFAULT_CONTROL_SOCKET`, unless `--control-listen`).
    pub listen: Option<PathBuf>,
    /// Peer uids allowed on the socket: `allowed_uids`, else root and the daemon's own uid.
    pub allowed_uids: Vec<u32>,
    /// Watch the policy dir and reload on change (default true).
    pub watch: bool,
    /// The watcher's debounce (`debounce_ms`, default 200 ms).
    pub debounce: Duration,
    /// Decisions kept in memory for `ctl decisions` (`decisions`, default 1000, 1 to 1000000).
    pub decisions: usize,
}

/// `log_format`, `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("log format must be text or json, got {s:?}")),
        }
    }
}

/// Socket ownership and mode (`None`: leave it as bound, or copy it from the socket it stands in
/// front of).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketPerms {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Default for Config {
    fn default() -> Config {
        Config::resolve(RawConfig::default(), &mut Vec::new())
    }
}

/// A user or group given as a number or a name looked up in `/etc/passwd` / `/etc/group`.
pub fn lookup_id(value: &str, db: &str) -> Result<u32, String> {
    if let Ok(n) = value.parse::<u32>() {
        return Ok(n);
    }
    let text = std::fs::read_to_string(db).map_err(|e| format!("cannot read {db}: {e}"))?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?;
            (name == value).then(|| id.parse::<u32>().ok()).flatten()
        })
        .next()
        .ok_or_else(|| format!("{value:?} not found in {db}"))
}

pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid socket mode {s:?}: want octal like \"0660\""))
}

/// Root and the daemon's own uid (read from `/proc/self`).
fn default_allowed_uids() -> Vec<u32> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0);
    let mut v = vec![0];
    if me != 0 {
        v.push(me);
    }
    v
}

impl Config {
    /// Load `path`; a missing file at the default path is an empty config, anywhere else an error.
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => return Err(format!("cannot read config {}: {e}", path.display())),
        };
        Config::parse(&text).map_err(|e| format!("config {}: {e}", path.display()))
    }

    /// Parse and resolve a config file's text; every problem found is in the one error.
    pub fn parse(text: &str) -> Result<Config, String> {
        Config::from_raw(RawConfig::parse(text)?)
    }

    /// Resolve the file's defaults; the problems (bad socket mode, unknown user, bad log
    /// format), all of them, joined with "; ".
    pub fn from_raw(raw: RawConfig) -> Result<Config, String> {
        let mut problems = Vec::new();
        let cfg = Config::resolve(raw, &mut problems);
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems.join("; "))
        }
    }

    fn resolve(raw: RawConfig, problems: &mut Vec<String>) -> Config {
        let mut check = |r: Result<u32, String>| match r {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(e);
                None
            }
        };
        let d = &raw.docker;
        let docker_socket = SocketPerms {
            mode: d.socket_mode.as_deref().and_then(|m| check(parse_mode(m))),
            uid: d
                .socket_user
                .as_deref()
                .and_then(|u| check(lookup_id(u, "/etc/passwd"))),
            gid: d
                .socket_group
                .as_deref()
                .and_then(|g| check(lookup_id(g, "/etc/group"))),
        };
        let log_format = match raw.log_format.as_deref().map(LogFormat::parse) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                problems.push(e);
                None
            }
        };
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        if raw
            .watch
            .recheck_secs
            .is_some_and(|s| s > 10 * 365 * 86_400)
        {
            problems.push("[watch] recheck_secs must be at most 315360000 (10 years)".to_string());
        }
        if raw.plugin_timeout_secs.is_some_and(|s| s > 86_400) {
            problems.push("plugin_timeout_secs must be at most 86400".to_string());
        }
        if raw.plugin_timeout_secs == Some(0) {
            problems.push("plugin_timeout_secs must be at least 1".to_string());
        }
        let c = raw.control;
        let decisions = c.decisions.unwrap_or(DEFAULT_DECISIONS);
        if !(1..=1_000_000).contains(&decisions) {
            problems.push(format!(
                "[control] decisions must be between 1 and 1000000, got {decisions}"
            ));
        }
        Config {
            policy_dir: raw.policy_dir,
            insecure_registries: raw.insecure_registries,
            docker_config: raw.docker_config,
            max_signatures: raw.max_signatures.unwrap_or(DEFAULT_MAX_SIGNATURES),
            registry_connect_timeout: secs(
                raw.registry_connect_timeout_secs,
                DEFAULT_REGISTRY_CONNECT_TIMEOUT,
            ),
            registry_timeout: secs(raw.registry_timeout_secs, DEFAULT_REGISTRY_TIMEOUT),
            plugin_timeout: secs(raw.plugin_timeout_secs, DEFAULT_PLUGIN_TIMEOUT),
            log_format,
            negative_cache: secs(raw.negative_cache_secs, DEFAULT_NEGATIVE_CACHE),
            positive_cache: secs(raw.positive_cache_secs, DEFAULT_POSITIVE_CACHE),
            require_platform_signature: raw.require_platform_signature,
            shutdown_grace: secs(raw.shutdown_grace_secs, DEFAULT_SHUTDOWN_GRACE),
            registries: raw.registries,
            docker_certs_dir: raw.docker_certs_dir,
            proxy: raw.proxy,
            docker: raw.docker,
            docker_socket,
            control: Control {
                listen: c.listen,
                allowed_uids: c.allowed_uids.unwrap_or_else(default_allowed_uids),
                watch: c.watch.unwrap_or(true),
                debounce: c
                    .debounce_ms
                    .map_or(DEFAULT_WATCH_DEBOUNCE, Duration::from_millis),
                decisions,
            },
            mirror: raw.mirror,
            authz: raw.authz,
            watch: raw.watch,
            metrics: raw.metrics,
        }
    }
}

/// notation's user config dir: `$XDG_CONFIG_HOME/notation`, else `~/.config/notation`.
pub fn notation_config_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("notation"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config").join("notation"))
}

fn has_policy(dir: &Path) -> bool {
    dir.join("trustpolicy.oci.json").exists() || dir.join("trustpolicy.json").exists()
}

/// The policy dir when neither flag nor config names one: `/etc/pullguard` when it holds a
/// trust policy, else notation's own config dir (so `pullguard verify` is a drop-in).
pub fn default_policy_dir() -> PathBuf {
    let etc = PathBuf::from(DEFAULT_POLICY_DIR);
    if has_policy(&etc) {
        return etc;
    }
    match notation_config_dir() {
        Some(n) if has_policy(&n) => n,
        _ => etc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let e = Config::parse("policy_dir = \"/x\"\nbogus = 1\n").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let c = Config::parse("policy_dir = \"/x\"\ninsecure_registries = [\"a:5000\"]\n").unwrap();
        assert_eq!(c.policy_dir.as_deref(), Some(Path::new("/x")));
        assert_eq!(c.insecure_registries, vec!["a:5000"]);
    }

    #[test]
    fn docker_section_and_ids() {
        let c = Config::parse(
            "[docker]\nlisten = \"/tmp/x.sock\"\nallow_build = true\nsocket_mode = \"0660\"\n",
        )
        .unwrap();
        assert!(c.docker.allow_build && !c.docker.allow_load);
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert!(parse_mode("rw").is_err());
        assert_eq!(lookup_id("root", "/etc/passwd"), Ok(0));
        assert_eq!(lookup_id("42", "/etc/group"), Ok(42));
        assert!(Config::parse("[docker]\nbogus = 1\n").is_err());
    }

    #[test]
    fn mirror_section() {
        let c = Config::parse(
            "[mirror]\nlisten = \"127.0.0.1:5002\"\nupstreams = [\"127.0.0.1:5000\"]\ndefault_upstream = \"r.example\"\n",
        )
        .unwrap();
        assert_eq!(c.mirror.listen.as_deref(), Some("127.0.0.1:5002"));
        assert_eq!(c.mirror.upstreams, vec!["127.0.0.1:5000"]);
        assert_eq!(c.mirror.default_upstream.as_deref(), Some("r.example"));
        assert!(Config::parse("[mirror]\nbogus = 1\n").is_err());
    }

    #[test]
    fn watch_section() {
        let c = Config::parse(
            "[watch]\ncontainerd = \"/run/c.sock\"\nnamespaces = [\"k8s.io\"]\non_unverified = \"remove\"\n",
        )
        .unwrap();
        assert_eq!(
            c.watch.containerd.as_deref(),
            Some(Path::new("/run/c.sock"))
        );
        assert_eq!(c.watch.namespaces, vec!["k8s.io"]);
        assert_eq!(c.watch.on_unverified, OnUnverified::Remove);
        assert!(c.watch.docker.is_none());
        assert_eq!(Config::default().watch.on_unverified, OnUnverified::Report);
        assert!(Config::parse("[watch]\non_unverified = \"delete\"\n").is_err());
        assert!(Config::parse("[watch]\nbogus = 1\n").is_err());
    }

    #[test]
    fn defaults_are_resolved_once() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.max_signatures, 100);
        assert_eq!(c.registry_connect_timeout, Duration::from_secs(5));
        assert_eq!(c.registry_timeout, Duration::from_secs(30));
        assert_eq!(c.negative_cache, Duration::from_secs(5));
        assert_eq!(c.positive_cache, Duration::from_secs(300));
        assert_eq!(c.shutdown_grace, Duration::from_secs(30));
        assert_eq!(c.plugin_timeout, Duration::from_secs(10));
        assert_eq!(c.control.debounce, Duration::from_millis(200));
        assert!(c.control.watch);
        assert_eq!(c.control.allowed_uids.first(), Some(&0));
        assert_eq!(c.docker_socket, SocketPerms::default());
        assert_eq!(c.log_format, None);
        let c = Config::parse(
            "max_signatures = 3\nregistry_timeout_secs = 7\nplugin_timeout_secs = 2\nlog_format = \"json\"\n[control]\nallowed_uids = [5]\ndebounce_ms = 10\nwatch = false\n[docker]\nsocket_mode = \"0660\"\nsocket_user = \"root\"\nsocket_group = \"7\"\n",
        )
        .unwrap();
        assert_eq!(c.max_signatures, 3);
        assert_eq!(c.registry_timeout, Duration::from_secs(7));
        assert_eq!(c.plugin_timeout, Duration::from_secs(2));
        assert_eq!(
            Config::parse("plugin_timeout_secs = 0\n").unwrap_err(),
            "plugin_timeout_secs must be at least 1"
        );
        assert!(Config::parse("[watch]\nrecheck_secs = 9223372036854775807\n").is_err());
        assert!(Config::parse("[watch]\nrecheck_secs = 60\n").is_ok());
        assert_eq!(c.log_format, Some(LogFormat::Json));
        assert_eq!(c.control.allowed_uids, vec![5]);
        assert_eq!(c.control.debounce, Duration::from_millis(10));
        assert!(!c.control.watch);
        assert_eq!(
            c.docker_socket,
            SocketPerms {
                mode: Some(0o660),
                uid: Some(0),
                gid: Some(7)
            }
        );
    }

    #[test]
    fn every_problem_is_reported_in_one_run() {
        let e = Config::parse(
            "log_format = \"xml\"\n[docker]\nsocket_mode = \"rw\"\nsocket_user = \"no-such-user-pg\"\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "invalid socket mode \"rw\": want octal like \"0660\"; \"no-such-user-pg\" not found in /etc/passwd; log format must be text or json, got \"xml\""
        );
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        assert!(Config::load(Some(Path::new("/nonexistent/pullguard.toml"))).is_err());
    }
}
