//! Admin endpoints (spec 08 › Quarantine Management, Agent Suspension, Risk Score; ADM-001..007).
//! They authenticate with [`AdminAuthed`] (the risk score also with the agent's own key,
//! [`Caller`]); the rules are in [`crate::service::moderation`].

use crate::defects::Defect;
use crate::error::ApiError;
use crate::http::extract::{AdminAuthed, Caller, JsonObject, StrictJson};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use crate::service::moderation::QStatus;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::HashMap;

/// Longest `reason` accepted by suspend.
const REASON_MAX: usize = 500;
/// Longest suspension accepted (one year).
const DURATION_HOURS_MAX: u64 = 24 * 366;

/// `GET {base}/quarantine?status=&limit=&cursor=` (ADM-002).
pub(crate) async fn list_quarantine(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    _: AdminAuthed,
) -> ApiResult {
    let status = match q.get("status") {
        None => QStatus::Pending,
        Some(s) => QStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_field(
                "status",
                "status must be one of pending, approved, rejected, expired",
            )
        })?,
    };
    let limit = match q.get("limit") {
        None => 20,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid_field("limit", "limit must be an integer 1-100"))?,
    };
    let after = match q.get("cursor") {
        None => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            ApiError::invalid_field("cursor", "cursor must be a value returned as next_cursor")
        })?),
    };
    ok(StatusCode::OK, state.quarantine_page(status, limit, after))
}

/// `GET {base}/quarantine/{id}` (ADM-003).
pub(crate) async fn get_quarantine(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: AdminAuthed,
) -> ApiResult {
    ok(StatusCode::OK, state.quarantine_entry(&id)?)
}

/// `POST {base}/quarantine/{id}/approve` (ADM-004): deliver as if just arrived.
pub(crate) async fn approve_quarantine(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: AdminAuthed,
) -> ApiResult {
    ok(StatusCode::OK, state.approve_quarantined(&id)?)
}

/// `POST {base}/quarantine/{id}/reject` (ADM-005): the message is never delivered.
pub(crate) async fn reject_quarantine(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: AdminAuthed,
) -> ApiResult {
    ok(StatusCode::OK, state.reject_quarantined(&id)?)
}

/// `POST {base}/agents/{agent_id}/suspend {reason, duration_hours?}` (ADM-006).
pub(crate) async fn suspend(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    _: AdminAuthed,
    StrictJson(o): JsonObject,
) -> ApiResult {
    let reason = match o.get("reason") {
        None | Some(Value::Null) => return Err(ApiError::missing_field("reason")),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= REASON_MAX => {
            s.clone()
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "reason",
                format!("reason must be a non-empty string of at most {REASON_MAX} characters"),
            ));
        }
    };
    let hours = match o.get("duration_hours") {
        None | Some(Value::Null) => None,
        Some(h) => Some(
            h.as_u64()
                .filter(|n| (1..=DURATION_HOURS_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "duration_hours",
                        format!("duration_hours must be an integer 1-{DURATION_HOURS_MAX}"),
                    )
                })?,
        ),
    };
    ok(StatusCode::OK, state.suspend(&agent_id, reason, hours)?)
}

/// `POST {base}/agents/{agent_id}/unsuspend` (ADM-006).
pub(crate) async fn unsuspend(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    _: AdminAuthed,
) -> ApiResult {
    ok(StatusCode::OK, state.unsuspend(&agent_id)?)
}

/// `GET {base}/agents/{agent_id}/risk` (ADM-007): the admin key reads any agent, an agent only
/// itself.
pub(crate) async fn risk(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    caller: Caller,
) -> ApiResult {
    if let Caller::Agent(me) = caller
        && me.agent_id != agent_id
        && !state.has(Defect::RiskAnyAgent)
    {
        return Err(ApiError::forbidden(
            "an agent may read only its own risk score",
        ));
    }
    ok(StatusCode::OK, state.risk_report(&agent_id)?)
}
