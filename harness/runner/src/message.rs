//! Route bodies: a flat body (RTE-002) signed over the canonical string (SIG-007).

use crate::agent::Agent;
use crate::verdict::Failure;
use amp_core::signing::{FingerprintProfile, Priority, SecretKey, SigningFields};
use amp_core::{PayloadProfile, payload_hash};
use serde_json::{Value, json};

/// Builds a flat route body (RTE-002) and signs it (SIG-007).
#[derive(Debug)]
pub struct MessageBuilder<'a> {
    from: &'a Agent,
    to: String,
    subject: String,
    priority: Option<Priority>,
    in_reply_to: Option<String>,
    payload: Value,
    extra: Vec<(String, Value)>,
    profile: PayloadProfile,
}

impl<'a> MessageBuilder<'a> {
    /// A notification from `from` to `to` with the default subject, signed (when asked) with
    /// payload profile `profile`.
    pub fn new(from: &'a Agent, to: &str, profile: PayloadProfile) -> Self {
        MessageBuilder {
            from,
            to: to.to_string(),
            subject: "amp-conformance test message".to_string(),
            priority: None,
            in_reply_to: None,
            payload: json!({"type": "notification", "message": "hello from amp-conformance"}),
            extra: Vec::new(),
            profile,
        }
    }

    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = s.into();
        self
    }
    /// `None` omits the field (the signature then covers `normal`).
    pub fn priority(mut self, p: Option<Priority>) -> Self {
        self.priority = p;
        self
    }
    pub fn in_reply_to(mut self, id: impl Into<String>) -> Self {
        self.in_reply_to = Some(id.into());
        self
    }
    pub fn payload(mut self, p: Value) -> Self {
        self.payload = p;
        self
    }
    /// Add an extra top-level field (`options`, `idempotency_key`, a forged `id`...).
    pub fn field(mut self, k: impl Into<String>, v: Value) -> Self {
        self.extra.push((k.into(), v));
        self
    }
    /// Sign with another payload profile than the run's.
    pub fn profile(mut self, p: PayloadProfile) -> Self {
        self.profile = p;
        self
    }

    /// The canonical signing string this message would be signed over.
    pub fn canonical(&self) -> Result<String, Failure> {
        let hash = payload_hash(&self.payload, self.profile).map_err(|e| {
            Failure::Error(format!(
                "cannot hash the payload with profile {}: {e}",
                self.profile
            ))
        })?;
        let f = SigningFields {
            from: &self.from.address,
            to: &self.to,
            subject: &self.subject,
            priority: self.priority.unwrap_or_default(),
            in_reply_to: self.in_reply_to.as_deref(),
            payload_hash: &hash,
        };
        Ok(amp_core::signing::canonical_string(&f))
    }

    /// Body signed by the sender's key.
    pub fn signed(self) -> Result<Value, Failure> {
        let key = &self.from.key;
        let sig = key.sign(self.canonical()?.as_bytes()).to_base64();
        Ok(self.signature(sig))
    }

    /// Body signed by another key (wrong-key cases).
    pub fn signed_by(self, key: &SecretKey) -> Result<Value, Failure> {
        let sig = key.sign(self.canonical()?.as_bytes()).to_base64();
        Ok(self.signature(sig))
    }

    /// Body without a `signature` field.
    pub fn unsigned(self) -> Value {
        self.body(None)
    }

    /// Body with exactly this `signature` value.
    pub fn signature(self, sig: impl Into<String>) -> Value {
        self.body(Some(sig.into()))
    }

    fn body(self, sig: Option<String>) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("to".into(), Value::String(self.to));
        m.insert("subject".into(), Value::String(self.subject));
        if let Some(p) = self.priority {
            m.insert("priority".into(), Value::String(p.as_str().into()));
        }
        if let Some(r) = self.in_reply_to {
            m.insert("in_reply_to".into(), Value::String(r));
        }
        m.insert("payload".into(), self.payload);
        if let Some(s) = sig {
            m.insert("signature".into(), Value::String(s));
        }
        for (k, v) in self.extra {
            m.insert(k, v);
        }
        Value::Object(m)
    }
}

/// Fingerprint of an agent's key in the default profile (what most providers return).
pub fn fingerprint_of(agent: &Agent) -> String {
    agent
        .key
        .public_key()
        .fingerprint(FingerprintProfile::default())
}
