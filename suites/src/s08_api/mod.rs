//! TODO-DOC section s08_api

use amp_runner::Case;

mod admin;
mod agents;
mod attachments;
mod discovery;
mod errors;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [
        admin::CASES,
        agents::CASES,
        attachments::CASES,
        discovery::CASES,
        errors::CASES,
    ]
    .concat()
}
