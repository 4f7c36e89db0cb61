//! A small client of the real Docker daemon, for the questions the guard asks it: what an image
//! or a container is, and the clean-up and re-tag calls it makes. One fresh Unix connection per
//! call (dockerd's API is cheap to connect to; nothing is shared between callers).

use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use super::Body;
use super::route::pct_encode_path;
use crate::http::pct_encode;

/// Inspect answers are read up to this size.
const MAX_INSPECT: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct Dockerd {
    pub socket: PathBuf,
}

/// What the daemon knows of an image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// `sha256:<config digest>`.
    pub id: String,
    pub repo_digests: Vec<String>,
    pub repo_tags: Vec<String>,
    /// `os/architecture[/variant]` as the image config has it.
    pub platform: String,
}

/// What the daemon knows of a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    /// The full container ID.
    pub id: String,
    /// The image ID the container was created from (empty for a container with no image).
    pub image: String,
    /// The sources of its image mounts (`HostConfig.Mounts[]` of `Type` `image`).
    pub image_mounts: Vec<String>,
    /// Its mount points of `Type` `image` (`Mounts[]`: its own and those `--volumes-from` took
    /// over).
    pub image_mount_points: usize,
}

impl Dockerd {
    pub fn new(socket: PathBuf) -> Dockerd {
        Dockerd { socket }
    }

    /// Send one request over a fresh connection (upgrades are kept working).
    pub async fn send(&self, req: Request<Body>) -> Result<Response<Incoming>, String> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            format!(
                "cannot reach the Docker daemon at {}: {e}",
                self.socket.display()
            )
        })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("Docker daemon handshake failed: {e}"))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "docker upstream connection ended");
            }
        });
        sender
            .send_request(req)
            .await
            .map_err(|e| format!("Docker daemon request failed: {e}"))
    }

    async fn call(
        &self,
        method: hyper::Method,
        uri: String,
    ) -> Result<(StatusCode, Bytes), String> {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "docker")
            .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
            .map_err(|e| format!("bad request to the Docker daemon: {e}"))?;
        let resp = self.send(req).await?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_INSPECT)
            .collect()
            .await
            .map_err(|e| format!("reading the Docker daemon's answer failed: {e}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// `GET /images/{name}/json`: `None` when there is no such image.
    pub async fn image(&self, version: &str, name: &str) -> Result<Option<ImageInfo>, String> {
        let uri = format!("{version}/images/{}/json", pct_encode_path(name));
        let (status, body) = self.call(hyper::Method::GET, uri).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("image inspect answered {status}"));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("image inspect is not JSON: {e}"))?;
        let id = v
            .get("Id")
            .and_then(|i| i.as_str())
            .filter(|i| !i.is_empty())
            .ok_or("image inspect named no image ID")?
            .to_string();
        let strings = |key: &str| -> Vec<String> {
            v.get(key)
                .and_then(|d| d.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let field = |key: &str| v.get(key).and_then(|s| s.as_str()).unwrap_or("");
        let mut platform = format!("{}/{}", field("Os"), field("Architecture"));
        if !field("Variant").is_empty() {
            platform = format!("{platform}/{}", field("Variant"));
        }
        Ok(Some(ImageInfo {
            id,
            repo_digests: strings("RepoDigests"),
            repo_tags: strings("RepoTags"),
            platform,
        }))
    }

    /// `GET /containers/{name}/json`: `None` when there is no such container.
    pub async fn container(
        &self,
        version: &str,
        name: &str,
    ) -> Result<Option<ContainerInfo>, String> {
        let uri = format!("{version}/containers/{}/json", pct_encode_path(name));
        let (status, body) = self.call(hyper::Method::GET, uri).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("container inspect answered {status}"));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| format!("container inspect is not JSON: {e}"))?;
        let id = v
            .get("Id")
            .and_then(|i| i.as_str())
            .filter(|i| !i.is_empty())
            .ok_or("container inspect named no container ID")?
            .to_string();
        let image = v
            .get("Image")
            .and_then(|i| i.as_str())
            .unwrap_or("")
            .to_string();
        let image_mounts = v
            .pointer("/HostConfig/Mounts")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter(|m| m.get("Type").and_then(|t| t.as_str()) == Some("image"))
            .map(|m| {
                m.get("Source")
                    .and_then(|s| s.as_str())
                    .map(str::to_owned)
                    .ok_or("container inspect names an image mount with no source")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let image_mount_points = v
            .get("Mounts")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter(|m| m.get("Type").and_then(|t| t.as_str()) == Some("image"))
            .count();
        Ok(Some(ContainerInfo {
            id,
            image,
            image_mounts,
            image_mount_points,
        }))
    }

    /// `DELETE /containers/{id}?force=1`.
    pub async fn remove_container(&self, version: &str, id: &str) -> Result<(), String> {
        let uri = format!("{version}/containers/{}?force=1", pct_encode(id));
        let (status, body) = self.call(hyper::Method::DELETE, uri).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))
        }
    }

    /// `DELETE /images/{reference}?noprune=1`: with other references on the image, this removes
    /// only that reference (dockerd's "Untagged:").
    pub async fn untag(&self, version: &str, reference: &str) -> Result<(), String> {
        let uri = format!("{version}/images/{}?noprune=1", pct_encode_path(reference));
        let (status, body) = self.call(hyper::Method::DELETE, uri).await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))
        }
    }

    /// `POST /images/{source}/tag?repo=&tag=`.
    pub async fn tag_image(
        &self,
        version: &str,
        source: &str,
        repo: &str,
        tag: &str,
    ) -> Result<(), String> {
        let uri = format!(
            "{version}/images/{}/tag?repo={}&tag={}",
            pct_encode_path(source),
            pct_encode(repo),
            pct_encode(tag)
        );
        let (status, body) = self.call(hyper::Method::POST, uri).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body).trim()
            ))
        }
    }
}

/// dockerd's own config file, read for `insecure-registries` (`[docker] daemon_json`).
pub const DEFAULT_DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// The `insecure-registries` of dockerd's `daemon.json` at `path`: registries (`host[:port]`)
/// and CIDRs (`10.0.0.0/8`) dockerd reaches over plain HTTP. A missing file has none; a file
/// that is not a JSON object, or whose list is not strings, is an error (dockerd refuses to
/// start on it too), as is an entry with a scheme (dockerd: "should not contain '://'").
pub fn daemon_json_insecure(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let what = || format!("{} ([docker] daemon_json)", path.display());
    let v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: not valid JSON: {e}", what()))?;
    let Some(obj) = v.as_object() else {
        return Err(format!("{}: not a JSON object", what()));
    };
    let Some(list) = obj.get("insecure-registries") else {
        return Ok(vec![]);
    };
    let Some(list) = list.as_array() else {
        return Err(format!("{}: insecure-registries is not a list", what()));
    };
    let mut out = Vec::new();
    for entry in list {
        let Some(s) = entry.as_str() else {
            return Err(format!("{}: insecure-registries holds {entry}", what()));
        };
        if s.contains("://") {
            return Err(format!(
                "{}: insecure registry {s} should not contain '://'",
                what()
            ));
        }
        out.push(s.trim_end_matches('/').to_string());
    }
    Ok(out)
}

/// Is `registry` (`host[:port]`, as in a reference) reached over plain HTTP under `insecure`:
/// named exactly, or an IP address (`localhost`: the loopback ones) inside one of its CIDRs.
/// Host names are not resolved to match a CIDR.
pub fn is_insecure(insecure: &[String], registry: &str) -> bool {
    if insecure.iter().any(|h| h == registry) {
        return true;
    }
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => registry.rsplit_once(':').map_or(registry, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        }),
    };
    let ips: Vec<std::net::IpAddr> = if host == "localhost" {
        vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ]
    } else {
        host.parse().ok().into_iter().collect()
    };
    insecure
        .iter()
        .filter_map(|e| cidr(e))
        .any(|(net, bits)| ips.iter().any(|ip| in_cidr(*ip, net, bits)))
}

fn cidr(s: &str) -> Option<(std::net::IpAddr, u32)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    use std::net::IpAddr::{V4, V6};
    let (a, b, width) = match (ip, net) {
        (V4(a), V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (V6(a), V6(b)) => (u128::from(a), u128::from(b), 128),
        (V6(a), V4(b)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
            None => return false,
        },
        (V4(_), V6(_)) => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

/// A denial's reason, with the way out named when the registry is plain HTTP and was reached
/// over TLS: the OpenSSL handshake error says so ("wrong version number", "packet length too
/// long", "http request").
pub fn explain_plain_http(reason: String) -> String {
    let lower = reason.to_ascii_lowercase();
    let tls_met_http = [
        "wrong version number",
        "packet length too long",
        "http request",
    ]
    .iter()
    .any(|n| lower.contains(n));
    if tls_met_http {
        format!(
            "{reason} (the registry answers plain HTTP: list it in insecure_registries of the pullguard config, or in insecure-registries of dockerd's daemon.json, read through [docker] daemon_json)"
        )
    } else {
        reason
    }
}

#[cfg(test)]
mod insecure_tests {
    use super::*;

    #[test]
    fn names_and_cidrs() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let i = l(&["reg.example:5000", "10.0.0.0/8", "::1/128"]);
        assert!(is_insecure(&i, "reg.example:5000"));
        assert!(!is_insecure(&i, "reg.example"));
        assert!(is_insecure(&i, "10.1.2.3:5000"));
        assert!(is_insecure(&i, "10.1.2.3"));
        assert!(!is_insecure(&i, "11.1.2.3:5000"));
        assert!(is_insecure(&i, "[::1]:5000"));
        assert!(is_insecure(&i, "localhost:5000"));
        assert!(!is_insecure(&l(&["127.0.0.0/8"]), "registry.example"));
        assert!(is_insecure(&l(&["127.0.0.0/8"]), "127.0.0.1:5000"));
        assert!(is_insecure(&l(&["0.0.0.0/0"]), "192.0.2.1"));
        assert!(!is_insecure(&[], "127.0.0.1:5000"));
    }

    #[test]
    fn daemon_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.json");
        assert_eq!(daemon_json_insecure(&p).unwrap(), Vec::<String>::new());
        std::fs::write(
            &p,
            r#"{"insecure-registries": ["a:5000", "10.0.0.0/8"], "debug": true}"#,
        )
        .unwrap();
        assert_eq!(
            daemon_json_insecure(&p).unwrap(),
            vec!["a:5000", "10.0.0.0/8"]
        );
        std::fs::write(&p, r#"{"insecure-registries": ["http://a:5000"]}"#).unwrap();
        let e = daemon_json_insecure(&p).unwrap_err();
        assert!(
            e.contains("should not contain '://'") && e.contains("daemon_json"),
            "{e}"
        );
        std::fs::write(&p, "{").unwrap();
        assert!(
            daemon_json_insecure(&p)
                .unwrap_err()
                .contains("not valid JSON")
        );
        std::fs::write(&p, r#"{"insecure-registries": [1]}"#).unwrap();
        assert!(daemon_json_insecure(&p).is_err());
    }

    #[test]
    fn plain_http_hint() {
        let r = explain_plain_http(
            "registry request failed: error:0A00010B:SSL routines::wrong version number".into(),
        );
        assert!(
            r.contains("insecure-registries") && r.contains("insecure_registries"),
            "{r}"
        );
        assert_eq!(explain_plain_http("x: not found".into()), "x: not found");
    }
}
