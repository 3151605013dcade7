//! Rate limits (RL-001..003, NOTIFY-005): fixed one-minute windows per API key (per client IP
//! for `register` and unauthenticated requests); `X-RateLimit-*` on every response,
//! `Retry-After` on 429.
//!
//! Which budget a request spends is data on its route: the router attaches a [`Budget`] to
//! each group of routes when it is built (see [`crate::http::router`]); this middleware reads
//! that value instead of looking at the path. The counters are in
//! [`crate::store::rate_windows`].

use crate::defects::Defect;
use crate::error::ApiError;
use crate::http::extract::bearer;
use crate::ids::hash_api_key;
use crate::policy::RateScope;
use crate::service::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// The budget class a route spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// `POST /register`: `register_per_minute` per client IP.
    Register,
    /// Ordinary requests: `api_requests_per_minute` per API key (`anonymous_per_minute` per IP
    /// without one).
    Api,
    /// `GET /messages/pending`: [`Budget::Api`] plus the lower `pending_per_minute` (RL-003).
    Pickup,
    /// `GET /messages/pending/count`: [`Budget::Api`] with a floor of one request per 10 s
    /// that no other spending can take away (NOTIFY-005).
    Count,
}

/// Middleware state: the provider and the budget class of the routes it wraps.
#[derive(Clone)]
pub(crate) struct Budgeted {
    pub state: AppState,
    pub budget: Budget,
}

/// Count the request against its route's budget; refuse with 429 when it is spent.
pub(crate) async fn rate_limit_mw(
    State(Budgeted { state, budget }): State<Budgeted>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".to_string());
    let limits = state.config().rate_limits;
    let (bucket, limit) = if budget == Budget::Register {
        (format!("reg:{ip}"), limits.register_per_minute)
    } else if let Some(token) = bearer(req.headers()) {
        let key = match state.policy().rate_scope {
            RateScope::PerApiKey => hash_api_key(&token),
            RateScope::Global => "global".to_string(),
        };
        (format!("key:{key}"), limits.api_requests_per_minute)
    } else {
        (format!("ip:{ip}"), limits.anonymous_per_minute)
    };
    let now = state.clock().now_unix();
    let mut d = state.limiter().check(&bucket, limit, now);
    // Only the GET of the pickup and count routes is budgeted as such (a 405 is ordinary).
    let get = req.method() == Method::GET;
    let is_count = get && budget == Budget::Count;
    let pickup_budget =
        get && (budget == Budget::Pickup || (is_count && state.has(Defect::CountRateLimited)));
    // RL-003: the relay pickup has its own, lower budget on top of the per-key one.
    if d.allowed
        && pickup_budget
        && let Some(key) = bucket.strip_prefix("key:")
    {
        let p = state
            .limiter()
            .check(&format!("pending:{key}"), limits.pending_per_minute, now);
        if !p.allowed || p.remaining < d.remaining {
            d = p;
        }
    }
    // NOTIFY-005: at least one count request per 10 s per agent, whatever else is spent.
    if !d.allowed
        && is_count
        && !state.has(Defect::CountRateLimited)
        && let Some(key) = bucket.strip_prefix("key:")
    {
        let floor = state
            .limiter()
            .check(&format!("count:{key}:{}", now.div_euclid(10)), 1, now);
        if floor.allowed {
            d = floor;
        }
    }
    let mut resp = if d.allowed {
        next.run(req).await
    } else {
        let mut r = ApiError::new(
            429,
            "rate_limited",
            format!(
                "rate limit of {} requests per minute exceeded: retry after {} s",
                d.limit, d.retry_after
            ),
        )
        .into_response();
        if !state.has(Defect::NoRetryAfter) {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after));
        }
        r
    };
    if !state.has(Defect::NoRateLimitHeaders) {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_at));
    }
    resp
}
