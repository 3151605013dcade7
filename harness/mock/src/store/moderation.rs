//! Moderation records: the quarantine of held messages (QTN-004..006), suspensions (SUS-005/006)
//! and the screening verdicts the risk score counts (RISK-001).

use crate::wire::{AgentRef, Trust};
use amp_core::envelope::Envelope;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

/// RISK-001: the rolling window of the risk score.
pub const RISK_WINDOW_SECS: i64 = 24 * 3600;
/// Hard cap on quarantine entries kept (oldest decided entries are dropped first).
pub(crate) const QUARANTINE_CAP: usize = 10_000;
/// Hard cap on risk events kept per agent (older ones are dropped first).
const RISK_EVENTS_CAP: usize = 10_000;

/// Severity of a screening rule (QTN-005 names: `warning`, `high`, `critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    High,
    Critical,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What screening decided for one message (also the risk-score category).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Flagged,
    Quarantined,
    Blocked,
}

/// QTN-004: one-way states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl QStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            QStatus::Pending => "pending",
            QStatus::Approved => "approved",
            QStatus::Rejected => "rejected",
            QStatus::Expired => "expired",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<QStatus> {
        Some(match s {
            "pending" => QStatus::Pending,
            "approved" => QStatus::Approved,
            "rejected" => QStatus::Rejected,
            "expired" => QStatus::Expired,
            _ => return None,
        })
    }
}

/// One held message.
#[derive(Debug, Clone)]
pub(crate) struct QEntry {
    pub(crate) seq: u64,
    pub(crate) id: String,
    pub(crate) sender: AgentRef,
    pub(crate) recipient: AgentRef,
    pub(crate) envelope: Envelope,
    pub(crate) payload: Value,
    pub(crate) trust: Trust,
    pub(crate) receipt: bool,
    pub(crate) rules: Vec<&'static str>,
    pub(crate) severity: Severity,
    pub(crate) quarantined_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) status: QStatus,
}

impl QEntry {
    pub(crate) fn metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("quarantine_id".into(), json!(self.id));
        m.insert("message_id".into(), json!(self.envelope.id));
        m.insert("from".into(), json!(self.sender.address));
        m.insert("to".into(), json!(self.recipient.address));
        m.insert(
            "reason".into(),
            json!(format!(
                "content matched {} screening rule(s) of severity {}",
                self.rules.len(),
                self.severity.as_str()
            )),
        );
        m.insert("rules_triggered".into(), json!(self.rules));
        m.insert("severity".into(), json!(self.severity.as_str()));
        m.insert(
            "quarantined_at".into(),
            json!(amp_core::format_rfc3339(self.quarantined_at)),
        );
        m.insert(
            "expires_at".into(),
            json!(amp_core::format_rfc3339(self.expires_at)),
        );
        m.insert("status".into(), json!(self.status.as_str()));
        m
    }
}

/// A suspension record (SUS-006).
#[derive(Debug, Clone)]
pub(crate) struct Suspension {
    pub(crate) suspended_at: i64,
    pub(crate) reason: String,
    pub(crate) expires_at: Option<i64>,
}

/// Moderation state, kept inside the provider's `Db`.
#[derive(Debug, Default)]
pub(crate) struct ModerationStore {
    pub(crate) next_seq: u64,
    pub(crate) quarantine: BTreeMap<u64, QEntry>,
    pub(crate) by_id: HashMap<String, u64>,
    pub(crate) suspensions: HashMap<String, Suspension>,
    /// Sender agent id → (unix time, verdict) of every screened message.
    pub(crate) events: HashMap<String, Vec<(i64, Verdict)>>,
}

impl ModerationStore {
    /// SUS-005: expiry is evaluated here, on every lookup; an expired record is dropped.
    pub(crate) fn suspension(&mut self, agent_id: &str, now: i64) -> Option<&Suspension> {
        let expired = self
            .suspensions
            .get(agent_id)
            .and_then(|s| s.expires_at)
            .is_some_and(|e| now >= e);
        if expired {
            self.suspensions.remove(agent_id);
        }
        self.suspensions.get(agent_id)
    }

    /// QTN-006: a pending entry past its `expires_at` becomes `expired` (never delivered).
    pub(crate) fn expire(&mut self, now: i64) {
        for e in self.quarantine.values_mut() {
            if e.status == QStatus::Pending && now >= e.expires_at {
                e.status = QStatus::Expired;
            }
        }
    }

    pub(crate) fn record(&mut self, agent_id: &str, now: i64, v: Verdict) {
        let list = self.events.entry(agent_id.to_string()).or_default();
        list.retain(|(t, _)| now - *t < RISK_WINDOW_SECS);
        if list.len() >= RISK_EVENTS_CAP {
            list.remove(0);
        }
        list.push((now, v));
    }
}
