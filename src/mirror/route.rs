//! What a request asks for: the distribution API path, and the image it names.

use crate::http::query_pairs;
use crate::oci::{ImageRef, validate_digest};

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// `/v2/`: the API version check.
    Base,
    Manifest {
        name: String,
        reference: String,
    },
    Blob {
        name: String,
        digest: String,
    },
}

/// `/v2/<name>/manifests/<ref>` or `/v2/<name>/blobs/<digest>` (the name may hold slashes).
pub(super) fn parse_route(path: &str) -> Result<Route, String> {
    let Some(rest) = path.strip_prefix("/v2") else {
        return Err(format!("{path} is not a distribution API path"));
    };
    if rest.is_empty() || rest == "/" {
        return Ok(Route::Base);
    }
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let split = |sep: &str| {
        rest.rfind(sep)
            .map(|i| (i, &rest[..i], &rest[i + sep.len()..]))
    };
    let m = split("/manifests/");
    let b = split("/blobs/");
    let (is_manifest, name, last) = match (m, b) {
        (Some(m), Some(b)) if b.0 > m.0 => (false, b.1, b.2),
        (Some(m), _) => (true, m.1, m.2),
        (None, Some(b)) => (false, b.1, b.2),
        (None, None) => return Err(format!("{path} is not served by the mirror")),
    };
    if name.is_empty() || last.is_empty() || last.contains('/') {
        return Err(format!("{path} is not served by the mirror"));
    }
    let (name, last) = (name.to_string(), last.to_string());
    Ok(if is_manifest {
        Route::Manifest {
            name,
            reference: last,
        }
    } else {
        Route::Blob { name, digest: last }
    })
}

/// `registry` + the repository and tag-or-digest of a request, validated as a reference.
pub(super) fn image_ref(registry: &str, name: &str, reference: &str) -> Result<ImageRef, String> {
    let sep = if reference.contains(':') { '@' } else { ':' };
    // A probe registry keeps ImageRef::parse from reading the name's first part as a host.
    let parsed = ImageRef::parse(&format!("pullguard.invalid/{name}{sep}{reference}"))?;
    if parsed.repository != name {
        return Err(format!("invalid repository name {name:?}"));
    }
    Ok(ImageRef {
        registry: registry.to_string(),
        ..parsed
    })
}

/// For the `mirror_route` fuzz target only: a request path and query as the mirror routes them.
#[doc(hidden)]
pub fn fuzz_route(path: &str, query: Option<&str>) -> Result<String, String> {
    let ns = query_pairs(query).into_iter().find(|(k, _)| k == "ns");
    let registry = ns.map_or_else(|| "registry.invalid".to_string(), |(_, v)| v);
    Ok(match parse_route(path)? {
        Route::Base => String::new(),
        Route::Manifest { name, reference } => image_ref(&registry, &name, &reference)?.to_string(),
        Route::Blob { name, digest } => {
            validate_digest(&digest)?;
            image_ref(&registry, &name, &digest)?.to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(parse_route("/v2/"), Ok(Route::Base));
        assert_eq!(parse_route("/v2"), Ok(Route::Base));
        assert_eq!(
            parse_route("/v2/a/b/manifests/1"),
            Ok(Route::Manifest {
                name: "a/b".into(),
                reference: "1".into()
            })
        );
        assert_eq!(
            parse_route("/v2/a/manifests/b/blobs/sha256:00"),
            Ok(Route::Blob {
                name: "a/manifests/b".into(),
                digest: "sha256:00".into()
            })
        );
        assert_eq!(
            parse_route("/v2/a/blobs/b/manifests/t"),
            Ok(Route::Manifest {
                name: "a/blobs/b".into(),
                reference: "t".into()
            })
        );
        for bad in [
            "/",
            "/v1/x/manifests/1",
            "/v2/x/tags/list",
            "/v2/_catalog",
            "/v2/x/blobs/uploads/",
            "/v2/manifests/1",
            "/v2/x/manifests/",
            "/v2/x/referrers/sha256:00",
        ] {
            assert!(parse_route(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_refs_keep_the_registry_and_the_name() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = image_ref("127.0.0.1:5000", "test/img", "1").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/test/img:1");
        let r = image_ref("docker.io", "library/alpine", &d).unwrap();
        assert_eq!(r.scope(), "docker.io/library/alpine");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        // Not normalised: a registry without a dot stays the registry.
        let r = image_ref("myregistry", "alpine", "3").unwrap();
        assert_eq!(r.scope(), "myregistry/alpine");
        for (name, reference) in [
            ("UPPER", "1"),
            ("a//b", "1"),
            ("a", "sha256:short"),
            ("a", "bad tag"),
            ("-a", "1"),
        ] {
            assert!(
                image_ref("r.io", name, reference).is_err(),
                "{name} {reference}"
            );
        }
    }
}
