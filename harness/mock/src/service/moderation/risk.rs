//! The risk score (spec 07 › Risk Scoring, 08 › Get Agent Risk Score; RISK-001..003, ADM-007,
//! C-35) over the screening verdicts of the last 24 hours.

use crate::defects::Defect;
use crate::error::ApiError;
use crate::policy::RiskWeights;
use crate::service::AppState;
use crate::store::moderation::{RISK_WINDOW_SECS, Verdict};
use serde_json::{Value, json};

impl AppState {
    /// The risk score of an agent over the last 24 h, with its suspension record (ADM-007,
    /// RISK-001..003, SUS-006).
    pub(crate) fn risk_report(&self, agent_id: &str) -> Result<Value, ApiError> {
        let agent = self.agent_by_id(agent_id)?;
        let now = self.clock().now_unix();
        let mut b = Breakdown::default();
        if let Some(list) = self.lock().moderation.events.get(&agent.agent_id) {
            for (t, v) in list {
                if now - *t >= RISK_WINDOW_SECS {
                    continue;
                }
                b.total_messages += 1;
                match v {
                    Verdict::Clean => {}
                    Verdict::Flagged => b.flagged += 1,
                    Verdict::Quarantined => b.quarantined += 1,
                    Verdict::Blocked => b.blocked += 1,
                }
            }
        }
        let score = if self.has(Defect::RiskRaw) {
            raw_risk_score(b, self.policy().risk_weights)
        } else {
            risk_score(b, self.policy().risk_weights)
        };
        // SUS-006: the suspension record, when there is one (expiry checked now, SUS-005).
        let record = self
            .lock()
            .moderation
            .suspension(&agent.agent_id, now)
            .map(|s| {
                json!({
                    "reason": s.reason,
                    "suspended_by": "admin",
                    "suspended_at": amp_core::format_rfc3339(s.suspended_at),
                    "expires_at": s.expires_at.map(amp_core::format_rfc3339),
                })
            });
        let suspended = record.is_some();
        Ok(json!({
            "agent_id": agent.agent_id,
            "risk_score": score,
            "risk_level": risk_level(score),
            "window": "24h",
            "breakdown": {
                "total_messages": b.total_messages,
                "blocked": b.blocked,
                "quarantined": b.quarantined,
                "flagged": b.flagged,
            },
            "suspended": suspended,
            "suspension": record,
            "computed_at": amp_core::format_rfc3339(now),
        }))
    }
}

/// Counts in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown {
    pub total_messages: u64,
    pub blocked: u64,
    pub quarantined: u64,
    pub flagged: u64,
}

/// RISK-001: `(blocked×3 + quarantined×2 + flagged) / total × 100`, 0 without messages, rounded
/// to the nearest integer (half up) and clamped to 0–100 (C-35: the formula reaches 300, the
/// API documents an integer 0–100; this mock takes the clamp reading).
pub fn risk_score(b: Breakdown, w: RiskWeights) -> u64 {
    raw_risk_score(b, w).min(100)
}

/// [`risk_score`] without the clamp (up to 300 with the spec's weights): the raw reading of C-35
/// that the `risk-raw` defect answers.
pub fn raw_risk_score(b: Breakdown, w: RiskWeights) -> u64 {
    if b.total_messages == 0 {
        return 0;
    }
    let weighted = b.blocked * w.blocked + b.quarantined * w.quarantined + b.flagged * w.flagged;
    (weighted * 100 + b.total_messages / 2) / b.total_messages
}

/// RISK-003 levels.
pub fn risk_level(score: u64) -> &'static str {
    match score {
        0..=10 => "low",
        11..=30 => "medium",
        31..=60 => "high",
        _ => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_weights_clamps_and_handles_zero() {
        let b = |t, bl, q, f| Breakdown {
            total_messages: t,
            blocked: bl,
            quarantined: q,
            flagged: f,
        };
        assert_eq!(risk_score(b(0, 0, 0, 0), RiskWeights::SPEC), 0);
        assert_eq!(risk_score(b(5, 0, 1, 1), RiskWeights::SPEC), 60);
        assert_eq!(risk_score(b(5, 0, 1, 1), RiskWeights::FLAT), 40);
        assert_eq!(risk_score(b(10, 1, 0, 0), RiskWeights::SPEC), 30);
        assert_eq!(risk_score(b(1, 1, 0, 0), RiskWeights::SPEC), 100);
        assert_eq!(raw_risk_score(b(1, 1, 0, 0), RiskWeights::SPEC), 300);
        assert_eq!(risk_score(b(3, 0, 0, 1), RiskWeights::SPEC), 33);
        assert_eq!(risk_level(10), "low");
        assert_eq!(risk_level(11), "medium");
        assert_eq!(risk_level(60), "high");
        assert_eq!(risk_level(61), "critical");
    }
}
