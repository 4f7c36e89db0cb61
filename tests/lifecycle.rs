//! The daemon's lifecycle against the real binary: an idle daemon stays idle (no reloads, no
//! opens of its policy files, no notifications, ~0% CPU, with and without NOTIFY_SOCKET; counted
//! from outside by `scripts/idle-check.py` with inotify and /proc), one change reloads once, a
//! symlinked trust store is followed, one instance per socket (a second `serve` exits 2, a stale
//! socket is replaced, a daemon removes only its own socket). No registry needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

const UPSTREAM: &str = "/nonexistent/docker.sock";
const REGISTRY: &str = "127.0.0.1:9";

fn idle_check(args: &[&str]) -> serde_json::Value {
    let script = format!("{}/scripts/idle-check.py", env!("CARGO_MANIFEST_DIR"));
    let out = run_ok(
        Command::new("python3")
            .arg(script)
            .args(["--bin", env!("CARGO_BIN_EXE_pullguard"), "--json"])
            .args(args),
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn assert_idle(v: &serde_json::Value) {
    assert_eq!(v["file_opens"], 0, "policy files opened while idle: {v}");
    assert_eq!(v["dir_opens"], 0, "policy dirs listed while idle: {v}");
    assert_eq!(v["reloading"], 0, "RELOADING=1 while idle: {v}");
    assert_eq!(v["ready"], 0, "READY=1 while idle: {v}");
    assert_eq!(
        v["log_lines"],
        serde_json::json!([]),
        "log lines while idle: {v}"
    );
    assert_eq!(v["generation_before"], 1, "{v}");
    assert_eq!(v["generation_after"], 1, "{v}");
}

fn assert_one_reload(v: &serde_json::Value, notify: bool) {
    let c = &v["change"];
    assert_eq!(c["generation"], 2, "one change, one generation: {v}");
    assert_eq!(c["reloaded_log_lines"], 1, "{v}");
    if notify {
        assert_eq!(c["reloading"], 1, "one RELOADING=1: {v}");
        assert_eq!(c["ready"], 1, "one READY=1: {v}");
    }
}

#[test]
fn idle_daemon_with_notify_socket_stays_quiet_and_one_change_reloads_once() {
    let v = idle_check(&[
        "--seconds",
        "5",
        "--statements",
        "1",
        "--certs",
        "1",
        "--change",
    ]);
    assert_eq!(v["notify"], true);
    assert_idle(&v);
    assert_one_reload(&v, true);
}

#[test]
fn idle_daemon_without_notify_socket_stays_quiet_and_one_change_reloads_once() {
    let v = idle_check(&[
        "--seconds",
        "5",
        "--statements",
        "1",
        "--certs",
        "1",
        "--no-notify",
        "--change",
    ]);
    assert_eq!(v["notify"], false);
    assert_idle(&v);
    assert_one_reload(&v, false);
}

#[test]
fn a_1000_statement_policy_idles_at_zero_cpu() {
    let v = idle_check(&["--seconds", "5", "--statements", "1000", "--certs", "100"]);
    assert_idle(&v);
    let cpu = v["cpu_percent"].as_f64().unwrap();
    assert!(cpu < 1.0, "idle CPU {cpu}% of a core: {v}");
}

/// A policy dir trusting one test CA as `ca:t`.
fn policy_dir(at: &Path) -> PathBuf {
    write_policy(at, "strict", &["ca:t"]);
    pki(KeySpec::Rsa(2048), "lifecycle", CertOpts::default()).install_root(at, "ca", "t");
    at.to_path_buf()
}

fn status(control: &Path) -> Option<serde_json::Value> {
    let out = run(pullguard()
        .env("PULLGUARD_CONTROL_SOCKET", control)
        .args(["ctl", "status", "-o", "json"]));
    if out.status.success() {
        serde_json::from_slice(&out.stdout).ok()
    } else {
        None
    }
}

fn generation(control: &Path) -> u64 {
    status(control).unwrap()["policy"]["generation"]
        .as_u64()
        .unwrap()
}

fn wait_generation(control: &Path, want: u64, log: &dyn Fn() -> String) {
    let start = Instant::now();
    loop {
        let g = generation(control);
        if g == want {
            return;
        }
        assert!(g < want, "generation {g}, want {want}: {}", log());
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "generation {g}, want {want}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `pullguard serve` on these paths, logging JSON to `log`.
fn serve(policy: &Path, docker: &Path, control: &Path, log: Stdio) -> Command {
    let mut c = pullguard();
    c.args(["serve", "--config", "/dev/null", "--policy-dir"])
        .arg(policy)
        .arg("--docker-listen")
        .arg(docker)
        .args(["--docker-upstream", UPSTREAM, "--control-listen"])
        .arg(control)
        .args(["--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(log);
    c
}

fn wait_serving(child: &mut Child, control: &Path) {
    let start = Instant::now();
    while status(control).is_none() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "daemon exited before serving"
        );
        assert!(start.elapsed() < Duration::from_secs(10), "daemon not up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_serve_on_the_same_sockets_exits_2_and_the_first_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = policy_dir(&tmp.path().join("policy"));
    let d = Daemon::start(&dir, UPSTREAM, REGISTRY);

    let out = run(&mut serve(&dir, &d.sock, &d.control, Stdio::piped()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!(
            "another pullguard is serving at {}",
            d.sock.display()
        )),
        "{}",
        stderr_of(&out)
    );
    assert!(status(&d.control).is_some(), "the first still answers");
    assert!(std::os::unix::net::UnixStream::connect(&d.sock).is_ok());

    // Another Docker path but the same control socket: refused at the control socket, and the
    // Docker socket it did bind is removed again; the first daemon's sockets stay.
    let other = tmp.path().join("other-docker.sock");
    let out = run(&mut serve(&dir, &other, &d.control, Stdio::piped()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!(
            "another pullguard is serving at {}",
            d.control.display()
        )),
        "{}",
        stderr_of(&out)
    );
    assert!(
        !other.exists(),
        "the refused daemon cleans up its own socket"
    );
    assert!(status(&d.control).is_some(), "the first still answers");
    assert!(d.sock.exists() && d.control.exists());
}

#[test]
fn a_stale_socket_is_replaced_and_a_daemon_removes_only_its_own_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = policy_dir(&tmp.path().join("policy"));
    let docker = tmp.path().join("docker.sock");
    let control = tmp.path().join("control.sock");

    // A daemon killed outright leaves its socket files behind: stale (connect refused).
    let mut first = serve(&dir, &docker, &control, Stdio::null())
        .spawn()
        .unwrap();
    wait_serving(&mut first, &control);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(docker.exists() && control.exists());
    assert!(std::os::unix::net::UnixStream::connect(&control).is_err());

    // The next one replaces them and serves.
    let log_path = tmp.path().join("log.json");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut second = serve(&dir, &docker, &control, log.into()).spawn().unwrap();
    wait_serving(&mut second, &control);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(
        log().matches("removed a stale socket").count(),
        2,
        "{}",
        log()
    );

    // Someone else's socket now at the control path: on exit the daemon leaves it alone and
    // removes only the Docker socket it bound.
    std::fs::remove_file(&control).unwrap();
    let theirs = std::os::unix::net::UnixListener::bind(&control).unwrap();
    stop(&mut second);
    assert_eq!(second.wait().unwrap().code(), Some(0), "{}", log());
    assert!(control.exists(), "another process's socket was removed");
    assert!(std::os::unix::net::UnixStream::connect(&control).is_ok());
    assert!(!docker.exists(), "its own socket is removed on exit");
    drop(theirs);
}

#[test]
fn a_trust_store_symlinked_out_of_the_policy_dir_is_watched_and_followed_when_re_pointed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policy");
    write_policy(&dir, "strict", &["ca:t"]);
    let (ts1, ts2) = (tmp.path().join("ts1"), tmp.path().join("ts2"));
    let root = |n: &str| {
        pki(KeySpec::Rsa(2048), n, CertOpts::default())
            .root
            .to_pem()
            .unwrap()
    };
    for ts in [&ts1, &ts2] {
        std::fs::create_dir_all(ts.join("x509/ca/t")).unwrap();
        std::fs::write(ts.join("x509/ca/t/a.pem"), root("a")).unwrap();
    }
    std::os::unix::fs::symlink(&ts1, dir.join("truststore")).unwrap();
    let d = Daemon::start(&dir, UPSTREAM, REGISTRY);
    let log = || d.log();
    assert_eq!(generation(&d.control), 1);

    // A certificate added behind the symlink.
    std::fs::write(ts1.join("x509/ca/t/b.pem"), root("b")).unwrap();
    wait_generation(&d.control, 2, &log);

    // The symlink re-pointed (by rename, atomically): the new target's content...
    let tmp_link = dir.join(".truststore.new");
    std::os::unix::fs::symlink(&ts2, &tmp_link).unwrap();
    std::fs::rename(&tmp_link, dir.join("truststore")).unwrap();
    wait_generation(&d.control, 3, &log);
    // ...and from now on its changes.
    std::fs::write(ts2.join("x509/ca/t/c.pem"), root("c")).unwrap();
    wait_generation(&d.control, 4, &log);
    // The old target no longer matters.
    std::fs::write(ts1.join("x509/ca/t/d.pem"), root("d")).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(generation(&d.control), 4, "{}", log());
    let reloaded = log().matches("trust policy reloaded").count();
    assert_eq!(reloaded, 3, "one reload per change: {}", log());
}

#[test]
fn a_bad_policy_is_logged_once_and_the_return_to_the_serving_one_at_info() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = policy_dir(&tmp.path().join("policy"));
    let file = dir.join("trustpolicy.json");
    let good = std::fs::read(&file).unwrap();
    let d = Daemon::start(&dir, UPSTREAM, REGISTRY);
    let lines = |msg: &str| -> Vec<serde_json::Value> {
        d.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"].as_str().is_some_and(|m| m.contains(msg)))
            .collect()
    };
    let wait_for = |msg: &str, n: usize| {
        let start = Instant::now();
        while lines(msg).len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {msg:?}: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // Invalid, then touched and rewritten with the same content: one ERROR line, not three.
    let bad = r#"{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["*"],"signatureVerification":{"level":"bogus"}}]}"#;
    std::fs::write(&file, bad).unwrap();
    wait_for("reload rejected", 1);
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(400));
        std::fs::write(&file, bad).unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(lines("reload rejected").len(), 1, "{}", d.log());
    assert_eq!(lines("reload rejected")[0]["level"], "ERROR");
    let s = status(&d.control).unwrap();
    assert!(s["last_reload_error"].as_str().unwrap().contains("bogus"));

    // Back to the policy that is serving: no new generation, but the operator hears it.
    std::fs::write(&file, &good).unwrap();
    wait_for("valid again", 1);
    assert_eq!(lines("valid again")[0]["level"], "INFO");
    let s = status(&d.control).unwrap();
    assert_eq!(s["policy"]["generation"], 1);
    assert_eq!(s["last_reload_error"], "");

    // An explicit reload that finds nothing changed answers at info, once.
    run_ok(d.ctl().arg("reload"));
    wait_for("trust policy unchanged", 1);
    let u = lines("trust policy unchanged");
    assert_eq!(u.len(), 1, "{}", d.log());
    assert_eq!(u[0]["level"], "INFO");
    assert_eq!(u[0]["trigger"], "rpc");
    assert_eq!(lines("trust policy reloaded").len(), 0, "{}", d.log());
}

/// The daemon as a library: `daemon::run` in this process, serving until its shutdown future
/// resolves. It answers on its control socket, an idle keep-alive connection to the proxy does
/// not hold the drain (it is closed), and the sockets it bound are gone once `run` returns.
#[test]
fn an_in_process_daemon_serves_and_stops_on_its_shutdown_future() {
    use std::io::{Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let policy = policy_dir(tmp.path());
    let d = common::in_process::InProcess::start(&policy, UPSTREAM, "shutdown_grace_secs = 20\n");
    let control = d.control.clone();
    let status = d.block_on(async move {
        let mut c = pullguard::control::connect(&control).await.unwrap();
        c.get_status(pullguard::control::pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    });
    assert_eq!(status.policy_generation, 1, "{status:?}");
    assert!(
        status
            .listeners
            .iter()
            .any(|l| l == &format!("docker unix://{}", d.docker.display())),
        "{:?}",
        status.listeners
    );
    // A keep-alive connection that has had its answer (the upstream is not there: 502) and idles.
    let mut idle = std::os::unix::net::UnixStream::connect(&d.docker).unwrap();
    idle.write_all(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 64];
    let n = idle.read(&mut head).unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 502"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );
    let (docker, control) = (d.docker.clone(), d.control.clone());
    let t = Instant::now();
    d.stop(Duration::from_secs(10)).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "an idle connection held the drain (grace 20 s) for {:?}",
        t.elapsed()
    );
    assert!(!docker.exists() && !control.exists(), "sockets left behind");
    // Closed by the drain: the rest of the answer, then end of file.
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).unwrap();
}

/// `daemon::run` refuses a policy dir with problems, all of them, before it takes a socket.
#[test]
fn an_in_process_daemon_refuses_a_bad_policy_dir_with_every_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    let opts = common::in_process::options(&policy, tmp.path(), UPSTREAM, "");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(pullguard::daemon::run(opts, std::future::pending::<()>()))
        .unwrap_err();
    match &err {
        pullguard::daemon::DaemonError::Trust { problems, dir } => {
            assert!(!problems.is_empty());
            assert_eq!(dir, &policy);
        }
        other => panic!("want a trust error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("refusing to start: "), "{err}");
    assert!(!tmp.path().join("control.sock").exists());
}
