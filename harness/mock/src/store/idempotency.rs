//! Idempotency records (IDEM-004/005): per sender and key, the request body and the answer it
//! got, so a retry with the same body gets the same answer.

use crate::wire::RouteOutcome;
use serde_json::Value;
use std::collections::HashMap;

/// One remembered route request.
#[derive(Debug, Clone)]
pub(crate) struct IdemRecord {
    pub request: Value,
    pub outcome: RouteOutcome,
}

/// Records by (sender agent id, idempotency key).
#[derive(Debug, Default)]
pub(crate) struct IdempotencyStore {
    records: HashMap<(String, String), IdemRecord>,
}

impl IdempotencyStore {
    /// The record of `agent_id`'s `key`, if one is kept.
    pub(crate) fn get(&self, agent_id: &str, key: &str) -> Option<&IdemRecord> {
        self.records.get(&(agent_id.to_string(), key.to_string()))
    }
    /// Remember `record`; with `latest_only` the agent's earlier records are forgotten first.
    pub(crate) fn remember(
        &mut self,
        agent_id: &str,
        key: String,
        record: IdemRecord,
        latest_only: bool,
    ) {
        if latest_only {
            self.forget_agent(agent_id);
        }
        self.records.insert((agent_id.to_string(), key), record);
    }
    /// Drop every record of an agent (deregistration).
    pub(crate) fn forget_agent(&mut self, agent_id: &str) {
        self.records.retain(|(aid, _), _| aid != agent_id);
    }
}
