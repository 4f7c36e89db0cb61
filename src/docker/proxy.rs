//! The Engine API proxy: a Unix socket in front of the real `docker.sock`. Everything is passed
//! through byte for byte (streams flushed as they come, repeated headers kept, `Upgrade: tcp`
//! hijacks spliced both ways with half-close, no idle timeouts), except the calls the
//! [`Guard`] decides: pulls are verified and pinned to the verified digest, creates and starts
//! need an image that verifies now, and the other ways in are switched off by default.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tokio::sync::{mpsc, watch};

use super::guard::{
    Admitted, CreateCheck, Guard, PinnedPull, PullDecision, StartAdmitted, StartCheck,
};
use super::route::{Call, classify, decode_path, encode_query, is_form, split_version};
use super::{Body, BoxError};
use crate::auth;
use crate::drain::{InFlight, Ticket};
use crate::http::query_pairs;

pub struct DockerProxy {
    guard: Arc<Guard>,
    /// Requests, pull streams and their re-tags, create checks in flight, for draining on
    /// shutdown.
    pub in_flight: InFlight,
}

pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
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

fn boxed(req: Request<Incoming>) -> Request<Body> {
    req.map(|b| b.map_err(BoxError::from).boxed())
}

impl DockerProxy {
    pub fn new(guard: Arc<Guard>) -> DockerProxy {
        DockerProxy {
            guard,
            in_flight: InFlight::default(),
        }
    }

    /// Serve connections until `shutdown` turns true; then stop accepting.
    pub async fn serve(self: Arc<Self>, listener: UnixListener, shutdown: watch::Receiver<bool>) {
        super::accept::serve(
            self,
            listener,
            shutdown,
            "docker proxy",
            |s, req| async move { s.handle(req).await },
        )
        .await
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Body> {
        // Given back however the request ends, a client hang-up included.
        let ticket = self.in_flight.ticket();
        self.route(req, ticket).await
    }

    async fn route(&self, req: Request<Incoming>, ticket: Ticket) -> Response<Body> {
        // dockerd routes on the percent-decoded path (Go's r.URL.Path): so must the guard, or
        // `/images/%63reate` would pass unseen. A path that does not decode is refused.
        let Some(path) = decode_path(req.uri().path()) else {
            drain(req.into_body()).await;
            return deny("malformed percent-encoding in the request path");
        };
        let (version, p) = split_version(&path);
        let version = version.to_string();
        let call = format!("{} {p}", req.method());
        crate::who::with_call(call, self.dispatch(req, version, p.to_string(), ticket)).await
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        version: String,
        p: String,
        ticket: Ticket,
    ) -> Response<Body> {
        let p = p.as_str();
        match classify(req.method(), p, &self.guard.switches) {
            Call::Pull => self.pull(req, version, ticket).await,
            Call::Create => self.create(req, version, ticket).await,
            Call::Start { container, verb } => self.start(req, version, &container, verb).await,
            Call::Refused(why) => {
                drain(req.into_body()).await;
                deny(why)
            }
            Call::Pass => self.forward(boxed(req)).await,
        }
    }

    async fn forward(&self, mut req: Request<Body>) -> Response<Body> {
        let client_upgrade = req
            .headers()
            .contains_key(UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let mut resp = match self.guard.dockerd.send(req).await {
            Ok(r) => r,
            Err(e) => return error_response(StatusCode::BAD_GATEWAY, &format!("pullguard: {e}")),
        };
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            // A hijacked session (attach, exec) holds no ticket: it may last for ever, and a
            // shutdown cuts it at exit rather than wait the grace period for it.
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

    async fn pull(
        &self,
        req: Request<Incoming>,
        version: String,
        ticket: Ticket,
    ) -> Response<Body> {
        let query = query_pairs(req.uri().query());
        let form = is_form(
            req.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let creds = req
            .headers()
            .get("x-registry-auth")
            .and_then(|v| v.to_str().ok())
            .and_then(|h| auth::from_x_registry_auth(h).ok().flatten());
        match self.guard.pull(&query, form, creds, "docker").await {
            PullDecision::Deny(why) => {
                drain(req.into_body()).await;
                match not_found(&query, &why) {
                    Some(message) => error_response(StatusCode::NOT_FOUND, &message),
                    None => deny(&super::dockerd::explain_plain_http(why)),
                }
            }
            PullDecision::Unavailable(why) => {
                drain(req.into_body()).await;
                let why = super::dockerd::explain_plain_http(why);
                error_response(StatusCode::BAD_GATEWAY, &format!("pullguard: {why}"))
            }
            PullDecision::Import => self.forward(boxed(req)).await,
            PullDecision::AllTags => {
                let (parts, _) = req.into_parts();
                self.forward(without_body(parts)).await
            }
            PullDecision::Pinned(pinned) => {
                // Pull exactly the verified digest.
                let mut pairs: Vec<(String, String)> = query
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "fromImage" | "tag" | "fromSrc"))
                    .cloned()
                    .collect();
                pairs.insert(0, ("tag".into(), pinned.digest().to_string()));
                pairs.insert(0, ("fromImage".into(), pinned.name.clone()));
                let platform = super::route::query_get(&query, "platform");
                if let Err(e) = self.platform_switch(&version, &pinned, platform).await {
                    return deny(&format!("cannot switch platforms: {e}"));
                }
                let (mut parts, _) = req.into_parts();
                let pq = format!("{}?{}", parts.uri.path(), encode_query(&pairs));
                parts.uri = match pq.parse() {
                    Ok(u) => u,
                    Err(e) => return deny(&format!("cannot rewrite the pull request: {e}")),
                };
                let resp = self.forward(without_body(parts)).await;
                if !resp.status().is_success() {
                    return resp;
                }
                self.stream_then_tag(resp, version, pinned, ticket)
            }
        }
    }

    /// A pull by the verified digest of an index whose other platform dockerd already holds
    /// under that digest: dockerd will not move a digest reference to another image ("Cannot
    /// overwrite digest"), where a pull by tag straight to it just re-tags. So the digest
    /// reference is taken off the other platform's image first (it keeps its other references;
    /// one that has none keeps this one, and dockerd's refusal is what the client sees), and the
    /// pull by digest then gives it to the platform pulled now.
    async fn platform_switch(
        &self,
        version: &str,
        pinned: &PinnedPull,
        platform: Option<&str>,
    ) -> Result<(), String> {
        // A single-platform manifest's digest names one image (one config, one platform):
        // nothing can be held under it for another platform, and no inspect is asked for.
        let media_type = pinned.verified().descriptor().media_type.as_str();
        if matches!(
            media_type,
            crate::oci::MEDIA_OCI_MANIFEST | crate::oci::MEDIA_DOCKER_MANIFEST
        ) {
            return Ok(());
        }
        let reference = format!("{}@{}", pinned.name, pinned.digest());
        let Some(old) = self.guard.dockerd.image(version, &reference).await? else {
            return Ok(());
        };
        if same_platform(&old.platform, platform) {
            return Ok(());
        }
        let others = (old.repo_tags.len() + old.repo_digests.len()).saturating_sub(1);
        if others == 0 {
            return Ok(());
        }
        tracing::info!(
            image = %reference,
            from = %old.platform,
            to = platform.unwrap_or("(the daemon's)"),
            "switching platforms: the digest reference moves to the platform pulled now"
        );
        self.guard.dockerd.untag(version, &reference).await
    }

    /// Pass the pull's progress stream through as it comes; when it ends without an error,
    /// restore the tag the user asked for (the pull itself was by digest). The stream and the
    /// re-tag hold `ticket`: a shutdown lets them finish within its grace period.
    fn stream_then_tag(
        &self,
        resp: Response<Body>,
        version: String,
        pinned: PinnedPull,
        ticket: Ticket,
    ) -> Response<Body> {
        let (parts, mut body) = resp.into_parts();
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(32);
        let guard = self.guard.clone();
        tokio::spawn(async move {
            let _ticket = ticket;
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
            let Some(tag) = pinned.tag.clone() else {
                return;
            };
            let source = format!("{}@{}", pinned.name, pinned.digest());
            if let Err(e) = guard
                .dockerd
                .tag_image(&version, &source, &pinned.name, &tag)
                .await
            {
                let msg = format!(
                    "pullguard: pulled {source} but could not tag it {}:{tag}: {e}",
                    pinned.name
                );
                let line = serde_json::json!({"errorDetail": {"message": msg}, "error": msg});
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

    async fn create(
        &self,
        req: Request<Incoming>,
        version: String,
        ticket: Ticket,
    ) -> Response<Body> {
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
        let check = match self.guard.create(&version, &bytes, "docker-create").await {
            Ok(c) => c,
            Err(why) => return deny(&why),
        };
        // From here on a client hang-up must not cancel anything: the create and the check
        // that the container got the verified image run in their own task.
        let guard = self.guard.clone();
        let task = tokio::spawn(async move {
            let _ticket = ticket;
            create_checked(
                &guard,
                Request::from_parts(parts, full(bytes)),
                check,
                &version,
            )
            .await
        });
        match task.await {
            Ok(r) => r,
            Err(e) => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("pullguard: the create check failed: {e}"),
            ),
        }
    }

    /// Start (or restart) only a container whose recorded image verifies now, and address it by
    /// the ID that was checked: a name can be moved to another container by a rename.
    async fn start(
        &self,
        req: Request<Incoming>,
        version: String,
        name: &str,
        verb: &str,
    ) -> Response<Body> {
        let check = self.guard.start(&version, name, "docker-start").await;
        let admitted = match check {
            Ok(StartCheck::Allowed(admitted)) => admitted,
            Ok(StartCheck::Missing) => {
                drain(req.into_body()).await;
                return error_response(
                    StatusCode::NOT_FOUND,
                    &format!("No such container: {name}"),
                );
            }
            Err(why) => {
                drain(req.into_body()).await;
                return deny(&why);
            }
        };
        self.forward_start(req, &version, verb, &admitted).await
    }

    /// Forward a start the guard admitted, addressed to the container ID it checked.
    async fn forward_start(
        &self,
        req: Request<Incoming>,
        version: &str,
        verb: &str,
        admitted: &StartAdmitted,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let id = admitted.container_id();
        parts.uri = match format!("{version}/containers/{id}/{verb}{query}").parse() {
            Ok(u) => u,
            Err(e) => return deny(&format!("cannot rewrite the start request: {e}")),
        };
        tracing::debug!(container = %id, on = %admitted.admitted().describe(), "start admitted");
        self.forward(boxed(Request::from_parts(parts, body))).await
    }
}

/// Forward a create the guard checked (`check`), and tell the client of the container only
/// with the [`Admitted`] the after-create check gives: else it is removed and denied.
async fn create_checked(
    guard: &Guard,
    req: Request<Body>,
    check: CreateCheck,
    version: &str,
) -> Response<Body> {
    let resp = match guard.dockerd.send(req).await {
        Ok(r) => r,
        Err(e) => {
            return error_response(StatusCode::BAD_GATEWAY, &format!("pullguard: {e}"));
        }
    };
    if resp.status() != StatusCode::CREATED {
        return resp.map(|b| b.map_err(BoxError::from).boxed());
    }
    let (rparts, rbody) = resp.into_parts();
    let rbytes = match Limited::new(rbody, 1 << 20).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error_response(
                StatusCode::BAD_GATEWAY,
                &format!("pullguard: reading the daemon's create answer failed: {e}"),
            );
        }
    };
    let created = serde_json::from_slice::<serde_json::Value>(&rbytes)
        .ok()
        .and_then(|v| v.get("Id").and_then(|i| i.as_str()).map(str::to_owned));
    let Some(container) = created else {
        return deny("the daemon's create answer names no container");
    };
    match guard
        .after_create(version, &container, check, "docker-create")
        .await
    {
        Ok(admitted) => created_answer(rparts, rbytes, &container, &admitted),
        Err(why) => deny(&why),
    }
}

/// dockerd's 201 for a container, given to the client only on what admitted it.
fn created_answer(
    parts: hyper::http::response::Parts,
    body: Bytes,
    container: &str,
    admitted: &Admitted,
) -> Response<Body> {
    tracing::debug!(container = %container, on = %admitted.describe(), "create admitted");
    Response::from_parts(parts, full(body))
}

/// Whether an image of platform `have` (`os/arch[/variant]`, from its config) is what a pull for
/// `want` (the `platform` parameter; absent: this host's, as dockerd defaults) gives. A variant
/// counts only when both name one.
fn same_platform(have: &str, want: Option<&str>) -> bool {
    let host = format!("linux/{}", go_arch());
    let want = want.filter(|w| !w.is_empty()).unwrap_or(&host);
    let mut h = have.split('/');
    let mut w = want.split('/');
    let (ho, ha, hv) = (h.next(), h.next(), h.next());
    let (wo, wa, wv) = (w.next(), w.next(), w.next());
    let os = |o: Option<&str>| o.unwrap_or("linux").to_ascii_lowercase();
    let arch = |a: Option<&str>| a.map(str::to_ascii_lowercase);
    os(ho) == os(wo)
        && arch(ha) == arch(wa).or_else(|| Some(go_arch().to_string()))
        && (hv.is_none() || wv.is_none() || hv == wv)
}

/// This host's architecture in Go's (and so dockerd's) names.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A denial because the registry has no such manifest, said as dockerd says it to `docker pull`
/// (a 404 and moby's `manifest for NAME:TAG not found: manifest unknown: …`; clients such as
/// the CLI and compose branch on the status and on "not found").
fn not_found(query: &[(String, String)], why: &str) -> Option<String> {
    let unresolved = why.contains("cannot resolve the image: ");
    if !unresolved || !why.contains("registry answered 404") {
        return None;
    }
    let from = super::route::query_get(query, "fromImage")?;
    let t = super::route::pull_target(from, super::route::query_get(query, "tag"));
    let name = familiar(&t.name);
    let reference = match (&t.digest, &t.tag) {
        (Some(d), _) => format!("{name}@{d}"),
        (None, Some(tag)) => format!("{name}:{tag}"),
        (None, None) => name,
    };
    Some(format!(
        "manifest for {reference} not found: manifest unknown: manifest unknown"
    ))
}

/// A repository name as Docker prints it (distribution's FamiliarName): without `docker.io/`,
/// and without `library/` for an official image.
fn familiar(name: &str) -> String {
    let rest = name
        .strip_prefix("docker.io/")
        .or_else(|| name.strip_prefix("index.docker.io/"));
    match rest {
        Some(r) => match r.strip_prefix("library/") {
            Some(o) if !o.contains('/') => o.to_string(),
            _ => r.to_string(),
        },
        None => name.to_string(),
    }
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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_as_dockerd_says_it() {
        let q = |from: &str, tag: &str| {
            vec![
                ("fromImage".to_string(), from.to_string()),
                ("tag".to_string(), tag.to_string()),
            ]
        };
        let why = "denied r/x:nope (unresolved) under trust policy \"-\": cannot resolve the image: manifest r/x:nope: registry answered 404 Not Found (MANIFEST_UNKNOWN)";
        assert_eq!(
            not_found(&q("127.0.0.1:5000/x", "nope"), why).as_deref(),
            Some(
                "manifest for 127.0.0.1:5000/x:nope not found: manifest unknown: manifest unknown"
            )
        );
        assert_eq!(
            not_found(&q("docker.io/library/alpine", "nope"), why).as_deref(),
            Some("manifest for alpine:nope not found: manifest unknown: manifest unknown")
        );
        assert_eq!(familiar("docker.io/bitnami/redis"), "bitnami/redis");
        assert!(
            not_found(
                &q("x", "1"),
                "cannot resolve the image: registry answered 401"
            )
            .is_none()
        );
        assert!(not_found(&q("x", "1"), "no signature is associated").is_none());
    }

    #[test]
    fn platforms_compare_as_dockerd_defaults_them() {
        assert!(same_platform("linux/arm64", Some("linux/arm64")));
        assert!(same_platform("linux/arm64/v8", Some("linux/arm64")));
        assert!(!same_platform("linux/arm64", Some("linux/amd64")));
        assert!(!same_platform("linux/arm/v6", Some("linux/arm/v7")));
        let host = format!("linux/{}", go_arch());
        assert!(same_platform(&host, None));
        assert!(same_platform(&host, Some("")));
        assert!(!same_platform("windows/amd64", None));
    }
}
