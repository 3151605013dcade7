//! The case model: a case is static data plus one async function.

use crate::ctx::Ctx;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::prereq::Prereq;
pub use crate::verdict::{CaseResult, Failure, Level, Outcome, fail};

pub use futures_util::future::BoxFuture;

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
    /// A prerequisite the runner establishes once per run with a probe; when the probe failed
    /// the case is not run and its verdict is `blocked`.
    Prereq(Prereq),
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
