//! The TOML configuration file. Unknown keys are rejected; command-line flags override it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/pullguard/config.toml";
pub const DEFAULT_POLICY_DIR: &str = "/etc/pullguard";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The notation layout: trustpolicy.json and truststore/.
    pub policy_dir: Option<PathBuf>,
    /// Registries (`host[:port]`) reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// A Docker `config.json` for registry credentials.
    pub docker_config: Option<PathBuf>,
    /// Signatures tried per image (default 100).
    pub max_signatures: Option<usize>,
    /// Registry connect and request timeouts, in seconds.
    pub registry_connect_timeout_secs: Option<u64>,
    pub registry_timeout_secs: Option<u64>,
    /// `text` (default) or `json` logs for `serve`.
    pub log_format: Option<String>,
    /// Seconds a denial / an allow stays cached (default 5 / 300).
    pub negative_cache_secs: Option<u64>,
    pub positive_cache_secs: Option<u64>,
    /// For a multi-arch index, also demand a verifying signature on the platform manifest being
    /// pulled (the pull is then pinned to that manifest). Default false: a signature on the
    /// index covers its children, as in notation.
    #[serde(default)]
    pub require_platform_signature: bool,
    /// Seconds in-flight requests get to finish on SIGTERM (default 30).
    pub shutdown_grace_secs: Option<u64>,
    /// `[registries."HOST[:PORT]"]`: per-registry TLS (`ca`, `client_cert`, `client_key`,
    /// `insecure`) and `plain_http`, for every front end.
    #[serde(default)]
    pub registries: std::collections::BTreeMap<String, crate::tls::RegistryEntry>,
    /// Docker's per-registry certificate root (default /etc/docker/certs.d; "" turns it off).
    pub docker_certs_dir: Option<PathBuf>,
    /// `[proxy]`: HTTP proxies instead of HTTPS_PROXY / HTTP_PROXY / NO_PROXY.
    pub proxy: Option<crate::proxy_env::ProxySection>,
    #[serde(default)]
    pub docker: DockerSection,
    #[serde(default)]
    pub control: ControlSection,
    #[serde(default)]
    pub mirror: MirrorSection,
    #[serde(default)]
    pub authz: AuthzSection,
    #[serde(default)]
    pub watch: WatchSection,
    #[serde(default)]
    pub metrics: MetricsSection,
}

/// `[metrics]`: Prometheus metrics at `/metrics` (off unless `listen` or `--metrics-listen`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// TCP `IP:PORT` (e.g. "127.0.0.1:9464") or a Unix socket path (starting with `/`).
    pub listen: Option<String>,
}

/// `[watch]`: the store watch (off unless `containerd` or `docker` names a socket): every image
/// that appears in or changes in an image store is verified, however it arrived.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSection {
    /// containerd's gRPC socket (e.g. /run/containerd/containerd.sock).
    pub containerd: Option<PathBuf>,
    /// containerd namespaces to watch (e.g. ["k8s.io", "default"]); empty: all of them.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// dockerd's socket (the real one, e.g. /var/run/docker.sock).
    pub docker: Option<PathBuf>,
    /// What to do with an image that does not verify (default: report).
    #[serde(default)]
    pub on_unverified: OnUnverified,
}

/// `watch.on_unverified`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnUnverified {
    /// Log the verdict (decision origin `store`) and leave the image.
    #[default]
    Report,
    /// Also delete the image record (containerd: the image; docker: the image, forced).
    Remove,
}

/// `[control]`: the gRPC control API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlSection {
    /// Default /run/pullguard/control.sock. The socket is created mode 0600.
    pub listen: Option<PathBuf>,
    /// Peer uids allowed on the socket (checked with SO_PEERCRED). Default: root and the
    /// daemon's own uid.
    pub allowed_uids: Option<Vec<u32>>,
    /// Watch the policy dir and reload on change (default true).
    pub watch: Option<bool>,
    /// Debounce for the watcher, in milliseconds (default 200).
    pub debounce_ms: Option<u64>,
    /// Decisions kept in memory for `ctl decisions` (default 1000, at most 1000000).
    pub decisions: Option<usize>,
}

/// `[docker]`: the Engine API proxy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerSection {
    /// The socket pullguard serves (default /run/pullguard/docker.sock).
    pub listen: Option<PathBuf>,
    /// The real daemon's socket (default /var/run/docker.sock).
    pub upstream: Option<PathBuf>,
    /// dockerd's config file, whose `insecure-registries` (names and CIDRs) are reached over
    /// plain HTTP too, as dockerd reaches them (default /etc/docker/daemon.json; missing: none).
    pub daemon_json: Option<PathBuf>,
    /// Socket mode as an octal string ("0660"); default: the upstream socket's.
    pub socket_mode: Option<String>,
    /// Socket owner and group (names or numbers); default: the upstream socket's.
    pub socket_user: Option<String>,
    pub socket_group: Option<String>,
    /// `POST /images/load` (a tarball carries no verifiable signature).
    #[serde(default)]
    pub allow_load: bool,
    /// `POST /images/create?fromSrc=` (import a root filesystem).
    #[serde(default)]
    pub allow_import: bool,
    /// `POST /build`, and BuildKit's `/session` and `/grpc` (base images are pulled inside the
    /// daemon, unseen by the proxy).
    #[serde(default)]
    pub allow_build: bool,
    /// `POST /plugins/pull`, `/plugins/create`, `/plugins/{name}/upgrade`.
    #[serde(default)]
    pub allow_plugins: bool,
    /// `POST /services/create`, `/services/{id}/update`, `/swarm/init`, `/swarm/join` (swarm
    /// nodes pull and start their tasks inside the daemon).
    #[serde(default)]
    pub allow_services: bool,
    /// `POST /commit` (a committed image carries no signature).
    #[serde(default)]
    pub allow_commit: bool,
    /// Containers with no image (an empty root filesystem, `Image` absent, `""` or `null`):
    /// their create and start. Whatever is copied in runs unverified.
    #[serde(default)]
    pub allow_scratch: bool,
}

/// `[authz]`: the Docker authorization plugin (off unless `listen` or `--authz-listen`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzSection {
    /// The plugin socket dockerd finds by name: `/run/docker/plugins/NAME.sock` for
    /// `--authorization-plugin=NAME` (or a path named in `/etc/docker/plugins/NAME.spec`).
    pub listen: Option<PathBuf>,
}

/// `[mirror]`: the verifying OCI registry mirror (off unless `listen` or `--mirror-listen`).
/// Plain-HTTP upstreams are the ones in `insecure_registries`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSection {
    /// TCP address to serve, e.g. "127.0.0.1:5002" (port 0: any free port, logged).
    pub listen: Option<String>,
    /// Registries (`host[:port]`, as containerd names them in `?ns=`) the mirror may fetch from.
    /// A request for any other registry is denied.
    #[serde(default)]
    pub upstreams: Vec<String>,
    /// The registry for requests without `?ns=` (a client pointed straight at the mirror).
    /// It is an upstream too.
    pub default_upstream: Option<String>,
    /// For clients that send no `?ns=` (podman, skopeo, CRI-O): a first path component of the
    /// repository name that stands for an upstream registry (`ghcr = "ghcr.io"`: a request for
    /// `/v2/ghcr/org/app/...` is `ghcr.io/org/app`). Each registry named is an upstream too.
    #[serde(default)]
    pub prefixes: std::collections::BTreeMap<String, String>,
    /// Hash each blob as it streams and break the transfer if its bytes do not match the digest
    /// (default true). Clients check digests too; false trades this second check for throughput.
    pub check_blob_digests: Option<bool>,
}

pub const DEFAULT_DOCKER_LISTEN: &str = "/run/pullguard/docker.sock";
pub const DEFAULT_DOCKER_UPSTREAM: &str = "/var/run/docker.sock";

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

    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
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
    fn metrics_section() {
        let c = Config::parse("[metrics]\nlisten = \"127.0.0.1:9464\"\n").unwrap();
        assert_eq!(c.metrics.listen.as_deref(), Some("127.0.0.1:9464"));
        assert!(Config::default().metrics.listen.is_none());
        assert!(Config::parse("[metrics]\nbogus = 1\n").is_err());
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        assert!(Config::load(Some(Path::new("/nonexistent/pullguard.toml"))).is_err());
    }
}
