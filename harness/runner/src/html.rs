//! The HTML report (`--report-html`): one self-contained page (inline CSS, no script, no
//! network: its Content-Security-Policy forbids both) with the summary, the changes since a
//! previous run, the root causes, filters by verdict and section (CSS `:has`; a browser without
//! it shows every case), and every case with its clauses, the non-pass ones with their
//! transcript in a collapsible block. Built with `maud`, which escapes every spliced value, so
//! text from the target can only ever be text.

use crate::compare::{Changes, counts_against};
use crate::excerpt::{by_section, printable, transcript};
use crate::output::closing_line;
use crate::report::{CaseReport, RootCause, RootCauseKind, RunReport, Verdict, exit_code};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::fmt::Write as _;

/// Bytes of one body in a transcript block (the transcript itself keeps at most 16 KiB).
pub const TRANSCRIPT_BODY_BYTES: usize = 16 * 1024;
/// Bytes of one case's transcript block.
pub const TRANSCRIPT_BYTES: usize = 64 * 1024;

/// No script, no fetch, no frame, no form target: only the inline style.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'";

const CSS: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #d0d7de}
code,pre{font-family:ui-monospace,monospace;font-size:12px}
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;max-width:100%}td{overflow-wrap:anywhere}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
.result{font-weight:bold}.result.passed{color:#1a7f37}.result.failed{color:#cf222e}
.badge{display:inline-block;min-width:4.2rem;text-align:center;border-radius:.8rem;padding:0 .4rem;font-size:12px;color:#fff;background:#57606a}
.badge.v-pass,.badge.v-xfail{background:#1a7f37}.badge.v-fail,.badge.v-error,.badge.v-xpass{background:#cf222e}
.badge.v-warn{background:#9a6700}.badge.v-blocked{background:#8250df}.badge.v-skip,.badge.v-info{background:#6e7781}
.case,.cause{border-left:3px solid #d0d7de;margin:.4rem 0;padding:.1rem .6rem}.problem,.cause{border-left-color:#cf222e}
.case p,.cause p{margin:.2rem 0;white-space:pre-wrap}.muted{color:#57606a}
.filters fieldset{display:inline-block;border:1px solid #d0d7de;margin:0 .5rem .5rem 0}
.filters label{margin-right:.6rem}
";

/// The HTML report. `strict` is the run's `--strict` (warnings fail it).
pub fn to_html(report: &RunReport, strict: bool) -> String {
    let sections: Vec<(String, Vec<&CaseReport>)> = by_section(report).into_iter().collect();
    let passed = exit_code(report, strict) == 0;
    let t = &report.target;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "amp-conformance: " (t.provider.as_deref().unwrap_or(&t.base_url)) }
                style { (PreEscaped(CSS)) (PreEscaped(filter_css(sections.len()))) }
            }
            body {
                h1 { "amp-conformance report" }
                p.result.passed[passed].failed[!passed] {
                    (if passed { "passed" } else { "failed" }) " — " (closing_line(report, strict))
                }
                table.meta {
                    tr { th { "target" } td { code { (t.base_url) } } }
                    tr { th { "provider" } td { (t.provider.as_deref().unwrap_or("unknown")) " " (t.version.as_deref().unwrap_or("?")) } }
                    tr { th { "profile" } td { (report.profile) } }
                    tr { th { "run" } td { code { (report.run.id) } " seed " (report.run.seed) ", started " (report.run.started_at) ", " (report.run.duration_ms) " ms" } }
                    tr { th { "tool" } td { (report.tool.name) " " (report.tool.version) @if strict { " (--strict)" } } }
                }
                (summary(report))
                @if let Some(changes) = &report.changes { (changes_part(changes)) }
                @if !report.root_causes.is_empty() {
                    h2 id="root-causes" { "Root causes (" (report.root_causes.len()) ")" }
                    @for rc in &report.root_causes { (root_cause(rc)) }
                }
                h2 id="cases" { "Cases (" (report.cases.len()) ")" }
                (filters(report, &sections))
                @for (i, (section, cases)) in sections.iter().enumerate() {
                    div class={ "sec s" (i) } {
                        h2 { (section) }
                        @for c in cases { (case(c)) }
                    }
                }
                (notes(report))
                p.muted {
                    "The JSON report (--report-json) has every field of this run; --trace DIR writes every transcript in full."
                }
            }
        }
    };
    // Control characters a target sent (ANSI escapes, NUL) are not text a page can show; the
    // page's own markup has none but newlines.
    printable(&page.into_string())
}

/// Filter rules: a checked verdict radio hides the cases of other verdicts (and the sections it
/// leaves empty), a checked section radio hides the other sections. Classes and ids are the
/// verdict names and section indexes, never text from the report.
fn filter_css(sections: usize) -> String {
    let mut css = String::new();
    let hide_unless = |css: &mut String, radio: &str, class: &str| {
        let _ = writeln!(
            css,
            "body:has(#{radio}:checked) :is(.case:not(.{class}),.sec:not(:has(.{class}))){{display:none}}"
        );
    };
    hide_unless(&mut css, "fv-problems", "problem");
    for v in Verdict::ALL {
        hide_unless(&mut css, &format!("fv-{v}"), &format!("v-{v}"));
    }
    for i in 0..sections {
        let _ = writeln!(
            css,
            "body:has(#fs-{i}:checked) .sec:not(.s{i}){{display:none}}"
        );
    }
    css
}

fn summary(report: &RunReport) -> Markup {
    let s = &report.summary;
    let c = &report.coverage;
    html! {
        h2 id="summary" { "Summary" }
        table {
            tr { @for v in Verdict::ALL { @if s.count(v) > 0 { th { span class={ "badge v-" (v) } { (v) } } } } th { "total" } }
            tr { @for v in Verdict::ALL { @if s.count(v) > 0 { td { (s.count(v)) } } } td { (s.total) } }
        }
        p {
            "Clause coverage: " (c.covered.len()) "/" (c.testable) " testable clauses, "
            (c.required_covered) "/" (c.required_total) " MUST."
        }
    }
}

fn changes_part(ch: &Changes) -> Markup {
    let p = &ch.previous;
    html! {
        h2 id="changes" { "Changes since run " code { (p.run_id) } }
        p.muted { "Previous report " code { (p.source) } ", started " (p.started_at) ", target " code { (p.base_url) } ", amp-conformance " (p.tool_version) "." }
        p { (ch.counts_line()) "." }
        @for (name, list) in ch.parts() {
            @if !list.is_empty() {
                h3 { (name) " (" (list.len()) ")" }
                table {
                    tr { th { "case" } th { "verdict" } th { "section" } th { "clauses" } th { "reason" } }
                    @for c in list {
                        tr {
                            td { code { (c.id) } }
                            td { (c.transition()) }
                            td { (c.section) }
                            td { (c.clauses.join(", ")) }
                            td { (c.reason.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

fn root_cause(rc: &RootCause) -> Markup {
    let what = match rc.kind {
        RootCauseKind::Probe => "blocked",
        RootCauseKind::Finding => "explains",
    };
    html! {
        div.cause {
            p { code { (rc.clause) } " " strong { (rc.key) } " — " (what) " " (rc.cases.len()) " case" @if rc.cases.len() != 1 { "s" } }
            p { (rc.summary) }
            p.muted { "cases: " @for (i, id) in rc.cases.iter().enumerate() { @if i > 0 { ", " } a href={ "#case-" (id) } { (id) } } }
            @if !rc.transcript.is_empty() { (transcript_block(&rc.transcript)) }
        }
    }
}

fn filters(report: &RunReport, sections: &[(String, Vec<&CaseReport>)]) -> Markup {
    let s = &report.summary;
    html! {
        form.filters {
            fieldset {
                legend { "verdict" }
                input type="radio" name="verdict" id="fv-all" checked; label for="fv-all" { "all" }
                input type="radio" name="verdict" id="fv-problems"; label for="fv-problems" { "fail, error, xpass, warn, blocked" }
                @for v in Verdict::ALL {
                    @if s.count(v) > 0 {
                        input type="radio" name="verdict" id={ "fv-" (v) }; label for={ "fv-" (v) } { (v) " (" (s.count(v)) ")" }
                    }
                }
            }
            fieldset {
                legend { "section" }
                input type="radio" name="section" id="fs-all" checked; label for="fs-all" { "all" }
                @for (i, (section, cases)) in sections.iter().enumerate() {
                    input type="radio" name="section" id={ "fs-" (i) }; label for={ "fs-" (i) } { (section) " (" (cases.len()) ")" }
                }
            }
        }
    }
}

fn case(c: &CaseReport) -> Markup {
    // What the "fail, error, xpass, warn, blocked" filter keeps, `--strict` or not.
    let problem = counts_against(c.verdict);
    html! {
        div class={ "case v-" (c.verdict) @if problem { " problem" } } id={ "case-" (c.id) } {
            p {
                span class={ "badge v-" (c.verdict) } { (c.verdict) } " " code { (c.id) } " " (c.title)
            }
            p.muted {
                "clauses " (c.clauses.join(", ")) " · " (c.level)
                @if let Some(x) = &c.contradiction { " · contradiction " (x) }
                @if let Some(p) = c.blocked_by { " · blocked by probe " (p) }
            }
            @if let Some(r) = &c.reason { p { (r) } }
            @if c.verdict != Verdict::Pass {
                p.muted { "expected: " (c.expectation) }
                @if !c.transcript.is_empty() { (transcript_block(&c.transcript)) }
            }
        }
    }
}

fn transcript_block(exchanges: &[amp_client::Exchange]) -> Markup {
    let (text, cut) = transcript(exchanges, TRANSCRIPT_BODY_BYTES, TRANSCRIPT_BYTES);
    html! {
        details {
            summary { "transcript (" (exchanges.len()) " exchanges" @if cut { ", cut: the JSON report has the rest" } ")" }
            pre { (text) }
        }
    }
}

fn notes(report: &RunReport) -> Markup {
    html! {
        @if !report.warnings.is_empty() {
            h2 id="warnings" { "Warnings (" (report.warnings.len()) ")" }
            ul { @for w in &report.warnings { li { code { (w.kind) } " " (w.message) } } }
        }
        @if !report.leftovers.is_empty() {
            h2 id="leftovers" { "Leftover agents (" (report.leftovers.len()) ")" }
            ul { @for l in &report.leftovers { li { code { (l.address) } " (from " (l.case) "): " (l.reason) } } }
        }
    }
}
