//! Spec file 07-security. Security: quarantine, suspension, risk, rate limits, scanning, signatures, replay, content wrapping.
//!
//! Every case here cites a clause of 07-security first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod quarantine;
mod rate_limits;
mod replay;
mod scanning;
mod signatures;
mod suspension;
mod trust;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [
        quarantine::CASES,
        rate_limits::CASES,
        replay::CASES,
        scanning::CASES,
        signatures::CASES,
        suspension::CASES,
        trust::CASES,
    ]
    .concat()
}
