//! `Cert`: one parsed certificate (x509-parser for the fields, the key built from them), its
//! accessors, and `parse_certs` (notation-core-go `parseCertificates`: PEM or DER).

use std::sync::OnceLock;

use openssl::pkey::{PKey, Public};

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
    /// The OpenSSL view of the same certificate, made on first use (OCSP requests need
    /// it; nothing on the verification path does: see `key.rs`).
    x509: OnceLock<X509>,
    /// The public key as OpenSSL's, built from its components (`None`: DSA, unknown).
    key: Option<PKey<Public>>,
    /// The signed part (Go `RawTBSCertificate`) and the signature over it.
    pub(super) tbs: Vec<u8>,
    pub(super) signature: Vec<u8>,
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

    /// The OpenSSL view of the certificate (made once, on first use).
    pub fn x509(&self) -> Result<&X509, String> {
        if let Some(x) = self.x509.get() {
            return Ok(x);
        }
        let x =
            X509::from_der(&self.der).map_err(|e| format!("x509: malformed certificate: {e}"))?;
        Ok(self.x509.get_or_init(|| x))
    }

    /// The public key as OpenSSL's; `None` for DSA and unknown algorithms.
    pub fn public_key(&self) -> Option<&PKey<Public>> {
        self.key.as_ref()
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

    let key = key::parse(tbs)?;
    let sig_alg = sigalg::of(&xc.signature_algorithm);

    let mut cert = Cert {
        tbs: tbs.as_ref().to_vec(),
        signature: key::right_align(&xc.signature_value.data, xc.signature_value.unused_bits),
        der,
        x509: OnceLock::new(),
        key: key.key,
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
        public_key: key.info,
        pk_algo: key.pk_algo,
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

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&crate::oci::sha256(bytes))
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
