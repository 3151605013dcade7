//! Wall time of the whole conformance suite against the embedded mock (goal: ≤ 5 s on 2 cores).
//!
//! `cargo bench -p amp-conformance --bench suite_wall_time` — runs the suite a few times in one
//! process (a fresh mock each time) and prints min / median / max wall time and the case count.

use std::time::{Duration, Instant};

use amp_mock::DefectSet;
use amp_runner::RunOptions;

const RUNS: usize = 5;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cases = amp_suites::all();
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut verdicts = String::new();
    for i in 0..RUNS {
        let (elapsed, summary) = rt.block_on(async {
            let mock = amp_mock::spawn(amp_conformance::embedded::mock_config(
                DefectSet::none(),
                amp_core::PayloadProfile::default(),
            ))
            .await
            .expect("embedded mock starts");
            let mut opts = RunOptions::for_target(&mock.base_url()).expect("target");
            amp_conformance::embedded::adapt_options(&mut opts, &mock);
            opts.progress = false;
            opts.seed = Some(i as u64);
            let start = Instant::now();
            let report = amp_runner::run(&cases, opts).await.expect("suite runs");
            let elapsed = start.elapsed();
            mock.shutdown().await;
            let (p, f, s) = amp_runner::closing_counts(&report, false);
            (elapsed, format!("{p} passed, {f} failed, {s} skipped"))
        });
        times.push(elapsed);
        verdicts = summary;
    }
    times.sort();
    println!(
        "suite wall time over {RUNS} runs ({} cases; last run: {verdicts}): min {:.3} s, median {:.3} s, max {:.3} s",
        cases.len(),
        times[0].as_secs_f64(),
        times[RUNS / 2].as_secs_f64(),
        times[RUNS - 1].as_secs_f64()
    );
}
