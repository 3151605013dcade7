//! Agent cards uploaded by their agents (CARD-006), by agent id.

use serde_json::Value;
use std::collections::HashMap;

/// Uploaded cards by agent id.
#[derive(Debug, Default)]
pub struct CardStore {
    cards: HashMap<String, Value>,
}

impl CardStore {
    /// The card `agent_id` uploaded last, if any.
    pub fn get(&self, agent_id: &str) -> Option<Value> {
        self.cards.get(agent_id).cloned()
    }
    /// Keep `card` as `agent_id`'s card (replacing an earlier one).
    pub fn insert(&mut self, agent_id: &str, card: Value) {
        self.cards.insert(agent_id.to_string(), card);
    }
}
