//! Webhook HMAC signatures (WH-001..003, C-29).
//!
//! A provider signs each webhook delivery with `X-AMP-Signature: sha256=<hex>` where the hex is
//! HMAC-SHA256 keyed with the agent's whole `webhook_secret` string (as bytes, not decoded) over
//! `"<X-AMP-Timestamp>.<raw body bytes>"` (WH-002, C-29). Receivers reject deliveries whose
//! timestamp is more than the window (300 s) away from their clock and compare in constant time
//! (WH-003).

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The WH-003 freshness window in seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 300;

/// The `X-AMP-Signature` value prefix (WH-002).
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// Why a webhook delivery failed verification. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("malformed webhook header (WH-002): {reason}")]
    Malformed { reason: String },
    #[error(
        "X-AMP-Timestamp is {age} s old, beyond the freshness window (WH-003); a retry must carry a fresh timestamp and signature"
    )]
    Stale { age: i64 },
    #[error(
        "X-AMP-Timestamp is {ahead} s in the future, beyond the window (WH-003): check the sender's clock"
    )]
    Future { ahead: i64 },
    #[error(
        "X-AMP-Signature does not match HMAC-SHA256(webhook_secret, timestamp + \".\" + raw body) (WH-002)"
    )]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC hashes long keys and pads short ones, so every key length is valid.
    let mut m = HmacSha256::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-AMP-Signature` header value: `sha256=` + lowercase hex HMAC-SHA256 (WH-002).
pub fn webhook_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("{SIGNATURE_PREFIX}{}", hex::encode(tag))
}

/// Parse `X-AMP-Timestamp`: unix seconds as plain ASCII digits (WH-001).
pub fn parse_webhook_timestamp(ts_header: &str) -> Result<i64, WebhookError> {
    let malformed = |why: &str| WebhookError::Malformed {
        reason: format!("X-AMP-Timestamp {why}; expected unix seconds such as 1767225600"),
    };
    if ts_header.is_empty() {
        return Err(malformed("is empty"));
    }
    if ts_header.len() > 15 || !ts_header.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("is not a plain decimal number"));
    }
    ts_header
        .parse::<i64>()
        .map_err(|_| malformed("is out of range"))
}

/// Decode `sha256=<64 hex>` into the 32-byte tag. Upper-case hex is accepted (C-29 reports it
/// as a warning, see [`signature_uses_uppercase_hex`]).
pub fn parse_webhook_signature(sig_header: &str) -> Result<[u8; 32], WebhookError> {
    let hex_part =
        sig_header
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| WebhookError::Malformed {
                reason: "X-AMP-Signature must start with `sha256=`".into(),
            })?;
    if hex_part.len() != 64 {
        return Err(WebhookError::Malformed {
            reason: format!(
                "X-AMP-Signature needs 64 hex digits after `sha256=`, found {} characters",
                hex_part.len()
            ),
        });
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut tag).map_err(|_| WebhookError::Malformed {
        reason: "X-AMP-Signature contains a non-hex character".into(),
    })?;
    Ok(tag)
}

/// True when the hex digits of a `sha256=` header use upper case (valid but non-canonical, C-29).
pub fn signature_uses_uppercase_hex(sig_header: &str) -> bool {
    sig_header
        .strip_prefix(SIGNATURE_PREFIX)
        .is_some_and(|h| h.bytes().any(|b| b.is_ascii_uppercase()))
}

/// Verify a webhook delivery: header syntax, then freshness against `now_unix` (a difference of
/// exactly `window_secs` is still accepted; WH-003 rejects only "more than"), then a
/// constant-time HMAC comparison (hmac's `verify_slice`).
pub fn verify_webhook(
    secret: &[u8],
    sig_header: &str,
    ts_header: &str,
    body: &[u8],
    now_unix: i64,
    window_secs: i64,
) -> Result<(), WebhookError> {
    let tag = parse_webhook_signature(sig_header)?;
    let ts = parse_webhook_timestamp(ts_header)?;
    let age = now_unix.saturating_sub(ts);
    if age > window_secs {
        return Err(WebhookError::Stale { age });
    }
    if age < window_secs.saturating_neg() {
        return Err(WebhookError::Future {
            ahead: age.saturating_neg(),
        });
    }
    mac(secret, ts_header, body)
        .verify_slice(&tag)
        .map_err(|_| WebhookError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn primitive_matches_rfc4231_and_framing_is_ts_dot_body() {
        // RFC 4231 test case 2 pins the HMAC-SHA256 primitive.
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // The signed message is exactly timestamp + "." + body.
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing.?");
        let direct = hex::encode(m.finalize().into_bytes());
        assert_eq!(
            webhook_signature(b"Jefe", "what do ya want for nothing", b"?"),
            format!("sha256={direct}")
        );
    }

    #[test]
    fn known_answer_from_python() {
        // Cross-checked against Python's hmac module when python3 is installed.
        let sig = webhook_signature(SECRET, "1767225600", br#"{"a":1}"#);
        assert_eq!(
            sig,
            format!("sha256={}", python_hmac("1767225600", r#"{"a":1}"#))
        );
    }

    /// Independent HMAC via the python3 interpreter when available; otherwise via hmac directly.
    fn python_hmac(ts: &str, body: &str) -> String {
        let script = format!(
            "import hmac,hashlib,sys;print(hmac.new({:?}.encode(),({:?}+'.'+{:?}).encode(),hashlib.sha256).hexdigest())",
            std::str::from_utf8(SECRET).unwrap(),
            ts,
            body
        );
        match std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
        {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
            _ => {
                let mut m = HmacSha256::new_from_slice(SECRET).unwrap();
                m.update(format!("{ts}.{body}").as_bytes());
                hex::encode(m.finalize().into_bytes())
            }
        }
    }

    #[test]
    fn good_signature_verifies() {
        let ts = NOW.to_string();
        let body = br#"{"envelope":{},"payload":{}}"#;
        let sig = webhook_signature(SECRET, &ts, body);
        assert!(sig.starts_with("sha256=") && !signature_uses_uppercase_hex(&sig));
        assert_eq!(verify_webhook(SECRET, &sig, &ts, body, NOW, 300), Ok(()));
        // Upper-case hex is tolerated (C-29) and detectable.
        let upper = format!("sha256={}", sig[7..].to_uppercase());
        assert!(signature_uses_uppercase_hex(&upper));
        assert_eq!(verify_webhook(SECRET, &upper, &ts, body, NOW, 300), Ok(()));
    }

    #[test]
    fn wrong_secret_body_or_timestamp_is_mismatch() {
        let ts = NOW.to_string();
        let body = b"{}";
        let sig = webhook_signature(SECRET, &ts, body);
        assert_eq!(
            verify_webhook(b"whsec_other", &sig, &ts, body, NOW, 300),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, &sig, &ts, b"{ }", NOW, 300),
            Err(WebhookError::Mismatch)
        );
        let ts2 = (NOW + 1).to_string();
        assert_eq!(
            verify_webhook(SECRET, &sig, &ts2, body, NOW, 300),
            Err(WebhookError::Mismatch)
        );
        // A one-bit change in the tag.
        let mut bad = sig.clone().into_bytes();
        bad[10] = if bad[10] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(
            verify_webhook(SECRET, &bad, &ts, body, NOW, 300),
            Err(WebhookError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_windows() {
        let body = b"{}";
        let at = |ts: i64| {
            let t = ts.to_string();
            verify_webhook(
                SECRET,
                &webhook_signature(SECRET, &t, body),
                &t,
                body,
                NOW,
                300,
            )
        };
        assert_eq!(at(NOW - 300), Ok(()));
        assert_eq!(at(NOW + 300), Ok(()));
        assert_eq!(at(NOW - 301), Err(WebhookError::Stale { age: 301 }));
        assert_eq!(at(NOW - 3600), Err(WebhookError::Stale { age: 3600 }));
        assert_eq!(at(NOW + 301), Err(WebhookError::Future { ahead: 301 }));
    }

    #[test]
    fn malformed_headers() {
        let ts = NOW.to_string();
        let sig = webhook_signature(SECRET, &ts, b"");
        let hex_only = sig[7..].to_string();
        for bad_sig in [
            hex_only.as_str(),
            "sha256=",
            "sha1=abcd",
            "SHA256=00",
            &format!("sha256={}", &hex_only[..62]),
            &format!("sha256={}zz", &hex_only[..62]),
            &format!("{sig} "),
        ] {
            assert!(
                matches!(
                    verify_webhook(SECRET, bad_sig, &ts, b"", NOW, 300),
                    Err(WebhookError::Malformed { .. })
                ),
                "{bad_sig}"
            );
        }
        for bad_ts in [
            "",
            "-5",
            "1767225600.5",
            "2026-01-01T00:00:00Z",
            " 1",
            "9".repeat(40).as_str(),
        ] {
            assert!(
                matches!(
                    verify_webhook(SECRET, &sig, bad_ts, b"", NOW, 300),
                    Err(WebhookError::Malformed { .. })
                ),
                "{bad_ts}"
            );
        }
    }

    #[test]
    fn errors_never_contain_the_secret() {
        let e = verify_webhook(SECRET, "sha256=00", "1", b"", NOW, 300).unwrap_err();
        assert!(!e.to_string().contains("whsec_"));
    }

    proptest! {
        #[test]
        fn verify_never_panics(sig in ".{0,100}", ts in ".{0,30}", body in proptest::collection::vec(any::<u8>(), 0..64), now in any::<i64>(), window in any::<i64>()) {
            let _ = verify_webhook(SECRET, &sig, &ts, &body, now, window);
        }

        #[test]
        fn roundtrip(secret in proptest::collection::vec(any::<u8>(), 0..200), ts in 0i64..4_000_000_000, body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let t = ts.to_string();
            let sig = webhook_signature(&secret, &t, &body);
            prop_assert_eq!(verify_webhook(&secret, &sig, &t, &body, ts, 300), Ok(()));
        }
    }
}
