//! TODO-DOC section s06_federation

use amp_runner::Case;

mod attachments;
mod deliver;
mod discovery;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [attachments::CASES, deliver::CASES, discovery::CASES].concat()
}
