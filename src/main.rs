#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

/// The exit contract (README): 0 verified / served and stopped, 1 denied, 2 usage or setup
/// error; `pullguard verify` keeps `notation verify`'s.
fn main() -> ExitCode {
    let code = pullguard::cli::main();
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
