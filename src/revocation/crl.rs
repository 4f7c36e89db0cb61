//! A CRL judged without I/O (notation-core-go `revocation/crl`): parsed, checked against its
//! issuer at a given time, and looked up for a certificate.

use std::collections::HashMap;

use openssl::x509::X509Crl;
use time::OffsetDateTime;

use super::{openssl_reason, strip_zeros};
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::time_fmt::format_rfc1123z;
use crate::x509::{self, Cert};

const OID_INVALIDITY_DATE: &str = "2.5.29.24";
const OID_REASON_CODE: &str = "2.5.29.21";
const OID_FRESHEST_CRL: &str = "2.5.29.46";
const OID_ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";

/// A verified CRL, reduced to what lookups need.
pub(super) struct ParsedCrl {
    /// SHA-256 of the issuer certificate whose key verified it.
    pub(super) issuer_fp: String,
    pub(super) next_update: OffsetDateTime,
    /// Revoked serials (leading zero bytes stripped).
    pub(super) revoked: HashMap<Vec<u8>, RevokedEntry>,
    /// Size of the DER, for the cache bound.
    pub(super) size: usize,
}

pub(super) struct RevokedEntry {
    pub(super) revocation_date: OffsetDateTime,
    pub(super) invalidity_date: Option<OffsetDateTime>,
    /// An unsupported critical entry extension (an error when this entry matches).
    pub(super) bad_critical: Option<String>,
}

/// Parse a CRL and check it against `issuer` at `now` (notation-core-go `validate`): the
/// issuer may sign CRLs, the signature verifies (no SHA-1/MD5), nextUpdate is set and not
/// past, no unsupported critical extension.
pub(super) fn parse_crl(
    der: &[u8],
    issuer: &Cert,
    now: OffsetDateTime,
) -> Result<ParsedCrl, String> {
    let (rest, crl) =
        x509_parser::parse_x509_crl(der).map_err(|e| format!("malformed CRL: {e}"))?;
    if !rest.is_empty() {
        return Err("malformed CRL: trailing data".into());
    }
    let not_signed = |why: &str| format!("CRL is not signed by CA {}: {why}", issuer.subject());
    let bc = issuer.basic_constraints();
    if (issuer.version() == 3 && bc.is_none())
        || bc.is_some_and(|b| !b.is_ca)
        || (issuer.key_usage() != 0 && issuer.key_usage() & x509::key_usage::CRL_SIGN == 0)
    {
        return Err(not_signed(
            "x509: invalid signature: parent certificate cannot sign this kind of certificate",
        ));
    }
    let alg = crl.signature_algorithm.algorithm.to_id_string();
    if let Some(name) = insecure_algorithm(&alg) {
        return Err(not_signed(&format!(
            "x509: cannot verify signature: insecure algorithm {name}"
        )));
    }
    let key = issuer
        .public_key()
        .ok_or_else(|| not_signed("x509: cannot verify signature: algorithm unimplemented"))?;
    let verified = X509Crl::from_der(der)
        .and_then(|c| c.verify(key))
        .map_err(|e| not_signed(&openssl_reason(&e)))?;
    if !verified {
        return Err(not_signed("crypto/rsa: verification error"));
    }
    let next_update = crl
        .tbs_cert_list
        .next_update
        .ok_or("CRL NextUpdate is not set")
        .and_then(|t| asn1_time(t.timestamp()).ok_or("CRL NextUpdate is out of range"))?;
    if now > next_update {
        return Err(format!(
            "expired CRL: its nextUpdate {} is in the past",
            format_rfc1123z(next_update)
        ));
    }
    for ext in crl.extensions() {
        match ext.oid.to_id_string().as_str() {
            OID_FRESHEST_CRL => tracing::warn!(
                "a CRL issued by {} names a delta CRL (Freshest CRL); pullguard checks the base CRL only",
                go_quote(issuer.subject())
            ),
            OID_ISSUING_DISTRIBUTION_POINT => {}
            oid if ext.critical => {
                return Err(format!(
                    "unsupported critical extension found in CRL: {oid}"
                ));
            }
            _ => {}
        }
    }
    let mut revoked = HashMap::new();
    for entry in crl.iter_revoked_certificates() {
        let mut e = RevokedEntry {
            revocation_date: asn1_time(entry.revocation_date.timestamp())
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            invalidity_date: None,
            bad_critical: None,
        };
        for ext in entry.extensions() {
            match ext.oid.to_id_string().as_str() {
                OID_INVALIDITY_DATE => {
                    e.invalidity_date = entry
                        .invalidity_date()
                        .and_then(|(_, t)| asn1_time(t.timestamp()));
                    if e.invalidity_date.is_none() {
                        e.bad_critical = Some("failed to parse invalidity date".into());
                    }
                }
                OID_REASON_CODE => {}
                oid if ext.critical => {
                    e.bad_critical = Some(format!(
                        "unsupported critical extension found in CRL: {oid}"
                    ));
                }
                _ => {}
            }
        }
        revoked.insert(strip_zeros(entry.raw_serial()).to_vec(), e);
    }
    Ok(ParsedCrl {
        issuer_fp: issuer.sha256_fingerprint(),
        next_update,
        revoked,
        size: der.len(),
    })
}

/// `Ok(Some(detail))` when `cert` is revoked by `crl` (and, with a signing time, its
/// invalidityDate, if any, is not after it).
pub(super) fn crl_lookup(
    crl: &ParsedCrl,
    cert: &Cert,
    signing_time: Option<OffsetDateTime>,
) -> Result<Option<String>, String> {
    let Some(e) = crl.revoked.get(strip_zeros(cert.serial())) else {
        return Ok(None);
    };
    if let Some(bad) = &e.bad_critical {
        return Err(bad.clone());
    }
    if let (Some(st), Some(inv)) = (signing_time, e.invalidity_date)
        && st < inv
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "revoked at {}",
        format_rfc1123z(e.revocation_date)
    )))
}

fn insecure_algorithm(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.5" => "SHA1-RSA",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.10040.4.3" => "DSA-SHA1",
        "1.2.840.113549.1.1.4" => "MD5-RSA",
        "1.2.840.113549.1.1.2" => "MD2-RSA",
        _ => return None,
    })
}

fn asn1_time(unix: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix).ok()
}
