//! Message ids (MSG-007, C-12; path-traversal rule ATT-010).
//!
//! Ids look like `msg_<unix seconds>_<suffix>`. The suffix alphabet is contradictory (C-12):
//! the message schema allows `[a-zA-Z0-9]+` ([`IdStrictness::Schema`], the MUST-level check),
//! the published vectors require lowercase hex ([`IdStrictness::Strict`]). Under both, the
//! characters that make an id usable as a path component (`/`, `\`, `..`, NUL) never pass.

use std::fmt;

/// Which suffix alphabet to accept (C-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdStrictness {
    /// `^msg_[0-9]+_[a-zA-Z0-9]+$` (message.schema).
    #[default]
    Schema,
    /// `^msg_[0-9]+_[a-f0-9]+$` (tests/test-vectors.json, msgid-006).
    Strict,
}

/// A syntactically valid message id. Generated ids are always valid under both strictness levels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

/// Why a message id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageIdError {
    #[error("message id is empty: expected `msg_<unix seconds>_<suffix>`")]
    Empty,
    #[error(
        "message id contains a path component ({what}): ids must never contain `/`, `\\`, `..` or NUL"
    )]
    PathTraversal { what: &'static str },
    #[error("message id does not start with `msg_`")]
    MissingPrefix,
    #[error(
        "message id timestamp part is missing or not all digits: expected `msg_<digits>_<suffix>`"
    )]
    BadTimestamp,
    #[error("message id has no `_<suffix>` after the timestamp")]
    MissingSuffix,
    #[error("message id suffix contains {ch:?} at position {pos}: allowed are {allowed}")]
    BadSuffixChar {
        ch: char,
        pos: usize,
        allowed: &'static str,
    },
}

impl MessageIdError {
    /// The catalogue id of the rule that failed.
    pub fn rule(&self) -> &'static str {
        match self {
            MessageIdError::PathTraversal { .. } => "ATT-010",
            _ => "MSG-007",
        }
    }
}

impl MessageId {
    /// Validates `s` as a message id under `strictness`.
    pub fn parse(s: &str, strictness: IdStrictness) -> Result<MessageId, MessageIdError> {
        if s.is_empty() {
            return Err(MessageIdError::Empty);
        }
        if s.contains('/') {
            return Err(MessageIdError::PathTraversal { what: "`/`" });
        }
        if s.contains('\\') {
            return Err(MessageIdError::PathTraversal { what: "`\\`" });
        }
        if s.contains("..") {
            return Err(MessageIdError::PathTraversal { what: "`..`" });
        }
        if s.contains('\0') {
            return Err(MessageIdError::PathTraversal { what: "NUL" });
        }
        let rest = s
            .strip_prefix("msg_")
            .ok_or(MessageIdError::MissingPrefix)?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(MessageIdError::BadTimestamp);
        }
        let after = &rest[digits..];
        let suffix = match after.strip_prefix('_') {
            Some(x) => x,
            None if after.is_empty() => return Err(MessageIdError::MissingSuffix),
            None => return Err(MessageIdError::BadTimestamp),
        };
        if suffix.is_empty() {
            return Err(MessageIdError::MissingSuffix);
        }
        let (ok, allowed): (fn(char) -> bool, &'static str) = match strictness {
            IdStrictness::Schema => (|c| c.is_ascii_alphanumeric(), "[a-zA-Z0-9]"),
            IdStrictness::Strict => (|c| matches!(c, '0'..='9' | 'a'..='f'), "[a-f0-9]"),
        };
        if let Some((pos, ch)) = suffix.char_indices().find(|&(_, c)| !ok(c)) {
            return Err(MessageIdError::BadSuffixChar { ch, pos, allowed });
        }
        Ok(MessageId(s.to_string()))
    }

    /// `msg_<unix_secs>_<16 lowercase hex>` from caller-supplied randomness (deterministic).
    pub fn generate(unix_secs: u64, random: [u8; 8]) -> MessageId {
        MessageId(format!("msg_{unix_secs}_{}", hex::encode(random)))
    }

    /// Like [`MessageId::generate`] with 8 bytes from the operating system's RNG.
    ///
    /// # Panics
    /// Only if the operating system has no usable random source (not input-dependent).
    pub fn random(unix_secs: u64) -> MessageId {
        let mut r = [0u8; 8];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut r).expect("operating system random source unavailable");
        Self::generate(unix_secs, r)
    }

    /// The timestamp part (seconds), if it fits in a u64.
    pub fn unix_secs(&self) -> Option<u64> {
        self.0[4..].split('_').next()?.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for MessageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    /// Deserialisation uses the schema alphabet ([`IdStrictness::Schema`]).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MessageId::parse(&s, IdStrictness::Schema).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        let strict = IdStrictness::Strict;
        assert!(MessageId::parse("msg_1706648400_abc123", strict).is_ok());
        assert!(MessageId::parse("msg_1706648400_deadbeef0099", strict).is_ok());
        for bad in [
            "../../../etc/passwd",
            "msg_1706648400_abc/123",
            "1706648400_abc123",
            "msg_1706648400_ABC123",
            "",
        ] {
            assert!(MessageId::parse(bad, strict).is_err(), "{bad}");
        }
        // msgid-006 only fails under the strict profile (C-12).
        assert!(MessageId::parse("msg_1706648400_ABC123", IdStrictness::Schema).is_ok());
        assert!(MessageId::parse("msg_1706648400_xyz789def", IdStrictness::Schema).is_ok());
    }

    #[test]
    fn traversal_always_rejected() {
        for s in ["msg_1_a\\b", "msg_1_a..b", "msg_1_a\0", "msg_1_../x"] {
            for st in [IdStrictness::Schema, IdStrictness::Strict] {
                let e = MessageId::parse(s, st).unwrap_err();
                assert_eq!(e.rule(), "ATT-010", "{s:?}");
            }
        }
    }

    #[test]
    fn structure_errors() {
        assert_eq!(
            MessageId::parse("msg__abc", IdStrictness::Schema),
            Err(MessageIdError::BadTimestamp)
        );
        assert_eq!(
            MessageId::parse("msg_12", IdStrictness::Schema),
            Err(MessageIdError::MissingSuffix)
        );
        assert_eq!(
            MessageId::parse("msg_12_", IdStrictness::Schema),
            Err(MessageIdError::MissingSuffix)
        );
        assert_eq!(
            MessageId::parse("msg_12x_a", IdStrictness::Schema),
            Err(MessageIdError::BadTimestamp)
        );
        assert!(matches!(
            MessageId::parse("msg_12_a-b", IdStrictness::Schema),
            Err(MessageIdError::BadSuffixChar {
                ch: '-',
                pos: 1,
                ..
            })
        ));
    }

    #[test]
    fn generated_ids_are_valid() {
        let id = MessageId::generate(1_706_648_400, [0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 0xff]);
        assert_eq!(id.as_str(), "msg_1706648400_deadbeef000102ff");
        assert_eq!(id.unix_secs(), Some(1_706_648_400));
        let r = MessageId::random(5);
        assert!(MessageId::parse(r.as_str(), IdStrictness::Strict).is_ok());
        assert_ne!(MessageId::random(5), MessageId::random(5));
    }
}
