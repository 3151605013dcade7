//! Receipts for a sender that cannot be reached (spec 12.2, NOTIFY-003; receipt frames of 05
//! "Read Receipts", RTE-022).
//!
//! A sender that asks for a receipt (`options.receipt: true`) and has no open WebSocket when
//! the receipt comes into being must not be left guessing: the provider either keeps the
//! receipt for it or says in the route response that none will come. The only retrieval path
//! the spec names for receipts is the WebSocket, so the case reads "retained" as "delivered
//! once the sender connects".
//!
//! Timing: retained receipts belong to the connect burst (after `connected` and any replayed
//! messages), so the case watches the new socket for the run's observation window
//! (`ctx.timing().observe_window`) plus [`Timing::margin`], and stops as soon as the receipt
//! arrives.

use crate::routing::{delivered, route_id, subject};
use amp_runner::{Case, CaseResult, Ctx, Level, Need, Outcome, Section, Timing, WsEvent};
use amp_runner::{fail, pass};
use serde_json::{Value, json};
use std::time::Instant;

/// Words that, in a `receipt*` field of a route response, say the receipt will not come
/// (matched as whole words, so `"notified"` is not a `"not"`).
const REFUSAL_WORDS: [&str; 9] = [
    "not",
    "no",
    "none",
    "never",
    "undeliverable",
    "unavailable",
    "dropped",
    "disabled",
    "unsupported",
];

/// The route response's statement that the receipt will not be delivered, if it makes one.
///
/// The spec names no field for this (12.2 only requires the statement), so any top-level
/// field whose name starts with `receipt` counts when it is `false` or a string saying no
/// (`"not_delivered"`, `"unavailable"`...). A field that says yes (`true`, `"retained"`) is
/// a promise, not a refusal, and is held to it.
fn refusal(route: Option<&Value>) -> Option<String> {
    let obj = route?.as_object()?;
    obj.iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("receipt"))
        .find_map(|(k, v)| {
            let says_no = match v {
                Value::Bool(b) => !b,
                Value::String(s) => {
                    let s = s.to_ascii_lowercase();
                    s.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|word| REFUSAL_WORDS.contains(&word))
                }
                _ => false,
            };
            says_no.then(|| format!("`{k}`: {v}"))
        })
}

/// `data.id` of a receipt frame.
fn receipt_id(frame: &Value) -> Option<&str> {
    frame.pointer("/data/id").and_then(Value::as_str)
}

async fn receipt_retained(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // A has no socket: nothing can reach it while the receipts come into being.
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "receipt while offline"))
        .field("options", json!({"receipt": true}))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "baseline: a correctly signed message with options {{receipt: true}} was refused \
             (HTTP {} {}), so the receipt path cannot be observed (RTE-002, RTE-024)",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = route_id(&resp)?;
    if let Some(statement) = refusal(resp.json()) {
        return Ok(Outcome::Info(format!(
            "the route response says the receipt for {id} will not be delivered ({statement}); \
             NOTIFY-003 allows that instead of retaining it"
        )));
    }
    delivered(ctx, &b, &id).await?;
    let read = ctx
        .post_json(&format!("/messages/{id}/read"), &json!({}), Some(&b))
        .await?;
    if !read.is_success() {
        return fail(format!(
            "baseline: the recipient's POST /messages/{{id}}/read answered HTTP {} {} \
             (RTE-022), so no read receipt exists to retain",
            read.status,
            read.error_code().unwrap_or("")
        ));
    }
    let receipt_sent = read.pointer("/read_receipt_sent").cloned();

    let wait = Timing::with_margin(ctx.timing().observe_window);
    ctx.need_time(wait);
    let mut conn = ctx.ws(&a).await?;
    let deadline = Instant::now() + wait;
    let mut saw_delivered = false;
    let mut saw_read = false;
    while !saw_read {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let ev = conn.recv(left).await;
        match &ev {
            WsEvent::Text { .. } => {
                let Some(frame) = ev.json() else { continue };
                if receipt_id(frame) != Some(id.as_str()) {
                    continue;
                }
                match ev.frame_type() {
                    Some("message.read") => saw_read = true,
                    Some("message.delivered") => saw_delivered = true,
                    _ => {}
                }
            }
            WsEvent::Binary(_) => continue,
            WsEvent::Closed { .. } | WsEvent::Timeout | WsEvent::Error(_) => break,
        }
    }
    conn.close().await;
    if saw_read {
        return pass();
    }
    if saw_delivered && receipt_sent == Some(Value::Bool(true)) {
        return fail(format!(
            "the read endpoint answered `read_receipt_sent: true` for {id} while the sender was \
             offline, but on connecting the sender got only `message.delivered`, never \
             `message.read` (RTE-022, NOTIFY-003: a sent receipt is retained, not dropped)"
        ));
    }
    if saw_delivered {
        return Ok(Outcome::Info(format!(
            "on connect the sender got the retained `message.delivered` receipt for {id} but \
             no `message.read`, although the recipient read it while the sender was offline"
        )));
    }
    let sent = receipt_sent
        .map(|v| format!(" (the read endpoint answered `read_receipt_sent`: {v})"))
        .unwrap_or_default();
    fail(format!(
        "the sender asked for a receipt, was offline when message {id} was read{sent}, and on \
         connecting got neither `message.read` nor `message.delivered` for it within {:.1} s; \
         the route response did not say the receipt would not be delivered either (NOTIFY-003: \
         retain it or say so, never silence)",
        wait.as_secs_f64()
    ))
}

pub static CASES: &[Case] = &[Case {
    id: "ws.receipt.retained",
    title: "A receipt for an offline sender is retained until it connects",
    clauses: &["NOTIFY-003", "RTE-022"],
    level: Level::Must,
    section: Section::WebSocket,
    needs: &[Need::Capability("notify:v1")],
    expectation: "A sender with no socket routes with options {receipt: true}; the recipient \
                  reads the message; when the sender then connects over WebSocket it receives \
                  `message.read` (or `message.delivered`) for that id, unless the route \
                  response said the receipt will not be delivered.",
    run: |ctx| Box::pin(receipt_retained(ctx)),
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reads_only_receipt_fields_that_say_no() {
        assert!(refusal(Some(&json!({"id": "m", "receipt": false}))).is_some());
        assert!(refusal(Some(&json!({"receipt_status": "not_delivered"}))).is_some());
        assert!(refusal(Some(&json!({"receipt": true}))).is_none());
        assert!(refusal(Some(&json!({"receipt_status": "retained"}))).is_none());
        assert!(refusal(Some(&json!({"receipt": "notified"}))).is_none());
        assert!(refusal(Some(&json!({"receipt": "will not be delivered"}))).is_some());
        assert!(refusal(Some(&json!({"status": "not_delivered"}))).is_none());
        assert!(refusal(None).is_none());
    }
}
