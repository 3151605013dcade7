//! Registration (spec 03 Registration, 02 Identity constraints, 05 SSRF prevention, 07 API key
//! format).
//!
//! Every refusal case first registers an agent with the same body shape that differs only in
//! the value under test, so a target that refuses every registration cannot pass, and then
//! checks the status and the error code of the refusal. Keys are generated per case
//! (`Ctx::new_key`, whose private half the runner's redactor already knows), names are run-unique.

use crate::refusal::refused;
use amp_core::signing::{FingerprintProfile, SecretKey};
use amp_core::{PublicKey, parse_rfc3339};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Outcome, Resp, Section, expect, fail, pass,
};
use base64::Engine as _;
use serde_json::{Value, json};

/// The 12-byte DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, algorithm
/// id 1.3.101.112, BIT STRING of 33 bytes (one zero "unused bits" byte, then the 32-byte key).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A public URL for baseline webhook registrations: `example.com` is reserved for
/// documentation (RFC 2606), resolves to a public address and never receives our traffic
/// because no message is routed to these agents.
pub(crate) const PUBLIC_HOOK: &str = "https://example.com/amp-conformance-hook";

/// SPKI PEM around raw key bytes, assembled by hand so that keys `amp_core::PublicKey` refuses
/// to build (small-order points) can still be sent.
pub(crate) fn spki_pem_of_raw(raw: &[u8; 32]) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// The Ed25519 identity point `01 00..00` as SPKI PEM: a small-order key under which forged
/// signatures verify for many messages.
pub(crate) fn identity_key_pem() -> String {
    let mut raw = [0u8; 32];
    raw[0] = 1;
    spki_pem_of_raw(&raw)
}

/// A registration body in the run's tenant with `name` and the public half of `key`.
pub(crate) fn reg_body(ctx: &Ctx, name: &str, key: &SecretKey) -> Value {
    json!({
        "tenant": ctx.tenant(),
        "name": name,
        "public_key": key.public_key().to_spki_pem(),
        "key_algorithm": "Ed25519",
    })
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

/// A request with one invalid value must be refused with 400 (API-008 names
/// `invalid_request` / `invalid_field`; another code is a run-wide finding, not a verdict).
/// Anything but a 400 is a failure naming `what` and `clause`.
pub(crate) fn refused_400(
    ctx: &Ctx,
    resp: &Resp,
    clause: &'static str,
    what: &str,
) -> Result<(), Failure> {
    match resp.status {
        400 => {
            crate::refusal::code_among(ctx, resp, &["invalid_request", "invalid_field"], clause);
            Ok(())
        }
        s if (200..300).contains(&s) => fail(format!(
            "{what} was accepted (HTTP {s}); it must be refused with 400 ({clause})"
        )),
        s => fail(format!(
            "{what} must be refused with 400 invalid_request/invalid_field ({clause}), got HTTP \
             {s} {}",
            resp.error_code().unwrap_or("")
        )),
    }
}

/// `name` padded with `x` to exactly `len` characters (names from `unique_name` are short).
fn padded(name: &str, len: usize) -> String {
    let mut s: String = name.chars().take(len).collect();
    while s.len() < len {
        s.push('x');
    }
    s
}

/// A tenant of exactly `len` characters: `base` followed by dot-separated segments of at most
/// 63 letters (ADDR-003). `None` when `len` cannot be reached (`base` longer, or one byte over).
fn tenant_of_len(base: &str, len: usize) -> Option<String> {
    if len < base.len() || len == base.len() + 1 {
        return None;
    }
    let mut t = base.to_string();
    let mut letter = b'a';
    while t.len() < len {
        let room = len - t.len();
        let mut seg = (room - 1).min(63);
        if room - 1 - seg == 1 {
            seg -= 1;
        }
        t.push('.');
        t.extend(std::iter::repeat_n(char::from(letter), seg));
        letter = if letter == b'z' { b'a' } else { letter + 1 };
    }
    Some(t)
}

/// `GET /agents/me` as `agent` must answer 200.
pub(crate) async fn me_ok(ctx: &mut Ctx, agent: &Agent, why: &str) -> Result<Resp, Failure> {
    let resp = ctx.get("/agents/me", Some(agent)).await?;
    if resp.status != 200 {
        return fail(format!(
            "GET /agents/me with {why} answered HTTP {} {} instead of 200",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    Ok(resp)
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

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
        crate::refusal::code_matches(ctx, &resp, "missing_field", "REG-001");
    }
    pass()
}

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

async fn name_taken(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let rival = ctx.new_key();
    let body = reg_body(ctx, &a.name, &rival);
    let resp = ctx.register_raw(&body).await?;
    refused(ctx, &resp, 409, "name_taken", "REG-007")?;
    expect::error_format(&resp)?;
    pass()
}

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
        .subject(crate::routing::subject(ctx, "original key"))
        .signed()?;
    crate::routing::route_ok(ctx, &a, &ok, "a message signed by the original key").await?;
    let forged = ctx
        .message(&a, &b.address)
        .subject(crate::routing::subject(ctx, "rival key"))
        .signed_by(&rival)?;
    let resp = ctx.route(&a, &forged).await?;
    refused(ctx, &resp, 403, "signature_invalid", "REG-007")?;
    pass()
}

/// A suggestion that looks machine-generated (UUID or a long hex run), which ADDR-007 asks
/// providers to avoid.
fn looks_random(s: &str) -> bool {
    let mut run = 0usize;
    for c in s.chars() {
        if c.is_ascii_hexdigit() {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

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

/// Register with `delivery.webhook_url = url` and require a 400; returns a warning if the code
/// is not the expected one.
async fn webhook_refused(ctx: &mut Ctx, url: &str, clause: &'static str) -> Result<(), Failure> {
    let key = ctx.new_key();
    let name = ctx.unique_name("hook");
    let mut body = reg_body(ctx, &name, &key);
    body["delivery"] = json!({"webhook_url": url});
    let resp = ctx.register_raw(&body).await?;
    refused_400(
        ctx,
        &resp,
        clause,
        &format!("webhook_url `{url}` at registration"),
    )?;
    Ok(())
}

/// Baseline: an agent registered with a public HTTPS webhook URL.
async fn hook_baseline(ctx: &mut Ctx) -> Result<Agent, Failure> {
    let tenant = ctx.tenant();
    ctx.agent_with(&tenant, |b| {
        b["delivery"] = json!({"webhook_url": PUBLIC_HOOK})
    })
    .await
    .map_err(|e| match e {
        Failure::Error(m) | Failure::Fail(m) => Failure::Fail(format!(
            "baseline: registration with the public HTTPS webhook_url {PUBLIC_HOOK} \
                 failed, so the refusals below could not be attributed to the URL: {m}"
        )),
        blocked @ Failure::Blocked { .. } => blocked,
    })
}

async fn webhook_private_url(ctx: &mut Ctx) -> CaseResult {
    let a = hook_baseline(ctx).await?;
    let mut urls = vec![
        "https://10.0.0.1/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/hook",
    ];
    if !ctx.config().loopback_webhooks {
        urls.push("https://127.0.0.1/hook");
        urls.push("https://[::1]/hook");
    }
    for url in &urls {
        webhook_refused(ctx, url, "WH-012").await?;
    }
    // The same check applies to PATCH /agents/me.
    let url = "https://169.254.169.254/latest/meta-data/";
    let resp = ctx
        .patch_json(
            "/agents/me",
            &json!({"delivery": {"webhook_url": url}}),
            Some(&a),
        )
        .await?;
    refused_400(
        ctx,
        &resp,
        "WH-012",
        &format!("PATCH /agents/me to webhook_url `{url}`"),
    )?;
    pass()
}

async fn webhook_plain_http(ctx: &mut Ctx) -> CaseResult {
    hook_baseline(ctx).await?;
    webhook_refused(ctx, "http://example.com/amp-conformance-hook", "WH-015").await?;
    pass()
}

async fn webhook_alt_ip(ctx: &mut Ctx) -> CaseResult {
    hook_baseline(ctx).await?;
    // 169.254.169.254 and 10.0.0.1 in hexadecimal, decimal and octal notations.
    let mut urls = vec![
        "https://0xA9FEA9FE/latest/meta-data/",
        "https://2852039166/latest/meta-data/",
        "https://012.0.0.1/hook",
        "https://0x0a000001/hook",
    ];
    if !ctx.config().loopback_webhooks {
        urls.push("https://0177.0.0.1/hook");
        urls.push("https://2130706433/hook");
    }
    for url in &urls {
        webhook_refused(ctx, url, "WH-014").await?;
    }
    pass()
}

async fn fingerprint(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let Some(fp) = a.fingerprint.clone() else {
        return fail("the registration response carries no `fingerprint` (REG-002)");
    };
    let pk = a.key.public_key();
    let profiles = pk.matching_fingerprint_profiles(&fp);
    if profiles.contains(&FingerprintProfile::default()) {
        return pass();
    }
    let reason = match profiles.first() {
        Some(p) => format!(
            "the registration fingerprint is the {p} form of the key, not the default {} \
             (SHA-256 of the raw key, padded Base64)",
            FingerprintProfile::default()
        ),
        None => format!(
            "the registration fingerprint `{fp}` matches none of the known forms \
             (raw32-b64pad, raw32-b64nopad, spki-der) of the registered key"
        ),
    };
    Ok(Outcome::Warn {
        reason,
        contradiction: Some("C-19"),
    })
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "register.success.shape",
        title: "A valid registration answers 201 with the documented fields",
        clauses: &["REG-002", "REG-003"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "POST /register with tenant, name, an Ed25519 SPKI PEM and key_algorithm \
                      answers 201 with address, short_address, local_name, agent_id, tenant, \
                      tenant_id, api_key, provider{name, endpoint, route_url}, fingerprint and \
                      registered_at.",
        run: |ctx| Box::pin(success_shape(ctx)),
    },
    Case {
        id: "register.missing-field",
        title: "A registration without a required field is refused as missing_field",
        clauses: &["REG-001", "API-008"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "Leaving out name, public_key or key_algorithm answers 400 missing_field \
                      (invalid_request warns).",
        run: |ctx| Box::pin(missing_field(ctx)),
    },
    Case {
        id: "register.bad-pem",
        title: "A public_key that is not a valid PEM is refused",
        clauses: &["REG-006"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "A PEM whose body is not Base64 answers 400 invalid_request (field \
                      public_key).",
        run: |ctx| Box::pin(bad_pem(ctx)),
    },
    Case {
        id: "register.private-key-pem",
        title: "A private key sent as public_key is refused",
        clauses: &["REG-006"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "A PKCS#8 PRIVATE KEY PEM in public_key answers 400 invalid_request; the \
                      provider does not derive and register its public half.",
        run: |ctx| Box::pin(private_key_pem(ctx)),
    },
    Case {
        id: "register.small-order-key",
        title: "A small-order (identity) Ed25519 key is refused",
        clauses: &["REG-006"],
        level: Level::Should,
        section: Section::Registration,
        needs: &[],
        expectation: "The identity point 01 00..00 as SPKI PEM answers 400 invalid_request \
                      (hardening, a SHOULD: C-56).",
        run: |ctx| Box::pin(small_order_key(ctx)),
    },
    Case {
        id: "register.name-taken",
        title: "Registering a taken name answers 409 name_taken",
        clauses: &["REG-007", "API-007"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "A second registration of an existing name in the same tenant, with \
                      another key, answers 409 name_taken in the API-007 error shape.",
        run: |ctx| Box::pin(name_taken(ctx)),
    },
    Case {
        id: "register.name-taken.keeps-key",
        title: "A refused name collision leaves the existing agent untouched",
        clauses: &["REG-007"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "After a rival's attempt on a taken name the owner's API key works, the \
                      name resolves to the owner's key, and messages signed by the rival's key \
                      answer 403 signature_invalid.",
        run: |ctx| Box::pin(name_taken_keeps_key(ctx)),
    },
    Case {
        id: "register.suggestions",
        title: "A name collision offers memorable alternative names",
        clauses: &["ADDR-007", "REG-007"],
        level: Level::Should,
        section: Section::Registration,
        needs: &[],
        expectation: "The 409 name_taken body lists suggestions that differ from the taken \
                      name and are not UUID-like.",
        run: |ctx| Box::pin(suggestions(ctx)),
    },
    Case {
        id: "register.lowercase",
        title: "Registered addresses are normalised to lower case",
        clauses: &["ADDR-005"],
        level: Level::Must,
        section: Section::Addressing,
        needs: &[],
        expectation: "A name registered in upper case is accepted and the returned address is \
                      entirely lower case.",
        run: |ctx| Box::pin(lowercase(ctx)),
    },
    Case {
        id: "register.name-too-long",
        title: "Agent names are at most 63 characters",
        clauses: &["ADDR-002"],
        level: Level::Must,
        section: Section::Addressing,
        needs: &[],
        expectation: "A 63-character name registers; a 64-character name answers 400 \
                      invalid_field/invalid_request.",
        run: |ctx| Box::pin(name_too_long(ctx)),
    },
    Case {
        id: "register.address-too-long",
        title: "Registrations producing an address over 254 characters are refused",
        clauses: &["ADDR-004"],
        level: Level::Must,
        section: Section::Addressing,
        needs: &[],
        expectation: "A registration whose address has exactly 254 characters succeeds; one \
                      character more answers 400 invalid_field/invalid_request.",
        run: |ctx| Box::pin(address_too_long(ctx)),
    },
    Case {
        id: "register.api-key-shown-once",
        title: "The API key is returned only by the registration",
        clauses: &["REG-005"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "Neither GET /agents/me nor a resolve of the agent contains the API key.",
        run: |ctx| Box::pin(api_key_shown_once(ctx)),
    },
    Case {
        id: "register.api-key-format",
        title: "API keys look like amp_<environment>_<type>_<random>",
        clauses: &["REG-018"],
        level: Level::Should,
        section: Section::Registration,
        needs: &[],
        expectation: "The issued API key has the form amp_<env>_<type>_<at least 16 random \
                      alphanumerics>.",
        run: |ctx| Box::pin(api_key_format(ctx)),
    },
    Case {
        id: "register.webhook.private-url",
        title: "Webhook URLs pointing at private or metadata addresses are refused",
        clauses: &["WH-012"],
        level: Level::Must,
        section: Section::Webhooks,
        needs: &[],
        expectation: "A public HTTPS webhook_url registers; 10/8, 172.16/12, 192.168/16, the \
                      metadata address and fe80::/10 (and loopback, unless the run allows it) \
                      answer 400 at registration and at PATCH /agents/me.",
        run: |ctx| Box::pin(webhook_private_url(ctx)),
    },
    Case {
        id: "register.webhook.plain-http",
        title: "Plain-HTTP webhook URLs are refused",
        clauses: &["WH-015"],
        level: Level::Must,
        section: Section::Webhooks,
        needs: &[],
        expectation: "https://example.com/... registers; http://example.com/... answers 400.",
        run: |ctx| Box::pin(webhook_plain_http(ctx)),
    },
    Case {
        id: "register.webhook.alt-ip",
        title: "Alternative IP notations of private addresses are refused",
        clauses: &["WH-014"],
        level: Level::Should,
        section: Section::Webhooks,
        needs: &[],
        expectation: "Hexadecimal, decimal and octal spellings of the metadata and private \
                      addresses answer 400.",
        run: |ctx| Box::pin(webhook_alt_ip(ctx)),
    },
    Case {
        id: "register.fingerprint",
        title: "Which fingerprint form the provider computes",
        clauses: &["REG-002"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "The registration fingerprint is SHA256:<padded Base64 of SHA-256 of the \
                      raw key>; other forms are named in a C-19 warning.",
        run: |ctx| Box::pin(fingerprint(ctx)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use amp_core::signing::KeyError;

    #[test]
    fn identity_pem_is_a_wellformed_small_order_spki() {
        let pem = identity_key_pem();
        let raw = PublicKey::spki_pem_raw_bytes(&pem).expect("well-formed SPKI");
        assert_eq!(raw[0], 1);
        assert!(raw[1..].iter().all(|b| *b == 0));
        assert!(matches!(
            PublicKey::from_spki_pem(&pem),
            Err(KeyError::SmallOrder)
        ));
        // The hand-built PEM has the same framing as a real key's.
        let real = SecretKey::from_seed([7; 32]).public_key();
        assert_eq!(spki_pem_of_raw(real.as_bytes()), real.to_spki_pem());
    }

    #[test]
    fn tenants_reach_exact_lengths() {
        for len in [10, 12, 40, 64, 65, 66, 127, 128, 129, 190] {
            let t = tenant_of_len("ampcabc", len).expect("reachable");
            assert_eq!(t.len(), len, "{t}");
            assert!(t.split('.').all(|s| (1..=63).contains(&s.len())), "{t}");
        }
        assert!(tenant_of_len("ampcabc", 8).is_none());
        assert!(tenant_of_len("ampcabc", 3).is_none());
    }

    #[test]
    fn random_looking_names() {
        assert!(looks_random("bot-3f2a9c1d"));
        assert!(!looks_random("bot-brave-otter"));
        assert_eq!(padded("ab", 5), "abxxx");
    }
}
