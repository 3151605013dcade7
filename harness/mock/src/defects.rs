//! The planted defects: one row per defect.
//!
//! A row is complete: the kebab-case `name` used on the command line, the catalogue `clause` the
//! defect breaks, a `description` of what the mock does instead of the strict behaviour, and the
//! suite cases that must catch it (`killed_by`). `amp-conformance selftest` plants each defect
//! and checks that every listed case fails or warns; the cli crate's tests check that every
//! listed id is a case of the suite (this crate does not depend on the suite, so the ids are
//! plain strings here). Rows are grouped by clause prefix.
//!
//! The clean mock (empty [`DefectSet`]) is a strict AMP v1 provider; a defect changes only its
//! own behaviour.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

macro_rules! defects {
    ($(
        $(#[$meta:meta])*
        $variant:ident {
            name: $name:literal,
            clause: $clause:literal,
            description: $desc:literal,
            killed_by: [$($case:literal),+ $(,)?] $(,)?
        }
    )+) => {
        /// One planted defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Defect { $( $(#[$meta])* #[doc = $desc] $variant ),+ }

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
            /// Ids of the suite cases that must fail or warn when the defect is planted.
            pub fn killed_by(self) -> &'static [&'static str] {
                match self { $( Defect::$variant => &[$($case),+] ),+ }
            }
        }
    };
}

defects! {
    // ADDR: addresses
    RecasedNameDuplicate {
        name: "recased-name-duplicate",
        clause: "ADDR-006",
        description: "registering a taken name in another letter case creates a second agent with the same address",
        killed_by: ["register.name-taken.recased"],
    }
    ShortToNotExpanded {
        name: "short-to-not-expanded",
        clause: "ADDR-009",
        description: "a short `to` (`name@tenant`) is delivered as sent instead of the full address",
        killed_by: ["route.to.short-address"],
    }
    MixedCaseToRefused {
        name: "mixed-case-to-refused",
        clause: "ADDR-005",
        description: "a route whose `to` has upper-case letters is refused with 400 instead of matched case-insensitively",
        killed_by: ["route.to.case-insensitive"],
    }
    ShortAddressWrongTenant {
        name: "short-address-wrong-tenant",
        clause: "ADDR-009",
        description: "a short `name@tenant` is expanded into the sender's tenant instead of the tenant it names",
        killed_by: ["vector.routing.route-004", "vector.routing.route-009"],
    }
    AgentNameUnderscoreRefused {
        name: "agent-name-underscore-refused",
        clause: "ADDR-002",
        description: "registration refuses agent names with `_`, which the address grammar allows",
        killed_by: ["vector.address.addr-014"],
    }
    MalformedToDeliveredByName {
        name: "malformed-to-delivered-by-name",
        clause: "ADDR-001",
        description: "a `to` that is no address (`alice@`, a doubled or leading dot) is delivered to the name before `@` in the sender's tenant",
        killed_by: ["vector.address.addr-021", "vector.address.addr-022", "vector.address.addr-023"],
    }
    TwoLabelDomainLocal {
        name: "two-label-domain-local",
        clause: "ADDR-001",
        description: "`name@<provider domain>` (no scope: not an address) is delivered to `name` in the sender's tenant",
        killed_by: ["vector.routing.route-030", "vector.address.addr-038"],
    }
    // REG: registration and API keys
    AcceptSmallOrderKey {
        name: "accept-small-order-key",
        clause: "REG-006",
        description: "registration accepts a small-order / identity Ed25519 public key",
        killed_by: ["register.small-order-key"],
    }
    AcceptPrivateKeyPem {
        name: "accept-private-key-pem",
        clause: "REG-006",
        description: "registration accepts a PRIVATE KEY PEM as public_key (derives the public key)",
        killed_by: ["register.private-key-pem"],
    }
    NameCollisionOverwrites {
        name: "name-collision-overwrites",
        clause: "REG-007",
        description: "registering a taken name replaces the existing agent (new key)",
        killed_by: ["register.name-taken", "register.name-taken.keeps-key"],
    }
    ApiKeyInMe {
        name: "api-key-in-me",
        clause: "REG-005",
        description: "GET /v1/agents/me includes api_key",
        killed_by: ["register.api-key-shown-once", "agents.me.shape"],
    }
    RevokedKeyWorks {
        name: "revoked-key-works",
        clause: "REG-020",
        description: "after DELETE /v1/auth/revoke-key the API key still authenticates",
        killed_by: ["keys.revoke-key"],
    }
    RotatedKeyInvalidImmediately {
        name: "rotated-key-invalid-immediately",
        clause: "REG-019",
        description: "after rotate-key the previous API key stops working at once",
        killed_by: ["keys.rotate-key.grace"],
    }
    RotateKeysNoProofCheck {
        name: "rotate-keys-no-proof-check",
        clause: "REG-022",
        description: "rotate-keys accepts any proof",
        killed_by: ["keys.rotate-keys.bad-proof"],
    }
    FingerprintSpkiDer {
        name: "fingerprint-spki-der",
        clause: "REG-002",
        description: "the registration response gives the SHA-256 of the key's SPKI DER as fingerprint (the spki-der reading of C-19)",
        killed_by: ["register.fingerprint"],
    }
    FingerprintHex {
        name: "fingerprint-hex",
        clause: "REG-002",
        description: "the registration fingerprint is SHA256: followed by hex, a form no reading of C-19 gives",
        killed_by: ["register.fingerprint"],
    }
    DeregisteredKeyWorks {
        name: "deregistered-key-works",
        clause: "REG-023",
        description: "after DELETE /v1/agents/me the API key still works",
        killed_by: ["keys.deregister"],
    }
    ReregisterOwnKeyIssuesKey {
        name: "reregister-own-key-issues-key",
        clause: "REG-007",
        description: "registering a taken name with that agent's own public key answers 201 with a new API key for it",
        killed_by: ["register.name-taken.own-key"],
    }
    RotateProofHexText {
        name: "rotate-proof-hex-text",
        clause: "REG-022",
        description: "rotate-keys verifies the proof over the lowercase hex text of the new raw key instead of its PEM text (a C-21 reading)",
        killed_by: ["keys.rotate-keys.bad-proof", "keys.rotate-keys.old-key-revoked"],
    }
    RotateKeysBodylessRegenerates {
        name: "rotate-keys-bodyless-regenerates",
        clause: "REG-022",
        description: "POST /auth/rotate-keys with an empty, `{}` or malformed body generates a key pair on the server and replaces the agent's key",
        killed_by: ["keys.rotate-keys.malformed"],
    }
    UserKeyTenantRequired {
        name: "user-key-tenant-required",
        clause: "REG-011",
        description: "a registration with a valid User Key but no `tenant` is refused instead of using the owner's tenant",
        killed_by: ["register.user-key"],
    }
    AgentKeyIsUserKey {
        name: "agent-key-is-user-key",
        clause: "REG-013",
        description: "an agent registered with a User Key is handed that User Key as its API key",
        killed_by: ["register.user-key"],
    }
    UserKeyAuthenticates {
        name: "user-key-authenticates",
        clause: "REG-014",
        description: "a User Key is accepted on message endpoints as the credential of the owner's newest agent",
        killed_by: ["register.user-key-not-for-messages"],
    }
    // REV: key revocation
    OldKeyValidAfterRotate {
        name: "old-key-valid-after-rotate",
        clause: "REV-002",
        description: "after rotate-keys, messages signed with the old key still route",
        killed_by: ["keys.rotate-keys.old-key-revoked"],
    }
    // POL: communication policy
    RecipientPolicyUnenforced {
        name: "recipient-policy-unenforced",
        clause: "POL-003",
        description: "a restricted communication policy is stored and shown but routes to recipients it does not allow are accepted",
        killed_by: ["policy.restricted.refuses"],
    }
    PolicyDomainAnyTenant {
        name: "policy-domain-any-tenant",
        clause: "POL-002",
        description: "an allowed_recipients pattern `*@<tenant>.<provider>` admits every tenant of the provider",
        killed_by: ["policy.patterns"],
    }
    // SIG: message signatures
    AcceptUnsigned {
        name: "accept-unsigned",
        clause: "SIG-002",
        description: "route without `signature` is accepted and delivered",
        killed_by: ["route.unsigned"],
    }
    UnsignedForeignQueued {
        name: "unsigned-foreign-queued",
        clause: "SIG-002",
        description: "a route without signature to an address on another provider is answered 200 queued (signatures are demanded for local recipients only)",
        killed_by: ["route.unsigned.other-provider"],
    }
    AcceptBadSignature {
        name: "accept-bad-signature",
        clause: "SIG-015",
        description: "signature is not verified at all",
        killed_by: ["route.signature.invalid", "route.signature.other-key", "route.signature.tampered-subject", "route.signature.tampered-payload", "route.signature.tampered-to", "route.signature.tampered-in-reply-to", "ws.route"],
    }
    LaxSignatureEncoding {
        name: "lax-signature-encoding",
        clause: "SIG-011",
        description: "base64url / unpadded / whitespace-laden signature text accepted (strict otherwise)",
        killed_by: ["route.signature.encoding-variants", "vector.signature.sig-041", "vector.signature.sig-042", "vector.signature.sig-046"],
    }
    SignatureBase64UrlAccepted {
        name: "signature-base64url-accepted",
        clause: "SIG-011",
        description: "signature text in the URL-safe base64 alphabet is translated to the standard one and accepted",
        killed_by: ["vector.signature.sig-041"],
    }
    UnsignedPriority {
        name: "unsigned-priority",
        clause: "SIG-016",
        description: "priority is left out of the canonical string when verifying (priority escalation passes)",
        killed_by: ["route.signature.tampered-priority"],
    }
    PayloadHashInsertion {
        name: "payload-hash-insertion",
        clause: "SIG-008",
        description: "verifies with the insertion-order payload hash instead of the configured profile",
        killed_by: ["route.payload-hash.sorted", "vector.payload_hash.hash-011", "vector.canonical_string.canon-031"],
    }
    PayloadHashIntegerKeysFirst {
        name: "payload-hash-integer-keys-first",
        clause: "SIG-008",
        description: "verifies with a payload hash whose objects list integer-like keys first in numeric order (as JavaScript objects keep them), the other keys sorted",
        killed_by: ["vector.payload_hash.hash-018", "vector.payload_hash.hash-045"],
    }
    PayloadHashProtoDropped {
        name: "payload-hash-proto-dropped",
        clause: "SIG-008",
        description: "`__proto__` keys are left out of the payload hash when verifying (as a JavaScript object literal drops them) but delivered",
        killed_by: ["vector.payload_hash.hash-044"],
    }
    HonourSpoofedFrom {
        name: "honour-spoofed-from",
        clause: "SIG-013",
        description: "a `from` differing from the authenticated agent is used as envelope.from",
        killed_by: ["route.from.spoofed"],
    }
    KeepClientId {
        name: "keep-client-id",
        clause: "SIG-006",
        description: "a client-supplied `id`/`timestamp` in the route body is kept in the envelope",
        killed_by: ["route.client-id"],
    }
    FromOverwritten {
        name: "from-overwritten",
        clause: "SIG-013",
        description: "a client-supplied `from` is replaced by the authenticated sender and the signature verified over that (the overwrite reading of C-11)",
        killed_by: ["route.from.spoofed"],
    }
    // SEC: security error codes
    SignatureFailure400 {
        name: "signature-failure-400",
        clause: "SEC-003",
        description: "missing or invalid signatures answer 400 invalid_request instead of 422/403",
        killed_by: ["route.signature.failure-codes"],
    }
    // JSON: JSON handling
    MalformedJson500 {
        name: "malformed-json-500",
        clause: "JSON-008",
        description: "malformed JSON body answers 500",
        killed_by: ["errors.malformed-json"],
    }
    AcceptDuplicateKeys {
        name: "accept-duplicate-keys",
        clause: "JSON-003",
        description: "JSON with duplicate keys is accepted (last wins)",
        killed_by: ["errors.duplicate-keys"],
    }
    PayloadNullsStripped {
        name: "payload-nulls-stripped",
        clause: "JSON-001",
        description: "top-level `null` members of payload are removed before delivery",
        killed_by: ["route.payload.null-member"],
    }
    NullEnvelopeFields {
        name: "null-envelope-fields",
        clause: "JSON-007",
        description: "pending entries carry absent optional envelope fields as `null`",
        killed_by: ["route.envelope.no-nulls"],
    }
    // API: REST API surface
    NoAuthPending {
        name: "no-auth-pending",
        clause: "API-002",
        description: "GET /v1/messages/pending without Authorization answers 200 (for the first agent)",
        killed_by: ["errors.auth.missing"],
    }
    WrongErrorFormat {
        name: "wrong-error-format",
        clause: "API-007",
        description: "error bodies use `{\"msg\": ...}` without `error`",
        killed_by: ["errors.format"],
    }
    NoBodyLimit {
        name: "no-body-limit",
        clause: "API-009",
        description: "bodies over 1 MiB are parsed and accepted (no 413)",
        killed_by: ["errors.body-too-large"],
    }
    InfoMissingFields {
        name: "info-missing-fields",
        clause: "API-004",
        description: "/v1/info lacks capabilities and rate_limits",
        killed_by: ["discovery.info.shape"],
    }
    V2Alias {
        name: "v2-alias",
        clause: "API-001",
        description: "the v1 API is also served under /v2 (claims a version it does not implement)",
        killed_by: ["discovery.version.path"],
    }
    AgentsCursorIgnored {
        name: "agents-cursor-ignored",
        clause: "API-011",
        description: "GET /agents ignores `cursor`: every page starts at the first agent",
        killed_by: ["agents.list.pagination"],
    }
    UnknownRecipientAccepted {
        name: "unknown-recipient-accepted",
        clause: "API-008",
        description: "route to an unregistered address answers 200 queued instead of 404",
        killed_by: ["route.unknown-recipient"],
    }
    UnknownRecipient400 {
        name: "unknown-recipient-400",
        clause: "API-008",
        description: "a route to an unregistered address answers 400 invalid_recipient (the reading of another spec section, C-37)",
        killed_by: ["route.unknown-recipient"],
    }
    LongpollWaitRefused {
        name: "longpoll-wait-refused",
        clause: "API-006",
        description: "`notify:longpoll` is advertised but `wait` on GET /messages/pending is refused with 400",
        killed_by: ["discovery.capabilities.honoured"],
    }
    // AGT: agent endpoints
    CapabilitiesDropCustom {
        name: "capabilities-drop-custom",
        clause: "AGT-004",
        description: "namespaced custom capability tokens are dropped when an agent registers or updates",
        killed_by: ["agents.capabilities.kept"],
    }
    // MSG: message fields
    SubjectTooLong {
        name: "subject-too-long",
        clause: "MSG-003",
        description: "subjects over 256 characters accepted",
        killed_by: ["route.subject.too-long"],
    }
    PriorityUnvalidated {
        name: "priority-unvalidated",
        clause: "MSG-004",
        description: "any priority string accepted",
        killed_by: ["route.priority.invalid"],
    }
    MissingFieldWrongCode {
        name: "missing-field-wrong-code",
        clause: "MSG-008",
        description: "missing payload.type answers 400 invalid_request instead of missing_field",
        killed_by: ["route.payload.missing-type"],
    }
    ContextModified {
        name: "context-modified",
        clause: "MSG-010",
        description: "null values and empty objects inside payload.context are stripped before delivery",
        killed_by: ["route.context.preserved"],
    }
    ReplyThreadParent {
        name: "reply-thread-parent",
        clause: "MSG-011",
        description: "a reply's thread_id is its parent's id instead of the thread root",
        killed_by: ["route.thread.reply"],
    }
    ShortFromInEnvelope {
        name: "short-from-in-envelope",
        clause: "MSG-001",
        description: "delivered envelopes carry the sender's short address `name@tenant` as `from` (a C-11 reading)",
        killed_by: ["route.envelope.shape", "ws.push.message-new", "ws.route"],
    }
    // RTE: routing and the relay queue
    LifoQueue {
        name: "lifo-queue",
        clause: "RTE-019",
        description: "pending returns newest first",
        killed_by: ["relay.fifo"],
    }
    AckKeepsMessage {
        name: "ack-keeps-message",
        clause: "RTE-017",
        description: "DELETE /v1/messages/pending/{id} answers acknowledged but keeps the message",
        killed_by: ["relay.ack.removes", "relay.ack.batch"],
    }
    CrossAgentAck {
        name: "cross-agent-ack",
        clause: "RTE-017",
        description: "an agent can ack (remove) a message queued for another agent",
        killed_by: ["relay.ack.foreign"],
    }
    RelayTtlOneDay {
        name: "relay-ttl-one-day",
        clause: "RTE-016",
        description: "queue entries expire 1 day after queueing instead of 7 days",
        killed_by: ["relay.expires-at"],
    }
    OptionsReceiptRefused {
        name: "options-receipt-refused",
        clause: "RTE-024",
        description: "a route body with the documented `options: {receipt: true}` is refused with 400",
        killed_by: ["route.options.receipt"],
    }
    AttachmentForeignAccepted {
        name: "attachment-foreign-accepted",
        clause: "RTE-006",
        description: "a message may reference another agent's attachment",
        killed_by: ["attachments.route.foreign"],
    }
    AttachmentPendingRouted {
        name: "attachment-pending-routed",
        clause: "RTE-007",
        description: "attachments still `pending` (upload not confirmed/scanned) are routed",
        killed_by: ["attachments.route.pending"],
    }
    AttachmentScanStatusTrusted {
        name: "attachment-scan-status-trusted",
        clause: "RTE-007",
        description: "a route is judged by the `scan_status` the sender wrote into the payload, not the provider's scan record",
        killed_by: ["attachments.route.pending", "attachments.route.rejected"],
    }
    AttachmentRejectedRouted {
        name: "attachment-rejected-routed",
        clause: "RTE-008",
        description: "attachments whose scan ended `rejected` are routed",
        killed_by: ["attachments.route.rejected"],
    }
    AttachmentDigestNotChecked {
        name: "attachment-digest-not-checked",
        clause: "RTE-009",
        description: "payload `digest`/`size` are not compared with the uploaded file's",
        killed_by: ["attachments.route.tampered-metadata"],
    }
    QuarantineDelivered {
        name: "quarantine-delivered",
        clause: "RTE-004",
        description: "a quarantined message is answered 202 quarantined but delivered anyway",
        killed_by: ["admin.quarantine.held"],
    }
    ForeignProviderDeliveredLocally {
        name: "foreign-provider-delivered-locally",
        clause: "RTE-023",
        description: "a `to` on another provider whose name and tenant match a local agent is delivered to the local agent",
        killed_by: ["route.to.other-provider"],
    }
    CrossAgentBatchAck {
        name: "cross-agent-batch-ack",
        clause: "RTE-018",
        description: "POST /messages/pending/ack removes ids queued for other agents",
        killed_by: ["relay.ack.foreign-batch"],
    }
    BatchAckEmptyAcksAll {
        name: "batch-ack-empty-acks-all",
        clause: "RTE-018",
        description: "POST /messages/pending/ack with an empty `ids` array acknowledges the caller's whole queue",
        killed_by: ["relay.ack.foreign-batch"],
    }
    CrossAgentRead {
        name: "cross-agent-read",
        clause: "RTE-022",
        description: "POST /messages/{id}/read marks another agent's message read and sends its sender a receipt",
        killed_by: ["relay.read.foreign"],
    }
    PendingAgentParam {
        name: "pending-agent-param",
        clause: "RTE-015",
        description: "GET /messages/pending?agent=<address> lists that agent's queue to any authenticated caller",
        killed_by: ["relay.pending.foreign"],
    }
    AfpProviderChecked {
        name: "afp-provider-checked",
        clause: "RTE-011",
        description: "`afp` attachments go through the provider-attachment checks and are refused as unknown uploads",
        killed_by: ["attachments.route.afp-shape-only"],
    }
    // IDEM: idempotency
    IdempotencyIgnored {
        name: "idempotency-ignored",
        clause: "IDEM-004",
        description: "a repeated idempotency_key routes the message again",
        killed_by: ["route.idempotency.repeat", "route.idempotency.conflict"],
    }
    IdempotencyShortMemory {
        name: "idempotency-short-memory",
        clause: "IDEM-003",
        description: "only the most recent idempotency key per agent is remembered",
        killed_by: ["route.idempotency.later"],
    }
    // REPLAY: replay protection
    DuplicateDelivery {
        name: "duplicate-delivery",
        clause: "REPLAY-005",
        description: "every routed message is queued twice",
        killed_by: ["route.single-delivery"],
    }
    FederationReplayAccepted {
        name: "federation-replay-accepted",
        clause: "REPLAY-005",
        description: "a re-delivered federated envelope id is delivered again",
        killed_by: ["federation.replay"],
    }
    FederationFutureTimestamp {
        name: "federation-future-timestamp",
        clause: "REPLAY-003",
        description: "envelopes > 60 s in the future are accepted",
        killed_by: ["federation.future-timestamp"],
    }
    // NOTIFY: delivery notifications and pickup
    AckNotIdempotent {
        name: "ack-not-idempotent",
        clause: "NOTIFY-009",
        description: "acking an already-acked id answers 404 instead of already_acked",
        killed_by: ["relay.ack.idempotent"],
    }
    ReadAcks {
        name: "read-acks",
        clause: "NOTIFY-010",
        description: "POST /v1/messages/{id}/read removes the message from pending",
        killed_by: ["relay.read.not-ack"],
    }
    CursorExpiredNot410 {
        name: "cursor-expired-not-410",
        clause: "NOTIFY-007",
        description: "unknown `after` cursor answers 200 with all messages",
        killed_by: ["relay.cursor-expired"],
    }
    WsReplayUnmarked {
        name: "ws-replay-unmarked",
        clause: "NOTIFY-012",
        description: "queued messages replayed on connect lack `replay: true`",
        killed_by: ["ws.replay.marked"],
    }
    NoDeliveryBasis {
        name: "no-delivery-basis",
        clause: "NOTIFY-001",
        description: "route responses lack `basis`",
        killed_by: ["route.basis"],
    }
    CountRateLimited {
        name: "count-rate-limited",
        clause: "NOTIFY-005",
        description: "GET /messages/pending/count draws on the pickup budget and is refused once it is spent",
        killed_by: ["relay.count.floor"],
    }
    ReceiptsDropped {
        name: "receipts-dropped",
        clause: "NOTIFY-003",
        description: "receipts retained for an offline sender are discarded when it connects instead of delivered",
        killed_by: ["ws.receipt.retained"],
    }
    CrossAgentWsAck {
        name: "cross-agent-ws-ack",
        clause: "NOTIFY-009",
        description: "a WS `message.ack` removes a message queued for another agent",
        killed_by: ["ws.ack.foreign"],
    }
    ReadReceiptRetainedAsDelivered {
        name: "read-receipt-retained-as-delivered",
        clause: "NOTIFY-003",
        description: "for an offline sender only a `message.delivered` receipt is retained; the `message.read` that `read_receipt_sent: true` promised is lost",
        killed_by: ["ws.receipt.retained"],
    }
    // TRUST: trust levels and content wrapping
    NoExternalWrapping {
        name: "no-external-wrapping",
        clause: "TRUST-002",
        description: "cross-tenant content delivered without wrapping or security marker",
        killed_by: ["route.trust.cross-tenant"],
    }
    WrappingSameTenant {
        name: "wrapping-same-tenant",
        clause: "TRUST-004",
        description: "same-tenant (verified) messages get wrapped too",
        killed_by: ["route.trust.same-tenant"],
    }
    FederationUntrustedUnwrapped {
        name: "federation-untrusted-unwrapped",
        clause: "TRUST-002",
        description: "federated (external) content delivered unwrapped",
        killed_by: ["federation.external-wrapped"],
    }
    FederationUntrustedDeliveredRaw {
        name: "federation-untrusted-delivered-raw",
        clause: "TRUST-003",
        description: "a federated message whose sender signature fails is delivered unwrapped",
        killed_by: ["federation.untrusted-wrapped"],
    }
    WrappedMarkerOnly {
        name: "wrapped-marker-only",
        clause: "TRUST-002",
        description: "external content is delivered unwrapped with `wrapped: true` security metadata",
        killed_by: ["route.trust.cross-tenant", "federation.external-wrapped"],
    }
    // MESH: mesh forwarding
    MeshHeaderTrusted {
        name: "mesh-header-trusted",
        clause: "MESH-012",
        description: "a normal API client sending X-Forwarded-From gets its forged `from` honoured",
        killed_by: ["route.from.mesh-header"],
    }
    MeshHeaderSkipsAuth {
        name: "mesh-header-skips-auth",
        clause: "MESH-012",
        description: "POST /route without Authorization but with X-Forwarded-From is routed as the `from` it names",
        killed_by: ["route.from.mesh-header.unauthenticated"],
    }
    // RL: rate limits
    NoRateLimitHeaders {
        name: "no-rate-limit-headers",
        clause: "RL-003",
        description: "no X-RateLimit-* headers on responses",
        killed_by: ["ratelimit.headers"],
    }
    NoRetryAfter {
        name: "no-retry-after",
        clause: "RL-002",
        description: "429 responses lack Retry-After",
        killed_by: ["ratelimit.retry-after"],
    }
    RateLimitGlobal {
        name: "rate-limit-global",
        clause: "RL-001",
        description: "all API keys share one request budget instead of one per agent",
        killed_by: ["ratelimit.per-agent"],
    }
    // WS: WebSocket
    WsTokenInUrl {
        name: "ws-token-in-url",
        clause: "WS-001",
        description: "/v1/ws?token=<api_key> authenticates without an auth frame",
        killed_by: ["ws.auth.token-in-url"],
    }
    WsNonAuthFirstFrame {
        name: "ws-non-auth-first-frame",
        clause: "WS-006",
        description: "a non-auth first frame is ignored and the socket stays open",
        killed_by: ["ws.auth.first-frame"],
    }
    WsNoAuthTimeout {
        name: "ws-no-auth-timeout",
        clause: "WS-004",
        description: "no close when no auth frame arrives",
        killed_by: ["ws.auth.timeout"],
    }
    WsInvalidTokenOpen {
        name: "ws-invalid-token-open",
        clause: "WS-005",
        description: "invalid token answers error but does not close",
        killed_by: ["ws.auth.invalid-token"],
    }
    WsNoPong {
        name: "ws-no-pong",
        clause: "WS-009",
        description: "ping frames get no pong",
        killed_by: ["ws.ping"],
    }
    WsOpenWhenSuspended {
        name: "ws-open-when-suspended",
        clause: "WS-014",
        description: "live WebSocket connections stay open when their agent is suspended",
        killed_by: ["admin.ws.suspended-closed"],
    }
    // WH: webhooks
    WebhookPrivateUrlAccepted {
        name: "webhook-private-url-accepted",
        clause: "WH-012",
        description: "webhook_url to private/link-local/metadata addresses accepted at registration",
        killed_by: ["register.webhook.private-url"],
    }
    WebhookHmacWrongKey {
        name: "webhook-hmac-wrong-key",
        clause: "WH-002",
        description: "webhook HMAC keyed with the API key hash instead of the webhook secret",
        killed_by: ["webhook.delivery.signed"],
    }
    WebhookRetryOn4xx {
        name: "webhook-retry-on-4xx",
        clause: "WH-005",
        description: "4xx answers from the receiver are retried",
        killed_by: ["webhook.no-retry-on-4xx"],
    }
    WebhookNoSignature {
        name: "webhook-no-signature",
        clause: "WH-001",
        description: "webhook POST without X-AMP-Signature",
        killed_by: ["webhook.delivery.signed"],
    }
    PatchWebhookUnvalidated {
        name: "patch-webhook-unvalidated",
        clause: "WH-011",
        description: "PATCH /agents/me accepts private webhook URLs (validated only at registration)",
        killed_by: ["register.webhook.patch-private-url"],
    }
    WebhookToSuspended {
        name: "webhook-to-suspended",
        clause: "WH-016",
        description: "webhooks are still delivered to a suspended agent",
        killed_by: ["admin.webhook.suspended-skipped"],
    }
    // FED: federation
    FederationUnauthenticated {
        name: "federation-unauthenticated",
        clause: "FED-003",
        description: "/v1/federation/deliver accepts requests without a valid provider signature",
        killed_by: ["federation.unsigned-provider"],
    }
    FederationNoSenderCheck {
        name: "federation-no-sender-check",
        clause: "FED-003",
        description: "federated message signature (sender) not verified",
        killed_by: ["federation.bad-sender-signature"],
    }
    FederationNoDomainCheck {
        name: "federation-no-domain-check",
        clause: "FED-020",
        description: "sender domain need not match the forwarding provider",
        killed_by: ["federation.domain-mismatch"],
    }
    FederationAnyProvider {
        name: "federation-any-provider",
        clause: "FED-017",
        description: "deliveries from providers outside the trust list are accepted unauthenticated",
        killed_by: ["federation.unknown-provider", "federation.deliver.no-peer"],
    }
    FederationStaleTimestamp {
        name: "federation-stale-timestamp",
        clause: "FED-002",
        description: "the X-AMP-Timestamp of a federation delivery is not checked for freshness: stale provider signatures are accepted",
        killed_by: ["vector.federation_signature.fed-003", "vector.federation_signature.fed-004"],
    }
    // ATT: attachments
    AttachmentReuseAccepted {
        name: "attachment-reuse-accepted",
        clause: "ATT-011",
        description: "an attachment id may be referenced by several routed messages",
        killed_by: ["attachments.route.reuse"],
    }
    TooManyAttachmentsAccepted {
        name: "too-many-attachments-accepted",
        clause: "ATT-006",
        description: "messages with more than 10 attachments are routed",
        killed_by: ["attachments.route.too-many"],
    }
    OversizeUploadAccepted {
        name: "oversize-upload-accepted",
        clause: "ATT-006",
        description: "upload requests declaring more than 25 MiB are accepted",
        killed_by: ["attachments.upload.too-large"],
    }
    AttachmentShortTtl {
        name: "attachment-short-ttl",
        clause: "ATT-005",
        description: "attachments expire 1 day after upload instead of 7",
        killed_by: ["attachments.metadata.expiry"],
    }
    // AFP: attachments stored outside the provider
    AfpAttachmentRewritten {
        name: "afp-attachment-rewritten",
        clause: "AFP-003",
        description: "the provider stamps its own `scan_status` onto `afp` attachments it routes",
        killed_by: ["attachments.route.afp-shape-only"],
    }
    // UPL: attachment upload and download
    UploadMd5Accepted {
        name: "upload-md5-accepted",
        clause: "UPL-002",
        description: "upload requests with an `md5:`/`sha1:` digest are accepted",
        killed_by: ["attachments.upload.digest-algorithm"],
    }
    UploadUrlLongLived {
        name: "upload-url-long-lived",
        clause: "UPL-004",
        description: "presigned upload URLs live 24 h (`expires_in: 86400`)",
        killed_by: ["attachments.upload.url-expiry"],
    }
    PresignedReusable {
        name: "presigned-reusable",
        clause: "UPL-005",
        description: "a presigned upload URL accepts a second PUT (content replaced)",
        killed_by: ["attachments.upload.single-use"],
    }
    UploadSizeUnchecked {
        name: "upload-size-unchecked",
        clause: "UPL-006",
        description: "the presigned PUT accepts bodies far larger than the declared size",
        killed_by: ["attachments.upload.size-condition"],
    }
    DownloadNoDisposition {
        name: "download-no-disposition",
        clause: "UPL-015",
        description: "downloads lack `Content-Disposition: attachment`",
        killed_by: ["attachments.download.redirect"],
    }
    // SCAN: attachment scanning
    ExecutableNotRejected {
        name: "executable-not-rejected",
        clause: "SCAN-007",
        description: "files with ELF/PE/Mach-O magic bytes pass the scan when declared as another type",
        killed_by: ["attachments.scan.executable"],
    }
    BlockedMimeAccepted {
        name: "blocked-mime-accepted",
        clause: "SCAN-005",
        description: "uploads declared with a blocked executable/script media type pass the scan",
        killed_by: ["attachments.scan.blocked-mime"],
    }
    // ADM: admin surface
    AdminNoAuth {
        name: "admin-no-auth",
        clause: "ADM-001",
        description: "admin endpoints (quarantine, suspend) accept any agent API key",
        killed_by: ["admin.auth.agent-key-refused"],
    }
    RiskAnyAgent {
        name: "risk-any-agent",
        clause: "ADM-007",
        description: "any agent may read another agent's risk score",
        killed_by: ["admin.risk.own-only"],
    }
    // QTN: quarantine
    QuarantineLeaksRules {
        name: "quarantine-leaks-rules",
        clause: "QTN-007",
        description: "the 202 quarantined route response names the triggered rules and severity",
        killed_by: ["admin.quarantine.no-detail-leak"],
    }
    QuarantineReopen {
        name: "quarantine-reopen",
        clause: "QTN-004",
        description: "a rejected quarantine entry can still be approved (and delivered)",
        killed_by: ["admin.quarantine.one-way"],
    }
    QuarantineIdUnprefixed {
        name: "quarantine-id-unprefixed",
        clause: "QTN-005",
        description: "quarantine ids are bare hex instead of `qtn_<ts>_<hex>`",
        killed_by: ["admin.quarantine.entry-shape"],
    }
    QuarantineTtl24h {
        name: "quarantine-ttl-24h",
        clause: "QTN-006",
        description: "quarantine entries expire 24 h after quarantine instead of 72 h",
        killed_by: ["admin.quarantine.ttl"],
    }
    // SUS: suspension
    SuspendedSenderRoutes {
        name: "suspended-sender-routes",
        clause: "SUS-001",
        description: "a suspended agent can still route messages",
        killed_by: ["admin.suspend.sender"],
    }
    SuspendedRecipientAccepts {
        name: "suspended-recipient-accepts",
        clause: "SUS-002",
        description: "messages to a suspended agent are accepted and queued",
        killed_by: ["admin.suspend.recipient"],
    }
    SuspendedPickup {
        name: "suspended-pickup",
        clause: "SUS-003",
        description: "a suspended agent can still pick up its relay queue",
        killed_by: ["admin.suspend.pickup-and-queue"],
    }
    SuspensionDropsQueue {
        name: "suspension-drops-queue",
        clause: "SUS-004",
        description: "suspending an agent discards its queued messages",
        killed_by: ["admin.suspend.pickup-and-queue"],
    }
    IndefiniteSuspensionExpires {
        name: "indefinite-suspension-expires",
        clause: "SUS-006",
        description: "a suspension without duration_hours is recorded with a 24 h expiry instead of none",
        killed_by: ["admin.suspend.record"],
    }
    // RISK: risk score
    RiskUnweighted {
        name: "risk-unweighted",
        clause: "RISK-001",
        description: "risk score counts blocked/quarantined/flagged with weight 1 each",
        killed_by: ["admin.risk.formula"],
    }
    RiskRaw {
        name: "risk-raw",
        clause: "RISK-001",
        description: "the risk score is the formula's value uncapped, up to 300 (the raw reading of C-35)",
        killed_by: ["admin.risk.formula"],
    }
    // CARD: agent cards
    CardUnverifiedUpload {
        name: "card-unverified-upload",
        clause: "CARD-004",
        description: "PUT /agents/me/card stores a card whose signature does not verify",
        killed_by: ["card.upload.bad-signature"],
    }
    CardExpiredAccepted {
        name: "card-expired-accepted",
        clause: "CARD-004",
        description: "PUT /agents/me/card stores an already expired card",
        killed_by: ["card.upload.expired"],
    }
    CardFingerprintMismatch {
        name: "card-fingerprint-mismatch",
        clause: "CARD-004",
        description: "PUT /agents/me/card stores a card whose fingerprint is not its key's",
        killed_by: ["card.upload.fingerprint"],
    }
    CardLongExpiry {
        name: "card-long-expiry",
        clause: "CARD-002",
        description: "generated cards are valid for a year (more than 6 months)",
        killed_by: ["card.export.validity"],
    }
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

/// The table for `--list-defects`: per defect an aligned `name  clause  description` line and
/// an indented `killed by: case, …` line.
pub fn defect_table() -> String {
    use std::fmt::Write as _;
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
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<clause_w$}  {}",
            d.name(),
            d.clause(),
            d.description()
        );
        let _ = writeln!(
            out,
            "{:<name_w$}  {:<clause_w$}  killed by: {}",
            "",
            "",
            d.killed_by().join(", ")
        );
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
        assert_eq!(Defect::ALL.len(), 146);
        assert!("no-such-defect".parse::<Defect>().is_err());
    }

    #[test]
    fn table_names_each_defect_and_its_killing_cases() {
        let t = defect_table();
        assert_eq!(t.lines().count(), 2 * Defect::ALL.len());
        let lines: Vec<&str> = t.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with("accept-unsigned") && l.contains("SIG-002"))
            .expect("accept-unsigned is listed");
        assert!(lines[at + 1].trim_start() == "killed by: route.unsigned");
    }

    #[test]
    fn every_row_lists_distinct_well_formed_cases() {
        for d in Defect::ALL {
            let ids = d.killed_by();
            let distinct: BTreeSet<&str> = ids.iter().copied().collect();
            assert_eq!(distinct.len(), ids.len(), "{d}: a case is listed twice");
            for id in ids {
                assert!(
                    id.contains('.') && !id.contains(char::is_whitespace),
                    "{d}: `{id}` is not a case id"
                );
            }
        }
    }

    /// Rows are grouped by clause prefix: once a prefix's group ends it does not start again,
    /// so all defects of a spec area are found in one place.
    #[test]
    fn rows_are_grouped_by_clause_prefix() {
        let mut closed = BTreeSet::new();
        let mut current = "";
        for d in Defect::ALL {
            let prefix = d.clause().split('-').next().unwrap_or_default();
            if prefix != current {
                closed.insert(current);
                assert!(
                    !closed.contains(prefix),
                    "{d}: the {prefix} group appears twice; move the row to the first one"
                );
                current = prefix;
            }
        }
    }

    #[test]
    fn from_names_rejects_unknown() {
        assert!(DefectSet::from_names(&["lifo-queue", "bogus"]).is_err());
        let s = DefectSet::from_names(&["lifo-queue"]).unwrap_or_default();
        assert!(s.has(Defect::LifoQueue));
        assert!(!s.has(Defect::AcceptUnsigned));
    }
}
