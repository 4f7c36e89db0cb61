//! The Docker guard against the real dockerd from ../shared/peers, driven by the real `docker`
//! CLI with DOCKER_HOST on pullguard's socket.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

/// These tests share one dockerd: they run one at a time. In parallel, 200 concurrent pulls next
/// to cancelled pulls and other tests' pulls can stall dockerd for a minute on 2 cores.
static DOCKERD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn image_exists(reference: &str) -> bool {
    run(direct_docker().args(["image", "inspect", reference]))
        .status
        .success()
}

#[test]
fn signed_pull_succeeds_and_is_tagged_unsigned_is_denied() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", "signed content");
    imgs.sign(&signed);
    imgs.push("unsigned", "unsigned content");
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);

    let out = run(d
        .docker()
        .args(["pull", &format!("{}:signed", imgs.name())]));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    let inspect =
        run_ok(direct_docker().args(["image", "inspect", &format!("{}:signed", imgs.name())]));
    assert!(
        inspect.contains(&signed),
        "pulled by the verified digest: {inspect}"
    );

    let out = run(d
        .docker()
        .args(["pull", &format!("{}:unsigned", imgs.name())]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pullguard: denied") && err.contains("no signature"),
        "{err}"
    );
    assert!(
        err.contains("docker-tests"),
        "the message names the policy: {err}"
    );
    assert!(
        !image_exists(&format!("{}:unsigned", imgs.name())),
        "nothing pulled"
    );

    // The tag moves to unsigned content after signing: denied.
    imgs.push("signed", "moved content");
    run(direct_docker().args(["rmi", "-f", &format!("{}:signed", imgs.name())]));
    let out = run(d
        .docker()
        .args(["pull", &format!("{}:signed", imgs.name())]));
    assert!(!out.status.success(), "moved tag must be denied");
    assert!(!image_exists(&format!("{}:signed", imgs.name())));

    // Pull by digest of the signed content still works.
    let out = run(d
        .docker()
        .args(["pull", &format!("{}@{signed}", imgs.name())]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Untrusted signer.
    let other = Images::new(&p.registry);
    let dg = other.push("x", "untrusted");
    other.sign(&dg); // other's key is not in imgs' trust store
    let out = run(d.docker().args(["pull", &format!("{}:x", other.name())]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not contain any trusted certificate")
    );

    // All-tags pulls are denied.
    let out = run(d.docker().args(["pull", "--all-tags", &imgs.name()]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("all tags"));
}

#[test]
fn create_of_local_unverified_image_is_refused() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "ok content");
    imgs.sign(&signed);
    imgs.push("bad", "bad content");
    // Pulled behind pullguard's back, straight from dockerd.
    run_ok(direct_docker().args(["pull", &format!("{}:bad", imgs.name())]));
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let out = run(d.docker().args([
        "create",
        "--pull=never",
        &format!("{}:bad", imgs.name()),
        "/true",
    ]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pullguard") && err.contains("denied"), "{err}");
    assert!(!err.contains("No such image"), "never a 404: {err}");

    run_ok(d.docker().args(["pull", &format!("{}:ok", imgs.name())]));
    let out = run(d
        .docker()
        .args(["create", &format!("{}:ok", imgs.name()), "/true"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    run(direct_docker().args(["rm", "-f", &id]));

    // Not on the host yet: the CLI gets dockerd's 404, pulls through the guard, creates.
    let fresh = imgs.push("fresh", "created on demand");
    imgs.sign(&fresh);
    let out = run(d
        .docker()
        .args(["create", &format!("{}:fresh", imgs.name()), "/true"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let inspect = run_ok(direct_docker().args(["container", "inspect", &id]));
    assert!(
        inspect.contains(&format!("{}:fresh", imgs.name())),
        "the container keeps the name"
    );
    run(direct_docker().args(["rm", "-f", &id]));
}

#[test]
fn other_api_calls_pass_through_unchanged() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let via = run_ok(d.docker().args([
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Version}}",
    ]));
    let direct = run_ok(direct_docker().args([
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Version}}",
    ]));
    assert_eq!(via, direct);
    imgs.push("local", "inspect me");
    let local = format!("{}:local", imgs.name());
    run_ok(direct_docker().args(["pull", &local]));
    let via = run_ok(d.docker().args(["image", "inspect", &local]));
    let direct = run_ok(direct_docker().args(["image", "inspect", &local]));
    assert_eq!(via, direct);
    let via = run_ok(d.docker().args([
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        &imgs.name(),
    ]));
    assert_eq!(via.trim(), local);
    run_ok(d.docker().args(["info", "--format", "{{.ID}}"]));
    // /_ping headers come through untouched.
    let ping = |sock: &str| {
        let mut s = UnixStream::connect(sock).unwrap();
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let mut h: Vec<String> = out
            .lines()
            .filter(|l| l.contains(':') && !l.to_ascii_lowercase().starts_with("date:"))
            .map(|l| l.to_ascii_lowercase())
            .collect();
        h.sort();
        h
    };
    assert_eq!(ping(d.sock.to_str().unwrap()), ping(&p.docker_sock));
    // A streaming endpoint: events between two instants.
    let since = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 5)
    .to_string();
    let until = (since.parse::<u64>().unwrap() + 6).to_string();
    run_ok(
        d.docker()
            .args(["events", "--since", &since, "--until", &until]),
    );
    // Disabled by default: image load and build.
    let out = run(d.docker().args(["load", "-i", "/dev/null"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("image load is disabled"), "{err}");
    // BuildKit's session endpoint is a build path too.
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.write_all(b"POST /v1.41/session HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut head = [0u8; 512];
    let n = s.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(
        head.starts_with("HTTP/1.1 403") && head.contains("image build is disabled"),
        "{head}"
    );
}

#[test]
fn upstream_gone_is_a_clear_error_and_the_daemon_keeps_serving() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let missing = imgs.home.join("no-such-docker.sock");
    let d = Daemon::start(&imgs.dir(), missing.to_str().unwrap(), &p.registry);
    for _ in 0..3 {
        let out = run(d.docker().args(["version"]));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the Docker daemon"));
    }
    let out = run(d.docker().args(["pull", &format!("{}:nope", imgs.name())]));
    assert!(!out.status.success());
}

/// A fake daemon that answers an `Upgrade: tcp` request with 101, then echoes upper-cased
/// input until the client half-closes, then says BYE: the real dockerd here runs no
/// containers, so attach/exec cannot be exercised against it.
fn fake_hijack_daemon(path: &Path) -> std::thread::JoinHandle<()> {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
        }
        let mut w = s;
        w.write_all(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n].to_ascii_uppercase()).unwrap();
        }
        w.write_all(b"BYE").unwrap();
    })
}

#[test]
fn hijacked_attach_is_spliced_both_ways_with_half_close() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let fake = imgs.home.join("fake-docker.sock");
    let t = fake_hijack_daemon(&fake);
    let d = Daemon::start(&imgs.dir(), fake.to_str().unwrap(), &p.registry);
    let mut s = UnixStream::connect(&d.sock).unwrap();
    s.write_all(b"POST /v1.41/containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s.write_all(b"hello hijack").unwrap();
    let mut got = [0u8; 12];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"HELLO HIJACK");
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    s.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "BYE");
    t.join().unwrap();
}

#[test]
fn concurrent_pulls_of_one_new_image_cause_one_verification() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let digest = imgs.push("many", "many pulls");
    imgs.sign(&digest);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let sock = d.sock.clone();
    let query = format!(
        "/v1.41/images/create?fromImage={}&tag=many",
        imgs.name().replace(':', "%3A").replace('/', "%2F")
    );
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let sock = sock.clone();
            let query = query.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&sock).unwrap();
                s.write_all(format!("POST {query} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                out
            })
        })
        .collect();
    let mut ok = 0;
    for t in threads {
        let out = t.join().unwrap();
        if out.starts_with("HTTP/1.1 200") && !out.contains("errorDetail") {
            ok += 1;
        } else {
            eprintln!("{}", &out[..out.len().min(400)]);
        }
    }
    assert_eq!(ok, 200);
    let decisions = d.decisions(&digest);
    assert_eq!(decisions.len(), 200, "{}", d.log());
    assert_eq!(
        decisions.iter().filter(|(_, cached)| !cached).count(),
        1,
        "exactly one verification"
    );
    assert!(decisions.iter().all(|(v, _)| v == "allowed"));
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn task_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn client_disconnect_mid_pull_and_hanging_registry_leave_no_leak() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    // A few MB so the pull is still streaming when the client goes away.
    let big: String = (0..400_000).map(|i| format!("{i:x}")).collect();
    let dg = imgs.push("big", &big);
    imgs.sign(&dg);
    // A fake registry that accepts connections and never answers (a fault the real one cannot
    // produce on demand).
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hang.local_addr().unwrap().to_string();
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!("registry_timeout_secs = 1\ninsecure_registries = [\"{hang_addr}\"]\n"),
    );
    let pid = d.child.id();
    // Warm up once (a full pull fills the registry connection pool), then take the baseline.
    run_ok(d.docker().args(["pull", &format!("{}:big", imgs.name())]));
    std::thread::sleep(Duration::from_millis(200));
    let (fds0, tasks0) = (fd_count(pid), task_count(pid));

    for _ in 0..5 {
        run(direct_docker().args(["rmi", "-f", &format!("{}:big", imgs.name())]));
        let mut s = UnixStream::connect(&d.sock).unwrap();
        let q = format!(
            "POST /v1.41/images/create?fromImage={}&tag=big HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
            imgs.name().replace(':', "%3A").replace('/', "%2F")
        );
        s.write_all(q.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        drop(s); // the client goes away mid-stream
    }
    // Pulls from a registry that hangs: denied within the timeout, with the reason.
    let started = Instant::now();
    let out = run(d.docker().args(["pull", &format!("{hang_addr}/x/y:1")]));
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pullguard: denied") && err.contains("timed out"),
        "{err}"
    );
    drop(hang);

    // Still serving, and back to the baseline of fds and threads.
    run_ok(d.docker().args(["version"]));
    let start = Instant::now();
    loop {
        let (fds, tasks) = (fd_count(pid), task_count(pid));
        if fds <= fds0 + 4 && tasks <= tasks0 + 2 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "leak: fds {fds0} -> {fds}, threads {tasks0} -> {tasks}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn multi_arch_index_and_the_platform_signature_option() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let mut children = Vec::new();
    for plat in ["linux/amd64", "linux/arm64"] {
        let tag = plat.replace('/', "-");
        imgs.push(&tag, &format!("content for {plat}"));
        let out = run_ok(Command::new("crane").args([
            "mutate",
            "--insecure",
            "--set-platform",
            plat,
            &format!("{}:{tag}", imgs.name()),
        ]));
        children.push(out.trim().rsplit('@').next().unwrap().to_string());
    }
    let index_ref = format!("{}:multi", imgs.name());
    run_ok(Command::new("crane").args([
        "index",
        "append",
        "--insecure",
        "-m",
        &format!("{}:linux-amd64", imgs.name()),
        "-m",
        &format!("{}:linux-arm64", imgs.name()),
        "-t",
        &index_ref,
    ]));
    let index = run_ok(Command::new("crane").args(["digest", "--insecure", &index_ref]))
        .trim()
        .to_string();
    imgs.sign(&index);

    // Default: the signature on the index covers its children.
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let out = run(d.docker().args(["pull", &index_ref]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(direct_docker().args(["rmi", "-f", &index_ref]));
    drop(d);

    // require_platform_signature: the amd64 manifest must be signed too, and is what is pulled.
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "require_platform_signature = true\n",
    );
    let out = run(d.docker().args(["pull", &index_ref]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must be signed too") && err.contains(&children[0]),
        "{err}"
    );
    // The control API's Verify (used by `ctl verify` and the containerd verifier) agrees.
    let out = run(d.ctl().args(["verify", &index_ref]));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be signed too"));
    imgs.sign(&children[0]);
    // The denial is cached briefly (negative TTL); an admin who just signed purges it.
    run_ok(d.ctl().args(["cache", "purge"]));
    let out = run(d.docker().args(["pull", &index_ref]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspect = run_ok(direct_docker().args(["image", "inspect", &index_ref]));
    assert!(
        inspect.contains(&children[0]),
        "pinned to the platform manifest: {inspect}"
    );
    // An arm64 pull wants the arm64 manifest signed.
    let out = run(d
        .docker()
        .args(["pull", "--platform", "linux/arm64", &index_ref]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&children[1]));
}

/// One raw HTTP exchange on a Unix socket; returns the whole answer.
fn raw(sock: &Path, request: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn post(path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn requests_dockerd_reads_differently_are_not_a_way_around() {
    let _one_at_a_time = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "parser ok");
    imgs.sign(&signed);
    imgs.push("bad", "parser bad");
    run_ok(direct_docker().args(["pull", &format!("{}:bad", imgs.name())]));
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[docker]\nallow_import = true\n",
    );
    let refused = |answer: &str| answer.starts_with("HTTP/1.1 403") && answer.contains("pullguard");

    // Percent-encoded route: dockerd decodes the path, so the guard does too.
    let a = raw(
        &d.sock,
        &post(
            &format!(
                "/v1.41/images/%63reate?fromImage={}&tag=bad",
                enc(&imgs.name())
            ),
            "",
            b"",
        ),
    );
    assert!(refused(&a) && a.contains("no signature"), "{a}");
    let a = raw(&d.sock, &post("/v1.41/images/%6coad", "", b""));
    assert!(refused(&a) && a.contains("image load is disabled"), "{a}");

    // A form body would override the verified query in dockerd.
    let a = raw(
        &d.sock,
        &post(
            &format!(
                "/v1.41/images/create?fromImage={}&tag=ok",
                enc(&imgs.name())
            ),
            "Content-Type: application/x-www-form-urlencoded\r\n",
            format!("fromImage={}&tag=bad", enc(&imgs.name())).as_bytes(),
        ),
    );
    assert!(refused(&a) && a.contains("form-encoded"), "{a}");

    // fromSrc next to fromImage is a pull to dockerd, so it is guarded as one (even with imports on).
    let a = raw(
        &d.sock,
        &post(
            &format!(
                "/v1.41/images/create?fromImage={}&tag=bad&fromSrc=-",
                enc(&imgs.name())
            ),
            "",
            b"",
        ),
    );
    assert!(refused(&a) && a.contains("no signature"), "{a}");

    // containers/create bodies pullguard cannot read unambiguously are refused, not forwarded.
    let bad = format!("{}:bad", imgs.name());
    let ok = format!("{}:ok", imgs.name());
    let bodies: Vec<Vec<u8>> = vec![
        format!(r#"{{"image":"{bad}"}}"#).into_bytes(),
        format!(r#"{{"Image":"{ok}","image":"{bad}"}}"#).into_bytes(),
        [
            format!(r#"{{"Image":"{bad}","Labels":{{"x":""#).into_bytes(),
            vec![0xff],
            br#""}}"#.to_vec(),
        ]
        .concat(),
        format!(r#"{{"Image":"{bad}"}} trailing"#).into_bytes(),
    ];
    for body in bodies {
        let a = raw(
            &d.sock,
            &post(
                "/v1.41/containers/create",
                "Content-Type: application/json\r\n",
                &body,
            ),
        );
        assert!(refused(&a), "{}: {a}", String::from_utf8_lossy(&body));
    }

    // Plugin names with slashes.
    let a = raw(
        &d.sock,
        &post("/v1.41/plugins/a/b:latest/upgrade?remote=x", "", b""),
    );
    assert!(
        refused(&a) && a.contains("plugin install is disabled"),
        "{a}"
    );
}
