//! Content wrapping by trust level (spec 07 › Content Wrapping): content from another tenant or an
//! untrusted provider reaches the recipient wrapped; same-tenant content does not need to be.

use crate::steps::federation::{Draft, baseline, deliver, setup};
use crate::steps::routing::{
    delivered, entry_id, judge_external_wrapping, looks_wrapped, marked_wrapped, not_delivered,
    pending_list, route_ok, subject,
};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Outcome, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    FEDERATION_EXTERNAL_WRAPPED,
    FEDERATION_UNTRUSTED_WRAPPED,
    ROUTE_TRUST_CROSS_TENANT,
    ROUTE_TRUST_SAME_TENANT,
];

#[case(
    id = "federation.external-wrapped",
    title = "Content from another provider arrives wrapped as external",
    clauses = ["TRUST-002", "TRUST-001"],
    level = Must,
    needs = [FederationPeer],
    expect = "A federated message is delivered with an <external-content \
              trust=\"external\"> wrapper naming the sender or `wrapped: true` \
              metadata (C-31).",
)]
async fn federation_external_wrapped(ctx: &mut Ctx) -> CaseResult {
    let (b, p, s) = setup(ctx).await?;
    let text = "federated content from another provider";
    let mut d = Draft::new(ctx, &s, &b, "wrapped");
    d.payload = json!({"type": "notification", "message": text});
    let (body, id) = d.body(ctx)?;
    baseline(ctx, &p, &body, "a federated message").await?;
    let m = delivered(ctx, &b, &id).await?;
    crate::steps::routing::judge_external_wrapping(&m, &s.address, text, "another provider")
}

#[case(
    id = "federation.untrusted-wrapped",
    title = "A federated message whose sender signature fails is never delivered plainly",
    clauses = ["TRUST-003", "FED-003"],
    level = Must,
    needs = [FederationPeer],
    expect = "A forward with a bad sender signature is refused, or delivered inside an \
              untrusted wrapper with a security warning.",
)]
async fn federation_untrusted_wrapped(ctx: &mut Ctx) -> CaseResult {
    let (b, p, s) = setup(ctx).await?;
    let (body, _) = Draft::new(ctx, &s, &b, "untrusted baseline").body(ctx)?;
    let (wire, _) = baseline(ctx, &p, &body, "a federated message").await?;
    let impostor = ctx.new_key();
    let text = "content whose sender cannot be verified";
    let mut d = Draft::new(ctx, &s, &b, "untrusted");
    d.payload = json!({"type": "notification", "message": text});
    d.signing_key = Some(&impostor);
    let (body, id) = d.body(ctx)?;
    let resp = deliver(ctx, &p, &body, wire).await?;
    if !resp.is_success() {
        not_delivered(ctx, &b, &d.subject, "TRUST-003").await?;
        return pass();
    }
    let msgs = pending_list(ctx, &b, "").await?;
    let Some(m) = msgs.iter().find(|m| entry_id(m) == Some(id.as_str())) else {
        return pass();
    };
    let got = m
        .pointer("/payload/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let wrapped = got.contains("<external-content")
        && got.contains("trust=\"untrusted\"")
        && got.to_ascii_uppercase().contains("SECURITY WARNING");
    if wrapped {
        return pass();
    }
    fail(format!(
        "a federated message whose sender signature does not verify (trust `untrusted`) was \
         accepted (HTTP {}) and delivered without the untrusted wrapper and security warning: \
         payload.message is {got:?} (TRUST-003)",
        resp.status
    ))
}

#[case(
    id = "route.trust.cross-tenant",
    title = "Content from another tenant arrives wrapped as external",
    clauses = ["TRUST-002"],
    level = Must,
    expect = "A message from another tenant is delivered with an <external-content \
              trust=\"external\"> wrapper or `wrapped: true` metadata (C-31).",
)]
async fn route_trust_cross_tenant(ctx: &mut Ctx) -> CaseResult {
    let b = ctx.agent().await?;
    let other_tenant = format!("{}x", ctx.tenant());
    let a = match ctx.agent_in_tenant(&other_tenant).await {
        Ok(a) => a,
        Err(e) => {
            return Ok(Outcome::Skip(format!(
                "could not register an agent in a second tenant `{other_tenant}` ({e}); run \
                 with a target that allows two tenants to test TRUST-002"
            )));
        }
    };
    let text = "cross-tenant content";
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "cross tenant"))
        .payload(json!({"type": "notification", "message": text}))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a cross-tenant message").await?;
    let m = delivered(ctx, &b, &id).await?;
    judge_external_wrapping(&m, &a.address, text, "another tenant")
}

#[case(
    id = "route.trust.same-tenant",
    title = "Verified same-tenant content is not wrapped",
    clauses = ["TRUST-004"],
    level = Must,
    expect = "A signed message between agents of one tenant is delivered unwrapped \
              with its payload unchanged.",
)]
async fn route_trust_same_tenant(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let text = "same-tenant content";
    let payload = json!({"type": "notification", "message": text});
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "same tenant"))
        .payload(payload.clone())
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a same-tenant message").await?;
    let m = delivered(ctx, &b, &id).await?;
    let delivered_text = m
        .pointer("/payload/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if looks_wrapped(delivered_text) || marked_wrapped(&m) {
        return fail(
            "a correctly signed message between two agents of the same tenant (trust \
             `verified`) was wrapped as external content (TRUST-004)",
        );
    }
    expect::that(
        m.get("payload") == Some(&payload),
        "the same-tenant payload was modified in transit (TRUST-004, MSG-010)",
    )?;
    pass()
}
