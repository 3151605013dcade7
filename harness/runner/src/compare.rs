//! Comparison with a previous run (`--compare PREVIOUS.json`): which cases got worse, which got
//! better, which are new and which did not run this time. It only reads the parts of the
//! previous report it compares (ids, sections, clauses, verdicts), so a report with extra or
//! reshaped fields of the same schema version still compares; another schema version does not.

use crate::report::{CaseReport, REPORT_SCHEMA, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// What a comparison needs of a previous JSON report.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousReport {
    /// Where it was read from (named in every rendering of the changes).
    pub source: String,
    pub run_id: String,
    pub started_at: String,
    pub tool_version: String,
    pub base_url: String,
    cases: Vec<PreviousCase>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct PreviousCase {
    id: String,
    #[serde(default)]
    section: String,
    #[serde(default)]
    clauses: Vec<String>,
    verdict: Verdict,
}

/// The parts of `report.schema.json` a comparison reads (`schema` is checked before).
#[derive(Deserialize)]
struct PreviousFile {
    tool: PreviousTool,
    run: PreviousMeta,
    target: PreviousTarget,
    cases: Vec<PreviousCase>,
}

#[derive(Deserialize)]
struct PreviousTool {
    version: String,
}

#[derive(Deserialize)]
struct PreviousMeta {
    id: String,
    started_at: String,
}

#[derive(Deserialize)]
struct PreviousTarget {
    base_url: String,
}

/// Why a previous report cannot be compared with. Each names the file and says what to pass.
#[derive(Debug, thiserror::Error)]
pub enum PreviousError {
    #[error("--compare {path}: cannot read it: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "--compare {path}: not a JSON report of amp-conformance ({reason}); pass a file \
         written by `--report-json`"
    )]
    Broken { path: String, reason: String },
    #[error(
        "--compare {path}: a report of schema `{found}`, but this version reads \
         `{REPORT_SCHEMA}`; compare with a report written by this version of amp-conformance \
         (re-run the previous target with `--report-json`)"
    )]
    Schema { path: String, found: String },
}

impl PreviousReport {
    /// Read and check a JSON report written by `--report-json`.
    pub fn load(path: &Path) -> Result<PreviousReport, PreviousError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PreviousError::Read {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        PreviousReport::parse(&text, &name)
    }

    /// Check `text` (the contents of `source`): the schema first, so that a report of another
    /// version is named as such rather than as a broken file.
    pub fn parse(text: &str, source: &str) -> Result<PreviousReport, PreviousError> {
        let broken = |reason: String| PreviousError::Broken {
            path: source.to_string(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| broken(format!("invalid JSON: {e}")))?;
        match value.get("schema").and_then(serde_json::Value::as_str) {
            Some(REPORT_SCHEMA) => {}
            Some(other) => {
                return Err(PreviousError::Schema {
                    path: source.to_string(),
                    found: other.to_string(),
                });
            }
            None => return Err(broken("no `schema` field".to_string())),
        }
        let file: PreviousFile =
            serde_json::from_value(value).map_err(|e| broken(e.to_string()))?;
        Ok(PreviousReport {
            source: source.to_string(),
            run_id: file.run.id,
            started_at: file.run.started_at,
            tool_version: file.tool.version,
            base_url: file.target.base_url,
            cases: file.cases,
        })
    }
}

/// The previous run a comparison was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousRun {
    /// The file given to `--compare`.
    pub source: String,
    pub run_id: String,
    pub started_at: String,
    pub tool_version: String,
    pub base_url: String,
}

/// One case whose standing differs between the two runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseChange {
    pub id: String,
    pub section: String,
    pub clauses: Vec<String>,
    /// Verdict in the previous run; `None` for a case that is new in this run.
    pub before: Option<Verdict>,
    /// Verdict in this run; `None` for a case that did not run this time.
    pub after: Option<Verdict>,
    /// This run's reason (redacted), if the case ran and has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How this run differs from a previous one. Cases are sorted by id in every list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    pub previous: PreviousRun,
    /// Did not count against the previous run (pass, info, xfail, skip) and does now (fail,
    /// error, xpass, warn, blocked).
    pub new_failures: Vec<CaseChange>,
    /// Counted against the previous run and passes now (pass, info, xfail).
    pub fixed: Vec<CaseChange>,
    /// Any other verdict change (fail → error, pass → skip, warn → blocked, ...).
    pub changed: Vec<CaseChange>,
    /// In this run, not in the previous one.
    pub added: Vec<CaseChange>,
    /// In the previous run, not in this one (removed from the suite, or left out by `--run`,
    /// `--skip` or `--level` this time).
    pub removed: Vec<CaseChange>,
    /// Cases in both runs with the same verdict.
    pub unchanged: usize,
}

/// Whether a verdict counts against a run in a comparison: everything that fails it, plus
/// `warn` (a regression even when not `--strict`) and `blocked`.
pub(crate) fn counts_against(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::Fail | Verdict::Error | Verdict::Xpass | Verdict::Warn | Verdict::Blocked
    )
}

/// Whether a verdict is a pass in a comparison (`skip` is neither a pass nor against).
fn passes(v: Verdict) -> bool {
    matches!(v, Verdict::Pass | Verdict::Info | Verdict::Xfail)
}

impl Changes {
    /// Compare this run's `cases` with `previous`.
    pub fn between(previous: &PreviousReport, cases: &[CaseReport]) -> Changes {
        let before: BTreeMap<&str, &PreviousCase> =
            previous.cases.iter().map(|c| (c.id.as_str(), c)).collect();
        let mut changes = Changes {
            previous: PreviousRun {
                source: previous.source.clone(),
                run_id: previous.run_id.clone(),
                started_at: previous.started_at.clone(),
                tool_version: previous.tool_version.clone(),
                base_url: previous.base_url.clone(),
            },
            new_failures: Vec::new(),
            fixed: Vec::new(),
            changed: Vec::new(),
            added: Vec::new(),
            removed: Vec::new(),
            unchanged: 0,
        };
        let mut now: Vec<&CaseReport> = cases.iter().collect();
        now.sort_by(|a, b| a.id.cmp(&b.id));
        for c in &now {
            let change = |before: Option<Verdict>| CaseChange {
                id: c.id.clone(),
                section: c.section.to_string(),
                clauses: c.clauses.clone(),
                before,
                after: Some(c.verdict),
                reason: c.reason.clone(),
            };
            match before.get(c.id.as_str()).map(|p| p.verdict) {
                None => changes.added.push(change(None)),
                Some(b) if b == c.verdict => changes.unchanged += 1,
                Some(b) if !counts_against(b) && counts_against(c.verdict) => {
                    changes.new_failures.push(change(Some(b)));
                }
                Some(b) if counts_against(b) && passes(c.verdict) => {
                    changes.fixed.push(change(Some(b)));
                }
                Some(b) => changes.changed.push(change(Some(b))),
            }
        }
        let ran: std::collections::HashSet<&str> = now.iter().map(|c| c.id.as_str()).collect();
        changes.removed = before
            .values()
            .filter(|p| !ran.contains(p.id.as_str()))
            .map(|p| CaseChange {
                id: p.id.clone(),
                section: p.section.clone(),
                clauses: p.clauses.clone(),
                before: Some(p.verdict),
                after: None,
                reason: None,
            })
            .collect();
        changes
    }

    /// `N new failures, N fixed, N changed, N added, N removed, N unchanged`.
    pub fn counts_line(&self) -> String {
        format!(
            "{} new failure{}, {} fixed, {} changed, {} added, {} removed, {} unchanged",
            self.new_failures.len(),
            if self.new_failures.len() == 1 {
                ""
            } else {
                "s"
            },
            self.fixed.len(),
            self.changed.len(),
            self.added.len(),
            self.removed.len(),
            self.unchanged
        )
    }

    /// The lists with a heading each, in the order every rendering shows them (empty ones
    /// included, so a caller decides whether to show them).
    pub fn parts(&self) -> [(&'static str, &[CaseChange]); 5] {
        [
            ("new failures", &self.new_failures),
            ("fixed", &self.fixed),
            ("changed", &self.changed),
            ("added", &self.added),
            ("removed", &self.removed),
        ]
    }
}

impl CaseChange {
    /// `pass → fail`, `new → warn`, `pass → not run`.
    pub fn transition(&self) -> String {
        format!(
            "{} → {}",
            self.before.map_or("new", Verdict::as_str),
            self.after.map_or("not run", Verdict::as_str)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn previous(cases: &[(&str, Verdict)]) -> PreviousReport {
        PreviousReport {
            source: "prev.json".to_string(),
            run_id: "abc123".to_string(),
            started_at: "2026-01-01T00:00:00Z".to_string(),
            tool_version: "0.0.0".to_string(),
            base_url: "http://127.0.0.1:1/v1".to_string(),
            cases: cases
                .iter()
                .map(|(id, v)| PreviousCase {
                    id: id.to_string(),
                    section: "routing".to_string(),
                    clauses: vec!["RTE-001".to_string()],
                    verdict: *v,
                })
                .collect(),
        }
    }

    fn ids(list: &[CaseChange]) -> Vec<&str> {
        list.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn classifies_each_transition() {
        use Verdict::*;
        let prev = previous(&[
            ("a", Pass),
            ("b", Fail),
            ("c", Pass),
            ("d", Skip),
            ("e", Fail),
            ("f", Pass),
            ("gone", Pass),
        ]);
        let now: Vec<CaseReport> = [
            ("a", Warn),
            ("b", Pass),
            ("c", Pass),
            ("d", Blocked),
            ("e", Error),
            ("f", Skip),
            ("new", Fail),
        ]
        .iter()
        .map(|(id, v)| crate::report::tests::case(id, *v))
        .collect();
        let ch = Changes::between(&prev, &now);
        assert_eq!(ids(&ch.new_failures), ["a", "d"]);
        assert_eq!(ids(&ch.fixed), ["b"]);
        assert_eq!(ids(&ch.changed), ["e", "f"]);
        assert_eq!(ids(&ch.added), ["new"]);
        assert_eq!(ids(&ch.removed), ["gone"]);
        assert_eq!(ch.unchanged, 1);
        assert_eq!(ch.removed[0].transition(), "pass → not run");
        assert_eq!(ch.added[0].transition(), "new → fail");
        assert_eq!(
            ch.counts_line(),
            "2 new failures, 1 fixed, 2 changed, 1 added, 1 removed, 1 unchanged"
        );
    }

    #[test]
    fn another_schema_or_a_broken_file_is_named() {
        let e = PreviousReport::parse(r#"{"schema":"amp-conformance/report/v0"}"#, "old.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("old.json") && e.contains("report/v0"), "{e}");
        for text in ["{", "[]", r#"{"schema":"amp-conformance/report/v1"}"#] {
            let e = PreviousReport::parse(text, "bad.json").unwrap_err();
            assert!(matches!(e, PreviousError::Broken { .. }), "{text}: {e}");
            assert!(e.to_string().contains("bad.json"), "{e}");
        }
        let e = PreviousReport::load(Path::new("/nonexistent/prev.json")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/prev.json"), "{e}");
    }

    #[test]
    fn reads_the_sample_report() {
        let p = PreviousReport::parse(
            include_str!("../../../reports/sample-report.json"),
            "sample-report.json",
        )
        .unwrap();
        assert!(!p.cases.is_empty());
    }
}
