//! Manifests through the mirror: verified through the gate, served with the upstream's exact
//! bytes when they are still the verified descriptor, and what they reference granted.

use std::sync::atomic::Ordering;

use hyper::Response;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};

use super::grants::Kind;
use super::response::{full, unavailable_response, value};
use super::{DOCKER_CONTENT_DIGEST, Mirror};
use crate::docker::Body;
use crate::gate::{self, Denial, Evidence, Platform, Verified};
use crate::oci::{Descriptor, ImageRef};
use crate::registry::Fetched;

/// Why the manifest `f` the registry served now is not the descriptor that was verified.
pub(super) fn descriptor_differs(verified: &Descriptor, f: &Fetched) -> Option<String> {
    let size = f.bytes.len() as i64;
    if f.digest != verified.digest || size != verified.size {
        Some(format!(
            "the registry served {} ({size} bytes) where {} ({} bytes) was verified",
            f.digest, verified.digest, verified.size
        ))
    } else if f.media_type != verified.media_type {
        Some(format!(
            "the registry now serves {} with media type {:?}, the verified descriptor has {:?}",
            f.digest, f.media_type, verified.media_type
        ))
    } else {
        None
    }
}

impl Mirror {
    pub(super) async fn manifest(
        &self,
        head: bool,
        image: ImageRef,
    ) -> Result<Response<Body>, String> {
        let generation = self.engine.snapshot().generation;
        let scope = image.scope();
        // A child of a verified index, by digest: served under the index's signature, unless
        // require_platform_signature wants its own.
        let child = image
            .digest
            .as_deref()
            .and_then(|d| self.grant(generation, &scope, d).map(|g| (d, g)))
            .filter(|(_, g)| g.kind == Kind::Manifest);
        let req = gate::Request::new(image.clone(), "mirror").platform(Platform::Served);
        let verdict = match &child {
            Some((digest, g)) => {
                // An index entry without a media type (not valid OCI) pins none: the served
                // one is taken (checked against the grant's digest and size below).
                let child = Descriptor {
                    media_type: g.media_type.clone(),
                    digest: digest.to_string(),
                    size: g.size,
                    artifact_type: None,
                    annotations: None,
                    platform: None,
                };
                let policy = g.policy.as_deref().unwrap_or("-");
                self.engine.check_child(&req, &g.via, policy, child).await
            }
            None => self.engine.check(&req).await,
        };
        let verified = match verdict {
            Ok(v) => v,
            // The upstream could not be asked: no verdict on the image, and a client that
            // retries later may get one.
            Err(d) if d.is_transient() => {
                let message = format!("pullguard: {d}");
                tracing::warn!(target: "pullguard::mirror", event = "unavailable", image = %image, reason = %message, "mirror upstream unavailable");
                return Ok(unavailable_response(&message));
            }
            Err(d) => {
                return Err(match &child {
                    Some((_, g)) => format!(
                        "{d} (a platform manifest of {}: require_platform_signature wants it signed too)",
                        g.via
                    ),
                    None => d.to_string(),
                });
            }
        };
        self.serve_verified(head, &image, &verified, generation)
            .await
    }

    /// Serve what the gate verified, as the upstream serves it now: media type, digest and
    /// size must be the verified descriptor's (a verdict from the cache was made on bytes
    /// fetched earlier). What it references is granted for this generation.
    async fn serve_verified(
        &self,
        head: bool,
        image: &ImageRef,
        v: &Verified,
        generation: u64,
    ) -> Result<Response<Body>, String> {
        let scope = image.scope();
        let (via, denied): (String, Box<dyn Fn(String) -> String + Send + Sync>) =
            match v.evidence() {
                Evidence::IndexChild { index } => {
                    let (index, policy, digest) = (
                        index.clone(),
                        v.policy().to_string(),
                        v.digest().to_string(),
                    );
                    let scope = scope.clone();
                    (
                        index.clone(),
                        Box::new(move |why| {
                            let item = format!("{scope}@{digest}");
                            Denial::part_of(&item, &index, &policy, why).to_string()
                        }),
                    )
                }
                _ => {
                    let d = v.clone();
                    (
                        format!("{scope}@{}", v.digest()),
                        Box::new(move |why| d.deny(why).to_string()),
                    )
                }
            };
        let f = match v.manifest() {
            Some(f) => f.clone(),
            None => self
                .engine
                .client()
                .manifest(image, v.digest())
                .await
                .map_err(|e| denied(e.to_string()))?,
        };
        let mut verified = v.descriptor().clone();
        if verified.media_type.is_empty() && matches!(v.evidence(), Evidence::IndexChild { .. }) {
            verified.media_type = f.media_type.clone();
        }
        if let Some(why) = descriptor_differs(&verified, &f) {
            return Err(denied(why));
        }
        // The manifest itself is not granted: asked for again (by digest), it goes through the
        // verdict cache, whose allow expires (a signature can).
        let policy = Some(v.policy().to_string());
        self.grant_references(generation, &scope, &f, &via, &policy)
            .map_err(denied)?;
        Ok(self.serve_manifest(head, image, &f, &via))
    }

    /// The upstream's exact bytes, media type, digest and length.
    fn serve_manifest(
        &self,
        head: bool,
        image: &ImageRef,
        f: &Fetched,
        via: &str,
    ) -> Response<Body> {
        let manifests = if head {
            self.counters.manifests_served.load(Ordering::Relaxed)
        } else {
            self.counters
                .manifests_served
                .fetch_add(1, Ordering::Relaxed)
                + 1
        };
        let (_, blobs, denials, _) = self.counters.get();
        tracing::info!(
            target: "pullguard::mirror",
            event = "manifest",
            method = if head { "HEAD" } else { "GET" },
            image = %image,
            digest = %f.digest,
            media_type = %f.media_type,
            size = f.bytes.len(),
            via,
            manifests_served = manifests,
            blobs_served = blobs,
            denials,
            "mirror served manifest"
        );
        crate::metrics::mirror_bytes(false, if head { 0 } else { f.bytes.len() });
        let mut r = Response::new(full(f.bytes.clone()));
        let h = r.headers_mut();
        if let Some(v) = value(&f.media_type).filter(|_| !f.media_type.is_empty()) {
            h.insert(CONTENT_TYPE, v);
        }
        if let Some(v) = value(&f.digest) {
            h.insert(DOCKER_CONTENT_DIGEST, v);
        }
        h.insert(CONTENT_LENGTH, HeaderValue::from(f.bytes.len()));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn only_the_verified_descriptor_is_served() {
        let bytes = Bytes::from_static(b"{}");
        let digest = crate::oci::sha256_digest(&bytes);
        let f = |media_type: &str, digest: &str| Fetched {
            bytes: bytes.clone(),
            media_type: media_type.into(),
            digest: digest.into(),
        };
        let verified = f(crate::oci::MEDIA_OCI_INDEX, &digest).descriptor();
        assert_eq!(
            descriptor_differs(&verified, &f(crate::oci::MEDIA_OCI_INDEX, &digest)),
            None
        );
        let e = descriptor_differs(&verified, &f(crate::oci::MEDIA_DOCKER_LIST, &digest)).unwrap();
        assert!(
            e.contains("media type") && e.contains(crate::oci::MEDIA_OCI_INDEX),
            "{e}"
        );
        let other = format!("sha256:{}", "0".repeat(64));
        let e = descriptor_differs(&verified, &f(crate::oci::MEDIA_OCI_INDEX, &other)).unwrap();
        assert!(e.contains("was verified"), "{e}");
        let bigger = Descriptor {
            size: 3,
            ..verified.clone()
        };
        let e = descriptor_differs(&bigger, &f(crate::oci::MEDIA_OCI_INDEX, &digest)).unwrap();
        assert!(e.contains("(3 bytes) was verified"), "{e}");
    }
}
