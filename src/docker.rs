//! The Docker Engine API proxy: a Unix socket in front of the real `docker.sock`. Everything is
//! passed through byte for byte (streams flushed as they come, repeated headers kept, `Upgrade:
//! tcp` hijacks spliced both ways with half-close, no idle timeouts), except the calls that can
//! bring an image onto the host: pulls are verified and pinned to the verified digest, container
//! creation needs a verifying RepoDigest, and the other ways in are switched off by default.

use std::convert::Infallible;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

use crate::auth;
use crate::config::DockerSection;
use crate::engine::Engine;
use crate::http::{pct_encode, query_pairs};
use crate::oci::ImageRef;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

pub struct DockerProxy {
    engine: Arc<Engine>,
    upstream: PathBuf,
    /// The `[docker]` config: which other ways of bringing images in are allowed.
    switches: DockerSection,
    /// Demand a signature on the platform manifest of a multi-arch index too.
    pub require_platform_signature: bool,
    /// Requests in flight, for draining on shutdown.
    pub in_flight: AtomicUsize,
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|e| match e {}).boxed()
}

/// A Docker API error: exactly `application/json` so the CLI prints the message.
fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn deny(message: &str) -> Response<Body> {
    error_response(StatusCode::FORBIDDEN, &format!("pullguard: {message}"))
}

/// Percent-decode a request path as Go does for `r.URL.Path` ('+' stays '+'); `None` when an
/// escape is malformed or the result is not UTF-8.
fn decode_path(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `/v1.41/images/create` → ("/v1.41", "/images/create").
fn split_version(path: &str) -> (&str, &str) {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.')
        && i > 0
    {
        return (&path[..i + 2], &path[i + 2..]);
    }
    ("", path)
}

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a pull asks for: the name as the client wrote it, and a tag or digest (or neither).
struct PullTarget {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn pull_target(from_image: &str, tag: Option<&str>) -> PullTarget {
    // A trailing ':' is stripped, like the daemon does (old `pull -a` quirk).
    let from = from_image.strip_suffix(':').unwrap_or(from_image);
    let (rest, digest) = match from.rsplit_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (from, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, from_tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
        None => (rest, None),
    };
    let mut t = PullTarget {
        name: name.to_string(),
        tag: from_tag,
        digest,
    };
    if t.digest.is_none()
        && let Some(tag) = tag.filter(|s| !s.is_empty())
    {
        if tag.contains(':') {
            t.digest = Some(tag.to_string());
            t.tag = None;
        } else {
            t.tag = Some(tag.to_string());
        }
    }
    t
}

impl DockerProxy {
    pub fn new(engine: Arc<Engine>, upstream: PathBuf, switches: DockerSection) -> DockerProxy {
        DockerProxy {
            engine,
            upstream,
            switches,
            require_platform_signature: false,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Serve connections until `shutdown` turns true; then stop accepting.
    pub async fn serve(
        self: Arc<Self>,
        listener: UnixListener,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            let stream = tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "docker socket accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.changed() => break,
            };
            let proxy = self.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, Infallible>(proxy.handle(req).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await
                {
                    tracing::debug!(error = %e, "docker client connection ended");
                }
            });
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let r = self.route(req).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    }

    async fn route(&self, req: Request<Incoming>) -> Response<Body> {
        // dockerd routes on the percent-decoded path (Go's r.URL.Path): so must the guard, or
        // `/images/%63reate` would pass unseen. A path that does not decode is refused.
        let Some(path) = decode_path(req.uri().path()) else {
            drain(req.into_body()).await;
            return deny("malformed percent-encoding in the request path");
        };
        let (_, p) = split_version(&path);
        if req.method() != Method::POST {
            return self
                .forward(req.map(|b| b.map_err(BoxError::from).boxed()))
                .await;
        }
        let s = &self.switches;
        let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
        let refusal = match parts.as_slice() {
            ["images", "create"] => return self.pull(req).await,
            ["containers", "create"] => return self.create_container(req).await,
            ["images", "load"] if !s.allow_load => {
                "image load is disabled: loaded images carry no verifiable signature (set docker.allow_load = true to allow)"
            }
            // BuildKit reaches the daemon through /session and /grpc (h2c upgrades) too.
            ["build"] | ["session"] | ["grpc"] if !s.allow_build => {
                "image build is disabled: base images are pulled inside the daemon where pullguard cannot verify them (set docker.allow_build = true to allow)"
            }
            // Plugin names may contain '/': dockerd's route is /plugins/{name:.*}/upgrade.
            ["plugins", "pull"] | ["plugins", "create"] | ["plugins", .., "upgrade"]
                if !s.allow_plugins =>
            {
                "plugin install is disabled (set docker.allow_plugins = true to allow)"
            }
            ["services", "create"] | ["services", _, "update"] if !s.allow_services => {
                "swarm services are disabled: nodes pull service images without pullguard (set docker.allow_services = true to allow)"
            }
            _ => {
                return self
                    .forward(req.map(|b| b.map_err(BoxError::from).boxed()))
                    .await;
            }
        };
        drain(req.into_body()).await;
        deny(refusal)
    }

    /// Send a request to the real daemon over a fresh Unix connection (with upgrades).
    async fn upstream(&self, req: Request<Body>) -> Result<Response<Incoming>, String> {
        let stream = UnixStream::connect(&self.upstream).await.map_err(|e| {
            format!(
                "cannot reach the Docker daemon at {}: {e}",
                self.upstream.display()
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

    async fn forward(&self, mut req: Request<Body>) -> Response<Body> {
        let client_upgrade = req
            .headers()
            .contains_key(UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let mut resp = match self.upstream(req).await {
            Ok(r) => r,
            Err(e) => return error_response(StatusCode::BAD_GATEWAY, &format!("pullguard: {e}")),
        };
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((client, upstream)) => {
                        let mut client = TokioIo::new(client);
                        let mut upstream = TokioIo::new(upstream);
                        if let Err(e) =
                            tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                        {
                            tracing::debug!(error = %e, "hijacked stream ended");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            });
        }
        resp.map(|b| b.map_err(BoxError::from).boxed())
    }

    async fn pull(&self, req: Request<Incoming>) -> Response<Body> {
        let query = query_pairs(req.uri().query());
        let get = |k: &str| {
            query
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        // dockerd reads these parameters from a form-encoded body before the query (Go's
        // r.Form): a body could swap the image after verification. No Docker client sends one.
        let form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if form {
            drain(req.into_body()).await;
            return deny("a form-encoded body on /images/create is not accepted");
        }
        // dockerd pulls whenever fromImage is set and imports only otherwise.
        let pulling = get("fromImage").is_some_and(|s| !s.is_empty());
        if !pulling && get("fromSrc").is_some() {
            if !self.switches.allow_import {
                drain(req.into_body()).await;
                return deny(
                    "image import (fromSrc) is disabled: imported images carry no verifiable signature (set docker.allow_import = true to allow)",
                );
            }
            return self
                .forward(req.map(|b| b.map_err(BoxError::from).boxed()))
                .await;
        }
        let Some(from_image) = get("fromImage").filter(|s| !s.is_empty()) else {
            return deny("pull request without fromImage");
        };
        let target = pull_target(from_image, get("tag"));
        let creds = req
            .headers()
            .get("x-registry-auth")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| auth::from_x_registry_auth(h).ok().flatten());

        if target.tag.is_none() && target.digest.is_none() {
            // "All tags": allowed only where the policy skips verification.
            let image = match ImageRef::parse(&target.name) {
                Ok(i) => i,
                Err(e) => return deny(&e),
            };
            let snap = self.engine.snapshot();
            let probe = format!("{}@sha256:{}", image.scope(), "0".repeat(64));
            let skip = snap
                .trust
                .policy
                .statement_for(&probe)
                .map(|s| s.level.is_skip())
                .unwrap_or(false);
            if !skip {
                return deny(&format!(
                    "pulling all tags of {} is denied: each tag must be verified; pull one tag or digest",
                    image.scope()
                ));
            }
            let (parts, _) = req.into_parts();
            return self.forward(without_body(parts)).await;
        }

        let reference = match (&target.digest, &target.tag) {
            (Some(d), _) => format!("{}@{d}", target.name),
            (None, Some(t)) => format!("{}:{t}", target.name),
            (None, None) => target.name.clone(),
        };
        let image = match ImageRef::parse(&reference) {
            Ok(i) => i,
            Err(e) => return deny(&e),
        };
        let outcome = if self.require_platform_signature {
            let platform = get("platform");
            self.engine
                .check_with_platform(&image, platform, creds, "docker")
                .await
        } else {
            self.engine.check(&image, creds, "docker").await
        };
        if !outcome.allowed {
            return deny(&outcome.summary());
        }
        let Some(digest) = outcome.digest().map(str::to_owned) else {
            return deny(&format!(
                "{reference}: verified without a digest (internal error)"
            ));
        };
        // Pull exactly the verified digest.
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "fromImage" | "tag" | "fromSrc"))
            .cloned()
            .collect();
        pairs.insert(0, ("tag".into(), digest.clone()));
        pairs.insert(0, ("fromImage".into(), target.name.clone()));
        let (mut parts, _) = req.into_parts();
        let pq = format!("{}?{}", parts.uri.path(), encode_query(&pairs));
        parts.uri = match pq.parse() {
            Ok(u) => u,
            Err(e) => return deny(&format!("cannot rewrite the pull request: {e}")),
        };
        let version = split_version(parts.uri.path()).0.to_string();
        let resp = self.forward(without_body(parts)).await;
        if !resp.status().is_success() {
            return resp;
        }
        let retag = target
            .tag
            .clone()
            .filter(|_| target.digest.is_none())
            .map(|tag| {
                (
                    format!("{}@{digest}", target.name),
                    target.name.clone(),
                    tag,
                )
            });
        self.stream_then_tag(resp, version, retag)
    }

    /// Pass the pull's progress stream through as it comes; when it ends without an error,
    /// restore the tag the user asked for (the pull itself was by digest).
    fn stream_then_tag(
        &self,
        resp: Response<Body>,
        version: String,
        retag: Option<(String, String, String)>,
    ) -> Response<Body> {
        let (parts, mut body) = resp.into_parts();
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(32);
        let upstream = self.upstream.clone();
        tokio::spawn(async move {
            let mut saw_error = false;
            let mut carry: Vec<u8> = Vec::new();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Some(d) = f.data_ref() {
                            carry.extend_from_slice(d);
                            if contains(&carry, b"\"errorDetail\"") {
                                saw_error = true;
                            }
                            let keep = carry.len().saturating_sub(16);
                            carry.drain(..keep);
                        }
                        if tx.send(Ok(f)).await.is_err() {
                            // Client gone: dropping the upstream body closes the connection,
                            // and the daemon cancels the pull.
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if saw_error {
                return;
            }
            if let Some((source, repo, tag)) = retag
                && let Err(e) = tag_image(&upstream, &version, &source, &repo, &tag).await
            {
                let line = serde_json::json!({
                    "errorDetail": {"message": format!("pullguard: pulled {source} but could not tag it {repo}:{tag}: {e}")},
                    "error": format!("pullguard: pulled {source} but could not tag it {repo}:{tag}: {e}"),
                });
                let _ = tx
                    .send(Ok(Frame::data(Bytes::from(format!("{line}\r\n")))))
                    .await;
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Response::from_parts(parts, BodyExt::boxed(StreamBody::new(stream)))
    }

    async fn create_container(&self, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, 8 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    &format!("pullguard: cannot read the request body: {e}"),
                );
            }
        };
        let image = match create_image(&bytes) {
            Ok(i) => i,
            Err(why) => return deny(&format!("container create refused: {why}")),
        };
        let forward = |bytes: Bytes| Request::from_parts(parts.clone(), full(bytes));
        let Some(image) = image.filter(|i| !i.is_empty()) else {
            // No image: the daemon rejects the request itself.
            return self.forward(forward(bytes)).await;
        };
        let version = split_version(parts.uri.path()).0.to_string();
        let verified_id = match self.verified_local_image(&version, &image).await {
            // The daemon answers 404 and the CLI pulls through us; checked below all the same.
            LocalImage::Missing => None,
            LocalImage::Verified(id) => Some(id),
            LocalImage::Denied(why) => {
                return deny(&format!("container from image {image:?} denied: {why}"));
            }
        };
        let resp = self.forward(forward(bytes)).await;
        if resp.status() != StatusCode::CREATED {
            return resp;
        }
        // The name was resolved twice (by us, then by dockerd): make sure the container got the
        // image that was verified, or remove it.
        let (rparts, rbody) = resp.into_parts();
        let rbytes = match read_small(rbody, 1 << 20).await {
            Ok(b) => b,
            Err(e) => return error_response(StatusCode::BAD_GATEWAY, &format!("pullguard: {e}")),
        };
        let created = serde_json::from_slice::<serde_json::Value>(&rbytes)
            .ok()
            .and_then(|v| v.get("Id").and_then(|i| i.as_str()).map(str::to_owned));
        let Some(container) = created else {
            return deny("the daemon's create answer names no container");
        };
        let got = self.container_image(&version, &container).await;
        let ok = match (got, verified_id) {
            (Some(g), Some(v)) => g == v,
            (Some(g), None) => match self.verified_local_image(&version, &g).await {
                LocalImage::Verified(i) => i == g,
                _ => false,
            },
            (None, _) => false,
        };
        if !ok {
            self.remove_container(&version, &container).await;
            return deny(&format!(
                "container from image {image:?} denied: the image changed between verification and create"
            ));
        }
        Response::from_parts(rparts, full(rbytes))
    }

    /// The image ID a container was created from.
    async fn container_image(&self, version: &str, id: &str) -> Option<String> {
        let req = Request::get(format!("{version}/containers/{}/json", pct_encode(id)))
            .header("host", "docker")
            .body(full(Bytes::new()))
            .ok()?;
        let resp = self.upstream(req).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let body = Limited::new(resp.into_body(), 16 << 20)
            .collect()
            .await
            .ok()?
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
        v.get("Image")?.as_str().map(str::to_owned)
    }

    async fn remove_container(&self, version: &str, id: &str) {
        let req = Request::delete(format!("{version}/containers/{}?force=1", pct_encode(id)))
            .header("host", "docker")
            .body(full(Bytes::new()));
        if let Ok(req) = req
            && let Err(e) = self.upstream(req).await
        {
            tracing::error!(container = %id, error = %e, "could not remove a container created from an unverified image");
        }
    }

    /// Does a local image have a RepoDigest that verifies now?
    async fn verified_local_image(&self, version: &str, image: &str) -> LocalImage {
        let uri = format!("{version}/images/{}/json", pct_encode_path(image));
        let req = match Request::get(uri)
            .header("host", "docker")
            .body(full(Bytes::new()))
        {
            Ok(r) => r,
            Err(e) => return LocalImage::Denied(format!("bad image name: {e}")),
        };
        let resp = match self.upstream(req).await {
            Ok(r) => r,
            Err(e) => return LocalImage::Denied(e),
        };
        if resp.status() == StatusCode::NOT_FOUND {
            return LocalImage::Missing;
        }
        if !resp.status().is_success() {
            return LocalImage::Denied(format!("image inspect answered {}", resp.status()));
        }
        let body = match Limited::new(resp.into_body(), 16 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return LocalImage::Denied(format!("image inspect failed: {e}")),
        };
        let inspect = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
        let Some(id) = inspect
            .get("Id")
            .and_then(|i| i.as_str())
            .map(str::to_owned)
        else {
            return LocalImage::Denied("image inspect named no image ID".into());
        };
        let digests: Vec<String> = inspect
            .get("RepoDigests")
            .and_then(|d| d.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if digests.is_empty() {
            return LocalImage::Denied(
                "it has no registry digest (built or loaded locally), so no signature can be verified".into(),
            );
        }
        let mut reasons = Vec::new();
        for d in digests {
            let Ok(r) = ImageRef::parse(&d) else {
                continue;
            };
            let o = self.engine.check(&r, None, "docker-create").await;
            if o.allowed {
                return LocalImage::Verified(id);
            }
            reasons.push(o.summary());
        }
        LocalImage::Denied(format!("no RepoDigest verifies: {}", reasons.join("; ")))
    }
}

/// The `Image` of a `containers/create` body, read the way dockerd's Go decoder reads it (first
/// JSON value, trailing bytes ignored, keys matched case-insensitively). Anything pullguard
/// cannot read unambiguously is refused rather than forwarded unchecked.
fn create_image(body: &[u8]) -> Result<Option<String>, String> {
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    let value = match values.next() {
        None => return Ok(None),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(format!("the body is not JSON pullguard can read: {e}")),
    };
    let serde_json::Value::Object(map) = value else {
        return Err("the body is not a JSON object".into());
    };
    let mut found = map
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("image"))
        .map(|(_, v)| v);
    let (Some(v), None) = (found.next(), found.next()) else {
        return match map
            .keys()
            .filter(|k| k.eq_ignore_ascii_case("image"))
            .count()
        {
            0 => Ok(None),
            _ => Err("the body names the image more than once".into()),
        };
    };
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        _ => Err("Image is not a string".into()),
    }
}

enum LocalImage {
    Missing,
    /// The image ID whose RepoDigest verified.
    Verified(String),
    Denied(String),
}

/// Read a small body whole (at most `max` bytes).
async fn read_small(mut body: Body, max: usize) -> Result<Bytes, String> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the daemon's answer failed: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err("the daemon's answer is too large".into());
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

/// A pull is forwarded without any body: nothing the client sent besides the verified query
/// reaches dockerd.
fn without_body(mut parts: hyper::http::request::Parts) -> Request<Body> {
    for h in [
        CONTENT_TYPE,
        hyper::header::CONTENT_LENGTH,
        hyper::header::TRANSFER_ENCODING,
    ] {
        parts.headers.remove(h);
    }
    Request::from_parts(parts, full(Bytes::new()))
}

/// Read (and drop) a little of a refused request's body, so the client sees the answer rather
/// than a reset from a connection closed under its upload.
async fn drain(body: Incoming) {
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        Limited::new(body, 1 << 20).collect(),
    )
    .await;
}

fn pct_encode_path(s: &str) -> String {
    s.split('/').map(pct_encode).collect::<Vec<_>>().join("/")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `POST /images/{source}/tag?repo=&tag=` on the real daemon.
async fn tag_image(
    upstream: &Path,
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
    let stream = UnixStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::post(uri)
        .header("host", "docker")
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body).trim()
        ))
    }
}

/// Socket ownership and mode for the proxy socket.
#[derive(Debug, Clone, Default)]
pub struct SocketPerms {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Bind a Unix socket, removing a stale one (only if it is a socket), and set its owner and
/// mode: by default those of the upstream `docker.sock`.
pub fn bind_socket(
    path: &Path,
    perms: &SocketPerms,
    like: Option<&Path>,
) -> Result<UnixListener, String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)
                .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
        } else {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let listener =
        UnixListener::bind(path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
    let like_meta = like.and_then(|p| std::fs::metadata(p).ok());
    let mode = perms
        .mode
        .or(like_meta.as_ref().map(|m| m.mode() & 0o777))
        .unwrap_or(0o660);
    let uid = perms.uid.or(like_meta.as_ref().map(|m| m.uid()));
    let gid = perms.gid.or(like_meta.as_ref().map(|m| m.gid()));
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid)
            .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pct_decode;

    #[test]
    fn create_bodies_are_read_like_dockerd() {
        assert_eq!(create_image(br#"{"Image":"a:1"}"#), Ok(Some("a:1".into())));
        assert_eq!(create_image(br#"{"image":"a:1"}"#), Ok(Some("a:1".into())));
        assert_eq!(
            create_image(br#"{"Image":"a:1"} trailing"#),
            Ok(Some("a:1".into()))
        );
        assert_eq!(create_image(br#"{"Cmd":["x"]}"#), Ok(None));
        assert_eq!(create_image(b""), Ok(None));
        assert!(create_image(br#"{"Image":"a","image":"b"}"#).is_err());
        assert!(create_image(b"{\"Image\":\"a\xff\"}").is_err());
        assert!(create_image(br#"{"Image":1}"#).is_err());
        assert!(create_image(br#"["Image"]"#).is_err());
    }

    #[test]
    fn paths_decode_like_go() {
        assert_eq!(
            decode_path("/v1.41/images/%63reate").as_deref(),
            Some("/v1.41/images/create")
        );
        assert_eq!(decode_path("/a%2Fb+c").as_deref(), Some("/a/b+c"));
        assert_eq!(decode_path("/bad%zz"), None);
        assert_eq!(decode_path("/bad%2"), None);
    }

    #[test]
    fn versions_split() {
        assert_eq!(
            split_version("/v1.41/images/create"),
            ("/v1.41", "/images/create")
        );
        assert_eq!(split_version("/_ping"), ("", "/_ping"));
        assert_eq!(split_version("/volumes/x"), ("", "/volumes/x"));
    }

    #[test]
    fn pull_targets() {
        let t = pull_target("127.0.0.1:5000/test/img", Some("1"));
        assert_eq!(
            (t.name.as_str(), t.tag.as_deref(), t.digest.as_deref()),
            ("127.0.0.1:5000/test/img", Some("1"), None)
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let t = pull_target("busybox", Some(&d));
        assert_eq!((t.tag, t.digest.as_deref()), (None, Some(d.as_str())));
        let t = pull_target(&format!("x/y@{d}"), Some("ignored"));
        assert_eq!(
            (t.name.as_str(), t.digest.as_deref()),
            ("x/y", Some(d.as_str()))
        );
        let t = pull_target("x/y:", None);
        assert_eq!((t.name.as_str(), t.tag, t.digest), ("x/y", None, None));
        let t = pull_target("localhost:5000/y:2", None);
        assert_eq!(
            (t.name.as_str(), t.tag.as_deref()),
            ("localhost:5000/y", Some("2"))
        );
    }

    #[test]
    fn queries_roundtrip() {
        let q = query_pairs(Some(
            "fromImage=127.0.0.1%3A5000%2Ftest%2Fimg&tag=1&platform=linux%2Famd64",
        ));
        assert_eq!(q[0], ("fromImage".into(), "127.0.0.1:5000/test/img".into()));
        assert_eq!(q[2].1, "linux/amd64");
        assert_eq!(query_pairs(Some(&encode_query(&q))), q);
        assert_eq!(pct_decode("%zz%4"), "%zz%4");
    }
}
