//! The configuration file exactly as written: the serde mirror of `config.toml`, every key
//! optional, unknown keys rejected. [`super::Config::from_raw`] turns it into the typed
//! configuration the daemon and the commands use, with the defaults filled in once.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
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
    /// Seconds a verification plugin may run, per call (default 10).
    pub plugin_timeout_secs: Option<u64>,
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
    /// Every image of the watched stores is verified again this often (default 3600; 0: only
    /// at a policy reload), so that a signature that expired or a certificate revoked since is
    /// caught. A reload always checks every image again under the new policy.
    pub recheck_secs: Option<u64>,
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
    /// Image mounts (`--mount type=image`, Engine API 1.48+: another image's files in the
    /// container): each mounted image must then verify, by its name at create and again at
    /// start (a name retagged in between is not seen). Off: refused.
    #[serde(default)]
    pub allow_image_mounts: bool,
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

impl RawConfig {
    pub fn parse(text: &str) -> Result<RawConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
    }
}
