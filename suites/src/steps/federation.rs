//! Steps for playing a peer provider that forwards messages (spec 06 "Federation API",
//! "Provider Identity Verification"; 07 "Replay Protection", "Content Wrapping").
//!
//! The suite plays the peer provider named by the run's [`PeerConfig`] (the target must trust
//! that domain and its key: `Need::FederationPeer`). It owns the key of a sender
//! `name@tenant.<peer domain>`, signs that sender's envelope exactly as amp-core signs a route
//! (SIG-007), wraps it in `{envelope, payload, sender_public_key}` and signs the request as the
//! peer: Ed25519 over `"<X-AMP-Timestamp>.<body>"`, standard Base64 (FED-002).
//!
//! C-28: the spec's reference signs `json.dumps(body)` (Python defaults) while the natural
//! reading signs the bytes sent. Every baseline first sends compact JSON signed over its bytes;
//! if that is refused as unauthenticated it re-sends the body *serialised as Python's json.dumps
//! would*, which satisfies both readings (the bytes sent are the dumps text). The cases then use
//! whichever form the target accepted, and `federation.accepted` warns when only the second did.

use crate::steps::routing::subject;
use amp_core::signing::{Priority, SigningFields};
use amp_core::{MessageId, SecretKey, payload_hash};
use amp_runner::{Agent, Ctx, Failure, Method, PeerConfig, Resp, fail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// The peer and its senders
// ------------------------------------------------------------------------------------------

/// The suite acting as the peer provider.
pub(crate) struct Peer {
    pub(crate) provider: String,
    pub(crate) key: SecretKey,
}

pub(crate) fn peer(ctx: &Ctx) -> Result<Peer, Failure> {
    let Some(PeerConfig {
        provider, key_seed, ..
    }) = ctx.federation_peer()
    else {
        return Err(Failure::Error(
            "no federation peer configured (--federation-peer)".to_string(),
        ));
    };
    Ok(Peer {
        provider: provider.clone(),
        key: SecretKey::from_seed(*key_seed),
    })
}

/// A user of some remote provider whose key the suite holds.
pub(crate) struct Sender {
    pub(crate) address: String,
    pub(crate) key: SecretKey,
}

pub(crate) fn sender_at(ctx: &Ctx, provider: &str) -> Sender {
    Sender {
        address: format!("{}@{}.{provider}", ctx.unique_name("peer"), ctx.tenant()),
        key: ctx.new_key(),
    }
}

/// How the request body is serialised and what the provider signature covers (C-28).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Compact JSON; the signature covers exactly the bytes sent.
    BodyBytes,
    /// Python `json.dumps` defaults (`", "`, `": "`, ASCII escapes); the bytes sent are that
    /// text, so a provider re-serialising the parsed body the Python way gets the same bytes.
    PythonDumps,
}

/// Serialise like Python's `json.dumps(v)` with default arguments (key order kept).
pub(crate) fn python_dumps(v: &Value) -> String {
    fn string(out: &mut String, s: &str) {
        out.push('"');
        for ch in s.chars() {
            match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn walk(out: &mut String, v: &Value) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => string(out, s),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    walk(out, x);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    string(out, k);
                    out.push_str(": ");
                    walk(out, x);
                }
                out.push('}');
            }
        }
    }
    let mut out = String::new();
    walk(&mut out, v);
    out
}

pub(crate) fn wire_bytes(body: &Value, wire: Wire) -> Vec<u8> {
    match wire {
        Wire::BodyBytes => serde_json::to_vec(body).unwrap_or_default(),
        Wire::PythonDumps => python_dumps(body).into_bytes(),
    }
}

/// A federated message under construction: everything the sender signs, plus overrides for
/// the negative cases.
pub(crate) struct Draft<'a> {
    pub(crate) sender: &'a Sender,
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) payload: Value,
    /// Envelope timestamp (unix seconds).
    pub(crate) timestamp: i64,
    /// Sign the envelope with this key instead of the sender's (the sender's public key is
    /// still the one sent as `sender_public_key`).
    pub(crate) signing_key: Option<&'a SecretKey>,
}

impl<'a> Draft<'a> {
    pub(crate) fn new(ctx: &Ctx, sender: &'a Sender, to: &Agent, what: &str) -> Draft<'a> {
        Draft {
            sender,
            to: to.address.clone(),
            subject: subject(ctx, what),
            payload: json!({"type": "notification", "message": format!("federated: {what}")}),
            timestamp: now_unix(),
            signing_key: None,
        }
    }

    /// The deliver body `{envelope, payload, sender_public_key}` and the envelope id.
    pub(crate) fn body(&self, ctx: &Ctx) -> Result<(Value, String), Failure> {
        let hash = payload_hash(&self.payload, ctx.profile()).map_err(|e| {
            Failure::Error(format!("cannot hash the payload ({}): {e}", ctx.profile()))
        })?;
        let fields = SigningFields {
            from: &self.sender.address,
            to: &self.to,
            subject: &self.subject,
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        };
        let canonical = amp_core::canonical_string(&fields);
        let key = self.signing_key.unwrap_or(&self.sender.key);
        let signature = key.sign(canonical.as_bytes()).to_base64();
        let digest = Sha256::digest(ctx.unique_name("fedid").as_bytes());
        let mut random = [0u8; 8];
        random.copy_from_slice(&digest[..8]);
        let id = MessageId::generate(u64::try_from(now_unix()).unwrap_or(0), random).into_string();
        let envelope = json!({
            "version": amp_core::PROTOCOL_VERSION,
            "id": id,
            "from": self.sender.address,
            "to": self.to,
            "subject": self.subject,
            "priority": "normal",
            "timestamp": amp_core::format_rfc3339(self.timestamp),
            "signature": signature,
            "thread_id": id,
            "in_reply_to": null,
        });
        let body = json!({
            "envelope": envelope,
            "payload": self.payload,
            "sender_public_key": self.sender.key.public_key().to_spki_pem(),
        });
        Ok((body, id))
    }
}

/// The provider-level authentication of one request.
pub(crate) enum Auth<'a> {
    /// Signed by the peer key at `X-AMP-Timestamp` = now + offset seconds.
    Signed { key: &'a SecretKey, offset: i64 },
    /// No `X-AMP-Signature` (timestamp still sent).
    NoSignature,
}

/// One prepared request: exactly these bytes and headers, so it can be replayed verbatim.
pub(crate) struct Request {
    pub(crate) provider: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) timestamp: String,
    pub(crate) signature: Option<String>,
}

pub(crate) fn prepare(provider: &str, body: &Value, wire: Wire, auth: Auth<'_>) -> Request {
    let bytes = wire_bytes(body, wire);
    let (timestamp, signature) = match auth {
        Auth::Signed { key, offset } => {
            let ts = now_unix().saturating_add(offset).to_string();
            let sig = amp_core::sign_federation(key, &ts, &bytes).to_base64();
            (ts, Some(sig))
        }
        Auth::NoSignature => (now_unix().to_string(), None),
    };
    Request {
        provider: provider.to_string(),
        bytes,
        timestamp,
        signature,
    }
}

pub(crate) async fn post(ctx: &mut Ctx, req: &Request) -> Result<Resp, Failure> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("Content-Type", "application/json"),
        ("X-AMP-Provider", req.provider.as_str()),
        ("X-AMP-Timestamp", req.timestamp.as_str()),
    ];
    if let Some(s) = &req.signature {
        headers.push(("X-AMP-Signature", s.as_str()));
    }
    ctx.request(
        Method::POST,
        "/federation/deliver",
        &headers,
        Some(req.bytes.clone()),
        None,
    )
    .await
}

/// Deliver `body` correctly signed by the peer under `wire`.
pub(crate) async fn deliver(
    ctx: &mut Ctx,
    p: &Peer,
    body: &Value,
    wire: Wire,
) -> Result<Resp, Failure> {
    let req = prepare(
        &p.provider,
        body,
        wire,
        Auth::Signed {
            key: &p.key,
            offset: 0,
        },
    );
    post(ctx, &req).await
}

/// Did the provider answer as an authentication refusal (the wire form may be the reason)?
/// Judged by status only: the retry with the other wire form proves which one verifies.
pub(crate) fn auth_refusal(resp: &Resp) -> bool {
    matches!(resp.status, 401 | 403)
}

/// The positive baseline: deliver a correct message and find the wire form the target
/// verifies (C-28). Returns the form and the accepted response.
pub(crate) async fn baseline(
    ctx: &mut Ctx,
    p: &Peer,
    body: &Value,
    what: &str,
) -> Result<(Wire, Resp), Failure> {
    let resp = deliver(ctx, p, body, Wire::BodyBytes).await?;
    if accepted(&resp) {
        return Ok((Wire::BodyBytes, resp));
    }
    if auth_refusal(&resp) {
        ctx.note(
            "the raw-bytes provider signature was refused; retrying with the body serialised \
             as Python json.dumps (C-28)",
        );
        let again = deliver(ctx, p, body, Wire::PythonDumps).await?;
        if accepted(&again) {
            return Ok((Wire::PythonDumps, again));
        }
    }
    fail(format!(
        "baseline: {what} from the configured peer {} was refused (HTTP {} {}); a correctly \
         signed forward from a trusted peer must be accepted (FED-003/004), so the case cannot \
         judge its clause (check that the target trusts the peer domain and key)",
        p.provider,
        resp.status,
        resp.error_code().unwrap_or("")
    ))
}

/// 2xx with `accepted: true`.
pub(crate) fn accepted(resp: &Resp) -> bool {
    resp.is_success() && resp.pointer("/accepted") == Some(&Value::Bool(true))
}

/// Set-up shared by every case: recipient, peer, a sender at the peer.
pub(crate) async fn setup(ctx: &mut Ctx) -> Result<(Agent, Peer, Sender), Failure> {
    let p = peer(ctx)?;
    let b = ctx.agent().await?;
    let s = sender_at(ctx, &p.provider);
    Ok((b, p, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_dumps_matches_python_defaults() {
        let v = json!({"b": [1, true, null], "a": "é\n\"x\"", "c": {"d": "😀"}});
        assert_eq!(
            python_dumps(&v),
            r#"{"b": [1, true, null], "a": "\u00e9\n\"x\"", "c": {"d": "\ud83d\ude00"}}"#
        );
    }
}
