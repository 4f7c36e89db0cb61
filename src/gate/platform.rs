//! The platform step: for a multi-arch index, which child manifest will run, in Go's names.

use crate::oci::{Descriptor, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX, Manifest};

pub(super) fn is_index(d: &Descriptor) -> bool {
    d.media_type == MEDIA_OCI_INDEX || d.media_type == MEDIA_DOCKER_LIST
}

/// The digest of the index's manifest for `platform` (`os/arch[/variant]`, default this
/// host's), and whether it is listed as an index itself.
pub(super) fn child_for(index: &[u8], platform: Option<&str>) -> Result<(String, bool), String> {
    let m = Manifest::parse(index)?;
    let (os, arch, variant) = parts(platform);
    m.manifests
        .unwrap_or_default()
        .into_iter()
        .find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == os
                    && p.architecture == arch
                    && variant
                        .as_ref()
                        .is_none_or(|v| p.variant.as_ref() == Some(v))
            })
        })
        .map(|d| {
            let nested = is_index(&d);
            (d.digest, nested)
        })
        .ok_or_else(|| format!("the index has no manifest for platform {os}/{arch}"))
}

/// A child of an index that may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Child {
    pub digest: String,
    /// `os/arch[/variant]`, or "no platform given".
    pub name: String,
    /// Listed with no platform: containerd matches it by its config's platform.
    pub unplaced: bool,
    /// Listed as an index (what containerd goes by).
    pub index: bool,
}

/// Every runnable child of the index. Entries whose platform is `unknown` (BuildKit's
/// attestation manifests) run nowhere and are left out; an entry with no platform is kept
/// (containerd matches it by its config's platform: it can run).
pub(super) fn runnable_children(index: &[u8]) -> Result<Vec<Child>, String> {
    let m = Manifest::parse(index)?;
    Ok(m.manifests
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| {
            let index = is_index(&d);
            let Some(p) = d.platform.as_ref() else {
                return Some(Child {
                    digest: d.digest,
                    name: "no platform given".to_string(),
                    unplaced: true,
                    index,
                });
            };
            if p.os == "unknown" || p.architecture == "unknown" {
                return None;
            }
            let name = match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            };
            Some(Child {
                digest: d.digest,
                name,
                unplaced: false,
                index,
            })
        })
        .collect())
}

/// The digest of `{}`, the OCI empty descriptor's content.
const EMPTY_JSON_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// A manifest whose config is the empty JSON object (an artifact: a signature, an SBOM)
/// names no platform, so containerd never runs it when the index lists it with none.
pub(super) fn runs_nowhere(manifest: &[u8]) -> bool {
    Manifest::parse(manifest)
        .ok()
        .and_then(|m| m.config)
        .is_some_and(|c| c.digest == EMPTY_JSON_DIGEST)
}

/// `os/arch[/variant]`, defaulting to this host's platform in Go's names.
pub(super) fn parts(p: Option<&str>) -> (String, String, Option<String>) {
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    let mut it = p.unwrap_or("").split('/').filter(|s| !s.is_empty());
    let os = it.next().unwrap_or("linux").to_string();
    let arch = it.next().unwrap_or(host_arch).to_string();
    let variant = it.next().map(str::to_owned);
    (os, arch, variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse() {
        assert_eq!(
            parts(Some("linux/arm64/v8")),
            ("linux".into(), "arm64".into(), Some("v8".into()))
        );
        assert_eq!(parts(Some("windows/amd64")).2, None);
        assert_eq!(parts(None).0, "linux");
    }

    #[test]
    fn runnable_children_leave_attestations_out_and_keep_platformless_ones() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","size":1}]}"#;
        let c = runnable_children(index).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[1].name, "linux/arm/v7");
        // No platform: containerd matches it by its config, so it may run.
        assert!(
            c[2].digest.starts_with("sha256:dddd") && c[2].unplaced,
            "{c:?}"
        );
        assert!(runs_nowhere(
            br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#
        ));
        assert!(!runs_nowhere(
            br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#
        ));
    }
}
