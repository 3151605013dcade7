//! Report renderings: terminal summary, JUnit XML, per-case trace files.

use crate::case::Section;
use crate::compare::Changes;
use crate::excerpt::printable;
use crate::report::{Bucket, CaseReport, RootCause, RootCauseKind, RunReport, Verdict};
use amp_client::render_exchanges;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bodies in terminal/JUnit transcripts are cut at this many bytes.
pub const SUMMARY_BODY_CAP: usize = 2048;

/// One-character mark for a verdict.
pub fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Warn => "!",
        Verdict::Skip => "-",
        Verdict::Info => "i",
        Verdict::Error => "E",
        Verdict::Xfail => "x",
        Verdict::Xpass => "X",
        Verdict::Blocked => "B",
    }
}

fn color_of(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass | Verdict::Xfail => "\x1b[32m",
        Verdict::Fail | Verdict::Error | Verdict::Xpass => "\x1b[31m",
        Verdict::Warn => "\x1b[33m",
        Verdict::Skip | Verdict::Info => "\x1b[2m",
        Verdict::Blocked => "\x1b[35m",
    }
}

fn by_section(report: &RunReport) -> BTreeMap<Section, Vec<&CaseReport>> {
    let mut m: BTreeMap<Section, Vec<&CaseReport>> = BTreeMap::new();
    for c in &report.cases {
        m.entry(c.section.clone()).or_default().push(c);
    }
    m
}

/// The terminal summary: cases grouped by section, one line each, failures followed by their
/// transcript, then totals and the closing line `N passed, N failed, N skipped`.
pub fn render_terminal(report: &RunReport, strict: bool, color: bool) -> String {
    let mut out = String::new();
    let paint = |v: Verdict, s: &str| -> String {
        if color {
            format!("{}{s}\x1b[0m", color_of(v))
        } else {
            s.to_string()
        }
    };
    let _ = writeln!(
        out,
        "amp-conformance {} — target {} ({} {}) — profile {} — run {}",
        report.tool.version,
        report.target.base_url,
        one_line(
            report
                .target
                .provider
                .as_deref()
                .unwrap_or("unknown provider")
        ),
        one_line(report.target.version.as_deref().unwrap_or("?")),
        report.profile,
        report.run.id
    );
    render_root_causes(&mut out, report);
    for (section, cases) in by_section(report) {
        let _ = writeln!(out, "\n{section}");
        for c in cases {
            let reason = match (c.blocked_by, &c.reason) {
                (Some(p), _) => format!("  (blocked by probe `{p}`: see root causes)"),
                (None, Some(r)) => format!("  ({})", one_line(r)),
                (None, None) => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} {}  {}{}",
                paint(c.verdict, mark(c.verdict)),
                c.id,
                c.clauses.join(","),
                reason
            );
            let failed = matches!(c.verdict, Verdict::Fail | Verdict::Error)
                || (strict && c.verdict == Verdict::Warn);
            if failed && !c.transcript.is_empty() {
                let text = render_exchanges(&c.transcript, SUMMARY_BODY_CAP, "      ");
                out.push_str(&printable(&text));
            }
        }
    }
    if !report.leftovers.is_empty() {
        let _ = writeln!(out, "\nleftovers (agents not deregistered):");
        for l in &report.leftovers {
            let _ = writeln!(
                out,
                "  {} (from {}): {}",
                l.address,
                l.case,
                one_line(&l.reason)
            );
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nwarnings:");
        for w in &report.warnings {
            let _ = writeln!(out, "  [{}] {}", w.kind, one_line(&w.message));
        }
    }
    if let Some(changes) = &report.changes {
        render_changes(&mut out, changes);
    }
    let s = &report.summary;
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .filter(|v| s.count(**v) > 0)
        .map(|v| format!("{} {}", s.count(*v), v))
        .collect();
    let _ = writeln!(
        out,
        "\n{} cases: {} — clause coverage {}/{} testable ({}/{} MUST) — {} ms",
        s.total,
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join(", ")
        },
        report.coverage.covered.len(),
        report.coverage.testable,
        report.coverage.required_covered,
        report.coverage.required_total,
        report.run.duration_ms
    );
    let _ = writeln!(out, "{}", closing_line(report, strict));
    out
}

/// Root causes first: each failed probe or repeated finding, the clause, how many cases it
/// blocked or explains, and which.
fn render_root_causes(out: &mut String, report: &RunReport) {
    if report.root_causes.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nroot causes ({}):", report.root_causes.len());
    for rc in &report.root_causes {
        let what = match rc.kind {
            RootCauseKind::Probe => "blocked",
            RootCauseKind::Finding => "explains",
        };
        let _ = writeln!(
            out,
            "  [{}] {} — {what} {} case{}",
            rc.clause,
            rc.key,
            rc.cases.len(),
            if rc.cases.len() == 1 { "" } else { "s" }
        );
        let summary: Vec<&str> = rc.summary.split_whitespace().collect();
        let _ = writeln!(out, "      {}", printable(&summary.join(" ")));
        let _ = writeln!(out, "      cases: {}", rc.cases.join(", "));
    }
}

/// Cases listed per part of the changes in the terminal summary.
const CHANGES_PER_PART: usize = 20;

/// The changes since a previous run: the counts, then each non-empty part with its cases.
fn render_changes(out: &mut String, changes: &Changes) {
    let p = &changes.previous;
    let _ = writeln!(
        out,
        "\nchanges since run {} ({}, started {}): {}",
        p.run_id,
        p.source,
        p.started_at,
        changes.counts_line()
    );
    for (name, list) in changes.parts() {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {name}:");
        for c in list.iter().take(CHANGES_PER_PART) {
            let reason = c
                .reason
                .as_deref()
                .map(|r| format!("  ({})", one_line(r)))
                .unwrap_or_default();
            let _ = writeln!(out, "    {}  {}{reason}", c.id, c.transition());
        }
        if list.len() > CHANGES_PER_PART {
            let _ = writeln!(
                out,
                "    … and {} more (the JSON report lists them all under `changes`)",
                list.len() - CHANGES_PER_PART
            );
        }
    }
}

/// `N passed, N failed, N skipped`, then `, N blocked` when cases were blocked. CI parses the
/// plain `N passed, N failed` at the start of this line.
pub fn closing_line(report: &RunReport, strict: bool) -> String {
    let (p, f, k) = closing_counts(report, strict);
    let blocked = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Blocked)
        .count();
    if blocked > 0 {
        format!("{p} passed, {f} failed, {k} skipped, {blocked} blocked")
    } else {
        format!("{p} passed, {f} failed, {k} skipped")
    }
}

/// (passed, failed, skipped) under `strict`; blocked cases are in none of them.
pub fn closing_counts(report: &RunReport, strict: bool) -> (usize, usize, usize) {
    let mut t = (0, 0, 0);
    for c in &report.cases {
        match c.verdict.bucket(strict) {
            Bucket::Passed => t.0 += 1,
            Bucket::Failed => t.1 += 1,
            Bucket::Skipped => t.2 += 1,
            Bucket::Blocked => {}
        }
    }
    t
}

/// `s` on one line, control characters (a target's ANSI escapes) made visible, cut at 300
/// characters.
fn one_line(s: &str) -> String {
    let l = printable(&s.split_whitespace().collect::<Vec<_>>().join(" "));
    if l.chars().count() > 300 {
        format!("{}…", l.chars().take(300).collect::<String>())
    } else {
        l
    }
}

/// JUnit XML: one testsuite per section, one testcase per case. fail/xpass → failure,
/// error → error, skip → skipped; warn is a pass with a system-out note (a failure under
/// `strict`); failures carry the reason as message and the redacted transcript as body.
pub fn to_junit(report: &RunReport, strict: bool) -> Result<String, String> {
    let mut r = Report::new("amp-conformance");
    if !report.root_causes.is_empty() {
        r.add_test_suite(root_cause_suite(&report.root_causes));
    }
    for (section, cases) in by_section(report) {
        let mut suite = TestSuite::new(section.as_str());
        for c in cases {
            let transcript = render_exchanges(&c.transcript, SUMMARY_BODY_CAP, "");
            let reason = c.reason.clone().unwrap_or_default();
            let status = match c.verdict {
                Verdict::Pass | Verdict::Info | Verdict::Xfail => TestCaseStatus::success(),
                Verdict::Warn if !strict => TestCaseStatus::success(),
                Verdict::Skip => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.clone());
                    s
                }
                Verdict::Blocked => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.clone());
                    s.set_type("blocked");
                    s
                }
                Verdict::Error => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(reason.clone());
                    s.set_type("error");
                    s.set_description(format!("{reason}\n\n{transcript}"));
                    s
                }
                Verdict::Fail | Verdict::Xpass | Verdict::Warn => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(reason.clone());
                    s.set_type(c.verdict.as_str());
                    s.set_description(format!(
                        "{reason}\nclauses: {}\nexpected: {}\n\n{transcript}",
                        c.clauses.join(", "),
                        c.expectation
                    ));
                    s
                }
            };
            let mut tc = TestCase::new(c.id.clone(), status);
            tc.set_classname(format!("amp.{}", section.as_str()));
            tc.set_time(Duration::from_millis(c.duration_ms));
            match c.verdict {
                Verdict::Warn if !strict => {
                    tc.set_system_out(format!(
                        "WARN ({}): {reason}{}",
                        c.clauses.join(", "),
                        c.contradiction
                            .as_ref()
                            .map(|x| format!(" [contradiction {x}]"))
                            .unwrap_or_default()
                    ));
                }
                Verdict::Info | Verdict::Xfail if !reason.is_empty() => {
                    tc.set_system_out(format!("{}: {reason}", c.verdict));
                }
                _ => {}
            }
            suite.add_test_case(tc);
        }
        r.add_test_suite(suite);
    }
    r.to_string()
        .map_err(|e| format!("cannot serialise JUnit XML: {e}"))
}

/// The root causes as the first test suite, one test case each, so every JUnit consumer shows
/// them: a failed probe is a failure (the cases it blocked are `skipped`, naming it); a
/// finding passes with its text and cases in system-out (the cases carry their own verdicts).
fn root_cause_suite(causes: &[RootCause]) -> TestSuite {
    let mut suite = TestSuite::new("root-causes");
    for rc in causes {
        let text = format!(
            "{}\nclause: {}\ncases ({}): {}",
            rc.summary,
            rc.clause,
            rc.cases.len(),
            rc.cases.join(", ")
        );
        let status = match rc.kind {
            RootCauseKind::Probe => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "[{}] {} blocked {} cases: {}",
                    rc.clause,
                    rc.key,
                    rc.cases.len(),
                    one_line(&rc.summary)
                ));
                s.set_type("probe");
                s.set_description(format!(
                    "{text}\n\n{}",
                    render_exchanges(&rc.transcript, SUMMARY_BODY_CAP, "")
                ));
                s
            }
            RootCauseKind::Finding => TestCaseStatus::success(),
        };
        let mut tc = TestCase::new(rc.key.clone(), status);
        tc.set_classname("amp.root-causes");
        if rc.kind == RootCauseKind::Finding {
            tc.set_system_out(format!("FINDING {text}"));
        }
        suite.add_test_case(tc);
    }
    suite
}

/// A file name for a case id (ids are `[a-z0-9._-]`; anything else becomes `_`).
pub fn trace_file_name(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.txt", s.trim_start_matches('.'))
}

/// Write one transcript file per case into `dir` (created if missing). Returns the paths.
pub fn write_traces(report: &RunReport, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for c in &report.cases {
        let mut text = String::new();
        let _ = writeln!(text, "case: {}", c.id);
        let _ = writeln!(text, "title: {}", c.title);
        let _ = writeln!(
            text,
            "section: {}  level: {}  clauses: {}",
            c.section,
            c.level,
            c.clauses.join(", ")
        );
        let _ = writeln!(text, "verdict: {}  ({} ms)", c.verdict, c.duration_ms);
        if let Some(r) = &c.reason {
            let _ = writeln!(text, "reason: {r}");
        }
        if let Some(x) = &c.contradiction {
            let _ = writeln!(text, "contradiction: {x}");
        }
        let _ = writeln!(text, "expected: {}\n", c.expectation);
        text.push_str(&render_exchanges(&c.transcript, usize::MAX, ""));
        let p = dir.join(trace_file_name(&c.id));
        std::fs::write(&p, text)?;
        paths.push(p);
    }
    Ok(paths)
}
