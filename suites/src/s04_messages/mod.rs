//! TODO-DOC section s04_messages

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
