//! Rate limits (spec 07 Rate Limiting / Rate Limit Headers, 08 Rate Limits).
//!
//! `ratelimit.headers` only reads headers of ordinary responses. `ratelimit.retry-after`
//! deliberately exceeds a budget the spec sets for one endpoint (RL-003: 30 pending fetches per
//! minute) with one fresh agent, sending each request exactly once (no client-side pacing or
//! 429 retry), and bounded so that a provider with higher budgets costs a few dozen requests and
//! a skip, never a flood.

use crate::steps::ratelimit::{
    BURST_WINDOW, PENDING_PER_MINUTE, burst_bound, header_problems, retry_after_valid,
};
use amp_case_attr::case;
use amp_client::Req;
use amp_runner::{Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, pass};
use serde_json::Value;
use std::time::Instant;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[PER_AGENT_BUDGET, HEADERS, RETRY_AFTER];

/// Requests agent A makes before agent B's budget is compared (RL-001).
const RL_PROBE_REQUESTS: u64 = 10;

// ------------------------------------------------------------------------------------------
// RL-001: budgets are per agent
// ------------------------------------------------------------------------------------------

fn header_u64(resp: &Resp, name: &str) -> Option<u64> {
    resp.header(name).and_then(|v| v.trim().parse().ok())
}

#[case(
    id = "ratelimit.per-agent",
    title = "Request budgets are counted per agent",
    clauses = ["RL-001", "RL-003"],
    level = Must,
    expect = "Ten requests by agent A do not show up in agent B's \
              X-RateLimit-Remaining.",
)]
async fn per_agent_budget(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let mut a_used = 0;
    let mut limit = None;
    for _ in 0..RL_PROBE_REQUESTS {
        let r = ctx.get("/agents/me", Some(&a)).await?;
        expect::success(&r)?;
        if let (Some(l), Some(rem)) = (
            header_u64(&r, "X-RateLimit-Limit"),
            header_u64(&r, "X-RateLimit-Remaining"),
        ) {
            limit = Some(l);
            a_used = l.saturating_sub(rem);
        }
    }
    let Some(limit) = limit else {
        return Ok(Outcome::Skip(
            "responses carry no X-RateLimit-Limit/Remaining (RL-003), so the per-agent budget \
             cannot be observed"
                .to_string(),
        ));
    };
    if a_used < RL_PROBE_REQUESTS / 2 {
        return Ok(Outcome::Skip(format!(
            "after {RL_PROBE_REQUESTS} requests agent A's budget shows only {a_used} used (a \
             window reset?); cannot compare"
        )));
    }
    let r = ctx.get("/agents/me", Some(&b)).await?;
    expect::success(&r)?;
    let Some(b_rem) = header_u64(&r, "X-RateLimit-Remaining") else {
        return fail("the second agent's response lacks X-RateLimit-Remaining (RL-003)");
    };
    let b_used = limit.saturating_sub(b_rem);
    expect::that(
        b_used < a_used,
        format!(
            "agent B's first request shows {b_used} of {limit} requests used, after agent A \
             used {a_used}: the budget is shared, not per agent (RL-001)"
        ),
    )?;
    pass()
}

/// Advertised per-key budgets above this are not worth exhausting from a test.
const MAX_ADVERTISED_TO_EXHAUST: u64 = 300;

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "ratelimit.headers",
    title = "Successful responses carry X-RateLimit-* headers",
    clauses = ["RL-003"],
    level = Should,
    expect = "GET /agents/me, GET /messages/pending and POST /route carry integer \
              X-RateLimit-Limit, X-RateLimit-Remaining (<= limit) and X-RateLimit-Reset \
              (a SHOULD: only an example shows them on success responses).",
)]
async fn headers(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let me = ctx.get("/agents/me", Some(&a)).await?;
    expect::success(&me)?;
    let pending = ctx.pending(&a).await?;
    expect::success(&pending)?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(crate::steps::routing::subject(ctx, "rate limit headers"))
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

#[case(
    id = "ratelimit.retry-after",
    title = "429 responses say when to retry",
    clauses = ["RL-002", "RL-003"],
    level = Must,
    expect = "A burst over the pending endpoint's 30/min budget gets 429 rate_limited \
              with Retry-After and X-RateLimit-* headers (skipped when no 429 arrives \
              within twice the budget plus one).",
)]
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
    let bound = burst_bound(budget);
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
    crate::steps::refusal::code_matches(ctx, &resp, "rate_limited", "RL-002");
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
