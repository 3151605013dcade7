//! `POST {base}/federation/deliver` (spec 06 "Forward Endpoint"). The handler takes the raw
//! body: the peer's provider signature covers its exact bytes. Every check is in
//! [`crate::service::federation`].

use crate::error::json_response;
use crate::service::AppState;
use crate::service::federation::{ForwardHeaders, accept};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// A header as text (absent, empty or non-UTF-8 → `None`).
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `POST {base}/federation/deliver`.
pub async fn deliver(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let forward = ForwardHeaders {
        provider: header(&headers, "x-amp-provider"),
        timestamp: header(&headers, "x-amp-timestamp"),
        signature: header(&headers, "x-amp-signature"),
    };
    match accept(&state, &forward, &body).await {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => {
            let (status, body) = r.status_and_body();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, &body)
        }
    }
}
