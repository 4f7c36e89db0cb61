//! Decisions that say who and what: a Docker pull by a client of known uid and pid (run under
//! `setpriv --reuid`) through the real dockerd, `ctl verify` by this process, and the fields in
//! `ctl decisions --output json` and in the JSON log; the size of the decision ring.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::daemon::*;
use common::*;

const UID: u32 = 4321;

fn decisions(d: &Daemon) -> Vec<serde_json::Value> {
    let out = run_ok(d.ctl().args(["decisions", "--output", "json"]));
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}

#[test]
fn decisions_name_the_client_the_call_and_the_signer() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "who asked");
    imgs.sign(&signed);
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[docker]\nsocket_mode = \"0666\"\n",
    );
    // The unprivileged client reaches the proxy socket, and has a home of its own.
    std::fs::set_permissions(d.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let image = format!("{}:ok", imgs.name());
    let child = Command::new("setpriv")
        .args([
            "--reuid",
            &UID.to_string(),
            "--regid",
            &UID.to_string(),
            "--clear-groups",
            "docker",
            "pull",
            &image,
        ])
        .env("DOCKER_HOST", format!("unix://{}", d.sock.display()))
        .env("HOME", home.path())
        .env("DOCKER_CONFIG", home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv");
    // setpriv execs docker: the same process.
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));

    let all = decisions(&d);
    let pull = all
        .iter()
        .find(|v| v["origin"] == "docker" && v["image"].as_str() == Some(image.as_str()))
        .unwrap_or_else(|| panic!("no docker decision for {image}: {all:#?}"));
    assert_eq!(pull["verdict"], "allowed", "{pull}");
    assert_eq!(pull["client_uid"], UID, "{pull}");
    assert_eq!(pull["client_pid"], pid, "{pull}");
    assert_eq!(pull["call"], "POST /images/create", "{pull}");
    assert_eq!(pull["policy"], "docker-tests", "{pull}");
    assert!(
        pull["signer"]
            .as_str()
            .is_some_and(|s| s.contains("CN=pullguard.test")),
        "{pull}"
    );
    let sig = pull["signature_digest"].as_str().unwrap_or("");
    assert!(sig.starts_with("sha256:") && sig != signed, "{pull}");

    // ctl verify: the caller of the control API is this test's child process, uid 0 (root).
    let child = d
        .ctl()
        .args(["verify", &image])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ctl_pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let all = decisions(&d);
    let verify = all
        .iter()
        .rev()
        .find(|v| v["origin"] == "ctl")
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert_eq!(verify["client_pid"], ctl_pid, "{verify}");
    assert_eq!(verify["client_uid"], 0, "{verify}");
    assert!(verify["call"].is_null(), "{verify}");

    // The JSON log holds the same values, as values (never Rust Debug text).
    let log = d.log();
    let event = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "decision" || v["message"] == "decision")
        .unwrap_or_else(|| panic!("no decision event: {log}"));
    let fields = if event["fields"].is_object() {
        &event["fields"]
    } else {
        &event
    };
    assert_eq!(fields["client_uid"], UID, "{event}");
    assert_eq!(fields["client_pid"], pid, "{event}");
    assert_eq!(fields["call"], "POST /images/create", "{event}");
    assert_eq!(fields["signature_digest"].as_str(), Some(sig), "{event}");
    assert!(!log.contains("Some("), "Debug text in the JSON log: {log}");
    let _ = direct_docker().args(["rmi", &image]).output();
}

#[test]
fn the_decision_ring_size_is_a_config_key() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    imgs.push("bad", "ring");
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        "[control]\ndecisions = 3\n",
    );
    for _ in 0..5 {
        let out = run(d.ctl().args(["verify", &format!("{}:bad", imgs.name())]));
        assert_eq!(out.status.code(), Some(1));
    }
    assert_eq!(decisions(&d).len(), 3);
    drop(d);
    let out = run(pullguard().args([
        "serve",
        "--config",
        &{
            let c = imgs.home.join("ring0.toml");
            std::fs::write(&c, "[control]\ndecisions = 0\n").unwrap();
            c.to_str().unwrap().to_string()
        },
        "--policy-dir",
        imgs.dir().to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("[control] decisions must be between 1 and 1000000"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn a_mirror_decision_names_the_client_address() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("ok", "mirror who");
    imgs.sign(&signed);
    let port = free_port();
    let d = Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        &p.registry,
        &format!(
            "[mirror]\nlisten = \"127.0.0.1:{port}\"\nupstreams = [\"{}\"]\n",
            p.registry
        ),
    );
    let url = format!(
        "http://127.0.0.1:{port}/v2/{}/manifests/ok?ns={}",
        imgs.repo, p.registry
    );
    // curl binds a known local port, so the address is known before the request.
    let local = free_port();
    let start = std::time::Instant::now();
    loop {
        let out = run(Command::new("curl").args([
            "-sf",
            "-o",
            "/dev/null",
            "--local-port",
            &local.to_string(),
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            &url,
        ]));
        if out.status.success() {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "mirror did not answer: {}",
            d.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let all = decisions(&d);
    let m = all
        .iter()
        .rev()
        .find(|v| v["origin"] == "mirror" && v["verdict"] == "allowed")
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert_eq!(m["client_addr"], format!("127.0.0.1:{local}"), "{m}");
    assert!(m["client_uid"].is_null(), "{m}");
}
