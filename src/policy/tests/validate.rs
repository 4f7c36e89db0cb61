//! Validation: the vector files, every problem in Go's order, registry scopes.

use super::*;
use crate::policy::validate::{is_scope_domain, is_scope_repository};

struct Expectation {
    valid: bool,
    blob: bool,
    error: Option<String>,
    source: &'static str,
}

/// Every file in policies/valid and policies/invalid against the two expected.json files.
#[test]
fn policy_vectors() {
    let mut expected: HashMap<String, Expectation> = HashMap::new();
    for (rel, source) in [
        (
            "policies/notation-go-unit-policies.expected.json",
            "notation-go-unit",
        ),
        ("policies/e2e-policies.expected.json", "e2e"),
    ] {
        let v = read_json(rel);
        for (section, valid) in [("valid", true), ("invalid", false)] {
            for entry in v[section].as_array().cloned().unwrap_or_default() {
                let file = entry["file"].as_str().unwrap_or_default().to_string();
                let blob = entry["documentType"] == "blob" || file.ends_with(".blob.json");
                let error = entry["expectedError"].as_str().map(str::to_string);
                assert!(valid || error.is_some(), "{file}: no expectedError");
                expected.insert(
                    file,
                    Expectation {
                        valid,
                        blob,
                        error,
                        source,
                    },
                );
            }
        }
    }

    let mut checked: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut unlisted = Vec::new();
    let mut seen = HashSet::new();
    for dir in ["valid", "invalid"] {
        let mut files: Vec<String> = fs::read_dir(td(&format!("policies/{dir}")))
            .unwrap_or_else(|e| panic!("list {dir}: {e}"))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        files.sort();
        for name in files {
            let rel = format!("{dir}/{name}");
            seen.insert(rel.clone());
            let bytes = fs::read(td(&format!("policies/{rel}"))).unwrap_or_default();
            // Blob documents (trustpolicy.blob.json schema) are out of scope. The file
            // notation-go_blob_global_skip_ACCEPTED_BY_GO.json is a blob document although
            // its entry says "oci": read as OCI it lacks registryScopes.
            if name.ends_with(".blob.json") || name.contains("_blob_") {
                skipped.push(rel.clone());
                if name == "notation-go_blob_global_skip_ACCEPTED_BY_GO.json" {
                    assert_eq!(
                        first_error(&bytes).as_deref(),
                        Some(
                            "oci trust policy statement \"global-skip\" has zero registry scopes, it must specify registry scopes with at least one value"
                        )
                    );
                }
                continue;
            }
            let Some(exp) = expected.get(&rel) else {
                unlisted.push(rel);
                continue;
            };
            assert!(!exp.blob, "{rel} is a blob document");
            assert_eq!(
                exp.valid,
                dir == "valid",
                "{rel} listed in the wrong section"
            );
            let counter = checked.entry(exp.source).or_insert((0, 0));
            counter.1 += 1;
            let result = PolicyDocument::from_json(&bytes);
            let ok = match (&result, &exp.error) {
                (Ok(_), None) => true,
                (Err(errs), Some(want)) => errs.first() == Some(want),
                _ => false,
            };
            if ok {
                counter.0 += 1;
            } else {
                failures.push(format!(
                    "{rel}: got {:?}, want {:?}",
                    result.as_ref().err(),
                    exp.error
                ));
            }
        }
    }
    let mut missing: Vec<&String> = expected.keys().filter(|f| !seen.contains(*f)).collect();
    missing.sort();
    eprintln!("policy vectors checked (passed/total): {checked:?}");
    eprintln!("skipped blob documents ({}): {skipped:?}", skipped.len());
    eprintln!(
        "listed in expected.json but absent ({}): {missing:?}",
        missing.len()
    );
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert!(
        unlisted.is_empty(),
        "files without expectation: {unlisted:?}"
    );
    let total: usize = checked.values().map(|c| c.1).sum();
    assert!(total >= 80, "only {total} vectors checked");
}

#[test]
fn valid_documents_are_built() {
    let bytes = fs::read(td(
        "policies/valid/e2e_override_permissive_trustpolicy.json",
    ))
    .unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let st = &doc.statements[0];
    assert_eq!(st.level.name, "custom");
    assert_eq!(st.level.action(ValidationType::Integrity), Action::Enforce);
    assert_eq!(st.level.action(ValidationType::Authenticity), Action::Log);
    assert_eq!(st.level.action(ValidationType::Expiry), Action::Enforce);
    assert_eq!(
        st.level.action(ValidationType::AuthenticTimestamp),
        Action::Enforce
    );
    assert_eq!(st.level.action(ValidationType::Revocation), Action::Enforce);

    let bytes = fs::read(td(
        "policies/valid/e2e_timestamp_after_cert_expiry_trustpolicy.json",
    ))
    .unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let st = &doc.statements[0];
    assert_eq!(st.verify_timestamp, VerifyTimestamp::AfterCertExpiry);
    assert!(st.trust_stores.contains(&TrustStoreRef {
        kind: StoreKind::Tsa,
        name: "e2e".into()
    }));

    let bytes = fs::read(td("policies/valid/notation-go_oci_dummy.json")).unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let st = &doc.statements[0];
    assert_eq!(
        st.level,
        VerificationLevel::preset("strict").unwrap_or_else(|| panic!())
    );
    assert_eq!(st.verify_timestamp, VerifyTimestamp::Always);
    assert_eq!(
        st.trust_stores,
        vec![
            TrustStoreRef {
                kind: StoreKind::Ca,
                name: "valid-trust-store".into()
            },
            TrustStoreRef {
                kind: StoreKind::SigningAuthority,
                name: "valid-trust-store".into()
            }
        ]
    );
    match &st.trusted_identities[..] {
        [TrustedIdentity::X509Subject { raw, attrs }] => {
            assert_eq!(
                raw,
                "x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US"
            );
            assert_eq!(attrs.len(), 5);
            assert_eq!(
                attrs[0],
                ("CN".to_string(), "Notation Test Root".to_string())
            );
        }
        other => panic!("identities {other:?}"),
    }

    let bytes = fs::read(td("policies/valid/e2e_skip_trustpolicy.json")).unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(doc.statements[0].level.is_skip());
    for t in ValidationType::ALL {
        assert_eq!(doc.statements[0].level.action(t), Action::Skip);
    }
    let audit = VerificationLevel::preset("audit").unwrap_or_else(|| panic!());
    assert_eq!(
        audit.actions().map(Action::as_str),
        ["enforce", "log", "log", "log", "log"]
    );
    assert_eq!(
        ValidationType::ALL.map(ValidationType::as_str),
        [
            "integrity",
            "authenticity",
            "authenticTimestamp",
            "expiry",
            "revocation"
        ]
    );
}

#[test]
fn registry_scope_tables() {
    let cases = read_json("policies/registry-scope-and-identity-cases.json");
    let mut n = 0;
    for scope in cases["registryScopes_valid"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let scope = scope.as_str().unwrap_or_default();
        let doc = policy(json!({ "registryScopes": [scope] }));
        assert!(PolicyDocument::from_json(&doc).is_ok(), "scope {scope:?}");
        n += 1;
    }
    for key in [
        "registryScopes_invalid_not_valid_message",
        "registryScopes_invalid_wildcard_message",
    ] {
        let template = cases[key]["error"].as_str().unwrap_or_default();
        for scope in cases[key]["scopes"].as_array().cloned().unwrap_or_default() {
            let scope = scope.as_str().unwrap_or_default();
            let want = template.replace("\"<scope>\"", &q(scope));
            let doc = policy(json!({ "registryScopes": [scope] }));
            assert_eq!(first_error(&doc), Some(want), "scope {scope:?}");
            n += 1;
        }
    }
    assert_eq!(n, 7 + 13 + 4);
}

#[test]
fn registry_scope_collection_is_ordered() {
    let doc = json!({"version": "1.0", "trustPolicies": [
        {"name": "a", "registryScopes": ["x.io/b", "x.io/a", "x.io/b"],
         "signatureVerification": {"level": "skip"}},
        {"name": "b", "registryScopes": ["x.io/a", "*", "bad scope"],
         "signatureVerification": {"level": "skip"}},
        {"name": "c", "registryScopes": [], "signatureVerification": {"level": "skip"}}
    ]});
    let errs = PolicyDocument::from_json(&serde_json::to_vec(&doc).unwrap_or_default())
        .err()
        .unwrap_or_default();
    let tail = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";
    let dup = "is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement";
    assert_eq!(
        errs,
        vec![
            "oci trust policy statement \"b\" uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values".to_string(),
            format!("registry scope \"bad scope\" is not valid, {tail}"),
            "oci trust policy statement \"c\" has zero registry scopes, it must specify registry scopes with at least one value".to_string(),
            format!("registry scope \"x.io/b\" {dup}"),
            format!("registry scope \"x.io/a\" {dup}"),
        ]
    );
}

#[test]
fn all_problems_are_collected_in_go_order() {
    // A raw string keeps the override keys in document order (json! would sort them).
    let doc = r#"{"version": "2.0", "trustPolicies": [
        {"name": "a", "registryScopes": ["x.io/a"],
         "signatureVerification": {"level": "strict",
            "override": {"integrity": "log", "expiry": "skip", "foo": "log", "revocation": "nope"},
            "verifyTimestamp": "never"},
         "trustStores": ["ca", "x:y", "ca:b@d", "tsa:ok"],
         "trustedIdentities": ["*", "", "nosep", "x509.subject:", "x509.subject:C=US",
                               "x509.subject:C=US,ST=WA,O=o", "x509.subject:C=US,ST=WA,O=o,CN=c"]},
        {"name": "a", "registryScopes": ["x.io/a"], "signatureVerification": {"level": "skip"},
         "trustStores": ["ca:x"]}
    ]}"#;
    let errs = PolicyDocument::from_json(doc.as_bytes())
        .err()
        .unwrap_or_default();
    let p = "oci trust policy: trust policy statement \"a\"";
    let sv = format!("{p} has invalid signatureVerification:");
    let want = vec![
        "oci trust policy document uses unsupported version \"2.0\"".to_string(),
        format!("{sv} \"integrity\" verification can not be overridden in custom signature verification"),
        format!("{sv} \"expiry\" verification can not be skipped in custom signature verification"),
        format!("{sv} verification type \"foo\" in custom signature verification is not supported, supported values are [\"integrity\" \"authenticity\" \"authenticTimestamp\" \"expiry\" \"revocation\"]"),
        format!("{sv} verification action \"nope\" in custom signature verification is not supported, supported values are [\"enforce\" \"log\" \"skip\"]"),
        format!("{sv} verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got \"never\""),
        format!("{p} has malformed trust store value \"ca\". The required format is <TrustStoreType>:<TrustStoreName>"),
        format!("{p} uses an unsupported trust store type \"x\" in trust store value \"x:y\""),
        format!("{p} uses an unsupported trust store name \"b@d\" in trust store value \"ca:b@d\". Named store name needs to follow [a-zA-Z0-9_.-]+ format"),
        format!("{p} uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values"),
        format!("{p} has an empty trusted identity"),
        format!("{p} has trusted identity \"nosep\" missing separator"),
        format!("{p} has trusted identity \"x509.subject:\" without an identity value"),
        format!("{p} has trusted identity \"x509.subject:C=US\" with invalid identity value: distinguished name (DN) \"C=US\" has no mandatory RDN attribute for \"ST\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"),
        format!("{p} has overlapping x509 trustedIdentities, \"x509.subject:C=US,ST=WA,O=o\" overlaps with \"x509.subject:C=US,ST=WA,O=o,CN=c\""),
        "multiple oci trust policy statements use the same name \"a\", statement names must be unique".to_string(),
        format!("{p} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped"),
        "registry scope \"x.io/a\" is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement".to_string(),
    ];
    assert_eq!(errs, want);
}

/// The same problems as data: the variants carry what Go's message names, and a malformed
/// document is one `Policy(Malformed)` whose detail is listed after it by `from_json`.
#[test]
fn problems_are_typed() {
    let doc = r#"{"version": "1.0", "trustPolicies": [
        {"name": "a", "registryScopes": ["x.io/a"],
         "signatureVerification": {"level": "strict", "override": {"expiry": "skip"}},
         "trustStores": ["ca:ok"], "trustedIdentities": ["nosep"]},
        {"name": "a", "registryScopes": ["x.io/a"], "signatureVerification": {"level": "skip"}}
    ]}"#;
    let errs = PolicyDocument::validate_json(doc.as_bytes())
        .err()
        .unwrap_or_default();
    let a = || "a".to_string();
    assert_eq!(
        errs,
        vec![
            ValidationError::Statement(StatementError::SignatureVerification {
                statement: a(),
                cause: LevelError::CannotSkip {
                    key: "expiry".into()
                },
            }),
            ValidationError::Statement(StatementError::Identity(IdentityError::MissingSeparator {
                statement: a(),
                identity: "nosep".into()
            })),
            ValidationError::DuplicateName { name: a() },
            ValidationError::DuplicateScope {
                scope: "x.io/a".into()
            },
        ]
    );
    let malformed = PolicyDocument::validate_json(b"{")
        .err()
        .unwrap_or_default();
    assert!(
        matches!(
            malformed.as_slice(),
            [ValidationError::Policy(PolicyError::Malformed {
                detail: Some(_)
            })]
        ),
        "{malformed:?}"
    );
    assert_eq!(
        PolicyDocument::from_json(b"{").err().map(|e| e.len()),
        Some(2)
    );
}

/// The hand matchers of the scope's domain and repository against notation-go's regexps
/// themselves, on every string of a small alphabet up to 5 characters and on random longer
/// ones: the same answer each time.
#[test]
fn scope_matchers_agree_with_notation_go_regexps() {
    let domain = regex::Regex::new(
        r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$",
    )
    .unwrap();
    let repository = regex::Regex::new(
        r"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$",
    )
    .unwrap();
    let alphabet: Vec<char> = "aZ9.-_/:\n".chars().collect();
    let mut strings = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..5 {
        let mut next = Vec::new();
        for s in &frontier {
            for c in &alphabet {
                next.push(format!("{s}{c}"));
            }
        }
        strings.extend(next.iter().cloned());
        frontier = next;
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200_000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = 6 + (seed % 14) as usize;
        for k in 0..len {
            let r = seed.rotate_left(k as u32 * 5) as usize;
            s.push(alphabet[r % alphabet.len()]);
        }
        strings.push(s);
    }
    let (mut d_yes, mut r_yes) = (0, 0);
    for s in &strings {
        assert_eq!(is_scope_domain(s), domain.is_match(s), "domain {s:?}");
        assert_eq!(
            is_scope_repository(s),
            repository.is_match(s),
            "repository {s:?}"
        );
        d_yes += usize::from(domain.is_match(s));
        r_yes += usize::from(repository.is_match(s));
    }
    // Both sides of each matcher were reached.
    assert!(d_yes > 1000 && d_yes < strings.len() / 2, "{d_yes}");
    assert!(r_yes > 500 && r_yes < strings.len() / 2, "{r_yes}");
}
