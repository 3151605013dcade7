//! The Markdown report (`--report-md`): a page for a pull-request comment or a CI job summary
//! (`$GITHUB_STEP_SUMMARY`), in GitHub-flavoured Markdown. The target controls reasons, bodies
//! and its provider name, so every such text is escaped: it cannot end a table cell, open a
//! link, an HTML tag, a code span or math, or mention a GitHub user. Transcripts are capped;
//! the JSON report has them in full.

use crate::compare::{CaseChange, Changes};
use crate::excerpt::{by_section, is_failure, one_line, transcript};
use crate::output::closing_line;
use crate::report::{CaseReport, RootCauseKind, RunReport, Verdict, exit_code};
use std::fmt::Write as _;

/// Characters of a reason or summary kept in a table cell or list item.
pub const CELL_CHARS: usize = 300;
/// Bytes of one body in a transcript excerpt.
pub const TRANSCRIPT_BODY_BYTES: usize = 512;
/// Bytes of one case's transcript excerpt.
pub const TRANSCRIPT_BYTES: usize = 2048;
/// Failing cases shown with a transcript excerpt (the first ones, by section and id).
pub const TRANSCRIPT_CASES: usize = 20;
/// Rows of the changes table.
pub const CHANGE_ROWS: usize = 100;

/// Text the target may control, escaped for a table cell or a list item: one line, at most
/// `max_chars` characters, every character Markdown or HTML could read as markup backslashed,
/// and `@` broken with a zero-width space so that a name is never a mention.
pub fn text(s: &str, max_chars: usize) -> String {
    let line = one_line(s, max_chars);
    let mut out = String::with_capacity(line.len() + 8);
    for ch in line.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '@' => out.push_str("@&#8203;"),
            _ => out.push(ch),
        }
    }
    out
}

/// An identifier (case id, clause id, key) as a code span when it is made of plain
/// characters, escaped text otherwise (ids of user vector files come from a file).
pub fn code(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '>'));
    if plain {
        format!("`{s}`")
    } else {
        text(s, CELL_CHARS)
    }
}

/// A fenced code block that `body` cannot close: the fence is longer than any backtick run in it.
fn fenced(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!(
        "{fence}text\n{body}{}{fence}\n",
        if body.ends_with('\n') { "" } else { "\n" }
    )
}

/// The Markdown report. `strict` is the run's `--strict` (warnings fail it). It stays within
/// [`BUDGET`] bytes: each part, most important first, is shown whole if it fits, else in a
/// shorter form (fewer rows, no transcripts), else left out, and a last line names what was
/// left out (the JSON and HTML reports have everything).
pub fn to_markdown(report: &RunReport, strict: bool) -> String {
    let mut doc = Budgeted::default();
    let mut head = String::new();
    headline(&mut head, report, strict);
    doc.add("the headline", [head]);
    if let Some(changes) = &report.changes {
        doc.add(
            "the changes",
            SHORTER_ROWS.map(|rows| part(|out| changes_part(out, changes, rows))),
        );
    }
    doc.add("the root causes", [part(|out| root_causes(out, report))]);
    let failures = listed(report, |v| is_failure(v, strict));
    let warnings = listed(report, |v| v == Verdict::Warn && !strict);
    let blocked = listed(report, |v| v == Verdict::Blocked);
    let with_transcripts = part(|out| grouped(out, "Failures", &failures, true, usize::MAX));
    let shorter =
        SHORTER_ROWS.map(|rows| part(|out| grouped(out, "Failures", &failures, false, rows)));
    let later: Vec<(&str, [String; 4])> = [
        ("the warnings", "Warnings", &warnings),
        ("the blocked cases", "Blocked", &blocked),
    ]
    .into_iter()
    .map(|(what, title, list)| {
        let forms = SHORTER_ROWS.map(|rows| part(|out| grouped(out, title, list, false, rows)));
        (what, forms)
    })
    .collect();
    let notes = part(|out| notes(out, report));
    // Transcripts only if the whole warning and blocked tables and the notes still fit after.
    let reserve = later.iter().map(|(_, forms)| forms[0].len()).sum::<usize>() + notes.len();
    doc.add_leaving(
        "the failures",
        std::iter::once(with_transcripts).chain(shorter),
        reserve,
    );
    for (what, forms) in later {
        doc.add(what, forms);
    }
    doc.add("the run notes", [notes]);
    doc.add(
        "the table of all cases",
        [part(|out| all_cases(out, report))],
    );
    doc.finish()
}

/// Bytes the Markdown report keeps under: GitHub refuses a comment of more than 65,536
/// characters (a job summary may have 1 MiB).
pub const BUDGET: usize = 60_000;

/// Row limits tried in turn for a table that does not fit.
const SHORTER_ROWS: [usize; 4] = [usize::MAX, 50, 20, 5];

fn part(render: impl FnOnce(&mut String)) -> String {
    let mut s = String::new();
    render(&mut s);
    s
}

/// The document under construction, and what did not fit.
#[derive(Default)]
struct Budgeted {
    out: String,
    left_out: Vec<String>,
}

impl Budgeted {
    /// Append the first of `forms` (longest first) that fits.
    fn add(&mut self, what: &str, forms: impl IntoIterator<Item = String>) {
        self.add_leaving(what, forms, 0);
    }

    /// Append the first of `forms` (longest first) that leaves `reserve` bytes for the parts
    /// after it, or else the first that fits at all.
    fn add_leaving(&mut self, what: &str, forms: impl IntoIterator<Item = String>, reserve: usize) {
        let forms: Vec<String> = forms.into_iter().collect();
        if forms.first().is_none_or(String::is_empty) {
            return;
        }
        let room = BUDGET - self.out.len().min(BUDGET);
        let chosen = forms
            .iter()
            .find(|f| f.len() + reserve <= room)
            .or_else(|| forms.iter().find(|f| f.len() <= room));
        match chosen {
            Some(f) => self.out.push_str(f),
            None => self.left_out.push(what.to_string()),
        }
    }

    fn finish(mut self) -> String {
        if !self.left_out.is_empty() {
            let _ = writeln!(
                self.out,
                "\n_Left out to stay under {BUDGET} bytes: {}. The JSON and HTML reports \
                 (`--report-json`, `--report-html`) have everything._",
                self.left_out.join(", ")
            );
        }
        self.out
    }
}

fn headline(out: &mut String, report: &RunReport, strict: bool) {
    let verdict = if exit_code(report, strict) == 0 {
        "✅ passed"
    } else {
        "❌ failed"
    };
    let t = &report.target;
    let _ = writeln!(out, "## amp-conformance: {verdict}\n");
    let _ = writeln!(
        out,
        "Target {} ({} {}), profile {}, run {}, amp-conformance {}{}.\n",
        text(&t.base_url, CELL_CHARS),
        text(t.provider.as_deref().unwrap_or("unknown provider"), 80),
        text(t.version.as_deref().unwrap_or("?"), 40),
        code(&report.profile),
        code(&report.run.id),
        text(&report.tool.version, 40),
        if strict { ", `--strict`" } else { "" }
    );
    let _ = writeln!(out, "**{}**\n", closing_line(report, strict));
    let s = &report.summary;
    let present: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| s.count(*v) > 0)
        .collect();
    if !present.is_empty() {
        let head: Vec<&str> = present.iter().map(|v| v.as_str()).collect();
        let counts: Vec<String> = present.iter().map(|v| s.count(*v).to_string()).collect();
        let _ = writeln!(out, "| {} | total |", head.join(" | "));
        let _ = writeln!(out, "|{}---|", "---|".repeat(present.len()));
        let _ = writeln!(out, "| {} | {} |\n", counts.join(" | "), s.total);
    }
    let c = &report.coverage;
    let _ = writeln!(
        out,
        "Clause coverage: {}/{} testable clauses, {}/{} MUST.\n",
        c.covered.len(),
        c.testable,
        c.required_covered,
        c.required_total
    );
}

fn changes_part(out: &mut String, ch: &Changes, max_rows: usize) {
    let p = &ch.previous;
    let _ = writeln!(
        out,
        "### Changes since run {} ({}, {})\n",
        code(&p.run_id),
        text(&p.source, 120),
        text(&p.started_at, 40)
    );
    let _ = writeln!(out, "{}.\n", ch.counts_line());
    let rows: Vec<(&str, &CaseChange)> = ch
        .parts()
        .into_iter()
        .flat_map(|(name, list)| list.iter().map(move |c| (name, c)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| change | case | verdict | section | clauses | reason |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let max_rows = max_rows.min(CHANGE_ROWS);
    for (name, c) in rows.iter().take(max_rows) {
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} |",
            code(&c.id),
            text(&c.transition(), 40),
            text(&c.section, 60),
            clauses(&c.clauses),
            text(c.reason.as_deref().unwrap_or(""), CELL_CHARS)
        );
    }
    if rows.len() > max_rows {
        let _ = writeln!(
            out,
            "\n… and {} more (the JSON report lists every change under `changes`).",
            rows.len() - max_rows
        );
    }
    out.push('\n');
}

fn root_causes(out: &mut String, report: &RunReport) {
    if report.root_causes.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Root causes ({})\n", report.root_causes.len());
    for rc in &report.root_causes {
        let what = match rc.kind {
            RootCauseKind::Probe => "blocked",
            RootCauseKind::Finding => "explains",
        };
        let cases: Vec<String> = rc.cases.iter().map(|c| code(c)).collect();
        let _ = writeln!(
            out,
            "- **{}** {} — {what} {} case{}: {}  \n  cases: {}",
            code(&rc.clause),
            code(&rc.key),
            rc.cases.len(),
            if rc.cases.len() == 1 { "" } else { "s" },
            text(&rc.summary, CELL_CHARS * 2),
            cases.join(", ")
        );
    }
    out.push('\n');
}

fn listed(report: &RunReport, keep: impl Fn(Verdict) -> bool) -> Vec<(String, Vec<&CaseReport>)> {
    by_section(report)
        .into_iter()
        .map(|(s, cases)| (s, cases.into_iter().filter(|c| keep(c.verdict)).collect()))
        .filter(|(_, cases): &(String, Vec<&CaseReport>)| !cases.is_empty())
        .collect()
}

fn clauses(list: &[String]) -> String {
    list.iter().map(|c| code(c)).collect::<Vec<_>>().join(", ")
}

/// One table per section: case, clauses, level, verdict, reason (at most `max_rows` rows in
/// all); with `transcripts`, a capped transcript excerpt under the table for the first
/// [`TRANSCRIPT_CASES`] cases.
fn grouped(
    out: &mut String,
    title: &str,
    sections: &[(String, Vec<&CaseReport>)],
    transcripts: bool,
    max_rows: usize,
) {
    let n: usize = sections.iter().map(|(_, c)| c.len()).sum();
    if n == 0 {
        return;
    }
    let _ = writeln!(out, "### {title} ({n})\n");
    let mut shown = 0;
    let mut rows = 0;
    for (section, cases) in sections {
        let cases = &cases[..cases.len().min(max_rows - rows)];
        if cases.is_empty() {
            break;
        }
        rows += cases.len();
        let _ = writeln!(out, "#### {}\n", text(section, 80));
        let _ = writeln!(out, "| case | clauses | level | verdict | reason |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for c in cases {
            let mut reason = text(c.reason.as_deref().unwrap_or(""), CELL_CHARS);
            if let Some(x) = &c.contradiction {
                let _ = write!(reason, " (contradiction {})", code(x));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code(&c.id),
                clauses(&c.clauses),
                c.level,
                c.verdict,
                reason
            );
        }
        out.push('\n');
        if !transcripts {
            continue;
        }
        for c in cases.iter().filter(|c| !c.transcript.is_empty()) {
            if shown == TRANSCRIPT_CASES {
                break;
            }
            shown += 1;
            let (excerpt, cut) = transcript(&c.transcript, TRANSCRIPT_BODY_BYTES, TRANSCRIPT_BYTES);
            let _ = writeln!(
                out,
                "<details><summary>transcript of {} ({} exchanges{})</summary>\n",
                html_escape_id(&c.id),
                c.transcript.len(),
                if cut { ", cut" } else { "" }
            );
            out.push_str(&fenced(&excerpt));
            out.push_str("\n</details>\n\n");
        }
    }
    if rows < n {
        let _ = writeln!(
            out,
            "… and {} more (the JSON and HTML reports list every case).\n",
            n - rows
        );
    }
    if shown > 0 {
        let _ = writeln!(
            out,
            "Transcripts are cut here (at most {TRANSCRIPT_CASES} cases, {TRANSCRIPT_BYTES} bytes \
             each); the JSON report (`--report-json`, `cases[].transcript`) and `--trace DIR` \
             have them in full.\n"
        );
    }
}

/// A case id inside the HTML `<summary>` of a `<details>` block (Markdown is not read there).
fn html_escape_id(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '@' => "&#64;&#8203;".to_string(),
            c if c.is_control() => "\u{fffd}".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Run warnings that are not already a case's warn verdict, and leftover agents.
fn notes(out: &mut String, report: &RunReport) {
    let warnings: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.kind != "contradiction")
        .collect();
    if warnings.is_empty() && report.leftovers.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Notes\n");
    for w in warnings {
        let _ = writeln!(
            out,
            "- {}: {}",
            code(&w.kind),
            text(&w.message, CELL_CHARS * 2)
        );
    }
    for l in &report.leftovers {
        let _ = writeln!(
            out,
            "- leftover agent {} (from {}): {}",
            text(&l.address, 120),
            code(&l.case),
            text(&l.reason, CELL_CHARS)
        );
    }
    out.push('\n');
}

fn all_cases(out: &mut String, report: &RunReport) {
    if report.cases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>All {} cases</summary>\n",
        report.cases.len()
    );
    let _ = writeln!(out, "| case | section | clauses | level | verdict |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (section, cases) in by_section(report) {
        for c in cases {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code(&c.id),
                text(&section, 80),
                clauses(&c.clauses),
                c.level,
                c.verdict
            );
        }
    }
    out.push_str("\n</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_escape_a_cell() {
        let t = text(
            "a|b `c` <script>x</script>\n| new row @octocat $x$ [l](u) &lt;",
            300,
        );
        assert!(!t.contains('\n'));
        // Every `|`, backtick, `<` and `[` is backslashed.
        for (i, ch) in t.char_indices() {
            if matches!(ch, '|' | '`' | '<' | '[' | '$') {
                assert_eq!(&t[i - 1..i], "\\", "{t}");
            }
        }
        assert!(t.contains("@&#8203;octocat") && t.contains("\\&lt;"), "{t}");
    }

    #[test]
    fn a_part_that_does_not_fit_is_shortened_or_named() {
        let mut doc = Budgeted::default();
        doc.add("the head", ["head\n".to_string()]);
        doc.add("empty", [String::new(), "x".repeat(BUDGET)]);
        doc.add("the big part", ["x".repeat(BUDGET), "short\n".to_string()]);
        // Leaves room for what follows when it can: the shorter form here.
        doc.add_leaving(
            "spared",
            ["long\n".repeat(10), "brief\n".to_string()],
            BUDGET - 40,
        );
        doc.add("the huge part", ["Z".repeat(BUDGET)]);
        let out = doc.finish();
        assert!(out.starts_with("head\nshort\nbrief\n"), "{out}");
        assert!(
            out.contains("Left out to stay under 60000 bytes: the huge part."),
            "{out}"
        );
        assert!(!out.contains("empty") && !out.contains('Z'), "{out}");
    }

    #[test]
    fn ids_are_code_only_when_plain() {
        assert_eq!(code("sig.ts-window"), "`sig.ts-window`");
        assert_eq!(code("a`b"), "a\\`b");
    }

    #[test]
    fn a_fence_outlasts_backticks_in_the_body() {
        let f = fenced("x ```` y\n");
        assert!(
            f.starts_with("`````text\n") && f.ends_with("\n`````\n"),
            "{f}"
        );
        assert_eq!(fenced("plain"), "```text\nplain\n```\n");
    }
}
