//! The case model: a case is static data plus one async function.

use crate::ctx::Ctx;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use futures_util::future::BoxFuture;

/// What a case function returns.
pub type CaseResult = Result<Outcome, Failure>;

/// A case that ran to a conclusion other than "the requirement is broken".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Informational result (e.g. which of several allowed behaviours the target chose).
    Info(String),
    /// A SHOULD broken, or behaviour that the spec contradicts itself about; `contradiction`
    /// names the catalogue record (`"C-11"`).
    Warn {
        reason: String,
        contradiction: Option<&'static str>,
    },
    /// The case could not be judged (missing capability, precondition not met).
    Skip(String),
}

/// A case that did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The target broke the requirement. Mapped by level: MUST → fail, SHOULD → warn,
    /// MAY → info.
    Fail(String),
    /// The case could not complete: transport failure, timeout, harness problem.
    Error(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Fail(r) => write!(f, "fail: {r}"),
            Failure::Error(r) => write!(f, "error: {r}"),
        }
    }
}

impl From<amp_client::ClientError> for Failure {
    fn from(e: amp_client::ClientError) -> Failure {
        Failure::Error(e.to_string())
    }
}

/// Shorthand for `Err(Failure::Fail(..))` in case code: `return fail("...")`.
pub fn fail<T>(reason: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Fail(reason.into()))
}

/// Requirement level of a case (catalogue MUST NOT maps to `Must`, SHOULD NOT to `Should`).
/// Ordered: `May < Should < Must`, so a level filter keeps cases `>=` the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    May,
    Should,
    Must,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Level, String> {
        match s.to_ascii_lowercase().as_str() {
            "must" | "must-not" | "must_not" => Ok(Level::Must),
            "should" | "should-not" | "should_not" => Ok(Level::Should),
            "may" => Ok(Level::May),
            _ => Err(format!("unknown level `{s}`: use must, should or may")),
        }
    }
}

/// Spec area a case belongs to (groups the terminal summary and JUnit suites).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Discovery,
    Registration,
    Addressing,
    Messages,
    Routing,
    Relay,
    Replay,
    WebSocket,
    Keys,
    Errors,
    RateLimits,
    Notify,
    Federation,
    Webhooks,
    Security,
}

impl Section {
    pub const ALL: [Section; 15] = [
        Section::Discovery,
        Section::Registration,
        Section::Addressing,
        Section::Messages,
        Section::Routing,
        Section::Relay,
        Section::Replay,
        Section::WebSocket,
        Section::Keys,
        Section::Errors,
        Section::RateLimits,
        Section::Notify,
        Section::Federation,
        Section::Webhooks,
        Section::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Section::Discovery => "discovery",
            Section::Registration => "registration",
            Section::Addressing => "addressing",
            Section::Messages => "messages",
            Section::Routing => "routing",
            Section::Relay => "relay",
            Section::Replay => "replay",
            Section::WebSocket => "web-socket",
            Section::Keys => "keys",
            Section::Errors => "errors",
            Section::RateLimits => "rate-limits",
            Section::Notify => "notify",
            Section::Federation => "federation",
            Section::Webhooks => "webhooks",
            Section::Security => "security",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A precondition; unmet → the case is skipped with a reason saying what to provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// `/v1/info.capabilities` contains this token.
    Capability(&'static str),
    /// A federation peer is configured (`RunOptions::federation_peer`).
    FederationPeer,
    /// The target may deliver webhooks to 127.0.0.1 (`RunOptions::loopback_webhooks`).
    LoopbackWebhooks,
    /// An admin credential is configured (`RunOptions::admin_key`).
    AdminKey,
}

/// The async body of a case.
pub type CaseFn = for<'a> fn(&'a mut Ctx) -> BoxFuture<'a, CaseResult>;

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// `section.topic.name`, unique, stable (used by `--run`, expected-failures, reports).
    pub id: &'static str,
    pub title: &'static str,
    /// Catalogue ids; the first is the primary clause.
    pub clauses: &'static [&'static str],
    pub level: Level,
    pub section: Section,
    pub needs: &'static [Need],
    /// One sentence: what a correct provider does.
    pub expectation: &'static str,
    pub run: CaseFn,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("clauses", &self.clauses)
            .field("level", &self.level)
            .field("section", &self.section)
            .finish()
    }
}
