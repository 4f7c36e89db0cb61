//! The image stores themselves: images arrive around every pull guard (`ctr images import`,
//! `ctr images pull --local`, a hosts.toml that skips the mirror, pre-loaded nodes, `docker
//! load` on the real socket). The store watch verifies every image that appears in or changes
//! in a store, and `pullguard audit` takes a one-shot inventory.
//!
//! - [`containerd`]: containerd's events, images and namespaces API over its socket.
//! - [`docker`]: dockerd's image events and image list.
//! - [`watch`]: the daemon's watcher: verdicts (decision origin `store`), removal, reconnects.
//! - [`audit`]: `pullguard audit`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::docker::Guard;
use crate::docker::dockerd::ImageInfo;
use crate::docker::guard::LocalImage;
use crate::gate::Gate;
use crate::oci::ImageRef;
use crate::verify::Outcome;

pub mod audit;
pub mod containerd;
pub mod docker;
pub mod watch;

/// The decision origin of store verdicts.
pub const ORIGIN: &str = "store";

/// One image in a store and its standing.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `containerd` or `docker`.
    pub store: &'static str,
    /// The containerd namespace (none for docker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The image's name (containerd's record name; docker's first tag, or its ID).
    pub image: String,
    /// The digest verified (containerd: the record's target; docker: the RepoDigest's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Docker's image ID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub reason: String,
    /// Not judged: the registry could not be asked (down, timing out, 5xx).
    #[serde(skip)]
    pub transient: bool,
}

impl Finding {
    pub fn verdict(&self) -> &'static str {
        if self.verified {
            "verified"
        } else {
            "unverified"
        }
    }

    /// Not verified because the registry could not be asked, rather than denied.
    pub fn unavailable(&self) -> bool {
        !self.verified && self.transient
    }
}

/// The reason an outcome gives, without the image and digest `summary` repeats.
fn reason_of(o: &Outcome) -> String {
    match &o.reason {
        Some(r) => r.clone(),
        None if o.allowed => match o.signature.as_ref().and_then(|s| s.signer.as_deref()) {
            Some(s) => format!("signed by {s:?}"),
            None => "verification skipped by the trust policy".into(),
        },
        None => "verification failed".into(),
    }
}

/// Verify `name` at `digest` (a containerd record) through the engine, so a digest already
/// verified is a cache hit. A name that is no reference is a denial in the decision log.
pub async fn verify_named(engine: &Gate, name: &str, digest: &str) -> Arc<Outcome> {
    // Read as containerd reads it: its first component is the registry host.
    let image = match ImageRef::parse_containerd(name) {
        Ok(i) => i.with_digest(digest),
        Err(e) => {
            let o = Outcome::denied(
                &format!("{name}@{digest}"),
                format!(
                    "the image name is not a registry reference, so no signature can be found: {e}"
                ),
            );
            engine.note(ORIGIN, &o);
            return Arc::new(o);
        }
    };
    crate::gate::outcome_of(
        &engine
            .check(&crate::gate::Request::new(image, ORIGIN).platform(crate::gate::Platform::Every))
            .await,
    )
}

/// A containerd finding from an outcome.
pub fn containerd_finding(namespace: &str, name: &str, digest: &str, o: &Outcome) -> Finding {
    Finding {
        store: "containerd",
        namespace: Some(namespace.to_string()),
        image: name.to_string(),
        digest: Some(digest.to_string()),
        id: None,
        verified: o.allowed,
        policy: o.policy.clone(),
        reason: reason_of(o),
        transient: o.transient,
    }
}

/// The name of a statement the policy selects for `reference` (`name@digest`), for reports on
/// images whose verdict came without an outcome.
pub fn policy_for(engine: &Gate, reference: &str) -> Option<String> {
    let image = ImageRef::parse(reference).ok()?;
    let digest = image.digest.clone()?;
    let snap = engine.snapshot();
    snap.trust
        .policy
        .statement_for(&format!("{}@{digest}", image.scope()))
        .ok()
        .map(|s| s.name.clone())
}

/// A containerd record named by a bare digest (`sha256:<hex>`): CRI's image-ID alias of a named
/// record with the same target.
pub fn is_digest_name(name: &str) -> bool {
    name.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The standing of one containerd image record. A record named by a bare digest is CRI's
/// image-ID alias: it stands when a named record with the same target verifies (CRI writes the
/// alias first, so the named one is waited for a moment).
pub async fn check_containerd(
    engine: &Gate,
    c: &containerd::Containerd,
    ns: &str,
    rec: &containerd::Record,
) -> Finding {
    if rec.digest.is_empty() {
        let o = Outcome::denied(&rec.name, "the image record has no target digest".into());
        engine.note(ORIGIN, &o);
        return containerd_finding(ns, &rec.name, &rec.digest, &o);
    }
    if !is_digest_name(&rec.name) {
        let o = verify_named(engine, &rec.name, &rec.digest).await;
        return containerd_finding(ns, &rec.name, &rec.digest, &o);
    }
    let mut why = "no named image record has this target".to_string();
    // A named record's check could not ask the registry: the alias may verify.
    let mut transient = false;
    for attempt in 0..4 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let siblings = match c
            .images(ns, vec![format!("target.digest=={:?}", rec.digest)])
            .await
        {
            Ok(s) => s,
            Err(e) => {
                why = e;
                continue;
            }
        };
        let named: Vec<_> = siblings
            .into_iter()
            .filter(|s| !is_digest_name(&s.name) && s.digest == rec.digest)
            .collect();
        if named.is_empty() {
            continue;
        }
        let mut reasons = Vec::new();
        for s in &named {
            let o = verify_named(engine, &s.name, &s.digest).await;
            transient |= o.transient;
            if o.allowed {
                let mut f = containerd_finding(ns, &rec.name, &rec.digest, &o);
                f.reason = format!("the image ID of {}, which verifies: {}", s.name, f.reason);
                return f;
            }
            reasons.push(o.summary());
        }
        why = format!(
            "no named image record with this target verifies: {}",
            reasons.join("; ")
        );
        break;
    }
    let mut o = Outcome::denied(&rec.name, why);
    o.transient = transient;
    engine.note(ORIGIN, &o);
    containerd_finding(ns, &rec.name, &rec.digest, &o)
}

/// The standing of one Docker image (by ID or reference), through the Docker guard; `None`
/// when there is no such image (any more). `tags`: the names to report it under.
pub async fn check_docker(
    guard: &Guard,
    image: &str,
    tags: &[String],
) -> Result<Option<(Finding, ImageInfo)>, String> {
    let Some(info) = guard.dockerd.image("", image).await? else {
        return Ok(None);
    };
    let tags = if tags.is_empty() {
        docker::tags(&guard.dockerd, &info.id).await?
    } else {
        tags.to_vec()
    };
    let name = tags
        .first()
        .or(info.repo_digests.first())
        .cloned()
        .unwrap_or_else(|| info.id.clone());
    let digest_of = |rd: &str| rd.split_once('@').map(|(_, d)| d.to_string());
    let mut f = Finding {
        store: "docker",
        namespace: None,
        image: name.clone(),
        digest: info.repo_digests.first().and_then(|d| digest_of(d)),
        id: Some(info.id.clone()),
        verified: false,
        policy: info
            .repo_digests
            .first()
            .and_then(|d| policy_for(&guard.engine, d)),
        reason: String::new(),
        transient: false,
    };
    match guard.local_image("", &info.id, ORIGIN).await {
        LocalImage::Missing => return Ok(None),
        LocalImage::Verified { .. } => {
            f.verified = true;
            // The verdict's details: the engine's newest allow of one of its RepoDigests.
            let digests: Vec<String> = info
                .repo_digests
                .iter()
                .filter_map(|d| digest_of(d))
                .collect();
            let d = guard.engine.decisions().into_iter().rev().find(|d| {
                d.verdict == "allowed" && d.digest.as_ref().is_some_and(|x| digests.contains(x))
            });
            match d {
                Some(d) => {
                    f.digest = d.digest.clone();
                    f.policy = d.policy.clone();
                    f.reason = d
                        .reason
                        .split_once(": ")
                        .map(|(_, r)| r.to_string())
                        .unwrap_or(d.reason);
                }
                None => f.reason = "a RepoDigest verifies".into(),
            }
        }
        LocalImage::Unavailable(why) => {
            f.transient = true;
            f.reason = why;
        }
        LocalImage::Denied(why) => {
            if info.repo_digests.is_empty() {
                guard.engine.note(
                    ORIGIN,
                    &Outcome::denied(&format!("{name} ({})", info.id), why.clone()),
                );
            }
            f.reason = why;
        }
    }
    Ok(Some((f, info)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_names() {
        assert!(is_digest_name(&format!("sha256:{}", "a".repeat(64))));
        assert!(!is_digest_name("sha256:abc"));
        assert!(!is_digest_name("docker.io/library/busybox:1"));
        assert!(!is_digest_name(&format!("sha256:{}", "g".repeat(64))));
    }
}
