//! Agent suspension (spec 07 › Behavior When Suspended): a suspended sender cannot route, a
//! suspended recipient receives nothing, and its queue is kept for when the suspension is
//! lifted. Every case lifts its suspension before it returns; admin credentials: see
//! [`crate::steps::admin`].

use crate::steps::admin::{agent_id, lift_after, message, rfc3339, suspend, suspend_ok};
use crate::steps::refusal::refused;
use crate::steps::routing::{in_queue, route_ok};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    SUSPEND_SENDER,
    SUSPEND_RECIPIENT,
    SUSPEND_PICKUP_KEEPS_QUEUE,
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
