//! An agent the run registered: its address, API key and signing key.

use amp_client::Secret;
use amp_core::signing::SecretKey;
use serde_json::Value;

/// An agent registered at the target for this run. Deregistered at the end of the run
/// unless a case deregistered it already ([`Ctx::deregister`]).
pub struct Agent {
    /// Full address as the target returned it.
    pub address: String,
    pub api_key: Secret,
    pub key: SecretKey,
    pub agent_id: Option<String>,
    /// Fingerprint as the target returned it.
    pub fingerprint: Option<String>,
    pub tenant: String,
    /// The local name this run asked for.
    pub name: String,
    /// The registration response body (redacted: `api_key` replaced).
    pub registration: Value,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("address", &self.address)
            .field("api_key", &self.api_key)
            .field("agent_id", &self.agent_id)
            .field("tenant", &self.tenant)
            .finish()
    }
}

impl Agent {
    /// `Bearer <api key>`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.api_key.expose())
    }

    /// The agent's public key as SPKI PEM (what was registered).
    pub fn public_key_pem(&self) -> String {
        self.key.public_key().to_spki_pem()
    }
}
