//! Owner authentication with User Keys (spec 03 › User Key Pattern, REG-010..014): an owner's
//! `uk_…` key, sent as `Authorization: Bearer` on `POST /register`, registers agents into the
//! owner's tenant (the body may then omit `tenant`) and the answer names the `owner_id`. A User
//! Key is a registration credential only: message endpoints never accept it (REG-014).

use crate::api::bearer;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;

/// One owner account the provider knows: its User Key, id and tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerKey {
    /// The `uk_<base64url(owner id)>` credential.
    pub user_key: String,
    pub owner_id: String,
    /// The tenant agents registered with this key are created in.
    pub tenant: String,
}

/// Prefix that marks a bearer token as a User Key rather than an agent API key.
pub const USER_KEY_PREFIX: &str = "uk_";

/// The owner whose User Key authorises this registration: `None` without a `uk_` bearer token;
/// an unknown `uk_` token is a 401 (not silently ignored: the caller meant to use it).
pub fn registering_owner(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<OwnerKey>, ApiError> {
    let Some(token) = bearer(headers).filter(|t| t.starts_with(USER_KEY_PREFIX)) else {
        return Ok(None);
    };
    owner_of(state, &token).map(Some).ok_or_else(|| {
        ApiError::unauthorized(
            "unknown or revoked User Key: use the key from your account, or register without one in an open tenant",
        )
    })
}

/// The configured owner of `token`, if it is one of the provider's User Keys.
pub fn owner_of(state: &AppState, token: &str) -> Option<OwnerKey> {
    state
        .config()
        .user_keys
        .iter()
        .find(|o| o.user_key == token)
        .cloned()
}
