//! Plain-text clause tables for `amp-conformance clauses`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::Catalogue;
use crate::model::{Flag, Level, Requirement, Testability};

/// Selection for [`Catalogue::render_table`] / [`Catalogue::filter`].
///
/// Each list is an OR within itself and the lists combine with AND; an empty list
/// means "no restriction". The CLI maps `--level must --testability blackbox
/// --section 04-messages --contradictions` onto it one to one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClauseFilter {
    /// Exact levels (`must` does not include `must-not`; pass both for "required").
    pub levels: Vec<Level>,
    pub testabilities: Vec<Testability>,
    /// Spec file stems; `04` matches `04-messages`, `06a` matches `06a-local-networks`
    /// (case-insensitive, number part or full stem).
    pub sections: Vec<String>,
    /// Only rows carrying all of these flags.
    pub flags: Vec<Flag>,
    /// Append the contradictions table.
    pub contradictions: bool,
    /// Truncate summaries so each line fits this many characters (None = full text).
    pub width: Option<usize>,
}

impl ClauseFilter {
    /// True when no requirement restriction is set (every row is shown).
    pub fn selects_all(&self) -> bool {
        self.levels.is_empty()
            && self.testabilities.is_empty()
            && self.sections.is_empty()
            && self.flags.is_empty()
    }

    pub fn matches(&self, r: &Requirement) -> bool {
        (self.levels.is_empty() || self.levels.contains(&r.level))
            && (self.testabilities.is_empty() || self.testabilities.contains(&r.testability))
            && (self.sections.is_empty()
                || self.sections.iter().any(|s| section_matches(s, &r.section)))
            && self.flags.iter().all(|f| r.has_flag(*f))
    }
}

fn section_matches(wanted: &str, stem: &str) -> bool {
    let wanted = wanted.trim();
    if wanted.is_empty() {
        return false;
    }
    stem.eq_ignore_ascii_case(wanted)
        || stem
            .split('-')
            .next()
            .is_some_and(|num| num.eq_ignore_ascii_case(wanted))
}

/// Cut `s` to at most `max` characters, marking the cut with `…`.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub(crate) fn render(cat: &Catalogue, filter: &ClauseFilter) -> String {
    let rows: Vec<&Requirement> = cat.filter(filter).collect();
    let mut out = String::new();

    if rows.is_empty() {
        out.push_str("no requirements match the filter\n");
    } else {
        let id_w = rows.iter().map(|r| r.id.len()).max().unwrap_or(2).max(2);
        let lvl_w = rows
            .iter()
            .map(|r| r.level_label().len())
            .max()
            .unwrap_or(5)
            .max(5);
        let tst_w = rows
            .iter()
            .map(|r| r.testability.name().len())
            .max()
            .unwrap_or(11)
            .max(11);
        let prefix = id_w + lvl_w + tst_w + 6;
        let _ = writeln!(
            out,
            "{:<id_w$}  {:<lvl_w$}  {:<tst_w$}  SUMMARY",
            "ID", "LEVEL", "TESTABILITY"
        );
        for r in &rows {
            let summary = match filter.width {
                Some(w) => truncate(&r.summary, w.saturating_sub(prefix).max(10)),
                None => r.summary.clone(),
            };
            let _ = writeln!(
                out,
                "{:<id_w$}  {:<lvl_w$}  {:<tst_w$}  {}",
                r.id,
                r.level_label(),
                r.testability.name(),
                summary
            );
        }
        let required = rows.iter().filter(|r| r.level.is_required()).count();
        let testable = rows.iter().filter(|r| r.is_testable()).count();
        let _ = writeln!(
            out,
            "{} requirement(s): {} MUST/MUST NOT, {} testable ({}* = implicit, no RFC 2119 keyword in the spec)",
            rows.len(),
            required,
            testable,
            Level::Must
        );
    }

    if filter.contradictions {
        // With a narrowing filter, show only the records that touch the shown rows.
        let shown: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let cited: BTreeSet<&str> = rows
            .iter()
            .flat_map(|r| r.contradictions.iter().map(String::as_str))
            .collect();
        let records: Vec<_> = cat
            .contradictions()
            .iter()
            .filter(|c| {
                filter.selects_all()
                    || cited.contains(c.id.as_str())
                    || c.clauses.iter().any(|cl| shown.contains(cl.as_str()))
            })
            .collect();
        out.push('\n');
        if records.is_empty() {
            out.push_str("no contradiction records touch the selected requirements\n");
        } else {
            let handling = |c: &crate::Contradiction| match &c.profile {
                Some(p) => format!("{} {}", c.handling, p),
                None => c.handling.to_string(),
            };
            let h_w = records
                .iter()
                .map(|c| handling(c).len())
                .max()
                .unwrap_or(8)
                .max(8);
            let _ = writeln!(
                out,
                "{:<4}  {:<h_w$}  {:<24}  TITLE",
                "ID", "HANDLING", "CLAUSES"
            );
            for c in &records {
                let clauses = truncate(&c.clauses.join(","), 24);
                let title = match filter.width {
                    Some(w) => truncate(&c.title, w.saturating_sub(h_w + 34).max(10)),
                    None => c.title.clone(),
                };
                let _ = writeln!(
                    out,
                    "{:<4}  {:<h_w$}  {:<24}  {}",
                    c.id,
                    handling(c),
                    clauses,
                    title
                );
            }
            let _ = writeln!(out, "{} contradiction record(s)", records.len());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_matching() {
        assert!(section_matches("04-messages", "04-messages"));
        assert!(section_matches("04", "04-messages"));
        assert!(section_matches("06A", "06a-local-networks"));
        assert!(!section_matches("06", "06a-local-networks"));
        assert!(!section_matches("0", "04-messages"));
        assert!(!section_matches("", "04-messages"));
        assert!(section_matches("appendix", "appendix-b-provider-checklist"));
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate("héllo ✓ world", 7), "héllo …");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("abc", 0), "");
    }
}
