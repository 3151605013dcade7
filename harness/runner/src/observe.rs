//! Observation channels a case context keeps open besides the pending list: WebSocket sessions
//! that watch deliveries to one agent each, and a loopback receiver for agents registered
//! with a webhook. State and reading only; `Ctx::await_delivery` decides which to consult.

use crate::facts;
use amp_client::{Receiver, WsConn};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Webhook secret of agents registered to observe deliveries by webhook.
pub(crate) const HOOK_SECRET: &str = "whsec_ampconformanceobserver01";

/// A session that watches deliveries to one agent; frames not asked for yet are kept.
struct Watch {
    address: String,
    conn: WsConn,
    seen: Vec<Value>,
}

/// The channels one context observes deliveries on.
#[derive(Default)]
pub(crate) struct Observers {
    watches: Vec<Watch>,
    hook: Option<Receiver>,
}

impl Observers {
    /// Keep `conn`, authenticated as `address`, to read deliveries from.
    pub(crate) fn watch(&mut self, address: &str, conn: WsConn) {
        self.watches.push(Watch {
            address: address.to_string(),
            conn,
            seen: Vec::new(),
        });
    }

    pub(crate) fn watches(&self, address: &str) -> bool {
        self.watches.iter().any(|w| w.address == address)
    }

    /// A `message.new` for message `id` on the watch of `address` within `within` (the frame's
    /// `data`); other frames are kept for later calls.
    pub(crate) async fn watched(
        &mut self,
        address: &str,
        id: &str,
        within: Duration,
    ) -> Option<Value> {
        let w = self.watches.iter_mut().find(|w| w.address == address)?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = w
                .seen
                .iter()
                .position(|d| facts::delivered_id(d) == Some(id))
            {
                return Some(w.seen.remove(i));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = w.conn.recv(left).await;
            match (ev.frame_type(), ev.json()) {
                (Some("message.new"), Some(v)) => {
                    w.seen.push(v.get("data").cloned().unwrap_or(Value::Null));
                }
                (_, Some(_)) => {}
                _ => return None,
            }
        }
    }

    /// The loopback receiver, if one was started.
    pub(crate) fn hook(&self) -> Option<&Receiver> {
        self.hook.as_ref()
    }

    pub(crate) fn set_hook(&mut self, rx: Receiver) {
        self.hook = Some(rx);
    }

    /// The body of a webhook for message `id` received within `within` (at least one look).
    pub(crate) async fn hooked(&self, id: &str, within: Duration) -> Option<Value> {
        let rx = self.hook.as_ref()?;
        let deadline = Instant::now() + within;
        loop {
            let hit = rx.requests().into_iter().find_map(|r| {
                let body = r.json()?;
                let by_header = r.header("x-amp-message-id") == Some(id);
                (by_header || facts::delivered_id(&body) == Some(id)).then_some(body)
            });
            if hit.is_some() || Instant::now() >= deadline {
                return hit;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Close the watch sessions.
    pub(crate) async fn close(&mut self) {
        for mut w in self.watches.drain(..) {
            w.conn.close().await;
        }
    }
}
