//! Verification plugins, as notation runs them (the Notary Project plugin protocol, contract
//! 1.0; notation-go `plugin` and `verifier.processSignature`): a signature whose protected
//! header names `io.cncf.notary.verificationPlugin` is checked by the executable
//! `<plugins>/<name>/notation-<name>` (`<plugins>` is `$NOTATION_LIBEXEC/plugins`, else
//! `plugins/` in the notation config dir), which answers `get-plugin-metadata` and
//! `verify-signature` as JSON on stdout, the request on stdin.
//!
//! Bounded, which notation is not: every run has a deadline and its output a size limit; a
//! plugin that hangs, crashes, or prints anything but the expected JSON denies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::envelope::{Envelope, HDR_PLUGIN, HDR_PLUGIN_MIN_VERSION, SigningScheme};

pub const CONTRACT_VERSION: &str = "1.0";
pub const CAP_TRUSTED_IDENTITY: &str = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY";
pub const CAP_REVOCATION_CHECK: &str = "SIGNATURE_VERIFIER.REVOCATION_CHECK";

/// Where plugins are found, what they are told, and their bounds.
#[derive(Debug, Clone)]
pub struct PluginOptions {
    pub root: PathBuf,
    /// `--plugin-config` pairs, passed as they are.
    pub config: BTreeMap<String, String>,
    pub timeout: Duration,
    pub max_output: usize,
}

impl PluginOptions {
    /// notation's plugin directory for the config dir `dir`: `$NOTATION_LIBEXEC/plugins`, else
    /// `dir/plugins`.
    pub fn for_config_dir(dir: &Path) -> PluginOptions {
        let root = std::env::var_os("NOTATION_LIBEXEC")
            .filter(|v| !v.is_empty())
            .map_or_else(|| dir.join("plugins"), |l| PathBuf::from(l).join("plugins"));
        PluginOptions {
            root,
            config: BTreeMap::new(),
            timeout: crate::config::DEFAULT_PLUGIN_TIMEOUT,
            max_output: 1 << 20,
        }
    }
}

/// What a caller sets for plugins: `--plugin-config`, and the deadline of each plugin run
/// (default 10 s).
#[derive(Debug, Clone, Default)]
pub struct PluginSettings {
    pub config: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
}

impl PluginOptions {
    pub fn with(mut self, settings: &PluginSettings) -> PluginOptions {
        self.config = settings.config.clone();
        if let Some(t) = settings.timeout {
            self.timeout = t;
        }
        self
    }
}

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    url: String,
    #[serde(default, rename = "supportedContractVersions")]
    supported_contract_versions: Vec<String>,
    #[serde(default)]
    capabilities: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct VerifyResult {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub struct VerifyResponse {
    #[serde(default, rename = "verificationResults")]
    pub results: BTreeMap<String, Option<VerifyResult>>,
    #[serde(default, rename = "processedAttributes")]
    pub processed: Vec<serde_json::Value>,
}

/// A plugin found, its metadata checked, with the verification capabilities it offers.
pub struct Plugin {
    pub name: String,
    path: PathBuf,
    pub capabilities: Vec<&'static str>,
}

impl Plugin {
    pub fn has(&self, cap: &str) -> bool {
        self.capabilities.contains(&cap)
    }
}

/// notation-go's `extractCriticalStringExtendedAttribute`.
fn critical_string(env: &Envelope, key: &str) -> Result<Option<String>, String> {
    let Some(attr) = env.plugin_headers.iter().find(|a| a.key == key) else {
        return Ok(None);
    };
    if !attr.critical {
        return Err(format!("{key} is not a critical Extended attribute"));
    }
    let Some(v) = attr.value.as_str() else {
        return Err(format!("{key} from extended attribute is not a string"));
    };
    if v.trim().is_empty() {
        return Err(format!("{key} from extended attribute is an empty string"));
    }
    Ok(Some(v.to_string()))
}

/// `x.y.z` (with optional pre-release/build) as Go's `golang.org/x/mod/semver` reads `v`+s;
/// the parts to compare by, or `None` when it is not valid semver.
fn semver(s: &str) -> Option<(Vec<u64>, Option<String>)> {
    let (core, _build) = s.split_once('+').unwrap_or((s, ""));
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) if !p.is_empty() => (c, Some(p.to_string())),
        Some(_) => return None,
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut nums = Vec::new();
    for p in &parts {
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        nums.push(p.parse().ok()?);
    }
    // golang.org/x/mod/semver allows the shorthands v1 and v1.2 (not with a pre-release).
    if nums.len() < 3 && pre.is_some() {
        return None;
    }
    nums.resize(3, 0);
    Some((nums, pre))
}

/// `semver.Compare("v"+a, "v"+b) >= 0`, pre-releases ordered before the release.
fn version_at_least(have: &str, want: &str) -> bool {
    let (Some((a, ap)), Some((b, bp))) = (semver(have), semver(want)) else {
        return false;
    };
    match a.cmp(&b) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match (ap, bp) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(x), Some(y)) => prerelease_cmp(&x, &y) != std::cmp::Ordering::Less,
        },
    }
}

fn prerelease_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => {
                let ord = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => std::cmp::Ordering::Less,
                    (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
                    _ => p.cmp(q),
                };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Run `path command` with `request` on stdin, bounded by `opts`; its stdout, or the error
/// notation would report (a JSON `errorMessage` from stderr when the plugin gave one).
///
/// The plugin runs in a process group of its own, and the whole group is killed when the
/// plugin exits, goes over its output limit or misses its deadline: a child it left behind in
/// its group (notation kills only the plugin) neither keeps running nor holds the output pipes
/// open. A child that leaves the group (`setsid`) is beyond reach.
async fn run(
    opts: &PluginOptions,
    path: &Path,
    command: &str,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    // Before the spawn: an interrupt from here on takes the plugin along.
    watch_interrupts();
    let mut child = tokio::process::Command::new(path)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("failed to execute the {command} command: {e}"))?;
    // Declared after `child`, so dropped before it: on every early return the group is killed
    // while the plugin is not yet reaped (its ID cannot have been reused).
    let group = Group::new(child.id());
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(format!("failed to execute the {command} command: no pipes"));
    };
    let max = opts.max_output as u64;
    let work = async {
        // Beside the reads: a plugin that does not read its stdin must not block them (its
        // exit ends the write with a broken pipe).
        let write = async {
            let _ = stdin.write_all(request).await;
            let _ = stdin.shutdown().await;
            drop(stdin);
        };
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (mut so, mut se) = (stdout.take(max + 1), stderr.take(max + 1));
        // Over the limit on either stream: the plugin may be blocked writing the rest, and
        // the other stream would never end; stop it rather than wait for the deadline.
        let read_out = async {
            let r = so.read_to_end(&mut out).await;
            if out.len() as u64 > max {
                group.kill();
            }
            r
        };
        let read_err = async {
            let r = se.read_to_end(&mut err).await;
            if err.len() as u64 > max {
                group.kill();
            }
            r
        };
        // When the plugin exits, what it left in its group goes too: its pipes then close.
        let exit = async {
            let status = child.wait().await;
            group.kill_after_exit();
            status
        };
        let ((), o, e, status) = tokio::join!(write, read_out, read_err, exit);
        o.and(e)
            .map_err(|e| format!("reading the plugin's output: {e}"))?;
        if out.len() as u64 > max || err.len() as u64 > max {
            return Err(format!("the plugin's output is over the {max}-byte limit"));
        }
        let status = status.map_err(|e| format!("waiting for the plugin: {e}"))?;
        Ok::<_, String>((status, out, err))
    };
    let (status, out, err) = tokio::time::timeout(opts.timeout, work)
        .await
        .map_err(|_| {
            format!(
                "the {command} command did not finish within {} s",
                opts.timeout.as_secs_f64()
            )
        })??;
    if !status.success() {
        return Err(failure(command, &status.to_string(), &err));
    }
    Ok(out)
}

/// The process groups of the plugins running now (for [`exit_on_interrupt`]).
static LIVE: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
static EXIT_ON_INTERRUPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a one-shot command: a SIGINT or SIGTERM while a plugin runs kills the plugins' process
/// groups, then the process (exit 130 or 143). A plugin in a group of its own does not get the
/// terminal's Ctrl-C, and a process killed by a signal drops nothing. Watched only from the
/// first plugin run on.
pub fn exit_on_interrupt() {
    EXIT_ON_INTERRUPT.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn watch_interrupts() {
    static WATCHING: std::sync::Once = std::sync::Once::new();
    if !EXIT_ON_INTERRUPT.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    WATCHING.call_once(|| {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
            };
            let live = LIVE.lock().map(|l| l.clone()).unwrap_or_default();
            for id in live {
                kill_group(id);
            }
            std::process::exit(code);
        });
    });
}

/// SIGKILL to the process group `id`.
fn kill_group(id: i32) {
    if id <= 1 {
        return;
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours. The crate denies
    // unsafe code; signalling a process group has no safe API in std or tokio. An ESRCH (the
    // group is gone) is the expected answer once the plugin left nothing behind.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(-id, libc::SIGKILL);
    }
}

/// A plugin's process group (its leader's ID), killed with SIGKILL when told and when dropped,
/// until killed after the plugin was reaped: from then on its ID may name another group.
struct Group {
    id: Option<i32>,
    armed: std::sync::atomic::AtomicBool,
}

impl Group {
    fn new(id: Option<u32>) -> Group {
        let id = id
            .and_then(|id| i32::try_from(id).ok())
            .filter(|&id| id > 1);
        if let (Some(id), Ok(mut live)) = (id, LIVE.lock()) {
            live.push(id);
        }
        Group {
            id,
            armed: std::sync::atomic::AtomicBool::new(true),
        }
    }

    fn kill(&self) {
        if let Some(id) = self.id
            && self.armed.load(std::sync::atomic::Ordering::SeqCst)
        {
            kill_group(id);
        }
    }

    /// The plugin has been reaped: what is left of its group is killed, once (the group's ID
    /// stays its own while any member lives).
    fn kill_after_exit(&self) {
        self.kill();
        self.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        self.forget();
    }

    fn forget(&self) {
        if let (Some(id), Ok(mut live)) = (self.id, LIVE.lock()) {
            live.retain(|&l| l != id);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
        self.forget();
    }
}

/// What a failed plugin command says on stderr: notation's `RequestError` JSON, else a plain
/// failure.
fn failure(command: &str, status: &str, err: &[u8]) -> String {
    #[derive(Deserialize)]
    struct RequestError {
        #[serde(rename = "errorCode", default)]
        code: String,
        #[serde(rename = "errorMessage", default)]
        message: String,
    }
    if err.is_empty() {
        return format!("failed to execute the {command} command: {status}");
    }
    match serde_json::from_slice::<RequestError>(err) {
        Ok(re) => format!("{}: {}", re.code, re.message),
        Err(_) => format!(
            "failed to execute the {command} command: the plugin's stderr is not a JSON error"
        ),
    }
}

/// Find and describe the plugin `env` names (notation-go: before authenticity is checked).
pub async fn prepare(opts: &PluginOptions, env: &Envelope) -> Result<Plugin, String> {
    let name = critical_string(env, HDR_PLUGIN)?.ok_or("no verification plugin is named")?;
    let min_version = critical_string(env, HDR_PLUGIN_MIN_VERSION)
        .map_err(|e| format!("error while getting plugin minimum version, error: {e}"))?;
    let locate_err = |e: &str| {
        format!(
            "error while locating the verification plugin {name:?}, make sure the plugin is installed successfully before verifying the signature. error: {e}"
        )
    };
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(locate_err("invalid plugin name"));
    }
    let path = opts.root.join(&name).join(format!("notation-{name}"));
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(locate_err("plugin executable file is not a regular file")),
        Err(e) => {
            return Err(locate_err(&format!(
                "plugin executable file is either not found or inaccessible: stat {}: {e}",
                path.display()
            )));
        }
    }
    let mut req = serde_json::Map::new();
    if !opts.config.is_empty() {
        req.insert(
            "pluginConfig".into(),
            serde_json::to_value(&opts.config).unwrap_or_default(),
        );
    }
    let out = run(
        opts,
        &path,
        "get-plugin-metadata",
        &serde_json::to_vec(&req).unwrap_or_default(),
    )
    .await?;
    let capabilities = capabilities(&name, min_version.as_deref(), &out)?;
    Ok(Plugin {
        name,
        path,
        capabilities,
    })
}

/// The `get-plugin-metadata` answer of plugin `name`, checked as notation-go checks it: the
/// verification capabilities it has.
fn capabilities(
    name: &str,
    min_version: Option<&str>,
    out: &[u8],
) -> Result<Vec<&'static str>, String> {
    let md: Metadata = serde_json::from_slice(out)
        .map_err(|e| format!("failed to decode the get-plugin-metadata response: {e}"))?;
    let invalid = |why: &str| format!("metadata validation failed for plugin {name}: {why}");
    if md.name.is_empty() {
        return Err(invalid("empty name"));
    }
    if md.description.is_empty() {
        return Err(invalid("empty description"));
    }
    if md.version.is_empty() {
        return Err(invalid("empty version"));
    }
    if md.url.is_empty() {
        return Err(invalid("empty url"));
    }
    if md.capabilities.is_empty() {
        return Err(invalid("empty capabilities"));
    }
    if !md
        .supported_contract_versions
        .iter()
        .any(|v| v == CONTRACT_VERSION)
    {
        return Err(invalid(&format!(
            "contract version \"{CONTRACT_VERSION}\" is not in the list of the plugin supported versions {:?}",
            md.supported_contract_versions
        )));
    }
    if md.name != name {
        return Err(format!(
            "plugin executable file name must be \"notation-{}\" instead of \"notation-{name}\"",
            md.name
        ));
    }
    if semver(&md.version).is_none() {
        return Err(format!(
            "plugin {name} has pluginVersion {} which is not in valid semver format",
            md.version
        ));
    }
    if let Some(min) = min_version
        && !version_at_least(&md.version, min)
    {
        return Err(format!(
            "found plugin {name} with version {} but signature verification needs plugin version greater than or equal to {min}",
            md.version
        ));
    }
    let capabilities: Vec<&'static str> = [CAP_TRUSTED_IDENTITY, CAP_REVOCATION_CHECK]
        .into_iter()
        .filter(|c| md.capabilities.iter().any(|m| m == c))
        .collect();
    if capabilities.is_empty() {
        return Err(format!(
            "digital signature requires plugin {name:?} with signature verification capabilities (\"{CAP_TRUSTED_IDENTITY}\" and/or \"{CAP_REVOCATION_CHECK}\") installed"
        ));
    }
    Ok(capabilities)
}

#[derive(Serialize)]
struct CriticalAttributes<'a> {
    #[serde(rename = "contentType")]
    content_type: &'a str,
    #[serde(rename = "signingScheme")]
    signing_scheme: &'a str,
    expiry: String,
    #[serde(
        rename = "authenticSigningTime",
        skip_serializing_if = "Option::is_none"
    )]
    authentic_signing_time: Option<String>,
    #[serde(
        rename = "extendedAttributes",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    extended_attributes: serde_json::Map<String, serde_json::Value>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `verify-signature` with `capabilities`, as notation-go's `executePlugin` builds the request.
pub async fn verify(
    opts: &PluginOptions,
    plugin: &Plugin,
    env: &Envelope,
    trusted_identities: &[String],
    capabilities: &[&str],
) -> Result<VerifyResponse, String> {
    use base64::Engine as _;
    let extended: serde_json::Map<String, serde_json::Value> = env
        .extended
        .iter()
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect();
    let unprocessed: Vec<&str> = env.extended.iter().map(|a| a.key.as_str()).collect();
    let zero = "0001-01-01T00:00:00Z".to_string();
    let critical = CriticalAttributes {
        content_type: crate::envelope::PAYLOAD_CONTENT_TYPE,
        signing_scheme: env.scheme.as_str(),
        expiry: env.expiry.map_or(zero, rfc3339),
        authentic_signing_time: (env.scheme == SigningScheme::SigningAuthority)
            .then(|| rfc3339(env.signing_time)),
        extended_attributes: extended,
    };
    let chain: Vec<String> = env
        .chain
        .iter()
        .map(|c| base64::engine::general_purpose::STANDARD.encode(&c.der))
        .collect();
    let mut req = serde_json::json!({
        "contractVersion": CONTRACT_VERSION,
        "signature": {
            "criticalAttributes": critical,
            "unprocessedAttributes": unprocessed,
            "certificateChain": chain,
        },
        "trustPolicy": {
            "trustedIdentities": trusted_identities,
            "signatureVerification": capabilities,
        },
    });
    if !opts.config.is_empty() {
        req["pluginConfig"] = serde_json::to_value(&opts.config).unwrap_or_default();
    }
    let out = run(
        opts,
        &plugin.path,
        "verify-signature",
        &serde_json::to_vec(&req).unwrap_or_default(),
    )
    .await
    .map_err(|e| format!("failed to verify with plugin {}: {e}", plugin.name))?;
    serde_json::from_slice(&out).map_err(|e| {
        format!(
            "failed to verify with plugin {}: failed to decode the verify-signature response: {e}",
            plugin.name
        )
    })
}

/// For the `plugin_output` fuzz target only: a plugin's answers as they are read, its
/// `get-plugin-metadata` stdout, a failed command's stderr and its `verify-signature` stdout.
#[doc(hidden)]
pub fn fuzz_output(metadata: &[u8], stderr: &[u8], verify: &[u8]) -> usize {
    let caps = capabilities("fuzz", Some("1.0.0"), metadata).map_or(0, |c| c.len());
    let err = failure("verify-signature", "exit status: 1", stderr).len();
    let results = serde_json::from_slice::<VerifyResponse>(verify).map_or(0, |_| 1);
    caps + err + results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_like_x_mod_semver() {
        assert!(version_at_least("1.0.0", "1.0.0"));
        assert!(!version_at_least("1.2.0", "1.10.0"));
        assert!(version_at_least("1.10.0", "1.2.0"));
        assert!(version_at_least("1.0.0", "1.0.0-rc.1"));
        assert!(!version_at_least("1.0.0-rc.1", "1.0.0"));
        assert!(version_at_least("1.0.0-rc.10", "1.0.0-rc.2"));
        assert!(version_at_least("2", "1.9.9"));
        assert!(semver("01.0.0").is_none());
        assert!(semver("1.0.0.0").is_none());
        assert!(semver("v1.0.0").is_none());
        assert!(!version_at_least("garbage", "1.0.0"));
    }
}
