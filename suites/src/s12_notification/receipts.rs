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
//!
//! With it: the delivery basis of a route response (12.2) and a read receipt that is not an ack
//! (12.4).

use crate::steps::receipts::refusal;
use crate::steps::relay::{ids, queued};
use crate::steps::routing::{delivered, pending_list, route_id, subject};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Outcome, Timing, WsEvent, expect, fail, pass};
use serde_json::{Value, json};
use std::time::Instant;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[ROUTE_BASIS, RECEIPT_RETAINED, READ_NOT_ACK];

/// NOTIFY-001 delivery basis values.
const BASES: [&str; 4] = ["mailbox_written", "socket_written", "webhook_2xx", "queued"];

// ------------------------------------------------------------------------------------------
// NOTIFY-001 / NOTIFY-005
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.basis",
    title = "Route responses carry the delivery basis",
    clauses = ["NOTIFY-001"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "POST /route answers with `basis` in mailbox_written, socket_written, \
              webhook_2xx, queued.",
)]
async fn route_basis(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "basis"))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::status(&resp, 200)?;
    match resp.pointer("/basis").and_then(Value::as_str) {
        Some(b) if BASES.contains(&b) => pass(),
        Some(b) => fail(format!(
            "route response `basis` is `{b}`, not one of {BASES:?} (NOTIFY-001)"
        )),
        None => fail(
            "the route response carries no `basis` although the provider advertises notify:v1 \
             (NOTIFY-001)",
        ),
    }
}

/// `data.id` of a receipt frame.
fn receipt_id(frame: &Value) -> Option<&str> {
    frame.pointer("/data/id").and_then(Value::as_str)
}

#[case(
    id = "ws.receipt.retained",
    title = "A receipt for an offline sender is retained until it connects",
    clauses = ["NOTIFY-003", "RTE-022"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "A sender with no socket routes with options {receipt: true}; the recipient \
              reads the message; when the sender then connects over WebSocket it receives \
              `message.read` (or `message.delivered`) for that id, unless the route \
              response said the receipt will not be delivered.",
)]
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

#[case(
    id = "relay.read.not-ack",
    title = "A read receipt does not acknowledge the message",
    clauses = ["NOTIFY-010"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "POST /messages/{id}/read succeeds twice and the message stays pending.",
)]
async fn read_not_ack(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let id = queued(ctx, &a, &b, "read receipt").await?;
    for attempt in ["first", "repeated"] {
        let resp = ctx
            .post_json(&format!("/messages/{id}/read"), &json!({}), Some(&b))
            .await?;
        if !resp.is_success() {
            return fail(format!(
                "the {attempt} POST /messages/{{id}}/read answered HTTP {} {} (NOTIFY-010: \
                 idempotent receipt)",
                resp.status,
                resp.error_code().unwrap_or("")
            ));
        }
        if let Some(v) = resp.pointer("/read_receipt_sent") {
            expect::that(
                v.is_boolean(),
                "`read_receipt_sent` is not a boolean (NOTIFY-010)",
            )?;
        }
    }
    let left = pending_list(ctx, &b, "").await?;
    expect::that(
        ids(&left).contains(&id.as_str()),
        format!(
            "message {id} left the pending queue after a read receipt: read must not \
             acknowledge (NOTIFY-010)"
        ),
    )?;
    let ack = ctx.ack(&b, &id).await?;
    expect::that(
        ack.is_success() && ack.pointer("/already_acked") != Some(&json!(true)),
        format!(
            "after read receipts, the first real ack of {id} should be a fresh ack, got HTTP \
             {} {} (NOTIFY-010)",
            ack.status,
            ack.text()
        ),
    )?;
    pass()
}
