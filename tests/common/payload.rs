//! Runnable test images: a static binary (built once per test process with gcc -static) that
//! prints the file `/msg` of its image, so a test can prove which image actually ran. And a
//! private dockerd a test can start with its own flags (an authorization plugin, say).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::daemon::{Images, SEQ, stop};
use super::*;

const HELLO_C: &str = r#"
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    char b[512];
    int fd = open("/msg", O_RDONLY);
    int n = fd >= 0 ? (int)read(fd, b, sizeof b) : -1;
    if (n > 0) { (void)write(1, b, (size_t)n); return 0; }
    (void)write(1, "no /msg\n", 8);
    return 3;
}
"#;

/// The static payload binary, built once.
pub fn hello_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pg-hello-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello.c"), HELLO_C).unwrap();
        run_ok(
            Command::new("gcc")
                .current_dir(&dir)
                .args(["-static", "-O2", "-o", "hello", "hello.c"]),
        );
        dir.join("hello")
    })
}

impl Images {
    /// Push `name:tag`: an image whose entrypoint `/hello` prints `msg`. Returns its digest.
    pub fn push_runnable(&self, tag: &str, msg: &str) -> String {
        let work = self.home.join(format!(
            "run-{tag}-{}",
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::copy(hello_binary(), work.join("hello")).unwrap();
        std::fs::write(work.join("msg"), format!("{msg}\n")).unwrap();
        run_ok(
            Command::new("tar")
                .current_dir(&work)
                .args(["czf", "l.tgz", "hello", "msg"]),
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
        run_ok(Command::new("crane").args(["mutate", "--insecure", "--entrypoint", "/hello", &t]));
        run_ok(Command::new("crane").args(["digest", "--insecure", &t]))
            .trim()
            .to_string()
    }
}

/// A dockerd of the test's own (data root, exec root, socket, pid file under a short temp dir).
pub struct PrivateDockerd {
    pub child: Child,
    pub dir: PathBuf,
    pub sock: PathBuf,
}

impl PrivateDockerd {
    /// A fresh directory for a private dockerd, and the socket it will serve: known before it
    /// starts (a plugin it needs may have to be pointed at it first).
    pub fn paths() -> (PathBuf, PathBuf) {
        let dir = PathBuf::from(format!(
            "/tmp/pgd{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("d.sock");
        (dir, sock)
    }

    /// Start with extra flags; waits until the socket exists (see [`Self::wait_ready`]).
    pub fn start(registry: &str, extra: &[&str]) -> PrivateDockerd {
        let (dir, _) = Self::paths();
        Self::start_at(dir, registry, extra)
    }

    pub fn start_at(dir: PathBuf, registry: &str, extra: &[&str]) -> PrivateDockerd {
        let sock = dir.join("d.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let mut cmd = Command::new("dockerd");
        cmd.args([
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--host",
            &format!("unix://{}", sock.display()),
            "--data-root",
            dir.join("root").to_str().unwrap(),
            "--exec-root",
            dir.join("x").to_str().unwrap(),
            "--pidfile",
            dir.join("d.pid").to_str().unwrap(),
            "--insecure-registry",
            registry,
        ]);
        cmd.args(extra);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd");
        let d = PrivateDockerd { child, dir, sock };
        let start = Instant::now();
        while !d.sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "private dockerd did not start: {}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()));
        c
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }

    /// Wait until `docker version` answers.
    pub fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            if run(self.docker().args(["version"])).status.success() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "private dockerd not ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        stop(&mut self.child);
        // vfs layers and container state under the temp dir.
        let _ = Command::new("umount")
            .args(["-R", "-l", self.dir.to_str().unwrap_or("/nonexistent")])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
