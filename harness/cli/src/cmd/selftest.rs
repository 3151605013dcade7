//! `amp-conformance selftest`: the suite proves itself against the mock.
//!
//! 1. Against the clean embedded mock every case must pass (a fail, warn or error there is a false
//!    alarm the suite would raise against a correct provider).
//! 2. Against the mock with each planted defect, the cases its row lists as `killed_by`
//!    (`amp_mock::defects`) run; the defect is *killed* when one of them fails or warns, and every
//!    listed case must fail or warn. A defect no case kills, or a listed case that lets its defect
//!    through, is a hole in the suite. (The cli tests check that every row lists a case citing
//!    the defect's own clause, so a kill is always about that clause.)
//!
//! Prints a matrix and `mutation score: K/N defects killed`; exits non-zero below N/N or on any
//! false alarm.
//!
//! The passes spend nearly all their time waiting (observe windows, deadlines), not computing,
//! so they overlap: the clean pass and [`DEFAULT_JOBS`] defect passes run at once, each against
//! its own mock, and the whole selftest takes about as long as one embedded run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use amp_mock::{Defect, DefectSet};
use amp_runner::report::RootCauseKind;
use amp_runner::{Case, RunOptions, RunReport, Verdict};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::args::SelftestArgs;
use crate::exit::{CliError, ExitCode};

/// The verdict of one case in one selftest run.
#[derive(Debug, Clone, Serialize)]
pub struct CaseVerdict {
    pub case: String,
    pub verdict: Verdict,
    pub reason: Option<String>,
    /// A run-wide finding the case reported (`error-code:missing_field->invalid_request`): a
    /// deviation judged as a root cause instead of a verdict still catches a defect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl CaseVerdict {
    /// Every case of `report`, with the first finding each one reported.
    fn all_of(report: &RunReport) -> Vec<CaseVerdict> {
        report
            .cases
            .iter()
            .map(|c| CaseVerdict {
                case: c.id.clone(),
                verdict: c.verdict,
                reason: c.reason.clone(),
                finding: report
                    .root_causes
                    .iter()
                    .find(|r| r.kind == RootCauseKind::Finding && r.cases.contains(&c.id))
                    .map(|r| r.key.clone()),
            })
            .collect()
    }

    /// The case noticed something: it failed, warned or reported a finding.
    pub fn caught(&self) -> bool {
        matches!(self.verdict, Verdict::Fail | Verdict::Warn) || self.finding.is_some()
    }

    /// The verdict, or `finding` for a passing case that reported one.
    fn label(&self) -> &str {
        match (&self.finding, self.verdict) {
            (Some(_), Verdict::Pass | Verdict::Info | Verdict::Skip) => "finding",
            _ => self.verdict.as_str(),
        }
    }
}

/// One row of the matrix: a defect and what the suite made of it.
#[derive(Debug, Clone, Serialize)]
pub struct DefectRow {
    pub defect: String,
    pub clause: String,
    pub description: String,
    /// The cases the defect's row lists, with their verdicts against the defective mock.
    pub cases: Vec<CaseVerdict>,
    pub killed: bool,
    /// Cases the defect's row lists as `killed_by` that did not fail or warn.
    pub missed: Vec<String>,
    /// Set when the run itself could not happen.
    pub error: Option<String>,
    /// Wall time of the defect's pass (mock start to stop).
    pub duration_ms: u64,
}

impl DefectRow {
    /// The row of `defect` before its pass ran.
    fn new(defect: Defect) -> DefectRow {
        DefectRow {
            defect: defect.name().to_string(),
            clause: defect.clause().to_string(),
            description: defect.description().to_string(),
            cases: Vec::new(),
            killed: false,
            missed: Vec::new(),
            error: None,
            duration_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SelftestReport {
    /// Cases that did not pass against the clean mock (should be empty).
    pub false_alarms: Vec<CaseVerdict>,
    pub clean_cases: usize,
    pub defects: Vec<DefectRow>,
    pub killed: usize,
    pub total: usize,
}

impl SelftestReport {
    pub fn is_success(&self) -> bool {
        self.false_alarms.is_empty()
            && self.killed == self.total
            && self.defects.iter().all(|r| r.missed.is_empty())
    }
}

pub fn run(args: &SelftestArgs) -> Result<ExitCode, CliError> {
    let defects: Vec<Defect> = if args.defects.is_empty() {
        Defect::ALL.to_vec()
    } else {
        let names: Vec<&str> = args.defects.iter().map(String::as_str).collect();
        let set = DefectSet::from_names(&names).map_err(|e| {
            CliError::usage(format!(
                "{e}; `amp-conformance mock --list-defects` lists the known defects"
            ))
        })?;
        set.iter().collect()
    };
    let rt = crate::runtime()?;
    let report = rt.block_on(selftest(&defects, args.jobs.max(1)))?;
    print!("{}", render(&report));
    if let Some(path) = &args.report_json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::broken(format!("cannot serialise the selftest report: {e}")))?;
        std::fs::write(path, json)
            .map_err(|e| CliError::broken(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(if report.is_success() {
        ExitCode::Ok
    } else {
        ExitCode::Failed
    })
}

/// Defect passes in flight at once by default (each is one mock and a few cases, mostly waiting).
pub const DEFAULT_JOBS: usize = 16;

/// Run the clean pass and every defect pass, `jobs` defect passes at a time alongside the
/// clean one. Each pass has its own mock and its own task; the passes spend nearly all their
/// time waiting (observe windows, timeouts), so overlapping them is what makes the selftest
/// fast. Rows come back in the order of `defects` whatever order they finish in.
pub async fn selftest(defects: &[Defect], jobs: usize) -> Result<SelftestReport, CliError> {
    let cases = amp_suites::all();
    let unknown = unknown_kill_cases(defects.iter().map(|d| (d.name(), d.killed_by())), &cases);
    if !unknown.is_empty() {
        return Err(CliError::broken(format!(
            "defect rows name cases the suite does not have (fix `killed_by` in harness/mock/src/defects.rs; `amp-conformance list` shows the ids): {}",
            unknown.join(", ")
        )));
    }
    let cases: Arc<[Case]> = cases.into();
    let clean = tokio::spawn({
        let cases = cases.clone();
        async move { run_against(DefectSet::none(), &cases).await }
    });
    let permits = Arc::new(Semaphore::new(jobs.max(1)));
    let passes: Vec<_> = defects
        .iter()
        .map(|&d| {
            let (cases, permits) = (cases.clone(), permits.clone());
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                defect_row(d, &cases).await
            })
        })
        .collect();
    let mut rows = Vec::with_capacity(passes.len());
    for (pass, &d) in passes.into_iter().zip(defects) {
        rows.push(pass.await.unwrap_or_else(|e| DefectRow {
            error: Some(format!("the pass stopped: {e}")),
            ..DefectRow::new(d)
        }));
    }
    let clean = clean
        .await
        .map_err(|e| format!("the clean pass stopped: {e}"))
        .and_then(|r| r)
        .map_err(|e| CliError::broken(format!("clean run failed to complete: {e}")))?;
    let false_alarms: Vec<CaseVerdict> = CaseVerdict::all_of(&clean)
        .into_iter()
        .filter(|c| {
            !matches!(c.verdict, Verdict::Pass | Verdict::Info | Verdict::Skip)
                || c.finding.is_some()
        })
        .collect();
    let killed = rows.iter().filter(|r| r.killed).count();
    Ok(SelftestReport {
        false_alarms,
        clean_cases: clean.cases.len(),
        total: rows.len(),
        killed,
        defects: rows,
    })
}

/// `defect: case` for every listed case id that is not a case of `cases`.
pub fn unknown_kill_cases<'a>(
    lists: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
    cases: &[Case],
) -> Vec<String> {
    lists
        .into_iter()
        .flat_map(|(defect, ids)| {
            ids.iter()
                .filter(|id| !cases.iter().any(|c| c.id == **id))
                .map(move |id| format!("{defect}: {id}"))
        })
        .collect()
}

/// Plant `defect` and run the cases its row lists; every one of them must fail, warn or report
/// a finding.
async fn defect_row(defect: Defect, cases: &[Case]) -> DefectRow {
    let listed = defect.killed_by();
    let selected: Vec<Case> = cases
        .iter()
        .filter(|c| listed.contains(&c.id))
        .copied()
        .collect();
    let mut row = DefectRow::new(defect);
    if selected.is_empty() {
        row.error = Some("its row lists no case of the suite".to_string());
        return row;
    }
    let started = Instant::now();
    match run_against(DefectSet::single(defect), &selected).await {
        Ok(report) => {
            row.cases = CaseVerdict::all_of(&report);
            row.killed = row.cases.iter().any(CaseVerdict::caught);
            row.missed = missed_cases(listed, &row.cases);
        }
        Err(e) => row.error = Some(e),
    }
    row.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    row
}

/// The listed cases that did not fail, warn or report a finding (passed, skipped, errored or did
/// not run): each one lets the defect it is listed for through.
pub fn missed_cases(listed: &[&str], verdicts: &[CaseVerdict]) -> Vec<String> {
    listed
        .iter()
        .filter(|id| !verdicts.iter().any(|c| c.case == **id && c.caught()))
        .map(|id| id.to_string())
        .collect()
}

/// Each missed case of `row` with the verdict and reason it gave instead (`ws.route (error:
/// case did not finish ...)`), or `did not run`: a miss under load can only be told from a
/// case that lets its defect through by what the case said.
pub fn describe_missed(row: &DefectRow) -> Vec<String> {
    row.missed
        .iter()
        .map(|id| match row.cases.iter().find(|c| &c.case == id) {
            Some(c) => match &c.reason {
                Some(why) => format!("{id} ({}: {why})", c.label()),
                None => format!("{id} ({})", c.label()),
            },
            None => format!("{id} (did not run)"),
        })
        .collect()
}

/// Start an embedded mock with `defects`, run `cases` against it (seed 7, no progress bar),
/// stop the mock. With no defects and the whole suite this is one embedded run.
pub async fn run_against(defects: DefectSet, cases: &[Case]) -> Result<RunReport, String> {
    let profile = amp_core::PayloadProfile::default();
    let mock = amp_mock::spawn(crate::embedded::mock_config(defects, profile))
        .await
        .map_err(|e| format!("cannot start the mock: {e}"))?;
    let mut opts = RunOptions::for_target(&mock.base_url()).map_err(|e| e.to_string())?;
    crate::embedded::adapt_options(&mut opts, &mock);
    opts.progress = false;
    opts.seed = Some(7);
    let result = amp_runner::run(cases, opts)
        .await
        .map_err(|e| e.to_string());
    mock.shutdown().await;
    result
}

/// The matrix, the false alarms, and the score line.
pub fn render(report: &SelftestReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "clean mock: {} cases, {} false alarms",
        report.clean_cases,
        report.false_alarms.len()
    );
    for fa in &report.false_alarms {
        let _ = writeln!(
            out,
            "  FALSE ALARM {} [{}] {}",
            fa.case,
            fa.label(),
            fa.finding.as_deref().or(fa.reason.as_deref()).unwrap_or("")
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<32} {:<11} {:<7} caught by",
        "defect", "clause", "killed"
    );
    for row in &report.defects {
        let by: BTreeMap<&str, &str> = row
            .cases
            .iter()
            .filter(|c| c.caught())
            .map(|c| (c.case.as_str(), c.label()))
            .collect();
        let caught = if let Some(e) = &row.error {
            format!("ERROR: {e}")
        } else if by.is_empty() {
            let ran: Vec<&str> = row.cases.iter().map(|c| c.case.as_str()).collect();
            format!("none (ran: {})", ran.join(", "))
        } else {
            by.iter()
                .map(|(c, v)| format!("{c} ({v})"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            out,
            "{:<32} {:<11} {:<7} {caught}",
            row.defect,
            row.clause,
            if row.killed { "yes" } else { "NO" }
        );
        if !row.missed.is_empty() {
            let _ = writeln!(
                out,
                "{:<52} MISSED (listed in killed_by): {}",
                "",
                describe_missed(row).join(", ")
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "mutation score: {}/{} defects killed",
        report.killed, report.total
    );
    let survivors = report.total - report.killed;
    let missed: usize = report.defects.iter().map(|r| r.missed.len()).sum();
    if missed > 0 {
        let _ = writeln!(
            out,
            "{missed} case(s) listed in a defect's killed_by missed their defect"
        );
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        report.killed,
        survivors + report.false_alarms.len() + missed
    );
    out
}
