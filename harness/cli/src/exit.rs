//! Exit codes and top-level errors. The codes are a stable interface for CI.

use std::fmt;

/// The exit codes as `--help` shows them (the README has the same table).
pub const EXIT_CODES_HELP: &str = "\
Exit codes (stable, for CI):
  0  every required case passed (warn passes unless --strict; xfail passes); other commands: done
  1  a case failed: fail, error, xpass or blocked, or warn with --strict (vectors: a vector
     failed; selftest: a defect survived or a false alarm; fuzz: a violation found or replayed)
  2  usage or configuration error: a bad flag, URL, glob, --config, --expected-failures or
     --compare file (the message names it)
  3  the target did not answer at preflight, a report file could not be written, or the harness
     broke
--compare never changes the exit code.";

/// Process exit codes (documented in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every required case passed (or the command did its job).
    Ok = 0,
    /// A required case (or vector) failed.
    Failed = 1,
    /// Bad usage or configuration.
    Usage = 2,
    /// Target unreachable, or the harness itself broke.
    Broken = 3,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that ends the command, with the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: ExitCode,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: ExitCode::Usage,
            message: message.into(),
        }
    }
    pub fn broken(message: impl Into<String>) -> Self {
        CliError {
            code: ExitCode::Broken,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::usage(e.to_string())
    }
}
