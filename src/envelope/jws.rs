//! JWS (flattened JSON, `application/jose+json`) as notation-core-go's `jws` package reads it
//! (golang-jwt segments, Go `encoding/json` field matching).

use super::*;

pub(crate) fn parse_jws(bytes: &[u8]) -> Result<Envelope, Stage> {
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
                gocompat::base64::go_error_text(seg, &e)
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

/// The members of a JSON object in document order, each with its raw text.
pub(crate) struct OrderedObject(Vec<(String, Box<serde_json::value::RawValue>)>);

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
pub(crate) fn go_fold(s: &str) -> String {
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
pub(crate) const JWS_FIELDS: [&str; 7] = [
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
pub(crate) fn jws_protected(json: &[u8]) -> Result<Protected, Stage> {
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

pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

pub(crate) fn x509_quote(s: &str) -> String {
    crate::gocompat::quote::quote(s)
}

// ---------------------------------------------------------------------------------------------
