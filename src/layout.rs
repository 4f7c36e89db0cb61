//! An OCI image layout on disk as a signature source (`pullguard verify --oci-layout`), as
//! notation reads one: tags from `index.json`, signatures found by walking the manifests whose
//! `subject` is the target.

use std::path::{Path, PathBuf};

use crate::oci::{
    ARTIFACT_TYPE_NOTATION, Descriptor, MAX_MANIFEST_SIZE, MEDIA_EMPTY_JSON, MEDIA_OCI_MANIFEST,
    Manifest, check_digest, validate_digest,
};
use crate::registry::Fetched;

pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    pub fn open(root: &Path) -> Result<OciLayout, String> {
        let layout = root.join("oci-layout");
        if !layout.is_file() {
            return Err(format!(
                "{} is not an OCI image layout (no oci-layout file)",
                root.display()
            ));
        }
        Ok(OciLayout {
            root: root.to_path_buf(),
        })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, String> {
        validate_digest(digest)?;
        let (alg, hex) = digest.split_once(':').unwrap_or(("", ""));
        Ok(self.root.join("blobs").join(alg).join(hex))
    }

    pub fn read_blob(&self, desc: &Descriptor, max: u64) -> Result<Vec<u8>, String> {
        if desc.size < 0 || desc.size as u64 > max {
            return Err(format!(
                "blob {} is {} bytes, over the {max}-byte limit",
                desc.digest, desc.size
            ));
        }
        let path = self.blob_path(&desc.digest)?;
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() as i64 != desc.size {
            return Err(format!(
                "blob {} is {} bytes, the descriptor says {}",
                desc.digest,
                bytes.len(),
                desc.size
            ));
        }
        check_digest(&desc.digest, &bytes)?;
        Ok(bytes)
    }

    fn index(&self) -> Result<Vec<Descriptor>, String> {
        let path = self.root.join("index.json");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Manifest::parse(&bytes)?.manifests.unwrap_or_default())
    }

    /// Resolve a tag (`org.opencontainers.image.ref.name`) or digest to the manifest.
    pub fn resolve(&self, reference: &str) -> Result<Fetched, String> {
        let index = self.index()?;
        let desc = if reference.contains(':') {
            validate_digest(reference)?;
            index
                .iter()
                .find(|d| d.digest == reference)
                .cloned()
                .or_else(|| {
                    // A digest not listed in index.json is still addressable by its blob.
                    let path = self.blob_path(reference).ok()?;
                    let bytes = std::fs::read(path).ok()?;
                    let m = Manifest::parse(&bytes).ok()?;
                    Some(Descriptor {
                        media_type: m.media_type.unwrap_or_default(),
                        digest: reference.to_string(),
                        size: bytes.len() as i64,
                        artifact_type: None,
                        annotations: None,
                        platform: None,
                    })
                })
        } else {
            index
                .iter()
                .find(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get("org.opencontainers.image.ref.name"))
                        .is_some_and(|n| n == reference)
                })
                .cloned()
        }
        .ok_or_else(|| format!("{reference}: not found in the OCI layout"))?;
        let bytes = self.read_blob(&desc, MAX_MANIFEST_SIZE)?;
        Ok(Fetched {
            bytes: bytes.into(),
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
        })
    }

    /// Signature manifests whose subject is `digest`, in a stable (digest) order.
    pub fn signatures(&self, digest: &str) -> Result<Vec<Descriptor>, String> {
        let dir = self.root.join("blobs").join("sha256");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.len() > MAX_MANIFEST_SIZE {
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let Ok(m) = Manifest::parse(&bytes) else {
                continue;
            };
            if m.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest) {
                continue;
            }
            let config_type = m.config.as_ref().map(|c| c.media_type.as_str());
            let is_sig = match m.artifact_type.as_deref() {
                Some(ARTIFACT_TYPE_NOTATION) => config_type == Some(MEDIA_EMPTY_JSON),
                Some(_) => false,
                None => config_type == Some(ARTIFACT_TYPE_NOTATION),
            };
            if is_sig {
                out.push(Descriptor {
                    media_type: m
                        .media_type
                        .unwrap_or_else(|| MEDIA_OCI_MANIFEST.to_string()),
                    digest: format!("sha256:{name}"),
                    size: bytes.len() as i64,
                    artifact_type: Some(ARTIFACT_TYPE_NOTATION.to_string()),
                    annotations: None,
                    platform: None,
                });
            }
        }
        Ok(out)
    }
}
