//! Identifiers and secrets the provider mints: random ids and keys, the stored form of an API
//! key, a public key's fingerprint. Leaf module (no provider state).

use amp_core::signing::{FingerprintProfile, PublicKey};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// SHA-256 hex of an API key: keys are stored hashed only (SEC-005, with SHA-256 in place of
/// bcrypt: the keys are 256-bit random, so a slow hash adds nothing).
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Random bytes from the OS; falls back to a time-derived hash if the OS source fails (never
/// panics: the mock must keep answering).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        static CTR: AtomicU64 = AtomicU64::new(0);
        let mut h = Sha256::new();
        h.update(format!(
            "{:?}{}",
            Instant::now(),
            CTR.fetch_add(1, Ordering::SeqCst)
        ));
        let d = h.finalize();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = d[i % d.len()];
        }
    }
    buf
}

/// Random lowercase hex of `N` bytes.
pub fn random_hex<const N: usize>() -> String {
    hex::encode(random_bytes::<N>())
}

/// Fingerprint of a key in the profile the mock exposes.
pub fn fingerprint_of(pk: &PublicKey) -> String {
    pk.fingerprint(FingerprintProfile::default())
}
