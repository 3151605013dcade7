//! amp-suites: the AMP conformance cases, one module per spec file (`s05_routing` holds the cases
//! whose first clause is from spec 05), one file per topic inside it.
//!
//! Every case is an async function with its metadata on it (`#[case(...)]`: id, title, clauses,
//! level, needs, expectation); each topic file lists its cases in a `CASES` table, and the
//! refusal cases of spec 04 are rows of one table (`s04_messages/refusal.rs`). Helpers shared
//! by several modules are in `steps/`. [`all`] is the whole suite, in id order.

use amp_runner::Case;

pub mod live_vectors;
mod provider_key;
mod s02_identity;
mod s03_registration;
mod s04_messages;
mod s05_routing;
mod s06_federation;
mod s06a_local_networks;
mod s07_security;
mod s08_api;
mod s12_notification;
mod steps;

/// The hand-written cases, one table per spec file: `sNN_<file>/` holds exactly the cases whose
/// primary clause comes from spec file NN (the section `list --section` and the reports show).
const SECTIONS: &[fn() -> Vec<Case>] = &[
    s02_identity::cases,
    s03_registration::cases,
    s04_messages::cases,
    s05_routing::cases,
    s06_federation::cases,
    s06a_local_networks::cases,
    s07_security::cases,
    s08_api::cases,
    s12_notification::cases,
];

/// Every case of the suite, sorted by id: the hand-written cases plus one live trial per
/// vector of the embedded corpus that a provider's behaviour can reveal
/// (`vector.<kind>.<case-id>`, see [`live_vectors`]).
pub fn all() -> Vec<Case> {
    let mut cases: Vec<Case> = SECTIONS.iter().flat_map(|cases| cases()).collect();
    cases.extend_from_slice(live_vectors::embedded());
    cases.sort_by(|a, b| a.id.cmp(b.id));
    cases
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use amp_catalogue::Catalogue;

    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for c in all() {
            assert!(seen.insert(c.id), "duplicate case id {}", c.id);
            // Vector trials are `vector.<kind>.<case-id>` and kinds contain `_`.
            let underscore_ok = c.id.starts_with("vector.");
            assert!(
                c.id.split('.').count() >= 2
                    && c.id.chars().all(|ch| ch.is_ascii_lowercase()
                        || ch.is_ascii_digit()
                        || ch == '.'
                        || ch == '-'
                        || (ch == '_' && underscore_ok)),
                "case id `{}` must be lowercase `section.topic.name`",
                c.id
            );
        }
    }

    /// A hand-written case lives in the module of its section: `amp_suites::s05_routing::…`
    /// holds exactly the cases whose first clause the catalogue files under `05-routing`, so
    /// the files, `list --section` and the reports group the same way. Live vector trials are
    /// grouped by vector kind instead (`live_vectors/`), and report the section of their
    /// clause like every case.
    #[test]
    fn every_case_lives_in_the_module_of_its_section() {
        let mut checked = 0;
        for c in all() {
            if c.module.starts_with("amp_suites::live_vectors") {
                continue;
            }
            let section = c.section();
            let module = format!("amp_suites::s{}", section.as_str().replace('-', "_"));
            assert!(
                c.module == module || c.module.starts_with(&format!("{module}::")),
                "{} (first clause {}, section {section}) is declared in {}; move it to {module}",
                c.id,
                c.clauses[0],
                c.module
            );
            checked += 1;
        }
        assert!(checked >= 178, "only {checked} hand-written cases found");
    }

    #[test]
    fn every_case_cites_known_clauses() {
        let cat = Catalogue::embedded();
        for c in all() {
            assert!(!c.clauses.is_empty(), "{} cites no clause", c.id);
            for id in c.clauses {
                assert!(cat.is_known(id), "{} cites unknown clause {id}", c.id);
            }
            assert!(
                cat.requirement(c.clauses[0]).is_some(),
                "{}: the primary clause {} must be a requirement, not a contradiction",
                c.id,
                c.clauses[0]
            );
        }
    }
}
