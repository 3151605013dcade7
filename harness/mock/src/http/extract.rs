//! Extractors: the checks every handler used to repeat (bearer key → agent, strict JSON body,
//! admin key), as types. A handler that takes [`Authed`] runs only for a known, current API
//! key; one that takes [`StrictJson`] only for a body that passed the strict parser. A failed
//! check answers in the spec error format (API-007) with the status the spec gives it.
//!
//! Extractors run in argument order, so `(Authed, StrictJson<_>)` answers 401 before looking
//! at the body, as the handlers did by hand.

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::wire::AgentRef;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

/// The bearer token of a request, if any (scheme case-insensitive).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_string())
}

/// The agent a bearer API key belongs to (API-002); 401 `unauthorized` for a missing,
/// unknown, revoked, expired or deregistered key.
#[derive(Debug, Clone)]
pub struct Authed(pub AgentRef);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized(
                "missing API key: send `Authorization: Bearer <api_key>` (API-002)",
            )
        })?;
        state.authenticate(&token).map(Authed)
    }
}

/// A request body parsed by the strict JSON rules (JSON-003/005/008: no duplicate keys, no
/// non-finite numbers, one value) into `T`; 400 `invalid_request` otherwise. The body cap
/// (API-009, 413) has already been applied by the route's middleware.
#[derive(Debug, Clone)]
pub struct StrictJson<T>(pub T);

/// A JSON object body: [`StrictJson`] of a map (400 when the body is another JSON value).
pub type JsonObject = StrictJson<Map<String, Value>>;

/// What a strictly parsed body can become without a second pass over it.
pub trait FromStrictJson: Sized {
    /// Take the parsed value, or say why it has the wrong shape.
    fn from_strict_json(v: Value) -> Result<Self, ApiError>;
}

impl FromStrictJson for Value {
    fn from_strict_json(v: Value) -> Result<Self, ApiError> {
        Ok(v)
    }
}

impl FromStrictJson for Map<String, Value> {
    fn from_strict_json(v: Value) -> Result<Self, ApiError> {
        match v {
            Value::Object(m) => Ok(m),
            _ => Err(ApiError::invalid_request(
                "request body must be a JSON object",
            )),
        }
    }
}

impl<T: FromStrictJson> StrictJson<T> {
    /// The strict parse of an already-read body (for handlers that need the raw bytes too).
    pub fn parse(state: &AppState, bytes: &[u8]) -> Result<T, ApiError> {
        T::from_strict_json(state.parse_strict_json(bytes)?)
    }
}

impl<T: FromStrictJson> FromRequest<AppState> for StrictJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid_request(format!("could not read the body: {e}")))?;
        Self::parse(state, &bytes).map(StrictJson)
    }
}

/// The provider's origin and base path as this client reached it (`http://<Host><base>`), for
/// URLs that point back at the mock. A `Host` with characters outside a host name or address
/// is replaced by `127.0.0.1`, so a client cannot inject text into the URLs it is given.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".:-[]".contains(&b))
            })
            .unwrap_or("127.0.0.1");
        Ok(BaseUrl(format!(
            "http://{host}{}",
            state.config().normalized_base()
        )))
    }
}

/// Constant-time comparison (the admin key must not leak through timing).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is calling an admin-capable endpoint: the provider's admin key or an agent's API key
/// (401 when neither).
#[derive(Debug, Clone)]
pub enum Caller {
    /// The provider-wide admin bearer key.
    Admin,
    /// An agent's API key.
    Agent(AgentRef),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing credential: send `Authorization: Bearer <admin key>`")
        })?;
        if ct_eq(token.as_bytes(), state.admin_key().as_bytes()) {
            return Ok(Caller::Admin);
        }
        state.authenticate(&token).map(Caller::Agent)
    }
}

/// The admin key (ADM-001): an agent API key is refused with 403 `forbidden`, an unknown key
/// with 401 `unauthorized`.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuthed;

impl FromRequestParts<AppState> for AdminAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Admin => Ok(AdminAuthed),
            // `admin-no-auth`: any agent key opens the admin endpoints.
            Caller::Agent(_) if state.has(Defect::AdminNoAuth) => Ok(AdminAuthed),
            Caller::Agent(_) => Err(ApiError::forbidden(
                "this endpoint needs the provider's admin credential; an agent API key is not enough",
            )),
        }
    }
}
