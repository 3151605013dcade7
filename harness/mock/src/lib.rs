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

#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod attachments;
pub mod body_limit;
pub mod card;
pub mod config;
pub mod defects;
pub mod error;
pub mod federation;
pub mod policy;
pub mod ratelimit;
pub mod ssrf;
pub mod state;
pub mod webhook;
pub mod ws;

pub use config::{Clock, FederationPeer, MockConfig, RateLimits};
pub use defects::{Defect, DefectSet, UnknownDefect, defect_table};
pub use error::ApiError;
pub use policy::Policy;
pub use state::{
    AckResult, AgentRef, AppState, ConnId, PushEvent, QueuedMessage, RouteOutcome, SecurityMeta,
    Trust,
};

use amp_core::signing::{PublicKey, SecretKey};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    let seed = config
        .provider_key_seed
        .unwrap_or_else(state::random_bytes::<32>);
    let provider_key = SecretKey::from_seed(seed);
    let provider_public = provider_key.public_key();
    AppState(Arc::new(state::Inner {
        config: config.clone(),
        policy: policy::Policy::resolve(config),
        provider_key,
        provider_public,
        started: Instant::now(),
        db: Mutex::new(state::Db::default()),
        ws: Mutex::new(Default::default()),
        next_conn: AtomicU64::new(1),
        limiter: ratelimit::RateLimiter::default(),
        admin_key: config
            .admin_key
            .clone()
            .unwrap_or_else(|| format!("amp_admin_{}", state::random_hex::<24>())),
    }))
}

/// The full axum router (REST + WS + federation) with body-cap, rate-limit and error-format
/// middleware. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` to get
/// per-IP limits; without connect info all clients share one anonymous bucket.
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state;
    let base = state.config().normalized_base();
    let v1: Router<AppState> = Router::new()
        .route("/health", get(api::health))
        .route("/info", get(api::info))
        .route("/register", post(api::register))
        .route(
            "/agents/me",
            get(api::me).patch(api::patch_me).delete(api::delete_me),
        )
        .route("/agents", get(api::list_agents))
        .route("/agents/resolve/{address}", get(api::resolve))
        .route("/route", post(api::route))
        .route("/messages/pending", get(api::pending))
        .route("/messages/pending/count", get(api::pending_count))
        .route("/messages/pending/ack", post(api::batch_ack))
        .route("/messages/pending/{id}", delete(api::ack_one))
        .route("/messages/{id}/read", post(api::read))
        .route("/auth/rotate-key", post(api::rotate_key))
        .route("/auth/rotate-keys", post(api::rotate_keys))
        .route("/auth/revoke-key", delete(api::revoke_key));
    let v1 = mount_live_and_federation(v1);
    let v1 = mount_attachments(v1);
    let v1 = mount_admin(v1);
    let v1 = card::mount(v1);
    let app = if base.is_empty() {
        v1
    } else if state.has(defects::Defect::V2Alias) && base != "/v2" {
        // `v2-alias`: the same v1 handlers answer under /v2 too (API-001).
        Router::new().nest(&base, v1.clone()).nest("/v2", v1)
    } else {
        Router::new().nest(&base, v1)
    };
    app.route("/.well-known/agent-messaging.json", get(api::well_known))
        .fallback(api::not_found)
        .layer(from_fn_with_state(state.clone(), body_limit::body_limit_mw))
        .layer(from_fn_with_state(state.clone(), api::rate_limit_mw))
        .layer(from_fn_with_state(state.clone(), api::error_format_mw))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Mount the attachment endpoints (spec 08 "Attachments"; see [`attachments`]).
fn mount_attachments(r: Router<AppState>) -> Router<AppState> {
    use axum::routing::put;
    r.route("/attachments/upload", post(attachments::request_upload))
        .route("/attachments/{id}", get(attachments::get_metadata))
        .route("/attachments/{id}/confirm", post(attachments::confirm))
        .route("/attachments/{id}/download", get(attachments::download))
        .route("/attachments/{id}/content", put(attachments::put_content))
        .route("/attachments/{id}/file", get(attachments::signed_file))
}

/// Mount the admin endpoints: quarantine, suspension, risk score (see [`admin`]).
fn mount_admin(r: Router<AppState>) -> Router<AppState> {
    r.route("/quarantine", get(admin::list_quarantine))
        .route("/quarantine/{id}", get(admin::get_quarantine))
        .route("/quarantine/{id}/approve", post(admin::approve_quarantine))
        .route("/quarantine/{id}/reject", post(admin::reject_quarantine))
        .route("/agents/{agent_id}/suspend", post(admin::suspend))
        .route("/agents/{agent_id}/unsuspend", post(admin::unsuspend))
        .route("/agents/{agent_id}/risk", get(admin::risk))
}

/// Mount the WebSocket endpoint (spec 08 "WebSocket") and the federation inbox (spec 10).
fn mount_live_and_federation(r: Router<AppState>) -> Router<AppState> {
    r.route("/ws", get(ws::handler))
        .route("/federation/deliver", post(federation::deliver))
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
