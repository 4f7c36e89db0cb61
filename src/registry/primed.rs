//! A registry whose answers were asked for before anyone needed them.
//!
//! The one-shot `pullguard verify` starts the registry's whole chain of questions the moment
//! it knows the reference, while the trust policy and its stores load on another thread: the
//! image is resolved; the signatures of its digest are listed (at once by digest, on the
//! resolved digest by tag); the first listed signature's manifest and envelope are fetched
//! (through [`Registry::fetch_signature`], so its shape rules and limits are the same). Each
//! step starts as the one before it answers, so the round trips follow each other without
//! waiting for the local work, and the local work overlaps them.
//!
//! Each primed answer is handed out once, to the call that asks exactly the same question
//! (same image, digest or descriptor); every other call goes to the inner registry as usual,
//! so what the verification checks and decides is unchanged: only when the questions are
//! asked moves. A primed request that did not finish (its task panicked or was cancelled) is
//! asked again. The cost: when the policy turns out to skip verification or to match no
//! statement, the registry was asked for signatures nobody reads (GETs of the registry the
//! user named, with the same credentials); notation asks nothing then.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::{BoxFuture, Fetched, Registry, RegistryError};
use crate::auth::Credential;
use crate::oci::{Descriptor, ImageRef};

type Answer<T> = JoinHandle<Result<T, RegistryError>>;
/// The question a primed answer is for, and the task answering it; shared with the task of
/// the step before, which fills it.
type Slot<Q, T> = Arc<Mutex<Option<(Q, Answer<T>)>>>;

pub struct Primed {
    inner: Arc<dyn Registry>,
    resolve: Slot<ImageRef, Fetched>,
    signatures: Slot<(ImageRef, String), Vec<Descriptor>>,
    signature: Slot<(ImageRef, Descriptor), (String, Bytes)>,
}

fn slot<Q, T>() -> Slot<Q, T> {
    Arc::new(Mutex::new(None))
}

fn fill<Q, T>(slot: &Slot<Q, T>, question: Q, answer: Answer<T>) {
    match slot.lock() {
        Ok(mut s) => {
            if let Some((_, old)) = s.replace((question, answer)) {
                old.abort();
            }
        }
        Err(_) => answer.abort(),
    }
}

impl Primed {
    /// Starts asking `inner` about `image` now (on the current tokio runtime): its manifest;
    /// the signatures of its digest (by digest at once, by tag once resolved); the first
    /// signature's manifest and envelope once listed.
    pub fn start(inner: Arc<dyn Registry>, image: &ImageRef) -> Primed {
        let primed = Primed {
            inner,
            resolve: slot(),
            signatures: slot(),
            signature: slot(),
        };
        let by_digest = image.digest.is_some();
        let resolve = {
            let (inner, image) = (primed.inner.clone(), image.clone());
            let (signatures, signature) = (primed.signatures.clone(), primed.signature.clone());
            tokio::spawn(async move {
                let answer = inner.resolve(&image).await;
                if !by_digest && let Ok(f) = &answer {
                    list(
                        &inner,
                        &image.with_digest(&f.digest),
                        &f.digest,
                        &signatures,
                        &signature,
                    );
                }
                answer
            })
        };
        fill(&primed.resolve, image.clone(), resolve);
        if let Some(digest) = &image.digest {
            list(
                &primed.inner,
                &image.with_digest(digest),
                digest,
                &primed.signatures,
                &primed.signature,
            );
        }
        primed
    }
}

/// Lists the signatures of `digest` into `signatures`, then fetches the first one into
/// `signature`.
fn list(
    inner: &Arc<dyn Registry>,
    pinned: &ImageRef,
    digest: &str,
    signatures: &Slot<(ImageRef, String), Vec<Descriptor>>,
    signature: &Slot<(ImageRef, Descriptor), (String, Bytes)>,
) {
    let (inner2, asked, d) = (inner.clone(), pinned.clone(), digest.to_string());
    let next = signature.clone();
    let task = tokio::spawn(async move {
        let answer = inner2.signatures(&asked, &d).await;
        if let Ok(Some(first)) = answer.as_ref().map(|l| l.first()) {
            let (inner, image, desc) = (inner2.clone(), asked.clone(), first.clone());
            let fetch = tokio::spawn(async move { inner.fetch_signature(&image, &desc).await });
            fill(&next, (asked.clone(), first.clone()), fetch);
        }
        answer
    });
    fill(signatures, (pinned.clone(), digest.to_string()), task);
}

/// The primed answer, if it is for this question (taken: it is handed out once).
fn take<Q, T>(slot: &Slot<Q, T>, matches: impl FnOnce(&Q) -> bool) -> Option<Answer<T>> {
    let mut slot = slot.lock().ok()?;
    if slot.as_ref().is_some_and(|(q, _)| matches(q)) {
        slot.take().map(|(_, a)| a)
    } else {
        None
    }
}

fn abort<Q, T>(slot: &Slot<Q, T>) {
    if let Some((_, task)) = slot.lock().ok().and_then(|mut s| s.take()) {
        task.abort();
    }
}

impl Drop for Primed {
    fn drop(&mut self) {
        abort(&self.resolve);
        abort(&self.signatures);
        abort(&self.signature);
    }
}

impl Registry for Primed {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        Box::pin(async move {
            if let Some(task) = take(&self.resolve, |asked| asked == image)
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
            if let Some(task) = take(&self.signatures, |(asked, d)| asked == image && d == digest)
                && let Ok(answer) = task.await
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

    fn fetch_signature<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<(String, Bytes), RegistryError>> {
        Box::pin(async move {
            if let Some(task) = take(&self.signature, |(asked, d)| asked == image && d == desc)
                && let Ok(answer) = task.await
            {
                return answer;
            }
            self.inner.fetch_signature(image, desc).await
        })
    }

    fn with_credential(&self, credential: &Credential) -> Option<Box<dyn Registry>> {
        self.inner.with_credential(credential)
    }
}
