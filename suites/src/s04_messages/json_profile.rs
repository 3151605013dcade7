//! The JSON profile (spec 04 › JSON Profile; 08 Error Codes): duplicate keys, non-finite numbers,
//! a payload that is not an object, malformed JSON, and `null` members. Each case first sends
//! the well-formed request of the same shape and requires it to succeed, then breaks exactly one
//! thing.

use crate::steps::refusal::{code, refused};
use crate::steps::registration::refused_400;
use crate::steps::routing::{delivered, not_delivered, route_id, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Method, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    MALFORMED_JSON,
    DUPLICATE_KEYS,
    PAYLOAD_NOT_OBJECT,
    NON_FINITE_NUMBER,
    PAYLOAD_NULL_MEMBER,
    ENVELOPE_NO_NULLS,
];

/// A signed message from `a` to `b` as raw JSON text whose payload is `payload_text`; the
/// signature covers `signed_payload` (the reading a lenient parser would make of the text).
fn raw_route_text(
    ctx: &Ctx,
    a: &Agent,
    b: &Agent,
    subj: &str,
    payload_text: &str,
    signed_payload: Value,
) -> Result<String, Failure> {
    let body = ctx
        .message(a, &b.address)
        .subject(subj)
        .payload(signed_payload)
        .signed()?;
    let sig = body.get("signature").cloned().unwrap_or(Value::Null);
    Ok(format!(
        r#"{{"to":{},"subject":{},"payload":{payload_text},"signature":{}}}"#,
        json!(b.address),
        json!(subj),
        sig
    ))
}

#[case(
    id = "errors.malformed-json",
    title = "Malformed JSON answers 400 invalid_request on every endpoint",
    clauses = ["JSON-008", "API-007"],
    level = Must,
    expect = "A truncated JSON body on register, route, PATCH agents/me, batch ack and \
              rotate-keys answers 400 invalid_request in the API-007 shape, never 5xx.",
)]
async fn malformed_json(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "well-formed"))
        .signed()?;
    route_ok(ctx, &a, &body, "the well-formed message").await?;
    let broken: &[u8] = br#"{"to": "x@y.z", "subject": "truncated", "payload": {"type": "#;
    let endpoints: [(Method, &str, bool); 5] = [
        (Method::POST, "/register", false),
        (Method::POST, "/route", true),
        (Method::PATCH, "/agents/me", true),
        (Method::POST, "/messages/pending/ack", true),
        (Method::POST, "/auth/rotate-keys", true),
    ];
    let mut problems = Vec::new();
    for (method, path, auth) in endpoints {
        let who = if auth { Some(&a) } else { None };
        let resp = ctx
            .request(
                method.clone(),
                path,
                &[("Content-Type", "application/json")],
                Some(broken.to_vec()),
                who,
            )
            .await?;
        if resp.status >= 500 {
            problems.push(format!(
                "{method} {path} answered HTTP {} to malformed JSON (never a 5xx)",
                resp.status
            ));
        } else if let Err(Failure::Fail(m)) =
            refused(ctx, &resp, 400, "invalid_request", "JSON-008")
        {
            problems.push(format!("{method} {path}: {m}"));
        } else if let Err(Failure::Fail(m)) = expect::error_format(&resp) {
            problems.push(format!("{method} {path}: {m}"));
        }
    }
    expect::no_problems(
        &problems,
        "malformed JSON must answer 400 invalid_request (JSON-008)",
    )
}

#[case(
    id = "errors.duplicate-keys",
    title = "JSON with a repeated object key is refused",
    clauses = ["JSON-003"],
    level = Must,
    expect = "A route whose payload repeats `message` (signed over the last-wins \
              reading) answers 400 and is not delivered.",
)]
async fn duplicate_keys(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // Baseline: the same raw text without the repeated key routes.
    let s0 = subject(ctx, "no duplicate");
    let text = raw_route_text(
        ctx,
        &a,
        &b,
        &s0,
        r#"{"type":"notification","message":"second"}"#,
        json!({"type": "notification", "message": "second"}),
    )?;
    let resp = ctx
        .post_raw("/route", text.into_bytes(), "application/json", Some(&a))
        .await?;
    if !resp.is_success() {
        return fail(format!(
            "baseline: a hand-serialised signed route was refused (HTTP {} {})",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    // The repeated key inside the payload; signed over the last-wins reading so that only the
    // duplicate check can refuse it.
    let s1 = subject(ctx, "duplicate key");
    let text = raw_route_text(
        ctx,
        &a,
        &b,
        &s1,
        r#"{"type":"notification","message":"first","message":"second"}"#,
        json!({"type": "notification", "message": "second"}),
    )?;
    let resp = ctx
        .post_raw("/route", text.into_bytes(), "application/json", Some(&a))
        .await?;
    refused_400(ctx, &resp, "JSON-003", "a payload with a repeated key")?;
    not_delivered(ctx, &b, &s1, "JSON-003").await?;
    pass()
}

#[case(
    id = "errors.payload-not-object",
    title = "A payload that is not a JSON object is refused",
    clauses = ["JSON-004"],
    level = Must,
    expect = "Array and string payloads answer 400 and are not delivered.",
)]
async fn payload_not_object(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "object payload"))
        .signed()?;
    route_ok(ctx, &a, &body, "a message with an object payload").await?;
    for (payload, what) in [
        (json!(["notification", "hello"]), "an array payload"),
        (json!("hello"), "a string payload"),
    ] {
        let s = subject(ctx, "non-object payload");
        let mb = ctx
            .message(&a, &b.address)
            .subject(s.clone())
            .payload(payload);
        // Sign over the payload as sent where the profile can hash it; otherwise any
        // well-formed signature will do (the object check must come first).
        let body = match mb.canonical() {
            Ok(c) => {
                let sig = a.key.sign(c.as_bytes()).to_base64();
                mb.signature(sig)
            }
            Err(_) => {
                let sig = a.key.sign(b"not hashable").to_base64();
                mb.signature(sig)
            }
        };
        let resp = ctx.route(&a, &body).await?;
        refused_400(ctx, &resp, "JSON-004", what)?;
        not_delivered(ctx, &b, &s, "JSON-004").await?;
    }
    pass()
}

#[case(
    id = "errors.non-finite-number",
    title = "NaN and Infinity tokens are refused",
    clauses = ["JSON-005"],
    level = Must,
    expect = "A payload holding NaN, Infinity or -Infinity answers 400 and is not \
              delivered.",
)]
async fn non_finite_number(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let s0 = subject(ctx, "finite number");
    let text = raw_route_text(
        ctx,
        &a,
        &b,
        &s0,
        r#"{"type":"notification","message":"n","context":{"n":1}}"#,
        json!({"type": "notification", "message": "n", "context": {"n": 1}}),
    )?;
    let resp = ctx
        .post_raw("/route", text.into_bytes(), "application/json", Some(&a))
        .await?;
    if !resp.is_success() {
        return fail(format!(
            "baseline: the same message with a finite number was refused (HTTP {} {})",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    for token in ["NaN", "Infinity", "-Infinity"] {
        let s = subject(ctx, "non-finite number");
        // No signature can cover a non-finite number; signed over the finite variant, so a
        // lenient parser gets as far as the signature check and fails with 403 (a failure).
        let text = raw_route_text(
            ctx,
            &a,
            &b,
            &s,
            &format!(r#"{{"type":"notification","message":"n","context":{{"n":{token}}}}}"#),
            json!({"type": "notification", "message": "n", "context": {"n": 1}}),
        )?;
        let resp = ctx
            .post_raw("/route", text.into_bytes(), "application/json", Some(&a))
            .await?;
        refused_400(
            ctx,
            &resp,
            "JSON-005",
            &format!("a payload number `{token}`"),
        )?;
        not_delivered(ctx, &b, &s, "JSON-005").await?;
    }
    pass()
}

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

// ------------------------------------------------------------------------------------------
// JSON-001 / JSON-007: nulls
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.payload.null-member",
    title = "A null inside payload is refused or delivered unchanged, never stripped",
    clauses = ["JSON-001", "C-06"],
    level = Must,
    expect = "A signed payload with a null member answers 400 or is delivered \
              byte-for-byte equal.",
)]
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

#[case(
    id = "route.envelope.no-nulls",
    title = "Delivered envelopes carry no null values",
    clauses = ["JSON-007"],
    level = Must,
    expect = "A message without optional fields is delivered with those fields \
              omitted, not null.",
)]
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
