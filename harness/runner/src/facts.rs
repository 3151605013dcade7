//! What the prerequisite probes established: per-prerequisite records (kept once per run in
//! [`Probes`]), the delivery channels that work, the WebSocket approach that works. Data only;
//! the probes themselves are in `crate::probe`.

use crate::prereq::Prereq;
use crate::verdict::Failure;
use amp_client::{Exchange, WsEvent};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How long a correct provider may take to make a routed message observable.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(5);

/// The pause before the first frame that the WebSocket probe tries when a frame sent right
/// after the upgrade went unanswered.
pub const WS_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The channels through which the tester saw a routed message reach its recipient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Channels {
    /// `GET /messages/pending` lists it.
    pub pending: bool,
    /// A `message.new` frame reaches an authenticated WebSocket session.
    pub websocket: bool,
    /// A webhook POST reaches a loopback receiver (only tried with `--loopback-webhooks`).
    pub webhook: bool,
}

/// What a successful probe learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facts {
    Registered,
    RouteAccepted,
    Delivery(Channels),
    /// The pause before the `auth` frame that made a session authenticate (zero: none needed).
    WsSession {
        auth_pause: Duration,
    },
}

/// Why a probe failed. `root` is the probe that failed first: a probe whose dependency failed
/// carries the dependency's failure, so one cause is reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    pub root: Prereq,
    /// Catalogue clause the failure bears on.
    pub clause: &'static str,
    pub reason: String,
}

/// The outcome of one probe, with its transcript.
#[derive(Debug, Clone)]
pub struct ProbeRecord {
    pub prereq: Prereq,
    pub result: Result<Facts, ProbeFailure>,
    pub transcript: Vec<Exchange>,
    pub duration_ms: u64,
}

impl ProbeRecord {
    /// `Failure::Blocked` naming the root probe, when this probe failed.
    pub fn blocked(&self) -> Option<Failure> {
        self.result
            .as_ref()
            .err()
            .map(|f| Failure::blocked(f.root, f.reason.clone()))
    }
}

/// One cell per prerequisite; filled once, concurrency-safe (late callers wait).
#[derive(Debug, Default)]
pub(crate) struct Probes {
    cells: [OnceCell<ProbeRecord>; Prereq::ALL.len()],
}

impl Probes {
    pub(crate) fn cell(&self, p: Prereq) -> &OnceCell<ProbeRecord> {
        let i = Prereq::ALL.iter().position(|x| *x == p).unwrap_or(0);
        &self.cells[i]
    }

    /// The record if the probe has run.
    pub(crate) fn get(&self, p: Prereq) -> Option<&ProbeRecord> {
        self.cell(p).get()
    }

    /// Every probe that ran, in [`Prereq::ALL`] order.
    pub(crate) fn records(&self) -> Vec<ProbeRecord> {
        Prereq::ALL
            .iter()
            .filter_map(|p| self.get(*p).cloned())
            .collect()
    }
}

/// The message id of a queue entry, a `message.new` frame's data or a webhook body: `id`
/// (08) or `envelope.id` (05).
pub(crate) fn delivered_id(m: &Value) -> Option<&str> {
    m.get("id")
        .and_then(Value::as_str)
        .or_else(|| m.pointer("/envelope/id").and_then(Value::as_str))
}

/// Describe a WebSocket event for a probe reason.
pub(crate) fn describe_event(ev: &WsEvent) -> String {
    match ev {
        WsEvent::Text { raw, .. } => {
            let cut: String = raw.chars().take(200).collect();
            format!("frame {cut}")
        }
        WsEvent::Binary(b) => format!("a binary frame of {} bytes", b.len()),
        WsEvent::Closed { code, reason } => format!("a close (code {code:?}, reason {reason:?})"),
        WsEvent::Timeout => "nothing before the timeout".to_string(),
        WsEvent::Error(e) => format!("a protocol error ({e})"),
    }
}

/// Key of the finding "frames sent right after the upgrade are dropped".
pub const WS_EARLY_FRAME_FINDING: &str = "ws:auth-frame-dropped-right-after-upgrade";
