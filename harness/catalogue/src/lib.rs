//! amp-catalogue: the AMP requirement catalogue as validated, typed data.
//!
//! `suites/requirements.toml` (generated from the research catalogue by
//! `tools/catalogue/md_to_toml.py`) is embedded at compile time and parsed once. Every
//! suite case cites requirement ids from it, reports group verdicts by its sections and
//! levels, and the CLI prints it (`amp-conformance clauses`). Keeping the catalogue as
//! data rather than code means the spec review and the Rust code cannot drift apart
//! silently: the loader refuses a catalogue whose ids, vocabularies or cross-references
//! do not add up, and says which entry to fix.
//!
//! Pure: no I/O beyond the embedded string, no async.

use std::collections::HashMap;
use std::sync::OnceLock;

mod coverage;
mod load;
mod model;
mod render;

pub use coverage::{Coverage, CoverageGroup};
pub use load::{CatalogueError, IdKind, Problem};
pub use model::{
    Contradiction, Flag, Handling, Level, Meta, Profile, Requirement, Testability, UnknownValue,
};
pub use render::ClauseFilter;

/// The TOML text compiled into the binary.
pub const EMBEDDED_TOML: &str = include_str!("../../../suites/requirements.toml");

/// A validated catalogue. Fields are private so that every instance went through
/// validation (unique ids, known vocabularies, no dangling references).
#[derive(Debug, Clone)]
pub struct Catalogue {
    meta: Meta,
    requirements: Vec<Requirement>,
    contradictions: Vec<Contradiction>,
    profiles: Vec<Profile>,
    req_index: HashMap<String, usize>,
    con_index: HashMap<String, usize>,
}

static EMBEDDED: OnceLock<Result<Catalogue, CatalogueError>> = OnceLock::new();

impl Catalogue {
    /// The embedded catalogue, parsed on first use.
    ///
    /// # Panics
    /// If the embedded TOML is invalid. That is a build defect, not a run-time input
    /// (the crate's tests load it), so callers need not handle it; use
    /// [`Catalogue::try_embedded`] to surface it as an error instead.
    pub fn embedded() -> &'static Catalogue {
        match Catalogue::try_embedded() {
            Ok(c) => c,
            Err(e) => panic!("embedded suites/requirements.toml is broken: {e}"),
        }
    }

    /// The embedded catalogue, or the reason it does not load.
    pub fn try_embedded() -> Result<&'static Catalogue, &'static CatalogueError> {
        EMBEDDED
            .get_or_init(|| Catalogue::from_toml_str(EMBEDDED_TOML))
            .as_ref()
    }

    /// Parse and validate a catalogue. On failure the error lists every problem,
    /// each naming the offending id and what to change.
    pub fn from_toml_str(text: &str) -> Result<Catalogue, CatalogueError> {
        load::parse(text)
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// All requirements in catalogue (spec section) order.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// All contradiction records in catalogue order.
    pub fn contradictions(&self) -> &[Contradiction] {
        &self.contradictions
    }

    /// The CLI profiles that resolve contradictions.
    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.req_index
            .get(id)
            .and_then(|&i| self.requirements.get(i))
    }

    pub fn contradiction(&self, id: &str) -> Option<&Contradiction> {
        self.con_index
            .get(id)
            .and_then(|&i| self.contradictions.get(i))
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// True for any requirement or contradiction id: what a case may cite.
    pub fn is_known(&self, id: &str) -> bool {
        self.req_index.contains_key(id) || self.con_index.contains_key(id)
    }

    /// Requirements whose testability is not `untestable`.
    pub fn testable(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(|r| r.is_testable())
    }

    /// Requirements selected by `filter`, catalogue order.
    pub fn filter<'a>(&'a self, filter: &'a ClauseFilter) -> impl Iterator<Item = &'a Requirement> {
        self.requirements.iter().filter(move |r| filter.matches(r))
    }

    /// Contradiction records that touch requirement `id` (cited by the row, or listing
    /// it as a clause): what a case citing `id` should mention when it warns.
    pub fn contradictions_for<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = &'a Contradiction> {
        let cited = self
            .requirement(id)
            .map(|r| r.contradictions.as_slice())
            .unwrap_or(&[]);
        self.contradictions
            .iter()
            .filter(move |c| cited.contains(&c.id) || c.clauses.iter().any(|cl| cl == id))
    }

    /// Coverage of the testable requirements by the given cited ids (duplicates and
    /// contradiction ids are fine; unknown ids are listed in [`Coverage::unknown`]).
    pub fn coverage<'a>(&self, covered: impl IntoIterator<Item = &'a str>) -> Coverage {
        coverage::compute(self, covered)
    }

    /// Plain-text table for `amp-conformance clauses`: one line per requirement (id,
    /// level, testability, summary), then the contradictions when `filter.contradictions`.
    pub fn render_table(&self, filter: &ClauseFilter) -> String {
        render::render(self, filter)
    }
}
