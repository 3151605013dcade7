//! The planted-defect table (contract: `notes/mock-contract.md`).
//!
//! Each defect names the catalogue clause it breaks, so `selftest` can check that at least one
//! case citing that clause fails when the defect is planted. A defect changes only its own
//! behaviour; the clean mock (empty [`DefectSet`]) is a strict AMP v1 provider.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Which module implements a defect's behaviour (helper A: REST/routing, helper B: WS, webhook,
/// federation). Informational only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// REST, registration, routing, relay queue (`api.rs`, `state.rs`).
    Rest,
    /// WebSocket (`ws.rs`).
    WebSocket,
    /// Webhook delivery (`webhook.rs`).
    Webhook,
    /// Federation (`federation.rs`).
    Federation,
    /// Attachment upload, scan, download and route checks (`attachments.rs`).
    Attachments,
    /// Quarantine, suspension and risk score (`admin.rs`).
    Admin,
    /// Agent cards (`card.rs`).
    Card,
}

macro_rules! defects {
    ($( $variant:ident => ($name:literal, $clause:literal, $owner:ident, $desc:literal) ),+ $(,)?) => {
        /// One planted defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Defect { $( #[doc = $desc] $variant ),+ }

        impl Defect {
            /// Every defect, in table order.
            pub const ALL: &'static [Defect] = &[ $( Defect::$variant ),+ ];

            /// Kebab-case name used on the command line.
            pub fn name(self) -> &'static str {
                match self { $( Defect::$variant => $name ),+ }
            }
            /// Catalogue clause the defect breaks.
            pub fn clause(self) -> &'static str {
                match self { $( Defect::$variant => $clause ),+ }
            }
            /// What the mock does when the defect is planted.
            pub fn description(self) -> &'static str {
                match self { $( Defect::$variant => $desc ),+ }
            }
            /// Which module implements it.
            pub fn owner(self) -> Owner {
                match self { $( Defect::$variant => Owner::$owner ),+ }
            }
        }
    };
}

defects! {
    AcceptUnsigned => ("accept-unsigned", "SIG-002", Rest, "route without `signature` is accepted and delivered"),
    AcceptBadSignature => ("accept-bad-signature", "SIG-015", Rest, "signature is not verified at all"),
    LaxSignatureEncoding => ("lax-signature-encoding", "SIG-011", Rest, "base64url / unpadded / whitespace-laden signature text accepted (strict otherwise)"),
    UnsignedPriority => ("unsigned-priority", "SIG-016", Rest, "priority is left out of the canonical string when verifying (priority escalation passes)"),
    PayloadHashInsertion => ("payload-hash-insertion", "SIG-008", Rest, "verifies with the insertion-order payload hash instead of the configured profile"),
    HonourSpoofedFrom => ("honour-spoofed-from", "SIG-013", Rest, "a `from` differing from the authenticated agent is used as envelope.from"),
    KeepClientId => ("keep-client-id", "SIG-006", Rest, "a client-supplied `id`/`timestamp` in the route body is kept in the envelope"),
    AcceptSmallOrderKey => ("accept-small-order-key", "REG-006", Rest, "registration accepts a small-order / identity Ed25519 public key"),
    AcceptPrivateKeyPem => ("accept-private-key-pem", "REG-006", Rest, "registration accepts a PRIVATE KEY PEM as public_key (derives the public key)"),
    NameCollisionOverwrites => ("name-collision-overwrites", "REG-007", Rest, "registering a taken name replaces the existing agent (new key)"),
    ApiKeyInMe => ("api-key-in-me", "REG-005", Rest, "GET /v1/agents/me includes api_key"),
    RevokedKeyWorks => ("revoked-key-works", "REG-020", Rest, "after DELETE /v1/auth/revoke-key the API key still authenticates"),
    RotatedKeyInvalidImmediately => ("rotated-key-invalid-immediately", "REG-019", Rest, "after rotate-key the previous API key stops working at once"),
    RotateKeysNoProofCheck => ("rotate-keys-no-proof-check", "REG-022", Rest, "rotate-keys accepts any proof"),
    OldKeyValidAfterRotate => ("old-key-valid-after-rotate", "REV-002", Rest, "after rotate-keys, messages signed with the old key still route"),
    DeregisteredKeyWorks => ("deregistered-key-works", "REG-023", Rest, "after DELETE /v1/agents/me the API key still works"),
    NoAuthPending => ("no-auth-pending", "API-002", Rest, "GET /v1/messages/pending without Authorization answers 200 (for the first agent)"),
    MalformedJson500 => ("malformed-json-500", "JSON-008", Rest, "malformed JSON body answers 500"),
    WrongErrorFormat => ("wrong-error-format", "API-007", Rest, "error bodies use `{\"msg\": ...}` without `error`"),
    AcceptDuplicateKeys => ("accept-duplicate-keys", "JSON-003", Rest, "JSON with duplicate keys is accepted (last wins)"),
    NoBodyLimit => ("no-body-limit", "API-009", Rest, "bodies over 1 MiB are parsed and accepted (no 413)"),
    SubjectTooLong => ("subject-too-long", "MSG-003", Rest, "subjects over 256 characters accepted"),
    PriorityUnvalidated => ("priority-unvalidated", "MSG-004", Rest, "any priority string accepted"),
    MissingFieldWrongCode => ("missing-field-wrong-code", "MSG-008", Rest, "missing payload.type answers 400 invalid_request instead of missing_field"),
    ContextModified => ("context-modified", "MSG-010", Rest, "null values and empty objects inside payload.context are stripped before delivery"),
    UnknownRecipientAccepted => ("unknown-recipient-accepted", "API-008", Rest, "route to an unregistered address answers 200 queued instead of 404"),
    DuplicateDelivery => ("duplicate-delivery", "REPLAY-005", Rest, "every routed message is queued twice"),
    IdempotencyIgnored => ("idempotency-ignored", "IDEM-004", Rest, "a repeated idempotency_key routes the message again"),
    LifoQueue => ("lifo-queue", "RTE-019", Rest, "pending returns newest first"),
    AckKeepsMessage => ("ack-keeps-message", "RTE-017", Rest, "DELETE /v1/messages/pending/{id} answers acknowledged but keeps the message"),
    AckNotIdempotent => ("ack-not-idempotent", "NOTIFY-009", Rest, "acking an already-acked id answers 404 instead of already_acked"),
    ReadAcks => ("read-acks", "NOTIFY-010", Rest, "POST /v1/messages/{id}/read removes the message from pending"),
    CrossAgentAck => ("cross-agent-ack", "RTE-017", Rest, "an agent can ack (remove) a message queued for another agent"),
    CursorExpiredNot410 => ("cursor-expired-not-410", "NOTIFY-007", Rest, "unknown `after` cursor answers 200 with all messages"),
    NoRateLimitHeaders => ("no-rate-limit-headers", "RL-003", Rest, "no X-RateLimit-* headers on responses"),
    NoRetryAfter => ("no-retry-after", "RL-002", Rest, "429 responses lack Retry-After"),
    WebhookPrivateUrlAccepted => ("webhook-private-url-accepted", "WH-012", Rest, "webhook_url to private/link-local/metadata addresses accepted at registration"),
    NoExternalWrapping => ("no-external-wrapping", "TRUST-002", Rest, "cross-tenant content delivered without wrapping or security marker"),
    WrappingSameTenant => ("wrapping-same-tenant", "TRUST-004", Rest, "same-tenant (verified) messages get wrapped too"),
    InfoMissingFields => ("info-missing-fields", "API-004", Rest, "/v1/info lacks capabilities and rate_limits"),
    WsTokenInUrl => ("ws-token-in-url", "WS-001", WebSocket, "/v1/ws?token=<api_key> authenticates without an auth frame"),
    WsNonAuthFirstFrame => ("ws-non-auth-first-frame", "WS-006", WebSocket, "a non-auth first frame is ignored and the socket stays open"),
    WsNoAuthTimeout => ("ws-no-auth-timeout", "WS-004", WebSocket, "no close when no auth frame arrives"),
    WsInvalidTokenOpen => ("ws-invalid-token-open", "WS-005", WebSocket, "invalid token answers error but does not close"),
    WsNoPong => ("ws-no-pong", "WS-009", WebSocket, "ping frames get no pong"),
    WsReplayUnmarked => ("ws-replay-unmarked", "NOTIFY-012", WebSocket, "queued messages replayed on connect lack `replay: true`"),
    WebhookHmacWrongKey => ("webhook-hmac-wrong-key", "WH-002", Webhook, "webhook HMAC keyed with the API key hash instead of the webhook secret"),
    WebhookRetryOn4xx => ("webhook-retry-on-4xx", "WH-005", Webhook, "4xx answers from the receiver are retried"),
    WebhookNoSignature => ("webhook-no-signature", "WH-001", Webhook, "webhook POST without X-AMP-Signature"),
    FederationUnauthenticated => ("federation-unauthenticated", "FED-003", Federation, "/v1/federation/deliver accepts requests without a valid provider signature"),
    FederationNoSenderCheck => ("federation-no-sender-check", "FED-003", Federation, "federated message signature (sender) not verified"),
    FederationNoDomainCheck => ("federation-no-domain-check", "FED-020", Federation, "sender domain need not match the forwarding provider"),
    FederationReplayAccepted => ("federation-replay-accepted", "REPLAY-005", Federation, "a re-delivered federated envelope id is delivered again"),
    FederationFutureTimestamp => ("federation-future-timestamp", "REPLAY-003", Federation, "envelopes > 60 s in the future are accepted"),
    FederationUntrustedUnwrapped => ("federation-untrusted-unwrapped", "TRUST-002", Federation, "federated (external) content delivered unwrapped"),
    // coverage gaps
    RecasedNameDuplicate => ("recased-name-duplicate", "ADDR-006", Rest, "registering a taken name in another letter case creates a second agent with the same address"),
    ShortToNotExpanded => ("short-to-not-expanded", "ADDR-009", Rest, "a short `to` (`name@tenant`) is delivered as sent instead of the full address"),
    V2Alias => ("v2-alias", "API-001", Rest, "the v1 API is also served under /v2 (claims a version it does not implement)"),
    AgentsCursorIgnored => ("agents-cursor-ignored", "API-011", Rest, "GET /agents ignores `cursor`: every page starts at the first agent"),
    PayloadNullsStripped => ("payload-nulls-stripped", "JSON-001", Rest, "top-level `null` members of payload are removed before delivery"),
    NullEnvelopeFields => ("null-envelope-fields", "JSON-007", Rest, "pending entries carry absent optional envelope fields as `null`"),
    MeshHeaderTrusted => ("mesh-header-trusted", "MESH-012", Rest, "a normal API client sending X-Forwarded-From gets its forged `from` honoured"),
    NoDeliveryBasis => ("no-delivery-basis", "NOTIFY-001", Rest, "route responses lack `basis`"),
    CountRateLimited => ("count-rate-limited", "NOTIFY-005", Rest, "GET /messages/pending/count draws on the pickup budget and is refused once it is spent"),
    RelayTtlOneDay => ("relay-ttl-one-day", "RTE-016", Rest, "queue entries expire 1 day after queueing instead of 7 days"),
    OptionsReceiptRefused => ("options-receipt-refused", "RTE-024", Rest, "a route body with the documented `options: {receipt: true}` is refused with 400"),
    SignatureFailure400 => ("signature-failure-400", "SEC-003", Rest, "missing or invalid signatures answer 400 invalid_request instead of 422/403"),
    RateLimitGlobal => ("rate-limit-global", "RL-001", Rest, "all API keys share one request budget instead of one per agent"),
    PatchWebhookUnvalidated => ("patch-webhook-unvalidated", "WH-011", Rest, "PATCH /agents/me accepts private webhook URLs (validated only at registration)"),
    FederationAnyProvider => ("federation-any-provider", "FED-017", Federation, "deliveries from providers outside the trust list are accepted unauthenticated"),
    FederationUntrustedDeliveredRaw => ("federation-untrusted-delivered-raw", "TRUST-003", Federation, "a federated message whose sender signature fails is delivered unwrapped"),
    IdempotencyShortMemory => ("idempotency-short-memory", "IDEM-003", Rest, "only the most recent idempotency key per agent is remembered"),
    ReplyThreadParent => ("reply-thread-parent", "MSG-011", Rest, "a reply's thread_id is its parent's id instead of the thread root"),
    // attachments
    AttachmentForeignAccepted => ("attachment-foreign-accepted", "RTE-006", Attachments, "a message may reference another agent's attachment"),
    AttachmentPendingRouted => ("attachment-pending-routed", "RTE-007", Attachments, "attachments still `pending` (upload not confirmed/scanned) are routed"),
    AttachmentRejectedRouted => ("attachment-rejected-routed", "RTE-008", Attachments, "attachments whose scan ended `rejected` are routed"),
    AttachmentDigestNotChecked => ("attachment-digest-not-checked", "RTE-009", Attachments, "payload `digest`/`size` are not compared with the uploaded file's"),
    AttachmentReuseAccepted => ("attachment-reuse-accepted", "ATT-011", Attachments, "an attachment id may be referenced by several routed messages"),
    TooManyAttachmentsAccepted => ("too-many-attachments-accepted", "ATT-006", Attachments, "messages with more than 10 attachments are routed"),
    OversizeUploadAccepted => ("oversize-upload-accepted", "ATT-006", Attachments, "upload requests declaring more than 25 MiB are accepted"),
    UploadMd5Accepted => ("upload-md5-accepted", "UPL-002", Attachments, "upload requests with an `md5:`/`sha1:` digest are accepted"),
    UploadUrlLongLived => ("upload-url-long-lived", "UPL-004", Attachments, "presigned upload URLs live 24 h (`expires_in: 86400`)"),
    PresignedReusable => ("presigned-reusable", "UPL-005", Attachments, "a presigned upload URL accepts a second PUT (content replaced)"),
    UploadSizeUnchecked => ("upload-size-unchecked", "UPL-006", Attachments, "the presigned PUT accepts bodies far larger than the declared size"),
    AttachmentShortTtl => ("attachment-short-ttl", "ATT-005", Attachments, "attachments expire 1 day after upload instead of 7"),
    ExecutableNotRejected => ("executable-not-rejected", "SCAN-007", Attachments, "files with ELF/PE/Mach-O magic bytes pass the scan when declared as another type"),
    BlockedMimeAccepted => ("blocked-mime-accepted", "SCAN-005", Attachments, "uploads declared with a blocked executable/script media type pass the scan"),
    DownloadNoDisposition => ("download-no-disposition", "UPL-015", Attachments, "downloads lack `Content-Disposition: attachment`"),
    // admin
    AdminNoAuth => ("admin-no-auth", "ADM-001", Admin, "admin endpoints (quarantine, suspend) accept any agent API key"),
    QuarantineDelivered => ("quarantine-delivered", "RTE-004", Admin, "a quarantined message is answered 202 quarantined but delivered anyway"),
    QuarantineLeaksRules => ("quarantine-leaks-rules", "QTN-007", Admin, "the 202 quarantined route response names the triggered rules and severity"),
    QuarantineReopen => ("quarantine-reopen", "QTN-004", Admin, "a rejected quarantine entry can still be approved (and delivered)"),
    QuarantineIdUnprefixed => ("quarantine-id-unprefixed", "QTN-005", Admin, "quarantine ids are bare hex instead of `qtn_<ts>_<hex>`"),
    QuarantineTtl24h => ("quarantine-ttl-24h", "QTN-006", Admin, "quarantine entries expire 24 h after quarantine instead of 72 h"),
    SuspendedSenderRoutes => ("suspended-sender-routes", "SUS-001", Admin, "a suspended agent can still route messages"),
    SuspendedRecipientAccepts => ("suspended-recipient-accepts", "SUS-002", Admin, "messages to a suspended agent are accepted and queued"),
    SuspendedPickup => ("suspended-pickup", "SUS-003", Admin, "a suspended agent can still pick up its relay queue"),
    SuspensionDropsQueue => ("suspension-drops-queue", "SUS-004", Admin, "suspending an agent discards its queued messages"),
    WsOpenWhenSuspended => ("ws-open-when-suspended", "WS-014", Admin, "live WebSocket connections stay open when their agent is suspended"),
    WebhookToSuspended => ("webhook-to-suspended", "WH-016", Admin, "webhooks are still delivered to a suspended agent"),
    RiskUnweighted => ("risk-unweighted", "RISK-001", Admin, "risk score counts blocked/quarantined/flagged with weight 1 each"),
    RiskAnyAgent => ("risk-any-agent", "ADM-007", Admin, "any agent may read another agent's risk score"),
    // agent card
    CardUnverifiedUpload => ("card-unverified-upload", "CARD-004", Card, "PUT /agents/me/card stores a card whose signature does not verify"),
    CardExpiredAccepted => ("card-expired-accepted", "CARD-004", Card, "PUT /agents/me/card stores an already expired card"),
    CardFingerprintMismatch => ("card-fingerprint-mismatch", "CARD-004", Card, "PUT /agents/me/card stores a card whose fingerprint is not its key's"),
    CardLongExpiry => ("card-long-expiry", "CARD-002", Card, "generated cards are valid for a year (more than 6 months)"),
    // attacks from every position (authority-carrying inputs)
    ReregisterOwnKeyIssuesKey => ("reregister-own-key-issues-key", "REG-007", Rest, "registering a taken name with that agent's own public key answers 201 with a new API key for it"),
    ForeignProviderDeliveredLocally => ("foreign-provider-delivered-locally", "RTE-023", Rest, "a `to` on another provider whose name and tenant match a local agent is delivered to the local agent"),
    CrossAgentBatchAck => ("cross-agent-batch-ack", "RTE-018", Rest, "POST /messages/pending/ack removes ids queued for other agents"),
    BatchAckEmptyAcksAll => ("batch-ack-empty-acks-all", "RTE-018", Rest, "POST /messages/pending/ack with an empty `ids` array acknowledges the caller's whole queue"),
    CrossAgentWsAck => ("cross-agent-ws-ack", "NOTIFY-009", WebSocket, "a WS `message.ack` removes a message queued for another agent"),
    CrossAgentRead => ("cross-agent-read", "RTE-022", Rest, "POST /messages/{id}/read marks another agent's message read and sends its sender a receipt"),
    PendingAgentParam => ("pending-agent-param", "RTE-015", Rest, "GET /messages/pending?agent=<address> lists that agent's queue to any authenticated caller"),
    MeshHeaderSkipsAuth => ("mesh-header-skips-auth", "MESH-012", Rest, "POST /route without Authorization but with X-Forwarded-From is routed as the `from` it names"),
    // spec-true verdicts
    ShortFromInEnvelope => ("short-from-in-envelope", "MSG-001", Rest, "delivered envelopes carry the sender's short address `name@tenant` as `from` (a C-11 reading)"),
    RotateProofHexText => ("rotate-proof-hex-text", "REG-022", Rest, "rotate-keys verifies the proof over the lowercase hex text of the new raw key instead of its PEM text (a C-21 reading)"),
    WrappedMarkerOnly => ("wrapped-marker-only", "TRUST-002", Rest, "external content is delivered unwrapped with `wrapped: true` security metadata"),
    AttachmentScanStatusTrusted => ("attachment-scan-status-trusted", "RTE-007", Attachments, "a route is judged by the `scan_status` the sender wrote into the payload, not the provider's scan record"),
    ReadReceiptRetainedAsDelivered => ("read-receipt-retained-as-delivered", "NOTIFY-003", WebSocket, "for an offline sender only a `message.delivered` receipt is retained; the `message.read` that `read_receipt_sent: true` promised is lost"),
    FromOverwritten => ("from-overwritten", "SIG-013", Rest, "a client-supplied `from` is replaced by the authenticated sender and the signature verified over that (the overwrite reading of C-11)"),
    MixedCaseToRefused => ("mixed-case-to-refused", "ADDR-005", Rest, "a route whose `to` has upper-case letters is refused with 400 instead of matched case-insensitively"),
    // receipts
    ReceiptsDropped => ("receipts-dropped", "NOTIFY-003", WebSocket, "receipts retained for an offline sender are discarded when it connects instead of delivered"),
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A defect name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect `{0}`: run `amp-conformance mock --list-defects` for the valid names")]
pub struct UnknownDefect(pub String);

impl FromStr for Defect {
    type Err = UnknownDefect;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Defect::ALL
            .iter()
            .copied()
            .find(|d| d.name() == wanted)
            .ok_or_else(|| UnknownDefect(s.to_string()))
    }
}

/// The set of planted defects (empty = clean).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefectSet(BTreeSet<Defect>);

impl DefectSet {
    /// No defects: a strict provider.
    pub fn none() -> DefectSet {
        DefectSet::default()
    }

    /// Exactly one defect.
    pub fn single(d: Defect) -> DefectSet {
        let mut set = DefectSet::default();
        set.insert(d);
        set
    }

    /// Parse names (kebab-case); the first unknown name is an error.
    pub fn from_names(names: &[&str]) -> Result<DefectSet, UnknownDefect> {
        let mut set = DefectSet::default();
        for n in names {
            set.insert(n.parse()?);
        }
        Ok(set)
    }

    /// Is `d` planted?
    pub fn has(&self, d: Defect) -> bool {
        self.0.contains(&d)
    }

    /// Plant `d`.
    pub fn insert(&mut self, d: Defect) {
        self.0.insert(d);
    }

    /// True when no defect is planted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Planted defects in table order.
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Defect> for DefectSet {
    fn from_iter<I: IntoIterator<Item = Defect>>(iter: I) -> Self {
        DefectSet(iter.into_iter().collect())
    }
}

/// The table rendered as aligned `name  clause  description` lines (for `--list-defects`).
pub fn defect_table() -> String {
    let name_w = Defect::ALL
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    let clause_w = Defect::ALL
        .iter()
        .map(|d| d.clause().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for d in Defect::ALL {
        out.push_str(&format!(
            "{:<name_w$}  {:<clause_w$}  {}\n",
            d.name(),
            d.clause(),
            d.description()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in Defect::ALL {
            assert!(seen.insert(d.name()), "duplicate name {}", d.name());
            assert_eq!(d.name().parse::<Defect>(), Ok(*d));
        }
        assert_eq!(Defect::ALL.len(), 122);
        assert!("no-such-defect".parse::<Defect>().is_err());
    }

    #[test]
    fn table_has_one_line_per_defect() {
        let t = defect_table();
        assert_eq!(t.lines().count(), Defect::ALL.len());
        assert!(
            t.lines()
                .any(|l| l.starts_with("accept-unsigned") && l.contains("SIG-002"))
        );
    }

    #[test]
    fn from_names_rejects_unknown() {
        assert!(DefectSet::from_names(&["lifo-queue", "bogus"]).is_err());
        let s = DefectSet::from_names(&["lifo-queue"]).unwrap_or_default();
        assert!(s.has(Defect::LifoQueue));
        assert!(!s.has(Defect::AcceptUnsigned));
    }
}
