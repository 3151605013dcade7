//! The case model: a case is static data plus one async function.

use crate::ctx::Ctx;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::prereq::Prereq;
pub use crate::verdict::{CaseResult, Failure, Level, Outcome, fail};

pub use futures_util::future::BoxFuture;

/// The spec file a case belongs to: the catalogue `section` of its primary (first) clause, a
/// spec file stem such as `05-routing` or `12-notification`. It groups the terminal summary, the
/// JUnit suites, `list --section` and the suite's modules (`suites/src/s05_routing/…`), so the
/// three groupings cannot disagree. Derived, never written by hand.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Section(String);

impl Section {
    /// The section of catalogue clause `clause`; a clause the catalogue does not know (only a
    /// case built outside the suite can cite one, the suite's tests refuse it) is `unknown`.
    pub fn of_clause(clause: &str) -> Section {
        let cat = amp_catalogue::Catalogue::embedded();
        Section(
            cat.requirement(clause)
                .map(|r| r.section.clone())
                .unwrap_or_else(|| "unknown".to_string()),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    pub needs: &'static [Need],
    /// One sentence: what a correct provider does.
    pub expectation: &'static str,
    /// `module_path!()` of the function that runs it (the `#[case]` attribute fills it in); the
    /// suite's tests check that it lives in the module of its section.
    pub module: &'static str,
    pub run: CaseFn,
}

impl Case {
    /// The spec file this case belongs to (see [`Section`]).
    pub fn section(&self) -> Section {
        Section::of_clause(self.clauses.first().copied().unwrap_or(""))
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("clauses", &self.clauses)
            .field("level", &self.level)
            .field("module", &self.module)
            .finish()
    }
}
