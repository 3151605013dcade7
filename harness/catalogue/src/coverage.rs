//! Which testable catalogue clauses have suite cases and which do not.
//!
//! Reports feed in the clause ids that cases cite; the result groups the testable
//! requirements by spec section and level so the gaps that matter (uncovered MUSTs)
//! stand out, and separates out citations that point nowhere (typos in a case's
//! `clauses`) or at clauses the catalogue calls untestable.

use std::collections::{BTreeSet, HashSet};

use crate::Catalogue;
use crate::model::Level;

/// Covered and uncovered testable requirements of one (section, level) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageGroup {
    /// Spec file stem.
    pub section: String,
    pub level: Level,
    /// Requirement ids with at least one case, catalogue order.
    pub covered: Vec<String>,
    /// Requirement ids without a case, catalogue order.
    pub uncovered: Vec<String>,
}

impl CoverageGroup {
    pub fn total(&self) -> usize {
        self.covered.len() + self.uncovered.len()
    }
}

/// Result of [`Catalogue::coverage`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Sections in catalogue order; within a section, levels strongest first.
    /// Only groups that contain testable requirements appear.
    pub groups: Vec<CoverageGroup>,
    /// Cited ids that are neither requirements nor contradictions (sorted, unique):
    /// almost always a typo in a case's clause list.
    pub unknown: Vec<String>,
    /// Cited requirement ids that the catalogue marks untestable (sorted, unique):
    /// not an error (e.g. C-mode cases), but not counted as coverage either.
    pub untestable: Vec<String>,
    /// Cited contradiction ids (sorted, unique).
    pub contradictions: Vec<String>,
}

impl Coverage {
    pub fn covered_count(&self) -> usize {
        self.groups.iter().map(|g| g.covered.len()).sum()
    }

    pub fn uncovered_count(&self) -> usize {
        self.groups.iter().map(|g| g.uncovered.len()).sum()
    }

    /// Number of testable requirements.
    pub fn total(&self) -> usize {
        self.covered_count() + self.uncovered_count()
    }

    /// Covered share in percent (0.0 when nothing is testable).
    pub fn percent(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            0.0
        } else {
            self.covered_count() as f64 * 100.0 / total as f64
        }
    }

    /// `(covered, total)` over MUST and MUST NOT requirements only.
    pub fn required(&self) -> (usize, usize) {
        self.groups
            .iter()
            .filter(|g| g.level.is_required())
            .fold((0, 0), |(c, t), g| (c + g.covered.len(), t + g.total()))
    }

    /// Uncovered MUST / MUST NOT requirement ids: the gaps to close first.
    pub fn uncovered_required(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .filter(|g| g.level.is_required())
            .flat_map(|g| g.uncovered.iter().map(String::as_str))
    }

    /// Whether `id` is a testable requirement that has a case.
    pub fn is_covered(&self, id: &str) -> bool {
        self.groups
            .iter()
            .any(|g| g.covered.iter().any(|c| c == id))
    }
}

pub(crate) fn compute<'a>(cat: &Catalogue, cited: impl IntoIterator<Item = &'a str>) -> Coverage {
    let mut covered_ids = HashSet::new();
    let mut unknown = BTreeSet::new();
    let mut untestable = BTreeSet::new();
    let mut contradictions = BTreeSet::new();
    for raw in cited {
        let id = raw.trim();
        if let Some(r) = cat.requirement(id) {
            if r.is_testable() {
                covered_ids.insert(r.id.as_str());
            } else {
                untestable.insert(r.id.clone());
            }
        } else if let Some(c) = cat.contradiction(id) {
            contradictions.insert(c.id.clone());
        } else {
            unknown.insert(id.to_string());
        }
    }

    let mut sections: Vec<&str> = Vec::new();
    for r in cat.requirements() {
        if !sections.contains(&r.section.as_str()) {
            sections.push(&r.section);
        }
    }
    let mut groups = Vec::new();
    for section in sections {
        for level in Level::ALL {
            let mut group = CoverageGroup {
                section: section.to_string(),
                level,
                covered: Vec::new(),
                uncovered: Vec::new(),
            };
            for r in cat
                .testable()
                .filter(|r| r.section == section && r.level == level)
            {
                if covered_ids.contains(r.id.as_str()) {
                    group.covered.push(r.id.clone());
                } else {
                    group.uncovered.push(r.id.clone());
                }
            }
            if group.total() > 0 {
                groups.push(group);
            }
        }
    }
    Coverage {
        groups,
        unknown: unknown.into_iter().collect(),
        untestable: untestable.into_iter().collect(),
        contradictions: contradictions.into_iter().collect(),
    }
}
