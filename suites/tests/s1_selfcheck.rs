//! Self-proof for the discovery, registration, agent, error, key and rate-limit cases (helper
//! S1), independent of the CLI's `selftest`: every case passes (or reports info) against the
//! clean mock, and each planted defect makes the case aimed at it fail or warn. All mocks run
//! concurrently so the test stays fast.

use amp_mock::{DefectSet, MockConfig, RateLimits};
use amp_runner::{Case, RunOptions, RunReport, Verdict};
use std::time::Duration;

/// Case id → the mock defect it must catch.
const TARGETS: &[(&str, &str)] = &[
    ("discovery.info.shape", "info-missing-fields"),
    ("register.private-key-pem", "accept-private-key-pem"),
    ("register.small-order-key", "accept-small-order-key"),
    ("register.name-taken", "name-collision-overwrites"),
    ("register.name-taken.keeps-key", "name-collision-overwrites"),
    ("register.api-key-shown-once", "api-key-in-me"),
    ("agents.me.shape", "api-key-in-me"),
    (
        "register.webhook.private-url",
        "webhook-private-url-accepted",
    ),
    ("keys.revoke-key", "revoked-key-works"),
    ("keys.rotate-key.grace", "rotated-key-invalid-immediately"),
    ("keys.rotate-keys.bad-proof", "rotate-keys-no-proof-check"),
    (
        "keys.rotate-keys.old-key-revoked",
        "old-key-valid-after-rotate",
    ),
    ("keys.deregister", "deregistered-key-works"),
    ("errors.auth.missing", "no-auth-pending"),
    ("errors.malformed-json", "malformed-json-500"),
    ("errors.format", "wrong-error-format"),
    ("errors.duplicate-keys", "accept-duplicate-keys"),
    ("errors.body-too-large", "no-body-limit"),
    ("ratelimit.headers", "no-rate-limit-headers"),
    ("ratelimit.retry-after", "no-retry-after"),
];

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for t in [
        amp_suites::discovery::CASES,
        amp_suites::registration::CASES,
        amp_suites::agents::CASES,
        amp_suites::errors::CASES,
        amp_suites::keys::CASES,
        amp_suites::ratelimit::CASES,
    ] {
        v.extend_from_slice(t);
    }
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

/// Spawn a mock with `defects`, run `only` (all S1 cases when empty), shut the mock down.
async fn run_against(defects: &[&str], only: &[&str]) -> RunReport {
    let config = MockConfig {
        defects: DefectSet::from_names(defects).expect("known defect names"),
        allow_loopback_webhooks: true,
        ws_auth_timeout: Duration::from_secs(1),
        // RL-001's per-key budget, so `ratelimit.retry-after` can provoke a 429 with one agent.
        rate_limits: RateLimits {
            api_requests_per_minute: 100,
            ..RateLimits::default()
        },
        ..MockConfig::default()
    };
    let mock = amp_mock::spawn(config).await.expect("mock starts");
    let mut opts = RunOptions::for_target(&mock.base_url()).expect("valid mock URL");
    opts.progress = false;
    opts.loopback_webhooks = true;
    opts.run_patterns = only.iter().map(|s| s.to_string()).collect();
    let report = amp_runner::run(&cases(), opts)
        .await
        .expect("run completes");
    mock.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s1_cases_pass_clean_and_catch_their_defects() {
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
        "every S1 case ran on the clean mock:\n  {}",
        describe(&clean)
    );
    let mut problems = Vec::new();
    for c in &clean.cases {
        if !matches!(c.verdict, Verdict::Pass | Verdict::Info) {
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
