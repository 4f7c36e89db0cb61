//! The side doors of a Docker host, tried as an attacker would through pullguard's proxy socket
//! against the real dockerd: containers with no image, starts of containers whose image does
//! not verify, commits, the create race with client hang-ups, and the drain on SIGTERM. The
//! payload is a static binary that prints its image's `/msg`, so each test can tell what ran.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

/// These tests share the peers' dockerd with each other: one at a time.
static DOCKERD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    DOCKERD.lock().unwrap_or_else(|e| e.into_inner())
}

/// One raw HTTP exchange on a Unix socket; returns the whole answer.
fn raw(sock: &Path, request: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The container's state as dockerd reports it: (status, ever started).
fn state(id: &str) -> (String, bool) {
    let out = run_ok(direct_docker().args([
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.StartedAt}}",
        id,
    ]));
    let mut it = out.split_whitespace();
    let status = it.next().unwrap_or("").to_string();
    let started = it.next().unwrap_or("");
    (status, !started.starts_with("0001-01-01"))
}

fn rm(id: &str) {
    run(direct_docker().args(["rm", "-f", id]));
}

#[test]
fn a_signed_image_runs_and_a_container_from_an_unverified_image_cannot_start() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("signed", "hello from the signed image");
    imgs.sign(&signed);
    imgs.push_runnable("unsigned", "UNSIGNED CODE RAN");
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);

    // The verified image runs, through the proxy, and prints its own output.
    let out = run(d.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{}:signed", imgs.name()),
    ]));
    assert!(out.status.success(), "{}\n{}", stderr_of(&out), d.log());
    assert_eq!(stdout_of(&out).trim(), "hello from the signed image");

    // An unverified image created behind pullguard's back (the raw socket).
    let bad = format!("{}:unsigned", imgs.name());
    run_ok(direct_docker().args(["pull", &bad]));
    let id = run_ok(direct_docker().args([
        "create",
        "--network",
        "none",
        "--name",
        &format!("pg-side-{}", std::process::id()),
        &bad,
    ]))
    .trim()
    .to_string();
    for (how, target) in [
        ("start", id.as_str()),
        ("start", &format!("pg-side-{}", std::process::id())),
        ("restart", id.as_str()),
    ] {
        let out = run(d.docker().args([how, target]));
        assert!(!out.status.success(), "{how} {target} must be refused");
        let err = stderr_of(&out);
        assert!(
            err.contains("pullguard")
                && err.contains("cannot start")
                && err.contains("no RepoDigest verifies")
                && err.contains("docker-tests"),
            "the denial names the container, the image and the policy: {err}"
        );
        assert!(!err.contains("UNSIGNED CODE RAN"));
    }
    assert_eq!(state(&id), ("created".into(), false), "it never ran");

    // `docker run` of the unverified image through the proxy: refused at create already.
    let out = run(d
        .docker()
        .args(["run", "--rm", "--network", "none", "--pull=never", &bad]));
    assert!(!out.status.success());
    assert!(!stdout_of(&out).contains("UNSIGNED CODE RAN"));

    // A container that was verified and started once: started again, it is checked again
    // (and still verifies).
    let ok = run_ok(d.docker().args([
        "create",
        "--network",
        "none",
        &format!("{}:signed", imgs.name()),
    ]))
    .trim()
    .to_string();
    let out = run(d.docker().args(["start", "-a", &ok]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).trim(), "hello from the signed image");
    let out = run(d.docker().args(["start", "-a", &ok]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    // No such container: a 404 like dockerd's (never a forward of a name that might appear).
    let out = run(d.docker().args(["start", "pg-no-such-container-xyz"]));
    assert!(
        stderr_of(&out).contains("No such container"),
        "{}",
        stderr_of(&out)
    );
    rm(&id);
    rm(&ok);
}

/// An image mount (`HostConfig.Mounts[]` of `Type` `image`, Engine API 1.48+) puts another
/// image's programs in a verified image's container, to run as its entrypoint: the mounted
/// image must verify too, at create (before dockerd sees the request, whatever its version)
/// and at start.
#[test]
fn an_image_mount_of_an_unverified_image_is_refused() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("signed", "hello from the signed image");
    imgs.sign(&signed);
    imgs.push_runnable("unsigned", "UNSIGNED CODE RAN");
    let bad = format!("{}:unsigned", imgs.name());
    let good = format!("{}:signed", imgs.name());
    run_ok(direct_docker().args(["pull", &bad]));
    run_ok(direct_docker().args(["pull", &good]));
    let body = |source: &str| {
        format!(
            r#"{{"Image":"{good}","Entrypoint":["/x/payload"],"HostConfig":{{"NetworkMode":"none","Mounts":[{{"Type":"image","Source":"{source}","Target":"/x"}}]}}}}"#
        )
    };
    // Off by default: refused, even of a verified image.
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let answer = raw(
        &d.sock,
        &post_json("/v1.41/containers/create", &body(&good)),
    );
    assert!(
        answer.starts_with("HTTP/1.1 403") && answer.contains("docker.allow_image_mounts"),
        "{answer}"
    );
    drop(d);
    // Switched on: the mounted image must verify.
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[docker]\nallow_image_mounts = true\n",
    );
    let answer = raw(&d.sock, &post_json("/v1.41/containers/create", &body(&bad)));
    assert!(
        answer.starts_with("HTTP/1.1 403")
            && answer.contains("image mount")
            && answer.contains("does not verify: no RepoDigest verifies")
            && answer.contains("no signature"),
        "{answer}"
    );
    // A verified mount source passes pullguard's check (this dockerd may not know image
    // mounts: whatever it answers is its own).
    let answer = raw(
        &d.sock,
        &post_json("/v1.41/containers/create", &body(&good)),
    );
    assert!(!answer.contains("image mount"), "{answer}");
    if let Some(id) = answer
        .split("\"Id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
    {
        rm(id);
    }
}

#[test]
fn a_container_with_no_image_is_refused_at_create_and_at_start() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    for body in [
        r#"{"Cmd":["/hello"],"HostConfig":{"NetworkMode":"none"}}"#,
        r#"{"Image":"","Cmd":["/hello"],"HostConfig":{"NetworkMode":"none"}}"#,
        r#"{"Image":null,"Cmd":["/hello"],"HostConfig":{"NetworkMode":"none"}}"#,
    ] {
        let answer = raw(&d.sock, &post_json("/v1.41/containers/create", body));
        assert!(answer.starts_with("HTTP/1.1 403"), "{body}: {answer}");
        assert!(
            answer.contains("names no image") && answer.contains("docker.allow_scratch"),
            "{answer}"
        );
    }

    // dockerd itself accepts such a create: made on the raw socket, a binary copied in...
    let answer = raw(
        Path::new(&p.docker_sock),
        &post_json(
            "/v1.41/containers/create",
            r#"{"Cmd":["/hello"],"HostConfig":{"NetworkMode":"none"}}"#,
        ),
    );
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "dockerd 20.10 creates it: {answer}"
    );
    let body = &answer[answer.find('{').unwrap()..];
    let id = serde_json::from_str::<serde_json::Value>(&body[..=body.rfind('}').unwrap()]).unwrap()
        ["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::payload::hello_binary(), dir.path().join("hello")).unwrap();
    std::fs::write(dir.path().join("msg"), "SCRATCH CODE RAN\n").unwrap();
    run_ok(direct_docker().args([
        "cp",
        &format!("{}/hello", dir.path().display()),
        &format!("{id}:/hello"),
    ]));
    run_ok(direct_docker().args([
        "cp",
        &format!("{}/msg", dir.path().display()),
        &format!("{id}:/msg"),
    ]));
    // ...cannot be started through the proxy.
    let out = run(d.docker().args(["start", "-a", &id]));
    assert!(!out.status.success());
    assert!(
        stderr_of(&out).contains("it has no image"),
        "{}",
        stderr_of(&out)
    );
    assert!(!stdout_of(&out).contains("SCRATCH CODE RAN"));
    assert_eq!(state(&id), ("created".into(), false));
    rm(&id);
}

#[test]
fn joining_or_creating_a_swarm_is_refused_by_default() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    // Bodies dockerd itself would reject, so nothing changes even if one got through.
    for (path, body) in [
        ("/v1.41/swarm/init", r#"{"ListenAddr":"not an address"}"#),
        ("/v1.41/swarm/join", r#"{"RemoteAddrs":[],"JoinToken":"x"}"#),
    ] {
        let answer = raw(&d.sock, &post_json(path, body));
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert!(answer.contains("docker.allow_services"), "{answer}");
    }
}

#[test]
fn commit_is_refused_by_default() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("c", "commit source");
    imgs.sign(&signed);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let id =
        run_ok(
            d.docker()
                .args(["create", "--network", "none", &format!("{}:c", imgs.name())]),
        )
        .trim()
        .to_string();
    let out = run(d
        .docker()
        .args(["commit", &id, &format!("{}:c", imgs.name())]));
    assert!(!out.status.success(), "commit must be refused");
    assert!(
        stderr_of(&out).contains("docker.allow_commit"),
        "{}",
        stderr_of(&out)
    );
    // The tag of the verified image is untouched.
    let inspect = run_ok(direct_docker().args([
        "image",
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &format!("{}:c", imgs.name()),
    ]));
    assert!(inspect.contains(&signed), "{inspect}");
    rm(&id);
}

/// The create race: a name flipped between a verified and an unverified local image while
/// creates through the proxy hang up at varying delays. No container from the unverified
/// image may be left, and none may start.
#[test]
fn the_create_race_with_client_hang_ups_leaves_nothing_runnable() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    let good = imgs.push_runnable("good", "good");
    imgs.sign(&good);
    imgs.push_runnable("evil", "EVIL RAN");
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    run_ok(d.docker().args(["pull", &format!("{}:good", imgs.name())]));
    run_ok(direct_docker().args(["pull", &format!("{}:evil", imgs.name())]));
    let id_of = |r: &str| {
        run_ok(direct_docker().args(["image", "inspect", "-f", "{{.Id}}", r]))
            .trim()
            .to_string()
    };
    let good_id = id_of(&format!("{}:good", imgs.name()));
    let evil_id = id_of(&format!("{}:evil", imgs.name()));
    let racy = format!("{}:racy", imgs.name());
    let label = format!("pg-race-{}", std::process::id());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (sock, stop, good_id, evil_id, repo) = (
            d.sock.clone(),
            stop.clone(),
            good_id.clone(),
            evil_id.clone(),
            imgs.name(),
        );
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let id = if n.is_multiple_of(2) {
                    &good_id
                } else {
                    &evil_id
                };
                let q = format!(
                    "POST /v1.41/images/{id}/tag?repo={}&tag=racy HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    repo.replace(':', "%3A").replace('/', "%2F")
                );
                let _ = raw(&sock, q.as_bytes());
                n += 1;
            }
        })
    };
    let attempts = 48;
    let mut created_ok = 0;
    for i in 0..attempts {
        let body = format!(
            r#"{{"Image":"{racy}","Labels":{{"pg":"{label}"}},"HostConfig":{{"NetworkMode":"none"}}}}"#
        );
        let mut s = UnixStream::connect(&d.sock).unwrap();
        s.write_all(&post_json("/v1.41/containers/create", &body))
            .unwrap();
        if i % 3 == 2 {
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 201") {
                created_ok += 1;
            }
        } else {
            // Hang up while the create is in flight, at varying delays.
            std::thread::sleep(Duration::from_millis((i as u64 * 7) % 40));
            drop(s);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    flipper.join().unwrap();
    // Clean-up tasks run on after the hang-ups: give them a moment, then look.
    let deadline = Instant::now() + Duration::from_secs(10);
    let evil_left = loop {
        let ids = run_ok(direct_docker().args([
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label=pg={label}"),
        ]));
        // A container removed between the listing and its inspect (a clean-up finishing) is
        // not left: its inspect fails, and it does not count.
        let evil: Vec<String> = ids
            .lines()
            .filter(|c| {
                let out = run(direct_docker().args(["inspect", "-f", "{{.Image}}", c]));
                out.status.success() && stdout_of(&out).trim() == evil_id
            })
            .map(str::to_owned)
            .collect();
        if evil.is_empty() || Instant::now() > deadline {
            break (evil, ids);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (evil, all) = evil_left;
    // Whatever is left, none of it may start from the unverified image.
    for c in all.lines() {
        let out = run(d.docker().args(["start", "-a", c]));
        assert!(
            !stdout_of(&out).contains("EVIL RAN"),
            "a container from the unverified image ran"
        );
        if evil.iter().any(|e| e == c) {
            assert!(!out.status.success());
        }
    }
    assert!(
        evil.is_empty(),
        "containers from the unverified image were left: {evil:?}\n{}",
        d.log()
    );
    for c in all.lines() {
        rm(c);
    }
    eprintln!(
        "race: {attempts} creates, {created_ok} answered 201, {} containers checked",
        all.lines().count()
    );
}

/// A client that hangs up does not hold the shutdown, nor does one on an endless stream
/// (`docker events`): SIGTERM exits well before the grace period. A pull that is streaming
/// when SIGTERM comes finishes, and its tag is restored.
#[test]
fn sigterm_waits_for_pull_streams_and_not_for_hung_up_clients() {
    let _g = one_at_a_time();
    let p = peers();
    let imgs = Images::new(&p.registry);
    // A fake registry that accepts and never answers: a verification that never ends.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hang.local_addr().unwrap().to_string();
    let mut d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "shutdown_grace_secs = 20\nregistry_timeout_secs = 60\ninsecure_registries = [\"{hang_addr}\"]\n"
        ),
    );
    for _ in 0..3 {
        let mut s = UnixStream::connect(&d.sock).unwrap();
        let q = format!(
            "POST /v1.41/images/create?fromImage={hang_addr}%2Fx%2Fy&tag=1 HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(q.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    }
    // `docker events` through the proxy: a response that never ends.
    let mut events = d
        .docker()
        .arg("events")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        events.try_wait().unwrap().is_none(),
        "docker events did not stay connected"
    );
    let t = Instant::now();
    d.signal("TERM");
    let status = loop {
        if let Ok(Some(s)) = d.child.try_wait() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(25),
            "the daemon did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "hung-up clients or an endless stream held the shutdown for {:?}",
        t.elapsed()
    );
    // The events stream was cut with the daemon.
    let start = Instant::now();
    while events.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "docker events outlived the daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(hang);

    // A pull in its stream when SIGTERM arrives: it completes and is tagged.
    let big: String = (0..3_000_000)
        .map(|i| format!("{:x}", (i * 2654435761u64) % 65521))
        .collect();
    let dg = imgs.push("big", &big);
    imgs.sign(&dg);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "shutdown_grace_secs = 30\n",
    );
    let mut s = UnixStream::connect(&d.sock).unwrap();
    let q = format!(
        "POST /v1.41/images/create?fromImage={}&tag=big HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
        imgs.name().replace(':', "%3A").replace('/', "%2F")
    );
    s.write_all(q.as_bytes()).unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    d.signal("TERM");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("errorDetail"), "{text}");
    let tagged = run(direct_docker().args([
        "image",
        "inspect",
        "-f",
        "{{json .RepoDigests}}",
        &format!("{}:big", imgs.name()),
    ]));
    assert!(
        tagged.status.success(),
        "the tag was restored before the daemon exited: {text}\n{}",
        d.log()
    );
    assert!(stdout_of(&tagged).contains(&dg));
    run(direct_docker().args(["rmi", "-f", &format!("{}:big", imgs.name())]));
}
