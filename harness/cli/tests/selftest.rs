//! The suite proves itself: against the clean mock nothing fails, and every planted defect of
//! the mock is caught by at least one case citing the defect's clause.

use amp_conformance::cmd::selftest::{
    CaseVerdict, DEFAULT_JOBS, DefectRow, describe_missed, missed_cases, render, selftest,
    unknown_kill_cases,
};
use amp_mock::Defect;
use amp_runner::Verdict;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_defect_is_killed_and_the_clean_mock_passes() {
    let report = selftest(Defect::ALL, DEFAULT_JOBS)
        .await
        .expect("selftest ran");
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

#[test]
fn every_kill_list_names_cases_of_the_suite() {
    let cases = amp_suites::all();
    let unknown = unknown_kill_cases(
        Defect::ALL.iter().map(|d| (d.name(), d.killed_by())),
        &cases,
    );
    assert!(
        unknown.is_empty(),
        "unknown case ids in killed_by: {unknown:?}"
    );
}

/// The selftest runs only the listed cases, so one of them must cite the defect's clause: a
/// kill is then evidence about the clause the defect breaks, not about a neighbour.
#[test]
fn every_defect_is_killed_by_a_case_citing_its_clause() {
    let cases = amp_suites::all();
    let uncited: Vec<String> = Defect::ALL
        .iter()
        .filter(|d| {
            !cases
                .iter()
                .any(|c| d.killed_by().contains(&c.id) && c.clauses.contains(&d.clause()))
        })
        .map(|d| format!("{d} ({})", d.clause()))
        .collect();
    assert!(
        uncited.is_empty(),
        "list a case citing the defect's clause in its killed_by: {uncited:?}"
    );
}

#[test]
fn a_kill_list_naming_an_unknown_case_is_detected() {
    let cases = amp_suites::all();
    let lists: [(&str, &[&str]); 1] = [("some-defect", &["route.unsigned", "route.no-such-case"])];
    assert_eq!(
        unknown_kill_cases(lists, &cases),
        vec!["some-defect: route.no-such-case".to_string()]
    );
}

#[test]
fn a_listed_case_that_lets_its_defect_through_is_reported() {
    let verdict = |case: &str, verdict| CaseVerdict {
        case: case.to_string(),
        verdict,
        reason: None,
        finding: None,
    };
    let mut spelled = verdict("route.payload.missing-type", Verdict::Pass);
    spelled.finding = Some("error-code:missing_field->invalid_request".to_string());
    let ran = [
        verdict("route.unsigned", Verdict::Fail),
        verdict("route.signature.invalid", Verdict::Pass),
        verdict("ws.route", Verdict::Warn),
        spelled,
    ];
    let listed = [
        "route.unsigned",
        "route.signature.invalid",
        "ws.route",
        "route.payload.missing-type",
        "relay.fifo",
    ];
    assert_eq!(
        missed_cases(&listed, &ran),
        vec![
            "route.signature.invalid".to_string(),
            "relay.fifo".to_string()
        ]
    );
}

#[test]
fn a_missed_case_is_reported_with_the_verdict_it_gave() {
    let timed_out = CaseVerdict {
        case: "ws.route".to_string(),
        verdict: Verdict::Error,
        reason: Some("case did not finish within 31s".to_string()),
        finding: None,
    };
    let row = DefectRow {
        defect: "accept-bad-signature".to_string(),
        clause: "SIG-015".to_string(),
        description: String::new(),
        cases: vec![timed_out],
        killed: true,
        missed: vec!["ws.route".to_string(), "relay.fifo".to_string()],
        error: None,
        duration_ms: 0,
    };
    assert_eq!(
        describe_missed(&row),
        vec![
            "ws.route (error: case did not finish within 31s)".to_string(),
            "relay.fifo (did not run)".to_string()
        ]
    );
}
