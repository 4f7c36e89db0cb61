//! Man pages (clap_mangen) and bash/zsh/fish completions (clap_complete) for the Debian package,
//! generated from the command line itself: `cargo run --release --example gen_docs -- DIR` writes
//! `DIR/man/*.1` and `DIR/completions/{pullguard.bash,_pullguard,pullguard.fish}`.
//! `scripts/package.sh` runs it. An example, not a subcommand: the shipped binary carries neither
//! crate (they are dev-dependencies).

use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use clap_complete::Shell;

/// The containerd verifier parses Go-style flags by hand (containerd's calling convention);
/// this describes them for its man page.
fn verifier() -> Command {
    let flag = |name: &'static str, value: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_name(value)
            .help(help)
            .action(ArgAction::Set)
    };
    Command::new("pullguard-containerd-verifier")
        .version(env!("CARGO_PKG_VERSION"))
        .about("The containerd 2.x image verifier (bindir plugin) of pullguard")
        .long_about(
            "containerd runs it once per pull (io.containerd.image-verifier.v1.bindir) with the \
             resolved root descriptor on stdin. It asks the pullguard daemon over the control \
             socket ($PULLGUARD_CONTROL_SOCKET, else /run/pullguard/control.sock) to verify \
             exactly NAME@DIGEST and exits 0 to allow, or 1 to deny with the reason on stdout. \
             Anything unexpected, an unreachable daemon included, is a denial. containerd passes \
             the flags with one dash (-name).",
        )
        .arg(flag("name", "REF", "The image reference containerd resolved").required(true))
        .arg(
            flag(
                "digest",
                "DIGEST",
                "The resolved root manifest's digest: what is verified",
            )
            .required(true),
        )
        .arg(flag(
            "stdin-media-type",
            "TYPE",
            "The media type of stdin (the root descriptor, checked against -digest)",
        ))
        .arg(flag(
            "operation",
            "OP",
            "pull or run (newer containerd); verified the same way",
        ))
}

fn generate(out: &Path) -> Result<(), String> {
    let man = out.join("man");
    let completions = out.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    for cmd in [pullguard::cli::command(), verifier()] {
        // One page per command and subcommand: pullguard.1, pullguard-serve.1, ...
        clap_mangen::generate_to(cmd, &man).map_err(|e| format!("man pages: {e}"))?;
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = pullguard::cli::command();
        clap_complete::generate_to(shell, &mut cmd, "pullguard", &completions)
            .map_err(|e| format!("{shell} completions: {e}"))?;
    }
    Ok(())
}

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen_docs DIR");
        std::process::exit(2);
    };
    if let Err(e) = generate(&out) {
        eprintln!("gen_docs: {e}");
        std::process::exit(1);
    }
}
