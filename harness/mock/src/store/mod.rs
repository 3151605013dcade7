//! Provider state at rest: plain data with the small invariants that belong to the data itself
//! (a mailbox's cursors, a suspension's expiry, a quarantine entry's one-way status). No
//! protocol rules and no planted defects live here; the service layer ([`crate::service`])
//! decides, this layer keeps.
//!
//! Everything mutable sits in one `Db` behind one mutex (`Store`), so an operation that
//! touches several stores (deregistration clears keys, mailbox and idempotency records) is
//! atomic. Leaf modules only: nothing here imports the service or HTTP layers.

pub mod agents;
pub mod attachments;
pub mod cards;
pub mod idempotency;
pub mod mailbox;
pub mod moderation;
pub mod rate_windows;

use crate::wire::PushEvent;
use agents::{Agent, KeyRecord};
use attachments::AttachmentStore;
use cards::CardStore;
use idempotency::IdempotencyStore;
use mailbox::Mailbox;
use moderation::ModerationStore;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// Everything mutable.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub agents: HashMap<String, Agent>,
    pub by_address: HashMap<String, String>,
    /// API-key hash → key record (keys are stored hashed only, SEC-005).
    pub api_keys: HashMap<String, KeyRecord>,
    /// Deregistered addresses → blocked until (unix seconds).
    pub tombstones: HashMap<String, i64>,
    pub mailboxes: HashMap<String, Mailbox>,
    /// Revoked public-key fingerprints → revoked_at (REV-001).
    pub revoked_fingerprints: HashMap<String, i64>,
    pub idempotency: IdempotencyStore,
    /// Message id → thread id (MSG-011).
    pub threads: HashMap<String, String>,
    /// Read receipts waiting for a sender without a live socket.
    pub receipts: HashMap<String, VecDeque<PushEvent>>,
    /// First agent registered (target of the `no-auth-pending` defect).
    pub first_agent: Option<String>,
    /// Uploaded attachments (spec 08 "Attachments").
    pub attachments: AttachmentStore,
    /// Quarantine, suspensions, screening verdicts.
    pub moderation: ModerationStore,
    /// Uploaded agent cards.
    pub cards: CardStore,
}

/// The one lock around [`Db`].
#[derive(Debug, Default)]
pub(crate) struct Store(Mutex<Db>);

impl Store {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Db> {
        // A poisoned lock only means another handler panicked mid-update; the data is still
        // usable for a test provider, so recover instead of cascading the panic.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
