//! Communication policy (spec 03 › Agent Communication Policy, Wildcard Matching, Enforcement):
//! an agent registered with `mode: restricted` may only write to recipients that match its
//! `allowed_recipients`.
//!
//! Policies are optional (POL-001 is a MAY), so each case first registers its restricted agent
//! and reads `GET /agents/me`: a provider that refuses the field, or does not show the policy
//! back, does not offer policies and the case skips saying so. Every refusal is preceded by a
//! route the same policy allows, so a sender that can send nothing cannot pass.

use crate::steps::refusal::refused;
use crate::steps::registration::me_ok;
use crate::steps::routing::{not_delivered, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[RESTRICTED_REFUSES, PATTERNS];

/// Register an agent whose policy allows only `patterns`. `Ok(Err(reason))` when the provider
/// does not offer communication policies (refuses the field or does not show it back).
async fn restricted_agent(
    ctx: &mut Ctx,
    patterns: &[&str],
) -> Result<Result<Agent, String>, Failure> {
    let tenant = ctx.tenant();
    let policy = json!({"mode": "restricted", "allowed_recipients": patterns});
    let a = match ctx
        .agent_with(&tenant, |body| body["communication_policy"] = policy)
        .await
    {
        Ok(a) => a,
        Err(Failure::Error(e)) => {
            return Ok(Err(format!(
                "a registration with a restricted communication_policy was refused ({e}); \
                 policies are optional (POL-001)"
            )));
        }
        Err(other) => return Err(other),
    };
    let me = me_ok(ctx, &a, "reading back the communication policy").await?;
    match me
        .pointer("/communication_policy/mode")
        .and_then(Value::as_str)
    {
        Some("restricted") => Ok(Ok(a)),
        other => Ok(Err(format!(
            "the agent was registered with a restricted communication_policy, but GET \
             /agents/me shows mode {other:?}: the provider does not offer policies (POL-001 \
             is optional), so their enforcement cannot be judged"
        ))),
    }
}

/// A signed message `from` → `to` with a run-unique subject.
fn message(ctx: &Ctx, from: &Agent, to: &Agent, what: &str) -> Result<(Value, String), Failure> {
    let subj = subject(ctx, what);
    let body = ctx
        .message(from, &to.address)
        .subject(subj.clone())
        .payload(json!({"type": "notification", "message": "policy check"}))
        .signed()?;
    Ok((body, subj))
}

/// Route `from` → `to`, which the policy `pattern` admits: it must be accepted (POL-002).
async fn admitted(ctx: &mut Ctx, from: &Agent, to: &Agent, pattern: &str) -> Result<(), Failure> {
    let (m, _) = message(ctx, from, to, "allowed by policy")?;
    let r = ctx.route(from, &m).await?;
    if r.is_success() {
        return Ok(());
    }
    fail(format!(
        "allowed_recipients [{pattern}] admits {}, but the route was refused with HTTP {} {} \
         (POL-002)",
        to.address,
        r.status,
        r.error_code().unwrap_or("")
    ))
}

/// Route `from` → `to`, which no pattern admits: 403 recipient_not_allowed, not delivered.
async fn kept_out(
    ctx: &mut Ctx,
    from: &Agent,
    to: &Agent,
    clause: &'static str,
) -> Result<(), Failure> {
    let (m, subj) = message(ctx, from, to, "not allowed by policy")?;
    let r = ctx.route(from, &m).await?;
    refused(ctx, &r, 403, "recipient_not_allowed", clause)?;
    not_delivered(ctx, to, &subj, clause).await
}

#[case(
    id = "policy.restricted.refuses",
    title = "A restricted agent cannot write to a recipient its policy does not allow",
    clauses = ["POL-003", "POL-001"],
    level = Must,
    expect = "An agent whose restricted policy lists only B reaches B, and a route to C \
              answers 403 recipient_not_allowed and is not delivered.",
)]
async fn restricted_refuses(ctx: &mut Ctx) -> CaseResult {
    let b = ctx.agent().await?;
    let c = ctx.agent().await?;
    let allowed = b.address.clone();
    let a = match restricted_agent(ctx, &[&allowed]).await? {
        Ok(a) => a,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    let (m, _) = message(ctx, &a, &b, "to the allowed recipient")?;
    route_ok(ctx, &a, &m, "a route to the one allowed recipient").await?;
    kept_out(ctx, &a, &c, "POL-003").await?;
    pass()
}

#[case(
    id = "policy.patterns",
    title = "Policy wildcards admit exactly the domain, the provider or everyone",
    clauses = ["POL-002", "POL-003"],
    level = Must,
    expect = "`*@<tenant domain>` admits an agent of that tenant and keeps out one of another \
              tenant (403 recipient_not_allowed); `*@*.<provider>` and `*@*` admit the other \
              tenant's agent.",
)]
async fn patterns(ctx: &mut Ctx) -> CaseResult {
    let b = ctx.agent().await?;
    let other_tenant = format!("{}p", ctx.tenant());
    let c = match ctx.agent_in_tenant(&other_tenant).await {
        Ok(c) => c,
        Err(Failure::Error(e)) => {
            return Ok(Outcome::Skip(format!(
                "could not register an agent in a second tenant `{other_tenant}` ({e}); the \
                 domain patterns need two tenants"
            )));
        }
        Err(other) => return Err(other),
    };
    let Some((_, domain)) = b.address.split_once('@') else {
        return fail(format!(
            "registered address `{}` has no `@` (ADDR-001)",
            b.address
        ));
    };
    let domain = domain.to_ascii_lowercase();
    let Some(provider) = domain
        .strip_prefix(&format!("{}.", b.tenant.to_ascii_lowercase()))
        .map(str::to_string)
    else {
        return Ok(Outcome::Skip(format!(
            "the domain `{domain}` does not start with the tenant `{}`, so the provider part a \
             `*@*.<provider>` pattern names cannot be told (C-15)",
            b.tenant
        )));
    };
    let tenant_only = format!("*@{domain}");
    let a1 = match restricted_agent(ctx, &[&tenant_only]).await? {
        Ok(a) => a,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    admitted(ctx, &a1, &b, &tenant_only).await?;
    kept_out(ctx, &a1, &c, "POL-002").await?;
    let any_tenant = format!("*@*.{provider}");
    let a2 = match restricted_agent(ctx, &[&any_tenant]).await? {
        Ok(a) => a,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    admitted(ctx, &a2, &c, &any_tenant).await?;
    let a3 = match restricted_agent(ctx, &["*@*"]).await? {
        Ok(a) => a,
        Err(reason) => return Ok(Outcome::Skip(reason)),
    };
    admitted(ctx, &a3, &c, "*@*").await?;
    pass()
}
