//! Which planted mock defects the network fuzzer notices (ignored by default: a survey, not a
//! check; the guaranteed ones are asserted in `selfproof.rs`). Run with
//! `cargo test -p amp-netfuzz --release --test defect_matrix -- --ignored --nocapture`.
//! `NETFUZZ_MATRIX_REQUESTS` (default 2000) sets the budget per defect.

use amp_mock::{Defect, DefectSet, MockConfig};
use amp_netfuzz::{Budget, FuzzOptions, fuzz};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "survey over every planted defect; run explicitly with --ignored --nocapture"]
async fn defect_matrix() {
    let requests: u64 = std::env::var("NETFUZZ_MATRIX_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut caught = 0;
    for d in Defect::ALL {
        let m = amp_mock::spawn(MockConfig {
            defects: DefectSet::from_names(&[d.name()]).expect("known defect"),
            ws_auth_timeout: Duration::from_millis(500),
            ..MockConfig::default()
        })
        .await
        .expect("mock starts");
        let dir = std::env::temp_dir().join(format!(
            "amp-netfuzz-matrix-{}-{}",
            std::process::id(),
            d.name()
        ));
        let mut opts = FuzzOptions::new(m.base_url(), &dir);
        opts.seed = 11;
        opts.budget = Budget::Requests(requests);
        opts.concurrency = 2;
        opts.request_timeout = Duration::from_secs(2);
        opts.shrink_attempts = 30;
        let report = fuzz(opts).await.expect("fuzz runs");
        let found: Vec<String> = report
            .violations
            .iter()
            .map(|v| {
                format!(
                    "{}[{}]{}",
                    v.invariant.name(),
                    v.clause.as_deref().unwrap_or("-"),
                    if v.replays { "" } else { "(no replay)" }
                )
            })
            .collect();
        if !found.is_empty() {
            caught += 1;
        }
        println!(
            "{:32} {:10} {}",
            d.name(),
            d.clause(),
            if found.is_empty() {
                "-".to_string()
            } else {
                found.join(", ")
            }
        );
        m.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!(
        "caught {caught} of {} defects with {requests} requests each",
        Defect::ALL.len()
    );
}
