//! The Docker guard's decisions in process: the Engine API proxy and the authorization plugin
//! on the gate, with a FAKE registry (`common::fake_registry`) and a FAKE dockerd
//! (`common::fake_dockerd`) for the faults the real dockerd cannot produce on demand: an
//! inspect answer whose digest is not the signed one, a container that records another image
//! than the one verified, a hijack the daemon closes early, a pull stream that is slow or ends
//! in an error, an event stream that breaks under the store watch. No peers; each test takes milliseconds. The same decisions against the real
//! dockerd: `tests/docker.rs`, `tests/docker_side_doors.rs`, `tests/authz.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::fake_dockerd::{FakeDockerd, Hijack, PullLine};
use common::fake_registry::{FakeRegistry, sign, trust_everything};
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use pullguard::config::{DockerSection, OnUnverified, WatchSection};
use pullguard::docker::authz::{AuthzRequest, AuthzResponse};
use pullguard::docker::{AuthzPlugin, DockerProxy, Dockerd, Guard};
use pullguard::gate::{Gate, GateOptions, SystemClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, watch};

const SIGNED_ID: &str = "sha256:aaaa";
const UNSIGNED_ID: &str = "sha256:bbbb";
/// A local image whose RepoDigest names a digest that is not the signed manifest's.
const MISMATCH_ID: &str = "sha256:cccc";

struct World {
    _dir: tempfile::TempDir,
    dockerd: FakeDockerd,
    gate: Arc<Gate>,
    plugin: AuthzPlugin,
    proxy: PathBuf,
    signed_digest: String,
    _shutdown: watch::Sender<bool>,
}

/// The gate on a fake registry holding `fake.test/app:v1` (signed) and `:u1` (unsigned), a
/// fake dockerd holding both and a third whose RepoDigest does not match, and the proxy
/// (on its own socket) and the plugin on that guard.
async fn world(switches: DockerSection) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(
        KeySpec::Ec(openssl::nid::Nid::X9_62_PRIME256V1),
        "docker decisions",
        CertOpts::default(),
    );
    let trust = trust_everything(dir.path(), &pki);
    let registry = Arc::new(FakeRegistry::default());
    let signed = registry.push_image(Some("v1"), "signed");
    registry.attach(&signed, &sign(&pki, &signed, None));
    let unsigned = registry.push_image(Some("u1"), "unsigned");

    let dockerd = FakeDockerd::start();
    let rd = |d: &str| format!("fake.test/app@{d}");
    dockerd.add_image(SIGNED_ID, &["fake.test/app:v1"], &[&rd(&signed.digest)]);
    dockerd.add_image(UNSIGNED_ID, &["fake.test/app:u1"], &[&rd(&unsigned.digest)]);
    let wrong = format!("sha256:{}", "0".repeat(64));
    dockerd.add_image(MISMATCH_ID, &["fake.test/app:local"], &[&rd(&wrong)]);

    let gate = Gate::with_registry(
        trust,
        registry,
        GateOptions::default(),
        Arc::new(SystemClock),
    );
    let gate = Arc::new(gate);
    let guard = Arc::new(Guard {
        engine: gate.clone(),
        dockerd: Dockerd::new(dockerd.socket.clone()),
        switches,
    });
    let proxy = dir.path().join("proxy.sock");
    let listener = UnixListener::bind(&proxy).unwrap();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(Arc::new(DockerProxy::new(guard.clone())).serve(listener, rx));
    World {
        plugin: AuthzPlugin::new(guard),
        gate,
        _dir: dir,
        dockerd,
        proxy,
        signed_digest: signed.digest,
        _shutdown: tx,
    }
}

async fn connect(sock: &Path) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let stream = UnixStream::connect(sock).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    sender
}

fn request(
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> hyper::Request<Full<Bytes>> {
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "docker");
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let body = body.map(|v| v.to_string()).unwrap_or_default();
    b.body(Full::new(Bytes::from(body))).unwrap()
}

/// One call through the proxy: the status and the whole body.
async fn call(
    w: &World,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, String) {
    let mut s = connect(&w.proxy).await;
    let resp = s.send_request(request(method, uri, body)).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The plugin's answer on `method uri` with `body`.
async fn authz(
    w: &World,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> AuthzResponse {
    use base64::Engine as _;
    // What dockerd shows the plugin: the Content-Length of the request (0 without a body, as
    // the docker CLI sends it).
    let length = body.as_ref().map_or(0, |b| b.to_string().len());
    let r = AuthzRequest {
        method: method.into(),
        uri: uri.into(),
        body: body.map(|b| base64::engine::general_purpose::STANDARD.encode(b.to_string())),
        headers: Some(
            [("Content-Length".to_string(), length.to_string())]
                .into_iter()
                .collect(),
        ),
    };
    w.plugin.decide(&r).await
}

/// A create body naming `image` (none: an empty root filesystem).
fn create_body(image: Option<&str>) -> Option<serde_json::Value> {
    Some(match image {
        Some(i) => serde_json::json!({ "Image": i, "Cmd": ["true"] }),
        None => serde_json::json!({ "Cmd": ["true"] }),
    })
}

const CREATE: &str = "/v1.43/containers/create";

/// A create of `image` through the proxy.
async fn create(w: &World, image: Option<&str>) -> (StatusCode, String) {
    call(w, "POST", CREATE, create_body(image)).await
}

/// Does the plugin allow a create of `image`?
async fn authz_create(w: &World, image: Option<&str>) -> AuthzResponse {
    authz(w, "POST", CREATE, create_body(image)).await
}

/// A start of `container` through the proxy, and the plugin's answer on it.
async fn start(w: &World, container: &str) -> ((StatusCode, String), AuthzResponse) {
    let uri = format!("/v1.43/containers/{container}/start");
    (
        call(w, "POST", &uri, None).await,
        authz(w, "POST", &uri, None).await,
    )
}

fn forwarded(w: &World, what: &str) -> bool {
    w.dockerd.requests().iter().any(|r| r.starts_with(what))
}

#[tokio::test]
async fn a_create_from_a_verified_image_is_forwarded_and_answered() {
    let w = world(DockerSection::default()).await;
    let (status, body) = create(&w, Some("fake.test/app:v1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(w.dockerd.has_container(id["Id"].as_str().unwrap()));
    assert!(authz_create(&w, Some("fake.test/app:v1")).await.allow);
}

#[tokio::test]
async fn a_container_that_records_another_image_than_the_verified_one_is_removed() {
    let w = world(DockerSection::default()).await;
    // dockerd resolved the name a second time and got the unsigned image.
    w.dockerd.create_records(UNSIGNED_ID);
    let (status, body) = create(&w, Some("fake.test/app:v1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("container from image \\\"fake.test/app:v1\\\" denied: the image changed between verification and create (the container was removed)"),
        "{body}"
    );
    let reqs = w.dockerd.requests();
    let created = format!("{:064x}", 1);
    let removal = format!("DELETE /containers/{created}?force=1");
    assert!(reqs.contains(&removal), "{reqs:?}");
    assert!(!w.dockerd.has_container(&created));
}

#[tokio::test]
async fn an_inspect_digest_that_is_not_the_signed_one_denies_create_and_start() {
    let w = world(DockerSection::default()).await;
    let (status, body) = create(&w, Some("fake.test/app:local")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("no RepoDigest verifies"), "{body}");
    assert!(!forwarded(&w, "POST /containers/create"));
    let a = authz_create(&w, Some("fake.test/app:local")).await;
    assert!(
        !a.allow && a.msg.contains("no RepoDigest verifies"),
        "{a:?}"
    );

    w.dockerd.add_container("old", &"d".repeat(64), MISMATCH_ID);
    let ((status, body), a) = start(&w, "old").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("does not verify"), "{body}");
    assert!(!forwarded(&w, "POST /containers/dddd"));
    assert!(!a.allow, "{a:?}");
}

#[tokio::test]
async fn a_start_is_forwarded_to_the_checked_id_not_the_name() {
    let w = world(DockerSection::default()).await;
    let id = "e".repeat(64);
    w.dockerd.add_container("web", &id, SIGNED_ID);
    let ((status, body), a) = start(&w, "web").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(a.allow, "{a:?}");
    let reqs = w.dockerd.requests();
    assert!(
        reqs.contains(&format!("POST /containers/{id}/start")),
        "{reqs:?}"
    );
    assert!(!reqs.iter().any(|r| r.contains("/web/start")), "{reqs:?}");

    // A container from the unsigned image: not forwarded.
    w.dockerd.add_container("bad", &"f".repeat(64), UNSIGNED_ID);
    let ((status, body), a) = start(&w, "bad").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!a.allow, "{a:?}");
    assert!(!forwarded(
        &w,
        &format!("POST /containers/{}", "f".repeat(64))
    ));
}

#[tokio::test]
async fn no_image_is_admitted_only_by_the_scratch_switch() {
    let w = world(DockerSection::default()).await;
    let (status, body) = create(&w, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("names no image"), "{body}");
    assert!(!forwarded(&w, "POST /containers/create"));
    assert!(!authz_create(&w, None).await.allow);

    let w = world(DockerSection {
        allow_scratch: true,
        ..DockerSection::default()
    })
    .await;
    let (status, body) = create(&w, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(authz_create(&w, None).await.allow);
    w.dockerd.add_container("empty", &"9".repeat(64), "");
    let ((status, body), a) = start(&w, "empty").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(a.allow, "{a:?}");
}

#[tokio::test]
async fn a_hijack_the_daemon_closes_early_ends_the_client_session() {
    let w = world(DockerSection::default()).await;
    w.dockerd.hijack(Hijack::CloseEarly);
    let mut s = connect(&w.proxy).await;
    let mut req = request(
        "POST",
        "/v1.43/containers/web/attach?stream=1&stdout=1",
        None,
    );
    req.headers_mut()
        .insert("connection", "Upgrade".parse().unwrap());
    req.headers_mut().insert("upgrade", "tcp".parse().unwrap());
    let resp = s.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
    let io = hyper::upgrade::on(resp).await.unwrap();
    let mut io = TokioIo::new(io);
    let mut got = Vec::new();
    // What the daemon wrote, then the end: the proxy closes the client's side too.
    tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut got))
        .await
        .expect("the client's session did not end")
        .unwrap();
    assert_eq!(got, b"early bye");

    // An echoing session passes both ways.
    w.dockerd.hijack(Hijack::Echo);
    let mut s = connect(&w.proxy).await;
    let mut req = request("POST", "/v1.43/containers/web/attach?stream=1", None);
    req.headers_mut()
        .insert("connection", "Upgrade".parse().unwrap());
    req.headers_mut().insert("upgrade", "tcp".parse().unwrap());
    let resp = s.send_request(req).await.unwrap();
    let mut io = TokioIo::new(hyper::upgrade::on(resp).await.unwrap());
    io.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    io.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn a_pull_streams_as_it_comes_pins_the_digest_and_an_error_skips_the_tag() {
    let w = world(DockerSection::default()).await;
    let release = Arc::new(Notify::new());
    w.dockerd.pull_stream(vec![
        PullLine {
            line: r#"{"status":"Pulling from app"}"#.into(),
            gate: None,
        },
        PullLine {
            line: r#"{"status":"Digest: done"}"#.into(),
            gate: Some(release.clone()),
        },
    ]);
    let mut s = connect(&w.proxy).await;
    let resp = s
        .send_request(request(
            "POST",
            "/v1.43/images/create?fromImage=fake.test/app&tag=v1",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    // The first line arrives while the daemon holds back the second.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first progress line was held back")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(first.data_ref().unwrap()).contains("Pulling from app"));
    release.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains("Digest: done"));
    let reqs = w.dockerd.requests();
    let digest = &w.signed_digest;
    // Pulled by the verified digest, then tagged as asked.
    assert!(
        reqs.contains(&format!(
            "POST /images/create?fromImage=fake.test%2Fapp&tag={}",
            digest.replace(':', "%3A")
        )),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|r| r.starts_with(&format!("POST /images/fake.test/app@{digest}/tag?repo="))),
        "{reqs:?}"
    );

    // A stream that ends in an error: passed on, and nothing is tagged.
    w.dockerd.pull_stream(vec![PullLine {
        line: r#"{"errorDetail":{"message":"boom"},"error":"boom"}"#.into(),
        gate: None,
    }]);
    let before = w.dockerd.requests().len();
    let (status, body) = call(
        &w,
        "POST",
        "/v1.43/images/create?fromImage=fake.test/app&tag=v1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("boom"), "{body}");
    let after = w.dockerd.requests();
    assert!(
        !after[before..].iter().any(|r| r.contains("/tag?")),
        "{after:?}"
    );

    // An unsigned tag is never forwarded.
    let (status, body) = call(
        &w,
        "POST",
        "/v1.43/images/create?fromImage=fake.test/app&tag=u1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("no signature is associated"), "{body}");
}

/// Wait (up to 5 s) until `ok`.
async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_store_watch_comes_back_after_a_broken_event_stream_and_catches_up() {
    let w = world(DockerSection::default()).await;
    // The first stream breaks (a line that is not JSON) when the test says; the next is held.
    let release = Arc::new(Notify::new());
    w.dockerd.event_streams(vec![vec![PullLine {
        line: "{not json".into(),
        gate: Some(release.clone()),
    }]]);
    let cfg = WatchSection {
        docker: Some(w.dockerd.socket.clone()),
        on_unverified: OnUnverified::Remove,
        ..WatchSection::default()
    };
    let (stop_tx, stop) = watch::channel(false);
    let tasks = pullguard::store::watch::start(w.gate.clone(), &cfg, stop);
    // The catch-up listing at connect: the unsigned and the mismatched images go, the signed
    // one stays.
    until("the unverified images were not removed", || {
        !w.dockerd.has_image(UNSIGNED_ID) && !w.dockerd.has_image(MISMATCH_ID)
    })
    .await;
    assert!(w.dockerd.has_image(SIGNED_ID));

    // An image arrives while the stream breaks: found by the listing on reconnect.
    w.dockerd
        .add_image("sha256:dddd", &["fake.test/app:u1"], &[]);
    release.notify_one();
    until(
        "the image that came while the stream was down was not removed",
        || !w.dockerd.has_image("sha256:dddd"),
    )
    .await;
    let events = w
        .dockerd
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /events"))
        .count();
    assert_eq!(events, 2, "{:?}", w.dockerd.requests());
    assert!(w.dockerd.has_image(SIGNED_ID));
    stop_tx.send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .unwrap()
            .unwrap();
    }
}
