//! Keys (spec 03): API-key rotation with a grace period (REG-019), public-key rotation with a
//! proof by the old key (REG-022, REV-001, C-21) and revocation (REG-020, C-20); the strict
//! reading of a submitted public key (REG-006, C-58).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::{fingerprint_of, hash_api_key, random_hex};
use crate::service::AppState;
use crate::service::agents::agent_record;
use crate::service::fields::{as_object, req_str};
use crate::store::agents::KeyRecord;
use crate::wire::AgentRef;
use amp_core::signing::{KeyError, PublicKey, SecretKey, Strictness};
use serde_json::{Map, Value, json};

impl AppState {
    /// The operation behind `POST {base}/auth/rotate-key` (REG-019).
    pub fn rotate_api_key(&self, who: &AgentRef, presented_key: &str) -> Result<Value, ApiError> {
        let old = hash_api_key(presented_key);
        let now = self.clock().now_unix();
        let grace = self.policy().rotated_key_grace_secs;
        let until = now.saturating_add(grace);
        let new_key = new_api_key();
        {
            let mut db = self.lock();
            if grace <= 0 {
                db.api_keys.remove(&old);
            } else if let Some(r) = db.api_keys.get_mut(&old) {
                let cur = r.valid_until.unwrap_or(i64::MAX);
                r.valid_until = Some(cur.min(until));
            }
            db.api_keys.insert(
                hash_api_key(&new_key),
                KeyRecord {
                    agent_id: who.agent_id.clone(),
                    valid_until: None,
                },
            );
            if let Some(a) = db.agents.get_mut(&who.agent_id)
                && a.api_key_plain.is_some()
            {
                a.api_key_plain = Some(new_key.clone());
            }
        }
        Ok(json!({
            "api_key": new_key,
            "previous_key_valid_until": amp_core::format_rfc3339(until),
        }))
    }

    /// The operation behind `POST {base}/auth/rotate-keys` (REG-022, REV-001).
    ///
    /// C-21: the proof's byte layout is unspecified. amp-mock's reading: `proof` is the standard
    /// padded Base64 Ed25519 signature, made with the OLD private key, over the exact UTF-8 bytes
    /// of the `new_public_key` PEM text as sent in this request.
    pub fn rotate_public_key(&self, who: &AgentRef, body: &[u8]) -> Result<Value, ApiError> {
        if let Some(resp) = regenerate_for_bodyless_rotation(self, who, body) {
            return resp;
        }
        let v = self.parse_strict_json(body)?;
        let obj = as_object(&v)?;
        let pem = req_str(obj, "new_public_key")?;
        check_key_algorithm(obj)?;
        let proof = req_str(obj, "proof")?;
        let new_pk = parse_public_key(self, pem, "new_public_key")?;
        let old = agent_record(self, who)?;
        if new_pk == old.public_key {
            return Err(ApiError::invalid_field(
                "new_public_key",
                "new_public_key equals the current key: generate a new key pair",
            ));
        }
        // `rotate-proof-hex-text`: the proof covers the hex text of the raw key (a C-21 reading).
        let signed = if self.has(Defect::RotateProofHexText) {
            hex::encode(new_pk.as_bytes()).into_bytes()
        } else {
            pem.as_bytes().to_vec()
        };
        if !self.has(Defect::RotateKeysNoProofCheck)
            && amp_core::verify(&old.public_key, &signed, proof, Strictness::Strict).is_err()
        {
            return Err(ApiError::new(
                403,
                "signature_invalid",
                "proof does not verify: sign the exact new_public_key PEM text with the OLD private key (Ed25519, Base64) (C-21)",
            )
            .with_field("proof"));
        }
        let now = self.clock().now_unix();
        let fp = fingerprint_of(&new_pk);
        {
            let mut db = self.lock();
            db.revoked_fingerprints.insert(old.fingerprint.clone(), now);
            if let Some(a) = db.agents.get_mut(&who.agent_id) {
                a.revoked_public_keys.push(a.public_key);
                a.public_key = new_pk;
                a.public_key_pem = pem.to_string();
                a.fingerprint = fp.clone();
            }
        }
        Ok(json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old.fingerprint}))
    }

    /// The operation behind `DELETE {base}/auth/revoke-key` (REG-020; C-20 also revokes the public key).
    pub fn revoke_keys(&self, who: &AgentRef) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        if !self.has(Defect::RevokedKeyWorks) {
            let mut db = self.lock();
            db.api_keys.retain(|_, r| r.agent_id != who.agent_id);
            if let Some(fp) = db.agents.get(&who.agent_id).map(|a| a.fingerprint.clone()) {
                db.revoked_fingerprints.insert(fp, now);
            }
        }
        Ok(json!({"revoked": true, "revoked_at": amp_core::format_rfc3339(now)}))
    }
}

/// `rotate-keys-bodyless-regenerates`: a rotation request without a usable `new_public_key`
/// (empty, `{}` or unparsable body) makes the provider generate a key pair itself and replace
/// the agent's key with it (a legacy "server-side key generation" path).
fn regenerate_for_bodyless_rotation(
    state: &AppState,
    who: &AgentRef,
    body: &[u8],
) -> Option<Result<Value, ApiError>> {
    let has_key = serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("new_public_key").is_some());
    if !state.has(Defect::RotateKeysBodylessRegenerates) || has_key {
        return None;
    }
    let new_pk = SecretKey::generate().public_key();
    let fp = fingerprint_of(&new_pk);
    let mut db = state.lock();
    let a = db.agents.get_mut(&who.agent_id)?;
    let old_fp = std::mem::replace(&mut a.fingerprint, fp.clone());
    a.revoked_public_keys.push(a.public_key);
    a.public_key = new_pk;
    a.public_key_pem = new_pk.to_spki_pem();
    Some(Ok(
        json!({"rotated": true, "fingerprint": fp, "revoked_fingerprint": old_fp}),
    ))
}

/// Parse a registration public key strictly (REG-006). Only Ed25519 (C-58).
pub(super) fn parse_public_key(
    state: &AppState,
    pem: &str,
    field: &str,
) -> Result<PublicKey, ApiError> {
    let bad = |why: String| {
        ApiError::new(
            400,
            "invalid_request",
            format!("{field} is not an acceptable Ed25519 SPKI public key PEM: {why}"),
        )
        .with_field(field)
    };
    match PublicKey::from_spki_pem(pem) {
        Ok(pk) if pk.is_weak() && !state.has(Defect::AcceptSmallOrderKey) => Err(bad(
            "small-order / identity key (trivially forgeable); generate a fresh key".into(),
        )),
        Ok(pk) => Ok(pk),
        Err(KeyError::PrivateKeyGiven) if state.has(Defect::AcceptPrivateKeyPem) => {
            SecretKey::from_pkcs8_pem(pem)
                .map(|sk| sk.public_key())
                .map_err(|e| bad(e.to_string()))
        }
        Err(KeyError::SmallOrder) if state.has(Defect::AcceptSmallOrderKey) => {
            // Planted defect: take the raw key bytes without the small-order check.
            PublicKey::spki_pem_raw_bytes(pem)
                .and_then(|raw| PublicKey::from_bytes(&raw))
                .map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

pub(super) fn check_key_algorithm(obj: &Map<String, Value>) -> Result<(), ApiError> {
    let alg = req_str(obj, "key_algorithm")?;
    if alg.eq_ignore_ascii_case("ed25519") {
        Ok(())
    } else {
        // C-58: RSA/ECDSA signing is underspecified; amp-mock supports Ed25519 only.
        Err(ApiError::invalid_field(
            "key_algorithm",
            format!("key_algorithm `{alg}` is not supported: use Ed25519 (C-58)"),
        ))
    }
}

pub(super) fn new_api_key() -> String {
    format!("amp_test_sk_{}", random_hex::<24>())
}
