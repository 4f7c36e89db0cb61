//! Which digests the mirror may serve: those reachable from a manifest verified under the
//! current policy generation, per repository. Nothing here does I/O.

use std::collections::{HashMap, VecDeque};

/// Grants kept per generation; past this the oldest go first (a pull then fails closed).
pub(super) const MAX_GRANTS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An index child: a manifest fetched by digest under its index's signature.
    Manifest,
    /// A config or layer.
    Blob,
}

/// Why a digest may be served: the verified image it hangs off.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) kind: Kind,
    /// The media type the verified manifest gives it (an index child is served only as that).
    pub(super) media_type: String,
    pub(super) size: i64,
    /// `registry/repository@digest` of the verified manifest it was reached from.
    pub(super) via: String,
    pub(super) policy: Option<String>,
}

/// Digests granted under one policy generation, keyed by (`registry/repository`, digest).
#[derive(Default)]
pub(super) struct Grants {
    generation: u64,
    map: HashMap<(String, String), Grant>,
    order: VecDeque<(String, String)>,
}

impl Grants {
    /// Move to `generation` (dropping older grants); false when `generation` is stale.
    pub(super) fn at(&mut self, generation: u64) -> bool {
        if generation > self.generation {
            self.map.clear();
            self.order.clear();
            self.generation = generation;
        }
        generation == self.generation
    }

    pub(super) fn get(&mut self, generation: u64, scope: &str, digest: &str) -> Option<Grant> {
        if !self.at(generation) {
            return None;
        }
        self.map
            .get(&(scope.to_string(), digest.to_string()))
            .cloned()
    }

    pub(super) fn insert(&mut self, generation: u64, scope: &str, digest: &str, grant: Grant) {
        if !self.at(generation) {
            return;
        }
        let key = (scope.to_string(), digest.to_string());
        if self.map.insert(key.clone(), grant).is_none() {
            self.order.push_back(key);
        }
        while self.map.len() > MAX_GRANTS {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_belong_to_one_generation() {
        let g = |kind| Grant {
            kind,
            media_type: String::new(),
            size: 1,
            via: "r/x@sha256:1".into(),
            policy: None,
        };
        let mut grants = Grants::default();
        grants.insert(1, "r/x", "sha256:a", g(Kind::Blob));
        assert!(grants.get(1, "r/x", "sha256:a").is_some());
        assert!(grants.get(1, "r/y", "sha256:a").is_none(), "per repository");
        // A newer generation drops them; a stale insert is ignored.
        assert!(grants.get(2, "r/x", "sha256:a").is_none());
        grants.insert(1, "r/x", "sha256:b", g(Kind::Blob));
        assert!(grants.get(2, "r/x", "sha256:b").is_none());
        assert!(grants.get(1, "r/x", "sha256:b").is_none());
        grants.insert(2, "r/x", "sha256:c", g(Kind::Manifest));
        assert_eq!(
            grants.get(2, "r/x", "sha256:c").map(|g| g.kind),
            Some(Kind::Manifest)
        );
    }

    #[test]
    fn grants_are_bounded_oldest_first() {
        let mut grants = Grants::default();
        for i in 0..MAX_GRANTS + 10 {
            grants.insert(
                1,
                "r/x",
                &format!("sha256:{i}"),
                Grant {
                    kind: Kind::Blob,
                    media_type: String::new(),
                    size: 1,
                    via: String::new(),
                    policy: None,
                },
            );
        }
        assert_eq!(grants.map.len(), MAX_GRANTS);
        assert!(grants.get(1, "r/x", "sha256:0").is_none());
        assert!(
            grants
                .get(1, "r/x", &format!("sha256:{}", MAX_GRANTS + 9))
                .is_some()
        );
    }
}
