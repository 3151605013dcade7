//! amp-suites: the AMP conformance cases, one module per spec section.
//!
//! Each module exports `CASES`, a static table: one entry per case, naming its stable id, the
//! catalogue clauses it checks, its level, what it needs from the target, and the async function
//! that runs it. [`all`] is the whole suite, in id order.

use amp_runner::Case;

pub mod admin;
pub mod agents;
pub mod attachments;
pub mod authority;
pub mod card;
pub mod discovery;
pub mod errors;
pub mod extras;
pub mod federation;
pub mod keys;
pub mod provider_key;
pub mod ratelimit;
pub mod receipts;
pub mod refusal;
pub mod registration;
pub mod relay;
pub mod routing;
pub mod webhooks;
pub mod websocket;

/// Every case of the suite, sorted by id.
pub fn all() -> Vec<Case> {
    let tables: &[&[Case]] = &[
        relay::CASES,
        routing::CASES,
        federation::CASES,
        webhooks::CASES,
        websocket::CASES,
        discovery::CASES,
        registration::CASES,
        agents::CASES,
        errors::CASES,
        keys::CASES,
        ratelimit::CASES,
        extras::CASES,
        attachments::CASES,
        admin::CASES,
        card::CASES,
        receipts::CASES,
        authority::CASES,
    ];
    let mut cases: Vec<Case> = tables.iter().flat_map(|t| t.iter().copied()).collect();
    cases.extend(refusal::cases());
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
            assert!(
                c.id.split('.').count() >= 2
                    && c.id.chars().all(|ch| ch.is_ascii_lowercase()
                        || ch.is_ascii_digit()
                        || ch == '.'
                        || ch == '-'),
                "case id `{}` must be lowercase `section.topic.name`",
                c.id
            );
        }
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
