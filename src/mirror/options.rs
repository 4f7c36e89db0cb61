//! The mirror's options from `[mirror]`, and which upstream registry a request goes to.

use std::time::Duration;

use crate::config::MirrorSection;
use crate::http::query_pairs;

#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// Registries the mirror may fetch from (`default_upstream` included).
    pub upstreams: Vec<String>,
    /// The registry for a request without `?ns=`.
    pub default_upstream: Option<String>,
    /// For a request without `?ns=`: a repository name's first component that stands for an
    /// upstream registry (`[mirror] prefixes`).
    pub prefixes: Vec<(String, String)>,
    /// How long an upstream blob body may stall before the stream is failed.
    pub idle_timeout: Duration,
    /// Hash every blob on the way and break a stream whose bytes do not match (default true).
    pub check_blob_digests: bool,
}

impl MirrorOptions {
    /// From the `[mirror]` section; every problem is reported at once.
    pub fn from_section(
        s: &MirrorSection,
        idle_timeout: Duration,
    ) -> Result<MirrorOptions, String> {
        let mut upstreams = s.upstreams.clone();
        for d in s.default_upstream.iter().chain(s.prefixes.values()) {
            if !upstreams.contains(d) {
                upstreams.push(d.clone());
            }
        }
        let mut problems: Vec<String> = upstreams
            .iter()
            .filter(|u| !valid_registry(u))
            .map(|u| format!("mirror upstream {u:?} is not a registry host[:port]"))
            .collect();
        problems.extend(
            s.prefixes
                .keys()
                .filter(|k| !valid_path_component(k))
                .map(|k| {
                    format!(
                        "mirror prefix {k:?} is not one repository path component \
                         (lower-case letters and digits, with . _ - inside)"
                    )
                }),
        );
        if upstreams.is_empty() {
            problems.push(
                "the mirror has no upstream: set [mirror] upstreams (or default_upstream)".into(),
            );
        }
        if problems.is_empty() {
            Ok(MirrorOptions {
                upstreams,
                default_upstream: s.default_upstream.clone(),
                prefixes: s
                    .prefixes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                idle_timeout,
                check_blob_digests: s.check_blob_digests.unwrap_or(true),
            })
        } else {
            Err(problems.join("; "))
        }
    }
}

/// One component of a repository name, as the distribution spec's grammar has it:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn valid_registry(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The upstream registry and the repository in it: `?ns=` (containerd) names the registry;
/// without it, a first name component in `[mirror] prefixes` (podman's `location =
/// "mirror/PREFIX"`), else `default_upstream`. Only configured registries.
pub(super) fn upstream<'n>(
    opts: &MirrorOptions,
    query: Option<&str>,
    name: &'n str,
) -> Result<(String, &'n str), String> {
    let ns = query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "ns")
        .map(|(_, v)| v);
    let prefixed = || {
        let (first, rest) = name.split_once('/')?;
        let (_, registry) = opts.prefixes.iter().find(|(p, _)| p == first)?;
        Some((registry.clone(), rest))
    };
    let (registry, name) = match (ns, prefixed(), &opts.default_upstream) {
        (Some(ns), _, _) => (ns, name),
        (None, Some(p), _) => p,
        (None, None, Some(d)) => (d.clone(), name),
        (None, None, None) => {
            return Err(
                "the request names no registry (?ns=), its repository starts with no [mirror] \
                 prefixes entry, and [mirror] default_upstream is not set"
                    .into(),
            );
        }
    };
    if opts.upstreams.contains(&registry) {
        Ok((registry, name))
    } else {
        Err(format!(
            "registry {registry:?} is not an upstream of this mirror ([mirror] upstreams)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_path_components() {
        for good in ["a", "ghcr", "ghcr.io", "a_b", "a__b", "a---b", "x9"] {
            assert!(valid_path_component(good), "{good}");
        }
        for bad in [
            "", "A", "-a", "a-", ".a", "a.", "a..b", "a___b", "a/b", "a:1", "a._b",
        ] {
            assert!(!valid_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn prefixes_route_requests_without_ns() {
        let section = MirrorSection {
            upstreams: vec!["r.example".into()],
            prefixes: [("gh".to_string(), "ghcr.io".to_string())].into(),
            ..Default::default()
        };
        let opts = MirrorOptions::from_section(&section, Duration::from_secs(1)).unwrap();
        assert_eq!(opts.upstreams, ["r.example", "ghcr.io"]);
        assert_eq!(
            upstream(&opts, None, "gh/org/app"),
            Ok(("ghcr.io".to_string(), "org/app"))
        );
        // ?ns= names the registry itself: no prefix is read off the name.
        assert_eq!(
            upstream(&opts, Some("ns=r.example"), "gh/org/app"),
            Ok(("r.example".to_string(), "gh/org/app"))
        );
        // A prefix alone is not a repository; an unknown first component has no registry.
        assert!(upstream(&opts, None, "gh").is_err());
        let err = upstream(&opts, None, "other/app").unwrap_err();
        assert!(err.contains("[mirror] prefixes"), "{err}");

        let bad = MirrorSection {
            prefixes: [("Gh".to_string(), "ghcr.io/x".to_string())].into(),
            ..Default::default()
        };
        let err = MirrorOptions::from_section(&bad, Duration::from_secs(1)).unwrap_err();
        assert!(err.contains("\"ghcr.io/x\" is not a registry"), "{err}");
        assert!(
            err.contains("prefix \"Gh\" is not one repository path component"),
            "{err}"
        );
    }

    #[test]
    fn options_are_checked() {
        let idle = Duration::from_secs(1);
        let s = MirrorSection {
            listen: None,
            upstreams: vec!["127.0.0.1:5000".into()],
            default_upstream: Some("r.example".into()),
            check_blob_digests: None,
            ..Default::default()
        };
        let o = MirrorOptions::from_section(&s, idle).unwrap();
        assert_eq!(o.upstreams, vec!["127.0.0.1:5000", "r.example"]);
        assert!(o.check_blob_digests, "digests are checked by default");
        let e = MirrorOptions::from_section(&MirrorSection::default(), idle).unwrap_err();
        assert!(e.contains("no upstream"), "{e}");
        let s = MirrorSection {
            upstreams: vec!["https://r.example/".into(), "ok.example".into()],
            ..MirrorSection::default()
        };
        let e = MirrorOptions::from_section(&s, idle).unwrap_err();
        assert!(e.contains("\"https://r.example/\""), "{e}");
    }
}
