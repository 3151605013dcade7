//! The admin API (spec 08 › Quarantine Management, Agent Suspension, Get Agent Risk Score): agent
//! keys are refused, approval releases a held message, and an agent sees only its own risk.

use crate::steps::admin::{
    admin, agent_id, decide, find_entry, quarantine_id, quarantined, unsuspend,
};
use crate::steps::refusal::refused;
use crate::steps::routing::entry_id;
use amp_case_attr::case;
use amp_client::{Method, Resp};
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::{Value, json};
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[AGENT_KEY_REFUSED, QUARANTINE_APPROVE, RISK_OWN_ONLY];

// ------------------------------------------------------------------------------------------
// Cases: admin authentication
// ------------------------------------------------------------------------------------------

#[case(
    id = "admin.auth.agent-key-refused",
    title = "Admin endpoints refuse an ordinary agent API key",
    clauses = ["ADM-001"],
    level = Must,
    needs = [AdminKey],
    expect = "GET /quarantine and POST /agents/{id}/suspend answer 401/403 with an agent \
              key, while the admin credential lists the quarantine.",
)]
async fn agent_key_refused(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = admin(ctx, Method::GET, "/quarantine", None).await?;
    if !base.is_success() {
        return fail(format!(
            "baseline: GET /quarantine with the admin credential answered HTTP {} {} (ADM-002)",
            base.status,
            base.error_code().unwrap_or("")
        ));
    }
    let list = ctx.get("/quarantine", Some(&a)).await?;
    refused_as_non_admin(ctx, &list, "GET /quarantine")?;
    let bid = agent_id(&b)?;
    let s = ctx
        .post_json(
            &format!("/agents/{bid}/suspend"),
            &json!({"reason": "not an admin"}),
            Some(&a),
        )
        .await?;
    if s.is_success() {
        // Never leave the victim suspended.
        let _ = unsuspend(ctx, &b).await;
    }
    refused_as_non_admin(ctx, &s, "POST /agents/{id}/suspend")?;
    pass()
}

/// ADM-001: refused with 401 or 403; the code API-008 names for the status (`unauthorized`,
/// `forbidden`) is compared as a run-wide finding, not a verdict.
fn refused_as_non_admin(ctx: &Ctx, r: &Resp, what: &str) -> Result<(), Failure> {
    match r.status {
        401 => {
            crate::steps::refusal::code_matches(ctx, r, "unauthorized", "ADM-001");
            Ok(())
        }
        403 => {
            crate::steps::refusal::code_matches(ctx, r, "forbidden", "ADM-001");
            Ok(())
        }
        s => fail(format!(
            "{what} with an ordinary agent API key answered HTTP {s} {}; an admin endpoint must \
             refuse it with 401 unauthorized or 403 forbidden (ADM-001)",
            r.error_code().unwrap_or("")
        )),
    }
}

#[case(
    id = "admin.quarantine.approve",
    title = "Approving a quarantined message delivers it",
    clauses = ["ADM-004"],
    level = Must,
    needs = [AdminKey],
    expect = "POST /quarantine/{id}/approve answers {quarantine_id, status: approved, \
              message_id, delivered} and the message reaches the recipient.",
)]
async fn quarantine_approve(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let held = match quarantined(ctx, &a, &b).await? {
        Ok(h) => h,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    let entry = find_entry(ctx, &held.id).await?;
    let qid = quarantine_id(&entry)?;
    let r = decide(ctx, &qid, "approve").await?;
    expect::status(&r, 200)?;
    expect::that(
        r.pointer("/status").and_then(Value::as_str) == Some("approved"),
        "the approve response lacks `status: \"approved\"` (ADM-004)",
    )?;
    expect::that(
        r.pointer("/quarantine_id").and_then(Value::as_str) == Some(qid.as_str()),
        "the approve response does not echo quarantine_id (ADM-004)",
    )?;
    expect::that(
        r.pointer("/delivered").is_some_and(Value::is_boolean),
        "the approve response lacks a boolean `delivered` (ADM-004)",
    )?;
    let mid = r
        .pointer("/message_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    expect::that(
        !mid.is_empty(),
        "the approve response lacks `message_id` (ADM-004)",
    )?;
    let want = mid.clone();
    let got = ctx
        .wait_pending(
            &b,
            move |m| entry_id(m) == Some(want.as_str()),
            Duration::from_secs(5),
        )
        .await?;
    if got.is_none() {
        return fail(format!(
            "after approval message {mid} did not reach the recipient's queue (ADM-004)"
        ));
    }
    if mid != held.id {
        ctx.note(format!(
            "approval delivered the message under a new id {mid} (was {}); C-70",
            held.id
        ));
    }
    pass()
}

#[case(
    id = "admin.risk.own-only",
    title = "An agent reads only its own risk score",
    clauses = ["ADM-007"],
    level = Should,
    expect = "GET /agents/{own id}/risk answers 200; another agent's answers 403 \
              forbidden.",
)]
async fn risk_own_only(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let aid = agent_id(&a)?;
    let bid = agent_id(&b)?;
    let own = ctx.get(&format!("/agents/{aid}/risk"), Some(&a)).await?;
    expect::status(&own, 200)?;
    let other = ctx.get(&format!("/agents/{bid}/risk"), Some(&a)).await?;
    refused(ctx, &other, 403, "forbidden", "ADM-007")?;
    pass()
}
