//! Typed catalogue entries.
//!
//! The vocabularies (levels, testability categories, flags, handling modes) are enums so
//! that a case, a report or the CLI can never carry a value the catalogue does not define;
//! the TOML loader maps every string onto them and names the row when it cannot.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// RFC 2119 requirement level: the *first* keyword of the clause.
///
/// Ordered from strongest to weakest so that sorting by level puts required clauses first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Must,
    MustNot,
    Should,
    ShouldNot,
    May,
}

impl Level {
    /// Every level, strongest first.
    pub const ALL: [Level; 5] = [
        Level::Must,
        Level::MustNot,
        Level::Should,
        Level::ShouldNot,
        Level::May,
    ];

    /// The RFC 2119 keyword exactly as the catalogue (and the spec) writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::MustNot => "MUST NOT",
            Level::Should => "SHOULD",
            Level::ShouldNot => "SHOULD NOT",
            Level::May => "MAY",
        }
    }

    /// MUST and MUST NOT: a failure is a conformance failure, not a warning.
    pub fn is_required(self) -> bool {
        matches!(self, Level::Must | Level::MustNot)
    }

    /// Strict parse of the catalogue spelling (`"MUST NOT"`), used by the loader.
    pub fn from_keyword(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.keyword() == s)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Error of [`Level::from_str`] / [`Testability::from_str`] / [`Flag::from_str`]:
/// carries the rejected input and the accepted spellings so a CLI can print both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} `{}`: use one of {}",
            self.what, self.value, self.expected
        )
    }
}

impl std::error::Error for UnknownValue {}

/// Lenient parse for command lines: case-insensitive, and `must-not`, `must_not`,
/// `MUST NOT` and `mustnot` are all accepted.
impl FromStr for Level {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match norm.as_str() {
            "must" => Ok(Level::Must),
            "mustnot" => Ok(Level::MustNot),
            "should" => Ok(Level::Should),
            "shouldnot" => Ok(Level::ShouldNot),
            "may" => Ok(Level::May),
            _ => Err(UnknownValue {
                what: "level",
                value: s.to_string(),
                expected: "must, must-not, should, should-not, may",
            }),
        }
    }
}

/// How a clause can be exercised (first category of the catalogue's testability cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Testability {
    /// Pure function: canonical string, hash, parser, id format.
    Vector,
    /// The suite as a client against a provider URL.
    Blackbox,
    /// The suite runs a webhook receiver or WebSocket client.
    Receiver,
    /// The suite acts as a peer provider or mesh host.
    Federation,
    /// Local bus.
    Bus,
    /// Not observable by this suite (reason in `testability_note`).
    Untestable,
}

impl Testability {
    pub const ALL: [Testability; 6] = [
        Testability::Vector,
        Testability::Blackbox,
        Testability::Receiver,
        Testability::Federation,
        Testability::Bus,
        Testability::Untestable,
    ];

    /// Lowercase name as written in the TOML.
    pub fn name(self) -> &'static str {
        match self {
            Testability::Vector => "vector",
            Testability::Blackbox => "blackbox",
            Testability::Receiver => "receiver",
            Testability::Federation => "federation",
            Testability::Bus => "bus",
            Testability::Untestable => "untestable",
        }
    }

    pub fn is_testable(self) -> bool {
        self != Testability::Untestable
    }
}

impl fmt::Display for Testability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Testability {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Testability::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownValue {
                what: "testability",
                value: s.to_string(),
                expected: "vector, blackbox, receiver, federation, bus, untestable",
            })
    }
}

/// Run-time needs and groupings of a requirement row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flag {
    /// Needs an admin credential.
    Admin,
    /// Needs long waits (minutes to days).
    Slow,
    /// A client/recipient duty, testable only when the mock provider grades a client.
    CMode,
    /// Filesystem-mailbox Local Bus design (C-49).
    BusFs,
    /// UDS JSON-RPC Local Bus design (C-49).
    BusUds,
    /// Optional channel-bridging document; never gates core conformance (C-50).
    Bridging,
}

impl Flag {
    pub const ALL: [Flag; 6] = [
        Flag::Admin,
        Flag::Slow,
        Flag::CMode,
        Flag::BusFs,
        Flag::BusUds,
        Flag::Bridging,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flag::Admin => "admin",
            Flag::Slow => "slow",
            Flag::CMode => "c-mode",
            Flag::BusFs => "bus-fs",
            Flag::BusUds => "bus-uds",
            Flag::Bridging => "bridging",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flag {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Flag::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownValue {
                what: "flag",
                value: s.to_string(),
                expected: "admin, slow, c-mode, bus-fs, bus-uds, bridging",
            })
    }
}

/// What amp-conformance does about a contradiction in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Handling {
    /// A named CLI profile selects which reading is graded.
    Profile,
    /// Divergence is reported as a non-failing finding citing the record.
    Warning,
    /// The case fails only for behaviour no reading of the spec allows.
    FailOnlyIf,
    /// Recorded in the report, never a verdict.
    Info,
    /// No case (a note, or rows outside core conformance).
    Skip,
}

impl Handling {
    pub const ALL: [Handling; 5] = [
        Handling::Profile,
        Handling::Warning,
        Handling::FailOnlyIf,
        Handling::Info,
        Handling::Skip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Handling::Profile => "profile",
            Handling::Warning => "warning",
            Handling::FailOnlyIf => "fail-only-if",
            Handling::Info => "info",
            Handling::Skip => "skip",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Handling> {
        Handling::ALL.into_iter().find(|h| h.name() == s)
    }
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One normative clause of the AMP spec, restated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Stable handle (`SIG-015`) that cases cite.
    pub id: String,
    /// Spec file stem (`04-messages`).
    pub section: String,
    /// Heading(s) in that file the clause comes from.
    pub heading: String,
    pub level: Level,
    /// Full level text when the clause combines keywords (`"SHOULD / MUST"`).
    pub level_text: Option<String>,
    /// Stated as fact/format/table without a keyword (`MUST*`): graded like the keyword,
    /// reported more softly.
    pub implicit: bool,
    /// Parties the clause obliges (`provider`, `client`, `recipient`, ...).
    pub binds: Vec<String>,
    pub testability: Testability,
    /// Rest of the testability cell: why untestable, secondary categories, needs.
    pub testability_note: Option<String>,
    /// `/v1/info` capability that gates the clause.
    pub capability: Option<String>,
    pub flags: Vec<Flag>,
    /// Contradiction records the row mentions.
    pub contradictions: Vec<String>,
    /// One-line restatement.
    pub summary: String,
}

impl Requirement {
    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    pub fn is_testable(&self) -> bool {
        self.testability.is_testable()
    }

    /// Level as shown in tables: the keyword plus `*` when implicit (`MUST*`).
    pub fn level_label(&self) -> String {
        if self.implicit {
            format!("{}*", self.level)
        } else {
            self.level.to_string()
        }
    }
}

/// A place where the spec disagrees with itself, and our handling of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contradiction {
    /// `C-NN`.
    pub id: String,
    pub title: String,
    /// Requirement ids the record touches.
    pub clauses: Vec<String>,
    pub handling: Handling,
    /// Profile name; set exactly when `handling` is [`Handling::Profile`] (checked at load).
    pub profile: Option<String>,
    /// Where the spec disagrees and what the suite does (2-3 lines).
    pub summary: String,
    /// The research catalogue's full instruction for the suite.
    pub action: Option<String>,
}

/// A reported, user-selectable reading of an ambiguous part of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Profile name that contradiction records refer to (`payload-profile`).
    pub name: String,
    /// CLI switch (`--profile`).
    pub flag: String,
    /// The switch as the research catalogue spelled it, when different.
    pub md_flag: Option<String>,
    /// Allowed values; empty for an on/off switch.
    pub values: Vec<String>,
    /// Default value (`off` for switches).
    pub default: String,
    /// Records this profile resolves.
    pub contradictions: Vec<String>,
}

impl Profile {
    /// An on/off switch (`--strict-ids`) rather than a choice of values.
    pub fn is_switch(&self) -> bool {
        self.values.is_empty()
    }
}

/// Provenance of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// GitHub repository of the spec (`agentmessaging/protocol`).
    pub spec_repo: String,
    /// Spec file path -> commit read.
    pub spec_revision: BTreeMap<String, String>,
    pub catalogue_version: String,
    /// Row count the generator saw; the loader refuses a different count.
    pub expected_count: Option<usize>,
    pub expected_contradictions: Option<usize>,
    /// Requirement ids to implement first, in priority order.
    pub test_first: Vec<String>,
}
