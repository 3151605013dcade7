//! Provider-to-provider request signatures (FED-002, C-28).
//!
//! A sending provider signs `"<X-AMP-Timestamp>.<body>"` with its Ed25519 key and sends the
//! base64 signature. The spec leaves the body serialisation open (C-28: raw body bytes versus
//! Python `json.dumps` of the body), so these functions take the exact bytes that were signed and
//! the caller picks the profile. The spec also gives no freshness window; callers pass one
//! (the suite uses 300 s like webhooks and reports acceptance of older requests as a warning).

use crate::signing::{PublicKey, SecretKey, Signature, Strictness, VerifyError};

/// Why a federation request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    #[error(
        "X-AMP-Timestamp `{value}` is neither unix seconds nor RFC 3339 (FED-002); send e.g. 1767225600"
    )]
    MalformedTimestamp { value: String },
    #[error(
        "X-AMP-Timestamp is {age} s old, beyond the {window} s window (C-28): replayed or delayed request"
    )]
    Stale { age: i64, window: i64 },
    #[error(
        "X-AMP-Timestamp is {ahead} s in the future, beyond the {window} s window (C-28): check the sender's clock"
    )]
    Future { ahead: i64, window: i64 },
    #[error("provider signature rejected (FED-002): {0}")]
    Signature(#[from] VerifyError),
}

/// The bytes a provider signs: timestamp, `.`, body (FED-002).
pub fn federation_signing_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(timestamp.len() + 1 + body.len());
    out.extend_from_slice(timestamp.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

pub fn sign_federation(key: &SecretKey, timestamp: &str, body: &[u8]) -> Signature {
    key.sign(&federation_signing_bytes(timestamp, body))
}

/// Parse a federation timestamp: unix seconds (plain digits) or RFC 3339; the spec does not say
/// which (C-28), so both are accepted.
pub fn parse_federation_timestamp(timestamp: &str) -> Result<i64, FederationError> {
    let malformed = || FederationError::MalformedTimestamp {
        value: timestamp.chars().take(64).collect(),
    };
    if !timestamp.is_empty() && timestamp.bytes().all(|b| b.is_ascii_digit()) {
        if timestamp.len() > 15 {
            return Err(malformed());
        }
        return timestamp.parse::<i64>().map_err(|_| malformed());
    }
    crate::time::parse_rfc3339(timestamp).map_err(|_| malformed())
}

/// Check freshness (|now - timestamp| ≤ `window_secs`; pass `i64::MAX` to skip) and then the
/// Ed25519 signature over [`federation_signing_bytes`] under `strictness`.
pub fn verify_federation(
    pk: &PublicKey,
    timestamp: &str,
    body: &[u8],
    sig_text: &str,
    now_unix: i64,
    window_secs: i64,
    strictness: Strictness,
) -> Result<(), FederationError> {
    let ts = parse_federation_timestamp(timestamp)?;
    let age = now_unix.saturating_sub(ts);
    if age > window_secs {
        return Err(FederationError::Stale {
            age,
            window: window_secs,
        });
    }
    if age < window_secs.saturating_neg() {
        return Err(FederationError::Future {
            ahead: age.saturating_neg(),
            window: window_secs,
        });
    }
    crate::signing::verify(
        pk,
        &federation_signing_bytes(timestamp, body),
        sig_text,
        strictness,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_767_225_600;

    fn key() -> SecretKey {
        SecretKey::from_seed([3u8; 32])
    }

    #[test]
    fn signing_bytes_layout() {
        assert_eq!(federation_signing_bytes("17", b"{}"), b"17.{}".to_vec());
        assert_eq!(federation_signing_bytes("", b""), b".".to_vec());
    }

    #[test]
    fn roundtrip_unix_and_rfc3339() {
        let k = key();
        let body =
            br#"{"envelope":{"id":"msg_1_aa"},"payload":{"type":"notification","message":"x"}}"#;
        for ts in [NOW.to_string(), "2026-01-01T00:00:00Z".to_string()] {
            let sig = sign_federation(&k, &ts, body).to_base64();
            for s in Strictness::ALL {
                assert_eq!(
                    verify_federation(&k.public_key(), &ts, body, &sig, NOW, 300, s),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn tampering_is_a_signature_mismatch() {
        let k = key();
        let ts = NOW.to_string();
        let sig = sign_federation(&k, &ts, b"{\"a\":1}").to_base64();
        let pk = k.public_key();
        let mismatch = Err(FederationError::Signature(VerifyError::Mismatch));
        assert_eq!(
            verify_federation(&pk, &ts, b"{\"a\":2}", &sig, NOW, 300, Strictness::Strict),
            mismatch
        );
        let ts2 = (NOW - 1).to_string();
        assert_eq!(
            verify_federation(&pk, &ts2, b"{\"a\":1}", &sig, NOW, 300, Strictness::Strict),
            mismatch
        );
        let other = SecretKey::from_seed([4u8; 32]).public_key();
        assert_eq!(
            verify_federation(
                &other,
                &ts,
                b"{\"a\":1}",
                &sig,
                NOW,
                300,
                Strictness::Strict
            ),
            mismatch
        );
        // The same bytes under Python's `json.dumps` spacing are a different message (C-28).
        assert_eq!(
            verify_federation(&pk, &ts, b"{\"a\": 1}", &sig, NOW, 300, Strictness::Strict),
            mismatch
        );
    }

    #[test]
    fn freshness_window() {
        let k = key();
        let pk = k.public_key();
        let at = |ts: i64, window: i64| {
            let t = ts.to_string();
            let sig = sign_federation(&k, &t, b"{}").to_base64();
            verify_federation(&pk, &t, b"{}", &sig, NOW, window, Strictness::Strict)
        };
        assert_eq!(at(NOW - 300, 300), Ok(()));
        assert_eq!(at(NOW + 300, 300), Ok(()));
        assert_eq!(
            at(NOW - 3600, 300),
            Err(FederationError::Stale {
                age: 3600,
                window: 300
            })
        );
        assert_eq!(
            at(NOW + 301, 300),
            Err(FederationError::Future {
                ahead: 301,
                window: 300
            })
        );
        assert_eq!(at(NOW - 3600, i64::MAX), Ok(()));
    }

    #[test]
    fn signature_text_rules_apply() {
        let k = key();
        let ts = NOW.to_string();
        let sig = sign_federation(&k, &ts, b"{}").to_base64();
        let unpadded = sig.trim_end_matches('=');
        assert!(matches!(
            verify_federation(
                &k.public_key(),
                &ts,
                b"{}",
                unpadded,
                NOW,
                300,
                Strictness::Strict
            ),
            Err(FederationError::Signature(VerifyError::BadEncoding(_)))
        ));
        assert_eq!(
            verify_federation(
                &k.public_key(),
                &ts,
                b"{}",
                unpadded,
                NOW,
                300,
                Strictness::Lax
            ),
            Ok(())
        );
    }

    #[test]
    fn malformed_timestamps() {
        for bad in [
            "",
            "abc",
            "-1",
            "1.5",
            &"9".repeat(30),
            "2026-13-01T00:00:00Z",
        ] {
            assert!(
                matches!(
                    parse_federation_timestamp(bad),
                    Err(FederationError::MalformedTimestamp { .. })
                ),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(ts in ".{0,40}", body in proptest::collection::vec(any::<u8>(), 0..40), sig in ".{0,100}", now in any::<i64>(), window in any::<i64>()) {
            let pk = key().public_key();
            let _ = verify_federation(&pk, &ts, &body, &sig, now, window, Strictness::Strict);
            let _ = verify_federation(&pk, &ts, &body, &sig, now, window, Strictness::Lax);
        }
    }
}
