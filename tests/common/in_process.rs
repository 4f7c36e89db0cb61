//! A daemon in this process, through `pullguard::daemon::run(options, shutdown)`: on its own
//! runtime, stopped by its shutdown future (no binary, no signal). For the tests of the daemon as
//! a library; the tests of the binary (exit codes, signals, systemd) use [`super::daemon`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pullguard::config::Config;
use pullguard::daemon::{self, DaemonError};

/// A running in-process daemon with its own Docker proxy and control sockets.
pub struct InProcess {
    pub tmp: tempfile::TempDir,
    pub docker: PathBuf,
    pub control: PathBuf,
    rt: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), DaemonError>>>,
}

/// The options of a daemon serving the Docker proxy (in front of `upstream`) and the control API
/// in `dir`, with `config` (TOML) as its config file.
pub fn options(policy_dir: &Path, dir: &Path, upstream: &str, config: &str) -> daemon::Options {
    daemon::Options {
        config: Config::parse(config).unwrap(),
        policy_dir: policy_dir.to_path_buf(),
        docker_listen: Some(dir.join("docker.sock")),
        docker_upstream: PathBuf::from(upstream),
        control_listen: dir.join("control.sock"),
        mirror_listen: None,
        authz_listen: None,
        metrics_listen: None,
        insecure: Vec::new(),
    }
}

impl InProcess {
    /// Start one and wait for its sockets.
    pub fn start(policy_dir: &Path, upstream: &str, config: &str) -> InProcess {
        let tmp = tempfile::tempdir().unwrap();
        let opts = options(policy_dir, tmp.path(), upstream, config);
        let docker = tmp.path().join("docker.sock");
        let control = tmp.path().join("control.sock");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(8 << 20)
            .enable_all()
            .build()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(daemon::run(opts, async {
            let _ = stopped.await;
        }));
        let start = Instant::now();
        while !docker.exists() || !control.exists() {
            if task.is_finished() {
                let r = rt.block_on(task).unwrap();
                panic!("the daemon did not start: {r:?}");
            }
            assert!(start.elapsed() < Duration::from_secs(10), "daemon not up");
            std::thread::sleep(Duration::from_millis(10));
        }
        InProcess {
            tmp,
            docker,
            control,
            rt,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Run `f` on the daemon's runtime (a control client, say).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Resolve the shutdown future and wait (up to `within`) for `run` to return.
    pub fn stop(mut self, within: Duration) -> Result<(), DaemonError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().unwrap();
        self.rt
            .block_on(async { tokio::time::timeout(within, task).await })
            .expect("daemon::run did not return after its shutdown future resolved")
            .unwrap()
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await });
        }
    }
}
