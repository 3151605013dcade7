//! The spec error format (API-007): every error response carries `{"error", "message"}`,
//! including the ones the framework produces itself (405, unknown paths).

use crate::defects::Defect;
use crate::error::{ApiError, json_response};
use crate::service::AppState;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// API-007: every error response carries the spec error body. Errors produced by the framework
/// (405, empty 404) are given one; the `wrong-error-format` defect rewrites them to `{"msg"}`.
pub(crate) async fn error_format_mw(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let wrong = state.has(Defect::WrongErrorFormat);
    if is_json && !wrong {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            }
        });
    let body = if wrong {
        json!({ "msg": message })
    } else {
        ApiError::new(status.as_u16(), status_code_name(status), message).body()
    };
    let mut out = json_response(status, &body);
    // Keep rate-limit and Retry-After headers.
    for (k, v) in parts.headers.drain() {
        if let Some(k) = k
            && k != header::CONTENT_TYPE
            && k != header::CONTENT_LENGTH
        {
            out.headers_mut().insert(k, v);
        }
    }
    out
}

fn status_code_name(s: StatusCode) -> &'static str {
    match s.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "request_too_large",
        415 => "invalid_request",
        429 => "rate_limited",
        _ => "internal_error",
    }
}

/// Unknown paths.
pub(crate) async fn not_found() -> Response {
    ApiError::not_found("no such endpoint: see GET /v1/info for the API").into_response()
}
