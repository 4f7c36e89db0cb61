//! TLS trust per registry: the system roots (loaded lazily, on the first https request),
//! Docker's `/etc/docker/certs.d/HOST[:PORT]/` read as dockerd reads it (moby
//! `registry.ReadCertsDirectory`: every `*.crt` is a CA added to the system roots, every
//! `*.cert` is a client certificate whose key is the `*.key` of the same name, a lone `.cert`
//! or `.key` is an error), and pullguard's own `[registries."HOST[:PORT]"]` table (`ca`,
//! `client_cert`, `client_key`, `insecure`, `plain_http`), which the mirror's upstreams use too.
//! A failed handshake becomes one clear error that names the registry, the failing check and
//! where the CA (or the client certificate) goes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_DOCKER_CERTS_DIR: &str = "/etc/docker/certs.d";

/// `[registries."HOST[:PORT]"]` in the config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// PEM file with CA certificates trusted for this registry (next to the system roots).
    pub ca: Option<PathBuf>,
    /// PEM client certificate and its key, for registries that require one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// TLS without certificate verification (Docker's insecure-registries over https).
    #[serde(default)]
    pub insecure: bool,
    /// Plain HTTP (as `insecure_registries`).
    #[serde(default)]
    pub plain_http: bool,
}

/// Where each registry's TLS settings come from.
#[derive(Debug, Clone, Default)]
pub struct RegistryHosts {
    pub entries: BTreeMap<String, RegistryEntry>,
    /// Docker's certs.d root; `None`: not read.
    pub docker_certs_dir: Option<PathBuf>,
}

/// What one registry's TLS connection needs beyond the system roots.
#[derive(Clone, Default)]
pub struct HostTls {
    /// PEM CA certificates, with the files they came from.
    pub cas: Vec<(PathBuf, Vec<u8>)>,
    /// Client certificate chain and key, PEM, with the certificate's file.
    pub identity: Option<(PathBuf, Vec<u8>, Vec<u8>)>,
    pub insecure: bool,
}

impl HostTls {
    pub fn is_default(&self) -> bool {
        self.cas.is_empty() && self.identity.is_none() && !self.insecure
    }
}

impl RegistryHosts {
    /// From the config: its `[registries]` and `docker_certs_dir` (default
    /// /etc/docker/certs.d; an empty path: certs.d not read).
    pub fn from_config(cfg: &crate::config::Config) -> RegistryHosts {
        let dir = match &cfg.docker_certs_dir {
            Some(d) if d.as_os_str().is_empty() => None,
            Some(d) => Some(d.clone()),
            None => Some(PathBuf::from(DEFAULT_DOCKER_CERTS_DIR)),
        };
        RegistryHosts::new(cfg.registries.clone(), dir)
    }

    pub fn new(
        entries: BTreeMap<String, RegistryEntry>,
        docker_certs_dir: Option<PathBuf>,
    ) -> Self {
        RegistryHosts {
            entries,
            docker_certs_dir,
        }
    }

    fn entry(&self, host: &str) -> Option<&RegistryEntry> {
        self.entries.get(host).or_else(|| {
            self.entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(host))
                .map(|(_, v)| v)
        })
    }

    /// Every `[registries]` entry's files, read and built now (the daemon refuses to start on
    /// a problem instead of denying every pull from that registry later).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for host in self.entries.keys() {
            match self.tls_for(host) {
                Ok(t) if t.is_default() => {}
                Ok(t) => {
                    if let Err(e) = connector(host, &t, false) {
                        out.push(e);
                    }
                }
                Err(e) => out.push(e),
            }
        }
        out
    }

    /// Whether `host` is reached over plain HTTP per its `[registries]` entry.
    pub fn plain_http(&self, host: &str) -> bool {
        self.entry(host).is_some_and(|e| e.plain_http)
    }

    /// The TLS settings for `host` (`host[:port]` as in the image reference): certs.d first
    /// (as dockerd), then the config entry (its CA added, its client pair preferred).
    pub fn tls_for(&self, host: &str) -> Result<HostTls, String> {
        let mut t = HostTls::default();
        if let Some(root) = &self.docker_certs_dir {
            read_certs_directory(&root.join(clean_host(host)), &mut t)?;
        }
        if let Some(e) = self.entry(host) {
            let what = format!("[registries.\"{host}\"]");
            if let Some(ca) = &e.ca {
                t.cas.push((ca.clone(), read(ca, &format!("{what} ca"))?));
            }
            match (&e.client_cert, &e.client_key) {
                (Some(c), Some(k)) => {
                    let cert = read(c, &format!("{what} client_cert"))?;
                    let key = read(k, &format!("{what} client_key"))?;
                    t.identity = Some((c.clone(), cert, key));
                }
                (None, None) => {}
                _ => return Err(format!("{what}: client_cert and client_key go together")),
            }
            t.insecure = e.insecure;
        }
        Ok(t)
    }

    /// The hint in a TLS error: where this registry's CA goes.
    fn ca_hint(&self, host: &str) -> String {
        let dir = self.certs_dir_for(host);
        format!(
            "put the registry's CA certificate in {dir}/ca.crt or name it as `ca` in [registries.\"{host}\"] of the pullguard config"
        )
    }

    fn client_hint(&self, host: &str) -> String {
        let dir = self.certs_dir_for(host);
        format!(
            "put a client certificate and key in {dir}/client.cert and {dir}/client.key or name them as `client_cert` and `client_key` in [registries.\"{host}\"] of the pullguard config"
        )
    }

    fn certs_dir_for(&self, host: &str) -> String {
        let root = self
            .docker_certs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DOCKER_CERTS_DIR));
        root.join(clean_host(host)).display().to_string()
    }

    /// Turn a raw OpenSSL handshake error for `host` into one clear sentence, or `None` when
    /// the error is not about TLS.
    pub fn explain(&self, host: &str, raw: &str) -> Option<String> {
        let lower = raw.to_ascii_lowercase();
        let verify = "certificate verify failed";
        if let Some(at) = lower.find(verify) {
            // native-tls appends the X509 verify result in parentheses.
            let reason = raw[at..]
                .find(" (")
                .and_then(|i| {
                    let s = &raw[at + i + 2..];
                    s.find(')').map(|j| s[..j].to_string())
                })
                .unwrap_or_else(|| verify.to_string());
            let hint =
                if reason.contains("hostname mismatch") || reason.contains("IP address mismatch") {
                    format!("the certificate does not name {}", host_only(host))
                } else if reason.contains("expired") || reason.contains("not yet valid") {
                    "check the registry's certificate dates and the clock".to_string()
                } else {
                    self.ca_hint(host)
                };
            return Some(format!(
                "TLS: the certificate of registry {host} did not verify ({reason}); {hint}"
            ));
        }
        let client = [
            "certificate required",
            "alert bad certificate",
            "alert unknown ca",
            "alert certificate unknown",
        ];
        if let Some(what) = client.iter().find(|c| lower.contains(*c)) {
            return Some(format!(
                "TLS: registry {host} refused the connection ({what}): it requires a client certificate it trusts; {}",
                self.client_hint(host)
            ));
        }
        // Any other OpenSSL failure: its reason once, not the doubled raw chain. A plain-HTTP
        // answer ("wrong version number") keeps its own message (the CLI rewrites it).
        if let Some(at) = raw.find("SSL routines:")
            && !lower.contains("wrong version number")
            && !lower.contains("packet length too long")
        {
            let reason = raw[at + "SSL routines:".len()..]
                .split(':')
                .nth(1)
                .unwrap_or("")
                .to_string();
            let hint = if reason.contains("handshake failure") {
                format!(
                    " (no common protocol or cipher, or the registry wants a client certificate: {})",
                    self.client_hint(host)
                )
            } else {
                String::new()
            };
            return Some(format!(
                "TLS handshake with registry {host} failed ({reason}){hint}"
            ));
        }
        None
    }
}

/// `host:port` as a directory name (moby `cleanPath`: no `..` or separators).
fn clean_host(host: &str) -> String {
    host.replace(['/', '\\'], "_").replace("..", "_")
}

fn host_only(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))
}

/// moby `registry.ReadCertsDirectory`: a missing directory is fine; `*.crt` CAs; `*.cert` with
/// its `*.key`; a `.cert` without `.key` or a `.key` without `.cert` is an error.
fn read_certs_directory(dir: &Path, t: &mut HostTls) -> Result<(), String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort(); // os.ReadDir sorts by name
    let has = |n: &str| names.iter().any(|x| x == n);
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".crt") {
            t.cas.push((path.clone(), read(&path, "certs.d CA")?));
        }
        if let Some(stem) = name.strip_suffix(".cert") {
            let key = format!("{stem}.key");
            if !has(&key) {
                return Err(format!(
                    "missing key {key} for client certificate {name} in {}. CA certificates must use the extension .crt",
                    dir.display()
                ));
            }
            // The first pair is the one a server's request is answered with (Go picks the
            // first certificate that suits the server's CA list; pullguard sends the first).
            if t.identity.is_none() {
                let cert = read(&path, "certs.d client certificate")?;
                let k = read(&dir.join(&key), "certs.d client key")?;
                t.identity = Some((path.clone(), cert, k));
            }
        }
        if let Some(stem) = name.strip_suffix(".key") {
            let cert = format!("{stem}.cert");
            if !has(&cert) {
                return Err(format!(
                    "missing client certificate {cert} for key {name} in {}",
                    dir.display()
                ));
            }
        }
    }
    Ok(())
}

/// The TLS context for one registry: system roots plus its CAs, its client identity; h2
/// offered by ALPN when `http2`.
pub fn connector(host: &str, t: &HostTls, http2: bool) -> Result<openssl::ssl::SslContext, String> {
    let setup =
        |e: openssl::error::ErrorStack| format!("cannot set up TLS for registry {host}: {e}");
    let mut b = crate::https::context_builder(http2).map_err(setup)?;
    for (path, pem) in &t.cas {
        let certs = openssl::x509::X509::stack_from_pem(pem).map_err(|e| {
            format!(
                "registry {host}: CA file {}: not PEM certificates: {e}",
                path.display()
            )
        })?;
        if certs.is_empty() {
            return Err(format!(
                "registry {host}: CA file {} holds no certificate",
                path.display()
            ));
        }
        for c in certs {
            b.cert_store_mut().add_cert(c).map_err(setup)?;
        }
    }
    if let Some((path, cert, key)) = &t.identity {
        // Docker's keys are PKCS#8, PKCS#1 ("RSA PRIVATE KEY") or SEC1; the certificate file
        // may carry its chain after it.
        let bad = |e: &dyn std::fmt::Display| {
            format!("registry {host}: client key for {}: {e}", path.display())
        };
        let bad_cert = |e: &dyn std::fmt::Display| {
            format!(
                "registry {host}: client certificate {}: {e}",
                path.display()
            )
        };
        let pkey = openssl::pkey::PKey::private_key_from_pem(key).map_err(|e| bad(&e))?;
        let mut chain = openssl::x509::X509::stack_from_pem(cert)
            .map_err(|e| bad_cert(&e))?
            .into_iter();
        let leaf = chain
            .next()
            .ok_or_else(|| bad_cert(&"no certificate in the file"))?;
        b.set_certificate(&leaf).map_err(|e| bad_cert(&e))?;
        for c in chain {
            b.add_extra_chain_cert(c).map_err(|e| bad_cert(&e))?;
        }
        b.set_private_key(&pkey).map_err(|e| bad(&e))?;
        b.check_private_key().map_err(|e| bad(&e))?;
    }
    if t.insecure {
        b.set_verify(openssl::ssl::SslVerifyMode::NONE);
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certs_directory_as_dockerd_reads_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("reg.example:5443");
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = RegistryHosts::new(BTreeMap::new(), Some(root.path().into()));
        assert!(hosts.tls_for("reg.example:5443").unwrap().is_default());
        assert!(hosts.tls_for("other:1").unwrap().is_default());
        std::fs::write(dir.join("ca.crt"), "x").unwrap();
        std::fs::write(dir.join("b.crt"), "y").unwrap();
        std::fs::write(dir.join("ca.pem"), "ignored").unwrap();
        let t = hosts.tls_for("reg.example:5443").unwrap();
        assert_eq!(t.cas.len(), 2);
        assert!(t.identity.is_none());
        std::fs::write(dir.join("client.cert"), "c").unwrap();
        let e = hosts.tls_for("reg.example:5443").err().unwrap();
        assert!(
            e.contains("missing key client.key for client certificate client.cert"),
            "{e}"
        );
        std::fs::write(dir.join("client.key"), "k").unwrap();
        let t = hosts.tls_for("reg.example:5443").unwrap();
        assert_eq!(
            t.identity.as_ref().map(|i| i.1.clone()),
            Some(b"c".to_vec())
        );
        std::fs::write(dir.join("lone.key"), "k").unwrap();
        let e = hosts.tls_for("reg.example:5443").err().unwrap();
        assert!(
            e.contains("missing client certificate lone.cert for key lone.key"),
            "{e}"
        );
    }

    #[test]
    fn explains_openssl_errors() {
        let hosts = RegistryHosts::new(BTreeMap::new(), Some("/d".into()));
        let raw = "client error (Connect): error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889: (unable to get local issuer certificate): error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:";
        let e = hosts.explain("r:5443", raw).unwrap();
        assert_eq!(
            e,
            "TLS: the certificate of registry r:5443 did not verify (unable to get local issuer certificate); put the registry's CA certificate in /d/r:5443/ca.crt or name it as `ca` in [registries.\"r:5443\"] of the pullguard config"
        );
        let e = hosts
            .explain(
                "r:5443",
                "error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:x",
            )
            .unwrap();
        assert!(
            e.contains("(certificate required): it requires a client certificate"),
            "{e}"
        );
        assert!(e.contains("/d/r:5443/client.cert"), "{e}");
        assert_eq!(hosts.explain("r", "connection refused"), None);
        let raw = "client error (Connect): error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1584:SSL alert number 40: error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:x";
        let e = hosts.explain("r:1", raw).unwrap();
        assert!(
            e.starts_with(
                "TLS handshake with registry r:1 failed (sslv3 alert handshake failure) (no common"
            ),
            "{e}"
        );
        assert!(!e.contains("error:0A"), "{e}");
        let plain = "client error (Connect): error:0A00010B:SSL routines:ssl3_get_record:wrong version number:x";
        assert_eq!(hosts.explain("r:1", plain), None);
    }
}
