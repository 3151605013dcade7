//! Spec file 06-federation. Federation: deliveries from a peer provider, discovery, cross-provider attachments.
//!
//! Every case here cites a clause of 06-federation first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod attachments;
mod deliver;
mod discovery;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [attachments::CASES, deliver::CASES, discovery::CASES].concat()
}
