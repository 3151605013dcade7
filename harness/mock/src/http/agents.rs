//! Registration and agent endpoints (spec 03, 08 › Agents): `register`, `agents/me`,
//! `agents`, `agents/resolve/{address}`. The rules are in [`crate::service::agents`].

use crate::http::extract::{Authed, BaseUrl, JsonObject, StrictJson};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use std::collections::HashMap;

/// `POST {base}/register` (REG-001..007).
pub(crate) async fn register(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    StrictJson(obj): JsonObject,
) -> ApiResult {
    ok(StatusCode::CREATED, state.register(&obj, &base)?)
}

/// `GET {base}/agents/me` (AGT-001, REG-005: never the API key or webhook secret).
pub(crate) async fn me(State(state): State<AppState>, Authed(who): Authed) -> ApiResult {
    ok(StatusCode::OK, state.agent_profile(&who)?)
}

/// `PATCH {base}/agents/me` (REG-021).
pub(crate) async fn patch_me(
    State(state): State<AppState>,
    Authed(who): Authed,
    StrictJson(obj): JsonObject,
) -> ApiResult {
    ok(StatusCode::OK, state.update_agent(&who, &obj)?)
}

/// `DELETE {base}/agents/me` (REG-023).
pub(crate) async fn delete_me(State(state): State<AppState>, Authed(who): Authed) -> ApiResult {
    ok(StatusCode::OK, state.deregister(&who)?)
}

/// `GET {base}/agents?tenant=&search=&limit=&cursor=` (AGT-002, API-011).
pub(crate) async fn list_agents(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    Authed(who): Authed,
) -> ApiResult {
    ok(StatusCode::OK, state.list_agents(&who, &q)?)
}

/// `GET {base}/agents/resolve/{address}` (AGT-003).
pub(crate) async fn resolve(
    State(state): State<AppState>,
    Path(address): Path<String>,
    Authed(who): Authed,
) -> ApiResult {
    ok(StatusCode::OK, state.resolve_address(&who, &address)?)
}
