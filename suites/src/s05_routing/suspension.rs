//! Delivery to an agent that is held or suspended (spec 05 › Status Values; 07 › Quarantine and
//! Route Response, Behavior When Suspended): a quarantined message is reported held, and a
//! suspended recipient's webhook and WebSocket receive nothing. Admin credentials and how
//! quarantine is provoked: see [`crate::steps::admin`].

use crate::steps::admin::{admin, find_entry, lift_after, quarantine_id, quarantined, suspend_ok};
use crate::steps::routing::in_queue;
use amp_case_attr::case;
use amp_client::{Method, Receiver, WsEvent};
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, Timing, expect, fail, pass};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    QUARANTINE_HELD,
    WS_SUSPENDED_CLOSED,
    WEBHOOK_SUSPENDED_SKIPPED,
];

/// How long to wait for the WS-014 close after the suspension.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

// ------------------------------------------------------------------------------------------
// Cases: quarantine
// ------------------------------------------------------------------------------------------

#[case(
    id = "admin.quarantine.held",
    title = "A quarantined message is answered 202 and not delivered",
    clauses = ["RTE-004", "QTN-001", "QTN-003"],
    level = Must,
    expect = "An instruction-override payload the target quarantines is answered 202 \
              {status: \"quarantined\"} and does not reach the recipient's queue.",
)]
async fn quarantine_held(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let held = match quarantined(ctx, &a, &b).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    expect::status(&held.resp, 202)?;
    let st = held.resp.pointer("/status").and_then(Value::as_str);
    expect::that(
        st == Some("quarantined"),
        format!("the 202 route response has status {st:?}, not \"quarantined\" (RTE-004)"),
    )?;
    // Give a provider that delivers anyway the time to do so.
    tokio::time::sleep(ctx.timing().observe_window).await;
    if in_queue(ctx, &b, &held.id).await? {
        return fail(format!(
            "message {} was answered `quarantined` but is in the recipient's pending queue \
             before any approval (RTE-004)",
            held.id
        ));
    }
    pass()
}

#[case(
    id = "admin.ws.suspended-closed",
    title = "Suspension closes the agent's WebSocket with 4003",
    clauses = ["WS-014"],
    level = Must,
    needs = [AdminKey],
    expect = "An authenticated socket is closed with code 4003 and reason \
              `agent_suspended` when its agent is suspended.",
)]
async fn ws_suspended_closed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let mut ws = ctx.ws(&a).await?;
    suspend_ok(ctx, &a).await?;
    let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
    let closed = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break None;
        }
        match ws.recv(left).await {
            WsEvent::Closed { code, reason } => break Some((code, reason)),
            WsEvent::Timeout => break None,
            WsEvent::Error(e) => break Some((None, e.to_string())),
            _ => continue,
        }
    };
    let checked = match closed {
        Some((Some(4003), reason)) if reason == "agent_suspended" => Ok(()),
        Some((code, reason)) => fail(format!(
            "the socket of the suspended agent closed with code {code:?} reason {reason:?}, \
             not 4003 `agent_suspended` (WS-014)"
        )),
        None => fail(format!(
            "the socket of the suspended agent stayed open {} s after the suspension (WS-014)",
            CLOSE_WAIT.as_secs()
        )),
    };
    ws.close().await;
    lift_after(ctx, &a, checked.map(|_| Outcome::Pass)).await
}

#[case(
    id = "admin.webhook.suspended-skipped",
    title = "No webhook delivery to a suspended agent",
    clauses = ["WH-016", "SUS-004"],
    level = Must,
    needs = [AdminKey, LoopbackWebhooks],
    expect = "A held message approved while its recipient is suspended is not POSTed to \
              the recipient's webhook and waits in the relay queue.",
)]
async fn webhook_suspended_skipped(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let receiver: Receiver = ctx.receiver().await?;
    let digest = Sha256::digest(ctx.unique_name("whsec").as_bytes());
    let secret = format!("whsec_{}", hex::encode(&digest[..24]));
    ctx.redactor().add("webhook_secret", &secret);
    let url = receiver.url();
    let tenant = ctx.tenant();
    let b = ctx
        .agent_with(&tenant, move |body| {
            body["delivery"] = json!({"webhook_url": url, "webhook_secret": secret});
        })
        .await?;
    let held = match quarantined(ctx, &a, &b).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    // The plain baseline message reached the webhook: the receiver works.
    if receiver
        .wait_for(1, Duration::from_secs(10))
        .await
        .is_none()
    {
        return fail("baseline: the plain message was not delivered to the webhook (WH-001)");
    }
    let entry = find_entry(ctx, &held.id).await?;
    let qid = quarantine_id(&entry)?;
    suspend_ok(ctx, &b).await?;
    let before = receiver.count();
    let ap = admin(
        ctx,
        Method::POST,
        &format!("/quarantine/{qid}/approve"),
        Some(&json!({})),
    )
    .await;
    let checked: Result<Outcome, Failure> = async {
        let ap = ap?;
        if ap.status == 403 {
            crate::steps::refusal::code_matches(ctx, &ap, "recipient_suspended", "WH-016");
            return Ok(Outcome::Skip(
                "the target refuses to approve a message for a suspended recipient, so no \
                 message can be queued for it while suspended"
                    .to_string(),
            ));
        }
        expect::status(&ap, 200)?;
        let wait = ctx.timing().observe_window;
        ctx.need_time(wait);
        if let Some(r) = receiver
            .wait_for(before + 1, Timing::with_margin(wait))
            .await
        {
            return fail(format!(
                "a webhook (X-AMP-Message-Id {:?}) was delivered to the suspended agent (WH-016)",
                r.header("x-amp-message-id")
            ));
        }
        Ok(Outcome::Pass)
    }
    .await;
    let outcome = lift_after(ctx, &b, checked).await?;
    if matches!(outcome, Outcome::Pass) && !in_queue(ctx, &b, &held.id).await? {
        return fail(format!(
            "the approved message {} is not in the relay queue after unsuspension (WH-016, SUS-004)",
            held.id
        ));
    }
    Ok(outcome)
}
