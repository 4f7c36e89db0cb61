//! The whole gate in process: `Gate::check` on a FAKE in-memory registry
//! (`common::fake_registry`), the test PKI's signatures, a pinned clock and tokio's paused
//! time for the verdict cache. No network, no peers: each test runs in well under a second.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fake_registry::{FakeRegistry, MANIFEST, sign, trust_everything};
use common::*;
use pullguard::gate::{Clock, Evidence, Gate, GateOptions, Platform, Request, Verdict};
use pullguard::oci::{Descriptor, ImageRef};
use time::OffsetDateTime;

const EC: KeySpec = KeySpec::Ec(openssl::nid::Nid::X9_62_PRIME256V1);

/// A clock the test sets.
struct TestClock(Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

struct World {
    _dir: tempfile::TempDir,
    pki: Pki,
    registry: Arc<FakeRegistry>,
    clock: Arc<TestClock>,
    gate: Gate,
}

/// A trust policy for every scope, trusting `pki`'s root (revocation skipped: the test PKI
/// names no OCSP or CRL server), a fake registry and a gate on both.
fn world(opts: GateOptions) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(EC, "pipeline", CertOpts::default());
    let trust = trust_everything(dir.path(), &pki);
    let registry = Arc::new(FakeRegistry::default());
    let clock = Arc::new(TestClock(Mutex::new(OffsetDateTime::now_utc())));
    let gate = Gate::with_registry(trust, registry.clone(), opts, clock.clone());
    World {
        _dir: dir,
        pki,
        registry,
        clock,
        gate,
    }
}

fn req(reference: &str) -> Request {
    Request::new(ImageRef::parse(reference).unwrap(), "tests")
}

fn denial(v: Verdict) -> pullguard::gate::Denial {
    match v {
        Ok(v) => panic!("allowed: {}", v.summary()),
        Err(d) => d,
    }
}

fn verifications(w: &World) -> u64 {
    w.gate.counters.verifications.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn a_signed_image_is_verified_and_pinned_to_its_digest() {
    let w = world(GateOptions::default());
    let image = w.registry.push_image(Some("v1"), "signed");
    w.registry.attach(&image, &sign(&w.pki, &image, None));
    let v = w.gate.check(&req("fake.test/app:v1")).await.unwrap();
    assert_eq!(v.digest(), image.digest);
    assert_eq!(v.descriptor().media_type, MANIFEST);
    assert_eq!(v.policy(), "tests");
    let Evidence::Signature(report) = v.evidence() else {
        panic!("not a signature: {:?}", v.evidence());
    };
    assert!(report.signer.as_deref().unwrap().contains("CN=pipeline"));
    assert!(v.summary().starts_with("allowed fake.test/app:v1 ("));
    // The manifest this verdict was made on comes with it.
    assert_eq!(v.manifest().unwrap().digest, image.digest);
}

#[tokio::test(start_paused = true)]
async fn an_unsigned_image_is_denied_with_the_one_line() {
    let w = world(GateOptions::default());
    let image = w.registry.push_image(Some("v1"), "unsigned");
    let d = denial(w.gate.check(&req("fake.test/app:v1")).await);
    assert_eq!(d.digest(), Some(image.digest.as_str()));
    assert_eq!(d.policy(), Some("tests"));
    assert!(!d.is_transient());
    assert_eq!(
        d.to_string(),
        format!(
            "denied fake.test/app:v1 ({}) under trust policy \"tests\": no signature is associated with \"fake.test/app@{}\", make sure the artifact was signed successfully",
            image.digest, image.digest
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_signature_by_an_untrusted_signer_is_denied() {
    let w = world(GateOptions::default());
    let image = w.registry.push_image(Some("v1"), "other");
    let stranger = pki(EC, "stranger", CertOpts::default());
    w.registry.attach(&image, &sign(&stranger, &image, None));
    let d = denial(w.gate.check(&req("fake.test/app:v1")).await);
    assert!(
        d.reason().contains("authenticity validation failed. Failure reason: the signature's certificate chain does not contain any trusted certificate"),
        "{d}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_allow_is_remembered_for_the_positive_lifetime() {
    let w = world(GateOptions::default()); // positive 300 s
    let image = w.registry.push_image(Some("v1"), "cached");
    w.registry.attach(&image, &sign(&w.pki, &image, None));
    let r = req(&format!("fake.test/app@{}", image.digest));
    w.gate.check(&r).await.unwrap();
    tokio::time::advance(Duration::from_secs(299)).await;
    w.gate.check(&r).await.unwrap();
    assert_eq!(verifications(&w), 1);
    // A fresh verdict for a digest needs no registry round trip at all.
    assert_eq!(w.registry.resolves.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    w.gate.check(&r).await.unwrap();
    assert_eq!(verifications(&w), 2);
}

#[tokio::test(start_paused = true)]
async fn a_denial_is_remembered_for_the_negative_lifetime() {
    let w = world(GateOptions::default()); // negative 5 s
    w.registry.push_image(Some("v1"), "denied");
    let r = req("fake.test/app:v1");
    denial(w.gate.check(&r).await);
    tokio::time::advance(Duration::from_millis(4900)).await;
    denial(w.gate.check(&r).await);
    assert_eq!(verifications(&w), 1);
    tokio::time::advance(Duration::from_millis(200)).await;
    denial(w.gate.check(&r).await);
    assert_eq!(verifications(&w), 2);
}

#[tokio::test(start_paused = true)]
async fn a_registry_that_is_down_is_a_transient_denial_remembered_briefly() {
    let w = world(GateOptions::default()); // transient 1 s
    let image = w.registry.push_image(Some("v1"), "down");
    w.registry.attach(&image, &sign(&w.pki, &image, None));
    w.registry.listing_down.store(true, Ordering::SeqCst);
    let r = req("fake.test/app:v1");
    let d = denial(w.gate.check(&r).await);
    assert!(d.is_transient(), "{d}");
    assert!(
        d.reason()
            .starts_with("cannot list signatures: registry request failed"),
        "{d}"
    );
    // Still remembered within the transient lifetime ...
    tokio::time::advance(Duration::from_millis(900)).await;
    assert!(denial(w.gate.check(&r).await).is_transient());
    assert_eq!(verifications(&w), 1);
    // ... and asked again after it (well before the 5 s of a real denial): now it answers.
    w.registry.listing_down.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_millis(200)).await;
    assert_eq!(w.gate.check(&r).await.unwrap().digest(), image.digest);
    assert_eq!(verifications(&w), 2);

    // Resolving against a registry that is down: transient too, and not cached at all.
    w.registry.resolve_down.store(true, Ordering::SeqCst);
    let d = denial(w.gate.check(&req("fake.test/app:v2")).await);
    assert!(d.is_transient() && d.digest().is_none(), "{d}");
    assert!(d.to_string().starts_with("denied fake.test/app:v2 (unresolved): cannot resolve the image: registry request failed"), "{d}");
}

#[tokio::test(start_paused = true)]
async fn a_signature_expires_at_the_pinned_time() {
    let w = world(GateOptions {
        positive_ttl: Duration::ZERO,
        ..GateOptions::default()
    });
    let image = w.registry.push_image(Some("v1"), "expiring");
    let expiry = rfc3339(1);
    w.registry
        .attach(&image, &sign(&w.pki, &image, Some(&expiry)));
    let r = req("fake.test/app:v1");
    w.gate.check(&r).await.unwrap();
    *w.clock.0.lock().unwrap() += time::Duration::days(2);
    let d = denial(w.gate.check(&r).await);
    assert!(
        d.reason()
            .contains("expiry validation failed. Failure reason: digital signature has expired on"),
        "{d}"
    );
}

/// An index (signed) of an amd64 and an arm64 manifest; only amd64 signed when `sign_child`.
fn platform_world(require: bool, sign_child: bool) -> (World, Descriptor, Descriptor) {
    let w = world(GateOptions {
        require_platform_signature: require,
        ..GateOptions::default()
    });
    let amd = w.registry.push_image(None, "amd64");
    let arm = w.registry.push_image(None, "arm64");
    let index = w.registry.push_index(
        Some("multi"),
        &[(&amd, "linux/amd64"), (&arm, "linux/arm64")],
    );
    w.registry.attach(&index, &sign(&w.pki, &index, None));
    if sign_child {
        w.registry.attach(&amd, &sign(&w.pki, &amd, None));
    }
    (w, index, amd)
}

#[tokio::test(start_paused = true)]
async fn the_platform_rule_is_applied_inside_the_gate() {
    let amd64 = || req("fake.test/app:multi").platform(Platform::Pick(Some("linux/amd64".into())));
    // Off: the index's signature lets the index in.
    let (w, index, _) = platform_world(false, false);
    assert_eq!(w.gate.check(&amd64()).await.unwrap().digest(), index.digest);
    // On: the child that will run must verify on its own ...
    let (w, index, amd) = platform_world(true, false);
    let d = denial(w.gate.check(&amd64()).await);
    assert!(
        d.reason().starts_with(&format!(
            "the platform manifest {} of index {} must be signed too (require_platform_signature): no signature is associated with",
            amd.digest, index.digest
        )),
        "{d}"
    );
    // ... and when it does, the verdict pins the child.
    let (w, _, amd) = platform_world(true, true);
    assert_eq!(w.gate.check(&amd64()).await.unwrap().digest(), amd.digest);
    // An index served as it is (the mirror) is not resolved to a child.
    let served = req("fake.test/app:multi").platform(Platform::Served);
    let (w, index, _) = platform_world(true, false);
    assert_eq!(w.gate.check(&served).await.unwrap().digest(), index.digest);
}

/// Where the platform that will run is not known (the containerd verifier, `ctl verify`, the
/// store, a Docker create or start), the rule wants every runnable child signed: a signed
/// amd64 child does not let an index with an unsigned arm64 child in (`ctr pull --platform
/// linux/arm64` would run that one).
#[tokio::test(start_paused = true)]
async fn with_the_platform_unknown_every_child_must_verify() {
    let every = || req("fake.test/app:multi").platform(Platform::Every);
    // Off: the index's signature is enough.
    let (w, index, _) = platform_world(false, false);
    assert_eq!(w.gate.check(&every()).await.unwrap().digest(), index.digest);
    // On, amd64 signed and arm64 not: denied, naming the arm64 child.
    let (w, index, _) = platform_world(true, true);
    let d = denial(w.gate.check(&every()).await);
    assert!(
        d.reason()
            .contains(&format!("(linux/arm64) of index {}", index.digest))
            && d.reason().contains("every one must verify"),
        "{d}"
    );
    // The same index pulled for amd64 (its child signed) is in.
    let amd64 = req("fake.test/app:multi").platform(Platform::Pick(Some("linux/amd64".into())));
    assert!(w.gate.check(&amd64).await.is_ok());
    // Every child signed: the verdict is about the index.
    let (w, index, _) = platform_world(true, true);
    let arm = w.registry.push_image(None, "arm64");
    // (platform_world's arm64 manifest has the same bytes: sign it)
    w.registry.attach(&arm, &sign(&w.pki, &arm, None));
    assert_eq!(w.gate.check(&every()).await.unwrap().digest(), index.digest);
}

/// containerd also runs a child listed with no platform (it matches the child's config) and
/// follows a child that is itself an index: with the platform unknown those must verify too,
/// and with a platform picked an index child is followed down to the manifest that will run.
#[tokio::test(start_paused = true)]
async fn platformless_and_nested_children_must_verify_too() {
    let w = world(GateOptions {
        require_platform_signature: true,
        ..GateOptions::default()
    });
    let signed = |d: &Descriptor| {
        w.registry.attach(d, &sign(&w.pki, d, None));
    };
    let every = |r: &str| req(r).platform(Platform::Every);
    let amd64 = |r: &str| req(r).platform(Platform::Pick(Some("linux/amd64".into())));
    // A signed index whose only child, unsigned, names no platform (an image: its config
    // names one), next to an unsigned artifact with no platform (its config is `{}`: it runs
    // nowhere, so it is not asked for a signature).
    let loose = w.registry.push_runnable(None, "no platform", "linux/amd64");
    let artifact = w.registry.push_image(None, "an SBOM");
    let index = w
        .registry
        .push_index(Some("loose"), &[(&artifact, ""), (&loose, "")]);
    signed(&index);
    let d = denial(w.gate.check(&every("fake.test/app:loose")).await);
    assert!(
        d.reason().contains(&format!(
            "{} (no platform given) of index {}",
            loose.digest, index.digest
        )),
        "{d}"
    );
    signed(&loose);
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(w.gate.check(&every("fake.test/app:loose")).await.is_ok());
    // An unsigned index between a signed one and a signed platform manifest: followed, not
    // asked for a signature of its own (it is no platform manifest; its digest pins it).
    let leaf = w.registry.push_image(None, "leaf");
    signed(&leaf);
    let middle = w.registry.push_index(None, &[(&leaf, "linux/amd64")]);
    let top = w
        .registry
        .push_index(Some("middle"), &[(&middle, "linux/amd64")]);
    signed(&top);
    assert!(w.gate.check(&every("fake.test/app:middle")).await.is_ok());
    assert_eq!(
        w.gate
            .check(&amd64("fake.test/app:middle"))
            .await
            .unwrap()
            .digest(),
        leaf.digest
    );
    // One index listed many times is looked into once; more than MAX_CHILDREN manifests in
    // all are refused.
    let many: Vec<Descriptor> = (0..=pullguard::gate::MAX_CHILDREN)
        .map(|i| {
            let d = w.registry.push_image(None, &format!("child {i}"));
            signed(&d);
            d
        })
        .collect();
    let entries: Vec<(&Descriptor, &str)> = many.iter().map(|d| (d, "linux/amd64")).collect();
    let wide = w.registry.push_index(Some("wide"), &entries);
    signed(&wide);
    let d = denial(w.gate.check(&every("fake.test/app:wide")).await);
    assert!(d.reason().contains("more than 256 manifests"), "{d}");
    let repeated = w
        .registry
        .push_index(Some("repeated"), &vec![(&middle, "linux/amd64"); 300]);
    signed(&repeated);
    assert!(w.gate.check(&every("fake.test/app:repeated")).await.is_ok());
    // Nested: outer (signed) > inner (signed, linux/amd64) > grandchild (unsigned).
    let grand = w.registry.push_image(None, "grandchild");
    let inner = w.registry.push_index(None, &[(&grand, "linux/amd64")]);
    signed(&inner);
    let outer = w
        .registry
        .push_index(Some("nested"), &[(&inner, "linux/amd64")]);
    signed(&outer);
    let d = denial(w.gate.check(&every("fake.test/app:nested")).await);
    assert!(
        d.reason().contains(&format!(
            "{} (linux/amd64) of index {}",
            grand.digest, inner.digest
        )),
        "{d}"
    );
    let d = denial(w.gate.check(&amd64("fake.test/app:nested")).await);
    assert!(
        d.reason().starts_with(&format!(
            "the platform manifest {} of index {} must be signed too",
            grand.digest, inner.digest
        )),
        "{d}"
    );
    // The grandchild signed (and the denials' cache lifetime over): the index is in, and the
    // picked platform is pinned to the grandchild.
    signed(&grand);
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(
        w.gate
            .check(&every("fake.test/app:nested"))
            .await
            .unwrap()
            .digest(),
        outer.digest
    );
    assert_eq!(
        w.gate
            .check(&amd64("fake.test/app:nested"))
            .await
            .unwrap()
            .digest(),
        grand.digest
    );
    // Nesting is followed only so deep.
    let mut deep = grand.clone();
    // One index asked for and MAX_NESTING + 1 nested in it.
    for level in 0..=pullguard::gate::MAX_NESTING + 1 {
        let max = pullguard::gate::MAX_NESTING;
        let tag = [(max, "deep-enough"), (max + 1, "deep")]
            .into_iter()
            .find_map(|(l, t)| (l == level).then_some(t));
        deep = w.registry.push_index(tag, &[(&deep, "linux/amd64")]);
        signed(&deep);
    }
    for r in [
        every("fake.test/app:deep-enough"),
        amd64("fake.test/app:deep-enough"),
    ] {
        assert!(w.gate.check(&r).await.is_ok());
    }
    for r in [every("fake.test/app:deep"), amd64("fake.test/app:deep")] {
        let d = denial(w.gate.check(&r).await);
        assert!(d.reason().contains("levels deep"), "{d}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_index_child_is_covered_by_its_index_unless_the_rule_wants_its_own() {
    for require in [false, true] {
        let (w, index, amd) = platform_world(require, false);
        let via = format!("fake.test/app@{}", index.digest);
        let child = req(&format!("fake.test/app@{}", amd.digest)).platform(Platform::Served);
        let v = w.gate.check_child(&child, &via, "tests", amd.clone()).await;
        if require {
            denial(v);
        } else {
            let v = v.unwrap();
            assert_eq!(v.digest(), amd.digest);
            assert!(matches!(v.evidence(), Evidence::IndexChild { index } if *index == via));
        }
    }
}

/// A child is served under its index's signature only while the index still verifies: once the
/// index's allow has expired and its signature with it, the child is denied too.
#[tokio::test(start_paused = true)]
async fn an_index_child_is_not_served_on_an_index_that_no_longer_verifies() {
    let w = world(GateOptions {
        positive_ttl: Duration::from_secs(60),
        ..GateOptions::default()
    });
    let amd = w.registry.push_image(None, "amd64 expiring");
    let index = w
        .registry
        .push_index(Some("multi"), &[(&amd, "linux/amd64")]);
    w.registry
        .attach(&index, &sign(&w.pki, &index, Some(&rfc3339(1))));
    let via = format!("fake.test/app@{}", index.digest);
    let child = req(&format!("fake.test/app@{}", amd.digest)).platform(Platform::Served);
    w.gate
        .check_child(&child, &via, "tests", amd.clone())
        .await
        .unwrap();
    // Two days on, and the index's cached allow has run out: the child goes with the index.
    *w.clock.0.lock().unwrap() += time::Duration::days(2);
    tokio::time::advance(Duration::from_secs(61)).await;
    let d = denial(w.gate.check_child(&child, &via, "tests", amd.clone()).await);
    assert!(d.reason().contains("digital signature has expired"), "{d}");
}

/// Go's name for this host's architecture (the one-shot CLI checks this host's platform).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The one-shot `pullguard verify` goes through the same gate: with
/// `require_platform_signature = true` in its config, a signed index whose platform manifest is
/// unsigned is denied (the README's old "Not yet" item), and allowed when the rule is off.
#[test]
fn the_one_shot_cli_applies_the_platform_rule() {
    let w = world(GateOptions::default());
    let host = w.registry.push_image(None, "host");
    let other = w.registry.push_image(None, "other");
    let index = w.registry.push_index(
        Some("multi"),
        &[
            (&host, &format!("linux/{}", host_arch())),
            (&other, "plan9/mips"),
        ],
    );
    w.registry.attach(&index, &sign(&w.pki, &index, None));
    let layout = w._dir.path().join("layout");
    w.registry.write_layout(&layout);
    let run = |rule: bool| {
        let cfg = w._dir.path().join(format!("config-{rule}.toml"));
        std::fs::write(&cfg, format!("require_platform_signature = {rule}\n")).unwrap();
        run(pullguard()
            .arg("verify")
            .arg("--config")
            .arg(&cfg)
            .arg("--policy-dir")
            .arg(w._dir.path())
            .arg("--oci-layout")
            .arg("--scope")
            .arg("local/app")
            .arg(format!("{}:multi", layout.display())))
    };
    let off = run(false);
    assert_eq!(exit_code(&off), 0, "{}{}", stdout_of(&off), stderr_of(&off));
    let on = run(true);
    assert_eq!(exit_code(&on), 1, "{}{}", stdout_of(&on), stderr_of(&on));
    let said = format!("{}{}", stdout_of(&on), stderr_of(&on));
    assert!(
        said.contains(&format!(
            "the platform manifest {} of index {} must be signed too (require_platform_signature)",
            host.digest, index.digest
        )),
        "{said}"
    );
}

fn asked(r: &FakeRegistry) -> [usize; 4] {
    [
        r.resolves.load(Ordering::SeqCst),
        r.listings.load(Ordering::SeqCst),
        r.manifests_by.load(Ordering::SeqCst),
        r.blobs.load(Ordering::SeqCst),
    ]
}

/// A fake registry holding `app:v1` (signed; its descriptor) and `app:v2` (unsigned), a
/// `registry::Primed` over it started for `reference` and given the time to ask ahead, and a
/// gate on the primed registry (the temporary dir holds its trust store).
async fn primed_world(reference: &str) -> (tempfile::TempDir, Arc<FakeRegistry>, Descriptor, Gate) {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki(EC, "pipeline", CertOpts::default());
    let trust = trust_everything(dir.path(), &pki);
    let fake = Arc::new(FakeRegistry::default());
    let signed = fake.push_image(Some("v1"), "signed");
    fake.attach(&signed, &sign(&pki, &signed, None));
    fake.push_image(Some("v2"), "unsigned");
    let primed =
        pullguard::registry::Primed::start(fake.clone(), &ImageRef::parse(reference).unwrap());
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let clock = Arc::new(TestClock(Mutex::new(OffsetDateTime::now_utc())));
    let gate = Gate::with_registry(trust, Arc::new(primed), GateOptions::default(), clock);
    (dir, fake, signed, gate)
}

/// The one-shot CLI's primed registry (`registry::Primed`): the whole chain is asked ahead,
/// before the gate asks anything (resolve, the signature list, the first signature's manifest
/// and envelope), by tag and by digest; the gate then gets those answers, so every question
/// reaches the registry exactly once, and the verdict is the one the plain registry gives.
#[tokio::test(start_paused = true)]
async fn a_primed_registry_asks_the_chain_ahead_and_each_question_once() {
    let by_tag = "fake.test/app:v1".to_string();
    // The images are the same in every world: their digest, from a first one.
    let (_dir, probe, signed, _) = primed_world(&by_tag).await;
    let by_digest = format!("fake.test/app@{}", signed.digest);
    drop(probe);
    for reference in [by_tag, by_digest] {
        let (_dir, fake, signed, gate) = primed_world(&reference).await;
        assert_eq!(asked(&fake), [1, 1, 1, 1], "asked ahead, {reference}");
        let v = gate.check(&req(&reference)).await.unwrap();
        assert_eq!(v.digest(), signed.digest);
        assert_eq!(asked(&fake), [1, 1, 1, 1], "answers used, {reference}");
    }
}

/// A question the primed registry was not primed for (another image) goes to the registry as
/// usual, and an unsigned image is denied through it as through the plain registry.
#[tokio::test(start_paused = true)]
async fn a_primed_registry_answers_other_questions_from_the_registry() {
    let (_dir, fake, _, gate) = primed_world("fake.test/app:v1").await;
    let d = denial(gate.check(&req("fake.test/app:v2")).await);
    assert!(d.to_string().contains("no signature is associated"), "{d}");
    assert_eq!(fake.resolves.load(Ordering::SeqCst), 2);
    assert!(gate.check(&req("fake.test/app:v1")).await.is_ok());
    assert_eq!(asked(&fake), [2, 2, 1, 1], "v1's primed answers used");
}
