//! The decision log: every verdict as one record, kept in a ring for `ctl decisions`, sent to
//! watchers, and logged on the `pullguard::decision` target; and the counters.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

use crate::verify::Outcome;

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub time: String,
    /// Who asked: docker, containerd-verifier, mirror, ctl, store (the store watch and audit).
    pub origin: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    pub verdict: &'static str,
    pub reason: String,
    pub generation: u64,
    pub cached: bool,
    pub duration_ms: f64,
    /// Who asked and through what; the signer and signature that verified.
    #[serde(flatten)]
    pub who: crate::who::Who,
}

#[derive(Default)]
pub struct Counters {
    pub verifications: AtomicU64,
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub cache_hits: AtomicU64,
}

/// The ring (at most `capacity` records; 0 keeps none and logs nothing) and the broadcast.
pub(super) struct Decisions {
    ring: Mutex<VecDeque<Decision>>,
    watch: broadcast::Sender<Decision>,
    capacity: usize,
}

impl Decisions {
    pub(super) fn new(capacity: usize) -> Decisions {
        // With no ring (the one-shot CLI) nothing is ever sent: no 1,024-slot buffer to build.
        let (watch, _) = broadcast::channel(if capacity == 0 { 1 } else { 1024 });
        Decisions {
            ring: Mutex::new(VecDeque::new()),
            watch,
            capacity,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn record(
        &self,
        counters: &Counters,
        now: OffsetDateTime,
        origin: &str,
        o: &Outcome,
        generation: u64,
        cached: bool,
        duration_ms: f64,
    ) {
        crate::metrics::decision(origin, o.allowed);
        if o.allowed {
            counters.allowed.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.denied.fetch_add(1, Ordering::Relaxed);
        }
        if self.capacity == 0 {
            return;
        }
        let d = Decision {
            time: now.format(&Rfc3339).unwrap_or_default(),
            origin: origin.to_string(),
            image: o.reference.clone(),
            digest: o.digest().map(str::to_owned),
            policy: o.policy.clone(),
            verdict: if o.allowed { "allowed" } else { "denied" },
            reason: o.summary(),
            generation,
            cached,
            duration_ms,
            who: crate::who::for_decision(o),
        };
        tracing::info!(
            target: "pullguard::decision",
            origin = %d.origin,
            image = %d.image,
            digest = d.digest.as_deref().unwrap_or(""),
            policy = d.policy.as_deref().unwrap_or(""),
            verdict = d.verdict,
            reason = %d.reason,
            generation = d.generation,
            cached = d.cached,
            duration_ms = d.duration_ms,
            client_uid = d.who.client_uid,
            client_pid = d.who.client_pid,
            client_addr = d.who.client_addr.as_deref(),
            call = d.who.call.as_deref(),
            signer = d.who.signer.as_deref(),
            signature_digest = d.who.signature_digest.as_deref(),
            "decision"
        );
        if let Ok(mut ring) = self.ring.lock() {
            if ring.len() >= self.capacity {
                ring.pop_front();
            }
            ring.push_back(d.clone());
        }
        let _ = self.watch.send(d);
    }

    pub(super) fn list(&self) -> Vec<Decision> {
        self.ring
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Decision> {
        self.watch.subscribe()
    }
}
