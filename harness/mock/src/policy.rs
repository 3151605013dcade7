//! The provider's parameters (lifetimes, limits, order, copy counts), resolved once per mock.
//!
//! A planted defect that only moves a number or picks another ordering does not branch in the
//! handlers: [`Policy::resolve`] turns the configuration and the planted defects into one value,
//! and the strict code reads `state.policy()`. So the handlers read as the strict provider, and
//! which defect moves which parameter is written down here, next to the spec's value. Defects
//! that change behaviour (skip a check, leak a field) keep their `has(Defect::…)` switch at the
//! one place the behaviour happens.

use std::time::Duration;

use amp_core::PayloadProfile;
use amp_core::envelope::Limits;
use amp_core::signing::Strictness;

use crate::config::MockConfig;
use crate::defects::{Defect, DefectSet};

/// RTE-016: relay queue entries live 7 days after queueing.
pub const RELAY_TTL_SECS: i64 = 7 * 24 * 3600;
/// REG-019: grace period of the previous API key after `rotate-key`.
pub const ROTATE_GRACE_SECS: i64 = 24 * 3600;
/// REPLAY-003: envelopes more than this far in the future are refused.
pub const FUTURE_TOLERANCE_SECS: i64 = 60;
/// ATT-006: largest single attachment in bytes (25 MiB).
pub const MAX_ATTACHMENT_SIZE: u64 = 26_214_400;
/// ATT-006: most `provider` attachments per message.
pub const MAX_PER_MESSAGE: usize = 10;
/// UPL-004: presigned upload URLs live at most one hour.
pub const UPLOAD_URL_TTL_SECS: i64 = 3600;
/// ATT-005: attachments expire no sooner than 7 days after upload.
pub const ATTACHMENT_TTL_SECS: i64 = 7 * 24 * 3600;
/// QTN-006: default quarantine time-to-live.
pub const QUARANTINE_TTL_SECS: i64 = 72 * 3600;
/// Validity of a provider-generated card (well inside CARD-002's six months).
pub const GENERATED_VALIDITY_SECS: i64 = 90 * 86_400;

/// One day: the short lifetime of `relay-ttl-one-day`, `attachment-short-ttl` and
/// `quarantine-ttl-24h`, and the long upload URL of `upload-url-long-lived`.
const ONE_DAY_SECS: i64 = 24 * 3600;
/// A year: the card validity of `card-long-expiry` (breaks CARD-002's six months).
const ONE_YEAR_SECS: i64 = 365 * 86_400;
/// Body cap of `no-body-limit`: far over API-009's 1 MiB, still bounded so a hostile client
/// cannot exhaust the mock.
const UNLIMITED_BODY_CAP: usize = 16 * 1024 * 1024;
/// Future tolerance of `federation-future-timestamp`: anything (kept far from overflow).
const UNLIMITED_FUTURE_SECS: i64 = i64::MAX / 4;

/// RTE-019: the order `GET /messages/pending` returns queued messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingOrder {
    /// First in, first out (the spec's order).
    OldestFirst,
    /// `lifo-queue`.
    NewestFirst,
}

/// IDEM-003: which idempotency keys an agent's repeated route is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdempotencyMemory {
    /// Every key within the idempotency window.
    Window,
    /// `idempotency-short-memory`: only the agent's most recent key.
    LatestOnly,
}

/// RL-001: whose requests share a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// One budget per API key (per agent).
    PerApiKey,
    /// `rate-limit-global`: one budget for all API keys.
    Global,
}

/// RISK-001: how much each kind of content-policy event weighs in the risk score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskWeights {
    pub blocked: u64,
    pub quarantined: u64,
    pub flagged: u64,
}

impl RiskWeights {
    /// RISK-001: blocked ×3, quarantined ×2, flagged ×1.
    pub const SPEC: RiskWeights = RiskWeights {
        blocked: 3,
        quarantined: 2,
        flagged: 1,
    };
    /// `risk-unweighted`: every event counts once.
    pub const FLAT: RiskWeights = RiskWeights {
        blocked: 1,
        quarantined: 1,
        flagged: 1,
    };
}

/// The parameters the handlers read. Clean mock: the spec's values (or the configured ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// API-009: largest request body.
    pub body_cap_bytes: usize,
    /// RL-001: per-agent or shared request budget.
    pub rate_scope: RateScope,
    /// SIG-008: payload-hash profile signatures are verified with.
    pub payload_profile: PayloadProfile,
    /// SIG-011: how strictly signature text is decoded.
    pub signature_strictness: Strictness,
    /// MSG-003: longest subject in characters.
    pub subject_max_chars: usize,
    /// IDEM-003: which idempotency keys are remembered.
    pub idempotency_memory: IdempotencyMemory,
    /// REPLAY-005: how many queue entries one routed message makes.
    pub copies_per_message: usize,
    /// RTE-016: queue entry lifetime.
    pub relay_ttl_secs: i64,
    /// RTE-019: pending order.
    pub pending_order: PendingOrder,
    /// REG-019: how long the previous API key keeps working after `rotate-key` (0: not at all).
    pub rotated_key_grace_secs: i64,
    /// WS-004: how long a connection may stay open without an auth frame.
    pub ws_auth_timeout: Duration,
    /// REPLAY-003: how far in the future a federated envelope may be dated.
    pub federation_future_tolerance_secs: i64,
    /// ATT-006: largest attachment.
    pub max_attachment_bytes: u64,
    /// ATT-006: most attachments per message.
    pub max_attachments_per_message: usize,
    /// ATT-005: attachment lifetime.
    pub attachment_ttl_secs: i64,
    /// UPL-004: presigned upload URL lifetime.
    pub upload_url_ttl_secs: i64,
    /// QTN-006: quarantine entry lifetime.
    pub quarantine_ttl_secs: i64,
    /// RISK-001: risk score weights.
    pub risk_weights: RiskWeights,
    /// CARD-002: validity of a provider-generated agent card.
    pub card_validity_secs: i64,
}

impl Policy {
    /// The parameters for `config`, moved by whichever of its planted defects change one.
    pub fn resolve(config: &MockConfig) -> Policy {
        let d = &config.defects;
        Policy {
            body_cap_bytes: pick(
                d,
                Defect::NoBodyLimit,
                UNLIMITED_BODY_CAP,
                config.max_body_bytes,
            ),
            rate_scope: pick(
                d,
                Defect::RateLimitGlobal,
                RateScope::Global,
                RateScope::PerApiKey,
            ),
            payload_profile: pick(
                d,
                Defect::PayloadHashInsertion,
                PayloadProfile::Insertion,
                config.profile,
            ),
            signature_strictness: pick(
                d,
                Defect::LaxSignatureEncoding,
                Strictness::Lax,
                Strictness::Strict,
            ),
            subject_max_chars: pick(
                d,
                Defect::SubjectTooLong,
                usize::MAX,
                Limits::default().subject_chars,
            ),
            idempotency_memory: pick(
                d,
                Defect::IdempotencyShortMemory,
                IdempotencyMemory::LatestOnly,
                IdempotencyMemory::Window,
            ),
            copies_per_message: pick(d, Defect::DuplicateDelivery, 2, 1),
            relay_ttl_secs: pick(d, Defect::RelayTtlOneDay, ONE_DAY_SECS, RELAY_TTL_SECS),
            pending_order: pick(
                d,
                Defect::LifoQueue,
                PendingOrder::NewestFirst,
                PendingOrder::OldestFirst,
            ),
            rotated_key_grace_secs: pick(
                d,
                Defect::RotatedKeyInvalidImmediately,
                0,
                ROTATE_GRACE_SECS,
            ),
            ws_auth_timeout: pick(
                d,
                Defect::WsNoAuthTimeout,
                config.ws_idle_timeout,
                config.ws_auth_timeout,
            ),
            federation_future_tolerance_secs: pick(
                d,
                Defect::FederationFutureTimestamp,
                UNLIMITED_FUTURE_SECS,
                FUTURE_TOLERANCE_SECS,
            ),
            max_attachment_bytes: pick(
                d,
                Defect::OversizeUploadAccepted,
                u64::MAX,
                MAX_ATTACHMENT_SIZE,
            ),
            max_attachments_per_message: pick(
                d,
                Defect::TooManyAttachmentsAccepted,
                usize::MAX,
                MAX_PER_MESSAGE,
            ),
            attachment_ttl_secs: pick(
                d,
                Defect::AttachmentShortTtl,
                ONE_DAY_SECS,
                ATTACHMENT_TTL_SECS,
            ),
            upload_url_ttl_secs: pick(
                d,
                Defect::UploadUrlLongLived,
                ONE_DAY_SECS,
                UPLOAD_URL_TTL_SECS,
            ),
            quarantine_ttl_secs: pick(
                d,
                Defect::QuarantineTtl24h,
                ONE_DAY_SECS,
                QUARANTINE_TTL_SECS,
            ),
            risk_weights: pick(
                d,
                Defect::RiskUnweighted,
                RiskWeights::FLAT,
                RiskWeights::SPEC,
            ),
            card_validity_secs: pick(
                d,
                Defect::CardLongExpiry,
                ONE_YEAR_SECS,
                GENERATED_VALIDITY_SECS,
            ),
        }
    }
}

/// `planted` when `defect` is in `defects`, else `strict`.
fn pick<T>(defects: &DefectSet, defect: Defect, planted: T, strict: T) -> T {
    if defects.has(defect) { planted } else { strict }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_policy_is_the_spec() {
        let p = Policy::resolve(&MockConfig::default());
        assert_eq!(p.body_cap_bytes, 1_048_576);
        assert_eq!(p.relay_ttl_secs, 7 * 24 * 3600);
        assert_eq!(p.pending_order, PendingOrder::OldestFirst);
        assert_eq!(p.copies_per_message, 1);
        assert_eq!(p.subject_max_chars, 256);
        assert_eq!(p.risk_weights, RiskWeights::SPEC);
        assert_eq!(p.signature_strictness, Strictness::Strict);
    }

    /// The policy's fields, each as its pretty `Debug` text (nested values included).
    fn fields(p: &Policy) -> Vec<String> {
        let text = format!("{p:#?}");
        let mut out: Vec<String> = Vec::new();
        for line in text.lines().skip(1) {
            let top_level = line.starts_with("    ") && !line.starts_with("     ");
            match out.last_mut() {
                Some(last) if !top_level => last.push_str(line),
                _ => out.push(line.to_string()),
            }
        }
        out
    }

    /// Each parameter defect moves exactly one field away from the clean policy.
    #[test]
    fn each_parameter_defect_moves_one_field() {
        let clean = fields(&Policy::resolve(&MockConfig::default()));
        let mut moved = 0;
        for d in Defect::ALL {
            let config = MockConfig {
                defects: DefectSet::single(*d),
                ..MockConfig::default()
            };
            let planted = fields(&Policy::resolve(&config));
            let changed = planted.iter().zip(&clean).filter(|(a, b)| a != b).count();
            assert!(changed <= 1, "{d} moves {changed} policy fields");
            moved += usize::from(changed == 1);
        }
        assert_eq!(moved, 19, "parameter defects resolved by Policy");
    }
}
