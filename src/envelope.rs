//! Notation signature envelopes: JWS (flattened JSON, `application/jose+json`) and COSE_Sign1
//! (`application/cose`). Parsing here is the *integrity* check of the Notary spec: structure,
//! protected headers (`crit` enforced from the protected header only), algorithm derived from the
//! signing certificate, the cryptographic signature, and the certificate chain shape.

use ciborium::Value;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::gocompat;
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
    Other(serde_json::Value),
}

impl HeaderValue {
    fn json(&self) -> serde_json::Value {
        match self {
            HeaderValue::Str(s) => serde_json::Value::String(s.clone()),
            HeaderValue::Time(t) => serde_json::Value::String(
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            ),
            HeaderValue::Other(v) => v.clone(),
        }
    }
}

/// A header label: JWS names, COSE integers or text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Label {
    Int(i128),
    Text(String),
}

impl Label {
    fn text(&self) -> Option<&str> {
        match self {
            Label::Text(t) => Some(t),
            Label::Int(_) => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jws,
    Cose,
}

/// The protected header as notation-core-go reads it.
struct Protected {
    format: Format,
    alg: Option<String>,
    cty: Option<String>,
    /// `crit`, when present (JWS: a non-null array; COSE: the label exists).
    crit: Option<Vec<Label>>,
    /// The Notary system headers (signingScheme, signingTime, authenticSigningTime, expiry),
    /// under their canonical names. JWS: the struct fields Go's decoder filled (names matched
    /// case-insensitively, the last one wins); COSE: those text labels.
    known: Vec<(&'static str, HeaderValue)>,
    /// The extended attributes: JWS: every key but exactly the system header names
    /// (notation-core-go deletes only those); COSE: every label but alg, crit, content type and
    /// the four Notary system headers.
    ext: Vec<(Label, HeaderValue)>,
    /// COSE: every label of the protected map.
    labels: Vec<Label>,
}

impl Protected {
    fn new(format: Format) -> Protected {
        Protected {
            format,
            alg: None,
            cty: None,
            crit: None,
            known: Vec::new(),
            ext: Vec::new(),
            labels: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&HeaderValue> {
        self.known
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    fn set(&mut self, key: &'static str, v: Option<HeaderValue>) {
        self.known.retain(|(k, _)| *k != key);
        if let Some(v) = v {
            self.known.push((key, v));
        }
    }

    fn ext_get(&self, key: &str) -> Option<&HeaderValue> {
        self.ext
            .iter()
            .rev()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }
}

struct SignedAttrs {
    scheme: SigningScheme,
    signing_time: OffsetDateTime,
    expiry: Option<OffsetDateTime>,
    plugin: Option<String>,
    extended: Vec<ExtendedAttribute>,
    plugin_headers: Vec<ExtendedAttribute>,
}

/// The Notary system headers (notation-core-go's `headerKeys` minus alg/cty/crit).
const SYSTEM_HEADERS: [&str; 4] = [
    HDR_SIGNING_SCHEME,
    HDR_SIGNING_TIME,
    HDR_AUTHENTIC_SIGNING_TIME,
    HDR_EXPIRY,
];

/// Go's `time.Time.IsZero`: 0001-01-01T00:00:00Z, which notation-core-go treats as absent.
fn is_go_zero(t: &OffsetDateTime) -> bool {
    t.unix_timestamp() == -62_135_596_800 && t.nanosecond() == 0
}

fn time_of(p: &Protected, key: &str) -> Result<Option<OffsetDateTime>, Stage> {
    match p.get(key) {
        None => Ok(None),
        Some(HeaderValue::Time(t)) => Ok(Some(*t)),
        Some(_) => Err(verify(format!("header {key:?} is not a valid time"))),
    }
}

/// `these required headers are not marked as critical: [...]` (Go prints a slice with `%v`).
fn not_critical(missing: &[&str]) -> Stage {
    verify(format!(
        "these required headers are not marked as critical: [{}]",
        missing.join(" ")
    ))
}

/// The Notary rules on the protected header, per envelope format as notation-core-go applies
/// them (`signature/jws` `validateProtectedHeaders`/`validateCriticalHeaders`, `signature/cose`
/// `validateCritHeaders`/`parseProtectedHeaders`, and the base envelope's
/// `validateSignerInfo`).
fn check_signed_attrs(p: &Protected) -> Result<SignedAttrs, Stage> {
    // Sets, so that a header with many entries costs linear time.
    let crit_set: std::collections::HashSet<&Label> = p.crit.iter().flatten().collect();
    let ext_set: std::collections::HashSet<&Label> = p.ext.iter().map(|(k, _)| k).collect();
    let scheme_str = match p.get(HDR_SIGNING_SCHEME) {
        Some(HeaderValue::Str(s)) => Some(s.clone()),
        Some(_) if p.format == Format::Cose => return Err(verify("invalid signingScheme")),
        // JWS: a non-string value failed decoding already; absent is the empty scheme.
        _ => None,
    };
    let scheme = match scheme_str.as_deref() {
        Some("notary.x509") => Some(SigningScheme::X509),
        Some("notary.x509.signingAuthority") => Some(SigningScheme::SigningAuthority),
        _ => None,
    };
    let signing_time = time_of(p, HDR_SIGNING_TIME)?;
    let authentic = time_of(p, HDR_AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_of(p, HDR_EXPIRY)?;
    let (scheme, time, expiry) = match p.format {
        Format::Jws => {
            let scheme = match scheme {
                Some(SigningScheme::X509) if authentic.is_some() => {
                    return Err(verify(format!(
                        "{HDR_AUTHENTIC_SIGNING_TIME:?} header must not be present for notary.x509 signing scheme"
                    )));
                }
                Some(SigningScheme::SigningAuthority) if signing_time.is_some() => {
                    return Err(verify(format!(
                        "{HDR_SIGNING_TIME:?} header must not be present for notary.x509.signingAuthority signing scheme"
                    )));
                }
                Some(SigningScheme::SigningAuthority) if authentic.is_none() => {
                    return Err(verify(format!(
                        "{HDR_AUTHENTIC_SIGNING_TIME:?} header must be present for notary.x509 signing scheme"
                    )));
                }
                Some(s) => s,
                None => {
                    return Err(verify(format!(
                        "unsupported SigningScheme: `{}`",
                        scheme_str.unwrap_or_default()
                    )));
                }
            };
            // validateCriticalHeaders
            let crit = p.crit.as_deref().unwrap_or_default();
            if crit.is_empty() {
                return Err(verify(r#"missing "crit" header"#));
            }
            let expiry = expiry.filter(|e| !is_go_zero(e));
            let mut must: Vec<&str> = vec![HDR_SIGNING_SCHEME];
            if expiry.is_some() {
                must.push(HDR_EXPIRY);
            }
            if scheme == SigningScheme::SigningAuthority {
                must.push(HDR_AUTHENTIC_SIGNING_TIME);
            }
            for c in crit {
                let name = c.text().unwrap_or_default();
                if let Some(i) = must.iter().position(|m| *m == name) {
                    must.remove(i);
                } else if !ext_set.contains(c) {
                    return Err(verify(format!(
                        "{name:?} header is marked critical but not present"
                    )));
                }
            }
            if !must.is_empty() {
                return Err(not_critical(&must));
            }
            let time = match scheme {
                SigningScheme::X509 => signing_time,
                SigningScheme::SigningAuthority => authentic,
            };
            (scheme, time, expiry)
        }
        Format::Cose => {
            // validateCritHeaders (crit's own shape was checked at decoding).
            let mut must: Vec<&str> = vec![HDR_SIGNING_SCHEME];
            if scheme == Some(SigningScheme::SigningAuthority) {
                must.push(HDR_AUTHENTIC_SIGNING_TIME);
            }
            if p.get(HDR_EXPIRY).is_some() {
                must.push(HDR_EXPIRY);
            }
            must.retain(|m| !crit_set.contains(&Label::Text((*m).to_string())));
            if !must.is_empty() {
                return Err(not_critical(&must));
            }
            let Some(scheme) = scheme else {
                return Err(verify(format!(
                    "unsupported signingScheme: {}",
                    scheme_str.unwrap_or_default()
                )));
            };
            let (label, time) = match scheme {
                SigningScheme::X509 => (HDR_SIGNING_TIME, signing_time),
                SigningScheme::SigningAuthority => (HDR_AUTHENTIC_SIGNING_TIME, authentic),
            };
            if time.is_none() {
                return Err(verify(format!(
                    "invalid signingTime: protected header {label:?} is missing"
                )));
            }
            (scheme, time, expiry.filter(|e| !is_go_zero(e)))
        }
    };
    // validateSignerInfo / validateSigningAndExpiryTime
    let time = time
        .filter(|t| !is_go_zero(t))
        .ok_or_else(|| verify("signing-time not present"))?;
    if let Some(e) = expiry
        && e <= time
    {
        return Err(verify("expiry cannot be equal or before the signing time"));
    }
    let plugin = match p.ext_get(HDR_PLUGIN) {
        None => None,
        Some(HeaderValue::Str(s)) => Some(s.clone()),
        Some(_) => return Err(verify(format!("{HDR_PLUGIN:?} header must be a string"))),
    };
    let is_plugin_header =
        |k: &Label| k.text() == Some(HDR_PLUGIN) || k.text() == Some(HDR_PLUGIN_MIN_VERSION);
    let attr = |(k, v): &(Label, HeaderValue)| ExtendedAttribute {
        key: k.to_string(),
        critical: crit_set.contains(k),
        value: v.json(),
    };
    let extended = p
        .ext
        .iter()
        .filter(|(k, _)| !is_plugin_header(k))
        .map(attr)
        .collect();
    let plugin_headers = p
        .ext
        .iter()
        .filter(|(k, _)| is_plugin_header(k))
        .map(attr)
        .collect();
    Ok(SignedAttrs {
        scheme,
        signing_time: time,
        expiry,
        plugin,
        extended,
        plugin_headers,
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
                // encoding/json decodes a []byte with StdEncoding (\r and \n skipped).
                chain_der.push(
                    gocompat::b64_std(s)
                        .map_err(|e| parse(format!("x5c entry is not valid base64: {e}")))?,
                );
            }
        }
        Some(_) => return Err(parse("x5c must be an array")),
    }
    let timestamp_token = match hdr(HDR_TIMESTAMP) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(
            gocompat::b64_std(s)
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
    // golang-jwt decodes each segment separately (RawURLEncoding, not strict); Go reports the
    // offset within the segment.
    let b64 = |seg: &str| {
        gocompat::b64_raw_url(seg).map_err(|e| {
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

/// The members of a JSON object in document order, each with its raw text.
struct OrderedObject(Vec<(String, Box<serde_json::value::RawValue>)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(OrderedObject(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Go's `encoding/json` field-name folding (`foldName`): ASCII upper-cased, other runes
/// `ToUpper(ToLower(r))`.
fn go_fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                return c.to_ascii_uppercase();
            }
            let mut l = c.to_lowercase();
            let lower = match (l.next(), l.next()) {
                (Some(x), None) => x,
                _ => c,
            };
            let mut u = lower.to_uppercase();
            match (u.next(), u.next()) {
                (Some(x), None) => x,
                _ => lower,
            }
        })
        .collect()
}

/// The `jwsProtectedHeader` struct fields (their JSON names).
const JWS_FIELDS: [&str; 7] = [
    "alg",
    "cty",
    "crit",
    HDR_EXPIRY,
    HDR_SIGNING_SCHEME,
    HDR_SIGNING_TIME,
    HDR_AUTHENTIC_SIGNING_TIME,
];

/// The protected header as notation-core-go's `parseProtectedHeaders` reads it: decoded into
/// the `jwsProtectedHeader` struct with Go's rules (members in document order, a name matches a
/// field exactly or else case-insensitively, the last one wins, `null` leaves a field unset, a
/// time is Go's `time.Time.UnmarshalJSON`: the raw JSON text between the quotes, escapes not
/// decoded, parsed as RFC 3339), then into a map from which exactly the system header names are
/// deleted: what is left are the extended attributes.
fn jws_protected(json: &[u8]) -> Result<Protected, Stage> {
    let bad = |e: String| {
        verify(format!(
            "jws envelope protected header can't be decoded: {e}"
        ))
    };
    let obj: OrderedObject = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let mut p = Protected::new(Format::Jws);
    let mut jwt_alg: Option<String> = None;
    let mut ext_index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (key, raw) in &obj.0 {
        let text = raw.get();
        let is_null = text == "null";
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        // golang-jwt reads the header into a map: the exact "alg" key picks the method.
        if key == "alg" {
            jwt_alg = value.as_str().map(str::to_owned);
        }
        let field = JWS_FIELDS
            .iter()
            .find(|f| **f == key.as_str())
            .or_else(|| JWS_FIELDS.iter().find(|f| go_fold(f) == go_fold(key)));
        let type_err = |want: &str| {
            bad(format!(
                "json: cannot unmarshal {} into Go struct field jwsProtectedHeader.{} of type {want}",
                json_kind(&value),
                field.copied().unwrap_or_default()
            ))
        };
        match field.copied() {
            Some("alg") | Some("cty") | Some(HDR_SIGNING_SCHEME) => {
                let s = match &value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    _ => return Err(type_err("string")),
                };
                match (field.copied(), s) {
                    (Some("alg"), Some(s)) => p.alg = Some(s),
                    (Some("cty"), Some(s)) => p.cty = Some(s),
                    (Some(_), Some(s)) => p.set(HDR_SIGNING_SCHEME, Some(HeaderValue::Str(s))),
                    _ => {}
                }
            }
            Some("crit") => match &value {
                serde_json::Value::Null => p.crit = None,
                serde_json::Value::Array(items) => {
                    let mut crit = Vec::new();
                    for i in items {
                        match i {
                            serde_json::Value::String(s) => crit.push(Label::Text(s.clone())),
                            serde_json::Value::Null => crit.push(Label::Text(String::new())),
                            _ => return Err(type_err("string")),
                        }
                    }
                    p.crit = Some(crit);
                }
                _ => return Err(type_err("[]string")),
            },
            Some(f @ (HDR_EXPIRY | HDR_SIGNING_TIME | HDR_AUTHENTIC_SIGNING_TIME)) => {
                if is_null {
                    p.set(f, None);
                    continue;
                }
                let inner = text
                    .strip_prefix('"')
                    .and_then(|t| t.strip_suffix('"'))
                    .filter(|_| text.len() >= 2)
                    .ok_or_else(|| bad("Time.UnmarshalJSON: input is not a JSON string".into()))?;
                let t = gocompat::parse_rfc3339(inner).ok_or_else(|| {
                    bad(format!(
                        "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse",
                        x509_quote(inner)
                    ))
                })?;
                p.set(f, Some(HeaderValue::Time(t)));
            }
            _ => {}
        }
        // The map pass: every key except exactly the system header names.
        if !JWS_FIELDS.contains(&key.as_str()) {
            let v = match value {
                serde_json::Value::String(s) => HeaderValue::Str(s),
                other => HeaderValue::Other(other),
            };
            // A repeated key keeps its first place and takes the last value (a Go map).
            match ext_index.get(key) {
                Some(&i) => p.ext[i].1 = v,
                None => {
                    ext_index.insert(key.clone(), p.ext.len());
                    p.ext.push((Label::Text(key.clone()), v));
                }
            }
        }
    }
    // golang-jwt: the method named by the map's "alg" must be one of the valid methods, and it
    // is the one the signature is checked with; notation-core-go then takes the struct's.
    match jwt_alg.as_deref() {
        Some(a) if SigAlg::from_jws(a).is_some() => {
            if p.alg.as_deref() != Some(a) {
                return Err(verify(format!(
                    "signature is invalid. Error: token signature is invalid: the signing method {a:?} is not the header's algorithm {:?}",
                    p.alg.as_deref().unwrap_or_default()
                )));
            }
        }
        Some(a) => {
            return Err(verify(format!(
                "signature is invalid. Error: token is unverifiable: signing method {a} is invalid"
            )));
        }
        None => {
            return Err(verify(
                "signature is invalid. Error: token is unverifiable: signing method (alg) is unavailable",
            ));
        }
    }
    Ok(p)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn x509_quote(s: &str) -> String {
    crate::x509::go_quote(s)
}

// ---------------------------------------------------------------------------------------------
// COSE

/// The first two bytes of a COSE_Sign1_Tagged message as go-cose requires them
/// (`sign1MessagePrefix`: tag 18, an array of four).
const SIGN1_PREFIX: [u8; 2] = [0xd2, 0x84];

fn parse_cose(bytes: &[u8]) -> Result<Envelope, Stage> {
    // go-cose: the prefix, then the rest decoded with tags forbidden, definite lengths only,
    // duplicate map keys refused, and no extraneous data.
    if !bytes.starts_with(&SIGN1_PREFIX) {
        return Err(parse("cbor: invalid COSE_Sign1_Tagged object"));
    }
    gocompat::cbor_scan(&bytes[1..], gocompat::CborRules { tags: false }).map_err(parse)?;
    let v: Value = ciborium::from_reader(bytes).map_err(|e| parse(format!("cbor: {e}")))?;
    let items = match v {
        Value::Tag(18, inner) => match *inner {
            Value::Array(items) if items.len() == 4 => items,
            _ => return Err(parse("cbor: COSE_Sign1 must be an array of 4 items")),
        },
        _ => return Err(parse("cbor: invalid COSE_Sign1_Tagged object")),
    };
    let mut it = items.into_iter();
    let (Some(protected_v), Some(unprotected_v), Some(payload_v), Some(sig_v)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(parse("cbor: COSE_Sign1 must be an array of 4 items"));
    };
    let Value::Bytes(protected_bytes) = protected_v else {
        return Err(parse("cbor: require bstr type"));
    };
    let Value::Map(unprotected) = unprotected_v else {
        return Err(parse(
            "cbor: invalid unprotected header: cbor: require map type",
        ));
    };
    let payload = match payload_v {
        Value::Bytes(b) => b,
        Value::Null => return Err(parse("missing payload")),
        _ => return Err(parse("cbor: require bstr type")),
    };
    let signature = match sig_v {
        Value::Bytes(b) if !b.is_empty() => b,
        Value::Bytes(_) | Value::Null => return Err(parse("empty signature")),
        _ => return Err(parse("cbor: require bstr type")),
    };
    check_header_map(&unprotected, false)
        .map_err(|e| parse(format!("cbor: invalid unprotected header: {e}")))?;
    let protected_map = if protected_bytes.is_empty() {
        Vec::new()
    } else {
        if protected_bytes[0] >> 5 != 5 {
            return Err(parse(
                "cbor: invalid protected header: cbor: protected header: require map type",
            ));
        }
        gocompat::cbor_scan(&protected_bytes, gocompat::CborRules { tags: true })
            .map_err(|e| parse(format!("cbor: invalid protected header: {e}")))?;
        let v: Value = ciborium::from_reader(protected_bytes.as_slice())
            .map_err(|e| parse(format!("cbor: invalid protected header: {e}")))?;
        let Value::Map(m) = v else {
            return Err(parse(
                "cbor: invalid protected header: cbor: protected header: require map type",
            ));
        };
        check_header_map(&m, true).map_err(|e| {
            parse(format!(
                "cbor: invalid protected header: protected header: {e}"
            ))
        })?;
        m
    };
    let protected = cose_protected(protected_map)?;

    let mut chain_der = Vec::new();
    let mut timestamp_token = None;
    let mut signing_agent = None;
    for (k, v) in unprotected {
        match (k, v) {
            (Value::Integer(i), v) if i128::from(i) == 33 => match v {
                Value::Array(certs) => {
                    for (n, c) in certs.into_iter().enumerate() {
                        match c {
                            Value::Bytes(b) => chain_der.push(b),
                            _ if n == 0 => {
                                return Err(verify("COSE envelope malformed leaf certificate"));
                            }
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

fn cbor_label(v: &Value) -> Option<Label> {
    match v {
        Value::Integer(i) => Some(Label::Int(i128::from(*i))),
        Value::Text(t) => Some(Label::Text(t.clone())),
        _ => None,
    }
}

/// An integer outside Go's int64 (go-cose decodes with `IntDecConvertSigned`).
fn has_int64_overflow(v: &Value) -> bool {
    match v {
        Value::Integer(i) => i64::try_from(i128::from(*i)).is_err(),
        Value::Array(a) => a.iter().any(has_int64_overflow),
        Value::Map(m) => m
            .iter()
            .any(|(k, v)| has_int64_overflow(k) || has_int64_overflow(v)),
        Value::Tag(_, inner) => has_int64_overflow(inner),
        _ => false,
    }
}

fn bstr(v: &Value) -> bool {
    matches!(v, Value::Bytes(_))
}

/// go-cose's checks on a header map (`validateHeaderLabelCBOR`, the decoder's
/// `DupMapKeyEnforcedAPF` and `IntDecConvertSigned`, `validateHeaderParameters`).
fn check_header_map(m: &[(Value, Value)], protected: bool) -> Result<(), String> {
    // Keys compared as decoded values (1 and a non-minimal 1 are the same key), in one pass.
    let mut seen = std::collections::HashSet::new();
    for (i, (k, _)) in m.iter().enumerate() {
        if !seen.insert(format!("{k:?}")) {
            let shown = match k {
                Value::Text(t) => t.clone(),
                Value::Integer(n) => i128::from(*n).to_string(),
                other => format!("{other:?}"),
            };
            return Err(format!(
                "cbor: found duplicate map key \"{shown}\" at map element index {i}"
            ));
        }
    }
    for (k, v) in m {
        if has_int64_overflow(k) || has_int64_overflow(v) {
            return Err(
                "cbor: cannot unmarshal integer into Go value of type int64 (overflows)".into(),
            );
        }
        let Some(label) = cbor_label(k) else {
            return Err("cbor: header label: require int / tstr type".into());
        };
        let present = |n: i128| {
            seen.contains(&format!(
                "{:?}",
                Value::Integer(n.try_into().unwrap_or(0.into()))
            ))
        };
        let content_type = |what: &str| -> Result<(), String> {
            match v {
                Value::Integer(i) if i128::from(*i) >= 0 => Ok(()),
                Value::Text(t) => {
                    if t.is_empty() {
                        Err(format!(
                            "header parameter: {what}: require non-empty string"
                        ))
                    } else if t.starts_with(' ') || t.ends_with(' ') {
                        Err(format!(
                            "header parameter: {what}: require no leading/trailing whitespace"
                        ))
                    } else if t.matches('/').count() != 1 {
                        Err(format!(
                            "header parameter: {what}: require text of form type/subtype"
                        ))
                    } else {
                        Ok(())
                    }
                }
                _ => Err(format!(
                    "header parameter: {what}: require tstr / uint type"
                )),
            }
        };
        match label {
            Label::Int(1) if !matches!(v, Value::Integer(_) | Value::Text(_)) => {
                return Err("header parameter: alg: require int / tstr type".into());
            }
            Label::Int(2) => {
                if !protected {
                    return Err("header parameter: crit: not allowed".into());
                }
                let Value::Array(labels) = v else {
                    return Err("header parameter: crit: invalid crit header".into());
                };
                if labels.is_empty() {
                    return Err("header parameter: crit: empty crit header".into());
                }
                for l in labels {
                    let Some(l) = cbor_label(l) else {
                        return Err("header parameter: crit: require int / tstr type".into());
                    };
                    let key = match &l {
                        Label::Int(n) => Value::Integer((*n).try_into().unwrap_or(0.into())),
                        Label::Text(t) => Value::Text(t.clone()),
                    };
                    if !seen.contains(&format!("{key:?}")) {
                        return Err(format!(
                            "header parameter: crit: missing critical header: {l}"
                        ));
                    }
                }
            }
            Label::Int(3) => content_type("content type")?,
            Label::Int(16) => content_type("type")?,
            Label::Int(4) if !bstr(v) => {
                return Err("header parameter: kid: require bstr type".into());
            }
            Label::Int(n @ (5 | 6)) => {
                if !bstr(v) {
                    return Err(format!(
                        "header parameter: {}: require bstr type",
                        if n == 5 { "IV" } else { "Partial IV" }
                    ));
                }
                if present(if n == 5 { 6 } else { 5 }) {
                    return Err(
                        "header parameter: IV and PartialIV: parameters must not both be present"
                            .into(),
                    );
                }
            }
            Label::Int(n @ (7 | 9 | 11 | 12)) if protected => {
                return Err(format!(
                    "header parameter: counter signature {n}: not allowed"
                ));
            }
            Label::Int(n @ (9 | 12)) if !bstr(v) => {
                return Err(format!(
                    "header parameter: countersignature {n}: require bstr type"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn cose_protected(map: Vec<(Value, Value)>) -> Result<Protected, Stage> {
    let mut p = Protected::new(Format::Cose);
    for (k, v) in map {
        let Some(label) = cbor_label(&k) else {
            return Err(verify("COSE header labels must be integers or text"));
        };
        p.labels.push(label.clone());
        match &label {
            Label::Int(1) => {
                let Value::Integer(a) = v else {
                    return Err(verify("algorithm not supported"));
                };
                let a = i128::from(a);
                let alg = i64::try_from(a)
                    .ok()
                    .and_then(SigAlg::from_cose)
                    .ok_or_else(|| verify(format!("signature algorithm not supported: {a}")))?;
                p.alg = Some(alg.as_jws().to_string());
            }
            Label::Int(2) => {
                let Value::Array(arr) = v else {
                    return Err(verify("invalid crit header"));
                };
                p.crit = Some(arr.iter().filter_map(cbor_label).collect());
            }
            Label::Int(3) => match v {
                Value::Text(t) => p.cty = Some(t),
                _ => return Err(verify("content type should be of 'tstr' type")),
            },
            Label::Text(key) if SYSTEM_HEADERS.contains(&key.as_str()) => {
                let name = SYSTEM_HEADERS
                    .iter()
                    .copied()
                    .find(|h| h == key)
                    .unwrap_or_default();
                let value = if name == HDR_SIGNING_SCHEME {
                    match v {
                        Value::Text(s) => HeaderValue::Str(s),
                        _ => HeaderValue::Other(serde_json::Value::Null),
                    }
                } else {
                    HeaderValue::Time(cose_time(name, v)?)
                };
                p.set(name, Some(value));
            }
            _ => {
                let value = match v {
                    Value::Text(s) => HeaderValue::Str(s),
                    other => HeaderValue::Other(cbor_to_json(&other)),
                };
                p.ext.push((label, value));
            }
        }
    }
    Ok(p)
}

/// notation-core-go's `parseTime`: a tag 1 date-time (what fxamacker/cbor decodes to a
/// `time.Time` and notation accepts); any other value is refused.
fn cose_time(key: &str, v: Value) -> Result<OffsetDateTime, Stage> {
    let what = if key == HDR_EXPIRY {
        "invalid expiry"
    } else {
        "invalid signingTime"
    };
    match v {
        Value::Tag(1, inner) => {
            let t = match *inner {
                Value::Integer(i) => i64::try_from(i128::from(i))
                    .ok()
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()),
                Value::Float(f) if f.is_finite() => {
                    let secs = f.trunc();
                    let nanos = ((f - secs) * 1e9) as i64;
                    OffsetDateTime::from_unix_timestamp(secs as i64)
                        .ok()
                        .and_then(|t| t.checked_add(time::Duration::nanoseconds(nanos)))
                }
                _ => None,
            };
            t.ok_or_else(|| verify(format!("{what}: header {key:?} time value is out of range")))
        }
        Value::Tag(0, _) => Err(verify(format!(
            "{what}: only Tag `1` Datetime CBOR object is supported"
        ))),
        _ => Err(verify(format!("{what}: invalid timeValue type"))),
    }
}

/// A CBOR value as JSON, the way Go's `encoding/json` would marshal what fxamacker/cbor
/// decodes it to (byte strings as base64, maps with text keys; others stringified).
fn cbor_to_json(v: &Value) -> serde_json::Value {
    use base64::Engine as _;
    match v {
        Value::Integer(i) => {
            let n = i128::from(*i);
            i64::try_from(n).map_or(serde_json::Value::Null, |n| n.into())
        }
        Value::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Text(t) => t.clone().into(),
        Value::Bool(b) => (*b).into(),
        Value::Null => serde_json::Value::Null,
        Value::Tag(_, inner) => cbor_to_json(inner),
        Value::Array(a) => a.iter().map(cbor_to_json).collect::<Vec<_>>().into(),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(t) => t.clone(),
                        other => cbor_to_json(other).to_string(),
                    };
                    (key, cbor_to_json(v))
                })
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Headers with very many entries (50,000 each, crit naming all of them) are refused with an
    /// error, not a panic. The duplicate and crit checks use sets, so this is linear; the speed
    /// itself is not asserted here (no timed unit tests): the fuzz targets' per-input timeout
    /// is where a quadratic check would show.
    #[test]
    fn large_headers_are_refused() {
        use base64::Engine as _;
        let n = 50_000;
        // COSE: a protected map of n text labels, crit naming all of them.
        let mut pairs: Vec<(Value, Value)> = (0..n)
            .map(|i| (Value::Text(format!("k{i}")), Value::Integer(1.into())))
            .collect();
        let crit = Value::Array((0..n).map(|i| Value::Text(format!("k{i}"))).collect());
        pairs.push((Value::Integer(2.into()), crit));
        let mut prot = Vec::new();
        ciborium::into_writer(&Value::Map(pairs), &mut prot).unwrap_or_default();
        let msg = Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(prot),
                Value::Map(vec![]),
                Value::Bytes(b"{}".to_vec()),
                Value::Bytes(vec![1]),
            ])),
        );
        let mut bytes = Vec::new();
        ciborium::into_writer(&msg, &mut bytes).unwrap_or_default();
        assert!(parse_and_verify(MEDIA_TYPE_COSE, &bytes).is_err());

        // JWS: a protected header of n keys, crit naming all of them.
        let mut h = serde_json::Map::new();
        for i in 0..n {
            h.insert(format!("k{i}"), "v".into());
        }
        h.insert("alg".into(), "PS256".into());
        h.insert(
            "crit".into(),
            (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>().into(),
        );
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let env = serde_json::json!({
            "protected": b64.encode(serde_json::to_vec(&h).unwrap_or_default()),
            "payload": b64.encode(b"{}"),
            "signature": b64.encode([1u8]),
            "header": {"x5c": ["AAAA"]},
        });
        assert!(
            parse_and_verify(
                MEDIA_TYPE_JWS,
                &serde_json::to_vec(&env).unwrap_or_default()
            )
            .is_err()
        );
    }
}
