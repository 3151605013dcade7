//! Routing vectors against a single-organisation provider (the mock hosting one tenant, as AI
//! Maestro does): bystanders in other tenants are left out, a trial whose question needs
//! another tenant is blocked under one root cause, and nothing fails for it (REG-009 lets a
//! provider restrict tenants).

use amp_mock::MockConfig;
use amp_runner::{RunOptions, Verdict, run};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_tenant_provider_blocks_only_the_vectors_that_need_another_tenant() {
    let mock = amp_mock::spawn(MockConfig {
        tenants: Some(vec!["acme".to_string()]),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let mut opts = RunOptions::for_target(&mock.base_url()).expect("options");
    opts.tenant = Some("acme".to_string());
    opts.seed = Some(7);
    opts.case_timeout = Duration::from_secs(60);
    opts.run_patterns = vec!["vector.routing.*".to_string()];
    let report = run(amp_suites::live_vectors::embedded(), opts)
        .await
        .expect("run");
    let verdict = |id: &str| report.case(id).unwrap_or_else(|| panic!("{id}")).verdict;

    // Only bystanders live in other tenants: judged, and the clean mock passes them.
    for id in [
        "vector.routing.route-001",
        "vector.routing.route-003",
        "vector.routing.route-020",
    ] {
        assert_eq!(verdict(id), Verdict::Pass, "{id}: {:?}", report.case(id));
    }
    // The question itself needs `bob@beta`: blocked, not failed, and one root cause lists it.
    assert_eq!(verdict("vector.routing.route-002"), Verdict::Blocked);
    let rc = report
        .root_causes
        .iter()
        .find(|r| r.key == "vector:tenant-refused")
        .unwrap_or_else(|| panic!("{:?}", report.root_causes));
    assert_eq!(rc.clause, "REG-009");
    assert!(rc.cases.iter().any(|c| c == "vector.routing.route-002"));
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error | Verdict::Warn))
        .map(|c| c.id.as_str())
        .collect();
    assert!(failed.is_empty(), "false verdicts: {failed:?}");
    // Every blocked trial is explained by a root cause.
    let explained: std::collections::BTreeSet<&String> =
        report.root_causes.iter().flat_map(|r| &r.cases).collect();
    let unexplained: Vec<&String> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Blocked && !explained.contains(&c.id))
        .map(|c| &c.id)
        .collect();
    assert!(unexplained.is_empty(), "no root cause for {unexplained:?}");
}

/// A provider whose deliveries no API shows (method `local`) and which accepts messages to
/// unregistered addresses (C-37's `queue` reading, planted as a defect): the trial cannot tell
/// "queued for later" from "delivered to someone else", so it is blocked by the delivery probe
/// instead of claiming the message reached no agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_delivery_is_not_claimed_when_deliveries_cannot_be_observed() {
    let mock = amp_mock::spawn(MockConfig {
        host_delivery: true,
        defects: amp_mock::DefectSet::from_names(&["unknown-recipient-accepted"]).expect("defect"),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let mut opts = RunOptions::for_target(&mock.base_url()).expect("options");
    opts.seed = Some(8);
    opts.case_timeout = Duration::from_secs(60);
    opts.run_patterns = vec![
        "vector.routing.route-021".to_string(),
        "vector.routing.route-001".to_string(),
        "vector.routing.route-030".to_string(),
    ];
    let report = run(amp_suites::live_vectors::embedded(), opts)
        .await
        .expect("run");
    let case = |id: &str| report.case(id).unwrap_or_else(|| panic!("{id}"));
    for id in ["vector.routing.route-021", "vector.routing.route-001"] {
        assert_eq!(case(id).verdict, Verdict::Blocked, "{:?}", case(id));
        assert_eq!(
            case(id).blocked_by,
            Some(amp_runner::Prereq::DeliveryObservable)
        );
    }
    // A refusal needs no observation: the malformed address is still judged.
    assert_eq!(case("vector.routing.route-030").verdict, Verdict::Pass);
}
