//! The closed pair of signature sources older callers name.

use super::*;

/// Where signatures come from, as a closed pair (kept for callers that name one); any
/// [`Registry`] will do.
pub enum Source<'a> {
    Registry(&'a RegistryClient),
    Layout(&'a OciLayout),
}

impl Source<'_> {
    pub(super) fn inner(&self) -> &dyn Registry {
        match self {
            Source::Registry(c) => *c,
            Source::Layout(l) => *l,
        }
    }
}

impl Registry for Source<'_> {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        self.inner().resolve(image)
    }

    fn signatures<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        self.inner().signatures(image, digest)
    }

    fn manifest_by<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<bytes::Bytes, RegistryError>> {
        self.inner().manifest_by(image, desc)
    }

    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<bytes::Bytes, RegistryError>> {
        self.inner().blob(image, desc, max)
    }
}
