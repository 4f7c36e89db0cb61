//! An OCSP response judged without I/O (notation-core-go `revocation/ocsp`): the request's
//! CertID, and the response parsed, verified against the issuer and checked for currency.

use openssl::hash::MessageDigest;
use openssl::ocsp::{
    OcspCertId, OcspCertStatus, OcspFlag, OcspResponse, OcspResponseStatus, OcspRevokedStatus,
};
use openssl::stack::Stack;
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use time::OffsetDateTime;

use super::{openssl_reason, strip_zeros};
use crate::gocompat::time_fmt::format_rfc1123z;
use crate::x509::Cert;

/// Slack allowed between our clock and the responder's thisUpdate/nextUpdate.
const OCSP_CLOCK_SKEW_SECS: u32 = 300;

/// One OCSP responder's definitive answer.
pub(super) enum OcspAnswer {
    Good,
    Revoked(String),
    /// The responder does not know the certificate.
    Unknown,
}

/// The OCSP CertID for `cert` (SHA-1 name and key hashes, which every responder understands).
pub(super) fn cert_id(cert: &Cert, issuer: &Cert) -> Result<OcspCertId, String> {
    OcspCertId::from_cert(MessageDigest::sha1(), cert.x509()?, issuer.x509()?)
        .map_err(|e| format!("cannot build the OCSP request: {}", openssl_reason(&e)))
}

pub(super) struct ParsedOcsp {
    pub(super) status: OcspAnswer,
    pub(super) invalidity_date: Option<OffsetDateTime>,
}

/// Parse and verify an OCSP response for `cert`: successful, signed by the issuer or by a
/// responder certificate the issuer issued with id-kp-OCSPSigning, naming the certificate,
/// current at `now` (thisUpdate..nextUpdate, nextUpdate required, with a small skew).
pub(super) fn parse_ocsp_response(
    der: &[u8],
    cert: &Cert,
    issuer: &Cert,
    now: OffsetDateTime,
) -> Result<ParsedOcsp, String> {
    let resp = OcspResponse::from_der(der)
        .map_err(|e| format!("malformed OCSP response: {}", openssl_reason(&e)))?;
    let st = resp.status();
    if st != OcspResponseStatus::SUCCESSFUL {
        let name = match st {
            OcspResponseStatus::MALFORMED_REQUEST => "malformedRequest",
            OcspResponseStatus::INTERNAL_ERROR => "internalError",
            OcspResponseStatus::TRY_LATER => "tryLater",
            OcspResponseStatus::SIG_REQUIRED => "sigRequired",
            OcspResponseStatus::UNAUTHORIZED => "unauthorized",
            _ => "unknown",
        };
        return Err(format!("the responder answered {name}"));
    }
    let basic = resp
        .basic()
        .map_err(|e| format!("malformed OCSP response: {}", openssl_reason(&e)))?;
    let ossl = |e: openssl::error::ErrorStack| openssl_reason(&e);
    let issuer_x509 = issuer.x509()?;
    let mut certs = Stack::<X509>::new().map_err(ossl)?;
    certs.push(issuer_x509.clone()).map_err(ossl)?;
    let mut store = X509StoreBuilder::new().map_err(ossl)?;
    store.add_cert(issuer_x509.clone()).map_err(ossl)?;
    // The issuer is the trust anchor even when it is an intermediate.
    store
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(ossl)?;
    let store = store.build();
    basic
        .verify(&certs, &store, OcspFlag::NO_EXPLICIT)
        .map_err(|e| {
            format!(
                "the response is not signed by the issuer or a responder it authorized: {}",
                openssl_reason(&e)
            )
        })?;
    let id = cert_id(cert, issuer)?;
    let id256 =
        OcspCertId::from_cert(MessageDigest::sha256(), cert.x509()?, issuer_x509).map_err(ossl)?;
    let status = basic
        .find_status(&id)
        .or_else(|| basic.find_status(&id256))
        .ok_or("the response has no status for the certificate")?;
    let Some(next_update) = status.next_update() else {
        return Err("the response has no nextUpdate".into());
    };
    let problems = validity_problems(
        openssl_time_exact(&status.this_update.to_string()),
        openssl_time_exact(&next_update.to_string()),
        now,
    );
    if !problems.is_empty() {
        let r = problems.join(": ");
        return Err(if r.contains("expired") {
            "expired OCSP response".into()
        } else {
            format!("OCSP response outside its validity period: {r}")
        });
    }
    let answer = match status.status {
        OcspCertStatus::GOOD => OcspAnswer::Good,
        OcspCertStatus::REVOKED => {
            let mut d = "revoked".to_string();
            if let Some(t) = status.revocation_time {
                let t = t.to_string();
                match openssl_time(&t) {
                    Some(t) => d.push_str(&format!(" at {}", format_rfc1123z(t))),
                    None => d.push_str(&format!(" at {t}")),
                }
            }
            if let Some(r) = reason_name(status.reason) {
                d.push_str(&format!(" ({r})"));
            }
            OcspAnswer::Revoked(d)
        }
        _ => OcspAnswer::Unknown,
    };
    let invalidity_date = if matches!(answer, OcspAnswer::Revoked(_)) {
        ocsp_invalidity_date(der, cert.serial())
    } else {
        None
    };
    Ok(ParsedOcsp {
        status: answer,
        invalidity_date,
    })
}

fn reason_name(r: OcspRevokedStatus) -> Option<&'static str> {
    Some(match r {
        OcspRevokedStatus::UNSPECIFIED => "unspecified",
        OcspRevokedStatus::KEY_COMPROMISE => "keyCompromise",
        OcspRevokedStatus::CA_COMPROMISE => "cACompromise",
        OcspRevokedStatus::AFFILIATION_CHANGED => "affiliationChanged",
        OcspRevokedStatus::STATUS_SUPERSEDED => "superseded",
        OcspRevokedStatus::STATUS_CESSATION_OF_OPERATION => "cessationOfOperation",
        OcspRevokedStatus::STATUS_CERTIFICATE_HOLD => "certificateHold",
        OcspRevokedStatus::REMOVE_FROM_CRL => "removeFromCRL",
        _ => return None,
    })
}

/// One DER TLV with a one-byte tag: (tag, content, rest), strict DER as Go's encoding/asn1.
pub(super) use crate::gocompat::asn1::tlv;

/// The invalidityDate single extension of the response for `serial`, if any (OpenSSL's API
/// does not expose single-response extensions, so the already verified DER is walked).
pub(super) fn ocsp_invalidity_date(resp: &[u8], serial: &[u8]) -> Option<OffsetDateTime> {
    let (_, ocsp, _) = tlv(resp)?;
    let (_, _, rest) = tlv(ocsp)?; // responseStatus
    let (_, rb, _) = tlv(rest)?; // [0] EXPLICIT
    let (_, rb, _) = tlv(rb)?; // ResponseBytes
    let (_, _, rest) = tlv(rb)?; // responseType
    let (_, basic, _) = tlv(rest)?; // OCTET STRING
    let (_, basic, _) = tlv(basic)?; // BasicOCSPResponse
    let (_, tbs, _) = tlv(basic)?; // ResponseData
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == 0xa0 {
        rest = tlv(rest)?.2; // version present: skip responderID too
    }
    let (_, _, rest) = tlv(rest)?; // producedAt
    let (_, mut singles, _) = tlv(rest)?;
    while !singles.is_empty() {
        let (_, single, more) = tlv(singles)?;
        singles = more;
        let (_, cert_id, rest) = tlv(single)?;
        let (_, _, r) = tlv(cert_id)?; // hashAlgorithm
        let (_, _, r) = tlv(r)?; // issuerNameHash
        let (_, _, r) = tlv(r)?; // issuerKeyHash
        let (_, sn, _) = tlv(r)?;
        if strip_zeros(sn) != strip_zeros(serial) {
            continue;
        }
        let (_, _, mut r) = tlv(rest)?; // certStatus
        r = tlv(r)?.2; // thisUpdate
        while let Some((tag, content, more)) = tlv(r) {
            r = more;
            if tag != 0xa1 {
                continue;
            }
            let (_, mut exts, _) = tlv(content)?;
            while !exts.is_empty() {
                let (_, ext, more) = tlv(exts)?;
                exts = more;
                let (_, oid, mut v) = tlv(ext)?;
                if oid != [0x55, 0x1d, 0x18] {
                    continue;
                }
                let (mut tag, mut value, more) = tlv(v)?;
                if tag == 0x01 {
                    v = more;
                    (tag, value, _) = tlv(v)?;
                }
                if tag != 0x04 {
                    return None;
                }
                let (tag, t, _) = tlv(value)?;
                return if tag == 0x18 {
                    generalized_time(t)
                } else {
                    None
                };
            }
        }
        return None;
    }
    None
}

/// OpenSSL's `OCSP_check_validity(thisUpdate, nextUpdate, OCSP_CLOCK_SKEW_SECS, -1)` at `now`
/// instead of the wall clock: the reasons it raises, in its order and with its texts (`None`
/// is a time that did not parse).
pub(super) fn validity_problems(
    this_update: Option<OffsetDateTime>,
    next_update: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Vec<&'static str> {
    let skew = time::Duration::seconds(OCSP_CLOCK_SKEW_SECS.into());
    let mut problems = Vec::new();
    match this_update {
        None => problems.push("error in thisupdate field"),
        Some(t) if t > now + skew => problems.push("status not yet valid"),
        Some(_) => {}
    }
    match next_update {
        None => problems.push("error in nextupdate field"),
        Some(t) if t < now - skew => problems.push("status expired"),
        Some(_) => {}
    }
    if let (Some(this), Some(next)) = (this_update, next_update)
        && next < this
    {
        problems.push("nextupdate before thisupdate");
    }
    problems
}

/// OpenSSL's display of a time, `Jan  1 00:00:00 2025 GMT`, to the second.
pub(super) fn openssl_time(s: &str) -> Option<OffsetDateTime> {
    openssl_time_exact(s).and_then(|t| t.replace_nanosecond(0).ok())
}

/// OpenSSL's display of a time, `Jan  1 00:00:00.25 2025 GMT`, with its fraction.
pub(super) fn openssl_time_exact(s: &str) -> Option<OffsetDateTime> {
    let f: Vec<&str> = s.split_whitespace().collect();
    let [mon, day, hms, year, "GMT"] = f[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == mon)? as u8 + 1;
    let (hms, frac) = hms.split_once('.').unwrap_or((hms, ""));
    if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse::<u32>().ok()?
    };
    let mut hms = hms.split(':');
    let mut n = || hms.next().and_then(|x| x.parse::<u8>().ok());
    let t = time::Time::from_hms_nano(n()?, n()?, n()?, nanos).ok()?;
    let date = time::Date::from_calendar_date(
        year.parse().ok()?,
        time::Month::try_from(month).ok()?,
        day.parse().ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc())
}

/// `YYYYMMDDHHMMSS[.fff]Z`.
pub(super) fn generalized_time(b: &[u8]) -> Option<OffsetDateTime> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.strip_suffix('Z')?;
    let s = s.split('.').next()?;
    if s.len() != 14 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let month = time::Month::try_from(n(4..6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8).ok()?;
    let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
    Some(date.with_time(t).assume_utc())
}
