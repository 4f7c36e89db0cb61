//! The Docker proxy as dockerd's own users meet it, with the real dockerd: plain-HTTP
//! registries from dockerd's `daemon.json`, a missing tag said the way dockerd says it, and
//! switching platforms of a multi-arch image.

mod common;

use common::daemon::*;
use common::*;

/// A daemon with no `--insecure-registry` of its own and `[docker] daemon_json` at `json`.
fn daemon_with_daemon_json(imgs: &Images, json: &std::path::Path) -> Daemon {
    let p = peers();
    Daemon::start_with(
        &imgs.dir(),
        &p.docker_sock,
        "",
        &format!("[docker]\ndaemon_json = \"{}\"\n", json.display()),
    )
}

#[test]
fn insecure_registries_come_from_daemon_json() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("1", "daemon.json insecure");
    imgs.sign(&signed);
    let image = format!("{}:1", imgs.name());
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("daemon.json");

    // Not listed anywhere: pullguard meets a plain-HTTP registry over TLS, and says which key.
    std::fs::write(&json, r#"{"debug": false}"#).unwrap();
    let d = daemon_with_daemon_json(&imgs, &json);
    let out = run(d.docker().args(["pull", &image]));
    assert!(!out.status.success(), "{}", stdout_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("insecure-registries") && err.contains("daemon_json"),
        "{err}"
    );
    drop(d);

    // dockerd's daemon.json lists the registry's range (dockerd reaches it over plain HTTP; so
    // does the proxy now).
    std::fs::write(&json, r#"{"insecure-registries": ["127.0.0.0/8"]}"#).unwrap();
    let d = daemon_with_daemon_json(&imgs, &json);
    run_ok(d.docker().args(["pull", &image]));
    let decisions = d.decisions(&signed);
    assert!(
        decisions.iter().any(|(v, _)| v == "allowed"),
        "{decisions:?}\n{}",
        d.log()
    );
    drop(d);

    // And by name.
    std::fs::write(
        &json,
        format!(r#"{{"insecure-registries": ["{}"]}}"#, p.registry),
    )
    .unwrap();
    let d = daemon_with_daemon_json(&imgs, &json);
    run_ok(d.docker().args(["pull", &image]));
    drop(d);
    let _ = direct_docker().args(["rmi", &image]).output();

    // A daemon.json dockerd would refuse is refused too, naming the file and the key.
    std::fs::write(
        &json,
        r#"{"insecure-registries": ["http://127.0.0.1:5000"]}"#,
    )
    .unwrap();
    let out = run(pullguard().args([
        "serve",
        "--policy-dir",
        imgs.dir().to_str().unwrap(),
        "--config",
        &{
            let c = tmp.path().join("c.toml");
            std::fs::write(
                &c,
                format!("[docker]\ndaemon_json = \"{}\"\n", json.display()),
            )
            .unwrap();
            c.to_str().unwrap().to_string()
        },
        "--docker-listen",
        tmp.path().join("d.sock").to_str().unwrap(),
        "--control-listen",
        tmp.path().join("c.sock").to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("should not contain '://'") && err.contains("daemon_json"),
        "{err}"
    );
}

#[test]
fn a_missing_tag_is_not_found_as_dockerd_says_it() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("1", "not found wording");
    imgs.sign(&signed);
    let missing = format!("{}:nope", imgs.name());
    let direct = run(direct_docker().args(["pull", &missing]));
    assert!(!direct.status.success());
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let proxied = run(d.docker().args(["pull", &missing]));
    assert!(!proxied.status.success());
    // Same words, and the same status (the CLI shows it as "Error response from daemon").
    assert_eq!(stderr_of(&proxied), stderr_of(&direct));
    assert!(
        stderr_of(&proxied).contains("not found"),
        "{}",
        stderr_of(&proxied)
    );
    let code = |sock: &str| {
        let out = run(std::process::Command::new("curl").args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--unix-socket",
            sock,
            &format!(
                "http://docker/v1.41/images/create?fromImage={}&tag=nope",
                imgs.name()
            ),
        ]));
        stdout_of(&out)
    };
    assert_eq!(code(d.sock.to_str().unwrap()), "404");
    assert_eq!(code(&p.docker_sock), "404");
    // Still a denial in the decision log.
    assert!(
        d.log().contains("\"verdict\":\"denied\"") && d.log().contains(":nope"),
        "{}",
        d.log()
    );
}
