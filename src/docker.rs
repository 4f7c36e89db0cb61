//! The Docker guard: everything that stands between a Docker client and an image that does not
//! verify.
//!
//! - [`route`]: what a request does, read the way dockerd reads it.
//! - [`guard`]: the decisions (pull, create, start), shared by both front ends.
//! - [`proxy`]: the Engine API proxy on its own socket in front of `docker.sock`.
//! - [`authz`]: the authorization plugin dockerd asks about every request on every socket.
//! - [`dockerd`]: the small client of the real daemon the guard asks questions of.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use tokio::net::UnixListener;

mod accept;
pub mod authz;
pub mod dockerd;
pub mod guard;
pub mod proxy;
pub mod route;

pub use authz::AuthzPlugin;
pub use dockerd::Dockerd;
pub use guard::Guard;
pub use proxy::DockerProxy;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

/// Socket ownership and mode for the proxy socket.
#[derive(Debug, Clone, Default)]
pub struct SocketPerms {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Bind a Unix socket, removing a stale one (only if it is a socket), and set its owner and
/// mode: by default those of the upstream `docker.sock`.
pub fn bind_socket(
    path: &Path,
    perms: &SocketPerms,
    like: Option<&Path>,
) -> Result<UnixListener, String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)
                .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
        } else {
            return Err(format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let listener =
        UnixListener::bind(path).map_err(|e| format!("cannot bind {}: {e}", path.display()))?;
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
    Ok(listener)
}
