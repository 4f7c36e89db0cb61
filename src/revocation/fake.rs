//! A hand-written fake [`RevocationCheck`] (test support, behind `cfg(test)` or the `test-util`
//! feature): for the faults and times a real responder cannot be made to produce on demand
//! (a revocation that takes effect at a pinned instant). It never touches the network.
//!
//! Each certificate is looked up by its SHA-256 fingerprint; an unlisted one is good. The
//! verdict over the chain is the real one (notation's wording, revoked before unknown, the
//! certificate closest to the leaf named), so a test through the fake asserts the messages the
//! network checker gives.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use super::{CertStatus, CheckFuture, Purpose, RevocationCheck, RevocationError, final_result};
use crate::gocompat::time_fmt::format_rfc1123z;
use crate::x509::Cert;

#[derive(Debug, Clone)]
enum Entry {
    /// Revoked from `at` on; before `at` the certificate is good.
    RevokedAt {
        at: OffsetDateTime,
        invalidity: Option<OffsetDateTime>,
    },
    Unknown(String),
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct FakeRevocation {
    entries: HashMap<String, Entry>,
    /// The `now` of every call, in order.
    calls: Mutex<Vec<OffsetDateTime>>,
}

impl FakeRevocation {
    /// Every certificate good.
    pub fn new() -> FakeRevocation {
        FakeRevocation::default()
    }

    /// `cert` is revoked from `at` on (as an OCSP responder would report it: `revoked at
    /// <RFC 1123Z>`).
    pub fn revoked_at(mut self, cert: &Cert, at: OffsetDateTime) -> FakeRevocation {
        self.entries.insert(
            cert.sha256_fingerprint(),
            Entry::RevokedAt {
                at,
                invalidity: None,
            },
        );
        self
    }

    /// `cert` is revoked from `at` on, with an invalidityDate (the signing-time rule: a
    /// signature made before it still counts).
    pub fn revoked_with_invalidity(
        mut self,
        cert: &Cert,
        at: OffsetDateTime,
        invalidity: OffsetDateTime,
    ) -> FakeRevocation {
        self.entries.insert(
            cert.sha256_fingerprint(),
            Entry::RevokedAt {
                at,
                invalidity: Some(invalidity),
            },
        );
        self
    }

    /// `cert`'s status cannot be determined (`detail` as the network checker would word it).
    pub fn unknown(mut self, cert: &Cert, detail: &str) -> FakeRevocation {
        self.entries.insert(
            cert.sha256_fingerprint(),
            Entry::Unknown(detail.to_string()),
        );
        self
    }

    /// The validation time of every check so far, in order.
    pub fn calls(&self) -> Vec<OffsetDateTime> {
        match self.calls.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn status(
        &self,
        cert: &Cert,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CertStatus {
        match self.entries.get(&cert.sha256_fingerprint()) {
            None => CertStatus::Good,
            Some(Entry::Unknown(d)) => CertStatus::Unknown(d.clone()),
            Some(Entry::RevokedAt { at, .. }) if now < *at => CertStatus::Good,
            Some(Entry::RevokedAt { invalidity, at }) => match (signing_time, invalidity) {
                (Some(st), Some(inv)) if st < *inv => CertStatus::Good,
                _ => CertStatus::Revoked(format!("revoked at {}", format_rfc1123z(*at))),
            },
        }
    }
}

impl RevocationCheck for FakeRevocation {
    fn check_chain<'a>(
        &'a self,
        chain: &'a [Cert],
        purpose: Purpose,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CheckFuture<'a> {
        match self.calls.lock() {
            Ok(mut c) => c.push(now),
            Err(p) => p.into_inner().push(now),
        }
        let result = if chain.is_empty() {
            Err(RevocationError::EmptyChain)
        } else {
            let statuses: Vec<CertStatus> = chain
                .windows(2)
                .map(|pair| self.status(&pair[0], signing_time, now))
                .collect();
            final_result(chain, &statuses, purpose)
        };
        Box::pin(std::future::ready(result))
    }
}
