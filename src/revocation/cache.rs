//! Verified CRLs kept in memory per URL until their `nextUpdate`, bounded in entries and bytes.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::crl::ParsedCrl;

/// CRL cache bounds.
pub(super) const CRL_CACHE_MAX_ENTRIES: usize = 64;
pub(super) const CRL_CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub(super) struct CrlCache {
    pub(super) entries: HashMap<String, Arc<ParsedCrl>>,
    pub(super) bytes: usize,
}

impl CrlCache {
    pub(super) fn get(
        &self,
        url: &str,
        issuer_fp: &str,
        now: OffsetDateTime,
    ) -> Option<Arc<ParsedCrl>> {
        self.entries
            .get(url)
            .filter(|c| c.issuer_fp == issuer_fp && c.next_update > now)
            .cloned()
    }

    fn remove(&mut self, url: &str) {
        if let Some(old) = self.entries.remove(url) {
            self.bytes -= old.size;
        }
    }

    pub(super) fn insert(&mut self, url: &str, crl: Arc<ParsedCrl>, now: OffsetDateTime) {
        self.remove(url);
        if crl.size > CRL_CACHE_MAX_BYTES {
            return;
        }
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, c)| c.next_update <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for u in expired {
            self.remove(&u);
        }
        while self.entries.len() >= CRL_CACHE_MAX_ENTRIES
            || self.bytes + crl.size > CRL_CACHE_MAX_BYTES
        {
            // Evict the one that expires first.
            let Some(u) = self
                .entries
                .iter()
                .min_by_key(|(_, c)| c.next_update)
                .map(|(u, _)| u.clone())
            else {
                break;
            };
            self.remove(&u);
        }
        self.bytes += crl.size;
        self.entries.insert(url.to_string(), crl);
    }
}
