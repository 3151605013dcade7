//! Spec file 04-messages. Messages: envelope, signing, JSON profile, idempotency, attachments, and the refusal table.
//!
//! Every case here cites a clause of 04-messages first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod attachments;
mod envelope;
mod idempotency;
mod json_profile;
mod refusal;
mod signing;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = [
        attachments::CASES,
        envelope::CASES,
        idempotency::CASES,
        json_profile::CASES,
        signing::CASES,
    ]
    .concat();
    cases.extend(refusal::cases());
    cases
}
