//! Webhook delivery (spec 05 "Webhook Delivery", 07 "Webhook Security", 12.5 retries).
//!
//! The suite registers a recipient whose `delivery.webhook_url` points at a loopback receiver of
//! its own ([`amp_client::Receiver`]) with a `webhook_secret` it chose, routes a message to it
//! over REST and inspects what arrives: headers, HMAC, body, and the retry behaviour for the
//! status codes the receiver is told to answer. These cases need a target that may deliver to
//! 127.0.0.1 (`Need::LoopbackWebhooks`).
//!
//! Timing: the spec retries a failed delivery after 30 s (WH-006). The retry case waits the
//! run's declared first-retry delay (`ctx.timing().webhook_first_retry`: the spec's 30 s, the
//! embedded mock's 0.3 s, or a `[timing]` section of `--config`) plus a margin, stops at the
//! first retry, and extends its case deadline for that wait (`Ctx::need_time`), so
//! `--case-timeout` never cuts it short. The "no retry after a 4xx" case calibrates itself: it
//! fails a second delivery with a 5xx at the same moment and watches the 4xx receiver until well
//! after that retry arrived, so it never needs to know the provider's schedule.
//!
//! The registration-time SSRF checks of a webhook URL (private, alternative-notation and plain
//! HTTP addresses, also when patched later) are here too: they are clauses of 05 › SSRF
//! Prevention.

use crate::steps::refusal::code;
use crate::steps::registration::{PUBLIC_HOOK, refused_400, reg_body};
use crate::steps::routing::{route_ok, subject};
use amp_case_attr::case;
use amp_client::{ReceivedRequest, Receiver};
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, Outcome, Timing, expect, fail, pass};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    PATCH_PRIVATE_WEBHOOK,
    WEBHOOK_PRIVATE_URL,
    WEBHOOK_PLAIN_HTTP,
    WEBHOOK_ALT_IP,
    WEBHOOK_DELIVERY_SIGNED,
    WEBHOOK_RETRY_ON_5XX,
    WEBHOOK_NO_RETRY_ON_4XX,
];

// ------------------------------------------------------------------------------------------
// WH-011: webhook URL validated on update too
// ------------------------------------------------------------------------------------------

#[case(
    id = "register.webhook.patch-private-url",
    title = "PATCH /agents/me validates the webhook URL like registration",
    clauses = ["WH-011", "WH-012", "REG-021"],
    level = Must,
    expect = "PATCH delivery.webhook_url = https://10.0.0.1/hook answers 400 and the \
              URL is not stored.",
)]
async fn patch_private_webhook(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let ok = ctx
        .patch_json("/agents/me", &json!({"alias": "amp-conformance"}), Some(&a))
        .await?;
    if !ok.is_success() {
        return fail(format!(
            "baseline: PATCH /agents/me {{alias}} answered HTTP {} {} (REG-021), so the case \
             cannot judge WH-011",
            ok.status,
            code(&ok)
        ));
    }
    let url = "https://10.0.0.1/hook";
    let resp = ctx
        .patch_json(
            "/agents/me",
            &json!({"delivery": {"webhook_url": url}}),
            Some(&a),
        )
        .await?;
    let me = ctx.get("/agents/me", Some(&a)).await?;
    let stored = me
        .pointer("/delivery/webhook_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if resp.is_success() || stored == url {
        return fail(format!(
            "PATCH /agents/me accepted the private webhook URL {url} (HTTP {}); webhook URLs \
             are validated at update time as at registration (WH-011, WH-012)",
            resp.status
        ));
    }
    expect::status(&resp, 400)?;
    pass()
}

/// Register with `delivery.webhook_url = url` and require a 400; returns a warning if the code
/// is not the expected one.
async fn webhook_refused(ctx: &mut Ctx, url: &str, clause: &'static str) -> Result<(), Failure> {
    let key = ctx.new_key();
    let name = ctx.unique_name("hook");
    let mut body = reg_body(ctx, &name, &key);
    body["delivery"] = json!({"webhook_url": url});
    let resp = ctx.register_raw(&body).await?;
    refused_400(
        ctx,
        &resp,
        clause,
        &format!("webhook_url `{url}` at registration"),
    )?;
    Ok(())
}

/// Baseline: an agent registered with a public HTTPS webhook URL.
async fn hook_baseline(ctx: &mut Ctx) -> Result<Agent, Failure> {
    let tenant = ctx.tenant();
    ctx.agent_with(&tenant, |b| {
        b["delivery"] = json!({"webhook_url": PUBLIC_HOOK})
    })
    .await
    .map_err(|e| match e {
        Failure::Error(m) | Failure::Fail(m) => Failure::Fail(format!(
            "baseline: registration with the public HTTPS webhook_url {PUBLIC_HOOK} \
                 failed, so the refusals below could not be attributed to the URL: {m}"
        )),
        blocked @ Failure::Blocked { .. } => blocked,
    })
}

#[case(
    id = "register.webhook.private-url",
    title = "Webhook URLs pointing at private or metadata addresses are refused",
    clauses = ["WH-012"],
    level = Must,
    expect = "A public HTTPS webhook_url registers; 10/8, 172.16/12, 192.168/16, the \
              metadata address and fe80::/10 (and loopback, unless the run allows it) \
              answer 400 at registration and at PATCH /agents/me.",
)]
async fn webhook_private_url(ctx: &mut Ctx) -> CaseResult {
    let a = hook_baseline(ctx).await?;
    let mut urls = vec![
        "https://10.0.0.1/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/hook",
    ];
    if !ctx.config().loopback_webhooks {
        urls.push("https://127.0.0.1/hook");
        urls.push("https://[::1]/hook");
    }
    for url in &urls {
        webhook_refused(ctx, url, "WH-012").await?;
    }
    // The same check applies to PATCH /agents/me.
    let url = "https://169.254.169.254/latest/meta-data/";
    let resp = ctx
        .patch_json(
            "/agents/me",
            &json!({"delivery": {"webhook_url": url}}),
            Some(&a),
        )
        .await?;
    refused_400(
        ctx,
        &resp,
        "WH-012",
        &format!("PATCH /agents/me to webhook_url `{url}`"),
    )?;
    pass()
}

#[case(
    id = "register.webhook.plain-http",
    title = "Plain-HTTP webhook URLs are refused",
    clauses = ["WH-015"],
    level = Must,
    expect = "https://example.com/... registers; http://example.com/... answers 400.",
)]
async fn webhook_plain_http(ctx: &mut Ctx) -> CaseResult {
    hook_baseline(ctx).await?;
    webhook_refused(ctx, "http://example.com/amp-conformance-hook", "WH-015").await?;
    pass()
}

#[case(
    id = "register.webhook.alt-ip",
    title = "Alternative IP notations of private addresses are refused",
    clauses = ["WH-014"],
    level = Should,
    expect = "Hexadecimal, decimal and octal spellings of the metadata and private \
              addresses answer 400.",
)]
async fn webhook_alt_ip(ctx: &mut Ctx) -> CaseResult {
    hook_baseline(ctx).await?;
    // 169.254.169.254 and 10.0.0.1 in hexadecimal, decimal and octal notations.
    let mut urls = vec![
        "https://0xA9FEA9FE/latest/meta-data/",
        "https://2852039166/latest/meta-data/",
        "https://012.0.0.1/hook",
        "https://0x0a000001/hook",
    ];
    if !ctx.config().loopback_webhooks {
        urls.push("https://0177.0.0.1/hook");
        urls.push("https://2130706433/hook");
    }
    for url in &urls {
        webhook_refused(ctx, url, "WH-014").await?;
    }
    pass()
}

/// WH-006: the first attempt is immediate; allow this long for it to arrive.
const FIRST_ATTEMPT_WAIT: Duration = Duration::from_secs(10);

/// WH-003 freshness window, used to judge the provider's `X-AMP-Timestamp`.
const FRESHNESS_SECS: i64 = 300;

/// A recipient whose webhook points at a receiver of this case.
struct Hooked {
    agent: Agent,
    receiver: Receiver,
    secret: String,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Register an agent with `delivery.webhook_url` = a fresh receiver and a secret of ours.
async fn hooked_agent(ctx: &mut Ctx) -> Result<Hooked, Failure> {
    let receiver = ctx.receiver().await?;
    let digest = Sha256::digest(ctx.unique_name("whsec").as_bytes());
    let secret = format!("whsec_{}", hex::encode(&digest[..24]));
    ctx.redactor().add("webhook_secret", &secret);
    let url = receiver.url();
    let s = secret.clone();
    let tenant = ctx.tenant();
    let agent = ctx
        .agent_with(&tenant, move |body| {
            body["delivery"] = json!({"webhook_url": url, "webhook_secret": s});
        })
        .await?;
    Ok(Hooked {
        agent,
        receiver,
        secret,
    })
}

/// Route a fresh message from `from` to `to` and return its id and payload.
async fn send(
    ctx: &mut Ctx,
    from: &Agent,
    to: &Agent,
    what: &str,
) -> Result<(String, Value), Failure> {
    let payload = json!({"type": "notification", "message": format!("webhook {what}")});
    let body = ctx
        .message(from, &to.address)
        .subject(subject(ctx, what))
        .payload(payload.clone())
        .signed()?;
    let id = route_ok(ctx, from, &body, "a message to an agent with a webhook").await?;
    Ok((id, payload))
}

/// The `n`-th request (1-based) at `rx` within `wait`, or a failure naming `what`.
async fn nth(
    rx: &Receiver,
    n: usize,
    wait: Duration,
    what: &str,
) -> Result<ReceivedRequest, Failure> {
    match rx.wait_for(n, wait).await {
        Some(r) => Ok(r),
        None => fail(format!(
            "{what}: the receiver got {} request(s), not {n}, within {} s",
            rx.count(),
            wait.as_secs()
        )),
    }
}

/// What [`check_delivery`] found that is not an outright failure.
#[derive(Debug, Default)]
struct Findings {
    /// The signature hex uses upper case (C-29 warning).
    uppercase_hex: bool,
}

/// WH-001/WH-002 on one received request: method, headers, HMAC, body.
fn check_delivery(
    req: &ReceivedRequest,
    secret: &str,
    id: &str,
    payload: &Value,
) -> Result<Findings, Failure> {
    let mut f = Findings::default();
    expect::that(
        req.method == "POST",
        format!(
            "the webhook request used {} instead of POST (WH-001)",
            req.method
        ),
    )?;
    let ct = req.header("content-type").unwrap_or("");
    expect::that(
        ct.to_ascii_lowercase().starts_with("application/json"),
        format!("webhook Content-Type is `{ct}`, not application/json (WH-001)"),
    )?;
    let mid = req.header("x-amp-message-id");
    expect::that(
        mid == Some(id),
        format!("X-AMP-Message-Id is {mid:?}, not the routed message id {id} (WH-001)"),
    )?;
    let Some(ts) = req.header("x-amp-timestamp") else {
        return fail("the webhook request has no X-AMP-Timestamp header (WH-001)");
    };
    let Some(sig) = req.header("x-amp-signature") else {
        return fail("the webhook request has no X-AMP-Signature header (WH-001)");
    };
    f.uppercase_hex = amp_core::webhook::signature_uses_uppercase_hex(sig);
    match amp_core::verify_webhook(
        secret.as_bytes(),
        sig,
        ts,
        &req.body,
        now_unix(),
        FRESHNESS_SECS,
    ) {
        Ok(()) => {}
        Err(amp_core::WebhookError::Mismatch) => {
            return fail(
                "X-AMP-Signature is not HMAC-SHA256 keyed with the registered webhook_secret \
                 over \"<X-AMP-Timestamp>.<raw body>\" (WH-002, C-29)",
            );
        }
        Err(e) => return fail(format!("{e}")),
    }
    let Some(body) = req.json() else {
        return fail("the webhook body is not JSON (WH-001)");
    };
    let env_id = body.pointer("/envelope/id").and_then(Value::as_str);
    expect::that(
        env_id == Some(id),
        format!("the webhook body's envelope.id is {env_id:?}, not {id} (WH-001)"),
    )?;
    expect::that(
        body.get("payload") == Some(payload),
        "the webhook body's payload differs from the payload sent (WH-001)",
    )?;
    Ok(f)
}

/// How long to wait for the first retry: the declared WH-006 delay plus margin. The case
/// deadline is extended to cover it, so the wait is never cut short by `--case-timeout`.
fn retry_wait(ctx: &Ctx) -> Duration {
    let wait = Timing::with_margin(ctx.timing().webhook_first_retry);
    ctx.need_time(wait);
    wait
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "webhook.delivery.signed",
    title = "Webhook deliveries carry the AMP headers and a valid HMAC",
    clauses = ["WH-002", "WH-001"],
    level = Must,
    needs = [LoopbackWebhooks],
    expect = "The webhook POST carries application/json, X-AMP-Message-Id, \
              X-AMP-Timestamp and X-AMP-Signature = sha256=HMAC(webhook_secret, \
              \"<ts>.<body>\") over a body {envelope, payload} (upper-case hex warns, \
              C-29).",
)]
async fn webhook_delivery_signed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let h = hooked_agent(ctx).await?;
    let (id, payload) = send(ctx, &a, &h.agent, "signed delivery").await?;
    let req = nth(&h.receiver, 1, FIRST_ATTEMPT_WAIT, "webhook delivery").await?;
    let f = check_delivery(&req, &h.secret, &id, &payload)?;
    if f.uppercase_hex {
        return Ok(Outcome::Warn {
            reason: "X-AMP-Signature verifies but uses upper-case hex; WH-002 shows lower case"
                .to_string(),
            contradiction: Some("C-29"),
        });
    }
    pass()
}

#[case(
    id = "webhook.retry-on-5xx",
    title = "A 5xx answer is retried with the same message id",
    clauses = ["WH-005", "WH-006", "NOTIFY-013"],
    level = Must,
    needs = [LoopbackWebhooks],
    expect = "A delivery answered with HTTP 500 is retried within 30 s with the same \
              X-AMP-Message-Id, a valid signature and X-AMP-Delivery-Attempt 1 then 2 \
              (required under notify:v1).",
)]
async fn webhook_retry_on_5xx(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let h = hooked_agent(ctx).await?;
    h.receiver.set_statuses(&[500]);
    let (id, payload) = send(ctx, &a, &h.agent, "retry after 500").await?;
    let first = nth(&h.receiver, 1, FIRST_ATTEMPT_WAIT, "first webhook attempt").await?;
    check_delivery(&first, &h.secret, &id, &payload)?;
    let wait = retry_wait(ctx);
    let Some(second) = h.receiver.wait_for(2, wait).await else {
        return fail(format!(
            "the receiver answered HTTP 500 and no retry came within {:.1} s (WH-005, WH-006; \
             declared first-retry delay {:.1} s)",
            wait.as_secs_f64(),
            ctx.timing().webhook_first_retry.as_secs_f64()
        ));
    };
    check_delivery(&second, &h.secret, &id, &payload).map_err(|e| match e {
        Failure::Fail(r) => Failure::Fail(format!("the retry: {r}")),
        other => other,
    })?;
    if first.header("x-amp-timestamp") == second.header("x-amp-timestamp") {
        ctx.note("the retry reuses the first attempt's X-AMP-Timestamp (C-29: recorded)");
    } else {
        ctx.note("the retry carries a fresh X-AMP-Timestamp (C-29: recorded)");
    }
    let attempts = (
        first.header("x-amp-delivery-attempt"),
        second.header("x-amp-delivery-attempt"),
    );
    let notify = ctx.has_capability("notify:v1");
    match attempts {
        (Some("1"), Some("2")) => pass(),
        (None, None) if !notify => pass(),
        other => fail(format!(
            "X-AMP-Delivery-Attempt on the first and second attempt is {other:?}, not \
             (\"1\", \"2\") (NOTIFY-013)"
        )),
    }
}

#[case(
    id = "webhook.no-retry-on-4xx",
    title = "A 4xx answer from the receiver is not retried",
    clauses = ["WH-005"],
    level = Must,
    needs = [LoopbackWebhooks],
    expect = "A delivery answered with HTTP 400 is not attempted again, while one \
              answered with 503 at the same time is.",
)]
async fn webhook_no_retry_on_4xx(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let refused = hooked_agent(ctx).await?;
    let failing = hooked_agent(ctx).await?;
    refused.receiver.set_statuses(&[400]);
    failing.receiver.set_statuses(&[503]);
    let (id4, p4) = send(ctx, &a, &refused.agent, "answered 400").await?;
    let (id5, p5) = send(ctx, &a, &failing.agent, "answered 503").await?;
    let first4 = nth(
        &refused.receiver,
        1,
        FIRST_ATTEMPT_WAIT,
        "webhook to the 400 receiver",
    )
    .await?;
    check_delivery(&first4, &refused.secret, &id4, &p4)?;
    let first5 = nth(
        &failing.receiver,
        1,
        FIRST_ATTEMPT_WAIT,
        "webhook to the 503 receiver",
    )
    .await?;
    check_delivery(&first5, &failing.secret, &id5, &p5)?;

    // Calibration: how long this provider waits before retrying a 5xx.
    let wait = retry_wait(ctx);
    let Some(retry5) = failing.receiver.wait_for(2, wait).await else {
        if refused.receiver.count() > 1 {
            return fail(format!(
                "the receiver answered HTTP 400 and the provider retried the delivery of {id4} \
                 (WH-005: 4xx means do not retry)"
            ));
        }
        return Ok(Outcome::Skip(format!(
            "the provider did not retry a 503 within {:.1} s either, so the absence of a retry \
             after 400 proves nothing (webhook.retry-on-5xx judges the 5xx retry)",
            wait.as_secs_f64()
        )));
    };
    let delay = retry5.at.saturating_sub(first5.at);
    // A 4xx retry on the same schedule would be due by now; watch a while longer (at least
    // the run's observation window) for a provider that keeps per-message timers with jitter.
    let extra = (delay / 2).max(ctx.timing().observe_window);
    ctx.note(format!(
        "the 503 was retried after {} ms; watching the 400 receiver {} ms more",
        delay.as_millis(),
        extra.as_millis()
    ));
    ctx.need_time(extra);
    if let Some(r) = refused.receiver.wait_for(2, extra).await {
        return fail(format!(
            "the receiver answered HTTP 400 and the provider retried the delivery of {id4} \
             (attempt header {:?}; WH-005: 4xx means do not retry)",
            r.header("x-amp-delivery-attempt")
        ));
    }
    pass()
}
