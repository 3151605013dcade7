//! Provider-to-provider request signatures (FED-002, C-28).

use crate::signing::{PublicKey, SecretKey, Signature, Strictness};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error("placeholder")]
    Todo,
}

pub fn federation_signing_bytes(_timestamp: &str, _body: &[u8]) -> Vec<u8> {
    todo!()
}

pub fn sign_federation(_key: &SecretKey, _timestamp: &str, _body: &[u8]) -> Signature {
    todo!()
}

pub fn verify_federation(
    _pk: &PublicKey,
    _timestamp: &str,
    _body: &[u8],
    _sig_text: &str,
    _now_unix: i64,
    _window_secs: i64,
    _strictness: Strictness,
) -> Result<(), FederationError> {
    todo!()
}
