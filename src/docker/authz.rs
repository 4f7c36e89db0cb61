//! A Docker authorization plugin: dockerd, started with `--authorization-plugin=NAME`, asks it
//! about every Engine API request on every socket before acting (`/Plugin.Activate`,
//! `/AuthZPlugin.AuthZReq`, `/AuthZPlugin.AuthZRes`), so no client of dockerd goes around the
//! guard. The rules are the proxy's ([`Guard`]): pulls verified, creates and starts verified
//! on the image the container records, the other ways in switched off by default.
//!
//! What a plugin cannot do that the proxy does: rewrite the request. A pull by tag is allowed
//! when the tag verifies now, and dockerd then resolves the tag itself (it may have moved in
//! between); the start check on the image ID is what makes an image that came in anyway
//! unrunnable. A start by name is allowed when the container the name names now verifies, and
//! no name can move (rename, remove, create with a name) from that check until dockerd has done
//! the start: such requests wait on a lock held from the start's AuthZReq to its AuthZRes.
//! With the plugin configured and pullguard down, dockerd refuses every request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::UnixListener;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, watch};

use super::guard::{Admitted, CreateCheck, Guard, PinnedPull, PullDecision, StartCheck};
use super::route::{Call, classify, is_form, request_target, split_version};
use crate::drain::InFlight;
use crate::http::query_pairs;

/// dockerd's plugin API media type.
const PLUGIN_MEDIA_TYPE: &str = "application/vnd.docker.plugins.v1+json";

/// What dockerd sends (moby `pkg/authorization/api.go`: `Request`). Go's field names; the
/// request URI's JSON key is `RequestUri`; `[]byte` fields arrive as standard base64.
#[derive(Debug, Default, Deserialize)]
pub struct AuthzRequest {
    #[serde(rename = "RequestMethod", default)]
    pub method: String,
    #[serde(rename = "RequestUri", default)]
    pub uri: String,
    #[serde(rename = "RequestBody", default)]
    pub body: Option<String>,
    #[serde(rename = "RequestHeaders", default)]
    pub headers: Option<HashMap<String, String>>,
}

/// What the plugin answers (moby's `Response`).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AuthzResponse {
    #[serde(rename = "Allow")]
    pub allow: bool,
    #[serde(rename = "Msg", skip_serializing_if = "String::is_empty")]
    pub msg: String,
    #[serde(rename = "Err", skip_serializing_if = "String::is_empty")]
    pub err: String,
}

impl AuthzResponse {
    /// Allow, for a call the guard does not decide ([`Call::Pass`]), a way in the config or
    /// the policy allows (an import, all tags of a skipped scope), and every AuthZRes. The
    /// calls the guard decides are allowed only on its proof: [`AuthzResponse::pull`],
    /// [`AuthzResponse::create`], [`AuthzResponse::start`].
    fn pass() -> AuthzResponse {
        AuthzResponse {
            allow: true,
            msg: String::new(),
            err: String::new(),
        }
    }

    /// Allow a pull that verified.
    fn pull(pinned: &PinnedPull) -> AuthzResponse {
        tracing::debug!(target: "pullguard::authz", image = %pinned.verified().image(), digest = %pinned.digest(), "pull admitted");
        AuthzResponse::pass()
    }

    /// Allow a create the guard checked: its image verified now (or scratch), or it is not
    /// on the host (dockerd answers 404; the start check keeps anything else from running).
    fn create(check: &CreateCheck) -> AuthzResponse {
        let on = check
            .admitted()
            .map_or_else(|| "image not on the host".into(), Admitted::describe);
        tracing::debug!(target: "pullguard::authz", image = check.image().unwrap_or(""), on = %on, "create admitted");
        AuthzResponse::pass()
    }

    /// Allow a start the guard admitted.
    fn start(admitted: &Admitted) -> AuthzResponse {
        tracing::debug!(target: "pullguard::authz", on = %admitted.describe(), "start admitted");
        AuthzResponse::pass()
    }

    fn deny(why: &str) -> AuthzResponse {
        AuthzResponse {
            allow: false,
            msg: format!("pullguard: {why}"),
            err: String::new(),
        }
    }
}

pub struct AuthzPlugin {
    guard: Arc<Guard>,
    pub in_flight: InFlight,
    /// Container names may not move while a start by name is between its check and dockerd's
    /// own lookup: a start by name holds this shared from its AuthZReq to its AuthZRes, a
    /// rename, a removal or a create with a name holds it exclusively.
    names: Arc<RwLock<()>>,
    /// Holds taken at AuthZReq, given back at the AuthZRes of the same request (dockerd sends
    /// both with the same method and URI), or after [`MAX_HOLD`].
    holds: Mutex<HashMap<String, VecDeque<(Instant, Hold)>>>,
}

#[allow(dead_code)] // held for their Drop
enum Hold {
    Shared(OwnedRwLockReadGuard<()>),
    Exclusive(OwnedRwLockWriteGuard<()>),
}

/// A hold whose AuthZRes never came (another plugin denied the request, dockerd died) is given
/// back after this long.
const MAX_HOLD: Duration = Duration::from_secs(60);
/// How long a request waits for the name lock before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// What a request does to container names.
#[derive(Debug, PartialEq, Eq)]
enum NameUse {
    None,
    /// Resolves a name to a container (every start: see below).
    Resolves,
    /// Can make a name name another container: rename, remove, prune, create with a name.
    Moves,
}

fn name_use(method: &Method, path: &str, query: &[(String, String)], call: &Call) -> NameUse {
    // Every start holds the lock, a full ID too: a container may be named with 64 hex
    // characters that are no container's ID, and dockerd then resolves them as a name.
    if let Call::Start { .. } = call {
        return NameUse::Resolves;
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::POST, ["containers", .., "rename"])
        | (&Method::POST, ["containers", "prune"])
        | (&Method::DELETE, ["containers", ..]) => NameUse::Moves,
        (&Method::POST, ["containers", "create"])
            if crate::docker::route::query_get(query, "name").is_some_and(|n| !n.is_empty()) =>
        {
            NameUse::Moves
        }
        _ => NameUse::None,
    }
}

impl AuthzPlugin {
    pub fn new(guard: Arc<Guard>) -> AuthzPlugin {
        AuthzPlugin {
            guard,
            in_flight: InFlight::default(),
            names: Arc::new(RwLock::new(())),
            holds: Mutex::new(HashMap::new()),
        }
    }

    /// Serve connections until `shutdown` turns true; then stop accepting.
    pub async fn serve(self: Arc<Self>, listener: UnixListener, shutdown: watch::Receiver<bool>) {
        super::accept::serve(
            self,
            listener,
            shutdown,
            "authz plugin",
            |s, req| async move { s.handle(req).await },
        )
        .await
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let _ticket = self.in_flight.ticket();
        if req.method() != Method::POST {
            return reply(
                StatusCode::METHOD_NOT_ALLOWED,
                &serde_json::json!({"Err": "POST only"}),
            );
        }
        let path = req.uri().path().to_string();
        // dockerd's plugin requests are small JSON; an authz request carries at most a 1 MiB
        // body (base64: a third more) plus headers.
        let body = match Limited::new(req.into_body(), 4 << 20).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    &AuthzResponse {
                        allow: false,
                        msg: String::new(),
                        err: format!("pullguard: cannot read the plugin request: {e}"),
                    },
                );
            }
        };
        match path.as_str() {
            "/Plugin.Activate" => reply(
                StatusCode::OK,
                &serde_json::json!({"Implements": ["authz"]}),
            ),
            "/AuthZPlugin.AuthZReq" => {
                let answer = match serde_json::from_slice::<AuthzRequest>(&body) {
                    Ok(r) => self.request(&r).await,
                    Err(e) => AuthzResponse::deny(&format!(
                        "cannot read dockerd's authorization request: {e}"
                    )),
                };
                if !answer.allow {
                    tracing::info!(target: "pullguard::authz", reason = %answer.msg, "authz denied");
                }
                reply(StatusCode::OK, &answer)
            }
            // The decision is made on the request; the response passes as it is, and what the
            // request held is given back.
            "/AuthZPlugin.AuthZRes" => {
                if let Ok(r) = serde_json::from_slice::<AuthzRequest>(&body) {
                    self.release(&r);
                }
                reply(StatusCode::OK, &AuthzResponse::pass())
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"Err": format!("unknown plugin call {path}")}),
            ),
        }
    }

    /// An AuthZReq: take the name lock the request needs, decide, and keep the lock until the
    /// AuthZRes when the request is allowed.
    async fn request(&self, r: &AuthzRequest) -> AuthzResponse {
        self.expire_holds();
        let (Some((path, query)), Ok(method)) = (
            request_target(&r.uri),
            Method::from_bytes(r.method.as_bytes()),
        ) else {
            return self.decide(r).await;
        };
        let p = split_version(&path).1;
        let call = classify(&method, p, &self.guard.switches);
        let hold = match name_use(&method, p, &query_pairs(Some(query)), &call) {
            NameUse::None => None,
            NameUse::Resolves => {
                match tokio::time::timeout(MAX_WAIT, self.names.clone().read_owned()).await {
                    Ok(g) => Some(Hold::Shared(g)),
                    Err(_) => {
                        return AuthzResponse::deny(
                            "busy: container names are being changed; try again",
                        );
                    }
                }
            }
            NameUse::Moves => {
                match tokio::time::timeout(MAX_WAIT, self.names.clone().write_owned()).await {
                    Ok(g) => Some(Hold::Exclusive(g)),
                    Err(_) => {
                        return AuthzResponse::deny(
                            "busy: containers are being started by name; try again",
                        );
                    }
                }
            }
        };
        let answer = self.decide(r).await;
        if let (true, Some(hold)) = (answer.allow, hold)
            && let Ok(mut holds) = self.holds.lock()
        {
            holds
                .entry(format!("{} {}", r.method, r.uri))
                .or_default()
                .push_back((Instant::now(), hold));
        }
        answer
    }

    fn release(&self, r: &AuthzRequest) {
        if let Ok(mut holds) = self.holds.lock() {
            let key = format!("{} {}", r.method, r.uri);
            if let Some(q) = holds.get_mut(&key) {
                q.pop_front();
                if q.is_empty() {
                    holds.remove(&key);
                }
            }
        }
    }

    fn expire_holds(&self) {
        if let Ok(mut holds) = self.holds.lock() {
            holds.retain(|key, q| {
                while q.front().is_some_and(|(at, _)| at.elapsed() > MAX_HOLD) {
                    tracing::warn!(request = %key, "authz: no AuthZRes came for an allowed request; its container-name lock is given back");
                    q.pop_front();
                }
                !q.is_empty()
            });
        }
    }

    /// May dockerd go on with this request? (Its decisions record the call dockerd asks about.)
    pub async fn decide(&self, r: &AuthzRequest) -> AuthzResponse {
        let target = r.uri.split('?').next().unwrap_or("");
        let call = format!("{} {}", r.method, split_version(target).1);
        crate::who::with_call(call, self.decide_call(r)).await
    }

    async fn decide_call(&self, r: &AuthzRequest) -> AuthzResponse {
        // Absolute-form targets are read as Go reads them (dockerd routes on r.URL.Path).
        let Some((path, query)) = request_target(&r.uri) else {
            return AuthzResponse::deny(
                "cannot read the request target (malformed percent-encoding or not a path)",
            );
        };
        let query = Some(query);
        let Ok(method) = Method::from_bytes(r.method.as_bytes()) else {
            return AuthzResponse::deny("unknown request method");
        };
        let (version, p) = split_version(&path);
        let header = |name: &str| {
            r.headers.as_ref().and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            })
        };
        match classify(&method, p, &self.guard.switches) {
            Call::Pass => AuthzResponse::pass(),
            Call::Refused(why) => AuthzResponse::deny(why),
            Call::Pull => {
                // dockerd reads a form body before the query, and shows plugins only the last
                // of repeated Content-Type headers while it goes by the first: a pull must
                // carry no body (the docker CLI sends `Content-Length: 0`), or the plugin could
                // verify the query while dockerd pulls what the body names.
                let import = query_pairs(query).iter().any(|(k, _)| k == "fromSrc");
                if !import && header("Content-Length").is_none_or(|l| l.trim() != "0") {
                    return AuthzResponse::deny(&format!(
                        "image pull refused: the request may have a body (Content-Length {}), which dockerd would read as the pull's form before the query this plugin sees; send none (Content-Length: 0), as the docker CLI does",
                        header("Content-Length").unwrap_or("not given")
                    ));
                }
                let query = query_pairs(query);
                // dockerd strips X-Registry-Auth from what plugins see: the daemon's own
                // credentials (docker_config) are used for the registry.
                match self
                    .guard
                    .pull(
                        &query,
                        is_form(header("Content-Type")),
                        None,
                        "docker-authz",
                    )
                    .await
                {
                    PullDecision::Deny(why) | PullDecision::Unavailable(why) => {
                        AuthzResponse::deny(&super::dockerd::explain_plain_http(why))
                    }
                    PullDecision::Import | PullDecision::AllTags => AuthzResponse::pass(),
                    PullDecision::Pinned(pinned) => AuthzResponse::pull(&pinned),
                }
            }
            Call::Create => {
                // dockerd passes the body only when it is JSON (Content-Type) and under 1 MiB:
                // a create the plugin cannot read is refused.
                let Some(body) = r.body.as_deref() else {
                    return AuthzResponse::deny(
                        "container create refused: its body did not reach the authorization plugin (send it as Content-Type: application/json, with a Content-Length, under 1 MiB)",
                    );
                };
                let Ok(body) = STANDARD.decode(body) else {
                    return AuthzResponse::deny("container create refused: the body is not base64");
                };
                match self
                    .guard
                    .create(version, &body, "docker-authz-create")
                    .await
                {
                    Ok(check) => AuthzResponse::create(&check),
                    Err(why) => AuthzResponse::deny(&why),
                }
            }
            Call::Start { container, verb } => {
                // dockerd asks the plugins before it reads a body, and reads one (a form, or a
                // HostConfig below API 1.24) before it looks the name up: a body sent slowly
                // would hold it between the two for as long as the client likes, past the
                // name lock. Plugins see Content-Length only when the body has a known length
                // (a chunked one shows none): a start or restart with a body, or whose body
                // is of unknown length, is refused. The docker CLI and the SDKs send
                // `Content-Length: 0`.
                if header("Content-Length").is_none_or(|l| l.trim() != "0") {
                    return AuthzResponse::deny(&format!(
                        "container {verb} refused: the request may have a body (Content-Length {}), which dockerd reads after this check and before it looks {container:?} up; send none (Content-Length: 0), as the docker CLI does",
                        header("Content-Length").unwrap_or("not given")
                    ));
                }
                match self
                    .guard
                    .start(version, &container, "docker-authz-start")
                    .await
                {
                    Ok(StartCheck::Allowed(a)) => AuthzResponse::start(a.admitted()),
                    // Not allowed on a guess: the name could be taken in between.
                    Ok(StartCheck::Missing) => {
                        AuthzResponse::deny(&format!("No such container: {container}"))
                    }
                    Err(why) => AuthzResponse::deny(&why),
                }
            }
        }
    }
}

fn reply<T: Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLUGIN_MEDIA_TYPE));
    r
}
