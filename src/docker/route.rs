//! What a Docker Engine API request does, read the way dockerd reads it: the percent-decoded
//! path (Go's `r.URL.Path`) without its `/vX.Y` prefix, the query as Go's `r.Form` (first value
//! wins), and a `containers/create` body as Go's JSON decoder reads it. The Docker proxy and the
//! authorization plugin both classify requests here, so they cannot disagree about a route.

use hyper::Method;

use crate::config::DockerSection;
use crate::http::pct_encode;

/// The calls that can bring an image onto the host or run one; everything else passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `POST /images/create`: a pull (or an import with `fromSrc`).
    Pull,
    /// `POST /containers/create`.
    Create,
    /// `POST /containers/{name}/start` or `/restart`: the container name or ID as given, and
    /// the verb.
    Start {
        container: String,
        verb: &'static str,
    },
    /// A way in that is switched off: the message names the config key.
    Refused(&'static str),
    /// Anything else: forwarded as it is.
    Pass,
}

/// Classify a request by method and decoded, unversioned path.
pub fn classify(method: &Method, path: &str, s: &DockerSection) -> Call {
    if method != Method::POST {
        return Call::Pass;
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["images", "create"] => Call::Pull,
        ["containers", "create"] => Call::Create,
        // dockerd's routes are /containers/{name:.*}/start: the name may hold '/'.
        ["containers", name @ .., verb @ ("start" | "restart")] if !name.is_empty() => {
            Call::Start {
                container: name.join("/"),
                verb: if *verb == "start" { "start" } else { "restart" },
            }
        }
        ["images", "load"] if !s.allow_load => Call::Refused(
            "image load is disabled: loaded images carry no verifiable signature (set docker.allow_load = true to allow)",
        ),
        ["commit"] if !s.allow_commit => Call::Refused(
            "commit is disabled: a committed image carries no signature and can take over the tag of a verified one (set docker.allow_commit = true to allow)",
        ),
        // BuildKit reaches the daemon through /session and /grpc (h2c upgrades) too.
        ["build"] | ["session"] | ["grpc"] if !s.allow_build => Call::Refused(
            "image build is disabled: base images are pulled inside the daemon where pullguard cannot verify them (set docker.allow_build = true to allow)",
        ),
        // Plugin names may contain '/': dockerd's route is /plugins/{name:.*}/upgrade.
        ["plugins", "pull"] | ["plugins", "create"] | ["plugins", .., "upgrade"]
            if !s.allow_plugins =>
        {
            Call::Refused("plugin install is disabled (set docker.allow_plugins = true to allow)")
        }
        ["services", "create"] | ["services", _, "update"] if !s.allow_services => Call::Refused(
            "swarm services are disabled: nodes pull service images without pullguard (set docker.allow_services = true to allow)",
        ),
        // A node in a swarm pulls and starts its tasks' images inside dockerd, with no API
        // request anyone could check.
        ["swarm", "init"] | ["swarm", "join"] if !s.allow_services => Call::Refused(
            "joining or creating a swarm is disabled: swarm tasks are pulled and started inside the daemon where pullguard cannot verify them (set docker.allow_services = true to allow)",
        ),
        _ => Call::Pass,
    }
}

/// Percent-decode a request path as Go does for `r.URL.Path` ('+' stays '+'); `None` when an
/// escape is malformed or the result is not UTF-8.
pub fn decode_path(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The decoded path and the raw query of a request target as Go reads `r.RequestURI` into
/// `r.URL`: origin form (`/path?query`) or absolute form (`http://host/path?query`, which a
/// client may send on a Unix socket too). `None` when it is neither, or the path does not decode.
pub fn request_target(uri: &str) -> Option<(String, &str)> {
    let (target, query) = uri.split_once('?').unwrap_or((uri, ""));
    let path = if target.starts_with('/') {
        target
    } else {
        let (scheme, rest) = target.split_once("://")?;
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
        if !scheme_ok {
            return None;
        }
        rest.find('/').map_or("/", |i| &rest[i..])
    };
    Some((decode_path(path)?, query))
}

/// `/v1.41/images/create` → ("/v1.41", "/images/create").
pub fn split_version(path: &str) -> (&str, &str) {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && rest[..i].chars().all(|c| c.is_ascii_digit() || c == '.')
        && i > 0
    {
        return (&path[..i + 2], &path[i + 2..]);
    }
    ("", path)
}

pub fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The first value of `key`, as Go's `r.Form.Get`.
pub fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Is this Content-Type a form body (which dockerd reads into `r.Form` before the query)?
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|v| {
        v.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    })
}

/// What a pull asks for: the name as the client wrote it, and a tag or digest (or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullTarget {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub fn pull_target(from_image: &str, tag: Option<&str>) -> PullTarget {
    // A trailing ':' is stripped, like the daemon does (old `pull -a` quirk).
    let from = from_image.strip_suffix(':').unwrap_or(from_image);
    let (rest, digest) = match from.rsplit_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (from, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, from_tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
        None => (rest, None),
    };
    let mut t = PullTarget {
        name: name.to_string(),
        tag: from_tag,
        digest,
    };
    // As dockerd's PullImage: a `tag` that is a digest wins, even over a digest in fromImage;
    // another `tag` replaces fromImage's tag, and next to a digest the digest is what is pulled.
    if let Some(tag) = tag.filter(|s| !s.is_empty()) {
        if tag.contains(':') {
            t.digest = Some(tag.to_string());
            t.tag = None;
        } else if t.digest.is_none() {
            t.tag = Some(tag.to_string());
        }
    }
    t
}

/// The `Image` of a `containers/create` body, read the way dockerd's Go decoder reads it (first
/// JSON value, trailing bytes ignored, keys matched case-insensitively). Anything pullguard
/// cannot read unambiguously is refused rather than forwarded unchecked. `None`: no image
/// (absent, `null` or `""`).
pub fn create_image(body: &[u8]) -> Result<Option<String>, String> {
    no_repeated_fields(body)?;
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    let value = match values.next() {
        None => return Ok(None),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(format!("the body is not JSON pullguard can read: {e}")),
    };
    let serde_json::Value::Object(map) = value else {
        return Err("the body is not a JSON object".into());
    };
    // Go 1.21's encoding/json folds the Turkish i's (`ımage`, `İmage`) to `IMAGE`, earlier
    // ones do not: which a dockerd reads depends on the Go it was built with.
    if let Some(k) = map
        .keys()
        .find(|k| go_json_fold(k) == "IMAGE" && k.contains(['\u{131}', '\u{130}']))
    {
        return Err(format!(
            "the body names the image with a key that dockerd builds read differently ({k:?})"
        ));
    }
    let mut found = map
        .iter()
        .filter(|(k, _)| go_json_fold(k) == "IMAGE")
        .map(|(_, v)| v);
    let (Some(v), None) = (found.next(), found.next()) else {
        return match map.keys().filter(|k| go_json_fold(k) == "IMAGE").count() {
            0 => Ok(None),
            _ => Err("the body names the image more than once".into()),
        };
    };
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        serde_json::Value::String(s) => Ok(Some(s.clone())),
        _ => Err("Image is not a string".into()),
    }
}

/// The members of `members` Go's decoder matches to `field`.
fn named<'a>(
    members: &'a [(String, crate::gocompat::json::JVal)],
    field: &str,
) -> Vec<&'a crate::gocompat::json::JVal> {
    members
        .iter()
        .filter(|(k, _)| go_json_fold(k) == field)
        .map(|(_, v)| v)
        .collect()
}

/// The fields the guard reads from a create body (`Image`, `HostConfig.Mounts[].Type` and
/// `.Source`) each named once. serde keeps the last of two equal keys; Go's decoder applies
/// both in order (a later `null` leaves a string as it was, a later object or list merges into
/// the earlier one), so with a repeated key the two would read different values.
fn no_repeated_fields(body: &[u8]) -> Result<(), String> {
    use crate::gocompat::json::{JVal, parse_document};
    let Ok(JVal::Obj(top)) = parse_document(body) else {
        return Ok(()); // what is not an object is refused by the reader
    };
    let once = |members: &[(String, JVal)], field: &str| {
        if members
            .iter()
            .filter(|(k, _)| go_json_fold(k) == field)
            .count()
            > 1
        {
            Err(format!("the body names {field} more than once"))
        } else {
            Ok(())
        }
    };
    once(&top, "IMAGE")?;
    once(&top, "HOSTCONFIG")?;
    for host in named(&top, "HOSTCONFIG") {
        let JVal::Obj(host) = host else { continue };
        once(host, "MOUNTS")?;
        for mounts in named(host, "MOUNTS") {
            let JVal::Arr(mounts) = mounts else { continue };
            for m in mounts {
                if let JVal::Obj(m) = m {
                    once(m, "TYPE")?;
                    once(m, "SOURCE")?;
                }
            }
        }
    }
    Ok(())
}

/// The one value of `map` under the key Go's decoder matches to field `field` (upper case),
/// or `None`; a key matched more than once, or only by way of a Turkish i, is refused.
fn go_field<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> Result<Option<&'a serde_json::Value>, String> {
    let mut found = map.iter().filter(|(k, _)| go_json_fold(k) == field);
    match (found.next(), found.next()) {
        (None, _) => Ok(None),
        (Some((k, _)), None) if k.contains(['\u{131}', '\u{130}']) => Err(format!(
            "the body names {field} with a key that dockerd builds read differently ({k:?})"
        )),
        (Some((_, v)), None) => Ok(Some(v)),
        (Some(_), Some(_)) => Err(format!("the body names {field} more than once")),
    }
}

/// The sources of a `containers/create` body's image mounts (`HostConfig.Mounts[]` with
/// `Type: "image"`, Engine API 1.48 and later: a local image's filesystem mounted into the
/// container, whose programs then run as well as the image's own), read as [`create_image`]
/// reads the image.
pub fn create_image_mounts(body: &[u8]) -> Result<Vec<String>, String> {
    no_repeated_fields(body)?;
    let mut values = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Object(map))) = values.next() else {
        return Ok(Vec::new()); // create_image has refused what is not an object
    };
    let Some(host) = go_field(&map, "HOSTCONFIG")? else {
        return Ok(Vec::new());
    };
    let host = match host {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Object(h) => h,
        _ => return Err("HostConfig is not an object".into()),
    };
    let mounts = match go_field(host, "MOUNTS")? {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(m)) => m,
        Some(_) => return Err("HostConfig.Mounts is not a list".into()),
    };
    let mut sources = Vec::new();
    for m in mounts {
        let serde_json::Value::Object(m) = m else {
            return Err("a mount is not an object".into());
        };
        match go_field(m, "TYPE")? {
            Some(serde_json::Value::String(t)) if t == "image" => {}
            Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => continue,
            Some(_) => return Err("a mount's Type is not a string".into()),
        }
        match go_field(m, "SOURCE")? {
            Some(serde_json::Value::String(s)) => sources.push(s.clone()),
            _ => return Err("an image mount names no source image".into()),
        }
    }
    Ok(sources)
}

/// A JSON object key as Go's encoding/json folds it to match a struct field (`foldName`: ASCII
/// upper-cased, any other rune `unicode.ToUpper(unicode.ToLower(r))`): `ımage` (dotless i) and
/// `ſ`/`K` (long s, Kelvin sign) name the same field as their ASCII letters do for dockerd.
fn go_json_fold(key: &str) -> String {
    let simple = |mut m: std::iter::Peekable<std::char::ToLowercase>, r: char| -> char {
        match (m.next(), m.peek()) {
            (Some(c), None) => c,
            _ => r,
        }
    };
    key.chars()
        .map(|r| {
            if r.is_ascii() {
                return r.to_ascii_uppercase();
            }
            // Go's simple mapping: the only letter whose full lower case is longer.
            if r == '\u{130}' {
                return 'I';
            }
            let lower = simple(r.to_lowercase().peekable(), r);
            let mut up = lower.to_uppercase();
            match (up.next(), up.next()) {
                (Some(c), None) => c,
                _ => lower,
            }
        })
        .collect()
}

/// Percent-encode each segment of a name that may hold '/'.
pub fn pct_encode_path(s: &str) -> String {
    s.split('/').map(pct_encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{pct_decode, query_pairs};

    #[test]
    fn repeated_keys_are_refused_as_go_would_merge_them() {
        for body in [
            r#"{"Image":"ok","HostConfig":{"Mounts":[{"Type":"image","Source":"evil","Target":"/e","Type":null}]}}"#,
            r#"{"Image":"ok","HostConfig":{"Mounts":[{"Type":"image","Source":"evil"}]},"HostConfig":{}}"#,
            r#"{"Image":"ok","HostConfig":{"Mounts":[{"Type":"image","Source":"evil"}],"Mounts":[{"Target":"/e"}]}}"#,
            r#"{"Image":"evil","Image":null}"#,
        ] {
            let e = create_image(body.as_bytes())
                .and_then(|_| create_image_mounts(body.as_bytes()))
                .unwrap_err();
            assert!(e.contains("more than once"), "{body}: {e}");
        }
    }

    #[test]
    fn image_mounts_are_read_like_dockerd() {
        let m = create_image_mounts(br#"{"Image":"a","hostconfig":{"Mounts":[{"Type":"bind","Source":"/x","Target":"/x"},{"type":"image","source":"evil:1","Target":"/e"}]}}"#);
        assert_eq!(m, Ok(vec!["evil:1".to_string()]));
        assert_eq!(create_image_mounts(br#"{"Image":"a"}"#), Ok(vec![]));
        assert_eq!(
            create_image_mounts(br#"{"Image":"a","HostConfig":null}"#),
            Ok(vec![])
        );
        for bad in [
            r#"{"HostConfig":{"Mounts":[{"Type":"image"}]}}"#,
            r#"{"HostConfig":{"Mounts":[{"Type":"image","Source":"a","source":"b"}]}}"#,
            r#"{"HostConfig":{"Mounts":{"Type":"image"}}}"#,
            r#"{"HostConf\u0131g":{"Mounts":[{"Type":"image","Source":"x"}]}}"#,
            r#"{"HostConfig":{"Mounts":[{"Type":"image","Source":"x"}]},"hostConfig":{}}"#,
        ] {
            assert!(create_image_mounts(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_body_keys_fold_as_go_folds_them() {
        // Go 1.21's encoding/json matches `ımage` (U+0131) and `İmage` (U+0130) to the Image
        // field, Go 1.19's (dockerd 20.10) does not: refused either way.
        assert_eq!(go_json_fold("\u{131}mage"), "IMAGE");
        assert_eq!(go_json_fold("\u{130}mage"), "IMAGE");
        for body in [
            r#"{"\u0131mage":"evil:1"}"#,
            r#"{"\u0130mage":"evil:1"}"#,
            r#"{"Image":"signed:1","\u0130mage":"evil:1"}"#,
        ] {
            let e = create_image(body.as_bytes()).unwrap_err();
            assert!(
                e.contains("read differently") || e.contains("more than once"),
                "{body}: {e}"
            );
        }
        assert_eq!(go_json_fold("\u{17f}"), "S");
        assert_eq!(go_json_fold("\u{212a}"), "K");
    }

    #[test]
    fn create_bodies_are_read_like_dockerd() {
        assert_eq!(create_image(br#"{"Image":"a:1"}"#), Ok(Some("a:1".into())));
        assert_eq!(create_image(br#"{"image":"a:1"}"#), Ok(Some("a:1".into())));
        assert_eq!(
            create_image(br#"{"Image":"a:1"} trailing"#),
            Ok(Some("a:1".into()))
        );
        assert_eq!(create_image(br#"{"Cmd":["x"]}"#), Ok(None));
        assert_eq!(create_image(br#"{"Image":null}"#), Ok(None));
        assert_eq!(create_image(br#"{"Image":""}"#), Ok(None));
        assert_eq!(create_image(b""), Ok(None));
        assert!(create_image(br#"{"Image":"a","image":"b"}"#).is_err());
        assert!(create_image(b"{\"Image\":\"a\xff\"}").is_err());
        assert!(create_image(br#"{"Image":1}"#).is_err());
        assert!(create_image(br#"["Image"]"#).is_err());
    }

    #[test]
    fn routes_classify_like_dockerd() {
        let s = DockerSection::default();
        let post = |p: &str| classify(&Method::POST, p, &s);
        assert_eq!(post("/images/create"), Call::Pull);
        assert_eq!(post("/containers/create"), Call::Create);
        assert_eq!(
            post("/containers/abc/start"),
            Call::Start {
                container: "abc".into(),
                verb: "start"
            }
        );
        assert_eq!(
            post("//containers/a/b/restart"),
            Call::Start {
                container: "a/b".into(),
                verb: "restart"
            }
        );
        assert_eq!(post("/containers/start"), Call::Pass);
        assert!(matches!(post("/commit"), Call::Refused(m) if m.contains("docker.allow_commit")));
        assert!(matches!(post("/images/load"), Call::Refused(_)));
        assert!(
            matches!(post("/swarm/join"), Call::Refused(m) if m.contains("docker.allow_services"))
        );
        assert!(matches!(post("/swarm/init"), Call::Refused(_)));
        assert_eq!(post("/swarm/leave"), Call::Pass);
        assert!(matches!(post("/plugins/a/b/upgrade"), Call::Refused(_)));
        assert_eq!(
            classify(&Method::GET, "/containers/abc/start", &s),
            Call::Pass
        );
        let open = DockerSection {
            allow_commit: true,
            ..DockerSection::default()
        };
        assert_eq!(classify(&Method::POST, "/commit", &open), Call::Pass);
    }

    #[test]
    fn paths_decode_like_go() {
        assert_eq!(
            decode_path("/v1.41/images/%63reate").as_deref(),
            Some("/v1.41/images/create")
        );
        assert_eq!(decode_path("/a%2Fb+c").as_deref(), Some("/a/b+c"));
        assert_eq!(decode_path("/bad%zz"), None);
        assert_eq!(decode_path("/bad%2"), None);
    }

    #[test]
    fn request_targets_read_like_go() {
        assert_eq!(
            request_target("/v1.41/containers/x/start?a=1"),
            Some(("/v1.41/containers/x/start".into(), "a=1"))
        );
        assert_eq!(
            request_target("http://docker/v1.41/containers/x/start"),
            Some(("/v1.41/containers/x/start".into(), ""))
        );
        assert_eq!(
            request_target("http://a/b@h/containers/%78/start?q"),
            Some(("/b@h/containers/x/start".into(), "q"))
        );
        assert_eq!(request_target("http://host"), Some(("/".into(), "")));
        assert_eq!(request_target("containers/x/start"), None);
        assert_eq!(request_target("1http://h/x"), None);
        assert_eq!(request_target("/bad%zz"), None);
    }

    #[test]
    fn versions_split() {
        assert_eq!(
            split_version("/v1.41/images/create"),
            ("/v1.41", "/images/create")
        );
        assert_eq!(split_version("/_ping"), ("", "/_ping"));
        assert_eq!(split_version("/volumes/x"), ("", "/volumes/x"));
    }

    #[test]
    fn pull_targets() {
        let t = pull_target("127.0.0.1:5000/test/img", Some("1"));
        assert_eq!(
            (t.name.as_str(), t.tag.as_deref(), t.digest.as_deref()),
            ("127.0.0.1:5000/test/img", Some("1"), None)
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let t = pull_target("busybox", Some(&d));
        assert_eq!((t.tag, t.digest.as_deref()), (None, Some(d.as_str())));
        let t = pull_target(&format!("x/y@{d}"), Some("ignored"));
        assert_eq!(
            (t.name.as_str(), t.digest.as_deref()),
            ("x/y", Some(d.as_str()))
        );
        // A digest in `tag` wins over the one in fromImage (dockerd pulls it).
        let d2 = format!("sha256:{}", "b".repeat(64));
        let t = pull_target(&format!("x/y@{d}"), Some(&d2));
        assert_eq!(
            (t.name.as_str(), t.digest.as_deref(), t.tag),
            ("x/y", Some(d2.as_str()), None)
        );
        let t = pull_target("x/y:", None);
        assert_eq!((t.name.as_str(), t.tag, t.digest), ("x/y", None, None));
        let t = pull_target("localhost:5000/y:2", None);
        assert_eq!(
            (t.name.as_str(), t.tag.as_deref()),
            ("localhost:5000/y", Some("2"))
        );
    }

    #[test]
    fn queries_roundtrip() {
        let q = query_pairs(Some(
            "fromImage=127.0.0.1%3A5000%2Ftest%2Fimg&tag=1&platform=linux%2Famd64",
        ));
        assert_eq!(q[0], ("fromImage".into(), "127.0.0.1:5000/test/img".into()));
        assert_eq!(q[2].1, "linux/amd64");
        assert_eq!(query_pairs(Some(&encode_query(&q))), q);
        assert_eq!(pct_decode("%zz%4"), "%zz%4");
        assert_eq!(query_get(&q, "tag"), Some("1"));
    }
}
