//! Relay mailboxes: one FIFO queue per recipient, with cursors and a long-poll notifier
//! (RTE-012..019, NOTIFY-004..009).

use crate::wire::QueuedMessage;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::Notify;

/// Relay capacity per agent (RTE-012).
pub const QUEUE_CAP: usize = 1000;

/// One queued copy of a message.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub seq: u64,
    pub msg: QueuedMessage,
    pub sender_agent_id: Option<String>,
    pub acked: bool,
    /// Set by the first `POST /messages/{id}/read`.
    pub read: bool,
}

/// One agent's relay mailbox.
#[derive(Debug)]
pub(crate) struct Mailbox {
    pub entries: VecDeque<Entry>,
    /// Next queue position; cursor `cur_<n>` names position n (`cur_0` = before everything).
    pub next_seq: u64,
    pub notify: Arc<Notify>,
}

impl Default for Mailbox {
    fn default() -> Self {
        Mailbox {
            entries: VecDeque::new(),
            next_seq: 1,
            notify: Arc::new(Notify::new()),
        }
    }
}

impl Mailbox {
    pub fn purge_expired(&mut self, now: i64) {
        self.entries.retain(|e| e.msg.expires_at_unix > now);
    }
    pub fn unacked(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter().filter(|e| !e.acked)
    }
    /// Cursor naming the newest queue position.
    pub fn head_cursor(&self) -> String {
        format!("cur_{}", self.next_seq.saturating_sub(1))
    }
    /// Parse a cursor issued by this mailbox; `None` when unrecognised (NOTIFY-007).
    pub fn parse_cursor(&self, c: &str) -> Option<u64> {
        let n: u64 = c.strip_prefix("cur_")?.parse().ok()?;
        (n < self.next_seq).then_some(n)
    }
}
