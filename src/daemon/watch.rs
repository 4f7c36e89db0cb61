//! The policy-dir watcher: editors and config managers replace files by rename, so the whole
//! tree is watched (symlinks followed), changes are debounced, and then the daemon reloads
//! (whole or not at all, silently unless something changed).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::control::ControlState;

/// Event kinds that can change what a reload reads: creation, data writes, renames, removal,
/// metadata (mode, owner: readability). Opens, reads and closes without a write, the daemon's
/// own reloads among them, cannot; reacting to them made an idle daemon reload itself forever.
fn changes_content(kind: &notify::EventKind) -> bool {
    use notify::EventKind as K;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        K::Access(AccessKind::Close(AccessMode::Write)) => true,
        K::Access(_) => false,
        K::Create(_) | K::Modify(_) | K::Remove(_) | K::Any | K::Other => true,
    }
}

/// The directories a reload reads through, by identity (device and inode, symlinks followed):
/// the policy dir, `truststore`, `truststore/x509` and its three type dirs, any of which may be
/// a symlink, even out of the tree. When one is replaced (a symlink re-pointed, a directory
/// renamed over), the watches are set up again on what is there now.
fn tree_identity(dir: &Path) -> Vec<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    let x509 = dir.join("truststore").join("x509");
    [
        dir.to_path_buf(),
        dir.join("truststore"),
        x509.clone(),
        x509.join("ca"),
        x509.join("signingAuthority"),
        x509.join("tsa"),
    ]
    .iter()
    .map(|p| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino())))
    .collect()
}

/// Watch the policy dir tree (symlinks followed) for content changes; each one pokes `tx`
/// (one pending poke at most: they coalesce).
fn watch_tree(
    dir: &Path,
    tx: tokio::sync::mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher, String> {
    use notify::Watcher;
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // A watcher error (e.g. the kernel queue overflowed) may hide a change: reload.
        if res.as_ref().map_or(true, |ev| changes_content(&ev.kind)) {
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| e.to_string())?;
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    Ok(watcher)
}

/// A watch on the policy dir tree. The daemon sets it up before it loads the trust
/// configuration it will serve, and [`PolicyWatch::run`]s it once its control state exists: a
/// change made while the daemon starts (after the load, before the reload loop runs) is held as
/// a pending poke and reloaded, not missed.
pub struct PolicyWatch {
    dir: std::path::PathBuf,
    identity: Vec<Option<(u64, u64)>>,
    watcher: notify::RecommendedWatcher,
    tx: tokio::sync::mpsc::Sender<()>,
    rx: tokio::sync::mpsc::Receiver<()>,
}

impl PolicyWatch {
    pub fn start(dir: &Path) -> Result<PolicyWatch, String> {
        let (tx, rx) = tokio::sync::mpsc::channel::<()>(1);
        let identity = tree_identity(dir);
        let watcher = watch_tree(dir, tx.clone())?;
        Ok(PolicyWatch {
            dir: dir.to_path_buf(),
            identity,
            watcher,
            tx,
            rx,
        })
    }

    /// Reload (silently unless something changed) once changes have been quiet for `quiet`
    /// (at most 10× that, and at least 2 s, after the first).
    pub fn run(self, state: Arc<ControlState>, quiet: Duration) {
        let PolicyWatch {
            dir,
            mut identity,
            mut watcher,
            tx,
            mut rx,
        } = self;
        let longest = (quiet * 10).max(Duration::from_secs(2));
        tokio::spawn(async move {
            while rx.recv().await.is_some() {
                let cap = tokio::time::Instant::now() + longest;
                loop {
                    let until = (tokio::time::Instant::now() + quiet).min(cap);
                    match tokio::time::timeout_at(until, rx.recv()).await {
                        Ok(Some(())) if tokio::time::Instant::now() < cap => continue,
                        _ => break,
                    }
                }
                let now = tree_identity(&dir);
                if now != identity {
                    identity = now;
                    match watch_tree(&dir, tx.clone()) {
                        Ok(w) => {
                            tracing::debug!("policy dir tree replaced; watching it again");
                            watcher = w;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot watch the policy dir again"),
                    }
                }
                let _ = state.reload_if_changed().await;
            }
            drop(watcher);
        });
    }
}

/// Watch the policy dir and reload (silently unless something changed) once changes have been
/// quiet for `quiet` (at most 10× that, and at least 2 s, after the first).
pub fn watch_policy_dir(state: Arc<ControlState>, quiet: Duration) -> Result<(), String> {
    PolicyWatch::start(&state.policy_dir.clone())?.run(state, quiet);
    Ok(())
}
