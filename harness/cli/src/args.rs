//! Command-line surface of `amp-conformance`. Parsing only: every command lives in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Conformance test suite and protocol fuzzer for the Agent Messaging Protocol (AMP).
///
/// Without a subcommand, runs the conformance suite (same as `amp-conformance run`).
#[derive(Debug, Parser)]
#[command(
    name = "amp-conformance",
    version,
    args_conflicts_with_subcommands = true,
    after_help = crate::exit::EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the conformance suite against a provider (default: the embedded mock).
    #[command(after_help = crate::exit::EXIT_CODES_HELP)]
    Run(RunArgs),
    /// List every conformance case with its clauses, level and needs.
    List(ListArgs),
    /// Print the requirement catalogue (every normative statement of the spec, with stable ids).
    Clauses(ClausesArgs),
    /// Run the data-driven test vectors (the embedded corpus, or the given files).
    Vectors(VectorsArgs),
    /// Start the built-in mock provider on loopback.
    Mock(MockArgs),
    /// Prove the suite: clean mock must pass, every planted defect must be caught.
    Selftest(SelftestArgs),
    /// Structure-aware network fuzzer (signed, then mutated AMP traffic) with replayable reproducers.
    Fuzz(FuzzArgs),
}

/// Payload canonicalisation profile (catalogue contradictions C-01..C-04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ProfileArg {
    /// Keys sorted at every level by UTF-16 code units, compact, raw UTF-8 (SIG-008, published vectors).
    #[default]
    Sorted,
    /// RFC 8785 JSON Canonicalization Scheme.
    Jcs,
    /// Compact, keys in input order (`JSON.stringify` as the prose and examples use).
    Insertion,
    /// Python `json.dumps(sort_keys=True, separators=(',',':'))` with ASCII escapes.
    PythonAscii,
}

impl From<ProfileArg> for amp_core::PayloadProfile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Sorted => amp_core::PayloadProfile::Sorted,
            ProfileArg::Jcs => amp_core::PayloadProfile::Jcs,
            ProfileArg::Insertion => amp_core::PayloadProfile::Insertion,
            ProfileArg::PythonAscii => amp_core::PayloadProfile::PythonAscii,
        }
    }
}

/// `--from-handling`: the declared reading of contradiction C-11 (a client-supplied `from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FromHandlingArg {
    /// Refuse a `from` that is not the authenticated sender with 403 (SIG-013; the default reading).
    Reject,
    /// Replace it with the authenticated sender.
    Overwrite,
    /// Refuse it as a schema violation (400).
    Schema,
}

impl From<FromHandlingArg> for amp_runner::FromHandling {
    fn from(a: FromHandlingArg) -> Self {
        match a {
            FromHandlingArg::Reject => amp_runner::FromHandling::Reject,
            FromHandlingArg::Overwrite => amp_runner::FromHandling::Overwrite,
            FromHandlingArg::Schema => amp_runner::FromHandling::Schema,
        }
    }
}

/// `--unknown-recipient`: the declared reading of contradiction C-37.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnknownRecipientArg {
    /// Refuse with 404 `not_found` (the default reading).
    Reject,
    /// Accept and queue for a later registration.
    Queue,
}

impl From<UnknownRecipientArg> for amp_runner::UnknownRecipient {
    fn from(a: UnknownRecipientArg) -> Self {
        match a {
            UnknownRecipientArg::Reject => amp_runner::UnknownRecipient::Reject,
            UnknownRecipientArg::Queue => amp_runner::UnknownRecipient::Queue,
        }
    }
}

/// `--signing`: the declared reading of contradiction C-40 (unsigned messages between local agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SigningArg {
    /// Every route request must be signed (422 signature_missing otherwise; the default reading).
    Required,
    /// Unsigned messages from the provider's own local agents are accepted (SIG-003).
    LocalRelaxed,
}

impl From<SigningArg> for amp_runner::SigningPolicy {
    fn from(a: SigningArg) -> Self {
        match a {
            SigningArg::Required => amp_runner::SigningPolicy::Required,
            SigningArg::LocalRelaxed => amp_runner::SigningPolicy::LocalRelaxed,
        }
    }
}

/// `--fingerprint`: the declared reading of contradiction C-19 (what a `SHA256:` fingerprint hashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FingerprintArg {
    /// SHA-256 of the raw 32-byte key, padded Base64 (09's OpenSSL recipe; the default reading).
    #[value(name = "raw32-b64pad")]
    Raw32B64Pad,
    /// SHA-256 of the raw 32-byte key, Base64 without `=` padding.
    #[value(name = "raw32-b64nopad")]
    Raw32B64NoPad,
    /// SHA-256 of the SPKI DER encoding of the key, padded Base64.
    #[value(name = "spki-der")]
    SpkiDer,
}

impl From<FingerprintArg> for amp_core::FingerprintProfile {
    fn from(a: FingerprintArg) -> Self {
        match a {
            FingerprintArg::Raw32B64Pad => amp_core::FingerprintProfile::Raw32B64Pad,
            FingerprintArg::Raw32B64NoPad => amp_core::FingerprintProfile::Raw32B64NoPad,
            FingerprintArg::SpkiDer => amp_core::FingerprintProfile::SpkiDer,
        }
    }
}

/// `--risk`: the declared reading of contradiction C-35 (whether the risk score is capped at 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RiskArg {
    /// The formula's value capped at 100, as 08 documents (the default reading).
    #[value(name = "clamp100")]
    Clamp100,
    /// The formula's value as is (up to 300 when every message is blocked).
    Raw,
}

impl From<RiskArg> for amp_runner::RiskRange {
    fn from(a: RiskArg) -> Self {
        match a {
            RiskArg::Clamp100 => amp_runner::RiskRange::Clamp100,
            RiskArg::Raw => amp_runner::RiskRange::Raw,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    Must,
    Should,
    May,
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Base URL of the provider under test, including the version path (e.g. https://p.example/v1).
    /// Without it, the embedded mock provider is started on an ephemeral loopback port.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Payload canonicalisation profile used to sign traffic.
    #[arg(long, value_enum, default_value_t)]
    pub profile: ProfileArg,
    /// Only run cases of this level and above (must < should < may). Default: all.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// SHOULD-level findings (warnings) also fail the run.
    #[arg(long)]
    pub strict: bool,
    /// Only run cases whose id matches this glob (repeatable).
    #[arg(long = "run", value_name = "PATTERN")]
    pub run_patterns: Vec<String>,
    /// Skip cases whose id matches this glob (repeatable).
    #[arg(long = "skip", value_name = "PATTERN")]
    pub skip_patterns: Vec<String>,
    /// List the cases that would run, then exit.
    #[arg(long)]
    pub list: bool,
    /// Per-request timeout in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Per-case timeout in seconds (a hung case becomes an `error` verdict). A floor: a case that
    /// must wait for a provider timing (e.g. the 30 s webhook retry of WH-006, or what the
    /// `[timing]` section of --config declares) extends its own deadline by that wait.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub case_timeout: f64,
    /// Cases run concurrently.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// TOML configuration (tenant, registration headers, WebSocket URL, federation peer, the
    /// target's own timings).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Cases expected to fail (one id per line, `#` comments). A listed case that passes fails the run.
    #[arg(long, value_name = "FILE")]
    pub expected_failures: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a Markdown report here (GitHub-flavoured: for a pull-request comment or
    /// `$GITHUB_STEP_SUMMARY`; transcripts are cut, the JSON report has them in full).
    #[arg(long = "report-md", value_name = "FILE")]
    pub report_md: Option<PathBuf>,
    /// Write a self-contained HTML report here (no script, no network; filters by verdict and
    /// section).
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Compare with a previous run's JSON report (written by --report-json): the terminal summary
    /// and the JSON, Markdown and HTML reports then list new failures, fixed, changed, added and
    /// removed cases. It never changes the exit code.
    #[arg(long, value_name = "PREVIOUS.json")]
    pub compare: Option<PathBuf>,
    /// Write one full (redacted) wire transcript per case into this directory.
    #[arg(long, value_name = "DIR")]
    pub trace: Option<PathBuf>,
    /// Seed for run-unique names and generated keys (deterministic runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Embedded mock only: plant this defect (repeatable; see `mock --list-defects`).
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Print every case, not only failures.
    #[arg(long, short)]
    pub verbose: bool,
    /// Also run these vector files (your own, in the format of vectors/README.md) as live
    /// trials `vector.<kind>.<case-id>`; they are linted first.
    #[arg(long = "vectors", value_name = "FILE", num_args = 1..)]
    pub vectors: Vec<PathBuf>,
    /// Leave out the live vector trials (only the hand-written cases run).
    #[arg(long, conflicts_with = "vectors")]
    pub skip_vectors: bool,
    /// Declare how the target treats a client-supplied `from` (contradiction C-11). The declared
    /// reading passes and the others fail; undeclared, `reject` passes and the others warn.
    #[arg(
        long,
        value_enum,
        value_name = "READING",
        help_heading = "Contradiction profiles"
    )]
    pub from_handling: Option<FromHandlingArg>,
    /// Declare how the target treats a message to an unregistered address (contradiction C-37).
    /// The declared reading passes and the other fails; undeclared, `reject` passes and `queue` warns.
    #[arg(
        long,
        value_enum,
        value_name = "READING",
        help_heading = "Contradiction profiles"
    )]
    pub unknown_recipient: Option<UnknownRecipientArg>,
    /// Declare whether the target accepts unsigned messages between its own local agents
    /// (contradiction C-40, SIG-003). The declared reading passes and the other fails;
    /// undeclared, `required` passes and `local-relaxed` warns.
    #[arg(
        long,
        value_enum,
        value_name = "READING",
        help_heading = "Contradiction profiles"
    )]
    pub signing: Option<SigningArg>,
    /// Declare which bytes the target's `SHA256:` key fingerprints hash (contradiction C-19):
    /// registration, discovery and agent-card fingerprints in the declared form pass, another
    /// form warns naming it, no form of the key fails. Undeclared, `raw32-b64pad` is expected.
    #[arg(
        long,
        value_enum,
        value_name = "READING",
        help_heading = "Contradiction profiles"
    )]
    pub fingerprint: Option<FingerprintArg>,
    /// Declare whether the target caps the risk score at 100 (contradiction C-35): the declared
    /// reading passes, the other warns, a score neither gives fails. Undeclared, `clamp100` is
    /// expected.
    #[arg(
        long,
        value_enum,
        value_name = "READING",
        help_heading = "Contradiction profiles"
    )]
    pub risk: Option<RiskArg>,
    /// Message ids must be lowercase hex after `msg_<unix>_` (contradiction C-12).
    #[arg(long, help_heading = "Contradiction profiles")]
    pub strict_ids: bool,
    /// Validate provider responses and delivered messages against the published schemas
    /// (contradictions C-41, C-42).
    #[arg(long, help_heading = "Contradiction profiles")]
    pub strict_schema: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only cases of this level and above.
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// Only cases whose id matches this glob (repeatable).
    #[arg(long = "run", value_name = "PATTERN")]
    pub run_patterns: Vec<String>,
    /// Only the cases of one spec section: the catalogue section of their first clause, e.g.
    /// `05-routing` (or just `05`); the same grouping as the suite's modules
    /// (`suites/src/s05_routing/`) and the reports.
    #[arg(long, value_name = "SECTION")]
    pub section: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ClausesArgs {
    /// Only requirements of this level (must includes MUST NOT).
    #[arg(long, value_enum)]
    pub level: Option<LevelArg>,
    /// Only requirements with this testability (vector, blackbox, receiver, federation, bus, untestable).
    #[arg(long)]
    pub testability: Option<String>,
    /// Only requirements of this spec section (e.g. 04-messages).
    #[arg(long)]
    pub section: Option<String>,
    /// Also print the contradiction records and how each is handled.
    #[arg(long)]
    pub contradictions: bool,
    /// Show which requirements have conformance cases or vectors.
    #[arg(long)]
    pub coverage: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VectorsArgs {
    /// `lint` to check files instead of running them.
    #[arg(value_name = "lint | FILE")]
    pub files: Vec<PathBuf>,
    /// Payload profile under which expectations are evaluated.
    #[arg(long, value_enum, default_value_t)]
    pub profile: ProfileArg,
    /// Print every case, not only failures.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MockArgs {
    /// Address to listen on (loopback only unless --allow-non-loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Path prefix of the API.
    #[arg(long, default_value = "/v1")]
    pub base_path: String,
    /// Plant a defect (repeatable).
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Print the planted defects (name, clause, description) and exit.
    #[arg(long)]
    pub list_defects: bool,
    /// Payload profile the mock verifies signatures with.
    #[arg(long, value_enum, default_value_t)]
    pub profile: ProfileArg,
    /// Accept webhook URLs on loopback (for local receivers; WH-012 otherwise refuses them).
    #[arg(long)]
    pub allow_loopback_webhooks: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SelftestArgs {
    /// Only these defects (default: all).
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Defects checked concurrently (each against its own mock, alongside the clean run).
    #[arg(long, default_value_t = crate::cmd::selftest::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Write the matrix as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// Provider base URL (loopback only unless --allow-remote). Default: the embedded mock.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Seed of the generated operation stream (same seed, same operations).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run for this long (e.g. 20s, 2m).
    #[arg(long)]
    pub duration: Option<String>,
    /// Send this many requests (default 2000 when neither budget is given).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Payload profile used to sign.
    #[arg(long, value_enum, default_value_t)]
    pub profile: ProfileArg,
    /// Where reproducers and report.json go.
    #[arg(long, value_name = "DIR", default_value = "out/fuzz")]
    pub out: PathBuf,
    /// Replay a saved reproducer instead of fuzzing.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Embedded mock only: plant this defect (repeatable).
    #[arg(long = "defect", value_name = "NAME")]
    pub defects: Vec<String>,
    /// Parallel lanes.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Allow a non-loopback target (only for a provider you run yourself).
    #[arg(long)]
    pub allow_remote: bool,
}
