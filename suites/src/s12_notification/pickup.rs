//! notify:v1 pickup (spec 12.3, 12.4): counts and their floor, `after` cursors and their expiry,
//! long-poll, and idempotent acks. Gated on the capability the target advertises (NOTIFY-017),
//! never assumed; every case uses fresh recipients, so a queue holds exactly what the case
//! routed.

use crate::steps::ratelimit::{BURST_WINDOW, PENDING_PER_MINUTE, burst_bound};
use crate::steps::refusal::refused;
use crate::steps::relay::{ids, queued};
use crate::steps::routing::{delivered, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    COUNT_FLOOR,
    ACK_IDEMPOTENT,
    COUNT_SHAPE,
    AFTER_CURSOR,
    CURSOR_EXPIRED,
    LONGPOLL,
];

#[case(
    id = "relay.count.floor",
    title = "The count endpoint stays available when the pickup budget is spent",
    clauses = ["NOTIFY-005"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "After pickups hit 429, one GET /messages/pending/count still answers 200.",
)]
async fn count_floor(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let bound = burst_bound(PENDING_PER_MINUTE);
    let url = ctx.target().url("/messages/pending");
    let started = Instant::now();
    let mut limited = false;
    for _ in 0..bound {
        if started.elapsed() > BURST_WINDOW {
            break;
        }
        let req = amp_client::Req::new(Method::GET, url.clone()).bearer(&a.api_key);
        if ctx.send_once(req).await?.status == 429 {
            limited = true;
            break;
        }
    }
    if !limited {
        return Ok(Outcome::Skip(format!(
            "no 429 after {bound} pickups: the pickup budget is higher than the case is \
             willing to spend, so no limit is in force to test NOTIFY-005 against"
        )));
    }
    let req = amp_client::Req::new(Method::GET, ctx.target().url("/messages/pending/count"))
        .bearer(&a.api_key);
    let resp = ctx.send_once(req).await?;
    if resp.status == 429 {
        return fail(
            "with the pickup budget spent, the first GET /messages/pending/count was refused \
             with 429: at least one count request per 10 s is allowed regardless of other \
             limits (NOTIFY-005)",
        );
    }
    expect::status(&resp, 200)?;
    pass()
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

#[case(
    id = "relay.ack.idempotent",
    title = "Acknowledging twice succeeds and says already_acked",
    clauses = ["NOTIFY-009"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "A second ack of the same id succeeds with \"already_acked\": true.",
)]
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

#[case(
    id = "relay.count.shape",
    title = "The count endpoint reports count, oldest time and cursor, no bodies",
    clauses = ["NOTIFY-004"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "GET /messages/pending/count answers {count, oldest_queued_at, cursor} \
              without message content.",
)]
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

#[case(
    id = "relay.after-cursor",
    title = "?after=<cursor> returns only newer messages",
    clauses = ["NOTIFY-006"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "Pending with after=<cursor from count> lists only messages queued later \
              and SHOULD carry next_cursor.",
)]
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

#[case(
    id = "relay.cursor-expired",
    title = "An unknown cursor answers 410 cursor_expired",
    clauses = ["NOTIFY-007"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "A valid cursor is accepted; an unrecognised one answers 410 \
              cursor_expired.",
)]
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

#[case(
    id = "relay.longpoll",
    title = "Long-poll holds an idle request and returns new messages at once",
    clauses = ["NOTIFY-008"],
    level = May,
    needs = [Capability("notify:longpoll")],
    expect = "wait=2 with nothing new is held ~2 s then answers an empty list; with a \
              message after the cursor it answers immediately with it.",
)]
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
