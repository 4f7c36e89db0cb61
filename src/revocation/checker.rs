//! The network checker: OCSP responders and CRL distribution points over HTTP, with the CRL
//! cache. One per process (or per daemon).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use openssl::ocsp::OcspRequest;
use time::OffsetDateTime;

use super::cache::CrlCache;
use super::crl::{ParsedCrl, crl_lookup, parse_crl};
use super::ocsp::{OcspAnswer, cert_id, parse_ocsp_response};
use super::{
    CertStatus, CheckFuture, DEFAULT_CRL_TIMEOUT, DEFAULT_OCSP_TIMEOUT, Purpose, RevocationCheck,
    RevocationError, final_result, openssl_reason,
};
use crate::gocompat::quote::quote as go_quote;
use crate::http::Http;
use crate::x509::Cert;

/// notation-core-go's limit on an OCSP response.
const MAX_OCSP_RESPONSE: u64 = 20 * 1024;
/// notation-core-go's limit on a CRL.
const MAX_CRL_SIZE: u64 = 32 * 1024 * 1024;

/// Checks certificate chains against their OCSP responders and CRLs. One per process (or per
/// daemon): it holds the HTTP clients and the CRL cache.
pub struct RevocationChecker {
    ocsp_http: Http,
    crl_http: Http,
    ocsp_timeout: Duration,
    crl_timeout: Duration,
    cache: Mutex<CrlCache>,
    /// Never contact a responder or CRL server (see [`RevocationChecker::offline`]).
    offline: bool,
}

impl fmt::Debug for RevocationChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationChecker")
            .field("ocsp_timeout", &self.ocsp_timeout)
            .field("crl_timeout", &self.crl_timeout)
            .field("cached_crls", &self.cached_crls())
            .finish()
    }
}

impl Default for RevocationChecker {
    fn default() -> Self {
        RevocationChecker::new(DEFAULT_OCSP_TIMEOUT, DEFAULT_CRL_TIMEOUT)
    }
}

impl RevocationChecker {
    /// `ocsp_timeout` and `crl_timeout` bound each OCSP request and each CRL download whole
    /// (connect, headers, body).
    pub fn new(ocsp_timeout: Duration, crl_timeout: Duration) -> RevocationChecker {
        RevocationChecker {
            ocsp_http: Http::new(ocsp_timeout, ocsp_timeout),
            crl_http: Http::new(crl_timeout, crl_timeout),
            ocsp_timeout,
            crl_timeout,
            cache: Mutex::new(CrlCache::default()),
            offline: false,
        }
    }

    /// A checker that never reaches the network: a certificate that names an OCSP responder or
    /// a CRL is of unknown status (fail closed). For the fuzz targets, whose certificates may
    /// name any URL.
    pub fn offline() -> RevocationChecker {
        RevocationChecker {
            offline: true,
            ..RevocationChecker::default()
        }
    }

    /// How many CRLs are cached.
    pub fn cached_crls(&self) -> usize {
        self.lock_cache().entries.len()
    }

    /// Forget every cached CRL.
    pub fn purge_cache(&self) {
        *self.lock_cache() = CrlCache::default();
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, CrlCache> {
        match self.cache.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        }
    }

    /// Check `chain` (leaf first, root last). `Err` carries notation's message:
    /// `<signing|timestamping> certificate with subject "..." is revoked: <detail>` or
    /// `... revocation status is unknown: <detail>`.
    /// `signing_time` is the authentic signing time (signingAuthority scheme only), for the
    /// invalidityDate rule. `now` is the validation time: OCSP responses and CRLs must be
    /// current at it, and cached CRLs are used until their nextUpdate passes it (no clock is
    /// read here).
    pub async fn check_chain(
        &self,
        chain: &[Cert],
        purpose: Purpose,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), RevocationError> {
        if chain.is_empty() {
            return Err(RevocationError::EmptyChain);
        }
        let statuses = futures_util::future::join_all(
            chain
                .windows(2)
                .map(|pair| self.check_cert(&pair[0], &pair[1], signing_time, now)),
        )
        .await;
        for (i, s) in statuses.iter().enumerate() {
            if i > 0 && *s == CertStatus::NonRevokable {
                tracing::debug!(
                    "certificate #{} in the chain with subject {} neither has an OCSP nor a CRL revocation method",
                    i + 1,
                    go_quote(chain[i].subject())
                );
            }
        }
        final_result(chain, &statuses, purpose)
    }

    /// The status of `cert` as issued by `issuer`: OCSP first, the CRL when OCSP gives no answer.
    pub async fn check_cert(
        &self,
        cert: &Cert,
        issuer: &Cert,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CertStatus {
        let has_crl = !cert.crl_urls().is_empty();
        if cert.ocsp_urls().is_empty() {
            if !has_crl {
                return CertStatus::NonRevokable;
            }
            if self.offline {
                return CertStatus::Unknown("offline: the CRL was not fetched".into());
            }
            return self.check_crl(cert, issuer, signing_time, now).await;
        }
        if self.offline {
            return CertStatus::Unknown("offline: the OCSP responder was not asked".into());
        }
        match self.check_ocsp(cert, issuer, signing_time, now).await {
            CertStatus::Unknown(ocsp_err) if has_crl => {
                tracing::info!(
                    "OCSP check failed ({ocsp_err}); falling back to the CRL for the certificate with subject {}",
                    go_quote(cert.subject())
                );
                match self.check_crl(cert, issuer, signing_time, now).await {
                    CertStatus::Unknown(crl_err) => {
                        CertStatus::Unknown(format!("{ocsp_err}; then {crl_err}"))
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn check_ocsp(
        &self,
        cert: &Cert,
        issuer: &Cert,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CertStatus {
        let mut errors = Vec::new();
        for url in cert.ocsp_urls() {
            match self.ocsp_server(cert, issuer, url, signing_time, now).await {
                Ok(OcspAnswer::Good) => return CertStatus::Good,
                Ok(OcspAnswer::Revoked(d)) => return CertStatus::Revoked(d),
                Ok(OcspAnswer::Unknown) => {
                    return CertStatus::Unknown(format!(
                        "OCSP {url}: the responder reports the status as unknown"
                    ));
                }
                Err(e) => errors.push(format!("OCSP {url}: {e}")),
            }
        }
        CertStatus::Unknown(errors.join("; "))
    }

    async fn ocsp_server(
        &self,
        cert: &Cert,
        issuer: &Cert,
        url: &str,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<OcspAnswer, String> {
        if !has_scheme(url, "http") {
            return Err("only http:// OCSP responders are supported".into());
        }
        let ossl = |e: openssl::error::ErrorStack| openssl_reason(&e);
        let mut req = OcspRequest::new().map_err(ossl)?;
        req.add_id(cert_id(cert, issuer)?).map_err(ossl)?;
        let body = req.to_der().map_err(ossl)?;
        let headers = [
            (CONTENT_TYPE, "application/ocsp-request".to_string()),
            (ACCEPT, "application/ocsp-response".to_string()),
        ];
        let resp = self
            .ocsp_http
            .send(Method::POST, url, &headers, Bytes::from(body))
            .await?;
        if !resp.status.is_success() {
            return Err(format!("the responder answered HTTP {}", resp.status));
        }
        let der = resp.read_limited(MAX_OCSP_RESPONSE).await?;
        let parsed = parse_ocsp_response(&der, cert, issuer, now)?;
        match parsed.status {
            OcspAnswer::Revoked(d) => {
                if let (Some(st), Some(inv)) = (signing_time, parsed.invalidity_date)
                    && st < inv
                {
                    // Revoked, but only from after the signing time.
                    return Ok(OcspAnswer::Good);
                }
                Ok(OcspAnswer::Revoked(format!("OCSP {url}: {d}")))
            }
            other => Ok(other),
        }
    }

    async fn check_crl(
        &self,
        cert: &Cert,
        issuer: &Cert,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CertStatus {
        // Every distribution point is checked (one may hold a partial CRL); the first error
        // makes the status unknown, as notation does.
        for url in cert.crl_urls() {
            let crl = match self.crl(url, issuer, now).await {
                Ok(c) => c,
                Err(e) => return CertStatus::Unknown(format!("CRL {url}: {e}")),
            };
            match crl_lookup(&crl, cert, signing_time) {
                Ok(None) => {}
                Ok(Some(d)) => return CertStatus::Revoked(format!("CRL {url}: {d}")),
                Err(e) => return CertStatus::Unknown(format!("CRL {url}: {e}")),
            }
        }
        CertStatus::Good
    }

    /// The CRL at `url`, verified against `issuer`: from the cache, else downloaded.
    async fn crl(
        &self,
        url: &str,
        issuer: &Cert,
        now: OffsetDateTime,
    ) -> Result<Arc<ParsedCrl>, String> {
        let issuer_fp = issuer.sha256_fingerprint();
        if let Some(c) = self.lock_cache().get(url, &issuer_fp, now) {
            return Ok(c);
        }
        if !has_scheme(url, "http") {
            return Err("only http:// CRL distribution points are supported".into());
        }
        let resp = self
            .crl_http
            .send(Method::GET, url, &[], Bytes::new())
            .await?;
        if !resp.status.is_success() {
            return Err(format!("download failed with HTTP {}", resp.status));
        }
        if resp.content_length().is_some_and(|n| n > MAX_CRL_SIZE) {
            return Err(format!(
                "the CRL is larger than the {MAX_CRL_SIZE}-byte limit"
            ));
        }
        let der = resp.read_limited(MAX_CRL_SIZE).await?;
        let crl = Arc::new(parse_crl(&der, issuer, now)?);
        self.lock_cache().insert(url, crl.clone(), now);
        Ok(crl)
    }
}

pub(super) fn has_scheme(url: &str, scheme: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(s, _)| s.eq_ignore_ascii_case(scheme))
}

impl RevocationCheck for RevocationChecker {
    fn check_chain<'a>(
        &'a self,
        chain: &'a [Cert],
        purpose: Purpose,
        signing_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> CheckFuture<'a> {
        Box::pin(RevocationChecker::check_chain(
            self,
            chain,
            purpose,
            signing_time,
            now,
        ))
    }
}
