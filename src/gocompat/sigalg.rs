//! crypto/x509's `SignatureAlgorithm` table (`signatureAlgorithmDetails`): the OIDs Go knows, the
//! names `SignatureAlgorithm.String()` prints, and the hash each uses, which decides what
//! `checkSignature` calls insecure (MD5; SHA-1 unless allowed) and what it calls unimplemented
//! (no hash and not Ed25519: MD2, unknown OIDs). Also `getSignatureAlgorithmFromAI`, with Go's
//! RSASSA-PSS parameter rules.

use super::asn1::{oid as oid_to_string, tlv as read_tlv};

/// Go `x509.SignatureAlgorithm` of a certificate signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertSigAlg {
    Unknown,
    Md2Rsa,
    Md5Rsa,
    Sha1Rsa,
    Sha256Rsa,
    Sha384Rsa,
    Sha512Rsa,
    DsaSha1,
    DsaSha256,
    EcdsaSha1,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
    Sha256RsaPss,
    Sha384RsaPss,
    Sha512RsaPss,
    Ed25519,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkAlgo {
    Unknown,
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
}

impl PkAlgo {
    pub fn go_name(self) -> &'static str {
        match self {
            PkAlgo::Unknown => "0",
            PkAlgo::Rsa => "RSA",
            PkAlgo::Dsa => "DSA",
            PkAlgo::Ecdsa => "ECDSA",
            PkAlgo::Ed25519 => "Ed25519",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashKind {
    None,
    Md5,
    Sha1,
    Sha2,
}

impl CertSigAlg {
    /// Go `SignatureAlgorithm.String()`.
    pub fn go_name(self) -> &'static str {
        match self {
            CertSigAlg::Unknown => "0",
            CertSigAlg::Md2Rsa => "MD2-RSA",
            CertSigAlg::Md5Rsa => "MD5-RSA",
            CertSigAlg::Sha1Rsa => "SHA1-RSA",
            CertSigAlg::Sha256Rsa => "SHA256-RSA",
            CertSigAlg::Sha384Rsa => "SHA384-RSA",
            CertSigAlg::Sha512Rsa => "SHA512-RSA",
            CertSigAlg::DsaSha1 => "DSA-SHA1",
            CertSigAlg::DsaSha256 => "DSA-SHA256",
            CertSigAlg::EcdsaSha1 => "ECDSA-SHA1",
            CertSigAlg::EcdsaSha256 => "ECDSA-SHA256",
            CertSigAlg::EcdsaSha384 => "ECDSA-SHA384",
            CertSigAlg::EcdsaSha512 => "ECDSA-SHA512",
            CertSigAlg::Sha256RsaPss => "SHA256-RSAPSS",
            CertSigAlg::Sha384RsaPss => "SHA384-RSAPSS",
            CertSigAlg::Sha512RsaPss => "SHA512-RSAPSS",
            CertSigAlg::Ed25519 => "Ed25519",
        }
    }

    pub fn hash_kind(self) -> HashKind {
        match self {
            CertSigAlg::Unknown | CertSigAlg::Md2Rsa | CertSigAlg::Ed25519 => HashKind::None,
            CertSigAlg::Md5Rsa => HashKind::Md5,
            CertSigAlg::Sha1Rsa | CertSigAlg::DsaSha1 | CertSigAlg::EcdsaSha1 => HashKind::Sha1,
            _ => HashKind::Sha2,
        }
    }

    pub fn pk_algo(self) -> PkAlgo {
        match self {
            CertSigAlg::Unknown => PkAlgo::Unknown,
            CertSigAlg::Md2Rsa
            | CertSigAlg::Md5Rsa
            | CertSigAlg::Sha1Rsa
            | CertSigAlg::Sha256Rsa
            | CertSigAlg::Sha384Rsa
            | CertSigAlg::Sha512Rsa
            | CertSigAlg::Sha256RsaPss
            | CertSigAlg::Sha384RsaPss
            | CertSigAlg::Sha512RsaPss => PkAlgo::Rsa,
            CertSigAlg::DsaSha1 | CertSigAlg::DsaSha256 => PkAlgo::Dsa,
            CertSigAlg::EcdsaSha1
            | CertSigAlg::EcdsaSha256
            | CertSigAlg::EcdsaSha384
            | CertSigAlg::EcdsaSha512 => PkAlgo::Ecdsa,
            CertSigAlg::Ed25519 => PkAlgo::Ed25519,
        }
    }
}

/// The algorithm of a signature OID when it takes no parameters (Go's table without the
/// RSASSA-PSS and Ed25519 parameter checks).
fn by_oid(oid: &str) -> CertSigAlg {
    match oid {
        "1.2.840.113549.1.1.2" => CertSigAlg::Md2Rsa,
        "1.2.840.113549.1.1.4" => CertSigAlg::Md5Rsa,
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => CertSigAlg::Sha1Rsa,
        "1.2.840.113549.1.1.11" => CertSigAlg::Sha256Rsa,
        "1.2.840.113549.1.1.12" => CertSigAlg::Sha384Rsa,
        "1.2.840.113549.1.1.13" => CertSigAlg::Sha512Rsa,
        "1.2.840.10040.4.3" => CertSigAlg::DsaSha1,
        "2.16.840.1.101.3.4.3.2" => CertSigAlg::DsaSha256,
        "1.2.840.10045.4.1" => CertSigAlg::EcdsaSha1,
        "1.2.840.10045.4.3.2" => CertSigAlg::EcdsaSha256,
        "1.2.840.10045.4.3.3" => CertSigAlg::EcdsaSha384,
        "1.2.840.10045.4.3.4" => CertSigAlg::EcdsaSha512,
        "1.3.101.112" => CertSigAlg::Ed25519,
        _ => CertSigAlg::Unknown,
    }
}

/// Go `InsecureAlgorithmError`'s name for a signature OID that `CheckSignatureFrom` refuses as
/// insecure (an MD5 or SHA-1 hash), `None` for every other algorithm.
pub fn insecure_name(oid: &str) -> Option<&'static str> {
    let alg = by_oid(oid);
    matches!(alg.hash_kind(), HashKind::Md5 | HashKind::Sha1).then(|| alg.go_name())
}

/// Go `getSignatureAlgorithmFromAI`.
pub fn of(ai: &x509_parser::x509::AlgorithmIdentifier<'_>) -> CertSigAlg {
    let oid = ai.algorithm.to_id_string();
    match oid.as_str() {
        "1.3.101.112" if ai.parameters.is_some() => CertSigAlg::Unknown,
        "1.2.840.113549.1.1.10" => match &ai.parameters {
            Some(p) if p.header.is_universal() && p.header.tag().0 == 16 => {
                pss_sig_alg(p.data).unwrap_or(CertSigAlg::Unknown)
            }
            _ => CertSigAlg::Unknown,
        },
        other => by_oid(other),
    }
}

/// RSASSA-PSS parameters as Go accepts them: hash, MGF1 with the same hash,
/// salt length = hash length, trailer field 1.
fn pss_sig_alg(content: &[u8]) -> Option<CertSigAlg> {
    // [0] EXPLICIT hash AlgorithmIdentifier (required by Go)
    let (tag, hash_wrap, rest) = read_tlv(content)?;
    if tag != 0xa0 {
        return None;
    }
    let (hash_oid, hash_params_ok) = algorithm_identifier(hash_wrap)?;
    // [1] EXPLICIT mgf AlgorithmIdentifier
    let (tag, mgf_wrap, rest) = read_tlv(rest)?;
    if tag != 0xa1 {
        return None;
    }
    let (tag, mgf_seq, tail) = read_tlv(mgf_wrap)?;
    if tag != 0x30 || !tail.is_empty() {
        return None;
    }
    let (tag, mgf_oid, mgf_rest) = read_tlv(mgf_seq)?;
    if tag != 0x06 || oid_to_string(mgf_oid)? != "1.2.840.113549.1.1.8" {
        return None;
    }
    let (mgf_hash_oid, mgf_hash_params_ok) = algorithm_identifier(mgf_rest)?;
    // [2] EXPLICIT salt length
    let (tag, salt_wrap, rest) = read_tlv(rest)?;
    if tag != 0xa2 {
        return None;
    }
    let salt = der_small_int(salt_wrap)?;
    // [3] EXPLICIT trailer field, default 1
    let trailer = if rest.is_empty() {
        1
    } else {
        let (tag, trailer_wrap, rest) = read_tlv(rest)?;
        if tag != 0xa3 || !rest.is_empty() {
            return None;
        }
        der_small_int(trailer_wrap)?
    };
    if !hash_params_ok || !mgf_hash_params_ok || mgf_hash_oid != hash_oid || trailer != 1 {
        return None;
    }
    match (hash_oid.as_str(), salt) {
        ("2.16.840.1.101.3.4.2.1", 32) => Some(CertSigAlg::Sha256RsaPss),
        ("2.16.840.1.101.3.4.2.2", 48) => Some(CertSigAlg::Sha384RsaPss),
        ("2.16.840.1.101.3.4.2.3", 64) => Some(CertSigAlg::Sha512RsaPss),
        _ => None,
    }
}

/// Parses one complete AlgorithmIdentifier SEQUENCE in `input`; returns the OID
/// and whether its parameters are absent or NULL.
fn algorithm_identifier(input: &[u8]) -> Option<(String, bool)> {
    let (tag, seq, tail) = read_tlv(input)?;
    if tag != 0x30 || !tail.is_empty() {
        return None;
    }
    let (tag, oid, params) = read_tlv(seq)?;
    if tag != 0x06 {
        return None;
    }
    let params_ok = params.is_empty() || params == [0x05, 0x00];
    Some((oid_to_string(oid)?, params_ok))
}

fn der_small_int(input: &[u8]) -> Option<i64> {
    let (tag, content, tail) = read_tlv(input)?;
    if tag != 0x02 || !tail.is_empty() || content.is_empty() || content.len() > 4 {
        return None;
    }
    let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for b in content {
        v = (v << 8) | i64::from(*b);
    }
    Some(v)
}
