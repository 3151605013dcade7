//! The suite proves itself: against the clean mock nothing fails, and every planted defect of
//! the mock is caught by at least one case citing the defect's clause.

use amp_conformance::cmd::selftest::{render, selftest};
use amp_mock::Defect;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_defect_is_killed_and_the_clean_mock_passes() {
    let report = selftest(Defect::ALL, 4).await.expect("selftest ran");
    let rendered = render(&report);
    println!("{rendered}");
    assert!(
        report.false_alarms.is_empty(),
        "cases that fail against the clean mock:\n{rendered}"
    );
    let survivors: Vec<&str> = report
        .defects
        .iter()
        .filter(|r| !r.killed)
        .map(|r| r.defect.as_str())
        .collect();
    assert!(
        survivors.is_empty(),
        "defects no case catches: {survivors:?}\n{rendered}"
    );
    assert_eq!(report.total, Defect::ALL.len());
}
