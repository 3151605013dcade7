//! Registration (spec 03 Registration Request / Response, Error Responses, API Key Management,
//! Updating Registration), including the re-registration of a taken name with the owner's own
//! public key, tried anonymously and as another agent.
//!
//! Every refusal case first registers an agent with the same body shape that differs only in
//! the value under test, so a target that refuses every registration cannot pass, and then
//! checks the status and the error code of the refusal. Keys are generated per case
//! (`Ctx::new_key`, whose private half the runner's redactor already knows), names are run-unique.

use crate::steps::agents::{alias, resolve};
use crate::steps::refusal::refused;
use crate::steps::registration::{identity_key_pem, me_ok, refused_400, reg_body};
use crate::steps::routing::{route_ok, subject};
use amp_case_attr::case;
use amp_core::{PublicKey, parse_rfc3339};
use amp_runner::{
    Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, judge_reported_reading,
    pass,
};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    PATCH,
    NAME_TAKEN_OWN_KEY,
    SUCCESS_SHAPE,
    MISSING_FIELD,
    BAD_PEM,
    PRIVATE_KEY_PEM,
    SMALL_ORDER_KEY,
    NAME_TAKEN,
    NAME_TAKEN_KEEPS_KEY,
    API_KEY_SHOWN_ONCE,
    API_KEY_FORMAT,
    FINGERPRINT,
];

#[case(
    id = "agents.patch",
    title = "PATCH /agents/me updates the mutable fields only",
    clauses = ["REG-021"],
    level = Must,
    expect = "PATCH alias and delivery.prefer_websocket answers 200 {updated: true, \
              address} and GET /agents/me shows them; a public_key in a PATCH never \
              replaces the registered key.",
)]
async fn patch(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let al = alias(ctx, "patched");
    let resp = ctx
        .patch_json(
            "/agents/me",
            &json!({"alias": al, "delivery": {"prefer_websocket": true}}),
            Some(&a),
        )
        .await?;
    expect::status(&resp, 200)?;
    if resp.pointer("/updated") != Some(&Value::Bool(true)) {
        return fail("PATCH /agents/me answered 200 without `updated: true` (REG-021)");
    }
    match resp.pointer("/address").and_then(Value::as_str) {
        Some(x) if x.eq_ignore_ascii_case(&a.address) => {}
        other => {
            return fail(format!(
                "PATCH /agents/me answered `address` {other:?}, not `{}` (REG-021)",
                a.address
            ));
        }
    }
    let me = me_ok(ctx, &a, "the agent's key after PATCH").await?;
    if me.pointer("/alias").and_then(Value::as_str) != Some(al.as_str()) {
        return fail("GET /agents/me after PATCH does not show the new alias (REG-021)");
    }
    if me.pointer("/delivery/prefer_websocket") != Some(&Value::Bool(true)) {
        return fail(
            "GET /agents/me after PATCH does not show delivery.prefer_websocket = true (REG-021)",
        );
    }
    // public_key is not updatable: whatever the answer, the registered key must stay.
    let other = ctx.new_key();
    let attempt = ctx
        .patch_json(
            "/agents/me",
            &json!({"public_key": other.public_key().to_spki_pem()}),
            Some(&a),
        )
        .await?;
    let resolved = resolve(ctx, &b, &a.address).await?;
    expect::status(&resolved, 200)?;
    let pem = expect::json_str(&resolved, "/public_key")?;
    if PublicKey::from_spki_pem(pem).ok() != Some(a.key.public_key()) {
        return fail(format!(
            "PATCH /agents/me with a new public_key (answered HTTP {}) changed the registered \
             key; public_key is not updatable (REG-021, use rotate-keys)",
            attempt.status
        ));
    }
    pass()
}

// ------------------------------------------------------------------------------------------
// Registration of an existing name with the owner's own public key (REG-007)
// ------------------------------------------------------------------------------------------

#[case(
    id = "register.name-taken.own-key",
    title = "Re-registering a taken name with its owner's public key issues nothing",
    clauses = ["REG-007"],
    level = Must,
    expect = "A registration of an existing name with that agent's own (public) key, \
              anonymous or carrying another agent's API key, answers 409 name_taken \
              with no API key, and the owner's API key keeps working.",
)]
async fn name_taken_own_key(ctx: &mut Ctx) -> CaseResult {
    let victim = ctx.agent().await?;
    let other = ctx.agent().await?;
    // The public key is public: anyone can resolve it. The attacker re-registers the victim's
    // name with it, once anonymously and once carrying another agent's API key.
    let body = json!({
        "tenant": victim.tenant,
        "name": victim.name,
        "public_key": victim.public_key_pem(),
        "key_algorithm": "Ed25519",
    });
    let anonymous = ctx.register_raw(&body).await?;
    let bytes = serde_json::to_vec(&body)
        .map_err(|e| Failure::Error(format!("cannot serialise the registration: {e}")))?;
    let as_other = ctx
        .request(
            Method::POST,
            "/register",
            &[("Content-Type", "application/json")],
            Some(bytes),
            Some(&other),
        )
        .await?;
    for (who, resp) in [("anonymously", &anonymous), ("as another agent", &as_other)] {
        if let Some(key) = resp.pointer("/api_key").and_then(Value::as_str) {
            let r = amp_client::Req::new(Method::GET, ctx.target().url("/agents/me"))
                .bearer(&amp_runner::Secret::new(key.to_string()));
            let me = ctx.send(r).await?;
            let takes_over = me.is_success()
                && me
                    .pointer("/address")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.eq_ignore_ascii_case(&victim.address));
            return fail(format!(
                "re-registering the taken name `{}` with its owner's public key {who} was \
                 answered HTTP {} with a new API key{} (REG-007: 409 name_taken, the existing \
                 agent's key and API key unchanged)",
                victim.name,
                resp.status,
                if takes_over {
                    " that authenticates as the existing agent: anyone who knows a public key \
                     takes over its agent"
                } else {
                    ""
                }
            ));
        }
        refused(ctx, resp, 409, "name_taken", "REG-007").map_err(|e| match e {
            Failure::Fail(m) => Failure::Fail(format!(
                "re-registering the taken name with its owner's public key {who}: {m}"
            )),
            other => other,
        })?;
    }
    // Nothing changed: the owner's API key still authenticates as the owner.
    let me = ctx.get("/agents/me", Some(&victim)).await?;
    expect::that(
        me.is_success()
            && me
                .pointer("/address")
                .and_then(Value::as_str)
                .is_some_and(|a| a.eq_ignore_ascii_case(&victim.address)),
        format!(
            "after the refused re-registrations the owner's API key answers HTTP {} on GET \
             /agents/me (REG-007: the existing API key keeps working)",
            me.status
        ),
    )?;
    // ... and its registered key still signs messages the provider accepts.
    let body = ctx
        .message(&victim, &other.address)
        .subject(subject(ctx, "owner after the attempts"))
        .signed()?;
    route_ok(
        ctx,
        &victim,
        &body,
        "a message signed by the owner's own key",
    )
    .await?;
    pass()
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "register.success.shape",
    title = "A valid registration answers 201 with the documented fields",
    clauses = ["REG-002", "REG-003"],
    level = Must,
    expect = "POST /register with tenant, name, an Ed25519 SPKI PEM and key_algorithm \
              answers 201 with address, short_address, local_name, agent_id, tenant, \
              tenant_id, api_key, provider{name, endpoint, route_url}, fingerprint and \
              registered_at.",
)]
async fn success_shape(ctx: &mut Ctx) -> CaseResult {
    let key = ctx.new_key();
    let name = ctx.unique_name("reg");
    let body = reg_body(ctx, &name, &key);
    let resp = ctx.register_raw(&body).await?;
    expect::status(&resp, 201)?;
    let Some(obj) = resp.json().and_then(Value::as_object) else {
        return fail("the registration response is not a JSON object (REG-002)");
    };
    let mut problems = Vec::new();
    let s = |k: &str| obj.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
    for f in [
        "address",
        "short_address",
        "local_name",
        "agent_id",
        "tenant_id",
        "tenant",
        "api_key",
        "fingerprint",
        "registered_at",
    ] {
        if s(f).is_none() {
            problems.push(format!("`{f}` is missing or not a non-empty string"));
        }
    }
    match obj.get("provider").and_then(Value::as_object) {
        Some(p) => {
            for f in ["name", "endpoint", "route_url"] {
                if p.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                    problems.push(format!("`provider.{f}` is missing or not a string"));
                }
            }
        }
        None => problems.push("`provider` is missing or not an object".to_string()),
    }
    if let Some(addr) = s("address") {
        let local = addr.split('@').next().unwrap_or("");
        if !local.eq_ignore_ascii_case(&name) {
            problems.push(format!(
                "`address` `{addr}` does not start with the registered name `{name}@`"
            ));
        }
    }
    if let Some(l) = s("local_name") {
        if !l.eq_ignore_ascii_case(&name) {
            problems.push(format!("`local_name` `{l}` is not the registered name"));
        }
    }
    if let Some(t) = s("tenant") {
        if !t.eq_ignore_ascii_case(&ctx.tenant()) {
            problems.push(format!(
                "`tenant` `{t}` is not the requested tenant `{}` (REG-003)",
                ctx.tenant()
            ));
        }
    }
    if let Some(r) = s("registered_at") {
        if parse_rfc3339(r).is_err() {
            problems.push(format!(
                "`registered_at` `{r}` is not an RFC 3339 timestamp"
            ));
        }
    }
    if !problems.is_empty() {
        return fail(format!(
            "registration response (REG-002/REG-003): {}",
            problems.join("; ")
        ));
    }
    pass()
}

#[case(
    id = "register.missing-field",
    title = "A registration without a required field is refused as missing_field",
    clauses = ["REG-001", "API-008"],
    level = Must,
    expect = "Leaving out name, public_key or key_algorithm answers 400 missing_field \
              (invalid_request warns).",
)]
async fn missing_field(ctx: &mut Ctx) -> CaseResult {
    ctx.agent().await?;
    for field in ["name", "public_key", "key_algorithm"] {
        let key = ctx.new_key();
        let name = ctx.unique_name("reg");
        let mut body = reg_body(ctx, &name, &key);
        if let Some(o) = body.as_object_mut() {
            o.remove(field);
        }
        let resp = ctx.register_raw(&body).await?;
        if resp.status != 400 {
            return fail(format!(
                "a registration without the required `{field}` must be refused with 400 \
                 missing_field (REG-001, API-008), got HTTP {} {}",
                resp.status,
                resp.error_code().unwrap_or("")
            ));
        }
        crate::steps::refusal::code_matches(ctx, &resp, "missing_field", "REG-001");
    }
    pass()
}

#[case(
    id = "register.bad-pem",
    title = "A public_key that is not a valid PEM is refused",
    clauses = ["REG-006"],
    level = Must,
    expect = "A PEM whose body is not Base64 answers 400 invalid_request (field \
              public_key).",
)]
async fn bad_pem(ctx: &mut Ctx) -> CaseResult {
    ctx.agent().await?;
    let garbage =
        "-----BEGIN PUBLIC KEY-----\nthis is not base64 at all!\n-----END PUBLIC KEY-----\n";
    let name = ctx.unique_name("reg");
    let body = json!({
        "tenant": ctx.tenant(),
        "name": name,
        "public_key": garbage,
        "key_algorithm": "Ed25519",
    });
    let resp = ctx.register_raw(&body).await?;
    key_refusal(ctx, &resp, "a public_key PEM whose body is not Base64")
}

/// REG-006: a bad `public_key` is refused with `400 invalid_request` and `field: public_key`.
fn key_refusal(ctx: &Ctx, resp: &Resp, what: &str) -> CaseResult {
    refused_400(ctx, resp, "REG-006", what)?;
    if let Some(f) = resp.pointer("/field").and_then(Value::as_str) {
        if f != "public_key" {
            return fail(format!(
                "{what} was refused naming field `{f}`; the offending field is `public_key` \
                 (REG-006)"
            ));
        }
    }
    pass()
}

#[case(
    id = "register.private-key-pem",
    title = "A private key sent as public_key is refused",
    clauses = ["REG-006"],
    level = Must,
    expect = "A PKCS#8 PRIVATE KEY PEM in public_key answers 400 invalid_request; the \
              provider does not derive and register its public half.",
)]
async fn private_key_pem(ctx: &mut Ctx) -> CaseResult {
    ctx.agent().await?;
    // `new_key` registers the PKCS#8 PEM with the redactor: the transcript shows a placeholder.
    let key = ctx.new_key();
    let name = ctx.unique_name("reg");
    let body = json!({
        "tenant": ctx.tenant(),
        "name": name,
        "public_key": key.to_pkcs8_pem(),
        "key_algorithm": "Ed25519",
    });
    let resp = ctx.register_raw(&body).await?;
    key_refusal(ctx, &resp, "a PRIVATE KEY PEM sent as public_key")
}

#[case(
    id = "register.small-order-key",
    title = "A small-order (identity) Ed25519 key is refused",
    clauses = ["REG-006"],
    level = Should,
    expect = "The identity point 01 00..00 as SPKI PEM answers 400 invalid_request \
              (hardening, a SHOULD: C-56).",
)]
async fn small_order_key(ctx: &mut Ctx) -> CaseResult {
    ctx.agent().await?;
    let name = ctx.unique_name("reg");
    let body = json!({
        "tenant": ctx.tenant(),
        "name": name,
        "public_key": identity_key_pem(),
        "key_algorithm": "Ed25519",
    });
    let resp = ctx.register_raw(&body).await?;
    if resp.is_success() {
        // No spec sentence refuses small-order keys; strict-Ed25519 hardening is a SHOULD.
        return Ok(Outcome::Warn {
            reason: format!(
                "the small-order identity key 01 00..00 was accepted (HTTP {}); signatures \
                 under it verify for many messages, so a provider should refuse it with 400 \
                 (REG-006)",
                resp.status
            ),
            contradiction: Some("C-56"),
        });
    }
    key_refusal(ctx, &resp, "the small-order identity key 01 00..00")
}

#[case(
    id = "register.name-taken",
    title = "Registering a taken name answers 409 name_taken",
    clauses = ["REG-007", "API-007"],
    level = Must,
    expect = "A second registration of an existing name in the same tenant, with \
              another key, answers 409 name_taken in the API-007 error shape.",
)]
async fn name_taken(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let rival = ctx.new_key();
    let body = reg_body(ctx, &a.name, &rival);
    let resp = ctx.register_raw(&body).await?;
    refused(ctx, &resp, 409, "name_taken", "REG-007")?;
    expect::error_format(&resp)?;
    pass()
}

#[case(
    id = "register.name-taken.keeps-key",
    title = "A refused name collision leaves the existing agent untouched",
    clauses = ["REG-007"],
    level = Must,
    expect = "After a rival's attempt on a taken name the owner's API key works, the \
              name resolves to the owner's key, and messages signed by the rival's key \
              answer 403 signature_invalid.",
)]
async fn name_taken_keeps_key(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let rival = ctx.new_key();
    let body = reg_body(ctx, &a.name, &rival);
    let resp = ctx.register_raw(&body).await?;
    if resp.is_success() {
        return fail(
            "a second registration of a taken name was accepted (REG-007 requires 409 \
             name_taken and leaves the existing agent untouched)",
        );
    }
    me_ok(
        ctx,
        &a,
        "the first owner's API key after the rival's attempt",
    )
    .await?;
    // The registered key is still the original one.
    let resolved = ctx
        .get(&format!("/agents/resolve/{}", a.address), Some(&b))
        .await?;
    expect::status(&resolved, 200)?;
    let pem = expect::json_str(&resolved, "/public_key")?;
    let pk = PublicKey::from_spki_pem(pem).ok();
    if pk == Some(rival.public_key()) {
        return fail("after the refused rival registration the name resolves to the rival's key");
    }
    expect::that(
        pk == Some(a.key.public_key()),
        "after the rival's attempt the name no longer resolves to the original public key",
    )?;
    // Messages signed by the original key still route; the rival's key does not verify.
    let ok = ctx
        .message(&a, &b.address)
        .subject(crate::steps::routing::subject(ctx, "original key"))
        .signed()?;
    crate::steps::routing::route_ok(ctx, &a, &ok, "a message signed by the original key").await?;
    let forged = ctx
        .message(&a, &b.address)
        .subject(crate::steps::routing::subject(ctx, "rival key"))
        .signed_by(&rival)?;
    let resp = ctx.route(&a, &forged).await?;
    refused(ctx, &resp, 403, "signature_invalid", "REG-007")?;
    pass()
}

#[case(
    id = "register.api-key-shown-once",
    title = "The API key is returned only by the registration",
    clauses = ["REG-005"],
    level = Must,
    expect = "Neither GET /agents/me nor a resolve of the agent contains the API key.",
)]
async fn api_key_shown_once(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = a.api_key.expose().to_string();
    let mut leaks = Vec::new();
    let me = me_ok(ctx, &a, "the agent's own key").await?;
    if me.pointer("/api_key").is_some() || me.text().contains(&key) {
        leaks.push("GET /agents/me");
    }
    let resolved = ctx
        .get(&format!("/agents/resolve/{}", a.address), Some(&b))
        .await?;
    if resolved.pointer("/api_key").is_some() || resolved.text().contains(&key) {
        leaks.push("GET /agents/resolve/{address}");
    }
    if leaks.is_empty() {
        pass()
    } else {
        fail(format!(
            "the API key is returned again after registration by {} (REG-005: shown once)",
            leaks.join(" and ")
        ))
    }
}

#[case(
    id = "register.api-key-format",
    title = "API keys look like amp_<environment>_<type>_<random>",
    clauses = ["REG-018"],
    level = Should,
    expect = "The issued API key has the form amp_<env>_<type>_<at least 16 random \
              alphanumerics>.",
)]
async fn api_key_format(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let key = a.api_key.expose();
    let parts: Vec<&str> = key.splitn(4, '_').collect();
    let shape_ok = parts.len() == 4
        && parts[0] == "amp"
        && parts[1..3]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && parts[3].len() >= 16
        && parts[3].bytes().all(|b| b.is_ascii_alphanumeric());
    if shape_ok {
        return pass();
    }
    // Describe the shape without revealing the key.
    let shape: String = key
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' => 'a',
            '0'..='9' => '9',
            '_' => '_',
            _ => '?',
        })
        .collect();
    let shape: String = shape.chars().take(24).collect();
    fail(format!(
        "the API key ({} characters, shape `{shape}…`) is not amp_<environment>_<type>_<random \
         of at least 16 alphanumerics> (REG-018)",
        key.chars().count()
    ))
}

#[case(
    id = "register.fingerprint",
    title = "Which fingerprint form the provider computes",
    clauses = ["REG-002"],
    level = Must,
    expect = "The registration fingerprint is the key's fingerprint in the form the run \
              declares with --fingerprint (default raw32-b64pad: SHA256:<padded Base64 of \
              SHA-256 of the raw key>); another form is a C-19 warning naming it, no form of \
              the key fails.",
)]
async fn fingerprint(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let Some(fp) = a.fingerprint.clone() else {
        return fail("the registration response carries no `fingerprint` (REG-002)");
    };
    let forms = a.key.public_key().matching_fingerprint_profiles(&fp);
    let declared = ctx.contradictions().fingerprint;
    let expected = ctx.contradictions().fingerprint_form();
    // A key's forms can coincide only by a hash collision; prefer the one in force.
    let observed = if forms.contains(&expected) {
        expected
    } else if let Some(&other) = forms.first() {
        other
    } else {
        return fail(format!(
            "the registration fingerprint `{fp}` is no form (raw32-b64pad, raw32-b64nopad, \
             spki-der) of the registered key (REG-002)"
        ));
    };
    let what = format!("the registration answered fingerprint `{fp}`");
    judge_reported_reading(declared, observed, &what)
}
