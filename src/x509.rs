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
    Rsa { bits: u32 },
    /// ECDSA key on a curve Go supports (P-224, P-256, P-384, P-521).
    Ec { bits: u32 },
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

/// Go `x509.SignatureAlgorithm` of a certificate signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CertSigAlg {
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
enum PkAlgo {
    Unknown,
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
}

impl PkAlgo {
    fn go_name(self) -> &'static str {
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
enum HashKind {
    None,
    Md5,
    Sha1,
    Sha2,
}

impl CertSigAlg {
    /// Go `SignatureAlgorithm.String()`.
    fn go_name(self) -> &'static str {
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

    fn hash_kind(self) -> HashKind {
        match self {
            CertSigAlg::Unknown | CertSigAlg::Md2Rsa | CertSigAlg::Ed25519 => HashKind::None,
            CertSigAlg::Md5Rsa => HashKind::Md5,
            CertSigAlg::Sha1Rsa | CertSigAlg::DsaSha1 | CertSigAlg::EcdsaSha1 => HashKind::Sha1,
            _ => HashKind::Sha2,
        }
    }

    fn pk_algo(self) -> PkAlgo {
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
            PublicKeyInfo::Rsa { .. } => {
                (PkAlgo::Rsa, "*rsa.PublicKey", "crypto/rsa: verification error")
            }
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
    let sig_alg = cert_sig_alg(&xc.signature_algorithm);

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
                let start = modulus.iter().position(|b| *b != 0).unwrap_or(modulus.len());
                let bytes = modulus.len() - start;
                if bytes == 0 {
                    return Err("x509: RSA modulus is not a positive number".to_string());
                }
                let bits = u32::try_from(bytes * 8)
                    .map_err(|_| "x509: RSA key too large".to_string())?;
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

/// Go `getSignatureAlgorithmFromAI`.
fn cert_sig_alg(ai: &x509_parser::x509::AlgorithmIdentifier<'_>) -> CertSigAlg {
    let oid = ai.algorithm.to_id_string();
    match oid.as_str() {
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
        "1.3.101.112" => {
            if ai.parameters.is_some() {
                CertSigAlg::Unknown
            } else {
                CertSigAlg::Ed25519
            }
        }
        "1.2.840.113549.1.1.10" => match &ai.parameters {
            Some(p) if p.header.is_universal() && p.header.tag().0 == 16 => {
                pss_sig_alg(p.data).unwrap_or(CertSigAlg::Unknown)
            }
            _ => CertSigAlg::Unknown,
        },
        _ => CertSigAlg::Unknown,
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
        let set = bits.get(i / 8).is_some_and(|b| (b >> (7 - (i % 8))) & 1 == 1);
        if set {
            usage |= 1 << i;
        }
    }
    Ok(usage)
}

/// Extended key usage OIDs in certificate order.
fn parse_eku(value: &[u8]) -> Result<Vec<String>, String> {
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

// ---------------------------------------------------------------------------
// Minimal DER helpers
// ---------------------------------------------------------------------------

/// Reads one DER TLV with a single-byte tag; returns (tag, content, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for b in &rest[..n] {
            len = (len << 8) | usize::from(*b);
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Dotted string of an OID's content bytes.
fn oid_to_string(content: &[u8]) -> Option<String> {
    if content.is_empty() || content.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for b in content {
        if v > (u64::MAX >> 7) {
            return None;
        }
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(v);
            v = 0;
        }
    }
    let first = *arcs.first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - start) as u8);
        out.extend_from_slice(&bytes[start..]);
    }
}

// ---------------------------------------------------------------------------
// Go name rendering (pkix.Name.String) and %q quoting
// ---------------------------------------------------------------------------

/// Go crypto/x509 `isPrintable` (parser side: `*` and `&` allowed).
fn x509_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || (b'\''..=b')').contains(&b)
        || (b'+'..=b'/').contains(&b)
        || matches!(b, b' ' | b':' | b'=' | b'?' | b'*' | b'&')
}

/// Go encoding/asn1 `isPrintable` with asterisk and ampersand rejected.
fn asn1_printable(b: u8) -> bool {
    x509_printable(b) && b != b'*' && b != b'&'
}

/// Go crypto/x509 `parseASN1String` for a Name attribute value.
fn parse_asn1_string(value: &asn1_any::Any<'_>) -> Result<String, String> {
    let prefix = "x509: invalid RDNSequence: invalid attribute value: ";
    let data = value.data;
    if !value.header.is_universal() || value.header.is_constructed() {
        return Err(format!("{prefix}unsupported string type"));
    }
    match value.header.tag().0 {
        20 => Ok(String::from_utf8(data.to_vec())
            .unwrap_or_else(|_| data.iter().map(|b| char::from(*b)).collect())),
        19 => {
            if data.iter().all(|b| x509_printable(*b)) {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid PrintableString"))
            }
        }
        12 => String::from_utf8(data.to_vec()).map_err(|_| format!("{prefix}invalid UTF-8 string")),
        30 => {
            if data.len() % 2 != 0 {
                return Err(format!("{prefix}pkcs12: odd-length BMP string"));
            }
            let mut d = data;
            if d.len() >= 2 && d[d.len() - 1] == 0 && d[d.len() - 2] == 0 {
                d = &d[..d.len() - 2];
            }
            let units: Vec<u16> = d
                .chunks_exact(2)
                .map(|c| (u16::from(c[0]) << 8) | u16::from(c[1]))
                .collect();
            Ok(char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect())
        }
        22 => {
            if data.is_ascii() {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid IA5String"))
            }
        }
        18 => {
            if data.iter().all(|b| b.is_ascii_digit() || *b == b' ') {
                Ok(data.iter().map(|b| char::from(*b)).collect())
            } else {
                Err(format!("{prefix}invalid NumericString"))
            }
        }
        t => Err(format!("{prefix}unsupported string type: {t}")),
    }
}

mod asn1_any {
    pub use x509_parser::asn1_rs::Any;
}

/// Go `pkix.Name.String()` of a parsed certificate name.
fn go_name_string(name: &x509_parser::x509::X509Name<'_>) -> Result<String, String> {
    let mut atvs: Vec<(String, String)> = Vec::new();
    for rdn in name.iter_rdn() {
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let value = parse_asn1_string(atv.attr_value())?;
            atvs.push((oid, value));
        }
    }
    Ok(go_name_from_attributes(&atvs))
}

const STANDARD_ATTRS: [&str; 9] = [
    "2.5.4.3", "2.5.4.5", "2.5.4.6", "2.5.4.7", "2.5.4.8", "2.5.4.9", "2.5.4.10", "2.5.4.11",
    "2.5.4.17",
];

fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.6" => "C",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.17" => "POSTALCODE",
        _ => return None,
    })
}

/// Go `Name.String()` from the attributes in certificate order
/// (`FillFromRDNSequence` + `ToRDNSequence` + `RDNSequence.String`).
fn go_name_from_attributes(atvs: &[(String, String)]) -> String {
    let mut rdns: Vec<Vec<(&str, &str)>> = Vec::new();
    for (oid, value) in atvs {
        if !STANDARD_ATTRS.contains(&oid.as_str()) {
            rdns.push(vec![(oid.as_str(), value.as_str())]);
        }
    }
    for oid in [
        "2.5.4.6", "2.5.4.8", "2.5.4.7", "2.5.4.9", "2.5.4.17", "2.5.4.10", "2.5.4.11",
    ] {
        let values: Vec<(&str, &str)> = atvs
            .iter()
            .filter(|(o, _)| o == oid)
            .map(|(o, v)| (o.as_str(), v.as_str()))
            .collect();
        if !values.is_empty() {
            rdns.push(values);
        }
    }
    for oid in ["2.5.4.3", "2.5.4.5"] {
        if let Some((o, v)) = atvs.iter().rev().find(|(o, _)| o == oid)
            && !v.is_empty()
        {
            rdns.push(vec![(o.as_str(), v.as_str())]);
        }
    }

    let mut s = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            s.push(',');
        }
        for (j, (oid, value)) in rdn.iter().enumerate() {
            if j > 0 {
                s.push('+');
            }
            match short_name(oid) {
                None => {
                    s.push_str(oid);
                    s.push_str("=#");
                    s.push_str(&hex(&marshal_go_string(value)));
                }
                Some(type_name) => {
                    s.push_str(type_name);
                    s.push('=');
                    escape_rdn_value(value, &mut s);
                }
            }
        }
    }
    s
}

/// Go `asn1.Marshal(string)`: PrintableString when possible, else UTF8String.
fn marshal_go_string(value: &str) -> Vec<u8> {
    let tag = if value.bytes().all(asn1_printable) {
        0x13
    } else {
        0x0c
    };
    let mut out = vec![tag];
    der_len(value.len(), &mut out);
    out.extend_from_slice(value.as_bytes());
    out
}

fn escape_rdn_value(value: &str, out: &mut String) {
    let last = value.len().saturating_sub(1);
    for (k, c) in value.char_indices() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == last,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Approximation of Go `unicode.IsPrint` (letters, marks, numbers,
/// punctuation, symbols and the ASCII space).
fn go_is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = u32::from(c);
    !matches!(u,
        0x00AD
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x206F
        | 0xE000..=0xF8FF
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0xF0000..=0x10FFFF
    )
}

/// Go `%q` / `strconv.Quote` of a string.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
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

fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
    let (line, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r') {
        end -= 1;
    }
    (&line[..end], rest)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Port of Go `encoding/pem.Decode`: returns the decoded bytes of the next
/// block and the rest, or `None` when no further block exists.
fn pem_decode(data: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    const PEM_START: &[u8] = b"\n-----BEGIN ";
    const PEM_END: &[u8] = b"\n-----END ";
    const PEM_EOL: &[u8] = b"-----";
    let mut rest = data;
    loop {
        if rest.starts_with(&PEM_START[1..]) {
            rest = &rest[PEM_START.len() - 1..];
        } else if let Some(i) = find(rest, PEM_START) {
            rest = &rest[i + PEM_START.len()..];
        } else {
            return None;
        }
        let (type_line, after_type) = get_line(rest);
        rest = after_type;
        if !type_line.ends_with(PEM_EOL) {
            continue;
        }
        let type_line = &type_line[..type_line.len() - PEM_EOL.len()];

        let mut has_headers = false;
        loop {
            if rest.is_empty() {
                return None;
            }
            let (line, next) = get_line(rest);
            if !line.contains(&b':') {
                break;
            }
            has_headers = true;
            rest = next;
        }

        let (end_index, end_trailer_index) = if !has_headers && rest.starts_with(&PEM_END[1..]) {
            (0usize, PEM_END.len() - 1)
        } else {
            match find(rest, PEM_END) {
                Some(i) => (i, i + PEM_END.len()),
                None => continue,
            }
        };
        let end_trailer = &rest[end_trailer_index..];
        let end_trailer_len = type_line.len() + PEM_EOL.len();
        if end_trailer.len() < end_trailer_len {
            continue;
        }
        let rest_of_end_line = &end_trailer[end_trailer_len..];
        let end_trailer = &end_trailer[..end_trailer_len];
        if !end_trailer.starts_with(type_line) || !end_trailer.ends_with(PEM_EOL) {
            continue;
        }
        if !get_line(rest_of_end_line).0.is_empty() {
            continue;
        }
        let b64: Vec<u8> = rest[..end_index]
            .iter()
            .copied()
            .filter(|b| *b != b' ' && *b != b'\t')
            .collect();
        let Some(decoded) = base64_std_decode(&b64) else {
            continue;
        };
        // `end_index + PEM_END.len() - 1` is within `rest`: the end marker was found.
        let after = &rest[end_index + PEM_END.len() - 1..];
        let (_, remaining) = get_line(after);
        return Some((decoded, remaining));
    }
}

/// Go `base64.StdEncoding.Decode` (padding required, CR/LF ignored).
fn base64_std_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let quads = clean.len() / 4;
    for (qi, q) in clean.chunks_exact(4).enumerate() {
        let pad = q.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && qi + 1 != quads) {
            return None;
        }
        let mut acc = 0u32;
        for (i, c) in q.iter().enumerate() {
            let v = if i >= 4 - pad { 0 } else { val(*c)? };
            acc = (acc << 6) | v;
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Some(out)
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

/// Go `time.RFC1123Z` ("Mon, 02 Jan 2006 15:04:05 -0700"), rendered in UTC.
pub fn format_rfc1123z(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
    );
    t.format(&format).unwrap_or_else(|_| t.to_string())
}

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
