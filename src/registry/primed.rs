//! A registry whose first answers were asked for before anyone needed them.
//!
//! The one-shot `pullguard verify` starts resolving the image (and, by digest, listing its
//! signatures) the moment it knows the reference, while the trust policy and its stores load
//! on another thread: the registry's first round trip and the local work overlap instead of
//! adding up. Each primed answer is handed out once, to the call that asks exactly the same
//! question; every other call goes to the inner registry as usual. A primed request that did
//! not finish (its task panicked or was cancelled) is simply asked again.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{BoxFuture, Fetched, Registry, RegistryError};
use crate::auth::Credential;
use crate::oci::{Descriptor, ImageRef};

type Answer<T> = JoinHandle<Result<T, RegistryError>>;
/// The question a primed answer is for: the image, and for a signature list its digest.
type Slot<Q, T> = Mutex<Option<(Q, Answer<T>)>>;

pub struct Primed {
    inner: Arc<dyn Registry>,
    resolve: Slot<ImageRef, Fetched>,
    signatures: Slot<(ImageRef, String), Vec<Descriptor>>,
}

impl Primed {
    /// Starts asking `inner` for `image` now (on the current tokio runtime): its manifest,
    /// and when the reference has a digest, the signatures of that digest.
    pub fn start(inner: Arc<dyn Registry>, image: &ImageRef) -> Primed {
        let resolve = {
            let (inner, image) = (inner.clone(), image.clone());
            tokio::spawn(async move { inner.resolve(&image).await })
        };
        let signatures = image.digest.clone().map(|digest| {
            let pinned = image.with_digest(&digest);
            let (inner, asked, d) = (inner.clone(), pinned.clone(), digest.clone());
            let task = tokio::spawn(async move { inner.signatures(&asked, &d).await });
            ((pinned, digest), task)
        });
        Primed {
            inner,
            resolve: Mutex::new(Some((image.clone(), resolve))),
            signatures: Mutex::new(signatures),
        }
    }
}

/// The primed answer, if it is for this question (taken: it is handed out once).
fn take<T>(slot: &Mutex<Option<T>>, matches: impl FnOnce(&T) -> bool) -> Option<T> {
    let mut slot = slot.lock().ok()?;
    if slot.as_ref().is_some_and(matches) {
        slot.take()
    } else {
        None
    }
}

impl Drop for Primed {
    fn drop(&mut self) {
        if let Some((_, task)) = self.resolve.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
        if let Some((_, task)) = self.signatures.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

impl Registry for Primed {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        Box::pin(async move {
            if let Some((_, task)) = take(&self.resolve, |(asked, _)| asked == image)
                && let Ok(answer) = task.await
            {
                return answer;
            }
            self.inner.resolve(image).await
        })
    }

    fn signatures<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        Box::pin(async move {
            if let Some((_, task)) = take(&self.signatures, |((asked, d), _)| {
                asked == image && d == digest
            }) && let Ok(answer) = task.await
            {
                return answer;
            }
            self.inner.signatures(image, digest).await
        })
    }

    fn manifest_by<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        self.inner.manifest_by(image, desc)
    }

    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        self.inner.blob(image, desc, max)
    }

    fn with_credential(&self, credential: &Credential) -> Option<Box<dyn Registry>> {
        self.inner.with_credential(credential)
    }
}
