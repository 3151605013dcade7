//! Authentication, error format and request-body rules (spec 08 Authentication, Error Format,
//! Error Codes, Body Size Enforcement; Unknown Recipient).
//!
//! Each case first sends the well-formed, authenticated request of the same shape and requires
//! it to succeed, then breaks exactly one thing and checks status and error code.

use crate::steps::refusal::refused;
use crate::steps::routing::{not_delivered, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, pass,
};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    AUTH_MISSING,
    AUTH_INVALID,
    FORMAT,
    BODY_TOO_LARGE,
    ROUTE_UNKNOWN_RECIPIENT,
];

/// API-002: a request without valid credentials answers `401 unauthorized`.
fn unauthorized(ctx: &Ctx, resp: &Resp, what: &str) -> Result<(), Failure> {
    crate::steps::refusal::expect_refusal(ctx, resp, 401, "unauthorized", "API-002", what)
}

/// `GET path` with exactly this Authorization header value (or none).
async fn get_with_auth(ctx: &mut Ctx, path: &str, auth: Option<&str>) -> Result<Resp, Failure> {
    let headers: Vec<(&str, &str)> = auth.map(|v| ("Authorization", v)).into_iter().collect();
    ctx.request(Method::GET, path, &headers, None, None).await
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "errors.auth.missing",
    title = "Authenticated endpoints refuse requests without credentials",
    clauses = ["API-002"],
    level = Must,
    expect = "GET /messages/pending, GET /agents/me and POST /route without \
              Authorization answer 401 unauthorized (and the message is not delivered).",
)]
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

#[case(
    id = "errors.auth.invalid",
    title = "Unknown, altered or mis-schemed API keys are refused",
    clauses = ["API-002"],
    level = Must,
    expect = "A never-issued key, the real key with one character changed and the real \
              key under `Basic` answer 401 unauthorized.",
)]
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

#[case(
    id = "errors.format",
    title = "Error responses use the {error, message} body",
    clauses = ["API-007"],
    level = Must,
    expect = "401, 404, 400 and 409 responses carry {error: <code>, message, field?, \
              details?}.",
)]
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

#[case(
    id = "errors.body-too-large",
    title = "Route bodies over 1 MiB answer 413 request_too_large",
    clauses = ["API-009"],
    level = Must,
    expect = "A 1.1 MB route body answers 413 request_too_large and is not delivered.",
)]
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

/// The same local name space, one more agent: a fresh, unregistered address at the
/// recipient's provider and tenant (everything after the `@` of a registered address).
fn unregistered_address(ctx: &Ctx, like: &Agent) -> String {
    let domain = like.address.split_once('@').map(|x| x.1).unwrap_or("");
    format!("{}@{domain}", ctx.unique_name("nobody"))
}

#[case(
    id = "route.unknown-recipient",
    title = "A message to an unregistered address is refused",
    clauses = ["API-008", "RTE-003"],
    level = Must,
    expect = "Routing to an address nobody registered answers 404 not_found \
              (queueing or a 400 refusal is a C-37 warning).",
)]
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
        crate::steps::refusal::code_matches(ctx, &resp, "not_found", "API-008");
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
