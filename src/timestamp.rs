//! RFC 3161 timestamp countersignature verification for Notary Project
//! (Notation) signatures.
//!
//! This mirrors `github.com/notaryproject/tspclient-go` (`ParseSignedToken`,
//! `SignedToken.Info`, `TSTInfo.Validate`, `SignedToken.Verify`) as used by
//! notation-go's `verifyTimestamp`, including its error strings. The ASN.1
//! decoding deliberately follows Go's `encoding/asn1` rules (DER only,
//! optional fields, trailing data inside a SEQUENCE tolerated, Go's error
//! texts) so that malformed tokens fail the same way and with the same words.
//!
//! What is *not* done here (the caller does it): the notation-core-go
//! timestamping chain rules (`ValidateTimestampingCertChain`), the check of the
//! timestamp range against the signing certificate chain, and revocation.
//!
//! Dependencies: `openssl` (hashes, signature verification, chain building),
//! `x509-parser` (certificate fields) and `time`.

use std::fmt;

use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509StoreContext};
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::gocompat::asn1::ber::ber_to_der;
use crate::gocompat::asn1::der_len;
use crate::gocompat::asn1::reader::{
    BOOL, INT, Kind, OCTETS, OID, P_GENTIME, P_SET, Rd, SEQ, SET, Spec, canonical_int, encode_set,
    go_bigint, go_bool, go_i64, go_oid, int_to_decimal, opt, seq_of, spec, tag_and_length,
    unmarshal_octets, unmarshal_oid, unmarshal_raw, unmarshal_time,
};
use crate::gocompat::asn1::time::go_time;
use crate::gocompat::quote::quote as go_quote;
use crate::gocompat::sigalg;
use crate::gocompat::time_fmt::{format_rfc3339 as rfc3339, time_string as go_time_string};

/// id-ct-TSTInfo.
pub const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
/// Baseline time-stamp policy (RFC 3628 / ETSI), for which a missing accuracy
/// means one second.
pub const OID_BASELINE_TIMESTAMP_POLICY: &str = "0.4.0.2023.1.1";

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const OID_SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const OID_SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";
const OID_EKU_ANY: &str = "2.5.29.37.0";
const OID_EKU_TIMESTAMPING: &str = "1.3.6.1.5.5.7.3.8";

/// Which step of notation-go's `verifyTimestamp` failed. Each step wraps the
/// tspclient-go error with its own prefix (see [`TimestampError::notation_message`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `tspclient.ParseSignedToken` (CMS parse, content type).
    Parse,
    /// `SignedToken.Info` (TSTInfo decoding).
    Info,
    /// `TSTInfo.Validate` (version, hash algorithm, message imprint).
    Validate,
    /// No usable TSA trust anchor was given.
    TrustStore,
    /// `SignedToken.Verify` (signing certificate, chain, CMS signature).
    Verify,
}

/// A failed timestamp check. `Display` gives the tspclient-go text (what
/// tspclient-go's own tests assert); [`TimestampError::notation_message`]
/// gives the text notation-go reports for `authenticTimestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    pub stage: Stage,
    pub message: String,
}

impl TimestampError {
    fn new(stage: Stage, message: impl Into<String>) -> Self {
        TimestampError {
            stage,
            message: message.into(),
        }
    }

    /// The error as notation-go's `verifyTimestamp` words it.
    pub fn notation_message(&self) -> String {
        match self.stage {
            Stage::Parse => format!(
                "failed to parse timestamp countersignature with error: {}",
                self.message
            ),
            Stage::Info => format!(
                "failed to get the timestamp TSTInfo with error: {}",
                self.message
            ),
            Stage::Validate => format!(
                "failed to get timestamp from timestamp countersignature with error: {}",
                self.message
            ),
            Stage::TrustStore => self.message.clone(),
            Stage::Verify => format!(
                "failed to verify the timestamp countersignature with error: {}",
                self.message
            ),
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TimestampError {}

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// TSTInfo genTime.
    pub gen_time: OffsetDateTime,
    /// TSTInfo accuracy as encoded (zero when absent). [`Timestamp::range`]
    /// applies the baseline-policy default.
    pub accuracy: Duration,
    /// TSTInfo policy, dotted.
    pub policy_oid: String,
    /// messageImprint hash algorithm, dotted.
    pub hash_alg_oid: String,
    /// TSA signing certificate first, then the chain as built up to the trust
    /// anchor (DER).
    pub signer_chain_der: Vec<Vec<u8>>,
}

impl Timestamp {
    /// The effective accuracy: the encoded one, or 1 s when it is zero or
    /// absent and the policy is the baseline policy 0.4.0.2023.1.1
    /// (tspclient-go `TSTInfo.Validate`).
    pub fn effective_accuracy(&self) -> Duration {
        effective_accuracy(self.accuracy, &self.policy_oid)
    }

    /// `[genTime - accuracy, genTime + accuracy]`.
    pub fn range(&self) -> (OffsetDateTime, OffsetDateTime) {
        let acc = self.effective_accuracy();
        let (min, max) = (
            PrimitiveDateTime::MIN.assume_utc(),
            PrimitiveDateTime::MAX.assume_utc(),
        );
        let neg = acc.is_negative();
        let lower = self
            .gen_time
            .checked_sub(acc)
            .unwrap_or(if neg { max } else { min });
        let upper = self
            .gen_time
            .checked_add(acc)
            .unwrap_or(if neg { min } else { max });
        (lower, upper)
    }
}

fn effective_accuracy(accuracy: Duration, policy_oid: &str) -> Duration {
    if accuracy.is_zero() && policy_oid == OID_BASELINE_TIMESTAMP_POLICY {
        Duration::SECOND
    } else {
        accuracy
    }
}

/// TSTInfo (RFC 3161 2.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    pub version: i64,
    pub policy_oid: String,
    pub hash_alg_oid: String,
    pub hashed_message: Vec<u8>,
    /// INTEGER content octets (two's complement, minimal).
    pub serial_number: Vec<u8>,
    pub gen_time: OffsetDateTime,
    /// Zero when absent.
    pub accuracy: Duration,
    pub ordering: bool,
    /// INTEGER content octets.
    pub nonce: Option<Vec<u8>>,
}

impl TstInfo {
    /// tspclient-go `TSTInfo.Validate`: version 1, a SHA-2 imprint algorithm,
    /// and `messageImprint == hash(message)`.
    pub fn validate(&self, message: &[u8]) -> Result<(), TimestampError> {
        let err = |m: String| TimestampError::new(Stage::Validate, format!("invalid TSTInfo: {m}"));
        if self.version != 1 {
            return Err(err(format!(
                "timestamp token info version must be 1, but got {}",
                self.version
            )));
        }
        let Some(md) = sha2_digest(&self.hash_alg_oid) else {
            return Err(err(format!(
                "unrecognized hash algorithm: {}",
                self.hash_alg_oid
            )));
        };
        let digest = hash(md, message).map_err(|e| err(e.to_string()))?;
        if *digest != *self.hashed_message {
            return Err(err("mismatched message".to_string()));
        }
        Ok(())
    }

    /// `[genTime - accuracy, genTime + accuracy]` with the baseline default.
    pub fn range(&self) -> (OffsetDateTime, OffsetDateTime) {
        Timestamp {
            gen_time: self.gen_time,
            accuracy: self.accuracy,
            policy_oid: self.policy_oid.clone(),
            hash_alg_oid: self.hash_alg_oid.clone(),
            signer_chain_der: Vec::new(),
        }
        .range()
    }
}

#[derive(Debug, Clone)]
struct Attribute {
    oid: String,
    /// The content octets of the attribute's value SET (Go `Values.Bytes`).
    values: Vec<u8>,
    /// The Attribute as Go re-encodes it for the signature input.
    full: Vec<u8>,
}

#[derive(Debug, Clone)]
struct SignerInfo {
    version: i64,
    sid_issuer: Vec<u8>,
    sid_serial: Vec<u8>,
    digest_alg: String,
    signed_attrs: Vec<Attribute>,
    sig_alg: String,
    signature: Vec<u8>,
}

/// A parsed, unverified TimeStampToken (CMS SignedData over a TSTInfo).
#[derive(Debug, Clone)]
pub struct ParsedToken {
    /// The encapsulated TSTInfo DER.
    pub content: Vec<u8>,
    /// The certificates carried in the token (DER), in token order.
    pub certificates: Vec<Vec<u8>>,
    signer_infos: Vec<SignerInfo>,
}

/// Parses a TimeStampToken (tspclient-go `ParseSignedToken`): CMS SignedData
/// version 3 whose encapsulated content type is id-ct-TSTInfo. Lengths in BER
/// definite form are normalised first, as tspclient-go does.
pub fn parse_token(der: &[u8]) -> Result<ParsedToken, TimestampError> {
    let perr = |m: String| TimestampError::new(Stage::Parse, m);
    let data = ber_to_der(der).map_err(|e| {
        perr(format!(
            "cms: syntax error: invalid signed data: failed to convert from BER to DER: {e}"
        ))
    })?;
    let (content_type, content) = parse_content_info(&data).map_err(|e| {
        perr(format!(
            "cms: syntax error: invalid content info: failed to unmarshal DER to ContentInfo: {e}"
        ))
    })?;
    if content_type != OID_SIGNED_DATA {
        return Err(perr("cms: content type is not signed-data".to_string()));
    }
    let sd = parse_signed_data(content)
        .map_err(|e| perr(format!("cms: syntax error: invalid signed data: {e}")))?;
    if sd.version != 3 {
        return Err(perr(format!(
            "cms: syntax error: unsupported signed data version: got {}, want 3",
            sd.version
        )));
    }
    let certificates = split_certificates(sd.certificates).map_err(|e| {
        perr(format!(
            "cms: syntax error: failed to parse X.509 certificates from signed data. Only X.509 certificates are supported: {e}"
        ))
    })?;
    if sd.content_type != OID_TST_INFO {
        return Err(perr(format!(
            "unexpected content type: {}. Expected to be id-ct-TSTInfo ({OID_TST_INFO})",
            sd.content_type
        )));
    }
    Ok(ParsedToken {
        content: sd.content,
        certificates,
        signer_infos: sd.signer_infos,
    })
}

impl ParsedToken {
    /// tspclient-go `SignedToken.Info`.
    pub fn tst_info(&self) -> Result<TstInfo, TimestampError> {
        parse_tst_info(&self.content).map_err(|e| {
            TimestampError::new(
                Stage::Info,
                format!("cannot unmarshal TSTInfo from timestamp token: {e}"),
            )
        })
    }

    /// tspclient-go `SignedToken.Verify` with `CurrentTime = verify_time`
    /// (genTime) and the given roots as the only trust anchors (any of them
    /// may anchor the chain, as with Go's root pool). Tries each SignerInfo
    /// in turn; the first that verifies wins, else the last error is returned.
    /// Returns the chain, signing certificate first.
    pub fn verify(
        &self,
        verify_time: OffsetDateTime,
        tsa_roots_der: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, TimestampError> {
        let verr = |m: String| {
            TimestampError::new(Stage::Verify, format!("failed to verify signed token: {m}"))
        };
        if self.signer_infos.is_empty() {
            return Err(verr("signerInfo not found".to_string()));
        }
        if tsa_roots_der.is_empty() {
            return Err(verr("tsa root certificate pool cannot be nil".to_string()));
        }
        let mut roots = Vec::with_capacity(tsa_roots_der.len());
        for r in tsa_roots_der {
            let x = X509::from_der(r).map_err(|e| {
                TimestampError::new(
                    Stage::TrustStore,
                    format!("failed to parse TSA root certificate: {e}"),
                )
            })?;
            roots.push(x);
        }
        let mut last = String::new();
        for si in &self.signer_infos {
            match self.verify_signer(si, verify_time, &roots) {
                Ok(chain) => return Ok(chain),
                Err(e) => last = e,
            }
        }
        Err(verr(last))
    }

    fn verify_signer(
        &self,
        si: &SignerInfo,
        verify_time: OffsetDateTime,
        roots: &[X509],
    ) -> Result<Vec<Vec<u8>>, String> {
        let idx = self.signing_certificate(si)?;
        let cert_der = self
            .certificates
            .get(idx)
            .ok_or_else(|| "signing certificate not found in the timestamp token".to_string())?;
        if si.version != 1 {
            return Err(format!(
                "cms verification failure: invalid signer info version: only version 1 is supported; got {}",
                si.version
            ));
        }
        let chain = build_chain(cert_der, &self.certificates, roots, verify_time)
            .map_err(|e| format!("cms verification failure: {e}"))?;
        self.verify_signature(si, cert_der)?;
        self.verify_signed_attributes(si, &chain)?;
        check_leaf_eku(cert_der)?;
        Ok(chain)
    }

    /// tspclient-go `SignedToken.SigningCertificate`: the certificate named by
    /// the SigningCertificateV2 attribute (or the sid when it has no
    /// IssuerSerial), whose hash must equal certHash. Returns its index.
    fn signing_certificate(&self, si: &SignerInfo) -> Result<usize, String> {
        let Some(attr) = si
            .signed_attrs
            .iter()
            .find(|a| a.oid == OID_SIGNING_CERTIFICATE_V2)
        else {
            return Err(
                "failed to get SigningCertificateV2 from signed attributes: attribute not found"
                    .to_string(),
            );
        };
        let ids = parse_signing_certificate_v2(&attr.values).map_err(|e| {
            format!("failed to get SigningCertificateV2 from signed attributes: {e}")
        })?;
        let Some(first) = ids.first() else {
            return Err("signingCertificateV2 does not contain any certificate".to_string());
        };
        let found = match &first.issuer_serial {
            Some((name, serial)) => {
                let Some(name) = name else {
                    return Err("issuer name is missing in IssuerSerial".to_string());
                };
                let issuer = unmarshal_raw(name)
                    .map_err(|e| format!("failed to unmarshal issuer name: {e}"))?;
                self.find_certificate(issuer, serial)
            }
            None => self.find_certificate(&si.sid_issuer, &si.sid_serial),
        };
        let Some(idx) = found else {
            return Err("signing certificate not found in the timestamp token".to_string());
        };
        let md = match &first.hash_alg {
            None => MessageDigest::sha256(),
            Some(oid) => sha2_digest(oid).ok_or_else(|| {
                "unsupported certificate hash algorithm in SigningCertificateV2 attribute"
                    .to_string()
            })?,
        };
        let cert = self
            .certificates
            .get(idx)
            .ok_or_else(|| "signing certificate not found in the timestamp token".to_string())?;
        let digest = hash(md, cert).map_err(|e| e.to_string())?;
        if *digest != *first.cert_hash {
            return Err(
                "signing certificate hash does not match CertHash in signed attribute".to_string(),
            );
        }
        Ok(idx)
    }

    /// cms `GetCertificate`: raw issuer and serial number match.
    fn find_certificate(&self, issuer: &[u8], serial: &[u8]) -> Option<usize> {
        let want = canonical_int(serial);
        self.certificates.iter().position(|der| {
            X509Certificate::from_der(der).is_ok_and(|(_, c)| {
                c.tbs_certificate.issuer.as_raw() == issuer
                    && canonical_int(c.tbs_certificate.raw_serial()) == want
            })
        })
    }

    /// cms `verifySignature`.
    fn verify_signature(&self, si: &SignerInfo, cert_der: &[u8]) -> Result<(), String> {
        let fail = |m: &str| format!("cms verification failure: {m}");
        let Some((kind, md)) = signature_algorithm(&si.digest_alg, &si.sig_alg) else {
            return Err(fail("unknown signature algorithm"));
        };
        let signed: Vec<u8> = if si.signed_attrs.is_empty() {
            self.content.clone()
        } else {
            encode_set(si.signed_attrs.iter().map(|a| a.full.as_slice()))
        };
        let cert = X509::from_der(cert_der).map_err(|e| fail(&e.to_string()))?;
        let key = cert.public_key().map_err(|e| fail(&e.to_string()))?;
        check_signature(kind, md, &key, &signed, &si.signature).map_err(|e| fail(&e))
    }

    /// cms `verifySignedAttributes`.
    fn verify_signed_attributes(&self, si: &SignerInfo, chain: &[Vec<u8>]) -> Result<(), String> {
        let fail = |m: String| format!("cms verification failure: {m}");
        if chain.is_empty() {
            return Err(fail(
                "Failed to verify signed attributes because the certificate chain is empty."
                    .to_string(),
            ));
        }
        if si.signed_attrs.is_empty() {
            return Err(fail("missing signed attributes".to_string()));
        }
        let get = |oid: &str| si.signed_attrs.iter().find(|a| a.oid == oid);

        let content_type = match get(OID_CONTENT_TYPE) {
            None => Err("attribute not found".to_string()),
            Some(a) => unmarshal_oid(&a.values),
        }
        .map_err(|e| fail(format!("invalid content type: {e}")))?;
        if content_type != OID_TST_INFO {
            return Err(fail(format!(
                "mismatch content type: found {} in signer info, and {} in signed data",
                go_quote(&content_type),
                go_quote(OID_TST_INFO)
            )));
        }

        let expected = match get(OID_MESSAGE_DIGEST) {
            None => Err("attribute not found".to_string()),
            Some(a) => unmarshal_octets(&a.values),
        }
        .map_err(|e| fail(format!("invalid message digest: {e}")))?;
        let Some(md) = sha2_digest(&si.digest_alg) else {
            return Err(fail("unsupported digest algorithm".to_string()));
        };
        let actual = hash(md, &self.content).map_err(|e| fail(format!("hash failure: {e}")))?;
        if *actual != *expected {
            return Err(fail("mismatch message digest".to_string()));
        }

        let Some(st) = get(OID_SIGNING_TIME) else {
            return Ok(());
        };
        let signing_time =
            unmarshal_time(&st.values).map_err(|e| fail(format!("invalid signing time: {e}")))?;
        for der in chain {
            let (_, c) = X509Certificate::from_der(der).map_err(|e| fail(e.to_string()))?;
            let v = c.validity();
            if signing_time < v.not_before.to_datetime() || signing_time > v.not_after.to_datetime()
            {
                return Err(fail(format!(
                    "signing time, {}, is outside certificate's validity period",
                    go_time_string(signing_time)
                )));
            }
        }
        Ok(())
    }
}

/// Full notation-go `verifyTimestamp` steps 2-3 for one token: parse,
/// TSTInfo, imprint over `signature` (the envelope's signature bytes), then
/// the CMS signature, SigningCertificateV2 and chain to `tsa_roots_der` at
/// genTime. TSA EKU rules of notation-core-go, the range check against the
/// signing chain and revocation are left to the caller. tspclient-go's own
/// check that the TSA certificate's EKU is exactly, and critically,
/// timeStamping *is* done here, as part of the token verification.
pub fn verify_token(
    der: &[u8],
    signature: &[u8],
    tsa_roots_der: &[Vec<u8>],
) -> Result<Timestamp, TimestampError> {
    let token = parse_token(der)?;
    let info = token.tst_info()?;
    info.validate(signature)?;
    if tsa_roots_der.is_empty() {
        return Err(TimestampError::new(
            Stage::TrustStore,
            "no trusted TSA certificate found in trust store",
        ));
    }
    let chain = token.verify(info.gen_time, tsa_roots_der)?;
    Ok(Timestamp {
        gen_time: info.gen_time,
        accuracy: info.accuracy,
        policy_oid: info.policy_oid,
        hash_alg_oid: info.hash_alg_oid,
        signer_chain_der: chain,
    })
}

// ---------------------------------------------------------------------------
// Certificates, chain, signatures
// ---------------------------------------------------------------------------

fn sha2_digest(oid: &str) -> Option<MessageDigest> {
    match oid {
        OID_SHA256 => Some(MessageDigest::sha256()),
        OID_SHA384 => Some(MessageDigest::sha384()),
        OID_SHA512 => Some(MessageDigest::sha512()),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SigKind {
    RsaPkcs1,
    RsaPss,
    Ecdsa,
}

/// tspclient-go `oid.ToSignatureAlgorithm`.
fn signature_algorithm(digest: &str, sig: &str) -> Option<(SigKind, MessageDigest)> {
    match sig {
        OID_RSA => sha2_digest(digest).map(|m| (SigKind::RsaPkcs1, m)),
        OID_RSA_PSS => sha2_digest(digest).map(|m| (SigKind::RsaPss, m)),
        OID_SHA256_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha256())),
        OID_SHA384_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha384())),
        OID_SHA512_RSA => Some((SigKind::RsaPkcs1, MessageDigest::sha512())),
        OID_ECDSA_SHA256 => Some((SigKind::Ecdsa, MessageDigest::sha256())),
        OID_ECDSA_SHA384 => Some((SigKind::Ecdsa, MessageDigest::sha384())),
        OID_ECDSA_SHA512 => Some((SigKind::Ecdsa, MessageDigest::sha512())),
        _ => None,
    }
}

/// Go `x509.Certificate.CheckSignature`, with Go's error texts.
fn check_signature(
    kind: SigKind,
    md: MessageDigest,
    key: &PKey<Public>,
    signed: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let key_type = match key.id() {
        Id::RSA => "*rsa.PublicKey",
        Id::EC => "*ecdsa.PublicKey",
        Id::ED25519 => "ed25519.PublicKey",
        _ => return Err("x509: cannot verify signature: algorithm unimplemented".to_string()),
    };
    let (want, fail) = match kind {
        SigKind::RsaPkcs1 | SigKind::RsaPss => ("RSA", "crypto/rsa: verification error"),
        SigKind::Ecdsa => ("ECDSA", "x509: ECDSA verification failure"),
    };
    let matches = matches!(
        (kind, key.id()),
        (SigKind::RsaPkcs1 | SigKind::RsaPss, Id::RSA) | (SigKind::Ecdsa, Id::EC)
    );
    if !matches {
        return Err(format!(
            "x509: signature algorithm specifies an {want} public key, but have public key of type {key_type}"
        ));
    }
    let ok = (|| -> Result<bool, openssl::error::ErrorStack> {
        let mut v = Verifier::new(md, key)?;
        if kind == SigKind::RsaPss {
            v.set_rsa_padding(Padding::PKCS1_PSS)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            v.set_rsa_mgf1_md(md)?;
        }
        v.update(signed)?;
        v.verify(sig)
    })()
    .unwrap_or(false);
    if ok { Ok(()) } else { Err(fail.to_string()) }
}

/// Builds the chain from `leaf_der` through the token's certificates to one of
/// `roots` at `at`, the way Go's `x509.Certificate.Verify` with
/// `KeyUsages = [timeStamping]` accepts it. Returns DER, leaf first.
fn build_chain(
    leaf_der: &[u8],
    token_certs: &[Vec<u8>],
    roots: &[X509],
    at: OffsetDateTime,
) -> Result<Vec<Vec<u8>>, String> {
    let ossl = |e: openssl::error::ErrorStack| format!("x509: {e}");
    // Go checks the leaf's own validity before looking for a chain.
    if let Some(detail) = expiry_detail(leaf_der, at) {
        return Err(detail);
    }
    let leaf = X509::from_der(leaf_der).map_err(ossl)?;
    let mut untrusted = Stack::new().map_err(ossl)?;
    for c in token_certs {
        untrusted
            .push(X509::from_der(c).map_err(ossl)?)
            .map_err(ossl)?;
    }
    let mut sb = X509StoreBuilder::new().map_err(ossl)?;
    for r in roots {
        sb.add_cert(r.clone()).map_err(ossl)?;
    }
    let mut param = X509VerifyParam::new().map_err(ossl)?;
    param.set_time(at.unix_timestamp());
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(ossl)?;
    sb.set_param(&param).map_err(ossl)?;
    let store = sb.build();
    let mut ctx = X509StoreContext::new().map_err(ossl)?;
    type Failure = (i32, String, u32, Option<Vec<u8>>);
    let outcome: Result<Vec<Vec<u8>>, Failure> = ctx
        .init(&store, &leaf, &untrusted, |c| {
            if c.verify_cert()? {
                let mut out = Vec::new();
                if let Some(chain) = c.chain() {
                    for x in chain {
                        out.push(x.to_der()?);
                    }
                }
                Ok(Ok(out))
            } else {
                let cur = match c.current_cert() {
                    Some(x) => Some(x.to_der()?),
                    None => None,
                };
                let err = c.error();
                Ok(Err((
                    err.as_raw(),
                    err.error_string().to_string(),
                    c.error_depth(),
                    cur,
                )))
            }
        })
        .map_err(ossl)?;
    let chain = match outcome {
        Ok(chain) if !chain.is_empty() => chain,
        Ok(_) => return Err(UNKNOWN_AUTHORITY.to_string()),
        Err((code, text, depth, cur)) => {
            return Err(chain_error(code, &text, depth, cur.as_deref(), at));
        }
    };
    go_chain_checks(&chain, at)?;
    Ok(chain)
}

const UNKNOWN_AUTHORITY: &str = "x509: certificate signed by unknown authority";

fn unknown_authority_hint(hint: &str, cert_der: Option<&[u8]>) -> String {
    let name = cert_der
        .and_then(|d| X509Certificate::from_der(d).ok())
        .map(|(_, c)| go_cert_name(&c))
        .unwrap_or_default();
    format!(
        "{UNKNOWN_AUTHORITY} (possibly because of {} while trying to verify candidate authority certificate {})",
        go_quote(hint),
        go_quote(&name)
    )
}

fn expiry_detail(cert_der: &[u8], at: OffsetDateTime) -> Option<String> {
    let (_, c) = X509Certificate::from_der(cert_der).ok()?;
    let v = c.validity();
    let nb = v.not_before.to_datetime();
    let na = v.not_after.to_datetime();
    if at < nb {
        Some(format!(
            "x509: certificate has expired or is not yet valid: current time {} is before {}",
            rfc3339(at),
            rfc3339(nb)
        ))
    } else if at > na {
        Some(format!(
            "x509: certificate has expired or is not yet valid: current time {} is after {}",
            rfc3339(at),
            rfc3339(na)
        ))
    } else {
        None
    }
}

/// Maps an OpenSSL chain-building failure to Go's wording.
fn chain_error(
    code: i32,
    text: &str,
    depth: u32,
    cur: Option<&[u8]>,
    at: OffsetDateTime,
) -> String {
    const NOT_YET_VALID: i32 = 9;
    const EXPIRED: i32 = 10;
    const DEPTH_ZERO_SELF_SIGNED: i32 = 18;
    const SELF_SIGNED_IN_CHAIN: i32 = 19;
    const NO_ISSUER_LOCALLY: i32 = 20;
    const UNABLE_TO_VERIFY_LEAF: i32 = 21;
    const NO_ISSUER: i32 = 2;
    const INVALID_CA: i32 = 24;
    const PATH_LENGTH: i32 = 25;
    const UNHANDLED_CRITICAL: i32 = 34;
    const SIGNATURE_FAILURE: i32 = 7;
    match code {
        NOT_YET_VALID | EXPIRED => {
            let detail = cur.and_then(|d| expiry_detail(d, at)).unwrap_or_else(|| {
                "x509: certificate has expired or is not yet valid: ".to_string()
            });
            if depth == 0 {
                detail
            } else {
                unknown_authority_hint(&detail, cur)
            }
        }
        NO_ISSUER
        | NO_ISSUER_LOCALLY
        | SELF_SIGNED_IN_CHAIN
        | DEPTH_ZERO_SELF_SIGNED
        | UNABLE_TO_VERIFY_LEAF => UNKNOWN_AUTHORITY.to_string(),
        UNHANDLED_CRITICAL if depth == 0 => "x509: unhandled critical extension".to_string(),
        UNHANDLED_CRITICAL => unknown_authority_hint("x509: unhandled critical extension", cur),
        INVALID_CA => unknown_authority_hint(
            "x509: certificate is not authorized to sign other certificates",
            cur,
        ),
        PATH_LENGTH => unknown_authority_hint(
            "x509: too many intermediates for path length constraint",
            cur,
        ),
        SIGNATURE_FAILURE => unknown_authority_hint("crypto/rsa: verification error", cur),
        _ => unknown_authority_hint(&format!("x509: {text}"), cur),
    }
}

/// What Go's verifier checks that OpenSSL's does not (or not the same way):
/// validity at the exact (sub-second) time, no SHA-1/MD5 signatures below the
/// anchor, and the extended key usage nesting for timeStamping.
fn go_chain_checks(chain: &[Vec<u8>], at: OffsetDateTime) -> Result<(), String> {
    let mut parsed = Vec::with_capacity(chain.len());
    for der in chain {
        let (_, c) = X509Certificate::from_der(der).map_err(|e| format!("x509: {e}"))?;
        parsed.push(c);
    }
    for (i, der) in chain.iter().enumerate() {
        if let Some(detail) = expiry_detail(der, at) {
            return Err(if i == 0 {
                detail
            } else {
                unknown_authority_hint(&detail, Some(der))
            });
        }
    }
    for (i, c) in parsed.iter().enumerate() {
        if i + 1 >= parsed.len() {
            break;
        }
        let name = sigalg::insecure_name(&c.signature_algorithm.algorithm.to_id_string());
        if let Some(name) = name {
            return Err(unknown_authority_hint(
                &format!("x509: cannot verify signature: insecure algorithm {name}"),
                chain.get(i + 1).map(Vec::as_slice),
            ));
        }
    }
    // Go checkChainForKeyUsage with [timeStamping].
    for c in parsed.iter().rev() {
        let Some((ekus, _)) = eku_of(c)? else {
            continue;
        };
        if ekus.is_empty() || ekus.iter().any(|o| o == OID_EKU_ANY) {
            continue;
        }
        if !ekus.iter().any(|o| o == OID_EKU_TIMESTAMPING) {
            return Err("x509: certificate specifies an incompatible key usage".to_string());
        }
    }
    Ok(())
}

/// The EKU OIDs and criticality, if the extension is present.
fn eku_of(c: &X509Certificate<'_>) -> Result<Option<(Vec<String>, bool)>, String> {
    let Some(ext) = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == OID_EXT_KEY_USAGE)
    else {
        return Ok(None);
    };
    let out = crate::x509::parse_eku(ext.value)?;
    Ok(Some((out, ext.critical)))
}

/// tspclient-go's check on the signing certificate (RFC 3161 2.3).
fn check_leaf_eku(cert_der: &[u8]) -> Result<(), String> {
    let (_, c) = X509Certificate::from_der(cert_der).map_err(|e| format!("x509: {e}"))?;
    match eku_of(&c)? {
        Some((ekus, critical)) if ekus.len() == 1 && ekus[..] == [OID_EKU_TIMESTAMPING] => {
            if critical {
                Ok(())
            } else {
                Err("signing certificate extended key usage extension must be set as critical"
                    .to_string())
            }
        }
        _ => Err(
            "signing certificate must have and only have ExtKeyUsageTimeStamping as extended key usage"
                .to_string(),
        ),
    }
}

/// Go `UnknownAuthorityError` naming: CommonName, else first Organization,
/// else `serial:<decimal>`.
fn go_cert_name(c: &X509Certificate<'_>) -> String {
    let subject = c.subject();
    if let Some(cn) = subject
        .iter_common_name()
        .filter_map(|a| a.as_str().ok())
        .last()
        && !cn.is_empty()
    {
        return cn.to_string();
    }
    if let Some(o) = subject
        .iter_organization()
        .filter_map(|a| a.as_str().ok())
        .next()
    {
        return o.to_string();
    }
    format!("serial:{}", int_to_decimal(c.tbs_certificate.raw_serial()))
}

fn split_certificates(raw: Option<&[u8]>) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let Some(mut rest) = raw else {
        return Ok(out);
    };
    while !rest.is_empty() {
        let (t, off) = tag_and_length(rest, 0).map_err(|_| MALFORMED_CERT.to_string())?;
        let end = off
            .checked_add(t.length)
            .filter(|&e| e <= rest.len())
            .ok_or_else(|| MALFORMED_CERT.to_string())?;
        let (one, tail) = rest.split_at(end);
        if t.class != 0 || t.tag != 16 || !t.compound {
            return Err(MALFORMED_CERT.to_string());
        }
        match X509Certificate::from_der(one) {
            Ok(([], _)) => {}
            _ => return Err(MALFORMED_CERT.to_string()),
        }
        out.push(one.to_vec());
        rest = tail;
    }
    Ok(out)
}

const MALFORMED_CERT: &str = "x509: malformed certificate";

// ---------------------------------------------------------------------------
// CMS / TSTInfo / SigningCertificateV2 structures (Go encoding/asn1 rules)
// ---------------------------------------------------------------------------

fn parse_content_info(data: &[u8]) -> Result<(String, &[u8]), String> {
    let mut top = Rd::new(data);
    let ci = top.req(&spec(SEQ, "ContentInfo"))?;
    let mut r = Rd::new(ci.content);
    let ct = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let content = r
        .explicit(0, false, None)?
        .map(|e| e.content)
        .unwrap_or(&[]);
    Ok((ct, content))
}

struct SignedData<'a> {
    version: i64,
    content_type: String,
    content: Vec<u8>,
    certificates: Option<&'a [u8]>,
    signer_infos: Vec<SignerInfo>,
}

fn parse_signed_data(b: &[u8]) -> Result<SignedData<'_>, String> {
    let mut top = Rd::new(b);
    let sd = top.req(&spec(SEQ, "SignedData"))?;
    let mut r = Rd::new(sd.content);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let algs = r.req(&Spec {
        kind: SET,
        optional: false,
        params: P_SET,
        name: "",
    })?;
    for a in seq_of(algs.content, SEQ, "AlgorithmIdentifier")? {
        parse_algorithm_identifier(a.content)?;
    }
    let eci = r.req(&spec(SEQ, "EncapsulatedContentInfo"))?;
    let mut er = Rd::new(eci.content);
    let content_type = go_oid(er.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let content = er
        .explicit(0, true, Some(&spec(OCTETS, "")))?
        .map(|e| e.content.to_vec())
        .unwrap_or_default();
    let certificates = r.field(&opt(Kind::Ctx(0, None)))?.map(|e| e.content);
    // CRLs [1]: not used by timestamp tokens; skipped.
    let _crls = r.field(&opt(Kind::Ctx(1, Some(true))))?;
    let sis = r.req(&Spec {
        kind: SET,
        optional: false,
        params: P_SET,
        name: "",
    })?;
    let mut signer_infos = Vec::new();
    for e in seq_of(sis.content, SEQ, "SignerInfo")? {
        signer_infos.push(parse_signer_info(e.content)?);
    }
    Ok(SignedData {
        version,
        content_type,
        content,
        certificates,
        signer_infos,
    })
}

fn parse_algorithm_identifier(b: &[u8]) -> Result<String, String> {
    let mut r = Rd::new(b);
    let oid = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let _params = r.field(&opt(Kind::Any))?;
    Ok(oid)
}

fn parse_attributes(b: &[u8]) -> Result<Vec<Attribute>, String> {
    let mut out = Vec::new();
    for e in seq_of(b, SEQ, "Attribute")? {
        let mut r = Rd::new(e.content);
        let oid_elem = r.req(&spec(OID, "ObjectIdentifier"))?;
        let oid = go_oid(oid_elem.content)?;
        let values = r.req(&Spec {
            kind: Kind::Any,
            optional: false,
            params: P_SET,
            name: "RawValue",
        })?;
        // Go re-marshals {Type, Values}: anything after them is dropped.
        let mut full = vec![0x30];
        der_len(oid_elem.full.len() + values.full.len(), &mut full);
        full.extend_from_slice(oid_elem.full);
        full.extend_from_slice(values.full);
        out.push(Attribute {
            oid,
            values: values.content.to_vec(),
            full,
        });
    }
    Ok(out)
}

fn parse_signer_info(b: &[u8]) -> Result<SignerInfo, String> {
    let mut r = Rd::new(b);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let sid = r.req(&spec(SEQ, "IssuerAndSerialNumber"))?;
    let mut sr = Rd::new(sid.content);
    let issuer = sr.req(&spec(Kind::Any, "RawValue"))?;
    let serial = go_bigint(sr.req(&spec(INT, ""))?.content)?;
    let dalg = r.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let digest_alg = parse_algorithm_identifier(dalg.content)?;
    let signed_attrs = match r.field(&opt(Kind::Ctx(0, Some(true))))? {
        Some(e) => parse_attributes(e.content)?,
        None => Vec::new(),
    };
    let salg = r.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let sig_alg = parse_algorithm_identifier(salg.content)?;
    let signature = r.req(&spec(OCTETS, ""))?.content.to_vec();
    if let Some(e) = r.field(&opt(Kind::Ctx(1, Some(true))))? {
        parse_attributes(e.content)?;
    }
    Ok(SignerInfo {
        version,
        sid_issuer: issuer.full.to_vec(),
        sid_serial: serial,
        digest_alg,
        signed_attrs,
        sig_alg,
        signature,
    })
}

fn parse_tst_info(b: &[u8]) -> Result<TstInfo, String> {
    let mut top = Rd::new(b);
    let seq = top.req(&spec(SEQ, "TSTInfo"))?;
    let mut r = Rd::new(seq.content);
    let version = go_i64(r.req(&spec(INT, "int"))?.content)?;
    let policy_oid = go_oid(r.req(&spec(OID, "ObjectIdentifier"))?.content)?;
    let mi = r.req(&spec(SEQ, "MessageImprint"))?;
    let mut mr = Rd::new(mi.content);
    let alg = mr.req(&spec(SEQ, "AlgorithmIdentifier"))?;
    let hash_alg_oid = parse_algorithm_identifier(alg.content)?;
    let hashed_message = mr.req(&spec(OCTETS, ""))?.content.to_vec();
    let serial_number = go_bigint(r.req(&spec(INT, ""))?.content)?;
    let gt = r.req(&Spec {
        kind: Kind::Time,
        optional: false,
        params: P_GENTIME,
        name: "Time",
    })?;
    let gen_time = go_time(&gt)?
        .checked_to_offset(UtcOffset::UTC)
        .ok_or_else(|| "genTime out of range".to_string())?;
    let accuracy = match r.field(&opt(SEQ))? {
        Some(e) => parse_accuracy(e.content)?,
        None => Duration::ZERO,
    };
    let ordering = match r.field(&opt(BOOL))? {
        Some(e) => go_bool(e.content)?,
        None => false,
    };
    let nonce = match r.field(&opt(INT))? {
        Some(e) => Some(go_bigint(e.content)?),
        None => None,
    };
    let _tsa = r.field(&opt(Kind::Ctx(0, None)))?;
    if let Some(e) = r.field(&opt(Kind::Ctx(1, Some(true))))? {
        for ext in seq_of(e.content, SEQ, "Extension")? {
            let mut xr = Rd::new(ext.content);
            go_oid(xr.req(&spec(OID, "ObjectIdentifier"))?.content)?;
            if let Some(c) = xr.field(&opt(BOOL))? {
                go_bool(c.content)?;
            }
            xr.req(&spec(OCTETS, ""))?;
        }
    }
    Ok(TstInfo {
        version,
        policy_oid,
        hash_alg_oid,
        hashed_message,
        serial_number,
        gen_time,
        accuracy,
        ordering,
        nonce,
    })
}

fn parse_accuracy(b: &[u8]) -> Result<Duration, String> {
    let mut r = Rd::new(b);
    let s = match r.field(&opt(INT))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    let ms = match r.field(&opt(Kind::Ctx(0, Some(false))))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    let us = match r.field(&opt(Kind::Ctx(1, Some(false))))? {
        Some(e) => go_i64(e.content)?,
        None => 0,
    };
    Ok(Duration::seconds(s)
        .saturating_add(Duration::milliseconds(ms))
        .saturating_add(Duration::microseconds(us)))
}

struct EssCertIdV2 {
    hash_alg: Option<String>,
    cert_hash: Vec<u8>,
    /// (GeneralNames directoryName content if present, serial number).
    issuer_serial: Option<(Option<Vec<u8>>, Vec<u8>)>,
}

fn parse_signing_certificate_v2(values: &[u8]) -> Result<Vec<EssCertIdV2>, String> {
    let mut top = Rd::new(values);
    let sc = top.req(&spec(SEQ, "signingCertificateV2"))?;
    let mut r = Rd::new(sc.content);
    let certs = r.req(&spec(SEQ, ""))?;
    let mut out = Vec::new();
    for e in seq_of(certs.content, SEQ, "eSSCertIDv2")? {
        let mut er = Rd::new(e.content);
        let hash_alg = match er.field(&opt(SEQ))? {
            Some(a) => Some(parse_algorithm_identifier(a.content)?),
            None => None,
        };
        let cert_hash = er.req(&spec(OCTETS, ""))?.content.to_vec();
        let issuer_serial = match er.field(&opt(SEQ))? {
            Some(is) => {
                let mut ir = Rd::new(is.content);
                let gn = ir.req(&spec(SEQ, "generalNames"))?;
                let mut gr = Rd::new(gn.content);
                let name = gr
                    .field(&opt(Kind::Ctx(4, None)))?
                    .map(|n| n.content.to_vec());
                let serial = go_bigint(ir.req(&spec(INT, ""))?.content)?;
                Some((name, serial))
            }
            None => None,
        };
        out.push(EssCertIdV2 {
            hash_alg,
            cert_hash,
            issuer_serial,
        });
    }
    let _policies = r.field(&opt(Kind::Any))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gocompat::asn1::time::{parse_generalized_time, parse_utc_time};
    use std::path::PathBuf;
    use time::macros::datetime;

    const TD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/notation");
    const UNKNOWN_AUTH_NOTATION: &str = "failed to verify the timestamp countersignature with error: failed to verify signed token: cms verification failure: x509: certificate signed by unknown authority";

    fn path(rel: &str) -> PathBuf {
        PathBuf::from(TD).join(rel)
    }

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    fn tsp(name: &str) -> Vec<u8> {
        read(&format!("timestamp-tokens/tspclient-go/{name}"))
    }

    fn countersig(name: &str) -> Vec<u8> {
        read(&format!(
            "timestamp-tokens/notation-go-countersignature/{name}"
        ))
    }

    fn cert_der(rel: &str) -> Vec<u8> {
        let raw = read(rel);
        let x = X509::from_pem(&raw)
            .or_else(|_| X509::from_der(&raw))
            .unwrap_or_else(|e| panic!("cert {rel}: {e}"));
        x.to_der().expect("to_der")
    }

    fn r3() -> Vec<Vec<u8>> {
        vec![cert_der(
            "timestamp-tokens/tspclient-go/GlobalSignRootCA.crt",
        )]
    }

    fn r6() -> Vec<Vec<u8>> {
        vec![cert_der(
            "truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-timestamp/globalsignRoot.cer",
        )]
    }

    fn digicert() -> Vec<Vec<u8>> {
        vec![cert_der(
            "truststores/notation-go_verifier_testdata_truststore/x509/tsa/test-mismatch/DigiCertTSARootSHA384.cer",
        )]
    }

    fn cn(der: &[u8]) -> String {
        let (_, c) = X509Certificate::from_der(der).expect("cert");
        go_cert_name(&c)
    }

    fn validity(der: &[u8]) -> (OffsetDateTime, OffsetDateTime) {
        let (_, c) = X509Certificate::from_der(der).expect("cert");
        (
            c.validity().not_before.to_datetime(),
            c.validity().not_after.to_datetime(),
        )
    }

    /// The token's certificate with the given common name, as a trust anchor.
    fn token_cert(token: &[u8], name: &str) -> Vec<Vec<u8>> {
        let t = parse_token(token).expect("parse");
        let c = t
            .certificates
            .iter()
            .find(|c| cn(c) == name)
            .unwrap_or_else(|| panic!("no cert {name}"))
            .clone();
        vec![c]
    }

    fn signing_cert_err(name: &str) -> Result<usize, String> {
        let t = parse_token(&tsp(name)).expect("parse");
        let si = t.signer_infos.first().expect("signer info");
        t.signing_certificate(si)
    }

    fn verify_err(der: &[u8], sig: &[u8], roots: &[Vec<u8>]) -> TimestampError {
        match verify_token(der, sig, roots) {
            Ok(t) => panic!("unexpected success: {t:?}"),
            Err(e) => e,
        }
    }

    // ---- envelope extraction -------------------------------------------

    fn b64(s: &str) -> Vec<u8> {
        openssl::base64::decode_block(s).expect("base64")
    }

    fn b64url(s: &str) -> Vec<u8> {
        let mut t: String = s
            .chars()
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect();
        while !t.len().is_multiple_of(4) {
            t.push('=');
        }
        b64(&t)
    }

    /// The first JSON string after `"key":` (enough for these envelopes).
    fn json_str<'a>(doc: &'a str, key: &str) -> Option<&'a str> {
        let at = doc.find(&format!("\"{key}\""))? + key.len() + 2;
        let rest = doc.get(at..)?;
        let start = rest.find('"')? + 1;
        let rest = rest.get(start..)?;
        let end = rest.find('"')?;
        rest.get(..end)
    }

    struct Env {
        token: Option<Vec<u8>>,
        signature: Vec<u8>,
        leaf: Vec<u8>,
    }

    fn jws(name: &str) -> Env {
        let doc = String::from_utf8(read(&format!("envelopes/jws/{name}"))).expect("utf8");
        let token = json_str(&doc, "io.cncf.notary.timestampSignature").map(b64);
        let signature = b64url(json_str(&doc, "signature").expect("signature"));
        let x5c_at = doc.find("\"x5c\"").expect("x5c");
        let leaf = b64(json_str(doc.get(x5c_at..).expect("x5c"), "x5c").expect("leaf"));
        Env {
            token,
            signature,
            leaf,
        }
    }

    #[derive(Debug)]
    enum Cbor {
        Uint(u64),
        Nint,
        Bytes(Vec<u8>),
        Text(String),
        Array(Vec<Cbor>),
        Map(Vec<(Cbor, Cbor)>),
        Tag(u64, Box<Cbor>),
        Simple,
    }

    fn cbor(b: &[u8], pos: &mut usize) -> Cbor {
        let ib = b[*pos];
        *pos += 1;
        let (major, ai) = (ib >> 5, ib & 0x1f);
        let n = match ai {
            0..=23 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => panic!("indefinite CBOR not handled"),
        };
        let arg = if n == 0 {
            u64::from(ai)
        } else {
            let v = b[*pos..*pos + n]
                .iter()
                .fold(0u64, |a, &x| (a << 8) | u64::from(x));
            *pos += n;
            v
        };
        let len = arg as usize;
        match major {
            0 => Cbor::Uint(arg),
            1 => Cbor::Nint,
            2 | 3 => {
                let v = b[*pos..*pos + len].to_vec();
                *pos += len;
                if major == 2 {
                    Cbor::Bytes(v)
                } else {
                    Cbor::Text(String::from_utf8(v).expect("utf8"))
                }
            }
            4 => Cbor::Array((0..len).map(|_| cbor(b, pos)).collect()),
            5 => Cbor::Map(
                (0..len)
                    .map(|_| {
                        let k = cbor(b, pos);
                        (k, cbor(b, pos))
                    })
                    .collect(),
            ),
            6 => Cbor::Tag(arg, Box::new(cbor(b, pos))),
            _ => Cbor::Simple,
        }
    }

    fn cose(name: &str) -> Env {
        let raw = read(&format!("envelopes/cose/{name}"));
        let mut pos = 0;
        let Cbor::Tag(18, inner) = cbor(&raw, &mut pos) else {
            panic!("not COSE_Sign1_Tagged")
        };
        let Cbor::Array(parts) = *inner else {
            panic!("not an array")
        };
        let [_, Cbor::Map(unprotected), _, Cbor::Bytes(signature)] = &parts[..] else {
            panic!("bad COSE_Sign1: {parts:?}")
        };
        let mut token = None;
        let mut leaf = None;
        for (k, v) in unprotected {
            match (k, v) {
                (Cbor::Text(t), Cbor::Bytes(b)) if t == "io.cncf.notary.timestampSignature" => {
                    token = Some(b.clone())
                }
                (Cbor::Uint(33), Cbor::Array(chain)) => {
                    if let Some(Cbor::Bytes(b)) = chain.first() {
                        leaf = Some(b.clone());
                    }
                }
                _ => {}
            }
        }
        Env {
            token,
            signature: signature.clone(),
            leaf: leaf.expect("x5chain"),
        }
    }

    // ---- tspclient-go token_test.go ------------------------------------

    #[test]
    fn tsp_parse_invalid_content_type() {
        let e = parse_token(&tsp("TimeStampTokenWithInvalideContentType.p7s")).unwrap_err();
        assert_eq!(e.stage, Stage::Parse);
        assert_eq!(
            e.to_string(),
            "unexpected content type: 1.2.840.113549.1.7.1. Expected to be id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4)"
        );
    }

    #[test]
    fn tsp_valid_token() {
        let ts = verify_token(&tsp("TimeStampToken.p7s"), b"notation", &r3()).expect("verify");
        assert_eq!(ts.gen_time, datetime!(2021-09-17 14:09:10 UTC));
        assert_eq!(ts.accuracy, Duration::SECOND);
        assert_eq!(ts.effective_accuracy(), Duration::SECOND);
        assert_eq!(ts.policy_oid, "1.3.6.1.4.1.4146.2.3");
        assert_eq!(ts.hash_alg_oid, OID_SHA256);
        assert_eq!(
            ts.range(),
            (
                datetime!(2021-09-17 14:09:09 UTC),
                datetime!(2021-09-17 14:09:11 UTC)
            )
        );
        let names: Vec<String> = ts.signer_chain_der.iter().map(|c| cn(c)).collect();
        assert_eq!(
            names,
            [
                "Globalsign TSA for Advanced - G4",
                "GlobalSign Timestamping CA - SHA384 - G4",
                "GlobalSign",
                "GlobalSign"
            ]
        );
        // The chain ends at the given root (R3).
        assert_eq!(ts.signer_chain_der.last(), r3().first());
    }

    #[test]
    fn tsp_nil_roots_and_wrong_message() {
        let der = tsp("TimeStampToken.p7s");
        let t = parse_token(&der).expect("parse");
        let info = t.tst_info().expect("info");
        let e = t.verify(info.gen_time, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to verify signed token: tsa root certificate pool cannot be nil"
        );
        let e = verify_err(&der, b"notation", &[]);
        assert_eq!(e.stage, Stage::TrustStore);
        assert_eq!(
            e.notation_message(),
            "no trusted TSA certificate found in trust store"
        );
        let e = info.validate(b"invalid").unwrap_err();
        assert_eq!(e.to_string(), "invalid TSTInfo: mismatched message");
        let e = verify_err(&der, b"invalid", &r3());
        assert_eq!(e.stage, Stage::Validate);
        assert_eq!(e.to_string(), "invalid TSTInfo: mismatched message");
    }

    #[test]
    fn tsp_valid_and_invalid_signer_infos() {
        // token_test.go TestVerify: the first valid SignerInfo wins.
        let der = tsp("TimeStampTokenWithValidAndInvalidSignerInfos.p7s");
        let t = parse_token(&der).expect("parse");
        assert_eq!(t.signer_infos.len(), 2);
        let info = t.tst_info().expect("info");
        let chain = t.verify(info.gen_time, &r3()).expect("verify");
        assert_eq!(cn(&chain[0]), "Globalsign TSA for Advanced - G4");
    }

    #[test]
    fn tsp_without_certificate() {
        let e = verify_err(
            &tsp("TimeStampTokenWithoutCertificate.p7s"),
            b"notation",
            &r3(),
        );
        assert_eq!(e.stage, Stage::Verify);
        assert_eq!(
            e.to_string(),
            "failed to verify signed token: signing certificate not found in the timestamp token"
        );
        assert_eq!(
            signing_cert_err("TimeStampTokenWithoutCertificate.p7s").unwrap_err(),
            "signing certificate not found in the timestamp token"
        );
    }

    #[test]
    fn tsp_invalid_signature() {
        let e = verify_err(
            &tsp("TimeStampTokenWithInvalidSignature.p7s"),
            b"notation",
            &r3(),
        );
        assert_eq!(
            e.to_string(),
            "failed to verify signed token: cms verification failure: crypto/rsa: verification error"
        );
    }

    #[test]
    fn tsp_invalid_tst_info() {
        let t = parse_token(&tsp("TimeStampTokenWithInvalidTSTInfo.p7s")).expect("parse");
        let e = t.tst_info().unwrap_err();
        assert_eq!(e.stage, Stage::Info);
        assert_eq!(
            e.to_string(),
            "cannot unmarshal TSTInfo from timestamp token: asn1: structure error: tags don't match (23 vs {class:0 tag:16 length:3 isCompound:true}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:24 set:false omitEmpty:false} Time @89"
        );
    }

    #[test]
    fn tsp_signing_certificate_errors() {
        let cases = [
            (
                "TimeStampTokenWithoutSigningCertificate.p7s",
                "failed to get SigningCertificateV2 from signed attributes: attribute not found",
            ),
            (
                "TimeStampTokenWithWrongSigningCertificateV2IssuerChoiceTag.p7s",
                "issuer name is missing in IssuerSerial",
            ),
            (
                "TimeStampTokenWithSHA1CertHash.p7s",
                "unsupported certificate hash algorithm in SigningCertificateV2 attribute",
            ),
            (
                "TimeStampTokenWithMismatchCertHash.p7s",
                "signing certificate hash does not match CertHash in signed attribute",
            ),
            (
                "TimeStampTokenWithInvalidSigningCertificateV2.p7s",
                "failed to get SigningCertificateV2 from signed attributes: asn1: syntax error: sequence truncated",
            ),
            (
                "TimeStampTokenWithSigningCertificateV2NoCert.p7s",
                "signingCertificateV2 does not contain any certificate",
            ),
            (
                "TimeStampTokenWithSigningCertificateV1.p7s",
                "failed to get SigningCertificateV2 from signed attributes: attribute not found",
            ),
            // Not asserted upstream; both carry only signing-certificate v1.
            (
                "TimeStampTokenWithSigningCertificateV1NoCert.p7s",
                "failed to get SigningCertificateV2 from signed attributes: attribute not found",
            ),
            (
                "TimeStampTokenWithInvalidSigningCertificateV1.p7s",
                "failed to get SigningCertificateV2 from signed attributes: attribute not found",
            ),
        ];
        for (file, want) in cases {
            assert_eq!(signing_cert_err(file).unwrap_err(), want, "{file}");
            // Through the full verification (the message is not the issue
            // for these, any signature works: parse and TSTInfo succeed and
            // the imprint is checked first, so use the right one).
            let der = tsp(file);
            let t = parse_token(&der).expect("parse");
            let info = t.tst_info().expect("info");
            let e = t.verify(info.gen_time, &r3()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("failed to verify signed token: {want}"),
                "{file}"
            );
        }
        // No IssuerSerial: the SignerInfo sid identifies the certificate.
        let idx = signing_cert_err("TimeStampTokenWithoutSigningCertificateV2IssuerSerial.p7s")
            .expect("sid fallback");
        let t = parse_token(&tsp(
            "TimeStampTokenWithoutSigningCertificateV2IssuerSerial.p7s",
        ))
        .expect("parse");
        assert_eq!(cn(&t.certificates[idx]), "Globalsign TSA for Advanced - G4");
    }

    #[test]
    fn tsp_validate_info() {
        let info = parse_token(&tsp("TimeStampTokenWithTSTInfoVersion2.p7s"))
            .expect("parse")
            .tst_info()
            .expect("info");
        assert_eq!(
            info.validate(b"notation").unwrap_err().to_string(),
            "invalid TSTInfo: timestamp token info version must be 1, but got 2"
        );
        let info = parse_token(&tsp("SHA1TimeStampToken.p7s"))
            .expect("parse")
            .tst_info()
            .expect("info");
        assert_eq!(
            info.validate(b"notation").unwrap_err().to_string(),
            "invalid TSTInfo: unrecognized hash algorithm: 1.2.840.113549.1.1.5"
        );
        let info = parse_token(&tsp("TimeStampToken.p7s"))
            .expect("parse")
            .tst_info()
            .expect("info");
        info.validate(b"notation").expect("valid");
        // Baseline policy with no accuracy: 1 s (token_test.go TestValidate).
        let mut baseline = info.clone();
        baseline.accuracy = Duration::ZERO;
        baseline.policy_oid = OID_BASELINE_TIMESTAMP_POLICY.to_string();
        assert_eq!(
            baseline.range(),
            (
                datetime!(2021-09-17 14:09:09 UTC),
                datetime!(2021-09-17 14:09:11 UTC)
            )
        );
        let mut other = info;
        other.accuracy = Duration::ZERO;
        assert_eq!(
            other.range(),
            (
                datetime!(2021-09-17 14:09:10 UTC),
                datetime!(2021-09-17 14:09:10 UTC)
            )
        );
    }

    #[test]
    fn tsp_no_root_token() {
        // A Microsoft TSA token; its root is not in the repository.
        let der = tsp("TimeStampTokenNoRoot.p7s");
        let t = parse_token(&der).expect("parse");
        let info = t.tst_info().expect("info");
        assert_eq!(info.gen_time, datetime!(2024-06-21 07:12:05.884 UTC));
        assert_eq!(info.accuracy, Duration::milliseconds(500));
        let e = t.verify(info.gen_time, &r3()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to verify signed token: cms verification failure: x509: certificate signed by unknown authority"
        );
        // Any trusted certificate anchors the chain, as in a Go root pool.
        let anchor = token_cert(&der, "Microsoft Public RSA Timestamping CA 2020");
        let chain = t.verify(info.gen_time, &anchor).expect("verify");
        assert_eq!(chain.len(), 2);
        assert_eq!(
            cn(&chain[0]),
            "Microsoft Public RSA Time Stamping Authority"
        );
    }

    #[test]
    fn chain_is_built_at_gen_time() {
        let der = tsp("TimeStampToken.p7s");
        let t = parse_token(&der).expect("parse");
        let e = t.verify(datetime!(2000-01-01 0:00 UTC), &r3()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "failed to verify signed token: cms verification failure: x509: certificate has expired or is not yet valid: current time 2000-01-01T00:00:00Z is before "
            ),
            "{e}"
        );
        assert_eq!(
            t.verify(datetime!(2100-01-01 0:00 UTC), &r3())
                .unwrap_err()
                .to_string(),
            "failed to verify signed token: cms verification failure: x509: certificate has expired or is not yet valid: current time 2100-01-01T00:00:00Z is after 2032-06-28T09:55:22Z"
        );
        // Leaf valid, R3 and the R6 cross certificate expired in 2029.
        assert_eq!(
            t.verify(datetime!(2030-01-01 0:00 UTC), &r3())
                .unwrap_err()
                .to_string(),
            "failed to verify signed token: cms verification failure: x509: certificate signed by unknown authority (possibly because of \"x509: certificate has expired or is not yet valid: current time 2030-01-01T00:00:00Z is after 2029-03-18T10:00:00Z\" while trying to verify candidate authority certificate \"GlobalSign\")"
        );
        // With the self-signed R6 (valid to 2034) trusted instead, it chains.
        let chain = t
            .verify(datetime!(2030-01-01 0:00 UTC), &r6())
            .expect("R6 path");
        assert_eq!(chain.len(), 3);
        assert_eq!(chain.last(), r6().first());
    }

    // ---- notation-go verifier/timestamp_test.go ------------------------

    #[test]
    fn notation_countersignature_errors() {
        let e = verify_err(
            &countersig("TimeStampTokenWithInvalideContentType.p7s"),
            b"notation",
            &r6(),
        );
        assert_eq!(
            e.notation_message(),
            "failed to parse timestamp countersignature with error: unexpected content type: 1.2.840.113549.1.7.1. Expected to be id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4)"
        );
        let e = verify_err(
            &countersig("TimeStampTokenWithInvalidTSTInfo.p7s"),
            b"notation",
            &r6(),
        );
        assert_eq!(
            e.notation_message(),
            "failed to get the timestamp TSTInfo with error: cannot unmarshal TSTInfo from timestamp token: asn1: structure error: tags don't match (23 vs {class:0 tag:16 length:3 isCompound:true}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:24 set:false omitEmpty:false} Time @89"
        );
        let e = verify_err(&countersig("TimeStampToken.p7s"), b"mismatch", &r6());
        assert_eq!(
            e.notation_message(),
            "failed to get timestamp from timestamp countersignature with error: invalid TSTInfo: mismatched message"
        );
        let e = verify_err(
            &countersig("TimeStampTokenWithoutCertificate.p7s"),
            b"notation",
            &r6(),
        );
        assert_eq!(
            e.notation_message(),
            "failed to verify the timestamp countersignature with error: failed to verify signed token: signing certificate not found in the timestamp token"
        );
    }

    fn check_envelope(env: &Env, gen_time: OffsetDateTime) -> Timestamp {
        let token = env.token.as_ref().expect("timestamp");
        let ts = verify_token(token, &env.signature, &r6()).expect("verify");
        assert_eq!(ts.gen_time, gen_time);
        assert_eq!(ts.effective_accuracy(), Duration::SECOND);
        assert_eq!(
            cn(&ts.signer_chain_der[0]),
            "Globalsign TSA for Advanced - G4 - 202311"
        );
        assert_eq!(ts.signer_chain_der.len(), 3);
        // tsa store "test-mismatch" (DigiCert root).
        let e = verify_err(token, &env.signature, &digicert());
        assert_eq!(e.notation_message(), UNKNOWN_AUTH_NOTATION);
        // The token covers exactly this signature.
        let mut other = env.signature.clone();
        other[0] ^= 1;
        assert_eq!(
            verify_err(token, &other, &r6()).to_string(),
            "invalid TSTInfo: mismatched message"
        );
        ts
    }

    #[test]
    fn notation_jws_envelopes() {
        let env = jws("notation-go_timestamp_jwsWithTimestamp.jws");
        let ts = check_envelope(&env, datetime!(2024-06-18 06:29:37 UTC));
        let (nb, na) = validity(&env.leaf);
        let (lo, hi) = ts.range();
        assert!(nb <= lo && hi <= na);

        let env = jws("notation-go_timestamp_jwsExpiredWithTimestamp.jws");
        let ts = check_envelope(&env, datetime!(2024-06-18 07:21:42 UTC));
        let (nb, na) = validity(&env.leaf);
        let (lo, hi) = ts.range();
        assert!(
            nb <= lo && hi <= na,
            "timestamp inside the expired cert's validity"
        );
        assert_eq!(na, datetime!(2024-06-18 07:30:31 UTC));

        let env = jws("notation-go_timestamp_timestampBeforeNotBefore.jws");
        let ts = check_envelope(&env, datetime!(2024-06-19 09:30:14 UTC));
        let (nb, _) = validity(&env.leaf);
        assert_eq!(nb, datetime!(2099-09-18 11:54:34 UTC));
        assert!(ts.range().0 < nb);

        let env = jws("notation-go_timestamp_withoutTimestamp.jws");
        assert!(env.token.is_none());
    }

    #[test]
    fn notation_cose_envelopes() {
        let env = cose("notation-go_timestamp_coseWithTimestamp.cose");
        let ts = check_envelope(&env, ts_gen_time(&env));
        let (nb, na) = validity(&env.leaf);
        let (lo, hi) = ts.range();
        assert!(nb <= lo && hi <= na);

        let env = cose("notation-go_timestamp_coseExpiredWithTimestamp.cose");
        let ts = check_envelope(&env, ts_gen_time(&env));
        let (nb, na) = validity(&env.leaf);
        let (lo, hi) = ts.range();
        assert!(nb <= lo && hi <= na);
        assert_eq!(na, datetime!(2024-06-18 07:30:31 UTC));

        let env = cose("notation-go_timestamp_timestampAfterNotAfter.cose");
        let ts = check_envelope(&env, ts_gen_time(&env));
        let (_, na) = validity(&env.leaf);
        assert_eq!(na, datetime!(2001-09-18 11:54:34 UTC));
        assert!(ts.range().1 > na);
    }

    fn ts_gen_time(env: &Env) -> OffsetDateTime {
        let t = parse_token(env.token.as_ref().expect("timestamp")).expect("parse");
        let gt = t.tst_info().expect("info").gen_time;
        assert!(gt.year() == 2024, "{gt}");
        gt
    }

    // ---- notation e2e envelopes (Microsoft TSA, root not in the repo) ----

    fn microsoft(env: &Env, gen_time: OffsetDateTime) {
        let token = env.token.as_ref().expect("timestamp");
        let e = verify_err(token, &env.signature, &r6());
        assert_eq!(e.notation_message(), UNKNOWN_AUTH_NOTATION);
        let anchor = token_cert(token, "Microsoft Public RSA Timestamping CA 2020");
        let ts = verify_token(token, &env.signature, &anchor).expect("verify");
        assert_eq!(ts.gen_time, gen_time);
        assert_eq!(ts.accuracy, Duration::milliseconds(500));
        assert_eq!(
            ts.range(),
            (
                gen_time - Duration::milliseconds(500),
                gen_time + Duration::milliseconds(500)
            )
        );
        assert_eq!(ts.policy_oid, "1.3.6.1.4.1.601.10.3.1");
    }

    #[test]
    fn e2e_envelopes() {
        microsoft(
            &jws("notation-e2e_with-timestamped-signature.jws"),
            datetime!(2025-01-21 09:17:46.641 UTC),
        );
        microsoft(
            &jws("notation-e2e_blob.jws"),
            datetime!(2024-12-31 08:05:30.009 UTC),
        );
        microsoft(
            &cose("notation-e2e_blob.cose"),
            datetime!(2025-01-07 08:42:44.082 UTC),
        );
        let env = jws("notation-e2e_with-invalid-timestamped-signature.jws");
        let e = verify_err(
            env.token.as_ref().expect("timestamp"),
            &env.signature,
            &r6(),
        );
        assert_eq!(
            e.notation_message(),
            "failed to parse timestamp countersignature with error: cms: syntax error: invalid signed data: failed to convert from BER to DER: asn1: syntax error: decoding BER length octets: short form length octets value should be less or equal to the subsequent octets length"
        );
    }

    // ---- building blocks -----------------------------------------------

    #[test]
    fn generalized_time_rules() {
        let ok = |s: &str| parse_generalized_time(s.as_bytes());
        assert_eq!(
            ok("20210917140910Z").expect("plain"),
            datetime!(2021-09-17 14:09:10 UTC)
        );
        assert_eq!(
            ok("20210917140910.5Z").expect("fraction"),
            datetime!(2021-09-17 14:09:10.5 UTC)
        );
        assert_eq!(
            ok("20210917140910+0130").expect("offset"),
            datetime!(2021-09-17 14:09:10 +01:30)
        );
        assert_eq!(
            ok("20210917140910.50Z").unwrap_err(),
            "asn1: time did not serialize back to the original value and may be invalid: given \"20210917140910.50Z\", but serialized as \"20210917140910.5Z\""
        );
        assert!(ok("20210917140910+0000").is_err());
        assert!(ok("20210917140910,5Z").is_err());
        assert!(
            ok("20210231140910Z")
                .unwrap_err()
                .ends_with("day out of range")
        );
        assert!(ok("20210917140910").is_err());
        assert!(ok("20210917140910Zx").is_err());
        assert!(ok("").is_err());
    }

    #[test]
    fn utc_time_rules() {
        let ok = |s: &str| parse_utc_time(s.as_bytes());
        assert_eq!(
            ok("210917140910Z").expect("seconds"),
            datetime!(2021-09-17 14:09:10 UTC)
        );
        assert_eq!(
            ok("2109171409Z").expect("minutes"),
            datetime!(2021-09-17 14:09 UTC)
        );
        assert_eq!(
            ok("500101000000Z").expect("1950"),
            datetime!(1950-01-01 0:00 UTC)
        );
        assert!(ok("210917140910.5Z").is_err());
        assert_eq!(
            go_time_string(ok("210917140910Z").expect("t")),
            "2021-09-17 14:09:10 +0000 UTC"
        );
        assert_eq!(
            go_time_string(ok("210917140910+0800").expect("t")),
            "2021-09-17 14:09:10 +0800 +0800"
        );
    }

    #[test]
    fn ber_normalisation() {
        // SEQUENCE { INTEGER 1 } with a non-minimal long-form length.
        let ber = [0x30, 0x81, 0x03, 0x02, 0x01, 0x01];
        assert_eq!(
            ber_to_der(&ber).expect("der"),
            [0x30, 0x03, 0x02, 0x01, 0x01]
        );
        assert!(
            ber_to_der(&[0x30, 0x80, 0, 0])
                .unwrap_err()
                .contains("indefinite")
        );
        assert_eq!(
            ber_to_der(&[0x30, 0x03, 0x02, 0x01, 0x01, 0x00]).unwrap_err(),
            "asn1: syntax error: decoding BER: length octets value 3 does not match with content length 4"
        );
        assert!(ber_to_der(&[]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let good = tsp("TimeStampToken.p7s");
        for cut in [0, 1, 2, 10, 100, 1000, good.len() - 1] {
            let _ = verify_token(&good[..cut], b"notation", &r3());
        }
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            let _ = verify_token(&bad, b"notation", &r3());
        }
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        der_len(content.len(), &mut out);
        out.extend_from_slice(content);
        out
    }

    fn tst_info_der(gen_time: &str, accuracy: Option<Vec<u8>>) -> Vec<u8> {
        let sha256 = [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        ];
        let alg = tlv(0x30, &[&sha256[..], &[0x05, 0x00]].concat());
        let imprint = tlv(0x30, &[alg, tlv(0x04, &[0xab; 32])].concat());
        let mut body = [
            tlv(0x02, &[0x01]),
            tlv(0x06, &[0x04, 0x00, 0x8f, 0x67, 0x01, 0x01]), // 0.4.0.2023.1.1
            imprint,
            tlv(0x02, &[0x05]),
            tlv(0x18, gen_time.as_bytes()),
        ]
        .concat();
        if let Some(a) = accuracy {
            body.extend_from_slice(&tlv(0x30, &a));
        }
        tlv(0x30, &body)
    }

    #[test]
    fn tst_info_fields() {
        let acc = [
            tlv(0x02, &[0x02]),
            tlv(0x80, &[0x01, 0xf4]),
            tlv(0x81, &[0x07]),
        ]
        .concat();
        let info = parse_tst_info(&tst_info_der("20240101000000Z", Some(acc))).expect("tstinfo");
        assert_eq!(info.policy_oid, OID_BASELINE_TIMESTAMP_POLICY);
        assert_eq!(
            info.accuracy,
            Duration::seconds(2) + Duration::milliseconds(500) + Duration::microseconds(7)
        );
        assert_eq!(info.serial_number, [0x05]);
        let info = parse_tst_info(&tst_info_der("20240101000000Z", None)).expect("tstinfo");
        assert_eq!(info.accuracy, Duration::ZERO);
        // Baseline policy, no accuracy: one second either side.
        assert_eq!(
            info.range(),
            (
                datetime!(2023-12-31 23:59:59 UTC),
                datetime!(2024-01-01 0:00:01 UTC)
            )
        );
        // A genTime with an offset is normalised to UTC.
        let info = parse_tst_info(&tst_info_der("20240101010000+0100", None)).expect("tstinfo");
        assert_eq!(info.gen_time, datetime!(2024-01-01 0:00 UTC));
        assert_eq!(info.gen_time.offset(), UtcOffset::UTC);
        // Out of the representable range: an error, not a panic.
        assert!(parse_tst_info(&tst_info_der("99991231235959-2359", None)).is_err());
        // A missing genTime.
        assert_eq!(
            parse_tst_info(&tlv(0x30, &[tlv(0x02, &[0x01])].concat())).unwrap_err(),
            "asn1: syntax error: sequence truncated"
        );
    }

    #[test]
    fn small_helpers() {
        assert_eq!(int_to_decimal(&[0x01, 0x00]), "256");
        assert_eq!(int_to_decimal(&[0xff]), "-1");
        assert_eq!(int_to_decimal(&[0x00]), "0");
        assert_eq!(go_oid(&[0x2a, 0x86, 0x48]).expect("oid"), "1.2.840");
        assert_eq!(go_i64(&[0xff, 0x7f]).expect("int"), -129);
        assert_eq!(
            go_i64(&[0xff, 0x80]).unwrap_err(),
            "asn1: structure error: integer not minimally-encoded"
        );
        assert_eq!(
            go_i64(&[]).unwrap_err(),
            "asn1: structure error: empty integer"
        );
        assert_eq!(go_i64(&[0x80]).expect("int"), -128);
        let set = encode_set([&[0x30, 0x01, 0x02][..], &[0x30, 0x01, 0x01][..]].into_iter());
        assert_eq!(set, [0x31, 0x06, 0x30, 0x01, 0x01, 0x30, 0x01, 0x02]);
    }
}
