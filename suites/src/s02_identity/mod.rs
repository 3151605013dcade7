//! TODO-DOC section s02_identity

use amp_runner::Case;

mod addresses;
mod card;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [addresses::CASES, card::CASES].concat()
}
