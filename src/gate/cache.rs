//! The verdict cache: one verification per (artifact, policy generation) at a time (single
//! flight), an allow kept `positive_ttl`, a denial `negative_ttl`, and a denial caused by a
//! registry that could not be asked only `transient_ttl`. Time is `tokio::time::Instant`, so a
//! test can `tokio::time::pause()` through a lifetime.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::oci::Descriptor;
use crate::verify::Outcome;

/// Verdicts kept at most (a flood of distinct digests cannot grow the cache without bound).
const MAX_CACHE_ENTRIES: usize = 50_000;

/// (`registry/repository@digest`, generation).
pub(super) type Key = (String, u64);

#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    pub positive: Duration,
    pub negative: Duration,
    pub transient: Duration,
}

impl Lifetimes {
    fn of(&self, o: &Outcome) -> Duration {
        if o.allowed {
            self.positive
        } else if o.transient {
            self.transient.min(self.negative)
        } else {
            self.negative
        }
    }
}

struct Entry {
    cell: OnceCell<(Arc<Outcome>, Instant)>,
}

pub(super) struct Cache {
    entries: Mutex<HashMap<Key, Arc<Entry>>>,
    ttl: Lifetimes,
}

impl Cache {
    pub(super) fn new(ttl: Lifetimes) -> Cache {
        Cache {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn is_fresh(&self, o: &Outcome, at: Instant) -> bool {
        at.elapsed() < self.ttl.of(o)
    }

    /// A completed, still fresh verdict for `key`.
    pub(super) fn fresh(&self, key: &Key) -> Option<Arc<Outcome>> {
        let cache = self.entries.lock().ok()?;
        let (o, at) = cache.get(key)?.cell.get()?;
        self.is_fresh(o, *at).then(|| o.clone())
    }

    /// Is a verification for `key` under way (its verdict not yet in)? A caller that would
    /// join it need not ask the registry ahead of it.
    pub(super) fn settling(&self, key: &Key) -> bool {
        self.entries
            .lock()
            .ok()
            .and_then(|c| c.get(key).map(|e| e.cell.get().is_none()))
            .unwrap_or(false)
    }

    /// The verdict for `key` on `target`: a fresh one, the one being computed, or `verify`'s.
    /// Returns whether it came from the cache.
    pub(super) async fn get_or_verify<F>(
        &self,
        key: Key,
        target: &Descriptor,
        verify: F,
    ) -> (Arc<Outcome>, bool)
    where
        F: Future<Output = Outcome>,
    {
        let entry = {
            let mut cache = match self.entries.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            // A verdict is about one descriptor: the same digest served now with another media
            // type (or size) is verified afresh, not allowed from the cache.
            let usable = |o: &Outcome, at: Instant| {
                self.is_fresh(o, at) && o.descriptor.as_ref().is_none_or(|d| same(d, target))
            };
            match cache.get(&key) {
                Some(e) if e.cell.get().is_none_or(|(o, at)| usable(o, *at)) => e.clone(),
                _ => {
                    if cache.len() >= MAX_CACHE_ENTRIES {
                        // Bounded: drop what is stale first, then every settled verdict.
                        cache.retain(|_, e| {
                            e.cell.get().is_none_or(|(o, at)| self.is_fresh(o, *at))
                        });
                        if cache.len() >= MAX_CACHE_ENTRIES {
                            cache.retain(|_, e| e.cell.get().is_none());
                        }
                    }
                    let e = Arc::new(Entry {
                        cell: OnceCell::new(),
                    });
                    cache.insert(key, e.clone());
                    crate::metrics::cache_entries(cache.len());
                    e
                }
            }
        };
        let mut computed = false;
        let (outcome, _) = entry
            .cell
            .get_or_init(|| async {
                computed = true;
                (Arc::new(verify.await), Instant::now())
            })
            .await
            .clone();
        (outcome, !computed)
    }

    pub(super) fn purge(&self) -> usize {
        match self.entries.lock() {
            Ok(mut c) => {
                let n = c.len();
                c.clear();
                crate::metrics::cache_entries(0);
                n
            }
            Err(_) => 0,
        }
    }
}

/// The same content descriptor, as a signature covers it: media type, digest and size.
fn same(a: &Descriptor, b: &Descriptor) -> bool {
    a.media_type == b.media_type && a.digest == b.digest && a.size == b.size
}
