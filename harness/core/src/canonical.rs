//! Canonical payload serialisation and payload hash (SIG-008, SIG-009, C-01..C-04).

use serde_json::Value;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadProfile {
    #[default]
    Sorted,
    Jcs,
    Insertion,
    PythonAscii,
}

impl PayloadProfile {
    pub const ALL: [PayloadProfile; 4] = [
        PayloadProfile::Sorted,
        PayloadProfile::Jcs,
        PayloadProfile::Insertion,
        PayloadProfile::PythonAscii,
    ];
    pub fn name(self) -> &'static str {
        match self {
            PayloadProfile::Sorted => "sorted",
            PayloadProfile::Jcs => "jcs",
            PayloadProfile::Insertion => "insertion",
            PayloadProfile::PythonAscii => "python-ascii",
        }
    }
}

impl fmt::Display for PayloadProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown payload profile `{0}`: use one of sorted, jcs, insertion, python-ascii")]
pub struct UnknownProfile(pub String);

impl FromStr for PayloadProfile {
    type Err = UnknownProfile;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PayloadProfile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    #[error("placeholder")]
    Todo,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PayloadHash(String);

impl PayloadHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn canonical_payload(
    _payload: &Value,
    _profile: PayloadProfile,
) -> Result<Vec<u8>, CanonError> {
    todo!()
}

pub fn payload_hash(_payload: &Value, _profile: PayloadProfile) -> Result<PayloadHash, CanonError> {
    todo!()
}

pub fn hash_canonical_bytes(_bytes: &[u8]) -> PayloadHash {
    todo!()
}

pub fn hash_serialized_text(_text: &str) -> PayloadHash {
    todo!()
}
