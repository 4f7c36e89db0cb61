//! OCI data types pullguard reads: descriptors, image manifests and indexes, digests, and image
//! references (Docker-style names normalised as the Docker CLI does).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_OCI_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
pub const MEDIA_EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";
pub const ARTIFACT_TYPE_NOTATION: &str = "application/vnd.cncf.notary.signature";

/// Manifests larger than this are refused (notation's limit).
pub const MAX_MANIFEST_SIZE: u64 = 4 * 1024 * 1024;

/// Every manifest type pullguard asks a registry for, in the order Docker sends them.
pub const MANIFEST_ACCEPT: [&str; 4] = [
    MEDIA_OCI_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_LIST,
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The fields of an image manifest or index that matter here (both shapes in one struct).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub blobs: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("malformed manifest: {e}"))
    }
}

/// Docker's rule for a name's first component: a registry host if it has a dot or a port, or
/// is `localhost`; else the name is a repository of docker.io.
fn names_a_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Digest of `bytes` with the algorithm named by `digest` (sha256, sha384 or sha512).
pub fn digest_with(algorithm: &str, bytes: &[u8]) -> Result<String, String> {
    let h: Vec<u8> = match algorithm {
        "sha256" => sha256(bytes).to_vec(),
        "sha384" => {
            let mut h = openssl::sha::Sha384::new();
            h.update(bytes);
            h.finish().to_vec()
        }
        "sha512" => {
            let mut h = openssl::sha::Sha512::new();
            h.update(bytes);
            h.finish().to_vec()
        }
        other => return Err(format!("unsupported digest algorithm {other:?}")),
    };
    Ok(format!("{algorithm}:{}", hex(&h)))
}

/// SHA-256 of `bytes` by OpenSSL's low-level SHA-2 (the same assembly as its EVP digests, SHA
/// extensions included), which needs neither OpenSSL's initialisation nor a provider. Its
/// one-shot `SHA256()` is an `EVP_Q_digest` since 3.0: a digest fetch that waits on the
/// library's start (config, providers, name tables) when another thread is running it, as
/// `pullguard verify`'s trust loader is while the registry's first answers arrive (up to 1 ms
/// per run, seen with `perf record -e sched:sched_switch`).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(bytes);
    h.finish()
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&sha256(bytes)))
}

/// Check that `bytes` hash to `expected` (`alg:hex`).
pub fn check_digest(expected: &str, bytes: &[u8]) -> Result<(), String> {
    validate_digest(expected)?;
    let (alg, _) = expected.split_once(':').unwrap_or(("", ""));
    let got = digest_with(alg, bytes)?;
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "content digest mismatch: expected {expected}, got {got}"
        ))
    }
}

/// A digest string must be `sha256:<64 hex>`, `sha384:<96 hex>` or `sha512:<128 hex>`.
pub fn validate_digest(d: &str) -> Result<(), String> {
    let Some((alg, hexpart)) = d.split_once(':') else {
        return Err(format!("invalid digest {d:?}"));
    };
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(format!("invalid digest {d:?}: unsupported algorithm")),
    };
    if hexpart.len() != want
        || !hexpart
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("invalid digest {d:?}"));
    }
    Ok(())
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// An image reference: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// A name as containerd writes it (`ctr`, the transfer service, its image verifiers): its
    /// first component is the registry host, always. One that [`ImageRef::parse`] would read
    /// otherwise is refused: read Docker's way, `myregistry/app` is `docker.io/myregistry/app`,
    /// another registry under another policy scope than the one containerd pulls from.
    pub fn parse_containerd(input: &str) -> Result<ImageRef, String> {
        match input.split_once('/') {
            Some((first, _)) if names_a_host(first) => ImageRef::parse(input),
            first => Err(format!(
                "invalid reference {input:?}: containerd reads {:?} as the registry host, which a Docker-style name cannot say (it would be a repository of docker.io); name the registry with a dot or a port",
                first.map_or(input, |(f, _)| f)
            )),
        }
    }

    /// Parse a reference the way the Docker CLI normalises it: a first component without `.`
    /// or `:` (and not `localhost`) is a Docker Hub path, `library/` is added to one-part Hub
    /// names, and a reference with neither tag nor digest gets `latest`.
    pub fn parse(input: &str) -> Result<ImageRef, String> {
        let bad = |why: &str| format!("invalid reference {input:?}: {why}");
        if input.is_empty() || input.len() > 4096 {
            return Err(bad("empty or too long"));
        }
        if input.contains("://") {
            return Err(bad("a reference has no scheme"));
        }
        let (rest, digest) = match input.rsplit_once('@') {
            Some((r, d)) => {
                validate_digest(d).map_err(|e| bad(&e))?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(rest[i + 1..].to_string()))
            }
            None => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if names_a_host(first) => (first.to_string(), path.to_string()),
            _ => ("docker.io".to_string(), name.to_string()),
        };
        // Host names are case-insensitive and may end in a root dot: one spelling per registry,
        // so that trust-policy scopes cannot be side-stepped by writing the host differently.
        let registry = registry.to_ascii_lowercase();
        let registry = match registry.split_once(':') {
            Some((host, port)) => format!("{}:{port}", host.trim_end_matches('.')),
            None => registry.trim_end_matches('.').to_string(),
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(bad("invalid repository name"));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`: the string trust-policy scopes are compared with.
    pub fn scope(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest to ask the registry for.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    pub fn with_digest(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
                })
                && part.as_bytes()[0].is_ascii_alphanumeric()
                && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_names_keep_their_host() {
        for ok in [
            "docker.io/library/busybox:1",
            "127.0.0.1:5000/a/b:1",
            "localhost/x:1",
            "myregistry:443/app:1",
        ] {
            let r = ImageRef::parse_containerd(ok).unwrap();
            assert_eq!(r, ImageRef::parse(ok).unwrap(), "{ok}");
        }
        for bad in ["myregistry/app:1", "busybox:1", "library/busybox", ""] {
            let e = ImageRef::parse_containerd(bad).unwrap_err();
            assert!(e.contains("as the registry host"), "{bad}: {e}");
        }
    }

    #[test]
    fn docker_style_references_normalise() {
        let r = ImageRef::parse("busybox").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        let r = ImageRef::parse("127.0.0.1:5000/test/img:1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "test/img", Some("1"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("localhost/x@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        assert_eq!(r.scope(), "localhost/x");
        let r = ImageRef::parse("user/app:v1").unwrap();
        assert_eq!(r.scope(), "docker.io/user/app");
        // One spelling per registry host, for policy scopes.
        for spelling in [
            "Registry.Example.com/app",
            "registry.example.com./app",
            "REGISTRY.example.COM/app",
        ] {
            assert_eq!(
                ImageRef::parse(spelling).unwrap().scope(),
                "registry.example.com/app"
            );
        }
        assert_eq!(
            ImageRef::parse("Localhost:5000/a").unwrap().registry,
            "localhost:5000"
        );
    }

    #[test]
    fn bad_references_are_errors() {
        for bad in [
            "",
            "UPPER/case",
            "a/b:",
            "a/b@sha256:1234",
            "https://x.io/a",
            "a//b",
            "a/b:t@g",
            "x.io/-a",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn digests_are_checked() {
        let d = sha256_digest(b"{}");
        assert_eq!(
            d,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert!(check_digest(&d, b"{}").is_ok());
        assert!(check_digest(&d, b"{ }").is_err());
        assert!(check_digest("md5:abc", b"{}").is_err());
        // FIPS 180-2's "abc" vectors, and the low-level functions against OpenSSL's EVP
        // digests over many blocks.
        assert_eq!(
            digest_with("sha384", b"abc").unwrap(),
            "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            digest_with("sha512", b"abc").unwrap(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        let big: Vec<u8> = (0..100_003u32).map(|i| (i % 251) as u8).collect();
        use openssl::hash::{MessageDigest, hash};
        for (alg, md) in [
            ("sha256", MessageDigest::sha256()),
            ("sha384", MessageDigest::sha384()),
            ("sha512", MessageDigest::sha512()),
        ] {
            let evp = hex(&hash(md, &big).unwrap());
            assert_eq!(digest_with(alg, &big).unwrap(), format!("{alg}:{evp}"));
        }
    }
}
