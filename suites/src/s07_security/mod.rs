//! TODO-DOC section s07_security

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
