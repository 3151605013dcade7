//! Webhook delivery of amp-mock against a tiny scripted receiver on 127.0.0.1: headers and
//! HMAC (WH-001/002), retry rules (WH-005/006/007, NOTIFY-013), redirects (WH-008/009), and the
//! planted `webhook-*` defects.

mod common;

use amp_core::signing::SecretKey;
use amp_mock::{Defect, MockConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{Agent, Mock};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const SECRET: &str = "whsec_test_secret_0123456789";
const WAIT: Duration = Duration::from_secs(3);
const QUIET: Duration = Duration::from_millis(300);

/// What the receiver does with the next request.
#[derive(Debug, Clone)]
enum Step {
    Status(u16),
    /// Sleep, then answer.
    Slow(Duration, u16),
    /// 307 to this path (same receiver) or absolute URL.
    Redirect(String),
}

#[derive(Debug)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<VecDeque<Step>>>,
    tx: mpsc::UnboundedSender<Hit>,
}

struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<Hit>,
    _task: tokio::task::JoinHandle<()>,
}

async fn handle(State(s): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let step = s
        .script
        .lock()
        .expect("script lock")
        .pop_front()
        .unwrap_or(Step::Status(200));
    let _ = s.tx.send(Hit {
        path: uri.path().to_string(),
        headers,
        body,
    });
    match step {
        Step::Status(c) => StatusCode::from_u16(c).expect("status").into_response(),
        Step::Slow(d, c) => {
            tokio::time::sleep(d).await;
            StatusCode::from_u16(c).expect("status").into_response()
        }
        Step::Redirect(to) => (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response(),
    }
}

async fn receiver(script: Vec<Step>) -> Receiver {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Shared {
        script: Arc::new(Mutex::new(script.into())),
        tx,
    };
    let app = Router::new().fallback(handle).with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        rx,
        _task: task,
    }
}

impl Receiver {
    async fn hit(&mut self) -> Hit {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("no webhook request arrived in time")
            .expect("receiver channel open")
    }
    async fn quiet(&mut self) {
        if let Ok(Some(h)) = tokio::time::timeout(QUIET, self.rx.recv()).await {
            panic!("unexpected extra webhook request to {}", h.path);
        }
    }
}

fn cfg(defects: &[Defect], delays_ms: &[u64]) -> MockConfig {
    let mut c = common::config(defects);
    c.webhook_retry_delays = delays_ms
        .iter()
        .map(|d| Duration::from_millis(*d))
        .collect();
    c
}

async fn register_hooked(m: &Mock, name: &str, url: &str) -> Agent {
    let key = SecretKey::generate();
    let r = m
        .post(
            "/register",
            None,
            &json!({
                "tenant": "acme", "name": name,
                "public_key": key.public_key().to_spki_pem(),
                "key_algorithm": "Ed25519",
                "delivery": {"webhook_url": url, "webhook_secret": SECRET},
            }),
        )
        .await;
    assert_eq!(r.status, 201, "register with webhook: {}", r.text);
    Agent {
        address: r.body["address"].as_str().unwrap_or_default().to_string(),
        api_key: r.body["api_key"].as_str().unwrap_or_default().to_string(),
        key,
        name: name.to_string(),
        tenant: "acme".to_string(),
        reg: r.body,
    }
}

fn h<'a>(hit: &'a Hit, name: &str) -> Option<&'a str> {
    hit.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Setup: mock, sender, hooked recipient, one routed message. Returns the route id.
async fn routed(defects: &[Defect], delays_ms: &[u64], rcv: &Receiver) -> (Mock, Agent, String) {
    let m = common::mock_with(cfg(defects, delays_ms)).await;
    let a = m.register("acme", "alice").await;
    let b = register_hooked(&m, "bob", &rcv.url).await;
    let r = m.send(&a, &b, "to the hook").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["method"], "webhook");
    let id = r.body["id"].as_str().expect("id").to_string();
    (m, b, id)
}

#[tokio::test]
async fn delivery_is_a_signed_json_post() {
    let mut rcv = receiver(vec![]).await;
    let (m, _b, id) = routed(&[], &[0], &rcv).await;
    let hit = rcv.hit().await;
    assert_eq!(hit.path, "/hook");
    assert_eq!(h(&hit, "content-type"), Some("application/json"));
    assert_eq!(h(&hit, "x-amp-message-id"), Some(id.as_str()));
    assert_eq!(h(&hit, "x-amp-delivery-attempt"), Some("1"));
    let sig = h(&hit, "x-amp-signature").expect("X-AMP-Signature");
    let ts = h(&hit, "x-amp-timestamp").expect("X-AMP-Timestamp");
    assert!(sig.starts_with("sha256="), "{sig}");
    let now = m.handle.clock().now_unix();
    amp_core::verify_webhook(SECRET.as_bytes(), sig, ts, &hit.body, now, 300)
        .expect("HMAC verifies with the whole webhook secret (WH-002)");
    let body: Value = serde_json::from_slice(&hit.body).expect("JSON body");
    assert_eq!(body["envelope"]["id"], id.as_str());
    assert_eq!(body["payload"]["message"], "to the hook");
    rcv.quiet().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_message_id() {
    let mut rcv = receiver(vec![
        Step::Status(500),
        Step::Status(503),
        Step::Status(200),
    ])
    .await;
    let (_m, _b, id) = routed(&[], &[0, 30, 30, 30], &rcv).await;
    for n in 1..=3 {
        let hit = rcv.hit().await;
        assert_eq!(h(&hit, "x-amp-message-id"), Some(id.as_str()));
        assert_eq!(
            h(&hit, "x-amp-delivery-attempt"),
            Some(n.to_string().as_str())
        );
    }
    // Delivered on attempt 3: no fourth attempt although the schedule has one.
    rcv.quiet().await;
}

#[tokio::test]
async fn exhausted_retries_leave_the_message_in_the_relay_queue() {
    let mut rcv = receiver(vec![Step::Status(500); 5]).await;
    let (m, b, id) = routed(&[], &[0, 20, 20], &rcv).await;
    for _ in 0..3 {
        rcv.hit().await;
    }
    rcv.quiet().await;
    let pending = m.pending(&b).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], id.as_str());
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mut rcv = receiver(vec![Step::Status(400), Step::Status(200)]).await;
    let (_m, _b, _id) = routed(&[], &[0, 20, 20], &rcv).await;
    rcv.hit().await;
    rcv.quiet().await;
}

#[tokio::test]
async fn a_timeout_counts_as_a_failed_attempt() {
    let mut rcv = receiver(vec![Step::Slow(Duration::from_millis(1500), 200)]).await;
    let mut c = cfg(&[], &[0, 20]);
    c.webhook_timeout = Duration::from_millis(200);
    let m = common::mock_with(c).await;
    let a = m.register("acme", "alice").await;
    let b = register_hooked(&m, "bob", &rcv.url).await;
    m.send(&a, &b, "slow hook").await;
    let first = rcv.hit().await;
    let second = rcv.hit().await;
    assert_eq!(h(&first, "x-amp-delivery-attempt"), Some("1"));
    assert_eq!(h(&second, "x-amp-delivery-attempt"), Some("2"));
}

#[tokio::test]
async fn retries_stop_once_the_message_is_acked() {
    let mut rcv = receiver(vec![Step::Status(500); 3]).await;
    let (m, b, id) = routed(&[], &[0, 800, 800], &rcv).await;
    rcv.hit().await;
    let r = m
        .delete(&format!("/messages/pending/{id}"), Some(&b.api_key))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // NOTIFY-013: the retry 800 ms later must see the ack and not fire.
    if let Ok(Some(h)) = tokio::time::timeout(Duration::from_millis(1300), rcv.rx.recv()).await {
        panic!(
            "retry fired after ack: attempt {:?}",
            h.headers.get("x-amp-delivery-attempt")
        );
    }
}

#[tokio::test]
async fn two_redirect_hops_are_followed() {
    let mut rcv = receiver(vec![
        Step::Redirect("/hop1".into()),
        Step::Redirect("/hop2".into()),
        Step::Status(200),
    ])
    .await;
    let (_m, _b, _id) = routed(&[], &[0, 20], &rcv).await;
    assert_eq!(rcv.hit().await.path, "/hook");
    assert_eq!(rcv.hit().await.path, "/hop1");
    assert_eq!(rcv.hit().await.path, "/hop2");
    rcv.quiet().await;
}

#[tokio::test]
async fn a_third_redirect_hop_is_refused_without_retry() {
    let mut rcv = receiver(vec![
        Step::Redirect("/hop1".into()),
        Step::Redirect("/hop2".into()),
        Step::Redirect("/hop3".into()),
        Step::Status(200),
        Step::Status(200),
    ])
    .await;
    let (_m, _b, _id) = routed(&[], &[0, 20], &rcv).await;
    for _ in 0..3 {
        rcv.hit().await;
    }
    // WH-008: /hop3 is never requested, and the refusal is final.
    rcv.quiet().await;
}

#[tokio::test]
async fn redirects_to_private_targets_are_refused() {
    for target in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
    ] {
        let mut rcv = receiver(vec![Step::Redirect(target.into()), Step::Status(200)]).await;
        let (_m, _b, _id) = routed(&[], &[0, 20], &rcv).await;
        rcv.hit().await;
        rcv.quiet().await;
    }
}

#[tokio::test]
async fn a_websocket_connection_takes_precedence_over_the_webhook() {
    let mut rcv = receiver(vec![]).await;
    let m = common::mock_with(cfg(&[], &[0])).await;
    let a = m.register("acme", "alice").await;
    let b = register_hooked(&m, "bob", &rcv.url).await;
    use futures_util::{SinkExt, StreamExt};
    let (mut ws, _) = tokio_tungstenite::connect_async(m.handle.ws_url())
        .await
        .expect("ws");
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "auth", "token": b.api_key}).to_string(),
    ))
    .await
    .expect("auth");
    let _connected = ws.next().await;
    let r = m.send(&a, &b, "socket wins").await;
    assert_eq!(r.body["method"], "websocket");
    rcv.quiet().await;
}

// ---------------------------------------------------------------- planted defects

#[tokio::test]
async fn defect_webhook_no_signature_omits_the_header() {
    let mut rcv = receiver(vec![]).await;
    let (_m, _b, _id) = routed(&[Defect::WebhookNoSignature], &[0], &rcv).await;
    let hit = rcv.hit().await;
    assert!(h(&hit, "x-amp-signature").is_none());
    assert!(h(&hit, "x-amp-timestamp").is_some());
}

#[tokio::test]
async fn defect_webhook_hmac_wrong_key_signs_with_the_api_key_hash() {
    let mut rcv = receiver(vec![]).await;
    let (m, b, _id) = routed(&[Defect::WebhookHmacWrongKey], &[0], &rcv).await;
    let hit = rcv.hit().await;
    let sig = h(&hit, "x-amp-signature").expect("signature");
    let ts = h(&hit, "x-amp-timestamp").expect("timestamp");
    let now = m.handle.clock().now_unix();
    assert!(
        amp_core::verify_webhook(SECRET.as_bytes(), sig, ts, &hit.body, now, 300).is_err(),
        "defect must not verify with the webhook secret"
    );
    let wrong_key = amp_mock::hash_api_key(&b.api_key);
    amp_core::verify_webhook(wrong_key.as_bytes(), sig, ts, &hit.body, now, 300)
        .expect("defect keys the HMAC with the API key hash");
}

#[tokio::test]
async fn defect_webhook_retry_on_4xx_retries_client_errors() {
    let mut rcv = receiver(vec![Step::Status(400), Step::Status(200)]).await;
    let (_m, _b, _id) = routed(&[Defect::WebhookRetryOn4xx], &[0, 20, 20], &rcv).await;
    assert_eq!(h(&rcv.hit().await, "x-amp-delivery-attempt"), Some("1"));
    assert_eq!(h(&rcv.hit().await, "x-amp-delivery-attempt"), Some("2"));
    rcv.quiet().await;
}
