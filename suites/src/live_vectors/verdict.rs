//! How a live trial ends. A provider that deviates from a vector breaks the vector's primary
//! clause, unless the vector cites a contradiction record: the deviation is then the other
//! reading of that record and is reported as a warning citing it (Standard 6: never a silent
//! guess). A missing prerequisite (a registration refused, a delivery not observable) ends the
//! trial as `blocked`, never as a failure of the vector's clause; a vector the run cannot
//! carry to this target without changing its meaning is skipped, not judged.

use amp_runner::{CaseResult, Failure, Outcome, Prereq};

use super::Trial;

/// Why a trial stopped before its verdict.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A prerequisite is unavailable (registration refused, delivery not observable): the
    /// trial cannot judge its clause.
    Blocked(Prereq, String),
    /// A verdict reached early (a failure of the clause, or a harness/transport error).
    Failed(Failure),
    /// The vector is not judged under this run's settings (the reason says which).
    NotJudged(String),
    /// A verdict reached early that is not a failure (a warning citing the vector's
    /// contradiction record, from [`deviation`]).
    Verdict(Outcome),
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Failed(f)
    }
}

/// What a trial's body returns.
pub(crate) type TrialResult = Result<Outcome, Stop>;

/// The case result of a trial.
pub(crate) fn finish(r: TrialResult) -> CaseResult {
    match r {
        Ok(o) => Ok(o),
        Err(Stop::Blocked(p, why)) => Err(Failure::blocked(p, why)),
        Err(Stop::Failed(f)) => Err(f),
        Err(Stop::NotJudged(why)) => Ok(Outcome::Skip(why)),
        Err(Stop::Verdict(o)) => Ok(o),
    }
}

/// The first contradiction record the vector cites, if any.
pub(crate) fn contradiction(t: &Trial) -> Option<&'static str> {
    t.clauses.iter().copied().find(|c| c.starts_with("C-"))
}

/// The provider did not do what the vector says: a failure of the primary clause, or a
/// warning citing the vector's contradiction record.
pub(crate) fn deviation(t: &Trial, what: impl Into<String>) -> TrialResult {
    let what = what.into();
    match contradiction(t) {
        Some(c) => Ok(Outcome::Warn {
            reason: format!("{what} (the vector cites {c}: this is the other reading)"),
            contradiction: Some(c),
        }),
        None => Err(Stop::Failed(Failure::Fail(format!(
            "{what} ({})",
            t.clauses.first().copied().unwrap_or("vector")
        )))),
    }
}

/// An `acceptable` vector (strict readers refuse, lax ones accept) that the provider accepted.
pub(crate) fn lax_acceptance(t: &Trial, what: impl Into<String>) -> TrialResult {
    Ok(Outcome::Warn {
        reason: format!(
            "{}: accepted although strict readers refuse it; allowed only as a lax reading",
            what.into()
        ),
        contradiction: contradiction(t),
    })
}

/// [`deviation`] as a stop, for a check that ends the trial before its main question.
pub(crate) fn deviation_stop(t: &Trial, what: impl Into<String>) -> Stop {
    match deviation(t, what) {
        Ok(o) => Stop::Verdict(o),
        Err(s) => s,
    }
}

/// `Err(Stop::Failed(Fail))` shorthand for checks that are always failures.
pub(crate) fn fail(what: impl Into<String>) -> TrialResult {
    Err(Stop::Failed(Failure::Fail(what.into())))
}

/// `Err(Stop::NotJudged)` shorthand: the vector cannot be carried to this target.
pub(crate) fn not_judged(why: impl Into<String>) -> TrialResult {
    Err(Stop::NotJudged(format!("not judged: {}", why.into())))
}
