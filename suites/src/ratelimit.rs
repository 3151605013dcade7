//! Rate limits (spec 07 Rate Limiting / Rate Limit Headers, 08 Rate Limits).
//!
//! `ratelimit.headers` only reads headers of ordinary responses. `ratelimit.retry-after`
//! deliberately exceeds a budget the spec sets for one endpoint (RL-003: 30 pending fetches per
//! minute) with one fresh agent, sending each request exactly once (no client-side pacing or
//! 429 retry), and bounded so that a provider with higher budgets costs a few dozen requests and
//! a skip, never a flood.

use amp_client::Req;
use amp_runner::{
    Case, CaseResult, Ctx, Failure, Level, Method, Outcome, Resp, Section, expect, fail, pass,
};
use serde_json::Value;
use std::time::{Duration, Instant};

/// RL-003: `GET /v1/messages/pending` is limited to 30 requests per minute.
const PENDING_PER_MINUTE: u64 = 30;
/// Requests beyond the budget before the case gives up on seeing a 429.
const MARGIN: u64 = 15;
/// Advertised per-key budgets above this are not worth exhausting from a test.
const MAX_ADVERTISED_TO_EXHAUST: u64 = 300;
/// The burst stops after this long (a distant target must not push the case past the runner's
/// per-case timeout): a minute-long budget is only exceeded by requests sent well within it.
const BURST_WINDOW: Duration = Duration::from_secs(20);

const HEADERS: [&str; 3] = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
];

/// Problems with the `X-RateLimit-*` headers of `resp` (missing, not a non-negative integer,
/// remaining above limit).
fn header_problems(resp: &Resp, what: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut nums = [None; 3];
    for (i, h) in HEADERS.iter().enumerate() {
        match resp.header(h) {
            None => problems.push(format!("{what} lacks {h}")),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) => nums[i] = Some(n),
                Err(_) => problems.push(format!("{what}: {h} `{v}` is not a non-negative integer")),
            },
        }
    }
    if let (Some(limit), Some(remaining)) = (nums[0], nums[1]) {
        if remaining > limit {
            problems.push(format!(
                "{what}: X-RateLimit-Remaining {remaining} exceeds X-RateLimit-Limit {limit}"
            ));
        }
    }
    problems
}

/// `Retry-After` is delta-seconds or an HTTP date (RFC 9110 §10.2.3).
fn retry_after_valid(v: &str) -> bool {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    v.len() == 29 && v.ends_with(" GMT") && v.as_bytes().get(3) == Some(&b',')
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

async fn headers(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let me = ctx.get("/agents/me", Some(&a)).await?;
    expect::success(&me)?;
    let pending = ctx.pending(&a).await?;
    expect::success(&pending)?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(crate::routing::subject(ctx, "rate limit headers"))
        .signed()?;
    let route = ctx.route(&a, &body).await?;
    expect::success(&route)?;
    let mut problems = header_problems(&me, "GET /agents/me");
    problems.extend(header_problems(&pending, "GET /messages/pending"));
    problems.extend(header_problems(&route, "POST /route"));
    // A SHOULD: only the spec's example shows the headers on every success response (RL-003
    // itself fixes them for 429 answers, RL-002).
    expect::no_problems(
        &problems,
        "successful responses carry X-RateLimit-Limit/Remaining/Reset (RL-003; the spec shows \
         them on success responses in an example only)",
    )
}

async fn retry_after(ctx: &mut Ctx) -> CaseResult {
    let advertised = ctx
        .info()
        .ok()
        .and_then(|i| i.pointer("/rate_limits/api_requests_per_minute"))
        .and_then(Value::as_u64);
    // The spec's per-endpoint budget, or the advertised per-key budget when that is lower than
    // what we are willing to exhaust and higher than the endpoint's.
    let budget = match advertised {
        Some(n) if n > PENDING_PER_MINUTE && n <= MAX_ADVERTISED_TO_EXHAUST => n,
        _ => PENDING_PER_MINUTE,
    };
    let bound = budget + MARGIN;
    let a = ctx.agent().await?;
    ctx.note(format!(
        "sending up to {bound} GET /messages/pending with one fresh agent (RL-003 budget \
         {PENDING_PER_MINUTE}/min, advertised api_requests_per_minute {advertised:?})"
    ));
    let url = ctx.target().url("/messages/pending");
    let mut limited = None;
    let started = Instant::now();
    let mut sent = 0;
    for n in 1..=bound {
        if started.elapsed() > BURST_WINDOW {
            break;
        }
        sent = n;
        let req = Req::new(Method::GET, url.clone()).bearer(&a.api_key);
        let resp = ctx.send_once(req).await?;
        if resp.status == 429 {
            limited = Some((n, resp));
            break;
        }
        if !resp.is_success() {
            return Err(Failure::Fail(format!(
                "request {n} of the burst answered HTTP {} {} instead of 200 or 429",
                resp.status,
                resp.error_code().unwrap_or("")
            )));
        }
    }
    let Some((n, resp)) = limited else {
        return Ok(Outcome::Skip(format!(
            "no 429 after {sent} GET /messages/pending in {} ms (the spec's budget is \
             {PENDING_PER_MINUTE}/min, RL-003): the target's limits are higher, so the 429 \
             headers could not be observed",
            started.elapsed().as_millis()
        )));
    };
    let mut problems = Vec::new();
    match resp.header("Retry-After") {
        None => problems.push("the 429 response has no Retry-After header".to_string()),
        Some(v) if !retry_after_valid(v) => problems.push(format!(
            "Retry-After `{v}` is neither delta-seconds nor an HTTP date"
        )),
        Some(_) => {}
    }
    problems.extend(header_problems(&resp, "the 429 response"));
    // The status is right; another code is one run-wide finding, not this case's failure.
    crate::refusal::code_matches(ctx, &resp, "rate_limited", "RL-002");
    if problems.is_empty() {
        ctx.note(format!("rate limited at request {n}"));
        pass()
    } else {
        fail(format!(
            "429 after {n} requests, but (RL-002): {}",
            problems.join("; ")
        ))
    }
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "ratelimit.headers",
        title: "Successful responses carry X-RateLimit-* headers",
        clauses: &["RL-003"],
        level: Level::Should,
        section: Section::RateLimits,
        needs: &[],
        expectation: "GET /agents/me, GET /messages/pending and POST /route carry integer \
                      X-RateLimit-Limit, X-RateLimit-Remaining (<= limit) and X-RateLimit-Reset \
                      (a SHOULD: only an example shows them on success responses).",
        run: |ctx| Box::pin(headers(ctx)),
    },
    Case {
        id: "ratelimit.retry-after",
        title: "429 responses say when to retry",
        clauses: &["RL-002", "RL-003"],
        level: Level::Must,
        section: Section::RateLimits,
        needs: &[],
        expectation: "A burst over the pending endpoint's 30/min budget gets 429 rate_limited \
                      with Retry-After and X-RateLimit-* headers (skipped when no 429 arrives \
                      within the budget plus 15).",
        run: |ctx| Box::pin(retry_after(ctx)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert!(retry_after_valid("30"));
        assert!(retry_after_valid(" 0 "));
        assert!(retry_after_valid("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!retry_after_valid("soon"));
        assert!(!retry_after_valid("-1"));
        assert!(!retry_after_valid(""));
    }

    #[test]
    fn header_checks() {
        let ok = Resp::new(
            200,
            vec![
                ("x-ratelimit-limit".into(), "100".into()),
                ("x-ratelimit-remaining".into(), "99".into()),
                ("x-ratelimit-reset".into(), "1700000000".into()),
            ],
            b"{}".to_vec(),
        );
        assert!(header_problems(&ok, "r").is_empty());
        let bad = Resp::new(
            200,
            vec![
                ("x-ratelimit-limit".into(), "10".into()),
                ("x-ratelimit-remaining".into(), "11".into()),
            ],
            b"{}".to_vec(),
        );
        assert_eq!(header_problems(&bad, "r").len(), 2);
    }
}
