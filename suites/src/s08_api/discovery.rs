//! Discovery (spec 08 Health / Provider Info, 06 Well-Known URL, 09 Step 1, 12.7 capability
//! tokens).
//!
//! These endpoints need no authentication, so the cases fetch them afresh (the runner's cached
//! `/info` is not recorded in a case transcript) and judge the shapes field by field: a missing
//! field is named, a field of the wrong JSON type is named, and nothing else is assumed.

use crate::steps::attachments::{digest_of, parse_upload, request_upload};
use crate::steps::discovery::{Ty, key_and_fingerprint, object, shape_problems};
use crate::steps::refusal::code;
use amp_case_attr::case;
use amp_core::PROTOCOL_VERSION;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::Value;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    HEALTH_SHAPE,
    INFO_SHAPE,
    VERSION_PATH,
    CAPABILITIES_HONOURED,
];

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "discovery.health.shape",
    title = "GET /health answers the documented fields without authentication",
    clauses = ["API-003"],
    level = Must,
    expect = "GET /health without Authorization answers 200 with status, version, \
              provider, federation, agents_online and uptime_seconds.",
)]
async fn health_shape(ctx: &mut Ctx) -> CaseResult {
    let resp = ctx.get("/health", None).await?;
    expect::status(&resp, 200)?;
    let obj = object(&resp, "GET /health")?;
    let problems = shape_problems(
        obj,
        "",
        &[
            ("status", Ty::Str),
            ("version", Ty::Str),
            ("provider", Ty::Str),
            ("federation", Ty::Bool),
            ("agents_online", Ty::Num),
            ("uptime_seconds", Ty::Num),
        ],
    );
    if !problems.is_empty() {
        return fail(format!("GET /health (API-003): {}", problems.join("; ")));
    }
    for f in ["agents_online", "uptime_seconds"] {
        let ok = obj.get(f).and_then(Value::as_f64).is_some_and(|n| n >= 0.0);
        expect::that(ok, format!("GET /health `{f}` is negative (API-003)"))?;
    }
    // C-14: the health version is a software version in the spec's examples; only reported.
    let version = obj.get("version").and_then(Value::as_str).unwrap_or("");
    if version != PROTOCOL_VERSION {
        return Ok(Outcome::Info(format!(
            "GET /health reports version `{version}` (informational: the spec's version strings \
             disagree, C-14)"
        )));
    }
    pass()
}

#[case(
    id = "discovery.info.shape",
    title = "GET /info publishes the provider's key, capabilities and limits",
    clauses = ["API-004"],
    level = Must,
    expect = "GET /info without Authorization answers 200 with provider, version, a \
              public_key (Ed25519, RSA-2048+ or ECDSA P-256) and its fingerprint, \
              capabilities, registration_modes, rate_limits, and attachment_limits when \
              attachments are advertised (a SHOULD).",
)]
async fn info_shape(ctx: &mut Ctx) -> CaseResult {
    let resp = ctx.get("/info", None).await?;
    expect::status(&resp, 200)?;
    let obj = object(&resp, "GET /info")?;
    let mut problems = shape_problems(
        obj,
        "",
        &[
            ("provider", Ty::Str),
            ("version", Ty::Str),
            ("public_key", Ty::Str),
            ("fingerprint", Ty::Str),
            ("capabilities", Ty::Arr),
            ("registration_modes", Ty::Arr),
            ("rate_limits", Ty::Obj),
        ],
    );
    // `attachment_limits` is a SHOULD, and only for a provider that advertises attachments.
    let mut should = Vec::new();
    if ctx.has_capability("attachments") && obj.get("attachment_limits").is_none() {
        should.push("`attachments` is advertised but `attachment_limits` is missing".to_string());
    }
    if let Some(rl) = obj.get("rate_limits").and_then(Value::as_object) {
        problems.extend(shape_problems(
            rl,
            "rate_limits.",
            &[
                ("messages_per_minute", Ty::Num),
                ("api_requests_per_minute", Ty::Num),
            ],
        ));
    }
    if let Some(al) = obj.get("attachment_limits").and_then(Value::as_object) {
        should.extend(shape_problems(
            al,
            "attachment_limits.",
            &[
                ("max_attachment_size", Ty::Num),
                ("max_total_attachment_size", Ty::Num),
                ("max_attachments_per_message", Ty::Num),
            ],
        ));
    }
    for list in ["capabilities", "registration_modes"] {
        if let Some(a) = obj.get(list).and_then(Value::as_array) {
            if !a.iter().all(|x| x.as_str().is_some_and(|s| !s.is_empty())) {
                problems.push(format!("`{list}` holds something other than strings"));
            }
        }
    }
    let note = key_and_fingerprint(
        obj,
        "/info",
        ctx.contradictions().fingerprint_form(),
        &mut problems,
    );
    if !problems.is_empty() {
        return fail(format!("GET /info (API-004): {}", problems.join("; ")));
    }
    if !should.is_empty() {
        return Ok(Outcome::Warn {
            reason: format!(
                "GET /info attachment limits (a SHOULD of API-005): {}",
                should.join("; ")
            ),
            contradiction: None,
        });
    }
    match note {
        Some(reason) => Ok(Outcome::Warn {
            reason,
            contradiction: Some("C-19"),
        }),
        None => pass(),
    }
}

// ------------------------------------------------------------------------------------------
// API-001: the version lives in the path
// ------------------------------------------------------------------------------------------

#[case(
    id = "discovery.version.path",
    title = "The API version lives in the path; unknown versions and paths answer 404",
    clauses = ["API-001", "API-007"],
    level = Must,
    expect = "The base URL ends in /v1; /v2/info and unknown /v1 paths answer 404 in \
              the error format.",
)]
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

/// The capability tokens whose meaning 12.7 / 08 fix and this case can exercise cheaply.
const CHECKED_TOKENS: [&str; 3] = ["notify:v1", "notify:longpoll", "attachments"];

/// Exercise the feature one advertised token promises; `Some(problem)` when it does not work.
async fn token_problem(
    ctx: &mut Ctx,
    agent: &Agent,
    token: &str,
) -> Result<Option<String>, Failure> {
    match token {
        "notify:v1" => {
            let r = ctx.get("/messages/pending/count", Some(agent)).await?;
            Ok((r.status != 200 || !r.pointer("/count").is_some_and(Value::is_u64)).then(|| {
                format!(
                    "`notify:v1` is advertised but GET /messages/pending/count answered HTTP {} \
                     without a numeric `count` (12.2)",
                    r.status
                )
            }))
        }
        "notify:longpoll" => {
            let r = ctx.get("/messages/pending?wait=1", Some(agent)).await?;
            Ok(
                (r.status != 200 || !r.pointer("/messages").is_some_and(Value::is_array)).then(
                    || {
                        format!(
                            "`notify:longpoll` is advertised but GET /messages/pending?wait=1 \
                         answered HTTP {} {} without a `messages` array (12.4)",
                            r.status,
                            code(&r)
                        )
                    },
                ),
            )
        }
        "attachments" => {
            let bytes = b"amp-conformance capability check\n";
            let r = request_upload(
                ctx,
                agent,
                "capability-check.txt",
                "text/plain",
                bytes.len() as u64,
                &digest_of(bytes),
            )
            .await?;
            if !r.is_success() {
                return Ok(Some(format!(
                    "`attachments` is advertised but POST /attachments/upload answered HTTP {} {}",
                    r.status,
                    code(&r)
                )));
            }
            Ok(parse_upload(&r).err().map(|e| {
                format!("`attachments` is advertised but the upload answer is unusable: {e:?}")
            }))
        }
        _ => Ok(None),
    }
}

#[case(
    id = "discovery.capabilities.honoured",
    title = "Every advertised capability token works",
    clauses = ["API-006", "NOTIFY-017"],
    level = Must,
    expect = "For each of notify:v1, notify:longpoll and attachments that /info advertises, the \
              feature answers: pending/count with a count, pending?wait=1 with 200, an upload \
              request with an upload URL.",
)]
async fn capabilities_honoured(ctx: &mut Ctx) -> CaseResult {
    let info = ctx.get("/info", None).await?;
    expect::status(&info, 200)?;
    let advertised: Vec<&str> = CHECKED_TOKENS
        .into_iter()
        .filter(|t| {
            info.pointer("/capabilities")
                .and_then(Value::as_array)
                .is_some_and(|caps| caps.iter().any(|c| c.as_str() == Some(t)))
        })
        .collect();
    if advertised.is_empty() {
        return Ok(Outcome::Skip(format!(
            "/info advertises none of {CHECKED_TOKENS:?}; nothing to hold to its word"
        )));
    }
    let agent = ctx.agent().await?;
    let mut problems = Vec::new();
    for token in &advertised {
        if let Some(p) = token_problem(ctx, &agent, token).await? {
            problems.push(p);
        }
    }
    if problems.is_empty() {
        pass()
    } else {
        fail(format!("(API-006) {}", problems.join("; ")))
    }
}
