//! The provider's rules: what happens to a request once the HTTP layer has authenticated and
//! parsed it.
//!
//! [`AppState`] is the shared handle every layer above receives. It owns the store
//! ([`crate::store`]), the live-connection registry ([`crate::live`]), the rate windows and the
//! resolved configuration ([`Policy`]); the operations on it are grouped by concern:
//!
//! | module | concern |
//! |---|---|
//! | [`agents`] | authentication, lookup, the agent's record, deregistration (spec 03) |
//! | [`registration`] | registration and name availability (spec 03) |
//! | [`keys`] | API-key and public-key rotation, revocation (spec 03) |
//! | [`fields`] | reading body and query fields with the spec's error codes |
//! | [`route`] | the route pipeline: validation, signature, routing decision (spec 04/05) |
//! | [`delivery`] | wrapping, queueing and pushing an accepted message (RTE-001, TRUST-002) |
//! | [`relay`] | pending pages, cursors, acks, read receipts (spec 05 relay, notify:v1) |
//! | [`moderation`] | screening, quarantine, suspension, risk (spec 07, 08 admin) |
//! | [`attachments`] | upload rules, scanning, route-time claims (spec 08 attachments) |
//! | [`cards`] | agent cards (spec 02) |
//! | [`webhook`] | webhook delivery with retries and SSRF guards (spec 05, 07) |
//! | [`federation`] | accepting messages from peer providers (spec 06) |
//!
//! Dependencies point down only: this layer uses [`crate::store`], [`crate::live`],
//! [`crate::wire`] and the leaf modules, never [`crate::http`].
//!
//! All state lives behind one `std::sync::Mutex` (the store) plus the registry's own lock; no
//! lock is ever held across an `.await`, so handlers stay cancel-safe and the mock cannot
//! deadlock under concurrent clients. Lock order is always store → registry.

pub mod agents;
pub mod attachments;
pub mod cards;
pub mod delivery;
pub mod federation;
pub mod fields;
pub mod keys;
pub mod moderation;
pub mod registration;
pub mod relay;
pub mod route;
pub mod webhook;

use crate::config::{Clock, MockConfig};
use crate::defects::{Defect, DefectSet};
use crate::error::ApiError;
use crate::ids::{random_bytes, random_hex};
use crate::live::LiveRegistry;
use crate::policy::Policy;
use crate::store::rate_windows::RateLimiter;
use crate::store::{Db, Store};
use amp_core::signing::{PublicKey, SecretKey};
use serde_json::Value;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

pub(crate) struct Inner {
    config: MockConfig,
    /// The parameters the rules read, resolved once from `config` and its defects.
    policy: Policy,
    provider_key: SecretKey,
    provider_public: PublicKey,
    started: Instant,
    store: Store,
    live: LiveRegistry,
    limiter: RateLimiter,
    /// Bearer key of the admin endpoints (ADM-001).
    admin_key: String,
}

/// Shared provider state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("provider_domain", &self.0.config.provider_domain)
            .field("defects", &self.0.config.defects)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Fresh state for a configuration: empty store, no live connections, the provider key
    /// from `provider_key_seed` (random when unset), the admin key configured or generated.
    pub fn new(config: &MockConfig) -> AppState {
        let seed = config.provider_key_seed.unwrap_or_else(random_bytes::<32>);
        let provider_key = SecretKey::from_seed(seed);
        let provider_public = provider_key.public_key();
        AppState(Arc::new(Inner {
            config: config.clone(),
            policy: Policy::resolve(config),
            provider_key,
            provider_public,
            started: Instant::now(),
            store: Store::default(),
            live: LiveRegistry::default(),
            limiter: RateLimiter::default(),
            admin_key: config
                .admin_key
                .clone()
                .unwrap_or_else(|| format!("amp_admin_{}", random_hex::<24>())),
        }))
    }

    /// The store, locked. Only the service layer reads or writes provider state; the HTTP
    /// layer goes through the operations above it.
    pub(in crate::service) fn lock(&self) -> MutexGuard<'_, Db> {
        self.0.store.lock()
    }
    /// The live WebSocket connections.
    pub fn live(&self) -> &LiveRegistry {
        &self.0.live
    }
    /// The configuration this mock runs with.
    pub fn config(&self) -> &MockConfig {
        &self.0.config
    }
    /// Planted defects.
    pub fn defects(&self) -> &DefectSet {
        &self.0.config.defects
    }
    /// The provider's parameters (lifetimes, limits, order), with parameter defects applied.
    pub fn policy(&self) -> &Policy {
        &self.0.policy
    }
    /// Shorthand for `defects().has(d)`: the switch of a behavioural defect.
    pub fn has(&self, d: Defect) -> bool {
        self.0.config.defects.has(d)
    }
    /// The injectable clock.
    pub fn clock(&self) -> &Clock {
        &self.0.config.clock
    }
    /// The provider's signing key (federation, `/info`).
    pub fn provider_key(&self) -> &SecretKey {
        &self.0.provider_key
    }
    /// The provider's public key.
    pub fn provider_public_key(&self) -> PublicKey {
        self.0.provider_public
    }
    /// Seconds since start.
    pub fn uptime_secs(&self) -> u64 {
        self.0.started.elapsed().as_secs()
    }
    /// The rate windows (RL-001..003).
    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }
    /// The provider-wide admin bearer key.
    pub fn admin_key(&self) -> &str {
        &self.0.admin_key
    }

    /// Parse a JSON request body strictly (JSON-003/005/008): one value, no duplicate keys, no
    /// non-finite numbers. The HTTP extractor `StrictJson` and the federation inbox (which
    /// must keep the raw bytes for the provider signature) both read bodies through here.
    pub fn parse_strict_json(&self, bytes: &[u8]) -> Result<Value, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_request(
                "request body is empty: send a JSON object",
            ));
        }
        if self.has(Defect::AcceptDuplicateKeys)
            && let Ok(v) = serde_json::from_slice::<Value>(bytes)
        {
            return Ok(v);
        }
        match amp_core::parse_strict(bytes) {
            Ok(v) => Ok(v),
            Err(e) => {
                if self.has(Defect::MalformedJson500)
                    && serde_json::from_slice::<Value>(bytes).is_err()
                {
                    return Err(ApiError::internal(
                        "unexpected error while reading the body",
                    ));
                }
                Err(ApiError::invalid_request(format!(
                    "body is not acceptable JSON ({e}): send one JSON object without duplicate keys or non-finite numbers"
                )))
            }
        }
    }
}
