//! Message signing (spec 04 › Message Signing, Canonical Signature Format, Signature Process,
//! Sender Address Validation): what the canonical string covers, the payload hash, accepted
//! signature encodings, unsigned messages to another provider, and a `from` that is not the
//! sender's. The refusals that follow the one "accepted control, one mutation" script are rows of
//! [`super::refusal`].

use crate::steps::authority::elsewhere_twin;
use crate::steps::refusal::code;
use crate::steps::routing::{
    DELIVERY_WAIT, delivered, entry_id, not_delivered, route_id, route_ok, sign_claiming,
    sign_text, subject,
};
use amp_case_attr::case;
use amp_core::{PayloadProfile, payload_hash};
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    UNSIGNED_OTHER_PROVIDER,
    ROUTE_SIGNATURE_ENCODING_VARIANTS,
    ROUTE_PAYLOAD_HASH_SORTED,
    ROUTE_FROM_SPOOFED,
    ROUTE_CLIENT_ID,
    ROUTE_IN_REPLY_TO_NULL,
    ROUTE_PRIORITY_OMITTED,
];

/// SIG-002: signatures are REQUIRED for cross-provider messages (SIG-003 relaxes only local
/// delivery), so an unsigned message to another provider is refused whatever `--signing` says.
#[case(
    id = "route.unsigned.other-provider",
    title = "An unsigned message to another provider is refused",
    clauses = ["SIG-002"],
    level = Must,
    expect = "A route body without `signature` to an address on another provider is \
              refused (422 signature_missing, or refused earlier), under every \
              --signing reading.",
)]
async fn unsigned_other_provider(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let elsewhere = elsewhere_twin(&b)?;
    let s = subject(ctx, "unsigned, for another provider");
    let body = ctx.message(&a, &elsewhere).subject(s.clone()).unsigned();
    let resp = ctx.route(&a, &body).await?;
    if resp.is_success() || !(400..500).contains(&resp.status) {
        return fail(format!(
            "an unsigned message to `{elsewhere}` on another provider answered HTTP {} {}; \
             signatures are required for cross-provider messages (SIG-002: 422 \
             signature_missing, or any refusal)",
            resp.status,
            code(&resp)
        ));
    }
    if resp.status == 422 {
        crate::steps::refusal::code_matches(ctx, &resp, "signature_missing", "SIG-002");
    } else {
        ctx.note(format!(
            "refused with HTTP {} {} before the signature was looked at (the provider does not \
             forward to that domain)",
            resp.status,
            code(&resp)
        ));
    }
    not_delivered(ctx, &b, &s, "SIG-002").await?;
    pass()
}

#[case(
    id = "route.signature.encoding-variants",
    title = "Only standard padded Base64 signature text is accepted",
    clauses = ["SIG-011"],
    level = Should,
    expect = "URL-safe, unpadded and whitespace-laden renderings of a valid signature \
              are refused (warning only, C-56).",
)]
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

#[case(
    id = "route.payload-hash.sorted",
    title = "The payload hash uses keys sorted at every level",
    clauses = ["SIG-008"],
    level = Must,
    expect = "A payload with keys out of order, signed over its sorted-key compact \
              serialisation, verifies; a provider verifying another profile is named \
              (C-01).",
)]
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

#[case(
    id = "route.from.spoofed",
    title = "A sender cannot claim another agent's address",
    clauses = ["SIG-013"],
    level = Must,
    expect = "A route body with `from` set to another agent (signed over it with the \
              sender's key) answers 403 and never reaches the recipient as that agent.",
)]
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
    let sig = sign_claiming(ctx, &a, &victim.address, &b.address, &s1, &payload)?;
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

#[case(
    id = "route.client-id",
    title = "Client-chosen id and timestamp are overwritten",
    clauses = ["SIG-006", "SIG-004"],
    level = Must,
    expect = "A route body carrying id/timestamp is delivered with provider-assigned \
              values (a 400 refusal is a C-41 warning).",
)]
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

#[case(
    id = "route.in-reply-to.null",
    title = "An explicit null in_reply_to is signed as the empty string",
    clauses = ["SIG-007"],
    level = Must,
    expect = "A route with `\"in_reply_to\": null` signed over an empty in_reply_to \
              verifies and is delivered (C-05).",
)]
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

#[case(
    id = "route.priority.omitted",
    title = "An omitted priority is signed and delivered as normal",
    clauses = ["SIG-007", "MSG-004"],
    level = Must,
    expect = "A route without priority, signed with `normal`, verifies and is \
              delivered with priority normal (C-07).",
)]
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
