//! The run report: the data model behind JSON, JUnit, terminal and trace outputs.
//! Schema: `reports/report.schema.json` (documented in `reports/README.md`).

use crate::case::Section;
pub use crate::compare::Changes;
use crate::prereq::Prereq;
pub use crate::verdict::{Bucket, Level, Verdict};
use amp_client::Exchange;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies the report format; bump on incompatible changes.
pub const REPORT_SCHEMA: &str = "amp-conformance/report/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// 6 lowercase hex chars; also part of every agent name this run registered.
    pub id: String,
    /// Seed for names and keys (`--seed` reproduces them).
    pub seed: u64,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub base_url: String,
    pub origin: String,
    pub ws_url: String,
    /// `/info.provider`.
    pub provider: Option<String>,
    /// `/info.version` (advertised protocol version).
    pub version: Option<String>,
    /// `/info.capabilities`.
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionsInfo {
    /// Level filter (`None` = all levels).
    pub level: Option<Level>,
    pub strict: bool,
    pub run_patterns: Vec<String>,
    pub skip_patterns: Vec<String>,
    pub concurrency: usize,
    pub case_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub expected_failures: Vec<String>,
    pub expected_failures_source: Option<String>,
    pub tenant: String,
    pub loopback_webhooks: bool,
    pub federation_peer: bool,
    /// Declared contradiction profiles (`from-handling` → `overwrite`, `strict-ids` → `on`);
    /// undeclared ones are absent and their default reading applies.
    #[serde(default)]
    pub contradiction_profiles: BTreeMap<String, String>,
    /// Provider timings the cases waited on (spec figures unless the target declared its own).
    #[serde(default)]
    pub timing_ms: TimingInfo,
    /// Cases known to the tool.
    pub cases_known: usize,
    /// Cases left out by `--run`/`--skip`/level filters (not in `cases`).
    pub cases_filtered_out: usize,
}

/// [`crate::options::Timing`] in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimingInfo {
    pub ws_auth_timeout: u64,
    pub ws_pong_wait: u64,
    pub webhook_first_retry: u64,
    pub observe_window: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseReport {
    pub id: String,
    pub title: String,
    pub section: Section,
    pub clauses: Vec<String>,
    pub level: Level,
    pub verdict: Verdict,
    pub duration_ms: u64,
    /// Why the case did not pass (or the info/warn note). Redacted.
    pub reason: Option<String>,
    /// Contradiction record the verdict depends on (`C-11`).
    pub contradiction: Option<String>,
    /// For `blocked`: the prerequisite whose probe failed (see `root_causes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<Prereq>,
    pub expectation: String,
    /// Redacted exchanges in order.
    pub transcript: Vec<Exchange>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub by_verdict: BTreeMap<Verdict, usize>,
    pub by_section: BTreeMap<Section, BTreeMap<Verdict, usize>>,
    /// pass + info + xfail (+ warn unless strict).
    pub passed: usize,
    /// fail + error + xpass (+ warn if strict).
    pub failed: usize,
    pub skipped: usize,
    /// Not judged because a prerequisite probe failed (counted apart from `skipped`).
    #[serde(default)]
    pub blocked: usize,
}

impl Summary {
    pub fn compute(cases: &[CaseReport], strict: bool) -> Summary {
        let mut s = Summary {
            total: cases.len(),
            ..Summary::default()
        };
        for c in cases {
            *s.by_verdict.entry(c.verdict).or_default() += 1;
            *s.by_section
                .entry(c.section.clone())
                .or_default()
                .entry(c.verdict)
                .or_default() += 1;
            match c.verdict.bucket(strict) {
                Bucket::Passed => s.passed += 1,
                Bucket::Failed => s.failed += 1,
                Bucket::Skipped => s.skipped += 1,
                Bucket::Blocked => s.blocked += 1,
            }
        }
        s
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.by_verdict.get(&v).copied().unwrap_or(0)
    }
}

/// Clause coverage of the cases that ran (judged: not skipped).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Whether the catalogue loaded (if not, every list is empty and `testable` is 0).
    pub catalogue: bool,
    /// Testable clauses in the catalogue.
    pub testable: usize,
    /// Testable clauses cited by at least one case that ran (catalogue order).
    pub covered: Vec<String>,
    /// Testable clauses no case that ran cites (catalogue order).
    pub uncovered: Vec<String>,
    /// MUST / MUST NOT clauses: covered and total.
    pub required_covered: usize,
    pub required_total: usize,
    /// Clauses cited by cases but unknown to the catalogue (a suite bug).
    pub unknown: Vec<String>,
    /// Cited clauses the catalogue calls untestable (not counted as coverage).
    pub untestable_cited: Vec<String>,
}

/// Which spec the catalogue (and so the suite) was written against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecRevision {
    pub repo: String,
    pub catalogue_version: String,
    /// Spec file -> commit read.
    pub files: BTreeMap<String, String>,
}

/// What a root cause is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootCauseKind {
    /// A prerequisite probe failed; `cases` were blocked by it.
    Probe,
    /// Several cases reported the same finding; `cases` are explained by it.
    Finding,
}

/// One cause behind many verdicts: a failed prerequisite probe, or a finding that cases
/// reported under the same key. Listed first in every output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootCause {
    /// `probe:<prereq>` or the finding key (`error-code:signature_invalid->invalid_signature`).
    pub key: String,
    pub kind: RootCauseKind,
    /// Catalogue clause it breaks or bears on.
    pub clause: String,
    pub summary: String,
    /// Case ids blocked (probe) or explained (finding), sorted.
    pub cases: Vec<String>,
    /// For a probe: its redacted exchanges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<Exchange>,
}

/// An agent the run created and could not deregister.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leftover {
    pub address: String,
    /// The case that created it.
    pub case: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// `contradiction`, `preflight`, `expected-failures`, `cleanup`.
    pub kind: String,
    pub message: String,
    pub case: Option<String>,
    pub contradiction: Option<String>,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    pub tool: ToolInfo,
    pub run: RunMeta,
    pub target: TargetInfo,
    /// Payload profile name (`sorted`, `jcs`, ...).
    pub profile: String,
    /// Spec revision the catalogue was built from (`None` if the catalogue did not load).
    pub spec_revision: Option<SpecRevision>,
    pub options: OptionsInfo,
    /// Failed probes first (in prerequisite order), then findings (most cases first).
    #[serde(default)]
    pub root_causes: Vec<RootCause>,
    /// Sorted by id.
    pub cases: Vec<CaseReport>,
    pub summary: Summary,
    pub coverage: CoverageReport,
    pub leftovers: Vec<Leftover>,
    pub warnings: Vec<Warning>,
    /// How this run differs from the report given to `--compare` (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

impl RunReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise report: {e}\"}}"))
    }

    pub fn from_json(s: &str) -> Result<RunReport, serde_json::Error> {
        serde_json::from_str(s)
    }

    pub fn case(&self, id: &str) -> Option<&CaseReport> {
        self.cases.iter().find(|c| c.id == id)
    }
}

/// Process exit code for a finished run: 0 when no required case failed or was blocked (fail,
/// error, xpass and blocked count; warn counts only under `strict`), 1 otherwise. Usage errors (2) and an
/// unreachable target (3) come from [`crate::RunError::exit_code`].
pub fn exit_code(report: &RunReport, strict: bool) -> i32 {
    let failed = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict.bucket(strict), Bucket::Failed | Bucket::Blocked))
        .count();
    if failed > 0 { 1 } else { 0 }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A case of section `routing` with `verdict` (built from JSON, as a report is read).
    pub(crate) fn case(id: &str, verdict: Verdict) -> CaseReport {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": id, "section": "routing", "clauses": ["RTE-001"],
            "level": "must", "verdict": verdict, "duration_ms": 1, "reason": null,
            "contradiction": null, "expectation": "", "transcript": []
        }))
        .unwrap_or_else(|e| panic!("case fixture: {e}"))
    }
}
