//! COSE_Sign1 (`application/cose`) as go-cose reads it, with fxamacker/cbor's decoding rules.

use super::*;

/// The first two bytes of a COSE_Sign1_Tagged message as go-cose requires them
/// (`sign1MessagePrefix`: tag 18, an array of four).
pub(crate) const SIGN1_PREFIX: [u8; 2] = [0xd2, 0x84];

pub(crate) fn parse_cose(bytes: &[u8]) -> Result<Envelope, Stage> {
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

pub(crate) fn cbor_label(v: &Value) -> Option<Label> {
    match v {
        Value::Integer(i) => Some(Label::Int(i128::from(*i))),
        Value::Text(t) => Some(Label::Text(t.clone())),
        _ => None,
    }
}

/// An integer outside Go's int64 (go-cose decodes with `IntDecConvertSigned`).
pub(crate) fn has_int64_overflow(v: &Value) -> bool {
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

pub(crate) fn bstr(v: &Value) -> bool {
    matches!(v, Value::Bytes(_))
}

/// go-cose's checks on a header map (`validateHeaderLabelCBOR`, the decoder's
/// `DupMapKeyEnforcedAPF` and `IntDecConvertSigned`, `validateHeaderParameters`).
pub(crate) fn check_header_map(m: &[(Value, Value)], protected: bool) -> Result<(), String> {
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

pub(crate) fn cose_protected(map: Vec<(Value, Value)>) -> Result<Protected, Stage> {
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
pub(crate) fn cose_time(key: &str, v: Value) -> Result<OffsetDateTime, Stage> {
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
pub(crate) fn cbor_to_json(v: &Value) -> serde_json::Value {
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
