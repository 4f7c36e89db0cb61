//! podman (and skopeo, which read the same `registries.conf`, as CRI-O does) through
//! pullguard's mirror, for two upstream registries (the peers' :5000 and :5030): one mirror
//! listener per upstream (`[mirror] default_upstream`, since these clients send no `?ns=`) and a
//! `[[registry]]` whose `location` is the mirror, so there is nothing to fall back to. And the
//! `[[registry.mirror]]` form shown for what it is: a bypass (podman falls back to the real
//! registry after the mirror's 403). And one listener for both upstreams, each registry's
//! `location` naming it by a path prefix (`[mirror] prefixes`).
//!
//! Real podman from Debian, rootful, its storage under a temp dir (`--root`, `--runroot`,
//! `--storage-driver vfs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

/// podman keeps some state outside `--root` (its events log, locks): one test at a time.
static PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Podman {
    _one: std::sync::MutexGuard<'static, ()>,
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl Podman {
    fn new(registries_conf: &str) -> Podman {
        let one = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("registries.conf");
        std::fs::write(&conf, registries_conf).unwrap();
        Podman {
            _one: one,
            dir,
            conf,
        }
    }
    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_REGISTRIES_CONF", &self.conf)
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .arg("--tmpdir")
            .arg(self.dir.path().join("tmp"))
            .args(["--storage-driver", "vfs"]);
        c
    }
    fn pull(&self, image: &str) -> Output {
        run(self.cmd().args(["pull", image]))
    }
    fn has(&self, image: &str) -> bool {
        run(self.cmd().args(["image", "exists", image]))
            .status
            .success()
    }
    fn skopeo_copy(&self, image: &str) -> Output {
        let to = self.dir.path().join(format!(
            "skopeo-{}",
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        run(Command::new("skopeo")
            .arg("--registries-conf")
            .arg(&self.conf)
            .args(["copy", "--retry-times", "0"])
            .arg(format!("docker://{image}"))
            .arg(format!("dir:{}", to.display())))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .args([
                "-R",
                "-l",
                self.dir.path().to_str().unwrap_or("/nonexistent"),
            ])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// A pullguard mirror for one upstream registry, on its own port.
fn mirror_for(imgs: &Images, upstream: &str) -> (Daemon, String) {
    let p = peers();
    let addr = format!("127.0.0.1:{}", free_port());
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        upstream,
        &format!(
            "insecure_registries = [{upstream:?}]\n[mirror]\nlisten = {addr:?}\ndefault_upstream = {upstream:?}\n"
        ),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mirror not up: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (d, addr)
}

/// Requests for `repo` in a registry's access log made by containers/image (podman, skopeo).
fn client_requests(log: &Path, repo: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(repo) && l.contains("containers/"))
        .map(str::to_owned)
        .collect()
}

fn peer_log(name: &str) -> PathBuf {
    Path::new(&std::env::var("PG_PEERS").expect("PG_PEERS"))
        .join("logs")
        .join(name)
}

#[test]
fn podman_and_skopeo_through_one_mirror_per_upstream_cannot_fall_back() {
    let p = peers();
    let a = Images::new(&p.registry);
    let b = Images::new(&p.referrers_registry);
    let mut sets = Vec::new();
    for (imgs, log) in [(&a, "registry.log"), (&b, "refreg.log")] {
        let signed = imgs.push("signed", &format!("podman signed {}", imgs.repo));
        imgs.sign(&signed);
        imgs.push("unsigned", &format!("podman unsigned {}", imgs.repo));
        sets.push((imgs, log));
    }
    let (da, ma) = mirror_for(&a, &p.registry);
    let (db, mb) = mirror_for(&b, &p.referrers_registry);
    let pm = Podman::new(&format!(
        r#"unqualified-search-registries = []

[[registry]]
prefix = "{ra}"
location = "{ma}"
insecure = true

[[registry]]
prefix = "{rb}"
location = "{mb}"
insecure = true
"#,
        ra = p.registry,
        rb = p.referrers_registry,
    ));
    for ((imgs, log), d) in sets.iter().zip([&da, &db]) {
        let signed = format!("{}:signed", imgs.name());
        let out = pm.pull(&signed);
        assert!(out.status.success(), "{}\n{}", stderr_of(&out), d.log());
        assert!(pm.has(&signed));
        let unsigned = format!("{}:unsigned", imgs.name());
        let out = pm.pull(&unsigned);
        assert!(!out.status.success(), "the unsigned image was pulled");
        let err = stderr_of(&out);
        assert!(
            err.contains("denied: pullguard: denied") && err.contains("no signature"),
            "{err}"
        );
        assert!(!pm.has(&unsigned));

        let out = pm.skopeo_copy(&signed);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let out = pm.skopeo_copy(&unsigned);
        assert!(!out.status.success());
        assert!(
            stderr_of(&out).contains("no signature"),
            "{}",
            stderr_of(&out)
        );

        // The registry saw containers/image only through the mirror: never directly.
        let direct = client_requests(&peer_log(log), &imgs.repo);
        assert!(direct.is_empty(), "{direct:#?}");
    }

    // Mirror down: the pull fails, there is nothing to fall back to.
    drop(da);
    let out = pm.pull(&format!("{}:unsigned", a.name()));
    assert!(!out.status.success());
    assert!(client_requests(&peer_log("registry.log"), &a.repo).is_empty());
}

/// One mirror listener for both upstreams: `location = "MIRROR/PREFIX"`, and `[mirror] prefixes`
/// maps the prefix back to the registry.
#[test]
fn podman_through_one_listener_for_two_upstreams_by_prefix() {
    let p = peers();
    let a = Images::new(&p.registry);
    let b = a.on_registry(&p.referrers_registry);
    let mut sets = Vec::new();
    for (imgs, log) in [(&a, "registry.log"), (&b, "refreg.log")] {
        let signed = imgs.push("signed", &format!("podman prefix signed {}", imgs.repo));
        imgs.sign(&signed);
        imgs.push("unsigned", &format!("podman prefix unsigned {}", imgs.repo));
        sets.push((imgs, log));
    }
    let addr = format!("127.0.0.1:{}", free_port());
    let d = Daemon::start_with(
        &a.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "insecure_registries = [{ra:?}, {rb:?}]\n[mirror]\nlisten = {addr:?}\n[mirror.prefixes]\nfirst = {ra:?}\nsecond = {rb:?}\n",
            ra = p.registry,
            rb = p.referrers_registry,
        ),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "mirror not up: {}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pm = Podman::new(&format!(
        r#"unqualified-search-registries = []

[[registry]]
prefix = "{ra}"
location = "{addr}/first"
insecure = true

[[registry]]
prefix = "{rb}"
location = "{addr}/second"
insecure = true
"#,
        ra = p.registry,
        rb = p.referrers_registry,
    ));
    for (imgs, log) in &sets {
        let signed = format!("{}:signed", imgs.name());
        let out = pm.pull(&signed);
        assert!(out.status.success(), "{}\n{}", stderr_of(&out), d.log());
        assert!(pm.has(&signed));
        let unsigned = format!("{}:unsigned", imgs.name());
        let out = pm.pull(&unsigned);
        assert!(!out.status.success(), "the unsigned image was pulled");
        let err = stderr_of(&out);
        // The denial names the image on its real registry, not the mirror's prefix.
        assert!(
            err.contains("denied: pullguard: denied")
                && err.contains(&format!("{}:unsigned", imgs.name()))
                && err.contains("no signature"),
            "{err}"
        );
        assert!(!pm.has(&unsigned));
        let direct = client_requests(&peer_log(log), &imgs.repo);
        assert!(direct.is_empty(), "{direct:#?}");
    }
    // Each verdict was for the real registry's image.
    let text = d.log();
    assert!(text.contains(&format!("{}:unsigned", b.name())), "{text}");
}

/// `[[registry.mirror]]` is not a guard: after the mirror's 403 podman goes to the registry
/// itself and pulls the unsigned image. This test pins that down, so the README's warning stays
/// true.
#[test]
fn registry_mirror_form_falls_back_past_the_mirror() {
    let p = peers();
    let a = Images::new(&p.registry);
    a.push("unsigned", &format!("podman bypass {}", a.repo));
    let (d, ma) = mirror_for(&a, &p.registry);
    let pm = Podman::new(&format!(
        r#"unqualified-search-registries = []

[[registry]]
prefix = "{ra}"
location = "{ra}"
insecure = true

[[registry.mirror]]
location = "{ma}"
insecure = true
"#,
        ra = p.registry,
    ));
    let unsigned = format!("{}:unsigned", a.name());
    let out = pm.pull(&unsigned);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(pm.has(&unsigned));
    // The mirror denied it; the registry then served podman directly.
    assert!(
        d.log().contains("no signature"),
        "the mirror was not asked: {}",
        d.log()
    );
    assert!(!client_requests(&peer_log("registry.log"), &a.repo).is_empty());
}
