//! The operation model: what a lane does, as data.
//!
//! Operations are symbolic where the run's facts are not known in advance (agents are named by
//! index, message ids by "the n-th id this agent has seen"), so a saved operation list replays
//! against fresh agents and new message ids. Everything else (subjects, payloads, mutations, raw
//! bodies) is concrete.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One step of a lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `POST /route` (boxed: a route is much larger than the other operations).
    Route(Box<RouteOp>),
    /// Send the exact bytes of this agent's previous route body again.
    Resend { sender: u8 },
    /// `GET /messages/pending?limit=N`, or without `limit` (the provider's default page).
    Pending {
        agent: u8,
        /// Saved reproducers from before this field listed 100.
        #[serde(default = "pending_limit_before_it_varied")]
        limit: Option<u8>,
    },
    /// `DELETE /messages/pending/{id}`.
    Ack { agent: u8, target: AckTarget },
    /// `POST /messages/pending/ack {"ids": [...]}`.
    AckBatch { agent: u8, targets: Vec<AckTarget> },
    /// `POST /messages/pending/ack` with every id this agent has seen and not yet acknowledged
    /// (at most 100, oldest first): what a client does after a pickup. It also keeps mailboxes
    /// short, so a pending page costs the target (and the oracle) about what it costs a real
    /// client instead of growing with the run.
    AckSeen { agent: u8 },
    /// A malformed body to a JSON endpoint.
    Raw(RawOp),
    /// One WebSocket connection carrying a frame sequence.
    Ws(WsOp),
}

fn pending_limit_before_it_varied() -> Option<u8> {
    Some(100)
}

impl Op {
    /// Short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Route(_) => "route",
            Op::Resend { .. } => "resend",
            Op::Pending { .. } => "pending",
            Op::Ack { .. } => "ack",
            Op::AckBatch { .. } => "ack_batch",
            Op::AckSeen { .. } => "ack_seen",
            Op::Raw(_) => "raw",
            Op::Ws(_) => "ws",
        }
    }
}

/// Which message id an ack names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AckTarget {
    /// The n-th (mod count) id this agent has seen in its own pending lists or pushes;
    /// may already be acked (ack twice).
    Seen { n: u16 },
    /// The n-th id another agent has seen (ack another agent's message).
    OtherAgents { n: u16 },
    /// An id nobody was given.
    Unknown { id: String },
}

/// Recipient of a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum To {
    /// One of the lane's agents (index mod agent count).
    Agent { n: u8 },
    /// A lane agent's address with changed letter case (addresses are case-insensitive).
    AgentUpper { n: u8 },
    /// An unregistered name in the lane's own tenant (never another party's agent).
    Missing { name: String },
}

/// A signed field that can be changed after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedField {
    To,
    Subject,
    Priority,
    InReplyTo,
    PayloadMessage,
    PayloadType,
    PayloadExtra,
}

/// Changes to the signature text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SigText {
    /// Flip one bit of the decoded signature.
    BitFlip { byte: u8, bit: u8 },
    /// Same bytes, base64url alphabet (may be identical when no `+`/`/` occurs).
    UrlSafe,
    /// Same bytes, `=` padding removed.
    NoPadding,
    /// Same bytes, a space inserted.
    Whitespace { at: u8 },
    /// Same bytes, hex instead of base64.
    Hex,
    /// Cut to `len` characters.
    Truncate { len: u8 },
    /// Arbitrary text.
    Garbage { text: String },
    /// A JSON value of the wrong type instead of a string.
    WrongType { value: Value },
    /// Signature of another (valid) message by the same key.
    OtherMessage,
}

/// Where the body goes wrong, if anywhere. Applied after signing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mutation {
    /// Correctly signed.
    None,
    /// No `signature` field.
    Unsigned,
    /// Change a signed field after signing.
    AlterAfterSigning { field: SignedField, value: String },
    /// Change the signature text.
    Signature { text: SigText },
    /// Send `from` = another lane agent; `sign_as_spoofed` signs over that address.
    SpoofFrom { n: u8, sign_as_spoofed: bool },
    /// Signed with another lane agent's key.
    OtherKey { n: u8 },
    /// Add unsigned fields (`id`, `timestamp`, `thread_id`, unknown keys): must not matter.
    ExtraFields { fields: Vec<(String, Value)> },
    /// Replace a top-level or payload field with a value of another type.
    WrongType { field: String, value: Value },
    /// Remove a field (`to`, `subject`, `payload`, `payload.type`, `payload.message`).
    Missing { field: String },
    /// Boundary sizes: subject or message of exactly `len` characters/bytes.
    Size { what: SizeField, len: u32 },
    /// Textual edits of the serialised body.
    Text { edit: TextEdit },
}

/// Sized fields for [`Mutation::Size`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeField {
    Subject,
    Message,
    /// Padding in an unsigned top-level field so the whole body reaches `len` bytes.
    Body,
}

/// Raw-text edits of a serialised route body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TextEdit {
    /// Repeat a top-level key with another value (`{"subject":"a",...,"subject":"b"}`).
    DuplicateKey { key: String, value: Value },
    /// Repeat a key inside the payload.
    DuplicatePayloadKey { key: String },
    /// Keep only the first `len` bytes.
    Truncate { len: u32 },
    /// Insert bytes at an offset (mod length).
    Insert { at: u32, bytes: Vec<u8> },
}

/// A route request, before signing and mutation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteOp {
    pub sender: u8,
    pub to: To,
    pub subject: String,
    /// Sent verbatim when present; signed as the parsed priority (or `normal`).
    pub priority: Option<String>,
    pub in_reply_to: Option<String>,
    pub payload: Value,
    pub idempotency_key: Option<String>,
    pub mutation: Mutation,
}

/// JSON endpoints that take a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    Route,
    Register,
    BatchAck,
    PatchMe,
    RotateKeys,
    FederationDeliver,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Route,
        Endpoint::Register,
        Endpoint::BatchAck,
        Endpoint::PatchMe,
        Endpoint::RotateKeys,
        Endpoint::FederationDeliver,
    ];
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::PatchMe => "PATCH",
            _ => "POST",
        }
    }
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Route => "/route",
            Endpoint::Register => "/register",
            Endpoint::BatchAck => "/messages/pending/ack",
            Endpoint::PatchMe => "/agents/me",
            Endpoint::RotateKeys => "/auth/rotate-keys",
            Endpoint::FederationDeliver => "/federation/deliver",
        }
    }
}

/// A malformed body (never strict JSON: the generator guarantees it) to a JSON endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawOp {
    pub endpoint: Endpoint,
    /// Agent whose API key is sent; `None` sends no Authorization header.
    pub auth: Option<u8>,
    pub content_type: Option<String>,
    /// Body bytes as text where possible (readable reproducers), else base64-free byte list.
    pub body: RawBody,
}

/// Raw body bytes; text when valid UTF-8 so reproducers stay readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawBody {
    Text(String),
    Bytes(Vec<u8>),
}

impl RawBody {
    pub fn from_bytes(b: Vec<u8>) -> RawBody {
        match String::from_utf8(b) {
            Ok(s) => RawBody::Text(s),
            Err(e) => RawBody::Bytes(e.into_bytes()),
        }
    }
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            RawBody::Text(s) => s.clone().into_bytes(),
            RawBody::Bytes(b) => b.clone(),
        }
    }
}

/// One WebSocket connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsOp {
    pub agent: u8,
    pub subprotocol: bool,
    /// Also put the agent's API key in the URL (`?token=`): it must not authenticate (WS-001).
    #[serde(default)]
    pub token_in_url: bool,
    pub frames: Vec<WsFrame>,
}

/// Client frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WsFrame {
    /// `{"type":"auth","token":<own api key>}`.
    Auth,
    /// `{"type":"auth","token":<text>}` with a wrong token.
    BadAuth { token: String },
    /// `{"type":"ping"}`.
    Ping,
    /// `{"type":"route","data":<body>}`; the route's sender is the connection's agent.
    Route { route: Box<RouteOp> },
    /// `{"type":"message.ack"|"ack","id":...}`.
    Ack { target: AckTarget, legacy: bool },
    /// Arbitrary text.
    Text { text: String },
    /// A binary frame.
    Binary { bytes: Vec<u8> },
}
