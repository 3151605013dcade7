//! Throughput of the network fuzzer against the embedded mock (ignored by default: it is a
//! measurement, not a check). Run with
//! `cargo test -p amp-netfuzz --release --test bench -- --ignored --nocapture`.
//! `NETFUZZ_BENCH_SECS` (default 10) and `NETFUZZ_BENCH_LANES` (default 8,
//! like the 8 clients of the mock's `route_pickup` bench it is compared with) tune it.

use amp_mock::MockConfig;
use amp_netfuzz::{Budget, FuzzOptions, fuzz};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly with --ignored --nocapture (release build)"]
async fn requests_per_second_against_embedded_mock() {
    let secs: u64 = std::env::var("NETFUZZ_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let lanes: usize = std::env::var("NETFUZZ_BENCH_LANES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let m = amp_mock::spawn(MockConfig {
        ws_auth_timeout: Duration::from_millis(500),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let dir = std::env::temp_dir().join(format!("amp-netfuzz-bench-{}", std::process::id()));
    let mut opts = FuzzOptions::new(m.base_url(), &dir);
    opts.seed = 3;
    opts.budget = Budget::Duration(Duration::from_secs(secs));
    opts.concurrency = lanes;
    let report = fuzz(opts).await.expect("fuzz runs");
    println!(
        "netfuzz bench: {} requests ({} WebSocket frames, {} operations) in {:.1} s with {} lanes = {:.0} req/s; {} violations",
        report.requests,
        report.ws_frames,
        report.operations,
        report.fuzz_elapsed.as_secs_f64(),
        report.lanes,
        report.requests_per_second,
        report.violations.len()
    );
    assert!(report.clean(), "{}", report.summary());
    let _ = std::fs::remove_dir_all(&dir);
}
