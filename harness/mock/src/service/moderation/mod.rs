//! Moderation rules: content screening with quarantine (spec 07 › Message Quarantine, 08 ›
//! Quarantine Management), agent suspension (07 › Behavior When Suspended, 08 › Agent
//! Suspension) and the per-agent risk score (07 › Risk Scoring, 08 › Get Agent Risk Score).
//!
//! The admin endpoints that call these operations (`crate::http::admin`) authenticate with one
//! provider-wide admin bearer key ([`crate::MockConfig::admin_key`], random when unset); an
//! ordinary agent API key is refused with `403 forbidden`, an unknown key with
//! `401 unauthorized` (ADM-001, `crate::http::extract::AdminAuthed`).
//!
//! Screening is a deliberately small, fixed pattern list (Appendix A categories 1, 2 and 5):
//! the suite needs a payload that a provider is likely to quarantine, not a real detector. The
//! phrases are specific on purpose ("ignore *all* previous instructions"): other cases send
//! milder injection-looking text to test wrapping (TRUST-002) and expect it delivered.
//! Verdicts follow QTN-003's default mapping: critical → refuse (403), high → quarantine (202),
//! medium → flag and deliver, none → deliver. Rule names are kept for the admin view only and
//! never reach the sender (QTN-007).
//!
//! Time is read from the injectable clock: quarantine TTL (72 h, QTN-006), suspension expiry
//! (checked on every request, SUS-005) and the 24 h risk window (RISK-001) all move with
//! `Clock::advance`.
//!
//! The records themselves live in [`crate::store::moderation`].
//!
//! | module | concern |
//! |---|---|
//! | [`screening`] | the pattern list, the verdict for a message, its record for the risk score |
//! | [`quarantine`] | listing, reading, approving and rejecting held messages (ADM-002..005) |
//! | this module | suspension: the checks on sending, receiving and pickup, and the admin operations |
//! | [`risk`] | the risk score and level (RISK-001..003, ADM-007) |

pub mod quarantine;
pub mod risk;
pub mod screening;

pub use crate::store::moderation::QStatus;
pub(crate) use screening::{quarantined_body, screen};

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::store::moderation::Suspension;
use crate::wire::AgentRef;
use serde_json::{Value, json};

impl AppState {
    /// Is the agent suspended right now? (Expiry checked on every call, SUS-005.)
    pub fn is_suspended(&self, agent_id: &str) -> bool {
        let now = self.clock().now_unix();
        self.lock().moderation.suspension(agent_id, now).is_some()
    }

    /// An agent by provider id, for the admin endpoints.
    pub(crate) fn agent_by_id(&self, agent_id: &str) -> Result<AgentRef, ApiError> {
        self.lock()
            .agents
            .get(agent_id)
            .map(|a| a.as_ref())
            .ok_or_else(|| ApiError::not_found(format!("no agent with id `{agent_id}`")))
    }

    /// Suspend an agent (ADM-006, SUS-001..006): record, and close its live sockets (WS-014).
    pub(crate) fn suspend(
        &self,
        agent_id: &str,
        reason: String,
        hours: Option<u64>,
    ) -> Result<Value, ApiError> {
        let agent = self.agent_by_id(agent_id)?;
        let now = self.clock().now_unix();
        let expires_at =
            hours.map(|h| now.saturating_add(i64::try_from(h * 3600).unwrap_or(i64::MAX)));
        {
            let mut db = self.lock();
            db.moderation.suspensions.insert(
                agent.agent_id.clone(),
                Suspension {
                    suspended_at: now,
                    reason: reason.clone(),
                    expires_at,
                },
            );
            if self.has(Defect::SuspensionDropsQueue)
                && let Some(mb) = db.mailboxes.get_mut(&agent.agent_id)
            {
                mb.entries.clear();
            }
        }
        // WS-014: live sockets are closed (the socket task sees its channel end and, the agent being
        // suspended, closes with 4003 `agent_suspended`).
        if !self.has(Defect::WsOpenWhenSuspended) {
            self.live().disconnect(&agent.agent_id);
        }
        Ok(json!({
            "agent_id": agent.agent_id,
            "address": agent.address,
            "suspended": true,
            "reason": reason,
            "suspended_by": "admin",
            "suspended_at": amp_core::format_rfc3339(now),
            "expires_at": expires_at.map(amp_core::format_rfc3339),
        }))
    }

    /// Lift a suspension (ADM-006).
    pub(crate) fn unsuspend(&self, agent_id: &str) -> Result<Value, ApiError> {
        let agent = self.agent_by_id(agent_id)?;
        let now = self.clock().now_unix();
        self.lock().moderation.suspensions.remove(&agent.agent_id);
        Ok(json!({
            "agent_id": agent.agent_id,
            "suspended": false,
            "unsuspended_at": amp_core::format_rfc3339(now),
        }))
    }
}

/// SUS-001: a suspended agent may not send.
pub(crate) fn check_sender(state: &AppState, sender: &AgentRef) -> Result<(), ApiError> {
    if state.is_suspended(&sender.agent_id) && !state.has(Defect::SuspendedSenderRoutes) {
        return Err(ApiError::new(
            403,
            "agent_suspended",
            "this agent is suspended and may not send messages until an admin lifts the suspension or it expires",
        ));
    }
    Ok(())
}

/// SUS-002: nothing new is accepted for a suspended recipient.
pub(crate) fn check_recipient(state: &AppState, recipient: &AgentRef) -> Result<(), ApiError> {
    if state.is_suspended(&recipient.agent_id) && !state.has(Defect::SuspendedRecipientAccepts) {
        return Err(ApiError::new(
            403,
            "recipient_suspended",
            "the recipient is suspended and cannot receive messages right now",
        )
        .with_field("to"));
    }
    Ok(())
}

/// SUS-003: a suspended agent may not pick up its relay queue (messages stay, SUS-004).
pub(crate) fn check_pickup(state: &AppState, agent: &AgentRef) -> Result<(), ApiError> {
    if state.is_suspended(&agent.agent_id) && !state.has(Defect::SuspendedPickup) {
        return Err(ApiError::new(
            403,
            "agent_suspended",
            "this agent is suspended: its queued messages are kept and can be picked up after the suspension ends",
        ));
    }
    Ok(())
}
