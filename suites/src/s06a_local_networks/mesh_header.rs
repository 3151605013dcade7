//! The mesh header of local networks (spec 06a; 08 Send Message note): a `from` named by
//! `X-Forwarded-From` is honoured only from an authenticated mesh peer, never from an agent or
//! an anonymous caller.

use crate::steps::refusal::code;
use crate::steps::routing::{
    delivered, not_delivered, route_id, route_ok, route_via_mesh_header, sign_claiming, subject,
};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[MESH_HEADER_UNAUTHENTICATED, FROM_MESH_HEADER];

// ------------------------------------------------------------------------------------------
// The mesh header without credentials (MESH-012, API-002)
// ------------------------------------------------------------------------------------------

/// Host ids a mesh peer of the target could claim in `X-Forwarded-From` (06a): a made-up one,
/// and the ones the target publishes itself (the first label of the well-known `provider` when
/// it extends `/info`'s, `mesh.self_host_id` of `/health`).
async fn mesh_host_ids(ctx: &mut Ctx) -> Result<Vec<String>, Failure> {
    let mut ids = vec!["mesh-host.amp-conformance.invalid".to_string()];
    let info_provider = ctx
        .info()
        .ok()
        .and_then(|i| i.get("provider"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let url = ctx.target().origin_url("/.well-known/agent-messaging.json");
    let well_known = ctx.get(&url, None).await?;
    if let (Some(wk), Some(info)) = (
        well_known.pointer("/provider").and_then(Value::as_str),
        info_provider,
    ) && let Some(host) = wk.strip_suffix(&format!(".{info}"))
        && !host.is_empty()
    {
        ids.push(host.to_string());
    }
    let health = ctx.get("/health", None).await?;
    if let Some(h) = health.pointer("/mesh/self_host_id").and_then(Value::as_str) {
        ids.push(h.to_string());
    }
    ids.dedup();
    Ok(ids)
}

#[case(
    id = "route.from.mesh-header.unauthenticated",
    title = "X-Forwarded-From is no credential",
    clauses = ["MESH-012", "API-002"],
    level = Must,
    expect = "POST /route without Authorization, with X-Forwarded-From and `from` set to \
              a registered agent (unsigned, or signed by an unknown key), is refused \
              and never delivered.",
)]
async fn mesh_header_unauthenticated(ctx: &mut Ctx) -> CaseResult {
    let victim = ctx.agent().await?;
    let b = ctx.agent().await?;
    let stranger = ctx.new_key();
    let hosts = mesh_host_ids(ctx).await?;
    let mut subjects = Vec::new();
    for host in &hosts {
        let s = subject(ctx, "mesh, no credentials, unsigned");
        let unsigned = ctx
            .message(&victim, &b.address)
            .subject(s.clone())
            .field("from", json!(victim.address.clone()))
            .unsigned();
        subjects.push(s);
        let s = subject(ctx, "mesh, no credentials, stranger key");
        let forged = ctx
            .message(&victim, &b.address)
            .subject(s.clone())
            .field("from", json!(victim.address.clone()))
            .signed_by(&stranger)?;
        subjects.push(s);
        for (what, body) in [
            ("an unsigned message", &unsigned),
            ("a message signed by a key nobody registered", &forged),
        ] {
            let resp = route_via_mesh_header(ctx, body, host, None).await?;
            // An accepted request is the failure: the provider said it took the forgery.
            if resp.is_success() || !(400..500).contains(&resp.status) {
                return fail(format!(
                    "POST /route without Authorization but with `X-Forwarded-From: {host}` and \
                     `from` = `{}` ({what}) answered HTTP {} {}; a mesh header is no \
                     credential (MESH-012, API-002: 401 unauthorized)",
                    victim.address,
                    resp.status,
                    code(&resp)
                ));
            }
        }
    }
    // Every attempt was refused: nothing of them may sit in the recipient's queue.
    for s in &subjects {
        not_delivered(ctx, &b, s, "MESH-012").await?;
    }
    pass()
}

// ------------------------------------------------------------------------------------------
// MESH-012: X-Forwarded-From from a normal client
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.from.mesh-header",
    title = "X-Forwarded-From from an ordinary client does not make a forged `from` stick",
    clauses = ["MESH-012", "SIG-013", "C-38"],
    level = Must,
    expect = "A route with X-Forwarded-From and another agent's `from` is refused or \
              delivered as coming from the authenticated sender.",
)]
async fn from_mesh_header(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "baseline"));
    route_ok(ctx, &a, &base.signed()?, "the message without `from`").await?;
    // Signed by the sender's own key over the forged `from`, so only the sender check can
    // stop it; the header claims a mesh host forwarded it.
    let s = subject(ctx, "mesh forged from");
    let payload = json!({"type": "notification", "message": "forwarded, allegedly"});
    let sig = sign_claiming(ctx, &a, &victim.address, &b.address, &s, &payload)?;
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(payload)
        .field("from", json!(victim.address.clone()))
        .signature(sig);
    let resp = crate::steps::routing::route_via_mesh_header(
        ctx,
        &body,
        "mesh-host.amp-conformance.invalid",
        Some(&a),
    )
    .await?;
    if !resp.is_success() {
        ctx.note(format!("refused with HTTP {} {}", resp.status, code(&resp)));
        not_delivered(ctx, &b, &s, "MESH-012").await?;
        return pass();
    }
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    let from = m
        .pointer("/envelope/from")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if from.eq_ignore_ascii_case(&victim.address) {
        return fail(format!(
            "an ordinary API client sending X-Forwarded-From got its forged `from` honoured: \
             the message from `{}` was delivered as coming from `{from}` (MESH-012, C-38)",
            a.address
        ));
    }
    pass()
}
