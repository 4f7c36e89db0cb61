//! A running `pullguard serve` and signed test images, shared by the daemon tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;

pub static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `pullguard serve` with its own policy dir, socket and JSON log.
pub struct Daemon {
    pub child: Child,
    pub tmp: tempfile::TempDir,
    pub sock: PathBuf,
    pub control: PathBuf,
}

impl Daemon {
    pub fn start(policy_dir: &Path, upstream: &str, registry: &str) -> Daemon {
        Daemon::start_with(policy_dir, upstream, registry, "")
    }

    /// Start with extra config file text (TOML).
    pub fn start_with(policy_dir: &Path, upstream: &str, registry: &str, config: &str) -> Daemon {
        let tmp = tempfile::tempdir().unwrap();
        let sock = tmp.path().join("docker.sock");
        let log = std::fs::File::create(tmp.path().join("log.json")).unwrap();
        let control = tmp.path().join("control.sock");
        let config_path = tmp.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = pullguard()
            .args([
                "serve",
                "--config",
                config_path.to_str().unwrap(),
                "--policy-dir",
                policy_dir.to_str().unwrap(),
                "--docker-listen",
                sock.to_str().unwrap(),
                "--docker-upstream",
                upstream,
                "--control-listen",
                control.to_str().unwrap(),
                "--insecure-registry",
                registry,
                "--log-format",
                "json",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Daemon {
            child,
            tmp,
            sock,
            control,
        };
        let start = Instant::now();
        while !d.sock.exists() || !d.control.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "daemon did not start: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()));
        c
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("log.json")).unwrap_or_default()
    }

    /// Decision events in the log for `digest`: (verdict, cached).
    pub fn decisions(&self, needle: &str) -> Vec<(String, bool)> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["message"] == "decision" && v.to_string().contains(needle))
            .map(|v| {
                (
                    v["verdict"].as_str().unwrap_or("").to_string(),
                    v["cached"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }
}

impl Daemon {
    /// `pullguard ctl` against this daemon.
    pub fn ctl(&self) -> Command {
        let mut c = pullguard();
        c.env("PULLGUARD_CONTROL_SOCKET", &self.control);
        c.arg("ctl");
        c
    }

    pub fn signal(&self, sig: &str) {
        unsafe_kill(self.child.id(), sig);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGTERM, up to 5 s to exit, then SIGKILL.
pub fn stop(child: &mut Child) {
    unsafe_kill(child.id(), "TERM");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// A notation home with a test key, a strict policy trusting it, and a unique repo.
pub struct Images {
    _tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub registry: String,
    pub repo: String,
}

impl Images {
    pub fn new(registry: &str) -> Images {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("cfg");
        let i = Images {
            home,
            registry: registry.to_string(),
            repo: format!(
                "docker/t{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ),
            _tmp: tmp,
        };
        run_ok(
            i.notation()
                .args(["cert", "generate-test", "--default", "pullguard.test"]),
        );
        std::fs::write(
            i.dir().join("trustpolicy.json"),
            r#"{"version":"1.0","trustPolicies":[{"name":"docker-tests","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.test"],"trustedIdentities":["*"]}]}"#,
        )
        .unwrap();
        i
    }
    pub fn dir(&self) -> PathBuf {
        self.home.join("notation")
    }
    pub fn notation(&self) -> Command {
        let mut c = Command::new("notation");
        c.env("XDG_CONFIG_HOME", &self.home);
        c
    }
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repo)
    }
    pub fn push(&self, tag: &str, content: &str) -> String {
        let work = self
            .home
            .join(format!("img-{tag}-{}", SEQ.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("f.txt"), content).unwrap();
        run_ok(
            Command::new("tar")
                .current_dir(&work)
                .args(["czf", "l.tgz", "f.txt"]),
        );
        let t = format!("{}:{tag}", self.name());
        run_ok(Command::new("crane").current_dir(&work).args([
            "append",
            "--insecure",
            "-f",
            "l.tgz",
            "-t",
            &t,
        ]));
        run_ok(Command::new("crane").args(["digest", "--insecure", &t]))
            .trim()
            .to_string()
    }
    /// A repository on another registry signed with the same notation key and trust policy (one
    /// daemon can then guard both).
    pub fn on_registry(&self, registry: &str) -> Images {
        Images {
            _tmp: tempfile::tempdir().unwrap(),
            home: self.home.clone(),
            registry: registry.to_string(),
            repo: format!(
                "docker/t{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }
    pub fn sign(&self, digest: &str) {
        run_ok(self.notation().args([
            "sign",
            "--insecure-registry",
            &format!("{}@{digest}", self.name()),
        ]));
    }
}

/// `docker` straight at the real daemon (bypassing pullguard).
pub fn direct_docker() -> Command {
    let mut c = Command::new("docker");
    c.env("DOCKER_HOST", format!("unix://{}", peers().docker_sock));
    c
}
