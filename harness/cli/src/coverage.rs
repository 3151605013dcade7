//! Which catalogue clauses the project exercises: cited by a conformance case or a vector.

use std::collections::BTreeSet;

/// Every clause id cited by a suite case or an embedded vector case.
pub fn covered_ids() -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = amp_suites::all()
        .iter()
        .flat_map(|c| c.clauses.iter().map(|s| s.to_string()))
        .collect();
    if let Ok(files) = amp_vectors::embedded() {
        for f in &files {
            for c in &f.cases {
                ids.extend(c.clauses.iter().cloned());
            }
        }
    }
    ids
}
