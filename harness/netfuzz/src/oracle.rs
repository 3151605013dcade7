//! The oracle: what the fuzzer sent, and what every answer must therefore look like.
//!
//! Invariants (clause ids from the requirement catalogue):
//! * no 5xx, ever (JSON-008 for malformed bodies, API-008 otherwise);
//! * no hang (request timeout) and no connection reset (no clause: transport robustness;
//!   API-009 when a body over the 1 MiB limit got no answer at all before the hang-up);
//! * every 4xx body is `{error: string, message: string, ...}` (API-007);
//! * a route body whose signature does not verify over what was actually sent, or that has none,
//!   is never accepted (SIG-015; SIG-002 unsigned; SIG-016 when it only verifies with another
//!   priority; SIG-011 when it only verifies leniently; SIG-013 with a spoofed `from`);
//! * a body that is not strict JSON or fails route validation is never accepted (JSON-003,
//!   JSON-008, MSG-*): the oracle runs amp-core's own validator on the bytes it sent;
//! * a message is never listed twice, never listed to an agent that was not its recipient,
//!   never listed after a successful ack (REPLAY-005, RTE-015, RTE-017), and its `from` is the
//!   authenticated sender (SIG-013);
//! * acking an acked id succeeds again (NOTIFY-009); acking another agent's message does not
//!   succeed (RTE-017);
//! * WebSocket: server frames are JSON objects with a `type` (WS-013), error frames carry
//!   `error` and `message` (API-007), a session that started with a bad or non-auth frame is
//!   closed and never answered `connected` (WS-005/006), a token in the URL does not
//!   authenticate (WS-001), an authenticated session answers `ping` (WS-009), messages queued
//!   before the connection are pushed with `replay: true` (NOTIFY-012);
//! * a payload is delivered exactly as sent (MSG-010; all lane agents share one tenant, so no
//!   trust wrapping applies, TRUST-004).

use amp_core::envelope::{Limits, RouteRequest};
use amp_core::signing::{
    Priority, PublicKey, SigningFields, Strictness, canonical_string, verify_fields,
};
use amp_core::{PayloadProfile, payload_hash};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A property every target must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    ServerError,
    Hang,
    Transport,
    ErrorFormat,
    BadSignatureAccepted,
    InvalidBodyAccepted,
    DuplicateDelivery,
    WrongRecipient,
    SpoofedSender,
    UnexpectedDelivery,
    AckedReturned,
    AckNotIdempotent,
    CrossAgentAck,
    WsProtocol,
    WsAuth,
    PayloadModified,
    ReplayUnmarked,
}

impl Invariant {
    pub fn name(self) -> &'static str {
        match self {
            Invariant::ServerError => "server-error",
            Invariant::Hang => "hang",
            Invariant::Transport => "transport",
            Invariant::ErrorFormat => "error-format",
            Invariant::BadSignatureAccepted => "bad-signature-accepted",
            Invariant::InvalidBodyAccepted => "invalid-body-accepted",
            Invariant::DuplicateDelivery => "duplicate-delivery",
            Invariant::WrongRecipient => "wrong-recipient",
            Invariant::SpoofedSender => "spoofed-sender",
            Invariant::UnexpectedDelivery => "unexpected-delivery",
            Invariant::AckedReturned => "acked-returned",
            Invariant::AckNotIdempotent => "ack-not-idempotent",
            Invariant::CrossAgentAck => "cross-agent-ack",
            Invariant::WsProtocol => "ws-protocol",
            Invariant::WsAuth => "ws-auth",
            Invariant::PayloadModified => "payload-modified",
            Invariant::ReplayUnmarked => "replay-unmarked",
        }
    }
    /// One sentence: what a correct provider does.
    pub fn description(self) -> &'static str {
        match self {
            Invariant::ServerError => "no request, however malformed, gets a 5xx",
            Invariant::Hang => "every request is answered within the timeout",
            Invariant::Transport => "connections are not reset or broken mid-answer",
            Invariant::ErrorFormat => "every 4xx body is {error, message}",
            Invariant::BadSignatureAccepted => {
                "nothing with a missing, broken or altered-after-signing signature is accepted"
            }
            Invariant::InvalidBodyAccepted => {
                "bodies that are not strict, valid route JSON are refused"
            }
            Invariant::DuplicateDelivery => "a message is delivered at most once",
            Invariant::WrongRecipient => "a message is delivered only to its recipient",
            Invariant::SpoofedSender => "envelope.from is the authenticated sender",
            Invariant::UnexpectedDelivery => "only accepted messages are delivered",
            Invariant::AckedReturned => "an acked message never comes back",
            Invariant::AckNotIdempotent => "acking an acked message succeeds again",
            Invariant::CrossAgentAck => "an agent cannot ack another agent's message",
            Invariant::WsProtocol => "server WebSocket frames are JSON objects with a type",
            Invariant::WsAuth => {
                "a WebSocket authenticates only through a valid auth frame sent first"
            }
            Invariant::PayloadModified => "a payload is delivered exactly as it was sent",
            Invariant::ReplayUnmarked => {
                "messages replayed on WebSocket connect carry replay: true"
            }
        }
    }
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: Invariant,
    pub clause: Option<String>,
    pub detail: String,
    /// Index of the operation (in the lane's or reproducer's list) that revealed it.
    pub op_index: usize,
}

pub(crate) fn v(invariant: Invariant, clause: Option<&str>, detail: String) -> Violation {
    Violation {
        invariant,
        clause: clause.map(str::to_string),
        detail,
        op_index: 0,
    }
}

/// Cut text for reports (on a char boundary).
pub fn excerpt(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// Status and body checks that apply to every HTTP answer.
pub fn check_http(status: u16, body: &[u8], malformed_request: bool, what: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let text = || excerpt(&String::from_utf8_lossy(body), 300);
    if status >= 500 {
        let clause = if malformed_request {
            "JSON-008"
        } else {
            "API-008"
        };
        out.push(v(
            Invariant::ServerError,
            Some(clause),
            format!("{what} answered {status}: {}", text()),
        ));
    } else if (400..500).contains(&status) {
        let ok = serde_json::from_slice::<Value>(body).ok().is_some_and(|v| {
            v.get("error").is_some_and(Value::is_string)
                && v.get("message").is_some_and(Value::is_string)
        });
        if !ok {
            out.push(v(
                Invariant::ErrorFormat,
                Some("API-007"),
                format!(
                    "{what} answered {status} without a {{error, message}} body: {}",
                    text()
                ),
            ));
        }
    }
    out
}

/// What the oracle knows about a route body it is about to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Must not be accepted (2xx): which invariant and clause a 2xx breaks, and why.
    Reject {
        invariant: Invariant,
        clause: RejectClause,
        why: String,
        /// Recipient index and signature text, for recognising the message if it shows up.
        recipient: Option<usize>,
        signature: String,
    },
    /// A correct provider may accept it; `payload` is what it must deliver (MSG-010).
    MayAccept {
        recipient: Option<usize>,
        signature: String,
        payload: Value,
    },
}

/// The clause a provider breaks by accepting a route it must refuse. For a signature that does
/// not verify, naming the most specific clause takes up to five more verifications, so that is
/// done only when a provider does accept one (a finding, hence rare), not for every route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectClause {
    Known(&'static str),
    BadSignature(Box<BadSignature>),
}

/// What was signed and sent, to tell SIG-011, SIG-016, SIG-013 and SIG-015 apart later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSignature {
    key: PublicKey,
    from: String,
    to: String,
    subject: String,
    priority: Priority,
    in_reply_to: Option<String>,
    payload_hash: amp_core::PayloadHash,
    signature: String,
    spoofed: bool,
}

impl RejectClause {
    pub fn resolve(&self) -> &'static str {
        let b = match self {
            RejectClause::Known(c) => return c,
            RejectClause::BadSignature(b) => b,
        };
        let fields = SigningFields {
            from: &b.from,
            to: &b.to,
            subject: &b.subject,
            priority: b.priority,
            in_reply_to: b.in_reply_to.as_deref(),
            payload_hash: &b.payload_hash,
        };
        let lax = |f: &SigningFields| verify_fields(&b.key, f, &b.signature, Strictness::Lax);
        if lax(&fields).is_ok() {
            "SIG-011"
        } else if [
            Priority::Urgent,
            Priority::High,
            Priority::Normal,
            Priority::Low,
        ]
        .into_iter()
        .any(|p| {
            lax(&SigningFields {
                priority: p,
                ..fields
            })
            .is_ok()
        }) {
            "SIG-016"
        } else if b.spoofed {
            "SIG-013"
        } else {
            "SIG-015"
        }
    }
}

impl Expectation {
    pub fn recipient(&self) -> Option<usize> {
        match self {
            Expectation::Reject { recipient, .. } | Expectation::MayAccept { recipient, .. } => {
                *recipient
            }
        }
    }
    pub fn signature(&self) -> &str {
        match self {
            Expectation::Reject { signature, .. } | Expectation::MayAccept { signature, .. } => {
                signature
            }
        }
    }
}

/// A signature the lane produced itself: which of its agents signed, the canonical string it
/// signed and the signature text it put in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSignature {
    pub signer: usize,
    pub canonical: String,
    pub text: String,
}

/// Facts about one of the lane's agents the oracle needs.
#[derive(Debug, Clone)]
pub struct AgentFacts {
    /// Lowercase address.
    pub address: String,
    pub public_key: PublicKey,
}

#[derive(Debug, Clone)]
struct Accepted {
    sender: usize,
    recipient: Option<usize>,
    /// The payload as sent (None when unknown, e.g. a WebSocket route matched by signature).
    payload: Option<Value>,
}

/// The oracle's model of one lane.
#[derive(Debug)]
pub struct Model {
    pub agents: Vec<AgentFacts>,
    profile: PayloadProfile,
    accepted: HashMap<String, Accepted>,
    /// (recipient, signature) → ids accepted with it.
    accepted_by_sig: HashMap<(usize, String), HashSet<String>>,
    /// WebSocket-routed bodies a provider may have accepted (no id is answered, C-26).
    ws_may: HashMap<(usize, String), u32>,
    /// Bodies that were refused or must never be accepted: if they show up, that is a finding.
    must_not: HashMap<(usize, String), (Invariant, RejectClause, String)>,
    seen: Vec<Vec<String>>,
    seen_set: Vec<HashSet<String>>,
    acked: Vec<HashSet<String>>,
}

impl Model {
    pub fn new(agents: Vec<AgentFacts>, profile: PayloadProfile) -> Model {
        let n = agents.len();
        Model {
            agents,
            profile,
            accepted: HashMap::new(),
            accepted_by_sig: HashMap::new(),
            ws_may: HashMap::new(),
            must_not: HashMap::new(),
            seen: vec![Vec::new(); n],
            seen_set: vec![HashSet::new(); n],
            acked: vec![HashSet::new(); n],
        }
    }

    fn agent_by_address(&self, addr: &str) -> Option<usize> {
        let lower = addr.to_ascii_lowercase();
        self.agents.iter().position(|a| a.address == lower)
    }

    /// Judge the exact bytes of a route body sent by agent `sender`; `own` is the signature
    /// the lane made for it, if any.
    ///
    /// The fields are always read back from the bytes. When the body carries exactly the text
    /// `sender`'s key produced over exactly the canonical string those fields give, the
    /// signature verifies by construction (Ed25519 signing is deterministic, and amp-core's
    /// signer is checked against the vectors), so comparing two strings replaces a second
    /// verification; any other signature is verified.
    pub fn expect_route(
        &self,
        sender: usize,
        bytes: &[u8],
        own: Option<&OwnSignature>,
    ) -> Expectation {
        let reject =
            |invariant, clause, why: String, recipient, signature: String| Expectation::Reject {
                invariant,
                clause,
                why,
                recipient,
                signature,
            };
        let value = match amp_core::json::parse_strict(bytes) {
            Ok(v) => v,
            Err(e) => {
                return reject(
                    Invariant::InvalidBodyAccepted,
                    RejectClause::Known(e.rule()),
                    e.to_string(),
                    None,
                    String::new(),
                );
            }
        };
        let recipient = value
            .get("to")
            .and_then(Value::as_str)
            .and_then(|t| self.agent_by_address(t));
        let signature = value
            .get("signature")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let req = match RouteRequest::from_value(&value, &Limits::default()) {
            Ok(r) => r,
            Err(e) => {
                return reject(
                    Invariant::InvalidBodyAccepted,
                    RejectClause::Known(e.rule),
                    e.to_string(),
                    recipient,
                    signature,
                );
            }
        };
        let me = &self.agents[sender];
        let spoofed = req
            .from
            .as_deref()
            .is_some_and(|f| !f.eq_ignore_ascii_case(&me.address));
        let Some(sig) = req.signature.as_deref() else {
            return reject(
                Invariant::BadSignatureAccepted,
                RejectClause::Known("SIG-002"),
                "route body has no signature".into(),
                recipient,
                signature,
            );
        };
        let Ok(hash) = payload_hash(&req.payload, self.profile) else {
            return reject(
                Invariant::InvalidBodyAccepted,
                RejectClause::Known("JSON-004"),
                "payload cannot be canonicalised".into(),
                recipient,
                signature,
            );
        };
        let fields = req.signing_fields(&me.address, &hash);
        let signed_by_us = own.is_some_and(|o| {
            o.signer == sender && o.text == sig && o.canonical == canonical_string(&fields)
        });
        if signed_by_us || verify_fields(&me.public_key, &fields, sig, Strictness::Strict).is_ok() {
            return Expectation::MayAccept {
                recipient,
                signature,
                payload: req.payload.clone(),
            };
        }
        let clause = RejectClause::BadSignature(Box::new(BadSignature {
            key: me.public_key,
            from: me.address.clone(),
            to: req.to.clone(),
            subject: req.subject.clone(),
            priority: fields.priority,
            in_reply_to: req.in_reply_to.clone(),
            payload_hash: hash.clone(),
            signature: sig.to_string(),
            spoofed,
        }));
        reject(
            Invariant::BadSignatureAccepted,
            clause,
            format!(
                "signature does not verify over the fields sent (from {}, to {:?}, subject {:?})",
                me.address,
                excerpt(&req.to, 80),
                excerpt(&req.subject, 80)
            ),
            recipient,
            signature,
        )
    }

    /// A REST route answered `status`: record acceptance or report a violation.
    pub fn route_answer(
        &mut self,
        sender: usize,
        exp: &Expectation,
        status: u16,
        body: &[u8],
    ) -> Vec<Violation> {
        let accepted = (200..300).contains(&status);
        match exp {
            Expectation::Reject {
                invariant,
                clause,
                why,
                recipient,
                signature,
            } => {
                if let Some(r) = recipient {
                    self.must_not.insert(
                        (*r, signature.clone()),
                        (*invariant, clause.clone(), why.clone()),
                    );
                }
                if accepted {
                    return vec![v(
                        *invariant,
                        Some(clause.resolve()),
                        format!("route accepted ({status}) although {why}"),
                    )];
                }
            }
            Expectation::MayAccept {
                recipient,
                signature,
                payload,
            } => {
                if accepted
                    && let Some(id) = serde_json::from_slice::<Value>(body)
                        .ok()
                        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
                {
                    self.record_accepted(
                        id,
                        sender,
                        *recipient,
                        signature.clone(),
                        Some(payload.clone()),
                    );
                }
            }
        }
        Vec::new()
    }

    /// A WebSocket route frame was sent (no success answer exists, C-26).
    pub fn ws_route_sent(&mut self, exp: &Expectation) {
        match exp {
            Expectation::MayAccept {
                recipient: Some(r),
                signature,
                ..
            } => {
                *self.ws_may.entry((*r, signature.clone())).or_default() += 1;
            }
            Expectation::Reject {
                invariant,
                clause,
                why,
                recipient: Some(r),
                signature,
            } => {
                self.must_not.entry((*r, signature.clone())).or_insert((
                    *invariant,
                    clause.clone(),
                    format!("sent over WebSocket although {why}"),
                ));
            }
            _ => {}
        }
    }

    fn record_accepted(
        &mut self,
        id: String,
        sender: usize,
        recipient: Option<usize>,
        signature: String,
        payload: Option<Value>,
    ) {
        if let Some(r) = recipient {
            self.accepted_by_sig
                .entry((r, signature))
                .or_default()
                .insert(id.clone());
        }
        self.accepted.insert(
            id,
            Accepted {
                sender,
                recipient,
                payload,
            },
        );
    }

    fn note_seen(&mut self, agent: usize, id: &str) {
        if self.seen_set[agent].insert(id.to_string()) {
            self.seen[agent].push(id.to_string());
        }
    }

    /// Check one delivered message (pending entry or `message.new` data) for `agent`.
    fn delivered(
        &mut self,
        agent: usize,
        id: &str,
        envelope: Option<&Value>,
        payload: Option<&Value>,
        via: &str,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let to = envelope
            .and_then(|e| e.get("to"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let from = envelope
            .and_then(|e| e.get("from"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let sig = envelope
            .and_then(|e| e.get("signature"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let me = self.agents[agent].address.clone();
        if !to.is_empty() && !to.eq_ignore_ascii_case(&me) {
            out.push(v(
                Invariant::WrongRecipient,
                Some("RTE-015"),
                format!("{via} of {me} lists message {id} addressed to {to}"),
            ));
        }
        if self.acked[agent].contains(id) {
            let clause = if via.starts_with("WebSocket") {
                "NOTIFY-012"
            } else {
                "RTE-017"
            };
            out.push(v(
                Invariant::AckedReturned,
                Some(clause),
                format!("{via} of {me} lists message {id} after it was acknowledged"),
            ));
        }
        match self.accepted.get(id) {
            Some(acc) => {
                if acc.recipient.is_some_and(|r| r != agent) {
                    out.push(v(
                        Invariant::WrongRecipient,
                        Some("RTE-015"),
                        format!(
                            "{via} of {me} lists message {id}, which was routed to another agent"
                        ),
                    ));
                }
                let sender = &self.agents[acc.sender].address;
                // All lane agents share one tenant: the payload arrives exactly as sent
                // (MSG-010; no trust wrapping inside a tenant, TRUST-004).
                if let (Some(sent), Some(got)) = (&acc.payload, payload)
                    && !json_equiv(sent, got)
                {
                    out.push(v(
                        Invariant::PayloadModified,
                        Some("MSG-010"),
                        format!(
                            "{via} of {me}: payload of message {id} differs from what was sent: sent {}, delivered {}",
                            excerpt(&sent.to_string(), 200),
                            excerpt(&got.to_string(), 200)
                        ),
                    ));
                }
                if !from.is_empty() && !from.eq_ignore_ascii_case(sender) {
                    out.push(v(
                        Invariant::SpoofedSender,
                        Some("SIG-013"),
                        format!(
                            "message {id} was sent by {sender} but is delivered as from {from}"
                        ),
                    ));
                }
            }
            None => {
                let key = (agent, sig.to_string());
                let from_us = self.agent_by_address(from).is_some();
                if let Some(n) = self.ws_may.get_mut(&key).filter(|n| **n > 0) {
                    *n -= 1;
                    let sender = self.agent_by_address(from).unwrap_or(agent);
                    self.record_accepted(
                        id.to_string(),
                        sender,
                        Some(agent),
                        sig.to_string(),
                        None,
                    );
                } else if let Some((inv, clause, why)) = self.must_not.get(&key) {
                    out.push(v(
                        *inv,
                        Some(clause.resolve()),
                        format!("{via} of {me} delivers message {id} although {why}"),
                    ));
                } else if self
                    .accepted_by_sig
                    .get(&key)
                    .is_some_and(|s| !s.is_empty())
                {
                    out.push(v(
                        Invariant::DuplicateDelivery,
                        Some("REPLAY-005"),
                        format!("{via} of {me} lists {id}, an extra copy of a message accepted under another id"),
                    ));
                } else if from_us {
                    out.push(v(
                        Invariant::UnexpectedDelivery,
                        None,
                        format!(
                            "{via} of {me} lists {id} from {from} (signature {}), which matches no route of ours that was accepted",
                            excerpt(sig, 16)
                        ),
                    ));
                }
            }
        }
        self.note_seen(agent, id);
        out
    }

    /// A pending listing for `agent`.
    pub fn pending_answer(&mut self, agent: usize, body: &[u8]) -> Vec<Violation> {
        let Ok(listing) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let Some(messages) = listing.get("messages").and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut in_listing = HashSet::new();
        for m in messages {
            let envelope = m.get("envelope");
            let Some(id) = m
                .get("id")
                .and_then(Value::as_str)
                .or_else(|| envelope.and_then(|e| e.get("id")).and_then(Value::as_str))
            else {
                continue;
            };
            if !in_listing.insert(id.to_string()) {
                out.push(v(
                    Invariant::DuplicateDelivery,
                    Some("REPLAY-005"),
                    format!(
                        "pending of {} lists message {id} twice",
                        self.agents[agent].address
                    ),
                ));
                continue;
            }
            out.extend(self.delivered(agent, id, envelope, m.get("payload"), "pending"));
        }
        out
    }

    /// A `message.new` frame on `agent`'s WebSocket.
    pub fn ws_message(
        &mut self,
        agent: usize,
        data: &Value,
        seen_on_conn: &mut HashSet<String>,
        replayable: &HashSet<String>,
    ) -> Vec<Violation> {
        let envelope = data.get("envelope");
        let Some(id) = data
            .get("id")
            .and_then(Value::as_str)
            .or_else(|| envelope.and_then(|e| e.get("id")).and_then(Value::as_str))
        else {
            return vec![v(
                Invariant::WsProtocol,
                Some("WS-007"),
                format!(
                    "message.new without an id: {}",
                    excerpt(&data.to_string(), 200)
                ),
            )];
        };
        if !seen_on_conn.insert(id.to_string()) {
            return vec![v(
                Invariant::DuplicateDelivery,
                Some("REPLAY-005"),
                format!(
                    "WebSocket of {} pushed message {id} twice",
                    self.agents[agent].address
                ),
            )];
        }
        let mut out = Vec::new();
        let replay_flag = data.get("replay").and_then(Value::as_bool) == Some(true);
        if replayable.contains(id) && !replay_flag {
            out.push(v(
                Invariant::ReplayUnmarked,
                Some("NOTIFY-012"),
                format!(
                    "WebSocket of {} replayed message {id}, queued before the connection, without \"replay\": true",
                    self.agents[agent].address
                ),
            ));
        }
        out.extend(self.delivered(agent, id, envelope, data.get("payload"), "WebSocket"));
        out
    }

    /// Ids accepted for `agent` and not acked: a WebSocket connecting now must mark them as
    /// replays if it pushes them (NOTIFY-012).
    pub fn replayable(&self, agent: usize) -> HashSet<String> {
        self.accepted
            .iter()
            .filter(|(id, a)| a.recipient == Some(agent) && !self.acked[agent].contains(*id))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The ids `agent` has seen and not acknowledged, oldest first, at most `max`.
    pub fn unacked_seen(&self, agent: usize, max: usize) -> Vec<String> {
        self.seen[agent]
            .iter()
            .filter(|id| !self.acked[agent].contains(*id))
            .take(max)
            .cloned()
            .collect()
    }

    /// Resolve an ack target to an id (None: nothing to ack yet).
    pub fn ack_id(&self, agent: usize, target: &crate::ops::AckTarget) -> Option<String> {
        use crate::ops::AckTarget;
        match target {
            AckTarget::Seen { n } => {
                let s = &self.seen[agent];
                (!s.is_empty()).then(|| s[usize::from(*n) % s.len()].clone())
            }
            AckTarget::OtherAgents { n } => {
                let others: Vec<&String> = self
                    .seen
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != agent)
                    .flat_map(|(_, s)| s.iter())
                    .filter(|id| !self.seen_set[agent].contains(*id))
                    .collect();
                (!others.is_empty()).then(|| others[usize::from(*n) % others.len()].clone())
            }
            AckTarget::Unknown { id } => Some(id.clone()),
        }
    }

    /// Whose message `id` is, when another agent of ours has seen it.
    fn owner_other_than(&self, agent: usize, id: &str) -> Option<usize> {
        if self.seen_set[agent].contains(id) {
            return None;
        }
        (0..self.agents.len()).find(|&i| i != agent && self.seen_set[i].contains(id))
    }

    /// One id acknowledged by `agent` answered `status` (`ok` = acknowledged / already acked).
    pub fn ack_result(&mut self, agent: usize, id: &str, ok: bool, status: u16) -> Vec<Violation> {
        let mut out = Vec::new();
        let me = self.agents[agent].address.clone();
        if let Some(owner) = self.owner_other_than(agent, id) {
            if ok {
                out.push(v(
                    Invariant::CrossAgentAck,
                    Some("RTE-017"),
                    format!(
                        "{me} acknowledged message {id} of {} (answer {status})",
                        self.agents[owner].address
                    ),
                ));
            }
            return out;
        }
        if self.acked[agent].contains(id) && !ok {
            out.push(v(
                Invariant::AckNotIdempotent,
                Some("NOTIFY-009"),
                format!("{me} re-acknowledging message {id} answered {status} instead of success"),
            ));
        }
        if ok && self.seen_set[agent].contains(id) {
            self.acked[agent].insert(id.to_string());
        }
        out
    }
}

/// JSON equality with numbers compared as doubles (`1` = `1.0`, `-0` = `0`): providers written
/// in languages with one number type re-serialise numbers, which is not a modification.
pub fn json_equiv(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equiv(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_equiv(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_equiv_ignores_number_spelling_and_key_order_only() {
        assert!(json_equiv(
            &json!({"a": 1, "b": [0.0]}),
            &json!({"b": [-0.0], "a": 1.0})
        ));
        assert!(!json_equiv(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!json_equiv(&json!({"a": {}}), &json!({})));
        assert!(!json_equiv(&json!({"a": null}), &json!({})));
    }

    /// Two agents of one tenant and a valid signed route body from agent 0 to agent 1, with the
    /// signature the lane made for it.
    fn signed_route() -> (Model, serde_json::Map<String, Value>, OwnSignature) {
        use amp_core::signing::{SecretKey, sign_fields};
        let keys = [1u8, 2].map(|b| SecretKey::from_seed([b; 32]));
        let agents: Vec<AgentFacts> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| AgentFacts {
                address: format!("a{i}@t.example"),
                public_key: k.public_key(),
            })
            .collect();
        let payload = json!({"type": "notification", "message": "hi"});
        let hash = payload_hash(&payload, PayloadProfile::Sorted).expect("hash");
        let fields = SigningFields {
            from: &agents[0].address,
            to: &agents[1].address,
            subject: "s",
            priority: Priority::Normal,
            in_reply_to: None,
            payload_hash: &hash,
        };
        let own = OwnSignature {
            signer: 0,
            canonical: canonical_string(&fields),
            text: sign_fields(&keys[0], &fields).to_base64(),
        };
        let body = json!({"to": agents[1].address, "subject": "s", "payload": payload, "signature": own.text});
        let Value::Object(body) = body else {
            unreachable!()
        };
        (Model::new(agents, PayloadProfile::Sorted), body, own)
    }

    #[test]
    fn own_signature_stands_in_for_verification_only_over_the_fields_sent() {
        let (model, mut body, own) = signed_route();
        let bytes = |b: &serde_json::Map<String, Value>| serde_json::to_vec(b).expect("json");
        let may = |e: &Expectation| matches!(e, Expectation::MayAccept { .. });
        // Signed as sent: acceptable with the shortcut and with a full verification alike.
        assert!(may(&model.expect_route(0, &bytes(&body), Some(&own))));
        assert!(may(&model.expect_route(0, &bytes(&body), None)));
        // Sent by another agent than the signer: verified, and refused.
        assert!(!may(&model.expect_route(1, &bytes(&body), Some(&own))));
        // Altered after signing: the same signature text, but not over these fields (SIG-015).
        body.insert("subject".into(), json!("changed"));
        let exp = model.expect_route(0, &bytes(&body), Some(&own));
        let Expectation::Reject { clause, .. } = exp else {
            panic!("altered body judged acceptable: {exp:?}")
        };
        assert_eq!(clause.resolve(), "SIG-015");
    }

    #[test]
    fn error_format_check() {
        assert!(check_http(404, br#"{"error":"not_found","message":"x"}"#, false, "t").is_empty());
        assert_eq!(
            check_http(404, br#"{"msg":"x"}"#, false, "t")[0].invariant,
            Invariant::ErrorFormat
        );
        assert_eq!(
            check_http(500, b"", true, "t")[0].clause.as_deref(),
            Some("JSON-008")
        );
        assert!(check_http(200, b"not json", false, "t").is_empty());
    }
}
