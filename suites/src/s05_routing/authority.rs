//! Attacks from every position on the inputs that carry identity or authority: a registration
//! of an existing name, key rotation and revocation, the recipient's provider in `to`, the mesh
//! header of spec 06a, and the ack / read / pickup of a message. Each case tries the input unauthenticated, as another
//! registered agent, and with an empty or malformed body where there is one, and then shows,
//! with a request signed by the rightful owner, that nothing changed (keys, API keys, queues,
//! deliveries). A control by the owner at the end proves the ids and paths were the right ones.
//!
//! This module holds the routing positions (pickup, batch ack and read of another agent's
//! message; a `to` on another provider); the same discipline is applied in the modules of the
//! other sections (a taken name in `s03_registration`, the mesh header in `s06a_local_networks`,
//! a WebSocket ack in `s12_notification`, a delivery from a made-up provider in
//! `s06_federation`).

use crate::steps::authority::{elsewhere_twin, frame_about};
use crate::steps::refusal::code;
use crate::steps::relay::queued;
use crate::steps::routing::{delivered, entry_id, in_queue, not_delivered, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    TO_OTHER_PROVIDER,
    PENDING_FOREIGN,
    BATCH_ACK_FOREIGN,
    READ_FOREIGN,
];

/// Route a signed message from `a` to `b` and wait until `b` holds it: after this, anything
/// routed before it that was going to reach `b` has had its chance (the control of a
/// "not delivered" check).
async fn control_delivered(ctx: &mut Ctx, a: &Agent, b: &Agent) -> Result<String, Failure> {
    let body = ctx
        .message(a, &b.address)
        .subject(subject(ctx, "control"))
        .signed()?;
    let id = route_ok(ctx, a, &body, "a control message from a registered agent").await?;
    delivered(ctx, b, &id).await?;
    Ok(id)
}

#[case(
    id = "route.to.other-provider",
    title = "A `to` on another provider never lands in a local inbox",
    clauses = ["RTE-023"],
    level = Must,
    expect = "A message to `<b's name>@<b's tenant>.amp-elsewhere.invalid` is refused \
              or forwarded, never delivered to the local agent b.",
)]
async fn to_other_provider(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // b's own name and tenant, on a provider this target is not.
    let elsewhere = elsewhere_twin(&b)?;
    let s = subject(ctx, "for another provider");
    let body = ctx.message(&a, &elsewhere).subject(s.clone()).signed()?;
    let resp = ctx.route(&a, &body).await?;
    ctx.note(format!(
        "routing to {elsewhere} answered HTTP {} {}",
        resp.status,
        code(&resp)
    ));
    if !resp.is_success() {
        // Refused: nothing can have reached b, whatever the provider's delivery channel.
        not_delivered(ctx, &b, &s, "RTE-023").await?;
        return pass();
    }
    control_delivered(ctx, &a, &b).await?;
    not_delivered(
        ctx,
        &b,
        &s,
        "RTE-023: a `to` on another provider is federated, never delivered to the local agent \
         with the same name and tenant",
    )
    .await?;
    Ok(Outcome::Info(format!(
        "the message to {elsewhere} was accepted (HTTP {}, status {:?}) and did not reach the \
         local namesake",
        resp.status,
        resp.pointer("/status")
            .and_then(Value::as_str)
            .unwrap_or("")
    )))
}

// ------------------------------------------------------------------------------------------
// Another agent's queue: pickup, batch ack, WS ack, read receipt
// ------------------------------------------------------------------------------------------

#[case(
    id = "relay.pending.foreign",
    title = "No query parameter lists another agent's queue",
    clauses = ["RTE-015", "API-002"],
    level = Must,
    expect = "GET /messages/pending?agent=|address=|to=|agent_id=<another agent> is \
              refused anonymously and never lists that agent's messages to a caller.",
)]
async fn pending_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "someone else's mail").await?;
    // Every spelling a provider might use to pick a queue, anonymously and as the intruder.
    let addr = victim.address.clone();
    let agent_id = victim.agent_id.clone().unwrap_or_else(|| addr.clone());
    let queries = [
        format!("?agent={addr}"),
        format!("?address={addr}"),
        format!("?to={addr}"),
        format!("?agent_id={agent_id}"),
    ];
    for q in &queries {
        let path = format!("/messages/pending{q}");
        let anon = ctx.get(&path, None).await?;
        if anon.is_success() {
            return fail(format!(
                "GET {path} without credentials answered HTTP {} (API-002: 401 unauthorized)",
                anon.status
            ));
        }
        let resp = ctx.get(&path, Some(&intruder)).await?;
        let leaked = resp
            .pointer("/messages")
            .and_then(Value::as_array)
            .is_some_and(|msgs| msgs.iter().any(|m| entry_id(m) == Some(id.as_str())));
        if leaked {
            return fail(format!(
                "GET {path} as another agent listed message {id} queued for `{addr}`: pickup \
                 must be scoped to the authenticated agent (RTE-015, API-002)"
            ));
        }
    }
    expect::that(
        in_queue(ctx, &victim, &id).await?,
        format!("message {id} left the owner's queue after other agents asked for it (RTE-015)"),
    )?;
    pass()
}

#[case(
    id = "relay.ack.foreign-batch",
    title = "A batch ack removes only the caller's listed messages",
    clauses = ["RTE-018", "API-002"],
    level = Must,
    expect = "Batch acks of another agent's id (anonymous or authenticated), and the \
              owner's own acks of an empty list, no list or a malformed body, leave \
              the message queued; the owner's ack of the id removes it.",
)]
async fn batch_ack_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "batch ack target").await?;
    let ids = json!({"ids": [id.clone()]});
    let anon = ctx.post_json("/messages/pending/ack", &ids, None).await?;
    if anon.is_success() {
        return fail(format!(
            "POST /messages/pending/ack without credentials answered HTTP {} (API-002: 401)",
            anon.status
        ));
    }
    let foreign = ctx
        .post_json("/messages/pending/ack", &ids, Some(&intruder))
        .await?;
    ctx.note(format!(
        "another agent's batch ack answered HTTP {} {}",
        foreign.status,
        foreign.text()
    ));
    expect::that(
        in_queue(ctx, &victim, &id).await?,
        format!(
            "another agent's POST /messages/pending/ack {{ids: [{id}]}} (HTTP {}) removed the \
             message from its recipient's queue: acks are scoped to the authenticated agent \
             (RTE-018)",
            foreign.status
        ),
    )?;
    // The owner's own requests with nothing to ack: empty list, no list, broken JSON.
    let empty = ctx
        .post_json("/messages/pending/ack", &json!({"ids": []}), Some(&victim))
        .await?;
    let missing = ctx
        .post_json("/messages/pending/ack", &json!({}), Some(&victim))
        .await?;
    let broken = ctx
        .post_raw(
            "/messages/pending/ack",
            b"{\"ids\": [".to_vec(),
            "application/json",
            Some(&victim),
        )
        .await?;
    expect::that(
        in_queue(ctx, &victim, &id).await?,
        format!(
            "a batch ack naming no id removed message {id} (empty list: HTTP {}, no `ids`: \
             HTTP {}, malformed body: HTTP {}); only the listed ids are acknowledged (RTE-018)",
            empty.status, missing.status, broken.status
        ),
    )?;
    for (what, resp) in [
        ("without `ids`", &missing),
        ("with a malformed body", &broken),
    ] {
        if !(400..500).contains(&resp.status) {
            return fail(format!(
                "POST /messages/pending/ack {what} answered HTTP {} {}; a request that names \
                 nothing to acknowledge is refused with 400 (RTE-018, API-008)",
                resp.status,
                code(resp)
            ));
        }
    }
    // Control: the owner's batch ack of the id removes it.
    let own = ctx
        .post_json("/messages/pending/ack", &ids, Some(&victim))
        .await?;
    expect::success(&own)?;
    expect::that(
        !in_queue(ctx, &victim, &id).await?,
        format!("the owner's own batch ack of {id} did not remove it (RTE-018)"),
    )?;
    pass()
}

#[case(
    id = "relay.read.foreign",
    title = "Only the recipient can mark a message read",
    clauses = ["RTE-022", "API-002"],
    level = Must,
    needs = [Capability("websockets")],
    expect = "POST /messages/{id}/read anonymously or as another agent is refused and \
              the sender receives no `message.read` until the recipient reads it.",
)]
async fn read_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let body = ctx
        .message(&a, &victim.address)
        .subject(subject(ctx, "read receipt target"))
        .field("options", json!({"receipt": true}))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message asking for receipts").await?;
    delivered(ctx, &victim, &id).await?;
    // The sender listens for receipts while others try to mark its message read.
    let mut conn = ctx.ws(&a).await?;
    let path = format!("/messages/{id}/read");
    let anon = ctx.post_json(&path, &json!({}), None).await?;
    let foreign = ctx.post_json(&path, &json!({}), Some(&intruder)).await?;
    for (who, resp) in [
        ("without credentials", &anon),
        ("as another agent", &foreign),
    ] {
        if resp.is_success() {
            return fail(format!(
                "POST {path} {who} answered HTTP {} {}; only the recipient may mark its \
                 message read (RTE-022, API-002)",
                resp.status,
                resp.text()
            ));
        }
    }
    let window = ctx.timing().observe_window;
    ctx.need_time(window * 2);
    if frame_about(&mut conn, "message.read", &id, window).await {
        return fail(format!(
            "the sender received a `message.read` receipt for {id} although only other agents \
             tried to mark it read (RTE-022)"
        ));
    }
    // Control: the recipient's own read produces the receipt, so the channel was watched.
    let own = ctx.post_json(&path, &json!({}), Some(&victim)).await?;
    expect::success(&own)?;
    let seen = frame_about(&mut conn, "message.read", &id, window).await;
    conn.close().await;
    if !seen {
        return Ok(Outcome::Skip(format!(
            "the recipient's own read of {id} produced no `message.read` frame on the \
             sender's socket within {} ms, so a forged read could not be observed (RTE-022)",
            window.as_millis()
        )));
    }
    pass()
}
