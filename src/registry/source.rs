//! The seam where manifests and signatures come from: [`Registry`], implemented by the
//! [`RegistryClient`], the [`OciLayout`] and (in tests) fakes. As in notation-go's
//! `registry.Repository`, the signature-manifest shape rules live behind one method,
//! [`Registry::fetch_signature`], so every source applies the same ones.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use super::{Credentials, Fetched, RegistryClient, RegistryError};
use crate::auth::Credential;
use crate::envelope::MAX_ENVELOPE_SIZE;
use crate::layout::OciLayout;
use crate::oci::{Descriptor, ImageRef, MAX_MANIFEST_SIZE};

/// A boxed, sendable future (the trait is used as `dyn Registry`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where an image and its signatures come from.
pub trait Registry: Send + Sync {
    /// A manifest by tag or digest (`image.reference()`): its exact bytes, the media type it
    /// was served with and the digest of the bytes.
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>>;

    /// "Discover": the Notation signature manifests whose subject is `digest`.
    fn signatures<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>>;

    /// A manifest by its descriptor, at most [`MAX_MANIFEST_SIZE`]; from a registry the
    /// served media type must be the descriptor's (oras-go's manifest store refuses a
    /// mismatched `Content-Type`).
    fn manifest_by<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>>;

    /// A blob by its descriptor, at most `max` bytes, checked against its digest.
    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>>;

    /// This source, asked with `credential` (a Docker client's `X-Registry-Auth`); `None`
    /// when credentials do not apply (a layout on disk).
    fn with_credential(&self, _credential: &Credential) -> Option<Box<dyn Registry>> {
        None
    }

    /// A signature's envelope media type and bytes, from its signature manifest's descriptor:
    /// the [`shape`] rules and limits, in one place for every source.
    fn fetch_signature<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<(String, Bytes), RegistryError>> {
        Box::pin(async move {
            shape::check_manifest_descriptor(desc).map_err(RegistryError::protocol)?;
            let bytes = self.manifest_by(image, desc).await?;
            if bytes.len() as i64 != desc.size {
                return Err(RegistryError::protocol(format!(
                    "signature manifest {} is {} bytes, the descriptor says {}",
                    desc.digest,
                    bytes.len(),
                    desc.size
                )));
            }
            let layer =
                shape::envelope_descriptor(desc, &bytes).map_err(RegistryError::protocol)?;
            let env = self.blob(image, &layer, MAX_ENVELOPE_SIZE).await?;
            Ok((layer.media_type, env))
        })
    }
}

impl Registry for RegistryClient {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        Box::pin(RegistryClient::manifest(self, image, image.reference()))
    }

    fn signatures<'a>(
        &'a self,
        image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        Box::pin(RegistryClient::signatures(self, image, digest))
    }

    fn manifest_by<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        Box::pin(async move {
            let f = RegistryClient::manifest(self, image, &desc.digest).await?;
            if f.media_type != desc.media_type {
                return Err(RegistryError::protocol(format!(
                    "manifest {}: mismatch response Content-Type {:?}: expect {:?}",
                    desc.digest, f.media_type, desc.media_type
                )));
            }
            Ok(f.bytes)
        })
    }

    fn blob<'a>(
        &'a self,
        image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        Box::pin(RegistryClient::blob(self, image, desc, max))
    }

    fn with_credential(&self, credential: &Credential) -> Option<Box<dyn Registry>> {
        Some(Box::new(self.with_credentials(Credentials::Fixed(Some(
            credential.clone(),
        )))))
    }
}

impl Registry for OciLayout {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        let r = OciLayout::resolve(self, image.reference()).map_err(RegistryError::protocol);
        Box::pin(std::future::ready(r))
    }

    fn signatures<'a>(
        &'a self,
        _image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        let r = OciLayout::signatures(self, digest).map_err(RegistryError::protocol);
        Box::pin(std::future::ready(r))
    }

    fn manifest_by<'a>(
        &'a self,
        _image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        let r = self
            .read_blob(desc, MAX_MANIFEST_SIZE)
            .map(Bytes::from)
            .map_err(RegistryError::protocol);
        Box::pin(std::future::ready(r))
    }

    fn blob<'a>(
        &'a self,
        _image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        let r = self
            .read_blob(desc, max)
            .map(Bytes::from)
            .map_err(RegistryError::protocol);
        Box::pin(std::future::ready(r))
    }
}

/// The signature-manifest shape rules, in one place (notation-go
/// `registry.repositoryClient.getSignatureBlobDesc` and `FetchSignatureBlob`): the descriptor
/// in the referrers list must name an OCI image manifest or an OCI artifact manifest of at most
/// 4 MiB; the manifest is decoded as that type (Go's `encoding/json` into `ocispec.Manifest` /
/// `artifactspec.Artifact`) and its `layers` (image manifest) or `blobs` (artifact manifest)
/// must hold exactly one descriptor, the envelope, of at most 32 MiB. Its media type is the
/// envelope's. Nothing else about the manifest (artifactType, config) is checked, as in
/// notation-go: the listing already filtered by artifact type, and the envelope's payload binds
/// the signature to the target.
pub mod shape {
    use crate::envelope::MAX_ENVELOPE_SIZE;
    use crate::oci::{Descriptor, MAX_MANIFEST_SIZE, MEDIA_OCI_ARTIFACT, MEDIA_OCI_MANIFEST};

    /// Check the signature manifest's descriptor before fetching it.
    pub fn check_manifest_descriptor(desc: &Descriptor) -> Result<(), String> {
        if desc.media_type != MEDIA_OCI_ARTIFACT && desc.media_type != MEDIA_OCI_MANIFEST {
            return Err(format!(
                "sigManifestDesc.MediaType requires {:?} or {:?}, got {:?}",
                MEDIA_OCI_ARTIFACT, MEDIA_OCI_MANIFEST, desc.media_type
            ));
        }
        if desc.size > MAX_MANIFEST_SIZE as i64 {
            return Err(format!("signature manifest too large: {} bytes", desc.size));
        }
        if desc.size < 0 {
            return Err(format!("invalid descriptor size {}", desc.size));
        }
        Ok(())
    }

    #[derive(serde::Deserialize)]
    struct Layers {
        #[serde(default)]
        layers: Option<Vec<Descriptor>>,
    }

    #[derive(serde::Deserialize)]
    struct Blobs {
        #[serde(default)]
        blobs: Option<Vec<Descriptor>>,
    }

    /// The envelope's descriptor, from the fetched (digest- and size-checked) manifest bytes.
    pub fn envelope_descriptor(desc: &Descriptor, manifest: &[u8]) -> Result<Descriptor, String> {
        let blobs = if desc.media_type == MEDIA_OCI_MANIFEST {
            serde_json::from_slice::<Layers>(manifest)
                .map_err(|e| format!("malformed signature manifest: {e}"))?
                .layers
        } else {
            serde_json::from_slice::<Blobs>(manifest)
                .map_err(|e| format!("malformed signature manifest: {e}"))?
                .blobs
        }
        .unwrap_or_default();
        let [blob] = <[Descriptor; 1]>::try_from(blobs).map_err(|b| {
            format!(
                "signature manifest requries exactly one signature envelope blob, got {}",
                b.len()
            )
        })?;
        if blob.size > MAX_ENVELOPE_SIZE as i64 {
            return Err(format!("signature blob too large: {} bytes", blob.size));
        }
        if blob.size < 0 {
            return Err(format!("invalid descriptor size {}", blob.size));
        }
        Ok(blob)
    }
}
