//! `Cert`: one parsed certificate (x509-parser for the fields, OpenSSL for the key), its
//! accessors, and `parse_certs` (notation-core-go `parseCertificates`: PEM or DER).

use super::*;

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

/// A parsed X.509 certificate with the fields the verifier needs cached.
#[derive(Clone, Debug)]
pub struct Cert {
    /// Exact DER encoding of the certificate.
    pub der: Vec<u8>,
    /// The OpenSSL view of the same certificate.
    pub x509: X509,
    pub(super) subject: String,
    pub(super) issuer: String,
    pub(super) raw_subject: Vec<u8>,
    pub(super) raw_issuer: Vec<u8>,
    pub(super) version: u32,
    pub(super) serial: Vec<u8>,
    pub(super) not_before: OffsetDateTime,
    pub(super) not_after: OffsetDateTime,
    pub(super) basic_constraints: Option<BasicConstraints>,
    pub(super) key_usage: u16,
    pub(super) key_usage_critical: Option<bool>,
    pub(super) ext_key_usage: Vec<ExtKeyUsage>,
    pub(super) unknown_ext_key_usage: Vec<String>,
    pub(super) ext_key_usage_critical: Option<bool>,
    pub(super) public_key: PublicKeyInfo,
    pub(super) pk_algo: PkAlgo,
    pub(super) sig_alg: CertSigAlg,
    pub(super) ocsp_urls: Vec<String>,
    pub(super) crl_urls: Vec<String>,
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
}

/// Parses one certificate at the start of `data`; returns it and the number of
/// bytes it used.
pub(crate) fn parse_one(data: &[u8]) -> Result<(Cert, usize), String> {
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

pub(crate) fn asn1_time(t: &x509_parser::time::ASN1Time) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|_| "x509: malformed validity".to_string())
}

pub(crate) fn public_key_info(
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
