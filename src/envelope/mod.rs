//! Notation signature envelopes: JWS (flattened JSON, `application/jose+json`) and COSE_Sign1
//! (`application/cose`). Parsing here is the *integrity* check of the Notary spec: structure,
//! protected headers (`crit` enforced from the protected header only), algorithm derived from the
//! signing certificate, the cryptographic signature, and the certificate chain shape.
//!
//! One noun per file: this file is the `Envelope` and the integrity steps both formats share
//! (`finish`, `verify_raw`); `protected.rs` the protected header and its Notary attributes;
//! `jws.rs` and `cose.rs` the two formats.

use ciborium::Value;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::gocompat;

mod cose;
mod jws;
mod protected;

use crate::x509::{Cert, SigAlg, signature_algorithm, validate_code_signing_chain};
use cose::*;
use jws::*;
use protected::*;

pub const MEDIA_TYPE_JWS: &str = "application/jose+json";
pub const MEDIA_TYPE_COSE: &str = "application/cose";
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

pub const HDR_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub const HDR_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub const HDR_AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub const HDR_EXPIRY: &str = "io.cncf.notary.expiry";
pub const HDR_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
pub const HDR_PLUGIN_MIN_VERSION: &str = "io.cncf.notary.verificationPluginMinVersion";
pub const HDR_TIMESTAMP: &str = "io.cncf.notary.timestampSignature";
pub const HDR_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";

/// Envelopes larger than this are refused before parsing (notation's limit).
pub const MAX_ENVELOPE_SIZE: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SigningScheme {
    #[serde(rename = "notary.x509")]
    X509,
    #[serde(rename = "notary.x509.signingAuthority")]
    SigningAuthority,
}

impl SigningScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// An extended (non-Notary) signed attribute.
#[derive(Debug, Clone, Serialize)]
pub struct ExtendedAttribute {
    pub key: String,
    pub critical: bool,
    /// The value, as JSON (what a verification plugin is sent).
    #[serde(skip)]
    pub value: serde_json::Value,
}

/// The descriptor a signature payload names (`targetArtifact`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetArtifact {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(
        default,
        rename = "artifactType",
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifact,
}

/// An envelope whose integrity has been verified.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub media_type: &'static str,
    pub scheme: SigningScheme,
    pub alg: SigAlg,
    /// Signing time (`notary.x509`) or authentic signing time (`signingAuthority`).
    pub signing_time: OffsetDateTime,
    pub expiry: Option<OffsetDateTime>,
    pub verification_plugin: Option<String>,
    /// Extended attributes other than the two verification-plugin headers.
    pub extended: Vec<ExtendedAttribute>,
    /// `io.cncf.notary.verificationPlugin` and `…MinVersion`, when present.
    pub plugin_headers: Vec<ExtendedAttribute>,
    pub target: TargetArtifact,
    pub chain: Vec<Cert>,
    pub signature: Vec<u8>,
    pub timestamp_token: Option<Vec<u8>>,
    pub signing_agent: Option<String>,
}

impl Envelope {
    pub fn leaf(&self) -> &Cert {
        // `parse_and_verify` refuses an empty chain, so index 0 always exists.
        &self.chain[0]
    }
}

/// Parse an envelope of the given media type and verify its integrity.
pub fn parse_and_verify(media_type: &str, bytes: &[u8]) -> Result<Envelope, String> {
    let parsed = match media_type {
        MEDIA_TYPE_JWS => parse_jws(bytes),
        MEDIA_TYPE_COSE => parse_cose(bytes),
        other => {
            return Err(format!(
                "unable to parse the digital signature, error : signature envelope format with media type {other:?} is not supported"
            ));
        }
    }
    .map_err(|e| match e {
        Stage::Parse(e) => format!("unable to parse the digital signature, error : {e}"),
        Stage::Verify(e) => e,
    })?;
    Ok(parsed)
}

pub(crate) enum Stage {
    Parse(String),
    Verify(String),
}

pub(crate) fn parse(e: impl Into<String>) -> Stage {
    Stage::Parse(e.into())
}
pub(crate) fn verify(e: impl Into<String>) -> Stage {
    Stage::Verify(e.into())
}

/// Integrity steps shared by both formats once the pieces are decoded.
#[allow(clippy::too_many_arguments)]
fn finish(
    media_type: &'static str,
    protected: Protected,
    chain_der: Vec<Vec<u8>>,
    signing_input: &[u8],
    signature: Vec<u8>,
    payload: &[u8],
    pss_salt: RsaPssSaltlen,
    timestamp_token: Option<Vec<u8>>,
    signing_agent: Option<String>,
) -> Result<Envelope, Stage> {
    if chain_der.is_empty() {
        return Err(verify("certificate chain is not present"));
    }
    let mut chain = Vec::with_capacity(chain_der.len());
    for (i, der) in chain_der.iter().enumerate() {
        match Cert::from_der(der) {
            Ok(c) => chain.push(c),
            Err(e) if i == 0 => return Err(verify(format!("malformed leaf certificate: {e}"))),
            Err(e) => return Err(verify(format!("malformed certificate chain: {e}"))),
        }
    }
    let declared = protected
        .alg
        .clone()
        .ok_or_else(|| verify(r#"missing "alg" header"#))?;
    let alg = signature_algorithm(&chain[0])
        .map_err(|e| verify(format!("certificate-chain is invalid, {e}")))?;
    let declared_alg = SigAlg::from_jws(&declared)
        .ok_or_else(|| verify(format!("signature algorithm {declared:?} is not supported")))?;
    if declared_alg != alg {
        return Err(verify(format!(
            "mismatch between signature algorithm derived from signing certificate ({}) and signing algorithm specified ({})",
            alg.as_jws(),
            declared_alg.as_jws()
        )));
    }
    verify_raw(&chain[0], alg, signing_input, &signature, pss_salt)
        .map_err(|e| verify(format!("signature is invalid. Error: {e}")))?;
    let attrs = check_signed_attrs(&protected)?;
    validate_code_signing_chain(&chain)
        .map_err(|e| verify(format!("certificate-chain is invalid, {e}")))?;
    match protected.cty.as_deref() {
        Some(PAYLOAD_CONTENT_TYPE) => {}
        Some(other) => {
            return Err(verify(format!(
                "payload content type {other:?} is not supported"
            )));
        }
        None => return Err(verify(r#"missing "cty" header"#)),
    }
    // RFC 7515 §4.1.11 / RFC 9052 §3.1: a critical header the verifier does not understand
    // must fail verification. notation-go 1.3 lets such signatures through when no plugin is
    // named; pullguard follows the spec (see README, "Divergences").
    // (With a plugin named, every extended attribute goes to the plugin, which must process it.)
    if attrs.plugin.is_none()
        && let Some(a) = attrs.extended.iter().find(|a| a.critical)
    {
        return Err(verify(format!(
            "signature has critical header {:?} that pullguard does not understand (RFC 7515 §4.1.11: unknown critical headers must fail verification)",
            a.key
        )));
    }
    let payload: Payload = serde_json::from_slice(payload)
        .map_err(|e| verify(format!("signature payload is malformed: {e}")))?;
    Ok(Envelope {
        media_type,
        scheme: attrs.scheme,
        alg,
        signing_time: attrs.signing_time,
        expiry: attrs.expiry,
        verification_plugin: attrs.plugin,
        extended: attrs.extended,
        plugin_headers: attrs.plugin_headers,
        target: payload.target_artifact,
        chain,
        signature,
        timestamp_token,
        signing_agent,
    })
}

/// Verify `signature` over `input` with the leaf's public key.
fn verify_raw(
    leaf: &Cert,
    alg: SigAlg,
    input: &[u8],
    signature: &[u8],
    pss_salt: RsaPssSaltlen,
) -> Result<(), String> {
    let key = leaf
        .public_key()
        .ok_or_else(|| "the signing certificate's public key is not RSA or ECDSA".to_string())?;
    if !crate::x509::rsa_key_usable(key) {
        return Err("crypto/rsa: verification error".to_string());
    }
    let mut v = Verifier::new(alg.hash(), key).map_err(|e| e.to_string())?;
    let ok = if alg.is_rsa_pss() {
        v.set_rsa_padding(Padding::PKCS1_PSS)
            .and_then(|_| v.set_rsa_mgf1_md(alg.hash()))
            .and_then(|_| v.set_rsa_pss_saltlen(pss_salt))
            .map_err(|e| e.to_string())?;
        v.verify_oneshot(signature, input)
            .map_err(|_| "crypto/rsa: verification error".to_string())?
    } else {
        // JWS and COSE carry ECDSA signatures as fixed-width r || s.
        let width = match alg {
            SigAlg::ES256 => 32,
            SigAlg::ES384 => 48,
            _ => 66,
        };
        if signature.len() != 2 * width {
            return Err(format!(
                "ecdsa signature has {} bytes, want {}",
                signature.len(),
                2 * width
            ));
        }
        let r = BigNum::from_slice(&signature[..width]).map_err(|e| e.to_string())?;
        let s = BigNum::from_slice(&signature[width..]).map_err(|e| e.to_string())?;
        let der = EcdsaSig::from_private_components(r, s)
            .and_then(|s| s.to_der())
            .map_err(|e| e.to_string())?;
        v.verify_oneshot(&der, input).unwrap_or(false)
    };
    if ok {
        Ok(())
    } else {
        Err("signature verification failed".into())
    }
}

#[cfg(test)]
mod tests;
