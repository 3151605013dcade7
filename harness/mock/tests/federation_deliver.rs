//! `POST /v1/federation/deliver` of amp-mock, driven by a test "peer provider" that signs with
//! its own provider key (FED-001..005, FED-017, FED-020, REPLAY-003/005, TRUST-002) and the
//! planted `federation-*` defects.

mod common;

use amp_core::signing::{Priority, SecretKey, SigningFields};
use amp_core::{MessageId, PayloadProfile};
use amp_mock::{Defect, FederationPeer};
use common::{Agent, Mock};
use serde_json::{Value, json};

const PEER: &str = "peer.test";

fn peer_key() -> SecretKey {
    SecretKey::from_seed([0x51; 32])
}

fn sender_key() -> SecretKey {
    SecretKey::from_seed([0x22; 32])
}

async fn fed_mock(defects: &[Defect]) -> Mock {
    let mut c = common::config(defects);
    c.federation_peers = vec![FederationPeer {
        domain: PEER.into(),
        public_key: peer_key().public_key(),
    }];
    common::mock_with(c).await
}

/// A signed federated message from `from` to `to`, timestamped `offset` seconds from now.
fn message(m: &Mock, from: &str, to: &str, offset: i64, text: &str) -> Value {
    let now = m.handle.clock().now_unix();
    let id = MessageId::random(u64::try_from(now).unwrap_or(0));
    let payload = json!({"type": "notification", "message": text});
    let hash = amp_core::payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
    let subject = "across providers";
    let sig = amp_core::sign_fields(
        &sender_key(),
        &SigningFields {
            from,
            to,
            subject,
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        },
    );
    json!({
        "envelope": {
            "version": "amp/0.1",
            "id": id.as_str(),
            "from": from,
            "to": to,
            "subject": subject,
            "priority": "normal",
            "timestamp": amp_core::format_rfc3339(now + offset),
            "signature": sig.to_base64(),
            "thread_id": id.as_str(),
        },
        "payload": payload,
        "sender_public_key": sender_key().public_key().to_spki_pem(),
    })
}

/// How the peer authenticates the request.
enum Auth<'a> {
    /// Sign with `key` as provider `provider`, timestamp `now + skew`.
    Signed {
        provider: &'a str,
        key: Box<SecretKey>,
        skew: i64,
    },
    /// Only `X-AMP-Provider`.
    ProviderOnly(&'a str),
}

fn peer() -> Auth<'static> {
    Auth::Signed {
        provider: PEER,
        key: Box::new(peer_key()),
        skew: 0,
    }
}

async fn deliver_bytes(m: &Mock, body: &[u8], auth: Auth<'_>) -> common::Resp {
    let url = m.url("/federation/deliver");
    let mut rb = m
        .http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    match auth {
        Auth::Signed {
            provider,
            key,
            skew,
        } => {
            let ts = (m.handle.clock().now_unix() + skew).to_string();
            let sig = amp_core::sign_federation(&key, &ts, body);
            rb = rb
                .header("X-AMP-Provider", provider)
                .header("X-AMP-Timestamp", ts)
                .header("X-AMP-Signature", sig.to_base64());
        }
        Auth::ProviderOnly(p) => rb = rb.header("X-AMP-Provider", p),
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap_or_default();
    common::Resp {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

async fn deliver(m: &Mock, body: &Value, auth: Auth<'_>) -> common::Resp {
    deliver_bytes(m, &serde_json::to_vec(body).expect("json"), auth).await
}

fn assert_refused(r: &common::Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["accepted"], false, "{}", r.text);
    assert_eq!(r.body["error"], code, "{}", r.text);
    assert!(r.body["message"].is_string(), "{}", r.text);
}

async fn setup(defects: &[Defect]) -> (Mock, Agent, String) {
    let m = fed_mock(defects).await;
    let bob = m.register("team", "bob").await;
    let from = format!("alice@acme.{PEER}");
    (m, bob, from)
}

#[tokio::test]
async fn signed_delivery_is_accepted_and_wrapped_as_external() {
    let (m, bob, from) = setup(&[]).await;
    let msg = message(&m, &from, &bob.address, 0, "hello from the peer");
    let r = deliver(&m, &msg, peer()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["accepted"], true);
    assert_eq!(r.body["id"], msg["envelope"]["id"]);
    assert_eq!(r.body["delivered"], false);
    assert_eq!(r.body["method"], "relay");
    let pending = m.pending(&bob).await;
    assert_eq!(pending.len(), 1);
    let text = pending[0]["payload"]["message"].as_str().expect("message");
    assert!(
        text.contains("<external-content"),
        "TRUST-002 wrapping: {text}"
    );
    assert!(text.contains("hello from the peer"));
    assert_eq!(pending[0]["envelope"]["from"], from.as_str());
}

#[tokio::test]
async fn delivery_to_a_connected_agent_reports_websocket() {
    use futures_util::{SinkExt, StreamExt};
    let (m, bob, from) = setup(&[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(m.handle.ws_url())
        .await
        .expect("ws");
    ws.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"type": "auth", "token": bob.api_key}).to_string(),
    ))
    .await
    .expect("auth");
    let _connected = ws.next().await;
    let r = deliver(&m, &message(&m, &from, &bob.address, 0, "live"), peer()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["delivered"], true);
    assert_eq!(r.body["method"], "websocket");
}

#[tokio::test]
async fn unknown_provider_is_not_trusted() {
    let (m, bob, _) = setup(&[]).await;
    let from = "alice@acme.stranger.test";
    let r = deliver(
        &m,
        &message(&m, from, &bob.address, 0, "x"),
        Auth::Signed {
            provider: "stranger.test",
            key: Box::new(SecretKey::from_seed([9; 32])),
            skew: 0,
        },
    )
    .await;
    assert_refused(&r, 403, "provider_not_trusted");
    assert!(m.pending(&bob).await.is_empty());
}

#[tokio::test]
async fn missing_or_bad_provider_signature_is_refused() {
    let (m, bob, from) = setup(&[]).await;
    let msg = message(&m, &from, &bob.address, 0, "x");
    // No signature at all.
    assert_refused(
        &deliver(&m, &msg, Auth::ProviderOnly(PEER)).await,
        401,
        "unauthorized",
    );
    // Signed by the wrong key.
    let wrong = Auth::Signed {
        provider: PEER,
        key: Box::new(SecretKey::from_seed([3; 32])),
        skew: 0,
    };
    assert_refused(&deliver(&m, &msg, wrong).await, 401, "unauthorized");
    // Stale request timestamp (1 h old, C-28).
    let stale = Auth::Signed {
        provider: PEER,
        key: Box::new(peer_key()),
        skew: -3600,
    };
    assert_refused(&deliver(&m, &msg, stale).await, 401, "unauthorized");
    assert!(m.pending(&bob).await.is_empty());
}

#[tokio::test]
async fn body_changed_after_provider_signing_is_refused() {
    let (m, bob, from) = setup(&[]).await;
    let msg = message(&m, &from, &bob.address, 0, "x");
    let bytes = serde_json::to_vec(&msg).expect("json");
    let ts = m.handle.clock().now_unix().to_string();
    let sig = amp_core::sign_federation(&peer_key(), &ts, &bytes);
    let mut tampered = bytes.clone();
    tampered.extend_from_slice(b" ");
    let r = m
        .http
        .post(m.url("/federation/deliver"))
        .header("content-type", "application/json")
        .header("X-AMP-Provider", PEER)
        .header("X-AMP-Timestamp", ts)
        .header("X-AMP-Signature", sig.to_base64())
        .body(tampered)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn sender_signature_is_verified() {
    let (m, bob, from) = setup(&[]).await;
    let mut msg = message(&m, &from, &bob.address, 0, "x");
    msg["envelope"]["subject"] = json!("changed in transit");
    assert_refused(&deliver(&m, &msg, peer()).await, 403, "signature_invalid");
    let mut msg = message(&m, &from, &bob.address, 0, "x");
    msg["sender_public_key"] = json!(SecretKey::from_seed([4; 32]).public_key().to_spki_pem());
    assert_refused(&deliver(&m, &msg, peer()).await, 403, "signature_invalid");
    let mut msg = message(&m, &from, &bob.address, 0, "x");
    msg.as_object_mut()
        .expect("object")
        .remove("sender_public_key");
    assert_refused(&deliver(&m, &msg, peer()).await, 400, "missing_field");
    assert!(m.pending(&bob).await.is_empty());
}

#[tokio::test]
async fn sender_domain_must_match_the_forwarding_provider() {
    let (m, bob, _) = setup(&[]).await;
    let msg = message(&m, "mallory@acme.other.test", &bob.address, 0, "x");
    assert_refused(&deliver(&m, &msg, peer()).await, 403, "provider_mismatch");
}

#[tokio::test]
async fn unknown_recipient_is_not_found() {
    let (m, _bob, from) = setup(&[]).await;
    for to in ["ghost@team.amp-mock.test", "bob@team.elsewhere.test"] {
        let msg = message(&m, &from, to, 0, "x");
        assert_refused(&deliver(&m, &msg, peer()).await, 404, "recipient_not_found");
    }
}

#[tokio::test]
async fn future_timestamps_beyond_60_s_are_refused() {
    let (m, bob, from) = setup(&[]).await;
    let ahead = message(&m, &from, &bob.address, 120, "x");
    assert_refused(&deliver(&m, &ahead, peer()).await, 400, "timestamp_future");
    let slightly = message(&m, &from, &bob.address, 30, "x");
    assert_eq!(deliver(&m, &slightly, peer()).await.status, 200);
}

#[tokio::test]
async fn a_redelivered_envelope_is_refused_even_after_ack() {
    let (m, bob, from) = setup(&[]).await;
    let msg = message(&m, &from, &bob.address, 0, "once");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
    assert_refused(&deliver(&m, &msg, peer()).await, 409, "duplicate_message");
    let id = msg["envelope"]["id"].as_str().expect("id");
    let r = m
        .delete(&format!("/messages/pending/{id}"), Some(&bob.api_key))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_refused(&deliver(&m, &msg, peer()).await, 409, "duplicate_message");
    assert!(m.pending(&bob).await.is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_client_errors() {
    let (m, _bob, _) = setup(&[]).await;
    for body in [
        &b"{not json"[..],
        b"[]",
        br#"{"payload":{}}"#,
        br#"{"envelope":{"id":"x"},"payload":{}}"#,
        br#"{"a":1,"a":2}"#,
    ] {
        let r = deliver_bytes(&m, body, peer()).await;
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text
        );
        assert_eq!(r.body["accepted"], false);
    }
}

#[tokio::test]
async fn federated_messages_obey_the_local_message_rules() {
    let (m, bob, from) = setup(&[]).await;
    // A 300-character subject (MSG-003), correctly signed by sender and peer.
    let mut msg = message(&m, &from, &bob.address, 0, "x");
    let long = "s".repeat(300);
    let payload = msg["payload"].clone();
    let hash = amp_core::payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
    let sig = amp_core::sign_fields(
        &sender_key(),
        &SigningFields {
            from: &from,
            to: &bob.address,
            subject: &long,
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        },
    );
    msg["envelope"]["subject"] = json!(long);
    msg["envelope"]["signature"] = json!(sig.to_base64());
    let r = deliver(&m, &msg, peer()).await;
    assert_refused(&r, 400, "invalid_field");
    assert_eq!(r.body["field"], "subject");
    assert!(m.pending(&bob).await.is_empty());
}

// ---------------------------------------------------------------- planted defects

#[tokio::test]
async fn defect_federation_unauthenticated_skips_the_provider_signature() {
    let (m, bob, from) = setup(&[Defect::FederationUnauthenticated]).await;
    let msg = message(&m, &from, &bob.address, 0, "x");
    let r = deliver(&m, &msg, Auth::ProviderOnly(PEER)).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn defect_federation_no_sender_check_accepts_a_forged_sender_signature() {
    let (m, bob, from) = setup(&[Defect::FederationNoSenderCheck]).await;
    let mut msg = message(&m, &from, &bob.address, 0, "x");
    msg["envelope"]["subject"] = json!("changed in transit");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
}

#[tokio::test]
async fn defect_federation_no_domain_check_lets_a_peer_speak_for_others() {
    let (m, bob, _) = setup(&[Defect::FederationNoDomainCheck]).await;
    let msg = message(&m, "mallory@acme.other.test", &bob.address, 0, "x");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
}

#[tokio::test]
async fn defect_federation_replay_accepted_delivers_twice() {
    let (m, bob, from) = setup(&[Defect::FederationReplayAccepted]).await;
    let msg = message(&m, &from, &bob.address, 0, "twice");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
    assert_eq!(m.pending(&bob).await.len(), 2);
}

#[tokio::test]
async fn defect_federation_future_timestamp_accepts_future_envelopes() {
    let (m, bob, from) = setup(&[Defect::FederationFutureTimestamp]).await;
    let msg = message(&m, &from, &bob.address, 3600, "from the future");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
}

#[tokio::test]
async fn defect_federation_untrusted_unwrapped_delivers_raw_content() {
    let (m, bob, from) = setup(&[Defect::FederationUntrustedUnwrapped]).await;
    let msg = message(&m, &from, &bob.address, 0, "raw content");
    assert_eq!(deliver(&m, &msg, peer()).await.status, 200);
    let pending = m.pending(&bob).await;
    assert_eq!(pending[0]["payload"]["message"], "raw content");
}

#[tokio::test]
async fn defect_federation_stale_timestamp_accepts_a_stale_provider_signature() {
    let stale = || Auth::Signed {
        provider: PEER,
        key: Box::new(peer_key()),
        skew: -305,
    };
    let (m, bob, from) = setup(&[]).await;
    let msg = message(&m, &from, &bob.address, 0, "x");
    assert_refused(&deliver(&m, &msg, stale()).await, 401, "unauthorized");
    let (m, bob, from) = setup(&[Defect::FederationStaleTimestamp]).await;
    let msg = message(&m, &from, &bob.address, 0, "signed 305 s ago");
    assert_eq!(deliver(&m, &msg, stale()).await.status, 200);
}
