//! Owner authentication with a User Key (spec 03 › User Key Pattern, Registration with User Key,
//! Security Considerations): a `uk_…` key registers agents for its owner, the tenant may then be
//! left out and the answer names the owner; it is never an agent API key and never opens a
//! message endpoint.
//!
//! User Keys belong to provider accounts, so the cases need one from the run (`[owner]
//! user_key_env` in `--config`; the embedded mock has its own) and skip without it. Agents
//! registered with it are tracked and deregistered at the end like every other agent.

use crate::steps::refusal::code;
use crate::steps::routing::{not_delivered, pending_list, route_ok, subject};
use amp_case_attr::case;
use amp_client::Req;
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, Secret, fail, pass,
};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[USER_KEY_REGISTERS, USER_KEY_NOT_FOR_MESSAGES];

/// Why a case skips when the run has no User Key.
const NO_USER_KEY: &str = "no User Key configured (`[owner] user_key_env` in --config): the \
                           owner-authentication clauses need an account's `uk_…` key";

/// `POST /register` with `Authorization: Bearer <user key>` and no `tenant` (REG-011).
async fn register_with_user_key(ctx: &mut Ctx, uk: &Secret) -> Result<(Resp, Agent), Failure> {
    let key = ctx.new_key();
    let name = ctx.unique_name("owned");
    let body = json!({
        "name": name,
        "public_key": key.public_key().to_spki_pem(),
        "key_algorithm": "Ed25519",
    });
    let r = ctx
        .send(
            Req::new(Method::POST, ctx.target().url("/register"))
                .bearer(uk)
                .json(&body),
        )
        .await?;
    let s = |k: &str| {
        r.pointer(&format!("/{k}"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let agent = Agent {
        address: s("address").unwrap_or_default(),
        api_key: Secret::new(s("api_key").unwrap_or_default()),
        key,
        agent_id: s("agent_id"),
        fingerprint: s("fingerprint"),
        tenant: s("tenant").unwrap_or_default(),
        name,
        registration: ctx
            .redactor()
            .redact_value(r.json().unwrap_or(&Value::Null)),
    };
    Ok((r, agent))
}

/// An agent registered with the User Key, required to succeed (the baseline of REG-014).
async fn owned_agent(ctx: &mut Ctx, uk: &Secret) -> Result<Agent, Failure> {
    let (r, a) = register_with_user_key(ctx, uk).await?;
    if !r.is_success() || a.address.is_empty() || a.api_key.expose().is_empty() {
        return fail(format!(
            "baseline: a registration with the User Key and no tenant answered HTTP {} {} \
             without `address` and `api_key` (REG-011), so the User Key cannot be tried on \
             message endpoints",
            r.status,
            code(&r)
        ));
    }
    Ok(a)
}

#[case(
    id = "register.user-key",
    title = "A User Key registers an agent for its owner with its own API key",
    clauses = ["REG-011", "REG-013", "REG-010"],
    level = Must,
    expect = "POST /register with `Authorization: Bearer uk_…` and no tenant answers 201 with \
              `owner_id` and an `api_key` that differs from the User Key and works on GET \
              /agents/me.",
)]
async fn user_key_registers(ctx: &mut Ctx) -> CaseResult {
    let Some(uk) = ctx.user_key().cloned() else {
        return Ok(Outcome::Skip(NO_USER_KEY.to_string()));
    };
    let (r, a) = register_with_user_key(ctx, &uk).await?;
    if !r.is_success() {
        return fail(format!(
            "a registration with a User Key and no `tenant` answered HTTP {} {}: with owner \
             authentication the tenant comes from the owner's account (REG-011)",
            r.status,
            code(&r)
        ));
    }
    if r.pointer("/owner_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return fail("the registration with a User Key answered without `owner_id` (REG-011)");
    }
    if a.api_key.expose().is_empty() {
        return fail("the registration with a User Key answered without `api_key` (REG-002)");
    }
    if a.api_key.expose() == uk.expose() {
        return fail(
            "the agent registered with a User Key was handed the User Key itself as its \
             `api_key`: the two must be different values (REG-013)",
        );
    }
    let me = ctx.get("/agents/me", Some(&a)).await?;
    if me.status != 200 {
        return fail(format!(
            "the API key of the agent registered with a User Key does not open GET /agents/me \
             (HTTP {} {})",
            me.status,
            code(&me)
        ));
    }
    pass()
}

/// Is `resp` an authentication refusal (401 or 403)?
fn auth_refused(resp: &Resp) -> bool {
    matches!(resp.status, 401 | 403)
}

#[case(
    id = "register.user-key-not-for-messages",
    title = "A User Key does not authenticate message operations",
    clauses = ["REG-014"],
    level = Must,
    expect = "A route and a pending pickup sent with the owner's User Key answer 401/403 and \
              deliver nothing, while the same requests with the agents' API keys succeed.",
)]
async fn user_key_not_for_messages(ctx: &mut Ctx) -> CaseResult {
    let Some(uk) = ctx.user_key().cloned() else {
        return Ok(Outcome::Skip(NO_USER_KEY.to_string()));
    };
    let a = owned_agent(ctx, &uk).await?;
    let b = owned_agent(ctx, &uk).await?;
    let control = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "sent with the agent key"))
        .payload(json!({"type": "notification", "message": "control"}))
        .signed()?;
    route_ok(ctx, &a, &control, "a route with the agent's API key").await?;
    let subj = subject(ctx, "sent with the user key");
    let body = ctx
        .message(&a, &b.address)
        .subject(subj.clone())
        .payload(json!({"type": "notification", "message": "user key"}))
        .signed()?;
    let r = ctx
        .send(
            Req::new(Method::POST, ctx.target().url("/route"))
                .bearer(&uk)
                .json(&body),
        )
        .await?;
    if !auth_refused(&r) {
        return fail(format!(
            "POST /route authenticated with the owner's User Key answered HTTP {} {}: User Keys \
             must not authenticate message operations (REG-014)",
            r.status,
            code(&r)
        ));
    }
    not_delivered(ctx, &b, &subj, "REG-014").await?;
    pending_list(ctx, &b, "").await?;
    let p = ctx
        .send(Req::new(Method::GET, ctx.target().url("/messages/pending")).bearer(&uk))
        .await?;
    if !auth_refused(&p) {
        return fail(format!(
            "GET /messages/pending with the owner's User Key answered HTTP {} {}; the agent's \
             own key reads it, the User Key must not (REG-014)",
            p.status,
            code(&p)
        ));
    }
    pass()
}
