//! The relay queue (spec 05 › Pickup Endpoint, Acknowledging Pickup, Batch Acknowledgment,
//! Message Ordering): the pending list, acks that remove, FIFO order and expiry. The notify:v1
//! additions (counts, cursors, long-poll) are in [`crate::s12_notification`].
//!
//! Every case uses fresh recipients, so the recipient's queue holds exactly the messages the
//! case routed; notify cases are gated on the capability tokens the target advertises in
//! `/v1/info` (NOTIFY-017) and never assumed.

use crate::steps::relay::{ids, queued};
use crate::steps::routing::{delivered, entry_id, pending_list, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::{Value, json};
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    RELAY_EXPIRES_AT,
    PENDING_SHAPE,
    FIFO,
    ACK_REMOVES,
    ACK_FOREIGN,
    ACK_BATCH,
];

/// RTE-012/016: relay entries live seven days.
const RELAY_TTL_SECS: i64 = 7 * 24 * 3600;

/// Slack for providers that compute `expires_at` from a slightly different clock reading.
const TTL_SLACK_SECS: i64 = 60;

// ------------------------------------------------------------------------------------------
// RTE-016 / RTE-024
// ------------------------------------------------------------------------------------------

#[case(
    id = "relay.expires-at",
    title = "A queue entry expires seven days after it was queued",
    clauses = ["RTE-016"],
    level = Must,
    expect = "Without an envelope expiry, expires_at = queued_at + 7 days.",
)]
async fn relay_expires_at(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "expiry"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message").await?;
    let m = delivered(ctx, &b, &id).await?;
    let ts = |f: &str| {
        let text = m.get(f).and_then(Value::as_str).unwrap_or_default();
        amp_core::parse_rfc3339(text)
            .map_err(|e| Failure::Fail(format!("queue entry `{f}` `{text}` is not RFC 3339: {e}")))
    };
    let queued = ts("queued_at")?;
    let expires = ts("expires_at")?;
    let ttl = expires - queued;
    expect::that(
        (ttl - RELAY_TTL_SECS).abs() <= TTL_SLACK_SECS,
        format!(
            "queue entry expires_at is {ttl} s after queued_at; without an envelope expiry it \
             is queued_at + 7 days = {RELAY_TTL_SECS} s (RTE-016)"
        ),
    )?;
    pass()
}

#[case(
    id = "relay.pending.shape",
    title = "GET /messages/pending lists queued messages with the spec fields",
    clauses = ["RTE-015"],
    level = Must,
    expect = "Pending answers 200 {messages:[{id, envelope, payload, queued_at, \
              expires_at}], count, remaining} and honours ?limit.",
)]
async fn pending_shape(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let first = queued(ctx, &a, &b, "pending shape 1").await?;
    let second = queued(ctx, &a, &b, "pending shape 2").await?;
    let resp = ctx.pending(&b).await?;
    expect::status(&resp, 200)?;
    let Some(msgs) = resp.pointer("/messages").and_then(Value::as_array) else {
        return fail("GET /messages/pending has no `messages` array (RTE-015)");
    };
    let mut problems = Vec::new();
    for m in msgs {
        for (f, ok) in [
            ("id", m.get("id").is_some_and(Value::is_string)),
            ("envelope", m.get("envelope").is_some_and(Value::is_object)),
            ("payload", m.get("payload").is_some_and(Value::is_object)),
            (
                "queued_at",
                m.get("queued_at").is_some_and(Value::is_string),
            ),
            (
                "expires_at",
                m.get("expires_at").is_some_and(Value::is_string),
            ),
        ] {
            if !ok {
                problems.push(format!(
                    "entry {} lacks a well-typed `{f}`",
                    entry_id(m).unwrap_or("?")
                ));
            }
        }
    }
    let got = ids(msgs);
    if !(got.contains(&first.as_str()) && got.contains(&second.as_str())) {
        problems.push(format!("expected both {first} and {second}, got {got:?}"));
    }
    match resp.pointer("/count").and_then(Value::as_u64) {
        Some(n) if n as usize == msgs.len() => {}
        other => problems.push(format!(
            "`count` is {other:?}, expected the number of returned messages ({})",
            msgs.len()
        )),
    }
    if resp.pointer("/remaining").and_then(Value::as_u64) != Some(0) {
        problems.push(format!(
            "`remaining` is {:?}, expected 0 when every message fits",
            resp.pointer("/remaining")
        ));
    }
    // `limit` pages: one message now, one remaining.
    let resp = ctx.get("/messages/pending?limit=1", Some(&b)).await?;
    expect::status(&resp, 200)?;
    let n = resp
        .pointer("/messages")
        .and_then(Value::as_array)
        .map(Vec::len);
    if n != Some(1) {
        problems.push(format!("`?limit=1` returned {n:?} messages, expected 1"));
    }
    if resp.pointer("/remaining").and_then(Value::as_u64) != Some(1) {
        problems.push(format!(
            "`?limit=1` with two queued messages reports remaining {:?}, expected 1",
            resp.pointer("/remaining")
        ));
    }
    expect::no_problems(&problems, "pending response does not match RTE-015")
}

#[case(
    id = "relay.fifo",
    title = "The relay queue returns the oldest message first",
    clauses = ["RTE-019"],
    level = Should,
    expect = "Three messages queued in order are listed in that order.",
)]
async fn fifo(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(queued(ctx, &a, &b, &format!("fifo {i}")).await?);
        // Distinct queue times for providers that order by timestamp.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let msgs = pending_list(ctx, &b, "").await?;
    let got: Vec<String> = ids(&msgs)
        .into_iter()
        .filter(|id| sent.iter().any(|s| s == id))
        .map(str::to_string)
        .collect();
    expect::that(
        got == sent,
        format!("pending returned {got:?}; oldest first would be {sent:?} (RTE-019)"),
    )?;
    pass()
}

#[case(
    id = "relay.ack.removes",
    title = "Acknowledging a message removes exactly that message",
    clauses = ["RTE-017"],
    level = Must,
    expect = "DELETE /messages/pending/{id} answers {\"acknowledged\": true}; the \
              message leaves the queue and the others stay.",
)]
async fn ack_removes(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let keep = queued(ctx, &a, &b, "stays").await?;
    let gone = queued(ctx, &a, &b, "acked").await?;
    let resp = ctx.ack(&b, &gone).await?;
    expect::status(&resp, 200)?;
    expect::that(
        resp.pointer("/acknowledged") == Some(&json!(true)),
        format!(
            "DELETE /messages/pending/{{id}} answered {}, expected {{\"acknowledged\": true}} \
             (RTE-017)",
            resp.text()
        ),
    )?;
    let left = pending_list(ctx, &b, "").await?;
    let left = ids(&left);
    expect::that(
        !left.contains(&gone.as_str()),
        format!("message {gone} is still pending after a successful ack (RTE-017)"),
    )?;
    expect::that(
        left.contains(&keep.as_str()),
        format!("acking {gone} also removed the unrelated message {keep} (RTE-017)"),
    )?;
    pass()
}

#[case(
    id = "relay.ack.foreign",
    title = "An agent cannot acknowledge another agent's message",
    clauses = ["RTE-017"],
    level = Must,
    expect = "Another agent acking a message id leaves it in the recipient's queue \
              (status codes informational, C-61).",
)]
async fn ack_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &b, "foreign ack").await?;
    let foreign = ctx.ack(&intruder, &id).await?;
    let still = pending_list(ctx, &b, "").await?;
    if !ids(&still).contains(&id.as_str()) {
        return fail(format!(
            "another agent acked message {id} (HTTP {}) and it vanished from the \
             recipient's queue: acks must be scoped to the authenticated agent (RTE-017)",
            foreign.status
        ));
    }
    // The id itself is ackable by its owner, so the intruder's ack was refused for the right
    // reason.
    let own = ctx.ack(&b, &id).await?;
    expect::success(&own)?;
    if foreign.is_success() {
        return Ok(Outcome::Info(format!(
            "the intruder's ack answered HTTP {} without removing the message (status codes \
             for foreign ids are unspecified, C-61)",
            foreign.status
        )));
    }
    pass()
}

#[case(
    id = "relay.ack.batch",
    title = "Batch acknowledgement removes the listed messages",
    clauses = ["RTE-018"],
    level = Must,
    expect = "POST /messages/pending/ack {ids:[a, b]} answers {\"acknowledged\": 2} \
              and removes only a and b.",
)]
async fn ack_batch(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let one = queued(ctx, &a, &b, "batch 1").await?;
    let two = queued(ctx, &a, &b, "batch 2").await?;
    let three = queued(ctx, &a, &b, "batch 3").await?;
    let resp = ctx
        .post_json(
            "/messages/pending/ack",
            &json!({"ids": [one.clone(), two.clone()]}),
            Some(&b),
        )
        .await?;
    expect::status(&resp, 200)?;
    expect::that(
        resp.pointer("/acknowledged").and_then(Value::as_u64) == Some(2),
        format!(
            "batch ack of two ids answered {}, expected {{\"acknowledged\": 2}} (RTE-018)",
            resp.text()
        ),
    )?;
    let left = pending_list(ctx, &b, "").await?;
    let left = ids(&left);
    expect::that(
        !left.contains(&one.as_str()) && !left.contains(&two.as_str()),
        format!("batch-acked messages are still pending: {left:?} (RTE-018)"),
    )?;
    expect::that(
        left.contains(&three.as_str()),
        format!("the message not in the batch ({three}) was removed too (RTE-018)"),
    )?;
    pass()
}
