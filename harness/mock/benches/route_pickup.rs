//! Route + pickup throughput over loopback.
//!
//! `cargo bench -p amp-mock --bench route_pickup [-- CLIENTS MESSAGES_PER_CLIENT]`
//! Each client is a sender/recipient pair in its own tenant: it routes signed messages, and after
//! every batch of 20 picks them up (`GET /messages/pending`) and batch-acks them. Reports
//! messages/s end to end, HTTP requests/s (1.1 per message), and p50/p99 latency of the route
//! call and of the pickup call. amp-netfuzz's `fuzz_vs_mock` bench runs the same client loop
//! (`route_pickup/workload.rs`) next to the fuzzer.

// `Stop::Until` serves amp-netfuzz's `fuzz_vs_mock` bench only.
#[allow(dead_code)]
#[path = "route_pickup/workload.rs"]
mod workload;

use amp_mock::MockConfig;
use std::time::{Duration, Instant};
use workload::Stop;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().copied().unwrap_or(8);
    let per_client = args.get(1).copied().unwrap_or(500);
    let handle = amp_mock::spawn(MockConfig::default()).await.expect("spawn");
    let base = handle.base_url();
    let http = workload::http_client();
    let pairs = workload::register_pairs(&http, &base, clients).await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (s, r) in pairs {
        let http = http.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(workload::client(
            http,
            base,
            s,
            r,
            Stop::Messages(per_client),
        )));
    }
    let mut route_lat = Vec::new();
    let mut pick_lat = Vec::new();
    let mut picked = 0;
    let mut requests = 0;
    for t in tasks {
        let run = t.await.expect("join");
        route_lat.extend(run.route_lat);
        pick_lat.extend(run.pick_lat);
        picked += run.picked;
        requests += run.requests;
    }
    let elapsed = started.elapsed();
    let total = clients * per_client;
    println!(
        "route_pickup: clients={clients} messages={total} picked={picked} elapsed={:.2}s throughput={:.0} msg/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  requests={requests} (routes, pickups and acks) = {:.0} req/s",
        requests as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  route latency p50={:?} p99={:?}; pickup+ack latency p50={:?} p99={:?}",
        pct(&mut route_lat, 0.5),
        pct(&mut route_lat, 0.99),
        pct(&mut pick_lat, 0.5),
        pct(&mut pick_lat, 0.99)
    );
    handle.shutdown().await;
}
