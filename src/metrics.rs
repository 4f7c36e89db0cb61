//! Prometheus metrics (the official `prometheus-client` crate): one process-wide registry, fed
//! by one-line hooks at the sites (a decision, a verification, a cache lookup, a registry request,
//! a mirror transfer, a reload, a trust configuration installed), served on `[metrics] listen` /
//! `serve --metrics-listen` (TCP `IP:PORT` or a Unix socket path; off by default) as
//! `GET /metrics`, in the OpenMetrics text format when the scraper asks for it (Prometheus does)
//! and the Prometheus text format 0.0.4 otherwise (`promtool check metrics`, curl).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

use crate::verify::TrustConfig;

/// Distinct registry names kept as label values; requests to any further registry (a client can
/// name any) are counted under `registry="other"`, so the series stay bounded.
const MAX_REGISTRIES: usize = 64;
/// Scrapes served at once.
const MAX_CONNECTIONS: usize = 16;
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    origin: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    registry: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RegistryLabel {
    registry: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    store: String,
    subject: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn registry_histogram() -> Histogram {
    // 5 ms .. ~41 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    verification: Histogram,
    cache_hits: Counter,
    cache_misses: Counter,
    cache_entries: Gauge,
    registry_requests: Family<RequestLabels, Counter>,
    registry_duration: HistogramFamily<RegistryLabel>,
    registries: Mutex<HashSet<String>>,
    mirror_bytes: Family<KindLabel, Counter>,
    mirror_blobs: Counter,
    reloads: Family<ResultLabel, Counter>,
    generation: Gauge,
    cert_expiry: Family<CertLabels, Gauge>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Set by a one-shot command (`pullguard verify`), which serves no metrics: the hooks then
/// record nothing (building the registry and its label sets was ~0.2 ms of every run).
static OFF: AtomicBool = AtomicBool::new(false);

/// This process serves no metrics: every hook below is a no-op from now on.
pub fn off() {
    OFF.store(true, Ordering::Relaxed);
}

/// The metrics, unless they are off.
fn live() -> Option<&'static Metrics> {
    (!OFF.load(Ordering::Relaxed)).then(|| &*METRICS)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("pullguard");
        let m = Metrics {
            registry: Registry::default(),
            decisions: Family::default(),
            verification: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_entries: Gauge::default(),
            registry_requests: Family::default(),
            registry_duration: Family::new_with_constructor(registry_histogram),
            registries: Mutex::new(HashSet::new()),
            mirror_bytes: Family::default(),
            mirror_blobs: Counter::default(),
            reloads: Family::default(),
            generation: Gauge::default(),
            cert_expiry: Family::default(),
        };
        registry.register(
            "decisions",
            "Admission decisions, by who asked (origin) and verdict (allowed, denied)",
            m.decisions.clone(),
        );
        registry.register_with_unit(
            "verification_duration",
            "Time of one signature verification (cache misses only): fetch the signatures and verify them",
            Unit::Seconds,
            m.verification.clone(),
        );
        registry.register(
            "verdict_cache_hits",
            "Decisions answered from the verdict cache",
            m.cache_hits.clone(),
        );
        registry.register(
            "verdict_cache_misses",
            "Decisions that needed a verification",
            m.cache_misses.clone(),
        );
        registry.register(
            "verdict_cache_entries",
            "Verdicts held in the cache",
            m.cache_entries.clone(),
        );
        registry.register(
            "registry_requests",
            "HTTP requests to registries, by registry and outcome (the HTTP status, or error when none came)",
            m.registry_requests.clone(),
        );
        registry.register_with_unit(
            "registry_request_duration",
            "Time of one registry request until its response headers, by registry",
            Unit::Seconds,
            m.registry_duration.clone(),
        );
        registry.register_with_unit(
            "mirror_served",
            "Bytes the registry mirror sent to its clients, by kind (manifest, blob)",
            Unit::Bytes,
            m.mirror_bytes.clone(),
        );
        registry.register(
            "mirror_blobs_served",
            "Blob GETs the registry mirror answered",
            m.mirror_blobs.clone(),
        );
        registry.register(
            "reloads",
            "Trust policy reloads, by result (ok, failed: the last good policy kept serving)",
            m.reloads.clone(),
        );
        registry.register(
            "policy_generation",
            "Generation of the trust configuration serving (1 at start, +1 per change)",
            m.generation.clone(),
        );
        registry.register_with_unit(
            "trust_store_certificate_expiry_timestamp",
            "Expiry (notAfter, Unix time) of each certificate in the trust stores the policy names",
            Unit::Seconds,
            m.cert_expiry.clone(),
        );
        registry.register(
            "build",
            "pullguard's version",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics { registry, ..m }
    }
}

// === Hooks (one line each at their sites) ===

/// A decision made (allowed or not), under `origin`.
pub fn decision(origin: &str, allowed: bool) {
    let Some(metrics) = live() else { return };
    let verdict = if allowed { "allowed" } else { "denied" };
    metrics
        .decisions
        .get_or_create(&DecisionLabels {
            origin: origin.to_string(),
            verdict: verdict.to_string(),
        })
        .inc();
}

/// A verification (a cache miss) that began at `start` is done.
pub fn verification(start: Instant) {
    let Some(metrics) = live() else { return };
    metrics.cache_misses.inc();
    metrics.verification.observe(start.elapsed().as_secs_f64());
}

/// A decision answered from the verdict cache.
pub fn cache_hit() {
    let Some(metrics) = live() else { return };
    metrics.cache_hits.inc();
}

/// The verdict cache now holds `n` entries.
pub fn cache_entries(n: usize) {
    let Some(metrics) = live() else { return };
    metrics
        .cache_entries
        .set(i64::try_from(n).unwrap_or(i64::MAX));
}

/// A registry request to `url` that began at `start` ended with `status` (`None`: no response).
pub fn registry_request(url: &str, status: Option<u16>, start: Instant) {
    let Some(metrics) = live() else { return };
    let host = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let registry = {
        let mut known = match metrics.registries.lock() {
            Ok(k) => k,
            Err(p) => p.into_inner(),
        };
        if known.contains(host) {
            host.to_string()
        } else if known.len() < MAX_REGISTRIES {
            known.insert(host.to_string());
            host.to_string()
        } else {
            "other".to_string()
        }
    };
    let outcome = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    metrics
        .registry_duration
        .get_or_create(&RegistryLabel {
            registry: registry.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    metrics
        .registry_requests
        .get_or_create(&RequestLabels { registry, outcome })
        .inc();
}

/// The mirror sent `n` bytes of a manifest (`blob: false`) or a blob.
pub fn mirror_bytes(blob: bool, n: usize) {
    let Some(metrics) = live() else { return };
    let kind = if blob { "blob" } else { "manifest" };
    metrics
        .mirror_bytes
        .get_or_create(&KindLabel { kind: kind.into() })
        .inc_by(n as u64);
}

/// The mirror started a blob's stream.
pub fn mirror_blob() {
    let Some(metrics) = live() else { return };
    metrics.mirror_blobs.inc();
}

/// A trust policy reload ended (`ok`: the policy read is serving, changed or not).
pub fn reload(ok: bool) {
    let Some(metrics) = live() else { return };
    let result = if ok { "ok" } else { "failed" };
    metrics
        .reloads
        .get_or_create(&ResultLabel {
            result: result.into(),
        })
        .inc();
}

/// `trust` is serving now, as `generation`: the generation gauge, and the expiry of every
/// certificate of the stores it loaded (those of the previous configuration are gone).
pub fn trust(trust: &TrustConfig, generation: u64) {
    let Some(metrics) = live() else { return };
    metrics
        .generation
        .set(i64::try_from(generation).unwrap_or(i64::MAX));
    metrics.cert_expiry.clear();
    for ((kind, name), store) in &trust.stores {
        let Ok(certs) = store else { continue };
        for cert in certs.iter() {
            metrics
                .cert_expiry
                .get_or_create(&CertLabels {
                    store: format!("{}:{name}", kind.as_str()),
                    subject: cert.subject().to_string(),
                })
                .set(cert.not_after().unix_timestamp());
        }
    }
}

// === Exposition ===

/// The metrics as text: OpenMetrics (with its `# EOF`) or the Prometheus text format 0.0.4.
pub fn render(openmetrics: bool) -> Result<String, String> {
    let mut out = String::new();
    let r = if openmetrics {
        prometheus_client::encoding::text::encode(&mut out, &METRICS.registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, &METRICS.registry)
    };
    r.map_err(|e| format!("cannot encode the metrics: {e}"))?;
    Ok(out)
}

/// Whether an `Accept` header asks for OpenMetrics (at a quality above zero).
fn wants_openmetrics(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    accept.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let zero = params.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        media.eq_ignore_ascii_case("application/openmetrics-text") && !zero
    })
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// One scrape: `GET /metrics` (or `HEAD`); anything else is 404 or 405.
pub fn handle<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.uri().path() != "/metrics" {
        return respond(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: try /metrics\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "method not allowed\n".into(),
        );
    }
    let om = wants_openmetrics(req.headers().get(ACCEPT));
    match render(om) {
        Ok(text) => respond(
            StatusCode::OK,
            if om { OPENMETRICS } else { PROMETHEUS_TEXT },
            text,
        ),
        Err(e) => respond(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, format!("{e}\n")),
    }
}

/// Where the metrics are served.
pub enum MetricsListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// `addr` as `--metrics-listen` / `[metrics] listen` has it: a path (starting with `/`) is a
/// Unix socket, anything else a TCP `IP:PORT`.
pub fn is_unix(addr: &str) -> bool {
    addr.starts_with('/')
}

/// The metrics listener: for a Unix path, the Unix socket systemd passed as `metrics` or the
/// path bound here (mode 0660, replaced only when stale); else the TCP socket systemd passed as
/// `metrics`, or `addr` bound here; else none.
pub async fn listener(
    activated: &mut crate::daemon::systemd::Activated,
    sockets: &mut crate::daemon::listen::Sockets,
    addr: Option<&str>,
) -> Result<Option<MetricsListener>, String> {
    if let Some(a) = addr.filter(|a| is_unix(a)) {
        let perms = crate::config::SocketPerms::default();
        let path = std::path::Path::new(a);
        let l = sockets
            .unix(activated, "metrics", Some(path), &perms, None)
            .await?;
        return Ok(l.map(MetricsListener::Unix));
    }
    if let Some(l) = activated.take_tcp("metrics")? {
        let a = l.local_addr().map_err(|e| format!("metrics socket: {e}"))?;
        sockets.add("metrics", format!("http://{a}/metrics"), true);
        return Ok(Some(MetricsListener::Tcp(l)));
    }
    match addr {
        Some(a) => {
            let l = TcpListener::bind(a)
                .await
                .map_err(|e| format!("cannot listen for metrics on {a}: {e}"))?;
            let bound = l.local_addr().map_err(|e| format!("metrics socket: {e}"))?;
            sockets.add("metrics", format!("http://{bound}/metrics"), false);
            Ok(Some(MetricsListener::Tcp(l)))
        }
        None => Ok(None),
    }
}

/// Serve the metrics on `listener` until `stop` turns true ([`crate::server`] owns the loop,
/// its limits and the drain).
pub async fn serve(listener: MetricsListener, stop: watch::Receiver<bool>) {
    let listener: crate::server::Listener = match listener {
        MetricsListener::Tcp(l) => l.into(),
        MetricsListener::Unix(l) => l.into(),
    };
    let mut server = crate::server::Server::new("metrics");
    server.limits.max_connections = MAX_CONNECTIONS;
    server.limits.header_timeout = HEADER_TIMEOUT;
    server
        .serve(
            listener,
            |req: Request<Incoming>| async move { handle(&req) },
            crate::server::turned_true(stop),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(&v(prom))));
        assert!(!wants_openmetrics(Some(&v("text/plain"))));
        assert!(!wants_openmetrics(Some(&v(
            "application/openmetrics-text;q=0"
        ))));
        assert!(!wants_openmetrics(None));
    }

    #[test]
    fn names_follow_the_conventions() {
        decision("ctl", true);
        registry_request(
            "http://127.0.0.1:5000/v2/x/manifests/1",
            Some(200),
            Instant::now(),
        );
        mirror_bytes(true, 3);
        let text = render(false).unwrap();
        for name in [
            "pullguard_decisions_total{origin=\"ctl\",verdict=\"allowed\"}",
            "pullguard_verification_duration_seconds_bucket",
            "pullguard_verdict_cache_hits_total",
            "pullguard_verdict_cache_entries",
            "pullguard_registry_requests_total{registry=\"127.0.0.1:5000\",outcome=\"200\"}",
            "pullguard_registry_request_duration_seconds_count{registry=\"127.0.0.1:5000\"}",
            "pullguard_mirror_served_bytes_total{kind=\"blob\"}",
            "pullguard_policy_generation",
            "pullguard_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} not in\n{text}");
        }
        let om = render(true).unwrap();
        assert!(om.ends_with("# EOF\n"), "{om}");
    }
}
