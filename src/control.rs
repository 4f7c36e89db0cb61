//! The gRPC control API on a Unix socket (`proto/pullguard/v1/control.proto`, plus
//! `grpc.health.v1`), the state it reports (the reload that changes it is
//! [`crate::daemon::reload`], shared by the RPC, SIGHUP and the file watcher), and the client
//! used by `pullguard ctl` and the containerd verifier.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use crate::gate::{Decision, Gate};
use crate::oci::ImageRef;

pub mod pb {
    tonic::include_proto!("pullguard.v1");
}
pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

pub const DEFAULT_CONTROL_SOCKET: &str = "/run/pullguard/control.sock";

/// What the daemon knows about itself, shared by the RPCs, signals and the file watcher.
pub struct ControlState {
    pub engine: Arc<Gate>,
    pub policy_dir: PathBuf,
    pub started: Instant,
    pub listeners: Vec<String>,
    /// The registry mirror's counters, when it runs.
    pub mirror: Option<Arc<crate::mirror::MirrorCounters>>,
    /// The problems of the last reload that was refused ("": it was not); the reload itself
    /// is `crate::daemon::reload`.
    pub(crate) last_reload_error: Mutex<String>,
    /// Reloads, from whichever trigger, run one at a time.
    pub(crate) reload_lock: tokio::sync::Mutex<()>,
}

impl ControlState {
    pub fn new(engine: Arc<Gate>, policy_dir: PathBuf, listeners: Vec<String>) -> ControlState {
        ControlState {
            engine,
            policy_dir,
            started: Instant::now(),
            listeners,
            mirror: None,
            last_reload_error: Mutex::new(String::new()),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn last_reload_error(&self) -> String {
        self.last_reload_error
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The one-line STATUS= for systemd.
    pub fn status_line(&self) -> String {
        let c = &self.engine.counters;
        let r = std::sync::atomic::Ordering::Relaxed;
        let rejected = if self.last_reload_error().is_empty() {
            ""
        } else {
            "; last reload rejected (see ctl status)"
        };
        format!(
            "generation {}; {} allowed, {} denied, {} verifications, {} cache hits{rejected}",
            self.engine.snapshot().generation,
            c.allowed.load(r),
            c.denied.load(r),
            c.verifications.load(r),
            c.cache_hits.load(r)
        )
    }

    pub fn status(&self) -> pb::Status {
        let snap = self.engine.snapshot();
        let c = &self.engine.counters;
        let r = std::sync::atomic::Ordering::Relaxed;
        let soon = OffsetDateTime::now_utc() + time::Duration::days(30);
        let mut warnings = Vec::new();
        let mut stores: Vec<pb::TrustStore> = snap
            .trust
            .stores
            .iter()
            .map(|((kind, name), loaded)| {
                let certs = loaded
                    .as_ref()
                    .map(|certs| {
                        certs
                            .iter()
                            .map(|cert| {
                                let expires_soon = cert.not_after() < soon;
                                if expires_soon {
                                    warnings.push(format!(
                                        "trust store {}:{name}: certificate {:?} expires {}",
                                        kind.as_str(),
                                        cert.subject(),
                                        rfc3339(cert.not_after())
                                    ));
                                }
                                pb::TrustStoreCert {
                                    subject: cert.subject().to_string(),
                                    not_after: rfc3339(cert.not_after()),
                                    expires_soon,
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                pb::TrustStore {
                    r#type: kind.as_str().to_string(),
                    name: name.clone(),
                    certs,
                }
            })
            .collect();
        stores.sort_by(|a, b| (&a.r#type, &a.name).cmp(&(&b.r#type, &b.name)));
        warnings.sort();
        pb::Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            policy_generation: snap.generation,
            policy_source_hash: snap.trust.source_hash.clone(),
            policy_path: snap.trust.policy_path.display().to_string(),
            policy_loaded_at: rfc3339(snap.loaded_at),
            trust_stores: stores,
            counters: Some(pb::Counters {
                verifications: c.verifications.load(r),
                allowed: c.allowed.load(r),
                denied: c.denied.load(r),
                cache_hits: c.cache_hits.load(r),
            }),
            listeners: self.listeners.clone(),
            last_reload_error: self.last_reload_error(),
            warnings,
            mirror: self.mirror.as_ref().map(|m| {
                let (manifests_served, blobs_served, denials, blob_failures) = m.get();
                pb::MirrorCounters {
                    manifests_served,
                    blobs_served,
                    denials,
                    blob_failures,
                }
            }),
        }
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn decision_pb(d: &Decision) -> pb::Decision {
    pb::Decision {
        time: d.time.clone(),
        origin: d.origin.clone(),
        image: d.image.clone(),
        digest: d.digest.clone().unwrap_or_default(),
        policy: d.policy.clone().unwrap_or_default(),
        verdict: d.verdict.to_string(),
        reason: d.reason.clone(),
        generation: d.generation,
        cached: d.cached,
        duration_ms: d.duration_ms,
        client_uid: d.who.client_uid,
        client_pid: d.who.client_pid,
        client_addr: d.who.client_addr.clone().unwrap_or_default(),
        call: d.who.call.clone().unwrap_or_default(),
        signer: d.who.signer.clone().unwrap_or_default(),
        signature_digest: d.who.signature_digest.clone().unwrap_or_default(),
    }
}

pub struct ControlService {
    pub state: Arc<ControlState>,
}

type DecisionStream = Pin<Box<dyn Stream<Item = Result<pb::Decision, Status>> + Send>>;

#[tonic::async_trait]
impl pb::control_server::Control for ControlService {
    async fn get_status(
        &self,
        _: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::Status>, Status> {
        Ok(Response::new(self.state.status()))
    }

    async fn reload_policy(
        &self,
        _: Request<pb::ReloadPolicyRequest>,
    ) -> Result<Response<pb::ReloadPolicyResponse>, Status> {
        let r = match self.state.reload("rpc").await {
            Ok(generation) => pb::ReloadPolicyResponse {
                ok: true,
                generation,
                errors: vec![],
            },
            Err(errors) => pb::ReloadPolicyResponse {
                ok: false,
                generation: self.state.engine.snapshot().generation,
                errors,
            },
        };
        Ok(Response::new(r))
    }

    async fn get_policy(
        &self,
        _: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::GetPolicyResponse>, Status> {
        let snap = self.state.engine.snapshot();
        Ok(Response::new(pb::GetPolicyResponse {
            path: snap.trust.policy_path.display().to_string(),
            document: snap.trust.policy_text.clone(),
            generation: snap.generation,
        }))
    }

    async fn verify(
        &self,
        req: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let who = crate::who::Who::uds(req.extensions().get::<UdsConnectInfo>());
        let req = req.into_inner();
        let image = ImageRef::parse(&req.reference).map_err(Status::invalid_argument)?;
        let origin = if req.origin.is_empty() {
            "ctl".to_string()
        } else {
            req.origin.chars().take(64).collect()
        };
        let verdict = crate::who::scope(
            who,
            self.state.engine.check(
                &crate::gate::Request::new(image, &origin).platform(crate::gate::Platform::Every),
            ),
        )
        .await;
        let o = crate::gate::outcome_of(&verdict);
        Ok(Response::new(pb::VerifyResponse {
            allowed: o.allowed,
            summary: o.summary(),
            digest: o.digest().unwrap_or_default().to_string(),
            policy: o.policy.clone().unwrap_or_default(),
            outcome_json: serde_json::to_string(&*o).unwrap_or_default(),
        }))
    }

    async fn list_decisions(
        &self,
        req: Request<pb::ListDecisionsRequest>,
    ) -> Result<Response<pb::ListDecisionsResponse>, Status> {
        let q = req.into_inner();
        let since =
            if q.since.is_empty() {
                None
            } else {
                Some(OffsetDateTime::parse(&q.since, &Rfc3339).map_err(|e| {
                    Status::invalid_argument(format!("since must be RFC 3339: {e}"))
                })?)
            };
        if !matches!(q.verdict.as_str(), "" | "allowed" | "denied") {
            return Err(Status::invalid_argument(
                "verdict must be \"allowed\" or \"denied\"",
            ));
        }
        let mut out: Vec<pb::Decision> = self
            .state
            .engine
            .decisions()
            .iter()
            .filter(|d| q.verdict.is_empty() || d.verdict == q.verdict)
            .filter(|d| q.image.is_empty() || d.image.contains(&q.image))
            .filter(|d| match since {
                None => true,
                Some(s) => OffsetDateTime::parse(&d.time, &Rfc3339).is_ok_and(|t| t >= s),
            })
            .map(decision_pb)
            .collect();
        if q.limit > 0 && out.len() > q.limit as usize {
            out.drain(..out.len() - q.limit as usize);
        }
        Ok(Response::new(pb::ListDecisionsResponse { decisions: out }))
    }

    type WatchDecisionsStream = DecisionStream;

    async fn watch_decisions(
        &self,
        _: Request<pb::WatchDecisionsRequest>,
    ) -> Result<Response<Self::WatchDecisionsStream>, Status> {
        // A watcher that stops reading only loses its own oldest events (broadcast lag).
        let rx = self.state.engine.subscribe();
        let stream = tokio_stream::wrappers::BroadcastStream::new(rx)
            .filter_map(|r| r.ok())
            .map(|d| Ok(decision_pb(&d)));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn purge_cache(
        &self,
        _: Request<pb::PurgeCacheRequest>,
    ) -> Result<Response<pb::PurgeCacheResponse>, Status> {
        let purged = self.state.engine.purge_cache() as u64;
        tracing::info!(purged, "verdict cache purged");
        Ok(Response::new(pb::PurgeCacheResponse { purged }))
    }
}

pub struct HealthService;

type HealthStream = Pin<Box<dyn Stream<Item = Result<health::HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl health::health_server::Health for HealthService {
    async fn check(
        &self,
        req: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        let service = req.into_inner().service;
        if service.is_empty() || service == "pullguard.v1.Control" {
            Ok(Response::new(health::HealthCheckResponse {
                status: health::health_check_response::ServingStatus::Serving as i32,
            }))
        } else {
            Err(Status::not_found(format!("unknown service {service:?}")))
        }
    }

    type WatchStream = HealthStream;

    async fn watch(
        &self,
        req: Request<health::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let first = self.check(req).await?.into_inner();
        let stream = tokio_stream::once(Ok(first)).chain(tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Peer credential check: only the allowed uids may talk to the control socket.
pub fn authorize(allowed: &[u32], req: &Request<()>) -> Result<(), Status> {
    let uid = req
        .extensions()
        .get::<UdsConnectInfo>()
        .and_then(|i| i.peer_cred)
        .map(|c| c.uid());
    match uid {
        Some(u) if allowed.contains(&u) => Ok(()),
        other => {
            tracing::warn!(
                peer_uid = other,
                "control API: peer refused (uid not in allowed_uids)"
            );
            Err(Status::permission_denied(format!(
                "uid {} is not allowed on the pullguard control socket",
                other.map_or("unknown".to_string(), |u| u.to_string())
            )))
        }
    }
}

/// Serve the control API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: Arc<ControlState>,
    listener: tokio::net::UnixListener,
    allowed_uids: Vec<u32>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let a1 = allowed_uids.clone();
    let a2 = allowed_uids;
    let control = tonic::service::interceptor::InterceptedService::new(
        pb::control_server::ControlServer::new(ControlService { state })
            .max_decoding_message_size(64 * 1024),
        move |r: Request<()>| authorize(&a1, &r).map(|_| r),
    );
    let health = health::health_server::HealthServer::with_interceptor(
        HealthService,
        move |r: Request<()>| authorize(&a2, &r).map(|_| r),
    );
    tonic::transport::Server::builder()
        .timeout(Duration::from_secs(600))
        .add_service(control)
        .add_service(health)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::UnixListenerStream::new(listener),
            shutdown,
        )
        .await
        .map_err(|e| format!("control API server failed: {e}"))
}

/// The control socket for clients: `--socket`, else `$PULLGUARD_CONTROL_SOCKET`, else
/// `/run/pullguard/control.sock`.
pub fn socket_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os("PULLGUARD_CONTROL_SOCKET") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_CONTROL_SOCKET),
    }
}

/// Connect a client to the control socket.
pub async fn connect(
    path: &Path,
) -> Result<pb::control_client::ControlClient<tonic::transport::Channel>, String> {
    let channel = crate::http::unix_grpc_channel(path, "the pullguard daemon").await?;
    Ok(pb::control_client::ControlClient::new(channel))
}
