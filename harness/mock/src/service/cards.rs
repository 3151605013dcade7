//! Agent Cards (spec 02 › Agent Card; CARD-001..CARD-006, C-17).
//!
//! `GET {base}/agents/me/card` (Bearer) returns the caller's card. Spec 02 says the provider
//! generates and signs it on demand (CARD-005), yet a card must verify against the agent's own
//! `public_key` (CARD-004), and the provider never holds the agent's private key (C-17). The
//! mock resolves this honestly in two layers:
//!
//! 1. `PUT {base}/agents/me/card` (Bearer): the agent uploads a card it signed locally (CARD-006).
//!    The mock verifies it exactly as a CARD-004 verifier would (signature over
//!    `"amp-agent-card-v1\n"` + JCS against the card's `public_key`, `expires_at` in the future,
//!    `fingerprint` matching `public_key`) and additionally requires that the card describes the
//!    caller (its address and registered key). A refused card answers `400 invalid_request`
//!    naming the failed rule and is not stored.
//! 2. `GET` serves the stored card while it still matches the agent's registered key and has
//!    not expired. Otherwise it falls back to a card generated on demand from the registered
//!    key and address, valid 90 days and signed with the PROVIDER key: the only signature the
//!    provider can make. That card does not verify against its own `public_key`; a verifier
//!    following C-17 warns about it rather than failing. Callers wanting a self-verifying card
//!    upload one first.
//!
//! Stored cards are capped in size (the request body cap applies) and dropped implicitly when
//! the agent's key changes (rotate-keys), because GET compares the card's key with the
//! registered one every time.

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::wire::AgentRef;
use amp_core::card::{CardError, CardVerifyOptions, card_fields, sign_card, verify_card};
use amp_core::{FingerprintProfile, PublicKey, Timestamp};
use serde_json::{Value, json};

impl AppState {
    /// The caller's card (CARD-005): the uploaded one while it still matches the registration,
    /// else one generated now and signed with the provider key (C-17, see the module docs).
    pub fn agent_card(&self, who: &AgentRef) -> Result<Value, ApiError> {
        let (pk, address) = registered(self, who)?;
        let now = self.clock().now_unix();
        let stored = self.lock().cards.get(&who.agent_id);
        // `card-expired-accepted` serves a stored card even after it expired (it stored it anyway).
        let as_of = if self.has(Defect::CardExpiredAccepted) {
            i64::MIN
        } else {
            now
        };
        if let Some(card) = stored
            && still_current(&card, &pk, &address, as_of)
        {
            return Ok(card);
        }
        let validity = self.policy().card_validity_secs;
        let mut fields = card_fields(
            &address,
            &pk,
            FingerprintProfile::default(),
            Timestamp::from_unix(now),
            Timestamp::from_unix(now.saturating_add(validity)),
        );
        fields.insert("provider_endpoint".into(), json!(endpoint(self)));
        // C-17: the provider can only sign with its own key (see the module docs).
        sign_card(&fields, self.provider_key())
            .map_err(|e| ApiError::internal(format!("could not sign the generated card: {e}")))
    }

    /// Store a card the agent signed itself (CARD-006) after verifying it per CARD-004 and
    /// checking that it describes the caller (CARD-005).
    pub fn upload_card(&self, who: &AgentRef, card: &Value) -> Result<(), ApiError> {
        if !card.is_object() {
            return Err(ApiError::invalid_request(
                "the body must be the agent card JSON object (CARD-001)",
            ));
        }
        let (pk, address) = registered(self, who)?;
        let now = self.clock().now_unix();
        check(self, card, now)?;
        if card["address"].as_str() != Some(address.as_str()) {
            return Err(ApiError::forbidden(format!(
                "the card's address is not yours ({address}): upload your own card (CARD-005)"
            )));
        }
        let key_matches = card["public_key"]
            .as_str()
            .and_then(|p| PublicKey::from_spki_pem(p).ok())
            .is_some_and(|k| k == pk);
        if !key_matches {
            return Err(ApiError::invalid_field(
                "public_key",
                "the card's public_key is not your registered key: sign the card for the key you registered (CARD-005)",
            ));
        }
        self.lock().cards.insert(&who.agent_id, card.clone());
        Ok(())
    }
}

/// The registered key and address of `who`.
fn registered(state: &AppState, who: &AgentRef) -> Result<(PublicKey, String), ApiError> {
    state
        .lock()
        .agents
        .get(&who.agent_id)
        .map(|a| (a.public_key, a.address.clone()))
        .ok_or_else(|| ApiError::unauthorized("agent no longer registered"))
}

/// Does `card` still describe this agent's current registration and has it not expired?
fn still_current(card: &Value, pk: &PublicKey, address: &str, now: i64) -> bool {
    let key_ok = card["public_key"]
        .as_str()
        .and_then(|p| PublicKey::from_spki_pem(p).ok())
        .is_some_and(|k| k == *pk);
    let unexpired = card["expires_at"]
        .as_str()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .is_some_and(|t| t.unix() > now);
    key_ok && unexpired && card["address"].as_str() == Some(address)
}

fn endpoint(state: &AppState) -> String {
    format!(
        "https://api.{}{}",
        state.config().provider_domain,
        state.config().normalized_base()
    )
}

/// Should this verification failure be ignored because a defect is planted?
fn tolerated(state: &AppState, e: &CardError) -> bool {
    match e {
        CardError::SignatureInvalid(_) => state.has(Defect::CardUnverifiedUpload),
        CardError::Expired { .. } => state.has(Defect::CardExpiredAccepted),
        CardError::FingerprintMismatch { .. } => state.has(Defect::CardFingerprintMismatch),
        _ => false,
    }
}

/// Verify `card` per CARD-004, re-checking the later steps when a defect skipped an earlier
/// one, so each defect disables only its own step.
fn check(state: &AppState, card: &Value, now: i64) -> Result<(), ApiError> {
    let mut opts = CardVerifyOptions::at(Timestamp::from_unix(now));
    loop {
        match verify_card(card, opts) {
            Ok(_) => return Ok(()),
            Err(e) if tolerated(state, &e) => match e {
                // Skip the signature: continue with the expiry and fingerprint steps by hand.
                CardError::SignatureInvalid(_) => return check_unsigned_steps(state, card, now),
                // Skip expiry: verify again as of just before the card expired.
                CardError::Expired { .. } => {
                    let exp = card["expires_at"]
                        .as_str()
                        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                        .map(|t| t.unix() - 1)
                        .unwrap_or(now);
                    if exp >= opts.now.unix() {
                        return Ok(());
                    }
                    opts.now = Timestamp::from_unix(exp);
                }
                _ => return Ok(()),
            },
            Err(e) => {
                return Err(ApiError::invalid_field("card", format!("{e}"))
                    .with_extra("rule", json!(e.rule())));
            }
        }
    }
}

/// Expiry and fingerprint checks for a card whose signature check a defect skipped.
fn check_unsigned_steps(state: &AppState, card: &Value, now: i64) -> Result<(), ApiError> {
    let expired = card["expires_at"]
        .as_str()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok())
        .is_none_or(|t| t.unix() <= now);
    if expired && !state.has(Defect::CardExpiredAccepted) {
        return Err(
            ApiError::invalid_field("card", "agent card has expired (CARD-004)")
                .with_extra("rule", json!("CARD-004")),
        );
    }
    let pk = card["public_key"]
        .as_str()
        .and_then(|p| PublicKey::from_spki_pem(p).ok());
    let fp_ok = pk.is_some_and(|k| {
        Some(k.fingerprint(FingerprintProfile::default()).as_str()) == card["fingerprint"].as_str()
    });
    if !fp_ok && !state.has(Defect::CardFingerprintMismatch) {
        return Err(ApiError::invalid_field(
            "card",
            "agent card fingerprint does not match its public_key (CARD-004)",
        )
        .with_extra("rule", json!("CARD-004")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn still_current_requires_key_address_and_expiry() {
        let k = amp_core::SecretKey::from_seed([3; 32]);
        let f = card_fields(
            "a@t.amp-mock.test",
            &k.public_key(),
            FingerprintProfile::default(),
            Timestamp::from_unix(100),
            Timestamp::from_unix(200),
        );
        let c = Value::Object(f);
        assert!(still_current(&c, &k.public_key(), "a@t.amp-mock.test", 150));
        assert!(!still_current(
            &c,
            &k.public_key(),
            "a@t.amp-mock.test",
            200
        ));
        assert!(!still_current(
            &c,
            &k.public_key(),
            "b@t.amp-mock.test",
            150
        ));
        let other = amp_core::SecretKey::from_seed([4; 32]).public_key();
        assert!(!still_current(&c, &other, "a@t.amp-mock.test", 150));
    }
}
