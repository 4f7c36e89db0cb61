//! The Notary Project signature algorithms (spec §2.4) and the key → algorithm rule
//! (notation-core-go `ExtractKeySpec`).

use super::*;

/// Notary Project signature algorithms, derived from the signing key.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigAlg {
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
}

impl SigAlg {
    /// JWS `alg` header value.
    pub fn as_jws(self) -> &'static str {
        match self {
            SigAlg::PS256 => "PS256",
            SigAlg::PS384 => "PS384",
            SigAlg::PS512 => "PS512",
            SigAlg::ES256 => "ES256",
            SigAlg::ES384 => "ES384",
            SigAlg::ES512 => "ES512",
        }
    }

    /// Parses a JWS `alg` value; only the six Notary algorithms are accepted.
    pub fn from_jws(alg: &str) -> Option<SigAlg> {
        match alg {
            "PS256" => Some(SigAlg::PS256),
            "PS384" => Some(SigAlg::PS384),
            "PS512" => Some(SigAlg::PS512),
            "ES256" => Some(SigAlg::ES256),
            "ES384" => Some(SigAlg::ES384),
            "ES512" => Some(SigAlg::ES512),
            _ => None,
        }
    }

    /// COSE `alg` label value.
    pub fn cose_alg(self) -> i64 {
        match self {
            SigAlg::PS256 => -37,
            SigAlg::PS384 => -38,
            SigAlg::PS512 => -39,
            SigAlg::ES256 => -7,
            SigAlg::ES384 => -35,
            SigAlg::ES512 => -36,
        }
    }

    /// Parses a COSE `alg` value; only the six Notary algorithms are accepted.
    pub fn from_cose(alg: i64) -> Option<SigAlg> {
        match alg {
            -37 => Some(SigAlg::PS256),
            -38 => Some(SigAlg::PS384),
            -39 => Some(SigAlg::PS512),
            -7 => Some(SigAlg::ES256),
            -35 => Some(SigAlg::ES384),
            -36 => Some(SigAlg::ES512),
            _ => None,
        }
    }

    /// Hash function of the algorithm (also the blob digest / timestamp hash).
    pub fn hash(self) -> MessageDigest {
        match self {
            SigAlg::PS256 | SigAlg::ES256 => MessageDigest::sha256(),
            SigAlg::PS384 | SigAlg::ES384 => MessageDigest::sha384(),
            SigAlg::PS512 | SigAlg::ES512 => MessageDigest::sha512(),
        }
    }

    /// Name of the hash as used in OCI digests (`sha256`, `sha384`, `sha512`).
    pub fn hash_name(self) -> &'static str {
        match self {
            SigAlg::PS256 | SigAlg::ES256 => "sha256",
            SigAlg::PS384 | SigAlg::ES384 => "sha384",
            SigAlg::PS512 | SigAlg::ES512 => "sha512",
        }
    }

    /// Hash output length in bytes (also the PSS salt length).
    pub fn hash_len(self) -> usize {
        match self {
            SigAlg::PS256 | SigAlg::ES256 => 32,
            SigAlg::PS384 | SigAlg::ES384 => 48,
            SigAlg::PS512 | SigAlg::ES512 => 64,
        }
    }

    /// True for the RSASSA-PSS algorithms.
    pub fn is_rsa_pss(self) -> bool {
        matches!(self, SigAlg::PS256 | SigAlg::PS384 | SigAlg::PS512)
    }
}

impl std::fmt::Display for SigAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_jws())
    }
}

/// notation-core-go `ExtractKeySpec(...).SignatureAlgorithm()`: the signature
/// algorithm follows from the signing certificate's key.
pub fn signature_algorithm(cert: &Cert) -> Result<SigAlg, String> {
    match cert.public_key {
        PublicKeyInfo::Rsa { bits } => match bits {
            2048 => Ok(SigAlg::PS256),
            3072 => Ok(SigAlg::PS384),
            4096 => Ok(SigAlg::PS512),
            _ => Err(format!("rsa key size {bits} bits is not supported")),
        },
        PublicKeyInfo::Ec { bits } => match bits {
            256 => Ok(SigAlg::ES256),
            384 => Ok(SigAlg::ES384),
            521 => Ok(SigAlg::ES512),
            _ => Err(format!("ecdsa key size {bits} bits is not supported")),
        },
        _ => Err("unsupported public key type".to_string()),
    }
}
