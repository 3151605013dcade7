//! Strict JSON parsing of hostile input (JSON-003/005).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("placeholder")]
    Todo,
}

pub const MAX_DEPTH: usize = 128;

pub fn parse_strict(_bytes: &[u8]) -> Result<serde_json::Value, JsonError> {
    todo!()
}
