//! Self-proof: the network fuzzer finds nothing on the clean mock and finds each planted defect
//! it targets within a bounded number of requests, saving a reproducer that replays.

use amp_mock::{DefectSet, MockConfig};
use amp_netfuzz::{Budget, FuzzOptions, FuzzReport, Invariant, fuzz, replay};
use std::path::PathBuf;
use std::time::Duration;

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("amp-netfuzz-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

async fn mock(defects: &[&str]) -> amp_mock::MockHandle {
    amp_mock::spawn(MockConfig {
        defects: DefectSet::from_names(defects).expect("known defect"),
        ws_auth_timeout: Duration::from_millis(500),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts")
}

async fn run(
    defects: &[&str],
    seed: u64,
    requests: u64,
    name: &str,
) -> (FuzzReport, amp_mock::MockHandle) {
    let m = mock(defects).await;
    let mut opts = FuzzOptions::new(m.base_url(), out_dir(name));
    opts.seed = seed;
    opts.budget = Budget::Requests(requests);
    opts.concurrency = 2;
    opts.request_timeout = Duration::from_secs(3);
    opts.shrink_attempts = 60;
    let report = fuzz(opts).await.expect("fuzz runs");
    (report, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_mock_has_no_violations() {
    let (report, _m) = run(&[], 7, 1500, "clean").await;
    assert!(report.requests >= 1500, "{}", report.summary());
    assert!(report.clean(), "{}", report.summary());
    // The run exercised every kind of operation and got both accepted and refused routes.
    for kind in ["route", "pending", "ack", "raw", "ws"] {
        assert!(
            report.operations_by_kind.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} ops: {report:?}"
        );
    }
    assert!(report.statuses.get(&200).copied().unwrap_or(0) > 100);
    assert!(report.statuses.keys().any(|s| *s >= 400));
}

/// Plant `defect`, fuzz, and require a violation of `invariant` whose reproducer replays.
async fn catches(defect: &str, invariant: Invariant, clause: &str) {
    let (report, m) = run(&[defect], 11, 1500, defect).await;
    let found = report
        .violations
        .iter()
        .find(|v| v.invariant == invariant && v.clause.as_deref() == Some(clause))
        .unwrap_or_else(|| {
            panic!(
                "{defect}: no {invariant:?} [{clause}] violation\n{}",
                report.summary()
            )
        });
    assert!(
        found.replays,
        "{defect}: reproducer did not replay\n{}",
        report.summary()
    );
    assert!(found.operations_after_shrink <= found.operations_before_shrink);
    let r = replay(std::path::Path::new(&found.reproducer), &m.base_url())
        .await
        .expect("replay runs");
    assert!(r.reproduced, "{defect}: replay did not reproduce: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_accept_bad_signature() {
    catches(
        "accept-bad-signature",
        Invariant::BadSignatureAccepted,
        "SIG-015",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_accept_unsigned() {
    catches(
        "accept-unsigned",
        Invariant::BadSignatureAccepted,
        "SIG-002",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_duplicate_delivery() {
    catches(
        "duplicate-delivery",
        Invariant::DuplicateDelivery,
        "REPLAY-005",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_malformed_json_500() {
    catches("malformed-json-500", Invariant::ServerError, "JSON-008").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_ack_not_idempotent() {
    catches(
        "ack-not-idempotent",
        Invariant::AckNotIdempotent,
        "NOTIFY-009",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_ack_keeps_message() {
    catches("ack-keeps-message", Invariant::AckedReturned, "RTE-017").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_wrong_error_format() {
    catches("wrong-error-format", Invariant::ErrorFormat, "API-007").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_unsigned_priority() {
    catches(
        "unsigned-priority",
        Invariant::BadSignatureAccepted,
        "SIG-016",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_lax_signature_encoding() {
    catches(
        "lax-signature-encoding",
        Invariant::BadSignatureAccepted,
        "SIG-011",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_honour_spoofed_from() {
    catches(
        "honour-spoofed-from",
        Invariant::BadSignatureAccepted,
        "SIG-013",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_cross_agent_ack() {
    catches("cross-agent-ack", Invariant::CrossAgentAck, "RTE-017").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_accept_duplicate_keys() {
    catches(
        "accept-duplicate-keys",
        Invariant::InvalidBodyAccepted,
        "JSON-003",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_context_modified() {
    catches("context-modified", Invariant::PayloadModified, "MSG-010").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_ws_non_auth_first_frame() {
    catches("ws-non-auth-first-frame", Invariant::WsAuth, "WS-006").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_ws_invalid_token_open() {
    catches("ws-invalid-token-open", Invariant::WsAuth, "WS-005").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catches_ws_replay_unmarked() {
    catches(
        "ws-replay-unmarked",
        Invariant::ReplayUnmarked,
        "NOTIFY-012",
    )
    .await;
}
