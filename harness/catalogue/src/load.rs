//! TOML -> validated [`Catalogue`].
//!
//! Deserialisation goes through string-typed "raw" structs first, so that a bad value
//! (an unknown level, a misspelt flag) is reported with the id of the row that holds it
//! instead of a bare serde position. All problems are collected, not just the first, so
//! one regeneration fixes everything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;

use crate::Catalogue;
use crate::model::{Contradiction, Flag, Handling, Level, Meta, Profile, Requirement, Testability};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    meta: RawMeta,
    #[serde(default)]
    requirement: Vec<RawRequirement>,
    #[serde(default)]
    contradiction: Vec<RawContradiction>,
    #[serde(default)]
    profile: Vec<RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    spec_repo: String,
    #[serde(default)]
    spec_revision: BTreeMap<String, String>,
    catalogue_version: String,
    expected_count: Option<usize>,
    expected_contradictions: Option<usize>,
    #[serde(default)]
    test_first: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: String,
    section: String,
    heading: String,
    level: String,
    level_text: Option<String>,
    #[serde(default)]
    implicit: bool,
    #[serde(default)]
    binds: Vec<String>,
    testability: String,
    testability_note: Option<String>,
    capability: Option<String>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    contradictions: Vec<String>,
    summary: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContradiction {
    id: String,
    title: String,
    #[serde(default)]
    clauses: Vec<String>,
    handling: String,
    profile: Option<String>,
    summary: String,
    action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: String,
    flag: String,
    md_flag: Option<String>,
    #[serde(default)]
    values: Vec<String>,
    default: String,
    #[serde(default)]
    contradictions: Vec<String>,
}

/// Why a catalogue was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueError {
    /// Not valid TOML or a field has the wrong type / an unknown name.
    Toml(String),
    /// Well-formed TOML with content problems (all of them, in file order).
    Invalid(Vec<Problem>),
}

impl CatalogueError {
    /// The content problems (empty for a TOML syntax error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            CatalogueError::Toml(_) => &[],
            CatalogueError::Invalid(p) => p,
        }
    }
}

impl fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogueError::Toml(msg) => write!(
                f,
                "requirement catalogue is not valid TOML (fix the file or regenerate it with tools/catalogue/md_to_toml.py): {msg}"
            ),
            CatalogueError::Invalid(problems) => {
                write!(
                    f,
                    "requirement catalogue has {} problem(s):",
                    problems.len()
                )?;
                for p in problems {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CatalogueError {}

/// Which kind of id a malformed id was supposed to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Requirement,
    Contradiction,
}

impl IdKind {
    fn pattern(self) -> &'static str {
        match self {
            IdKind::Requirement => "[A-Z]+-NNN, e.g. SIG-015",
            IdKind::Contradiction => "C-NN, e.g. C-01",
        }
    }
}

/// One content problem; every variant names the offending id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    MalformedId {
        id: String,
        kind: IdKind,
    },
    DuplicateId {
        id: String,
    },
    EmptyField {
        id: String,
        field: &'static str,
    },
    UnknownLevel {
        id: String,
        value: String,
    },
    UnknownTestability {
        id: String,
        value: String,
    },
    UnknownFlag {
        id: String,
        value: String,
    },
    UnknownHandling {
        id: String,
        value: String,
    },
    /// A requirement cites a contradiction record that does not exist.
    DanglingContradiction {
        requirement: String,
        contradiction: String,
    },
    /// A contradiction record lists a clause that is not a requirement.
    DanglingClause {
        contradiction: String,
        clause: String,
    },
    /// `handling = "profile"` without a `profile`.
    ProfileMissing {
        contradiction: String,
    },
    /// A `profile` on a record whose handling is not `profile`.
    ProfileUnexpected {
        contradiction: String,
        handling: Handling,
    },
    UnknownProfile {
        contradiction: String,
        profile: String,
    },
    DuplicateProfile {
        name: String,
    },
    /// A profile's default is not among its values.
    ProfileDefault {
        name: String,
        default: String,
    },
    /// A profile lists a contradiction that does not select it.
    ProfileContradiction {
        name: String,
        contradiction: String,
    },
    /// `meta.test_first` names an id that is not a requirement.
    UnknownTestFirst {
        id: String,
    },
    CountMismatch {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MalformedId { id, kind } => write!(
                f,
                "`{id}` is not a valid {} id: rename it to the form {}",
                match kind {
                    IdKind::Requirement => "requirement",
                    IdKind::Contradiction => "contradiction",
                },
                kind.pattern()
            ),
            Problem::DuplicateId { id } => write!(
                f,
                "`{id}` is defined more than once: ids are stable handles, give the second entry a new id"
            ),
            Problem::EmptyField { id, field } => {
                write!(f, "{id}: `{field}` is empty: fill it in")
            }
            Problem::UnknownLevel { id, value } => write!(
                f,
                "{id}: unknown level `{value}`: use MUST, MUST NOT, SHOULD, SHOULD NOT or MAY (put combined text in level_text)"
            ),
            Problem::UnknownTestability { id, value } => write!(
                f,
                "{id}: unknown testability `{value}`: use vector, blackbox, receiver, federation, bus or untestable (details go in testability_note)"
            ),
            Problem::UnknownFlag { id, value } => write!(
                f,
                "{id}: unknown flag `{value}`: use admin, slow, c-mode, bus-fs, bus-uds or bridging"
            ),
            Problem::UnknownHandling { id, value } => write!(
                f,
                "{id}: unknown handling `{value}`: use profile, warning, fail-only-if, info or skip"
            ),
            Problem::DanglingContradiction {
                requirement,
                contradiction,
            } => write!(
                f,
                "{requirement} cites {contradiction}, which has no [[contradiction]] entry: add the record or remove the reference"
            ),
            Problem::DanglingClause {
                contradiction,
                clause,
            } => write!(
                f,
                "{contradiction} lists clause {clause}, which has no [[requirement]] entry: fix the id or remove it from `clauses`"
            ),
            Problem::ProfileMissing { contradiction } => write!(
                f,
                "{contradiction}: handling is `profile` but no `profile` is named: add profile = \"<name of a [[profile]]>\""
            ),
            Problem::ProfileUnexpected {
                contradiction,
                handling,
            } => write!(
                f,
                "{contradiction}: `profile` is set but handling is `{handling}`: set handling = \"profile\" or drop `profile`"
            ),
            Problem::UnknownProfile {
                contradiction,
                profile,
            } => write!(
                f,
                "{contradiction}: profile `{profile}` has no [[profile]] entry: add it or use an existing profile name"
            ),
            Problem::DuplicateProfile { name } => {
                write!(
                    f,
                    "profile `{name}` is defined more than once: merge the entries"
                )
            }
            Problem::ProfileDefault { name, default } => write!(
                f,
                "profile `{name}`: default `{default}` is not one of its values: pick one of `values` (or \"off\" for a switch)"
            ),
            Problem::ProfileContradiction {
                name,
                contradiction,
            } => write!(
                f,
                "profile `{name}` lists {contradiction}, but that record does not select this profile: fix one of the two"
            ),
            Problem::UnknownTestFirst { id } => write!(
                f,
                "meta.test_first names {id}, which has no [[requirement]] entry: fix the id"
            ),
            Problem::CountMismatch {
                what,
                expected,
                actual,
            } => write!(
                f,
                "meta says {expected} {what} but the file has {actual}: rows were lost or added by hand; regenerate with tools/catalogue/md_to_toml.py"
            ),
        }
    }
}

fn is_requirement_id(id: &str) -> bool {
    match id.split_once('-') {
        Some((prefix, num)) => {
            !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_uppercase())
                && num.len() == 3
                && num.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn is_contradiction_id(id: &str) -> bool {
    match id.strip_prefix("C-") {
        Some(num) => num.len() == 2 && num.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

pub(crate) fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
    let raw: RawCatalogue =
        toml::from_str(text).map_err(|e| CatalogueError::Toml(e.to_string()))?;
    let mut problems = Vec::new();

    // ---- requirements
    let mut requirements = Vec::with_capacity(raw.requirement.len());
    let mut req_index = HashMap::new();
    for r in raw.requirement {
        if !is_requirement_id(&r.id) {
            problems.push(Problem::MalformedId {
                id: r.id.clone(),
                kind: IdKind::Requirement,
            });
        }
        if req_index.contains_key(&r.id) {
            problems.push(Problem::DuplicateId { id: r.id.clone() });
        }
        for (field, value) in [
            ("section", &r.section),
            ("heading", &r.heading),
            ("summary", &r.summary),
        ] {
            if value.trim().is_empty() {
                problems.push(Problem::EmptyField {
                    id: r.id.clone(),
                    field,
                });
            }
        }
        if r.capability.as_deref().is_some_and(|c| c.trim().is_empty()) {
            problems.push(Problem::EmptyField {
                id: r.id.clone(),
                field: "capability",
            });
        }
        let level = Level::from_keyword(&r.level).unwrap_or_else(|| {
            problems.push(Problem::UnknownLevel {
                id: r.id.clone(),
                value: r.level.clone(),
            });
            Level::Must
        });
        let testability = Testability::ALL
            .into_iter()
            .find(|t| t.name() == r.testability)
            .unwrap_or_else(|| {
                problems.push(Problem::UnknownTestability {
                    id: r.id.clone(),
                    value: r.testability.clone(),
                });
                Testability::Untestable
            });
        let mut flags = Vec::with_capacity(r.flags.len());
        for f in &r.flags {
            match Flag::ALL.into_iter().find(|k| k.name() == f) {
                Some(flag) => flags.push(flag),
                None => problems.push(Problem::UnknownFlag {
                    id: r.id.clone(),
                    value: f.clone(),
                }),
            }
        }
        req_index.entry(r.id.clone()).or_insert(requirements.len());
        requirements.push(Requirement {
            id: r.id,
            section: r.section,
            heading: r.heading,
            level,
            level_text: r.level_text,
            implicit: r.implicit,
            binds: r.binds,
            testability,
            testability_note: r.testability_note,
            capability: r.capability,
            flags,
            contradictions: r.contradictions,
            summary: r.summary,
        });
    }

    // ---- contradictions
    let mut contradictions = Vec::with_capacity(raw.contradiction.len());
    let mut con_index = HashMap::new();
    for c in raw.contradiction {
        if !is_contradiction_id(&c.id) {
            problems.push(Problem::MalformedId {
                id: c.id.clone(),
                kind: IdKind::Contradiction,
            });
        }
        if con_index.contains_key(&c.id) || req_index.contains_key(&c.id) {
            problems.push(Problem::DuplicateId { id: c.id.clone() });
        }
        for (field, value) in [("title", &c.title), ("summary", &c.summary)] {
            if value.trim().is_empty() {
                problems.push(Problem::EmptyField {
                    id: c.id.clone(),
                    field,
                });
            }
        }
        for clause in &c.clauses {
            if !req_index.contains_key(clause) {
                problems.push(Problem::DanglingClause {
                    contradiction: c.id.clone(),
                    clause: clause.clone(),
                });
            }
        }
        let handling = Handling::from_name(&c.handling).unwrap_or_else(|| {
            problems.push(Problem::UnknownHandling {
                id: c.id.clone(),
                value: c.handling.clone(),
            });
            Handling::Info
        });
        con_index
            .entry(c.id.clone())
            .or_insert(contradictions.len());
        contradictions.push(Contradiction {
            id: c.id,
            title: c.title,
            clauses: c.clauses,
            handling,
            profile: c.profile,
            summary: c.summary,
            action: c.action,
        });
    }

    // requirement -> contradiction references (needs the full contradiction index)
    for r in &requirements {
        for c in &r.contradictions {
            if !con_index.contains_key(c) {
                problems.push(Problem::DanglingContradiction {
                    requirement: r.id.clone(),
                    contradiction: c.clone(),
                });
            }
        }
    }

    // ---- profiles
    let mut profiles = Vec::with_capacity(raw.profile.len());
    let mut profile_names = HashSet::new();
    for p in raw.profile {
        if !profile_names.insert(p.name.clone()) {
            problems.push(Problem::DuplicateProfile {
                name: p.name.clone(),
            });
        }
        let default_ok = if p.values.is_empty() {
            p.default == "off" || p.default == "on"
        } else {
            p.values.contains(&p.default)
        };
        if !default_ok {
            problems.push(Problem::ProfileDefault {
                name: p.name.clone(),
                default: p.default.clone(),
            });
        }
        profiles.push(Profile {
            name: p.name,
            flag: p.flag,
            md_flag: p.md_flag,
            values: p.values,
            default: p.default,
            contradictions: p.contradictions,
        });
    }
    for c in &contradictions {
        match (c.handling, &c.profile) {
            (Handling::Profile, None) => problems.push(Problem::ProfileMissing {
                contradiction: c.id.clone(),
            }),
            (Handling::Profile, Some(name)) if !profile_names.contains(name) => {
                problems.push(Problem::UnknownProfile {
                    contradiction: c.id.clone(),
                    profile: name.clone(),
                })
            }
            (h, Some(_)) if h != Handling::Profile => problems.push(Problem::ProfileUnexpected {
                contradiction: c.id.clone(),
                handling: h,
            }),
            _ => {}
        }
    }
    for p in &profiles {
        for cid in &p.contradictions {
            let selects = con_index
                .get(cid)
                .and_then(|&i| contradictions.get(i))
                .is_some_and(|c: &Contradiction| c.profile.as_deref() == Some(p.name.as_str()));
            if !selects {
                problems.push(Problem::ProfileContradiction {
                    name: p.name.clone(),
                    contradiction: cid.clone(),
                });
            }
        }
    }

    // ---- meta
    for id in &raw.meta.test_first {
        if !req_index.contains_key(id) {
            problems.push(Problem::UnknownTestFirst { id: id.clone() });
        }
    }
    // (no let-chains: the workspace MSRV is 1.85)
    for (what, expected, actual) in [
        ("requirements", raw.meta.expected_count, requirements.len()),
        (
            "contradictions",
            raw.meta.expected_contradictions,
            contradictions.len(),
        ),
    ] {
        match expected {
            Some(expected) if expected != actual => problems.push(Problem::CountMismatch {
                what,
                expected,
                actual,
            }),
            _ => {}
        }
    }

    if !problems.is_empty() {
        return Err(CatalogueError::Invalid(problems));
    }
    Ok(Catalogue {
        meta: Meta {
            spec_repo: raw.meta.spec_repo,
            spec_revision: raw.meta.spec_revision,
            catalogue_version: raw.meta.catalogue_version,
            expected_count: raw.meta.expected_count,
            expected_contradictions: raw.meta.expected_contradictions,
            test_first: raw.meta.test_first,
        },
        requirements,
        contradictions,
        profiles,
        req_index,
        con_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shapes() {
        assert!(is_requirement_id("SIG-015"));
        assert!(is_requirement_id("NOTIFY-001"));
        assert!(!is_requirement_id("sig-015"));
        assert!(!is_requirement_id("SIG-15"));
        assert!(!is_requirement_id("SIG-0150"));
        assert!(!is_requirement_id("-015"));
        assert!(!is_requirement_id("SIG015"));
        assert!(is_contradiction_id("C-01"));
        assert!(!is_contradiction_id("C-1"));
        assert!(!is_contradiction_id("C-001"));
        assert!(!is_contradiction_id("D-01"));
    }
}
