//! TODO-DOC section s06a_local_networks

use amp_runner::Case;

mod mesh_header;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [mesh_header::CASES].concat()
}
