//! WebSocket API of amp-mock against a real WebSocket client (tokio-tungstenite): auth flow
//! (WS-001..006), heartbeat (WS-009), subprotocol (WS-010), pushes and replay (WS-007,
//! NOTIFY-012), acks (WS-008, NOTIFY-009), route frames (WS-011), receipts, malformed frames,
//! and every planted `ws-*` defect.

mod common;

use amp_mock::Defect;
use common::{Agent, Mock, mock, payload};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for a frame that should arrive.
const WAIT: Duration = Duration::from_secs(3);
/// How long "nothing arrives" is observed.
const QUIET: Duration = Duration::from_millis(400);

async fn connect(m: &Mock) -> Ws {
    connect_url(&m.handle.ws_url()).await
}

async fn connect_url(url: &str) -> Ws {
    let (ws, _resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect timed out")
        .expect("connect");
    ws
}

async fn send(ws: &mut Ws, v: &Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// What the client observed next.
#[derive(Debug)]
enum Next {
    Json(Value),
    Closed,
    Nothing,
}

/// Next data frame as JSON (control frames skipped), a close, or nothing within `wait`.
async fn next(ws: &mut Ws, wait: Duration) -> Next {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Next::Nothing,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return Next::Closed,
            Ok(Some(Ok(Message::Text(t)))) => {
                return Next::Json(serde_json::from_str(t.as_str()).expect("server sent JSON"));
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    match next(ws, WAIT).await {
        Next::Json(v) => v,
        other => panic!("expected a JSON frame, got {other:?}"),
    }
}

async fn expect_closed(ws: &mut Ws) {
    match next(ws, WAIT).await {
        Next::Closed => {}
        other => panic!("expected the server to close, got {other:?}"),
    }
}

/// Authenticate and return the `connected` frame.
async fn auth(ws: &mut Ws, agent: &Agent) -> Value {
    send(ws, &json!({"type": "auth", "token": agent.api_key})).await;
    let v = next_json(ws).await;
    assert_eq!(v["type"], "connected", "auth answer: {v}");
    v
}

async fn connected(m: &Mock, agent: &Agent) -> (Ws, Value) {
    let mut ws = connect(m).await;
    let c = auth(&mut ws, agent).await;
    (ws, c)
}

/// Frames are processed in order, so a pong proves every earlier frame was handled.
async fn sync(ws: &mut Ws) {
    send(ws, &json!({"type": "ping"})).await;
    loop {
        let v = next_json(ws).await;
        if v["type"] == "pong" {
            return;
        }
    }
}

#[tokio::test]
async fn auth_frame_gives_connected_with_address_and_pending_count() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let (_ws, c) = connected(&m, &a).await;
    assert_eq!(c["data"]["address"], a.address.as_str());
    assert_eq!(c["data"]["pending_count"], 0);
}

#[tokio::test]
async fn invalid_token_gets_unauthorized_then_close() {
    let m = mock(&[]).await;
    let mut ws = connect(&m).await;
    send(
        &mut ws,
        &json!({"type": "auth", "token": "amp_live_sk_nope"}),
    )
    .await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"], "unauthorized");
    assert!(v["message"].is_string());
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn auth_without_token_closes() {
    let m = mock(&[]).await;
    let mut ws = connect(&m).await;
    send(&mut ws, &json!({"type": "auth"})).await;
    assert_eq!(next_json(&mut ws).await["error"], "unauthorized");
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn silent_connection_is_closed_after_auth_timeout() {
    let m = mock(&[]).await;
    let started = Instant::now();
    let mut ws = connect(&m).await;
    // An error frame may precede the close; either way the socket must close.
    loop {
        match next(&mut ws, WAIT).await {
            Next::Json(v) => assert_eq!(v["type"], "error", "unexpected frame {v}"),
            Next::Closed => break,
            Next::Nothing => panic!("no close within {WAIT:?} (auth timeout is 300 ms)"),
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn token_in_url_never_authenticates() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    for param in ["token", "api_key"] {
        let url = format!("{}?{param}={}", m.handle.ws_url(), a.api_key);
        let mut ws = connect_url(&url).await;
        loop {
            match next(&mut ws, WAIT).await {
                Next::Json(v) => assert_ne!(v["type"], "connected", "URL {param} authenticated"),
                Next::Closed => break,
                Next::Nothing => panic!("socket with URL token neither authenticated nor closed"),
            }
        }
    }
}

#[tokio::test]
async fn non_auth_first_frame_gets_error_and_close() {
    let m = mock(&[]).await;
    for first in [
        Message::text(r#"{"type":"ping"}"#),
        Message::text(r#"{"type":"route","data":{}}"#),
        Message::text("not json at all"),
        Message::binary(vec![1u8, 2, 3]),
    ] {
        let mut ws = connect(&m).await;
        ws.send(first.clone()).await.expect("send");
        let v = next_json(&mut ws).await;
        assert_eq!(v["type"], "error", "for {first:?}");
        assert_eq!(v["error"], "unauthorized");
        expect_closed(&mut ws).await;
    }
}

#[tokio::test]
async fn oversized_first_frame_is_refused() {
    let m = mock(&[]).await;
    let mut ws = connect(&m).await;
    let big = format!(r#"{{"type":"auth","token":"{}"}}"#, "x".repeat(70 * 1024));
    ws.send(Message::text(big)).await.expect("send");
    // Error + close, or an immediate close: never `connected`.
    loop {
        match next(&mut ws, WAIT).await {
            Next::Json(v) => assert_eq!(v["type"], "error"),
            Next::Closed => break,
            Next::Nothing => panic!("oversized auth frame neither refused nor closed"),
        }
    }
}

#[tokio::test]
async fn ping_gets_pong_with_rfc3339_timestamp() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let (mut ws, _) = connected(&m, &a).await;
    send(&mut ws, &json!({"type": "ping"})).await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "pong");
    let ts = v["timestamp"].as_str().expect("timestamp");
    let t = amp_core::parse_rfc3339(ts).expect("RFC 3339 timestamp");
    assert!((t - m.handle.clock().now_unix()).abs() < 5);
}

#[tokio::test]
async fn subprotocol_amp_v1_is_confirmed() {
    let m = mock(&[]).await;
    let mut req = m.handle.ws_url().into_client_request().expect("request");
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "amp.v1".parse().expect("header"));
    let (_ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("amp.v1")
    );
}

#[tokio::test]
async fn routed_message_is_pushed_live() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let (mut ws, _) = connected(&m, &b).await;
    let r = m.send(&a, &b, "live one").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["method"], "websocket");
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "message.new");
    let id = r.body["id"].as_str().expect("id");
    assert_eq!(v["data"]["id"], id, "C-25: data.id");
    assert_eq!(v["data"]["envelope"]["id"], id);
    assert_eq!(v["data"]["envelope"]["from"], a.address.as_str());
    assert_eq!(v["data"]["payload"]["message"], "live one");
    assert_ne!(v["data"]["replay"], true, "a live push is not a replay");
    // NOTIFY-011: still retrievable until acked.
    assert_eq!(m.pending(&b).await.len(), 1);
}

#[tokio::test]
async fn queued_messages_are_replayed_with_replay_true() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let r1 = m.send(&a, &b, "first").await;
    let r2 = m.send(&a, &b, "second").await;
    assert_eq!(r1.body["method"], "relay");
    let (mut ws, c) = connected(&m, &b).await;
    assert_eq!(c["data"]["pending_count"], 2);
    for r in [&r1, &r2] {
        let v = next_json(&mut ws).await;
        assert_eq!(v["type"], "message.new");
        assert_eq!(v["data"]["replay"], true, "NOTIFY-012");
        assert_eq!(v["data"]["id"], r.body["id"]);
    }
    // A later live message is not marked as a replay, and nothing is sent twice.
    let r3 = m.send(&a, &b, "third").await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["data"]["id"], r3.body["id"]);
    assert_ne!(v["data"]["replay"], true);
    match next(&mut ws, QUIET).await {
        Next::Nothing => {}
        other => panic!("unexpected extra frame {other:?}"),
    }
}

#[tokio::test]
async fn acks_over_ws_remove_from_pending_in_both_spellings() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let r1 = m.send(&a, &b, "one").await;
    let r2 = m.send(&a, &b, "two").await;
    let (mut ws, _) = connected(&m, &b).await;
    next_json(&mut ws).await;
    next_json(&mut ws).await;
    // C-24: 05/12 spell it `message.ack`, 08 spells it `ack`.
    send(
        &mut ws,
        &json!({"type": "message.ack", "id": r1.body["id"]}),
    )
    .await;
    send(&mut ws, &json!({"type": "ack", "id": r2.body["id"]})).await;
    // Idempotent (NOTIFY-009): acking again is not an error.
    send(
        &mut ws,
        &json!({"type": "message.ack", "id": r1.body["id"]}),
    )
    .await;
    sync(&mut ws).await;
    assert!(m.pending(&b).await.is_empty());
    drop(ws);
    // Acked messages are never replayed.
    let (mut ws, c) = connected(&m, &b).await;
    assert_eq!(c["data"]["pending_count"], 0);
    match next(&mut ws, QUIET).await {
        Next::Nothing => {}
        other => panic!("acked message replayed: {other:?}"),
    }
}

#[tokio::test]
async fn ack_of_unknown_id_and_missing_id_are_error_frames() {
    let m = mock(&[]).await;
    let b = m.register("acme", "bob").await;
    let (mut ws, _) = connected(&m, &b).await;
    send(&mut ws, &json!({"type": "message.ack", "id": "msg_1_nope"})).await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"], "not_found");
    send(&mut ws, &json!({"type": "ack"})).await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["error"], "missing_field");
    sync(&mut ws).await;
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_socket_survives() {
    let m = mock(&[]).await;
    let b = m.register("acme", "bob").await;
    let (mut ws, _) = connected(&m, &b).await;
    for bad in [
        Message::text("{not json"),
        Message::text("[1,2,3]"),
        Message::text(r#"{"no_type":true}"#),
        Message::text(r#"{"type":"does.not.exist"}"#),
        Message::text(r#"{"type":"auth","token":"again"}"#),
        Message::text(r#"{"type":"ping","dup":1,"dup":2}"#),
        Message::binary(vec![0u8, 159, 146, 150]),
    ] {
        ws.send(bad.clone()).await.expect("send");
        let v = next_json(&mut ws).await;
        assert_eq!(v["type"], "error", "for {bad:?}: {v}");
        assert!(v["error"].is_string() && v["message"].is_string());
    }
    sync(&mut ws).await;
}

#[tokio::test]
async fn route_frame_delivers_without_a_success_frame() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let (mut ws, _) = connected(&m, &a).await;
    let body = m.body(&a, &b.address, "over ws", &payload("hi from a socket"));
    send(&mut ws, &json!({"type": "route", "data": body})).await;
    // C-26: no success frame; the next frame is the pong.
    send(&mut ws, &json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");
    let pending = m.pending(&b).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["payload"]["message"], "hi from a socket");
}

#[tokio::test]
async fn failing_route_frame_gets_the_rest_error_code() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let (mut ws, _) = connected(&m, &a).await;
    let mut body = m.body(&a, &b.address, "over ws", &payload("tampered"));
    body["subject"] = json!("changed after signing");
    send(&mut ws, &json!({"type": "route", "data": body})).await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"], "signature_invalid");
    send(&mut ws, &json!({"type": "route"})).await;
    assert_eq!(next_json(&mut ws).await["error"], "missing_field");
    assert!(m.pending(&b).await.is_empty());
}

#[tokio::test]
async fn delivery_and_read_receipts_reach_the_senders_socket() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let (mut wa, _) = connected(&m, &a).await;
    let (mut wb, _) = connected(&m, &b).await;
    let mut body = m.body(&a, &b.address, "receipt please", &payload("r"));
    body["options"] = json!({"receipt": true});
    let r = m.route(&a, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(next_json(&mut wb).await["data"]["id"], id.as_str());
    let d = next_json(&mut wa).await;
    assert_eq!(d["type"], "message.delivered");
    assert_eq!(d["data"]["id"], id.as_str());
    assert_eq!(d["data"]["to"], b.address.as_str());
    assert_eq!(d["data"]["method"], "websocket");
    let read = m
        .post(
            &format!("/messages/{id}/read"),
            Some(&b.api_key),
            &json!({}),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let rr = next_json(&mut wa).await;
    assert_eq!(rr["type"], "message.read");
    assert_eq!(rr["data"]["id"], id.as_str());
    assert!(rr["data"]["read_at"].is_string());
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let mut cfg = common::config(&[]);
    cfg.ws_idle_timeout = Duration::from_millis(300);
    let m = common::mock_with(cfg).await;
    let a = m.register("acme", "alice").await;
    let (mut ws, _) = connected(&m, &a).await;
    // Activity keeps it open...
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        sync(&mut ws).await;
    }
    // ...silence closes it.
    expect_closed(&mut ws).await;
}

// ---------------------------------------------------------------- planted defects

#[tokio::test]
async fn defect_ws_token_in_url_authenticates_from_the_query() {
    let m = mock(&[Defect::WsTokenInUrl]).await;
    let a = m.register("acme", "alice").await;
    let mut ws = connect_url(&format!("{}?token={}", m.handle.ws_url(), a.api_key)).await;
    let v = next_json(&mut ws).await;
    assert_eq!(
        v["type"], "connected",
        "defect must authenticate from ?token="
    );
}

#[tokio::test]
async fn defect_ws_non_auth_first_frame_keeps_socket_open() {
    let m = mock(&[Defect::WsNonAuthFirstFrame]).await;
    let a = m.register("acme", "alice").await;
    let mut ws = connect(&m).await;
    send(&mut ws, &json!({"type": "ping"})).await;
    auth(&mut ws, &a).await;
}

#[tokio::test]
async fn defect_ws_no_auth_timeout_keeps_silent_socket_open() {
    let m = mock(&[Defect::WsNoAuthTimeout]).await;
    let a = m.register("acme", "alice").await;
    let mut ws = connect(&m).await;
    // Twice the 300 ms auth timeout passes without a close.
    match next(&mut ws, Duration::from_millis(700)).await {
        Next::Nothing => {}
        other => panic!("defect should keep the socket open, got {other:?}"),
    }
    auth(&mut ws, &a).await;
}

#[tokio::test]
async fn defect_ws_invalid_token_open_answers_but_does_not_close() {
    let m = mock(&[Defect::WsInvalidTokenOpen]).await;
    let a = m.register("acme", "alice").await;
    let mut ws = connect(&m).await;
    send(
        &mut ws,
        &json!({"type": "auth", "token": "amp_live_sk_nope"}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["error"], "unauthorized");
    match next(&mut ws, Duration::from_millis(500)).await {
        Next::Nothing => {}
        other => panic!("defect should keep the socket open, got {other:?}"),
    }
    auth(&mut ws, &a).await;
}

#[tokio::test]
async fn defect_ws_no_pong_ignores_ping() {
    let m = mock(&[Defect::WsNoPong]).await;
    let a = m.register("acme", "alice").await;
    let (mut ws, _) = connected(&m, &a).await;
    send(&mut ws, &json!({"type": "ping"})).await;
    send(&mut ws, &json!({"type": "unknown.marker"})).await;
    // The first answer is the error for the marker: the ping got nothing.
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "error", "expected no pong, got {v}");
}

#[tokio::test]
async fn defect_ws_replay_unmarked_drops_the_replay_flag() {
    let m = mock(&[Defect::WsReplayUnmarked]).await;
    let a = m.register("acme", "alice").await;
    let b = m.register("acme", "bob").await;
    let r = m.send(&a, &b, "queued").await;
    let (mut ws, _) = connected(&m, &b).await;
    let v = next_json(&mut ws).await;
    assert_eq!(v["data"]["id"], r.body["id"]);
    assert!(
        v["data"].get("replay").is_none(),
        "defect must omit replay: {v}"
    );
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_an_open_socket() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let (_ws, _) = connected(&m, &a).await;
    tokio::time::timeout(Duration::from_secs(2), m.handle.shutdown())
        .await
        .expect("shutdown waited for the WebSocket session");
}

#[tokio::test]
async fn a_frame_over_the_size_cap_ends_only_that_connection() {
    let m = mock(&[]).await;
    let a = m.register("acme", "alice").await;
    let (mut ws, _) = connected(&m, &a).await;
    let huge = format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    // The send itself may fail once the server drops the connection mid-frame.
    let _ = ws.send(Message::text(huge)).await;
    expect_closed(&mut ws).await;
    // The provider keeps serving.
    let (mut again, _) = connected(&m, &a).await;
    sync(&mut again).await;
}

/// `cross-agent-ws-ack`: the clean mock ignores a WS ack of another agent's message id (an
/// error frame), the defective one removes the message from its owner's queue.
#[tokio::test]
async fn ws_ack_of_another_agents_message_is_refused_unless_the_defect_is_planted() {
    for (defects, kept) in [(vec![], true), (vec![Defect::CrossAgentWsAck], false)] {
        let m = mock(&defects).await;
        let a = m.register("acme", "alice").await;
        let b = m.register("acme", "bob").await;
        let eve = m.register("acme", "eve").await;
        assert_eq!(m.send(&a, &b, "x").await.status, 200);
        let id = m.pending(&b).await[0]["id"].clone();
        let (mut ws, _) = connected(&m, &eve).await;
        send(&mut ws, &json!({"type": "message.ack", "id": id})).await;
        sync(&mut ws).await;
        let still = m.pending(&b).await.iter().any(|e| e["id"] == id);
        assert_eq!(still, kept, "defects {defects:?}");
    }
}
