//! A real containerd of the test's own (1.6 from the system, 2.1 from the peers' `ctrd2`),
//! on a socket and root under a temp dir, for the tests that need one no other test shares: CRI
//! with a hosts dir (`tests/cri.rs`), the image-verifier bin_dir (`tests/containerd_verifier.rs`),
//! a containerd restarted mid-watch (`tests/store.rs`). The shared peers are not touched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::daemon::stop;
use super::run;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V16,
    V21,
}

/// Where the binaries of `v` are (`containerd`, `ctr`, the shims).
pub fn bin_dir(v: Version) -> PathBuf {
    match v {
        Version::V16 => PathBuf::from("/usr/bin"),
        Version::V21 => {
            let peers =
                std::env::var("PG_PEERS").expect("PG_PEERS: start the peers (scripts/peers-up.sh)");
            let bin = Path::new(&peers).join("ctrd2/usr/bin");
            assert!(
                bin.join("containerd").exists(),
                "containerd 2.1 is missing under {}",
                bin.display()
            );
            bin
        }
    }
}

/// The CRI plugins of 2.x, off where a test does not use them (faster start, no CNI).
const NO_CRI: &str = r#"disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox", "io.containerd.sandbox.controller.v1.shim"]"#;

pub struct Containerd {
    child: Option<Child>,
    _tmp: tempfile::TempDir,
    /// Its root, state, config and log live here.
    pub dir: PathBuf,
    pub sock: PathBuf,
    pub version: Version,
    env: Vec<(String, PathBuf)>,
}

impl Containerd {
    /// A containerd `v` not started yet: fill [`Containerd::dir`] (a hosts dir, a verifier
    /// bin_dir), then [`Containerd::start`].
    pub fn new(v: Version) -> Containerd {
        let tmp = tempfile::tempdir().unwrap();
        Containerd {
            dir: tmp.path().to_path_buf(),
            sock: tmp.path().join("containerd.sock"),
            _tmp: tmp,
            child: None,
            version: v,
            env: Vec::new(),
        }
    }

    /// An environment variable for containerd (and what it runs: verifiers, shims).
    pub fn env(mut self, key: &str, value: &Path) -> Containerd {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Write the config (root, state, sockets and `opt` under [`Containerd::dir`], then
    /// `plugins`, in the config version's syntax: 2 for 1.6, 3 for 2.1, where the
    /// `[plugins]` table is already open) and start it. `cri`: keep 2.1's CRI plugins.
    pub fn start(mut self, plugins: &str, cri: bool) -> Containerd {
        let (w, sock) = (self.dir.display(), self.sock.display());
        let config = match self.version {
            Version::V16 => format!(
                "version = 2\nroot = \"{w}/root\"\nstate = \"{w}/state\"\n[grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n{plugins}[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{w}/opt\"\n"
            ),
            Version::V21 => format!(
                "version = 3\nroot = \"{w}/root\"\nstate = \"{w}/state\"\n{}[grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n[plugins]\n{plugins}  [plugins.'io.containerd.internal.v1.opt']\n    path = \"{w}/opt\"\n",
                if cri {
                    String::new()
                } else {
                    format!("{NO_CRI}\n")
                }
            ),
        };
        std::fs::write(self.dir.join("config.toml"), config).unwrap();
        self.up();
        self
    }

    /// Start it (again), and wait until `ctr version` answers.
    pub fn up(&mut self) {
        let bin = bin_dir(self.version);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("containerd.log"))
            .unwrap();
        let mut cmd = Command::new(bin.join("containerd"));
        cmd.arg("--config")
            .arg(self.dir.join("config.toml"))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        let start = Instant::now();
        while !run(self.ctr("default").arg("version")).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "containerd {:?} did not start: {}",
                self.version,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop it (SIGTERM, then SIGKILL after 5 s).
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default()
    }

    /// Its `ctr`, on its socket, in namespace `ns`.
    pub fn ctr(&self, ns: &str) -> Command {
        let mut cmd = Command::new(bin_dir(self.version).join("ctr"));
        cmd.arg("--address").arg(&self.sock).args(["-n", ns]);
        cmd
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.down();
        // Snapshot mounts under the root would keep the temp dir from going.
        let _ = Command::new("umount")
            .args(["-R", "-l", self.dir.to_str().unwrap_or("/nonexistent")])
            .stderr(Stdio::null())
            .status();
    }
}
