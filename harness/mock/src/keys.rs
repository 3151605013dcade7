//! Key helpers used only by planted defects.

use amp_core::signing::PublicKey;
use base64::Engine;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, AlgorithmIdentifier
/// id-Ed25519, BIT STRING of 32 bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Extract the raw key from an Ed25519 SPKI PEM without any weak-key check. Only the
/// `accept-small-order-key` defect uses this, to register keys that strict parsing refuses.
pub fn weak_key_from_pem(pem: &str) -> Option<PublicKey> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    let bytes: [u8; 32] = raw.try_into().ok()?;
    PublicKey::from_bytes(&bytes)
        .ok()
        .or_else(|| PublicKey::from_hex(&hex::encode(bytes)).ok())
}
