//! The envelope (spec 04 › Envelope Fields, Protocol Version, Context Object, Threading): the
//! shape a recipient receives, the protocol version, `context` kept as sent, and replies that
//! keep their thread.

use crate::steps::routing::{delivered, entry_id, route_id, route_ok, subject};
use amp_case_attr::case;
use amp_core::signing::Priority;
use amp_core::{IdStrictness, MessageId, PROTOCOL_VERSION};
use amp_runner::{Case, CaseResult, Ctx, Outcome, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    INFO_VERSION,
    THREAD_REPLY,
    ROUTE_ENVELOPE_SHAPE,
    ROUTE_CONTEXT_PRESERVED,
];

#[case(
    id = "discovery.info.version",
    title = "/info names the protocol version amp/0.1",
    clauses = ["MSG-002", "API-004"],
    level = Should,
    expect = "/info `version` is `amp/0.1`; `amp/0.1.x` or `AMP1` are warnings (C-14).",
)]
async fn info_version(ctx: &mut Ctx) -> CaseResult {
    let resp = ctx.get("/info", None).await?;
    expect::status(&resp, 200)?;
    let version = expect::json_str(&resp, "/version")?.to_string();
    if version == PROTOCOL_VERSION {
        return pass();
    }
    if version.starts_with("amp/0.1.") || version == "AMP1" {
        return Ok(Outcome::Warn {
            reason: format!(
                "/info `version` is `{version}`; the protocol version the envelope carries is \
                 `{PROTOCOL_VERSION}` (the spec's version strings disagree)"
            ),
            contradiction: Some("C-14"),
        });
    }
    fail(format!(
        "/info `version` is `{version}`, not the protocol version `{PROTOCOL_VERSION}` \
         (API-004, MSG-002)"
    ))
}

#[case(
    id = "route.thread.reply",
    title = "Replies join the thread of the message they answer",
    clauses = ["MSG-011", "C-72"],
    level = Should,
    expect = "A reply and a reply to the reply carry the first message's id as \
              thread_id (warning only, C-72).",
)]
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

#[case(
    id = "route.envelope.shape",
    title = "The delivered envelope carries every required field, unchanged",
    clauses = ["MSG-001", "MSG-002", "MSG-007", "SIG-011"],
    level = Must,
    expect = "The delivered envelope has version amp/0.1, a schema-valid id equal to \
              the route id, from/to/subject/priority as sent and the submitted \
              signature byte for byte.",
)]
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

#[case(
    id = "route.context.preserved",
    title = "payload.context reaches the recipient exactly as sent",
    clauses = ["MSG-010"],
    level = Must,
    expect = "Nested nulls, empty objects/arrays, large integers and booleans in \
              payload.context are delivered unchanged.",
)]
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
