//! Statement selection.

use super::*;

#[test]
fn artifact_reference_table() {
    let bytes = fs::read(td("policies/valid/notation-go_oci_dummy.json")).unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let cases = read_json("policies/registry-scope-and-identity-cases.json");
    let refs: Vec<String> = cases["artifactReference_invalid_for_policy_lookup"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(refs.len(), 9);
    let unparsable = |r: &str| {
        format!(
            "artifact URI {} could not be parsed, make sure it is the fully qualified oci artifact URI without the scheme/protocol. e.g domain.com:80/my/repository@sha256:digest",
            q(r)
        )
    };
    let no_policy = |r: &str| {
        format!(
            "artifact {} has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. {LINK_TAIL}",
            q(r)
        )
    };
    for r in &refs {
        let want = match r.as_str() {
            "" | "invaliduri" | "domain.com/repository"
            | "domain.com/repositorysha256:digest" | "domain.com/repositorysha256digest" => {
                unparsable(r)
            }
            "domain.com/repository@sha256:" | "domain.com/repository@sha256"
            | "domain.com/repository@" => no_policy(r),
            "repository@sha256:digest" => "registry scope \"repository\" is not valid, make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout".to_string(),
            other => panic!("unexpected reference in vector file: {other:?}"),
        };
        assert_eq!(
            doc.statement_for(r).err().map(|e| e.to_string()),
            Some(want),
            "ref {r:?}"
        );
    }
    let ok = doc.statement_for("registry.acme-rockets.io/software/net-monitor@sha256:abc");
    assert_eq!(ok.map(|s| s.name.as_str()), Ok("test-statement-name"));
    // The last '@' splits.
    assert!(
        doc.statement_for("registry.acme-rockets.io/software/net-monitor@x@sha256:a")
            .is_err()
    );
    // No prefix matching.
    assert!(
        doc.statement_for("registry.acme-rockets.io/software@sha256:abc")
            .is_err()
    );

    let bytes = fs::read(td(
        "policies/valid/e2e_multi_statements_with_wildcard_registry_scope_trustpolicy.json",
    ))
    .unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    let pick = |r: &str| {
        doc.statement_for(r)
            .map(|s| s.name.clone())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        pick("localhost:5000/test-repo9@sha256:00"),
        Ok("e2e".to_string())
    );
    assert_eq!(
        pick("localhost:5000/other@sha256:00"),
        Ok("e2e2".to_string())
    );
    assert_eq!(
        pick("localhost:5000/test-repo9"),
        Err(unparsable("localhost:5000/test-repo9"))
    );
}

/// `statement_for_scope(s)` is `statement_for(s@digest)` for any digest: the same statement, and
/// the same error for a malformed scope. No digest, no I/O.
#[test]
fn statement_for_scope_is_selection_without_a_digest() {
    let doc = json!({"version": "1.0", "trustPolicies": [
        {"name": "skip-it", "registryScopes": ["x.io/skipped"],
         "signatureVerification": {"level": "skip"}},
        {"name": "exact", "registryScopes": ["x.io/exact", "localhost:5000/a/b"],
         "signatureVerification": {"level": "strict"},
         "trustStores": ["ca:x"], "trustedIdentities": ["*"]},
        {"name": "rest", "registryScopes": ["*"],
         "signatureVerification": {"level": "audit"},
         "trustStores": ["ca:x"], "trustedIdentities": ["*"]}
    ]});
    let doc = PolicyDocument::from_json(&serde_json::to_vec(&doc).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let zero = format!("sha256:{}", "0".repeat(64));
    for (scope, want) in [
        ("x.io/skipped", "skip-it"),
        ("x.io/exact", "exact"),
        ("localhost:5000/a/b", "exact"),
        ("x.io/other", "rest"),
        // No prefix matching.
        ("x.io/skipped/child", "rest"),
    ] {
        let got = doc.statement_for_scope(scope).map(|s| s.name.as_str());
        assert_eq!(got, Ok(want), "scope {scope}");
        for digest in [zero.as_str(), "sha256:abc", ""] {
            let via_ref = doc.statement_for(&format!("{scope}@{digest}"));
            assert_eq!(
                via_ref.map(|s| s.name.as_str()),
                Ok(want),
                "{scope}@{digest}"
            );
        }
    }
    assert!(
        doc.statement_for_scope("x.io/skipped")
            .is_ok_and(|s| s.level.is_skip())
    );
    for bad in ["repository", "x.io/UPPER", "https://x.io/a", "x.io/a*", ""] {
        let err = doc.statement_for_scope(bad).err();
        assert!(err.is_some(), "scope {bad:?}");
        assert_eq!(
            err,
            doc.statement_for(&format!("{bad}@{zero}")).err(),
            "{bad:?}"
        );
    }

    // Without a `*` statement an unmatched scope has no statement, worded for the scope.
    let bytes = fs::read(td("policies/valid/notation-go_oci_dummy.json")).unwrap_or_default();
    let doc = PolicyDocument::from_json(&bytes).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        doc.statement_for_scope("x.io/none").err(),
        Some(PolicyError::NoStatementForScope {
            scope: "x.io/none".into()
        })
    );
    assert_eq!(
        doc.statement_for_scope("x.io/none")
            .err()
            .map(|e| e.to_string()),
        Some(format!(
            "registry scope \"x.io/none\" has no applicable oci trust policy statement. Trust policy applicability for a given artifact is determined by registryScopes. {LINK_TAIL}"
        ))
    );
    assert_eq!(
        doc.statement_for_scope("registry.acme-rockets.io/software/net-monitor")
            .map(|s| s.name.as_str()),
        Ok("test-statement-name")
    );
}
