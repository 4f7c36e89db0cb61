//! The revocation layer's error: what the verifier is told about a chain. `Display` is
//! notation's exact text (notation-go `verifier.revocationFinalResult`).

use std::fmt;

use super::Purpose;
use crate::gocompat::quote::quote as go_quote;

/// Why a chain did not pass the revocation check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationError {
    /// The chain has no certificate.
    EmptyChain,
    /// A certificate is revoked (the one closest to the leaf is named).
    Revoked {
        purpose: Purpose,
        /// Go `pkix.Name.String()` of its subject.
        subject: String,
        /// Where and when: `OCSP <url>: revoked at <time> (<reason>)`, `CRL <url>: revoked at ..`.
        detail: String,
    },
    /// No certificate is revoked, but one's status could not be determined.
    Unknown {
        purpose: Purpose,
        subject: String,
        /// What each method answered, `; then `-joined.
        detail: String,
    },
}

impl RevocationError {
    /// `true` when a certificate is known to be revoked (not merely of unknown status).
    pub fn is_revoked(&self) -> bool {
        matches!(self, RevocationError::Revoked { .. })
    }
}

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevocationError::EmptyChain => f.write_str(
                "unable to check revocation status, err: chain does not contain any certificates",
            ),
            RevocationError::Revoked {
                purpose,
                subject,
                detail,
            } => write!(
                f,
                "{} with subject {} is revoked: {detail}",
                purpose.noun(),
                go_quote(subject)
            ),
            RevocationError::Unknown {
                purpose,
                subject,
                detail,
            } => write!(
                f,
                "{} with subject {} revocation status is unknown: {detail}",
                purpose.noun(),
                go_quote(subject)
            ),
        }
    }
}

impl std::error::Error for RevocationError {}
