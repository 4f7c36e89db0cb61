//! The `pullguard` command line. Exit codes: 0 allowed/ok, 1 denied or verification failed,
//! 2 usage or configuration error.
//!
//! One noun per file: `args.rs` (clap and pflag), `verify.rs`, `serve.rs`, `policy.rs`,
//! `output.rs`; this file dispatches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::DockerConfig;
use crate::config::{self, Config};
use crate::gate::{Gate, GateOptions, Request, SystemClock, outcome_of};
use crate::layout::OciLayout;
use crate::oci::ImageRef;
use crate::registry::{Credentials, Primed, Registry, RegistryClient, RegistryOptions};
use crate::verify::{Outcome, TrustConfig};

mod args;
mod output;
mod policy;
mod serve;
mod verify;

// Each file's private items, for its siblings (`use super::*`).
use self::{args::*, output::*, policy::*, serve::*, verify::*};

pub const EXIT_OK: i32 = 0;
pub const EXIT_DENIED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// The whole command line, for the man pages and shell completions the package is built with
/// (`examples/gen_docs.rs`, run by `scripts/package.sh`). The subcommands' arguments are
/// deferred: `Command::build` (which clap_mangen and clap_complete call) adds them.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

pub fn main() -> i32 {
    // `verify` loads its trust policy on a thread started first (see `TrustLoader`).
    let verify = std::env::args_os().nth(1).is_some_and(|a| a == "verify");
    let loader = verify.then(verify::TrustLoader::start).flatten();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return EXIT_OK;
            }
            // `verify` is a drop-in for `notation verify`: its usage errors exit 1, with
            // pflag's wording where a script may look for it.
            if verify {
                eprintln!("{}", verify_usage_error(&e));
                return EXIT_DENIED;
            }
            let _ = e.print();
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Verify(args) => run_verify(args, loader),
        Command::Ctl {
            socket,
            output,
            command,
        } => {
            init_tracing(false);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(crate::ctl::run(socket, output == Output::Json, command)),
                Err(e) => {
                    eprintln!("Error: cannot start the runtime: {e}");
                    EXIT_USAGE
                }
            }
        }
        Command::Audit(args) => {
            init_tracing(false);
            crate::store::audit::run(args)
        }
        Command::Policy {
            command: PolicyCommand::Check { policy_dir, config },
        } => {
            init_tracing(false);
            policy_check(policy_dir, config)
        }
    }
}

fn init_tracing(daemon: bool) {
    init_tracing_format(daemon, false)
}

/// The CLI's log level: `verify` logs nothing by default (notation prints no logs), `info`
/// with `-v`, `debug` with `-d`; `PULLGUARD_LOG` overrides.
fn init_tracing_level(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PULLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn init_tracing_format(daemon: bool, json: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PULLGUARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
