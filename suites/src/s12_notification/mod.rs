//! TODO-DOC section s12_notification

use amp_runner::Case;

mod pickup;
mod push;
mod receipts;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [pickup::CASES, push::CASES, receipts::CASES].concat()
}
