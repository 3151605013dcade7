//! The typed vector-file model. Kind and result values are enums so a file with an unknown kind
//! or result is refused at parse time with the offending value named; the linter then checks
//! what a type cannot (unique ids, known clauses, defined flags, required inputs).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The value every file's `schema` field must carry.
pub const SCHEMA_ID: &str = "amp-conformance/vectors/v1";

/// Which operation a file's cases exercise (one kind per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Address,
    MessageId,
    PayloadHash,
    CanonicalString,
    Signature,
    Fingerprint,
    WebhookHmac,
    FederationSignature,
    Replay,
    Attachment,
    ScanStatus,
    AgentCard,
    Routing,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Address,
        Kind::MessageId,
        Kind::PayloadHash,
        Kind::CanonicalString,
        Kind::Signature,
        Kind::Fingerprint,
        Kind::WebhookHmac,
        Kind::FederationSignature,
        Kind::Replay,
        Kind::Attachment,
        Kind::ScanStatus,
        Kind::AgentCard,
        Kind::Routing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Address => "address",
            Kind::MessageId => "message_id",
            Kind::PayloadHash => "payload_hash",
            Kind::CanonicalString => "canonical_string",
            Kind::Signature => "signature",
            Kind::Fingerprint => "fingerprint",
            Kind::WebhookHmac => "webhook_hmac",
            Kind::FederationSignature => "federation_signature",
            Kind::Replay => "replay",
            Kind::Attachment => "attachment",
            Kind::ScanStatus => "scan_status",
            Kind::AgentCard => "agent_card",
            Kind::Routing => "routing",
        }
    }

    /// Kinds whose outcome a provider's behaviour can reveal: `run --target` turns their cases
    /// into live trials (the `amp-suites` module `live_vectors`). A file of another kind must
    /// say `"live": false` with a `live_reason` (the lint enforces it), so a kind never goes
    /// silently untested against providers.
    pub fn runs_live(self) -> bool {
        matches!(
            self,
            Kind::Address
                | Kind::MessageId
                | Kind::PayloadHash
                | Kind::CanonicalString
                | Kind::Signature
                | Kind::WebhookHmac
                | Kind::FederationSignature
                | Kind::Replay
                | Kind::Routing
        )
    }

    /// Only these kinds depend on the payload profile; `profiles` overrides elsewhere are lint
    /// errors because a runner would silently ignore them.
    pub fn profile_dependent(self) -> bool {
        matches!(
            self,
            Kind::PayloadHash | Kind::CanonicalString | Kind::Signature
        )
    }

    /// Input alternatives: every inner slice lists fields that must all be present; at least one
    /// alternative must match.
    pub fn required_inputs(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::Address => &[&["address"]],
            Kind::MessageId => &[&["id"]],
            Kind::PayloadHash => &[&["payload"], &["serialized"]],
            Kind::CanonicalString => &[
                &["from", "to", "subject", "payload"],
                &["from", "to", "subject", "payload_hash"],
            ],
            Kind::Signature => &[&["public_key", "fields", "signature"]],
            Kind::Fingerprint => &[&["public_key"], &["public_key_pem"]],
            Kind::WebhookHmac => &[&[
                "secret",
                "timestamp",
                "body",
                "signature",
                "now",
                "window_secs",
            ]],
            Kind::FederationSignature => &[&[
                "public_key",
                "timestamp",
                "body",
                "signature",
                "now",
                "window_secs",
            ]],
            Kind::Replay => &[&["policy", "id", "timestamp", "now", "seen_before"]],
            Kind::Attachment => &[&["storage", "attachment"]],
            Kind::ScanStatus => &[&["value"]],
            Kind::AgentCard => &[&["card", "now"]],
            Kind::Routing => &[&["provider", "sender", "agents", "to"]],
        }
    }

    /// Fields `expected` must carry whatever the result (the runner compares them exactly).
    pub fn always_expected(self) -> &'static [&'static str] {
        match self {
            Kind::MessageId => &["schema", "strict"],
            Kind::Signature | Kind::FederationSignature => &["strict", "lax"],
            Kind::WebhookHmac => &["signature"],
            Kind::AgentCard => &["signing_input"],
            Kind::Routing => &["decision"],
            _ => &[],
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A case's graded outcome (see vectors/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Must succeed with exactly the expected outputs.
    Valid,
    /// Must fail.
    Invalid,
    /// Valid under some reading: strict rejects and lax accepts (signature kinds, message ids),
    /// otherwise either outcome passes. The case's flags say why.
    Acceptable,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Acceptable => "acceptable",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A payload-profile override of a case's `result` / `expected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileExpectation {
    pub result: Verdict,
    #[serde(default)]
    pub expected: Map<String, Value>,
}

/// One test vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    pub description: String,
    /// Catalogue requirement ids and contradiction records (`C-nn`).
    pub clauses: Vec<String>,
    #[serde(default)]
    pub flags: Vec<String>,
    pub input: Map<String, Value>,
    pub result: Verdict,
    #[serde(default)]
    pub expected: Map<String, Value>,
    /// Keyed by payload profile name (`sorted`, `jcs`, `insertion`, `python-ascii`); the lint
    /// refuses other keys.
    #[serde(default)]
    pub profiles: Map<String, Value>,
    /// `false` when this case cannot run against a provider although its kind can (see
    /// [`Case::live`]); `live_reason` then says why.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub live: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_reason: Option<String>,
    /// The exact JSON text of every `input` field as written in the file (key order, number
    /// text and escapes preserved), so live trials can send a payload byte for byte.
    #[serde(skip)]
    pub raw_input: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Whether a file or case runs against providers, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live<'a> {
    /// `run --target` turns it into a live trial.
    Runs,
    /// Checked against amp-core only, for the reason given.
    CoreOnly(&'a str),
}

impl Case {
    /// Whether this case runs live (the file's setting wins when the file is core-only).
    pub fn live(&self) -> Live<'_> {
        if self.live {
            Live::Runs
        } else {
            Live::CoreOnly(self.live_reason.as_deref().unwrap_or("no reason given"))
        }
    }

    /// The raw JSON text of input field `k`, as written in the file.
    pub fn raw(&self, k: &str) -> Option<&str> {
        self.raw_input.get(k).map(String::as_str)
    }

    /// The result and expectation that apply under `profile`: the override when one exists and
    /// the case's kind depends on the profile, else the top-level (sorted) values.
    pub fn expectation_for(
        &self,
        kind: Kind,
        profile: amp_core::PayloadProfile,
    ) -> Result<(Verdict, Map<String, Value>), String> {
        if kind.profile_dependent()
            && let Some(v) = self.profiles.get(profile.name())
        {
            let p: ProfileExpectation = serde_json::from_value(v.clone()).map_err(|e| {
                format!(
                    "profiles.{} is not {{result, expected}}: {e}",
                    profile.name()
                )
            })?;
            return Ok((p.result, p.expected));
        }
        Ok((self.result, self.expected.clone()))
    }
}

/// One vector file (one topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    /// File name the vectors came from (`signature.json`); not part of the JSON.
    #[serde(skip)]
    pub name: String,
    pub schema: String,
    pub topic: String,
    pub kind: Kind,
    pub description: String,
    pub source: String,
    /// Public test keys (seed, hex, PEM), flag `test-key`.
    #[serde(default)]
    pub keys: Map<String, Value>,
    /// Flag name → why cases carrying it are special.
    #[serde(default)]
    pub flags: Map<String, Value>,
    /// `false` when no case of this file can run against a provider (see [`VectorFile::live`]).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub live: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_reason: Option<String>,
    pub cases: Vec<Case>,
}

impl VectorFile {
    /// Whether the file's cases run live: core-only files say why.
    pub fn live(&self) -> Live<'_> {
        if self.live {
            Live::Runs
        } else {
            Live::CoreOnly(self.live_reason.as_deref().unwrap_or("no reason given"))
        }
    }

    /// Whether `case` of this file runs live: the file's core-only reason wins, then the
    /// case's own.
    pub fn case_live<'a>(&'a self, case: &'a Case) -> Live<'a> {
        match self.live() {
            Live::Runs => case.live(),
            core_only => core_only,
        }
    }

    /// The file name without `.json`: the first half of every trial name.
    pub fn stem(&self) -> &str {
        self.name.strip_suffix(".json").unwrap_or(&self.name)
    }

    /// `<stem>::<case-id>`.
    pub fn trial_name(&self, case: &Case) -> String {
        format!("{}::{}", self.stem(), case.id)
    }
}

/// Why a vector file could not be loaded or parsed.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("cannot read vector file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("vector file {path} is larger than {limit} bytes: not a vector file")]
    TooLarge { path: String, limit: u64 },
    #[error("{name}: not a valid vector file: {source} (format: vectors/README.md)")]
    Json {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{name}: `schema` is {found:?}; this runner reads {SCHEMA_ID:?} files only")]
    Schema { name: String, found: String },
}

pub(crate) fn parse(name: &str, bytes: &[u8]) -> Result<VectorFile, VectorError> {
    let mut file: VectorFile =
        serde_json::from_slice(bytes).map_err(|source| VectorError::Json {
            name: name.to_string(),
            source,
        })?;
    if file.schema != SCHEMA_ID {
        return Err(VectorError::Schema {
            name: name.to_string(),
            found: file.schema.chars().take(80).collect(),
        });
    }
    file.name = name.to_string();
    attach_raw_inputs(&mut file, bytes).map_err(|source| VectorError::Json {
        name: name.to_string(),
        source,
    })?;
    Ok(file)
}

/// Reads the file a second time, keeping every case's input fields as raw JSON text.
fn attach_raw_inputs(file: &mut VectorFile, bytes: &[u8]) -> Result<(), serde_json::Error> {
    #[derive(Deserialize)]
    struct RawFile<'a> {
        #[serde(borrow)]
        cases: Vec<RawCase<'a>>,
    }
    #[derive(Deserialize)]
    struct RawCase<'a> {
        #[serde(borrow)]
        input: BTreeMap<String, &'a RawValue>,
    }
    let raw: RawFile<'_> = serde_json::from_slice(bytes)?;
    for (case, raw) in file.cases.iter_mut().zip(raw.cases) {
        case.raw_input = raw
            .input
            .into_iter()
            .map(|(k, v)| (k, v.get().to_string()))
            .collect();
    }
    Ok(())
}
