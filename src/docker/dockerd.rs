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
}

/// What the daemon knows of a container.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    /// The full container ID.
    pub id: String,
    /// The image ID the container was created from (empty for a container with no image).
    pub image: String,
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
        let repo_digests = v
            .get("RepoDigests")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(ImageInfo { id, repo_digests }))
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
        Ok(Some(ContainerInfo { id, image }))
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
