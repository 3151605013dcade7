//! The client side of the `route_pickup` bench: one sender/recipient pair in its own tenant
//! routes signed messages and, after every batch of 20, picks them up
//! (`GET /messages/pending?limit=100`) and batch-acks them (`POST /messages/pending/ack`).
//!
//! A module of its own so amp-netfuzz's `fuzz_vs_mock` bench drives exactly this loop (it
//! includes the file by path) when it compares the fuzzer's request rate with the mock's.
//! Requests per message: 20 routes + 1 pickup + 1 ack per 20 messages = 1.1.

use amp_core::signing::{Priority, SecretKey, SigningFields};
use amp_core::{PayloadProfile, sign_fields};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Messages routed between two pickups.
pub const BATCH: usize = 20;

pub struct Agent {
    pub address: String,
    pub api_key: String,
    pub key: SecretKey,
}

/// The bench's HTTP client (a generous timeout: the bench measures, it does not judge).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// Register `clients` sender/recipient pairs, each pair in its own tenant.
pub async fn register_pairs(
    http: &reqwest::Client,
    base: &str,
    clients: usize,
) -> Vec<(Agent, Agent)> {
    let mut pairs = Vec::new();
    for i in 0..clients {
        let t = format!("bench{i}");
        let s = register(http, base, &t, "sender").await;
        let r = register(http, base, &t, "recipient").await;
        pairs.push((s, r));
    }
    pairs
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

/// When a client stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// After this many messages (the last batch may be shorter).
    Messages(usize),
    /// At the first batch boundary at or after this instant (every routed message is picked
    /// up and acked before the client stops).
    Until(Instant),
}

/// What one client did.
#[derive(Debug, Default)]
pub struct ClientRun {
    pub route_lat: Vec<Duration>,
    /// Latency of each pickup plus its ack.
    pub pick_lat: Vec<Duration>,
    pub routed: usize,
    pub picked: usize,
    /// HTTP requests sent: routes, pickups and acks.
    pub requests: u64,
}

/// Route, pick up and ack between `s` and `r` until `stop`.
pub async fn client(
    http: reqwest::Client,
    base: String,
    s: Agent,
    r: Agent,
    stop: Stop,
) -> ClientRun {
    let mut run = ClientRun::default();
    let payload = json!({"type": "bench", "message": "x".repeat(200)});
    let hash = amp_core::payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
    let mut n = 0usize;
    loop {
        let batch_end = match stop {
            Stop::Messages(total) if n >= total => break,
            Stop::Until(t) if n > 0 && Instant::now() >= t => break,
            Stop::Messages(total) => (n + BATCH).min(total),
            Stop::Until(_) => n + BATCH,
        };
        while n < batch_end {
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
            let body =
                json!({"to": r.address, "subject": subject, "payload": payload, "signature": sig});
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
            run.route_lat.push(t.elapsed());
            run.requests += 1;
            n += 1;
        }
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
        run.picked += ids.len();
        let _ = http
            .post(format!("{base}/messages/pending/ack"))
            .bearer_auth(&r.api_key)
            .json(&json!({"ids": ids}))
            .send()
            .await
            .expect("ack");
        run.pick_lat.push(t.elapsed());
        run.requests += 2;
    }
    run.routed = n;
    run
}
