//! Registry credential lookup the way the Docker CLI (and notation) do it: `config.json`
//! (`credHelpers` → `credsStore` → `auths`), credential helpers (`docker-credential-<name>
//! get`) and the Engine's `X-Registry-Auth` header. No error message and no `Debug` output
//! ever contains a password, an identity token or a raw `auth` value.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

type Obj = Map<String, Value>;
const HUB_SERVER: &str = "https://index.docker.io/v1/";
const NOT_FOUND: &str = "credentials not found in native keychain";
const HELPER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// Refresh token: sent as password with username `<token>` in the token flow.
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = format_args!("<redacted>");
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &redacted)
                .finish(),
            Self::IdentityToken(_) => f.debug_tuple("IdentityToken").field(&redacted).finish(),
        }
    }
}

/// A parsed Docker CLI `config.json`.
#[derive(Clone, Default)]
pub struct DockerConfig {
    auths: BTreeMap<String, Obj>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
    helper_timeout: Option<Duration>,
    /// PATH for helper processes instead of the inherited one (set by tests only).
    helper_path: Option<OsString>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("auths", &self.auths.keys().collect::<Vec<_>>())
            .field("cred_helpers", &self.cred_helpers)
            .field("creds_store", &self.creds_store)
            .finish_non_exhaustive()
    }
}

impl DockerConfig {
    /// Path resolution like the Docker CLI: explicit path, else `$DOCKER_CONFIG/config.json`,
    /// else `$HOME/.docker/config.json`. A missing file is an empty config; malformed JSON is
    /// an error naming the file (never its content).
    pub fn load(explicit: Option<&Path>) -> Result<DockerConfig, String> {
        let vars = (std::env::var_os("DOCKER_CONFIG"), std::env::var_os("HOME"));
        let Some(path) = config_path(explicit, vars.0, vars.1) else {
            return Ok(Self::default());
        };
        match std::fs::read(&path) {
            Ok(bytes) => parse_config(&bytes, &format!("docker config {}", path.display())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read docker config {}: {e}", path.display())),
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<DockerConfig, String> {
        parse_config(bytes, "docker config")
    }

    /// `host` is the registry host\[:port\] of an image reference ("ghcr.io", "docker.io",
    /// "127.0.0.1:5000"). Order: `credHelpers[host]` → `credsStore` → `auths`. A helper that
    /// reports "credentials not found" yields `Ok(None)` (anonymous), as in Docker.
    pub fn credentials_for(&self, host: &str) -> Result<Option<Credential>, String> {
        let host = host.trim();
        if host.is_empty() {
            return Err("empty registry host".to_owned());
        }
        let want = canonical(host);
        let server = if want == "docker.io" {
            HUB_SERVER
        } else {
            host
        };
        let keys = [host, server, &want];
        let helper = match lookup(&self.cred_helpers, keys) {
            Some((_, helper)) => Some(helper.as_str()), // "" forces the file store, as in Docker
            None => self.creds_store.as_deref(),
        };
        if let Some(helper) = helper.filter(|h| !h.is_empty()) {
            return self.run_helper(helper, server);
        }
        match lookup(&self.auths, keys) {
            Some((key, entry)) => entry_credential(entry, &format!("docker config auths[{key:?}]")),
            None => Ok(None),
        }
    }

    fn run_helper(&self, name: &str, server: &str) -> Result<Option<Credential>, String> {
        if name.contains(['/', '\\']) {
            return Err(format!("invalid credential helper name {name:?}"));
        }
        let prog = format!("docker-credential-{name}");
        let mut cmd = Command::new(&prog);
        cmd.arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = &self.helper_path {
            cmd.env("PATH", path);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("credential helper {prog}: cannot run: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(server.as_bytes()); // a helper may exit without reading
        }
        let (tx, rx) = mpsc::channel();
        spawn_reader(child.stdout.take(), 0, tx.clone());
        spawn_reader(child.stderr.take(), 1, tx);
        let timeout = self.helper_timeout.unwrap_or(HELPER_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let timed_out = || format!("credential helper {prog} did not finish within {timeout:?}");
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(timed_out());
                }
            }
        };
        let mut outs = [Vec::new(), Vec::new()];
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(Instant::now());
            let (i, buf) = rx
                .recv_timeout(left.max(Duration::from_millis(100)))
                .map_err(|_| timed_out())?;
            outs[i] = buf;
        }
        let stdout = String::from_utf8_lossy(&outs[0]);
        if !status.success() {
            let all = format!("{stdout}\n{}", String::from_utf8_lossy(&outs[1]));
            if all.lines().any(|l| l.trim() == NOT_FOUND) {
                return Ok(None);
            }
            let diag = diagnostic(&all);
            return Err(format!("credential helper {prog} failed ({status}){diag}"));
        }
        let what = format!("credential helper {prog} output");
        let Some(m) = parse_object(stdout.as_bytes(), &what)? else {
            return Ok(None);
        };
        let username = str_field(&m, "Username", &what)?.unwrap_or_default();
        Ok(credential(
            username,
            str_field(&m, "Secret", &what)?.unwrap_or_default(),
        ))
    }
}

/// Decode a Docker Engine `X-Registry-Auth` header (base64 JSON AuthConfig, either alphabet,
/// padded or not). Empty or `{}` means anonymous.
pub fn from_x_registry_auth(header: &str) -> Result<Option<Credential>, String> {
    const WHAT: &str = "X-Registry-Auth";
    let header = header.trim();
    if header.is_empty() || header == "{}" {
        return Ok(None);
    }
    let json = b64decode(header).ok_or_else(|| format!("{WHAT}: invalid base64"))?;
    match parse_object(&json, WHAT)? {
        Some(m) => entry_credential(&m, WHAT),
        None => Ok(None),
    }
}

/// An `auths` entry or AuthConfig: identitytoken, else "auth" (base64 user:pass), else
/// username/password.
fn entry_credential(m: &Obj, what: &str) -> Result<Option<Credential>, String> {
    let get = |name| Ok::<_, String>(str_field(m, name, what)?.unwrap_or_default());
    let token = get("identitytoken")?;
    let (auth, username, password) = (get("auth")?, get("username")?, get("password")?);
    if !token.is_empty() {
        return Ok(Some(Credential::IdentityToken(token)));
    }
    if !auth.is_empty() {
        let bad = || format!("{what}: invalid \"auth\" value (expected base64 of user:password)");
        let text = String::from_utf8(b64decode(&auth).ok_or_else(bad)?).map_err(|_| bad())?;
        return match text.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(credential(u.into(), p.trim_matches('\0').into())),
            _ => Err(bad()),
        };
    }
    if !username.is_empty() || !password.is_empty() {
        return Ok(credential(username, password));
    }
    if !get("registrytoken")?.is_empty() {
        return Err(format!("{what}: registrytoken is not supported"));
    }
    Ok(None)
}

/// Username `<token>` means the secret is an identity token, as in credential helpers.
fn credential(username: String, password: String) -> Option<Credential> {
    match (username.as_str(), password.is_empty()) {
        ("" | "<token>", true) => None,
        ("<token>", false) => Some(Credential::IdentityToken(password)),
        _ => Some(Credential::Basic { username, password }),
    }
}

fn parse_config(bytes: &[u8], what: &str) -> Result<DockerConfig, String> {
    let mut cfg = DockerConfig::default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(cfg); // Docker treats an empty file as an empty config
    }
    let Some(root) = parse_object(bytes, what)? else {
        return Ok(cfg);
    };
    for (key, v) in obj_field(&root, "auths", what)?.into_iter().flatten() {
        match v {
            Value::Object(entry) => drop(cfg.auths.insert(key.clone(), entry.clone())),
            Value::Null => {}
            _ => return Err(format!("{what}: auths[{key:?}] must be an object")),
        }
    }
    for (key, v) in obj_field(&root, "credHelpers", what)?.into_iter().flatten() {
        let Value::String(helper) = v else {
            return Err(format!("{what}: credHelpers[{key:?}] must be a string"));
        };
        cfg.cred_helpers.insert(key.clone(), helper.clone());
    }
    cfg.creds_store = str_field(&root, "credsStore", what)?;
    Ok(cfg)
}

/// Parses a JSON object; `null` is `None`. Errors carry a position only, never content.
fn parse_object(bytes: &[u8], what: &str) -> Result<Option<Obj>, String> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(Value::Null) => Ok(None),
        Ok(_) => Err(format!("{what}: expected a JSON object")),
        Err(e) => {
            let (line, col) = (e.line(), e.column());
            Err(format!("{what}: invalid JSON at line {line} column {col}"))
        }
    }
}

/// Field lookup, case-insensitive like Go's encoding/json.
fn field<'a>(m: &'a Obj, name: &str) -> Option<&'a Value> {
    let mut fold = m.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    m.get(name).or_else(|| fold.next().map(|(_, v)| v))
}

fn str_field(m: &Obj, name: &str, what: &str) -> Result<Option<String>, String> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{what}: \"{name}\" must be a string")),
    }
}

fn obj_field<'a>(m: &'a Obj, name: &str, what: &str) -> Result<Option<&'a Obj>, String> {
    match field(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(format!("{what}: \"{name}\" must be an object")),
    }
}

/// Base64 in either alphabet, padded or not, whitespace ignored.
fn b64decode(s: &str) -> Option<Vec<u8>> {
    let url = |c| match c {
        '+' => '-',
        '/' => '_',
        c => c,
    };
    let keep = |c: &char| !c.is_ascii_whitespace() && *c != '=';
    let norm: String = s.chars().filter(keep).map(url).collect();
    URL_SAFE_NO_PAD.decode(norm).ok()
}

fn config_path(p: Option<&Path>, dir: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let dir = dir
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("config.json"));
    let home = home.filter(|h| !h.is_empty());
    let home = home.map(|h| PathBuf::from(h).join(".docker/config.json"));
    p.map(Path::to_path_buf).or(dir).or(home)
}

/// Docker's ConvertToHostname (drop scheme and path), with Docker Hub's aliases folded.
fn canonical(key: &str) -> String {
    let s = key.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split_once('/').map_or(s, |(h, _)| h).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        h => h.to_owned(),
    }
}

/// Exact key (host, then server URL) first, then any key with the same normalised host.
fn lookup<'a, V>(m: &'a BTreeMap<String, V>, k: [&str; 3]) -> Option<(&'a String, &'a V)> {
    let mut same_host = m.iter().filter(|(key, _)| canonical(key) == k[2]);
    m.get_key_value(k[0])
        .or_else(|| m.get_key_value(k[1]))
        .or_else(|| same_host.next())
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>, i: usize, tx: Sender<(usize, Vec<u8>)>) {
    // Detached: after a timeout a grandchild may still hold the pipe open.
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(pipe) = pipe {
            let _ = pipe.take(1 << 20).read_to_end(&mut buf);
        }
        let _ = tx.send((i, buf));
    });
}

/// The helper's own one-line message, unless it looks like it could carry credentials.
fn diagnostic(out: &str) -> String {
    match out.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) if !l.contains(['{', '"']) && l.chars().count() <= 200 => format!(": {l}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    use std::sync::{Mutex, MutexGuard};

    type Lookup = Result<Option<Credential>, String>;
    const SECRETS: [&str; 4] = ["s3cr3t-file", "s3cr3t-helper", "idtok-123", "s3cr3t-leak"];

    fn assert_clean(s: &str) {
        let leaked = SECRETS.iter().find(|x| s.contains(*x));
        assert!(leaked.is_none(), "secret leaked in {s:?}");
    }
    /// Outcome as "user:pass", "token:T", "none" or "err:message" (checked for leaks).
    fn show(r: Lookup) -> String {
        match r {
            Ok(Some(Credential::Basic { username, password })) => format!("{username}:{password}"),
            Ok(Some(Credential::IdentityToken(t))) => format!("token:{t}"),
            Ok(None) => "none".into(),
            Err(e) => format!("err:{}", (assert_clean(&e), e).1),
        }
    }
    /// Table lines are `arg | want | json`; `want` is the exact outcome, or "err:" plus a
    /// fragment of the expected message.
    fn check(table: &str, f: impl Fn(&str, &str) -> Lookup) {
        for line in table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut cols = line.splitn(3, '|').map(str::trim);
            let (arg, want) = (cols.next().unwrap(), cols.next().unwrap());
            let got = show(f(arg, cols.next().unwrap_or_default()));
            let ok = match want.strip_prefix("err:") {
                Some(frag) => got.starts_with("err:") && got.contains(frag),
                None => got == want,
            };
            assert!(ok, "{line}: got {got:?}");
        }
    }

    #[test]
    fn config_file_forms_and_url_keys() {
        // "dTpw" is base64 "u:p"; "YWxp…" is "alice:s3cr3t-file:x".
        let table = r#"
            ghcr.io | alice:s3cr3t-file:x | {"auths":{"ghcr.io":{"auth":"YWxpY2U6czNjcjN0LWZpbGU6eA=="}}}
            quay.io | none | {"auths":{"ghcr.io":{"auth":"YWxpY2U6czNjcjN0LWZpbGU6eA=="}}}
            ghcr.io | bob:pw | {"auths":{"ghcr.io":{"username":"bob","Password":"pw"}}}
            ghcr.io | token:idtok-123 | {"auths":{"ghcr.io":{"auth":"","identitytoken":"idtok-123"}}}
            ghcr.io | token:idtok-123 | {"auths":{"ghcr.io":{"username":"<token>","password":"idtok-123"}}}
            ghcr.io | none | {"auths":{"ghcr.io":{}}}
            ghcr.io | none |
            ghcr.io | none | null
            ghcr.io | none | {"auths":null,"other":1}
            docker.io | u:p | {"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}}
            index.docker.io | u:p | {"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}}
            docker.io | u:p | {"auths":{"docker.io":{"auth":"dTpw"}}}
            127.0.0.1:5000 | u:p | {"auths":{"http://127.0.0.1:5000":{"auth":"dTpw"}}}
            127.0.0.1 | none | {"auths":{"http://127.0.0.1:5000":{"auth":"dTpw"}}}
            quay.io | u:p | {"auths":{"https://Quay.io/v2/":{"auth":"dTpw"}}}
            docker.io | none | {"auths":{"https://Quay.io/v2/":{"auth":"dTpw"}}}
            | err:empty registry host | {}
            # Not base64 / no colon / empty user / wrong types / broken or non-object JSON.
            ghcr.io | err:invalid "auth" | {"auths":{"ghcr.io":{"auth":"s3cr3t-file"}}}
            ghcr.io | err:invalid "auth" | {"auths":{"ghcr.io":{"auth":"czNjcjN0LWZpbGU="}}}
            ghcr.io | err:invalid "auth" | {"auths":{"ghcr.io":{"auth":"OnMzY3IzdC1maWxl"}}}
            ghcr.io | err:must be a string | {"auths":{"ghcr.io":{"password":["s3cr3t-file"]}}}
            ghcr.io | err:must be an object | {"auths":{"ghcr.io":"s3cr3t-file"}}
            ghcr.io | err:invalid JSON at line 1 | {"auths":{"ghcr.io":{"auth":"s3cr3t-file"
            ghcr.io | err:expected a JSON object | ["s3cr3t-file"]
        "#;
        check(table, |host, json| {
            DockerConfig::from_json(json.as_bytes())?.credentials_for(host)
        });
    }

    #[test]
    fn debug_redacts_secrets() {
        let (user, password) = ("alice".to_owned(), "s3cr3t-file".to_owned());
        let c = Credential::Basic {
            username: user,
            password,
        };
        let shown = format!("{c:?}");
        assert_eq!(
            shown,
            r#"Basic { username: "alice", password: <redacted> }"#
        );
        let t = Credential::IdentityToken("idtok-123".into());
        assert_eq!(format!("{t:?}"), "IdentityToken(<redacted>)");
        let json = r#"{"auths":{"a":{"auth":"czNjcjN0LWZpbGU="},"b":{"password":"s3cr3t-file"}}}"#;
        let cfg = DockerConfig::from_json(json.as_bytes()).unwrap();
        assert_clean(&format!("{cfg:#?}"));
    }

    #[test]
    fn load_and_path_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert!(DockerConfig::load(Some(&path)).unwrap().auths.is_empty());
        std::fs::write(&path, r#"{"auths":{"ghcr.io":{"auth":"s3cr3t-file""#).unwrap();
        let err = DockerConfig::load(Some(&path)).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_clean(&err);
        std::fs::write(&path, r#"{"auths":{"ghcr.io":{"auth":"dTpw"}}}"#).unwrap();
        let cfg = DockerConfig::load(Some(&path)).unwrap();
        assert_eq!(show(cfg.credentials_for("ghcr.io")), "u:p");
        let (e, d, h) = (Path::new("/x/c.json"), Some("/d".into()), Some("/h".into()));
        assert_eq!(config_path(Some(e), d.clone(), h.clone()), Some(e.into()));
        let want = |p: &str| Some(PathBuf::from(p));
        assert_eq!(config_path(None, d, h.clone()), want("/d/config.json"));
        assert_eq!(
            config_path(None, Some("".into()), h),
            want("/h/.docker/config.json")
        );
        assert_eq!(config_path(None, None, None), None);
    }

    #[test]
    fn x_registry_auth_variants() {
        let bob = r#"{"username":"bob","password":"pw>>>?","serveraddress":"ghcr.io"}"#;
        let std = STANDARD.encode(bob);
        assert!(std.contains('+') && std.contains('/') && std.ends_with('='));
        let table = format!(
            r#"
            std | bob:pw>>>? | {bob}
            std_no_pad | bob:pw>>>? | {bob}
            url | bob:pw>>>? | {bob}
            url_no_pad | bob:pw>>>? | {bob}
            url | token:idtok-123 | {{"IdentityToken":"idtok-123"}}
            url | u:p | {{"auth":"dTpw"}}
            url | none | {{}}
            url | none | null
            raw | none | {{}}
            raw | none |
            url | err:X-Registry-Auth: invalid JSON | {{"password":"s3cr3t-leak"
            url | err:registrytoken is not supported | {{"registrytoken":"s3cr3t-leak"}}
            url | err:expected a JSON object | "s3cr3t-leak"
            raw | err:X-Registry-Auth: invalid base64 | s3cr3t-leak!
            "#
        );
        check(&table, |enc, json| {
            let header = match enc {
                "std" => STANDARD.encode(json),
                "std_no_pad" => STANDARD_NO_PAD.encode(json),
                "url" => URL_SAFE.encode(json),
                "url_no_pad" => URL_SAFE_NO_PAD.encode(json),
                _ => json.to_owned(),
            };
            from_x_registry_auth(&header)
        });
    }

    /// Fake helpers live in a temp dir put first on the helpers' PATH. The lock keeps one
    /// test's script writes from racing another test's spawn (ETXTBSY).
    static HELPERS: Mutex<()> = Mutex::new(());

    fn fixture() -> (tempfile::TempDir, OsString, MutexGuard<'static, ()>) {
        use std::os::unix::fs::PermissionsExt;
        let guard = HELPERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let test = r#"[ "$1" = get ] || exit 3; case "$(cat)" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"alice","Secret":"s3cr3t-helper"}' ;;
  https://index.docker.io/v1/) echo '{"Username":"<token>","Secret":"idtok-123"}' ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;; esac"#;
        let leak = r#"echo '{"Username":"a","Secret":"s3cr3t-leak"}'; exit 1"#;
        for (name, body) in [
            ("test", test),
            ("fail", "echo 'keychain locked: boom' >&2; exit 2"),
            ("leak", leak),
            ("garbage", "echo 's3cr3t-leak not json'"),
            ("slow", "sleep 5"),
        ] {
            let p = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut path = dir.path().as_os_str().to_owned();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        (dir, path, guard)
    }

    #[test]
    fn credential_helpers() {
        let (_dir, path, _guard) = fixture();
        let table = r#"
            ghcr.io | alice:s3cr3t-helper | {"credsStore":"test","auths":{"quay.io":{"auth":"dTpw"}}}
            docker.io | token:idtok-123 | {"credsStore":"test","auths":{"quay.io":{"auth":"dTpw"}}}
            # "not found" from the store is anonymous, as in Docker (auths are not consulted).
            quay.io | none | {"credsStore":"test","auths":{"quay.io":{"auth":"dTpw"}}}
            # credHelpers win over credsStore; an empty credHelpers entry means the file store.
            ghcr.io | alice:s3cr3t-helper | {"credsStore":"fail","credHelpers":{"ghcr.io":"test"}}
            quay.io | u:p | {"credsStore":"fail","credHelpers":{"quay.io":""},"auths":{"quay.io":{"auth":"dTpw"}}}
            docker.io | token:idtok-123 | {"credsStore":"fail","credHelpers":{"index.docker.io":"test"}}
            # Every other failure is an error that names no secret.
            docker.io | err:docker-credential-fail failed (exit status: 2): keychain locked: boom | {"credsStore":"fail"}
            ghcr.io | err:docker-credential-leak failed (exit status: 1) | {"credsStore":"leak"}
            ghcr.io | err:docker-credential-garbage output: invalid JSON | {"credsStore":"garbage"}
            ghcr.io | err:docker-credential-slow did not finish within 500ms | {"credsStore":"slow"}
            ghcr.io | err:docker-credential-missing: cannot run | {"credsStore":"missing"}
            ghcr.io | err:invalid credential helper name | {"credsStore":"../test"}
        "#;
        let start = Instant::now();
        check(table, |host, json| {
            let mut cfg = DockerConfig::from_json(json.as_bytes())?;
            cfg.helper_path = Some(path.clone());
            cfg.helper_timeout = Some(Duration::from_millis(500));
            cfg.credentials_for(host)
        });
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "slow helper not cut off"
        );
    }
}
