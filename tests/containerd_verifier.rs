//! The containerd 2.x image-verifier binary, with a real containerd 2.1 (its own instance, so
//! the bin_dir holds only our verifier and no other test's pulls go through it) asking a real
//! pullguard daemon.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::containerd::{Containerd, Version};
use common::daemon::*;
use common::*;

/// A containerd 2.1 whose image verifier bin_dir holds our verifier binary itself (installed as the
/// README says), pointed at `control` the way systemd/containerd.service.d/pullguard-verifier.conf
/// does it: through containerd's own environment, which bindir passes to every verifier it runs.
fn containerd_with_verifier(control: &Path) -> Containerd {
    let c = Containerd::new(Version::V21).env("PULLGUARD_CONTROL_SOCKET", control);
    let verifiers = c.dir.join("verifiers");
    std::fs::create_dir_all(&verifiers).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_pullguard-containerd-verifier"),
        verifiers.join("pullguard-containerd-verifier"),
    )
    .unwrap();
    let plugins = format!(
        "  [plugins.'io.containerd.image-verifier.v1.bindir']\n    bin_dir = \"{}\"\n    max_verifiers = 10\n    per_verifier_timeout = \"10s\"\n",
        verifiers.display()
    );
    c.start(&plugins, false)
}

fn ctr(c: &Containerd) -> Command {
    c.ctr("default")
}

#[test]
fn containerd_2_verifier_allows_signed_denies_unsigned_and_fails_closed() {
    let p = peers();
    let imgs = Images::new(&p.registry);
    let signed = imgs.push("signed", "containerd signed");
    imgs.sign(&signed);
    imgs.push("unsigned", "containerd unsigned");
    let d = Daemon::start(&imgs.dir(), &p.docker_sock, &p.registry);
    let c = containerd_with_verifier(&d.control);

    let ok = run(ctr(&c).args([
        "images",
        "pull",
        "--plain-http",
        &format!("{}:signed", imgs.name()),
    ]));
    assert!(
        ok.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&ok.stderr),
        d.log()
    );
    assert!(
        run_ok(ctr(&c).args(["images", "ls", "-q"])).contains(&format!("{}:signed", imgs.name()))
    );
    let decisions = d.decisions(&signed);
    assert!(
        decisions.iter().any(|(v, _)| v == "allowed"),
        "the daemon was asked: {}",
        d.log()
    );

    let bad = run(ctr(&c).args([
        "images",
        "pull",
        "--plain-http",
        &format!("{}:unsigned", imgs.name()),
    ]));
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("image verifier bindir blocked pull")
            && err.contains("pullguard: denied")
            && err.contains("no signature"),
        "{err}"
    );

    // The daemon gone: denied, never allowed by default.
    drop(d);
    run(ctr(&c).args(["images", "rm", "--sync", &format!("{}:signed", imgs.name())]));
    let down = run(ctr(&c).args([
        "images",
        "pull",
        "--plain-http",
        &format!("{}:signed", imgs.name()),
    ]));
    assert!(!down.status.success());
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(
        err.contains("cannot reach the pullguard daemon") && err.contains("fail closed"),
        "{err}"
    );
}

#[test]
fn verifier_binary_bad_input_is_a_denial() {
    let bin = env!("CARGO_BIN_EXE_pullguard-containerd-verifier");
    let cases: [&[&str]; 4] = [
        &[],
        &["-name", "x/y:1"],
        &["-name", "x/y:1", "-digest", "sha256:nothex"],
        &[
            "-name",
            "x/y:1",
            "-digest",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "-bogus",
            "1",
        ],
    ];
    for args in cases {
        let out = run(Command::new(bin)
            .args(args)
            .env("PULLGUARD_CONTROL_SOCKET", "/nonexistent.sock")
            .stdin(Stdio::null()));
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("pullguard: "));
    }
    // A descriptor that disagrees with -digest.
    let mut child = Command::new(bin)
        .args([
            "-name",
            "x/y:1",
            "-digest",
            &format!("sha256:{}", "1".repeat(64)),
            "-stdin-media-type",
            "application/vnd.oci.descriptor.v1+json",
        ])
        .env("PULLGUARD_CONTROL_SOCKET", "/nonexistent.sock")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!(r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":1}}"#, "2".repeat(64)).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not match"));
    // containerd reads `myregistry` as the host; read Docker's way it would be a docker.io
    // repository, another registry and policy scope: refused before the daemon is asked.
    for name in ["myregistry/app:1", "app:1"] {
        let out = run(Command::new(bin)
            .args([
                "-name",
                name,
                "-digest",
                &format!("sha256:{}", "1".repeat(64)),
            ])
            .env("PULLGUARD_CONTROL_SOCKET", "/nonexistent.sock")
            .stdin(Stdio::null()));
        assert_eq!(out.status.code(), Some(1), "{name}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("as the registry host"), "{name}: {said}");
    }
}
