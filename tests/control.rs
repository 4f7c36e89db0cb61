//! The control plane against the real daemon over its real sockets: every RPC through
//! `pullguard ctl` and a tonic client, peer-uid refusal, reload by rename / in-place write /
//! SIGHUP / RPC, a bad policy keeping the last good one, trust store changes, decision streams,
//! systemd notify + socket activation, and the unit files.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

fn generation(d: &Daemon) -> u64 {
    let out = run_ok(d.ctl().args(["status", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["policy"]["generation"].as_u64().unwrap()
}

fn wait_generation(d: &Daemon, above: u64) -> u64 {
    let start = Instant::now();
    loop {
        let g = generation(d);
        if g > above {
            return g;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no reload happened: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn policy(level: &str, store: &str) -> String {
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"ctl-{level}","registryScopes":["*"],"signatureVerification":{{"level":"{level}"}},"trustStores":["{store}"],"trustedIdentities":["*"]}}]}}"#
    )
}

fn skip_policy() -> &'static str {
    r#"{"version":"1.0","trustPolicies":[{"name":"ctl-skip","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}"#
}

#[test]
fn every_rpc_through_ctl() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "ctl signed");
    imgs.sign(&signed);
    imgs.push("bad", "ctl unsigned");
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);

    let status: serde_json::Value =
        serde_json::from_str(&run_ok(d.ctl().args(["status", "-o", "json"]))).unwrap();
    assert_eq!(status["policy"]["generation"], 1);
    assert!(
        status["policy"]["source_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(status["trust_stores"][0]["name"], "pullguard.test");
    assert!(
        status["trust_stores"][0]["certs"][0]["subject"]
            .as_str()
            .unwrap()
            .contains("pullguard.test")
    );
    // notation's test certs live one day: the status warns about it.
    assert!(
        status["warnings"][0].as_str().unwrap().contains("expires"),
        "{status}"
    );
    assert_eq!(status["listeners"].as_array().unwrap().len(), 2);

    let ok = run(d.ctl().args(["verify", &format!("{}:ok", imgs.name())]));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&signed));
    let bad = run(d.ctl().args(["verify", &format!("{}:bad", imgs.name())]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no signature"));
    let json: serde_json::Value = serde_json::from_str(&run_ok(d.ctl().args([
        "verify",
        "-o",
        "json",
        &format!("{}:ok", imgs.name()),
    ])))
    .unwrap();
    assert_eq!(json["allowed"], true);
    assert_eq!(json["descriptor"]["digest"], signed);
    // Bad input: a clear status, no daemon impact.
    let garbage = run(d.ctl().args(["verify", "NOT A REFERENCE"]));
    assert_eq!(garbage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&garbage.stderr).contains("invalid reference"));
    let huge = "a".repeat(100_000);
    let out = run(d.ctl().args(["verify", &huge]));
    assert_eq!(out.status.code(), Some(2));

    let all: serde_json::Value =
        serde_json::from_str(&run_ok(d.ctl().args(["decisions", "-o", "json"]))).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
    let denied: serde_json::Value = serde_json::from_str(&run_ok(d.ctl().args([
        "decisions",
        "-o",
        "json",
        "--verdict",
        "denied",
    ])))
    .unwrap();
    assert_eq!(denied.as_array().unwrap().len(), 1);
    let last: serde_json::Value = serde_json::from_str(&run_ok(d.ctl().args([
        "decisions",
        "-o",
        "json",
        "--limit",
        "1",
    ])))
    .unwrap();
    assert_eq!(
        last[0]["cached"], true,
        "the third verify hit the cache: {last}"
    );
    let future = run(d
        .ctl()
        .args(["decisions", "--since", "2999-01-01T00:00:00Z"]));
    assert!(future.status.success() && future.stdout.is_empty());
    assert_eq!(
        run(d.ctl().args(["decisions", "--since", "yesterday"]))
            .status
            .code(),
        Some(2)
    );

    let purged: serde_json::Value =
        serde_json::from_str(&run_ok(d.ctl().args(["cache", "purge", "-o", "json"]))).unwrap();
    assert!(purged["purged"].as_u64().unwrap() >= 1);
    let pol = run_ok(d.ctl().args(["policy"]));
    assert!(pol.contains("docker-tests"));
    assert_eq!(run_ok(d.ctl().args(["health"])).trim(), "SERVING");
    let r: serde_json::Value =
        serde_json::from_str(&run_ok(d.ctl().args(["reload", "-o", "json"]))).unwrap();
    assert_eq!(r["ok"], true);
    // Nothing changed on disk: same generation.
    assert_eq!(r["generation"], 1);
}

#[test]
fn unreachable_daemon_is_exit_2() {
    let out = run(pullguard().args(["ctl", "--socket", "/nonexistent/control.sock", "status"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the pullguard daemon"));
}

#[test]
fn a_uid_not_allowed_is_refused() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[control]\nallowed_uids = [0]\n",
    );
    // Open the socket's mode so that the uid check (SO_PEERCRED), not file permissions, decides.
    run_ok(Command::new("chmod").args(["0777", d.tmp.path().to_str().unwrap()]));
    run_ok(Command::new("chmod").args(["0666", d.control.to_str().unwrap()]));
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_pullguard"))
        .args(["ctl", "--socket", d.control.to_str().unwrap(), "status"]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("uid 65534 is not allowed") && err.contains("PermissionDenied"),
        "{err}"
    );
    assert!(
        d.log().contains("peer refused"),
        "the refusal is logged: {}",
        d.log()
    );
    // Root still gets in.
    run_ok(d.ctl().arg("status"));
}

#[test]
fn reload_by_rename_in_place_sighup_and_rpc_and_bad_policy_keeps_the_old() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    imgs.push("unsigned", "reload unsigned");
    let unsigned = format!("{}:unsigned", imgs.name());
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let file = imgs.dir().join("trustpolicy.json");
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(1)
    );

    // 1. Rename into place (what editors and config managers do).
    let tmp = imgs.dir().join(".trustpolicy.json.tmp");
    std::fs::write(&tmp, skip_policy()).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let g = wait_generation(&d, 1);
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(0),
        "skip now allows"
    );

    // 2. An invalid policy, written in place: refused whole; the last good one stays.
    std::fs::write(&file, r#"{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["*"],"signatureVerification":{"level":"bogus"}}]}"#).unwrap();
    let start = Instant::now();
    loop {
        let s: serde_json::Value =
            serde_json::from_str(&run_ok(d.ctl().args(["status", "-o", "json"]))).unwrap();
        if s["last_reload_error"].as_str().unwrap().contains("bogus") {
            assert_eq!(s["policy"]["generation"].as_u64().unwrap(), g);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "reload error not reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(0),
        "old policy still in force"
    );
    let r = run(d.ctl().args(["reload"]));
    assert_eq!(r.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&r.stderr)
            .contains("invalid signature verification level \"bogus\"")
    );

    // 3. In-place write of a valid strict policy.
    std::fs::write(&file, policy("strict", "ca:pullguard.test")).unwrap();
    wait_generation(&d, g);
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(1)
    );

    // 4. SIGHUP and RPC with the watcher off: a daemon with watch = false.
    drop(d);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[control]\nwatch = false\n",
    );
    std::fs::write(&file, skip_policy()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(generation(&d), 1, "no watcher");
    d.signal("HUP");
    let g = wait_generation(&d, 1);
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(0)
    );
    std::fs::write(&file, policy("strict", "ca:pullguard.test")).unwrap();
    let r: serde_json::Value =
        serde_json::from_str(&run_ok(d.ctl().args(["reload", "-o", "json"]))).unwrap();
    assert_eq!(r["generation"].as_u64().unwrap(), g + 1);
    assert_eq!(
        run(d.ctl().args(["verify", &unsigned])).status.code(),
        Some(1)
    );
}

#[test]
fn trust_store_change_takes_effect() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let dg = imgs.push("s", "store change");
    imgs.sign(&dg);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let reference = format!("{}:s", imgs.name());
    assert_eq!(
        run(d.ctl().args(["verify", &reference])).status.code(),
        Some(0)
    );
    // Replace the store's certificate with another CA: the signature is no longer trusted.
    let other = pki(KeySpec::Rsa(2048), "other", CertOpts::default());
    let store = imgs.dir().join("truststore/x509/ca/pullguard.test");
    for e in std::fs::read_dir(&store).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    std::fs::write(store.join("other.pem"), other.root.to_pem().unwrap()).unwrap();
    wait_generation(&d, 1);
    let out = run(d.ctl().args(["verify", &reference]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not contain any trusted certificate")
    );
}

#[test]
fn decisions_stream_while_pulls_happen() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let dg = imgs.push("w", "watch me");
    imgs.sign(&dg);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let mut watch = d
        .ctl()
        .args(["decisions", "--follow", "-o", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    run_ok(d.docker().args(["pull", &format!("{}:w", imgs.name())]));
    let _ = run(d
        .docker()
        .args(["pull", &format!("{}:missing", imgs.name())]));
    let mut lines = std::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["verdict"], "allowed");
    assert_eq!(first["origin"], "docker");
    assert_eq!(first["digest"], dg);
    let second: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["verdict"], "denied");
    let _ = watch.kill();
    let _ = watch.wait();
    // A watcher that never reads does not hold the daemon back.
    let mut stuck = d
        .ctl()
        .args(["decisions", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..50 {
        run(d.ctl().args(["verify", &format!("{}:w", imgs.name())]));
    }
    run_ok(d.ctl().arg("status"));
    let _ = stuck.kill();
    let _ = stuck.wait();
}

#[test]
fn invalid_policy_at_startup_lists_every_problem_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["*"],"signatureVerification":{"level":"bogus"},"trustStores":["nope"],"trustedIdentities":["*"]},{"name":"a","registryScopes":["bad scope"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#,
    )
    .unwrap();
    let out = run(pullguard().args([
        "serve",
        "--config",
        "/dev/null",
        "--policy-dir",
        tmp.path().to_str().unwrap(),
        "--docker-listen",
        tmp.path().join("d.sock").to_str().unwrap(),
        "--control-listen",
        tmp.path().join("c.sock").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid signature verification level \"bogus\""),
        "{err}"
    );
    assert!(
        err.contains("malformed trust store value \"nope\""),
        "{err}"
    );
    assert!(
        err.contains("multiple oci trust policy statements use the same name \"a\""),
        "{err}"
    );
    assert!(err.contains("refusing to start"), "{err}");
    assert!(!tmp.path().join("d.sock").exists());
}

/// A harness that passes two listening sockets (LISTEN_FDS/LISTEN_FDNAMES) and a NOTIFY_SOCKET
/// to the daemon, like systemd does, and prints what the daemon notifies.
const HARNESS: &str = r#"
import os, socket, sys, time, signal, select, subprocess, json
binary, policy, upstream, work = sys.argv[1:5]
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(os.path.join(work, "notify.sock"))
docker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); docker.bind(os.path.join(work, "docker.sock")); docker.listen(16)
control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); control.bind(os.path.join(work, "control.sock")); control.listen(16)
mirror = socket.socket(socket.AF_INET, socket.SOCK_STREAM); mirror.bind(("127.0.0.1", 0)); mirror.listen(16)
with open(os.path.join(work, "config.toml"), "w") as f:
    f.write('[mirror]\nupstreams = ["127.0.0.1:5000"]\n')
pid = os.fork()
if pid == 0:
    os.dup2(docker.fileno(), 3); os.dup2(control.fileno(), 4); os.dup2(mirror.fileno(), 5)
    for fd in (3, 4, 5): os.set_inheritable(fd, True)
    env = dict(os.environ, LISTEN_PID=str(os.getpid()), LISTEN_FDS="3", LISTEN_FDNAMES="docker:control:mirror",
               NOTIFY_SOCKET=os.path.join(work, "notify.sock"), WATCHDOG_USEC="400000", WATCHDOG_PID=str(os.getpid()))
    os.execve(binary, [binary, "serve", "--config", os.path.join(work, "config.toml"), "--policy-dir", policy, "--docker-upstream", upstream,
                       "--docker-listen", os.path.join(work, "unused-docker.sock"), "--control-listen", os.path.join(work, "unused-control.sock")], env)
def recv(timeout):
    r, _, _ = select.select([notify], [], [], timeout)
    return notify.recv(4096).decode() if r else None
def expect(word, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        m = recv(end - time.time())
        if m is None: break
        print("notify:", m.replace("\n", " | "), flush=True)
        if word in m.split("\n"): return
    print("missing:", word, flush=True); os.kill(pid, signal.SIGKILL); sys.exit(1)
expect("READY=1")
expect("WATCHDOG=1")
# the activated sockets are the ones served
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(os.path.join(work, "docker.sock"))
c.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"); print("ping:", c.recv(4096).split(b"\r\n")[0].decode(), flush=True)
m = socket.create_connection(mirror.getsockname())
m.sendall(b"GET /v2/ HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n"); print("mirror:", m.recv(4096).split(b"\r\n")[0].decode(), flush=True)
print("mirror addr: %s:%d" % mirror.getsockname(), flush=True)
st = subprocess.run([binary, "ctl", "status", "-o", "json"], capture_output=True, text=True,
                    env=dict(os.environ, PULLGUARD_CONTROL_SOCKET=os.path.join(work, "control.sock")))
print("listeners:", json.dumps(json.loads(st.stdout)["listeners"]), flush=True)
os.kill(pid, signal.SIGHUP)
expect("RELOADING=1"); expect("READY=1")
os.kill(pid, signal.SIGTERM)
expect("STOPPING=1")
_, status = os.waitpid(pid, 0)
print("exit:", os.waitstatus_to_exitcode(status), flush=True)
print("sockets kept:", os.path.exists(os.path.join(work, "docker.sock")), not os.path.exists(os.path.join(work, "unused-docker.sock")), flush=True)
"#;

#[test]
fn systemd_notify_and_socket_activation() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let work = tempfile::tempdir().unwrap();
    let out = run(Command::new("python3").args([
        "-c",
        HARNESS,
        env!("CARGO_BIN_EXE_pullguard"),
        imgs.dir().to_str().unwrap(),
        &p.docker_sock,
        work.path().to_str().unwrap(),
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("notify: "))
        .flat_map(|m| m.split(" | "))
        .filter(|w| ["READY=1", "RELOADING=1", "STOPPING=1"].contains(w))
        .collect();
    assert_eq!(
        order,
        ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
        "{text}"
    );
    assert!(
        text.contains("MONOTONIC_USEC="),
        "RELOADING carries MONOTONIC_USEC: {text}"
    );
    assert!(text.contains("STATUS=generation 1"), "{text}");
    assert!(text.contains("ping: HTTP/1.1 200 OK"), "{text}");
    assert!(
        text.contains("mirror: HTTP/1.1 200 OK"),
        "the activated mirror socket is served: {text}"
    );
    assert!(text.contains("exit: 0"), "{text}");
    assert!(text.contains("sockets kept: True True"), "{text}");

    // The sockets systemd passed, by name, at their real addresses: in `ctl status` and the log.
    let w = work.path().display();
    let mirror = text
        .lines()
        .find_map(|l| l.strip_prefix("mirror addr: "))
        .unwrap_or_else(|| panic!("{text}"));
    let listeners: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("listeners: "))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        listeners,
        [
            format!("docker unix://{w}/docker.sock (systemd)"),
            format!("control unix://{w}/control.sock (systemd)"),
            format!("mirror http://{mirror} (systemd)"),
        ]
    );
    let log = String::from_utf8_lossy(&out.stderr);
    let serving = log
        .lines()
        .find(|l| l.contains("pullguard serving"))
        .unwrap_or_else(|| panic!("{log}"));
    for want in [
        format!("docker=unix://{w}/docker.sock"),
        format!("control=unix://{w}/control.sock"),
        format!("mirror=http://{mirror}"),
        "activated=docker,control,mirror".to_string(),
    ] {
        assert!(serving.contains(&want), "{want} in {serving}");
    }
    assert!(
        !serving.contains("unused-") && !serving.contains("Some("),
        "{serving}"
    );
    // The SIGHUP found nothing changed, and says so (once, at info).
    assert_eq!(log.matches("trust policy unchanged").count(), 1, "{log}");
}

#[test]
fn unit_files_pass_systemd_analyze_verify() {
    let tool = Path::new("/usr/bin/systemd-analyze");
    assert!(
        tool.exists(),
        "systemd-analyze is missing: apt-get install systemd"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let service = std::fs::read_to_string(format!("{root}/systemd/pullguard.service")).unwrap();
    // verify checks that ExecStart exists: point it at the binary under test.
    std::fs::write(
        dir.path().join("pullguard.service"),
        service.replace("/usr/bin/pullguard", env!("CARGO_BIN_EXE_pullguard")),
    )
    .unwrap();
    for s in [
        "pullguard.socket",
        "pullguard-control.socket",
        "pullguard-mirror.socket",
        "pullguard-authz.socket",
    ] {
        std::fs::copy(format!("{root}/systemd/{s}"), dir.path().join(s)).unwrap();
    }
    // --man=no: the unit's man:pullguard-serve(1) is installed by the package, not here
    // (scripts/test-package.sh verifies the installed units with it).
    let out = run(Command::new(tool).current_dir(dir.path()).args([
        "verify",
        "--man=no",
        "pullguard.service",
        "pullguard.socket",
        "pullguard-control.socket",
        "pullguard-mirror.socket",
        "pullguard-authz.socket",
    ]));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
