//! Spec file 02-identity. Identity: agent addresses and Agent Cards.
//!
//! Every case here cites a clause of 02-identity first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod addresses;
mod card;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [addresses::CASES, card::CASES].concat()
}
