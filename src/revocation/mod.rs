//! Certificate revocation checking (OCSP and CRL) with notation-go's semantics (spec §9).
//!
//! - Every certificate except the last (the root) is checked against the next one, its issuer;
//!   the certificates of a chain are checked concurrently.
//! - OCSP (the AIA responder URLs, `http://` only, tried in order) is preferred. When it gives
//!   no answer (network error, timeout, a bad or expired response, status `unknown`) and the
//!   certificate names a CRL distribution point, the CRL decides.
//! - CRLs (`http://` only) must be signed by the issuer, carry a `nextUpdate` that is not in the
//!   past, and have no unknown critical extension. Delta CRLs (Freshest CRL) are **not** fetched:
//!   the base CRL alone decides, and a warning says so.
//! - A certificate with neither OCSP nor CRL is non-revokable, which counts as OK.
//! - With an authentic signing time (the signingAuthority scheme), a revoked certificate whose
//!   revocation carries an invalidityDate after the signing time counts as good.
//! - Over the chain: any revoked certificate → revoked; else any unknown → unknown; else OK.
//!   The message names the certificate closest to the leaf, as notation does.
//!
//! Verified CRLs are kept in memory per URL until their `nextUpdate` (bounded in entries and
//! bytes), since the daemon verifies many images signed under the same CAs.
//!
//! Not done (as in notation-go): revocation checking of a delegated OCSP responder's own
//! certificate, OCSP nonces, indirect CRLs.
//!
//! The seam is [`RevocationCheck`] (notation-go injects a `revocation.Validator` the same way):
//! the verifier takes a `&dyn RevocationCheck`, the daemon gives it the network
//! [`RevocationChecker`], tests a fake. The validation time is an argument: nothing here reads
//! the wall clock.
//!
//! Layout (notation-core-go's `revocation/` split): `checker` asks the network (OCSP first,
//! then the CRL) and owns the CRL `cache`; `ocsp` and `crl` judge a response or a CRL without
//! I/O; this file holds the seam, the statuses and the verdict over a chain.

mod cache;
mod checker;
mod crl;
mod error;
#[cfg(any(test, feature = "test-util"))]
mod fake;
mod ocsp;

#[cfg(test)]
mod tests;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;

use crate::x509::Cert;

pub use checker::RevocationChecker;
pub use error::RevocationError;
#[cfg(any(test, feature = "test-util"))]
pub use fake::FakeRevocation;

/// What [`RevocationCheck::check_chain`] returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), RevocationError>> + Send + 'a>>;

/// The revocation validation of a certificate chain (spec §9), as the verifier sees it.
pub trait RevocationCheck: fmt::Debug + Send + Sync {
    /// Check `chain` (leaf first, root last) at `now`. `Err` carries notation's message:
    /// `<signing|timestamping> certificate with subject "..." is revoked: <detail>` or
    /// `... revocation status is unknown: <detail>`. `signing_time` is the authentic signing
    /// time (signingAuthority scheme only), for the invalidityDate rule.
    fn check_chain<'a>(
        &'a self,
        chain: &'a [Cert],
        purpose: Purpose,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CheckFuture<'a>;
}

/// The fuzzing entry for what revocation servers answer: `der` read as a CRL issued by each
/// certificate of `chain` (leaf first) and, when it parses, each certificate below looked up
/// in it; then as an OCSP response about each certificate under its issuer. Judged at `now`;
/// returns how many were accepted (the signature checks make that 0 for anything forged).
#[doc(hidden)]
pub fn fuzz_answer(der: &[u8], chain: &[Cert], now: OffsetDateTime) -> usize {
    let mut accepted = 0;
    for (i, issuer) in chain.iter().enumerate() {
        if let Ok(c) = crl::parse_crl(der, issuer, now) {
            accepted += 1;
            for cert in &chain[..i] {
                let _ = crl::crl_lookup(&c, cert, Some(now));
            }
        }
    }
    for w in chain.windows(2) {
        if ocsp::parse_ocsp_response(der, &w[0], &w[1], now).is_ok() {
            accepted += 1;
        }
        let _ = ocsp::ocsp_invalidity_date(der, w[0].serial());
    }
    accepted
}

/// notation-go's OCSP HTTP client timeout.
pub const DEFAULT_OCSP_TIMEOUT: Duration = Duration::from_secs(2);
/// notation-go's CRL fetcher timeout.
pub const DEFAULT_CRL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the chain is for; it only changes the wording of the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    CodeSigning,
    Timestamping,
}

impl Purpose {
    fn noun(self) -> &'static str {
        match self {
            Purpose::CodeSigning => "signing certificate",
            Purpose::Timestamping => "timestamping certificate",
        }
    }
}

/// The revocation status of one certificate, with a short detail for the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    Good,
    /// Neither OCSP nor CRL: nothing to check (OK).
    NonRevokable,
    Revoked(String),
    Unknown(String),
}

/// notation's final result over a chain (statuses for all but the root): any revoked
/// certificate, else any unknown one, the one closest to the leaf named.
fn final_result(
    chain: &[Cert],
    statuses: &[CertStatus],
    purpose: Purpose,
) -> Result<(), RevocationError> {
    let subject = |i: usize| {
        chain
            .get(i)
            .map_or_else(String::new, |c| c.subject().to_string())
    };
    for (i, s) in statuses.iter().enumerate() {
        if let CertStatus::Revoked(d) = s {
            return Err(RevocationError::Revoked {
                purpose,
                subject: subject(i),
                detail: d.clone(),
            });
        }
    }
    for (i, s) in statuses.iter().enumerate() {
        if let CertStatus::Unknown(d) = s {
            return Err(RevocationError::Unknown {
                purpose,
                subject: subject(i),
                detail: d.clone(),
            });
        }
    }
    Ok(())
}

fn openssl_reason(e: &openssl::error::ErrorStack) -> String {
    let reasons: Vec<&str> = e.errors().iter().filter_map(|x| x.reason()).collect();
    if reasons.is_empty() {
        e.to_string()
    } else {
        reasons.join(": ")
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}
