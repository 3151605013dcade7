//! Cases for catalogue clauses that no section module covered yet: address uniqueness and
//! short-address expansion (spec 02), versioning and pagination (08), the JSON profile (04),
//! mesh `from` forgery (06a), delivery basis and the count floor (12), relay expiry and route
//! options (05), signature failure codes, per-agent budgets and webhook re-validation (07),
//! idempotency horizon and threading (04).
//!
//! Same discipline as the section modules: every negative case first shows that the matching
//! positive request succeeds, checks status AND code where the spec names one, and cites the
//! contradiction when a reading is open instead of deciding it silently.

use crate::refusal::code_matches;
use crate::routing::{delivered, entry_id, entry_subject, not_delivered, pending_list};
use crate::routing::{route_id, route_ok, subject};
use amp_core::signing::{Priority, SigningFields, sign_fields};
use amp_core::{Signature, payload_hash};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Method, Need, Outcome, Resp, Section, expect,
    fail, pass,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// RTE-012/016: relay entries live seven days.
const RELAY_TTL_SECS: i64 = 7 * 24 * 3600;
/// Slack for providers that compute `expires_at` from a slightly different clock reading.
const TTL_SLACK_SECS: i64 = 60;
/// RL-003: `GET /messages/pending` is limited to 30 requests per minute.
const PENDING_PER_MINUTE: u64 = 30;
/// Extra pickups sent before the count-floor case gives up on seeing a 429.
const PENDING_MARGIN: u64 = 15;
/// The pickup burst stops after this long (bounded against slow targets).
const BURST_WINDOW: Duration = Duration::from_secs(20);
/// Requests agent A makes before agent B's budget is compared (RL-001).
const RL_PROBE_REQUESTS: u64 = 10;
/// NOTIFY-001 delivery basis values.
const BASES: [&str; 4] = ["mailbox_written", "socket_written", "webhook_2xx", "queued"];

/// Every JSON pointer under `v` whose value is `null`.
fn null_paths(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(if at.is_empty() {
            "/".to_string()
        } else {
            at.to_string()
        }),
        Value::Object(m) => {
            for (k, x) in m {
                null_paths(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                null_paths(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn code(resp: &Resp) -> &str {
    resp.error_code().unwrap_or("")
}

// ------------------------------------------------------------------------------------------
// ADDR-006: one address, one agent
// ------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------
// API-001: the version lives in the path
// ------------------------------------------------------------------------------------------

async fn version_path(ctx: &mut Ctx) -> CaseResult {
    let base = ctx.target().base_url.trim_end_matches('/').to_string();
    let info = ctx.get("/info", None).await?;
    expect::status(&info, 200)?;
    let Some(root) = base.strip_suffix("/v1") else {
        return Ok(Outcome::Warn {
            reason: format!(
                "the target's base URL `{base}` does not end in /v1: the API version belongs \
                 in the path (API-001)"
            ),
            contradiction: None,
        });
    };
    // An unknown endpoint under /v1: 404 in the error format.
    let unknown = format!("/{}", ctx.unique_name("amp-conformance-no-such-endpoint"));
    let resp = ctx.get(&unknown, None).await?;
    expect::status(&resp, 404)?;
    expect::error_format(&resp)?;
    // /v2 is not a version this provider implements (AMP is v1): 404, never an alias of v1.
    let v2 = format!("{root}/v2/info");
    let resp = ctx.get(&v2, None).await?;
    if resp.is_success() {
        let same = resp.json().is_some_and(|v| Some(v) == info.json())
            || (resp.pointer("/version").is_some()
                && resp.pointer("/version") == info.pointer("/version"));
        if same {
            return fail(format!(
                "GET {v2} answers HTTP {} with the v1 API's info: the provider serves v1 under \
                 /v2, so clients cannot rely on the version in the path (API-001)",
                resp.status
            ));
        }
        return Ok(Outcome::Info(format!(
            "GET {v2} answers HTTP {} with a different info document (a v2 API?)",
            resp.status
        )));
    }
    if resp.status != 404 {
        return Ok(Outcome::Warn {
            reason: format!(
                "GET {v2} answered HTTP {} {}, expected 404 for a version the provider does \
                 not implement (API-001)",
                resp.status,
                code(&resp)
            ),
            contradiction: None,
        });
    }
    expect::error_format(&resp)?;
    pass()
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

// ------------------------------------------------------------------------------------------
// JSON-001 / JSON-007: nulls
// ------------------------------------------------------------------------------------------

async fn payload_null_member(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx.message(&a, &b.address).subject(subject(ctx, "no null"));
    route_ok(ctx, &a, &base.signed()?, "a payload without nulls").await?;
    let payload = json!({"type": "notification", "message": "null member", "note": null});
    let s = subject(ctx, "payload null");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(payload.clone())
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if resp.status == 400 {
        ctx.note(format!(
            "a payload with a null member was refused with 400 {} (the reject reading of C-06)",
            code(&resp)
        ));
        not_delivered(ctx, &b, &s, "JSON-001").await?;
        return pass();
    }
    if !resp.is_success() {
        return fail(format!(
            "a signed payload holding `\"note\": null` must be refused with 400 or delivered \
             unchanged (JSON-001, C-06), got HTTP {} {}{}",
            resp.status,
            code(&resp),
            if resp.status == 403 {
                " (a signature failure suggests the null was stripped before hashing)"
            } else {
                ""
            }
        ));
    }
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    match m.get("payload") {
        Some(p) if *p == payload => pass(),
        Some(p) => fail(format!(
            "the payload was changed in transit: sent {payload}, delivered {p}; stripping the \
             null breaks the payload hash the signature covers (JSON-001, C-06)"
        )),
        None => fail("the delivered message has no payload"),
    }
}

async fn envelope_no_nulls(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "no nulls"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message without optional fields").await?;
    let m = delivered(ctx, &b, &id).await?;
    let mut nulls = Vec::new();
    for part in ["envelope", "payload"] {
        if let Some(v) = m.get(part) {
            null_paths(v, &format!("/{part}"), &mut nulls);
        }
    }
    expect::that(
        nulls.is_empty(),
        format!(
            "the delivered message carries null values at {nulls:?}; absent fields are \
             omitted on the wire, never sent as null (JSON-007)"
        ),
    )?;
    pass()
}

// ------------------------------------------------------------------------------------------
// MESH-012: X-Forwarded-From from a normal client
// ------------------------------------------------------------------------------------------

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
    let hash = payload_hash(&payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let fields = SigningFields {
        from: &victim.address,
        to: &b.address,
        subject: &s,
        priority: Priority::Normal,
        in_reply_to: None,
        payload_hash: &hash,
    };
    let sig = sign_fields(&a.key, &fields).to_base64();
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(payload)
        .field("from", json!(victim.address.clone()))
        .signature(sig);
    let resp = crate::routing::route_via_mesh_header(
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

// ------------------------------------------------------------------------------------------
// NOTIFY-001 / NOTIFY-005
// ------------------------------------------------------------------------------------------

async fn route_basis(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "basis"))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::status(&resp, 200)?;
    match resp.pointer("/basis").and_then(Value::as_str) {
        Some(b) if BASES.contains(&b) => pass(),
        Some(b) => fail(format!(
            "route response `basis` is `{b}`, not one of {BASES:?} (NOTIFY-001)"
        )),
        None => fail(
            "the route response carries no `basis` although the provider advertises notify:v1 \
             (NOTIFY-001)",
        ),
    }
}

async fn count_floor(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let bound = PENDING_PER_MINUTE + PENDING_MARGIN;
    let url = ctx.target().url("/messages/pending");
    let started = Instant::now();
    let mut limited = false;
    for _ in 0..bound {
        if started.elapsed() > BURST_WINDOW {
            break;
        }
        let req = amp_client::Req::new(Method::GET, url.clone()).bearer(&a.api_key);
        if ctx.send_once(req).await?.status == 429 {
            limited = true;
            break;
        }
    }
    if !limited {
        return Ok(Outcome::Skip(format!(
            "no 429 after {bound} pickups: the pickup budget is higher than the case is \
             willing to spend, so no limit is in force to test NOTIFY-005 against"
        )));
    }
    let req = amp_client::Req::new(Method::GET, ctx.target().url("/messages/pending/count"))
        .bearer(&a.api_key);
    let resp = ctx.send_once(req).await?;
    if resp.status == 429 {
        return fail(
            "with the pickup budget spent, the first GET /messages/pending/count was refused \
             with 429: at least one count request per 10 s is allowed regardless of other \
             limits (NOTIFY-005)",
        );
    }
    expect::status(&resp, 200)?;
    pass()
}

// ------------------------------------------------------------------------------------------
// RTE-016 / RTE-024
// ------------------------------------------------------------------------------------------

async fn relay_expires_at(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "expiry"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message").await?;
    let m = delivered(ctx, &b, &id).await?;
    let ts = |f: &str| {
        let text = m.get(f).and_then(Value::as_str).unwrap_or_default();
        amp_core::parse_rfc3339(text)
            .map_err(|e| Failure::Fail(format!("queue entry `{f}` `{text}` is not RFC 3339: {e}")))
    };
    let queued = ts("queued_at")?;
    let expires = ts("expires_at")?;
    let ttl = expires - queued;
    expect::that(
        (ttl - RELAY_TTL_SECS).abs() <= TTL_SLACK_SECS,
        format!(
            "queue entry expires_at is {ttl} s after queued_at; without an envelope expiry it \
             is queued_at + 7 days = {RELAY_TTL_SECS} s (RTE-016)"
        ),
    )?;
    pass()
}

async fn options_receipt(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "receipt true"))
        .field("options", json!({"receipt": true}))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "a signed message with the documented `options: {{receipt: true}}` was refused \
             (HTTP {} {}); `receipt` is the one option a route body carries (RTE-024)",
            resp.status,
            code(&resp)
        ));
    }
    // Nothing requires refusing other values: what the provider does with them is reported.
    let mut seen = Vec::new();
    for (what, options) in [
        (
            "a non-boolean `receipt` (\"yes\")",
            json!({"receipt": "yes"}),
        ),
        (
            "an unknown option next to `receipt`",
            json!({"receipt": false, "amp_conformance_unknown": true}),
        ),
    ] {
        let body = ctx
            .message(&a, &b.address)
            .subject(subject(ctx, "options variant"))
            .field("options", options)
            .signed()?;
        let resp = ctx.route(&a, &body).await?;
        if resp.status >= 500 {
            return fail(format!(
                "{what} answered HTTP {}: a provider validates or ignores options, it never \
                 breaks on them (RTE-024)",
                resp.status
            ));
        }
        seen.push(format!(
            "{what}: {}",
            if resp.is_success() {
                "accepted".to_string()
            } else {
                format!("refused with HTTP {} {}", resp.status, code(&resp))
            }
        ));
    }
    ctx.note(format!(
        "options.receipt true accepted; {} (RTE-024 defines only a boolean `receipt` and \
         requires no refusal of other values)",
        seen.join("; ")
    ));
    pass()
}

// ------------------------------------------------------------------------------------------
// SEC-003: signature failure codes
// ------------------------------------------------------------------------------------------

async fn signature_failure_codes(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx.message(&a, &b.address).subject(subject(ctx, "signed"));
    route_ok(ctx, &a, &base.signed()?, "the signed message").await?;
    let unsigned = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "unsigned"))
        .unsigned();
    let missing = ctx.route(&a, &unsigned).await?;
    let mb = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "bad signature"));
    let mut bytes = a.key.sign(mb.canonical()?.as_bytes()).to_bytes();
    bytes[20] ^= 0x01;
    let bad = mb.signature(Signature::from_bytes(bytes).to_base64());
    let invalid = ctx.route(&a, &bad).await?;
    // The statuses are the behaviour SEC-003 fixes; a different spelling of the code at the
    // right status is one run-wide finding.
    let mut problems = Vec::new();
    let mut local_unsigned = None;
    if missing.is_success() {
        // SIG-003: a provider MAY accept unsigned messages from its own local agents (C-40).
        local_unsigned = Some(missing.status);
    } else if missing.status == 422 {
        code_matches(ctx, &missing, "signature_missing", "SEC-003");
    } else {
        problems.push(format!(
            "a missing signature answered HTTP {} `{}`, expected 422 signature_missing",
            missing.status,
            code(&missing)
        ));
    }
    if invalid.status == 403 {
        code_matches(ctx, &invalid, "signature_invalid", "SEC-003");
    } else {
        problems.push(format!(
            "a signature that does not verify answered HTTP {} `{}`, expected 403 \
             signature_invalid",
            invalid.status,
            code(&invalid)
        ));
    }
    expect::no_problems(&problems, "SEC-003")?;
    match local_unsigned {
        None => amp_runner::judge_reading(
            ctx.contradictions().signing,
            amp_runner::SigningPolicy::Required,
            "an unsigned message between two local agents was refused",
        ),
        Some(status) => amp_runner::judge_reading(
            ctx.contradictions().signing,
            amp_runner::SigningPolicy::LocalRelaxed,
            &format!(
                "an unsigned message between two local agents was accepted (HTTP {status}); \
                 SIG-003 allows that for trusted local agents, so the 422 signature_missing \
                 refusal could not be observed"
            ),
        ),
    }
}

// ------------------------------------------------------------------------------------------
// RL-001: budgets are per agent
// ------------------------------------------------------------------------------------------

fn header_u64(resp: &Resp, name: &str) -> Option<u64> {
    resp.header(name).and_then(|v| v.trim().parse().ok())
}

async fn per_agent_budget(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let mut a_used = 0;
    let mut limit = None;
    for _ in 0..RL_PROBE_REQUESTS {
        let r = ctx.get("/agents/me", Some(&a)).await?;
        expect::success(&r)?;
        if let (Some(l), Some(rem)) = (
            header_u64(&r, "X-RateLimit-Limit"),
            header_u64(&r, "X-RateLimit-Remaining"),
        ) {
            limit = Some(l);
            a_used = l.saturating_sub(rem);
        }
    }
    let Some(limit) = limit else {
        return Ok(Outcome::Skip(
            "responses carry no X-RateLimit-Limit/Remaining (RL-003), so the per-agent budget \
             cannot be observed"
                .to_string(),
        ));
    };
    if a_used < RL_PROBE_REQUESTS / 2 {
        return Ok(Outcome::Skip(format!(
            "after {RL_PROBE_REQUESTS} requests agent A's budget shows only {a_used} used (a \
             window reset?); cannot compare"
        )));
    }
    let r = ctx.get("/agents/me", Some(&b)).await?;
    expect::success(&r)?;
    let Some(b_rem) = header_u64(&r, "X-RateLimit-Remaining") else {
        return fail("the second agent's response lacks X-RateLimit-Remaining (RL-003)");
    };
    let b_used = limit.saturating_sub(b_rem);
    expect::that(
        b_used < a_used,
        format!(
            "agent B's first request shows {b_used} of {limit} requests used, after agent A \
             used {a_used}: the budget is shared, not per agent (RL-001)"
        ),
    )?;
    pass()
}

// ------------------------------------------------------------------------------------------
// WH-011: webhook URL validated on update too
// ------------------------------------------------------------------------------------------

async fn patch_private_webhook(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let ok = ctx
        .patch_json("/agents/me", &json!({"alias": "amp-conformance"}), Some(&a))
        .await?;
    if !ok.is_success() {
        return fail(format!(
            "baseline: PATCH /agents/me {{alias}} answered HTTP {} {} (REG-021), so the case \
             cannot judge WH-011",
            ok.status,
            code(&ok)
        ));
    }
    let url = "https://10.0.0.1/hook";
    let resp = ctx
        .patch_json(
            "/agents/me",
            &json!({"delivery": {"webhook_url": url}}),
            Some(&a),
        )
        .await?;
    let me = ctx.get("/agents/me", Some(&a)).await?;
    let stored = me
        .pointer("/delivery/webhook_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if resp.is_success() || stored == url {
        return fail(format!(
            "PATCH /agents/me accepted the private webhook URL {url} (HTTP {}); webhook URLs \
             are validated at update time as at registration (WH-011, WH-012)",
            resp.status
        ));
    }
    expect::status(&resp, 400)?;
    pass()
}

// ------------------------------------------------------------------------------------------
// IDEM-003 / MSG-011
// ------------------------------------------------------------------------------------------

async fn idempotency_later(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("later"));
    let s = subject(ctx, "idempotent later");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    let first = route_ok(ctx, &a, &body, "the first send").await?;
    // Other traffic with other keys in between, then a pause.
    for i in 0..3 {
        let other = ctx
            .message(&a, &b.address)
            .subject(subject(ctx, &format!("in between {i}")))
            .field(
                "idempotency_key",
                json!(format!("idk_{}", ctx.unique_name("between"))),
            )
            .signed()?;
        route_ok(ctx, &a, &other, "an unrelated idempotent send").await?;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "repeating the first request later in the run answered HTTP {} {}; its \
             idempotency key must still be known (IDEM-003: at least 24 h)",
            resp.status,
            code(&resp)
        ));
    }
    let again = route_id(&resp)?;
    expect::that(
        again == first,
        format!(
            "the repeated request got a new id ({again}) instead of the original ({first}): the \
             idempotency key was forgotten after a few seconds and other sends (IDEM-003)"
        ),
    )?;
    let copies = pending_list(ctx, &b, "")
        .await?
        .iter()
        .filter(|m| entry_subject(m) == Some(s.as_str()))
        .count();
    expect::that(
        copies == 1,
        format!("the recipient holds {copies} copies of the idempotent message (IDEM-003)"),
    )?;
    pass()
}

async fn thread_reply(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "thread root"))
        .signed()?;
    let root = route_ok(ctx, &a, &body, "the first message").await?;
    let m1 = delivered(ctx, &b, &root).await?;
    let body = ctx
        .message(&b, &a.address)
        .subject(subject(ctx, "reply"))
        .in_reply_to(root.clone())
        .signed()?;
    let reply = route_ok(ctx, &b, &body, "a reply").await?;
    let m2 = delivered(ctx, &a, &reply).await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "reply to reply"))
        .in_reply_to(reply.clone())
        .signed()?;
    let second = route_ok(ctx, &a, &body, "a reply to the reply").await?;
    let m3 = delivered(ctx, &b, &second).await?;
    let thread = |m: &Value| {
        m.pointer("/envelope/thread_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut problems = Vec::new();
    for (what, m, id) in [
        ("the first message", &m1, &root),
        ("the reply", &m2, &reply),
        ("the reply to the reply", &m3, &second),
    ] {
        let t = thread(m);
        if t != root {
            problems.push(format!(
                "{what} ({}) has thread_id `{t}`, expected the root `{root}`",
                entry_id(m).unwrap_or(id)
            ));
        }
    }
    if problems.is_empty() {
        return pass();
    }
    Ok(Outcome::Warn {
        reason: format!(
            "thread_id is the id of the thread's first message (MSG-011): {}",
            problems.join("; ")
        ),
        contradiction: Some("C-72"),
    })
}

// ------------------------------------------------------------------------------------------
// Table
// ------------------------------------------------------------------------------------------

const NOTIFY: &[Need] = &[Need::Capability("notify:v1")];

pub static CASES: &[Case] = &[
    Case {
        id: "register.name-taken.recased",
        title: "A taken name in another letter case does not create a second agent",
        clauses: &["ADDR-006", "ADDR-005", "REG-007"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "Registering NAME when name is taken is refused (409 name_taken) and the \
                      existing agent keeps working.",
        run: |ctx| Box::pin(name_taken_recased(ctx)),
    },
    Case {
        id: "route.to.short-address",
        title: "A short `to` is expanded to the full address before delivery",
        clauses: &["ADDR-009", "C-10"],
        level: Level::Must,
        section: Section::Addressing,
        needs: &[],
        expectation: "A message to `name@tenant` is delivered with envelope.to = the full \
                      address (refusal warns, C-10).",
        run: |ctx| Box::pin(to_short_address(ctx)),
    },
    Case {
        id: "discovery.version.path",
        title: "The API version lives in the path; unknown versions and paths answer 404",
        clauses: &["API-001", "API-007"],
        level: Level::Must,
        section: Section::Discovery,
        needs: &[],
        expectation: "The base URL ends in /v1; /v2/info and unknown /v1 paths answer 404 in \
                      the error format.",
        run: |ctx| Box::pin(version_path(ctx)),
    },
    Case {
        id: "agents.list.pagination",
        title: "GET /agents pages with limit and cursor and reports total and has_more",
        clauses: &["API-011", "AGT-002"],
        level: Level::Must,
        section: Section::Registration,
        needs: &[],
        expectation: "Three agents, limit=2: a page of 2 with total 3, has_more and a cursor, \
                      then a page of 1 with has_more false; each agent listed once.",
        run: |ctx| Box::pin(agents_pagination(ctx)),
    },
    Case {
        id: "route.payload.null-member",
        title: "A null inside payload is refused or delivered unchanged, never stripped",
        clauses: &["JSON-001", "C-06"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "A signed payload with a null member answers 400 or is delivered \
                      byte-for-byte equal.",
        run: |ctx| Box::pin(payload_null_member(ctx)),
    },
    Case {
        id: "route.envelope.no-nulls",
        title: "Delivered envelopes carry no null values",
        clauses: &["JSON-007"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "A message without optional fields is delivered with those fields \
                      omitted, not null.",
        run: |ctx| Box::pin(envelope_no_nulls(ctx)),
    },
    Case {
        id: "route.from.mesh-header",
        title: "X-Forwarded-From from an ordinary client does not make a forged `from` stick",
        clauses: &["MESH-012", "SIG-013", "C-38"],
        level: Level::Must,
        section: Section::Security,
        needs: &[],
        expectation: "A route with X-Forwarded-From and another agent's `from` is refused or \
                      delivered as coming from the authenticated sender.",
        run: |ctx| Box::pin(from_mesh_header(ctx)),
    },
    Case {
        id: "route.basis",
        title: "Route responses carry the delivery basis",
        clauses: &["NOTIFY-001"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "POST /route answers with `basis` in mailbox_written, socket_written, \
                      webhook_2xx, queued.",
        run: |ctx| Box::pin(route_basis(ctx)),
    },
    Case {
        id: "relay.count.floor",
        title: "The count endpoint stays available when the pickup budget is spent",
        clauses: &["NOTIFY-005"],
        level: Level::Must,
        section: Section::Notify,
        needs: NOTIFY,
        expectation: "After pickups hit 429, one GET /messages/pending/count still answers 200.",
        run: |ctx| Box::pin(count_floor(ctx)),
    },
    Case {
        id: "relay.expires-at",
        title: "A queue entry expires seven days after it was queued",
        clauses: &["RTE-016"],
        level: Level::Must,
        section: Section::Relay,
        needs: &[],
        expectation: "Without an envelope expiry, expires_at = queued_at + 7 days.",
        run: |ctx| Box::pin(relay_expires_at(ctx)),
    },
    Case {
        id: "route.options.receipt",
        title: "The documented `options.receipt` is accepted",
        clauses: &["RTE-024"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route body with `options: {receipt: true}` is accepted; how a \
                      non-boolean `receipt` or an unknown option is treated is reported \
                      (nothing requires refusing them).",
        run: |ctx| Box::pin(options_receipt(ctx)),
    },
    Case {
        id: "route.signature.failure-codes",
        title: "Signature failures answer with their spec codes",
        clauses: &["SEC-003", "SIG-002", "SIG-015"],
        level: Level::Must,
        section: Section::Security,
        needs: &[],
        expectation: "No signature: 422 signature_missing; a signature that does not verify: \
                      403 signature_invalid.",
        run: |ctx| Box::pin(signature_failure_codes(ctx)),
    },
    Case {
        id: "ratelimit.per-agent",
        title: "Request budgets are counted per agent",
        clauses: &["RL-001", "RL-003"],
        level: Level::Must,
        section: Section::RateLimits,
        needs: &[],
        expectation: "Ten requests by agent A do not show up in agent B's \
                      X-RateLimit-Remaining.",
        run: |ctx| Box::pin(per_agent_budget(ctx)),
    },
    Case {
        id: "register.webhook.patch-private-url",
        title: "PATCH /agents/me validates the webhook URL like registration",
        clauses: &["WH-011", "WH-012", "REG-021"],
        level: Level::Must,
        section: Section::Webhooks,
        needs: &[],
        expectation: "PATCH delivery.webhook_url = https://10.0.0.1/hook answers 400 and the \
                      URL is not stored.",
        run: |ctx| Box::pin(patch_private_webhook(ctx)),
    },
    Case {
        id: "route.idempotency.later",
        title: "An idempotency key is still honoured later in the run",
        clauses: &["IDEM-003", "IDEM-004"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "After other sends and a pause, repeating the first request returns its \
                      original id and delivers no second copy.",
        run: |ctx| Box::pin(idempotency_later(ctx)),
    },
    Case {
        id: "route.thread.reply",
        title: "Replies join the thread of the message they answer",
        clauses: &["MSG-011", "C-72"],
        level: Level::Should,
        section: Section::Messages,
        needs: &[],
        expectation: "A reply and a reply to the reply carry the first message's id as \
                      thread_id (warning only, C-72).",
        run: |ctx| Box::pin(thread_reply(ctx)),
    },
];
