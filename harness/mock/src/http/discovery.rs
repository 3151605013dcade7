//! Discovery: `GET {base}/health` (API-003), `GET {base}/info` (API-004) and
//! `GET /.well-known/agent-messaging.json` (DISC-002).

use crate::defects::Defect;
use crate::http::extract::BaseUrl;
use crate::http::{ApiResult, ok};
use crate::ids::fingerprint_of;
use crate::service::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

fn capabilities() -> Value {
    json!([
        "notify:v1",
        "notify:longpoll",
        "websockets",
        "webhooks",
        "federation",
        "attachments"
    ])
}

/// `GET {base}/health` (API-003).
pub(crate) async fn health(State(state): State<AppState>) -> ApiResult {
    ok(
        StatusCode::OK,
        json!({
            "status": "healthy",
            "version": amp_core::PROTOCOL_VERSION,
            "provider": state.config().provider_domain,
            "federation": true,
            "agents_online": state.live().agents_online(),
            "uptime_seconds": state.uptime_secs(),
        }),
    )
}

/// `GET {base}/info` (API-004).
pub(crate) async fn info(State(state): State<AppState>) -> ApiResult {
    let pk = state.provider_public_key();
    let rl = state.config().rate_limits;
    // API-004: `info-missing-fields` leaves out capabilities and rate limits.
    let complete = !state.has(Defect::InfoMissingFields);
    let mut m = Map::new();
    m.insert("provider".into(), json!(state.config().provider_domain));
    m.insert("version".into(), json!(amp_core::PROTOCOL_VERSION));
    m.insert("public_key".into(), json!(pk.to_spki_pem()));
    m.insert("fingerprint".into(), json!(fingerprint_of(&pk)));
    if complete {
        m.insert("capabilities".into(), capabilities());
    }
    m.insert("registration_modes".into(), json!(["open"]));
    if complete {
        m.insert(
            "rate_limits".into(),
            json!({
                "messages_per_minute": rl.messages_per_minute,
                "api_requests_per_minute": rl.api_requests_per_minute,
            }),
        );
    }
    m.insert(
        "attachment_limits".into(),
        json!({
            "max_attachment_size": 26_214_400,
            "max_total_attachment_size": 104_857_600,
            "max_attachments_per_message": 10,
            "av_scanning": false,
        }),
    );
    ok(StatusCode::OK, Value::Object(m))
}

/// `GET /.well-known/agent-messaging.json` (DISC-002; `version` `AMP1` per spec 06, C-14).
pub(crate) async fn well_known(State(state): State<AppState>, BaseUrl(base): BaseUrl) -> ApiResult {
    let pk = state.provider_public_key();
    ok(
        StatusCode::OK,
        json!({
            "version": "AMP1",
            "endpoint": base,
            "provider": state.config().provider_domain,
            "public_key": pk.to_spki_pem(),
            "fingerprint": fingerprint_of(&pk),
            "capabilities": capabilities(),
            "contact": format!("admin@{}", state.config().provider_domain),
        }),
    )
}
