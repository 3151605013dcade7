//! Authentication, error format and request-body rules (spec 08 Authentication, Error Format,
//! Error Codes, Body Size Enforcement; 04 JSON Profile).
//!
//! Each case first sends the well-formed, authenticated request of the same shape and requires
//! it to succeed, then breaks exactly one thing and checks status and error code.

use crate::refusal::refused;
use crate::registration::refused_400;
use crate::routing::{not_delivered, route_ok, subject};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Method, Resp, Section, expect, fail, pass,
};
use serde_json::{Value, json};

/// API-002: a request without valid credentials answers `401 unauthorized`.
fn unauthorized(ctx: &Ctx, resp: &Resp, what: &str) -> Result<(), Failure> {
    crate::refusal::expect_refusal(ctx, resp, 401, "unauthorized", "API-002", what)
}

/// `GET path` with exactly this Authorization header value (or none).
async fn get_with_auth(ctx: &mut Ctx, path: &str, auth: Option<&str>) -> Result<Resp, Failure> {
    let headers: Vec<(&str, &str)> = auth.map(|v| ("Authorization", v)).into_iter().collect();
    ctx.request(Method::GET, path, &headers, None, None).await
}

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

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

async fn auth_missing(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let ok = ctx.pending(&a).await?;
    expect::status(&ok, 200)?;
    let resp = get_with_auth(ctx, "/messages/pending", None).await?;
    unauthorized(ctx, &resp, "GET /messages/pending without Authorization")?;
    let resp = get_with_auth(ctx, "/agents/me", None).await?;
    unauthorized(ctx, &resp, "GET /agents/me without Authorization")?;
    let s = subject(ctx, "unauthenticated");
    let body = ctx.message(&a, &b.address).subject(s.clone()).signed()?;
    let resp = ctx.post_json("/route", &body, None).await?;
    unauthorized(ctx, &resp, "POST /route without Authorization")?;
    not_delivered(ctx, &b, &s, "API-002").await?;
    pass()
}

async fn auth_invalid(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let ok = ctx.pending(&a).await?;
    expect::status(&ok, 200)?;
    // A key of the issued shape that was never issued, the real key with one character
    // changed, and the real key under another scheme.
    let real = a.api_key.expose().to_string();
    let mut altered: Vec<char> = real.chars().collect();
    if let Some(last) = altered.last_mut() {
        *last = if *last == 'A' { 'B' } else { 'A' };
    }
    let altered: String = altered.into_iter().collect();
    ctx.redactor().add("api_key", &altered);
    let cases = [
        (
            format!("Bearer amp_test_sk_{}", ctx.unique_name("never-issued")),
            "a never-issued API key",
        ),
        (
            format!("Bearer {altered}"),
            "the API key with its last character changed",
        ),
        (
            format!("Basic {real}"),
            "the API key under the Basic scheme",
        ),
    ];
    for (header, what) in &cases {
        let resp = get_with_auth(ctx, "/messages/pending", Some(header)).await?;
        unauthorized(ctx, &resp, &format!("GET /messages/pending with {what}"))?;
    }
    pass()
}

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

async fn format(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let domain = a
        .address
        .split_once('@')
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    let nobody = format!("{}@{domain}", ctx.unique_name("nobody"));
    let mut problems = Vec::new();
    let mut check = |what: &str, resp: &Resp, status: u16| {
        if resp.status != status {
            problems.push(format!(
                "{what} answered HTTP {} instead of {status}",
                resp.status
            ));
        } else if let Err(Failure::Fail(m)) = expect::error_format(resp) {
            problems.push(format!("{what}: {m}"));
        }
    };
    let r = get_with_auth(ctx, "/agents/me", None).await?;
    check("GET /agents/me without Authorization (401)", &r, 401);
    let r = ctx
        .get(&format!("/agents/resolve/{nobody}"), Some(&a))
        .await?;
    check("resolving an unregistered address (404)", &r, 404);
    let r = ctx
        .post_raw(
            "/route",
            b"{not json".to_vec(),
            "application/json",
            Some(&a),
        )
        .await?;
    check("malformed JSON on POST /route (400)", &r, 400);
    let key = ctx.new_key();
    let r = ctx
        .register_raw(&json!({
            "tenant": ctx.tenant(),
            "name": a.name,
            "public_key": key.public_key().to_spki_pem(),
            "key_algorithm": "Ed25519",
        }))
        .await?;
    check("registering a taken name (409)", &r, 409);
    expect::no_problems(
        &problems,
        "error bodies must be {error, message, field?, details?} (API-007)",
    )
}

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

async fn body_too_large(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "small"))
        .signed()?;
    route_ok(ctx, &a, &body, "a small message").await?;
    // 1.1 MB of padding in payload.context: the body is over 1,048,576 bytes whatever else
    // the provider checks.
    let s = subject(ctx, "oversized body");
    let big = ctx
        .message(&a, &b.address)
        .subject(s.clone())
        .payload(json!({
            "type": "notification",
            "message": "oversized",
            "context": {"padding": "x".repeat(1_100_000)},
        }))
        .signed()?;
    let resp = ctx.route_oversized(&a, &big, "API-009").await?;
    refused(ctx, &resp, 413, "request_too_large", "API-009")?;
    not_delivered(ctx, &b, &s, "API-009").await?;
    pass()
}

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

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "errors.auth.missing",
        title: "Authenticated endpoints refuse requests without credentials",
        clauses: &["API-002"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "GET /messages/pending, GET /agents/me and POST /route without \
                      Authorization answer 401 unauthorized (and the message is not delivered).",
        run: |ctx| Box::pin(auth_missing(ctx)),
    },
    Case {
        id: "errors.auth.invalid",
        title: "Unknown, altered or mis-schemed API keys are refused",
        clauses: &["API-002"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "A never-issued key, the real key with one character changed and the real \
                      key under `Basic` answer 401 unauthorized.",
        run: |ctx| Box::pin(auth_invalid(ctx)),
    },
    Case {
        id: "errors.malformed-json",
        title: "Malformed JSON answers 400 invalid_request on every endpoint",
        clauses: &["JSON-008", "API-007"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "A truncated JSON body on register, route, PATCH agents/me, batch ack and \
                      rotate-keys answers 400 invalid_request in the API-007 shape, never 5xx.",
        run: |ctx| Box::pin(malformed_json(ctx)),
    },
    Case {
        id: "errors.format",
        title: "Error responses use the {error, message} body",
        clauses: &["API-007"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "401, 404, 400 and 409 responses carry {error: <code>, message, field?, \
                      details?}.",
        run: |ctx| Box::pin(format(ctx)),
    },
    Case {
        id: "errors.duplicate-keys",
        title: "JSON with a repeated object key is refused",
        clauses: &["JSON-003"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "A route whose payload repeats `message` (signed over the last-wins \
                      reading) answers 400 and is not delivered.",
        run: |ctx| Box::pin(duplicate_keys(ctx)),
    },
    Case {
        id: "errors.body-too-large",
        title: "Route bodies over 1 MiB answer 413 request_too_large",
        clauses: &["API-009"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "A 1.1 MB route body answers 413 request_too_large and is not delivered.",
        run: |ctx| Box::pin(body_too_large(ctx)),
    },
    Case {
        id: "errors.payload-not-object",
        title: "A payload that is not a JSON object is refused",
        clauses: &["JSON-004"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "Array and string payloads answer 400 and are not delivered.",
        run: |ctx| Box::pin(payload_not_object(ctx)),
    },
    Case {
        id: "errors.non-finite-number",
        title: "NaN and Infinity tokens are refused",
        clauses: &["JSON-005"],
        level: Level::Must,
        section: Section::Errors,
        needs: &[],
        expectation: "A payload holding NaN, Infinity or -Infinity answers 400 and is not \
                      delivered.",
        run: |ctx| Box::pin(non_finite_number(ctx)),
    },
];
