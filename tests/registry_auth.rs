//! Registry credentials against a real `docker-registry` (distribution 2.8) that requires basic
//! auth (htpasswd, bcrypt): an image pushed with crane and signed by the real `notation sign`,
//! then `pullguard verify --docker-config` with credentials from `auths`, from a credential
//! helper (`credHelpers`), with none and with wrong ones. The password must never be printed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use common::*;

static SEQ: AtomicUsize = AtomicUsize::new(0);
const USER: &str = "pgtest";

/// A bcrypt htpasswd line. Cost 4: the registry checks the hash on every request.
fn htpasswd_line(user: &str, password: &str) -> String {
    if let Ok(out) = Command::new("htpasswd")
        .args(["-nbB", "-C", "4", user, password])
        .output()
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    let script = "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))";
    let out = run(Command::new("python3")
        .args(["-W", "ignore", "-c", script, password])
        .stderr(Stdio::piped()));
    let hash = stdout_of(&out).trim().to_string();
    assert!(
        out.status.success() && hash.starts_with("$2"),
        "cannot make a bcrypt hash (need htpasswd from apache2-utils, or python3 with crypt): {}",
        stderr_of(&out)
    );
    format!("{user}:{hash}")
}

/// A second, real docker-registry on a free loopback port, requiring basic auth. Killed on drop.
struct AuthRegistry {
    child: Child,
    host: String,
    password: String,
    tmp: tempfile::TempDir,
}

impl AuthRegistry {
    fn start() -> AuthRegistry {
        peers(); // the shared peers (and so the tools) must be there: fail, never skip
        let tmp = tempfile::tempdir().unwrap();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let password = format!("Pg-s3cret-{}-{n}-x9", std::process::id());
        let htpasswd = tmp.path().join("htpasswd");
        std::fs::write(&htpasswd, htpasswd_line(USER, &password) + "\n").unwrap();
        let log_path = tmp.path().join("registry.log");
        for _attempt in 0..3 {
            let host = format!("127.0.0.1:{}", free_port());
            let config = tmp.path().join("registry.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {host}\n  secret: pullguard-tests\nauth:\n  htpasswd:\n    realm: pgtest\n    path: {}\n",
                    tmp.path().join("data").display(),
                    htpasswd.display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("docker-registry (start the peers: scripts/peers-up.sh installs it)");
            if wait_ready(&mut child, &host, &log_path) {
                return AuthRegistry {
                    child,
                    host,
                    password,
                    tmp,
                };
            }
            // The port was taken meanwhile: try another one.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "the basic-auth docker-registry did not start: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("registry.log")).unwrap_or_default()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// A Docker config dir (for crane) / file (for pullguard) with these `auths`.
    fn docker_config(&self, name: &str, json: &serde_json::Value) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        std::fs::write(&file, json.to_string()).unwrap();
        file
    }

    fn auths(&self, user: &str, password: &str) -> serde_json::Value {
        let auth = STANDARD.encode(format!("{user}:{password}"));
        serde_json::json!({"auths": {self.host.clone(): {"auth": auth}}})
    }

    /// Every form the secret could leak in: itself and `user:password` in base64.
    fn secret_forms(&self, password: &str) -> Vec<String> {
        let pair = format!("{USER}:{password}");
        vec![
            password.to_string(),
            STANDARD.encode(&pair),
            STANDARD_NO_PAD.encode(&pair),
            URL_SAFE.encode(&pair),
        ]
    }
}

/// Ready when /v2/ answers 401 with a Basic challenge; false if the process died.
fn wait_ready(child: &mut Child, host: &str, log: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let out = run(Command::new("curl").args([
            "-s",
            "-o",
            "/dev/null",
            "-D",
            "-",
            &format!("http://{host}/v2/"),
        ]));
        let head = stdout_of(&out);
        if head.starts_with("HTTP/1.1 401") {
            assert!(
                head.to_ascii_lowercase()
                    .contains("www-authenticate: basic realm=\"pgtest\""),
                "{head}"
            );
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "docker-registry on {host} not ready: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed image in the auth registry, and the notation config dir that trusts its signer.
struct Signed {
    reg: AuthRegistry,
    policy_dir: PathBuf,
    repo: String,
    digest: String,
}

impl Signed {
    fn new(name: &str) -> Signed {
        let reg = AuthRegistry::start();
        let repo = format!("auth/{name}-{}", std::process::id());
        let creds = reg.docker_config("push-docker", &reg.auths(USER, &reg.password));
        let docker_dir = creds.parent().unwrap().to_path_buf();

        // crane: push a one-layer image with the credentials in DOCKER_CONFIG.
        let work = reg.path("img");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("file.txt"), format!("{name} content")).unwrap();
        run_ok(
            Command::new("tar")
                .current_dir(&work)
                .args(["czf", "layer.tgz", "file.txt"]),
        );
        let tag = format!("{}/{repo}:1", reg.host);
        let crane = |args: &[&str]| {
            let mut c = Command::new("crane");
            c.env("DOCKER_CONFIG", &docker_dir)
                .current_dir(&work)
                .args(args);
            run_ok(&mut c)
        };
        crane(&["append", "--insecure", "-f", "layer.tgz", "-t", &tag]);
        let digest = crane(&["digest", "--insecure", &tag]).trim().to_string();

        // Without credentials the registry refuses even crane: it really requires auth.
        let anon = run(Command::new("crane")
            .env("DOCKER_CONFIG", reg.path("nowhere"))
            .args(["digest", "--insecure", &tag]));
        assert!(!anon.status.success(), "the registry must require auth");

        // The real notation signs, with the credentials in its environment.
        let home = reg.path("notation-home");
        let notation = || {
            let mut c = Command::new("notation");
            c.env("XDG_CONFIG_HOME", &home)
                .env("NOTATION_USERNAME", USER)
                .env("NOTATION_PASSWORD", &reg.password);
            c
        };
        run_ok(notation().args(["cert", "generate-test", "--default", "pgauth.test"]));
        run_ok(notation().args([
            "sign",
            "--insecure-registry",
            &format!("{}/{repo}@{digest}", reg.host),
        ]));
        let policy_dir = home.join("notation");
        write_policy(&policy_dir, "strict", &["ca:pgauth.test"]);
        Signed {
            reg,
            policy_dir,
            repo,
            digest,
        }
    }

    fn by_tag(&self) -> String {
        format!("{}/{}:1", self.reg.host, self.repo)
    }

    fn by_digest(&self) -> String {
        format!("{}/{}@{}", self.reg.host, self.repo, self.digest)
    }

    /// `pullguard verify` with this docker config; `env` for the child process.
    fn verify(&self, docker_config: &Path, reference: &str, env: &[(&str, String)]) -> Output {
        self.verify_with(&[], docker_config, reference, env)
    }

    fn verify_with(
        &self,
        flags: &[&str],
        docker_config: &Path,
        reference: &str,
        env: &[(&str, String)],
    ) -> Output {
        let mut c = pullguard();
        c.arg("verify")
            .args(flags)
            .arg("--policy-dir")
            .arg(&self.policy_dir)
            .arg("--docker-config")
            .arg(docker_config)
            .args(["-v", "--insecure-registries", &self.reg.host, reference])
            // Nothing from the test's own environment may supply credentials.
            .env("DOCKER_CONFIG", self.reg.path("nowhere"))
            .env("HOME", self.reg.path("nowhere"))
            .env_remove("PULLGUARD_LOG");
        for (k, v) in env {
            c.env(k, v);
        }
        run(&mut c)
    }

    fn assert_allowed(&self, out: &Output) {
        let code = exit_code(out);
        assert_eq!(
            code,
            0,
            "expected allowed\nstdout: {}\nstderr: {}\nregistry log: {}",
            stdout_of(out),
            stderr_of(out),
            self.reg.log()
        );
        let so = stdout_of(out);
        assert!(
            so.contains("Successfully verified signature") && so.contains(&self.digest),
            "{so}"
        );
        assert!(
            stderr_of(out).contains("pgauth.test"),
            "signer shown under -v: {}",
            stderr_of(out)
        );
    }

    fn assert_no_secret(&self, out: &Output, passwords: &[&str]) {
        let all = format!("{}\n{}", stdout_of(out), stderr_of(out));
        for p in passwords {
            for form in self.reg.secret_forms(p) {
                assert!(!all.contains(&form), "secret {form:?} printed:\n{all}");
            }
        }
    }
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A `docker-credential-pgtest` helper that knows only `host` and logs each call.
fn install_helper(s: &Signed, user: &str, password: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = s.reg.path("helper-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = s.reg.path("helper-calls.log");
    let script = format!(
        r#"#!/bin/sh
[ "$1" = get ] || exit 3
server=$(cat)
echo "get $server" >> '{calls}'
if [ "$server" = '{host}' ]; then
  printf '{{"ServerURL":"%s","Username":"%s","Secret":"%s"}}\n' "$server" '{user}' '{password}'
else
  echo 'credentials not found in native keychain'
  exit 1
fi
"#,
        calls = calls.display(),
        host = s.reg.host,
    );
    let path = bin.join("docker-credential-pgtest");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn helper_calls(s: &Signed) -> Vec<String> {
    std::fs::read_to_string(s.reg.path("helper-calls.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn credentials_from_auths_allow() {
    let s = Signed::new("auths");
    let cfg = s
        .reg
        .docker_config("pg-auths", &s.reg.auths(USER, &s.reg.password));
    for reference in [s.by_tag(), s.by_digest()] {
        let out = s.verify(&cfg, &reference, &[]);
        s.assert_allowed(&out);
        s.assert_no_secret(&out, &[&s.reg.password]);
    }
    // username/password members instead of "auth", keyed by URL: the same registry.
    let cfg = s.reg.docker_config(
        "pg-auths-url",
        &serde_json::json!({"auths": {format!("http://{}", s.reg.host):
            {"username": USER, "password": s.reg.password}}}),
    );
    s.assert_allowed(&s.verify(&cfg, &s.by_tag(), &[]));
}

#[test]
fn credentials_from_a_cred_helper_allow() {
    let s = Signed::new("helper");
    let bin = install_helper(&s, USER, &s.reg.password);
    // credHelpers wins over auths (which hold a wrong password here), as in the Docker CLI.
    let mut json = s.reg.auths(USER, "wrong-password-in-file");
    json["credHelpers"] = serde_json::json!({s.reg.host.clone(): "pgtest"});
    let cfg = s.reg.docker_config("pg-helper", &json);
    let out = s.verify(&cfg, &s.by_tag(), &[("PATH", path_with(&bin))]);
    s.assert_allowed(&out);
    s.assert_no_secret(&out, &[&s.reg.password]);
    let calls = helper_calls(&s);
    assert!(!calls.is_empty(), "the helper was not run");
    assert!(
        calls.iter().all(|c| *c == format!("get {}", s.reg.host)),
        "helper asked for the registry host only: {calls:?}"
    );

    // The helper knows nothing for this host: anonymous, so the registry refuses.
    let cfg = s.reg.docker_config(
        "pg-helper-other",
        &serde_json::json!({"credHelpers": {s.reg.host.clone(): "pgtest"}}),
    );
    let bin2 = s.reg.path("helper-bin2");
    std::fs::create_dir_all(&bin2).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let p = bin2.join("docker-credential-pgtest");
        std::fs::write(
            &p,
            "#!/bin/sh\ncat >/dev/null\necho 'credentials not found in native keychain'\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = s.verify(&cfg, &s.by_tag(), &[("PATH", path_with(&bin2))]);
    assert_denied(&out, &["refused access", "no credentials"]);

    // A helper that is not installed: denied, naming the helper.
    let cfg = s.reg.docker_config(
        "pg-helper-missing",
        &serde_json::json!({"credHelpers": {s.reg.host.clone(): "pgtest-missing"}}),
    );
    let out = s.verify(&cfg, &s.by_tag(), &[("PATH", path_with(&bin))]);
    assert_denied(&out, &["docker-credential-pgtest-missing"]);
}

#[test]
fn missing_or_wrong_credentials_are_denied() {
    let s = Signed::new("denied");
    // No credentials at all (an empty config file, and a config for another registry).
    for (name, json) in [
        ("pg-empty", serde_json::json!({})),
        (
            "pg-other",
            serde_json::json!({"auths": {"127.0.0.1:1": {"auth": STANDARD.encode(format!("{USER}:{}", s.reg.password))}}}),
        ),
    ] {
        let cfg = s.reg.docker_config(name, &json);
        let out = s.verify(&cfg, &s.by_tag(), &[]);
        let err = assert_denied(
            &out,
            &[
                &format!("registry {} refused access", s.reg.host),
                "basic auth",
            ],
        );
        assert!(err.contains(&s.by_tag()), "{err}");
        s.assert_no_secret(&out, &[&s.reg.password]);
    }

    // Wrong password, and wrong user; by tag and by digest.
    let wrong = format!("not-{}", std::process::id());
    for (name, user, pw) in [
        ("pg-wrong-pw", USER, wrong.as_str()),
        ("pg-wrong-user", "mallory", s.reg.password.as_str()),
    ] {
        let cfg = s.reg.docker_config(name, &s.reg.auths(user, pw));
        for reference in [s.by_tag(), s.by_digest()] {
            let out = s.verify(&cfg, &reference, &[]);
            let err = assert_denied(&out, &[&reference]);
            assert!(
                err.contains("401"),
                "the message says the registry refused the credentials (401): {err}"
            );
            s.assert_no_secret(&out, &[pw, &s.reg.password]);
        }
    }
}

#[test]
fn password_never_printed_even_with_debug_logs() {
    let s = Signed::new("nolog");
    let wrong = format!("wr0ng-{}-pw", std::process::id());
    let bin = install_helper(&s, USER, &s.reg.password);
    let good = s
        .reg
        .docker_config("pg-good", &s.reg.auths(USER, &s.reg.password));
    let bad = s.reg.docker_config("pg-bad", &s.reg.auths(USER, &wrong));
    let helper = s
        .reg
        .docker_config("pg-helper", &serde_json::json!({"credsStore": "pgtest"}));
    for level in ["debug", "trace"] {
        let env = [
            ("PULLGUARD_LOG", level.to_string()),
            ("PATH", path_with(&bin)),
        ];
        let out = s.verify(&good, &s.by_tag(), &env);
        s.assert_allowed(&out);
        assert!(
            stderr_of(&out).contains("DEBUG"),
            "debug logging is on: {}",
            stderr_of(&out)
        );
        s.assert_no_secret(&out, &[&s.reg.password]);

        let out = s.verify(&helper, &s.by_digest(), &env);
        s.assert_allowed(&out);
        s.assert_no_secret(&out, &[&s.reg.password]);

        let out = s.verify(&bad, &s.by_tag(), &env);
        assert_denied(&out, &["401"]);
        s.assert_no_secret(&out, &[&wrong, &s.reg.password]);

        // JSON output carries no secret either.
        let out = s.verify_with(&["--output", "json"], &bad, &s.by_tag(), &env);
        assert_eq!(exit_code(&out), 1);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["reason"].as_str().unwrap().contains("401"), "{json}");
        s.assert_no_secret(&out, &[&wrong, &s.reg.password]);
    }
}
