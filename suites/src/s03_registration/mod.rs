//! TODO-DOC section s03_registration

use amp_runner::Case;

mod keys;
mod register;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [keys::CASES, register::CASES].concat()
}
