//! `webhook_hmac` vectors live: the suite's loopback receiver (a recipient registered with a
//! webhook URL and a secret the suite chose) receives a delivery the provider signs, and the
//! delivery is checked against the vector's rule. Each vector isolates one rule, found from its
//! own data: a valid vector, the whole check (WH-001..003); an invalid one whose signature is
//! right for its inputs, freshness (X-AMP-Timestamp within the window of the receipt time,
//! WH-003); an invalid one whose signature is wrong, the construction (`sha256=` + lowercase hex
//! HMAC-SHA256 keyed with the secret's bytes over `"<X-AMP-Timestamp>.<raw body>"`, WH-002);
//! an acceptable one (upper-case hex, C-29), the letter case of the digest.

use amp_client::ReceivedRequest;
use amp_runner::{Ctx, Failure, Outcome};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::Trial;
use super::pool::Pool;
use super::verdict::{self, TrialResult};
use super::wire::{self, RawBody};

/// How long a webhook delivery may take to arrive.
const WEBHOOK_WAIT: Duration = Duration::from_secs(5);

/// The rule a webhook vector isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Whole,
    Freshness,
    Construction,
    DigestCase,
}

fn rule(t: &Trial) -> Rule {
    let c = t.case();
    let given = c.input.get("signature").and_then(Value::as_str);
    let right = c.expected.get("signature").and_then(Value::as_str);
    match c.result {
        amp_vectors::Verdict::Valid => Rule::Whole,
        amp_vectors::Verdict::Acceptable => Rule::DigestCase,
        amp_vectors::Verdict::Invalid if given == right => Rule::Freshness,
        amp_vectors::Verdict::Invalid => Rule::Construction,
    }
}

pub(super) async fn run(ctx: &mut Ctx, t: &Trial) -> amp_runner::CaseResult {
    verdict::finish(trial(ctx, t).await)
}

async fn delivery(
    ctx: &mut Ctx,
    t: &Trial,
) -> Result<(ReceivedRequest, f64, String), super::verdict::Stop> {
    let pool = Pool::of(ctx);
    let sink = pool.webhook(ctx).await?;
    let from = pool.sender(ctx, 3).await?;
    let subject = wire::unique_subject(ctx, t);
    // Non-ASCII text, so the digest must be over the body's UTF-8 bytes (wh-015).
    let payload = json!({"type": "notification", "message": "webhook vector h\u{e9}llo \u{2713}"});
    let hash = amp_core::payload_hash(&payload, ctx.profile())
        .map_err(|e| Failure::Error(format!("cannot hash the payload: {e}")))?;
    let canonical = wire::canonical_text(
        &from.address,
        &sink.agent.address,
        &subject,
        "normal",
        "",
        &hash,
    );
    let body = RawBody::default()
        .string("to", &sink.agent.address)
        .string("subject", &subject)
        .raw("payload", &payload.to_string())
        .string(
            "signature",
            &from.key.sign(canonical.as_bytes()).to_base64(),
        );
    let resp = wire::route(ctx, &from, &body).await?;
    if !resp.is_success() {
        return Err(super::verdict::Stop::Blocked(
            amp_runner::Prereq::RouteAccepted,
            format!(
                "a message to the webhook recipient was refused ({})",
                wire::answer(&resp)
            ),
        ));
    }
    let deadline = Instant::now() + WEBHOOK_WAIT;
    loop {
        if let Some(r) = sink
            .receiver
            .requests()
            .into_iter()
            .find(|r| String::from_utf8_lossy(&r.body).contains(&subject))
        {
            let received = sink.started_unix + r.at.as_secs_f64();
            return Ok((r, received, sink.secret.clone()));
        }
        if Instant::now() >= deadline {
            return Err(super::verdict::Stop::Blocked(
                amp_runner::Prereq::DeliveryObservable,
                format!(
                    "no webhook delivery of the message reached the receiver within {} s",
                    WEBHOOK_WAIT.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn trial(ctx: &mut Ctx, t: &Trial) -> TrialResult {
    let rule = rule(t);
    let window = t
        .case()
        .input
        .get("window_secs")
        .and_then(Value::as_i64)
        .unwrap_or(300);
    let (req, received, secret) = delivery(ctx, t).await?;
    let sig = req.header("x-amp-signature").unwrap_or("");
    let ts = req.header("x-amp-timestamp").unwrap_or("");
    let right = amp_core::webhook_signature(secret.as_bytes(), ts, &req.body);
    ctx.note(format!(
        "delivery: X-AMP-Timestamp {ts:?}, X-AMP-Signature {sig:?}, {} body bytes; rule {rule:?}",
        req.body.len()
    ));
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (received - t as f64).abs() <= window as f64);
    let built_right = sig == right;
    match rule {
        Rule::Freshness | Rule::Whole if !fresh => verdict::deviation(
            t,
            format!(
                "the delivery's X-AMP-Timestamp {ts:?} is not within {window} s of its receipt \
                 (unix {received:.0}): receivers must reject it (WH-003)"
            ),
        ),
        Rule::Construction | Rule::Whole if !built_right => verdict::deviation(
            t,
            format!(
                "X-AMP-Signature is {sig:?}, but sha256= + lowercase hex HMAC-SHA256 with the \
                 webhook secret over \"<X-AMP-Timestamp>.<raw body>\" is {right:?}: receivers \
                 must reject it (WH-002)"
            ),
        ),
        Rule::DigestCase if !built_right && sig.eq_ignore_ascii_case(&right) => {
            verdict::lax_acceptance(t, "an upper-case hex digest")
        }
        Rule::DigestCase if !built_right => verdict::fail(format!(
            "X-AMP-Signature {sig:?} is not the HMAC {right:?} in any letter case (WH-002)"
        )),
        _ => Ok(Outcome::Pass),
    }
}
