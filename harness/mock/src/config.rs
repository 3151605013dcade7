//! Mock configuration and the injectable clock.
//!
//! Every timing-sensitive behaviour (key rotation grace, TTLs, name blocking, rate windows) reads
//! time through [`Clock`] so that tests can move time forward instead of sleeping.

use crate::defects::DefectSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A provider peer trusted for `POST {base}/federation/deliver` (FED-002/003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationPeer {
    /// Provider domain, e.g. `peer.test`: senders under it are forwarded by this peer.
    pub domain: String,
    /// The peer's provider signing key.
    pub public_key: amp_core::PublicKey,
}

/// Request budgets. The defaults are deliberately high so that a full suite run never trips them;
/// rate-limit cases configure a low limit on a dedicated mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per minute per API key (RL-001 "100 API requests/min" in production).
    pub api_requests_per_minute: u32,
    /// Messages per minute per sender, advertised in `/info` (`messages_per_minute`).
    pub messages_per_minute: u32,
    /// `POST /register` per client IP per minute (SEC-004 alternative control).
    pub register_per_minute: u32,
    /// Unauthenticated requests (health, info, discovery) per client IP per minute.
    pub anonymous_per_minute: u32,
    /// `GET /messages/pending` per API key per minute (RL-003's per-endpoint budget: 30).
    pub pending_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            api_requests_per_minute: 100_000,
            messages_per_minute: 100_000,
            register_per_minute: 100_000,
            anonymous_per_minute: 100_000,
            pending_per_minute: 100_000,
        }
    }
}

#[derive(Debug)]
struct ClockInner {
    /// `Some(start_ms)` for a manual clock (time stands still except for `advance`).
    manual_start_ms: Option<i64>,
    offset_ms: AtomicI64,
}

/// Wall clock plus an adjustable offset, shared by every clone.
///
/// `Clock::default()` follows real time; `Clock::manual(start)` is frozen at `start` (unix
/// seconds) and only moves through [`Clock::advance`].
#[derive(Debug, Clone)]
pub struct Clock(Arc<ClockInner>);

impl Default for Clock {
    fn default() -> Self {
        Clock(Arc::new(ClockInner {
            manual_start_ms: None,
            offset_ms: AtomicI64::new(0),
        }))
    }
}

impl Clock {
    /// A clock that follows real time (plus any later `advance`).
    pub fn real() -> Clock {
        Clock::default()
    }

    /// A frozen clock starting at `start_unix` seconds.
    pub fn manual(start_unix: i64) -> Clock {
        Clock(Arc::new(ClockInner {
            manual_start_ms: Some(start_unix.saturating_mul(1000)),
            offset_ms: AtomicI64::new(0),
        }))
    }

    /// Current time in unix milliseconds.
    pub fn now_millis(&self) -> i64 {
        let base = match self.0.manual_start_ms {
            Some(start) => start,
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        };
        base.saturating_add(self.0.offset_ms.load(Ordering::SeqCst))
    }

    /// Current time in unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Move this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

/// Everything that shapes one mock instance.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Listen address; must be loopback unless `allow_non_loopback`.
    pub listen: SocketAddr,
    /// Opt-in for binding a non-loopback address (never used by the suite).
    pub allow_non_loopback: bool,
    /// API base path, `/v1` by default (API-001).
    pub base_path: String,
    /// Provider domain; agents are `<name>@<tenant>.<provider_domain>`. Two labels so the
    /// `last2` provider split (C-15) finds it.
    pub provider_domain: String,
    /// Planted defects; empty = a clean, strict provider.
    pub defects: DefectSet,
    /// Payload-hash profile used to verify signatures (C-01..C-04).
    pub profile: amp_core::PayloadProfile,
    /// WS-004: close when no auth frame arrives within this time.
    pub ws_auth_timeout: Duration,
    /// WS-009: idle connections are closed after this time.
    pub ws_idle_timeout: Duration,
    /// WH-006 retry schedule (attempt n waits `webhook_retry_delays[n-1]`).
    pub webhook_retry_delays: Vec<Duration>,
    /// WH-007 response timeout.
    pub webhook_timeout: Duration,
    /// WH-012 exception for tests: loopback (and plain `http://` to loopback) webhook URLs.
    pub allow_loopback_webhooks: bool,
    /// Request budgets (RL-001..003).
    pub rate_limits: RateLimits,
    /// Trusted federation peers.
    pub federation_peers: Vec<FederationPeer>,
    /// Seed of the provider's Ed25519 key (random when `None`).
    pub provider_key_seed: Option<[u8; 32]>,
    /// API-009 HTTP body cap.
    pub max_body_bytes: usize,
    /// Injectable clock.
    pub clock: Clock,
    /// Bearer key for the admin endpoints (quarantine, suspension, any agent's risk score,
    /// ADM-001); a random key when `None` (read it back with `MockHandle::admin_key`).
    pub admin_key: Option<String>,
    /// The tenants registration is open in; `None` = any. A single-organisation deployment
    /// (as AI Maestro's) hosts one and answers others `403 tenant_access_denied` (REG-008,
    /// REG-009: providers may restrict tenants). A deployment choice, not a defect.
    pub tenants: Option<Vec<String>>,
    /// Deliver on the provider's own host (spec 05 method `local`, as AI Maestro does into its
    /// inbox files): answered `delivered`/`local`, and nothing is queued, pushed or posted, so
    /// no API shows the delivered copy. A deployment choice, not a defect.
    pub host_delivery: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_non_loopback: false,
            base_path: "/v1".to_string(),
            provider_domain: "amp-mock.test".to_string(),
            defects: DefectSet::default(),
            profile: amp_core::PayloadProfile::default(),
            ws_auth_timeout: Duration::from_secs(10),
            ws_idle_timeout: Duration::from_secs(300),
            webhook_retry_delays: vec![
                Duration::ZERO,
                Duration::from_secs(30),
                Duration::from_secs(120),
            ],
            webhook_timeout: Duration::from_secs(10),
            allow_loopback_webhooks: false,
            rate_limits: RateLimits::default(),
            federation_peers: Vec::new(),
            provider_key_seed: None,
            max_body_bytes: 1_048_576,
            clock: Clock::default(),
            admin_key: None,
            tenants: None,
            host_delivery: false,
        }
    }
}

impl MockConfig {
    /// The base path normalised to `/segment` form without a trailing slash (`""` for root).
    pub fn normalized_base(&self) -> String {
        let trimmed = self.base_path.trim_matches('/');
        if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        }
    }
}
