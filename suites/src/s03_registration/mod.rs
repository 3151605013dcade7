//! Spec file 03-registration. Registration: registering, API keys, key rotation and revocation, deregistration.
//!
//! Every case here cites a clause of 03-registration first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod keys;
mod register;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [keys::CASES, register::CASES].concat()
}
