//! The Notary Project certificate chain requirements (spec §2.5): notation-core-go
//! `ValidateCodeSigningCertChain` and `ValidateTimestampingCertChain`.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    CodeSigning,
    Timestamping,
}

/// notation-core-go `ValidateCodeSigningCertChain(chain, nil)`.
pub fn validate_code_signing_chain(chain: &[Cert]) -> Result<(), String> {
    validate_chain(chain, Purpose::CodeSigning)
}

/// notation-core-go `ValidateTimestampingCertChain(chain)`.
pub fn validate_timestamping_chain(chain: &[Cert]) -> Result<(), String> {
    validate_chain(chain, Purpose::Timestamping)
}

/// Go `isIssuedBy`: CheckSignatureFrom, then raw issuer == parent raw subject.
pub(crate) fn is_issued_by(cert: &Cert, parent: &Cert) -> Result<bool, String> {
    cert.check_signature_from(parent)?;
    Ok(parent.raw_subject == cert.raw_issuer)
}

pub(crate) fn validate_chain(chain: &[Cert], purpose: Purpose) -> Result<(), String> {
    let Some(first) = chain.first() else {
        return Err("certificate chain must contain at least one certificate".to_string());
    };
    if chain.len() == 1 {
        let cert = first;
        let q = go_quote(&cert.subject);
        cert.check_self_signature()
            .map_err(|e| format!("invalid self-signed certificate. subject: {q}. Error: {e}"))?;
        if cert.raw_subject != cert.raw_issuer {
            return Err(match purpose {
                Purpose::CodeSigning => format!(
                    "invalid self-signed certificate. subject: {q}. Error: issuer({}) and subject({}) are not the same",
                    cert.issuer, cert.subject
                ),
                Purpose::Timestamping => format!(
                    "invalid self-signed certificate. subject: {q}. Error: issuer ({}) and subject ({}) are not the same",
                    cert.issuer, cert.subject
                ),
            });
        }
        validate_leaf(cert, purpose)
            .map_err(|e| format!("invalid self-signed certificate. Error: {e}"))?;
        return Ok(());
    }

    let last = chain.len() - 1;
    for (i, cert) in chain.iter().enumerate() {
        let q = go_quote(&cert.subject);
        if i == last {
            match is_issued_by(cert, cert) {
                Err(e) => {
                    return Err(format!(
                        "root certificate with subject {q} is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: {e}"
                    ));
                }
                Ok(false) => {
                    return Err(format!(
                        "root certificate with subject {q} is not self-signed. Certificate chain must end with a valid self-signed root certificate"
                    ));
                }
                Ok(true) => {}
            }
        } else {
            if let Ok(true) = is_issued_by(cert, cert) {
                if i == 0 {
                    return Err(format!(
                        "leaf certificate with subject {q} is self-signed. Certificate chain must not contain self-signed leaf certificate"
                    ));
                }
                return Err(format!(
                    "intermediate certificate with subject {q} is self-signed. Certificate chain must not contain self-signed intermediate certificate"
                ));
            }
            let parent = &chain[i + 1];
            let pq = go_quote(&parent.subject);
            match is_issued_by(cert, parent) {
                Err(e) => {
                    return Err(format!(
                        "invalid certificates or certificate with subject {q} is not issued by {pq}. Error: {e}"
                    ));
                }
                Ok(false) => {
                    return Err(format!(
                        "certificate with subject {q} is not issued by {pq}"
                    ));
                }
                Ok(true) => {}
            }
        }
        if i == 0 {
            validate_leaf(cert, purpose)?;
        } else {
            validate_ca(cert, i as i64 - 1, purpose)?;
        }
    }
    Ok(())
}

pub(crate) fn validate_ca(
    cert: &Cert,
    expected_path_len: i64,
    purpose: Purpose,
) -> Result<(), String> {
    let q = go_quote(&cert.subject);
    match cert.basic_constraints {
        Some(bc) if bc.is_ca => {
            if let Some(max) = bc.max_path_len
                && max < expected_path_len
            {
                return Err(format!(
                    "certificate with subject {q}: expected path length of {expected_path_len} but certificate has path length {max} instead"
                ));
            }
        }
        _ => {
            return Err(format!(
                "certificate with subject {q}: ca field in basic constraints must be present, critical, and set to true"
            ));
        }
    }
    validate_key_usage_present(cert, purpose)?;
    if cert.key_usage & key_usage::CERT_SIGN == 0 {
        return Err(format!(
            "certificate with subject {q}: key usage must have the bit positions for key cert sign set"
        ));
    }
    Ok(())
}

pub(crate) fn validate_key_usage_present(cert: &Cert, purpose: Purpose) -> Result<(), String> {
    let q = go_quote(&cert.subject);
    match cert.key_usage_critical {
        None => Err(format!(
            "certificate with subject {q}: key usage extension must be present"
        )),
        Some(false) if purpose == Purpose::CodeSigning => Err(format!(
            "certificate with subject {q}: key usage extension must be marked critical"
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn validate_leaf(cert: &Cert, purpose: Purpose) -> Result<(), String> {
    let q = go_quote(&cert.subject);
    if cert.is_ca() {
        return Err(format!(
            "certificate with subject {q}: if the basic constraints extension is present, the ca field must be set to false"
        ));
    }
    validate_key_usage_present(cert, purpose)?;
    validate_leaf_key_usage(cert)?;
    match purpose {
        Purpose::CodeSigning => {
            const EXCLUDED: [ExtKeyUsage; 5] = [
                ExtKeyUsage::ServerAuth,
                ExtKeyUsage::ClientAuth,
                ExtKeyUsage::EmailProtection,
                ExtKeyUsage::TimeStamping,
                ExtKeyUsage::OcspSigning,
            ];
            for eku in &cert.ext_key_usage {
                if EXCLUDED.contains(eku) {
                    return Err(format!(
                        "certificate with subject {q}: extended key usage must not contain {} eku",
                        eku.go_name()
                    ));
                }
            }
        }
        Purpose::Timestamping => {
            if cert.ext_key_usage != [ExtKeyUsage::TimeStamping]
                || !cert.unknown_ext_key_usage.is_empty()
            {
                return Err(format!(
                    "timestamp signing certificate with subject {q} must have and only have Timestamping as extended key usage"
                ));
            }
            if cert.ext_key_usage_critical == Some(false) {
                return Err(format!(
                    "timestamp signing certificate with subject {q} must have extended key usage extension marked as critical"
                ));
            }
        }
    }
    signature_algorithm(cert)
        .map(|_| ())
        .map_err(|e| format!("certificate with subject {q}: {e}"))
}

pub(crate) fn validate_leaf_key_usage(cert: &Cert) -> Result<(), String> {
    let q = go_quote(&cert.subject);
    let ku = cert.key_usage;
    if ku & key_usage::DIGITAL_SIGNATURE == 0 {
        return Err(format!(
            "the certificate with subject {q} is invalid. The key usage must have the bit positions for \"Digital Signature\" set"
        ));
    }
    let invalid: Vec<&str> = [
        (key_usage::KEY_ENCIPHERMENT, "\"KeyEncipherment\""),
        (key_usage::DATA_ENCIPHERMENT, "\"DataEncipherment\""),
        (key_usage::KEY_AGREEMENT, "\"KeyAgreement\""),
        (key_usage::CERT_SIGN, "\"CertSign\""),
        (key_usage::CRL_SIGN, "\"CRLSign\""),
        (key_usage::ENCIPHER_ONLY, "\"EncipherOnly\""),
        (key_usage::DECIPHER_ONLY, "\"DecipherOnly\""),
    ]
    .iter()
    .filter(|(bit, _)| ku & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    if !invalid.is_empty() {
        return Err(format!(
            "the certificate with subject {q} is invalid. The key usage must be \"Digital Signature\" only, but found {}",
            invalid.join(", ")
        ));
    }
    Ok(())
}
