//! Route request and envelope model, size limits, attachment metadata
//! (MSG-001..014, RTE-002, SIG-004/006, ATT-004, ATT-010, C-41, C-44).

use crate::canonical::PayloadHash;
use crate::signing::{Priority, SigningFields};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PROTOCOL_VERSION: &str = "amp/0.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub subject_chars: usize,
    pub message_bytes: usize,
    pub context_bytes: usize,
    pub message_total_bytes: usize,
    pub http_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            subject_chars: 256,
            message_bytes: 65_536,
            context_bytes: 262_144,
            message_total_bytes: 524_288,
            http_body_bytes: 1_048_576,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message} ({rule})")]
pub struct RouteError {
    pub status: u16,
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
    pub rule: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteRequest {
    pub to: String,
    pub subject: String,
    pub priority: Option<Priority>,
    pub in_reply_to: Option<String>,
    pub signature: Option<String>,
    pub payload: Value,
    pub options: Option<RouteOptions>,
    pub idempotency_key: Option<String>,
    pub from: Option<String>,
    pub id: Option<String>,
    pub timestamp: Option<String>,
}

impl RouteRequest {
    pub fn from_value(_v: &Value, _limits: &Limits) -> Result<RouteRequest, RouteError> {
        todo!()
    }
    pub fn signing_fields<'a>(
        &'a self,
        from: &'a str,
        payload_hash: &'a PayloadHash,
    ) -> SigningFields<'a> {
        SigningFields {
            from,
            to: &self.to,
            subject: &self.subject,
            priority: self.priority.unwrap_or_default(),
            in_reply_to: self.in_reply_to.as_deref(),
            payload_hash,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: String,
    pub id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    #[serde(default)]
    pub priority: Priority,
    pub timestamp: String,
    pub signature: String,
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub envelope: Envelope,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("placeholder")]
    Todo,
}

pub fn validate_attachment(_v: &Value) -> Result<(), AttachmentError> {
    todo!()
}

pub fn validate_afp_attachment(_v: &Value) -> Result<(), AttachmentError> {
    todo!()
}
