//! The relay queue as clients see it: pending pages with cursors and long-poll wake-ups, the one
//! idempotent ack, read receipts (RTE-015..022, NOTIFY-004..012).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::policy::PendingOrder;
use crate::service::AppState;
use crate::store::mailbox::{Entry, QUEUE_CAP};
use crate::wire::{AckResult, AckVia, AgentRef, PushEvent, QueuedMessage};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;

impl AppState {
    /// Unacked, unexpired messages of an agent in FIFO order (for WS replay on connect).
    pub fn pending_unacked(&self, agent: &AgentRef) -> Vec<QueuedMessage> {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        match db.mailboxes.get_mut(&agent.agent_id) {
            Some(mb) => {
                mb.purge_expired(now);
                mb.unacked().map(|e| e.msg.clone()).collect()
            }
            None => Vec::new(),
        }
    }

    /// Acknowledge one message: the single idempotent `queued` → `acked` transition shared by
    /// `DELETE /messages/pending/{id}`, batch ack and WS `message.ack` (NOTIFY-009).
    pub fn ack(&self, agent: &AgentRef, id: &str, via: AckVia) -> Result<AckResult, ApiError> {
        let now = self.clock().now_unix();
        let keep = self.has(Defect::AckKeepsMessage);
        let mut db = self.lock();
        let own = db
            .mailboxes
            .get_mut(&agent.agent_id)
            .and_then(|mb| {
                mb.purge_expired(now);
                mb.entries.iter_mut().find(|e| e.msg.id == id)
            })
            .map(|e| {
                if e.acked {
                    AckResult::AlreadyAcked
                } else {
                    if !keep {
                        e.acked = true;
                    }
                    AckResult::Acked
                }
            });
        match own {
            Some(AckResult::AlreadyAcked) if self.has(Defect::AckNotIdempotent) => Err(
                ApiError::not_found(format!("no pending message `{id}` for this agent")),
            ),
            Some(r) => Ok(r),
            None if self.acks_foreign_ids(via) => {
                for mb in db.mailboxes.values_mut() {
                    if let Some(e) = mb.entries.iter_mut().find(|e| e.msg.id == id && !e.acked) {
                        e.acked = true;
                        return Ok(AckResult::Acked);
                    }
                }
                Err(ApiError::not_found(format!(
                    "no pending message `{id}` for this agent"
                )))
            }
            None => Err(ApiError::not_found(format!(
                "no pending message `{id}` for this agent: ids come from GET /messages/pending"
            ))),
        }
    }

    /// The one hook of the cross-agent ack defects: may an ack through `via` remove a message
    /// queued for another agent?
    fn acks_foreign_ids(&self, via: AckVia) -> bool {
        self.has(match via {
            AckVia::Delete => Defect::CrossAgentAck,
            AckVia::Batch => Defect::CrossAgentBatchAck,
            AckVia::WebSocket => Defect::CrossAgentWsAck,
        })
    }

    /// Wake long-pollers of a mailbox.
    pub(crate) fn wake(&self, agent_id: &str) {
        let n = self
            .lock()
            .mailboxes
            .get(agent_id)
            .map(|m| m.notify.clone());
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    /// Mailbox notifier for long-poll (NOTIFY-008).
    pub(crate) fn mailbox_notify(&self, agent_id: &str) -> Arc<Notify> {
        self.lock()
            .mailboxes
            .entry(agent_id.to_string())
            .or_default()
            .notify
            .clone()
    }

    /// Mark a message read and send the sender a `message.read` receipt (RTE-022, NOTIFY-010).
    ///
    /// Idempotent: only the first call creates a receipt. The receipt is pushed to the sender's
    /// live sockets or, when none is connected, retained for [`AppState::take_receipts`].
    /// Returns whether a receipt was delivered or retained (`read_receipt_sent`); a message
    /// that arrived by federation has no local sender to notify, so the answer is `false`.
    pub fn mark_read(&self, agent: &AgentRef, id: &str) -> Result<bool, ApiError> {
        let now = self.clock().now_unix();
        let (sender, first) = {
            let mut db = self.lock();
            let foreign = self.has(Defect::CrossAgentRead)
                && !db
                    .mailboxes
                    .get(&agent.agent_id)
                    .is_some_and(|mb| mb.entries.iter().any(|e| e.msg.id == id));
            let entry = if foreign {
                // `cross-agent-read`: any mailbox holding the id will do.
                db.mailboxes
                    .values_mut()
                    .find_map(|mb| mb.entries.iter_mut().find(|e| e.msg.id == id))
            } else {
                db.mailboxes
                    .get_mut(&agent.agent_id)
                    .and_then(|mb| mb.entries.iter_mut().find(|e| e.msg.id == id))
            };
            let Some(entry) = entry else {
                return Err(ApiError::not_found(format!(
                    "no message `{id}` for this agent: ids come from GET /messages/pending"
                )));
            };
            if self.has(Defect::ReadAcks) {
                entry.acked = true;
            }
            let first = !entry.read;
            entry.read = true;
            (entry.sender_agent_id.clone(), first)
        };
        let Some(s) = sender else { return Ok(false) };
        if !first {
            return Ok(true);
        }
        let ev = PushEvent::Read {
            id: id.to_string(),
            read_at: amp_core::format_rfc3339(now),
        };
        // Push and retain under one database lock: a sender whose socket connects in between
        // takes its retained receipts only after this one is stored, so none is left behind.
        // (Lock order is always database → sockets; `push` takes only the sockets lock.)
        let mut db = self.lock();
        if !self.live().push(&s, ev.clone()) {
            // `read-receipt-retained-as-delivered`: an offline sender keeps only a delivery
            // receipt; the read receipt the answer promised is lost.
            let kept = if self.has(Defect::ReadReceiptRetainedAsDelivered) {
                PushEvent::Delivered {
                    id: id.to_string(),
                    to: agent.address.clone(),
                    delivered_at: amp_core::format_rfc3339(now),
                    method: "relay".into(),
                }
            } else {
                ev
            };
            let q = db.receipts.entry(s).or_default();
            if q.len() >= QUEUE_CAP {
                q.pop_front();
            }
            q.push_back(kept);
        }
        Ok(true)
    }

    /// Receipts retained while the agent had no live socket (oldest first); the caller (WS on
    /// connect) delivers them. Taking them removes them.
    pub fn take_receipts(&self, agent: &AgentRef) -> Vec<PushEvent> {
        self.lock()
            .receipts
            .remove(&agent.agent_id)
            .map(Vec::from)
            .unwrap_or_default()
    }

    /// One page of the relay queue (RTE-015, NOTIFY-006/007). `after` must be a cursor issued
    /// for this mailbox, else 410 cursor_expired.
    pub(crate) fn pending_page(
        &self,
        agent: &AgentRef,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        let mb = db.mailboxes.entry(agent.agent_id.clone()).or_default();
        mb.purge_expired(now);
        let after_seq = match after {
            None => 0,
            Some(c) => match mb.parse_cursor(c) {
                Some(n) => n,
                None if self.has(Defect::CursorExpiredNot410) => 0,
                None => {
                    return Err(ApiError::new(
                        410,
                        "cursor_expired",
                        "unknown or expired cursor: call GET /messages/pending/count (or pending without `after`) for a fresh one",
                    )
                    .with_field("after"));
                }
            },
        };
        let mut matching: Vec<&Entry> = mb.unacked().filter(|e| e.seq > after_seq).collect();
        if self.policy().pending_order == PendingOrder::NewestFirst {
            matching.reverse();
        }
        let total = matching.len();
        let page: Vec<&Entry> = matching.into_iter().take(limit).collect();
        let next_cursor = match page.iter().map(|e| e.seq).max() {
            Some(s) => format!("cur_{s}"),
            None => after
                .filter(|c| mb.parse_cursor(c).is_some())
                .map(str::to_string)
                .unwrap_or_else(|| mb.head_cursor()),
        };
        let mut messages: Vec<Value> = page.iter().map(|e| e.msg.pending_json()).collect();
        if self.has(Defect::NullEnvelopeFields) {
            for env in messages
                .iter_mut()
                .filter_map(|m| m.get_mut("envelope").and_then(Value::as_object_mut))
            {
                for f in ["in_reply_to", "expires_at"] {
                    env.entry(f).or_insert(Value::Null);
                }
            }
        }
        Ok(json!({
            "messages": messages,
            "count": page.len(),
            "remaining": total - page.len(),
            "next_cursor": next_cursor,
        }))
    }

    /// `{count, oldest_queued_at, cursor}` (NOTIFY-004): no message bodies.
    pub(crate) fn pending_count(&self, agent: &AgentRef) -> Value {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        let mb = db.mailboxes.entry(agent.agent_id.clone()).or_default();
        mb.purge_expired(now);
        let count = mb.unacked().count();
        let oldest = mb.unacked().next().map(|e| e.msg.queued_at.clone());
        json!({"count": count, "oldest_queued_at": oldest, "cursor": mb.head_cursor()})
    }
}
