//! `POST {base}/federation/deliver`: accepting messages forwarded by a peer provider (spec 06
//! "Forward Endpoint", "Provider Authentication", "Provider Identity Verification"; 07 "Replay
//! Protection"; FED-001..005, FED-017, FED-020, REPLAY-003/005, TRUST-002).
//!
//! Checks, in order (every refusal is `{"accepted": false, "error": <code>, "message": ...}`):
//!
//! | step | refusal |
//! |---|---|
//! | `X-AMP-Provider` present | 401 `unauthorized` |
//! | peer in `MockConfig::federation_peers` (allowlist mode, FED-017) | 403 `provider_not_trusted` |
//! | provider signature (FED-002/003) | 401 `unauthorized` |
//! | body is strict JSON `{envelope, payload, sender_public_key}` | 400 `invalid_request` / `missing_field` / `invalid_field` |
//! | subject, payload and size rules of a local route (MSG-001..014) | the same 400 codes as `/route` |
//! | `from` domain = forwarding provider (FED-020) | 403 `provider_mismatch` |
//! | sender's message signature (FED-003 step 3) | 403 `signature_invalid` / 400 `signature_missing` / 403 `key_revoked` |
//! | recipient hosted here and registered (FED-005) | 404 `recipient_not_found` |
//! | envelope timestamp not > 60 s ahead (REPLAY-003) | 400 `timestamp_future` |
//! | envelope id not delivered before (REPLAY-005) | 409 `duplicate_message` |
//!
//! Success: the message enters the recipient's mailbox with trust `external` (so its content is
//! wrapped, TRUST-002) and the answer is `{accepted: true, id, delivered, method}` (FED-004).
//!
//! Chosen readings (the spec leaves these open):
//! - **Provider signature (C-28).** Profile `body-bytes`: Ed25519 by the peer's provider key over
//!   `"<X-AMP-Timestamp>.<raw request body bytes>"`, standard Base64 with padding, timestamp
//!   within ±300 s. The raw bytes are what the peer sent, so no re-serialisation ambiguity
//!   (Python `json.dumps` separators, key order) can arise.
//! - **Peer key.** Spec 06 says to fetch it by discovery; the mock has no DNS, so the key comes
//!   from the configured peer list (`FederationPeer::public_key`).
//! - **Sender key.** Spec 06 and 08 put `sender_public_key` (SPKI PEM) into the deliver body; the
//!   mock requires it and verifies the sender's signature with it. Trusting a key supplied by
//!   the peer is sound here because the peer is authenticated and its signature covers the
//!   whole body, key included; the domain check (FED-020) stops a peer from speaking for
//!   another provider's users.
//! - **Replay (REPLAY-005).** "Already delivered" means an entry with that envelope id is in
//!   the recipient's relay mailbox, acknowledged or not (entries are kept for the relay TTL of
//!   7 days, longer than the 24 h REPLAY-001 window), so the mailbox itself is the replay
//!   store and survives nothing that the message would not survive. Envelopes older than the
//!   relay TTL are refused as `timestamp_expired`.

use crate::config::FederationPeer;
use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::fingerprint_of;
use crate::policy::RELAY_TTL_SECS;
use crate::service::AppState;
use crate::wire::{AgentRef, Trust};
use amp_core::envelope::{Envelope, Limits, Message, RouteRequest};
use amp_core::replay::{ReplayDecision, ReplayInput, ReplayPolicy};
use amp_core::signing::{PublicKey, SigningFields, Strictness};
use amp_core::{Address, MessageId};
use serde_json::{Map, Value, json};

/// FED-002 freshness window for `X-AMP-Timestamp` (the webhook window of 07, reused).
pub const PROVIDER_TIMESTAMP_WINDOW_SECS: i64 = 300;

/// Serialises "is this id new? → deliver it" so two concurrent identical deliveries cannot
/// both pass the duplicate check.
static DELIVER_GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A refusal: HTTP status plus the `{accepted:false, error, message[, field]}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(Box<ApiError>);

impl Refusal {
    fn new(status: u16, code: &str, message: impl Into<String>) -> Refusal {
        Refusal(Box::new(ApiError::new(status, code, message)))
    }

    /// HTTP status and the `{accepted: false, error, message[, field]}` body.
    pub(crate) fn status_and_body(&self) -> (u16, Value) {
        let mut body = Map::new();
        body.insert("accepted".into(), Value::Bool(false));
        if let Value::Object(m) = self.0.body() {
            body.extend(m);
        }
        (self.0.status, Value::Object(body))
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal(Box::new(e))
    }
}

/// The provider-authentication headers of a forwarded request (FED-002, FED-005), each
/// trimmed, `None` when absent, empty or not text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardHeaders {
    /// `X-AMP-Provider`: the forwarding provider's domain.
    pub provider: Option<String>,
    /// `X-AMP-Timestamp`: unix seconds at signing time.
    pub timestamp: Option<String>,
    /// `X-AMP-Signature`: the provider's Ed25519 signature, Base64.
    pub signature: Option<String>,
}

/// Run every check of the table above on a forwarded request and deliver it; `Ok` is the
/// `{accepted: true, …}` answer.
pub(crate) async fn accept(
    state: &AppState,
    headers: &ForwardHeaders,
    body: &[u8],
) -> Result<Value, Refusal> {
    let cfg = state.config();
    let now = state.clock().now_unix();
    if body.len() > cfg.max_body_bytes {
        return Err(Refusal::new(
            413,
            "request_too_large",
            format!("body exceeds {} bytes (API-009)", cfg.max_body_bytes),
        ));
    }

    // 1. Who is forwarding, and do we federate with them (FED-005, FED-017)?
    let provider = headers.provider.as_deref().ok_or_else(|| {
        Refusal::new(
            401,
            "unauthorized",
            "X-AMP-Provider is required: name the forwarding provider's domain",
        )
    })?;
    let unknown_peer;
    let peer = match find_peer(&cfg.federation_peers, provider) {
        Some(p) => p,
        // `federation-any-provider`: an untrusted domain is taken at its word.
        None if state.has(Defect::FederationAnyProvider) => {
            unknown_peer = FederationPeer {
                domain: provider.to_string(),
                public_key: state.provider_public_key(),
            };
            &unknown_peer
        }
        None => {
            return Err(Refusal::new(
                403,
                "provider_not_trusted",
                format!("Provider '{provider}' is not in our trust list"),
            ));
        }
    };
    let trusted_peer = find_peer(&cfg.federation_peers, provider).is_some();

    // 2. Provider signature over "<timestamp>.<raw body>" (FED-002/003, C-28 body-bytes).
    if !state.has(Defect::FederationUnauthenticated) && trusted_peer {
        // `federation-stale-timestamp`: any X-AMP-Timestamp passes the freshness check.
        let window = if state.has(Defect::FederationStaleTimestamp) {
            i64::MAX / 4
        } else {
            PROVIDER_TIMESTAMP_WINDOW_SECS
        };
        verify_provider(peer, headers, body, now, window)?;
    }

    // 3. Body.
    let v = state.parse_strict_json(body)?;
    let obj = v.as_object().ok_or_else(|| {
        ApiError::invalid_request(
            "body must be a JSON object {envelope, payload, sender_public_key}",
        )
    })?;
    let envelope_v = obj
        .get("envelope")
        .ok_or_else(|| ApiError::missing_field("envelope"))?;
    let envelope: Envelope = serde_json::from_value(envelope_v.clone()).map_err(|e| {
        ApiError::invalid_field(
            "envelope",
            format!("envelope is not a fully populated AMP envelope (FED-001): {e}"),
        )
    })?;
    let payload = obj
        .get("payload")
        .ok_or_else(|| ApiError::missing_field("payload"))?;
    if !payload.is_object() {
        return Err(ApiError::invalid_field("payload", "payload must be a JSON object").into());
    }
    validate_content(state, &envelope, payload)?;
    MessageId::parse(&envelope.id, amp_core::IdStrictness::Schema).map_err(|e| {
        ApiError::invalid_field(
            "envelope.id",
            format!("envelope.id is not a message id: {e}"),
        )
    })?;
    let from = Address::parse(&envelope.from).map_err(|e| {
        ApiError::invalid_field(
            "envelope.from",
            format!("envelope.from is not an address: {e}"),
        )
    })?;
    let to = Address::parse(&envelope.to).map_err(|e| {
        ApiError::invalid_field("envelope.to", format!("envelope.to is not an address: {e}"))
    })?;

    // 4. The forwarding provider may only speak for its own users (FED-020).
    if !state.has(Defect::FederationNoDomainCheck)
        && !from.provider().eq_ignore_ascii_case(&peer.domain)
    {
        return Err(Refusal::new(
            403,
            "provider_mismatch",
            format!(
                "sender {} is not hosted by forwarding provider {} (FED-020): forward only your own users' messages",
                envelope.from, peer.domain
            ),
        ));
    }

    // 5. The original sender's signature (FED-003 step 3).
    let mut trust = Trust::External;
    if !state.has(Defect::FederationNoSenderCheck) {
        match verify_sender(state, obj, &envelope, payload) {
            Ok(()) => {}
            // `federation-untrusted-delivered-raw`: delivered as untrusted (and unwrapped).
            Err(_) if state.has(Defect::FederationUntrustedDeliveredRaw) => {
                trust = Trust::Untrusted;
            }
            Err(e) => return Err(e),
        }
    }

    // 6. Recipient (FED-005).
    let recipient = resolve_recipient(state, &to)?;

    // 7. Freshness and duplicates, atomically with delivery (REPLAY-003/005).
    let _gate = DELIVER_GATE.lock().await;
    replay_check(state, &recipient, &envelope, now)?;
    let id = envelope.id.clone();
    let sender = envelope.from.clone();
    let outcome = state
        .accept_federated(
            Message {
                envelope,
                payload: payload.clone(),
            },
            trust,
        )
        .await?;
    drop(_gate);
    let delivered = outcome.status == "delivered";
    tracing::info!(
        event = "federation.received",
        from_provider = %peer.domain,
        message_id = %id,
        sender = %sender,
        recipient = %recipient.address,
        delivered,
        "federated message accepted"
    );
    Ok(json!({
        "accepted": true,
        "id": outcome.id,
        "delivered": delivered,
        "method": outcome.method,
    }))
}

/// The message rules a local route must pass apply to federated messages too (subject length,
/// payload `type`, message/context size limits, attachment metadata: MSG-001..014): the
/// envelope's routable fields are run through the same core validator as a `/route` body.
fn validate_content(state: &AppState, envelope: &Envelope, payload: &Value) -> Result<(), Refusal> {
    let mut as_route = Map::new();
    as_route.insert("to".into(), json!(envelope.to));
    as_route.insert("subject".into(), json!(envelope.subject));
    as_route.insert("priority".into(), json!(envelope.priority.as_str()));
    if let Some(r) = &envelope.in_reply_to {
        as_route.insert("in_reply_to".into(), json!(r));
    }
    as_route.insert("payload".into(), payload.clone());
    let limits = Limits {
        http_body_bytes: state.config().max_body_bytes,
        ..Limits::default()
    };
    RouteRequest::from_value(&Value::Object(as_route), &limits)
        .map(|_| ())
        .map_err(|e| Refusal::from(ApiError::from(e)))
}

/// The configured peer for a provider domain (case-insensitive, trailing dot ignored).
fn find_peer<'a>(peers: &'a [FederationPeer], domain: &str) -> Option<&'a FederationPeer> {
    let d = domain.trim_end_matches('.');
    peers
        .iter()
        .find(|p| p.domain.trim_end_matches('.').eq_ignore_ascii_case(d))
}

/// FED-002/003: the peer's Ed25519 signature over `"<X-AMP-Timestamp>.<raw body>"`.
fn verify_provider(
    peer: &FederationPeer,
    headers: &ForwardHeaders,
    body: &[u8],
    now: i64,
    window: i64,
) -> Result<(), Refusal> {
    let sig = headers.signature.as_deref().ok_or_else(|| {
        Refusal::new(
            401,
            "unauthorized",
            "X-AMP-Signature is required: Base64 Ed25519 signature by the provider key over \"<X-AMP-Timestamp>.<raw body>\"",
        )
    })?;
    let ts = headers.timestamp.as_deref().ok_or_else(|| {
        Refusal::new(
            401,
            "unauthorized",
            "X-AMP-Timestamp is required: unix seconds at signing time",
        )
    })?;
    amp_core::verify_federation(
        &peer.public_key,
        ts,
        body,
        sig,
        now,
        window,
        Strictness::Strict,
    )
    .map_err(|e| {
        Refusal::new(
            401,
            "unauthorized",
            format!(
                "provider signature rejected ({e}): sign \"<X-AMP-Timestamp>.<raw body>\" with the key of {} and send a timestamp within {PROVIDER_TIMESTAMP_WINDOW_SECS} s of now",
                peer.domain
            ),
        )
    })
}

/// FED-003 step 3: the envelope signature with the supplied `sender_public_key`.
fn verify_sender(
    state: &AppState,
    obj: &Map<String, Value>,
    envelope: &Envelope,
    payload: &Value,
) -> Result<(), Refusal> {
    let pem = match obj.get("sender_public_key") {
        None | Some(Value::Null) => return Err(ApiError::missing_field("sender_public_key").into()),
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "sender_public_key",
                "sender_public_key must be an SPKI PEM string",
            )
            .into());
        }
    };
    let pk = PublicKey::from_spki_pem(pem).map_err(|e| {
        ApiError::invalid_field(
            "sender_public_key",
            format!("sender_public_key is not an Ed25519 SPKI PEM public key: {e}"),
        )
    })?;
    if pk.is_weak() {
        return Err(ApiError::invalid_field(
            "sender_public_key",
            "sender_public_key is a small-order (weak) Ed25519 key",
        )
        .into());
    }
    if state.is_revoked_fingerprint(&fingerprint_of(&pk)) {
        return Err(Refusal::new(
            403,
            "key_revoked",
            "the sender's key has been revoked",
        ));
    }
    if envelope.signature.trim().is_empty() {
        return Err(ApiError::new(
            400,
            "signature_missing",
            "envelope.signature is empty: federated messages must carry the sender's signature (SIG-002)",
        )
        .with_field("envelope.signature")
        .into());
    }
    let hash = amp_core::payload_hash(payload, state.config().profile).map_err(|e| {
        ApiError::invalid_field("payload", format!("payload cannot be hashed: {e}"))
    })?;
    let fields = SigningFields {
        from: &envelope.from,
        to: &envelope.to,
        subject: &envelope.subject,
        priority: envelope.priority,
        in_reply_to: envelope.in_reply_to.as_deref(),
        payload_hash: &hash,
    };
    let canonical = amp_core::canonical_string(&fields);
    amp_core::verify(&pk, canonical.as_bytes(), &envelope.signature, Strictness::Strict).map_err(
        |e| {
            Refusal::from(
                ApiError::new(
                    403,
                    "signature_invalid",
                    format!(
                        "sender signature does not verify over from|to|subject|priority|in_reply_to|payload_hash with sender_public_key ({e})"
                    ),
                )
                .with_field("envelope.signature"),
            )
        },
    )
}

/// The recipient must be hosted here and registered.
fn resolve_recipient(state: &AppState, to: &Address) -> Result<AgentRef, Refusal> {
    let ours = &state.config().provider_domain;
    let hosted = to.provider().eq_ignore_ascii_case(ours);
    hosted.then(|| state.resolve(to)).flatten().ok_or_else(|| {
        Refusal::new(
            404,
            "recipient_not_found",
            format!("Agent '{to}' does not exist on {ours}"),
        )
    })
}

/// Has an envelope with this id already been delivered to the recipient? The relay mailbox
/// keeps acknowledged entries until they expire, so it doubles as the replay store.
fn already_delivered(state: &AppState, recipient: &AgentRef, id: &str) -> bool {
    let db = state.lock();
    db.mailboxes
        .get(&recipient.agent_id)
        .is_some_and(|mb| mb.entries.iter().any(|e| e.msg.id == id))
}

/// REPLAY-003/005 via the core replay decision.
fn replay_check(
    state: &AppState,
    recipient: &AgentRef,
    envelope: &Envelope,
    now: i64,
) -> Result<(), Refusal> {
    let timestamp = amp_core::parse_rfc3339(&envelope.timestamp).map_err(|e| {
        ApiError::invalid_field(
            "envelope.timestamp",
            format!("envelope.timestamp is not RFC 3339: {e}"),
        )
    })?;
    let expires_at = match envelope.expires_at.as_deref() {
        Some(e) => Some(amp_core::parse_rfc3339(e).map_err(|err| {
            ApiError::invalid_field(
                "envelope.expires_at",
                format!("envelope.expires_at is not RFC 3339: {err}"),
            )
        })?),
        None => None,
    };
    let policy = ReplayPolicy {
        dedup_window_secs: RELAY_TTL_SECS,
        max_age_secs: RELAY_TTL_SECS,
        future_tolerance_secs: state.policy().federation_future_tolerance_secs,
    };
    let seen = !state.has(Defect::FederationReplayAccepted)
        && already_delivered(state, recipient, &envelope.id);
    let input = ReplayInput {
        id: &envelope.id,
        timestamp,
        queued_at: None,
        expires_at,
    };
    match amp_core::replay::decide(&policy, &input, now, seen) {
        ReplayDecision::Accept => Ok(()),
        ReplayDecision::Duplicate => Err(Refusal::new(
            409,
            "duplicate_message",
            format!(
                "message {} was already delivered to {} (REPLAY-005)",
                envelope.id, recipient.address
            ),
        )),
        ReplayDecision::Future { ahead_secs } => Err(Refusal::new(
            400,
            "timestamp_future",
            format!(
                "envelope.timestamp is {ahead_secs} s in the future; at most {} s is tolerated (REPLAY-003)",
                policy.future_tolerance_secs
            ),
        )),
        ReplayDecision::Stale { age_secs } => Err(Refusal::new(
            400,
            "timestamp_expired",
            format!("envelope.timestamp is {age_secs} s old, beyond the 7-day relay TTL"),
        )),
        ReplayDecision::Expired => Err(Refusal::new(
            400,
            "message_expired",
            "envelope.expires_at has passed",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_match_case_insensitively() {
        let pk = amp_core::SecretKey::from_seed([7; 32]).public_key();
        let peers = vec![FederationPeer {
            domain: "Peer.Test".into(),
            public_key: pk,
        }];
        assert!(find_peer(&peers, "peer.test").is_some());
        assert!(find_peer(&peers, "peer.test.").is_some());
        assert!(find_peer(&peers, "other.test").is_none());
        assert!(find_peer(&peers, "evil-peer.test").is_none());
    }

    #[test]
    fn refusal_body_has_accepted_false() {
        let r = Refusal::new(403, "provider_not_trusted", "no");
        assert_eq!(r.0.status, 403);
        let Refusal(e) = r;
        let body = e.body();
        assert_eq!(body["error"], "provider_not_trusted");
    }
}
