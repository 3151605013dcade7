//! Agent suspension (spec 07 › Behavior When Suspended): a suspended sender cannot route, a
//! suspended recipient receives nothing, and its queue is kept for when the suspension is
//! lifted. Every case lifts its suspension before it returns; admin credentials: see
//! [`crate::steps::admin`].

use crate::steps::admin::{admin, agent_id, lift_after, message, rfc3339, suspend, suspend_ok};
use crate::steps::refusal::refused;
use crate::steps::routing::{in_queue, route_ok};
use amp_case_attr::case;
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, pass,
};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    SUSPEND_SENDER,
    SUSPEND_RECIPIENT,
    SUSPEND_PICKUP_KEEPS_QUEUE,
    SUSPEND_RECORD,
];

// ------------------------------------------------------------------------------------------
// Cases: suspension
// ------------------------------------------------------------------------------------------

#[case(
    id = "admin.suspend.sender",
    title = "A suspended agent cannot send",
    clauses = ["SUS-001", "ADM-006"],
    level = Must,
    needs = [AdminKey],
    expect = "Suspend answers {agent_id, suspended: true, suspended_at, expires_at}; the \
              agent's route answers 403 agent_suspended; after unsuspend it routes again.",
)]
async fn suspend_sender(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (m1, _) = message(ctx, &a, &b, "before suspension", "hello")?;
    route_ok(ctx, &a, &m1, "a message before the suspension").await?;
    let aid = agent_id(&a)?;
    let s = suspend(ctx, &a).await?;
    expect::status(&s, 200)?;
    let shape = (|| -> Result<(), Failure> {
        expect::that(
            s.pointer("/agent_id").and_then(Value::as_str) == Some(aid.as_str()),
            "the suspend response does not name the agent_id (ADM-006)",
        )?;
        expect::that(
            s.pointer("/suspended") == Some(&json!(true)),
            "the suspend response lacks `suspended: true` (ADM-006)",
        )?;
        expect::that(
            rfc3339(s.pointer("/suspended_at")).is_some(),
            "the suspend response lacks an RFC 3339 `suspended_at` (ADM-006)",
        )?;
        expect::that(
            rfc3339(s.pointer("/expires_at")).is_some(),
            "the suspend response for duration_hours 1 lacks an RFC 3339 `expires_at` (ADM-006)",
        )
    })();
    let (m2, _) = message(ctx, &a, &b, "while suspended", "hello again")?;
    let r = ctx.route(&a, &m2).await?;
    let checked = shape.and_then(|_| refused(ctx, &r, 403, "agent_suspended", "SUS-001"));
    let result = lift_after(ctx, &a, checked.map(|_| Outcome::Pass)).await?;
    let (m3, _) = message(ctx, &a, &b, "after unsuspension", "back")?;
    route_ok(ctx, &a, &m3, "a message after unsuspension").await?;
    Ok(result)
}

#[case(
    id = "admin.suspend.recipient",
    title = "Messages to a suspended agent are refused",
    clauses = ["SUS-002"],
    level = Must,
    needs = [AdminKey],
    expect = "A route to a suspended agent answers 403 recipient_suspended.",
)]
async fn suspend_recipient(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (m1, _) = message(ctx, &a, &b, "before suspension", "hello")?;
    route_ok(ctx, &a, &m1, "a message before the suspension").await?;
    suspend_ok(ctx, &b).await?;
    let (m2, _) = message(ctx, &a, &b, "to a suspended agent", "hello again")?;
    let r = ctx.route(&a, &m2).await;
    let checked = r.and_then(|r| refused(ctx, &r, 403, "recipient_suspended", "SUS-002"));
    lift_after(ctx, &b, checked.map(|_| Outcome::Pass)).await
}

#[case(
    id = "admin.suspend.pickup-and-queue",
    title = "A suspended agent cannot pick up, but its queue is kept",
    clauses = ["SUS-003", "SUS-004"],
    level = Must,
    needs = [AdminKey],
    expect = "GET /messages/pending by a suspended agent answers 403 agent_suspended; a \
              message queued before the suspension is still there after unsuspension.",
)]
async fn suspend_pickup_keeps_queue(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (m1, _) = message(ctx, &a, &b, "queued before suspension", "keep me")?;
    let id = route_ok(ctx, &a, &m1, "a message before the suspension").await?;
    if !in_queue(ctx, &b, &id).await? {
        return fail(format!(
            "baseline: message {id} is not in the recipient's queue (RTE-015)"
        ));
    }
    suspend_ok(ctx, &b).await?;
    let p = ctx.get("/messages/pending", Some(&b)).await;
    let checked = p.and_then(|p| refused(ctx, &p, 403, "agent_suspended", "SUS-003"));
    lift_after(ctx, &b, checked.map(|_| Outcome::Pass)).await?;
    if !in_queue(ctx, &b, &id).await? {
        return fail(format!(
            "message {id}, queued before the suspension, is gone after unsuspension (SUS-004)"
        ));
    }
    pass()
}

/// Slack allowed between `expires_at - suspended_at` and the requested duration (clock rounding).
const EXPIRY_SLACK_SECS: i64 = 60;

/// `POST /agents/{id}/suspend` with `reason` and, when given, `duration_hours`.
async fn suspend_for(
    ctx: &mut Ctx,
    who: &Agent,
    reason: &str,
    hours: Option<u64>,
) -> Result<Resp, Failure> {
    let id = agent_id(who)?;
    let mut body = json!({ "reason": reason });
    if let Some(h) = hours {
        body["duration_hours"] = json!(h);
    }
    admin(
        ctx,
        Method::POST,
        &format!("/agents/{id}/suspend"),
        Some(&body),
    )
    .await
}

/// What is wrong with the suspension record in a suspend response: the echoed `reason` and
/// `suspended_by` when present, and `expires_at` against the requested duration (`None`: the
/// suspension is indefinite, so `expires_at` must be null or absent).
fn record_problems(r: &Resp, reason: &str, hours: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(got) = r.pointer("/reason").filter(|v| !v.is_null()) {
        if got.as_str() != Some(reason) {
            problems.push(format!(
                "`reason` is {got}, not the reason given `{reason}`"
            ));
        }
    }
    if let Some(by) = r.pointer("/suspended_by").filter(|v| !v.is_null()) {
        if by.as_str().is_none_or(str::is_empty) {
            problems.push(format!("`suspended_by` is {by}, not a non-empty string"));
        }
    }
    let at = rfc3339(r.pointer("/suspended_at"));
    let expires = r.pointer("/expires_at").filter(|v| !v.is_null());
    match (hours, expires) {
        (None, None) => {}
        (None, Some(e)) => problems.push(format!(
            "a suspension without duration_hours is indefinite, but `expires_at` is {e}"
        )),
        (Some(h), e) => match (at, rfc3339(e)) {
            (Some(at), Some(exp)) => {
                let want = i64::try_from(h * 3600).unwrap_or(i64::MAX);
                if (exp - at - want).abs() > EXPIRY_SLACK_SECS {
                    problems.push(format!(
                        "duration_hours {h} gave `expires_at` {}s after `suspended_at`, not {want}s",
                        exp - at
                    ));
                }
            }
            _ => problems.push(format!(
                "duration_hours {h}: `suspended_at`/`expires_at` are not both RFC 3339 times"
            )),
        },
    }
    problems
}

#[case(
    id = "admin.suspend.record",
    title = "The suspension record keeps the reason and the requested expiry",
    clauses = ["SUS-006", "ADM-006"],
    level = Must,
    needs = [AdminKey],
    expect = "A suspension for 2 hours answers expires_at = suspended_at + 7200 s and echoes \
              the reason (when it returns one); a suspension without duration_hours is \
              indefinite: expires_at is null or absent and the agent cannot send.",
)]
async fn suspend_record(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let reason = format!("amp-conformance record {}", ctx.unique_name("sus"));
    let r = suspend_for(ctx, &a, &reason, Some(2)).await?;
    if !r.is_success() {
        return fail(format!(
            "POST /agents/{{id}}/suspend with reason and duration_hours 2 answered HTTP {} {} \
             (ADM-006)",
            r.status,
            r.error_code().unwrap_or("")
        ));
    }
    let timed = record_problems(&r, &reason, Some(2));
    lift_after(ctx, &a, Ok(Outcome::Pass)).await?;
    if !timed.is_empty() {
        return fail(format!("suspend response (SUS-006): {}", timed.join("; ")));
    }
    let r = suspend_for(ctx, &a, &reason, None).await?;
    if !r.is_success() {
        return fail(format!(
            "POST /agents/{{id}}/suspend without duration_hours answered HTTP {} {} (ADM-006: \
             duration_hours is optional)",
            r.status,
            r.error_code().unwrap_or("")
        ));
    }
    let indefinite = record_problems(&r, &reason, None);
    let (m, _) = message(ctx, &a, &b, "while suspended indefinitely", "hello")?;
    let routed = ctx.route(&a, &m).await;
    let checked = routed.and_then(|routed| {
        refused(ctx, &routed, 403, "agent_suspended", "SUS-001")?;
        if indefinite.is_empty() {
            pass()
        } else {
            fail(format!(
                "suspend response (SUS-006): {}",
                indefinite.join("; ")
            ))
        }
    });
    lift_after(ctx, &a, checked).await
}
