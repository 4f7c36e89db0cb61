//! The daemon's own Unix listening sockets: one instance per path (a path that answers a
//! connect is refused, only a stale socket is replaced), removal on exit of only the inode bound
//! here, and listener addresses as they really are (getsockname), for sockets bound here and
//! sockets passed by systemd alike.

use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixListener;

/// How long a connect to an existing socket may take before it counts as "in use".
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

use crate::config::SocketPerms;

/// A socket path bound by this process. Dropping it removes the path, but only while it still
/// names the inode bound here: a socket another process has since put there stays. The inode
/// is held open (O_PATH) for as long as this lives, so that its number cannot be reused by a
/// successor's socket once the listener is closed and the successor has removed it as stale.
#[derive(Debug)]
pub struct BoundSocket {
    path: PathBuf,
    dev: u64,
    ino: u64,
    _pin: std::fs::File,
}

impl BoundSocket {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::warn!(path = %self.path.display(), error = %e, "cannot remove socket");
                }
            }
            Ok(_) => tracing::info!(
                path = %self.path.display(),
                "socket path now holds another socket; left in place"
            ),
            Err(_) => {}
        }
    }
}

/// What is at a socket path that already exists.
#[derive(Debug, PartialEq)]
enum Probe {
    /// A process accepts connections there (or its backlog is full).
    Live,
    /// Connection refused: nobody listens; the file is left over.
    Stale,
    /// The path went away meanwhile.
    Gone,
}

async fn probe(path: &Path) -> Result<Probe, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::UnixStream::connect(path)).await {
        Err(_) => Ok(Probe::Live),
        Ok(Ok(_)) => Ok(Probe::Live),
        Ok(Err(e)) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Ok(Probe::Stale),
            std::io::ErrorKind::NotFound => Ok(Probe::Gone),
            // EAGAIN on a Unix socket: the listener's backlog is full, so it is alive.
            std::io::ErrorKind::WouldBlock => Ok(Probe::Live),
            _ => Err(format!(
                "cannot tell whether {} is in use ({e}); refusing to replace it",
                path.display()
            )),
        },
    }
}

fn in_use(path: &Path) -> String {
    format!(
        "another pullguard is serving at {} (it accepts connections); stop it or choose another path",
        path.display()
    )
}

/// Bind a Unix socket at `path` and set its owner and mode (unset ones: those of `like`, e.g.
/// the upstream `docker.sock`; the mode defaults to 0660). An existing socket that answers a
/// connect is refused ("another pullguard is serving at …"); only a stale one is removed; any
/// other file is refused.
pub async fn bind_unix(
    path: &Path,
    perms: &SocketPerms,
    like: Option<&Path>,
) -> Result<(UnixListener, BoundSocket), String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match probe(path).await? {
            Probe::Live => return Err(in_use(path)),
            Probe::Gone => {}
            Probe::Stale => match std::fs::remove_file(path) {
                Ok(()) => tracing::info!(path = %path.display(), "removed a stale socket"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(format!(
                        "cannot remove stale socket {}: {e}",
                        path.display()
                    ));
                }
            },
        },
        Ok(_) => {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot inspect {}: {e}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    // Two daemons starting at once can both find the same stale socket; the loser's bind
    // then fails with EADDRINUSE, which is the same refusal.
    let listener = UnixListener::bind(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            in_use(path)
        } else {
            format!("cannot bind {}: {e}", path.display())
        }
    })?;
    let pin = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let meta = pin
        .metadata()
        .map_err(|e| format!("cannot inspect {}: {e}", path.display()))?;
    if !meta.file_type().is_socket() {
        return Err(format!("{} was replaced while binding", path.display()));
    }
    let bound = BoundSocket {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
        _pin: pin,
    };
    let like_meta = like.and_then(|p| std::fs::metadata(p).ok());
    let mode = perms
        .mode
        .or(like_meta.as_ref().map(|m| m.mode() & 0o777))
        .unwrap_or(0o660);
    let uid = perms.uid.or(like_meta.as_ref().map(|m| m.uid()));
    let gid = perms.gid.or(like_meta.as_ref().map(|m| m.gid()));
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid)
            .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    Ok((listener, bound))
}

/// One listener as served: its name, its address as the kernel has it, whether systemd passed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub name: &'static str,
    pub addr: String,
    pub from_systemd: bool,
}

/// The daemon's listeners: what is served (for the log and `ctl status`) and the sockets bound
/// here, removed (if still theirs) when this is dropped, at exit or on an early return.
#[derive(Debug, Default)]
pub struct Sockets {
    pub served: Vec<Served>,
    bound: Vec<BoundSocket>,
}

impl Sockets {
    /// The Unix socket named `name`: the one systemd passed under that FileDescriptorName,
    /// else one bound at `path` (see [`bind_unix`]), else none.
    pub async fn unix(
        &mut self,
        activated: &mut super::systemd::Activated,
        name: &'static str,
        path: Option<&Path>,
        perms: &SocketPerms,
        like: Option<&Path>,
    ) -> Result<Option<UnixListener>, String> {
        if let Some(l) = activated.take(name)? {
            self.add(name, unix_addr(&l), true);
            return Ok(Some(l));
        }
        let Some(path) = path else {
            return Ok(None);
        };
        let (l, bound) = bind_unix(path, perms, like).await?;
        self.add(name, unix_addr(&l), false);
        self.bound.push(bound);
        Ok(Some(l))
    }

    pub fn add(&mut self, name: &'static str, addr: String, from_systemd: bool) {
        self.served.push(Served {
            name,
            addr,
            from_systemd,
        });
    }

    /// `["docker unix:///run/pullguard/docker.sock (systemd)", …]` for `ctl status`.
    pub fn lines(&self) -> Vec<String> {
        self.served
            .iter()
            .map(|s| {
                let from = if s.from_systemd { " (systemd)" } else { "" };
                format!("{} {}{from}", s.name, s.addr)
            })
            .collect()
    }

    /// The address served as `name`, or "none".
    pub fn addr(&self, name: &str) -> &str {
        self.served
            .iter()
            .find(|s| s.name == name)
            .map_or("none", |s| s.addr.as_str())
    }

    /// The names of the sockets systemd passed, comma-separated.
    pub fn activated(&self) -> String {
        let names: Vec<&str> = self
            .served
            .iter()
            .filter(|s| s.from_systemd)
            .map(|s| s.name)
            .collect();
        names.join(",")
    }
}

/// The address of a Unix listener as the kernel has it (getsockname): `unix:///path`,
/// `unix://@name` for an abstract socket, `unix://(unnamed)`.
pub fn unix_addr(l: &UnixListener) -> String {
    match l.local_addr() {
        Ok(a) => describe_unix(&a.into()),
        Err(e) => format!("unix://(unknown: {e})"),
    }
}

pub fn describe_unix(a: &std::os::unix::net::SocketAddr) -> String {
    use std::os::linux::net::SocketAddrExt;
    if let Some(p) = a.as_pathname() {
        format!("unix://{}", p.display())
    } else if let Some(name) = a.as_abstract_name() {
        format!("unix://@{}", String::from_utf8_lossy(name))
    } else {
        "unix://(unnamed)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn live_socket_is_refused_stale_one_replaced_and_only_our_inode_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let perms = SocketPerms {
            mode: Some(0o600),
            ..SocketPerms::default()
        };
        let (first, guard) = bind_unix(&path, &perms, None).await.unwrap();
        assert_eq!(unix_addr(&first), format!("unix://{}", path.display()));
        assert_eq!(
            std::fs::metadata(&path).unwrap().mode() & 0o777,
            0o600,
            "mode set"
        );
        // A second bind while the first listens: refused, and the first's socket stays.
        let err = bind_unix(&path, &perms, None).await.unwrap_err();
        assert!(err.contains("another pullguard is serving at"), "{err}");
        assert!(tokio::net::UnixStream::connect(&path).await.is_ok());

        // Another process replaces the path (as a restart with a stale socket would): our
        // guard must not remove that one.
        drop(first);
        let (second, guard2) = bind_unix(&path, &perms, None).await.unwrap();
        drop(guard);
        assert!(path.exists(), "the newer socket is not ours to remove");
        assert!(tokio::net::UnixStream::connect(&path).await.is_ok());
        drop(second);
        drop(guard2);
        assert!(!path.exists(), "our own socket is removed on drop");

        // Not a socket: refused.
        std::fs::write(&path, "x").unwrap();
        let err = bind_unix(&path, &perms, None).await.unwrap_err();
        assert!(err.contains("is not a socket"), "{err}");
    }
}
