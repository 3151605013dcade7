//! The network fuzzer's request rate next to the request rate the mock sustains in its
//! `route_pickup` bench, measured by this one program in interleaved rounds.
//!
//! `cargo bench -p amp-netfuzz --bench fuzz_vs_mock [-- ROUNDS SECONDS LANES]` (defaults 5, 6, 8)
//!
//! Each round runs, in alternating order so a change in machine load hits both alike:
//! * `route_pickup`: LANES clients run the mock bench's own client loop
//!   (`harness/mock/benches/route_pickup/workload.rs`, included by path) against a fresh
//!   embedded mock for SECONDS, stopping at a batch boundary;
//! * `netfuzz`: `fuzz` with LANES lanes against a fresh embedded mock for SECONDS.
//!
//! What counts as a request: for route_pickup, every HTTP request (route, pickup, ack; 1.1 per
//! message); for netfuzz, its report's `requests`: every HTTP request, every WebSocket
//! connection (the upgrade request) and every WebSocket frame sent. Setup (registration) is
//! not counted by either. CPU per request is this process's user+system time (fuzzer or
//! client, oracle and mock together) divided by those requests; it moves less with the load
//! of a shared machine than the rates do.

// `Stop::Messages` serves the mock bench only.
#[allow(dead_code)]
#[path = "../../mock/benches/route_pickup/workload.rs"]
mod route_pickup_workload;

use amp_mock::MockConfig;
use amp_netfuzz::{Budget, FuzzOptions, fuzz};
use route_pickup_workload::{Stop, client};
use std::time::{Duration, Instant};

/// One timed measurement.
#[derive(Debug, Clone, Copy)]
struct Sample {
    requests: u64,
    /// WebSocket frames among `requests` (netfuzz only).
    ws_frames: u64,
    elapsed: Duration,
    cpu: Option<Duration>,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn cpu_per_request(&self) -> String {
        match self.cpu {
            Some(c) if self.requests > 0 => {
                format!("{:.0} µs", c.as_secs_f64() * 1e6 / self.requests as f64)
            }
            _ => "n/a".to_string(),
        }
    }
}

/// User+system CPU time of this process so far (Linux `/proc/self/stat`, in clock ticks of
/// 1/100 s); `None` elsewhere.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start with the state (field 3);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn cpu_since(start: Option<Duration>) -> Option<Duration> {
    Some(process_cpu()?.saturating_sub(start?))
}

async fn route_pickup(clients: usize, secs: u64) -> Sample {
    let handle = amp_mock::spawn(MockConfig::default())
        .await
        .expect("mock starts");
    let base = handle.base_url();
    let http = route_pickup_workload::http_client();
    let pairs = route_pickup_workload::register_pairs(&http, &base, clients).await;
    let cpu0 = process_cpu();
    let started = Instant::now();
    let stop = Stop::Until(started + Duration::from_secs(secs));
    let tasks: Vec<_> = pairs
        .into_iter()
        .map(|(s, r)| tokio::spawn(client(http.clone(), base.clone(), s, r, stop)))
        .collect();
    let mut requests = 0;
    for t in tasks {
        requests += t.await.expect("client finishes").requests;
    }
    let sample = Sample {
        requests,
        ws_frames: 0,
        elapsed: started.elapsed(),
        cpu: cpu_since(cpu0),
    };
    handle.shutdown().await;
    sample
}

async fn netfuzz(lanes: usize, secs: u64, round: usize) -> Sample {
    let handle = amp_mock::spawn(MockConfig {
        ws_auth_timeout: Duration::from_millis(500),
        ..MockConfig::default()
    })
    .await
    .expect("mock starts");
    let dir =
        std::env::temp_dir().join(format!("amp-netfuzz-bench-{}-{round}", std::process::id()));
    let mut opts = FuzzOptions::new(handle.base_url(), &dir);
    opts.seed = 3;
    opts.budget = Budget::Duration(Duration::from_secs(secs));
    opts.concurrency = lanes;
    let cpu0 = process_cpu();
    let report = fuzz(opts).await.expect("fuzz runs");
    // Lane setup (registration) falls inside `fuzz_elapsed` and the CPU window, against the
    // fuzzer: a few requests per lane.
    let sample = Sample {
        requests: report.requests,
        ws_frames: report.ws_frames,
        elapsed: report.fuzz_elapsed,
        cpu: cpu_since(cpu0),
    };
    assert!(report.clean(), "{}", report.summary());
    let _ = std::fs::remove_dir_all(&dir);
    handle.shutdown().await;
    sample
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::main]
async fn main() {
    amp_client::http::install_crypto_provider();
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(5).max(1) as usize;
    let secs = args.get(1).copied().unwrap_or(6).max(1);
    let lanes = args.get(2).copied().unwrap_or(8).max(1) as usize;
    println!(
        "fuzz_vs_mock: {rounds} rounds of {secs} s, route_pickup with {lanes} clients vs netfuzz with {lanes} lanes"
    );
    let (mut mock_rates, mut fuzz_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (mock, fuzzer) = if round % 2 == 1 {
            let m = route_pickup(lanes, secs).await;
            (m, netfuzz(lanes, secs, round).await)
        } else {
            let f = netfuzz(lanes, secs, round).await;
            (route_pickup(lanes, secs).await, f)
        };
        let ratio = fuzzer.rate() / mock.rate();
        println!(
            "round {round}: route_pickup {:.0} req/s ({} requests, CPU {}/request) | netfuzz {:.0} req/s ({} requests of which {} WebSocket frames, CPU {}/request) | ratio {ratio:.2}",
            mock.rate(),
            mock.requests,
            mock.cpu_per_request(),
            fuzzer.rate(),
            fuzzer.requests,
            fuzzer.ws_frames,
            fuzzer.cpu_per_request(),
        );
        mock_rates.push(mock.rate());
        fuzz_rates.push(fuzzer.rate());
        ratios.push(ratio);
    }
    println!(
        "median: route_pickup {:.0} req/s, netfuzz {:.0} req/s, ratio {:.2} (median of the rounds' ratios; min {:.2}, max {:.2})",
        median(mock_rates),
        median(fuzz_rates),
        median(ratios.clone()),
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
}
