//! Reloading the trust policy, whatever asked (SIGHUP, `ctl reload`, the policy-dir watcher):
//! the policy dir is loaded and validated aside and installed only if whole; the old one keeps
//! serving until then, and stays if the new one is refused. The systemd notifications that
//! frame a reload (RELOADING=1 … READY=1, STATUS=) are sent here, next to it.

use std::path::Path;

use super::systemd;
use crate::control::ControlState;
use crate::verify::TrustConfig;

/// Load the trust configuration for serving: policy errors and store errors both refuse.
pub fn load_strict(dir: &Path) -> Result<TrustConfig, Vec<String>> {
    let tc = TrustConfig::load(dir)?;
    let problems = tc.store_problems();
    if problems.is_empty() {
        Ok(tc)
    } else {
        Err(problems)
    }
}

impl ControlState {
    /// An explicit reload (SIGHUP, `ctl reload`): build and validate the policy dir aside and
    /// install it only if it is whole; the old configuration keeps serving until then, and
    /// stays if the new one is refused. The operator asked, so there is always an answer:
    /// RELOADING=1 … READY=1 to systemd (what it waits for around a reload) and one log line,
    /// "reloaded", "unchanged" (info) or "rejected" (error).
    pub async fn reload(&self, trigger: &str) -> Result<u64, Vec<String>> {
        self.reload_with(trigger, true).await
    }

    /// A reload the policy-dir watcher asks for: something in the tree may have changed. It
    /// is heard only when it matters: a change of content (RELOADING=1 … READY=1, info), a
    /// newly invalid policy (error, once per distinct error), a return to a valid one (info).
    /// Finding the content that is already serving, or the same error again, is silent (debug).
    pub async fn reload_if_changed(&self) -> Result<u64, Vec<String>> {
        self.reload_with("file change", false).await
    }

    async fn reload_with(&self, trigger: &str, explicit: bool) -> Result<u64, Vec<String>> {
        let _serial = self.reload_lock.lock().await;
        if explicit {
            systemd::reloading();
        }
        let dir = self.policy_dir.clone();
        let loaded = tokio::task::spawn_blocking(move || load_strict(&dir))
            .await
            .map_err(|e| vec![format!("reload task failed: {e}")])
            .and_then(|r| r);
        let previous_error = self.last_reload_error();
        crate::metrics::reload(loaded.is_ok());
        match loaded {
            Ok(t) => {
                let current = self.engine.snapshot();
                let changed = t.source_hash != current.trust.source_hash;
                let mut generation = current.generation;
                if changed {
                    if !explicit {
                        systemd::reloading();
                    }
                    generation = self.engine.install(t);
                    tracing::info!(generation, trigger, "trust policy reloaded");
                } else if !previous_error.is_empty() {
                    tracing::info!(
                        generation,
                        trigger,
                        "trust policy valid again, and the same as the one serving (unchanged)"
                    );
                } else if explicit {
                    tracing::info!(generation, trigger, "trust policy unchanged");
                } else {
                    tracing::debug!(generation, trigger, "trust policy unchanged");
                }
                if let Ok(mut e) = self.last_reload_error.lock() {
                    e.clear();
                }
                if explicit || changed {
                    systemd::ready(&self.status_line());
                } else if !previous_error.is_empty() {
                    systemd::status(&self.status_line());
                }
                Ok(generation)
            }
            Err(problems) => {
                let joined = problems.join("; ");
                if explicit || joined != previous_error {
                    tracing::error!(
                        trigger,
                        problems = %joined,
                        "trust policy reload rejected; keeping the last good policy"
                    );
                } else {
                    tracing::debug!(trigger, "trust policy still invalid (same problems)");
                }
                if let Ok(mut e) = self.last_reload_error.lock() {
                    *e = joined.clone();
                }
                if explicit {
                    systemd::ready(&self.status_line());
                } else if joined != previous_error {
                    systemd::status(&self.status_line());
                }
                Err(problems)
            }
        }
    }
}
