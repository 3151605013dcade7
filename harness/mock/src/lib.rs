//! amp-mock: a built-in, strict AMP v1 provider with switchable planted defects.
//!
//! It is the embedded default target of the conformance suite and the suite's self-proof: for
//! every planted defect (see [`defects`]) at least one case citing the defect's clause must
//! fail. The clean mock (no defects) must pass every case.
//!
//! Servers bind to loopback only unless explicitly allowed; state is in memory.
//!
//! # Chosen readings of contradictory or open spec points
//!
//! - C-11 `from`: optional in the route body; when present it must equal the authenticated
//!   agent's full address (case-insensitive), else `403 forbidden`.
//! - C-09 `to`: routed case-insensitively, delivered exactly as signed (short forms expanded).
//! - C-21 rotation proof: standard Base64 Ed25519 signature by the OLD key over the exact
//!   `new_public_key` PEM text bytes.
//! - C-20: `revoke-key` kills every API key of the agent and also revokes its public key.
//! - C-31 wrapping: cross-tenant `payload.message` is rewritten into the
//!   `<external-content …>` wrapper AND the delivered message carries a top-level
//!   `security {trust_level, wrapped}` so recipients know a rewrite happened.
//! - C-58: only `Ed25519` keys register (`RSA`/`ECDSA` → `400 invalid_field`).
//! - C-68 relay overflow: at 1000 unacknowledged messages new messages are refused with
//!   `409 queue_full` (nothing accepted is ever dropped silently).
//! - C-72 `thread_id`: a reply inherits the parent's thread id; an unknown parent id becomes the
//!   thread id.
//! - C-14 discovery: `/.well-known/agent-messaging.json` says `version: "AMP1"` (spec 06);
//!   `/info` and envelopes say `amp/0.1`.
//! - Rate limits: fixed one-minute windows per API key (per IP for `register` and anonymous
//!   requests); `X-RateLimit-Reset` is a unix timestamp.
//! - API keys are stored as SHA-256 hashes (256-bit random keys; bcrypt adds nothing here).

//!
//! # Layers
//!
//! Dependencies point one way, downwards:
//!
//! ```text
//! http      router, budgets, extractors, handlers       (axum)
//!   │
//! service   AppState + the rules: route pipeline, relay, moderation,
//!   │       attachments, cards, webhooks, federation
//!   ├──────────────┐
//! store         live      data at rest │ live WebSocket push channels
//!   │              │
//! wire, ids, config, defects, policy, error, ssrf   (leaf modules)
//! ```
//!
//! `harness/ARCHITECTURE.md` has the picture in more detail.

#![forbid(unsafe_code)]

pub mod config;
pub mod defects;
pub mod error;
pub mod http;
pub mod ids;
pub mod live;
pub mod policy;
pub mod recipient_policy;
pub mod service;
pub mod ssrf;
pub mod store;
pub mod wire;

pub use config::OwnerKey;
pub use config::{Clock, FederationPeer, MockConfig, RateLimits};
pub use defects::{Defect, DefectSet, UnknownDefect, defect_table};
pub use error::ApiError;
pub use http::router;
pub use ids::hash_api_key;
pub use policy::Policy;
pub use service::AppState;
pub use wire::{
    AckResult, AckVia, AgentRef, ConnId, PushEvent, QueuedMessage, RouteOutcome, SecurityMeta,
    Trust,
};

use amp_core::signing::PublicKey;
use std::net::SocketAddr;

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// Non-loopback listen address without `allow_non_loopback`.
    #[error(
        "refusing to listen on non-loopback {0}: amp-mock is a test provider; set allow_non_loopback to override"
    )]
    NonLoopback(SocketAddr),
    /// Bind failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// Address tried.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
}

/// Build the shared state for a configuration (also used for in-process fuzzing).
pub fn new_state(config: &MockConfig) -> AppState {
    AppState::new(config)
}

/// A running mock.
#[derive(Debug)]
pub struct MockHandle {
    addr: SocketAddr,
    base: String,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MockHandle {
    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.base)
    }
    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `ws://127.0.0.1:PORT/v1/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}/ws", self.addr, self.base)
    }
    /// Bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// Provider domain (`amp-mock.test`).
    pub fn provider_domain(&self) -> &str {
        &self.state.config().provider_domain
    }
    /// The provider's federation/signing public key.
    pub fn provider_public_key(&self) -> PublicKey {
        self.state.provider_public_key()
    }
    /// The injectable clock (advance it to test expiry).
    pub fn clock(&self) -> &Clock {
        self.state.clock()
    }
    /// The admin bearer key (configured or generated), for admin endpoint tests.
    pub fn admin_key(&self) -> &str {
        self.state.admin_key()
    }
    /// The shared state (tests and in-process tooling).
    pub fn state(&self) -> &AppState {
        &self.state
    }
    /// Stop serving and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Bind and serve a mock in the background.
pub async fn spawn(config: MockConfig) -> Result<MockHandle, MockError> {
    if !config.listen.ip().is_loopback() && !config.allow_non_loopback {
        return Err(MockError::NonLoopback(config.listen));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| MockError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| MockError::Bind {
        addr: config.listen,
        source,
    })?;
    let state = new_state(&config);
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Small answers go out at once: with Nagle's algorithm on, a WebSocket frame written
    // right after another one waits for the peer's delayed ACK (about 40 ms on Linux).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .await;
    });
    Ok(MockHandle {
        addr,
        base: config.normalized_base(),
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}
