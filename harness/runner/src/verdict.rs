//! Verdicts: what a case concludes (`pass`, `fail`, `warn`, readings of contradictions) and how
//! that maps to the verdict a report shows. A leaf: it imports nothing of the runner except the
//! prerequisite names a blocked verdict carries, so case code, the context and the runner can
//! all use it without depending on each other.

use crate::prereq::Prereq;
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// The case could not judge its clause because a prerequisite it builds on failed (its
    /// probe says why). Reported as `blocked`, not as a failure of the case's clause.
    Blocked {
        prerequisite: Prereq,
        reason: String,
    },
}

impl Failure {
    /// The reason alone, without the kind.
    pub fn reason(&self) -> &str {
        match self {
            Failure::Fail(r) | Failure::Error(r) => r,
            Failure::Blocked { reason, .. } => reason,
        }
    }

    /// `Failure::Blocked` for `prerequisite`.
    pub fn blocked(prerequisite: Prereq, reason: impl Into<String>) -> Failure {
        Failure::Blocked {
            prerequisite,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Fail(r) => write!(f, "fail: {r}"),
            Failure::Error(r) => write!(f, "error: {r}"),
            Failure::Blocked {
                prerequisite,
                reason,
            } => write!(f, "blocked by probe `{prerequisite}`: {reason}"),
        }
    }
}

impl From<amp_client::ClientError> for Failure {
    fn from(e: amp_client::ClientError) -> Failure {
        Failure::Error(e.to_string())
    }
}

/// `Ok(Outcome::Pass)`.
pub fn pass() -> CaseResult {
    Ok(Outcome::Pass)
}

/// Shorthand for `Err(Failure::Fail(..))` in case code: `return fail("...")`.
pub fn fail<T>(reason: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Fail(reason.into()))
}

/// A warning whose verdict depends on the spec contradiction `contradiction` (`"C-11"`).
pub fn warn(reason: impl Into<String>, contradiction: &'static str) -> CaseResult {
    Ok(Outcome::Warn {
        reason: reason.into(),
        contradiction: Some(contradiction),
    })
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

/// Final verdict of one case in a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Warn,
    Skip,
    Info,
    Error,
    /// Failed (or errored) and listed in the expected-failures file.
    Xfail,
    /// Listed in the expected-failures file but passed: fails the run (stale list).
    Xpass,
    /// Not judged: a prerequisite probe failed (the report's root causes say which and why).
    Blocked,
}

impl Verdict {
    pub const ALL: [Verdict; 9] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Skip,
        Verdict::Info,
        Verdict::Error,
        Verdict::Xfail,
        Verdict::Xpass,
        Verdict::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Skip => "skip",
            Verdict::Info => "info",
            Verdict::Error => "error",
            Verdict::Xfail => "xfail",
            Verdict::Xpass => "xpass",
            Verdict::Blocked => "blocked",
        }
    }

    /// Which bucket of the closing line `N passed, N failed, N skipped[, N blocked]` this
    /// verdict counts in. `warn` is passed, unless `strict`.
    pub fn bucket(self, strict: bool) -> Bucket {
        match self {
            Verdict::Pass | Verdict::Info | Verdict::Xfail => Bucket::Passed,
            Verdict::Warn if !strict => Bucket::Passed,
            Verdict::Warn | Verdict::Fail | Verdict::Error | Verdict::Xpass => Bucket::Failed,
            Verdict::Skip => Bucket::Skipped,
            Verdict::Blocked => Bucket::Blocked,
        }
    }

    /// Whether the case judged its clauses (counts as coverage): not skipped, not blocked.
    pub fn judged(self) -> bool {
        !matches!(self, Verdict::Skip | Verdict::Blocked)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The closing-line bucket of a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Passed,
    Failed,
    Skipped,
    /// Counted apart from failures (its own clause was not judged) but, like a failure, it
    /// keeps the run from succeeding: the failing probe is a deviation or an unobservable
    /// target, and either way the clause is unverified.
    Blocked,
}

/// What a case's own result says, before the expected-failures list: the verdict, the reason
/// and the contradiction record it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub contradiction: Option<String>,
    /// Set for `blocked`.
    pub blocked_by: Option<Prereq>,
}

/// Map a case's own result to a verdict (before expected-failures).
pub fn judge(level: Level, result: &CaseResult) -> Judged {
    let j = |verdict, reason: Option<&String>| Judged {
        verdict,
        reason: reason.cloned(),
        contradiction: None,
        blocked_by: None,
    };
    match result {
        Ok(Outcome::Pass) => j(Verdict::Pass, None),
        Ok(Outcome::Info(n)) => j(Verdict::Info, Some(n)),
        Ok(Outcome::Warn {
            reason,
            contradiction,
        }) => Judged {
            contradiction: contradiction.map(str::to_string),
            ..j(Verdict::Warn, Some(reason))
        },
        Ok(Outcome::Skip(r)) => j(Verdict::Skip, Some(r)),
        Err(Failure::Fail(r)) => match level {
            Level::Must => j(Verdict::Fail, Some(r)),
            Level::Should => j(Verdict::Warn, Some(r)),
            Level::May => j(Verdict::Info, Some(r)),
        },
        Err(Failure::Error(r)) => j(Verdict::Error, Some(r)),
        Err(Failure::Blocked {
            prerequisite,
            reason,
        }) => Judged {
            blocked_by: Some(*prerequisite),
            ..j(
                Verdict::Blocked,
                Some(&format!("blocked by probe `{prerequisite}`: {reason}")),
            )
        },
    }
}

/// Map a case's own result to `(verdict, reason, contradiction)` (before expected-failures).
pub fn verdict_of(level: Level, result: &CaseResult) -> (Verdict, Option<String>, Option<String>) {
    let j = judge(level, result);
    (j.verdict, j.reason, j.contradiction)
}

/// Apply the expected-failures list. A blocked case stays blocked: it was not judged.
pub fn apply_expected(listed: bool, v: Verdict) -> Verdict {
    match (listed, v) {
        (true, Verdict::Fail | Verdict::Error) => Verdict::Xfail,
        (true, Verdict::Pass) => Verdict::Xpass,
        (_, v) => v,
    }
}

/// One reading of a spec contradiction that the run can declare (`[[profile]]` entries of
/// `suites/requirements.toml`). A case that observes which reading the target follows asks
/// [`judge_reading`] for the verdict.
pub trait Reading: Copy + PartialEq + fmt::Debug {
    /// The CLI switch (`--from-handling`).
    const FLAG: &'static str;
    /// The contradiction record it resolves (`C-11`).
    const CONTRADICTION: &'static str;
    /// The reading assumed when the run declares none.
    const DEFAULT: Self;
    /// The switch value (`overwrite`).
    fn name(self) -> &'static str;
}

/// The verdict for a target observed to follow reading `observed` of a contradiction, given
/// the reading the run `declared`:
/// - declared and matching → pass (the target does what its operator said it does);
/// - declared and different → fail, naming both readings;
/// - not declared → pass for the default reading, otherwise a warning citing the record.
///
/// `what` describes the observation ("the spoofed `from` was refused with 400").
pub fn judge_reading<R: Reading>(declared: Option<R>, observed: R, what: &str) -> CaseResult {
    match declared {
        Some(d) if d == observed => Ok(Outcome::Pass),
        Some(d) => Err(Failure::Fail(format!(
            "{what}: that is the `{}` reading of {}, but the run declared {} {}",
            observed.name(),
            R::CONTRADICTION,
            R::FLAG,
            d.name()
        ))),
        None if observed == R::DEFAULT => Ok(Outcome::Pass),
        None => warn(
            format!(
                "{what}: the `{}` reading of {} (the default is `{}`; declare it with {} {} \
                 to make it a pass)",
                observed.name(),
                R::CONTRADICTION,
                R::DEFAULT.name(),
                R::FLAG,
                observed.name()
            ),
            R::CONTRADICTION,
        ),
    }
}

/// The verdict for a contradiction whose catalogue record says "another reading warns": the
/// reading in force (declared, else the default) passes, any other reading the target was seen
/// to follow is a warning that names it and cites the record. Observations that follow no
/// reading at all are the case's to fail before asking.
pub fn judge_reported_reading<R: Reading>(
    declared: Option<R>,
    observed: R,
    what: &str,
) -> CaseResult {
    let expected = declared.unwrap_or(R::DEFAULT);
    if observed == expected {
        return Ok(Outcome::Pass);
    }
    let chosen = if declared.is_some() {
        "the run declared"
    } else {
        "the default is"
    };
    warn(
        format!(
            "{what}: that is the `{}` reading of {} ({chosen} {} {}; declare {} {} if the \
             target means to follow it)",
            observed.name(),
            R::CONTRADICTION,
            R::FLAG,
            expected.name(),
            R::FLAG,
            observed.name()
        ),
        R::CONTRADICTION,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_is_its_own_bucket_and_not_judged() {
        let r: CaseResult = Err(Failure::blocked(Prereq::WsSession, "never answers"));
        let j = judge(Level::Must, &r);
        assert_eq!(j.verdict, Verdict::Blocked);
        assert_eq!(j.blocked_by, Some(Prereq::WsSession));
        assert!(j.reason.unwrap_or_default().contains("ws-session"));
        assert_eq!(Verdict::Blocked.bucket(false), Bucket::Blocked);
        assert!(!Verdict::Blocked.judged() && !Verdict::Skip.judged() && Verdict::Fail.judged());
        assert_eq!(apply_expected(true, Verdict::Blocked), Verdict::Blocked);
        assert_eq!(
            serde_json::to_string(&Verdict::Blocked).unwrap_or_default(),
            "\"blocked\""
        );
    }

    #[test]
    fn levels_map_failures() {
        let f: CaseResult = fail("x");
        assert_eq!(judge(Level::Must, &f).verdict, Verdict::Fail);
        assert_eq!(judge(Level::Should, &f).verdict, Verdict::Warn);
        assert_eq!(judge(Level::May, &f).verdict, Verdict::Info);
        let w = judge(Level::Must, &warn("odd", "C-11"));
        assert_eq!(
            (w.verdict, w.contradiction.as_deref()),
            (Verdict::Warn, Some("C-11"))
        );
    }
}
