//! The Docker authorization plugin against a real dockerd of the test's own, started with
//! `--authorization-plugin`, used through its raw socket with the docker CLI: every client of
//! dockerd is guarded, not only the clients of pullguard's proxy socket.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::payload::PrivateDockerd;
use common::*;

/// The plugin's name, and its spec file in /etc/docker/plugins (removed on drop).
struct PluginSpec {
    name: String,
    path: PathBuf,
}

impl PluginSpec {
    fn new(sock: &Path) -> PluginSpec {
        let name = format!(
            "pgtest{}x{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        std::fs::create_dir_all("/etc/docker/plugins").unwrap();
        let path = PathBuf::from(format!("/etc/docker/plugins/{name}.spec"));
        std::fs::write(&path, format!("unix://{}\n", sock.display())).unwrap();
        PluginSpec { name, path }
    }
}

impl Drop for PluginSpec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A trust policy: `*` strict with the test key, and `skip` for `skipped` (a scope).
fn policy(dir: &Path, skipped: Option<&str>) {
    let skip = skipped.map(|s| format!(
        r#",{{"name":"skipped","registryScopes":["{s}"],"signatureVerification":{{"level":"skip"}}}}"#
    ));
    std::fs::write(
        dir.join("trustpolicy.json"),
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"docker-tests","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:pullguard.test"],"trustedIdentities":["*"]}}{}]}}"#,
            skip.unwrap_or_default()
        ),
    )
    .unwrap();
}

fn generation(d: &Daemon) -> u64 {
    let out = run_ok(d.ctl().args(["status", "--output", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["policy"]["generation"]
        .as_u64()
        .expect("policy.generation in ctl status")
}

fn start_guard(imgs: &Images, upstream: &Path, registry: &str, authz: &Path) -> Daemon {
    let d = Daemon::start_with(
        &imgs.dir(),
        upstream.to_str().unwrap(),
        registry,
        &format!("[authz]\nlisten = \"{}\"\n", authz.display()),
    );
    let t = Instant::now();
    while !authz.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no authz socket: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

/// pullguard with its authorization plugin, and a private dockerd that asks it.
struct PluginHost {
    guard: Daemon,
    authz: PathBuf,
    engine: PrivateDockerd,
    spec: PluginSpec,
    _sockdir: tempfile::TempDir,
}

impl PluginHost {
    /// pullguard first (dockerd needs its plugin up at start), pointed at the dockerd to come.
    fn start(imgs: &Images, registry: &str) -> PluginHost {
        let sockdir = tempfile::tempdir().unwrap();
        let authz = sockdir.path().join("authz.sock");
        let spec = PluginSpec::new(&authz);
        let (dir, sock) = PrivateDockerd::paths();
        let guard = start_guard(imgs, &sock, registry, &authz);
        let engine = PrivateDockerd::start_at(
            dir,
            registry,
            &[&format!("--authorization-plugin={}", spec.name)],
        );
        engine.wait_ready();
        PluginHost {
            guard,
            authz,
            engine,
            spec,
            _sockdir: sockdir,
        }
    }

    /// Replace the policy and wait until the daemon runs under the new generation.
    fn set_policy(&self, imgs: &Images, skipped: Option<&str>) {
        let g0 = generation(&self.guard);
        policy(&imgs.dir(), skipped);
        let t = Instant::now();
        while generation(&self.guard) == g0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no reload: {}",
                self.guard.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn the_plugin_guards_every_client_of_dockerd_and_fails_closed() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("signed", "signed and running");
    imgs.sign(&signed);
    let unsigned = imgs.push_runnable("unsigned", "UNSIGNED RAN");
    // A second repository the first policy skips, the second does not.
    let later = Images::new(&p.registry);
    later.push_runnable("1", "LATER UNTRUSTED RAN");
    let scope = later.name();
    policy(&imgs.dir(), Some(&scope));

    let host = PluginHost::start(&imgs, &p.registry);
    let (engine, spec) = (&host.engine, &host.spec);

    // A signed image: pulled and run through the raw socket, with the plugin asked.
    let out = run(engine.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{}:signed", imgs.name()),
    ]));
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr_of(&out),
        host.guard.log()
    );
    assert_eq!(stdout_of(&out).trim(), "signed and running");

    // An unsigned one: the pull is denied with pullguard's reason in the CLI's error.
    let out = run(engine
        .docker()
        .args(["pull", &format!("{}:unsigned", imgs.name())]));
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("authorization denied by plugin {}", spec.name))
            && err.contains("pullguard: denied")
            && err.contains("docker-tests"),
        "{err}"
    );
    let out = run(engine.docker().args([
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{}:unsigned", imgs.name()),
    ]));
    assert!(!out.status.success());
    assert!(!stdout_of(&out).contains("UNSIGNED RAN"));

    // A digest in `tag` is what dockerd pulls, even next to a digest in fromImage: it is what
    // is verified.
    {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&engine.sock).unwrap();
        let from = format!("{}@{signed}", imgs.name())
            .replace(':', "%3A")
            .replace('/', "%2F");
        s.write_all(
            format!("POST /v1.41/images/create?fromImage={from}&tag={} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", unsigned.replace(':', "%3A")).as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let present =
            run(engine
                .docker()
                .args(["image", "inspect", &format!("{}@{unsigned}", imgs.name())]));
        assert!(!present.status.success(), "the unsigned digest was pulled");
    }

    // Commit, load: refused as by the proxy.
    let c = run_ok(engine.docker().args([
        "create",
        "--network",
        "none",
        &format!("{}:signed", imgs.name()),
    ]))
    .trim()
    .to_string();
    let out = run(engine.docker().args(["commit", &c, "pg-committed:1"]));
    assert!(
        !out.status.success() && stderr_of(&out).contains("docker.allow_commit"),
        "{}",
        stderr_of(&out)
    );

    // An image the policy trusts now (skip) is pulled, a container created and started once, a
    // second one with a restart policy...
    let later_ref = format!("{scope}:1");
    run_ok(engine.docker().args(["pull", &later_ref]));
    let held = run_ok(
        engine
            .docker()
            .args(["create", "--network", "none", &later_ref]),
    )
    .trim()
    .to_string();
    let looping = run_ok(engine.docker().args([
        "run",
        "-d",
        "--restart",
        "always",
        "--network",
        "none",
        &later_ref,
    ]))
    .trim()
    .to_string();
    // ...then the policy stops trusting it (hot reload): the container cannot start any more.
    host.set_policy(&imgs, None);
    let out = run(engine.docker().args(["start", "-a", &held]));
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("cannot start") && err.contains("does not verify"),
        "{err}"
    );
    assert!(!stdout_of(&out).contains("LATER UNTRUSTED RAN"));
    // The same start in absolute form (`POST http://host/...`), which dockerd routes by its
    // path: refused too.
    {
        use std::io::{Read, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&engine.sock).unwrap();
        s.write_all(
            format!("POST http://docker/v1.41/containers/{held}/start HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let started =
            run_ok(
                engine
                    .docker()
                    .args(["inspect", "-f", "{{.State.StartedAt}}", &held]),
            );
        assert!(
            started.trim().starts_with("0001-01-01"),
            "it never ran: {started}"
        );
    }
    let out = run(engine.docker().args(["restart", &looping]));
    assert!(!out.status.success(), "an explicit restart is asked about");

    // What the plugin is not asked about: dockerd's own restarts under a restart policy
    // (documented in the README's threat model).
    let restarts = |id: &str| -> u64 {
        run_ok(
            engine
                .docker()
                .args(["inspect", "-f", "{{.RestartCount}}", id]),
        )
        .trim()
        .parse()
        .unwrap_or(0)
    };
    let r0 = restarts(&looping);
    let t = Instant::now();
    while restarts(&looping) == r0 && t.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        restarts(&looping) > r0,
        "dockerd restarts under its restart policy without asking the plugin"
    );
    run(engine
        .docker()
        .args(["update", "--restart", "no", &looping]));
    run(engine.docker().args(["rm", "-f", &looping, &held, &c]));

    // pullguard down: dockerd refuses every request (fail closed), docker version included.
    drop(host.guard);
    let out = run(engine.docker().args(["version"]));
    let err = stderr_of(&out);
    assert!(
        !out.status.success() || err.contains(&spec.name),
        "dockerd must refuse with the plugin down: {}\n{err}",
        stdout_of(&out)
    );
    let out = run(engine
        .docker()
        .args(["pull", &format!("{}:unsigned", imgs.name())]));
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains(&spec.name), "{}", stderr_of(&out));

    // Recovery: pullguard back on the same socket, and dockerd answers again.
    let back = start_guard(&imgs, &engine.sock, &p.registry, &host.authz);
    let t = Instant::now();
    while !run(engine.docker().args(["version"])).status.success() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "dockerd did not recover: {}",
            back.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A start by name races with renames that move the name to a container whose image does not
/// verify: the plugin's check and dockerd's own lookup must see the same container.
#[test]
fn a_rename_race_cannot_start_an_unverified_container_by_name() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("signed", "verified ran");
    imgs.sign(&signed);
    let later = Images::new(&p.registry);
    later.push_runnable("1", "UNVERIFIED RAN");
    let scope = later.name();
    policy(&imgs.dir(), Some(&scope));
    let host = PluginHost::start(&imgs, &p.registry);
    let engine = &host.engine;
    let n = std::process::id();
    let (x, y, t) = (format!("pgx{n}"), format!("pgy{n}"), format!("pgt{n}"));
    run_ok(engine.docker().args([
        "create",
        "--network",
        "none",
        "--name",
        &x,
        &format!("{}:signed", imgs.name()),
    ]));
    run_ok(engine.docker().args(["pull", &format!("{scope}:1")]));
    let evil = run_ok(engine.docker().args([
        "create",
        "--network",
        "none",
        "--name",
        &y,
        &format!("{scope}:1"),
    ]))
    .trim()
    .to_string();
    host.set_policy(&imgs, None);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, sock, x, y, t) = (
            stop.clone(),
            engine.sock.clone(),
            x.clone(),
            y.clone(),
            t.clone(),
        );
        std::thread::spawn(move || {
            let rename = |from: &str, to: &str| {
                let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
                use std::io::{Read, Write};
                let _ = s.write_all(
                    format!("POST /v1.41/containers/{from}/rename?name={to} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                );
                let mut out = Vec::new();
                let _ = s.read_to_end(&mut out);
            };
            let mut flips = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                rename(&x, &t);
                rename(&y, &x);
                rename(&t, &y);
                flips += 1;
            }
            flips
        })
    };
    // Starts by name on the raw socket (as fast as a client can send them), while the names
    // swap; the payload exits at once, so each start of the verified one can be repeated.
    let mut outputs = Vec::new();
    let attempts = 300;
    for _ in 0..attempts {
        let mut s = std::os::unix::net::UnixStream::connect(&engine.sock).unwrap();
        use std::io::{Read, Write};
        let _ = s.write_all(
            format!("POST /v1.41/containers/{x}/start HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        );
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        outputs.push(String::from_utf8_lossy(&out).into_owned());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let flips = flipper.join().unwrap();
    let started = run_ok(
        engine
            .docker()
            .args(["inspect", "-f", "{{.State.StartedAt}}", &evil]),
    );
    assert!(
        started.trim().starts_with("0001-01-01")
            && !outputs.iter().any(|o| o.contains("UNVERIFIED RAN")),
        "the unverified container was started by name through a rename race ({flips} flips)\n{}",
        host.guard.log()
    );
    let ran = outputs
        .iter()
        .filter(|o| o.starts_with("HTTP/1.1 204"))
        .count();
    assert!(
        ran > 0,
        "the verified container could never be started by name"
    );
    eprintln!(
        "rename race: {attempts} starts by name, {ran} started the verified container, {flips} name swaps"
    );
    run(engine.docker().args(["rm", "-f", &x, &y, &t]));
}

/// dockerd asks the plugin before it reads a request's body, and reads a start's form (or a
/// HostConfig below API 1.24) before it looks the container up: a body sent slowly held it
/// between the two past the name lock's 60 s, then renames put an unverified container under
/// the name (found by an attack on this plugin). A start or restart that may have a body is
/// refused at once; one with `Content-Length: 0`, as the docker CLI sends, goes through.
#[test]
fn a_start_whose_body_could_stall_dockerd_is_refused_at_once() {
    use std::io::{Read, Write};
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push_runnable("signed", "verified ran");
    imgs.sign(&signed);
    policy(&imgs.dir(), None);
    let host = PluginHost::start(&imgs, &p.registry);
    let engine = &host.engine;
    let x = format!("pgstall{}", std::process::id());
    run_ok(engine.docker().args([
        "create",
        "--network",
        "none",
        "--name",
        &x,
        &format!("{}:signed", imgs.name()),
    ]));
    // The head and the first part of the body; then, once the plugin has answered (dockerd
    // reads what is left of a refused request's body before it answers), the rest.
    let ask = |verb: &str, head: &str, first: &str, rest: &str, denials: usize| {
        let mut s = std::os::unix::net::UnixStream::connect(&engine.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            format!("POST /v1.41/containers/{x}/{verb} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n{head}\r\n\r\n{first}")
                .as_bytes(),
        )
        .unwrap();
        let t = Instant::now();
        while host.guard.log().matches("may have a body").count() < denials {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{verb} with {head:?}: the plugin did not refuse it while its body was pending\n{}",
                host.guard.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // (dockerd may have answered and closed already: it need not read a refused body.)
        let _ = s.write_all(rest.as_bytes());
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    let mut denials = 0;
    for verb in ["start", "restart"] {
        for (head, first, rest) in [
            (
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7",
                "a=1&b=",
                "2",
            ),
            (
                "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked",
                "6\r\na=1&b=\r\n",
                "1\r\n2\r\n0\r\n\r\n",
            ),
        ] {
            denials += 1;
            let answer = ask(verb, head, first, rest, denials);
            assert!(
                answer.starts_with("HTTP/1.1 403"),
                "{verb} with {head:?}: {answer}"
            );
        }
    }
    let answer = ask("start", "Content-Length: 0", "", "", denials);
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    // A pull whose form body names another image than its query (dockerd reads the form
    // first, and with Content-Type repeated goes by the first one, the plugin sees the last).
    imgs.push_runnable("unsigned", "UNSIGNED RAN");
    let unsigned = format!("{}:unsigned", imgs.name());
    let form = format!(
        "fromImage={}",
        unsigned.replace(':', "%3A").replace('/', "%2F")
    );
    let mut s = std::os::unix::net::UnixStream::connect(&engine.sock).unwrap();
    s.write_all(
        format!(
            "POST /v1.41/images/create?fromImage={}&tag=signed HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{form}",
            imgs.name().replace('/', "%2F"),
            form.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 403") && answer.contains("image pull refused"),
        "{answer}"
    );
    let out = run(engine.docker().args(["image", "inspect", &unsigned]));
    assert!(!out.status.success(), "the form's image was pulled");
    run(engine.docker().args(["rm", "-f", &x]));
}
