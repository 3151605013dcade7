//! The live-connection registry: which agents have an authenticated WebSocket open, and the
//! push channel of each socket (spec 05 "WebSocket Delivery", 08 "WebSocket API").
//!
//! The service layer pushes through it ([`LiveRegistry::push`]); the WebSocket handler
//! registers a socket after authentication and drops it on close. It knows nothing of the
//! store: it sits beside it, below the service layer, and depends on [`crate::wire`] only.

use crate::wire::{AgentRef, ConnId, PushEvent};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Capacity of a live WS push channel; a full channel counts as "not connected" for delivery.
pub const PUSH_CHANNEL_CAP: usize = 256;

/// A live socket's push channel.
type LiveConn = (ConnId, mpsc::Sender<PushEvent>);

/// Live sockets by agent id.
#[derive(Debug)]
pub struct LiveRegistry {
    conns: Mutex<HashMap<String, Vec<LiveConn>>>,
    next_conn: AtomicU64,
}

impl Default for LiveRegistry {
    fn default() -> Self {
        LiveRegistry {
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        }
    }
}

impl LiveRegistry {
    fn conns(&self) -> MutexGuard<'_, HashMap<String, Vec<LiveConn>>> {
        // Poisoning only means a panic elsewhere; the map itself is still consistent.
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a live push channel for a WebSocket connection.
    pub fn register(&self, agent: &AgentRef) -> (ConnId, mpsc::Receiver<PushEvent>) {
        let (tx, rx) = mpsc::channel(PUSH_CHANNEL_CAP);
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst);
        self.conns()
            .entry(agent.agent_id.clone())
            .or_default()
            .push((id, tx));
        (id, rx)
    }

    /// Drop a live push channel.
    pub fn unregister(&self, agent: &AgentRef, conn: ConnId) {
        let mut conns = self.conns();
        if let Some(list) = conns.get_mut(&agent.agent_id) {
            list.retain(|(c, _)| *c != conn);
            if list.is_empty() {
                conns.remove(&agent.agent_id);
            }
        }
    }

    /// Drop every channel of an agent: its socket tasks see their channel end (WS-014).
    pub fn disconnect(&self, agent_id: &str) {
        self.conns().remove(agent_id);
    }

    /// Is the agent connected over WebSocket?
    pub fn is_online(&self, agent_id: &str) -> bool {
        self.conns().get(agent_id).is_some_and(|l| !l.is_empty())
    }

    /// Number of agents with a live socket.
    pub fn agents_online(&self) -> usize {
        self.conns().values().filter(|l| !l.is_empty()).count()
    }

    /// Push an event to every live socket of an agent; true when at least one socket took it.
    pub fn push(&self, agent_id: &str, ev: PushEvent) -> bool {
        let senders: Vec<mpsc::Sender<PushEvent>> = self
            .conns()
            .get(agent_id)
            .map(|l| l.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default();
        let mut any = false;
        for s in senders {
            if s.try_send(ev.clone()).is_ok() {
                any = true;
            }
        }
        any
    }
}
