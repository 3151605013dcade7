//! Relay queue (spec 05 Pickup / Acknowledging) and the notify:v1 extension (spec 12:
//! count, cursors, long-poll, idempotent ack, read receipts that do not ack).
//!
//! Every case uses fresh recipients, so the recipient's queue holds exactly the messages the
//! case routed; notify cases are gated on the capability tokens the target advertises in
//! `/v1/info` (NOTIFY-017) and never assumed.

use crate::refusal::refused;
use crate::routing::{delivered, entry_id, pending_list, route_ok, subject};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Need, Outcome, Resp, Section, expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::Duration;

/// Route one signed message from `a` to `b`, wait until it is queued, return its id.
pub(crate) async fn queued(
    ctx: &mut Ctx,
    a: &Agent,
    b: &Agent,
    what: &str,
) -> Result<String, Failure> {
    let body = ctx
        .message(a, &b.address)
        .subject(subject(ctx, what))
        .signed()?;
    let id = route_ok(ctx, a, &body, what).await?;
    delivered(ctx, b, &id).await?;
    Ok(id)
}

/// Percent-encode a query value: cursors are opaque and may hold `+`, `/` or `=`.
fn query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The field at `ptr` is a non-empty string.
fn nonempty_str(resp: &Resp, ptr: &str) -> bool {
    resp.pointer(ptr)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

fn ids(msgs: &[Value]) -> Vec<&str> {
    msgs.iter().filter_map(entry_id).collect()
}

/// `GET /messages/pending/count` → the `cursor` (NOTIFY-004).
async fn cursor(ctx: &mut Ctx, agent: &Agent) -> Result<String, Failure> {
    let resp = ctx.get("/messages/pending/count", Some(agent)).await?;
    expect::status(&resp, 200)?;
    match expect::json_str(&resp, "/cursor") {
        Ok(c) if !c.is_empty() => Ok(c.to_string()),
        Ok(_) => fail("GET /messages/pending/count returned an empty `cursor` (NOTIFY-004)"),
        Err(e) => Err(e),
    }
}

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

async fn ack_idempotent(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let id = queued(ctx, &a, &b, "ack twice").await?;
    let first = ctx.ack(&b, &id).await?;
    expect::success(&first)?;
    expect::that(
        first.pointer("/already_acked") != Some(&json!(true)),
        "the first ack of a queued message claims `already_acked: true` (NOTIFY-009)",
    )?;
    let again = ctx.ack(&b, &id).await?;
    if !again.is_success() {
        return fail(format!(
            "acking an already acknowledged id must succeed with already_acked: true \
             (NOTIFY-009), got HTTP {} {}",
            again.status,
            again.error_code().unwrap_or("")
        ));
    }
    expect::that(
        again.pointer("/already_acked") == Some(&json!(true)),
        format!(
            "the repeated ack succeeded but does not say `\"already_acked\": true`: {} \
             (NOTIFY-009)",
            again.text()
        ),
    )?;
    // The batch form is the same transition.
    let batch = ctx
        .post_json("/messages/pending/ack", &json!({"ids": [id]}), Some(&b))
        .await?;
    expect::that(
        batch.is_success(),
        format!(
            "a batch ack of an already acknowledged id answered HTTP {} (NOTIFY-009 wants \
             every ack form idempotent)",
            batch.status
        ),
    )?;
    pass()
}

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

async fn count_shape(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let secret_text = ctx.unique_name("body-marker");
    for i in 0..2 {
        let body = ctx
            .message(&a, &b.address)
            .subject(subject(ctx, &format!("count {i}")))
            .payload(json!({"type": "notification", "message": secret_text.clone()}))
            .signed()?;
        let id = route_ok(ctx, &a, &body, "a message to count").await?;
        delivered(ctx, &b, &id).await?;
    }
    let resp = ctx.get("/messages/pending/count", Some(&b)).await?;
    expect::status(&resp, 200)?;
    let mut problems = Vec::new();
    if resp.pointer("/count").and_then(Value::as_u64) != Some(2) {
        problems.push(format!(
            "`count` is {:?}, expected 2",
            resp.pointer("/count")
        ));
    }
    if !nonempty_str(&resp, "/oldest_queued_at") {
        problems.push("`oldest_queued_at` is not a timestamp string".to_string());
    }
    if !nonempty_str(&resp, "/cursor") {
        problems.push("`cursor` is not a non-empty string".to_string());
    }
    for k in ["messages", "envelope", "payload"] {
        if resp.pointer(&format!("/{k}")).is_some() {
            problems.push(format!("the count response carries `{k}`"));
        }
    }
    if resp.text().contains(&secret_text) {
        problems.push("the count response contains message body text".to_string());
    }
    expect::no_problems(
        &problems,
        "GET /messages/pending/count does not match NOTIFY-004",
    )
}

async fn after_cursor(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let old = queued(ctx, &a, &b, "before cursor").await?;
    let c = cursor(ctx, &b).await?;
    let new = queued(ctx, &a, &b, "after cursor").await?;
    let resp = ctx
        .get(
            &format!("/messages/pending?after={}", query_value(&c)),
            Some(&b),
        )
        .await?;
    expect::status(&resp, 200)?;
    let msgs = resp
        .pointer("/messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let got = ids(&msgs);
    expect::that(
        got.contains(&new.as_str()) && !got.contains(&old.as_str()),
        format!(
            "`?after=<cursor>` returned {got:?}; expected only the message queued after the \
             cursor ({new}), not {old} (NOTIFY-006)"
        ),
    )?;
    if !nonempty_str(&resp, "/next_cursor") {
        return Ok(Outcome::Warn {
            reason: "the `after` page carries no `next_cursor` (NOTIFY-006 SHOULD)".to_string(),
            contradiction: None,
        });
    }
    pass()
}

async fn cursor_expired(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    queued(ctx, &a, &b, "cursor baseline").await?;
    let good = cursor(ctx, &b).await?;
    let resp = ctx
        .get(
            &format!("/messages/pending?after={}", query_value(&good)),
            Some(&b),
        )
        .await?;
    expect::status(&resp, 200).map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!(
            "baseline: a cursor fresh from /messages/pending/count was not accepted: {m}"
        )),
        other => other,
    })?;
    let bogus = format!("amp-conformance-unknown-{}", ctx.unique_name("cursor"));
    let resp = ctx
        .get(
            &format!("/messages/pending?after={}", query_value(&bogus)),
            Some(&b),
        )
        .await?;
    refused(ctx, &resp, 410, "cursor_expired", "NOTIFY-007")?;
    pass()
}

async fn longpoll(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let c = cursor(ctx, &b).await?;
    let after = query_value(&c);
    // Nothing is queued after the cursor: the request is held about `wait` seconds and then
    // answers 200 with an empty list.
    let resp = ctx
        .get(&format!("/messages/pending?after={after}&wait=2"), Some(&b))
        .await?;
    expect::status(&resp, 200)?;
    let n = resp
        .pointer("/messages")
        .and_then(Value::as_array)
        .map(Vec::len);
    expect::that(
        n == Some(0),
        format!("an idle long-poll returned {n:?} messages, expected an empty `messages`"),
    )?;
    expect::that(
        resp.elapsed >= Duration::from_millis(1500),
        format!(
            "`wait=2` returned after {} ms with nothing queued: the request was not held \
             (NOTIFY-008)",
            resp.elapsed.as_millis()
        ),
    )?;
    // A message already queued after the cursor: the long-poll returns it at once.
    let id = queued(ctx, &a, &b, "long-poll").await?;
    let resp = ctx
        .get(&format!("/messages/pending?after={after}&wait=5"), Some(&b))
        .await?;
    expect::status(&resp, 200)?;
    let msgs = resp
        .pointer("/messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    expect::that(
        ids(&msgs).contains(&id.as_str()),
        format!("the long-poll did not return message {id} queued after the cursor"),
    )?;
    expect::that(
        resp.elapsed < Duration::from_secs(4),
        format!(
            "the long-poll held the request {} ms although a message was already queued",
            resp.elapsed.as_millis()
        ),
    )?;
    pass()
}

const NOTIFY: &[Need] = &[Need::Capability("notify:v1")];

pub static CASES: &[Case] = &[
    Case {
        id: "relay.pending.shape",
        title: "GET /messages/pending lists queued messages with the spec fields",
        clauses: &["RTE-015"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "Pending answers 200 {messages:[{id, envelope, payload, queued_at, \
                      expires_at}], count, remaining} and honours ?limit.",
        run: |ctx| Box::pin(pending_shape(ctx)),
    },
    Case {
        id: "relay.fifo",
        title: "The relay queue returns the oldest message first",
        clauses: &["RTE-019"],
        level: Level::Should,
        section: Section::Relay,
        needs: &[],
        expectation: "Three messages queued in order are listed in that order.",
        run: |ctx| Box::pin(fifo(ctx)),
    },
    Case {
        id: "relay.ack.removes",
        title: "Acknowledging a message removes exactly that message",
        clauses: &["RTE-017"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "DELETE /messages/pending/{id} answers {\"acknowledged\": true}; the \
                      message leaves the queue and the others stay.",
        run: |ctx| Box::pin(ack_removes(ctx)),
    },
    Case {
        id: "relay.ack.foreign",
        title: "An agent cannot acknowledge another agent's message",
        clauses: &["RTE-017"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "Another agent acking a message id leaves it in the recipient's queue \
                      (status codes informational, C-61).",
        run: |ctx| Box::pin(ack_foreign(ctx)),
    },
    Case {
        id: "relay.ack.batch",
        title: "Batch acknowledgement removes the listed messages",
        clauses: &["RTE-018"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "POST /messages/pending/ack {ids:[a, b]} answers {\"acknowledged\": 2} \
                      and removes only a and b.",
        run: |ctx| Box::pin(ack_batch(ctx)),
    },
    Case {
        id: "relay.ack.idempotent",
        title: "Acknowledging twice succeeds and says already_acked",
        clauses: &["NOTIFY-009"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "A second ack of the same id succeeds with \"already_acked\": true.",
        run: |ctx| Box::pin(ack_idempotent(ctx)),
    },
    Case {
        id: "relay.read.not-ack",
        title: "A read receipt does not acknowledge the message",
        clauses: &["NOTIFY-010"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "POST /messages/{id}/read succeeds twice and the message stays pending.",
        run: |ctx| Box::pin(read_not_ack(ctx)),
    },
    Case {
        id: "relay.count.shape",
        title: "The count endpoint reports count, oldest time and cursor, no bodies",
        clauses: &["NOTIFY-004"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "GET /messages/pending/count answers {count, oldest_queued_at, cursor} \
                      without message content.",
        run: |ctx| Box::pin(count_shape(ctx)),
    },
    Case {
        id: "relay.after-cursor",
        title: "?after=<cursor> returns only newer messages",
        clauses: &["NOTIFY-006"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "Pending with after=<cursor from count> lists only messages queued later \
                      and SHOULD carry next_cursor.",
        run: |ctx| Box::pin(after_cursor(ctx)),
    },
    Case {
        id: "relay.cursor-expired",
        title: "An unknown cursor answers 410 cursor_expired",
        clauses: &["NOTIFY-007"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "A valid cursor is accepted; an unrecognised one answers 410 \
                      cursor_expired.",
        run: |ctx| Box::pin(cursor_expired(ctx)),
    },
    Case {
        id: "relay.longpoll",
        title: "Long-poll holds an idle request and returns new messages at once",
        clauses: &["NOTIFY-008"],
        level: Level::May,
        section: Section::Notify,
        needs: &[Need::Capability("notify:longpoll")],
        expectation: "wait=2 with nothing new is held ~2 s then answers an empty list; with a \
                      message after the cursor it answers immediately with it.",
        run: |ctx| Box::pin(longpoll(ctx)),
    },
];
