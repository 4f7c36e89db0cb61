//! Daemon latency figures, against a real `pullguard serve` (release build), the real registry
//! and the real notation signer from ../shared/peers:
//!
//! - verdict latency, cold (cache purged before each) and warm (cached), by tag and by digest,
//!   measured as the daemon's own decision time and as a whole gRPC Verify round trip;
//! - policy file rename -> first verdict under the new generation (the watcher's debounce
//!   included);
//! - ReloadPolicy for a policy of 1,000 statements and 100 trust store certificates.
//!
//! Run: `cargo run --release --example bench_daemon` with the peers' env
//! (`eval "$(bash scripts/peers-up.sh)"`); `scripts/bench-daemon.sh` does both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pullguard::control::{self, pb};

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, v: &mut [f64], unit: &str) {
    let (p50, p90, max) = (pct(v, 0.5), pct(v, 0.9), pct(v, 1.0));
    println!(
        "| {name} | {} | {p50:.3} | {p90:.3} | {max:.3} | {unit} |",
        v.len()
    );
}

struct Daemon(Child);
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn policy(name: &str) -> String {
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"{name}","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}}]}}"#
    )
}

fn big_policy(dir: &Path, certs_pem: &[String], variant: usize) {
    let mut statements = Vec::new();
    for i in 0..1000 {
        let store = format!("ca:big{}", i % 10);
        statements.push(format!(
            r#"{{"name":"s{i}-{variant}","registryScopes":["registry.example/team{i}/app"],"signatureVerification":{{"level":"strict"}},"trustStores":["{store}"],"trustedIdentities":["*"]}}"#
        ));
    }
    statements.push(format!(
        r#"{{"name":"default-{variant}","registryScopes":["*"],"signatureVerification":{{"level":"strict"}},"trustStores":["ca:pullguard.bench"],"trustedIdentities":["*"]}}"#
    ));
    for (i, pem) in certs_pem.iter().enumerate() {
        let d = dir.join(format!("truststore/x509/ca/big{}", i % 10));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("c{i}.pem")), pem).unwrap();
    }
    let doc = format!(
        r#"{{"version":"1.0","trustPolicies":[{}]}}"#,
        statements.join(",")
    );
    std::fs::write(dir.join("trustpolicy.json"), doc).unwrap();
}

fn self_signed_ca(cn: &str) -> String {
    use openssl::asn1::Asn1Time;
    use openssl::x509::extension::{BasicConstraints, KeyUsage};
    let key = openssl::pkey::PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut n = openssl::x509::X509NameBuilder::new().unwrap();
    n.append_entry_by_text("CN", cn).unwrap();
    let n = n.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&n).unwrap();
    b.set_issuer_name(&n).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    String::from_utf8(b.build().to_pem().unwrap()).unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registry = std::env::var("PG_REGISTRY")
        .expect("PG_REGISTRY: run eval \"$(bash scripts/peers-up.sh)\"");
    let docker = std::env::var("PG_DOCKER_SOCK").expect("PG_DOCKER_SOCK");
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/pullguard");
    assert!(
        bin.exists(),
        "build the release binary first: cargo build --release"
    );
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("cfg");
    let notation = |args: &[&str]| {
        sh(Command::new("notation")
            .env("XDG_CONFIG_HOME", &home)
            .args(args));
    };
    notation(&["cert", "generate-test", "--default", "pullguard.bench"]);
    let dir = home.join("notation");
    std::fs::write(dir.join("trustpolicy.json"), policy("bench-a")).unwrap();
    let repo = format!("{registry}/bench/daemon-{}", std::process::id());
    std::fs::write(tmp.path().join("f.txt"), "bench").unwrap();
    sh(Command::new("tar")
        .current_dir(tmp.path())
        .args(["czf", "l.tgz", "f.txt"]));
    sh(Command::new("crane").current_dir(tmp.path()).args([
        "append",
        "--insecure",
        "-f",
        "l.tgz",
        "-t",
        &format!("{repo}:v1"),
    ]));
    let digest = sh(Command::new("crane").args(["digest", "--insecure", &format!("{repo}:v1")]));
    notation(&["sign", "--insecure-registry", &format!("{repo}@{digest}")]);

    let sock = tmp.path().join("control.sock");
    let _d = Daemon(
        Command::new(&bin)
            .args(["serve", "--config", "/dev/null", "--policy-dir"])
            .arg(&dir)
            .args(["--docker-listen"])
            .arg(tmp.path().join("docker.sock"))
            .args(["--docker-upstream", &docker, "--control-listen"])
            .arg(&sock)
            .args(["--insecure-registry", &registry])
            .env("PULLGUARD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while !sock.exists() {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut c = control::connect(&sock).await.unwrap();
    let rss = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_default()
    };
    println!("daemon idle RSS: {} kB\n", rss(_d.0.id()));
    let by_tag = format!("{repo}:v1");
    let by_digest = format!("{repo}@{digest}");
    let verify = |r: &str| pb::VerifyRequest {
        reference: r.to_string(),
        origin: "bench".into(),
    };

    println!("| measurement | n | p50 | p90 | max | unit |");
    println!("|---|---:|---:|---:|---:|---|");
    for (label, reference) in [("tag", &by_tag), ("digest", &by_digest)] {
        let (mut rpc, mut inside) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            c.purge_cache(pb::PurgeCacheRequest {}).await.unwrap();
            let t = Instant::now();
            let r = c.verify(verify(reference)).await.unwrap().into_inner();
            rpc.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(r.allowed, "{}", r.summary);
            let d = c
                .list_decisions(pb::ListDecisionsRequest {
                    limit: 1,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            inside.push(d.decisions[0].duration_ms);
        }
        report(
            &format!("cold verdict by {label}, daemon decision time"),
            &mut inside,
            "ms",
        );
        report(
            &format!("cold verdict by {label}, Verify RPC round trip"),
            &mut rpc,
            "ms",
        );
        let (mut rpc, mut inside) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            let t = Instant::now();
            let r = c.verify(verify(reference)).await.unwrap().into_inner();
            rpc.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(r.allowed);
            let d = c
                .list_decisions(pb::ListDecisionsRequest {
                    limit: 1,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(d.decisions[0].cached);
            inside.push(d.decisions[0].duration_ms * 1000.0);
        }
        report(
            &format!("warm verdict by {label}, daemon decision time"),
            &mut inside,
            "µs",
        );
        report(
            &format!("warm verdict by {label}, Verify RPC round trip"),
            &mut rpc,
            "ms",
        );
    }

    // The containerd verifier binary, whole process, per pull (warm daemon cache).
    let verifier = bin.with_file_name("pullguard-containerd-verifier");
    if verifier.exists() {
        let mut runs = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let out = Command::new(&verifier)
                .args(["-name", &by_tag, "-digest", &digest])
                .env("PULLGUARD_CONTROL_SOCKET", &sock)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            runs.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        report(
            "containerd verifier binary, whole process per pull",
            &mut runs,
            "ms",
        );
    }

    // Policy file rename -> first verdict under the new generation.
    let mut to_effect = Vec::new();
    for i in 0..20 {
        let before = c
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner()
            .policy_generation;
        let staged = dir.join(".trustpolicy.json.new");
        std::fs::write(&staged, policy(&format!("bench-{i}"))).unwrap();
        let t = Instant::now();
        std::fs::rename(&staged, dir.join("trustpolicy.json")).unwrap();
        loop {
            let r = c.verify(verify(&by_digest)).await.unwrap().into_inner();
            if r.policy == format!("bench-{i}") {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "reload {i} did not happen (generation {before})"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        to_effect.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report(
        "policy rename -> first verdict under the new generation (200 ms debounce)",
        &mut to_effect,
        "ms",
    );

    // ReloadPolicy with 1,000 statements and 100 certificates (watcher races are fine: each
    // reload below is forced to differ by its statement names).
    let certs: Vec<String> = (0..100)
        .map(|i| self_signed_ca(&format!("bench CA {i}")))
        .collect();
    let mut reloads = Vec::new();
    for v in 0..10 {
        big_policy(&dir, &certs, v);
        let t = Instant::now();
        let r = c
            .reload_policy(pb::ReloadPolicyRequest {})
            .await
            .unwrap()
            .into_inner();
        reloads.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(r.ok, "{:?}", r.errors);
    }
    report(
        "ReloadPolicy, 1,000 statements + 100 trust store certs",
        &mut reloads,
        "ms",
    );
    let st = c
        .get_status(pb::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        st.trust_stores.iter().map(|t| t.certs.len()).sum::<usize>(),
        101
    );
    println!("\ndaemon RSS after the run: {} kB", rss(_d.0.id()));
}
