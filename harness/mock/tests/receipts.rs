//! Receipts retained for an offline sender (NOTIFY-003): delivered over the WebSocket right
//! after `connected`, and the planted `receipts-dropped` defect that discards them instead.

mod common;

use amp_mock::{Defect, MockConfig};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for any one frame.
const WAIT: Duration = Duration::from_secs(3);

/// A new sender routes `n` messages with `options.receipt: true` while it has no socket and
/// the recipient reads each one. Returns the sender and the message ids in routing order.
async fn offline_reads(m: &Mock, n: usize) -> (Agent, Vec<String>) {
    let (a, b) = pair(m).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = m.body(
            &a,
            &b.address,
            "receipt while offline",
            &payload(&format!("r{i}")),
        );
        body["options"] = json!({"receipt": true});
        let r = m.route(&a, &body).await;
        assert_eq!(r.status, 200, "route: {}", r.text);
        let id = r.body["id"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "route answer without id: {}", r.text);
        ids.push(id);
    }
    for id in &ids {
        let read = m
            .post(
                &format!("/messages/{id}/read"),
                Some(&b.api_key),
                &json!({}),
            )
            .await;
        assert_eq!(read.status, 200, "read: {}", read.text);
        assert_eq!(read.body["read_receipt_sent"], true, "{}", read.text);
    }
    (a, ids)
}

/// Connect `who` over the WebSocket and return the data frames after `connected`, up to the
/// `pong` answering a ping sent right after the auth frame (frames are handled in order, so
/// everything the provider sends on connect arrives before that pong).
async fn frames_on_connect(m: &Mock, who: &Agent) -> Vec<Value> {
    let (mut ws, _resp) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(m.handle.ws_url().as_str()),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    for frame in [
        json!({"type": "auth", "token": who.api_key}),
        json!({"type": "ping"}),
    ] {
        ws.send(Message::text(frame.to_string()))
            .await
            .expect("send");
    }
    let mut frames = Vec::new();
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no pong: the socket went quiet")
            .expect("socket ended")
            .expect("socket error");
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).expect("server sent JSON");
        if v["type"] == "pong" {
            break;
        }
        frames.push(v);
    }
    let _ = ws.close(None).await;
    assert_eq!(
        frames.first().map(|f| f["type"].clone()),
        Some(json!("connected")),
        "first frame: {frames:?}"
    );
    frames.remove(0);
    frames
}

/// Ids of the `message.read` frames, in arrival order.
fn read_ids(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message.read" && f["data"]["read_at"].is_string())
        .filter_map(|f| f["data"]["id"].as_str().map(str::to_string))
        .collect()
}

/// Strict: the retained `message.read` receipt reaches the sender when it connects.
async fn retained_receipt_delivered(m: &Mock) -> bool {
    let (a, ids) = offline_reads(m, 1).await;
    read_ids(&frames_on_connect(m, &a).await) == ids
}

defect_test!(
    defect_receipts_dropped,
    Defect::ReceiptsDropped,
    retained_receipt_delivered
);

defect_test!(
    defect_read_receipt_retained_as_delivered,
    Defect::ReadReceiptRetainedAsDelivered,
    retained_receipt_delivered
);

#[tokio::test]
async fn retained_receipts_arrive_in_order_and_only_once() {
    let m = mock(&[]).await;
    let (a, ids) = offline_reads(&m, 3).await;
    assert_eq!(read_ids(&frames_on_connect(&m, &a).await), ids);
    // Handed out means gone: a second connection gets none of them again.
    let again = frames_on_connect(&m, &a).await;
    assert!(read_ids(&again).is_empty(), "receipts repeated: {again:?}");
}
