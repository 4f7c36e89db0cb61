//! systemd integration: `sd_notify` states (READY, RELOADING with MONOTONIC_USEC, STOPPING,
//! STATUS, WATCHDOG) and socket activation by FileDescriptorName. Every call is a no-op when
//! the daemon is not run by systemd (no `NOTIFY_SOCKET` / `LISTEN_FDS`).

use std::os::fd::{FromRawFd, RawFd};
use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: draining in-flight requests"),
    ]);
}

pub fn status(s: &str) {
    send(&[NotifyState::Status(s)]);
}

/// Ping the watchdog at half its interval, when `WatchdogSec=` is set.
pub fn spawn_watchdog() {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}

/// Listening sockets passed by systemd, by FileDescriptorName.
pub struct Activated {
    fds: Vec<(RawFd, String)>,
}

impl Activated {
    pub fn from_env() -> Activated {
        let fds = match sd_notify::listen_fds_with_names() {
            Ok(it) => it.collect(),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring malformed LISTEN_FDS/LISTEN_FDNAMES");
                Vec::new()
            }
        };
        Activated { fds }
    }

    /// The names of the sockets not taken (yet).
    pub fn names(&self) -> Vec<String> {
        self.fds.iter().map(|(_, n)| n.clone()).collect()
    }

    /// Take the TCP socket named `name` (e.g. "mirror") as a tokio listener.
    pub fn take_tcp(&mut self, name: &str) -> Result<Option<tokio::net::TcpListener>, String> {
        let Some(i) = self.fds.iter().position(|(_, n)| n == name) else {
            return Ok(None);
        };
        let (fd, _) = self.fds.remove(i);
        // SAFETY: systemd passed this descriptor to us (LISTEN_PID matched); it is taken once.
        // The crate denies unsafe code; owning an inherited descriptor has no safe API.
        #[allow(unsafe_code)]
        let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        // getsockname: also refuses a descriptor that is not a TCP socket.
        std.local_addr()
            .map_err(|e| format!("socket {name} from systemd is not a TCP socket: {e}"))?;
        std.set_nonblocking(true)
            .map_err(|e| format!("socket {name}: {e}"))?;
        tokio::net::TcpListener::from_std(std)
            .map(Some)
            .map_err(|e| format!("socket {name}: {e}"))
    }

    /// Take the socket named `name` (e.g. "docker", "control") as a tokio listener.
    pub fn take(&mut self, name: &str) -> Result<Option<tokio::net::UnixListener>, String> {
        let Some(i) = self.fds.iter().position(|(_, n)| n == name) else {
            return Ok(None);
        };
        let (fd, _) = self.fds.remove(i);
        // SAFETY: systemd passed this descriptor to us (LISTEN_PID matched); it is taken once.
        // The crate denies unsafe code; owning an inherited descriptor has no safe API.
        #[allow(unsafe_code)]
        let std = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
        // getsockname: also refuses a descriptor that is not a Unix socket.
        std.local_addr()
            .map_err(|e| format!("socket {name} from systemd is not a Unix socket: {e}"))?;
        std.set_nonblocking(true)
            .map_err(|e| format!("socket {name}: {e}"))?;
        tokio::net::UnixListener::from_std(std)
            .map(Some)
            .map_err(|e| format!("socket {name}: {e}"))
    }
}
