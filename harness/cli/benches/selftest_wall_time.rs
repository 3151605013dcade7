//! Wall time of `selftest` next to one embedded run (goal: selftest within 3× one run).
//!
//! `cargo bench -p amp-conformance --bench selftest_wall_time` — alternates one embedded run
//! (the whole suite against the clean mock) and one full selftest (clean pass plus every defect
//! pass), so both see the same machine load, and prints min / median / max of each and the
//! ratio of the medians. Every selftest must kill every defect with no false alarm.

use std::time::{Duration, Instant};

use amp_conformance::cmd::selftest::{DEFAULT_JOBS, run_against, selftest};
use amp_mock::{Defect, DefectSet};

const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    let cases = amp_suites::all();
    let mut runs: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut selftests: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        let report = run_against(DefectSet::none(), &cases)
            .await
            .expect("embedded run completes");
        runs.push(start.elapsed());
        assert_eq!(report.cases.len(), cases.len());

        let start = Instant::now();
        let report = selftest(Defect::ALL, DEFAULT_JOBS)
            .await
            .expect("selftest completes");
        selftests.push(start.elapsed());
        assert!(
            report.is_success(),
            "selftest failed: {} false alarms, {}/{} killed",
            report.false_alarms.len(),
            report.killed,
            report.total
        );
    }
    runs.sort();
    selftests.sort();
    let line = |what: &str, t: &[Duration]| {
        println!(
            "{what}: min {:.2} s, median {:.2} s, max {:.2} s",
            t[0].as_secs_f64(),
            t[RUNS / 2].as_secs_f64(),
            t[RUNS - 1].as_secs_f64()
        );
    };
    println!(
        "over {RUNS} runs each ({} cases, {} defects, {DEFAULT_JOBS} defect passes at a time):",
        cases.len(),
        Defect::ALL.len()
    );
    line("embedded run", &runs);
    line("selftest    ", &selftests);
    println!(
        "selftest / embedded run (medians): {:.2}x",
        selftests[RUNS / 2].as_secs_f64() / runs[RUNS / 2].as_secs_f64()
    );
}
