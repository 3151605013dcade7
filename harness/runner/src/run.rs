//! The runner: selection, preflight, bounded concurrent execution, cleanup, report; it
//! emits [`Event`]s that reporters (`crate::reporter`) turn into output.

use crate::case::Case;
use crate::event::{Emitter, Event, Reporter};
use crate::options::{ConfigError, RunOptions};
use crate::report::{RunReport, Warning};
use crate::reporter::ProgressReporter;
pub use crate::run_error::RunError;
use futures_util::StreamExt;
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::Instant;

pub use crate::verdict::{apply_expected, verdict_of};

fn globset(patterns: &[String]) -> Result<Option<GlobSet>, ConfigError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| ConfigError::BadPattern {
            pattern: p.clone(),
            reason: e.to_string(),
        })?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| ConfigError::BadPattern {
        pattern: patterns.join(","),
        reason: e.to_string(),
    })
}

/// The cases `opts` selects (patterns and level), sorted by id. Also what `list` shows.
pub fn select<'c>(cases: &'c [Case], opts: &RunOptions) -> Result<Vec<&'c Case>, ConfigError> {
    let run = globset(&opts.run_patterns)?;
    let skip = globset(&opts.skip_patterns)?;
    let mut out: Vec<&Case> = cases
        .iter()
        .filter(|c| run.as_ref().is_none_or(|g| g.is_match(c.id)))
        .filter(|c| skip.as_ref().is_none_or(|g| !g.is_match(c.id)))
        .filter(|c| opts.level_filter.is_none_or(|l| c.level >= l))
        .collect();
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// Run `cases` against the target, with a progress bar on stderr when `opts.progress` is set
/// and stderr is a terminal. Returns a report unless the configuration is invalid or the target
/// does not answer at all.
pub async fn run(cases: &[Case], opts: RunOptions) -> Result<RunReport, RunError> {
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if opts.progress && std::io::stderr().is_terminal() {
        reporters.push(Box::new(ProgressReporter::new()));
    }
    run_with(cases, opts, reporters).await
}

/// [`run`] with the given reporters, which see every [`Event`] of the run.
pub async fn run_with(
    cases: &[Case],
    opts: RunOptions,
    reporters: Vec<Box<dyn Reporter>>,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let selected = select(cases, &opts)?;
    let mut warnings = plan_warnings(cases, &opts)?;
    let shared = crate::session::open(&opts, &mut warnings).await?;
    let events = Emitter::new(reporters);
    events.emit(Event::RunStarted {
        run_id: &shared.run_id,
        target: &opts.target,
        cases: selected.len(),
    });
    // Owned cases, not a mapping closure inside the stream: the run's future stays provably
    // `Send`, so callers can spawn runs on their own tasks (selftest does).
    let selected: Vec<Case> = selected.iter().map(|c| **c).collect();
    let reports = futures_util::stream::iter(selected)
        .map(|case| {
            let (shared, events) = (shared.clone(), &events);
            async move {
                events.emit(Event::CaseStarted { id: case.id });
                let r = crate::execute::run_one(case, shared).await;
                events.emit(Event::CaseFinished { case: &r });
                r
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let leftovers =
        crate::cleanup::cleanup(&shared.http, &opts, shared.tracked(), &shared.redactor).await;
    let report = crate::assemble::report(
        &shared,
        crate::assemble::Finished {
            started_at,
            duration_ms: crate::execute::ms(started.elapsed()),
            cases_known: cases.len(),
            cases: reports,
            leftovers,
            warnings,
        },
    );
    for cause in &report.root_causes {
        events.emit(Event::RootCause { cause });
    }
    events.emit(Event::RunFinished { report: &report });
    Ok(report)
}

/// Suite and expected-failures problems found before the run: a duplicate case id is a harness
/// error; an expected-failures entry that names no case is a warning.
fn plan_warnings(cases: &[Case], opts: &RunOptions) -> Result<Vec<Warning>, RunError> {
    let mut seen = HashSet::new();
    for c in cases {
        if !seen.insert(c.id) {
            return Err(RunError::Harness(format!(
                "duplicate case id `{}` in the suite",
                c.id
            )));
        }
    }
    Ok(opts
        .expected_failures
        .ids
        .iter()
        .filter(|id| !seen.contains(id.as_str()))
        .map(|id| Warning {
            kind: "expected-failures".to_string(),
            message: format!(
                "expected-failures lists `{id}`, which is not a case id (typo or removed case?)"
            ),
            case: None,
            contradiction: None,
        })
        .collect())
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
