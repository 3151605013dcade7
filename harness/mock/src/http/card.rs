//! `GET`/`PUT {base}/agents/me/card` (spec 02 › Agent Card); the rules are in
//! [`crate::service::cards`].

use crate::http::extract::{Authed, StrictJson};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// `GET {base}/agents/me/card` (CARD-005).
pub(crate) async fn get_card(State(state): State<AppState>, Authed(who): Authed) -> ApiResult {
    ok(StatusCode::OK, state.agent_card(&who)?)
}

/// `PUT {base}/agents/me/card` (CARD-006 upload of a locally signed card, verified per CARD-004).
pub(crate) async fn put_card(
    State(state): State<AppState>,
    Authed(who): Authed,
    StrictJson(card): StrictJson<Value>,
) -> ApiResult {
    state.upload_card(&who, &card)?;
    ok(StatusCode::OK, json!({"status": "stored", "card": card}))
}
