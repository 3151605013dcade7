//! The HTTP surface: the router, its middleware, the extractors that turn a request into what a
//! handler needs, and the handlers (one module per group of endpoints).
//!
//! A handler's signature says what it needs: [`extract::Authed`] (a bearer API key resolved to
//! the calling agent, else `401`), [`extract::StrictJson`] (a strict JSON body, else `400`),
//! [`extract::AdminAuthed`] (the provider's admin key, else `401`/`403`). Handlers then call one
//! operation of [`crate::service`] and choose the status code.
//!
//! Every route carries its rate budget class ([`rate_limit::Budget`]) as data when the router
//! is built, together with the body cap ([`body_limit`]); the spec error format
//! ([`error_format`]) wraps everything. Dependencies point down only: this layer uses the
//! service layer and the leaf modules, and nothing below imports it.

pub mod admin;
pub mod agents;
pub mod attachments;
pub mod body_limit;
pub mod card;
pub mod discovery;
pub mod error_format;
pub mod extract;
pub mod federation;
pub mod keys;
pub mod messages;
pub mod rate_limit;
pub mod ws;

use crate::defects::Defect;
use crate::error::{ApiError, json_response};
use crate::service::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{MethodRouter, any, delete, get, post, put};
use rate_limit::Budget;
use serde_json::Value;

/// What a handler returns: a response, or an error rendered in the spec format (API-007).
pub(crate) type ApiResult = Result<Response, ApiError>;

/// A JSON response with `status`.
pub(crate) fn ok(status: StatusCode, body: Value) -> ApiResult {
    Ok(json_response(status, &body))
}

/// The full axum router (REST + WS + federation) with body-cap, rate-limit and error-format
/// middleware. Serve it with `into_make_service_with_connect_info::<SocketAddr>()` to get
/// per-IP limits; without connect info all clients share one anonymous bucket.
pub fn router(state: AppState) -> Router {
    let base = state.config().normalized_base();
    let v1 = Router::new()
        .merge(budgeted(&state, Budget::Register, register_routes()))
        .merge(budgeted(&state, Budget::Pickup, pickup_routes()))
        .merge(budgeted(&state, Budget::Count, count_routes()))
        .merge(budgeted(&state, Budget::Api, api_routes()));
    let app = if base.is_empty() {
        v1
    } else if state.has(Defect::V2Alias) && base != "/v2" {
        // `v2-alias`: the same v1 handlers answer under /v2 too (API-001).
        Router::new().nest(&base, v1.clone()).nest("/v2", v1)
    } else {
        Router::new().nest(&base, v1)
    };
    let well_known = Router::new().route(
        "/.well-known/agent-messaging.json",
        get(discovery::well_known),
    );
    // Unknown paths spend the ordinary budget too, and are capped like any other request.
    let unknown: MethodRouter<AppState> = any(error_format::not_found);
    let unknown = guard(&state, Budget::Api, unknown);
    app.merge(budgeted(&state, Budget::Api, well_known))
        .fallback_service(unknown.with_state(state.clone()))
        .layer(from_fn_with_state(
            state.clone(),
            error_format::error_format_mw,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Attach a budget class and the body cap to every route of `routes`: the rate limit runs
/// first (a refused request is not read), then the cap (API-009), then the handler.
fn budgeted(state: &AppState, budget: Budget, routes: Router<AppState>) -> Router<AppState> {
    routes
        .route_layer(from_fn_with_state(state.clone(), body_limit::body_limit_mw))
        .route_layer(from_fn_with_state(
            rate_limit::Budgeted {
                state: state.clone(),
                budget,
            },
            rate_limit::rate_limit_mw,
        ))
}

/// [`budgeted`] for a single method router (the fallback).
fn guard(
    state: &AppState,
    budget: Budget,
    route: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    route
        .layer(from_fn_with_state(state.clone(), body_limit::body_limit_mw))
        .layer(from_fn_with_state(
            rate_limit::Budgeted {
                state: state.clone(),
                budget,
            },
            rate_limit::rate_limit_mw,
        ))
}

/// `register` spends the per-IP registration budget (RL-001).
fn register_routes() -> Router<AppState> {
    Router::new().route("/register", post(agents::register))
}

/// The relay pickup has its own, lower budget on top of the per-key one (RL-003).
fn pickup_routes() -> Router<AppState> {
    Router::new().route("/messages/pending", get(messages::pending))
}

/// The pending count keeps a floor of one request per 10 s (NOTIFY-005).
fn count_routes() -> Router<AppState> {
    Router::new().route("/messages/pending/count", get(messages::pending_count))
}

/// Everything else: the per-API-key budget (per IP without a key).
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(discovery::health))
        .route("/info", get(discovery::info))
        .route(
            "/agents/me",
            get(agents::me)
                .patch(agents::patch_me)
                .delete(agents::delete_me),
        )
        .route("/agents", get(agents::list_agents))
        .route("/agents/resolve/{address}", get(agents::resolve))
        .route("/agents/me/card", get(card::get_card).put(card::put_card))
        .route("/route", post(messages::route))
        .route("/messages/pending/ack", post(messages::batch_ack))
        .route("/messages/pending/{id}", delete(messages::ack_one))
        .route("/messages/{id}/read", post(messages::read))
        .route("/auth/rotate-key", post(keys::rotate_key))
        .route("/auth/rotate-keys", post(keys::rotate_keys))
        .route("/auth/revoke-key", delete(keys::revoke_key))
        // Spec 08 "WebSocket" and the federation inbox (spec 10).
        .route("/ws", get(ws::handler))
        .route("/federation/deliver", post(federation::deliver))
        // Spec 08 "Attachments".
        .route("/attachments/upload", post(attachments::request_upload))
        .route("/attachments/{id}", get(attachments::get_metadata))
        .route("/attachments/{id}/confirm", post(attachments::confirm))
        .route("/attachments/{id}/download", get(attachments::download))
        .route("/attachments/{id}/content", put(attachments::put_content))
        .route("/attachments/{id}/file", get(attachments::signed_file))
        // Admin: quarantine, suspension, risk score.
        .route("/quarantine", get(admin::list_quarantine))
        .route("/quarantine/{id}", get(admin::get_quarantine))
        .route("/quarantine/{id}/approve", post(admin::approve_quarantine))
        .route("/quarantine/{id}/reject", post(admin::reject_quarantine))
        .route("/agents/{agent_id}/suspend", post(admin::suspend))
        .route("/agents/{agent_id}/unsuspend", post(admin::unsuspend))
        .route("/agents/{agent_id}/risk", get(admin::risk))
}
