//! Registered agents and their API keys (spec 03 registration, REG-019/020/023, SEC-005).

use crate::wire::AgentRef;
use amp_core::signing::PublicKey;
use serde_json::Value;

/// REG-023: a deregistered address is blocked for 30 days.
pub const NAME_BLOCK_SECS: i64 = 30 * 24 * 3600;

/// Stored agent record.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub agent_id: String,
    pub name: String,
    pub tenant: String,
    pub tenant_id: String,
    pub address: String,
    pub alias: Option<String>,
    pub public_key: PublicKey,
    pub public_key_pem: String,
    pub key_algorithm: String,
    pub fingerprint: String,
    pub webhook_url: Option<url::Url>,
    pub webhook_secret: Option<String>,
    pub prefer_websocket: bool,
    pub metadata: Option<Value>,
    pub capabilities: Option<Value>,
    pub registered_at: i64,
    pub last_seen_at: i64,
    /// Plaintext API key, kept ONLY when the `api-key-in-me` defect is planted.
    pub api_key_plain: Option<String>,
    /// Public keys superseded by `rotate-keys` (REV-001).
    pub revoked_public_keys: Vec<PublicKey>,
}

impl Agent {
    /// The transport view of the record.
    pub fn as_ref(&self) -> AgentRef {
        AgentRef {
            agent_id: self.agent_id.clone(),
            address: self.address.clone(),
            name: self.name.clone(),
            tenant: self.tenant.clone(),
        }
    }
}

/// Stored API key (hashed).
#[derive(Debug, Clone)]
pub(crate) struct KeyRecord {
    pub agent_id: String,
    /// Set by rotate-key on the previous key (REG-019).
    pub valid_until: Option<i64>,
}
