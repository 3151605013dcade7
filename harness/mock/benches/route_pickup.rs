//! Route + pickup throughput over loopback.
//!
//! `cargo bench -p amp-mock --bench route_pickup [-- CLIENTS MESSAGES_PER_CLIENT]`
//! Each client is a sender/recipient pair in its own tenant: it routes signed messages, and after
//! every batch of 20 picks them up (`GET /messages/pending`) and batch-acks them. Reports
//! messages/s end to end and p50/p99 latency of the route call and of the pickup call.

use amp_core::signing::{Priority, SecretKey, SigningFields};
use amp_core::{PayloadProfile, sign_fields};
use amp_mock::MockConfig;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Agent {
    address: String,
    api_key: String,
    key: SecretKey,
}

async fn register(http: &reqwest::Client, base: &str, tenant: &str, name: &str) -> Agent {
    let key = SecretKey::generate();
    let r: Value = http
        .post(format!("{base}/register"))
        .json(&json!({"tenant": tenant, "name": name, "public_key": key.public_key().to_spki_pem(), "key_algorithm": "Ed25519"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("register json");
    Agent {
        address: r["address"].as_str().unwrap_or_default().to_string(),
        api_key: r["api_key"].as_str().unwrap_or_default().to_string(),
        key,
    }
}

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
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");

    let mut pairs = Vec::new();
    for i in 0..clients {
        let t = format!("bench{i}");
        let s = register(&http, &base, &t, "sender").await;
        let r = register(&http, &base, &t, "recipient").await;
        pairs.push((s, r));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (s, r) in pairs {
        let http = http.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut route_lat = Vec::with_capacity(per_client);
            let mut pick_lat = Vec::new();
            let mut picked = 0usize;
            let payload = json!({"type": "bench", "message": "x".repeat(200)});
            let hash = amp_core::payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
            for n in 0..per_client {
                let subject = format!("m{n}");
                let f = SigningFields {
                    from: &s.address,
                    to: &r.address,
                    subject: &subject,
                    priority: Priority::Normal,
                    in_reply_to: None,
                    payload_hash: &hash,
                };
                let sig = sign_fields(&s.key, &f).to_base64();
                let body = json!({"to": r.address, "subject": subject, "payload": payload, "signature": sig});
                let t = Instant::now();
                let resp = http
                    .post(format!("{base}/route"))
                    .bearer_auth(&s.api_key)
                    .json(&body)
                    .send()
                    .await
                    .expect("route");
                assert_eq!(resp.status().as_u16(), 200);
                let _ = resp.bytes().await;
                route_lat.push(t.elapsed());
                if (n + 1) % 20 == 0 || n + 1 == per_client {
                    let t = Instant::now();
                    let p: Value = http
                        .get(format!("{base}/messages/pending?limit=100"))
                        .bearer_auth(&r.api_key)
                        .send()
                        .await
                        .expect("pending")
                        .json()
                        .await
                        .expect("pending json");
                    let ids: Vec<Value> = p["messages"]
                        .as_array()
                        .map(|a| a.iter().map(|m| m["id"].clone()).collect())
                        .unwrap_or_default();
                    picked += ids.len();
                    let _ = http
                        .post(format!("{base}/messages/pending/ack"))
                        .bearer_auth(&r.api_key)
                        .json(&json!({"ids": ids}))
                        .send()
                        .await
                        .expect("ack");
                    pick_lat.push(t.elapsed());
                }
            }
            (route_lat, pick_lat, picked)
        }));
    }
    let mut route_lat = Vec::new();
    let mut pick_lat = Vec::new();
    let mut picked = 0;
    for t in tasks {
        let (r, p, n) = t.await.expect("join");
        route_lat.extend(r);
        pick_lat.extend(p);
        picked += n;
    }
    let elapsed = started.elapsed();
    let total = clients * per_client;
    println!(
        "route_pickup: clients={clients} messages={total} picked={picked} elapsed={:.2}s throughput={:.0} msg/s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
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
