//! Agent endpoints (spec 08 Get Current Agent, Update Agent, List Agents, Resolve; 03 Updating
//! Registration).
//!
//! Agents are registered fresh per case; what the provider returns is compared with what the
//! case registered (address, key, alias), never with provider-specific values.

use crate::steps::agents::{alias, resolve};
use crate::steps::refusal::refused;
use crate::steps::registration::{PUBLIC_HOOK, me_ok};
use amp_case_attr::case;
use amp_core::{PublicKey, parse_rfc3339};
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, Resp, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    ME_SHAPE,
    RESOLVE_KNOWN,
    RESOLVE_UNKNOWN,
    LIST,
    AGENTS_PAGINATION,
];

/// Percent-encode a path or query component (addresses carry `@`, cursors may carry `+/=`).
pub(crate) fn encode_component(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "agents.me.shape",
    title = "GET /agents/me describes the agent without its secrets",
    clauses = ["AGT-001", "REG-005"],
    level = Must,
    expect = "GET /agents/me answers 200 with the registered address, alias, delivery \
              settings, fingerprint, registered_at and last_seen_at, and neither the API \
              key nor the webhook secret.",
)]
async fn me_shape(ctx: &mut Ctx) -> CaseResult {
    let tenant = ctx.tenant();
    let al = alias(ctx, "me");
    let secret = format!("whsec-ampc-{}", ctx.unique_name("secret"));
    ctx.redactor().add("webhook_secret", &secret);
    let a = ctx
        .agent_with(&tenant, |b| {
            b["alias"] = json!(al);
            b["delivery"] = json!({"webhook_url": PUBLIC_HOOK, "webhook_secret": secret});
        })
        .await?;
    let resp = me_ok(ctx, &a, "the agent's API key").await?;
    let Some(obj) = resp.json().and_then(Value::as_object) else {
        return fail("GET /agents/me did not answer a JSON object (AGT-001)");
    };
    let mut problems = Vec::new();
    let mut notes: Vec<&str> = Vec::new();
    let s = |k: &str| obj.get(k).and_then(Value::as_str);
    match s("address") {
        Some(x) if x.eq_ignore_ascii_case(&a.address) => {}
        other => problems.push(format!(
            "`address` is {other:?}, not the registered `{}`",
            a.address
        )),
    }
    if s("alias") != Some(al.as_str()) {
        problems.push(format!(
            "`alias` is {:?}, not the registered alias",
            obj.get("alias")
        ));
    }
    match obj.get("delivery").and_then(Value::as_object) {
        Some(d) => {
            if d.get("webhook_url").and_then(Value::as_str) != Some(PUBLIC_HOOK) {
                problems.push(format!(
                    "`delivery.webhook_url` is {:?}, not the registered {PUBLIC_HOOK}",
                    d.get("webhook_url")
                ));
            }
            // AGT-001 lists the field in an example shape: absent is a note, wrong type is not.
            match d.get("prefer_websocket") {
                None => {
                    notes.push("`delivery.prefer_websocket` is missing (the agent never set it)")
                }
                Some(v) if v.is_boolean() => {}
                Some(_) => problems.push("`delivery.prefer_websocket` is not a boolean".into()),
            }
        }
        None => problems.push("`delivery` is missing or not an object".to_string()),
    }
    match (s("fingerprint"), a.fingerprint.as_deref()) {
        (Some(x), Some(y)) if x == y => {}
        (Some(x), None) if !x.is_empty() => {}
        (got, _) => problems.push(format!(
            "`fingerprint` is {got:?}, not the fingerprint the registration returned"
        )),
    }
    for f in ["registered_at", "last_seen_at"] {
        match s(f) {
            Some(t) if parse_rfc3339(t).is_ok() => {}
            other => problems.push(format!("`{f}` is {other:?}, not an RFC 3339 timestamp")),
        }
    }
    if obj.contains_key("api_key") || resp.text().contains(a.api_key.expose()) {
        problems.push("the response contains the API key (REG-005)".to_string());
    }
    if obj.contains_key("webhook_secret")
        || obj
            .get("delivery")
            .is_some_and(|d| d.get("webhook_secret").is_some())
        || resp.text().contains(&secret)
    {
        problems.push("the response contains the webhook secret".to_string());
    }
    expect::no_problems(&problems, "GET /agents/me (AGT-001)")?;
    if notes.is_empty() {
        return pass();
    }
    Ok(Outcome::Warn {
        reason: format!(
            "GET /agents/me: {} (AGT-001 shows the field in its example response)",
            notes.join("; ")
        ),
        contradiction: None,
    })
}

#[case(
    id = "agents.resolve",
    title = "Resolving an agent returns its registered public key",
    clauses = ["AGT-003"],
    level = Must,
    expect = "GET /agents/resolve/{address} answers 200 with the address, the exact \
              registered public key, key_algorithm Ed25519, the fingerprint and online.",
)]
async fn resolve_known(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let resp = resolve(ctx, &a, &b.address).await?;
    expect::status(&resp, 200)?;
    let mut problems = Vec::new();
    match resp.pointer("/address").and_then(Value::as_str) {
        Some(x) if x.eq_ignore_ascii_case(&b.address) => {}
        other => problems.push(format!("`address` is {other:?}, not `{}`", b.address)),
    }
    match resp.pointer("/public_key").and_then(Value::as_str) {
        Some(pem) => match PublicKey::from_spki_pem(pem) {
            Ok(pk) if pk == b.key.public_key() => {}
            Ok(_) => problems.push("`public_key` is not the key the agent registered".into()),
            Err(e) => problems.push(format!("`public_key` is not an Ed25519 SPKI PEM ({e})")),
        },
        None => problems.push("`public_key` is missing".to_string()),
    }
    match resp.pointer("/key_algorithm").and_then(Value::as_str) {
        Some(k) if k.eq_ignore_ascii_case("ed25519") => {}
        other => problems.push(format!("`key_algorithm` is {other:?}, not Ed25519")),
    }
    match (
        resp.pointer("/fingerprint").and_then(Value::as_str),
        b.fingerprint.as_deref(),
    ) {
        (Some(x), Some(y)) if x == y => {}
        (Some(x), None) if !x.is_empty() => {}
        (got, _) => problems.push(format!(
            "`fingerprint` is {got:?}, not the fingerprint the registration returned"
        )),
    }
    if !resp.pointer("/online").is_some_and(Value::is_boolean) {
        problems.push("`online` is missing or not a boolean".to_string());
    }
    if problems.is_empty() {
        pass()
    } else {
        fail(format!(
            "GET /agents/resolve/{} (AGT-003): {}",
            b.address,
            problems.join("; ")
        ))
    }
}

#[case(
    id = "agents.resolve.unknown",
    title = "Resolving an unregistered address answers 404",
    clauses = ["AGT-003"],
    level = Must,
    expect = "A registered address resolves; an unregistered one answers 404 not_found.",
)]
async fn resolve_unknown(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let known = resolve(ctx, &a, &b.address).await?;
    expect::status(&known, 200)?;
    let domain = b.address.split_once('@').map(|x| x.1).unwrap_or("");
    let nobody = format!("{}@{domain}", ctx.unique_name("nobody"));
    let resp = resolve(ctx, &a, &nobody).await?;
    refused(ctx, &resp, 404, "not_found", "AGT-003")?;
    pass()
}

#[case(
    id = "agents.list",
    title = "GET /agents lists the tenant's agents",
    clauses = ["AGT-002"],
    level = Must,
    expect = "GET /agents?tenant=&search=<own name> answers 200 {agents: [{address, \
              alias, online}], total} including the agent.",
)]
async fn list(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let tenant = ctx.tenant();
    let path = format!(
        "/agents?tenant={}&search={}",
        encode_component(&tenant),
        encode_component(&a.name)
    );
    let resp = ctx.get(&path, Some(&a)).await?;
    expect::status(&resp, 200)?;
    let Some(agents) = resp.pointer("/agents").and_then(Value::as_array) else {
        return fail("GET /agents answered 200 without an `agents` array (AGT-002)");
    };
    let mut problems = Vec::new();
    for (i, e) in agents.iter().enumerate() {
        if e.get("address")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!("agents[{i}].address is missing"));
        }
        if !e.get("online").is_some_and(Value::is_boolean) {
            problems.push(format!("agents[{i}].online is missing or not a boolean"));
        }
        if e.get("alias")
            .is_some_and(|x| !x.is_string() && !x.is_null())
        {
            problems.push(format!("agents[{i}].alias is not a string"));
        }
    }
    match resp.pointer("/total").and_then(Value::as_u64) {
        Some(t) if t as usize >= agents.len() => {}
        other => problems.push(format!(
            "`total` is {other:?}, not a count of at least the {} listed agents",
            agents.len()
        )),
    }
    let found = agents.iter().any(|e| {
        e.get("address")
            .and_then(Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(&a.address))
    });
    if !found {
        problems.push(format!(
            "searching the tenant for `{}` did not list the agent itself",
            a.name
        ));
    }
    expect::no_problems(&problems, "GET /agents (AGT-002)")
}

// ------------------------------------------------------------------------------------------
// API-011: list pagination on GET /agents
// ------------------------------------------------------------------------------------------

fn page_addresses(resp: &Resp) -> Result<Vec<String>, Failure> {
    match resp.pointer("/agents").and_then(Value::as_array) {
        Some(a) => Ok(a
            .iter()
            .filter_map(|x| x.get("address").and_then(Value::as_str))
            .map(str::to_ascii_lowercase)
            .collect()),
        None => fail("GET /agents answered without an `agents` array (AGT-002)"),
    }
}

#[case(
    id = "agents.list.pagination",
    title = "GET /agents pages with limit and cursor and reports total and has_more",
    clauses = ["API-011", "AGT-002"],
    level = Must,
    expect = "Three agents, limit=2: a page of 2 with total 3, has_more and a cursor, \
              then a page of 1 with has_more false; each agent listed once.",
)]
async fn agents_pagination(ctx: &mut Ctx) -> CaseResult {
    let tenant = format!("{}-{}", ctx.tenant(), ctx.unique_name("pg"));
    let mut agents: Vec<Agent> = Vec::new();
    for _ in 0..3 {
        match ctx.agent_in_tenant(&tenant).await {
            Ok(a) => agents.push(a),
            Err(e) if agents.is_empty() => {
                return Ok(Outcome::Skip(format!(
                    "could not register agents in a fresh tenant `{tenant}` ({e}); the case \
                     needs a tenant holding exactly its own agents"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    let mut want: Vec<String> = agents
        .iter()
        .map(|a| a.address.to_ascii_lowercase())
        .collect();
    want.sort();
    let me = &agents[0];
    let first = ctx
        .get(&format!("/agents?tenant={tenant}&limit=2"), Some(me))
        .await?;
    expect::status(&first, 200)?;
    let mut got = page_addresses(&first)?;
    let mut problems = Vec::new();
    if got.len() != 2 {
        problems.push(format!("`limit=2` returned {} agents", got.len()));
    }
    match first.pointer("/total").and_then(Value::as_u64) {
        Some(3) => {}
        other => problems.push(format!("`total` is {other:?}, expected 3")),
    }
    if first.pointer("/has_more") != Some(&Value::Bool(true)) {
        problems.push(format!(
            "`has_more` is {:?} on the first of two pages",
            first.pointer("/has_more")
        ));
    }
    let cursor = first
        .pointer("/cursor")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if cursor.is_empty() {
        problems.push("the first page carries no `cursor`".to_string());
    }
    if !problems.is_empty() {
        return fail(format!(
            "GET /agents pagination (API-011): {}",
            problems.join("; ")
        ));
    }
    let enc: String = cursor
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let second = ctx
        .get(
            &format!("/agents?tenant={tenant}&limit=2&cursor={enc}"),
            Some(me),
        )
        .await?;
    expect::status(&second, 200)?;
    let next = page_addresses(&second)?;
    if second.pointer("/has_more") != Some(&Value::Bool(false)) {
        problems.push(format!(
            "`has_more` is {:?} on the last page",
            second.pointer("/has_more")
        ));
    }
    got.extend(next);
    got.sort();
    if got != want {
        problems.push(format!(
            "the two pages together list {got:?}, expected each of {want:?} exactly once"
        ));
    }
    expect::no_problems(&problems, "GET /agents pagination (API-011)")
}
