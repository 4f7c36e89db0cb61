//! The platform step: for a multi-arch index, which child manifest will run, in Go's names.

use crate::oci::{Descriptor, MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX, Manifest};

pub(super) fn is_index(d: &Descriptor) -> bool {
    d.media_type == MEDIA_OCI_INDEX || d.media_type == MEDIA_DOCKER_LIST
}

/// The digest of the index's manifest for `platform` (`os/arch[/variant]`, default this
/// host's).
pub(super) fn child_for(index: &[u8], platform: Option<&str>) -> Result<String, String> {
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
        .map(|d| d.digest)
        .ok_or_else(|| format!("the index has no manifest for platform {os}/{arch}"))
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
}
