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
