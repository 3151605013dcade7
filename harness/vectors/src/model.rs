//! The typed vector-file model. Kind and result values are enums so a file with an unknown kind
//! or result is refused at parse time with the offending value named; the linter then checks
//! what a type cannot (unique ids, known clauses, defined flags, required inputs).

use std::fmt;

use serde::{Deserialize, Serialize};
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
}

impl Kind {
    pub const ALL: [Kind; 12] = [
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
        }
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
        }
    }

    /// Fields `expected` must carry whatever the result (the runner compares them exactly).
    pub fn always_expected(self) -> &'static [&'static str] {
        match self {
            Kind::MessageId => &["schema", "strict"],
            Kind::Signature | Kind::FederationSignature => &["strict", "lax"],
            Kind::WebhookHmac => &["signature"],
            Kind::AgentCard => &["signing_input"],
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
}

impl Case {
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
    pub cases: Vec<Case>,
}

impl VectorFile {
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
    Ok(file)
}
