//! JSON decoding as Go's `encoding/json` does it.

use super::*;

#[test]
fn json_decoding_like_go() {
    let ok = |s: &str| PolicyDocument::from_json(s.as_bytes());
    let first = |s: &str| first_error(s.as_bytes());
    let malformed = format!("malformed trust policy. {LINK_TAIL}");
    let st = r#"{"name":"n","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:x"],"trustedIdentities":["*"]}"#;

    // Case-insensitive keys, unknown keys ignored, U+017F folds to 's'.
    let doc = ok(r#"{"VERSION":"1.0","TrustPolicies":[{"NAME":"n","registryscopes":["*"],
        "SignatureVerification":{"LEVEL":"audit","Override":{"expiry":"enforce"},"VERIFYtimestamp":"afterCertExpiry"},
        "trustſtores":["ca:x"],"TRUSTEDIDENTITIES":["*"],"globalPolicy":true,"x":{"y":[1,2.5e3,-0,true,null]}}]}"#)
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(doc.statements[0].level.name, "custom");
    assert_eq!(
        doc.statements[0].level.action(ValidationType::Expiry),
        Action::Enforce
    );
    assert_eq!(
        doc.statements[0].verify_timestamp,
        VerifyTimestamp::AfterCertExpiry
    );
    assert_eq!(doc.statements[0].trust_stores.len(), 1);
    // U+017F folds to 's'; 'é' folds to nothing ASCII, so "vérsion" is an unknown key.
    assert!(
        ok(&format!(
            r#"{{"verſion":"1.0","vérsion":"2","trustPolicies":[{st}]}}"#
        ))
        .is_ok()
    );

    // Later duplicate keys win; objects merge.
    assert!(
        ok(&format!(
            r#"{{"version":"2","version":"1.0","trustPolicies":[{st}]}}"#
        ))
        .is_ok()
    );
    let merged = format!(
        r#"{{"version":"1.0","trustPolicies":[{st}],"trustPolicies":[{{"signatureVerification":{{"override":{{"expiry":"log"}}}},"signatureVerification":{{"override":{{"revocation":"skip"}}}}}}]}}"#
    );
    let doc = ok(&merged).unwrap_or_else(|e| panic!("{e:?}"));
    let level = &doc.statements[0].level;
    assert_eq!(level.name, "custom");
    assert_eq!(level.action(ValidationType::Expiry), Action::Log);
    assert_eq!(level.action(ValidationType::Revocation), Action::Skip);
    assert_eq!(doc.statements[0].name, "n");

    // null: string unchanged, list/map reset, new list element zero.
    assert!(
        ok(&format!(
            r#"{{"version":"1.0","version":null,"trustPolicies":[{st}]}}"#
        ))
        .is_ok()
    );
    assert_eq!(
        first(&format!(
            r#"{{"version":"1.0","trustPolicies":[{st}],"trustPolicies":null}}"#
        )),
        Some("oci trust policy document can not have zero trust policy statements".into())
    );
    assert_eq!(
        first(&policy_str(r#""trustStores":["ca:x",null]"#)),
        Some("oci trust policy: trust policy statement \"n\" has malformed trust store value \"\". The required format is <TrustStoreType>:<TrustStoreName>".into())
    );
    assert_eq!(
        first(&policy_str(r#""signatureVerification":{"level":"strict","override":{"expiry":null}}"#)),
        Some("oci trust policy: trust policy statement \"n\" has invalid signatureVerification: verification action \"\" in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]".into())
    );
    assert!(
        ok(&policy_str(
            r#""signatureVerification":{"level":"strict","override":null}"#
        ))
        .is_ok()
    );
    assert!(
        ok(&policy_str(
            r#""signatureVerification":{"level":"strict","override":{}}"#
        ))
        .is_ok()
    );

    // Only the first JSON value is read.
    assert!(
        ok(&format!(
            r#"{{"version":"1.0","trustPolicies":[{st}]}} trailing {{ junk"#
        ))
        .is_ok()
    );
    let empty_version =
        Some("oci trust policy document has empty version, version must be specified".to_string());
    assert_eq!(first("null"), empty_version);
    assert_eq!(first(" null x"), empty_version);
    assert_eq!(first("{}"), empty_version);
    for bad in [
        "",
        "   ",
        "nullx",
        "[]",
        "\"s\"",
        "1",
        "true",
        "\u{feff}{}",
        "{\"version\":1}",
        "{\"version\":\"1.0\",}",
        "{\"trustPolicies\":[1]}",
        "{\"trustPolicies\":{}}",
        "{\"trustPolicies\":[{\"trustStores\":\"ca:x\"}]}",
        "{\"version\":\"1.0\"",
        "{\"version\":\"a\u{1}b\"}",
        "{\"version\":\"\\x\"}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{'a':1}",
    ] {
        assert_eq!(
            first(bad).as_deref(),
            Some(malformed.as_str()),
            "input {bad:?}"
        );
        let errs = PolicyDocument::from_json(bad.as_bytes())
            .err()
            .unwrap_or_default();
        assert_eq!(errs.len(), 2, "detail for {bad:?}");
    }
    // Nesting: 10000 levels are fine, 10001 are not (Go's maxNestingDepth).
    let nest = |n: usize| {
        format!(
            r#"{{"version":"1.0","trustPolicies":[{st}],"x":{}1{}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    assert!(ok(&nest(9_999)).is_ok());
    assert_eq!(first(&nest(10_000)).as_deref(), Some(malformed.as_str()));

    // Strings: invalid UTF-8 and lone surrogates become U+FFFD; pairs decode.
    let mut bytes = br#"{"version":"1.0","trustPolicies":[{"name":"a"#.to_vec();
    bytes.extend_from_slice(&[0xff, 0xe2, 0x82]);
    bytes.extend_from_slice(br#"\ud800\u0041\ud83d\ude00","registryScopes":["*"],"signatureVerification":{"level":"x"}}]}"#);
    assert_eq!(
        first_error(&bytes),
        Some("oci trust policy: trust policy statement \"a\u{fffd}\u{fffd}\u{fffd}\u{fffd}A😀\" has invalid signatureVerification: invalid signature verification level \"x\"".into())
    );
}

fn policy_str(fields: &str) -> String {
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"n","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:x"],"trustedIdentities":["*"],{fields}}}]}}"#
    )
}
