//! Agent addresses (spec 02 › Constraints, Uniqueness, Collision Handling, Short Addresses):
//! the length limits of names and addresses, lowercase normalisation and case-insensitive
//! matching, uniqueness across case variants, name suggestions after a collision, and the
//! expansion of a short `to`. Refusals first register the same body with a valid value, so a
//! target that refuses every registration cannot pass.

use crate::steps::refusal::{code, refused};
use crate::steps::registration::{looks_random, padded, refused_400, reg_body, tenant_of_len};
use crate::steps::routing::{delivered, route_id, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, Resp, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    NAME_TAKEN_RECASED,
    TO_SHORT_ADDRESS,
    SUGGESTIONS,
    LOWERCASE,
    NAME_TOO_LONG,
    ADDRESS_TOO_LONG,
    ROUTE_TO_CASE_INSENSITIVE,
];

// ------------------------------------------------------------------------------------------
// ADDR-006: one address, one agent
// ------------------------------------------------------------------------------------------

#[case(
    id = "register.name-taken.recased",
    title = "A taken name in another letter case does not create a second agent",
    clauses = ["ADDR-006", "ADDR-005", "REG-007"],
    level = Must,
    expect = "Registering NAME when name is taken is refused (409 name_taken) and the \
              existing agent keeps working.",
)]
async fn name_taken_recased(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let recased = a.name.to_ascii_uppercase();
    if recased == a.name {
        return Ok(Outcome::Skip(
            "the test agent's name has no letters to re-case".to_string(),
        ));
    }
    let rival = ctx.new_key();
    let body = json!({
        "tenant": a.tenant,
        "name": recased,
        "public_key": rival.public_key().to_spki_pem(),
        "key_algorithm": "Ed25519",
    });
    let resp = ctx.register_raw(&body).await?;
    if !resp.is_success() {
        expect::rejected(&resp)?;
        ctx.note(format!(
            "the re-cased name was refused with HTTP {} {}",
            resp.status,
            code(&resp)
        ));
        // The original agent must be untouched.
        let me = ctx.get("/agents/me", Some(&a)).await?;
        expect::that(
            me.is_success(),
            format!(
                "after the refused rival registration the original agent's API key answers \
                 HTTP {} on GET /agents/me (ADDR-006, REG-007)",
                me.status
            ),
        )?;
        return pass();
    }
    let got = resp
        .pointer("/address")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if got.eq_ignore_ascii_case(&a.address) {
        return fail(format!(
            "registering `{recased}` (the name of the existing agent `{}` in another letter \
             case) was accepted as `{got}`: addresses are case-insensitive (ADDR-005), so the \
             provider now holds two agents with one address (ADDR-006); expected 409 name_taken",
            a.address
        ));
    }
    Ok(Outcome::Info(format!(
        "the re-cased name was registered under a different address `{got}`"
    )))
}

// ------------------------------------------------------------------------------------------
// ADDR-009: short `to` expanded before delivery
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.to.short-address",
    title = "A short `to` is expanded to the full address before delivery",
    clauses = ["ADDR-009", "C-10"],
    level = Must,
    expect = "A message to `name@tenant` is delivered with envelope.to = the full \
              address (refusal warns, C-10).",
)]
async fn to_short_address(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let short = match b.registration.get("short_address").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => {
            let local = b.address.split_once('@').map(|x| x.0).unwrap_or_default();
            format!("{local}@{}", b.tenant)
        }
    };
    if short.eq_ignore_ascii_case(&b.address) {
        return Ok(Outcome::Skip(format!(
            "the recipient's short form `{short}` is its full address"
        )));
    }
    let base = ctx.message(&a, &b.address).subject(subject(ctx, "full to"));
    route_ok(ctx, &a, &base.signed()?, "a message to the full address").await?;
    // Signed over the short `to` as sent (C-10).
    let body = ctx
        .message(&a, &short)
        .subject(subject(ctx, "short to"))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return Ok(Outcome::Warn {
            reason: format!(
                "a message to the short address `{short}` was refused (HTTP {} {}); ADDR-009 \
                 says providers expand short addresses before routing",
                resp.status,
                code(&resp)
            ),
            contradiction: Some("C-10"),
        });
    }
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    let to = m
        .pointer("/envelope/to")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if to.eq_ignore_ascii_case(&b.address) {
        ctx.note(
            "delivered with the full address; the signature covers the short form, so the \
             recipient must verify over what the sender signed (C-10)",
        );
        return pass();
    }
    fail(format!(
        "a message sent to the short address `{short}` was delivered with envelope.to `{to}`; \
         providers expand short addresses to the full `{}` before delivery (ADDR-009)",
        b.address
    ))
}

/// Register `body` and require `201` (REG-002): the positive baseline of a case.
pub(crate) async fn register_ok(ctx: &mut Ctx, body: &Value, what: &str) -> Result<Resp, Failure> {
    let resp = ctx.register_raw(body).await?;
    if !resp.is_success() {
        return fail(format!(
            "baseline: {what} was refused (HTTP {} {}); the case cannot judge its clause when \
             a valid registration of the same shape fails",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    Ok(resp)
}

#[case(
    id = "register.suggestions",
    title = "A name collision offers memorable alternative names",
    clauses = ["ADDR-007", "REG-007"],
    level = Should,
    expect = "The 409 name_taken body lists suggestions that differ from the taken \
              name and are not UUID-like.",
)]
async fn suggestions(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let rival = ctx.new_key();
    let body = reg_body(ctx, &a.name, &rival);
    let resp = ctx.register_raw(&body).await?;
    refused(ctx, &resp, 409, "name_taken", "ADDR-007")?;
    let Some(list) = resp.pointer("/suggestions").and_then(Value::as_array) else {
        return fail("the 409 name_taken body has no `suggestions` array (ADDR-007, REG-007)");
    };
    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    if names.is_empty() || names.len() != list.len() {
        return fail("`suggestions` is empty or holds something other than strings (ADDR-007)");
    }
    for n in &names {
        let local = n.split('@').next().unwrap_or("");
        if local.eq_ignore_ascii_case(&a.name) {
            return fail(format!("suggestion `{n}` is the taken name itself"));
        }
        // Judge only what the provider added to the taken name.
        let lower = local.to_ascii_lowercase();
        let added = lower
            .strip_prefix(&a.name.to_ascii_lowercase())
            .unwrap_or(&lower);
        if looks_random(added) {
            return fail(format!(
                "suggestion `{n}` looks machine-generated; ADDR-007 asks for memorable \
                 <name>-<adjective>-<noun> forms"
            ));
        }
    }
    pass()
}

#[case(
    id = "register.lowercase",
    title = "Registered addresses are normalised to lower case",
    clauses = ["ADDR-005"],
    level = Must,
    expect = "A name registered in upper case is accepted and the returned address is \
              entirely lower case.",
)]
async fn lowercase(ctx: &mut Ctx) -> CaseResult {
    let key = ctx.new_key();
    let name = ctx.unique_name("Reg-Upper").to_ascii_uppercase();
    let body = reg_body(ctx, &name, &key);
    let resp = ctx.register_raw(&body).await?;
    if !resp.is_success() {
        return fail(format!(
            "a name with upper-case letters (allowed by ADDR-002) was refused: HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let addr = expect::json_str(&resp, "/address")?;
    if addr != addr.to_lowercase() {
        return fail(format!(
            "the registration returned address `{addr}`; addresses are normalised to lower \
             case (ADDR-005)"
        ));
    }
    let local = addr.split('@').next().unwrap_or("");
    expect::that(
        local == name.to_ascii_lowercase(),
        format!("address `{addr}` is not the lower-cased registered name"),
    )?;
    pass()
}

#[case(
    id = "register.name-too-long",
    title = "Agent names are at most 63 characters",
    clauses = ["ADDR-002"],
    level = Must,
    expect = "A 63-character name registers; a 64-character name answers 400 \
              invalid_field/invalid_request.",
)]
async fn name_too_long(ctx: &mut Ctx) -> CaseResult {
    let k1 = ctx.new_key();
    let n63 = padded(&ctx.unique_name("long"), 63);
    let body = reg_body(ctx, &n63, &k1);
    register_ok(ctx, &body, "a 63-character name").await?;
    let k2 = ctx.new_key();
    let n64 = padded(&ctx.unique_name("long"), 64);
    let body = reg_body(ctx, &n64, &k2);
    let resp = ctx.register_raw(&body).await?;
    refused_400(ctx, &resp, "ADDR-002", "a 64-character name")?;
    pass()
}

#[case(
    id = "register.address-too-long",
    title = "Registrations producing an address over 254 characters are refused",
    clauses = ["ADDR-004"],
    level = Must,
    expect = "A registration whose address has exactly 254 characters succeeds; one \
              character more answers 400 invalid_field/invalid_request.",
)]
async fn address_too_long(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let tenant = ctx.tenant();
    let domain = a.address.split_once('@').map(|x| x.1).unwrap_or("");
    let prefix = format!("{}.", tenant.to_ascii_lowercase());
    let Some(suffix) = domain
        .to_ascii_lowercase()
        .strip_prefix(&prefix)
        .map(|s| s.len() + 1)
    else {
        return Ok(Outcome::Skip(format!(
            "the target forms addresses as `{}`, not <name>@<tenant>.<provider>, so the case \
             cannot build an address of a chosen length",
            a.address
        )));
    };
    // name (63) + '@' + tenant + '.' + provider = 254, then 255.
    let Some(tenant_len) = 254usize.checked_sub(64 + suffix) else {
        return Ok(Outcome::Skip(
            "the provider domain is too long to build a 254-character address".to_string(),
        ));
    };
    let (Some(t254), Some(t255)) = (
        tenant_of_len(&tenant, tenant_len),
        tenant_of_len(&tenant, tenant_len + 1),
    ) else {
        return Ok(Outcome::Skip(format!(
            "cannot build tenants of {tenant_len}/{} characters from the run tenant `{tenant}`",
            tenant_len + 1
        )));
    };
    let k1 = ctx.new_key();
    let n1 = padded(&ctx.unique_name("long"), 63);
    let mut body = reg_body(ctx, &n1, &k1);
    body["tenant"] = json!(t254);
    let resp = ctx.register_raw(&body).await?;
    if !resp.is_success() {
        return Ok(Outcome::Skip(format!(
            "a registration whose address is exactly 254 characters (sub-tenant of the run \
             tenant) was refused with HTTP {} {}: the target does not let this run create such \
             tenants, so the 255-character limit cannot be told apart",
            resp.status,
            resp.error_code().unwrap_or("")
        )));
    }
    let got = expect::json_str(&resp, "/address")?;
    expect::that(
        got.len() == 254,
        format!(
            "expected the baseline address to have 254 characters, the target returned {} ({got})",
            got.len()
        ),
    )?;
    let k2 = ctx.new_key();
    let n2 = padded(&ctx.unique_name("long"), 63);
    let mut body = reg_body(ctx, &n2, &k2);
    body["tenant"] = json!(t255);
    let resp = ctx.register_raw(&body).await?;
    refused_400(
        ctx,
        &resp,
        "ADDR-004",
        "a registration producing a 255-character address",
    )?;
    pass()
}

#[case(
    id = "route.to.case-insensitive",
    title = "Recipient addresses match case-insensitively",
    clauses = ["ADDR-005"],
    level = Must,
    expect = "A message to the recipient's address in upper case reaches it with `to` \
              as signed or lowercased (02; lowercasing is informational, C-09); \
              refusing it breaks ADDR-005.",
)]
async fn route_to_case_insensitive(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let Some((local, domain)) = b.address.split_once('@') else {
        return Err(Failure::Error(format!(
            "registered address `{}` has no @",
            b.address
        )));
    };
    // Name and domain both re-cased: a provider that lowercases only the name (and refuses the
    // domain as foreign) shows the deviation without a delivery having to be observed.
    let mixed = format!(
        "{}@{}",
        local.to_ascii_uppercase(),
        domain.to_ascii_uppercase()
    );
    if mixed == b.address {
        return Ok(Outcome::Skip(
            "the registered address has no lowercase letters to re-case".to_string(),
        ));
    }
    // Signed verbatim over the mixed-case `to` (C-09).
    let body = ctx
        .message(&a, &mixed)
        .subject(subject(ctx, "mixed case"))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "addresses are case-insensitive (ADDR-005): a message to `{mixed}` must reach \
             `{}`, got HTTP {} {}",
            b.address,
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    let to = m
        .pointer("/envelope/to")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if to == mixed {
        return pass();
    }
    if to == mixed.to_ascii_lowercase() {
        // 02 asks providers to normalise addresses to lowercase; the signature covers the text
        // as sent, which is the open point of C-09, not a deviation.
        return Ok(Outcome::Info(format!(
            "delivered with `to` lowercased to `{to}` as 02 asks; the signature covers \
             `{mixed}`, so recipients verify against the text as sent (C-09)"
        )));
    }
    fail(format!(
        "a message to `{mixed}` was delivered with `to` = `{to}`, neither as sent nor \
         lowercased (ADDR-005)"
    ))
}
