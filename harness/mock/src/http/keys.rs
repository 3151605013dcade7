//! Key endpoints (spec 03): API-key rotation (REG-019), public-key rotation with proof
//! (REG-022, C-21) and revocation (REG-020, C-20). The rules are in
//! [`crate::service::agents`].

use crate::http::extract::{Authed, bearer};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// `POST {base}/auth/rotate-key` (REG-019).
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Authed(who): Authed,
) -> ApiResult {
    let presented = bearer(&headers).unwrap_or_default();
    ok(StatusCode::OK, state.rotate_api_key(&who, &presented)?)
}

/// `POST {base}/auth/rotate-keys` (REG-022, REV-001). The raw body goes to the service: the
/// `rotate-keys-bodyless-regenerates` defect acts on bodies the strict parser would refuse.
pub(crate) async fn rotate_keys(
    State(state): State<AppState>,
    Authed(who): Authed,
    body: Bytes,
) -> ApiResult {
    ok(StatusCode::OK, state.rotate_public_key(&who, &body)?)
}

/// `DELETE {base}/auth/revoke-key` (REG-020; C-20 also revokes the public key).
pub(crate) async fn revoke_key(State(state): State<AppState>, Authed(who): Authed) -> ApiResult {
    ok(StatusCode::OK, state.revoke_keys(&who)?)
}
