//! The steps most cases are made of: a run-unique subject, routing a signed message and requiring
//! acceptance, waiting until a message is delivered (through whatever channel the run observes)
//! or showing that it is not, reading pending lists, signing arbitrary canonical text, and the
//! content-wrapping checks of spec 07.

use amp_runner::{Agent, CaseResult, Ctx, Failure, Outcome, Resp, expect, fail, pass};
use serde_json::Value;
use std::time::Duration;

/// How long a correct provider may take to put an accepted message into the recipient's
/// relay queue. Routing is synchronous in every provider we know; 5 s leaves room for a
/// loaded target without slowing the suite when things work.
pub(crate) const DELIVERY_WAIT: Duration = Duration::from_secs(5);

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

/// A signature by `signer`'s own key over a normal-priority, non-reply message whose `from` is
/// `claimed` (another agent's address): only the provider's "from is the authenticated agent"
/// check (SIG-013) can stop such a message, since the signature verifies over what it claims.
pub(crate) fn sign_claiming(
    ctx: &Ctx,
    signer: &Agent,
    claimed: &str,
    to: &str,
    subject: &str,
    payload: &Value,
) -> Result<String, Failure> {
    let hash = amp_core::payload_hash(payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let fields = amp_core::signing::SigningFields {
        from: claimed,
        to,
        subject,
        priority: amp_core::signing::Priority::Normal,
        in_reply_to: None,
        payload_hash: &hash,
    };
    Ok(amp_core::signing::sign_fields(&signer.key, &fields).to_base64())
}

/// Security metadata of a delivered message, wherever the provider put it (C-32).
pub(crate) fn security_meta(m: &Value) -> Option<&Value> {
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
pub(crate) fn marked_wrapped(m: &Value) -> bool {
    security_meta(m)
        .and_then(|s| s.get("wrapped"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// The TRUST-002 wrapper: an `<external-content …>` block around the text.
pub(crate) fn looks_wrapped(text: &str) -> bool {
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

/// Whether message `id` is in `owner`'s pending list (the owner's own signed view; up to 100
/// entries, more than any case queues).
pub(crate) async fn in_queue(ctx: &mut Ctx, owner: &Agent, id: &str) -> Result<bool, Failure> {
    let msgs = pending_list(ctx, owner, "?limit=100").await?;
    Ok(msgs.iter().any(|m| entry_id(m) == Some(id)))
}
