//! Discovery (spec 08 Health / Provider Info, 06 Well-Known URL, 09 Step 1, 12.7 capability
//! tokens).
//!
//! These endpoints need no authentication, so the cases fetch them afresh (the runner's cached
//! `/info` is not recorded in a case transcript) and judge the shapes field by field: a missing
//! field is named, a field of the wrong JSON type is named, and nothing else is assumed.

use crate::provider_key::ProviderKey;
use amp_core::signing::FingerprintProfile;
use amp_core::{PROTOCOL_VERSION, PublicKey};
use amp_runner::{
    Case, CaseResult, Ctx, Level, Method, Outcome, Resp, Section, expect, fail, pass,
};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// JSON type a field must have.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    Num,
    Arr,
    Obj,
}

impl Ty {
    fn matches(self, v: &Value) -> bool {
        match self {
            Ty::Str => v.as_str().is_some_and(|s| !s.is_empty()),
            Ty::Bool => v.is_boolean(),
            Ty::Num => v.is_number(),
            Ty::Arr => v.is_array(),
            Ty::Obj => v.is_object(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Ty::Str => "a non-empty string",
            Ty::Bool => "a boolean",
            Ty::Num => "a number",
            Ty::Arr => "an array",
            Ty::Obj => "an object",
        }
    }
}

/// Every problem with `fields` in `obj` (missing or of the wrong type), prefixed by `at`.
fn shape_problems(obj: &Map<String, Value>, at: &str, fields: &[(&str, Ty)]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(f, ty)| match obj.get(*f) {
            None => Some(format!("`{at}{f}` is missing")),
            Some(v) if !ty.matches(v) => Some(format!("`{at}{f}` is not {}", ty.name())),
            Some(_) => None,
        })
        .collect()
}

/// The body as a JSON object, or a failure naming the endpoint.
fn object<'r>(resp: &'r Resp, what: &str) -> Result<&'r Map<String, Value>, amp_runner::Failure> {
    match resp.json().and_then(Value::as_object) {
        Some(o) => Ok(o),
        None => fail(format!("{what} did not answer a JSON object")),
    }
}

/// A provider public key and fingerprint published by discovery: the key must be an Ed25519
/// SPKI PEM and the fingerprint one of the C-19 forms of it. Returns a note when the form is
/// not the default profile.
fn key_and_fingerprint(
    obj: &Map<String, Value>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    let pem = obj.get("public_key").and_then(Value::as_str)?;
    let fp = obj.get("fingerprint").and_then(Value::as_str)?;
    // 07: Ed25519, RSA-2048+ or ECDSA P-256; only Ed25519 fingerprints have known forms.
    let pk = match crate::provider_key::parse(pem) {
        Ok(ProviderKey::Ed25519(pk)) => pk,
        Ok(ProviderKey::Rsa { bits }) if bits < 2048 => {
            problems.push(format!(
                "{what} `public_key` is an RSA key of {bits} bits; 07 requires at least 2048"
            ));
            return None;
        }
        Ok(ProviderKey::Rsa { .. } | ProviderKey::P256) => return None,
        Err(e) => {
            problems.push(format!(
                "{what} `public_key` is not a provider key 07 allows: {e}"
            ));
            return None;
        }
    };
    let profiles = pk.matching_fingerprint_profiles(fp);
    if profiles.contains(&FingerprintProfile::default()) {
        None
    } else if let Some(p) = profiles.first() {
        Some(format!(
            "{what} `fingerprint` is the {p} form of its public key, not the default {} (C-19)",
            FingerprintProfile::default()
        ))
    } else {
        Some(format!(
            "{what} `fingerprint` matches none of the known forms of its public key (C-19)"
        ))
    }
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

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
    let note = key_and_fingerprint(obj, "/info", &mut problems);
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

async fn well_known(ctx: &mut Ctx) -> CaseResult {
    let url = ctx.target().origin_url("/.well-known/agent-messaging.json");
    let resp = ctx.request(Method::GET, &url, &[], None, None).await?;
    if resp.status != 200 {
        return fail(format!(
            "GET /.well-known/agent-messaging.json at the API origin answered HTTP {} \
             (EXT-001 recommends it; DISC-002 makes it the fallback after DNS)",
            resp.status
        ));
    }
    let obj = object(&resp, "the well-known file")?;
    let mut problems = shape_problems(
        obj,
        "",
        &[
            ("version", Ty::Str),
            ("endpoint", Ty::Str),
            ("public_key", Ty::Str),
            ("fingerprint", Ty::Str),
            ("capabilities", Ty::Arr),
        ],
    );
    if let Some(ep) = obj.get("endpoint").and_then(Value::as_str) {
        if !(ep.starts_with("https://") || ep.starts_with("http://")) {
            problems.push(format!("`endpoint` `{ep}` is not an http(s) URL"));
        }
    }
    let fp_note = key_and_fingerprint(obj, "the well-known file", &mut problems);
    if !problems.is_empty() {
        return fail(format!(
            "the well-known file (DISC-002): {}",
            problems.join("; ")
        ));
    }
    if let Some(reason) = fp_note {
        return Ok(Outcome::Warn {
            reason,
            contradiction: Some("C-19"),
        });
    }
    // The public key should be the one /info publishes (same provider, same key).
    let info = ctx.info()?.clone();
    if let (Some(a), Some(b)) = (
        obj.get("public_key").and_then(Value::as_str),
        info.get("public_key").and_then(Value::as_str),
    ) {
        let same = PublicKey::from_spki_pem(a).ok() == PublicKey::from_spki_pem(b).ok();
        expect::that(
            same,
            "the well-known file and /info publish different provider public keys",
        )?;
    }
    let version = obj.get("version").and_then(Value::as_str).unwrap_or("");
    match version {
        // Both readings are in the spec (06 says AMP1, 09 says amp/0.1): name the variant.
        "AMP1" | "amp/0.1" => Ok(Outcome::Info(format!(
            "well-known `version` is `{version}` (06 writes AMP1, 09 writes amp/0.1: C-14)"
        ))),
        other => Ok(Outcome::Warn {
            reason: format!(
                "well-known `version` is `{other}`, neither `AMP1` (06) nor `amp/0.1` (09)"
            ),
            contradiction: Some("C-14"),
        }),
    }
}

async fn capabilities_notify(ctx: &mut Ctx) -> CaseResult {
    let v1 = ctx.has_capability("notify:v1");
    let longpoll = ctx.has_capability("notify:longpoll");
    if !v1 && !longpoll {
        return Ok(Outcome::Info(
            "the target advertises neither notify:v1 nor notify:longpoll; nothing to hold it to"
                .to_string(),
        ));
    }
    let mut problems = Vec::new();
    if longpoll && !v1 {
        problems.push(
            "notify:longpoll is advertised without notify:v1 (the long-poll form extends 12.3)"
                .to_string(),
        );
    }
    if v1 {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        // 12.2: route responses carry a delivery basis.
        let body = ctx
            .message(&a, &b.address)
            .subject(crate::routing::subject(ctx, "notify capability"))
            .signed()?;
        let resp = ctx.route(&a, &body).await?;
        expect::success(&resp)?;
        match resp.pointer("/basis").and_then(Value::as_str) {
            Some("mailbox_written" | "socket_written" | "webhook_2xx" | "queued") => {}
            other => problems.push(format!(
                "notify:v1 is advertised but the route response `basis` is {other:?} \
                 (NOTIFY-001)"
            )),
        }
        // 12.3: count endpoint.
        let count = ctx.get("/messages/pending/count", Some(&b)).await?;
        if count.status != 200 {
            problems.push(format!(
                "notify:v1 is advertised but GET /messages/pending/count answered HTTP {} \
                 (NOTIFY-004)",
                count.status
            ));
        } else if !count.pointer("/count").is_some_and(Value::is_number) {
            problems.push(
                "notify:v1 is advertised but /messages/pending/count has no numeric `count` \
                 (NOTIFY-004)"
                    .to_string(),
            );
        }
        // 12.3: an unknown cursor is refused as expired.
        let stale = ctx
            .get("/messages/pending?after=ampc-no-such-cursor", Some(&b))
            .await?;
        if stale.status == 410 {
            crate::refusal::code_matches(ctx, &stale, "cursor_expired", "NOTIFY-007");
        } else {
            problems.push(format!(
                "notify:v1 is advertised but an unknown `after` cursor answered HTTP {} {} \
                 instead of 410 cursor_expired (NOTIFY-007)",
                stale.status,
                stale.error_code().unwrap_or("")
            ));
        }
    }
    if longpoll {
        // The long-poll form returns within the requested wait (plus transport slack).
        let c = ctx.agent().await?;
        let started = Instant::now();
        let resp = ctx.get("/messages/pending?wait=1", Some(&c)).await?;
        let took = started.elapsed();
        if resp.status != 200 || !resp.pointer("/messages").is_some_and(Value::is_array) {
            problems.push(format!(
                "notify:longpoll is advertised but GET /messages/pending?wait=1 answered HTTP {} \
                 without a `messages` array (NOTIFY-008)",
                resp.status
            ));
        } else if took > Duration::from_secs(6) {
            problems.push(format!(
                "notify:longpoll: ?wait=1 on an empty queue took {} ms (NOTIFY-008 holds at most \
                 the requested seconds)",
                took.as_millis()
            ));
        }
    }
    expect::no_problems(
        &problems,
        "capability tokens promise more than the target does (NOTIFY-017)",
    )
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "discovery.health.shape",
        title: "GET /health answers the documented fields without authentication",
        clauses: &["API-003"],
        level: Level::Must,
        section: Section::Discovery,
        needs: &[],
        expectation: "GET /health without Authorization answers 200 with status, version, \
                      provider, federation, agents_online and uptime_seconds.",
        run: |ctx| Box::pin(health_shape(ctx)),
    },
    Case {
        id: "discovery.info.shape",
        title: "GET /info publishes the provider's key, capabilities and limits",
        clauses: &["API-004"],
        level: Level::Must,
        section: Section::Discovery,
        needs: &[],
        expectation: "GET /info without Authorization answers 200 with provider, version, a \
                      public_key (Ed25519, RSA-2048+ or ECDSA P-256) and its fingerprint, \
                      capabilities, registration_modes, rate_limits, and attachment_limits when \
                      attachments are advertised (a SHOULD).",
        run: |ctx| Box::pin(info_shape(ctx)),
    },
    Case {
        id: "discovery.info.version",
        title: "/info names the protocol version amp/0.1",
        clauses: &["MSG-002", "API-004"],
        level: Level::Should,
        section: Section::Discovery,
        needs: &[],
        expectation: "/info `version` is `amp/0.1`; `amp/0.1.x` or `AMP1` are warnings (C-14).",
        run: |ctx| Box::pin(info_version(ctx)),
    },
    Case {
        id: "discovery.well-known",
        title: "The well-known discovery file is served at the API origin",
        clauses: &["DISC-002", "EXT-001"],
        level: Level::Should,
        section: Section::Discovery,
        needs: &[],
        expectation: "GET /.well-known/agent-messaging.json answers 200 with version, endpoint, \
                      the provider key (same as /info) and fingerprint, and capabilities.",
        run: |ctx| Box::pin(well_known(ctx)),
    },
    Case {
        id: "discovery.capabilities.notify",
        title: "notify:* tokens are advertised only with the behaviour behind them",
        clauses: &["NOTIFY-017"],
        level: Level::Must,
        section: Section::Notify,
        needs: &[],
        expectation: "With notify:v1 the route response has a basis, /messages/pending/count \
                      answers and unknown cursors get 410 cursor_expired; with notify:longpoll \
                      ?wait=1 returns within the wait.",
        run: |ctx| Box::pin(capabilities_notify(ctx)),
    },
];
