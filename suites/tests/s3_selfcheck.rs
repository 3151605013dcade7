//! Self-proof for the WebSocket, webhook and federation cases (helper S3): every case passes
//! against the clean mock, and each planted defect of those areas makes the case aimed at it
//! fail or warn. All mocks run concurrently; the slowest defects (a socket the mock never
//! closes, a pong that never comes) cost one observation window each, about 12 s in total.

use amp_core::SecretKey;
use amp_mock::{DefectSet, FederationPeer, MockConfig};
use amp_runner::{Case, PeerConfig, RunOptions, RunReport, Verdict};
use std::time::Duration;

/// The peer the suite plays in this test (any domain with two labels works).
const PEER_DOMAIN: &str = "s3-peer.test";
/// A public test key: it only signs traffic to the mocks of this test.
const PEER_SEED: [u8; 32] = *b"amp-suites s3 selfcheck peer key";

/// Case id → the mock defect it must catch.
const TARGETS: &[(&str, &str)] = &[
    ("ws.auth.token-in-url", "ws-token-in-url"),
    ("ws.auth.first-frame", "ws-non-auth-first-frame"),
    ("ws.auth.timeout", "ws-no-auth-timeout"),
    ("ws.auth.invalid-token", "ws-invalid-token-open"),
    ("ws.ping", "ws-no-pong"),
    ("ws.replay.marked", "ws-replay-unmarked"),
    ("webhook.delivery.signed", "webhook-hmac-wrong-key"),
    ("webhook.delivery.signed", "webhook-no-signature"),
    ("webhook.no-retry-on-4xx", "webhook-retry-on-4xx"),
    ("federation.unsigned-provider", "federation-unauthenticated"),
    (
        "federation.bad-sender-signature",
        "federation-no-sender-check",
    ),
    ("federation.domain-mismatch", "federation-no-domain-check"),
    ("federation.replay", "federation-replay-accepted"),
    ("federation.future-timestamp", "federation-future-timestamp"),
    (
        "federation.external-wrapped",
        "federation-untrusted-unwrapped",
    ),
    // Secondary: the WS route path verifies signatures like REST.
    ("ws.route", "accept-bad-signature"),
];

fn cases() -> Vec<Case> {
    let mut v = amp_suites::websocket::CASES.to_vec();
    v.extend_from_slice(amp_suites::webhooks::CASES);
    v.extend_from_slice(amp_suites::federation::CASES);
    v
}

fn describe(r: &RunReport) -> String {
    r.cases
        .iter()
        .map(|c| {
            format!(
                "{} {:?} {}",
                c.id,
                c.verdict,
                c.reason.clone().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Spawn a mock with `defects` (shortened timings, trusting our peer), run `only` (all cases
/// when empty), shut the mock down.
async fn run_against(defects: &[&str], only: &[&str]) -> RunReport {
    let peer_key = SecretKey::from_seed(PEER_SEED);
    let config = MockConfig {
        defects: DefectSet::from_names(defects).expect("known defect names"),
        allow_loopback_webhooks: true,
        ws_auth_timeout: Duration::from_secs(1),
        ws_idle_timeout: Duration::from_secs(60),
        webhook_retry_delays: vec![
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::from_millis(600),
        ],
        webhook_timeout: Duration::from_secs(2),
        federation_peers: vec![FederationPeer {
            domain: PEER_DOMAIN.to_string(),
            public_key: peer_key.public_key(),
        }],
        ..MockConfig::default()
    };
    let mock = amp_mock::spawn(config).await.expect("mock starts");
    let mut opts = RunOptions::for_target(&mock.base_url()).expect("valid mock URL");
    opts.progress = false;
    opts.loopback_webhooks = true;
    opts.federation_peer = Some(PeerConfig {
        provider: PEER_DOMAIN.to_string(),
        endpoint: mock.origin(),
        key_seed: PEER_SEED,
    });
    opts.run_patterns = only.iter().map(|s| s.to_string()).collect();
    let report = amp_runner::run(&cases(), opts)
        .await
        .expect("run completes");
    mock.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_cases_pass_clean_and_catch_their_defects() {
    amp_client::install_crypto_provider();
    let planted =
        futures_util::future::join_all(TARGETS.iter().map(|(id, defect)| async move {
            (*id, *defect, run_against(&[defect], &[id]).await)
        }));
    let (clean, planted) = tokio::join!(run_against(&[], &[]), planted);

    let all = cases();
    assert_eq!(
        clean.cases.len(),
        all.len(),
        "every S3 case ran on the clean mock:\n  {}",
        describe(&clean)
    );
    let mut problems = Vec::new();
    for c in &clean.cases {
        if !matches!(c.verdict, Verdict::Pass) {
            problems.push(format!(
                "clean mock: {} is {:?}: {}",
                c.id,
                c.verdict,
                c.reason.clone().unwrap_or_default()
            ));
        }
    }
    for (id, defect, report) in planted {
        let case = report.cases.iter().find(|c| c.id == id);
        let verdict = case.map(|c| c.verdict);
        let reason = case.and_then(|c| c.reason.clone()).unwrap_or_default();
        println!("{defect:<32} -> {id}: {verdict:?} {reason}");
        if !matches!(verdict, Some(Verdict::Fail | Verdict::Warn)) {
            problems.push(format!(
                "{id} did not catch `{defect}` (verdict {verdict:?}):\n  {}",
                describe(&report)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
