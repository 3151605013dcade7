//! Message ids (MSG-007, C-12).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdStrictness {
    /// `^msg_[0-9]+_[a-zA-Z0-9]+$` (the JSON schema).
    #[default]
    Schema,
    /// `^msg_[0-9]+_[a-f0-9]+$` (the published vectors).
    Strict,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageIdError {
    #[error("placeholder")]
    Todo,
}

impl MessageId {
    pub fn parse(_s: &str, _strictness: IdStrictness) -> Result<MessageId, MessageIdError> {
        todo!()
    }
    pub fn generate(_unix_secs: u64, _random: [u8; 8]) -> MessageId {
        todo!()
    }
    pub fn random(_unix_secs: u64) -> MessageId {
        todo!()
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MessageId::parse(&s, IdStrictness::Schema).map_err(serde::de::Error::custom)
    }
}
