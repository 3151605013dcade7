//! Wire types: the JSON shapes the provider sends and the values that cross layers
//! (an agent as transport code sees it, a queued message, a push event, a route answer).
//!
//! Leaf module: it depends on amp-core only, so every layer (store, live registry, service,
//! http) can use it without importing one another.

use amp_core::envelope::{Envelope, Message};
use serde_json::{Map, Value, json};

/// A registered agent as seen by transport code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgentRef {
    /// Provider-assigned id (`agt_…`).
    pub agent_id: String,
    /// Full lowercase address `name@tenant.provider`.
    pub address: String,
    /// Agent name (local part).
    pub name: String,
    /// Tenant (scope).
    pub tenant: String,
}

/// Trust classification of a delivered message (TRUST-001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trust {
    /// Valid signature, same tenant.
    Verified,
    /// Valid signature, other tenant or provider.
    External,
    /// Invalid or missing signature.
    Untrusted,
}

impl Trust {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Verified => "verified",
            Trust::External => "external",
            Trust::Untrusted => "untrusted",
        }
    }
}

/// Top-level `security` block of a delivered message (MSG-013 / TRUST-007, C-32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityMeta {
    /// Trust classification.
    pub trust_level: Trust,
    /// Whether `payload.message` was wrapped.
    pub wrapped: bool,
}

impl SecurityMeta {
    /// JSON form `{trust_level, wrapped}`.
    pub fn to_json(self) -> Value {
        json!({"trust_level": self.trust_level.as_str(), "wrapped": self.wrapped})
    }
}

/// One message in a recipient's relay mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedMessage {
    /// Envelope id (key for ack/read).
    pub id: String,
    /// The envelope as delivered.
    pub envelope: Envelope,
    /// The payload as delivered (possibly wrapped, see [`SecurityMeta`]).
    pub payload: Value,
    /// Trust marker delivered next to envelope and payload.
    pub security: Option<SecurityMeta>,
    /// RFC 3339 queue time.
    pub queued_at: String,
    /// RFC 3339 expiry (RTE-016).
    pub expires_at: String,
    /// Queue time in unix seconds.
    pub queued_at_unix: i64,
    /// Expiry in unix seconds.
    pub expires_at_unix: i64,
}

impl QueuedMessage {
    /// `{envelope, payload, security?}`: the body of WS `message.new` data and webhook POSTs.
    pub fn message_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "envelope".into(),
            serde_json::to_value(&self.envelope).unwrap_or(Value::Null),
        );
        m.insert("payload".into(), self.payload.clone());
        if let Some(s) = self.security {
            m.insert("security".into(), s.to_json());
        }
        Value::Object(m)
    }

    /// Pending-list entry `{id, envelope, payload, queued_at, expires_at, security?}` (RTE-015).
    pub fn pending_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert(
            "envelope".into(),
            serde_json::to_value(&self.envelope).unwrap_or(Value::Null),
        );
        m.insert("payload".into(), self.payload.clone());
        m.insert("queued_at".into(), json!(self.queued_at));
        m.insert("expires_at".into(), json!(self.expires_at));
        if let Some(s) = self.security {
            m.insert("security".into(), s.to_json());
        }
        Value::Object(m)
    }

    /// As a core [`Message`].
    pub fn to_message(&self) -> Message {
        Message {
            envelope: self.envelope.clone(),
            payload: self.payload.clone(),
        }
    }
}

/// Live-connection event pushed to a WebSocket (contract `PushEvent`).
// Events live briefly in a bounded channel; boxing the common variant would only add an
// allocation per push.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PushEvent {
    /// `message.new`; `replay` marks messages replayed on connect (NOTIFY-012).
    MessageNew {
        /// The queued message.
        message: QueuedMessage,
        /// True for replays of already-queued messages.
        replay: bool,
    },
    /// `message.delivered` receipt for the sender (RTE-021).
    Delivered {
        /// Message id.
        id: String,
        /// Recipient address.
        to: String,
        /// RFC 3339 delivery time.
        delivered_at: String,
        /// Delivery method.
        method: String,
    },
    /// `message.read` receipt for the sender (RTE-022).
    Read {
        /// Message id.
        id: String,
        /// RFC 3339 read time.
        read_at: String,
    },
}

/// Identifies one live WS connection.
pub type ConnId = u64;

/// Result of acknowledging one message (NOTIFY-009).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckResult {
    /// The message moved `queued` → `acked` now.
    Acked,
    /// It was acked before; the transition is idempotent.
    AlreadyAcked,
}

/// Which surface an acknowledgement came through (each has its own planted cross-agent defect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckVia {
    /// `DELETE /messages/pending/{id}`.
    Delete,
    /// `POST /messages/pending/ack`.
    Batch,
    /// WebSocket `message.ack` / `ack`.
    WebSocket,
}

/// Route response (RTE-003, NOTIFY-001).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Envelope id.
    pub id: String,
    /// `delivered` or `queued`.
    pub status: String,
    /// `websocket`, `webhook` or `relay`.
    pub method: String,
    /// Set when a live socket took the message.
    pub delivered_at: Option<String>,
    /// notify:v1 delivery basis (`queued`, `socket_written`, `webhook_2xx`).
    pub basis: String,
}

impl RouteOutcome {
    /// JSON body of the route response.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("status".into(), json!(self.status));
        m.insert("method".into(), json!(self.method));
        if let Some(d) = &self.delivered_at {
            m.insert("delivered_at".into(), json!(d));
        }
        m.insert("basis".into(), json!(self.basis));
        Value::Object(m)
    }
}
