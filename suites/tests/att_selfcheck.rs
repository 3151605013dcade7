//! Self-proof for the attachment cases: every case passes against the clean mock, and each
//! planted attachment defect makes the case aimed at it fail or warn (the same judgement as
//! `amp-conformance selftest`, kept here so `cargo test` guards it).

use amp_mock::{DefectSet, MockConfig};
use amp_runner::{RunOptions, RunReport, Verdict};
use std::time::Duration;

/// Case id → the mock defect it must catch.
const TARGETS: &[(&str, &str)] = &[
    ("attachments.route.foreign", "attachment-foreign-accepted"),
    ("attachments.route.pending", "attachment-pending-routed"),
    ("attachments.route.rejected", "attachment-rejected-routed"),
    (
        "attachments.route.tampered-metadata",
        "attachment-digest-not-checked",
    ),
    ("attachments.route.reuse", "attachment-reuse-accepted"),
    (
        "attachments.route.too-many",
        "too-many-attachments-accepted",
    ),
    ("attachments.upload.too-large", "oversize-upload-accepted"),
    ("attachments.upload.digest-algorithm", "upload-md5-accepted"),
    ("attachments.upload.url-expiry", "upload-url-long-lived"),
    ("attachments.upload.single-use", "presigned-reusable"),
    ("attachments.upload.size-condition", "upload-size-unchecked"),
    ("attachments.metadata.expiry", "attachment-short-ttl"),
    ("attachments.scan.executable", "executable-not-rejected"),
    ("attachments.scan.blocked-mime", "blocked-mime-accepted"),
    ("attachments.download.redirect", "download-no-disposition"),
];

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

async fn run_against(defects: &[&str], only: &[&str]) -> RunReport {
    let config = MockConfig {
        defects: DefectSet::from_names(defects).expect("known defect names"),
        ws_auth_timeout: Duration::from_secs(1),
        ..MockConfig::default()
    };
    let mock = amp_mock::spawn(config).await.expect("mock starts");
    let mut opts = RunOptions::for_target(&mock.base_url()).expect("valid mock URL");
    opts.progress = false;
    opts.run_patterns = only.iter().map(|s| s.to_string()).collect();
    let report = amp_runner::run(amp_suites::attachments::CASES, opts)
        .await
        .expect("run completes");
    mock.shutdown().await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attachment_cases_pass_clean_and_catch_their_defects() {
    amp_client::install_crypto_provider();
    let planted =
        futures_util::future::join_all(TARGETS.iter().map(|(id, defect)| async move {
            (*id, *defect, run_against(&[defect], &[id]).await)
        }));
    let (clean, planted) = tokio::join!(run_against(&[], &[]), planted);

    assert_eq!(
        clean.cases.len(),
        amp_suites::attachments::CASES.len(),
        "every attachment case ran on the clean mock:\n  {}",
        describe(&clean)
    );
    let mut problems: Vec<String> = clean
        .cases
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass))
        .map(|c| {
            format!(
                "clean mock: {} is {:?}: {}",
                c.id,
                c.verdict,
                c.reason.clone().unwrap_or_default()
            )
        })
        .collect();
    for (id, defect, report) in planted {
        let case = report.cases.iter().find(|c| c.id == id);
        let verdict = case.map(|c| c.verdict);
        if !matches!(verdict, Some(Verdict::Fail | Verdict::Warn)) {
            problems.push(format!(
                "{id} did not catch `{defect}` (verdict {verdict:?}):\n  {}",
                describe(&report)
            ));
        }
    }
    // Every attachment defect of the mock is in TARGETS.
    for d in amp_mock::Defect::ALL
        .iter()
        .filter(|d| d.owner() == amp_mock::Owner::Attachments)
    {
        if !TARGETS.iter().any(|(_, name)| *name == d.name()) {
            problems.push(format!("no case target for defect `{}`", d.name()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
