//! Spec file 08-api. The API surface: discovery endpoints, agents, attachments, admin, authentication and errors.
//!
//! Every case here cites a clause of 08-api first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

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
