//! amp-core: the pure protocol core of amp-conformance.
//!
//! Everything here is deterministic and free of I/O: no network, no files, no async, and no
//! clock reads (every "now" is a parameter). That keeps the core fuzzable and lets the mock
//! provider, the client and the vector runner share one interpretation of the AMP spec.
//!
//! Every parser returns `Result<T, XError>` whose error names the rule that failed (a
//! catalogue id such as `ADDR-002` where one exists). Nothing panics on any input.

#![forbid(unsafe_code)]

pub mod address;
pub mod canonical;
pub mod card;
pub mod envelope;
pub mod federation;
pub mod json;
pub mod msgid;
pub mod replay;
pub mod routing;
pub mod signing;
pub mod time;
pub mod webhook;

pub use address::{Address, AddressError, AddressForm, ProviderSplit};
pub use canonical::{
    CanonError, PayloadHash, PayloadProfile, canonical_payload, hash_canonical_bytes,
    hash_serialized_text, payload_hash,
};
pub use card::{
    CardError, CardVerifyOptions, CardWarning, VerifiedCard, card_fields, card_signing_bytes,
    sign_card, verify_card,
};
pub use envelope::validate_any_attachment;
pub use envelope::{
    AttachmentError, Envelope, Limits, Message, PROTOCOL_VERSION, RouteError, RouteOptions,
    RouteRequest, validate_afp_attachment, validate_attachment,
};
pub use federation::parse_federation_timestamp;
pub use federation::{
    FederationError, federation_signing_bytes, sign_federation, verify_federation,
};
pub use json::{JsonError, parse_strict};
pub use msgid::{IdStrictness, MessageId, MessageIdError};
pub use replay::{ReplayCache, ReplayDecision, ReplayInput, ReplayPolicy, decide};
pub use routing::{RouteDecision, RoutingContext};
pub use signing::{
    FingerprintProfile, KeyError, Leniency, Priority, PublicKey, SecretKey, Signature,
    SignatureTextError, SigningFields, Strictness, Verified, VerifyError, canonical_string,
    canonical_string_is_ambiguous, parse_signature_text, parse_signature_text_lax, sign_fields,
    verify,
};
pub use signing::{verify_fields, verify_signature, verify_signature_text, verify_value};
pub use time::Timestamp;
pub use time::{TimeError, format_rfc3339, parse_rfc3339};
pub use webhook::{WebhookError, verify_webhook, webhook_signature};
pub use webhook::{parse_webhook_signature, parse_webhook_timestamp, signature_uses_uppercase_hex};
