//! Routing and relay endpoints (spec 05, 08 › Messages): `route`, `messages/pending` (with
//! long-poll), `messages/pending/count`, acks and read receipts. The pipeline is in
//! [`crate::service::route`], the relay in [`crate::service::relay`].

use crate::defects::Defect;
use crate::error::ApiError;
use crate::http::extract::{Authed, JsonObject, StrictJson};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use crate::service::fields::parse_limit;
use crate::service::moderation::{check_pickup, quarantined_body};
use crate::wire::{AckResult, AckVia, AgentRef};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// NOTIFY-008: long-poll `wait` ceiling in seconds.
const MAX_WAIT_SECS: u64 = 30;

/// `POST {base}/route` (RTE-002/003).
pub(crate) async fn route(
    State(state): State<AppState>,
    headers: HeaderMap,
    authed: Result<Authed, ApiError>,
    body: Bytes,
) -> ApiResult {
    let who = match authed {
        Ok(Authed(who)) => who,
        Err(e) => mesh_sender_without_auth(&state, &headers, &body).ok_or(e)?,
    };
    let v: Value = StrictJson::parse(&state, &body)?;
    let outcome = if headers.contains_key("x-forwarded-from") {
        state.route_mesh(&who, &v).await
    } else {
        state.route(&who, &v).await
    }
    .map_err(|e| {
        let sig_failure = e.code == "signature_missing" || e.code == "signature_invalid";
        if sig_failure && state.has(Defect::SignatureFailure400) {
            ApiError::invalid_request("the request signature was not accepted")
        } else {
            e
        }
    })?;
    let mut out = outcome.to_json();
    if state.has(Defect::NoDeliveryBasis)
        && let Some(o) = out.as_object_mut()
    {
        o.remove("basis");
    }
    if outcome.status == "quarantined" {
        // RTE-004: held for review, answered 202.
        let out = quarantined_body(&state, out, &outcome.id);
        return ok(StatusCode::ACCEPTED, out);
    }
    ok(StatusCode::OK, out)
}

/// `mesh-header-skips-auth`: a request without credentials that names a mesh host in
/// `X-Forwarded-From` is taken to come from the agent its `from` names.
fn mesh_sender_without_auth(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<AgentRef> {
    if !state.has(Defect::MeshHeaderSkipsAuth)
        || headers.get(header::AUTHORIZATION).is_some()
        || !headers.contains_key("x-forwarded-from")
    {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    state.resolve_str(v.get("from")?.as_str()?)
}

/// `GET {base}/messages/pending?limit=&after=&wait=` (RTE-015/019, NOTIFY-006/007/008).
pub(crate) async fn pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    authed: Result<Authed, ApiError>,
) -> ApiResult {
    let who = if headers.get(header::AUTHORIZATION).is_none() && state.has(Defect::NoAuthPending) {
        // `no-auth-pending`: a request without credentials reads the first agent's queue.
        state
            .first_agent()
            .ok_or_else(|| ApiError::unauthorized("missing API key"))?
    } else {
        authed?.0
    };
    // `pending-agent-param`: a query parameter picks whose queue is listed.
    let who = match q
        .get("agent")
        .filter(|_| state.has(Defect::PendingAgentParam))
    {
        Some(address) => state.resolve_str(address).unwrap_or(who),
        None => who,
    };
    // SUS-003: a suspended agent may not pick up (its messages are kept, SUS-004).
    check_pickup(&state, &who)?;
    let limit = parse_limit(q.get("limit"), 10, 100)?;
    let wait = match q.get("wait") {
        None => 0,
        Some(w) => w
            .trim()
            .parse::<u64>()
            .map_err(|_| {
                ApiError::invalid_field("wait", "`wait` must be a whole number of seconds (0-30)")
            })?
            .min(MAX_WAIT_SECS),
    };
    let after = q.get("after").cloned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let notify = state.mailbox_notify(&who.agent_id);
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let page = state.pending_page(&who, after.as_deref(), limit)?;
        let empty = page
            .get("messages")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if !empty || tokio::time::Instant::now() >= deadline {
            return ok(StatusCode::OK, page);
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

/// `GET {base}/messages/pending/count` (NOTIFY-004).
pub(crate) async fn pending_count(State(state): State<AppState>, Authed(who): Authed) -> ApiResult {
    ok(StatusCode::OK, state.pending_count(&who))
}

/// `DELETE {base}/messages/pending/{id}` (RTE-017, NOTIFY-009).
pub(crate) async fn ack_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> ApiResult {
    match state.ack(&who, &id, AckVia::Delete)? {
        AckResult::Acked => ok(StatusCode::OK, json!({"acknowledged": true})),
        AckResult::AlreadyAcked => ok(
            StatusCode::OK,
            json!({"acknowledged": true, "already_acked": true}),
        ),
    }
}

/// `POST {base}/messages/pending/ack {"ids": [...]}` (RTE-018, NOTIFY-009).
pub(crate) async fn batch_ack(
    State(state): State<AppState>,
    Authed(who): Authed,
    StrictJson(obj): JsonObject,
) -> ApiResult {
    let ids = match obj.get("ids") {
        None => return Err(ApiError::missing_field("ids")),
        Some(Value::Array(a)) if a.len() <= 1000 => a,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "ids",
                "`ids` must be an array of at most 1000 message ids",
            ));
        }
    };
    let mut acked = 0usize;
    let mut already = Vec::new();
    let mut missing = Vec::new();
    let everything: Vec<Value>;
    let ids = if ids.is_empty() && state.has(Defect::BatchAckEmptyAcksAll) {
        everything = state
            .pending_unacked(&who)
            .iter()
            .map(|m| json!(m.id))
            .collect();
        &everything
    } else {
        ids
    };
    for id in ids {
        let Some(id) = id.as_str() else {
            return Err(ApiError::invalid_field("ids", "every id must be a string"));
        };
        match state.ack(&who, id, AckVia::Batch) {
            Ok(AckResult::Acked) => acked += 1,
            Ok(AckResult::AlreadyAcked) => already.push(json!(id)),
            Err(_) => missing.push(json!(id)),
        }
    }
    let mut m = Map::new();
    m.insert("acknowledged".into(), json!(acked));
    m.insert("already_acked".into(), Value::Array(already));
    if !missing.is_empty() {
        m.insert("not_found".into(), Value::Array(missing));
    }
    ok(StatusCode::OK, Value::Object(m))
}

/// `POST {base}/messages/{id}/read` (RTE-022, NOTIFY-010).
pub(crate) async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> ApiResult {
    let sent = state.mark_read(&who, &id)?;
    ok(StatusCode::OK, json!({"read_receipt_sent": sent}))
}
