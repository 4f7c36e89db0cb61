//! Certificate extensions as Go's crypto/x509 parses them: basic constraints, key usage,
//! extended key usage, authority information access (OCSP) and CRL distribution points.

use super::*;

/// Extended key usages known to Go's crypto/x509 (others are "unknown").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtKeyUsage {
    Any,
    ServerAuth,
    ClientAuth,
    CodeSigning,
    EmailProtection,
    IpsecEndSystem,
    IpsecTunnel,
    IpsecUser,
    TimeStamping,
    OcspSigning,
    MicrosoftServerGatedCrypto,
    NetscapeServerGatedCrypto,
    MicrosoftCommercialCodeSigning,
    MicrosoftKernelCodeSigning,
}

impl ExtKeyUsage {
    pub(super) fn from_oid(oid: &str) -> Option<ExtKeyUsage> {
        Some(match oid {
            "2.5.29.37.0" => ExtKeyUsage::Any,
            "1.3.6.1.5.5.7.3.1" => ExtKeyUsage::ServerAuth,
            "1.3.6.1.5.5.7.3.2" => ExtKeyUsage::ClientAuth,
            "1.3.6.1.5.5.7.3.3" => ExtKeyUsage::CodeSigning,
            "1.3.6.1.5.5.7.3.4" => ExtKeyUsage::EmailProtection,
            "1.3.6.1.5.5.7.3.5" => ExtKeyUsage::IpsecEndSystem,
            "1.3.6.1.5.5.7.3.6" => ExtKeyUsage::IpsecTunnel,
            "1.3.6.1.5.5.7.3.7" => ExtKeyUsage::IpsecUser,
            "1.3.6.1.5.5.7.3.8" => ExtKeyUsage::TimeStamping,
            "1.3.6.1.5.5.7.3.9" => ExtKeyUsage::OcspSigning,
            "1.3.6.1.4.1.311.10.3.3" => ExtKeyUsage::MicrosoftServerGatedCrypto,
            "2.16.840.1.113730.4.1" => ExtKeyUsage::NetscapeServerGatedCrypto,
            "1.3.6.1.4.1.311.2.1.22" => ExtKeyUsage::MicrosoftCommercialCodeSigning,
            "1.3.6.1.4.1.311.61.1.1" => ExtKeyUsage::MicrosoftKernelCodeSigning,
            _ => return None,
        })
    }

    /// notation-core-go `ekuToString`.
    pub(super) fn go_name(self) -> &'static str {
        match self {
            ExtKeyUsage::Any => "Any",
            ExtKeyUsage::ServerAuth => "ServerAuth",
            ExtKeyUsage::ClientAuth => "ClientAuth",
            ExtKeyUsage::OcspSigning => "OCSPSigning",
            ExtKeyUsage::EmailProtection => "EmailProtection",
            ExtKeyUsage::CodeSigning => "CodeSigning",
            ExtKeyUsage::TimeStamping => "Timestamping",
            ExtKeyUsage::IpsecEndSystem => "5",
            ExtKeyUsage::IpsecTunnel => "6",
            ExtKeyUsage::IpsecUser => "7",
            ExtKeyUsage::MicrosoftServerGatedCrypto => "10",
            ExtKeyUsage::NetscapeServerGatedCrypto => "11",
            ExtKeyUsage::MicrosoftCommercialCodeSigning => "12",
            ExtKeyUsage::MicrosoftKernelCodeSigning => "13",
        }
    }
}

/// Go `x509.KeyUsage` bits.
pub mod key_usage {
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    pub const CONTENT_COMMITMENT: u16 = 1 << 1;
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    pub const CERT_SIGN: u16 = 1 << 5;
    pub const CRL_SIGN: u16 = 1 << 6;
    pub const ENCIPHER_ONLY: u16 = 1 << 7;
    pub const DECIPHER_ONLY: u16 = 1 << 8;
}

/// Basic constraints extension, when present (Go `BasicConstraintsValid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    pub is_ca: bool,
    /// `pathLenConstraint` when encoded (Go: `MaxPathLen`, -1 when absent).
    pub max_path_len: Option<i64>,
}

/// Go `parseBasicConstraintsExtension`.
pub(crate) fn parse_basic_constraints(value: &[u8]) -> Result<BasicConstraints, String> {
    let (tag, mut seq, _) = read_tlv(value).ok_or("x509: invalid basic constraints a")?;
    if tag != 0x30 {
        return Err("x509: invalid basic constraints a".to_string());
    }
    let mut is_ca = false;
    if seq.first() == Some(&0x01) {
        let (_, content, rest) = read_tlv(seq).ok_or("x509: invalid basic constraints b")?;
        match content {
            [0x00] => is_ca = false,
            [0xff] => is_ca = true,
            _ => return Err("x509: invalid basic constraints b".to_string()),
        }
        seq = rest;
    }
    let mut max_path_len = None;
    if seq.first() == Some(&0x02) {
        let (_, content, _) = read_tlv(seq).ok_or("x509: invalid basic constraints c")?;
        if content.is_empty() || content.len() > 8 {
            return Err("x509: invalid basic constraints c".to_string());
        }
        let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
        for b in content {
            v = (v << 8) | i64::from(*b);
        }
        max_path_len = Some(v);
    }
    Ok(BasicConstraints {
        is_ca,
        max_path_len: max_path_len.filter(|v| *v >= 0),
    })
}

/// Go `parseKeyUsageExtension`: the first nine bits of the BIT STRING.
pub(crate) fn parse_key_usage(value: &[u8]) -> Result<u16, String> {
    let (tag, content, _) = read_tlv(value).ok_or("x509: invalid key usage")?;
    if tag != 0x03 || content.is_empty() {
        return Err("x509: invalid key usage".to_string());
    }
    let bits = &content[1..];
    let mut usage = 0u16;
    for i in 0..9usize {
        let set = bits
            .get(i / 8)
            .is_some_and(|b| (b >> (7 - (i % 8))) & 1 == 1);
        if set {
            usage |= 1 << i;
        }
    }
    Ok(usage)
}

/// Extended key usage OIDs in certificate order.
pub(crate) fn parse_eku(value: &[u8]) -> Result<Vec<String>, String> {
    let bad = || "x509: invalid extended key usages".to_string();
    let (tag, mut seq, _) = read_tlv(value).ok_or_else(bad)?;
    if tag != 0x30 {
        return Err(bad());
    }
    let mut out = Vec::new();
    while !seq.is_empty() {
        let (tag, oid, rest) = read_tlv(seq).ok_or_else(bad)?;
        if tag != 0x06 {
            return Err(bad());
        }
        out.push(oid_to_string(oid).ok_or_else(bad)?);
        seq = rest;
    }
    Ok(out)
}

pub(crate) fn parse_aia_ocsp(
    ext: &x509_parser::extensions::X509Extension<'_>,
) -> Result<Vec<String>, String> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    match ext.parsed_extension() {
        ParsedExtension::AuthorityInfoAccess(aia) => Ok(aia
            .accessdescs
            .iter()
            .filter(|ad| ad.access_method.to_id_string() == "1.3.6.1.5.5.7.48.1")
            .filter_map(|ad| match ad.access_location {
                GeneralName::URI(u) => Some(u.to_string()),
                _ => None,
            })
            .collect()),
        _ => Err("x509: invalid authority info access".to_string()),
    }
}

pub(crate) fn parse_crl_dp(
    ext: &x509_parser::extensions::X509Extension<'_>,
) -> Result<Vec<String>, String> {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    match ext.parsed_extension() {
        ParsedExtension::CRLDistributionPoints(points) => {
            let mut out = Vec::new();
            for dp in points.iter() {
                if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
                    for name in names {
                        match name {
                            GeneralName::URI(u) => out.push(u.to_string()),
                            _ => break,
                        }
                    }
                }
            }
            Ok(out)
        }
        _ => Err("x509: invalid CRL distribution points".to_string()),
    }
}
