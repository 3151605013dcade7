//! The report of a finished run: the cases' reports, the root causes, coverage, warnings and
//! the run's metadata, with a last redaction pass using every secret learnt during the run.

use crate::execute::ms;
use crate::facts::ProbeRecord;
use crate::prereq::Prereq;
use crate::report::{
    CaseReport, CoverageReport, Leftover, OptionsInfo, REPORT_SCHEMA, RunMeta, RunReport,
    SpecRevision, Summary, TargetInfo, TimingInfo, ToolInfo, Verdict, Warning,
};
use crate::shared::RunShared;
use amp_client::transcript::redact_exchange;
use serde_json::Value;
use std::collections::BTreeSet;

/// What the runner hands over at the end of a run.
pub(crate) struct Finished {
    pub started_at: String,
    pub duration_ms: u64,
    pub cases_known: usize,
    pub cases: Vec<CaseReport>,
    pub leftovers: Vec<Leftover>,
    pub warnings: Vec<Warning>,
}

pub(crate) fn report(shared: &RunShared, mut f: Finished) -> RunReport {
    let opts = &shared.opts;
    let redactor = &shared.redactor;
    f.cases.sort_by(|a, b| a.id.cmp(&b.id));
    for c in &mut f.cases {
        c.reason = c.reason.as_ref().map(|r| redactor.redact(r));
        c.transcript = c
            .transcript
            .drain(..)
            .map(|e| redact_exchange(redactor, e))
            .collect();
    }
    for c in &f.cases {
        if let Some(con) = &c.contradiction {
            f.warnings.push(Warning {
                kind: "contradiction".to_string(),
                message: format!(
                    "{}: verdict depends on spec contradiction {con}: {}",
                    c.id,
                    c.reason.clone().unwrap_or_default()
                ),
                case: Some(c.id.clone()),
                contradiction: Some(con.clone()),
            });
        }
    }
    let findings = shared
        .findings
        .lock()
        .map(|f| f.clone())
        .unwrap_or_default();
    let mut root_causes = root_causes(&shared.probes.records(), &findings, &f.cases);
    for rc in &mut root_causes {
        rc.summary = redactor.redact(&rc.summary);
        rc.transcript = rc
            .transcript
            .drain(..)
            .map(|e| redact_exchange(redactor, e))
            .collect();
    }
    let str_of = |k: &str| {
        shared
            .info
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    RunReport {
        schema: REPORT_SCHEMA.to_string(),
        tool: ToolInfo {
            name: "amp-conformance".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        run: RunMeta {
            id: shared.run_id.clone(),
            seed: shared.seed,
            started_at: f.started_at,
            duration_ms: f.duration_ms,
        },
        target: TargetInfo {
            base_url: opts.target.base_url.clone(),
            origin: opts.target.origin.clone(),
            ws_url: opts.target.ws_url.clone(),
            provider: str_of("provider"),
            version: str_of("version"),
            capabilities: shared.caps.clone(),
        },
        profile: opts.profile.name().to_string(),
        spec_revision: amp_catalogue::Catalogue::try_embedded()
            .ok()
            .map(|cat| SpecRevision {
                repo: cat.meta().spec_repo.clone(),
                catalogue_version: cat.meta().catalogue_version.clone(),
                files: cat.meta().spec_revision.clone(),
            }),
        options: OptionsInfo {
            level: opts.level_filter,
            strict: opts.strict,
            run_patterns: opts.run_patterns.clone(),
            skip_patterns: opts.skip_patterns.clone(),
            concurrency: opts.concurrency.max(1),
            case_timeout_ms: ms(opts.case_timeout),
            request_timeout_ms: ms(opts.request_timeout),
            expected_failures: opts.expected_failures.ids.iter().cloned().collect(),
            expected_failures_source: opts.expected_failures.source.clone(),
            tenant: shared.tenant(),
            loopback_webhooks: opts.loopback_webhooks,
            federation_peer: opts.federation_peer.is_some(),
            contradiction_profiles: opts
                .contradictions
                .declared()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            timing_ms: TimingInfo {
                ws_auth_timeout: ms(opts.timing.ws_auth_timeout),
                ws_pong_wait: ms(opts.timing.ws_pong_wait),
                webhook_first_retry: ms(opts.timing.webhook_first_retry),
                observe_window: ms(opts.timing.observe_window),
            },
            cases_known: f.cases_known,
            cases_filtered_out: f.cases_known - f.cases.len(),
        },
        root_causes,
        summary: Summary::compute(&f.cases, opts.strict),
        coverage: coverage(&f.cases),
        cases: f.cases,
        leftovers: f.leftovers,
        warnings: f.warnings,
        // Set by `crate::reporter::WithChanges` when the run is compared with a previous one.
        changes: None,
    }
}

/// Clause coverage of the cases that judged their clauses (not skipped, not blocked).
fn coverage(cases: &[CaseReport]) -> CoverageReport {
    let Ok(cat) = amp_catalogue::Catalogue::try_embedded() else {
        return CoverageReport::default();
    };
    let cited: BTreeSet<&str> = cases
        .iter()
        .filter(|c| Verdict::judged(c.verdict))
        .flat_map(|c| c.clauses.iter().map(String::as_str))
        .collect();
    let cov = cat.coverage(cited.iter().copied());
    let (required_covered, required_total) = cov.required();
    CoverageReport {
        catalogue: true,
        testable: cov.total(),
        covered: cov.groups.iter().flat_map(|g| g.covered.clone()).collect(),
        uncovered: cov
            .groups
            .iter()
            .flat_map(|g| g.uncovered.clone())
            .collect(),
        required_covered,
        required_total,
        unknown: cov.unknown.clone(),
        untestable_cited: cov.untestable.clone(),
    }
}

/// The root causes of a run: every failed probe that is its own root (with the cases it
/// blocked), then every finding (with the cases it explains), most cases first.
fn root_causes(
    probes: &[ProbeRecord],
    findings: &std::collections::BTreeMap<String, crate::shared::FindingRec>,
    cases: &[crate::report::CaseReport],
) -> Vec<crate::report::RootCause> {
    use crate::report::{RootCause, RootCauseKind};
    let mut out: Vec<RootCause> = probes
        .iter()
        .filter_map(|r| {
            let f = r.result.as_ref().err().filter(|f| f.root == r.prereq)?;
            Some(RootCause {
                key: format!("probe:{}", r.prereq),
                kind: RootCauseKind::Probe,
                clause: f.clause.to_string(),
                summary: format!(
                    "cannot establish that {}: {}",
                    r.prereq.description(),
                    f.reason
                ),
                cases: cases
                    .iter()
                    .filter(|c| c.blocked_by == Some(r.prereq))
                    .map(|c| c.id.clone())
                    .collect(),
                transcript: r.transcript.clone(),
            })
        })
        .collect();
    let mut found: Vec<RootCause> = findings
        .iter()
        .map(|(key, f)| RootCause {
            key: key.clone(),
            kind: RootCauseKind::Finding,
            clause: f.clause.to_string(),
            summary: f.summary.clone(),
            cases: f.cases.iter().cloned().collect(),
            transcript: Vec::new(),
        })
        .collect();
    found.sort_by(|a, b| b.cases.len().cmp(&a.cases.len()).then(a.key.cmp(&b.key)));
    out.extend(found);
    out.extend(unexplained_blocks(&out, cases));
    // A cause that no verdict depends on (a probe no case needed) is not a root cause.
    out.retain(|rc| !rc.cases.is_empty());
    out
}

/// Blocked cases that no probe or finding explains: a case may find a prerequisite missing
/// for itself although the run's probe established it (e.g. a registration in a tenant the
/// provider refuses). A `blocked` verdict always points at the root causes, so these get one
/// root cause per prerequisite (`blocked:<prereq>`), summarised by the first case's reason.
fn unexplained_blocks(
    explained: &[crate::report::RootCause],
    cases: &[crate::report::CaseReport],
) -> Vec<crate::report::RootCause> {
    use crate::report::{RootCause, RootCauseKind};
    let listed: std::collections::HashSet<&str> = explained
        .iter()
        .flat_map(|rc| rc.cases.iter().map(String::as_str))
        .collect();
    let mut by_prereq: std::collections::BTreeMap<Prereq, Vec<&crate::report::CaseReport>> =
        std::collections::BTreeMap::new();
    for c in cases {
        if let Some(p) = c.blocked_by
            && !listed.contains(c.id.as_str())
        {
            by_prereq.entry(p).or_default().push(c);
        }
    }
    by_prereq
        .into_iter()
        .map(|(p, blocked)| RootCause {
            key: format!("blocked:{p}"),
            kind: RootCauseKind::Probe,
            clause: p.clause().to_string(),
            summary: format!(
                "{} case(s) could not establish for themselves that {} (the run's probe did), \
                 first: {}",
                blocked.len(),
                p.description(),
                blocked
                    .first()
                    .and_then(|c| c.reason.clone())
                    .unwrap_or_default()
            ),
            cases: blocked.iter().map(|c| c.id.clone()).collect(),
            transcript: Vec::new(),
        })
        .collect()
}
