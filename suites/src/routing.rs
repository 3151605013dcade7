//! Messages, signing and routing (spec 04 Messages, 05 Routing, 07 Security, 08 Send Message).
//!
//! Every case talks to the target only through the spec'd REST surface: `POST /route`,
//! `GET /messages/pending` (to observe what a recipient actually receives) and registration.
//! Negative cases first show that the same agents and the same message shape are accepted
//! when nothing is wrong, so a target that refuses everything cannot pass them, and then
//! check the status AND the error code, so a refusal for another reason is not a pass.

use crate::refusal::refused;
use amp_core::signing::{Priority, SigningFields, sign_fields};
use amp_core::{IdStrictness, MessageId, PayloadProfile, payload_hash};
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

/// `POST /route` with `body` and `X-Forwarded-From: host`, claiming the mesh host `host`
/// forwarded it (06a), as `auth` (or without credentials).
pub(crate) async fn route_via_mesh_header(
    ctx: &mut Ctx,
    body: &Value,
    host: &str,
    auth: Option<&Agent>,
) -> Result<Resp, Failure> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Failure::Error(format!("cannot serialise the route body: {e}")))?;
    ctx.request(
        amp_runner::Method::POST,
        "/route",
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-From", host),
        ],
        Some(bytes),
        auth,
    )
    .await
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

/// How a delivered `from` names the sending agent `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SenderForm {
    /// The full address (case-insensitively).
    Full,
    /// The registration's `short_address`: a reading of C-11, not a deviation.
    Short,
}

/// `Some(form)` when `from` names `a`, `None` when it names someone else or nothing.
pub(crate) fn sender_form(from: Option<&str>, a: &Agent) -> Option<SenderForm> {
    let from = from?;
    if from.eq_ignore_ascii_case(&a.address) {
        return Some(SenderForm::Full);
    }
    let short = a.registration.get("short_address").and_then(Value::as_str);
    (short.is_some_and(|s| !s.is_empty() && s == from)).then_some(SenderForm::Short)
}

/// The C-11 warning for a `from` given as the sender's short address.
pub(crate) fn short_from_warning(from: &str, a: &Agent) -> Outcome {
    Outcome::Warn {
        reason: format!(
            "`from` is the sender's short_address `{from}`, not its address `{}`; the spec \
             does not say which one the provider writes (C-11)",
            a.address
        ),
        contradiction: Some("C-11"),
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
pub(crate) fn sign_text(key: &amp_core::SecretKey, canonical: &str) -> String {
    key.sign(canonical.as_bytes()).to_base64()
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
    // A 403 may be a signature that does not verify: the other profiles below prove which
    // payload hash the provider computes (a second request, not the error code, decides).
    if resp.status != 403 {
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
         profile were refused with 403 (SIG-008)"
    ))
}

/// What became of one spoofed-`from` message.
#[derive(Debug)]
enum Spoof {
    /// Refused with this status.
    Refused(u16),
    /// Accepted and delivered with this `envelope.from`.
    Delivered(String),
    /// Accepted (this status) but not seen at the recipient in time.
    Lost(u16),
}

/// Route `body` (which claims `from` = the victim) as `sender` and follow it to `to`.
async fn spoof_attempt(
    ctx: &mut Ctx,
    sender: &Agent,
    to: &Agent,
    body: &Value,
) -> Result<Spoof, Failure> {
    let resp = ctx.route(sender, body).await?;
    if !resp.is_success() {
        return Ok(Spoof::Refused(resp.status));
    }
    let id = route_id(&resp)?;
    let want = id.clone();
    let m = ctx
        .wait_pending(
            to,
            move |m| entry_id(m) == Some(want.as_str()),
            DELIVERY_WAIT,
        )
        .await?;
    Ok(
        match m
            .as_ref()
            .and_then(|m| m.pointer("/envelope/from"))
            .and_then(Value::as_str)
        {
            Some(f) => Spoof::Delivered(f.to_string()),
            None => Spoof::Lost(resp.status),
        },
    )
}

async fn route_from_spoofed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let base = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "baseline"));
    route_ok(ctx, &a, &base.signed()?, "the message without `from`").await?;

    // Two messages claim `from` = victim, both signed with the sender's own key: (1) signed
    // over the victim's address, so only the check "from == authenticated agent" can stop it;
    // (2) signed over the sender's real address, which verifies only if the provider replaces
    // `from` with the authenticated sender. The pair of answers tells the readings apart
    // without reading any error code: reject refuses both, overwrite refuses (1) and delivers
    // (2) as the sender, impersonation delivers a message as the victim.
    let payload = json!({"type": "notification", "message": "hello from amp-conformance"});
    let s1 = subject(ctx, "spoofed from, signed as victim");
    let hash = payload_hash(&payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let fields = SigningFields {
        from: &victim.address,
        to: &b.address,
        subject: &s1,
        priority: Priority::Normal,
        in_reply_to: None,
        payload_hash: &hash,
    };
    let sig = sign_fields(&a.key, &fields).to_base64();
    let as_victim = ctx
        .message(&a, &b.address)
        .subject(s1)
        .payload(payload.clone())
        .field("from", json!(victim.address.clone()))
        .signature(sig);
    let as_sender = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "spoofed from, signed as sender"))
        .payload(payload)
        .field("from", json!(victim.address.clone()))
        .signed()?;
    let first = spoof_attempt(ctx, &a, &b, &as_victim).await?;
    let second = spoof_attempt(ctx, &a, &b, &as_sender).await?;
    ctx.note(format!(
        "signed over the victim: {first:?}; signed over the sender: {second:?}"
    ));
    let is_victim = |f: &str| f.eq_ignore_ascii_case(&victim.address);
    for (attempt, what) in [
        (&first, "signed over the victim's address"),
        (&second, "signed over the sender's address"),
    ] {
        if let Spoof::Delivered(f) = attempt
            && is_victim(f)
        {
            return fail(format!(
                "the provider accepted a spoofed `from` ({what}) and delivered the message as \
                 coming from `{f}` although `{}` sent it (SIG-013: impersonation)",
                a.address
            ));
        }
    }
    // C-11: the reading the run declared (--from-handling) passes, the others fail; undeclared,
    // `reject` passes and the others warn. Impersonation failed above under every reading.
    let declared = ctx.contradictions().from_handling;
    use amp_runner::{FromHandling as Fh, judge_reading};
    match (&first, &second) {
        (Spoof::Refused(403), Spoof::Refused(403)) => judge_reading(
            declared,
            Fh::Reject,
            "both spoofed-`from` messages were refused with 403",
        ),
        (Spoof::Refused(400), Spoof::Refused(400)) => judge_reading(
            declared,
            Fh::Schema,
            "both spoofed-`from` messages were refused with 400 instead of 403 (SIG-013)",
        ),
        (Spoof::Refused(_), Spoof::Delivered(f)) => judge_reading(
            declared,
            Fh::Overwrite,
            &format!(
                "the message signed over the victim's address was refused and the one signed \
                 over the sender's address was delivered with `from` = `{f}`: the provider \
                 replaces `from` with the authenticated sender instead of refusing the \
                 mismatch with 403 (SIG-013)"
            ),
        ),
        (Spoof::Delivered(f), _) => Ok(Outcome::Warn {
            reason: format!(
                "the message claiming `from` = `{}` and signed over that address was delivered \
                 with `from` = `{f}`: the provider rewrote `from` but delivered a signature \
                 that does not verify over the delivered envelope (SIG-013)",
                victim.address
            ),
            contradiction: Some("C-11"),
        }),
        (Spoof::Lost(st), _) | (_, Spoof::Lost(st)) => {
            let reason = format!(
                "a spoofed-`from` message was accepted (HTTP {st}) but never reached the \
                 recipient; SIG-013 expects a 403 refusal"
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
        (Spoof::Refused(x), Spoof::Refused(y)) => fail(format!(
            "the spoofed-`from` messages were refused with HTTP {x} (signed over the victim) \
             and HTTP {y} (signed over the sender); SIG-013 requires 403 for a `from` that is \
             not the authenticated agent"
        )),
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
    // undeclared, `reject` passes and `queue` warns. The status tells the readings apart; a
    // 404 with another code than `not_found` is one run-wide finding.
    let declared = ctx.contradictions().unknown_recipient;
    use amp_runner::{UnknownRecipient as Ur, judge_reading};
    if resp.status == 404 {
        crate::refusal::code_matches(ctx, &resp, "not_found", "API-008");
        return judge_reading(declared, Ur::Reject, "unknown recipient refused with 404");
    }
    if resp.status == 400 {
        // Spec 05 and 08 also name `invalid_recipient` (400) for this refusal.
        return Ok(Outcome::Warn {
            reason: format!(
                "unknown recipient refused with 400 {} instead of 404 not_found; the spec \
                 names different refusals for this in different sections",
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
                 {:?}) instead of refused with 404 not_found (API-008)",
                resp.status,
                resp.pointer("/status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
        );
    }
    fail(format!(
        "a message to an unregistered address must be refused with 404 not_found (API-008, \
         C-37), got HTTP {} {}",
        resp.status,
        resp.error_code().unwrap_or("")
    ))
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
    refused(ctx, &resp, 409, "duplicate_idempotency_key", "IDEM-005")?;
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

/// TRUST-002 on a delivered message whose sender is external (`whose` says how): the content
/// itself must be inside an `<external-content trust="external">` wrapper naming the sender;
/// `wrapped: true` metadata alone protects nothing. A rewrite nothing marks is a C-31 warning.
pub(crate) fn judge_external_wrapping(
    m: &Value,
    sender: &str,
    text: &str,
    whose: &str,
) -> CaseResult {
    let delivered_text = m
        .pointer("/payload/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let marker = marked_wrapped(m);
    if !looks_wrapped(delivered_text) {
        return fail(format!(
            "a message from {whose} (trust `external`) was delivered without an \
             <external-content> wrapper around its content{} (TRUST-002)",
            if marker {
                ", although its security metadata says `wrapped: true`"
            } else {
                ""
            }
        ));
    }
    let mut problems = Vec::new();
    if !delivered_text.contains("trust=\"external\"") {
        problems.push("the wrapper lacks trust=\"external\"");
    }
    if !delivered_text.contains(sender) {
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
    if !marker {
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
        clauses: &["API-008", "RTE-003"],
        level: Level::Must,
        section: Section::Routing,
        needs: &[],
        expectation: "Routing to an address nobody registered answers 404 not_found \
                      (queueing or a 400 refusal is a C-37 warning).",
        run: |ctx| Box::pin(route_unknown_recipient(ctx)),
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
                      as signed or lowercased (02; lowercasing is informational, C-09); \
                      refusing it breaks ADDR-005.",
        run: |ctx| Box::pin(route_to_case_insensitive(ctx)),
    },
];
