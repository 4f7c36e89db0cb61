//! X.509 certificate handling for Notation verification, mirroring the Go
//! implementation (crypto/x509 + notation-core-go `x509` package):
//!
//! * parsing of PEM (several blocks) or DER (possibly concatenated) data, the
//!   way notation-core-go `parseCertificates` does it (Go `encoding/pem`);
//! * the Go rendering of names (`pkix.Name.String()`), used in every message;
//! * the Go semantics of `Certificate.CheckSignature` (SHA-1 allowed, no CA
//!   constraint) and `Certificate.CheckSignatureFrom` (parent must be a CA,
//!   SHA-1 refused), with Go's error strings;
//! * the Notary Project certificate requirements (`ValidateCodeSigningCertChain`
//!   with `signingTime == nil`, `ValidateTimestampingCertChain`);
//! * the key → signature algorithm mapping (`ExtractKeySpec`);
//! * validity-period checks with Go's messages (RFC 1123Z times).
//!
//! Nothing in here panics on input data: every malformed input is an `Err`.

use openssl::hash::MessageDigest;
use openssl::x509::X509;
use time::OffsetDateTime;

use crate::gocompat::asn1::{oid as oid_to_string, tlv as read_tlv};
use crate::gocompat::hex::encode as hex;
use crate::gocompat::pem::decode as pem_decode;
use crate::gocompat::sigalg::{self, CertSigAlg, HashKind, PkAlgo};
// The old public paths, kept for the modules that still name them here.
pub use crate::gocompat::pkix_name::name_string as go_name_string;
pub use crate::gocompat::quote::{decode_char, quote as go_quote, quote_bytes as go_quote_bytes};
pub use crate::gocompat::time_fmt::format_rfc1123z;

// ---------------------------------------------------------------------------
// Signature algorithms (§2.4)
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Parsed certificate
// ---------------------------------------------------------------------------

/// Public key as Go's crypto/x509 sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyInfo {
    /// RSA key; `bits` is Go's `key.Size() << 3` (modulus length rounded up to bytes).
    Rsa {
        bits: u32,
    },
    /// ECDSA key on a curve Go supports (P-224, P-256, P-384, P-521).
    Ec {
        bits: u32,
    },
    Ed25519,
    Dsa,
    /// Any other algorithm (Go's `UnknownPublicKeyAlgorithm`).
    Unknown,
}

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
    fn from_oid(oid: &str) -> Option<ExtKeyUsage> {
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
    fn go_name(self) -> &'static str {
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

const ERR_UNSUPPORTED_ALGORITHM: &str = "x509: cannot verify signature: algorithm unimplemented";
const ERR_CONSTRAINT_VIOLATION: &str =
    "x509: invalid signature: parent certificate cannot sign this kind of certificate";

/// A parsed X.509 certificate with the fields the verifier needs cached.
#[derive(Clone, Debug)]
pub struct Cert {
    /// Exact DER encoding of the certificate.
    pub der: Vec<u8>,
    /// The OpenSSL view of the same certificate.
    pub x509: X509,
    subject: String,
    issuer: String,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    version: u32,
    serial: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    basic_constraints: Option<BasicConstraints>,
    key_usage: u16,
    key_usage_critical: Option<bool>,
    ext_key_usage: Vec<ExtKeyUsage>,
    unknown_ext_key_usage: Vec<String>,
    ext_key_usage_critical: Option<bool>,
    public_key: PublicKeyInfo,
    pk_algo: PkAlgo,
    sig_alg: CertSigAlg,
    ocsp_urls: Vec<String>,
    crl_urls: Vec<String>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Cert) -> bool {
        self.der == other.der
    }
}

impl Eq for Cert {}

impl Cert {
    /// Parses exactly one DER certificate (trailing data is an error, like Go's
    /// `x509.ParseCertificate`).
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let (cert, used) = parse_one(der)?;
        if used != der.len() {
            return Err("x509: trailing data".to_string());
        }
        Ok(cert)
    }

    /// Go `pkix.Name.String()` of the subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Go `pkix.Name.String()` of the issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// DER of the subject Name (Go `RawSubject`).
    pub fn raw_subject(&self) -> &[u8] {
        &self.raw_subject
    }

    /// DER of the issuer Name (Go `RawIssuer`).
    pub fn raw_issuer(&self) -> &[u8] {
        &self.raw_issuer
    }

    /// Certificate version, 1-based like Go (`3` for v3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Serial number content bytes (big-endian two's complement).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Basic constraints when the extension is present.
    pub fn basic_constraints(&self) -> Option<BasicConstraints> {
        self.basic_constraints
    }

    /// Go `cert.IsCA`: basic constraints present with `cA` true.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|bc| bc.is_ca)
    }

    /// Go `cert.KeyUsage` bits (see [`key_usage`]); 0 when absent.
    pub fn key_usage(&self) -> u16 {
        self.key_usage
    }

    /// `Some(critical)` when the key usage extension is present.
    pub fn key_usage_critical(&self) -> Option<bool> {
        self.key_usage_critical
    }

    /// Known extended key usages, in certificate order (Go `ExtKeyUsage`).
    pub fn ext_key_usage(&self) -> &[ExtKeyUsage] {
        &self.ext_key_usage
    }

    /// Unknown extended key usage OIDs, dotted (Go `UnknownExtKeyUsage`).
    pub fn unknown_ext_key_usage(&self) -> &[String] {
        &self.unknown_ext_key_usage
    }

    /// `Some(critical)` when the extended key usage extension is present.
    pub fn ext_key_usage_critical(&self) -> Option<bool> {
        self.ext_key_usage_critical
    }

    pub fn public_key_info(&self) -> PublicKeyInfo {
        self.public_key
    }

    /// OCSP responder URLs (AIA) and CRL distribution point URLs, like Go's
    /// `OCSPServer` and `CRLDistributionPoints`.
    pub fn revocation_urls(&self) -> (Vec<String>, Vec<String>) {
        (self.ocsp_urls.clone(), self.crl_urls.clone())
    }

    pub fn ocsp_urls(&self) -> &[String] {
        &self.ocsp_urls
    }

    pub fn crl_urls(&self) -> &[String] {
        &self.crl_urls
    }

    /// Lower-case hex SHA-256 of the DER encoding.
    pub fn sha256_fingerprint(&self) -> String {
        sha256_hex(&self.der)
    }

    /// Self-signed in the ordinary sense: the signature verifies with the
    /// certificate's own key (Go `CheckSignature`, no CA constraint, SHA-1
    /// allowed) and the raw issuer equals the raw subject.
    pub fn is_self_signed(&self) -> bool {
        self.raw_subject == self.raw_issuer && self.check_self_signature().is_ok()
    }

    /// Go `cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate,
    /// cert.Signature)`: the signature verifies with the certificate's own key.
    /// No CA constraint is applied and SHA-1 is allowed.
    pub fn check_self_signature(&self) -> Result<(), String> {
        self.check_signature_with(self, true)
    }

    /// Go `cert.CheckSignatureFrom(parent)`: the parent must be allowed to sign
    /// certificates (basic constraints CA, keyCertSign when key usage is set),
    /// SHA-1 (and MD5) signatures are refused.
    pub fn check_signature_from(&self, parent: &Cert) -> Result<(), String> {
        if (parent.version == 3 && parent.basic_constraints.is_none())
            || parent.basic_constraints.is_some_and(|bc| !bc.is_ca)
        {
            return Err(ERR_CONSTRAINT_VIOLATION.to_string());
        }
        if parent.key_usage != 0 && parent.key_usage & key_usage::CERT_SIGN == 0 {
            return Err(ERR_CONSTRAINT_VIOLATION.to_string());
        }
        if parent.pk_algo == PkAlgo::Unknown {
            return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
        }
        self.check_signature_with(parent, false)
    }

    /// Go `checkSignature(c.SignatureAlgorithm, ..., signer.PublicKey, allowSHA1)`.
    fn check_signature_with(&self, signer: &Cert, allow_sha1: bool) -> Result<(), String> {
        let algo = self.sig_alg;
        let insecure = || {
            format!(
                "x509: cannot verify signature: insecure algorithm {}",
                algo.go_name()
            )
        };
        match algo.hash_kind() {
            HashKind::None => {
                if algo.pk_algo() != PkAlgo::Ed25519 {
                    return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
                }
            }
            HashKind::Md5 => return Err(insecure()),
            HashKind::Sha1 => {
                if !allow_sha1 {
                    return Err(insecure());
                }
            }
            HashKind::Sha2 => {}
        }
        let (have, go_type, failure) = match signer.public_key {
            PublicKeyInfo::Rsa { .. } => (
                PkAlgo::Rsa,
                "*rsa.PublicKey",
                "crypto/rsa: verification error",
            ),
            PublicKeyInfo::Ec { .. } => (
                PkAlgo::Ecdsa,
                "*ecdsa.PublicKey",
                "x509: ECDSA verification failure",
            ),
            PublicKeyInfo::Ed25519 => (
                PkAlgo::Ed25519,
                "ed25519.PublicKey",
                "x509: Ed25519 verification failure",
            ),
            PublicKeyInfo::Dsa | PublicKeyInfo::Unknown => {
                return Err(ERR_UNSUPPORTED_ALGORITHM.to_string());
            }
        };
        if algo.pk_algo() != have {
            return Err(format!(
                "x509: signature algorithm specifies an {} public key, but have public key of type {}",
                algo.pk_algo().go_name(),
                go_type
            ));
        }
        let key = signer
            .x509
            .public_key()
            .map_err(|_| ERR_UNSUPPORTED_ALGORITHM.to_string())?;
        match self.x509.verify(&key) {
            Ok(true) => Ok(()),
            _ => Err(failure.to_string()),
        }
    }
}

/// Parses one certificate at the start of `data`; returns it and the number of
/// bytes it used.
fn parse_one(data: &[u8]) -> Result<(Cert, usize), String> {
    let (rest, xc) = x509_parser::parse_x509_certificate(data)
        .map_err(|e| format!("x509: malformed certificate: {e}"))?;
    let used = data.len() - rest.len();
    let der = data[..used].to_vec();
    let x509 = X509::from_der(&der).map_err(|e| format!("x509: malformed certificate: {e}"))?;
    let tbs = &xc.tbs_certificate;

    if tbs.signature != xc.signature_algorithm {
        return Err(
            "x509: inner and outer signature algorithm identifiers don't match".to_string(),
        );
    }
    let serial = tbs.raw_serial().to_vec();
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return Err("x509: negative serial number".to_string());
    }

    let subject = go_name_string(&tbs.subject)?;
    let issuer = go_name_string(&tbs.issuer)?;
    let not_before = asn1_time(&tbs.validity.not_before)?;
    let not_after = asn1_time(&tbs.validity.not_after)?;

    let (public_key, pk_algo) = public_key_info(tbs)?;
    let sig_alg = sigalg::of(&xc.signature_algorithm);

    let mut cert = Cert {
        der,
        x509,
        subject,
        issuer,
        raw_subject: tbs.subject.as_raw().to_vec(),
        raw_issuer: tbs.issuer.as_raw().to_vec(),
        version: tbs.version.0 + 1,
        serial,
        not_before,
        not_after,
        basic_constraints: None,
        key_usage: 0,
        key_usage_critical: None,
        ext_key_usage: Vec::new(),
        unknown_ext_key_usage: Vec::new(),
        ext_key_usage_critical: None,
        public_key,
        pk_algo,
        sig_alg,
        ocsp_urls: Vec::new(),
        crl_urls: Vec::new(),
    };

    let mut seen: Vec<String> = Vec::new();
    for ext in tbs.extensions() {
        let oid = ext.oid.to_id_string();
        if seen.contains(&oid) {
            return Err("x509: certificate contains duplicate extensions".to_string());
        }
        match oid.as_str() {
            "2.5.29.19" => {
                cert.basic_constraints = Some(parse_basic_constraints(ext.value)?);
            }
            "2.5.29.15" => {
                cert.key_usage = parse_key_usage(ext.value)?;
                cert.key_usage_critical = Some(ext.critical);
            }
            "2.5.29.37" => {
                for eku in parse_eku(ext.value)? {
                    match ExtKeyUsage::from_oid(&eku) {
                        Some(k) => cert.ext_key_usage.push(k),
                        None => cert.unknown_ext_key_usage.push(eku),
                    }
                }
                cert.ext_key_usage_critical = Some(ext.critical);
            }
            "1.3.6.1.5.5.7.1.1" => cert.ocsp_urls = parse_aia_ocsp(ext)?,
            "2.5.29.31" => cert.crl_urls = parse_crl_dp(ext)?,
            _ => {}
        }
        seen.push(oid);
    }
    Ok((cert, used))
}

fn asn1_time(t: &x509_parser::time::ASN1Time) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|_| "x509: malformed validity".to_string())
}

fn public_key_info(
    tbs: &x509_parser::certificate::TbsCertificate<'_>,
) -> Result<(PublicKeyInfo, PkAlgo), String> {
    let spki = &tbs.subject_pki;
    match spki.algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                let modulus = rsa.modulus;
                let start = modulus
                    .iter()
                    .position(|b| *b != 0)
                    .unwrap_or(modulus.len());
                let bytes = modulus.len() - start;
                if bytes == 0 {
                    return Err("x509: RSA modulus is not a positive number".to_string());
                }
                let bits =
                    u32::try_from(bytes * 8).map_err(|_| "x509: RSA key too large".to_string())?;
                Ok((PublicKeyInfo::Rsa { bits }, PkAlgo::Rsa))
            }
            _ => Err("x509: invalid RSA public key".to_string()),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.3.132.0.33") => 224,
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                _ => return Err("x509: unsupported elliptic curve".to_string()),
            };
            Ok((PublicKeyInfo::Ec { bits }, PkAlgo::Ecdsa))
        }
        "1.3.101.112" => Ok((PublicKeyInfo::Ed25519, PkAlgo::Ed25519)),
        "1.2.840.10040.4.1" => Ok((PublicKeyInfo::Dsa, PkAlgo::Dsa)),
        _ => Ok((PublicKeyInfo::Unknown, PkAlgo::Unknown)),
    }
}
/// Go `parseBasicConstraintsExtension`.
fn parse_basic_constraints(value: &[u8]) -> Result<BasicConstraints, String> {
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
fn parse_key_usage(value: &[u8]) -> Result<u16, String> {
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

fn parse_aia_ocsp(ext: &x509_parser::extensions::X509Extension<'_>) -> Result<Vec<String>, String> {
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

fn parse_crl_dp(ext: &x509_parser::extensions::X509Extension<'_>) -> Result<Vec<String>, String> {
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

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&openssl::sha::sha256(bytes))
}

// ---------------------------------------------------------------------------
// Certificate parsing (PEM or DER), as notation-core-go parseCertificates
// ---------------------------------------------------------------------------

/// Parses certificates from PEM (one or more blocks, any block type, leading
/// text ignored, like Go `pem.Decode`) or DER (one or more concatenated
/// certificates). Empty or PEM-free-and-empty input gives an empty list.
pub fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, String> {
    let mut certs = Vec::new();
    match pem_decode(bytes) {
        None => {
            let mut rest = bytes;
            while !rest.is_empty() {
                let (cert, used) = parse_one(rest)?;
                certs.push(cert);
                rest = &rest[used..];
            }
        }
        Some((first, mut rest)) => {
            let mut block = Some(first);
            while let Some(der) = block {
                certs.push(Cert::from_der(&der)?);
                match pem_decode(rest) {
                    Some((next, r)) => {
                        block = Some(next);
                        rest = r;
                    }
                    None => block = None,
                }
            }
        }
    }
    Ok(certs)
}

// ---------------------------------------------------------------------------
// §2.4 key → algorithm
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// §2.5 certificate chain requirements
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
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
fn is_issued_by(cert: &Cert, parent: &Cert) -> Result<bool, String> {
    cert.check_signature_from(parent)?;
    Ok(parent.raw_subject == cert.raw_issuer)
}

fn validate_chain(chain: &[Cert], purpose: Purpose) -> Result<(), String> {
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

fn validate_ca(cert: &Cert, expected_path_len: i64, purpose: Purpose) -> Result<(), String> {
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

fn validate_key_usage_present(cert: &Cert, purpose: Purpose) -> Result<(), String> {
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

fn validate_leaf(cert: &Cert, purpose: Purpose) -> Result<(), String> {
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

fn validate_leaf_key_usage(cert: &Cert) -> Result<(), String> {
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

// ---------------------------------------------------------------------------
// Validity periods (§8)
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gocompat::asn1::der_len;
    use crate::gocompat::pem::base64_std_decode;
    use crate::gocompat::pkix_name::name_from_attributes as go_name_from_attributes;
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{
        BasicConstraints as BcExt, ExtendedKeyUsage as EkuExt, KeyUsage as KuExt,
    };
    use openssl::x509::{X509Builder, X509Name, X509NameBuilder};

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");

    fn read(rel: &str) -> Vec<u8> {
        let path = format!("{TESTDATA}/{rel}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    fn load(rel: &str) -> Vec<Cert> {
        parse_certs(&read(rel)).unwrap_or_else(|e| panic!("parse {rel}: {e}"))
    }

    /// (file, index, Go Subject.String(), Go Issuer.String(), NotBefore, NotAfter
    /// in RFC 1123Z) as printed by Go's crypto/x509 + notation-core-go
    /// parseCertificates over the test data.
    const GO_REFERENCE: &[(&str, usize, &str, &str, &str, &str)] = &[
        (
            r#"certs/cert-validation/bad-cert.pem"#,
            0,
            r#"CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US"#,
            r#"CN=Bad=#CN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US"#,
            "Fri, 10 Feb 2023 22:58:26 +0000",
            "Sat, 10 Feb 2024 22:58:26 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_der.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_multi-der.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_multi-der.der"#,
            1,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_multi-pem.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_multi-pem.crt"#,
            1,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_openssl-minimum-self-signed.pem"#,
            0,
            r#"OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US"#,
            r#"OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US"#,
            "Thu, 15 Sep 2022 06:13:13 +0000",
            "Sat, 22 Aug 2122 06:13:13 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_pem.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_timestamp_intermediate.crt"#,
            0,
            r#"CN=DigiCert Trusted G4 RSA4096 SHA256 TimeStamping CA,O=DigiCert\, Inc.,C=US"#,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            "Wed, 23 Mar 2022 00:00:00 +0000",
            "Sun, 22 Mar 2037 23:59:59 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_timestamp_leaf.crt"#,
            0,
            r#"CN=DigiCert Timestamp 2023,O=DigiCert\, Inc.,C=US"#,
            r#"CN=DigiCert Trusted G4 RSA4096 SHA256 TimeStamping CA,O=DigiCert\, Inc.,C=US"#,
            "Fri, 14 Jul 2023 00:00:00 +0000",
            "Fri, 13 Oct 2034 23:59:59 +0000",
        ),
        (
            r#"certs/cert-validation/notation-core-go_timestamp_root.crt"#,
            0,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            "Thu, 01 Aug 2013 12:00:00 +0000",
            "Fri, 15 Jan 2038 12:00:00 +0000",
        ),
        (
            r#"certs/cert-validation/signing-cert.pem"#,
            0,
            r#"CN=SomeCN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US"#,
            r#"CN=SomeCN,OU=SomeOU,O=SomeOrg,L=Seattle,ST=WA,C=US"#,
            "Mon, 13 Jun 2022 04:46:23 +0000",
            "Wed, 20 May 2122 04:46:23 +0000",
        ),
        (
            r#"certs/revocation-e2e/certchain_with_crl.pem"#,
            0,
            r#"CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Mon, 11 Nov 2024 05:30:51 +0000",
            "Wed, 18 Oct 2124 05:30:51 +0000",
        ),
        (
            r#"certs/revocation-e2e/certchain_with_crl.pem"#,
            1,
            r#"CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Mon, 11 Nov 2024 05:30:51 +0000",
            "Wed, 18 Oct 2124 05:30:51 +0000",
        ),
        (
            r#"certs/revocation-e2e/certchain_with_crl.pem"#,
            2,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Mon, 11 Nov 2024 05:30:51 +0000",
            "Wed, 18 Oct 2124 05:30:51 +0000",
        ),
        (
            r#"certs/revocation-e2e/certchain_with_ocsp.pem"#,
            0,
            r#"CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Fri, 14 Feb 2025 01:21:09 +0000",
            "Sun, 21 Jan 2125 01:21:09 +0000",
        ),
        (
            r#"certs/revocation-e2e/certchain_with_ocsp.pem"#,
            1,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Fri, 14 Feb 2025 01:21:08 +0000",
            "Sun, 21 Jan 2125 01:21:08 +0000",
        ),
        (
            r#"certs/revocation-e2e/crl_root.crt"#,
            0,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Mon, 11 Nov 2024 05:30:51 +0000",
            "Wed, 18 Oct 2124 05:30:51 +0000",
        ),
        (
            r#"certs/revocation-e2e/ocsp_responder.crt"#,
            0,
            r#"CN=OCSPResponder,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Fri, 14 Feb 2025 01:21:09 +0000",
            "Sun, 21 Jan 2125 01:21:09 +0000",
        ),
        (
            r#"certs/revocation-e2e/ocsp_root.crt"#,
            0,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            r#"CN=RootCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US"#,
            "Fri, 14 Feb 2025 01:21:08 +0000",
            "Sun, 21 Jan 2125 01:21:08 +0000",
        ),
        (
            r#"certs/roots/GlobalSignRootCA_R3.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"certs/roots/NotationTestRoot.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/roots/TestTimestamp_alpine.crt"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 09 May 2023 04:55:12 +0000",
            "Tue, 10 May 2033 04:55:12 +0000",
        ),
        (
            r#"certs/roots/notation-e2e_e2e.crt"#,
            0,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Mon, 19 Dec 2022 02:43:39 +0000",
            "Sat, 19 Dec 2122 02:43:39 +0000",
        ),
        (
            r#"certs/roots/notation-e2e_expired_e2e.crt"#,
            0,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            "Mon, 26 Jun 2023 06:10:00 +0000",
            "Tue, 27 Jun 2023 06:10:00 +0000",
        ),
        (
            r#"certs/roots/notation-e2e_new_e2e.crt"#,
            0,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            "Fri, 30 Dec 2022 03:05:15 +0000",
            "Sun, 06 Dec 2122 03:05:15 +0000",
        ),
        (
            r#"certs/roots/notation-go_example_localVerify_alpine.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Aug 2000 13:50:00 +0000",
            "Sun, 29 Aug 2123 13:50:00 +0000",
        ),
        (
            r#"certs/roots/notation-go_example_verifyBlob_selfsigned.pem"#,
            0,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 04 Apr 2024 21:20:20 +0000",
            "Tue, 04 Apr 2124 21:20:20 +0000",
        ),
        (
            r#"certs/roots/notation-go_verifier_test_trustedCert.pem"#,
            0,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 04 Apr 2024 22:03:05 +0000",
            "Tue, 04 Apr 2124 22:03:05 +0000",
        ),
        (
            r#"certs/roots/wabbit-networks.io.crt"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_blob.cose.chain.pem"#,
            0,
            r#"CN=testcert3,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testcert3,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 07 Jan 2025 08:42:24 +0000",
            "Wed, 08 Jan 2025 08:42:24 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_blob.jws.chain.pem"#,
            0,
            r#"CN=testcert2,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testcert2,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 31 Dec 2024 08:04:39 +0000",
            "Wed, 01 Jan 2025 08:04:39 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_expired-signature.jws.chain.pem"#,
            0,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Mon, 19 Dec 2022 02:43:39 +0000",
            "Sat, 19 Dec 2122 02:43:39 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_multiple-signatures_testcert11.jws.chain.pem"#,
            0,
            r#"CN=testcert11,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testcert11,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Mon, 17 Feb 2025 08:15:49 +0000",
            "Tue, 18 Feb 2025 08:15:49 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_valid-signature.jws.chain.pem"#,
            0,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Mon, 19 Dec 2022 02:43:39 +0000",
            "Sat, 19 Dec 2122 02:43:39 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_with-expired-cert.jws.chain.pem"#,
            0,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            r#"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU"#,
            "Mon, 26 Jun 2023 06:10:00 +0000",
            "Tue, 27 Jun 2023 06:10:00 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_with-invalid-timestamped-signature.jws.chain.pem"#,
            0,
            r#"CN=testcert7,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testcert7,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 21 Jan 2025 08:36:26 +0000",
            "Wed, 22 Jan 2025 08:36:26 +0000",
        ),
        (
            r#"certs/signing/notation-e2e_with-timestamped-signature.jws.chain.pem"#,
            0,
            r#"CN=testcert7,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testcert7,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 21 Jan 2025 08:36:26 +0000",
            "Wed, 22 Jan 2025 08:36:26 +0000",
        ),
        (
            r#"certs/signing/notation-go_example_localVerify.cose.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Aug 2000 13:50:00 +0000",
            "Sun, 29 Aug 2123 13:50:00 +0000",
        ),
        (
            r#"certs/signing/notation-go_example_verifyBlob.jws.chain.pem"#,
            0,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 04 Apr 2024 21:20:20 +0000",
            "Tue, 04 Apr 2124 21:20:20 +0000",
        ),
        (
            r#"certs/signing/notation-go_internal_cose_signature.cose.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Aug 2000 13:50:00 +0000",
            "Sun, 29 Aug 2123 13:50:00 +0000",
        ),
        (
            r#"certs/signing/notation-go_internal_jws_signature.jws.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Aug 2000 13:50:00 +0000",
            "Sun, 29 Aug 2123 13:50:00 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_compatible_pluginver_sig_env_0.0.9.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_compatible_pluginver_sig_env_1.0.0-alpha.beta.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_compatible_pluginver_sig_env_1.0.0-alpha.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_compatible_pluginver_sig_env_1.0.0.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_expired_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_expired_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_incompatible_pluginver_sig_env_1.0.1.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_incompatible_pluginver_sig_env_1.0.9.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_incompatible_pluginver_sig_env_1.1.0-alpha.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_incompatible_pluginver_sig_env_1.2.3.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_invalid_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_invalid_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_plugin_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_plugin_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_valid_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_ca_valid_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_expired_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_expired_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_invalid_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_invalid_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_plugin_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_plugin_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_valid_sig_env.json.chain.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 09 Oct 2020 07:00:00 +0000",
            "Thu, 06 Aug 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sa_valid_sig_env.json.chain.pem"#,
            1,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"certs/signing/notation-go_mock_sig_env_with_metadata.json.chain.pem"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 11 Jan 2023 00:52:12 +0000",
            "Thu, 12 Jan 2023 00:52:12 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_coseExpiredWithTimestamp.cose.chain.pem"#,
            0,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 18 Jun 2024 07:20:31 +0000",
            "Tue, 18 Jun 2024 07:30:31 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_coseWithTimestamp.cose.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 09 May 2023 04:55:12 +0000",
            "Tue, 10 May 2033 04:55:12 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_jwsExpiredWithTimestamp.jws.chain.pem"#,
            0,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 18 Jun 2024 07:20:31 +0000",
            "Tue, 18 Jun 2024 07:30:31 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_jwsWithTimestamp.jws.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 09 May 2023 04:55:12 +0000",
            "Tue, 10 May 2033 04:55:12 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_timestampAfterNotAfter.cose.chain.pem"#,
            0,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Mon, 18 Sep 2000 11:54:34 +0000",
            "Tue, 18 Sep 2001 11:54:34 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_timestampBeforeNotBefore.jws.chain.pem"#,
            0,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 18 Sep 2099 11:54:34 +0000",
            "Sat, 18 Sep 2100 11:54:34 +0000",
        ),
        (
            r#"certs/signing/notation-go_timestamp_withoutTimestamp.jws.chain.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 09 May 2023 04:55:12 +0000",
            "Tue, 10 May 2033 04:55:12 +0000",
        ),
        (
            r#"certs/signing/notation-go_verifier_test_testSig.jws.chain.pem"#,
            0,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Example self-signed,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 04 Apr 2024 22:03:05 +0000",
            "Tue, 04 Apr 2124 22:03:05 +0000",
        ),
        (
            r#"certs/tsa-roots/DigiCertTSARootSHA384.cer"#,
            0,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            "Thu, 01 Aug 2013 12:00:00 +0000",
            "Fri, 15 Jan 2038 12:00:00 +0000",
        ),
        (
            r#"certs/tsa-roots/globalsignTSARoot_R6.cer"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign"#,
            "Wed, 10 Dec 2014 00:00:00 +0000",
            "Sun, 10 Dec 2034 00:00:00 +0000",
        ),
        (
            r#"certs/tsa-roots/invalid_CertChain.pem"#,
            0,
            r#"CN=test_cert_1,O=Acme Co"#,
            r#"CN=Root CA,O=Acme Co"#,
            "Fri, 22 Jul 2022 05:21:37 +0000",
            "Sat, 22 Jul 2023 05:21:37 +0000",
        ),
        (
            r#"certs/tsa-roots/invalid_CertChain.pem"#,
            1,
            r#"CN=Root CA,O=Acme Co"#,
            r#"CN=Root CA,O=Acme Co"#,
            "Fri, 22 Jul 2022 05:21:37 +0000",
            "Sat, 22 Jul 2023 05:21:37 +0000",
        ),
        (
            r#"certs/tsa-roots/invalid_intermediate.pem"#,
            0,
            r#"CN=Intermediate1"#,
            r#"CN=Root"#,
            "Thu, 30 Jun 2022 19:20:03 +0000",
            "Wed, 31 Oct 3021 19:20:03 +0000",
        ),
        (
            r#"certs/tsa-roots/invalid_notSelfIssued.crt"#,
            0,
            r#"CN=test,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=test,O=Notary,L=,ST=,C=US"#,
            "Mon, 22 Jul 2024 05:20:36 +0000",
            "Thu, 22 Aug 2024 05:20:36 +0000",
        ),
        (
            r#"certs/tsa-roots/notation-go_example_verifyWithTimestamp_0.pem"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Aug 2000 13:50:00 +0000",
            "Sun, 29 Aug 2123 13:50:00 +0000",
        ),
        (
            r#"certs/tsa-roots/notation-go_example_verifyWithTimestamp_1.pem"#,
            0,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            "Thu, 01 Aug 2013 12:00:00 +0000",
            "Fri, 15 Jan 2038 12:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-leaf-certs/GlobalSignRootCA.crt"#,
            0,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 20 Sep 2022 06:31:13 +0000",
            "Thu, 20 Oct 2022 06:31:13 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-leaf-certs/non-ca.crt"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 20 Sep 2022 06:31:13 +0000",
            "Wed, 21 Sep 2022 06:31:13 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-leaf-certs-in-single-file/RootAndLeafCerts.crt"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 20 Sep 2022 06:31:13 +0000",
            "Wed, 21 Sep 2022 06:31:13 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-leaf-certs-in-single-file/RootAndLeafCerts.crt"#,
            1,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io CA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 20 Sep 2022 06:31:13 +0000",
            "Thu, 20 Oct 2022 06:31:13 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/GlobalSign.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/GlobalSignRootCA.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/TestTimestamp.crt"#,
            0,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=alpine,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 09 May 2023 04:55:12 +0000",
            "Tue, 10 May 2033 04:55:12 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/TestTimestampNotYetValid.crt"#,
            0,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Fri, 18 Sep 2099 11:54:34 +0000",
            "Sat, 18 Sep 2100 11:54:34 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store/wabbit-networks.io.crt"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store-2/GlobalSign.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store-2/GlobalSignRootCA.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/ca/valid-trust-store-self-signed/openssl-minimum-self-signed.pem"#,
            0,
            r#"OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US"#,
            r#"OU=TestCert,O=Notation Test,L=Seattle,ST=Washington,C=US"#,
            "Thu, 15 Sep 2022 06:13:13 +0000",
            "Sat, 22 Aug 2122 06:13:13 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/signingAuthority/valid-trust-store/GlobalSign.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/signingAuthority/valid-trust-store/GlobalSignRootCA.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/signingAuthority/valid-trust-store/NotationTestRoot.pem"#,
            0,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Wed, 09 Sep 2020 07:00:00 +0000",
            "Sat, 05 Sep 2122 20:38:45 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/signingAuthority/valid-trust-store-2/GlobalSign.der"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/signingAuthority/valid-trust-store-2/GlobalSignRootCA.crt"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R3,O=GlobalSign"#,
            "Wed, 18 Mar 2009 10:00:00 +0000",
            "Sun, 18 Mar 2029 10:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-mismatch/DigiCertTSARootSHA384.cer"#,
            0,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            r#"CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US"#,
            "Thu, 01 Aug 2013 12:00:00 +0000",
            "Fri, 15 Jan 2038 12:00:00 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-nonCA/wabbit-networks.io.crt"#,
            0,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Thu, 19 Jan 2023 08:19:07 +0000",
            "Wed, 19 Jan 2033 08:19:07 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-nonSelfIssued/nonSelfIssued.crt"#,
            0,
            r#"CN=Notation Test Revokable RSA Chain Cert 2,O=Notary,L=Seattle,ST=WA,C=US"#,
            r#"CN=Notation Test Revokable RSA Chain Cert Root,O=Notary,L=Seattle,ST=WA,C=US"#,
            "Tue, 29 Oct 2024 08:07:15 +0000",
            "Wed, 30 Oct 2024 08:07:15 +0000",
        ),
        (
            r#"truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-timestamp/globalsignRoot.cer"#,
            0,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign"#,
            r#"CN=GlobalSign,OU=GlobalSign Root CA - R6,O=GlobalSign"#,
            "Wed, 10 Dec 2014 00:00:00 +0000",
            "Sun, 10 Dec 2034 00:00:00 +0000",
        ),
    ];

    #[test]
    fn subjects_issuers_and_validity_match_go() {
        let mut checked = 0;
        for (file, idx, subject, issuer, nb, na) in GO_REFERENCE {
            let certs = load(file);
            let cert = &certs[*idx];
            assert_eq!(cert.subject(), *subject, "{file}[{idx}] subject");
            assert_eq!(cert.issuer(), *issuer, "{file}[{idx}] issuer");
            assert_eq!(format_rfc1123z(cert.not_before()), *nb, "{file}[{idx}]");
            assert_eq!(format_rfc1123z(cert.not_after()), *na, "{file}[{idx}]");
            checked += 1;
        }
        assert_eq!(checked, 105);
        // Every file Go parses must have the same number of certificates.
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for (file, idx, ..) in GO_REFERENCE {
            match counts.iter_mut().find(|(f, _)| f == file) {
                Some(entry) => entry.1 = entry.1.max(idx + 1),
                None => counts.push((file, idx + 1)),
            }
        }
        for (file, n) in counts {
            assert_eq!(load(file).len(), n, "{file}");
        }
    }

    #[test]
    fn parse_pem_der_and_multi() {
        let pem = load("certs/cert-validation/notation-core-go_pem.crt");
        let der = load("certs/cert-validation/notation-core-go_der.der");
        assert_eq!(pem.len(), 1);
        assert_eq!(der.len(), 1);
        assert_eq!(pem[0], der[0]);
        assert_eq!(
            pem[0].der,
            read("certs/cert-validation/notation-core-go_der.der")
        );
        let multi_pem = load("certs/cert-validation/notation-core-go_multi-pem.crt");
        let multi_der = load("certs/cert-validation/notation-core-go_multi-der.der");
        assert_eq!(multi_pem.len(), 2);
        assert_eq!(multi_der.len(), 2);
        assert_eq!(multi_pem, multi_der);
        assert_eq!(
            pem[0].sha256_fingerprint(),
            sha256_hex(&read("certs/cert-validation/notation-core-go_der.der"))
        );
        assert!(pem[0].is_ca());
        assert!(pem[0].is_self_signed());
        let min = load("certs/cert-validation/notation-core-go_openssl-minimum-self-signed.pem");
        assert_eq!(min.len(), 1);
        assert!(!min[0].is_ca());
        assert!(min[0].is_self_signed());
    }

    #[test]
    fn parse_edge_cases() {
        // Empty input: no certificates, no error (Go returns an empty list).
        assert!(parse_certs(b"").unwrap().is_empty());
        // Not PEM and not DER.
        assert!(parse_certs(b"hello world").is_err());
        assert!(
            parse_certs(&read(
                "truststores/notation-go_verifier_testdata_truststore/x509/ca/trust-store-with-invalid-certs/invalid"
            ))
            .is_err()
        );
        // A CMS blob is DER but not a certificate.
        assert!(parse_certs(&read("timestamp-tokens/tspclient-go/TimeStampToken.p7s")).is_err());
        // Text before and after PEM blocks is ignored; block type is not checked.
        let pem = read("certs/cert-validation/notation-core-go_pem.crt");
        let mut wrapped = b"leading text\n".to_vec();
        wrapped.extend_from_slice(&pem);
        wrapped.extend_from_slice(b"trailing text\n");
        assert_eq!(parse_certs(&wrapped).unwrap().len(), 1);
        let renamed = String::from_utf8(pem.clone())
            .unwrap()
            .replace("CERTIFICATE", "FOO");
        assert_eq!(parse_certs(renamed.as_bytes()).unwrap().len(), 1);
        // A PEM block that is not a certificate fails.
        let key = PKey::from_ec_key(
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let key_pem = key.private_key_to_pem_pkcs8().unwrap();
        assert!(parse_certs(&key_pem).is_err());
        let mut mixed = pem.clone();
        mixed.extend_from_slice(&key_pem);
        assert!(parse_certs(&mixed).is_err());
        // DER with trailing garbage fails; from_der refuses trailing data.
        let mut der = read("certs/cert-validation/notation-core-go_der.der");
        assert!(Cert::from_der(&der).is_ok());
        der.push(0);
        assert!(Cert::from_der(&der).is_err());
        assert!(parse_certs(&der).is_err());
        // Truncated DER.
        let der = read("certs/cert-validation/notation-core-go_der.der");
        assert!(parse_certs(&der[..der.len() - 1]).is_err());
        // A PEM block with broken base64 is skipped (Go pem.Decode): no
        // block at all then means DER parsing of the whole text, which fails.
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(parse_certs(broken.as_bytes()).is_err());
        let mut broken_then_good = broken.as_bytes().to_vec();
        broken_then_good.extend_from_slice(&pem);
        assert_eq!(parse_certs(&broken_then_good).unwrap().len(), 1);
    }

    #[test]
    fn base64_decoder() {
        assert_eq!(base64_std_decode(b"").unwrap(), b"");
        assert_eq!(base64_std_decode(b"Zg==").unwrap(), b"f");
        assert_eq!(base64_std_decode(b"Zm8=").unwrap(), b"fo");
        assert_eq!(base64_std_decode(b"Zm9v\r\nYmFy").unwrap(), b"foobar");
        assert!(base64_std_decode(b"Zg").is_none());
        assert!(base64_std_decode(b"Zg==Zg==").is_none());
        assert!(base64_std_decode(b"Z===").is_none());
        assert!(base64_std_decode(b"Zm9-").is_none());
    }

    #[test]
    fn revocation_urls_of_e2e_chains() {
        let crl = load("certs/revocation-e2e/certchain_with_crl.pem");
        assert_eq!(crl.len(), 3);
        let (ocsp, crls) = crl[0].revocation_urls();
        assert!(ocsp.is_empty());
        assert_eq!(crls.len(), 1);
        assert!(crls[0].starts_with("http://"), "{crls:?}");
        assert!(!crl[1].crl_urls().is_empty());
        let ocsp_chain = load("certs/revocation-e2e/certchain_with_ocsp.pem");
        assert_eq!(ocsp_chain.len(), 2);
        assert_eq!(ocsp_chain[0].ocsp_urls().len(), 1);
        assert!(ocsp_chain[0].ocsp_urls()[0].starts_with("http://"));
        validate_code_signing_chain(&crl).unwrap();
        validate_code_signing_chain(&ocsp_chain).unwrap();
    }

    #[test]
    fn every_signing_chain_passes_and_derives_its_algorithm() {
        let dir = format!("{TESTDATA}/certs/signing");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".chain.pem"))
            .collect();
        names.sort();
        assert_eq!(names.len(), 37);
        // Leaves with an RSA-3072 key (checked with `openssl x509 -text`); all
        // others are RSA-2048.
        let rsa3072 = [
            "notation-go_example_verifyBlob.jws.chain.pem",
            "notation-go_mock_ca_expired_sig_env.json.chain.pem",
            "notation-go_mock_ca_invalid_sig_env.json.chain.pem",
            "notation-go_mock_ca_plugin_sig_env.json.chain.pem",
            "notation-go_mock_ca_valid_sig_env.json.chain.pem",
            "notation-go_mock_sa_expired_sig_env.json.chain.pem",
            "notation-go_mock_sa_invalid_sig_env.json.chain.pem",
            "notation-go_mock_sa_plugin_sig_env.json.chain.pem",
            "notation-go_mock_sa_valid_sig_env.json.chain.pem",
            "notation-go_verifier_test_testSig.jws.chain.pem",
        ];
        let mut multi = 0;
        for name in &names {
            let chain = load(&format!("certs/signing/{name}"));
            validate_code_signing_chain(&chain).unwrap_or_else(|e| panic!("{name}: {e}"));
            if chain.len() > 1 {
                multi += 1;
            }
            let alg = signature_algorithm(&chain[0]).unwrap();
            let (expected, jws, cose) = if rsa3072.contains(&name.as_str()) {
                (SigAlg::PS384, "PS384", -38)
            } else {
                (SigAlg::PS256, "PS256", -37)
            };
            assert_eq!(alg, expected, "{name}");
            assert_eq!(alg.as_jws(), jws);
            assert_eq!(alg.cose_alg(), cose);
            assert!(alg.is_rsa_pss());
        }
        // The eight mock_{ca,sa} chains are leaf + root; the rest self-signed.
        assert_eq!(multi, 8);
    }

    #[test]
    fn digicert_timestamping_chain() {
        let chain: Vec<Cert> = [
            "certs/cert-validation/notation-core-go_timestamp_leaf.crt",
            "certs/cert-validation/notation-core-go_timestamp_intermediate.crt",
            "certs/cert-validation/notation-core-go_timestamp_root.crt",
        ]
        .iter()
        .flat_map(|f| load(f))
        .collect();
        validate_timestamping_chain(&chain).unwrap();
        assert_eq!(
            validate_code_signing_chain(&chain).unwrap_err(),
            r#"certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\, Inc.,C=US": extended key usage must not contain Timestamping eku"#
        );
        // Wrong order: the root first is a self-signed "leaf".
        let reversed: Vec<Cert> = chain.iter().rev().cloned().collect();
        assert_eq!(
            validate_timestamping_chain(&reversed).unwrap_err(),
            r#"leaf certificate with subject "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US" is self-signed. Certificate chain must not contain self-signed leaf certificate"#
        );
        // Missing intermediate.
        let gap = vec![chain[0].clone(), chain[2].clone()];
        let e = validate_timestamping_chain(&gap).unwrap_err();
        assert_eq!(
            e,
            r#"invalid certificates or certificate with subject "CN=DigiCert Timestamp 2023,O=DigiCert\\, Inc.,C=US" is not issued by "CN=DigiCert Trusted Root G4,OU=www.digicert.com,O=DigiCert Inc,C=US". Error: crypto/rsa: verification error"#
        );
    }

    #[test]
    fn validity_messages() {
        let cert = load("certs/roots/wabbit-networks.io.crt").remove(0);
        let nb = cert.not_before();
        let na = cert.not_after();
        check_validity_at(std::slice::from_ref(&cert), nb).unwrap();
        check_validity_at(std::slice::from_ref(&cert), na).unwrap();
        let before = nb - time::Duration::seconds(1);
        assert_eq!(
            check_validity_at(std::slice::from_ref(&cert), before).unwrap_err(),
            format!(
                "verification time is before certificate \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it will be valid from \"{}\"",
                format_rfc1123z(nb)
            )
        );
        let after = na + time::Duration::seconds(1);
        assert_eq!(
            check_validity_at(std::slice::from_ref(&cert), after).unwrap_err(),
            format!(
                "verification time is after certificate \"CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US\" validity period, it was expired at \"{}\"",
                format_rfc1123z(na)
            )
        );
        // The expired e2e certificate (valid 2023-06-26 .. 2023-06-27).
        let expired = load("certs/roots/notation-e2e_expired_e2e.crt");
        let at = time::macros::datetime!(2024-07-01 00:00:00 UTC);
        let e = check_validity_at(&expired, at).unwrap_err();
        assert!(e.starts_with("verification time is after certificate \"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU\" validity period, it was expired at \""), "{e}");
        assert!(e.contains("Jun 2023"), "{e}");
        assert_eq!(
            format_rfc1123z(time::macros::datetime!(2006-01-02 15:04:05 -7)),
            "Mon, 02 Jan 2006 22:04:05 +0000"
        );
        assert_eq!(
            format_rfc1123z(time::macros::datetime!(2024-02-05 03:04:05 UTC)),
            "Mon, 05 Feb 2024 03:04:05 +0000"
        );
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("abc"), "\"abc\"");
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\t\u{1}\u{7f}"), r#""a\nb\t\x01\x7f""#);
        assert_eq!(go_quote("Ünï 日本"), "\"Ünï 日本\"");
        assert_eq!(go_quote("\u{a0}\u{200b}"), r#""\u00a0\u200b""#);
    }

    #[test]
    fn sig_alg_tables() {
        let all = [
            SigAlg::PS256,
            SigAlg::PS384,
            SigAlg::PS512,
            SigAlg::ES256,
            SigAlg::ES384,
            SigAlg::ES512,
        ];
        let cose = [-37, -38, -39, -7, -35, -36];
        for (alg, c) in all.iter().zip(cose) {
            assert_eq!(alg.cose_alg(), c);
            assert_eq!(SigAlg::from_cose(c), Some(*alg));
            assert_eq!(SigAlg::from_jws(alg.as_jws()), Some(*alg));
            assert_eq!(alg.hash().size(), alg.hash_len());
            assert_eq!(alg.is_rsa_pss(), alg.as_jws().starts_with("PS"));
            assert_eq!(format!("{alg}"), alg.as_jws());
        }
        assert_eq!(SigAlg::PS384.hash_name(), "sha384");
        assert_eq!(SigAlg::from_jws("RS256"), None);
        assert_eq!(SigAlg::from_jws("none"), None);
        assert_eq!(SigAlg::from_cose(-8), None);
    }

    // ---------------------------------------------------------------------
    // Generated certificates
    // ---------------------------------------------------------------------

    fn ec_key(nid: Nid) -> PKey<Private> {
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap())
            .unwrap()
    }

    fn rsa_key(bits: u32) -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
    }

    fn name(cn: &str) -> X509Name {
        let mut b = X509NameBuilder::new().unwrap();
        b.append_entry_by_text("CN", cn).unwrap();
        b.build()
    }

    #[derive(Clone)]
    struct Spec<'a> {
        cn: &'a str,
        /// Issuer name override (defaults to the signer's subject).
        issuer_cn: Option<&'a str>,
        /// (cA, critical, pathLen)
        bc: Option<(bool, bool, Option<u32>)>,
        /// (critical, usages)
        ku: Option<(bool, &'a [&'a str])>,
        /// (critical, usages)
        eku: Option<(bool, &'a [&'a str])>,
        digest: Option<MessageDigest>,
    }

    fn leaf_spec(cn: &str) -> Spec<'_> {
        Spec {
            cn,
            issuer_cn: None,
            bc: None,
            ku: Some((true, &["digitalSignature"])),
            eku: Some((false, &["codeSigning"])),
            digest: Some(MessageDigest::sha256()),
        }
    }

    fn ca_spec(cn: &str) -> Spec<'_> {
        Spec {
            cn,
            issuer_cn: None,
            bc: Some((true, true, None)),
            ku: Some((true, &["keyCertSign", "cRLSign"])),
            eku: None,
            digest: Some(MessageDigest::sha256()),
        }
    }

    fn tsa_spec(cn: &str) -> Spec<'_> {
        Spec {
            eku: Some((true, &["timeStamping"])),
            ..leaf_spec(cn)
        }
    }

    /// Builds a certificate for `key`, signed by `signer` (cert + key) or self-signed.
    fn build(
        spec: &Spec<'_>,
        key: &PKey<Private>,
        signer: Option<(&Cert, &PKey<Private>)>,
    ) -> Cert {
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        let serial = BigNum::from_u32(rand_serial()).unwrap();
        b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
            .unwrap();
        b.set_subject_name(&name(spec.cn)).unwrap();
        let issuer_name = match (spec.issuer_cn, signer) {
            (Some(cn), _) => name(cn),
            (None, Some((c, _))) => c.x509.subject_name().to_owned().unwrap(),
            (None, None) => name(spec.cn),
        };
        b.set_issuer_name(&issuer_name).unwrap();
        b.set_pubkey(key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        if let Some((ca, critical, pathlen)) = spec.bc {
            let mut e = BcExt::new();
            if ca {
                e.ca();
            }
            if critical {
                e.critical();
            }
            if let Some(p) = pathlen {
                e.pathlen(p);
            }
            b.append_extension(e.build().unwrap()).unwrap();
        }
        if let Some((critical, usages)) = spec.ku {
            let mut e = KuExt::new();
            if critical {
                e.critical();
            }
            for u in usages {
                match *u {
                    "digitalSignature" => e.digital_signature(),
                    "keyEncipherment" => e.key_encipherment(),
                    "dataEncipherment" => e.data_encipherment(),
                    "keyAgreement" => e.key_agreement(),
                    "keyCertSign" => e.key_cert_sign(),
                    "cRLSign" => e.crl_sign(),
                    "encipherOnly" => e.encipher_only(),
                    "decipherOnly" => e.decipher_only(),
                    other => panic!("unknown usage {other}"),
                };
            }
            b.append_extension(e.build().unwrap()).unwrap();
        }
        if let Some((critical, usages)) = spec.eku {
            let mut e = EkuExt::new();
            if critical {
                e.critical();
            }
            for u in usages {
                e.other(u);
            }
            b.append_extension(e.build().unwrap()).unwrap();
        }
        let signing_key = signer.map(|(_, k)| k).unwrap_or(key);
        let digest = if signing_key.id() == openssl::pkey::Id::ED25519 {
            MessageDigest::null()
        } else {
            spec.digest.unwrap_or_else(MessageDigest::null)
        };
        b.sign(signing_key, digest).unwrap();
        let der = b.build().to_der().unwrap();
        Cert::from_der(&der).unwrap()
    }

    fn rand_serial() -> u32 {
        let mut buf = [0u8; 4];
        openssl::rand::rand_bytes(&mut buf).unwrap();
        u32::from_be_bytes(buf) & 0x7fff_ffff | 1
    }

    /// A root → intermediate chain (EC P-256 keys).
    struct Ca {
        root: Cert,
        root_key: PKey<Private>,
        inter: Cert,
        inter_key: PKey<Private>,
    }

    fn ca() -> Ca {
        let root_key = ec_key(Nid::X9_62_PRIME256V1);
        let root = build(&ca_spec("root"), &root_key, None);
        let inter_key = ec_key(Nid::X9_62_PRIME256V1);
        let inter = build(&ca_spec("inter"), &inter_key, Some((&root, &root_key)));
        Ca {
            root,
            root_key,
            inter,
            inter_key,
        }
    }

    fn chain_with_leaf(ca: &Ca, spec: &Spec<'_>, key: &PKey<Private>) -> Vec<Cert> {
        let leaf = build(spec, key, Some((&ca.inter, &ca.inter_key)));
        vec![leaf, ca.inter.clone(), ca.root.clone()]
    }

    fn cs_err(chain: &[Cert]) -> String {
        validate_code_signing_chain(chain).unwrap_err()
    }

    #[test]
    fn generated_good_chains_and_algorithms() {
        let ca = ca();
        for (key, alg) in [
            (ec_key(Nid::X9_62_PRIME256V1), SigAlg::ES256),
            (ec_key(Nid::SECP384R1), SigAlg::ES384),
            (ec_key(Nid::SECP521R1), SigAlg::ES512),
            (rsa_key(2048), SigAlg::PS256),
            (rsa_key(3072), SigAlg::PS384),
            (rsa_key(4096), SigAlg::PS512),
        ] {
            let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &key);
            validate_code_signing_chain(&chain).unwrap();
            assert_eq!(signature_algorithm(&chain[0]).unwrap(), alg);
            // Leaf alone is not self-signed.
            assert!(!chain[0].is_self_signed());
            // Self-signed single leaf.
            let single = build(&leaf_spec("self"), &key, None);
            validate_code_signing_chain(std::slice::from_ref(&single)).unwrap();
            assert!(single.is_self_signed());
        }
        // Two-certificate chain; EKU absent; BC present with cA false.
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let spec = Spec {
            eku: None,
            bc: Some((false, true, None)),
            ..leaf_spec("leaf")
        };
        let leaf = build(&spec, &key, Some((&ca.root, &ca.root_key)));
        validate_code_signing_chain(&[leaf, ca.root.clone()]).unwrap();
        // Unknown EKUs and anyExtendedKeyUsage are accepted for code signing (Go).
        let spec = Spec {
            eku: Some((false, &["codeSigning", "1.2.3.4", "anyExtendedKeyUsage"])),
            ..leaf_spec("leaf")
        };
        validate_code_signing_chain(&chain_with_leaf(&ca, &spec, &key)).unwrap();
        // RSA-PSS signed certificates (hash = MGF1 hash, salt = hash length).
        let root_key = rsa_key(2048);
        let root = build(&ca_spec("pss-root"), &root_key, None);
        let pss_leaf = {
            let mut b = X509Builder::new().unwrap();
            b.set_version(2).unwrap();
            b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(7).unwrap()).unwrap())
                .unwrap();
            b.set_subject_name(&name("pss-leaf")).unwrap();
            b.set_issuer_name(root.x509.subject_name()).unwrap();
            b.set_pubkey(&key).unwrap();
            b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
                .unwrap();
            b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
                .unwrap();
            b.append_extension(KuExt::new().critical().digital_signature().build().unwrap())
                .unwrap();
            // Sign conventionally, then re-sign the TBS with RSASSA-PSS.
            b.sign(&root_key, MessageDigest::sha256()).unwrap();
            sign_pss(b.build(), &root_key)
        };
        validate_code_signing_chain(&[pss_leaf, root]).unwrap();
        // Ed25519 CA above an ECDSA leaf (Go verifies Ed25519 signatures).
        let ed_key = PKey::generate_ed25519().unwrap();
        let ed_root = build(&ca_spec("ed-root"), &ed_key, None);
        let leaf = build(&leaf_spec("leaf"), &key, Some((&ed_root, &ed_key)));
        assert_eq!(leaf.sig_alg, CertSigAlg::Ed25519);
        assert_eq!(ed_root.sig_alg, CertSigAlg::Ed25519);
        validate_code_signing_chain(&[leaf, ed_root]).unwrap();
    }

    fn sign_pss(x: X509, key: &PKey<Private>) -> Cert {
        // Re-encode by hand: TBS with the PSS AlgorithmIdentifier, then sign.
        let pss_ai: &[u8] = &[
            0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
            0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
            0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
            0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
            0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
        ];
        let der = x.to_der().unwrap();
        // Certificate ::= SEQUENCE { tbs, sigAlg, sig }: rebuild the TBS with
        // the PSS identifier.
        let (_, cert_body, _) = read_tlv(&der).unwrap();
        let (_, tbs_body, _) = read_tlv(cert_body).unwrap();
        // tbs: [0] version, serial, signature AI, ...
        let (_, _, after_version) = read_tlv(tbs_body).unwrap();
        let serial_len = tlv_len(after_version);
        let after_serial = &after_version[serial_len..];
        let ai_len = tlv_len(after_serial);
        let mut new_tbs_body = tbs_body[..tbs_body.len() - after_version.len()].to_vec();
        new_tbs_body.extend_from_slice(&after_version[..serial_len]);
        new_tbs_body.extend_from_slice(pss_ai);
        new_tbs_body.extend_from_slice(&after_serial[ai_len..]);
        let tbs = wrap(0x30, &new_tbs_body);
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).unwrap();
        signer
            .set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)
            .unwrap();
        signer
            .set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
        signer.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
        signer.update(&tbs).unwrap();
        let sig = signer.sign_to_vec().unwrap();
        let mut bits = vec![0u8];
        bits.extend_from_slice(&sig);
        let mut body = tbs;
        body.extend_from_slice(pss_ai);
        body.extend_from_slice(&wrap(0x03, &bits));
        let cert = Cert::from_der(&wrap(0x30, &body)).unwrap();
        assert_eq!(cert.sig_alg, CertSigAlg::Sha256RsaPss);
        cert
    }

    fn tlv_len(input: &[u8]) -> usize {
        let (_, _, rest) = read_tlv(input).unwrap();
        input.len() - rest.len()
    }

    fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        der_len(content.len(), &mut out);
        out.extend_from_slice(content);
        out
    }

    #[test]
    fn generated_leaf_failures() {
        let ca = ca();
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let leaf_q = "\"CN=leaf\"";

        let no_ku = Spec {
            ku: None,
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &no_ku, &key)),
            format!("certificate with subject {leaf_q}: key usage extension must be present")
        );
        let ku_not_critical = Spec {
            ku: Some((false, &["digitalSignature"])),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &ku_not_critical, &key)),
            format!(
                "certificate with subject {leaf_q}: key usage extension must be marked critical"
            )
        );
        let leaf_ca = Spec {
            bc: Some((true, true, None)),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &leaf_ca, &key)),
            format!(
                "certificate with subject {leaf_q}: if the basic constraints extension is present, the ca field must be set to false"
            )
        );
        let server_auth = Spec {
            eku: Some((false, &["codeSigning", "serverAuth"])),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &server_auth, &key)),
            format!(
                "certificate with subject {leaf_q}: extended key usage must not contain ServerAuth eku"
            )
        );
        for (eku, name) in [
            ("clientAuth", "ClientAuth"),
            ("emailProtection", "EmailProtection"),
            ("timeStamping", "Timestamping"),
            ("OCSPSigning", "OCSPSigning"),
        ] {
            let usages = [eku];
            let spec = Spec {
                eku: Some((false, &usages)),
                ..leaf_spec("leaf")
            };
            assert_eq!(
                cs_err(&chain_with_leaf(&ca, &spec, &key)),
                format!(
                    "certificate with subject {leaf_q}: extended key usage must not contain {name} eku"
                )
            );
        }
        let no_ds = Spec {
            ku: Some((true, &["keyEncipherment"])),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &no_ds, &key)),
            format!(
                "the certificate with subject {leaf_q} is invalid. The key usage must have the bit positions for \"Digital Signature\" set"
            )
        );
        let extra = Spec {
            ku: Some((
                true,
                &[
                    "digitalSignature",
                    "keyEncipherment",
                    "cRLSign",
                    "decipherOnly",
                ],
            )),
            ..leaf_spec("leaf")
        };
        assert_eq!(
            cs_err(&chain_with_leaf(&ca, &extra, &key)),
            format!(
                "the certificate with subject {leaf_q} is invalid. The key usage must be \"Digital Signature\" only, but found \"KeyEncipherment\", \"CRLSign\", \"DecipherOnly\""
            )
        );
        // Key sizes.
        let rsa1024 = rsa_key(1024);
        let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &rsa1024);
        assert_eq!(
            cs_err(&chain),
            format!("certificate with subject {leaf_q}: rsa key size 1024 bits is not supported")
        );
        assert_eq!(
            signature_algorithm(&chain[0]).unwrap_err(),
            "rsa key size 1024 bits is not supported"
        );
        let p224 = ec_key(Nid::SECP224R1);
        let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &p224);
        assert_eq!(
            cs_err(&chain),
            format!("certificate with subject {leaf_q}: ecdsa key size 224 bits is not supported")
        );
        let ed = PKey::generate_ed25519().unwrap();
        let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &ed);
        assert_eq!(
            cs_err(&chain),
            format!("certificate with subject {leaf_q}: unsupported public key type")
        );
        assert_eq!(
            signature_algorithm(&chain[0]).unwrap_err(),
            "unsupported public key type"
        );
        // Self-signed single leaf that breaks a leaf rule.
        let single = build(&no_ku, &key, None);
        assert_eq!(
            cs_err(std::slice::from_ref(&single)),
            format!(
                "invalid self-signed certificate. Error: certificate with subject {leaf_q}: key usage extension must be present"
            )
        );
    }

    #[test]
    fn generated_chain_shape_failures() {
        let ca = ca();
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let chain = chain_with_leaf(&ca, &leaf_spec("leaf"), &key);
        validate_code_signing_chain(&chain).unwrap();

        assert_eq!(
            cs_err(&[]),
            "certificate chain must contain at least one certificate"
        );
        // Root first.
        let wrong: Vec<Cert> = chain.iter().rev().cloned().collect();
        assert_eq!(
            cs_err(&wrong),
            "leaf certificate with subject \"CN=root\" is self-signed. Certificate chain must not contain self-signed leaf certificate"
        );
        // Intermediate before leaf: the leaf cannot sign.
        let wrong = vec![chain[1].clone(), chain[0].clone(), chain[2].clone()];
        assert_eq!(
            cs_err(&wrong),
            "invalid certificates or certificate with subject \"CN=inter\" is not issued by \"CN=leaf\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
        );
        // Missing intermediate: signature does not verify.
        let gap = vec![chain[0].clone(), chain[2].clone()];
        assert_eq!(
            cs_err(&gap),
            "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: ECDSA verification failure"
        );
        // Missing root.
        assert_eq!(
            cs_err(&chain[..2]),
            "root certificate with subject \"CN=inter\" is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: x509: ECDSA verification failure"
        );
        // Signed by the right key but the issuer name differs.
        let renamed = Spec {
            issuer_cn: Some("other"),
            ..leaf_spec("leaf")
        };
        let leaf = build(&renamed, &key, Some((&ca.inter, &ca.inter_key)));
        assert_eq!(
            cs_err(&[leaf, ca.inter.clone(), ca.root.clone()]),
            "certificate with subject \"CN=leaf\" is not issued by \"CN=inter\""
        );
        // Self-signed intermediate in the middle.
        let self_inter = build(&ca_spec("self-inter"), &ca.inter_key, None);
        let leaf = build(&leaf_spec("leaf"), &key, Some((&self_inter, &ca.inter_key)));
        assert_eq!(
            cs_err(&[leaf, self_inter, ca.root.clone()]),
            "intermediate certificate with subject \"CN=self-inter\" is self-signed. Certificate chain must not contain self-signed intermediate certificate"
        );
        // Root that is self-signed by key but not self-issued.
        let odd_root = build(
            &Spec {
                issuer_cn: Some("elsewhere"),
                ..ca_spec("odd-root")
            },
            &ca.root_key,
            None,
        );
        let leaf = build(&leaf_spec("leaf"), &key, Some((&odd_root, &ca.root_key)));
        // The leaf's issuer is the odd root's subject, so issuance is fine; the
        // root fails the self-issued test.
        assert_eq!(
            cs_err(&[leaf, odd_root]),
            "root certificate with subject \"CN=odd-root\" is not self-signed. Certificate chain must end with a valid self-signed root certificate"
        );
        // Single certificate signed by somebody else.
        let lone = build(&leaf_spec("lone"), &key, Some((&ca.root, &ca.root_key)));
        assert_eq!(
            cs_err(std::slice::from_ref(&lone)),
            "invalid self-signed certificate. subject: \"CN=lone\". Error: x509: ECDSA verification failure"
        );
        // Single certificate signed by its own key with a foreign issuer name.
        let lone = build(
            &Spec {
                issuer_cn: Some("someone"),
                ..leaf_spec("lone")
            },
            &key,
            None,
        );
        assert_eq!(
            cs_err(std::slice::from_ref(&lone)),
            "invalid self-signed certificate. subject: \"CN=lone\". Error: issuer(CN=someone) and subject(CN=lone) are not the same"
        );
        assert_eq!(
            validate_timestamping_chain(std::slice::from_ref(&lone)).unwrap_err(),
            "invalid self-signed certificate. subject: \"CN=lone\". Error: issuer (CN=someone) and subject (CN=lone) are not the same"
        );
        // ECDSA-signed leaf presented with an RSA "parent".
        let rsa_root_key = rsa_key(2048);
        let rsa_root = build(&ca_spec("rsa-root"), &rsa_root_key, None);
        assert_eq!(
            cs_err(&[chain[0].clone(), rsa_root]),
            "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=rsa-root\". Error: x509: signature algorithm specifies an ECDSA public key, but have public key of type *rsa.PublicKey"
        );
    }

    #[test]
    fn generated_ca_failures() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let root_key = ec_key(Nid::X9_62_PRIME256V1);
        let inter_key = ec_key(Nid::X9_62_PRIME256V1);
        // pathLen 0 on the root with an intermediate below it.
        let root = build(
            &Spec {
                bc: Some((true, true, Some(0))),
                ..ca_spec("root")
            },
            &root_key,
            None,
        );
        let inter = build(&ca_spec("inter"), &inter_key, Some((&root, &root_key)));
        let leaf = build(&leaf_spec("leaf"), &key, Some((&inter, &inter_key)));
        assert_eq!(
            cs_err(&[leaf.clone(), inter.clone(), root.clone()]),
            "certificate with subject \"CN=root\": expected path length of 1 but certificate has path length 0 instead"
        );
        // pathLen 0 directly above the leaf is fine.
        let leaf0 = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
        validate_code_signing_chain(&[leaf0, root.clone()]).unwrap();

        // CA key usage not critical: code signing refuses, timestamping accepts.
        let root = build(
            &Spec {
                ku: Some((false, &["keyCertSign"])),
                ..ca_spec("root")
            },
            &root_key,
            None,
        );
        let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
        assert_eq!(
            cs_err(&[leaf, root.clone()]),
            "certificate with subject \"CN=root\": key usage extension must be marked critical"
        );
        let tsa = build(&tsa_spec("tsa"), &key, Some((&root, &root_key)));
        validate_timestamping_chain(&[tsa, root]).unwrap();

        // CA without key usage.
        let root = build(
            &Spec {
                ku: None,
                ..ca_spec("root")
            },
            &root_key,
            None,
        );
        let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
        assert_eq!(
            cs_err(&[leaf, root]),
            "certificate with subject \"CN=root\": key usage extension must be present"
        );

        // CA with basic constraints cA=false cannot sign at all.
        let root = build(
            &Spec {
                bc: Some((false, true, None)),
                ..ca_spec("root")
            },
            &root_key,
            None,
        );
        let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
        // The leaf is checked first: its parent may not sign certificates.
        assert_eq!(
            cs_err(&[leaf, root.clone()]),
            "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
        );
        // Go's isSelfSigned uses CheckSignatureFrom, so a non-CA is never
        // "self-signed" there.
        assert_eq!(
            cs_err(&[root.clone(), root]),
            "invalid certificates or certificate with subject \"CN=root\" is not issued by \"CN=root\". Error: x509: invalid signature: parent certificate cannot sign this kind of certificate"
        );
        // Basic constraints present but not critical is accepted (Go).
        let root = build(
            &Spec {
                bc: Some((true, false, None)),
                ..ca_spec("root")
            },
            &root_key,
            None,
        );
        let leaf = build(&leaf_spec("leaf"), &key, Some((&root, &root_key)));
        validate_code_signing_chain(&[leaf, root]).unwrap();
    }

    #[test]
    fn generated_sha1_signatures() {
        let root_key = rsa_key(2048);
        let key = rsa_key(2048);
        let sha1 = |spec: Spec<'static>| Spec {
            digest: Some(MessageDigest::sha1()),
            ..spec
        };
        // SHA-1 signed leaf under a SHA-256 root.
        let root = build(&ca_spec("root"), &root_key, None);
        let leaf = build(&sha1(leaf_spec("leaf")), &key, Some((&root, &root_key)));
        assert_eq!(
            cs_err(&[leaf, root.clone()]),
            "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: cannot verify signature: insecure algorithm SHA1-RSA"
        );
        // SHA-1 self-signed root.
        let root1 = build(&sha1(ca_spec("root")), &root_key, None);
        let leaf = build(&leaf_spec("leaf"), &key, Some((&root1, &root_key)));
        assert_eq!(
            cs_err(&[leaf, root1]),
            "root certificate with subject \"CN=root\" is invalid or not self-signed. Certificate chain must end with a valid self-signed root certificate. Error: x509: cannot verify signature: insecure algorithm SHA1-RSA"
        );
        // ECDSA-SHA1.
        let ec_root_key = ec_key(Nid::X9_62_PRIME256V1);
        let ec_root = build(&ca_spec("root"), &ec_root_key, None);
        let leaf = build(
            &sha1(leaf_spec("leaf")),
            &key,
            Some((&ec_root, &ec_root_key)),
        );
        assert_eq!(
            cs_err(&[leaf, ec_root]),
            "invalid certificates or certificate with subject \"CN=leaf\" is not issued by \"CN=root\". Error: x509: cannot verify signature: insecure algorithm ECDSA-SHA1"
        );
        // A single self-signed SHA-1 leaf passes: Go's CheckSignature allows SHA-1.
        let single = build(&sha1(leaf_spec("self")), &key, None);
        assert!(single.check_self_signature().is_ok());
        validate_code_signing_chain(std::slice::from_ref(&single)).unwrap();
        assert_eq!(
            single.check_signature_from(&single).unwrap_err(),
            "x509: invalid signature: parent certificate cannot sign this kind of certificate"
        );
    }

    #[test]
    fn generated_timestamping_chains() {
        let root_key = ec_key(Nid::X9_62_PRIME256V1);
        let root = build(&ca_spec("root"), &root_key, None);
        let key = ec_key(Nid::SECP384R1);
        let tsa_q = "\"CN=tsa\"";
        let ok = build(&tsa_spec("tsa"), &key, Some((&root, &root_key)));
        validate_timestamping_chain(&[ok.clone(), root.clone()]).unwrap();
        assert_eq!(
            validate_code_signing_chain(&[ok, root.clone()]).unwrap_err(),
            format!(
                "certificate with subject {tsa_q}: extended key usage must not contain Timestamping eku"
            )
        );
        // EKU not critical.
        let spec = Spec {
            eku: Some((false, &["timeStamping"])),
            ..tsa_spec("tsa")
        };
        let leaf = build(&spec, &key, Some((&root, &root_key)));
        assert_eq!(
            validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
            format!(
                "timestamp signing certificate with subject {tsa_q} must have extended key usage extension marked as critical"
            )
        );
        // Extra or missing EKU.
        for usages in [
            &["timeStamping", "codeSigning"][..],
            &["timeStamping", "1.2.3.4"][..],
            &["codeSigning"][..],
        ] {
            let spec = Spec {
                eku: Some((true, usages)),
                ..tsa_spec("tsa")
            };
            let leaf = build(&spec, &key, Some((&root, &root_key)));
            assert_eq!(
                validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
                format!(
                    "timestamp signing certificate with subject {tsa_q} must have and only have Timestamping as extended key usage"
                ),
                "{usages:?}"
            );
        }
        let spec = Spec {
            eku: None,
            ..tsa_spec("tsa")
        };
        let leaf = build(&spec, &key, Some((&root, &root_key)));
        assert_eq!(
            validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
            format!(
                "timestamp signing certificate with subject {tsa_q} must have and only have Timestamping as extended key usage"
            )
        );
        // Key usage not critical is accepted for a TSA leaf, but must be present.
        let spec = Spec {
            ku: Some((false, &["digitalSignature"])),
            ..tsa_spec("tsa")
        };
        let leaf = build(&spec, &key, Some((&root, &root_key)));
        validate_timestamping_chain(&[leaf, root.clone()]).unwrap();
        let spec = Spec {
            ku: None,
            ..tsa_spec("tsa")
        };
        let leaf = build(&spec, &key, Some((&root, &root_key)));
        assert_eq!(
            validate_timestamping_chain(&[leaf, root.clone()]).unwrap_err(),
            format!("certificate with subject {tsa_q}: key usage extension must be present")
        );
        // Self-signed TSA certificate.
        let single = build(&tsa_spec("tsa"), &key, None);
        validate_timestamping_chain(std::slice::from_ref(&single)).unwrap();
    }

    #[test]
    fn go_name_rendering() {
        let key = ec_key(Nid::X9_62_PRIME256V1);
        let mut b = X509NameBuilder::new().unwrap();
        for (k, v) in [
            ("C", "US"),
            ("O", "Org, Inc."),
            ("OU", "b"),
            ("OU", "a"),
            ("CN", "x"),
            ("emailAddress", "x@y.z"),
            ("serialNumber", "123"),
            ("L", "Town+"),
            ("ST", "S;t\"q"),
            ("street", "1 Main"),
            ("postalCode", "9"),
            ("DC", "example"),
            ("CN", "Ünï"),
        ] {
            b.append_entry_by_text(k, v).unwrap();
        }
        let subject = b.build();
        let mut xb = X509Builder::new().unwrap();
        xb.set_version(2).unwrap();
        xb.set_subject_name(&subject).unwrap();
        xb.set_issuer_name(&name(" #lead ")).unwrap();
        xb.set_pubkey(&key).unwrap();
        xb.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        xb.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        xb.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = Cert::from_der(&xb.build().to_der().unwrap()).unwrap();
        // Expected strings produced by Go's pkix.Name.String() for the same names.
        assert_eq!(
            cert.subject(),
            r#"SERIALNUMBER=123,CN=Ünï,OU=b+OU=a,O=Org\, Inc.,POSTALCODE=9,STREET=1 Main,L=Town\+,ST=S\;t\"q,C=US,0.9.2342.19200300.100.1.25=#13076578616d706c65,1.2.840.113549.1.9.1=#0c057840792e7a"#
        );
        assert_eq!(cert.issuer(), r"CN=\ #lead\ ");
        let attrs = vec![("2.5.4.3".to_string(), "#x".to_string())];
        assert_eq!(go_name_from_attributes(&attrs), r"CN=\#x");
        // Empty CN is dropped; empty C is kept.
        let attrs = vec![
            ("2.5.4.6".to_string(), String::new()),
            ("2.5.4.3".to_string(), String::new()),
        ];
        assert_eq!(go_name_from_attributes(&attrs), "C=");
        assert_eq!(cert.version(), 3);
        assert!(cert.serial().is_empty() || cert.serial()[0] & 0x80 == 0);
    }

    #[test]
    fn oid_and_der_helpers() {
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]).unwrap(),
            "1.2.840.113549.1.1.11"
        );
        assert_eq!(
            oid_to_string(&[0x55, 0x1d, 0x25, 0x00]).unwrap(),
            "2.5.29.37.0"
        );
        assert!(oid_to_string(&[]).is_none());
        assert!(oid_to_string(&[0x86]).is_none());
        assert!(read_tlv(&[0x30, 0x05, 0x00]).is_none());
        assert!(read_tlv(&[0x30, 0x81]).is_none());
        let mut v = Vec::new();
        der_len(300, &mut v);
        assert_eq!(v, [0x82, 0x01, 0x2c]);
        assert_eq!(parse_key_usage(&[0x03, 0x02, 0x07, 0x80]).unwrap(), 1);
        assert_eq!(
            parse_key_usage(&[0x03, 0x03, 0x07, 0x00, 0x80]).unwrap(),
            1 << 8
        );
        assert!(parse_key_usage(&[0x04, 0x00]).is_err());
        let bc =
            parse_basic_constraints(&[0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00]).unwrap();
        assert_eq!(
            bc,
            BasicConstraints {
                is_ca: true,
                max_path_len: Some(0)
            }
        );
        assert!(parse_basic_constraints(&[0x30, 0x03, 0x01, 0x01, 0x01]).is_err());
    }

    #[test]
    fn mutated_and_truncated_input_never_panics() {
        let der = read("certs/cert-validation/notation-core-go_openssl-minimum-self-signed.pem");
        let der = parse_certs(&der).unwrap().remove(0).der;
        let root = load("certs/roots/NotationTestRoot.pem").remove(0);
        let mut parsed = 0;
        for i in 0..der.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut m = der.clone();
                m[i] ^= flip;
                if let Ok(certs) = parse_certs(&m) {
                    parsed += 1;
                    let _ = validate_code_signing_chain(&certs);
                    let _ = validate_timestamping_chain(&certs);
                    let mut with_root = certs.clone();
                    with_root.push(root.clone());
                    let _ = validate_code_signing_chain(&with_root);
                    let _ = signature_algorithm(&certs[0]);
                    let _ = certs[0].subject().len() + certs[0].revocation_urls().0.len();
                }
            }
            let _ = parse_certs(&der[..i]);
        }
        assert!(parsed > 0);
        let pem = read("certs/cert-validation/notation-core-go_multi-pem.crt");
        for i in 0..pem.len() {
            let _ = parse_certs(&pem[..i]);
        }
    }
}
