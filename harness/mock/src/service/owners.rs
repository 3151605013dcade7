//! Owner authentication with User Keys (spec 03 › User Key Pattern, REG-010..014): an owner's
//! `uk_…` key, sent as the bearer token of `POST /register`, registers agents into the owner's
//! tenant (the body may then omit `tenant`) and the answer names the `owner_id`. A User Key is
//! a registration credential only: message endpoints never accept it (REG-014).

use crate::config::OwnerKey;
use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::wire::AgentRef;

/// Prefix that marks a bearer token as a User Key rather than an agent API key.
pub const USER_KEY_PREFIX: &str = "uk_";

impl AppState {
    /// The owner whose User Key authorises a registration: `None` without a `uk_` bearer
    /// token; an unknown `uk_` token is a 401 (the caller meant to use it, so it is not ignored).
    pub fn registering_owner(&self, bearer: Option<&str>) -> Result<Option<OwnerKey>, ApiError> {
        let Some(token) = bearer.filter(|t| t.starts_with(USER_KEY_PREFIX)) else {
            return Ok(None);
        };
        self.owner_of(token).map(Some).ok_or_else(|| {
            ApiError::unauthorized(
                "unknown or revoked User Key: use the key from your account, or register without one in an open tenant",
            )
        })
    }

    /// The configured owner of `token`, if it is one of the provider's User Keys.
    fn owner_of(&self, token: &str) -> Option<OwnerKey> {
        self.config()
            .user_keys
            .iter()
            .find(|o| o.user_key == token)
            .cloned()
    }

    /// `user-key-authenticates` (REG-014): a User Key taken as the credential of the newest
    /// agent in its owner's tenant. `None` on a clean mock or for any other token.
    pub(super) fn user_key_as_agent(&self, token: &str) -> Option<AgentRef> {
        if !self.has(Defect::UserKeyAuthenticates) {
            return None;
        }
        let owner = self.owner_of(token)?;
        let db = self.lock();
        db.agents
            .values()
            .filter(|a| a.tenant.eq_ignore_ascii_case(&owner.tenant))
            .max_by_key(|a| a.registered_at)
            .map(|a| a.as_ref())
    }
}
