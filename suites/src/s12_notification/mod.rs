//! Spec file 12-notification. notify:v1: counts, cursors, long-poll, receipts, WebSocket replay.
//!
//! Every case here cites a clause of 12-notification first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod pickup;
mod push;
mod receipts;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [pickup::CASES, push::CASES, receipts::CASES].concat()
}
