//! Validity periods (spec §8) with Go's messages (RFC 1123Z times).

use super::*;

/// Every certificate must satisfy `not_before <= at <= not_after`
/// (notation-go `verifyAuthenticTimestamp` without a timestamp).
pub fn check_validity_at(chain: &[Cert], at: OffsetDateTime) -> Result<(), String> {
    for cert in chain {
        if at < cert.not_before {
            return Err(format!(
                "verification time is before certificate {} validity period, it will be valid from {}",
                go_quote(&cert.subject),
                go_quote(&format_rfc1123z(cert.not_before))
            ));
        }
        if at > cert.not_after {
            return Err(format!(
                "verification time is after certificate {} validity period, it was expired at {}",
                go_quote(&cert.subject),
                go_quote(&format_rfc1123z(cert.not_after))
            ));
        }
    }
    Ok(())
}
