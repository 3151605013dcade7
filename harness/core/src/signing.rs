//! Canonical signing string, Ed25519 keys and strict/lax verification
//! (SIG-007, SIG-010, SIG-011, C-05, C-07, C-08, C-19, C-56).

use crate::canonical::PayloadHash;
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority `{0}`: use exactly one of urgent, high, normal, low (lowercase)")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "urgent" => Ok(Priority::Urgent),
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            _ => Err(UnknownPriority(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningFields<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub priority: Priority,
    pub in_reply_to: Option<&'a str>,
    pub payload_hash: &'a PayloadHash,
}

pub fn canonical_string(_f: &SigningFields) -> String {
    todo!()
}

pub fn canonical_string_is_ambiguous(_f: &SigningFields) -> bool {
    todo!()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    #[default]
    Strict,
    Lax,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FingerprintProfile {
    #[default]
    Raw32B64Pad,
    Raw32B64NoPad,
    SpkiDer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("placeholder")]
    Todo,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureTextError {
    #[error("placeholder")]
    Todo,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("placeholder")]
    Todo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leniency {
    Whitespace,
}

pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    pub fn generate() -> SecretKey {
        todo!()
    }
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }
    pub fn sign(&self, _msg: &[u8]) -> Signature {
        todo!()
    }
    pub fn to_pkcs8_pem(&self) -> String {
        todo!()
    }
    pub fn from_pkcs8_pem(_pem: &str) -> Result<SecretKey, KeyError> {
        todo!()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub fn from_spki_pem(_pem: &str) -> Result<PublicKey, KeyError> {
        todo!()
    }
    pub fn to_spki_pem(&self) -> String {
        todo!()
    }
    pub fn from_hex(_s: &str) -> Result<PublicKey, KeyError> {
        todo!()
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_base64(_s: &str) -> Result<PublicKey, KeyError> {
        todo!()
    }
    pub fn from_bytes(_b: &[u8; 32]) -> Result<PublicKey, KeyError> {
        todo!()
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn is_weak(&self) -> bool {
        todo!()
    }
    pub fn fingerprint(&self, _profile: FingerprintProfile) -> String {
        todo!()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

impl Signature {
    pub fn from_bytes(b: [u8; 64]) -> Signature {
        Signature(b)
    }
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
    pub fn to_base64(&self) -> String {
        todo!()
    }
}

pub fn parse_signature_text(
    _s: &str,
    _strictness: Strictness,
) -> Result<Signature, SignatureTextError> {
    todo!()
}

pub fn parse_signature_text_lax(
    _s: &str,
) -> Result<(Signature, Vec<Leniency>), SignatureTextError> {
    todo!()
}

pub fn verify(
    _pk: &PublicKey,
    _msg: &[u8],
    _sig_text: &str,
    _strictness: Strictness,
) -> Result<(), VerifyError> {
    todo!()
}

pub fn sign_fields(key: &SecretKey, fields: &SigningFields) -> Signature {
    key.sign(canonical_string(fields).as_bytes())
}

/// A value that can only be obtained through a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
    pub fn get(&self) -> &T {
        &self.0
    }
}
