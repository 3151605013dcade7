//! Spec error bodies (API-007/API-008): `{"error": <code>, "message": <text>, "field"?: <name>}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An API error: HTTP status, spec error code, a message that says what to do, optional field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Spec error code (`invalid_request`, `signature_invalid`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The offending request field, when one is to blame.
    pub field: Option<String>,
    /// Extra top-level members (e.g. `suggestions` for `name_taken`); boxed to keep the error
    /// small on the `Result` hot path.
    pub extra: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    /// Any status/code pair.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            field: None,
            extra: None,
        }
    }
    /// Attach the offending field.
    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }
    /// Attach an extra top-level member.
    pub fn with_extra(mut self, key: &str, value: Value) -> ApiError {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_string(), value);
        self
    }
    /// 400 invalid_request.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request", message)
    }
    /// 400 missing_field with the field name.
    pub fn missing_field(field: &str) -> ApiError {
        ApiError::new(400, "missing_field", format!("`{field}` is required")).with_field(field)
    }
    /// 400 invalid_field with the field name.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_field", message).with_field(field)
    }
    /// 401 unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "unauthorized", message)
    }
    /// 403 forbidden.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "forbidden", message)
    }
    /// 404 not_found.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }
    /// 500 internal_error (never used for client mistakes on a clean mock).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "internal_error", message)
    }

    /// The spec JSON body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), json!(self.code));
        m.insert("message".into(), json!(self.message));
        if let Some(f) = &self.field {
            m.insert("field".into(), json!(f));
        }
        for (k, v) in self.extra.iter().flat_map(|e| e.iter()) {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl From<amp_core::RouteError> for ApiError {
    fn from(e: amp_core::RouteError) -> Self {
        let mut err = ApiError::new(e.status, e.code, format!("{} ({})", e.message, e.rule));
        err.field = e.field;
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(status, &self.body())
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = (status, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
