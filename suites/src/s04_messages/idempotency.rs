//! Idempotency of routes (spec 04 › Idempotency; 08 Send Message): a repeated key returns the
//! first answer and delivers once, a key reused for another message conflicts, and a repeat
//! after the horizon the provider states.

use crate::steps::refusal::{code, refused};
use crate::steps::routing::{delivered, entry_subject, pending_list, route_id, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, expect, fail, pass};
use serde_json::json;
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    IDEMPOTENCY_LATER,
    ROUTE_IDEMPOTENCY_REPEAT,
    ROUTE_IDEMPOTENCY_CONFLICT,
];

// ------------------------------------------------------------------------------------------
// IDEM-003 / MSG-011
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.idempotency.later",
    title = "An idempotency key is still honoured later in the run",
    clauses = ["IDEM-003", "IDEM-004"],
    level = Must,
    expect = "After other sends and a pause, repeating the first request returns its \
              original id and delivers no second copy.",
)]
async fn idempotency_later(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("later"));
    let s = subject(ctx, "idempotent later");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    let first = route_ok(ctx, &a, &body, "the first send").await?;
    // Other traffic with other keys in between, then a pause.
    for i in 0..3 {
        let other = ctx
            .message(&a, &b.address)
            .subject(subject(ctx, &format!("in between {i}")))
            .field(
                "idempotency_key",
                json!(format!("idk_{}", ctx.unique_name("between"))),
            )
            .signed()?;
        route_ok(ctx, &a, &other, "an unrelated idempotent send").await?;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "repeating the first request later in the run answered HTTP {} {}; its \
             idempotency key must still be known (IDEM-003: at least 24 h)",
            resp.status,
            code(&resp)
        ));
    }
    let again = route_id(&resp)?;
    expect::that(
        again == first,
        format!(
            "the repeated request got a new id ({again}) instead of the original ({first}): the \
             idempotency key was forgotten after a few seconds and other sends (IDEM-003)"
        ),
    )?;
    one_copy(ctx, &b, &s, "IDEM-003").await?;
    pass()
}

#[case(
    id = "route.idempotency.repeat",
    title = "A repeated idempotency key returns the original response",
    clauses = ["IDEM-004"],
    level = Must,
    expect = "Sending the same request twice with one idempotency_key returns the \
              same id and the recipient holds one copy.",
)]
async fn route_idempotency_repeat(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("amp-conformance"));
    let s = subject(ctx, "idempotent");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    let first = route_ok(ctx, &a, &body, "the first send").await?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "repeating a request with the same idempotency_key must return the original \
             response (IDEM-004), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let second = route_id(&resp)?;
    if second != first {
        return fail(format!(
            "the repeated request got a new id ({second}) instead of the original ({first}): \
             the message was routed again (IDEM-004)"
        ));
    }
    delivered(ctx, &b, &first).await?;
    one_copy(ctx, &b, &s, "IDEM-004").await?;
    pass()
}

#[case(
    id = "route.idempotency.conflict",
    title = "Reusing an idempotency key with a different body conflicts",
    clauses = ["IDEM-005"],
    level = Must,
    expect = "The same idempotency_key with a different payload.message answers 409 \
              duplicate_idempotency_key.",
)]
async fn route_idempotency_conflict(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("amp-conformance"));
    let s = subject(ctx, "idempotency conflict");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    route_ok(ctx, &a, &body, "the first send").await?;
    // Same key, different payload.message (C-46: this difference stays a MUST).
    let body = ctx
        .message(&a, &b.address)
        .subject(s)
        .payload(json!({"type": "notification", "message": "a different body"}))
        .field("idempotency_key", json!(key))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    refused(ctx, &resp, 409, "duplicate_idempotency_key", "IDEM-005")?;
    pass()
}

/// The recipient holds exactly one copy of the message with subject `subject` (`clause` is the
/// idempotency clause the repeat was sent under).
async fn one_copy(ctx: &mut Ctx, b: &Agent, subject: &str, clause: &str) -> Result<(), Failure> {
    let copies = pending_list(ctx, b, "")
        .await?
        .iter()
        .filter(|m| entry_subject(m) == Some(subject))
        .count();
    expect::that(
        copies == 1,
        format!("the recipient holds {copies} copies of the idempotent message ({clause})"),
    )
}
