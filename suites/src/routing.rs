//! Messages, signing and routing (spec 04 Messages, 05 Routing, 07 Security, 08 Send Message).
//!
//! Every case talks to the target only through the spec'd REST surface: `POST /route`,
//! `GET /messages/pending` (to observe what a recipient actually receives) and registration.
//! Negative cases first show that the same agents and the same message shape are accepted
//! when nothing is wrong, so a target that refuses everything cannot pass them, and then
//! check the status AND the error code, so a refusal for another reason is not a pass.

use amp_core::signing::{Priority, SigningFields, sign_fields};
use amp_core::{IdStrictness, MessageId, PayloadProfile, Signature, payload_hash};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Outcome, Resp, Section, expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::Duration;

/// How long a correct provider may take to put an accepted message into the recipient's
/// relay queue. Routing is synchronous in every provider we know; 5 s leaves room for a
/// loaded target without slowing the suite when things work.
pub(crate) const DELIVERY_WAIT: Duration = Duration::from_secs(5);

/// RTE-003 status values.
const ROUTE_STATUSES: [&str; 4] = ["delivered", "queued", "quarantined", "failed"];
/// RTE-003 method values.
const ROUTE_METHODS: [&str; 5] = ["websocket", "webhook", "relay", "mesh", "local"];

// ------------------------------------------------------------------------------------------
// Shared helpers (also used by relay.rs)
// ------------------------------------------------------------------------------------------

/// A subject no other message of the run carries, so a case can find (or miss) exactly its
/// own message in a queue.
pub(crate) fn subject(ctx: &Ctx, what: &str) -> String {
    format!("{what} {}", ctx.unique_name("s"))
}

/// Queue entry id: RTE-015 entries carry `id`; fall back to `envelope.id`.
pub(crate) fn entry_id(m: &Value) -> Option<&str> {
    m.get("id")
        .and_then(Value::as_str)
        .or_else(|| m.pointer("/envelope/id").and_then(Value::as_str))
}

/// `envelope.subject` of a queue entry.
pub(crate) fn entry_subject(m: &Value) -> Option<&str> {
    m.pointer("/envelope/subject").and_then(Value::as_str)
}

/// `id` of a route response (RTE-003).
pub(crate) fn route_id(resp: &Resp) -> Result<String, Failure> {
    match expect::json_str(resp, "/id") {
        Ok(id) if !id.is_empty() => Ok(id.to_string()),
        Ok(_) => fail("the route response carries an empty `id` (RTE-003)"),
        Err(e) => Err(e),
    }
}

/// Route `body` as `from` and require acceptance: the positive baseline of a case.
pub(crate) async fn route_ok(
    ctx: &mut Ctx,
    from: &Agent,
    body: &Value,
    what: &str,
) -> Result<String, Failure> {
    let resp = ctx.route(from, body).await?;
    if !resp.is_success() {
        return fail(format!(
            "baseline: {what} was refused (HTTP {} {}); a correctly signed route from a \
             registered agent must be accepted (RTE-002), so the case cannot judge its clause",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    route_id(&resp)
}

/// Wait until message `id` shows up in `to`'s pending queue and return its entry.
pub(crate) async fn delivered(ctx: &mut Ctx, to: &Agent, id: &str) -> Result<Value, Failure> {
    let want = id.to_string();
    match ctx
        .wait_pending(
            to,
            move |m| entry_id(m) == Some(want.as_str()),
            DELIVERY_WAIT,
        )
        .await?
    {
        Some(m) => Ok(m),
        None => fail(format!(
            "message {id} was accepted but did not appear in the recipient's \
             GET /messages/pending within {} s (RTE-015)",
            DELIVERY_WAIT.as_secs()
        )),
    }
}

/// `GET /messages/pending{query}` as `agent`: the `messages` array (200 required, RTE-015).
pub(crate) async fn pending_list(
    ctx: &mut Ctx,
    agent: &Agent,
    query: &str,
) -> Result<Vec<Value>, Failure> {
    let resp = ctx
        .get(&format!("/messages/pending{query}"), Some(agent))
        .await?;
    expect::status(&resp, 200)?;
    match resp.pointer("/messages").and_then(Value::as_array) {
        Some(a) => Ok(a.clone()),
        None => fail("GET /messages/pending answered 200 without a `messages` array (RTE-015)"),
    }
}

/// The message with `subject` must not be in `agent`'s queue.
pub(crate) async fn not_delivered(
    ctx: &mut Ctx,
    agent: &Agent,
    subject: &str,
    why: &str,
) -> Result<(), Failure> {
    let msgs = pending_list(ctx, agent, "").await?;
    if msgs.iter().any(|m| entry_subject(m) == Some(subject)) {
        return fail(format!(
            "the refused message was delivered to the recipient anyway ({why})"
        ));
    }
    Ok(())
}

/// Sign an arbitrary canonical string with `key` (standard padded Base64, SIG-011).
fn sign_text(key: &amp_core::SecretKey, canonical: &str) -> String {
    key.sign(canonical.as_bytes()).to_base64()
}

/// A 400 refusing a field value. API-008 names `invalid_field` for failed field
/// validation; another 400 code is reported as a warning, anything else fails.
fn field_refused(resp: &Resp, clause: &str, what: &str) -> CaseResult {
    if resp.status == 400 && resp.error_code() == Some("invalid_field") {
        return pass();
    }
    if resp.status == 400 {
        return Ok(Outcome::Warn {
            reason: format!(
                "{what} was refused with 400 but error `{}`; API-008 reserves `invalid_field` \
                 for field validation failures ({clause})",
                resp.error_code().unwrap_or("<none>")
            ),
            contradiction: None,
        });
    }
    fail(format!(
        "{what} must be refused with 400 invalid_field ({clause}), got HTTP {} {}",
        resp.status,
        resp.error_code().unwrap_or("")
    ))
}

/// The same local name space, one more agent: a fresh, unregistered address at the
/// recipient's provider and tenant (everything after the `@` of a registered address).
fn unregistered_address(ctx: &Ctx, like: &Agent) -> String {
    let domain = like.address.split_once('@').map(|x| x.1).unwrap_or("");
    format!("{}@{domain}", ctx.unique_name("nobody"))
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

async fn route_accepted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let s = subject(ctx, "accepted");
    let body = ctx.message(&a, &b.address).subject(s).signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::status(&resp, 200)?;
    let id = route_id(&resp)?;
    let status = expect::json_str(&resp, "/status")?;
    expect::that(
        ROUTE_STATUSES.contains(&status),
        format!("route `status` is `{status}`, not one of {ROUTE_STATUSES:?} (RTE-003)"),
    )?;
    let method = expect::json_str(&resp, "/method")?;
    expect::that(
        ROUTE_METHODS.contains(&method),
        format!("route `method` is `{method}`, not one of {ROUTE_METHODS:?} (RTE-003)"),
    )?;
    if let Some(d) = resp.pointer("/delivered_at") {
        expect::that(
            d.is_string() || d.is_null(),
            "route `delivered_at` is present but not a timestamp string (RTE-003)",
        )?;
    }
    delivered(ctx, &b, &id).await?;
    pass()
}

async fn route_envelope_shape(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let s = subject(ctx, "envelope shape");
    let payload =
        json!({"type": "notification", "message": "envelope shape", "context": {"k": "v"}});
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .priority(Some(Priority::High))
        .payload(payload.clone())
        .signed()?;
    let sig = body
        .get("signature")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let id = route_ok(ctx, &a, &body, "a signed message").await?;
    let m = delivered(ctx, &b, &id).await?;
    let Some(env) = m.get("envelope").and_then(Value::as_object) else {
        return fail("the queue entry has no `envelope` object (MSG-001, RTE-015)");
    };
    let mut problems: Vec<String> = Vec::new();
    for f in [
        "version",
        "id",
        "from",
        "to",
        "subject",
        "timestamp",
        "signature",
        "thread_id",
    ] {
        match env.get(f).and_then(Value::as_str) {
            Some(v) if !v.is_empty() => {}
            _ => problems.push(format!(
                "required envelope field `{f}` missing or empty (MSG-001)"
            )),
        }
    }
    let get = |f: &str| env.get(f).and_then(Value::as_str).unwrap_or_default();
    if get("id") != id {
        problems.push(format!(
            "envelope.id `{}` differs from the id `{id}` the route response returned",
            get("id")
        ));
    }
    // MSG-007 / C-12: the schema alphabet `[A-Za-z0-9]` is the MUST (and `/ \ .. NUL` are
    // never allowed, ATT-010: ids end up in paths); the published vectors' lowercase hex is
    // required only when the run declares `--strict-ids`, otherwise a mixed-case id warns.
    let mut id_warn: Option<String> = None;
    match MessageId::parse(&id, IdStrictness::Schema) {
        Err(e) => problems.push(format!(
            "message id `{id}` is invalid: {e} (expected msg_<unix>_<[A-Za-z0-9]+>, {}, C-12)",
            e.rule()
        )),
        Ok(_) => {
            if let Err(e) = MessageId::parse(&id, IdStrictness::Strict) {
                if ctx.contradictions().strict_ids {
                    problems.push(format!(
                        "message id `{id}` breaks the declared --strict-ids reading of C-12: \
                         {e} (expected msg_<unix>_<[a-f0-9]+>, MSG-007)"
                    ));
                } else {
                    id_warn = Some(format!(
                        "message id `{id}` matches the schema but not the lowercase-hex ids of \
                         the published vectors ({e}); declare --strict-ids to require them (C-12)"
                    ));
                }
            }
        }
    }
    if get("to") != b.address {
        problems.push(format!(
            "envelope.to `{}` is not `{}`",
            get("to"),
            b.address
        ));
    }
    if get("subject") != s {
        problems.push("envelope.subject differs from the submitted subject".to_string());
    }
    if env.get("priority").and_then(Value::as_str) != Some("high") {
        problems.push("envelope.priority is not the submitted `high`".to_string());
    }
    if get("signature") != sig {
        problems.push(
            "envelope.signature is not byte-identical to the submitted signature (SIG-011)"
                .to_string(),
        );
    }
    if m.get("payload") != Some(&payload) {
        problems.push("the delivered payload differs from the submitted payload".to_string());
    }
    let from = get("from");
    let mut warn: Option<String> = None;
    if !from.eq_ignore_ascii_case(&a.address) {
        let short = a
            .registration
            .get("short_address")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !short.is_empty() && from == short {
            warn = Some(format!(
                "envelope.from is the sender's short_address `{from}`, not its address `{}`; \
                 the spec does not say which one the provider writes (C-11)",
                a.address
            ));
        } else {
            problems.push(format!(
                "envelope.from `{from}` is not the sending agent `{}`",
                a.address
            ));
        }
    }
    if !problems.is_empty() {
        return fail(problems.join("; "));
    }
    let version = get("version");
    if version != "amp/0.1" {
        if version.starts_with("amp/0.1.") {
            let mut reason =
                format!("envelope.version is `{version}`, expected `amp/0.1` (MSG-002)");
            if let Some(id) = &id_warn {
                reason = format!("{reason}; {id}");
            }
            return Ok(Outcome::Warn {
                reason,
                contradiction: Some("C-14"),
            });
        }
        return fail(format!(
            "envelope.version is `{version}`, expected `amp/0.1` (MSG-002)"
        ));
    }
    match (warn, id_warn) {
        (Some(from), Some(id)) => Ok(Outcome::Warn {
            reason: format!("{from}; {id}"),
            contradiction: Some("C-11"),
        }),
        (Some(reason), None) => Ok(Outcome::Warn {
            reason,
            contradiction: Some("C-11"),
        }),
        (None, Some(reason)) => Ok(Outcome::Warn {
            reason,
            contradiction: Some("C-12"),
        }),
        (None, None) => pass(),
    }
}

async fn route_unsigned(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "signed baseline"));
    route_ok(ctx, &a, &base.signed()?, "the signed message").await?;
    let s = subject(ctx, "unsigned");
    let body = ctx.message(&a, &b.address).subject(s.clone()).unsigned();
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 422, "signature_missing")?;
    not_delivered(ctx, &b, &s, "SIG-002").await?;
    pass()
}

async fn route_signature_invalid(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "valid baseline"));
    route_ok(ctx, &a, &base.signed()?, "the correctly signed message").await?;
    // Same fields, same key, but one bit of R flipped: well-formed Base64 of 64 bytes that
    // cannot verify.
    let s = subject(ctx, "corrupted signature");
    let mb = ctx.message(&a, &b.address).subject(s.clone());
    let mut bytes = a.key.sign(mb.canonical()?.as_bytes()).to_bytes();
    bytes[10] ^= 0x01;
    let body = mb.signature(Signature::from_bytes(bytes).to_base64());
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 403, "signature_invalid")?;
    not_delivered(ctx, &b, &s, "SIG-015").await?;
    pass()
}

async fn route_signature_other_key(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "valid baseline"));
    route_ok(ctx, &a, &base.signed()?, "the correctly signed message").await?;
    let stranger = ctx.new_key();
    let s = subject(ctx, "signed by another key");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .signed_by(&stranger)?;
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 403, "signature_invalid")?;
    not_delivered(ctx, &b, &s, "SIG-015").await?;
    pass()
}

/// Which signed field a SIG-016 case alters after signing.
#[derive(Clone, Copy)]
enum Tamper {
    Subject,
    Priority,
    Payload,
    To,
    InReplyTo,
}

async fn tampered(ctx: &mut Ctx, what: Tamper) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Baseline: a parent message and a correctly signed reply to it are accepted, with the
    // same agents and the same shape as the tampered message below.
    let parent_body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "parent"))
        .signed()?;
    let parent = route_ok(ctx, &a, &parent_body, "the parent message").await?;
    let reply_body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "untampered reply"))
        .priority(Some(Priority::Low))
        .in_reply_to(parent.clone())
        .signed()?;
    let reply = route_ok(ctx, &a, &reply_body, "the untampered message").await?;

    // The message as signed: a low-priority reply to `parent`, addressed to b.
    let s = subject(ctx, "tampered");
    let mut body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .priority(Some(Priority::Low))
        .in_reply_to(parent.clone())
        .signed()?;
    let mut recipient = b;
    let mut observed = s.clone();
    let (field, change) = match what {
        Tamper::Subject => {
            observed = format!("{s} (edited)");
            body["subject"] = json!(observed.clone());
            ("subject", "a subject edited")
        }
        Tamper::Priority => {
            body["priority"] = json!("urgent");
            ("priority", "a priority escalated from low to urgent")
        }
        Tamper::Payload => {
            body["payload"]["message"] = json!("hello from amp-conformance!");
            ("payload", "a payload.message with one character appended")
        }
        Tamper::To => {
            recipient = ctx.agent().await?;
            body["to"] = json!(recipient.address.clone());
            ("to", "a message re-addressed to another agent")
        }
        Tamper::InReplyTo => {
            body["in_reply_to"] = json!(reply);
            ("in_reply_to", "a reply re-pointed at another message")
        }
    };
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 403, "signature_invalid").map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!(
            "{change} after signing (`{field}`) must be refused: {m} (SIG-016)"
        )),
        other => other,
    })?;
    not_delivered(ctx, &recipient, &observed, "SIG-016").await?;
    pass()
}

async fn tampered_subject(ctx: &mut Ctx) -> CaseResult {
    tampered(ctx, Tamper::Subject).await
}
async fn tampered_priority(ctx: &mut Ctx) -> CaseResult {
    tampered(ctx, Tamper::Priority).await
}
async fn tampered_payload(ctx: &mut Ctx) -> CaseResult {
    tampered(ctx, Tamper::Payload).await
}
async fn tampered_to(ctx: &mut Ctx) -> CaseResult {
    tampered(ctx, Tamper::To).await
}
async fn tampered_in_reply_to(ctx: &mut Ctx) -> CaseResult {
    tampered(ctx, Tamper::InReplyTo).await
}

async fn route_signature_encoding_variants(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Find a message whose standard signature contains `+` or `/`, so the URL-safe variant
    // really differs (about 94% of signatures do; 32 tries make a miss negligible).
    let mut chosen = None;
    for _ in 0..32 {
        let s = subject(ctx, "encoding");
        let mb = ctx.message(&a, &b.address).subject(s.clone());
        let sig = sign_text(&a.key, &mb.canonical()?);
        if sig.contains(['+', '/']) {
            chosen = Some((s, sig));
            break;
        }
    }
    let Some((s, sig)) = chosen else {
        return Err(Failure::Error(
            "could not produce a signature containing + or / in 32 tries".to_string(),
        ));
    };
    let standard = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .signature(sig.clone());
    route_ok(ctx, &a, &standard, "the standard padded Base64 signature").await?;

    let url_safe = sig.replace('+', "-").replace('/', "_");
    let unpadded = sig.trim_end_matches('=').to_string();
    let mut spaced = sig.clone();
    spaced.insert(44, '\n');
    spaced.insert(20, ' ');
    let variants = [
        ("URL-safe alphabet", url_safe),
        ("unpadded", unpadded),
        ("embedded whitespace", spaced),
    ];
    let mut accepted = Vec::new();
    for (name, text) in variants {
        let body = ctx
            .message(&a, &b.address)
            .subject(s.clone())
            .signature(text);
        let resp = ctx.route(&a, &body).await?;
        if resp.is_success() {
            accepted.push(name);
        } else if !matches!(resp.status, 400 | 403) {
            return fail(format!(
                "a {name} signature should be refused with 403 signature_invalid or 400, got \
                 HTTP {} {}",
                resp.status,
                resp.error_code().unwrap_or("")
            ));
        }
    }
    if accepted.is_empty() {
        pass()
    } else {
        Ok(Outcome::Warn {
            reason: format!(
                "signature text in non-standard encodings was accepted ({}); SIG-011 specifies \
                 standard padded Base64",
                accepted.join(", ")
            ),
            contradiction: Some("C-56"),
        })
    }
}

async fn route_payload_hash_sorted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Keys deliberately out of lexicographic order at three levels; ASCII only and no floats
    // (C-02, C-03), so the profiles differ only in key order.
    let payload = json!({
        "type": "notification",
        "message": "key order",
        "context": {"zulu": 1, "alpha": {"yankee": true, "bravo": [{"zz": 1, "aa": 2}]}}
    });
    let profile = ctx.profile();
    let s = subject(ctx, "payload hash");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(payload.clone())
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if resp.is_success() {
        return pass();
    }
    if resp.status != 403 || resp.error_code() != Some("signature_invalid") {
        return fail(format!(
            "a message signed with the {profile} payload hash was refused with HTTP {} {} \
             (SIG-008 expects it to verify)",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let own = payload_hash(&payload, profile)
        .map_err(|e| Failure::Error(format!("cannot hash with {profile}: {e}")))?;
    for other in PayloadProfile::ALL {
        let Ok(h) = payload_hash(&payload, other) else {
            continue;
        };
        if other == profile || h == own {
            continue;
        }
        let body = ctx
            .message(&a, &b.address)
            .subject(s.clone())
            .payload(payload.clone())
            .profile(other)
            .signed()?;
        let resp = ctx.route(&a, &body).await?;
        if resp.is_success() {
            return Ok(Outcome::Warn {
                reason: format!(
                    "the provider rejects the {profile} payload hash (SIG-008) but accepts the \
                     {other} one: it implements the `{other}` payload profile"
                ),
                contradiction: Some("C-01"),
            });
        }
    }
    fail(format!(
        "no payload-hash profile verifies: the {profile} signature and every alternative \
         profile were refused with 403 signature_invalid (SIG-008)"
    ))
}

async fn route_from_spoofed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "baseline"));
    route_ok(ctx, &a, &base.signed()?, "the message without `from`").await?;

    // Correctly signed by the sender's own key over the spoofed `from`, so only the check
    // "from == authenticated agent" can reject it.
    let s = subject(ctx, "spoofed from");
    let mb = ctx.message(&a, &b.address).subject(s.clone());
    let payload = json!({"type": "notification", "message": "hello from amp-conformance"});
    let mb = mb.payload(payload.clone());
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
    let body = mb
        .field("from", json!(victim.address.clone()))
        .signature(sig);
    let resp = ctx.route(&a, &body).await?;
    // C-11: the reading the run declared (--from-handling) passes, the others fail; undeclared,
    // `reject` passes and the others warn. Impersonation fails under every reading.
    let declared = ctx.contradictions().from_handling;
    use amp_runner::{FromHandling as Fh, judge_reading};
    if resp.status == 403 {
        if resp.error_code() == Some("signature_invalid") {
            return judge_reading(
                declared,
                Fh::Overwrite,
                "the spoofed `from` was refused as signature_invalid: the provider seems to \
                 substitute the authenticated sender instead of refusing the mismatch with 403 \
                 (SIG-013)",
            );
        }
        return judge_reading(
            declared,
            Fh::Reject,
            "the spoofed `from` was refused with 403",
        );
    }
    if resp.status == 400 {
        return judge_reading(
            declared,
            Fh::Schema,
            &format!(
                "the spoofed `from` was refused with 400 {} instead of 403 (SIG-013)",
                resp.error_code().unwrap_or("")
            ),
        );
    }
    if !resp.is_success() {
        return fail(format!(
            "a route with a spoofed `from` should be refused with 403 (SIG-013), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = route_id(&resp)?;
    let want = id.clone();
    let m = ctx
        .wait_pending(
            &b,
            move |m| entry_id(m) == Some(want.as_str()),
            DELIVERY_WAIT,
        )
        .await?;
    match m
        .as_ref()
        .and_then(|m| m.pointer("/envelope/from"))
        .and_then(Value::as_str)
    {
        Some(f) if f.eq_ignore_ascii_case(&victim.address) => fail(format!(
            "the provider accepted a spoofed `from` and delivered the message as coming from \
             `{f}` although `{}` sent it (SIG-013: impersonation)",
            a.address
        )),
        Some(f) => judge_reading(
            declared,
            Fh::Overwrite,
            &format!(
                "the spoofed `from` was accepted (HTTP {}) and replaced by `{f}` instead of \
                 being refused with 403 (SIG-013)",
                resp.status
            ),
        ),
        None => {
            let reason = format!(
                "the spoofed `from` was accepted (HTTP {}) but message {id} never reached the \
                 recipient; SIG-013 expects a 403 refusal",
                resp.status
            );
            match declared {
                None => Ok(Outcome::Warn {
                    reason,
                    contradiction: Some("C-11"),
                }),
                // No reading loses the message: with a declared reading this is a failure.
                Some(d) => fail(format!(
                    "{reason} (the run declared --from-handling {}, C-11)",
                    amp_runner::Reading::name(d)
                )),
            }
        }
    }
}

async fn route_client_id(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "baseline"));
    route_ok(ctx, &a, &base.signed()?, "the message without id/timestamp").await?;
    let forged_id = "msg_1600000000_0123456789abcdef";
    let forged_ts = "2020-09-13T12:26:40Z";
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "client id"))
        .field("id", json!(forged_id))
        .field("timestamp", json!(forged_ts))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if resp.status == 400 {
        return Ok(Outcome::Warn {
            reason: format!(
                "a route body with client-set id/timestamp was refused with 400 {} (schema \
                 reading); the prose (SIG-006) says the provider overwrites them",
                resp.error_code().unwrap_or("")
            ),
            contradiction: Some("C-41"),
        });
    }
    if !resp.is_success() {
        return fail(format!(
            "a route body with client-set id/timestamp must be accepted with those fields \
             overwritten (SIG-006), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = route_id(&resp)?;
    if id == forged_id {
        return fail("the route response returned the client-chosen id (SIG-006, SIG-004)");
    }
    let m = delivered(ctx, &b, &id).await?;
    let env_id = m.pointer("/envelope/id").and_then(Value::as_str);
    let env_ts = m.pointer("/envelope/timestamp").and_then(Value::as_str);
    if env_id == Some(forged_id) || env_ts == Some(forged_ts) {
        return fail(format!(
            "the delivered envelope kept client-chosen values (id {env_id:?}, timestamp \
             {env_ts:?}); the provider must assign its own (SIG-006)"
        ));
    }
    pass()
}

async fn route_subject_too_long(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let tag = ctx.unique_name("s");
    let mut at_limit = format!("{tag} ");
    while at_limit.len() < 256 {
        at_limit.push('a');
    }
    let over = format!("{at_limit}b");
    let body = ctx.message(&a, &b.address).subject(at_limit).signed()?;
    route_ok(ctx, &a, &body, "a 256-character subject").await?;
    let body = ctx.message(&a, &b.address).subject(over).signed()?;
    let resp = ctx.route(&a, &body).await?;
    field_refused(&resp, "MSG-003", "a 257-character subject")
}

async fn route_priority_invalid(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "priority low"))
        .priority(Some(Priority::Low))
        .signed()?;
    route_ok(ctx, &a, &body, "priority `low`").await?;
    // Signed over the invalid text exactly as sent (SIG-007 layout), so the only thing wrong
    // is the priority value itself.
    let s = subject(ctx, "priority critical");
    let payload = json!({"type": "notification", "message": "hello from amp-conformance"});
    let hash = payload_hash(&payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let canonical = format!("{}|{}|{}|critical||{}", a.address, b.address, s, hash);
    let sig = sign_text(&a.key, &canonical);
    let body = json!({
        "to": b.address, "subject": s, "priority": "critical", "payload": payload, "signature": sig,
    });
    let resp = ctx.route(&a, &body).await?;
    field_refused(&resp, "MSG-004", "priority `critical`")
}

async fn route_payload_missing_type(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "complete payload"))
        .signed()?;
    route_ok(ctx, &a, &body, "a payload with type and message").await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "no payload.type"))
        .payload(json!({"message": "no type here"}))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 400, "missing_field")?;
    pass()
}

async fn route_context_preserved(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Nulls, empty containers, a `|`, a large safe integer, booleans: everything a
    // "helpful" normaliser tends to drop or rewrite. ASCII only (C-02).
    let context = json!({
        "zeta": null,
        "empty": {},
        "list": [],
        "nested": {"inner": null, "deeper": {"e": {}, "arr": [null, {}, [], 0, false, "x"]}},
        "big": 9007199254740991_i64,
        "neg": -42,
        "flag": true,
        "pipe": "a | b",
        "blank": ""
    });
    let payload =
        json!({"type": "notification", "message": "context check", "context": context.clone()});
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "context"))
        .payload(payload)
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if resp.status == 400 {
        return Ok(Outcome::Warn {
            reason: format!(
                "a payload whose context holds nulls/empty objects was refused with 400 {}; \
                 MSG-010 says providers do not validate context",
                resp.error_code().unwrap_or("")
            ),
            contradiction: Some("C-06"),
        });
    }
    expect::success(&resp)?;
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    match m.pointer("/payload/context") {
        Some(got) if *got == context => pass(),
        Some(got) => fail(format!(
            "payload.context was modified in transit (MSG-010): sent {context}, delivered {got}"
        )),
        None => fail("payload.context is missing from the delivered message (MSG-010)"),
    }
}

async fn route_unknown_recipient(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx.message(&a, &b.address).subject(subject(ctx, "known"));
    route_ok(ctx, &a, &base.signed()?, "a message to a registered agent").await?;
    let nobody = unregistered_address(ctx, &b);
    let body = ctx
        .message(&a, &nobody)
        .subject(subject(ctx, "unknown"))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    // C-37: the reading the run declared (--unknown-recipient) passes, the other fails;
    // undeclared, `reject` passes and `queue` warns.
    let declared = ctx.contradictions().unknown_recipient;
    use amp_runner::{UnknownRecipient as Ur, judge_reading};
    if resp.status == 404 && resp.error_code() == Some("not_found") {
        return judge_reading(
            declared,
            Ur::Reject,
            "unknown recipient refused with 404 not_found",
        );
    }
    if resp.status == 404 && declared == Some(Ur::Queue) {
        return judge_reading(
            declared,
            Ur::Reject,
            &format!(
                "unknown recipient refused with 404 {}",
                resp.error_code().unwrap_or("<none>")
            ),
        );
    }
    if resp.status == 404 {
        return Ok(Outcome::Warn {
            reason: format!(
                "unknown recipient refused with 404 but error `{}` (API-008 lists `not_found`)",
                resp.error_code().unwrap_or("<none>")
            ),
            contradiction: Some("C-37"),
        });
    }
    if resp.is_success() {
        return judge_reading(
            declared,
            Ur::Queue,
            &format!(
                "a message to the unregistered address {nobody} was accepted (HTTP {}, status \
                 {:?}) instead of refused with 404 not_found (AGT-003)",
                resp.status,
                resp.pointer("/status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        );
    }
    fail(format!(
        "a message to an unregistered address must be refused with 404 not_found (AGT-003), \
         got HTTP {} {}",
        resp.status,
        resp.error_code().unwrap_or("")
    ))
}

async fn route_message_too_large(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let at_limit = "a".repeat(65_536);
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "64 KiB body"))
        .payload(json!({"type": "notification", "message": at_limit}))
        .signed()?;
    route_ok(ctx, &a, &body, "a 65,536-byte payload.message").await?;
    let over = "a".repeat(65_537);
    let s = subject(ctx, "64 KiB + 1 body");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(json!({"type": "notification", "message": over}))
        .signed()?;
    let resp = ctx.route_oversized(&a, &body, "MSG-014").await?;
    // C-44: the error code for an over-limit message is unspecified; any refusal passes.
    expect::rejected(&resp)?;
    not_delivered(ctx, &b, &s, "MSG-014").await?;
    pass()
}

async fn route_in_reply_to_null(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Signed with in_reply_to = "" (SIG-007), sent as an explicit JSON null (08 examples).
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "in_reply_to null"))
        .field("in_reply_to", Value::Null)
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if resp.is_success() {
        let id = route_id(&resp)?;
        delivered(ctx, &b, &id).await?;
        return pass();
    }
    if resp.status == 400 {
        return Ok(Outcome::Warn {
            reason: format!(
                "`\"in_reply_to\": null` was refused with 400 {} (the spec's own examples send \
                 it)",
                resp.error_code().unwrap_or("")
            ),
            contradiction: Some("C-05"),
        });
    }
    fail(format!(
        "a route with `\"in_reply_to\": null` signed over an empty in_reply_to must verify \
         (SIG-007), got HTTP {} {}",
        resp.status,
        resp.error_code().unwrap_or("")
    ))
}

async fn route_priority_omitted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // `priority(None)` omits the field and signs `normal` (C-07).
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "no priority"))
        .priority(None)
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "a route without `priority`, signed with the default `normal`, must verify \
             (SIG-007, MSG-004), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    match m.pointer("/envelope/priority") {
        None | Some(Value::Null) => pass(),
        Some(Value::String(p)) if p == "normal" => pass(),
        Some(p) => fail(format!(
            "a message sent without priority was delivered with priority {p}; the default is \
             `normal` (MSG-004)"
        )),
    }
}

async fn route_idempotency_repeat(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("amp-conformance"));
    let s = subject(ctx, "idempotent");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    let first = route_ok(ctx, &a, &body, "the first send").await?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "repeating a request with the same idempotency_key must return the original \
             response (IDEM-004), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let second = route_id(&resp)?;
    if second != first {
        return fail(format!(
            "the repeated request got a new id ({second}) instead of the original ({first}): \
             the message was routed again (IDEM-004)"
        ));
    }
    delivered(ctx, &b, &first).await?;
    let copies = pending_list(ctx, &b, "")
        .await?
        .iter()
        .filter(|m| entry_subject(m) == Some(s.as_str()))
        .count();
    expect::that(
        copies == 1,
        format!("the recipient holds {copies} copies of the idempotent message (IDEM-004)"),
    )?;
    pass()
}

async fn route_idempotency_conflict(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let key = format!("idk_{}", ctx.unique_name("amp-conformance"));
    let s = subject(ctx, "idempotency conflict");
    let body = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .field("idempotency_key", json!(key))
        .signed()?;
    route_ok(ctx, &a, &body, "the first send").await?;
    // Same key, different payload.message (C-46: this difference stays a MUST).
    let body = ctx
        .message(&a, &b.address)
        .subject(s)
        .payload(json!({"type": "notification", "message": "a different body"}))
        .field("idempotency_key", json!(key))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::error(&resp, 409, "duplicate_idempotency_key")?;
    pass()
}

async fn route_single_delivery(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "once"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "the message").await?;
    delivered(ctx, &b, &id).await?;
    // Give a provider with asynchronous fan-out a moment to produce a second copy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let copies = pending_list(ctx, &b, "")
        .await?
        .iter()
        .filter(|m| entry_id(m) == Some(id.as_str()))
        .count();
    expect::that(
        copies == 1,
        format!(
            "message {id} is in the recipient's queue {copies} times; a provider never delivers \
             the same id twice (REPLAY-005)"
        ),
    )?;
    pass()
}

/// Security metadata of a delivered message, wherever the provider put it (C-32).
fn security_meta(m: &Value) -> Option<&Value> {
    [
        "/security",
        "/local/security",
        "/payload/security",
        "/envelope/security",
    ]
    .iter()
    .find_map(|p| m.pointer(p))
}

/// `wrapped: true` in the security metadata.
fn marked_wrapped(m: &Value) -> bool {
    security_meta(m)
        .and_then(|s| s.get("wrapped"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The TRUST-002 wrapper: an `<external-content …>` block around the text.
fn looks_wrapped(text: &str) -> bool {
    text.contains("<external-content") && text.contains("</external-content>")
}

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
    let delivered_text = m
        .pointer("/payload/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rewritten = delivered_text != text;
    let wrapped_text = looks_wrapped(delivered_text);
    let marker = marked_wrapped(&m);
    if !wrapped_text && !marker {
        return fail(
            "a message from another tenant (trust `external`) was delivered with neither an \
             <external-content> wrapper nor `wrapped: true` security metadata (TRUST-002)",
        );
    }
    if wrapped_text {
        let mut problems = Vec::new();
        if !delivered_text.contains("trust=\"external\"") {
            problems.push("the wrapper lacks trust=\"external\"");
        }
        if !delivered_text.contains(&a.address) {
            problems.push("the wrapper does not name the sender");
        }
        if !delivered_text.contains(text) {
            problems.push("the original content is not inside the wrapper");
        }
        if !problems.is_empty() {
            return fail(format!(
                "the external-content wrapper is malformed: {} (TRUST-002)",
                problems.join(", ")
            ));
        }
    }
    if rewritten && !marker {
        return Ok(Outcome::Warn {
            reason: "payload.message was rewritten with the wrapper but nothing marks the \
                     rewrite (`wrapped: true`), so the recipient's signature check fails \
                     silently"
                .to_string(),
            contradiction: Some("C-31"),
        });
    }
    pass()
}

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

async fn route_to_case_insensitive(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let Some((local, domain)) = b.address.split_once('@') else {
        return Err(Failure::Error(format!(
            "registered address `{}` has no @",
            b.address
        )));
    };
    let mixed = format!("{}@{domain}", local.to_ascii_uppercase());
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
    if resp.status == 400 {
        return Ok(Outcome::Info(format!(
            "a mixed-case `to` was refused with 400 {} (allowed reading of C-09)",
            resp.error_code().unwrap_or("")
        )));
    }
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
    Ok(Outcome::Warn {
        reason: format!(
            "the provider delivered the message with `to` re-cased to `{to}` while the \
             signature covers `{mixed}`: recipients cannot verify it"
        ),
        contradiction: Some("C-09"),
    })
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "route.accepted",
        title: "A signed message to a registered agent is accepted and queued",
        clauses: &["RTE-002", "RTE-003"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "POST /route answers 200 {id, status, method} with spec values and the \
                      recipient finds the message in its pending queue.",
        run: |ctx| Box::pin(route_accepted(ctx)),
    },
    Case {
        id: "route.envelope.shape",
        title: "The delivered envelope carries every required field, unchanged",
        clauses: &["MSG-001", "MSG-002", "MSG-007", "SIG-011"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "The delivered envelope has version amp/0.1, a schema-valid id equal to \
                      the route id, from/to/subject/priority as sent and the submitted \
                      signature byte for byte.",
        run: |ctx| Box::pin(route_envelope_shape(ctx)),
    },
    Case {
        id: "route.unsigned",
        title: "A route request without signature is refused",
        clauses: &["SIG-002"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route body without `signature` answers 422 signature_missing and is \
                      not delivered.",
        run: |ctx| Box::pin(route_unsigned(ctx)),
    },
    Case {
        id: "route.signature.invalid",
        title: "A corrupted signature is refused",
        clauses: &["SIG-015"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A signature with one flipped bit answers 403 signature_invalid and is \
                      not delivered.",
        run: |ctx| Box::pin(route_signature_invalid(ctx)),
    },
    Case {
        id: "route.signature.other-key",
        title: "A signature by a key other than the sender's registered key is refused",
        clauses: &["SIG-015"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A message signed with an unregistered key answers 403 \
                      signature_invalid.",
        run: |ctx| Box::pin(route_signature_other_key(ctx)),
    },
    Case {
        id: "route.signature.tampered-subject",
        title: "Changing the subject after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A signed message whose subject was changed answers 403 \
                      signature_invalid.",
        run: |ctx| Box::pin(tampered_subject(ctx)),
    },
    Case {
        id: "route.signature.tampered-priority",
        title: "Escalating the priority after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A message signed with priority low and sent as urgent answers 403 \
                      signature_invalid.",
        run: |ctx| Box::pin(tampered_priority(ctx)),
    },
    Case {
        id: "route.signature.tampered-payload",
        title: "Changing one payload byte after signing invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A signed message whose payload.message gained one character answers \
                      403 signature_invalid.",
        run: |ctx| Box::pin(tampered_payload(ctx)),
    },
    Case {
        id: "route.signature.tampered-to",
        title: "Re-addressing a signed message invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A message signed for one recipient and sent to another answers 403 \
                      signature_invalid and the other recipient receives nothing.",
        run: |ctx| Box::pin(tampered_to(ctx)),
    },
    Case {
        id: "route.signature.tampered-in-reply-to",
        title: "Re-threading a signed reply invalidates the signature",
        clauses: &["SIG-016"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A reply signed for one parent and sent with another in_reply_to answers \
                      403 signature_invalid.",
        run: |ctx| Box::pin(tampered_in_reply_to(ctx)),
    },
    Case {
        id: "route.signature.encoding-variants",
        title: "Only standard padded Base64 signature text is accepted",
        clauses: &["SIG-011"],
        level: Level::Should,
        section: Section::Routing,
        needs: &[],
        expectation: "URL-safe, unpadded and whitespace-laden renderings of a valid signature \
                      are refused (warning only, C-56).",
        run: |ctx| Box::pin(route_signature_encoding_variants(ctx)),
    },
    Case {
        id: "route.payload-hash.sorted",
        title: "The payload hash uses keys sorted at every level",
        clauses: &["SIG-008"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A payload with keys out of order, signed over its sorted-key compact \
                      serialisation, verifies; a provider verifying another profile is named \
                      (C-01).",
        run: |ctx| Box::pin(route_payload_hash_sorted(ctx)),
    },
    Case {
        id: "route.from.spoofed",
        title: "A sender cannot claim another agent's address",
        clauses: &["SIG-013"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route body with `from` set to another agent (signed over it with the \
                      sender's key) answers 403 and never reaches the recipient as that agent.",
        run: |ctx| Box::pin(route_from_spoofed(ctx)),
    },
    Case {
        id: "route.client-id",
        title: "Client-chosen id and timestamp are overwritten",
        clauses: &["SIG-006", "SIG-004"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route body carrying id/timestamp is delivered with provider-assigned \
                      values (a 400 refusal is a C-41 warning).",
        run: |ctx| Box::pin(route_client_id(ctx)),
    },
    Case {
        id: "route.subject.too-long",
        title: "Subjects over 256 characters are refused",
        clauses: &["MSG-003"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "A 256-character subject is accepted; 257 characters answer 400 \
                      invalid_field.",
        run: |ctx| Box::pin(route_subject_too_long(ctx)),
    },
    Case {
        id: "route.priority.invalid",
        title: "Unknown priority values are refused",
        clauses: &["MSG-004"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "priority `low` is accepted; `critical` (signed as sent) answers 400 \
                      invalid_field.",
        run: |ctx| Box::pin(route_priority_invalid(ctx)),
    },
    Case {
        id: "route.payload.missing-type",
        title: "A payload without type is refused as a missing field",
        clauses: &["MSG-008"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "A payload lacking `type` answers 400 missing_field.",
        run: |ctx| Box::pin(route_payload_missing_type(ctx)),
    },
    Case {
        id: "route.context.preserved",
        title: "payload.context reaches the recipient exactly as sent",
        clauses: &["MSG-010"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "Nested nulls, empty objects/arrays, large integers and booleans in \
                      payload.context are delivered unchanged.",
        run: |ctx| Box::pin(route_context_preserved(ctx)),
    },
    Case {
        id: "route.unknown-recipient",
        title: "A message to an unregistered address is refused",
        clauses: &["AGT-003"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "Routing to an address nobody registered answers 404 not_found \
                      (queueing is a C-37 warning).",
        run: |ctx| Box::pin(route_unknown_recipient(ctx)),
    },
    Case {
        id: "route.message.too-large",
        title: "payload.message over 64 KB is refused",
        clauses: &["MSG-014"],
        level: Level::Must,
        section: Section::Messages,
        needs: &[],
        expectation: "A 65,536-byte payload.message is accepted; 65,537 bytes are refused \
                      with a 4xx (code unspecified, C-44) and not delivered.",
        run: |ctx| Box::pin(route_message_too_large(ctx)),
    },
    Case {
        id: "route.in-reply-to.null",
        title: "An explicit null in_reply_to is signed as the empty string",
        clauses: &["SIG-007"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route with `\"in_reply_to\": null` signed over an empty in_reply_to \
                      verifies and is delivered (C-05).",
        run: |ctx| Box::pin(route_in_reply_to_null(ctx)),
    },
    Case {
        id: "route.priority.omitted",
        title: "An omitted priority is signed and delivered as normal",
        clauses: &["SIG-007", "MSG-004"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "A route without priority, signed with `normal`, verifies and is \
                      delivered with priority normal (C-07).",
        run: |ctx| Box::pin(route_priority_omitted(ctx)),
    },
    Case {
        id: "route.idempotency.repeat",
        title: "A repeated idempotency key returns the original response",
        clauses: &["IDEM-004"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "Sending the same request twice with one idempotency_key returns the \
                      same id and the recipient holds one copy.",
        run: |ctx| Box::pin(route_idempotency_repeat(ctx)),
    },
    Case {
        id: "route.idempotency.conflict",
        title: "Reusing an idempotency key with a different body conflicts",
        clauses: &["IDEM-005"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "The same idempotency_key with a different payload.message answers 409 \
                      duplicate_idempotency_key.",
        run: |ctx| Box::pin(route_idempotency_conflict(ctx)),
    },
    Case {
        id: "route.single-delivery",
        title: "A routed message is queued exactly once",
        clauses: &["REPLAY-005"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "After one route the recipient's queue holds exactly one entry with that \
                      message id.",
        run: |ctx| Box::pin(route_single_delivery(ctx)),
    },
    Case {
        id: "route.trust.cross-tenant",
        title: "Content from another tenant arrives wrapped as external",
        clauses: &["TRUST-002"],
        level: Level::Must,
        section: Section::Security,
        needs: &[],
        expectation: "A message from another tenant is delivered with an <external-content \
                      trust=\"external\"> wrapper or `wrapped: true` metadata (C-31).",
        run: |ctx| Box::pin(route_trust_cross_tenant(ctx)),
    },
    Case {
        id: "route.trust.same-tenant",
        title: "Verified same-tenant content is not wrapped",
        clauses: &["TRUST-004"],
        level: Level::Must,
        section: Section::Security,
        needs: &[],
        expectation: "A signed message between agents of one tenant is delivered unwrapped \
                      with its payload unchanged.",
        run: |ctx| Box::pin(route_trust_same_tenant(ctx)),
    },
    Case {
        id: "route.to.case-insensitive",
        title: "Recipient addresses match case-insensitively",
        clauses: &["ADDR-005"],
        level: Level::Must,
        section: Section::Addressing,
        needs: &[],
        expectation: "A message to the recipient's address in upper case reaches it with `to` \
                      as signed (a 400 refusal is informational, re-casing warns, C-09).",
        run: |ctx| Box::pin(route_to_case_insensitive(ctx)),
    },
];
