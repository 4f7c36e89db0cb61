//! The verification drivers shared by the envelope and discovery targets.

use std::sync::Arc;

use pullguard::oci::{Descriptor, ImageRef, MEDIA_DOCKER_MANIFEST};
use pullguard::registry::{Credentials, RegistryClient, RegistryOptions};
use pullguard::verify::{Source, VerifyOptions, verify_envelope, verify_image};

use crate::{NOW, fixture, parts, registry, text};

/// Verify `bytes` as an envelope of `media_type` under every statement of the fixed policy.
pub fn envelope(media_type: &str, bytes: &[u8]) {
    let f = fixture();
    // The descriptor the notation-go mock envelopes sign (others fail the final check).
    let target = Descriptor {
        media_type: MEDIA_DOCKER_MANIFEST.into(),
        digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e".into(),
        size: 528,
        artifact_type: None,
        annotations: None,
        platform: None,
    };
    for stmt in &f.trust.policy.statements {
        let report = f.runtime.block_on(verify_envelope(
            &f.trust,
            stmt,
            media_type,
            bytes,
            &target,
            NOW,
            &f.revocation,
        ));
        let shown = format!("{report:?}");
        if debug() {
            eprintln!("{}: passed={} {shown}", stmt.name, report.passed());
        }
        std::hint::black_box((report.passed(), report.warnings(), shown));
    }
}

fn client(addr: &str) -> &'static RegistryClient {
    static C: std::sync::OnceLock<RegistryClient> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        RegistryClient::new(
            RegistryOptions {
                insecure: vec![addr.to_string()],
                connect_timeout: std::time::Duration::from_secs(2),
                request_timeout: std::time::Duration::from_secs(5),
                // No proxy from the environment: the fuzz registry is in this process.
                hosts: Default::default(),
                proxies: Default::default(),
                http2: false,
                connect_ahead: None,
            },
            Credentials::Fixed(None),
        )
        .unwrap()
    })
}

/// One discovery round against the in-process registry (see [`registry`]).
pub fn discovery(data: &[u8]) {
    let p = parts(data, 7);
    let get = |i: usize| p.get(i).copied().unwrap_or_default();
    let head = text(get(0));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (code, ct) = first.split_once(' ').unwrap_or((first, ""));
    let link = lines.next().unwrap_or("");
    let f = fixture();
    let addr = registry::start();
    // The private readers, on the same answers.
    let _ = pullguard::registry::fuzz_answer(get(1), link, ct, &text(get(6)));
    registry::set(
        code.trim().parse().unwrap_or(200),
        ct.trim(),
        link,
        [get(1), get(2), get(3)],
        get(4),
        get(5),
    );
    let digest = pullguard::oci::sha256_digest(registry::SUBJECT.as_bytes());
    let Ok(image) = ImageRef::parse(&format!("{addr}/fuzz/app@{digest}")) else {
        panic!("the fuzz image reference does not parse");
    };
    let opts = VerifyOptions {
        max_signatures: 4,
        now: NOW,
        scope: None,
        revocation: revocation(),
        ..VerifyOptions::default()
    };
    let out = f.runtime.block_on(verify_image(
        &f.trust,
        &Source::Registry(client(addr)),
        &image,
        &opts,
    ));
    // No real signature signs this subject, and the statement is strict: nothing may pass.
    assert!(
        !out.allowed,
        "an unsigned subject was allowed: {}",
        out.summary()
    );
    let summary = out.summary();
    if debug() {
        eprintln!("allowed={} {summary}", out.allowed);
    }
    std::hint::black_box(summary);
}

/// `PG_FUZZ_DEBUG=1`: print each verdict (to check that seeds reach verification).
fn debug() -> bool {
    static D: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *D.get_or_init(|| std::env::var_os("PG_FUZZ_DEBUG").is_some())
}

fn revocation() -> Arc<pullguard::revocation::RevocationChecker> {
    static R: std::sync::OnceLock<Arc<pullguard::revocation::RevocationChecker>> =
        std::sync::OnceLock::new();
    R.get_or_init(|| Arc::new(pullguard::revocation::RevocationChecker::offline()))
        .clone()
}
