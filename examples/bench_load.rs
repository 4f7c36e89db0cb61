//! The daemon under load, against a real `pullguard serve` (release build), the real registry,
//! the real notation signer and the real dockerd from ../shared/peers:
//!
//! - cold: N distinct signed images (64) verified at once through the control API's Verify RPC
//!   by digest, one client (one connection) per image, the verdict cache purged before each
//!   round: verifications per second (per round, median) and p99 latency (all rounds);
//! - warm: 10,000 Verify RPCs by digest from 64 clients on their own connections: p50/p99;
//! - Docker: 64 concurrent `docker pull`s of the 64 images through pullguard's proxy socket vs
//!   straight to dockerd, alternating rounds, the images removed from dockerd before each round
//!   and the daemon's verdict cache purged before each proxied round (every proxied pull
//!   verifies): ratio of the rounds' total times (medians);
//! - daemon start to READY=1 (a datagram on NOTIFY_SOCKET) with a 1,000-statement policy and
//!   100 trust store certificates, alternated with a 1-statement/1-certificate start and with
//!   `pullguard --version` (the exec floor): medians.
//!
//! Run: `scripts/bench-load.sh` (builds the release binaries, starts the peers). Knobs (env):
//! IMAGES (64), CLIENTS (64), WARM (10000), COLD_ROUNDS (5), PULL_ROUNDS (3 of each), STARTS
//! (15 of each), PULL_PURGE (1; 0 leaves the verdicts cached for the proxied pulls), ONLY
//! (comma list of cold,warm,pull,start; default all), HOLD (seconds to keep
//! the load daemon up after the images are made, printing its pid, for `perf record -p`),
//! PULLGUARD_BIN (another build of the daemon, to compare).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
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

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

struct Daemon(Child);
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

fn policy_statement(name: &str, scope: &str, store: &str) -> String {
    format!(
        r#"{{"name":"{name}","registryScopes":["{scope}"],"signatureVerification":{{"level":"strict"}},"trustStores":["{store}"],"trustedIdentities":["*"]}}"#
    )
}

/// A policy dir of `statements` scoped statements over 10 stores of `certs` CA certificates,
/// plus a `*` statement.
fn big_policy_dir(dir: &Path, certs_pem: &[String], statements: usize) {
    let mut sts: Vec<String> = (0..statements)
        .map(|i| {
            policy_statement(
                &format!("s{i}"),
                &format!("registry.example/team{i}/app"),
                &format!("ca:big{}", i % 10),
            )
        })
        .collect();
    sts.push(policy_statement("default", "*", "ca:big0"));
    for (i, pem) in certs_pem.iter().enumerate() {
        let d = dir.join(format!("truststore/x509/ca/big{}", i % 10));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("c{i}.pem")), pem).unwrap();
    }
    for i in certs_pem.len()..10 {
        // every store a statement names must exist
        let d = dir.join(format!("truststore/x509/ca/big{i}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("c.pem"), &certs_pem[0]).unwrap();
    }
    std::fs::write(
        dir.join("trustpolicy.json"),
        format!(r#"{{"version":"1.0","trustPolicies":[{}]}}"#, sts.join(",")),
    )
    .unwrap();
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

/// One signed image in the registry: a one-layer image with its own content, signed by digest
/// with the real notation CLI.
struct Image {
    tag_ref: String,
    digest_ref: String,
}

fn make_images(tmp: &Path, home: &Path, registry: &str, n: usize) -> Vec<Image> {
    let run = std::process::id();
    let make = |i: usize| {
        let d = tmp.join(format!("img{i}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f.txt"), format!("bench-load {run} image {i}\n")).unwrap();
        sh(Command::new("tar")
            .current_dir(&d)
            .args(["czf", "l.tgz", "f.txt"]));
        let repo = format!("{registry}/bench/load-{run}-{i}");
        let tag_ref = format!("{repo}:v1");
        sh(Command::new("crane").current_dir(&d).args([
            "append",
            "--insecure",
            "-f",
            "l.tgz",
            "-t",
            &tag_ref,
        ]));
        let digest = sh(Command::new("crane").args(["digest", "--insecure", &tag_ref]));
        let digest_ref = format!("{repo}@{digest}");
        sh(Command::new("notation").env("XDG_CONFIG_HOME", home).args([
            "sign",
            "--insecure-registry",
            &digest_ref,
        ]));
        Image {
            tag_ref,
            digest_ref,
        }
    };
    let mut out: Vec<Option<Image>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        for (w, chunk) in out.chunks_mut(n.div_ceil(4).max(1)).enumerate() {
            let make = &make;
            s.spawn(move || {
                let base = w * n.div_ceil(4).max(1);
                for (j, slot) in chunk.iter_mut().enumerate() {
                    *slot = Some(make(base + j));
                }
            });
        }
    });
    out.into_iter().map(|i| i.unwrap()).collect()
}

type Client = pb::control_client::ControlClient<tonic::transport::Channel>;

async fn clients(sock: &Path, n: usize) -> Vec<Client> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(control::connect(sock).await.unwrap());
    }
    v
}

async fn verify(c: &mut Client, reference: &str) -> Duration {
    let t = Instant::now();
    let r = c
        .verify(pb::VerifyRequest {
            reference: reference.to_string(),
            origin: "bench".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let d = t.elapsed();
    assert!(r.allowed, "{reference}: {}", r.summary);
    d
}

/// The registry's CPU so far (`REGISTRY_PID`, set by scripts/bench-load.sh), when known: what
/// the registry spends answering is on the same 2 cores as everything else.
fn registry_cpu_ms() -> Option<f64> {
    let pid = std::env::var("REGISTRY_PID").ok()?.parse::<u32>().ok()?;
    Some(cpu_ms(pid))
}

/// CPU time (user + system, every thread) a process has used so far: /proc/PID/task/*/schedstat.
fn cpu_ms(pid: u32) -> f64 {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    ns as f64 / 1e6
}

/// Start to READY=1: spawn `bin args…` with NOTIFY_SOCKET=`notify`, wait for the datagram,
/// then SIGTERM it: (wall ms, CPU ms at READY=1). `None` for the exec floor (`--version`:
/// start to exit; no CPU figure).
fn start_once(
    bin: &Path,
    args: &[&std::ffi::OsStr],
    notify: Option<(&UnixDatagram, &Path)>,
) -> (f64, f64) {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("PULLGUARD_LOG", "warn")
        .env_remove("LISTEN_FDS")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let Some((sock, path)) = notify else {
        let t = Instant::now();
        let st = cmd.status().unwrap();
        assert!(st.success());
        return (ms(t.elapsed()), 0.0);
    };
    cmd.env("NOTIFY_SOCKET", path);
    let mut buf = [0u8; 4096];
    while sock.recv(&mut buf).is_ok() {} // nothing left over from the last one
    sock.set_nonblocking(false).unwrap();
    let t = Instant::now();
    let mut child = Daemon(cmd.spawn().unwrap());
    let took = loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let msg = String::from_utf8_lossy(&buf[..n]);
                if msg.lines().any(|l| l == "READY=1") {
                    break (ms(t.elapsed()), cpu_ms(child.0.id()));
                }
            }
            Err(e) => panic!(
                "no READY=1 within 10 s ({e}); daemon exited: {:?}",
                child.0.try_wait()
            ),
        }
    };
    sock.set_nonblocking(true).unwrap();
    drop(child);
    took
}

#[tokio::main]
async fn main() {
    let registry = std::env::var("PG_REGISTRY")
        .expect("PG_REGISTRY: run eval \"$(bash scripts/peers-up.sh)\"");
    let docker_sock = std::env::var("PG_DOCKER_SOCK").expect("PG_DOCKER_SOCK");
    let bin = std::env::var_os("PULLGUARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/pullguard")
        });
    assert!(
        bin.exists(),
        "build the release binary first: cargo build --release"
    );
    let only = std::env::var("ONLY").unwrap_or_default();
    let want = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let n_images = env_n("IMAGES", 64);
    let n_clients = env_n("CLIENTS", 64);
    let n_warm = env_n("WARM", 10_000);
    let cold_rounds = env_n("COLD_ROUNDS", 5);
    let pull_rounds = env_n("PULL_ROUNDS", 3);
    let starts = env_n("STARTS", 15);
    // PULL_PURGE=0: the proxied rounds find the verdicts cached (the proxy's cost alone).
    let purge_before_pull = env_n("PULL_PURGE", 1) != 0;
    let load_before = loadavg();
    let mut summary: Vec<String> = Vec::new();
    let tmp = tempfile::tempdir().unwrap();

    if want("cold") || want("warm") || want("pull") {
        let home = tmp.path().join("cfg");
        sh(Command::new("notation")
            .env("XDG_CONFIG_HOME", &home)
            .args(["cert", "generate-test", "--default", "pullguard.bench"]));
        let dir = home.join("notation");
        std::fs::write(
            dir.join("trustpolicy.json"),
            format!(
                r#"{{"version":"1.0","trustPolicies":[{}]}}"#,
                policy_statement("bench", "*", "ca:pullguard.bench")
            ),
        )
        .unwrap();
        let t = Instant::now();
        let images = make_images(tmp.path(), &home, &registry, n_images);
        eprintln!(
            "bench-load: {} signed images made in {:.1} s",
            images.len(),
            t.elapsed().as_secs_f64()
        );

        let sock = tmp.path().join("control.sock");
        let proxy_sock = tmp.path().join("docker.sock");
        let d = Daemon(
            Command::new(&bin)
                .args(["serve", "--config", "/dev/null", "--policy-dir"])
                .arg(&dir)
                .args(["--docker-listen"])
                .arg(&proxy_sock)
                .args(["--docker-upstream", &docker_sock, "--control-listen"])
                .arg(&sock)
                .args(["--insecure-registry", &registry])
                .env("PULLGUARD_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while !sock.exists() || !proxy_sock.exists() {
            assert!(start.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut cs = clients(&sock, n_clients.max(1)).await;
        if let Some(hold) = std::env::var("HOLD")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            eprintln!("bench-load: daemon pid {} (holding {hold} s)", d.0.id());
            tokio::time::sleep(Duration::from_secs(hold)).await;
        }
        let refs: Arc<Vec<String>> =
            Arc::new(images.iter().map(|i| i.digest_ref.clone()).collect());

        if want("cold") {
            let (mut rates, mut lat) = (Vec::new(), Vec::new());
            let cpu0 = cpu_ms(d.0.id());
            let reg0 = registry_cpu_ms();
            for round in 0..cold_rounds {
                cs[0].purge_cache(pb::PurgeCacheRequest {}).await.unwrap();
                let t = Instant::now();
                let tasks: Vec<_> = (0..refs.len())
                    .map(|i| {
                        let mut c = cs[i % cs.len()].clone();
                        let refs = refs.clone();
                        tokio::spawn(async move { verify(&mut c, &refs[i]).await })
                    })
                    .collect();
                for task in tasks {
                    lat.push(ms(task.await.unwrap()));
                }
                let wall = t.elapsed().as_secs_f64();
                rates.push(refs.len() as f64 / wall);
                eprintln!(
                    "bench-load: cold round {round}: {} in {:.0} ms",
                    refs.len(),
                    wall * 1000.0
                );
            }
            let cpu_each = (cpu_ms(d.0.id()) - cpu0) / lat.len() as f64;
            let registry_each = match (reg0, registry_cpu_ms()) {
                (Some(a), Some(b)) => {
                    let each = (b - a) / lat.len() as f64;
                    format!(
                        ", registry CPU {each:.2} ms (so at most {:.0}/s on 2 cores)",
                        2000.0 / (each + cpu_each)
                    )
                }
                _ => String::new(),
            };
            println!(
                "cold: {} images at once, {} rounds: {:.0} verifications/s (median; rounds {:.0}-{:.0}), p50 {:.1} ms, p99 {:.1} ms; daemon CPU {:.2} ms per verification{registry_each}",
                refs.len(),
                rates.len(),
                pct(&rates, 0.5),
                pct(&rates, 0.0),
                pct(&rates, 1.0),
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                cpu_each
            );
            summary.push(format!(
                "cold Verify, {} distinct images at once ({} clients): {:.0} verifications/s, p99 {:.1} ms, daemon CPU {:.2} ms each{registry_each}   (target: none set; report)",
                refs.len(),
                refs.len().min(cs.len()),
                pct(&rates, 0.5),
                pct(&lat, 0.99),
                cpu_each
            ));
        }

        if want("warm") {
            let n = cs.len();
            for (i, r) in refs.iter().enumerate() {
                verify(&mut cs[i % n], r).await;
            }
            let per = n_warm.div_ceil(cs.len());
            let cpu0 = cpu_ms(d.0.id());
            let t = Instant::now();
            let tasks: Vec<_> = cs
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let mut c = c.clone();
                    let refs = refs.clone();
                    tokio::spawn(async move {
                        let mut v = Vec::with_capacity(per);
                        for j in 0..per {
                            v.push(ms(verify(&mut c, &refs[(k + j) % refs.len()]).await));
                        }
                        v
                    })
                })
                .collect();
            let mut lat = Vec::new();
            for task in tasks {
                lat.extend(task.await.unwrap());
            }
            let wall = t.elapsed().as_secs_f64();
            let cpu_us = (cpu_ms(d.0.id()) - cpu0) * 1000.0 / lat.len() as f64;
            println!(
                "warm: {} verdicts by digest from {} clients in {:.2} s ({:.0}/s): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.1} ms; daemon CPU {:.1} µs per verdict",
                lat.len(),
                cs.len(),
                wall,
                lat.len() as f64 / wall,
                pct(&lat, 0.5),
                pct(&lat, 0.9),
                pct(&lat, 0.99),
                pct(&lat, 1.0),
                cpu_us
            );
            summary.push(format!(
                "warm Verify by digest, {} from {} clients: p50 {:.2} ms, p99 {:.2} ms ({:.0}/s), daemon CPU {:.1} µs each   (target: none set; report)",
                lat.len(),
                cs.len(),
                pct(&lat, 0.5),
                pct(&lat, 0.99),
                lat.len() as f64 / wall,
                cpu_us
            ));
        }

        if want("pull") {
            let tags: Vec<String> = images.iter().map(|i| i.tag_ref.clone()).collect();
            let rmi = || {
                let _ = Command::new("docker")
                    .args(["-H", &format!("unix://{docker_sock}"), "rmi", "-f"])
                    .args(&tags)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            };
            let round = |host: String| {
                let t = Instant::now();
                let kids: Vec<_> = tags
                    .iter()
                    .map(|r| {
                        tokio::process::Command::new("docker")
                            .args(["-H", &host, "pull", "-q", r])
                            .stdout(Stdio::null())
                            .stderr(Stdio::piped())
                            .spawn()
                            .unwrap()
                    })
                    .collect();
                async move {
                    for k in kids {
                        let out = k.wait_with_output().await.unwrap();
                        assert!(
                            out.status.success(),
                            "docker pull via {host}: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    t.elapsed().as_secs_f64()
                }
            };
            // One round of each first, not counted (dockerd's first contact with new repos).
            rmi();
            round(format!("unix://{docker_sock}")).await;
            rmi();
            round(format!("unix://{}", proxy_sock.display())).await;
            let (mut direct, mut proxied, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            let (mut reg_direct, mut reg_proxied) = (Vec::new(), Vec::new());
            for r in 0..pull_rounds {
                rmi();
                let r0 = registry_cpu_ms();
                let a = round(format!("unix://{docker_sock}")).await;
                let r1 = registry_cpu_ms();
                rmi();
                if purge_before_pull {
                    cs[0].purge_cache(pb::PurgeCacheRequest {}).await.unwrap();
                }
                let r2 = registry_cpu_ms();
                let b = round(format!("unix://{}", proxy_sock.display())).await;
                let r3 = registry_cpu_ms();
                if let (Some(r0), Some(r1), Some(r2), Some(r3)) = (r0, r1, r2, r3) {
                    reg_direct.push(r1 - r0);
                    reg_proxied.push(r3 - r2);
                }
                eprintln!(
                    "bench-load: pull round {r}: straight {:.0} ms, through pullguard {:.0} ms",
                    a * 1000.0,
                    b * 1000.0
                );
                direct.push(a);
                proxied.push(b);
                ratios.push(b / a);
            }
            rmi();
            let st = cs[0]
                .get_status(pb::GetStatusRequest {})
                .await
                .unwrap()
                .into_inner();
            println!(
                "pull: {} concurrent docker pulls x {} alternating rounds: straight {:.0} ms, through pullguard {:.0} ms (medians), ratio of medians {:.3}, median of round ratios {:.3}; daemon counters {:?}",
                tags.len(),
                pull_rounds,
                pct(&direct, 0.5) * 1000.0,
                pct(&proxied, 0.5) * 1000.0,
                pct(&proxied, 0.5) / pct(&direct, 0.5),
                pct(&ratios, 0.5),
                st.counters
            );
            if !reg_direct.is_empty() {
                println!(
                    "pull: registry CPU per round (medians): straight {:.0} ms, through pullguard {:.0} ms (the verifications' requests: {:.0} ms more, on the same 2 cores)",
                    pct(&reg_direct, 0.5),
                    pct(&reg_proxied, 0.5),
                    pct(&reg_proxied, 0.5) - pct(&reg_direct, 0.5)
                );
            }
            // The rounds are paired (alternating): the median of their ratios is the figure; the
            // ratio of the medians is shown too (one slow round moves it a lot).
            summary.push(format!(
                "docker pull x{} at once, through pullguard / straight: {:.3} (median of {} paired rounds; medians {:.0} / {:.0} ms = {:.3})   (target <= 1.05)",
                tags.len(),
                pct(&ratios, 0.5),
                ratios.len(),
                pct(&proxied, 0.5) * 1000.0,
                pct(&direct, 0.5) * 1000.0,
                pct(&proxied, 0.5) / pct(&direct, 0.5)
            ));
        }
        drop(cs);
        drop(d);
    }

    if want("start") {
        let certs: Vec<String> = (0..100)
            .map(|i| self_signed_ca(&format!("bench CA {i}")))
            .collect();
        let big = tmp.path().join("big");
        big_policy_dir(&big, &certs, 1000);
        let small = tmp.path().join("small");
        big_policy_dir(&small, &certs[..1], 0);
        let notify_path = tmp.path().join("notify.sock");
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        notify.set_nonblocking(true).unwrap();
        let s = tmp.path().join("s");
        std::fs::create_dir_all(&s).unwrap();
        let serve = |dir: &Path| -> Vec<std::ffi::OsString> {
            let mut a: Vec<std::ffi::OsString> = ["serve", "--config", "/dev/null", "--policy-dir"]
                .iter()
                .map(Into::into)
                .collect();
            a.push(dir.into());
            a.push("--docker-listen".into());
            a.push(s.join("docker.sock").into());
            a.push("--docker-upstream".into());
            a.push(s.join("no-docker.sock").into());
            a.push("--control-listen".into());
            a.push(s.join("control.sock").into());
            a
        };
        let (big_args, small_args) = (serve(&big), serve(&small));
        fn os_refs(v: &[std::ffi::OsString]) -> Vec<&std::ffi::OsStr> {
            v.iter().map(|a| a.as_os_str()).collect()
        }
        let (big_args, small_args) = (os_refs(&big_args), os_refs(&small_args));
        let version: Vec<&std::ffi::OsStr> = vec!["--version".as_ref()];
        let (mut floor, mut one, mut thousand) = (Vec::new(), Vec::new(), Vec::new());
        let (mut one_cpu, mut thousand_cpu) = (Vec::new(), Vec::new());
        start_once(&bin, &big_args, Some((&notify, &notify_path))); // warm the page cache
        for _ in 0..starts {
            floor.push(start_once(&bin, &version, None).0);
            let (w, c) = start_once(&bin, &small_args, Some((&notify, &notify_path)));
            one.push(w);
            one_cpu.push(c);
            let (w, c) = start_once(&bin, &big_args, Some((&notify, &notify_path)));
            thousand.push(w);
            thousand_cpu.push(c);
        }
        println!(
            "start: {starts} alternating starts each, start to READY=1: 1,000 statements + 100 certs p50 {:.1} ms (min {:.1}, max {:.1}; CPU to READY=1 p50 {:.1} ms); 1 statement + 1 cert p50 {:.1} ms (CPU {:.1} ms); `pullguard --version` (exec floor) p50 {:.1} ms",
            pct(&thousand, 0.5),
            pct(&thousand, 0.0),
            pct(&thousand, 1.0),
            pct(&thousand_cpu, 0.5),
            pct(&one, 0.5),
            pct(&one_cpu, 0.5),
            pct(&floor, 0.5)
        );
        summary.push(format!(
            "daemon start to READY=1, 1,000 statements + 100 certs: {:.1} ms (median of {starts}; CPU {:.1} ms; 1 statement + 1 cert {:.1} ms, exec floor {:.1} ms)   (target <= 50 ms)",
            pct(&thousand, 0.5),
            pct(&thousand_cpu, 0.5),
            pct(&one, 0.5),
            pct(&floor, 0.5)
        ));
    }

    println!();
    println!(
        "== bench-load: load average {load_before} before, {} after (2 cores shared) ==",
        loadavg()
    );
    for line in summary {
        println!("{line}");
    }
}
