//! Prometheus metrics against the real Prometheus (Debian's `prometheus` and `promtool`): a
//! daemon makes allowed and denied decisions, a real Prometheus scrapes it, and its HTTP API
//! returns `pullguard_decisions_total` by verdict; `promtool check metrics` passes on the output.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::*;
use common::*;

fn curl(args: &[&str]) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Poll `f` until it gives a value (20 s at most).
fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of the one sample named exactly `series` (name and labels as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// A real Prometheus in its own temp dir on a loopback port, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    _tmp: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = tmp.path().join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pullguard\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(tmp.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                tmp.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect(
                "prometheus (Debian package prometheus) is missing: scripts/test.sh installs it",
            );
        Prometheus {
            child,
            port,
            _tmp: tmp,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._tmp.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query over the HTTP API: the result vector.
    fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let Some(body) = curl(&["-G", &url, "--data-urlencode", &format!("query={q}")]) else {
            return vec![];
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{body}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// notAfter of the one certificate in `dir` as Unix seconds, by openssl and date.
fn not_after(dir: &Path) -> i64 {
    let cert = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "crt" || x == "pem"))
        .expect("a certificate in the test store");
    let end = run_ok(Command::new("openssl").args([
        "x509",
        "-noout",
        "-enddate",
        "-in",
        cert.to_str().unwrap(),
    ]));
    let end = end.trim().trim_start_matches("notAfter=");
    run_ok(Command::new("date").args(["-u", "-d", end, "+%s"]))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn prometheus_scrapes_decisions_by_verdict() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "metrics signed");
    imgs.sign(&signed);
    imgs.push("bad", "metrics unsigned");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!("[metrics]\nlisten = \"{addr}\"\n"),
    );
    let url = format!("http://{addr}/metrics");
    wait_for("the metrics endpoint", || curl(&[&url]));

    // 2 allowed (the second from the cache) and 3 denied through ctl; 1 denied through the
    // Docker proxy.
    for _ in 0..2 {
        let out = run(d.ctl().args(["verify", &format!("{}:ok", imgs.name())]));
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    for _ in 0..3 {
        let out = run(d.ctl().args(["verify", &format!("{}:bad", imgs.name())]));
        assert!(!out.status.success(), "{}", stdout_of(&out));
    }
    let pull = run(d.docker().args(["pull", &format!("{}:bad", imgs.name())]));
    assert!(!pull.status.success(), "{}", stdout_of(&pull));

    // The exposition: Prometheus text by default, OpenMetrics when asked; promtool passes it.
    let text = curl(&[&url]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let check = Command::new("sh")
        .arg("-c")
        .arg(format!("promtool check metrics < '{}'", file.display()))
        .output()
        .expect("promtool (Debian package prometheus) is missing");
    assert!(
        check.status.success(),
        "promtool check metrics failed: {}{}\n{text}",
        stdout_of(&check),
        stderr_of(&check)
    );
    let allowed = "pullguard_decisions_total{origin=\"ctl\",verdict=\"allowed\"}";
    assert_eq!(sample(&text, allowed), Some(2.0), "{text}");
    let denied = "pullguard_decisions_total{origin=\"ctl\",verdict=\"denied\"}";
    assert_eq!(sample(&text, denied), Some(3.0), "{text}");
    let docker = "pullguard_decisions_total{origin=\"docker\",verdict=\"denied\"}";
    assert_eq!(sample(&text, docker), Some(1.0), "{text}");
    assert_eq!(sample(&text, "pullguard_policy_generation"), Some(1.0));
    assert!(
        sample(&text, "pullguard_verdict_cache_hits_total").is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "pullguard_verification_duration_seconds_count").is_some_and(|v| v >= 2.0),
        "{text}"
    );
    let reg = format!(
        "pullguard_registry_requests_total{{registry=\"{}\",outcome=\"200\"}}",
        p.registry
    );
    assert!(sample(&text, &reg).is_some_and(|v| v >= 1.0), "{text}");
    let expiry_prefix = "pullguard_trust_store_certificate_expiry_timestamp_seconds{store=\"ca:pullguard.test\",subject=\"";
    let expiry = text
        .lines()
        .find(|l| l.starts_with(expiry_prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse::<i64>().ok());
    let store = imgs.dir().join("truststore/x509/ca/pullguard.test");
    assert_eq!(expiry, Some(not_after(&store)), "{text}");
    assert!(
        text.contains(&format!(
            "pullguard_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let om = curl(&[
        "-H",
        "Accept: application/openmetrics-text; version=1.0.0",
        &url,
    ])
    .unwrap();
    assert!(om.ends_with("# EOF\n"), "{om}");

    // A reload that fails is counted as failed, one that works as ok.
    let policy = imgs.dir().join("trustpolicy.json");
    let good = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, "{not json").unwrap();
    assert!(!run(d.ctl().arg("reload")).status.success());
    std::fs::write(&policy, &good).unwrap();
    run_ok(d.ctl().arg("reload"));
    let text = curl(&[&url]).unwrap();
    assert!(
        sample(&text, "pullguard_reloads_total{result=\"failed\"}").is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "pullguard_reloads_total{result=\"ok\"}").is_some_and(|v| v >= 1.0),
        "{text}"
    );

    // The real Prometheus scrapes it; its API has the counts by verdict.
    let prom = Prometheus::start(&addr);
    let by_verdict = wait_for("Prometheus to scrape pullguard", || {
        let r = prom.query("sum by (verdict) (pullguard_decisions_total)");
        let get = |verdict: &str| {
            r.iter()
                .find(|s| s["metric"]["verdict"] == verdict)
                .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok())
        };
        Some((get("allowed")?, get("denied")?))
    });
    assert_eq!(by_verdict, (2.0, 4.0), "prometheus log: {}", prom.log());
    let up = prom.query("up{job=\"pullguard\"}");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    drop(d);
}

#[test]
fn metrics_on_a_unix_socket() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("metrics.sock");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!("[metrics]\nlisten = \"{}\"\n", sock.display()),
    );
    let s = sock.to_str().unwrap();
    let text = wait_for("the metrics socket", || {
        curl(&["--unix-socket", s, "http://localhost/metrics"])
    });
    assert!(
        text.contains("# TYPE pullguard_policy_generation gauge"),
        "{text}"
    );
    let missing = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--unix-socket", s, "http://localhost/other"])
        .output()
        .unwrap();
    assert_eq!(stdout_of(&missing), "404");
    drop(d);
    assert!(!sock.exists(), "the metrics socket is left behind");
}

#[test]
fn metrics_are_off_by_default_and_a_bad_address_refuses_to_start() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let status = run_ok(d.ctl().args(["status", "-o", "json"]));
    assert!(!status.contains("metrics"), "{status}");
    drop(d);
    let out = run(pullguard().args([
        "serve",
        "--policy-dir",
        imgs.dir().to_str().unwrap(),
        "--docker-listen",
        tmp_sock().to_str().unwrap(),
        "--control-listen",
        tmp_sock().to_str().unwrap(),
        "--metrics-listen",
        "not an address",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("cannot listen for metrics on not an address"),
        "{}",
        stderr_of(&out)
    );
}

fn tmp_sock() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "pg-metrics-{}-{}.sock",
        std::process::id(),
        SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ))
}
