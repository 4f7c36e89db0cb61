//! One image's outcome: the verdict, the reasons, each signature's report, the timings.

use super::*;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub resolve_ms: f64,
    pub discover_ms: f64,
    pub verify_ms: f64,
    pub total_ms: f64,
}

/// How a denial ends, in the classes notation's CLI tells apart (it prints a different line
/// for each; `pullguard verify` prints the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The reference did not resolve: `failed to get manifest descriptor: <error>`.
    Resolve(String),
    /// Verification stopped before a verdict on every signature (no applicable policy, no
    /// signature, a listing error, a signature that cannot be retrieved):
    /// `signature verification failed: <error>`.
    Stopped(String),
    /// Every signature tried failed (or the limit was reached):
    /// `signature verification failed for all the signatures associated with <artifact>`.
    AllFailed,
    /// Printed as it is (a digest reference that does not match the content).
    Plain(String),
}

/// The verdict on one image.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub reference: String,
    /// `registry/repository@digest`, what the policy was selected for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub allowed: bool,
    /// Why the image was denied (or, when allowed by `skip`, that it was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The class of the denial (for the notation-compatible CLI line).
    #[serde(skip)]
    pub failure: Option<Failure>,
    /// The signature that passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureReport>,
    /// Signatures tried that did not pass, in order.
    pub failed: Vec<SignatureReport>,
    pub timings: Timings,
    /// Denied because a registry could not be asked (unreachable, timing out, 5xx), not on
    /// the signature's merits: remembered briefly, and a client is told so.
    #[serde(skip)]
    pub transient: bool,
}

impl Outcome {
    pub(super) fn new(reference: &str) -> Outcome {
        Outcome {
            reference: reference.to_string(),
            artifact: None,
            descriptor: None,
            policy: None,
            level: None,
            allowed: false,
            reason: None,
            failure: None,
            signature: None,
            failed: Vec::new(),
            timings: Timings::default(),
            transient: false,
        }
    }

    /// A denial before anything was resolved.
    pub fn denied(reference: &str, reason: String) -> Outcome {
        let mut o = Outcome::new(reference);
        o.reason = Some(reason);
        o
    }

    /// Stop with `reason` (notation: an error out of `notation.Verify`, not a verdict).
    pub(super) fn stop(&mut self, reason: String, failure_text: String) {
        self.reason = Some(reason);
        self.failure = Some(Failure::Stopped(failure_text));
    }

    pub fn digest(&self) -> Option<&str> {
        self.descriptor.as_ref().map(|d| d.digest.as_str())
    }

    /// The line notation's CLI prints after `Error: ` for this denial, with `resolved` (the
    /// `registry/repository@digest` or `layout-path@digest` of the artifact) where it names it.
    pub fn notation_error(&self, resolved: &str) -> String {
        match &self.failure {
            Some(Failure::Resolve(e)) => format!("failed to get manifest descriptor: {e}"),
            Some(Failure::Stopped(e)) => format!("signature verification failed: {e}"),
            Some(Failure::AllFailed) => format!(
                "signature verification failed for all the signatures associated with {resolved}"
            ),
            Some(Failure::Plain(e)) => e.clone(),
            None => self
                .reason
                .clone()
                .unwrap_or_else(|| "verification failed".into()),
        }
    }

    /// One line naming the image, the digest, the policy and the reason.
    pub fn summary(&self) -> String {
        let digest = self.digest().unwrap_or("unresolved");
        let policy = self.policy.as_deref().unwrap_or("-");
        if self.allowed {
            let signer = self
                .signature
                .as_ref()
                .and_then(|s| s.signer.as_deref())
                .unwrap_or("-");
            match &self.reason {
                Some(r) => format!(
                    "allowed {} ({digest}) under trust policy {policy:?}: {r}",
                    self.reference
                ),
                None => format!(
                    "allowed {} ({digest}) under trust policy {policy:?}: signed by {signer:?}",
                    self.reference
                ),
            }
        } else {
            let reason = self.reason.as_deref().unwrap_or("verification failed");
            crate::gate::Denial::new(
                &self.reference,
                self.digest(),
                self.policy.as_deref(),
                reason.to_string(),
            )
            .to_string()
        }
    }
}

pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
