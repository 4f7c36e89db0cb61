//! Notation signature envelopes: JWS (flattened JSON, `application/jose+json`) and COSE_Sign1
//! (`application/cose`). Parsing here is the *integrity* check of the Notary spec: structure,
//! protected headers (`crit` enforced from the protected header only), algorithm derived from the
//! signing certificate, the cryptographic signature, and the certificate chain shape.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ciborium::Value;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::x509::{Cert, SigAlg, signature_algorithm, validate_code_signing_chain};

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
    pub extended: Vec<ExtendedAttribute>,
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

enum Stage {
    Parse(String),
    Verify(String),
}

fn parse(e: impl Into<String>) -> Stage {
    Stage::Parse(e.into())
}
fn verify(e: impl Into<String>) -> Stage {
    Stage::Verify(e.into())
}

/// Header values in the protected header, independent of the envelope format.
enum HeaderValue {
    Str(String),
    Time(OffsetDateTime),
    Other,
}

struct Protected {
    alg: Option<String>,
    cty: Option<String>,
    crit: Vec<String>,
    /// Every other label, with its value.
    rest: Vec<(String, HeaderValue)>,
}

impl Protected {
    fn get(&self, key: &str) -> Option<&HeaderValue> {
        self.rest.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

struct SignedAttrs {
    scheme: SigningScheme,
    signing_time: OffsetDateTime,
    expiry: Option<OffsetDateTime>,
    plugin: Option<String>,
    extended: Vec<ExtendedAttribute>,
}

const KNOWN_HEADERS: [&str; 6] = [
    HDR_SIGNING_SCHEME,
    HDR_SIGNING_TIME,
    HDR_AUTHENTIC_SIGNING_TIME,
    HDR_EXPIRY,
    HDR_PLUGIN,
    HDR_PLUGIN_MIN_VERSION,
];

/// The Notary rules on the protected header, common to JWS and COSE.
fn check_signed_attrs(p: &Protected) -> Result<SignedAttrs, Stage> {
    if p.crit.is_empty() {
        return Err(verify(r#"missing "crit" header"#));
    }
    for c in &p.crit {
        if p.get(c).is_none() {
            return Err(verify(format!(
                "{c:?} header is marked critical but not present"
            )));
        }
    }
    let scheme = match p.get(HDR_SIGNING_SCHEME) {
        Some(HeaderValue::Str(s)) if s == "notary.x509" => SigningScheme::X509,
        Some(HeaderValue::Str(s)) if s == "notary.x509.signingAuthority" => {
            SigningScheme::SigningAuthority
        }
        Some(HeaderValue::Str(s)) => {
            return Err(verify(format!("unsupported SigningScheme: `{s}`")));
        }
        Some(_) => return Err(verify("signing scheme header is not a string")),
        None => return Err(verify(format!("missing {HDR_SIGNING_SCHEME:?} header"))),
    };
    let time_of = |key: &str| -> Result<Option<OffsetDateTime>, Stage> {
        match p.get(key) {
            None => Ok(None),
            Some(HeaderValue::Time(t)) => Ok(Some(*t)),
            Some(_) => Err(verify(format!("header {key:?} is not a valid time"))),
        }
    };
    let signing_time = time_of(HDR_SIGNING_TIME)?;
    let authentic = time_of(HDR_AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_of(HDR_EXPIRY)?;

    let mut required_crit = vec![HDR_SIGNING_SCHEME];
    let time = match scheme {
        SigningScheme::X509 => {
            if authentic.is_some() {
                return Err(verify(format!(
                    "{HDR_AUTHENTIC_SIGNING_TIME:?} header must not be present for notary.x509 signing scheme"
                )));
            }
            signing_time.ok_or_else(|| verify("signing-time not present"))?
        }
        SigningScheme::SigningAuthority => {
            if signing_time.is_some() {
                return Err(verify(format!(
                    "{HDR_SIGNING_TIME:?} header must not be present for notary.x509.signingAuthority signing scheme"
                )));
            }
            required_crit.push(HDR_AUTHENTIC_SIGNING_TIME);
            authentic.ok_or_else(|| {
                verify(format!(
                    "{HDR_AUTHENTIC_SIGNING_TIME:?} header must be present for notary.x509.signingAuthority signing scheme"
                ))
            })?
        }
    };
    if expiry.is_some() {
        required_crit.push(HDR_EXPIRY);
    }
    let plugin = match p.get(HDR_PLUGIN) {
        None => None,
        Some(HeaderValue::Str(s)) => {
            required_crit.push(HDR_PLUGIN);
            Some(s.clone())
        }
        Some(_) => return Err(verify(format!("{HDR_PLUGIN:?} header must be a string"))),
    };
    if p.get(HDR_PLUGIN_MIN_VERSION).is_some() {
        required_crit.push(HDR_PLUGIN_MIN_VERSION);
    }
    let missing: Vec<&str> = required_crit
        .iter()
        .copied()
        .filter(|r| !p.crit.iter().any(|c| c == r))
        .collect();
    if !missing.is_empty() {
        return Err(verify(format!(
            "these required headers are not marked as critical: [{}]",
            missing.join(" ")
        )));
    }
    if let Some(e) = expiry
        && e <= time
    {
        return Err(verify("expiry cannot be equal or before the signing time"));
    }
    let extended = p
        .rest
        .iter()
        .filter(|(k, _)| !KNOWN_HEADERS.contains(&k.as_str()))
        .map(|(k, _)| ExtendedAttribute {
            key: k.clone(),
            critical: p.crit.iter().any(|c| c == k),
        })
        .collect();
    Ok(SignedAttrs {
        scheme,
        signing_time: time,
        expiry,
        plugin,
        extended,
    })
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
    // (A signature that names a verification plugin is refused later, plugin or not.)
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
    let key = leaf.x509.public_key().map_err(|e| e.to_string())?;
    let mut v = Verifier::new(alg.hash(), &key).map_err(|e| e.to_string())?;
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

// ---------------------------------------------------------------------------------------------
// JWS

fn parse_jws(bytes: &[u8]) -> Result<Envelope, Stage> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| parse(e.to_string()))?;
    let obj = v
        .as_object()
        .ok_or_else(|| parse("JWS envelope is not a JSON object"))?;
    // Go decodes into a struct: member names match case-insensitively, unknown members are ignored.
    let member = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let str_member = |name: &str| -> Result<String, Stage> {
        match member(name) {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(parse(format!("JWS member {name:?} is not a string"))),
        }
    };
    let payload_b64 = str_member("payload")?;
    let protected_b64 = str_member("protected")?;
    let signature_b64 = str_member("signature")?;
    let header = match member("header") {
        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
        Some(serde_json::Value::Object(m)) => m.clone(),
        Some(_) => return Err(parse("JWS member \"header\" is not an object")),
    };
    let hdr = |name: &str| {
        header
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };

    let mut chain_der = Vec::new();
    match hdr("x5c") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Array(items)) => {
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| parse("x5c entries must be strings"))?;
                chain_der.push(
                    STANDARD
                        .decode(s)
                        .map_err(|e| parse(format!("x5c entry is not valid base64: {e}")))?,
                );
            }
        }
        Some(_) => return Err(parse("x5c must be an array")),
    }
    let timestamp_token = match hdr(HDR_TIMESTAMP) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(
            STANDARD
                .decode(s)
                .map_err(|e| parse(format!("timestamp signature is not valid base64: {e}")))?,
        ),
        Some(_) => return Err(parse("timestamp signature must be a string")),
    };
    let signing_agent = hdr(HDR_SIGNING_AGENT)
        .and_then(|v| v.as_str())
        .map(str::to_owned);

    if chain_der.is_empty() {
        return Err(verify("certificate chain is not present"));
    }
    // golang-jwt decodes each segment separately; Go reports the offset within the segment.
    let b64 = |seg: &str| {
        URL_SAFE_NO_PAD.decode(seg.as_bytes()).map_err(|e| {
            verify(format!(
                "signature is invalid. Error: {}",
                go_b64_err(seg, &e)
            ))
        })
    };
    let protected_json = b64(&protected_b64)?;
    let protected = jws_protected(&protected_json)?;
    let payload = b64(&payload_b64)?;
    let signature = b64(&signature_b64)?;
    let signing_input = format!("{protected_b64}.{payload_b64}");
    finish(
        MEDIA_TYPE_JWS,
        protected,
        chain_der,
        signing_input.as_bytes(),
        signature,
        &payload,
        // golang-jwt verifies PS* with PSSSaltLengthAuto.
        RsaPssSaltlen::MAXIMUM_LENGTH,
        timestamp_token,
        signing_agent,
    )
}

/// Go's `illegal base64 data at input byte N` for a decode error of `input`.
fn go_b64_err(input: &str, e: &base64::DecodeError) -> String {
    let offset = match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => *i,
        base64::DecodeError::InvalidPadding => input.find('=').unwrap_or(input.len()),
        _ => input.len(),
    };
    format!("illegal base64 data at input byte {offset}")
}

fn jws_protected(json: &[u8]) -> Result<Protected, Stage> {
    let v: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| verify(format!("protected header is not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| verify("protected header is not a JSON object"))?;
    let mut p = Protected {
        alg: None,
        cty: None,
        crit: Vec::new(),
        rest: Vec::new(),
    };
    for (k, v) in obj {
        match k.as_str() {
            "alg" => {
                p.alg = Some(
                    v.as_str()
                        .ok_or_else(|| verify("alg must be a string"))?
                        .into(),
                )
            }
            "cty" => {
                p.cty = Some(
                    v.as_str()
                        .ok_or_else(|| verify("cty must be a string"))?
                        .into(),
                )
            }
            "crit" => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| verify("crit must be an array"))?;
                for c in arr {
                    p.crit.push(
                        c.as_str()
                            .ok_or_else(|| verify("crit entries must be strings"))?
                            .into(),
                    );
                }
            }
            HDR_SIGNING_TIME | HDR_AUTHENTIC_SIGNING_TIME | HDR_EXPIRY => {
                let s = v
                    .as_str()
                    .ok_or_else(|| verify(format!("header {k:?} must be a string")))?;
                let t = OffsetDateTime::parse(s, &Rfc3339)
                    .map_err(|e| verify(format!("header {k:?} is not an RFC 3339 time: {e}")))?;
                p.rest.push((k.clone(), HeaderValue::Time(t)));
            }
            _ => {
                let value = match v {
                    serde_json::Value::String(s) => HeaderValue::Str(s.clone()),
                    _ => HeaderValue::Other,
                };
                p.rest.push((k.clone(), value));
            }
        }
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// COSE

fn parse_cose(bytes: &[u8]) -> Result<Envelope, Stage> {
    let v: Value = ciborium::from_reader(bytes).map_err(|e| parse(format!("cbor: {e}")))?;
    let items = match v {
        Value::Tag(18, inner) => match *inner {
            Value::Array(items) if items.len() == 4 => items,
            _ => return Err(parse("cbor: COSE_Sign1 must be an array of 4 items")),
        },
        Value::Tag(t, _) => return Err(parse(format!("cbor: unexpected tag {t}, want 18"))),
        _ => return Err(parse("cbor: COSE_Sign1 tag 18 is missing")),
    };
    let mut it = items.into_iter();
    let (Some(protected_v), Some(unprotected_v), Some(payload_v), Some(sig_v)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(parse("cbor: COSE_Sign1 must be an array of 4 items"));
    };
    let Value::Bytes(protected_bytes) = protected_v else {
        return Err(parse("cbor: protected header must be a byte string"));
    };
    let Value::Map(unprotected) = unprotected_v else {
        return Err(parse("cbor: unprotected header must be a map"));
    };
    let Value::Bytes(payload) = payload_v else {
        return Err(parse(
            "cbor: payload must be a byte string (detached payloads are not used by Notation)",
        ));
    };
    let Value::Bytes(signature) = sig_v else {
        return Err(parse("cbor: signature must be a byte string"));
    };
    let protected_map: Value = ciborium::from_reader(protected_bytes.as_slice())
        .map_err(|e| parse(format!("cbor: protected header: {e}")))?;
    let Value::Map(protected_map) = protected_map else {
        return Err(parse("cbor: protected header must encode a map"));
    };
    let protected = cose_protected(protected_map)?;

    let mut chain_der = Vec::new();
    let mut timestamp_token = None;
    let mut signing_agent = None;
    for (k, v) in unprotected {
        match (k, v) {
            (Value::Integer(i), v) if i128::from(i) == 33 => match v {
                Value::Array(certs) => {
                    for c in certs {
                        match c {
                            Value::Bytes(b) => chain_der.push(b),
                            _ => return Err(verify("certificate chain is not present")),
                        }
                    }
                }
                _ => return Err(verify("certificate chain is not present")),
            },
            (Value::Text(t), Value::Bytes(b)) if t == HDR_TIMESTAMP => timestamp_token = Some(b),
            (Value::Text(t), Value::Text(s)) if t == HDR_SIGNING_AGENT => signing_agent = Some(s),
            _ => {}
        }
    }
    // Sig_structure = ["Signature1", protected, external_aad = h'', payload]
    let tbs = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected_bytes),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.clone()),
    ]);
    let mut input = Vec::new();
    ciborium::into_writer(&tbs, &mut input).map_err(|e| parse(format!("cbor: {e}")))?;
    finish(
        MEDIA_TYPE_COSE,
        protected,
        chain_der,
        &input,
        signature,
        &payload,
        // go-cose verifies PS* with the salt length equal to the hash length.
        RsaPssSaltlen::DIGEST_LENGTH,
        timestamp_token,
        signing_agent,
    )
}

fn cose_protected(map: Vec<(Value, Value)>) -> Result<Protected, Stage> {
    let mut p = Protected {
        alg: None,
        cty: None,
        crit: Vec::new(),
        rest: Vec::new(),
    };
    for (k, v) in map {
        match k {
            Value::Integer(i) => match i128::from(i) {
                1 => {
                    let Value::Integer(a) = v else {
                        return Err(verify("COSE alg must be an integer"));
                    };
                    let a = i128::from(a);
                    let alg = i64::try_from(a)
                        .ok()
                        .and_then(SigAlg::from_cose)
                        .ok_or_else(|| {
                            verify(format!("signature algorithm {a} is not supported"))
                        })?;
                    p.alg = Some(alg.as_jws().to_string());
                }
                2 => {
                    let Value::Array(arr) = v else {
                        return Err(verify("COSE crit must be an array"));
                    };
                    for c in arr {
                        match c {
                            Value::Text(t) => p.crit.push(t),
                            Value::Integer(i) => p.crit.push(i128::from(i).to_string()),
                            _ => return Err(verify("COSE crit entries must be labels")),
                        }
                    }
                }
                3 => match v {
                    Value::Text(t) => p.cty = Some(t),
                    _ => return Err(verify("COSE content type must be a text string")),
                },
                other => p.rest.push((other.to_string(), HeaderValue::Other)),
            },
            Value::Text(key) => {
                let value = match key.as_str() {
                    HDR_SIGNING_TIME | HDR_AUTHENTIC_SIGNING_TIME | HDR_EXPIRY => {
                        HeaderValue::Time(cose_time(&key, v)?)
                    }
                    _ => match v {
                        Value::Text(s) => HeaderValue::Str(s),
                        _ => HeaderValue::Other,
                    },
                };
                p.rest.push((key, value));
            }
            _ => return Err(verify("COSE header labels must be integers or text")),
        }
    }
    Ok(p)
}

fn cose_time(key: &str, v: Value) -> Result<OffsetDateTime, Stage> {
    match v {
        Value::Tag(1, inner) => {
            let secs = match *inner {
                Value::Integer(i) => i64::try_from(i128::from(i))
                    .map_err(|_| verify(format!("header {key:?} time is out of range")))?,
                Value::Float(f) if f.is_finite() => f.trunc() as i64,
                _ => return Err(verify(format!("header {key:?} time value is not a number"))),
            };
            OffsetDateTime::from_unix_timestamp(secs)
                .map_err(|_| verify(format!("header {key:?} time is out of range")))
        }
        Value::Tag(_, _) => Err(verify("only Tag `1` Datetime CBOR object is supported")),
        _ => Err(verify(format!(
            "header {key:?} time value does not have a tag"
        ))),
    }
}
