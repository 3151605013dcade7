//! `amp-conformance`: the command-line front end. Each command is a module of `cmd/`; this file only
//! dispatches and maps errors to the stable exit codes.

pub mod args;
pub mod cmd;
pub mod config;
pub mod coverage;
pub mod embedded;
pub mod exit;

use std::ffi::OsString;

use clap::Parser;

use args::{Cli, Command};
use exit::{CliError, ExitCode};

/// Parse `argv`, run the command, and return the process exit code.
pub fn main_with<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Usage.code()
            } else {
                ExitCode::Ok.code()
            };
        }
    };
    let result = match &cli.command {
        None => cmd::run::run(&cli.run),
        Some(Command::Run(a)) => cmd::run::run(a),
        Some(Command::List(a)) => cmd::list::run(a),
        Some(Command::Clauses(a)) => cmd::clauses::run(a),
        Some(Command::Vectors(a)) => cmd::vectors::run(a),
        Some(Command::Mock(a)) => cmd::mock::run(a),
        Some(Command::Selftest(a)) => cmd::selftest::run(a),
        Some(Command::Fuzz(a)) => cmd::fuzz::run(a),
    };
    match result {
        Ok(code) => code.code(),
        Err(e) => {
            eprintln!("amp-conformance: {e}");
            e.code.code()
        }
    }
}

/// The multi-threaded runtime every async command uses.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::broken(format!("cannot start the async runtime: {e}")))
}
