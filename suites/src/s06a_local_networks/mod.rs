//! Spec file 06a-local-networks. Local networks: the mesh header.
//!
//! Every case here cites a clause of 06a-local-networks first (the catalogue section of the first clause is
//! the section a case is reported under; `every_case_lives_in_the_module_of_its_section` checks
//! it). One module per topic, each with its `CASES` table.

use amp_runner::Case;

mod mesh_header;

/// Every case of this section, module by module.
pub(crate) fn cases() -> Vec<Case> {
    [mesh_header::CASES].concat()
}
