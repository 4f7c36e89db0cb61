//! The TOML configuration file. Unknown keys are rejected; command-line flags override it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/pullguard/config.toml";
pub const DEFAULT_POLICY_DIR: &str = "/etc/pullguard";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The notation layout: trustpolicy(.oci).json and truststore/.
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
    fn missing_explicit_config_is_an_error() {
        assert!(Config::load(Some(Path::new("/nonexistent/pullguard.toml"))).is_err());
    }
}
