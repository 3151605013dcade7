//! Excerpts of a report for the documents a person reads (Markdown, HTML): capped one-line
//! texts and transcripts with the control characters a target could send taken out, and the
//! cases grouped by section. Escaping for a format is the format's own job.

use crate::report::{Bucket, CaseReport, RunReport, Verdict};
use amp_client::{Exchange, render_exchanges};
use std::collections::BTreeMap;

/// `s` on one line: whitespace runs become one space, other control characters (ANSI escapes,
/// NUL) become U+FFFD, and the text is cut after `max_chars` characters with `…`.
pub fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut space = false;
    for ch in s.chars() {
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if chars >= max_chars {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        out.push(if ch.is_control() { '\u{fffd}' } else { ch });
        chars += 1;
    }
    out
}

/// `s` with every control character but newline and tab replaced by U+FFFD: a target's ANSI
/// escapes cannot recolour or rewrite a terminal, and a page shows no invisible bytes.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// A transcript as text (bodies cut at `max_body` bytes), control characters other than
/// newlines and tabs replaced by U+FFFD, and the whole cut at about `max_total` bytes (on a
/// line boundary when there is one). The flag says whether anything was cut off at the end.
pub fn transcript(exchanges: &[Exchange], max_body: usize, max_total: usize) -> (String, bool) {
    let text = printable(&render_exchanges(exchanges, max_body, ""));
    if text.len() <= max_total {
        return (text, false);
    }
    let mut end = max_total;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |n| n + 1);
    (text[..end].to_string(), true)
}

/// The cases grouped by section name (the `Display` form of `section`), sections in name order,
/// cases in report (id) order.
pub fn by_section(report: &RunReport) -> BTreeMap<String, Vec<&CaseReport>> {
    let mut m: BTreeMap<String, Vec<&CaseReport>> = BTreeMap::new();
    for c in &report.cases {
        m.entry(c.section.to_string()).or_default().push(c);
    }
    m
}

/// Whether a case is listed with the failures: it fails the run (fail, error, xpass; warn under
/// `strict`), blocked cases apart.
pub fn is_failure(v: Verdict, strict: bool) -> bool {
    v.bucket(strict) == Bucket::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_caps_and_removes_controls() {
        assert_eq!(one_line("  a\n\tb  c \x1b[31m", 100), "a b c \u{fffd}[31m");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("ab cd", 4), "ab c…");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn transcript_is_cut_on_a_line() {
        let notes: Vec<Exchange> = (0..50)
            .map(|i| Exchange::Note {
                at_ms: i,
                text: format!("note {i} \u{7}"),
            })
            .collect();
        let (full, cut) = transcript(&notes, 100, usize::MAX);
        assert!(!cut && full.contains('\u{fffd}') && !full.contains('\u{7}'));
        let (short, cut) = transcript(&notes, 100, 200);
        assert!(
            cut && short.len() <= 200 && short.ends_with('\n'),
            "{short}"
        );
    }
}
