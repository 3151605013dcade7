//! The embedded default target: the mock provider as `run` and `selftest` start it.
//!
//! Timings are shortened (the suite must finish in seconds) but every behaviour stays the
//! spec's; [`adapt_options`] declares the shortened timings in `RunOptions.timing`, so against
//! the mock the cases wait its deadlines while against a real provider they still wait the
//! spec's (or what its `--config` `[timing]` section declares).

use std::time::Duration;

use amp_core::SecretKey;
use amp_mock::{DefectSet, FederationPeer, MockConfig, RateLimits};

/// Domain the suite uses when it plays a federation peer of the embedded mock (two labels, so
/// the `last2` provider split of C-15 yields it for the peer's senders).
pub const PEER_DOMAIN: &str = "amp-peer.test";

/// Seed of the suite's federation peer key. A public test key: it only ever signs traffic to
/// the embedded mock, which trusts it because this module configures it to.
pub const PEER_SEED: [u8; 32] = *b"amp-conformance embedded peer k1";

/// WS-004 auth timeout of the embedded mock (the spec's is 10 s).
pub const WS_AUTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Webhook retry delays of the embedded mock (the spec's are 0 s, 30 s, 120 s).
pub const WEBHOOK_RETRY_DELAYS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(300),
    Duration::from_millis(600),
];

/// Admin bearer key of the embedded mock. A public test value: it only opens the admin
/// endpoints of the suite's own in-process mock, never a real provider.
pub const ADMIN_KEY: &str = "amp_admin_embedded_conformance_k1";

/// User Key of the embedded mock's one owner account. A public test value: it only registers
/// agents on the suite's own in-process mock.
pub const USER_KEY: &str = "uk_dXNyX2VtYmVkZGVkX2NvbmZvcm1hbmNl";

/// Owner id encoded in [`USER_KEY`] (base64url of it) and the tenant its agents live in.
pub const OWNER_ID: &str = "usr_embedded_conformance";
const OWNER_TENANT: &str = "ampc-owned";

/// The mock configuration used by `run` (no `--target`) and by `selftest`.
pub fn mock_config(defects: DefectSet, profile: amp_core::PayloadProfile) -> MockConfig {
    let peer_key = SecretKey::from_seed(PEER_SEED);
    MockConfig {
        defects,
        profile,
        ws_auth_timeout: WS_AUTH_TIMEOUT,
        ws_idle_timeout: Duration::from_secs(60),
        webhook_retry_delays: WEBHOOK_RETRY_DELAYS.to_vec(),
        webhook_timeout: Duration::from_secs(2),
        allow_loopback_webhooks: true,
        // RL-001's per-key budget: the client paces each agent under it, and the rate-limit
        // cases exceed it on purpose with one agent.
        rate_limits: RateLimits {
            api_requests_per_minute: 100,
            pending_per_minute: 30,
            ..RateLimits::default()
        },
        federation_peers: vec![FederationPeer {
            domain: PEER_DOMAIN.to_string(),
            public_key: peer_key.public_key(),
        }],
        admin_key: Some(ADMIN_KEY.to_string()),
        user_keys: vec![amp_mock::OwnerKey {
            user_key: USER_KEY.to_string(),
            owner_id: OWNER_ID.to_string(),
            tenant: OWNER_TENANT.to_string(),
        }],
        ..MockConfig::default()
    }
}

/// How long the suite watches the embedded mock for something it must not do. The mock acts
/// at once (no queues, no jitter), so a short window is enough and keeps passing runs fast.
pub const OBSERVE_WINDOW: Duration = Duration::from_millis(750);

/// The embedded mock's timings as the cases should wait for them: its shortened deadlines, so
/// a planted defect ("never closes", "never retries") costs about a second instead of the
/// spec's 12 s or 36 s.
pub fn timing() -> amp_runner::Timing {
    amp_runner::Timing {
        ws_auth_timeout: WS_AUTH_TIMEOUT,
        // The mock answers a ping at once; 2 s leaves room for a loaded selftest machine.
        ws_pong_wait: Duration::from_secs(2),
        webhook_first_retry: WEBHOOK_RETRY_DELAYS[1],
        observe_window: OBSERVE_WINDOW,
    }
}

/// Tell the runner what the embedded mock allows and how fast it is: loopback webhook
/// receivers, the suite as a trusted federation peer, the mock's shortened timings.
pub fn adapt_options(opts: &mut amp_runner::RunOptions, mock: &amp_mock::MockHandle) {
    opts.loopback_webhooks = true;
    opts.admin_key = Some(amp_client::Secret::new(ADMIN_KEY));
    opts.user_key = Some(amp_client::Secret::new(USER_KEY));
    opts.timing = timing();
    opts.federation_peer = Some(amp_runner::PeerConfig {
        provider: PEER_DOMAIN.to_string(),
        endpoint: mock.origin(),
        key_seed: PEER_SEED,
    });
}
