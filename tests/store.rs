//! The store watch and `pullguard audit` against the real image stores: containerd 1.6 and 2.1
//! (the shared peers, each test in a namespace of its own, and a private containerd 2.1 for the
//! restart) and dockerd (a private one: the watch catches up with a whole store, and `remove`
//! must not touch other tests' images). Images arrive around every pull guard: `ctr images
//! import`, `ctr images pull` (`--local` on 2.1), `docker pull` and `docker load` on the real
//! socket.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::containerd::{Containerd, Version, bin_dir};
use common::daemon::*;
use common::payload::PrivateDockerd;
use common::*;

/// The store events in the daemon's log: (store, image, verdict, action).
fn store_lines(d: &Daemon) -> Vec<serde_json::Value> {
    d.log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "store image")
        .collect()
}

/// Wait (up to `within`) for a store line about `image` with `verdict`; returns it and when it
/// was seen, counted from `since`.
fn wait_store(
    d: &Daemon,
    image: &str,
    verdict: &str,
    since: Instant,
    within: Duration,
) -> (serde_json::Value, Duration) {
    loop {
        if let Some(v) = store_lines(d)
            .into_iter()
            .find(|v| v["image"].as_str() == Some(image) && v["verdict"] == verdict)
        {
            return (v, since.elapsed());
        }
        assert!(
            since.elapsed() < within,
            "no {verdict} store verdict for {image} within {within:?}:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `n` store lines about `image` say `verdict`.
fn wait_store_count(d: &Daemon, image: &str, verdict: &str, n: usize, within: Duration) {
    let start = Instant::now();
    loop {
        let got = store_lines(d)
            .into_iter()
            .filter(|v| v["image"].as_str() == Some(image) && v["verdict"] == verdict)
            .count();
        if got >= n {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{got} of {n} {verdict} store verdicts for {image} within {within:?}:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_log(d: &Daemon, needle: &str, count: usize, within: Duration) {
    let start = Instant::now();
    while d.log().matches(needle).count() < count {
        assert!(
            start.elapsed() < within,
            "{needle:?} not logged {count} time(s) within {within:?}:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A containerd and the `ctr` that drives it.
struct Ctr {
    bin: PathBuf,
    sock: PathBuf,
    /// 2.x: pulls through the transfer service are guarded by the image verifier; `--local`
    /// pulls in the client and goes around it.
    local: bool,
}

impl Ctr {
    fn shared_16() -> Ctr {
        Ctr {
            bin: "ctr".into(),
            sock: peers().containerd_sock.into(),
            local: false,
        }
    }
    fn shared_21() -> Ctr {
        let p = peers();
        Ctr {
            bin: p.ctr2.into(),
            sock: p.containerd2_sock.into(),
            local: true,
        }
    }
    fn cmd(&self, ns: &str) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--address").arg(&self.sock).args(["-n", ns]);
        c
    }
    fn pull(&self, ns: &str, image: &str) {
        let mut c = self.cmd(ns);
        c.args(["images", "pull", "--plain-http"]);
        if self.local {
            c.arg("--local");
        }
        run_ok(c.arg(image));
    }
    fn names(&self, ns: &str) -> Vec<String> {
        let mut v: Vec<String> = run_ok(self.cmd(ns).args(["images", "ls", "-q"]))
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }
    /// A tar of `image` (pulled into a scratch namespace and exported), for `ctr images import`.
    fn export(&self, image: &str, dir: &Path) -> PathBuf {
        let scratch = unique("pgscratch");
        self.pull(&scratch, image);
        let tar = dir.join(format!("{}.tar", unique("img")));
        run_ok(
            self.cmd(&scratch)
                .args(["images", "export", tar.to_str().unwrap(), image]),
        );
        self.clean(&scratch);
        tar
    }
    /// `ctr images import`. With `remove` on, the watch may delete the record (and containerd's
    /// garbage collection its content) while ctr is still unpacking it, and ctr then fails: the
    /// caller decides whether that counts.
    fn import(&self, ns: &str, tar: &Path) -> Output {
        run(self
            .cmd(ns)
            .args(["images", "import", "--all-platforms"])
            .arg(tar))
    }
    /// Remove the namespace's images and the namespace.
    fn clean(&self, ns: &str) {
        for n in self.names(ns) {
            run(self.cmd(ns).args(["images", "rm", &n]));
        }
        run(self.cmd("default").args(["namespaces", "rm", ns]));
    }
}

fn watch_config(ctr_sock: &Path, ns: &str, mode: &str) -> String {
    format!(
        "[watch]\ncontainerd = {:?}\nnamespaces = [{ns:?}]\non_unverified = {mode:?}\n",
        ctr_sock.display().to_string()
    )
}

/// Signed stays (verified); unsigned pulled and unsigned imported are reported within 2 s, and
/// with `remove` gone from `ctr images ls`.
fn containerd_watch(ctr: Ctr, mode: &str) {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("store signed"));
    imgs.sign(&signed);
    imgs.push("unsigned", &unique("store unsigned"));
    imgs.push("imported", &unique("store imported"));
    let signed_ref = format!("{}:signed", imgs.name());
    let unsigned_ref = format!("{}:unsigned", imgs.name());
    let imported_ref = format!("{}:imported", imgs.name());
    let tar = ctr.export(&imported_ref, &imgs.home);
    let ns = unique("pgstore");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &watch_config(&ctr.sock, &ns, mode),
    );
    wait_log(
        &d,
        "watching the containerd image store",
        1,
        Duration::from_secs(10),
    );

    let t = Instant::now();
    ctr.pull(&ns, &signed_ref);
    let (v, _) = wait_store(&d, &signed_ref, "verified", t, Duration::from_secs(10));
    assert_eq!(v["digest"], signed.as_str(), "{v}");
    assert_eq!(v["policy"], "docker-tests", "{v}");
    assert_eq!(v["namespace"], ns.as_str(), "{v}");

    ctr.pull(&ns, &unsigned_ref);
    let t = Instant::now();
    let (v, took) = wait_store(&d, &unsigned_ref, "unverified", t, Duration::from_secs(2));
    assert!(
        v["reason"].as_str().unwrap_or("").contains("no signature"),
        "{v}"
    );
    let mut tar = tar;
    let mut out = ctr.import(&ns, &tar);
    let err = stderr_of(&out);
    if err.contains("unrecognized image format") || err.contains("unexpected EOF") {
        // Seen twice: ctr's import does not read the tarball its export has just written
        // ("unrecognized image format", "untar manifest …: unexpected EOF": the peer's flake,
        // not the watch's). Exported again, once.
        eprintln!(
            "ctr import: {}: {}; exporting again",
            out.status,
            stderr_of(&out)
        );
        tar = ctr.export(&imported_ref, &imgs.home);
        out = ctr.import(&ns, &tar);
    }
    // Shown if the verdict below does not come: did the import itself fail?
    eprintln!("ctr import: {}: {}", out.status, stderr_of(&out));
    if mode == "report" {
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    let t2 = Instant::now();
    let (vi, took2) = wait_store(&d, &imported_ref, "unverified", t2, Duration::from_secs(2));
    eprintln!("pull --local reported in {took:?}, import reported in {took2:?}");
    // The decision log carries the verdicts with origin "store".
    let store_decisions: Vec<_> = d
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "decision" && l["origin"] == "store")
        .map(|l| {
            (
                l["image"].as_str().unwrap_or("").to_string(),
                l["verdict"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        store_decisions
            .iter()
            .any(|(i, v)| i.contains(&signed) && v == "allowed"),
        "{store_decisions:?}"
    );
    assert!(
        store_decisions.iter().any(|(_, v)| v == "denied"),
        "{store_decisions:?}"
    );

    let names = ctr.names(&ns);
    if mode == "remove" {
        for v in [&v, &vi] {
            assert_eq!(v["action"], "removed", "{v}");
        }
        // Removal follows the verdict's log line at once; give it a moment.
        let start = Instant::now();
        let mut names = names;
        while names != vec![signed_ref.clone()] && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(50));
            names = ctr.names(&ns);
        }
        assert_eq!(names, vec![signed_ref.clone()]);
        // The same tarball again: removed again (a removal is not remembered as handled).
        let _ = ctr.import(&ns, &tar);
        wait_store_count(&d, &imported_ref, "unverified", 2, Duration::from_secs(2));
        let start = Instant::now();
        while ctr.names(&ns) != vec![signed_ref.clone()] {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{:?}",
                ctr.names(&ns)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    } else {
        assert_eq!(v["action"], "reported", "{v}");
        let mut want = vec![
            signed_ref.clone(),
            unsigned_ref.clone(),
            imported_ref.clone(),
        ];
        want.sort();
        assert_eq!(names, want);
    }
    // Each digest verified once: the signed image's second event (none here) or a catch-up
    // would be a cache hit, never a second verification.
    let signed_checks = d
        .decisions(&signed)
        .into_iter()
        .filter(|(_, cached)| !cached)
        .count();
    assert_eq!(signed_checks, 1, "{}", d.log());
    drop(d);
    ctr.clean(&ns);
}

#[test]
fn containerd_16_watch_removes_unverified_images() {
    containerd_watch(Ctr::shared_16(), "remove");
}

#[test]
fn containerd_16_watch_reports_unverified_images() {
    containerd_watch(Ctr::shared_16(), "report");
}

#[test]
fn containerd_21_watch_removes_unverified_images() {
    containerd_watch(Ctr::shared_21(), "remove");
}

#[test]
fn containerd_21_watch_reports_unverified_images() {
    containerd_watch(Ctr::shared_21(), "report");
}

/// What was verified in the store is checked again: at a policy reload, under the new policy
/// (a signer no longer trusted: removed), and every `recheck_secs` (a signature that expired
/// since its arrival: removed), with no new event about either image.
#[test]
fn containerd_watch_checks_the_store_again_at_reload_and_every_recheck() {
    let p = peers();
    let ctr = Ctr::shared_21();
    let imgs = Images::new(&p.registry);
    let ns = unique("pgrecheck");

    // At a reload (no periodic recheck).
    let kept = imgs.push("kept", &unique("recheck kept"));
    imgs.sign(&kept);
    let kept_ref = format!("{}:kept", imgs.name());
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "{}recheck_secs = 0\n",
            watch_config(&ctr.sock, &ns, "remove")
        ),
    );
    wait_log(
        &d,
        "watching the containerd image store",
        1,
        Duration::from_secs(10),
    );
    ctr.pull(&ns, &kept_ref);
    wait_store(
        &d,
        &kept_ref,
        "verified",
        Instant::now(),
        Duration::from_secs(10),
    );
    std::fs::write(
        imgs.dir().join("trustpolicy.json"),
        r#"{"version":"1.0","trustPolicies":[{"name":"nobody-trusted","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:pullguard.test"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Nobody, CN=nobody.invalid"]}]}"#,
    )
    .unwrap();
    let t = Instant::now();
    d.signal("HUP");
    let (v, took) = wait_store(&d, &kept_ref, "unverified", t, Duration::from_secs(10));
    eprintln!("removed {took:?} after the reload");
    assert_eq!(v["policy"], "nobody-trusted", "{v}");
    assert_eq!(v["action"], "removed", "{v}");
    let start = Instant::now();
    while !ctr.names(&ns).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            ctr.names(&ns)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(d);

    // Every recheck_secs: a signature that expires while its image is in the store.
    let imgs = Images::new(&p.registry);
    let expiring = imgs.push("expiring", &unique("recheck expiring"));
    run_ok(imgs.notation().args([
        "sign",
        "--expiry",
        "12s",
        "--insecure-registry",
        &format!("{}@{expiring}", imgs.name()),
    ]));
    let signed_at = Instant::now();
    let expiring_ref = format!("{}:expiring", imgs.name());
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "positive_cache_secs = 1\n{}recheck_secs = 1\n",
            watch_config(&ctr.sock, &ns, "remove")
        ),
    );
    wait_log(
        &d,
        "watching the containerd image store",
        1,
        Duration::from_secs(10),
    );
    ctr.pull(&ns, &expiring_ref);
    wait_store(
        &d,
        &expiring_ref,
        "verified",
        Instant::now(),
        Duration::from_secs(10),
    );
    assert!(
        signed_at.elapsed() < Duration::from_secs(10),
        "too slow to see the signature before it expires"
    );
    let (v, took) = wait_store(
        &d,
        &expiring_ref,
        "unverified",
        signed_at,
        Duration::from_secs(30),
    );
    eprintln!("removed {took:?} after signing (expiry 12 s)");
    assert!(took >= Duration::from_secs(11), "{v}");
    assert!(
        v["reason"].as_str().unwrap_or("").contains("expired"),
        "{v}"
    );
    assert_eq!(v["action"], "removed", "{v}");
    assert!(
        d.log().contains("checking every image of the store again"),
        "{}",
        d.log()
    );
    drop(d);
    ctr.clean(&ns);
}

/// A sweep that cannot ask the registry (here: the image's registry, a forwarder, gone) removes
/// nothing it had verified: the check is retried, the image stays.
#[test]
fn a_sweep_during_a_registry_outage_removes_nothing() {
    use std::io::BufRead;
    let p = peers();
    let ctr = Ctr::shared_21();
    let mut fwd = Command::new("python3")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/latency_proxy.py"),
            "0",
            &p.registry,
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufReader::new(fwd.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let port = ready.trim().strip_prefix("ready ").unwrap().to_string();
    let registry = format!("127.0.0.1:{port}");
    let imgs = Images::new(&registry);
    let kept = imgs.push("kept", &unique("outage kept"));
    imgs.sign(&kept);
    let kept_ref = format!("{}:kept", imgs.name());
    let ns = unique("pgoutage");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &registry,
        &format!(
            "positive_cache_secs = 1\nregistry_connect_timeout_secs = 1\nregistry_timeout_secs = 2\n{}recheck_secs = 1\n",
            watch_config(&ctr.sock, &ns, "remove")
        ),
    );
    wait_log(
        &d,
        "watching the containerd image store",
        1,
        Duration::from_secs(10),
    );
    ctr.pull(&ns, &kept_ref);
    wait_store(
        &d,
        &kept_ref,
        "verified",
        Instant::now(),
        Duration::from_secs(10),
    );
    let _ = fwd.kill();
    let _ = fwd.wait();
    let t = Instant::now();
    let (v, _) = wait_store(&d, &kept_ref, "unverified", t, Duration::from_secs(15));
    assert_eq!(v["action"], "retried", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or("")
            .contains("registry request failed"),
        "{v}"
    );
    // Through the next sweeps' time too: still there, never removed.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ctr.names(&ns), vec![kept_ref.clone()]);
    assert!(
        !store_lines(&d).iter().any(|l| l["action"] == "removed"),
        "{}",
        d.log()
    );
    drop(d);
    ctr.clean(&ns);
}

/// A containerd 2.1 of the test's own (it is restarted), and its `ctr` as the watch tests drive it.
fn own_containerd() -> (Containerd, Ctr) {
    let c = Containerd::new(Version::V21).start("", false);
    let ctr = Ctr {
        bin: bin_dir(Version::V21).join("ctr"),
        sock: c.sock.clone(),
        local: true,
    };
    (c, ctr)
}

/// An image already in the store is caught up with at connect; containerd restarted mid-watch
/// is watched again (and what arrived while it was away is caught up with).
#[test]
fn containerd_restarted_mid_watch_is_picked_up_again() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    for t in ["before", "after", "during"] {
        imgs.push(t, &unique(&format!("restart {t}")));
    }
    let (mut c, ctr) = own_containerd();
    let before = format!("{}:before", imgs.name());
    ctr.pull("default", &before);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "[watch]\ncontainerd = {:?}\non_unverified = \"remove\"\n",
            c.sock.display().to_string()
        ),
    );
    let t = Instant::now();
    let (v, _) = wait_store(&d, &before, "unverified", t, Duration::from_secs(10));
    assert_eq!(v["action"], "removed", "{v}");
    wait_log(
        &d,
        "watching the containerd image store",
        1,
        Duration::from_secs(5),
    );

    c.down();
    wait_log(&d, "store watch disconnected", 1, Duration::from_secs(5));
    c.up();
    // Arrives before the watch is back (its backoff): caught up with on reconnect.
    let during = format!("{}:during", imgs.name());
    ctr.pull("default", &during);
    wait_log(
        &d,
        "watching the containerd image store",
        2,
        Duration::from_secs(10),
    );
    let t = Instant::now();
    wait_store(&d, &during, "unverified", t, Duration::from_secs(10));

    let after = format!("{}:after", imgs.name());
    ctr.pull("default", &after);
    let t = Instant::now();
    let (v, took) = wait_store(&d, &after, "unverified", t, Duration::from_secs(2));
    eprintln!("after the restart, reported in {took:?}");
    assert_eq!(v["action"], "removed", "{v}");
    let start = Instant::now();
    while !ctr.names("default").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            ctr.names("default")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn docker_has(dd: &PrivateDockerd, image: &str) -> bool {
    run(dd.docker().args(["image", "inspect", image]))
        .status
        .success()
}

fn wait_gone(dd: &PrivateDockerd, image: &str) {
    let start = Instant::now();
    while docker_has(dd, image) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{image} is still in dockerd's store"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// dockerd: a signed pull stays; an unsigned pull and a `docker load` through the raw socket
/// are removed within 2 s; after dockerd restarts, the watch is back.
#[test]
fn docker_watch_removes_unverified_images_and_survives_a_restart() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("docker store signed"));
    imgs.sign(&signed);
    for t in ["unsigned", "loaded", "later"] {
        imgs.push(t, &unique(&format!("docker store {t}")));
    }
    let dd = PrivateDockerd::start(&p.registry, &[]);
    dd.wait_ready();
    // A tarball to `docker load` later (no registry digest once loaded).
    let loaded = format!("{}:loaded", imgs.name());
    run_ok(dd.docker().args(["pull", &loaded]));
    let tar = dd.dir.join("loaded.tar");
    run_ok(
        dd.docker()
            .args(["save", "-o", tar.to_str().unwrap(), &loaded]),
    );
    run_ok(dd.docker().args(["rmi", &loaded]));

    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "[watch]\ndocker = {:?}\non_unverified = \"remove\"\n",
            dd.sock.display().to_string()
        ),
    );
    wait_log(
        &d,
        "watching the Docker image store",
        1,
        Duration::from_secs(10),
    );

    let signed_ref = format!("{}:signed", imgs.name());
    run_ok(dd.docker().args(["pull", &signed_ref]));
    let t = Instant::now();
    let (v, _) = wait_store(&d, &signed_ref, "verified", t, Duration::from_secs(5));
    assert_eq!(v["digest"], signed.as_str(), "{v}");
    assert_eq!(v["policy"], "docker-tests", "{v}");

    let unsigned = format!("{}:unsigned", imgs.name());
    run_ok(dd.docker().args(["pull", &unsigned]));
    let t = Instant::now();
    let (v, took) = wait_store(&d, &unsigned, "unverified", t, Duration::from_secs(2));
    assert_eq!(v["action"], "removed", "{v}");
    wait_gone(&dd, &unsigned);

    run_ok(dd.docker().args(["load", "-i", tar.to_str().unwrap()]));
    let t = Instant::now();
    let (v, took_load) = wait_store(&d, &loaded, "unverified", t, Duration::from_secs(2));
    assert!(
        v["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no registry digest"),
        "{v}"
    );
    wait_gone(&dd, &loaded);
    // Loaded again after its removal: removed again.
    run_ok(dd.docker().args(["load", "-i", tar.to_str().unwrap()]));
    wait_store_count(&d, &loaded, "unverified", 2, Duration::from_secs(2));
    wait_gone(&dd, &loaded);
    eprintln!("docker pull reported in {took:?}, docker load in {took_load:?}");
    assert!(docker_has(&dd, &signed_ref), "the signed image must stay");

    // Restart dockerd under the watch.
    let dir = dd.dir.clone();
    let mut dd = dd;
    stop(&mut dd.child);
    std::mem::forget(dd);
    wait_log(&d, "store watch disconnected", 1, Duration::from_secs(10));
    let dd = PrivateDockerd::start_at(dir, &p.registry, &[]);
    dd.wait_ready();
    wait_log(
        &d,
        "watching the Docker image store",
        2,
        Duration::from_secs(15),
    );
    let later = format!("{}:later", imgs.name());
    run_ok(dd.docker().args(["pull", &later]));
    let t = Instant::now();
    wait_store(&d, &later, "unverified", t, Duration::from_secs(2));
    wait_gone(&dd, &later);
    assert!(docker_has(&dd, &signed_ref));
}

fn audit(args: &[&str], policy: &Path, registry: &str) -> std::process::Output {
    run(pullguard()
        .arg("audit")
        .arg("--policy-dir")
        .arg(policy)
        .args(["--insecure-registry", registry])
        .args(args))
}

/// `pullguard audit` over a mixed store lists exactly its images with their verdicts and exits
/// 1; over a clean one it exits 0; with no store named it is a usage error.
#[test]
fn audit_lists_a_mixed_store_exactly_and_exits_by_verdict() {
    let p = peers();
    let ctr = Ctr::shared_21();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("audit signed"));
    imgs.sign(&signed);
    let unsigned = imgs.push("unsigned", &unique("audit unsigned"));
    let signed_ref = format!("{}:signed", imgs.name());
    let unsigned_ref = format!("{}:unsigned", imgs.name());
    let mixed = unique("pgaudit");
    let clean = unique("pgaudit-clean");
    ctr.pull(&mixed, &signed_ref);
    ctr.pull(&mixed, &unsigned_ref);
    ctr.pull(&clean, &signed_ref);
    let sock = ctr.sock.display().to_string();

    let out = audit(
        &["--containerd", &sock, "-n", &mixed, "-o", "json"],
        &imgs.dir(),
        &p.registry,
    );
    assert_eq!(exit_code(&out), 1, "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String, bool, String)> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["image"].as_str().unwrap().to_string(),
                i["digest"].as_str().unwrap().to_string(),
                i["verified"].as_bool().unwrap(),
                i["namespace"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (signed_ref.clone(), signed.clone(), true, mixed.clone()),
            (unsigned_ref.clone(), unsigned.clone(), false, mixed.clone()),
        ]
    );
    assert_eq!(v["unverified"], 1);
    let images = v["images"].as_array().unwrap();
    assert_eq!(images[0]["policy"], "docker-tests");
    assert!(
        images[1]["reason"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{}",
        images[1]
    );

    let out = audit(
        &["--containerd", &sock, "-n", &clean],
        &imgs.dir(),
        &p.registry,
    );
    assert_eq!(exit_code(&out), 0, "{}", stderr_of(&out));
    let text = stdout_of(&out);
    assert!(
        text.contains(&format!(
            "verified   containerd/{clean} {signed_ref} {signed} policy=docker-tests"
        )),
        "{text}"
    );
    assert!(
        text.contains("1 image(s), 1 verified, 0 unverified"),
        "{text}"
    );

    // Both namespaces at once: the unsigned one makes it 1.
    let out = audit(
        &["--containerd", &sock, "-n", &clean, "-n", &mixed],
        &imgs.dir(),
        &p.registry,
    );
    assert_eq!(exit_code(&out), 1);
    assert!(stdout_of(&out).contains("3 image(s), 2 verified, 1 unverified"));

    let out = audit(&[], &imgs.dir(), &p.registry);
    assert_eq!(exit_code(&out), 2);
    assert!(stderr_of(&out).contains("no image store to audit"));
    let out = audit(
        &["--containerd", "/nonexistent/containerd.sock"],
        &imgs.dir(),
        &p.registry,
    );
    assert_eq!(exit_code(&out), 2);
    assert!(
        stderr_of(&out).contains("cannot reach containerd"),
        "{}",
        stderr_of(&out)
    );

    ctr.clean(&mixed);
    ctr.clean(&clean);
}

/// The audit of a Docker store (a private dockerd): a signed pull verified, an unsigned one not.
#[test]
fn audit_of_a_docker_store() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", &unique("audit docker signed"));
    imgs.sign(&signed);
    let unsigned = imgs.push("unsigned", &unique("audit docker unsigned"));
    let dd = PrivateDockerd::start(&p.registry, &[]);
    dd.wait_ready();
    let signed_ref = format!("{}:signed", imgs.name());
    let unsigned_ref = format!("{}:unsigned", imgs.name());
    run_ok(dd.docker().args(["pull", &signed_ref]));
    let sock = dd.sock.display().to_string();
    let out = audit(&["--docker", &sock], &imgs.dir(), &p.registry);
    assert_eq!(exit_code(&out), 0, "{}{}", stdout_of(&out), stderr_of(&out));
    run_ok(dd.docker().args(["pull", &unsigned_ref]));
    let out = audit(&["--docker", &sock, "-o", "json"], &imgs.dir(), &p.registry);
    assert_eq!(exit_code(&out), 1, "{}", stderr_of(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String, bool)> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["image"].as_str().unwrap().to_string(),
                i["digest"].as_str().unwrap().to_string(),
                i["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(signed_ref, signed, true), (unsigned_ref, unsigned, false)]
    );
}
