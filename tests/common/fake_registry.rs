//! A FAKE registry, in memory, for the in-process gate tests (`tests/pipeline.rs`): one
//! repository's manifests, blobs and referrers, and scripted faults (a registry that is down).
//! The real-peer tests drive registry 2.8; this exists for what they cannot do in well under
//! a second with a paused clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use pullguard::oci::{Descriptor, ImageRef};
use pullguard::registry::{BoxFuture, Fetched, Registry, RegistryError};

use super::{Pki, payload, protected_x509, rfc3339, sha256, sign_jws};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const JWS: &str = "application/jose+json";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
const NOTATION: &str = "application/vnd.cncf.notary.signature";

#[derive(Default)]
pub struct FakeRegistry {
    tags: Mutex<HashMap<String, String>>,
    /// digest → (media type, bytes), manifests and blobs alike.
    content: Mutex<HashMap<String, (String, Vec<u8>)>>,
    /// subject digest → signature manifest descriptors.
    referrers: Mutex<HashMap<String, Vec<Descriptor>>>,
    /// Scripted fault: the signature listing fails as an unreachable registry would.
    pub listing_down: AtomicBool,
    /// Scripted fault: resolving fails as an unreachable registry would.
    pub resolve_down: AtomicBool,
    pub resolves: AtomicUsize,
    pub listings: AtomicUsize,
    /// Manifests asked by descriptor (signature manifests) and blobs asked.
    pub manifests_by: AtomicUsize,
    pub blobs: AtomicUsize,
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest: sha256(bytes),
        size: bytes.len() as i64,
        artifact_type: None,
        annotations: None,
        platform: None,
    }
}

impl FakeRegistry {
    /// Store `bytes` under their digest (and `tag`); their descriptor.
    pub fn push(&self, tag: Option<&str>, media_type: &str, bytes: &[u8]) -> Descriptor {
        let d = descriptor(media_type, bytes);
        self.content
            .lock()
            .unwrap()
            .insert(d.digest.clone(), (media_type.into(), bytes.to_vec()));
        if let Some(t) = tag {
            self.tags.lock().unwrap().insert(t.into(), d.digest.clone());
        }
        d
    }

    /// An image manifest with one (made up) layer, unique per `seed`.
    pub fn push_image(&self, tag: Option<&str>, seed: &str) -> Descriptor {
        let layer = self.push(
            None,
            "application/vnd.oci.image.layer.v1.tar",
            seed.as_bytes(),
        );
        let config = self.push(None, EMPTY, b"{}");
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": config, "layers": [layer],
        });
        self.push(tag, MANIFEST, &serde_json::to_vec(&m).unwrap())
    }

    /// An image manifest whose config names `os/arch` (`push_image`'s config is `{}`, an
    /// artifact's: it runs nowhere).
    pub fn push_runnable(&self, tag: Option<&str>, seed: &str, platform: &str) -> Descriptor {
        let layer = self.push(
            None,
            "application/vnd.oci.image.layer.v1.tar",
            seed.as_bytes(),
        );
        let (os, arch) = platform.split_once('/').unwrap();
        let config = self.push(
            None,
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&serde_json::json!({"os": os, "architecture": arch})).unwrap(),
        );
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": config, "layers": [layer],
        });
        self.push(tag, MANIFEST, &serde_json::to_vec(&m).unwrap())
    }

    /// An index of `children` (`(descriptor, "os/arch")`; `""`: no platform given).
    pub fn push_index(&self, tag: Option<&str>, children: &[(&Descriptor, &str)]) -> Descriptor {
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .map(|(d, p)| {
                let mut entry = serde_json::json!({
                    "mediaType": d.media_type, "digest": d.digest, "size": d.size,
                });
                if let Some((os, arch)) = p.split_once('/') {
                    entry["platform"] = serde_json::json!({"os": os, "architecture": arch});
                }
                entry
            })
            .collect();
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
        self.push(tag, INDEX, &serde_json::to_vec(&m).unwrap())
    }

    /// Attach `envelope` (a JWS) to `subject` as a Notation signature manifest.
    pub fn attach(&self, subject: &Descriptor, envelope: &[u8]) -> Descriptor {
        let env = self.push(None, JWS, envelope);
        let config = self.push(None, EMPTY, b"{}");
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": NOTATION,
            "config": config, "layers": [env],
            "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size},
        });
        let mut d = self.push(None, MANIFEST, &serde_json::to_vec(&m).unwrap());
        d.artifact_type = Some(NOTATION.into());
        self.referrers
            .lock()
            .unwrap()
            .entry(subject.digest.clone())
            .or_default()
            .push(d.clone());
        d
    }

    /// Everything stored, as an OCI image layout at `dir` (tags as `ref.name` annotations),
    /// for `pullguard verify --oci-layout`.
    pub fn write_layout(&self, dir: &std::path::Path) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let content = self.content.lock().unwrap();
        for (digest, (_, bytes)) in content.iter() {
            std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap();
        }
        let manifests: Vec<serde_json::Value> = self
            .tags
            .lock()
            .unwrap()
            .iter()
            .map(|(tag, digest)| {
                let (media_type, bytes) = &content[digest];
                serde_json::json!({
                    "mediaType": media_type, "digest": digest, "size": bytes.len(),
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                })
            })
            .collect();
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }

    fn get(&self, digest: &str) -> Result<(String, Vec<u8>), RegistryError> {
        self.content
            .lock()
            .unwrap()
            .get(digest)
            .cloned()
            .ok_or_else(|| RegistryError::from_status(404, None, format!("{digest}: not found")))
    }
}

fn down() -> RegistryError {
    RegistryError::transient("registry request failed: connection refused (fake)")
}

impl Registry for FakeRegistry {
    fn resolve<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<Fetched, RegistryError>> {
        self.resolves.fetch_add(1, Ordering::SeqCst);
        let r = if self.resolve_down.load(Ordering::SeqCst) {
            Err(down())
        } else {
            let reference = image.reference();
            let digest = if reference.contains(':') {
                Some(reference.to_string())
            } else {
                self.tags.lock().unwrap().get(reference).cloned()
            };
            match digest {
                None => Err(RegistryError::from_status(
                    404,
                    None,
                    format!("{reference}: not found"),
                )),
                Some(d) => self.get(&d).map(|(media_type, bytes)| Fetched {
                    bytes: bytes.into(),
                    media_type,
                    digest: d,
                }),
            }
        };
        Box::pin(std::future::ready(r))
    }

    fn signatures<'a>(
        &'a self,
        _image: &'a ImageRef,
        digest: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Descriptor>, RegistryError>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        let r = if self.listing_down.load(Ordering::SeqCst) {
            Err(down())
        } else {
            Ok(self
                .referrers
                .lock()
                .unwrap()
                .get(digest)
                .cloned()
                .unwrap_or_default())
        };
        Box::pin(std::future::ready(r))
    }

    fn manifest_by<'a>(
        &'a self,
        _image: &'a ImageRef,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        self.manifests_by.fetch_add(1, Ordering::SeqCst);
        Box::pin(std::future::ready(
            self.get(&desc.digest).map(|(_, b)| b.into()),
        ))
    }

    fn blob<'a>(
        &'a self,
        _image: &'a ImageRef,
        desc: &'a Descriptor,
        max: u64,
    ) -> BoxFuture<'a, Result<Bytes, RegistryError>> {
        self.blobs.fetch_add(1, Ordering::SeqCst);
        let r = self.get(&desc.digest).and_then(|(_, b)| {
            if b.len() as u64 > max {
                Err(RegistryError::protocol("blob too large (fake)"))
            } else {
                Ok(b.into())
            }
        });
        Box::pin(std::future::ready(r))
    }
}

/// A trust policy in `dir` for every scope, trusting `pki`'s root (revocation skipped: the test
/// PKI names no OCSP or CRL server), under the statement `tests`.
pub fn trust_everything(dir: &std::path::Path, pki: &Pki) -> pullguard::verify::TrustConfig {
    pki.install_root(dir, "ca", "tests");
    let policy = r#"{"version":"1.0","trustPolicies":[{"name":"tests","registryScopes":["*"],
        "signatureVerification":{"level":"strict","override":{"revocation":"skip"}},
        "trustStores":["ca:tests"],"trustedIdentities":["*"]}]}"#;
    std::fs::write(dir.join("trustpolicy.json"), policy).unwrap();
    pullguard::verify::TrustConfig::load(dir).unwrap()
}

/// A JWS by `pki` over `target`, expiring `expiry` (RFC 3339) if given.
pub fn sign(pki: &Pki, target: &Descriptor, expiry: Option<&str>) -> Vec<u8> {
    let protected = protected_x509("ES256", &rfc3339(0), expiry);
    sign_jws(
        pki,
        &protected,
        &payload(&target.media_type, &target.digest, target.size),
    )
}
