//! Conformance over the Notary Project's own vectors (`../shared/testdata/notation`): every
//! signature envelope and every e2e OCI layout, run through the engine with the clock pinned
//! where certificates have since expired, asserting the outcome upstream expects.

mod common;

use std::path::Path;

use common::testdata;
use pullguard::layout::OciLayout;
use pullguard::oci::{Descriptor, ImageRef};
use pullguard::policy::Statement;
use pullguard::revocation::RevocationChecker;
use pullguard::verify::{
    SignatureReport, Source, TrustConfig, VerifyOptions, verify_envelope, verify_image,
};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW_2026: OffsetDateTime = datetime!(2026-11-25 00:00 UTC);

/// A temp policy dir: the given policy document and a copy of the given truststore tree.
fn policy_dir(policy: &str, stores: &[(&str, &str, &Path)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("trustpolicy.json"), policy).unwrap();
    for (kind, name, cert) in stores {
        let d = tmp.path().join("truststore/x509").join(kind).join(name);
        std::fs::create_dir_all(&d).unwrap();
        let file = cert.file_name().unwrap();
        std::fs::copy(cert, d.join(file)).unwrap();
    }
    tmp
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

/// The notation-go verifier trust store tree plus a policy.
fn notation_go_dir(policy: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("trustpolicy.json"), policy).unwrap();
    copy_tree(
        &testdata().join("truststores/notation-go_verifier_testdata_truststore"),
        &tmp.path().join("truststore"),
    );
    tmp
}

fn statement(
    level: &str,
    extra: &str,
    stores: &[&str],
    identities: &[&str],
    scope: &str,
) -> String {
    let q = |v: &[&str]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"test-statement-name","registryScopes":[{scope:?}],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":[{}],"trustedIdentities":[{}]}}]}}"#,
        q(stores),
        q(identities)
    )
}

fn desc(media_type: &str, digest: &str, size: i64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: digest.into(),
        size,
        artifact_type: None,
        annotations: None,
        platform: None,
    }
}

const MOCK_TARGET: (&str, &str, i64) = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e",
    528,
);
const MOCK_SCOPE: &str = "registry.acme-rockets.io/software/net-monitor";

/// `verify_envelope` on a fresh current-thread runtime (OCSP/CRL checks are async).
fn verify_blocking(
    cfg: &TrustConfig,
    stmt: &Statement,
    media_type: &str,
    bytes: &[u8],
    target: &Descriptor,
    now: OffsetDateTime,
) -> SignatureReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rev = RevocationChecker::default();
    rt.block_on(verify_envelope(
        cfg, stmt, media_type, bytes, target, now, &rev,
    ))
}

/// Run one envelope file; returns (passed, error text, validations JSON).
fn run_envelope(
    dir: &Path,
    file: &str,
    media_type: &str,
    target: &Descriptor,
    now: OffsetDateTime,
) -> (bool, String, String) {
    let cfg = TrustConfig::load(dir).unwrap_or_else(|e| panic!("policy: {e:?}"));
    let stmt = &cfg.policy.statements[0];
    let bytes = std::fs::read(testdata().join(file)).unwrap();
    let r = verify_blocking(&cfg, stmt, media_type, &bytes, target, now);
    (
        r.passed(),
        r.error.clone().unwrap_or_default(),
        serde_json::to_string(&r.validations).unwrap(),
    )
}

#[test]
fn notation_go_mock_envelopes() {
    let target = desc(MOCK_TARGET.0, MOCK_TARGET.1, MOCK_TARGET.2);
    let identity = "x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US";
    let stores = ["ca:valid-trust-store", "signingAuthority:valid-trust-store"];
    for scheme in ["ca", "sa"] {
        let valid = format!("envelopes/jws/notation-go_mock_{scheme}_valid_sig_env.json");
        let invalid = format!("envelopes/jws/notation-go_mock_{scheme}_invalid_sig_env.json");
        let expired = format!("envelopes/jws/notation-go_mock_{scheme}_expired_sig_env.json");
        let plugin = format!("envelopes/jws/notation-go_mock_{scheme}_plugin_sig_env.json");
        for level in ["strict", "permissive", "audit"] {
            let dir = notation_go_dir(&statement(level, "", &stores, &[identity], MOCK_SCOPE));
            let (ok, err, _) = run_envelope(
                dir.path(),
                &valid,
                "application/jose+json",
                &target,
                NOW_2026,
            );
            assert!(ok, "{valid} at {level}: {err}");
            let (ok, err, _) = run_envelope(
                dir.path(),
                &invalid,
                "application/jose+json",
                &target,
                NOW_2026,
            );
            assert!(!ok);
            assert!(
                err.contains("signature is invalid. Error: illegal base64 data at input byte 242"),
                "{err}"
            );
            let (ok, err, v) = run_envelope(
                dir.path(),
                &expired,
                "application/jose+json",
                &target,
                NOW_2026,
            );
            assert_eq!(ok, level != "strict", "{expired} at {level}: {err}");
            let msg = r#"digital signature has expired on \"Fri, 29 Jul 2022 23:59:00 +0000\""#;
            assert!(v.contains(msg), "{v}");
            let (ok, err, _) = run_envelope(
                dir.path(),
                &plugin,
                "application/jose+json",
                &target,
                NOW_2026,
            );
            assert!(!ok, "{plugin} must fail without plugin support");
            assert!(err.contains("plugin"), "{err}");
        }
        // Only GlobalSign trusted: authenticity fails (strict, permissive) or is logged (audit).
        let stores2 = [
            "ca:valid-trust-store-2",
            "signingAuthority:valid-trust-store-2",
        ];
        for (level, pass) in [("strict", false), ("permissive", false), ("audit", true)] {
            let dir = notation_go_dir(&statement(level, "", &stores2, &["*"], MOCK_SCOPE));
            let (ok, err, v) = run_envelope(
                dir.path(),
                &valid,
                "application/jose+json",
                &target,
                NOW_2026,
            );
            assert_eq!(ok, pass, "{level}: {err}");
            assert!(
                v.contains("does not contain any trusted certificate"),
                "{v}"
            );
        }
        // A non-matching trusted identity.
        let lol = "x509.subject:CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN";
        let dir = notation_go_dir(&statement("strict", "", &stores, &[lol], MOCK_SCOPE));
        let (ok, err, _) = run_envelope(
            dir.path(),
            &valid,
            "application/jose+json",
            &target,
            NOW_2026,
        );
        assert!(!ok);
        assert!(
            err.contains(r#"signing certificate from the digital signature does not match the X.509 trusted identities [map["C":"IN" "CN":"LOL" "L":"Hyderabad" "O":"DummyOrg" "ST":"TG"]] defined in the trust policy "test-statement-name""#),
            "{err}"
        );
    }
    // Plugin-version vectors: no plugin support, so every one fails closed.
    for f in [
        "compatible_pluginver_sig_env_0.0.9",
        "compatible_pluginver_sig_env_1.0.0-alpha",
        "compatible_pluginver_sig_env_1.0.0-alpha.beta",
        "compatible_pluginver_sig_env_1.0.0",
        "incompatible_pluginver_sig_env_1.0.1",
        "incompatible_pluginver_sig_env_1.0.9",
        "incompatible_pluginver_sig_env_1.1.0-alpha",
        "incompatible_pluginver_sig_env_1.2.3",
    ] {
        let f = format!("envelopes/jws/notation-go_mock_ca_{f}.json");
        let dir = notation_go_dir(&statement(
            "strict",
            "",
            &["ca:valid-trust-store"],
            &["*"],
            MOCK_SCOPE,
        ));
        let (ok, err, _) = run_envelope(dir.path(), &f, "application/jose+json", &target, NOW_2026);
        assert!(!ok && err.contains("plugin"), "{f}: {err}");
    }
}

#[test]
fn notation_go_metadata_envelope_passes_only_at_audit() {
    let target = desc(
        "application/vnd.docker.distribution.manifest.v2+json",
        "sha256:5a07385af4e6b6af81b0ebfd435aedccdfa3507f0609c658209e1aba57159b2b",
        942,
    );
    let f = "envelopes/jws/notation-go_mock_sig_env_with_metadata.json";
    for (level, pass) in [("audit", true), ("permissive", false), ("strict", false)] {
        let dir = notation_go_dir(&statement(
            level,
            "",
            &["ca:valid-trust-store"],
            &["*"],
            MOCK_SCOPE,
        ));
        let (ok, err, _) = run_envelope(dir.path(), f, "application/jose+json", &target, NOW_2026);
        assert_eq!(ok, pass, "{level}: {err}");
    }
}

#[test]
fn notation_go_local_verify_examples() {
    let alpine = testdata().join("certs/roots/notation-go_example_localVerify_alpine.pem");
    let policy = statement(
        "strict",
        r#","override":{"revocation":"skip"}"#,
        &["ca:valid-trust-store"],
        &["*"],
        "example/software",
    );
    let dir = policy_dir(&policy, &[("ca", "valid-trust-store", &alpine)]);
    let target = desc(
        "application/vnd.docker.distribution.manifest.v2+json",
        "sha256:c0d488a800e4127c334ad20d61d7bc21b4097540327217dfab52262adc02380c",
        528,
    );
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/cose/notation-go_example_localVerify.cose",
        "application/cose",
        &target,
        NOW_2026,
    );
    assert!(ok, "{err}");

    let target = desc(
        "application/vnd.oci.image.manifest.v1+json",
        "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        481,
    );
    for (file, mt) in [
        (
            "envelopes/jws/notation-go_internal_jws_signature.jws",
            "application/jose+json",
        ),
        (
            "envelopes/cose/notation-go_internal_cose_signature.cose",
            "application/cose",
        ),
    ] {
        let (ok, err, _) = run_envelope(dir.path(), file, mt, &target, NOW_2026);
        assert!(ok, "{file}: {err}");
        // Any other target digest is a descriptor mismatch.
        let other = desc(&target.media_type, MOCK_TARGET.1, 481);
        let (ok, err, _) = run_envelope(dir.path(), file, mt, &other, NOW_2026);
        assert!(!ok && err.contains("content descriptor mismatch"), "{err}");
    }
}

#[test]
fn notation_go_blob_signatures_verify_as_descriptors() {
    // Blob signatures go through the same pipeline; the blob is hashed with the key's algorithm.
    let blob = std::fs::read(testdata().join("blobs/example-blob.txt")).unwrap();
    let digest = pullguard::oci::digest_with("sha384", &blob).unwrap();
    let cert = testdata().join("certs/roots/notation-go_example_verifyBlob_selfsigned.pem");
    let policy = statement(
        "strict",
        r#","override":{"revocation":"skip"}"#,
        &["ca:valid-trust-store"],
        &["*"],
        "*",
    );
    let dir = policy_dir(&policy, &[("ca", "valid-trust-store", &cert)]);
    let target = desc("video/mp4", &digest, blob.len() as i64);
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/jws/notation-go_example_verifyBlob.jws",
        "application/jose+json",
        &target,
        NOW_2026,
    );
    assert!(ok, "{err}");

    let cert = testdata().join("certs/roots/notation-go_verifier_test_trustedCert.pem");
    let policy = statement("strict", "", &["ca:dummy-ts"], &["*"], "*");
    let dir = policy_dir(&policy, &[("ca", "dummy-ts", &cert)]);
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/jws/notation-go_verifier_test_testSig.jws",
        "application/jose+json",
        &target,
        NOW_2026,
    );
    assert!(ok, "{err}");
    let mut wrong = target.clone();
    wrong.digest.pop();
    wrong.digest.push('2');
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/jws/notation-go_verifier_test_testSig.jws",
        "application/jose+json",
        &wrong,
        NOW_2026,
    );
    assert!(!ok && err.contains("content descriptor mismatch"), "{err}");
}

#[test]
fn notation_e2e_blob_signatures() {
    // Signed by one-day certificates (now expired) with a Microsoft TSA timestamp whose root is
    // not in the vectors: without a tsa store, authenticTimestamp checks validity at "now".
    let blob = std::fs::read(testdata().join("blobs/notation-LICENSE.txt")).unwrap();
    let target = desc(
        "application/octet-stream",
        &pullguard::oci::sha256_digest(&blob),
        blob.len() as i64,
    );
    for (file, mt, signed_at) in [
        (
            "envelopes/jws/notation-e2e_blob.jws",
            "application/jose+json",
            datetime!(2024-12-31 12:00 UTC),
        ),
        (
            "envelopes/cose/notation-e2e_blob.cose",
            "application/cose",
            datetime!(2025-01-07 12:00 UTC),
        ),
    ] {
        let chain = testdata().join(format!(
            "certs/signing/{}.chain.pem",
            file.rsplit('/').next().unwrap()
        ));
        let policy = statement("strict", "", &["ca:e2e"], &["*"], "*");
        let dir = policy_dir(&policy, &[("ca", "e2e", &chain)]);
        let (ok, err, _) = run_envelope(dir.path(), file, mt, &target, NOW_2026);
        assert!(
            !ok && err.contains("authenticTimestamp validation failed")
                && err.contains("it was expired at"),
            "{file}: {err}"
        );
        let (ok, err, _) = run_envelope(dir.path(), file, mt, &target, signed_at);
        assert!(ok, "{file} at its signing day: {err}");
    }
}

#[test]
fn malformed_envelopes_fail_integrity() {
    let dir = notation_go_dir(&statement(
        "audit",
        "",
        &["ca:valid-trust-store"],
        &["*"],
        "*",
    ));
    let target = desc(MOCK_TARGET.0, MOCK_TARGET.1, MOCK_TARGET.2);
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/malformed/notation-e2e_malformed.jws",
        "application/jose+json",
        &target,
        NOW_2026,
    );
    assert!(!ok);
    assert!(
        err.contains("integrity validation failed")
            && err.contains("unable to parse the digital signature"),
        "{err}"
    );
    let (ok, err, _) = run_envelope(
        dir.path(),
        "envelopes/malformed/notation-e2e_invalid-signature_layer.bin",
        "application/vnd.oci.image.layer.v1.tar",
        &target,
        NOW_2026,
    );
    assert!(!ok);
    assert!(err.contains(r#"signature envelope format with media type "application/vnd.oci.image.layer.v1.tar" is not supported"#), "{err}");
    // Truncations of a valid envelope never pass and never panic.
    let good =
        std::fs::read(testdata().join("envelopes/cose/notation-go_example_localVerify.cose"))
            .unwrap();
    let cfg = TrustConfig::load(dir.path()).unwrap();
    for cut in (0..good.len()).step_by(7) {
        let r = verify_blocking(
            &cfg,
            &cfg.policy.statements[0],
            "application/cose",
            &good[..cut],
            &target,
            NOW_2026,
        );
        assert!(!r.passed());
    }
    let good =
        std::fs::read(testdata().join("envelopes/jws/notation-go_mock_ca_valid_sig_env.json"))
            .unwrap();
    for cut in (0..good.len()).step_by(5) {
        let r = verify_blocking(
            &cfg,
            &cfg.policy.statements[0],
            "application/jose+json",
            &good[..cut],
            &target,
            NOW_2026,
        );
        assert!(!r.passed());
    }
}

/// Add an envelope's own chain to ca:valid-trust-store (upstream's store lacks some testTSA certs).
fn trust_chain(dir: &Path, envelope: &str) {
    let name = envelope.rsplit('/').next().unwrap();
    let chain = testdata().join(format!("certs/signing/{name}.chain.pem"));
    let to = dir.join(format!("truststore/x509/ca/valid-trust-store/{name}.pem"));
    std::fs::copy(chain, to).unwrap();
}

#[test]
fn timestamped_envelopes() {
    let ts_policy = |stores: &[&str], extra: &str| statement("strict", extra, stores, &["*"], "*");
    let both = ["ca:valid-trust-store", "tsa:test-timestamp"];
    let target_of = |file: &str| -> Descriptor {
        // The payload names its own target; these vectors are about timestamps, not targets.
        let bytes = std::fs::read(testdata().join(file)).unwrap();
        let env = pullguard::envelope::parse_and_verify(
            if file.ends_with(".cose") {
                "application/cose"
            } else {
                "application/jose+json"
            },
            &bytes,
        )
        .unwrap();
        desc(&env.target.media_type, &env.target.digest, env.target.size)
    };
    let at = datetime!(2024-07-01 00:00 UTC);
    let mt = |f: &str| {
        if f.ends_with(".cose") {
            "application/cose"
        } else {
            "application/jose+json"
        }
    };

    // No timestamp while one is required.
    let f = "envelopes/jws/notation-go_timestamp_withoutTimestamp.jws";
    let dir = notation_go_dir(&ts_policy(&both, ""));
    let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
    assert!(
        !ok && err.contains("no timestamp countersignature was found in the signature envelope"),
        "{err}"
    );

    // Timestamp outside the signing certificate's validity.
    for (f, msg) in [
        (
            "envelopes/jws/notation-go_timestamp_timestampBeforeNotBefore.jws",
            r#"timestamp can be before certificate "CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US" validity period, it will be valid from "Fri, 18 Sep 2099 11:54:34 +0000""#,
        ),
        (
            "envelopes/cose/notation-go_timestamp_timestampAfterNotAfter.cose",
            r#"timestamp can be after certificate "CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US" validity period, it was expired at "Tue, 18 Sep 2001 11:54:34 +0000""#,
        ),
    ] {
        trust_chain(dir.path(), f);
        let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
        assert!(!ok && err.contains(msg), "{f}: {err}");
    }

    // Valid timestamps: everything passes up to the TSA chain's revocation, which needs the
    // network (GlobalSign OCSP/CRL). Offline (this test assumes it), notation reports
    // "revocation status is unknown" and fails at strict; so does pullguard.
    for f in [
        "envelopes/jws/notation-go_timestamp_jwsWithTimestamp.jws",
        "envelopes/cose/notation-go_timestamp_coseWithTimestamp.cose",
        "envelopes/jws/notation-go_timestamp_jwsExpiredWithTimestamp.jws",
        "envelopes/cose/notation-go_timestamp_coseExpiredWithTimestamp.cose",
    ] {
        trust_chain(dir.path(), f);
        let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
        assert!(!ok, "{f}");
        assert!(
            err.contains("timestamping certificate with subject")
                && err.contains("revocation status is unknown"),
            "{f}: {err}"
        );
    }
    // Expired signing cert without a tsa store: plain validity check fails.
    let f = "envelopes/cose/notation-go_timestamp_coseExpiredWithTimestamp.cose";
    let dir = notation_go_dir(&ts_policy(&["ca:valid-trust-store"], ""));
    trust_chain(dir.path(), f);
    let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), NOW_2026);
    assert!(!ok && err.contains(r#"verification time is after certificate "CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US" validity period, it was expired at "Tue, 18 Jun 2024 07:30:31 +0000""#), "{err}");
    // afterCertExpiry with an unexpired signing cert: the timestamp is not checked at all.
    let f = "envelopes/cose/notation-go_timestamp_coseWithTimestamp.cose";
    let dir = notation_go_dir(&ts_policy(&both, r#","verifyTimestamp":"afterCertExpiry""#));
    trust_chain(dir.path(), f);
    let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
    assert!(ok, "{err}");
    // A TSA store that does not anchor the token.
    let f = "envelopes/jws/notation-go_timestamp_jwsWithTimestamp.jws";
    let dir = notation_go_dir(&ts_policy(
        &["ca:valid-trust-store", "tsa:test-mismatch"],
        "",
    ));
    trust_chain(dir.path(), f);
    let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
    assert!(
        !ok && err.contains("failed to verify the timestamp countersignature"),
        "{err}"
    );
    // A missing TSA store.
    let dir = notation_go_dir(&ts_policy(
        &["ca:valid-trust-store", "tsa:does-not-exist"],
        "",
    ));
    trust_chain(dir.path(), f);
    let (ok, err, _) = run_envelope(dir.path(), f, mt(f), &target_of(f), at);
    assert!(
        !ok && err.contains(r#"the trust store "does-not-exist" of type "tsa" does not exist"#),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// e2e OCI layouts, through the full image pipeline (resolve, discover, verify).

async fn layout_outcome(
    layout: &str,
    policy: &str,
    store_cert: &str,
    now: OffsetDateTime,
) -> pullguard::verify::Outcome {
    let cert = testdata().join(store_cert);
    let dir = policy_dir(policy, &[("ca", "e2e", &cert)]);
    let cfg = TrustConfig::load(dir.path()).unwrap();
    let l = OciLayout::open(&testdata().join("oci-layouts").join(layout)).unwrap();
    let image = ImageRef {
        registry: "localhost:5000".into(),
        repository: layout.into(),
        tag: Some("v1".into()),
        digest: None,
    };
    let opts = VerifyOptions {
        now,
        scope: Some(format!("localhost:5000/{layout}")),
        ..VerifyOptions::default()
    };
    verify_image(&cfg, &Source::Layout(&l), &image, &opts).await
}

fn e2e_policy(level: &str) -> String {
    statement(level, "", &["ca:e2e"], &["*"], "*")
}

#[tokio::test]
async fn e2e_layouts() {
    let e2e = "certs/roots/notation-e2e_e2e.crt";
    let o = layout_outcome("e2e", &e2e_policy("strict"), e2e, NOW_2026).await;
    assert!(!o.allowed);
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .contains("no signature is associated with"),
        "{:?}",
        o.reason
    );
    assert_eq!(
        o.digest(),
        Some("sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9")
    );

    let o = layout_outcome("e2e-valid-signature", &e2e_policy("strict"), e2e, NOW_2026).await;
    assert!(o.allowed, "{}", o.summary());
    for (level, pass) in [("strict", false), ("permissive", false), ("audit", true)] {
        let o = layout_outcome(
            "e2e-valid-signature",
            &e2e_policy(level),
            "certs/roots/notation-e2e_new_e2e.crt",
            NOW_2026,
        )
        .await;
        assert_eq!(o.allowed, pass, "{level}: {}", o.summary());
    }
    let o = layout_outcome(
        "e2e-valid-signature",
        &statement("skip", "", &[], &[], "*"),
        e2e,
        NOW_2026,
    )
    .await;
    assert!(o.allowed);

    for (level, pass) in [("strict", false), ("permissive", true), ("audit", true)] {
        let o = layout_outcome("e2e-expired-signature", &e2e_policy(level), e2e, NOW_2026).await;
        assert_eq!(o.allowed, pass, "{level}: {}", o.summary());
        let text = serde_json::to_string(&o).unwrap();
        assert!(text.contains("digital signature has expired on"), "{text}");
        if !pass {
            assert!(
                o.reason
                    .as_deref()
                    .unwrap()
                    .contains("expiry validation failed")
            );
        }
    }

    for level in ["strict", "permissive", "audit"] {
        let o = layout_outcome("e2e-invalid-signature", &e2e_policy(level), e2e, NOW_2026).await;
        assert!(!o.allowed);
        assert!(
            o.reason
                .as_deref()
                .unwrap()
                .contains("integrity validation failed"),
            "{}",
            o.summary()
        );
    }
    let o = layout_outcome(
        "e2e-invalid-signature",
        &statement("skip", "", &[], &[], "*"),
        e2e,
        NOW_2026,
    )
    .await;
    assert!(o.allowed);

    let expired = "certs/roots/notation-e2e_expired_e2e.crt";
    for (level, pass) in [("strict", false), ("permissive", true), ("audit", true)] {
        let o = layout_outcome(
            "e2e-with-expired-cert",
            &e2e_policy(level),
            expired,
            NOW_2026,
        )
        .await;
        assert_eq!(o.allowed, pass, "{level}: {}", o.summary());
        let text = serde_json::to_string(&o).unwrap();
        assert!(
            text.contains(r#"verification time is after certificate \"O=Internet Widgits Pty Ltd,ST=Some-State,C=AU\" validity period, it was expired at \"Tue, 27 Jun 2023 06:10:00 +0000\""#),
            "{text}"
        );
    }

    // Two signatures: the CN=e2e one passes whichever comes first.
    let o = layout_outcome(
        "e2e-valid-multiple-signatures",
        &e2e_policy("strict"),
        e2e,
        NOW_2026,
    )
    .await;
    assert!(o.allowed, "{}", o.summary());
    assert!(
        o.signature
            .as_ref()
            .unwrap()
            .signer
            .as_deref()
            .unwrap()
            .contains("CN=e2e")
    );
}

#[tokio::test]
async fn e2e_timestamped_layouts() {
    // Anchored by the chain's own root; with strict the expiry (2025-01-21) fails now...
    let chain = "certs/signing/notation-e2e_with-timestamped-signature.jws.chain.pem";
    let tmp = tempfile::tempdir().unwrap();
    let pem = std::fs::read_to_string(testdata().join(chain)).unwrap();
    let last = pem.rfind("-----BEGIN CERTIFICATE-----").unwrap();
    std::fs::write(tmp.path().join("root.pem"), &pem[last..]).unwrap();
    let root = tmp.path().join("root.pem");
    let o = layout_outcome(
        "e2e-with-timestamped-signature",
        &e2e_policy("strict"),
        root.to_str().unwrap(),
        NOW_2026,
    )
    .await;
    assert!(!o.allowed);
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .contains("expiry validation failed"),
        "{}",
        o.summary()
    );
    // ...and passes at the moment it was signed (no tsa store: validity checked at that time).
    let o = layout_outcome(
        "e2e-with-timestamped-signature",
        &e2e_policy("strict"),
        root.to_str().unwrap(),
        datetime!(2025-01-21 12:00 UTC),
    )
    .await;
    assert!(
        o.allowed || o.summary().contains("revocation"),
        "{}",
        o.summary()
    );

    // Garbage timestamp with a tsa store that demands it.
    let chain = "certs/signing/notation-e2e_with-invalid-timestamped-signature.jws.chain.pem";
    let pem = std::fs::read_to_string(testdata().join(chain)).unwrap();
    let last = pem.rfind("-----BEGIN CERTIFICATE-----").unwrap();
    std::fs::write(tmp.path().join("root2.pem"), &pem[last..]).unwrap();
    let tsa = testdata().join("certs/tsa-roots/globalsignTSARoot_R6.cer");
    let dir = policy_dir(
        &statement("strict", "", &["ca:e2e", "tsa:ts"], &["*"], "*"),
        &[
            ("ca", "e2e", &tmp.path().join("root2.pem")),
            ("tsa", "ts", &tsa),
        ],
    );
    let cfg = TrustConfig::load(dir.path()).unwrap();
    let l = OciLayout::open(&testdata().join("oci-layouts/e2e-with-invalid-timestamped-signature"))
        .unwrap();
    let image = ImageRef {
        registry: "localhost:5000".into(),
        repository: "x".into(),
        tag: Some("v1".into()),
        digest: None,
    };
    let opts = VerifyOptions {
        now: datetime!(2025-01-10 00:00 UTC),
        ..VerifyOptions::default()
    };
    let o = verify_image(&cfg, &Source::Layout(&l), &image, &opts).await;
    assert!(!o.allowed);
    assert!(o.summary().contains("timestamp"), "{}", o.summary());
}

#[test]
fn source_hash_sees_certificates_move_between_stores() {
    let policy = statement("strict", "", &["ca:a", "ca:b"], &["*"], "*");
    let x = testdata().join("certs/roots/NotationTestRoot.pem");
    let y = testdata().join("certs/roots/wabbit-networks.io.crt");
    let one = policy_dir(&policy, &[("ca", "a", &x), ("ca", "b", &y)]);
    let two = policy_dir(&policy, &[("ca", "a", &y), ("ca", "b", &x)]);
    let h1 = TrustConfig::load(one.path()).unwrap().source_hash;
    let h2 = TrustConfig::load(two.path()).unwrap().source_hash;
    assert_ne!(
        h1, h2,
        "a reload must see certificates swapped between stores"
    );
    let again = TrustConfig::load(one.path()).unwrap().source_hash;
    assert_eq!(h1, again);
}
