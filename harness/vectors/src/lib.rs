//! amp-vectors: the data-driven AMP test vectors (`vectors/*.json`) as typed data, a linter, and
//! a runner that checks amp-core against every case.
//!
//! The vectors are the project's implementation-independent statement of what the pure protocol
//! functions must compute; an independent Python implementation (`vectors/tools/crosscheck.py`)
//! re-derives every expectation, so a disagreement between a case and amp-core is a finding
//! about amp-core, never a reason to edit the case. File format: `vectors/README.md`.
//!
//! ```no_run
//! let files = amp_vectors::embedded().expect("corpus parses");
//! assert!(amp_vectors::lint(&files).is_empty());
//! let summary = amp_vectors::run_all(&files, amp_core::PayloadProfile::Sorted);
//! println!("{summary}"); // ends with `N passed, N failed, N skipped`
//! ```

#![forbid(unsafe_code)]

mod lint;
mod model;
mod run;

pub use lint::{LintError, lint};
pub use model::{
    Case, Kind, Live, ProfileExpectation, SCHEMA_ID, VectorError, VectorFile, Verdict,
};
pub use run::{CaseOutcome, CaseReport, Summary, contains_negative_zero, run_all, run_case};

use std::path::Path;

mod embedded_files {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Largest vector file accepted by [`load_file`]; the whole corpus is far below this, so a
/// larger file is a mistake or hostile input, not a vector file.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Every corpus file compiled into this crate (`vectors/*.json`, not `testdata/`), parsed.
///
/// Fails only if a committed vector file does not parse, which `cargo test -p amp-vectors`
/// catches before anything ships.
pub fn embedded() -> Result<Vec<VectorFile>, VectorError> {
    embedded_files::EMBEDDED
        .iter()
        .map(|(name, bytes)| parse(name, bytes))
        .collect()
}

/// Names of the embedded files (e.g. `signature.json`), sorted.
pub fn embedded_names() -> impl Iterator<Item = &'static str> {
    embedded_files::EMBEDDED.iter().map(|(n, _)| *n)
}

/// Reads and parses one vector file from disk (size-capped at [`MAX_FILE_BYTES`]).
pub fn load_file(path: impl AsRef<Path>) -> Result<VectorFile, VectorError> {
    use std::io::Read;
    let path = path.as_ref();
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| VectorError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| VectorError::Io {
            path: shown.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(VectorError::TooLarge {
            path: shown,
            limit: MAX_FILE_BYTES,
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(shown);
    parse(&name, &bytes)
}

/// Parses vector-file bytes. `name` is the file name (its stem names the trials,
/// `<stem>::<case-id>`). Never panics, whatever the bytes: it is fuzzed.
pub fn parse(name: &str, bytes: &[u8]) -> Result<VectorFile, VectorError> {
    model::parse(name, bytes)
}
