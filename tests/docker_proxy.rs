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

/// A signed two-platform index `NAME:multi` (amd64, arm64); (index digest, child digests).
fn signed_index(imgs: &Images) -> (String, Vec<String>) {
    let mut children = Vec::new();
    for plat in ["linux/amd64", "linux/arm64"] {
        let tag = plat.replace('/', "-");
        imgs.push(&tag, &format!("content for {plat} of {}", imgs.repo));
        let out = run_ok(std::process::Command::new("crane").args([
            "mutate",
            "--insecure",
            "--set-platform",
            plat,
            &format!("{}:{tag}", imgs.name()),
        ]));
        children.push(out.trim().rsplit('@').next().unwrap().to_string());
    }
    let index_ref = format!("{}:multi", imgs.name());
    run_ok(std::process::Command::new("crane").args([
        "index",
        "append",
        "--insecure",
        "-m",
        &format!("{}:linux-amd64", imgs.name()),
        "-m",
        &format!("{}:linux-arm64", imgs.name()),
        "-t",
        &index_ref,
    ]));
    let index =
        run_ok(std::process::Command::new("crane").args(["digest", "--insecure", &index_ref]))
            .trim()
            .to_string();
    imgs.sign(&index);
    (index, children)
}

fn arch_of(image: &str) -> String {
    run_ok(direct_docker().args(["image", "inspect", "-f", "{{.Architecture}}", image]))
        .trim()
        .to_string()
}

#[test]
fn switching_platforms_through_the_proxy_works_as_directly() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let (index, _) = signed_index(&imgs);
    let image = format!("{}:multi", imgs.name());
    let cleanup = || {
        let out = run(direct_docker().args(["images", "--no-trunc", "-q", &imgs.name()]));
        for id in stdout_of(&out).split_whitespace() {
            let _ = direct_docker().args(["rmi", "-f", id]).output();
        }
    };

    // Straight to dockerd: arm64, then the host's platform, then arm64 again: each re-tags.
    run_ok(direct_docker().args(["pull", "--platform", "linux/arm64", &image]));
    assert_eq!(arch_of(&image), "arm64");
    run_ok(direct_docker().args(["pull", &image]));
    assert_eq!(arch_of(&image), "amd64");
    cleanup();

    // Through the proxy: the same, each pull pinned to the verified index digest.
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    run_ok(
        d.docker()
            .args(["pull", "--platform", "linux/arm64", &image]),
    );
    assert_eq!(arch_of(&image), "arm64");
    let out = run(d.docker().args(["pull", &image]));
    assert!(
        out.status.success(),
        "{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    assert_eq!(arch_of(&image), "amd64");
    let out = run(d
        .docker()
        .args(["pull", "--platform", "linux/arm64", &image]));
    assert!(
        out.status.success(),
        "{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    assert_eq!(arch_of(&image), "arm64");
    // What is tagged carries the verified index digest, so creates through the guard verify it.
    let digests =
        run_ok(direct_docker().args(["image", "inspect", "-f", "{{json .RepoDigests}}", &image]));
    assert!(digests.contains(&index), "{digests}");
    let out = run(d.docker().args(["create", "--pull=never", &image, "/true"]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let id = stdout_of(&out).trim().to_string();
    let _ = direct_docker().args(["rm", "-f", &id]).output();
    drop(d);
    cleanup();
}
