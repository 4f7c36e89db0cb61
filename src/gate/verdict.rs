//! What the gate answers: [`Verified`], a proof only the gate can build, or a [`Denial`] that
//! renders the one "denied … under trust policy …" line. Code that forwards a pull, a create
//! or a start, or serves a manifest, takes `&Verified` by type: "allowed without a digest"
//! cannot be represented.

use std::fmt;
use std::sync::Arc;

use crate::oci::Descriptor;
use crate::registry::Fetched;
use crate::verify::{Outcome, SignatureReport};

/// The gate's answer on one request.
pub type Verdict = Result<Verified, Denial>;

/// Why an image was let in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Evidence {
    /// A signature passed every enforced validation of the statement.
    Signature(Box<SignatureReport>),
    /// The statement's level is `skip`: nothing was verified, by policy.
    PolicySkip,
    /// A child manifest of an index that verified, served under the index's signature
    /// (`require_platform_signature` off); `index` is `registry/repository@digest`.
    IndexChild { index: String },
}

/// Proof that an image verified: its fields are private and only the gate constructs one.
#[derive(Debug, Clone)]
pub struct Verified {
    image: String,
    descriptor: Descriptor,
    policy: String,
    evidence: Evidence,
    outcome: Arc<Outcome>,
    manifest: Option<Fetched>,
}

impl Verified {
    /// The reference that was asked for.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// The digest that verified: pull, start or serve exactly this.
    pub fn digest(&self) -> &str {
        &self.descriptor.digest
    }

    /// The descriptor (media type, digest, size) the signature covers.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The trust policy statement the image was verified under.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// The full report (signatures tried, timings), as `pullguard verify` prints it.
    pub fn outcome(&self) -> &Arc<Outcome> {
        &self.outcome
    }

    /// The manifest bytes this verdict was made on, when this call fetched them (not when
    /// the verdict came from the cache).
    pub fn manifest(&self) -> Option<&Fetched> {
        self.manifest.as_ref()
    }

    /// A denial of what this proof covers, for a failure after verification (the bytes
    /// served now are not the verified ones, say).
    pub fn deny(&self, reason: String) -> Denial {
        Denial::new(&self.image, Some(self.digest()), Some(&self.policy), reason)
    }

    /// The one allowed line: `allowed IMAGE (DIGEST) under trust policy "P": …`.
    pub fn summary(&self) -> String {
        self.outcome.summary()
    }

    /// An allowed outcome as a proof; anything else as a denial.
    pub(in crate::gate) fn judge(outcome: Arc<Outcome>, manifest: Option<Fetched>) -> Verdict {
        let (true, Some(descriptor), Some(policy)) = (
            outcome.allowed,
            outcome.descriptor.clone(),
            outcome.policy.clone(),
        ) else {
            return Err(Denial::of(outcome));
        };
        let evidence = match &outcome.signature {
            Some(s) => Evidence::Signature(Box::new(s.clone())),
            None => Evidence::PolicySkip,
        };
        Ok(Verified {
            image: outcome.reference.clone(),
            descriptor,
            policy,
            evidence,
            manifest: manifest.filter(|m| m.digest == outcome.digest().unwrap_or_default()),
            outcome,
        })
    }

    /// `child` (a manifest of the index `parent` verified) under the parent's signature.
    pub(in crate::gate) fn child(
        parent_index: &str,
        policy: &str,
        image: &str,
        child: Descriptor,
    ) -> Verified {
        let mut o = Outcome::denied(image, String::new());
        o.allowed = true;
        o.reason = Some(format!("part of {parent_index}"));
        o.policy = Some(policy.to_string());
        o.descriptor = Some(child.clone());
        Verified {
            image: image.to_string(),
            descriptor: child,
            policy: policy.to_string(),
            evidence: Evidence::IndexChild {
                index: parent_index.to_string(),
            },
            outcome: Arc::new(o),
            manifest: None,
        }
    }
}

/// Why an image was not let in: `Display` is the one
/// `denied IMAGE (DIGEST) under trust policy "P": REASON` line.
#[derive(Debug, Clone)]
pub struct Denial {
    image: String,
    at: At,
    policy: Option<String>,
    reason: String,
    transient: bool,
    outcome: Option<Arc<Outcome>>,
}

/// What the parentheses after the image name say.
#[derive(Debug, Clone)]
enum At {
    Unresolved,
    Digest(String),
    /// Served under another artifact's verdict (an index child, a blob).
    PartOf(String),
}

impl Denial {
    pub fn new(image: &str, digest: Option<&str>, policy: Option<&str>, reason: String) -> Denial {
        Denial {
            image: image.to_string(),
            at: digest.map_or(At::Unresolved, |d| At::Digest(d.to_string())),
            policy: policy.map(str::to_owned),
            reason,
            transient: false,
            outcome: None,
        }
    }

    /// `denied ITEM (part of VIA) under trust policy "P": REASON`: something served under
    /// the verdict on `via` (a child of a verified index, a layer of a verified manifest).
    pub fn part_of(item: &str, via: &str, policy: &str, reason: String) -> Denial {
        Denial {
            at: At::PartOf(via.to_string()),
            ..Denial::new(item, None, Some(policy), reason)
        }
    }

    pub(crate) fn of(outcome: Arc<Outcome>) -> Denial {
        Denial {
            image: outcome.reference.clone(),
            at: outcome
                .digest()
                .map_or(At::Unresolved, |d| At::Digest(d.to_string())),
            policy: outcome.policy.clone(),
            reason: outcome
                .reason
                .clone()
                .unwrap_or_else(|| "verification failed".into()),
            transient: outcome.transient,
            outcome: Some(outcome),
        }
    }

    /// The same denial, caused by a registry that may answer if asked again.
    pub fn transient(mut self, transient: bool) -> Denial {
        self.transient = transient;
        self
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    pub fn digest(&self) -> Option<&str> {
        match &self.at {
            At::Digest(d) => Some(d),
            _ => None,
        }
    }

    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// A registry could not be asked (down, timing out, 5xx): not a verdict on the image's
    /// signature. Remembered briefly; a client is told the registry is unavailable.
    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// The full report, when verification ran.
    pub fn outcome(&self) -> Option<&Arc<Outcome>> {
        self.outcome.as_ref()
    }

    /// The report, or one made of this denial.
    pub fn to_outcome(&self) -> Arc<Outcome> {
        match &self.outcome {
            Some(o) => o.clone(),
            None => {
                let mut o = Outcome::denied(&self.image, self.reason.clone());
                o.policy = self.policy.clone();
                o.transient = self.transient;
                Arc::new(o)
            }
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            At::Unresolved => write!(f, "denied {} (unresolved)", self.image)?,
            At::Digest(d) => write!(f, "denied {} ({d})", self.image)?,
            At::PartOf(via) => write!(f, "denied {} (part of {via})", self.image)?,
        }
        if let Some(p) = &self.policy {
            write!(f, " under trust policy {p:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The report of a verdict, allowed or denied.
pub fn outcome_of(v: &Verdict) -> Arc<Outcome> {
    match v {
        Ok(v) => v.outcome().clone(),
        Err(d) => d.to_outcome(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denial_renders_the_one_line() {
        let d = Denial::new("r/a:1", Some("sha256:ab"), Some("p"), "no".into());
        assert_eq!(
            d.to_string(),
            r#"denied r/a:1 (sha256:ab) under trust policy "p": no"#
        );
        let d = Denial::new("r/a:1", None, None, "gone".into());
        assert_eq!(d.to_string(), "denied r/a:1 (unresolved): gone");
        let d = Denial::part_of("r/a@sha256:c", "r/a@sha256:i", "p", "moved".into());
        assert_eq!(
            d.to_string(),
            r#"denied r/a@sha256:c (part of r/a@sha256:i) under trust policy "p": moved"#
        );
        // The same text as the outcome's summary.
        let mut o = Outcome::denied("r/a:1", "why".into());
        o.policy = Some("p".into());
        let o = Arc::new(o);
        assert_eq!(Denial::of(o.clone()).to_string(), o.summary());
    }

    #[test]
    fn only_an_allowed_outcome_with_a_digest_is_a_proof() {
        let mut o = Outcome::denied("r/a:1", "x".into());
        o.allowed = true;
        o.policy = Some("p".into());
        // Allowed, but no descriptor: not representable as Verified.
        assert!(Verified::judge(Arc::new(o), None).is_err());
    }
}
