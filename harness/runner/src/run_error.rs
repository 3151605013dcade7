//! Why a run produced no report.

use crate::options::ConfigError;

/// Why a run produced no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("target unreachable: GET {url} failed: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("harness problem: {0}")]
    Harness(String),
}

impl RunError {
    /// 2 for configuration/usage errors, 3 for an unreachable target or a broken harness.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Config(_) => 2,
            RunError::Unreachable { .. } | RunError::Harness(_) => 3,
        }
    }
}
