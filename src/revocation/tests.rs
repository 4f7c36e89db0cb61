//! The pure OCSP/CRL judging, the chain verdict and the cache, on the e2e vectors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::cache::*;
use super::checker::*;
use super::crl::*;
use super::ocsp::*;
use super::*;
use crate::x509;
use time::macros::datetime;

fn vectors(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/notation/certs/revocation-e2e")
        .join(name)
}

fn crl_chain() -> Vec<Cert> {
    let pem = std::fs::read(vectors("certchain_with_crl.pem")).unwrap();
    x509::parse_certs(&pem).unwrap()
}

fn crl(name: &str) -> Vec<u8> {
    std::fs::read(vectors(name)).unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-11-25 00:00 UTC);

#[test]
fn crl_vectors() {
    let chain = crl_chain();
    let (leaf, inter, root) = (&chain[0], &chain[1], &chain[2]);
    let good = parse_crl(&crl("leaf.crl"), inter, NOW).unwrap();
    assert_eq!(crl_lookup(&good, leaf, None), Ok(None));
    let revoked = parse_crl(&crl("leaf_revoked.crl"), inter, NOW).unwrap();
    let d = crl_lookup(&revoked, leaf, None).unwrap().unwrap();
    assert!(d.starts_with("revoked at Mon, 11 Nov 2024"), "{d}");
    // The same CRL does not list the intermediate.
    assert_eq!(crl_lookup(&revoked, inter, None), Ok(None));
    let i = parse_crl(&crl("intermediate_revoked.crl"), root, NOW).unwrap();
    assert!(crl_lookup(&i, inter, None).unwrap().is_some());
    assert!(parse_crl(&crl("intermediate.crl"), root, NOW).is_ok());
    // Signed by another key than the issuer's.
    let e = parse_crl(&crl("leaf.crl"), root, NOW).err().unwrap();
    assert!(e.starts_with("CRL is not signed by CA CN=RootCA"), "{e}");
    // Past its nextUpdate (checked after the signature, like notation; leaf_expired.crl is
    // signed by a different intermediate key, so use a good CRL at a later time).
    let e = parse_crl(&crl("leaf.crl"), inter, datetime!(2125-01-01 00:00 UTC))
        .err()
        .unwrap();
    assert!(e.starts_with("expired CRL"), "{e}");
    assert!(parse_crl(&crl("leaf_expired.crl"), inter, NOW).is_err());
    // A leaf cannot sign CRLs; garbage is no CRL.
    let e = parse_crl(&crl("leaf.crl"), leaf, NOW).err().unwrap();
    assert!(e.contains("cannot sign this kind of certificate"), "{e}");
    assert!(parse_crl(b"\x30\x03\x02\x01\x00", inter, NOW).is_err());
    let mut trailing = crl("leaf.crl");
    trailing.push(0);
    assert!(parse_crl(&trailing, inter, NOW).is_err());
}

#[test]
fn invalidity_date_rule() {
    let chain = crl_chain();
    let mut c = parse_crl(&crl("leaf_revoked.crl"), &chain[1], NOW).unwrap();
    let serial = strip_zeros(chain[0].serial()).to_vec();
    let e = c.revoked.get_mut(&serial).unwrap();
    e.invalidity_date = Some(datetime!(2025-06-01 00:00 UTC));
    let before = Some(datetime!(2025-01-01 00:00 UTC));
    let at = Some(datetime!(2025-06-01 00:00 UTC));
    assert_eq!(crl_lookup(&c, &chain[0], before), Ok(None));
    assert!(crl_lookup(&c, &chain[0], at).unwrap().is_some());
    assert!(crl_lookup(&c, &chain[0], None).unwrap().is_some());
    c.revoked.get_mut(&serial).unwrap().bad_critical = Some("bad".into());
    assert_eq!(crl_lookup(&c, &chain[0], None), Err("bad".into()));
}

#[test]
fn final_result_wording_and_order() {
    let chain = crl_chain();
    let leaf = r#""CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;
    let inter = r#""CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;
    let ok = [CertStatus::Good, CertStatus::NonRevokable];
    assert_eq!(final_result(&chain, &ok, Purpose::CodeSigning), Ok(()));
    let s = [
        CertStatus::Unknown("u".into()),
        CertStatus::Revoked("r".into()),
    ];
    assert_eq!(
        text(final_result(&chain, &s, Purpose::CodeSigning)),
        Err(format!(
            "signing certificate with subject {inter} is revoked: r"
        ))
    );
    let s = [
        CertStatus::Unknown("u".into()),
        CertStatus::Unknown("v".into()),
    ];
    assert_eq!(
        text(final_result(&chain, &s, Purpose::Timestamping)),
        Err(format!(
            "timestamping certificate with subject {leaf} revocation status is unknown: u"
        ))
    );
}

#[tokio::test]
async fn no_network_without_urls_or_for_non_http() {
    let rc = RevocationChecker::default();
    let pem = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/testdata/notation/certs/revocation-e2e/ocsp_root.crt"),
    )
    .unwrap();
    let root = x509::parse_certs(&pem).unwrap();
    // A lone root is never checked.
    assert_eq!(
        rc.check_chain(&root, Purpose::CodeSigning, None, NOW).await,
        Ok(())
    );
    assert!(
        rc.check_chain(&[], Purpose::CodeSigning, None, NOW)
            .await
            .is_err()
    );
    assert!(has_scheme("HTTP://x/y", "http"));
    assert!(!has_scheme("https://x/y", "http"));
    assert!(!has_scheme("ldap:///cn=x", "http"));
}

#[tokio::test]
async fn offline_checker_fails_closed_without_asking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/notation/certs/revocation-e2e");
    let chain =
        x509::parse_certs(&std::fs::read(dir.join("certchain_with_ocsp.pem")).unwrap()).unwrap();
    assert!(!chain[0].ocsp_urls().is_empty());
    let e = RevocationChecker::offline()
        .check_chain(&chain, Purpose::CodeSigning, None, NOW)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("revocation status is unknown: offline: the OCSP responder was not asked"),
        "{e}"
    );
}

fn parsed(size: usize, next_update: OffsetDateTime) -> Arc<ParsedCrl> {
    Arc::new(ParsedCrl {
        issuer_fp: "fp".into(),
        next_update,
        revoked: HashMap::new(),
        size,
    })
}

#[test]
fn cache_is_bounded_and_expires() {
    let mut c = CrlCache::default();
    let later = NOW + Duration::from_secs(3600);
    for i in 0..CRL_CACHE_MAX_ENTRIES + 10 {
        c.insert(
            &format!("u{i}"),
            parsed(10, later + Duration::from_secs(i as u64)),
            NOW,
        );
    }
    assert_eq!(c.entries.len(), CRL_CACHE_MAX_ENTRIES);
    assert_eq!(c.bytes, 10 * CRL_CACHE_MAX_ENTRIES);
    // The ones expiring first were evicted.
    assert!(c.get("u0", "fp", NOW).is_none());
    assert!(
        c.get(&format!("u{}", CRL_CACHE_MAX_ENTRIES + 9), "fp", NOW)
            .is_some()
    );
    // Another issuer or a later time misses.
    assert!(c.get("u20", "other", NOW).is_none());
    assert!(
        c.get("u20", "fp", later + Duration::from_secs(7200))
            .is_none()
    );
    // Bytes bound: a huge one pushes others out; a too-huge one is not kept.
    c.insert("big", parsed(CRL_CACHE_MAX_BYTES - 15, later), NOW);
    assert!(c.bytes <= CRL_CACHE_MAX_BYTES);
    assert!(c.get("big", "fp", NOW).is_some());
    c.insert("huge", parsed(CRL_CACHE_MAX_BYTES + 1, later), NOW);
    assert!(c.get("huge", "fp", NOW).is_none());
    // Expired entries go first.
    let mut c = CrlCache::default();
    c.insert("old", parsed(1, NOW), NOW);
    c.insert("new", parsed(1, later), NOW + Duration::from_secs(1));
    assert_eq!(c.entries.len(), 1);
    assert_eq!(c.bytes, 1);
}

#[test]
fn der_helpers() {
    assert_eq!(
        generalized_time(b"20250601123456Z"),
        Some(datetime!(2025-06-01 12:34:56 UTC))
    );
    assert_eq!(
        generalized_time(b"20250601123456.5Z"),
        Some(datetime!(2025-06-01 12:34:56 UTC))
    );
    assert_eq!(generalized_time(b"20251301123456Z"), None);
    assert_eq!(
        openssl_time("Jan  1 00:00:00 2025 GMT"),
        Some(datetime!(2025-01-01 00:00 UTC))
    );
    assert_eq!(
        openssl_time("Nov 11 05:30:52.5 2024 GMT"),
        Some(datetime!(2024-11-11 05:30:52 UTC))
    );
    assert_eq!(openssl_time("Jan  1 00:00:00 2025"), None);
    assert_eq!(generalized_time(b"2025060112345Z"), None);
    assert_eq!(strip_zeros(&[0, 0, 1]), &[1]);
    assert_eq!(strip_zeros(&[0]), &[0]);
    assert_eq!(ocsp_invalidity_date(b"\x30\x00", &[1]), None);
}

/// The seam: the verifier's view (`&dyn RevocationCheck`) of the fake, at pinned times. The
/// verdict over the chain and its wording are the real ones.
#[tokio::test]
async fn fake_through_the_trait_at_a_pinned_time() {
    let chain = crl_chain();
    let (leaf, inter) = (&chain[0], &chain[1]);
    let leaf_q = r#""CN=LeafCert,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;
    let inter_q = r#""CN=IntermediateCA,OU=OrgUnit,O=Organization,L=City,ST=State,C=US""#;
    let at = datetime!(2026-06-01 12:00 UTC);
    let second = time::Duration::seconds(1);
    let fake = FakeRevocation::new().revoked_at(inter, at);
    let rc: &dyn RevocationCheck = &fake;
    let check = async |now| {
        text(
            rc.check_chain(&chain, Purpose::CodeSigning, None, now)
                .await,
        )
    };

    assert_eq!(check(at - second).await, Ok(()));
    let revoked = Err(format!(
        "signing certificate with subject {inter_q} is revoked: revoked at Mon, 01 Jun 2026 12:00:00 +0000"
    ));
    assert_eq!(check(at).await, revoked);
    assert_eq!(check(at + time::Duration::days(400)).await, revoked);
    // The clock is the caller's: every call saw the time it was given.
    assert_eq!(
        fake.calls(),
        vec![at - second, at, at + time::Duration::days(400)]
    );

    // Revoked wins over unknown (even nearer the leaf); unknown names its certificate.
    let fake = FakeRevocation::new()
        .unknown(leaf, "OCSP http://x/: timeout")
        .revoked_at(inter, at);
    let rc: &dyn RevocationCheck = &fake;
    assert_eq!(
        text(
            rc.check_chain(&chain, Purpose::Timestamping, None, at)
                .await
        ),
        Err(format!(
            "timestamping certificate with subject {inter_q} is revoked: revoked at Mon, 01 Jun 2026 12:00:00 +0000"
        ))
    );
    assert_eq!(
        text(
            rc.check_chain(&chain, Purpose::CodeSigning, None, at - second)
                .await
        ),
        Err(format!(
            "signing certificate with subject {leaf_q} revocation status is unknown: OCSP http://x/: timeout"
        ))
    );

    // invalidityDate: a signature authentically made before it still counts.
    let invalid_from = datetime!(2026-03-01 00:00 UTC);
    let fake = FakeRevocation::new().revoked_with_invalidity(leaf, at, invalid_from);
    let rc: &dyn RevocationCheck = &fake;
    let signed = |t| rc.check_chain(&chain, Purpose::CodeSigning, Some(t), at);
    assert_eq!(signed(invalid_from - second).await, Ok(()));
    assert!(signed(invalid_from).await.is_err());
    assert!(
        rc.check_chain(&chain, Purpose::CodeSigning, None, at)
            .await
            .is_err()
    );

    // The root is never judged; an empty chain is the network checker's error.
    let fake = FakeRevocation::new().revoked_at(&chain[2], at);
    let rc: &dyn RevocationCheck = &fake;
    assert_eq!(
        rc.check_chain(&chain, Purpose::CodeSigning, None, at).await,
        Ok(())
    );
    let real: &dyn RevocationCheck = &RevocationChecker::offline();
    assert_eq!(
        rc.check_chain(&[], Purpose::CodeSigning, None, at).await,
        real.check_chain(&[], Purpose::CodeSigning, None, at).await
    );
}

/// The error is data: which certificate, for what, revoked or unknown.
#[tokio::test]
async fn revocation_error_variants() {
    let chain = crl_chain();
    let at = datetime!(2026-06-01 12:00 UTC);
    let fake = FakeRevocation::new()
        .unknown(&chain[0], "d")
        .revoked_at(&chain[1], at);
    let rc: &dyn RevocationCheck = &fake;
    let e = rc
        .check_chain(&chain, Purpose::CodeSigning, None, at)
        .await
        .unwrap_err();
    assert!(e.is_revoked());
    assert!(
        matches!(&e, RevocationError::Revoked { purpose: Purpose::CodeSigning, subject, .. }
        if subject == chain[1].subject())
    );
    let e = rc
        .check_chain(
            &chain,
            Purpose::Timestamping,
            None,
            at - time::Duration::seconds(1),
        )
        .await
        .unwrap_err();
    assert!(!e.is_revoked());
    assert_eq!(
        e,
        RevocationError::Unknown {
            purpose: Purpose::Timestamping,
            subject: chain[0].subject().to_string(),
            detail: "d".into()
        }
    );
    let e = rc
        .check_chain(&[], Purpose::CodeSigning, None, at)
        .await
        .unwrap_err();
    assert_eq!(e, RevocationError::EmptyChain);
}

/// OpenSSL's `OCSP_check_validity` reasons, judged at the given time (300 s of skew).
#[test]
fn ocsp_currency_at_the_given_time() {
    let this = datetime!(2026-11-24 00:00 UTC);
    let next = datetime!(2026-11-25 00:00 UTC);
    let s = |n: i64| time::Duration::seconds(n);
    let none: Vec<&str> = Vec::new();
    assert_eq!(validity_problems(Some(this), Some(next), this), none);
    assert_eq!(
        validity_problems(Some(this), Some(next), this - s(300)),
        none
    );
    assert_eq!(
        validity_problems(Some(this), Some(next), this - s(301)),
        ["status not yet valid"]
    );
    assert_eq!(
        validity_problems(Some(this), Some(next), next + s(300)),
        none
    );
    assert_eq!(
        validity_problems(Some(this), Some(next), next + s(301)),
        ["status expired"]
    );
    assert_eq!(
        validity_problems(Some(next), Some(this), next + s(301)),
        ["status expired", "nextupdate before thisupdate"]
    );
    assert_eq!(
        validity_problems(None, None, this),
        ["error in thisupdate field", "error in nextupdate field"]
    );
    assert_eq!(
        openssl_time_exact("Nov 11 05:30:52.25 2024 GMT"),
        Some(datetime!(2024-11-11 05:30:52.25 UTC))
    );
    assert_eq!(openssl_time_exact("Nov 11 05:30:52.x 2024 GMT"), None);
}

/// The exact text of a result (notation's wording is the contract).
fn text(r: Result<(), RevocationError>) -> Result<(), String> {
    r.map_err(|e| e.to_string())
}
