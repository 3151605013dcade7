//! Uploaded attachments at rest (spec 08 "Attachments"): metadata, bytes, scan state and which
//! messages routed them.

use bytes::Bytes;
use std::collections::HashMap;

/// Upper bound on attachments held in memory: a hostile client cannot exhaust the mock.
pub const MAX_STORED: usize = 20_000;
/// Upper bound on uploaded bytes held in memory.
pub const MAX_STORED_BYTES: usize = 256 * 1024 * 1024;

/// Scan state (UPL-013: moves one way, `Pending` → one terminal value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// Uploaded or confirmed, no verdict yet.
    Pending,
    /// Passed every required step (SCAN-001).
    Clean,
    /// Passed, with findings (never produced by this mock: no injection scanner).
    Suspicious,
    /// Failed a required step; never routable (RTE-008).
    Rejected,
}

impl ScanStatus {
    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Pending => "pending",
            ScanStatus::Clean => "clean",
            ScanStatus::Suspicious => "suspicious",
            ScanStatus::Rejected => "rejected",
        }
    }
    /// Clean or suspicious: downloadable and routable.
    pub(crate) fn usable(self) -> bool {
        matches!(self, ScanStatus::Clean | ScanStatus::Suspicious)
    }
}

/// Who routed an attachment (ATT-011), and so who may download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Use {
    /// Held by a route in progress (released if delivery fails).
    Reserved(u64),
    /// Referenced by a delivered message.
    Routed {
        message_id: String,
        recipient_agent_id: String,
    },
}

/// One stored attachment.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) owner_agent_id: String,
    pub(crate) filename: String,
    pub(crate) content_type: String,
    pub(crate) size: u64,
    pub(crate) digest: String,
    pub(crate) status: ScanStatus,
    pub(crate) uploaded_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) upload_token: String,
    pub(crate) upload_expires_at: i64,
    /// The presigned PUT was used (UPL-005).
    pub(crate) upload_consumed: bool,
    pub(crate) data: Option<Bytes>,
    pub(crate) confirmed: bool,
    pub(crate) download_token: String,
    pub(crate) used: Vec<Use>,
}

/// All attachments of one mock instance.
#[derive(Debug, Default)]
pub struct AttachmentStore {
    pub(crate) by_id: HashMap<String, Attachment>,
    pub(crate) stored_bytes: usize,
    pub(crate) next_claim: u64,
}
