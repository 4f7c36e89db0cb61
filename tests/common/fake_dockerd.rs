//! A FAKE dockerd on a Unix socket, for the in-process Docker guard tests
//! (`tests/docker_decisions.rs`): image and container inspect, create, start, remove, tag, a
//! pull's progress stream and an `Upgrade: tcp` hijack, from a table the test fills. It exists
//! for the faults the real dockerd cannot produce on demand: an inspect answer whose digest is
//! not the one signed, a container that records another image than the one verified (dockerd
//! resolved the name a second time), a hijacked session the daemon closes early, a pull
//! stream that is slow or ends in an error, an event stream that breaks. The real-peer tests
//! (`tests/docker*.rs`, `tests/authz.rs`, `tests/store.rs`) drive the real dockerd.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::sync::{Notify, mpsc};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What the fake's `Upgrade: tcp` session does once switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hijack {
    /// Echo what the client sends until it closes.
    Echo,
    /// Write `early bye` and close at once, before the client has said anything.
    CloseEarly,
}

/// One line of a scripted pull stream, sent after `gate` (if any) is notified.
pub struct PullLine {
    pub line: String,
    pub gate: Option<Arc<Notify>>,
}

#[derive(Default)]
struct State {
    /// Inspect JSON of images, by every name they answer to (ID, tags, RepoDigests).
    images: HashMap<String, serde_json::Value>,
    /// Inspect JSON of containers, by name and by ID.
    containers: HashMap<String, serde_json::Value>,
    /// Fault: every container created records this image ID, whatever the body names.
    create_records: Option<String>,
    hijack: Option<Hijack>,
    pull: Vec<PullLine>,
    /// What each `GET /events` streams, one script per connection in order; each ends the
    /// stream after its lines, and once they are used up a connection is held open, silent.
    events: Vec<Vec<PullLine>>,
    /// Every request, as `METHOD path?query` (the API version stripped).
    requests: Vec<String>,
    created: usize,
}

pub struct FakeDockerd {
    pub socket: PathBuf,
    state: Arc<Mutex<State>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDockerd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

fn no_such(what: &str, name: &str) -> Response<Body> {
    answer(
        StatusCode::NOT_FOUND,
        serde_json::json!({ "message": format!("No such {what}: {name}") }),
    )
}

fn unescape(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeDockerd {
    /// Serve on a fresh socket, on the test's runtime.
    pub fn start() -> FakeDockerd {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("fake-dockerd.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let state = Arc::new(Mutex::new(State {
            hijack: Some(Hijack::Echo),
            ..State::default()
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(handle(&st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        FakeDockerd {
            socket,
            state,
            _dir: dir,
            task,
        }
    }

    /// An image `id` known by `names` (tags, references) with these RepoDigests.
    pub fn add_image(&self, id: &str, names: &[&str], repo_digests: &[&str]) {
        let v = serde_json::json!({
            "Id": id, "RepoTags": names, "RepoDigests": repo_digests,
            "Os": "linux", "Architecture": "amd64",
        });
        let mut s = self.state.lock().unwrap();
        for n in names.iter().chain(repo_digests).chain([&id]) {
            s.images.insert(n.to_string(), v.clone());
        }
    }

    /// A container `name` (ID `id`) created from image `image_id`.
    pub fn add_container(&self, name: &str, id: &str, image_id: &str) {
        let v = serde_json::json!({ "Id": id, "Name": format!("/{name}"), "Image": image_id });
        let mut s = self.state.lock().unwrap();
        s.containers.insert(name.to_string(), v.clone());
        s.containers.insert(id.to_string(), v);
    }

    /// Fault: containers are created with `image_id`, not the image the body names.
    pub fn create_records(&self, image_id: &str) {
        self.state.lock().unwrap().create_records = Some(image_id.to_string());
    }

    pub fn hijack(&self, h: Hijack) {
        self.state.lock().unwrap().hijack = Some(h);
    }

    /// The lines the next pulls stream (each pull streams them all).
    pub fn pull_stream(&self, lines: Vec<PullLine>) {
        self.state.lock().unwrap().pull = lines;
    }

    /// The event streams of the next connections to `/events` (see [`State::events`]).
    pub fn event_streams(&self, conns: Vec<Vec<PullLine>>) {
        self.state.lock().unwrap().events = conns;
    }

    pub fn has_image(&self, name_or_id: &str) -> bool {
        self.state.lock().unwrap().images.contains_key(name_or_id)
    }

    /// Every request so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn has_container(&self, name_or_id: &str) -> bool {
        self.state
            .lock()
            .unwrap()
            .containers
            .contains_key(name_or_id)
    }
}

/// A streamed JSON answer: `lines` (each after its gate), then the end, or, `hold`, nothing
/// more for as long as the client stays.
fn stream_lines(lines: Vec<PullLine>, hold: bool) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    tokio::spawn(async move {
        for l in lines {
            if let Some(g) = &l.gate {
                g.notified().await;
            }
            let frame = Frame::data(Bytes::from(format!("{}\r\n", l.line)));
            if tx.send(Ok(frame)).await.is_err() {
                return;
            }
        }
        if hold {
            tx.closed().await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn handle(st: &Arc<Mutex<State>>, mut req: Request<Incoming>) -> Response<Body> {
    let raw = req.uri().path().to_string();
    let path = match raw.strip_prefix("/v") {
        Some(rest) => rest
            .find('/')
            .map_or(raw.clone(), |i| rest[i..].to_string()),
        None => raw.clone(),
    };
    let path = unescape(&path);
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    st.lock().unwrap().requests.push(if query.is_empty() {
        format!("{method} {path}")
    } else {
        format!("{method} {path}?{query}")
    });
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = method.as_str();
    match (m, parts.as_slice()) {
        ("GET", ["_ping"]) => answer(StatusCode::OK, serde_json::json!("OK")),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => {
            let name = name.join("/");
            match st.lock().unwrap().images.get(&name) {
                Some(v) => answer(StatusCode::OK, v.clone()),
                None => no_such("image", &name),
            }
        }
        ("GET", ["containers", name, "json"]) => match st.lock().unwrap().containers.get(*name) {
            Some(v) => answer(StatusCode::OK, v.clone()),
            None => no_such("container", name),
        },
        ("POST", ["containers", "create"]) => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let image = v.get("Image").and_then(|i| i.as_str()).unwrap_or("");
            let mut s = st.lock().unwrap();
            let id = match s.images.get(image) {
                Some(i) => i["Id"].as_str().unwrap_or("").to_string(),
                None if image.is_empty() => String::new(),
                None => return no_such("image", image),
            };
            let id = s.create_records.clone().unwrap_or(id);
            s.created += 1;
            let cid = format!("{:064x}", s.created);
            let name = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("name="))
                .map_or(cid.clone(), str::to_owned);
            let c = serde_json::json!({ "Id": cid, "Name": format!("/{name}"), "Image": id });
            s.containers.insert(name, c.clone());
            s.containers.insert(cid.clone(), c);
            answer(
                StatusCode::CREATED,
                serde_json::json!({ "Id": cid, "Warnings": [] }),
            )
        }
        ("POST", ["containers", name, "start" | "restart"]) => {
            if st.lock().unwrap().containers.contains_key(*name) {
                let mut r = Response::new(Full::new(Bytes::new()).boxed());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            } else {
                no_such("container", name)
            }
        }
        ("DELETE", ["containers", name]) => {
            let mut s = st.lock().unwrap();
            match s.containers.remove(*name) {
                Some(c) => {
                    s.containers.retain(|_, v| v["Id"] != c["Id"]);
                    let mut r = Response::new(Full::new(Bytes::new()).boxed());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    r
                }
                None => no_such("container", name),
            }
        }
        ("POST", ["images", source @ .., "tag"]) => {
            let source = source.join("/");
            if st.lock().unwrap().images.contains_key(&source) {
                answer(StatusCode::CREATED, serde_json::json!({}))
            } else {
                no_such("image", &source)
            }
        }
        ("POST", ["images", "create"]) => {
            let lines = std::mem::take(&mut st.lock().unwrap().pull);
            stream_lines(lines, false)
        }
        ("GET", ["events"]) => {
            let mut s = st.lock().unwrap();
            if s.events.is_empty() {
                stream_lines(Vec::new(), true)
            } else {
                stream_lines(s.events.remove(0), false)
            }
        }
        ("GET", ["images", "json"]) => {
            let s = st.lock().unwrap();
            let mut seen = std::collections::BTreeMap::new();
            for v in s.images.values() {
                let id = v["Id"].as_str().unwrap_or("").to_string();
                seen.insert(
                    id.clone(),
                    serde_json::json!({ "Id": id, "RepoTags": v["RepoTags"] }),
                );
            }
            answer(
                StatusCode::OK,
                serde_json::json!(seen.into_values().collect::<Vec<_>>()),
            )
        }
        ("DELETE", ["images", name @ ..]) => {
            let name = name.join("/");
            let mut s = st.lock().unwrap();
            match s.images.get(&name).map(|v| v["Id"].clone()) {
                Some(id) => {
                    s.images.retain(|_, v| v["Id"] != id);
                    answer(StatusCode::OK, serde_json::json!([{ "Deleted": id }]))
                }
                None => no_such("image", &name),
            }
        }
        ("POST", ["containers", _, "attach"]) => {
            let hijack = st.lock().unwrap().hijack.unwrap_or(Hijack::Echo);
            let on = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                let Ok(up) = on.await else { return };
                let mut io = TokioIo::new(up);
                match hijack {
                    Hijack::CloseEarly => {
                        let _ = io.write_all(b"early bye").await;
                        let _ = io.shutdown().await;
                    }
                    Hijack::Echo => {
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = io.read(&mut buf).await {
                            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = io.shutdown().await;
                    }
                }
            });
            let mut r = Response::new(Full::new(Bytes::new()).boxed());
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut().insert("upgrade", "tcp".parse().unwrap());
            r.headers_mut()
                .insert("connection", "Upgrade".parse().unwrap());
            r.headers_mut().insert(
                "content-type",
                "application/vnd.docker.raw-stream".parse().unwrap(),
            );
            r
        }
        _ => answer(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "message": format!("page not found: {m} {path}") }),
        ),
    }
}
