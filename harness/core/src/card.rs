//! Agent Cards (spec 02, CARD-001..CARD-004, C-17, C-18, C-19, C-55).
//!
//! An Agent Card is a portable identity document: an agent's address and public key, valid from
//! `issued_at` to `expires_at`, signed so it can be checked offline.
//!
//! Signing rule (CARD-003): Ed25519 over the bytes `"amp-agent-card-v1\n"` followed by the
//! RFC 8785 (JCS) serialisation of the card object with its `signature` member removed; the
//! 64-byte signature goes into `signature` as standard padded base64.
//!
//! Readings taken where the spec is loose:
//! * C-18: spec 02 says JCS "normalises Unicode"; RFC 8785 does not. Cards are canonicalised
//!   strictly per RFC 8785 (no NFC step), so a card whose `alias` is not in NFC signs over the
//!   code points as given.
//! * C-19: the fingerprint's input bytes are undefined; the caller picks a
//!   [`FingerprintProfile`] and a mismatch reports which other profiles would have matched so
//!   callers can warn instead of fail.
//! * C-55: verification (CARD-004) checks only that `expires_at` is in the future; a future
//!   `issued_at` and a validity longer than six calendar months (CARD-002, SHOULD) are returned
//!   as [`CardWarning`]s, never as errors.
//! * C-17 (who signs) is a provider question; a card signed by any key other than its own
//!   `public_key` simply fails [`verify_card`] with [`CardError::SignatureInvalid`].
//!
//! Nothing here reads the clock: "now" is part of [`CardVerifyOptions`].

use serde_json::{Map, Value};

use crate::canonical::{PayloadProfile, canonical_payload};
use crate::signing::{
    FingerprintProfile, KeyError, PublicKey, SecretKey, Signature, Strictness, VerifyError,
    verify_signature_text,
};
use crate::time::{TimeError, Timestamp, format_rfc3339};

/// Domain separator prepended to the JCS bytes before signing (CARD-003).
pub const CARD_DOMAIN_SEPARATOR: &[u8] = b"amp-agent-card-v1\n";
/// The only card format version spec 02 defines (`amp_agent_card`).
pub const CARD_VERSION: &str = "1.0";
/// Largest canonical card accepted. A real card is well under 2 KiB; the cap keeps hostile
/// cards (huge `capabilities`) cheap to refuse.
pub const MAX_CARD_CANONICAL_BYTES: usize = 64 * 1024;
/// CARD-002: `expires_at` SHOULD be at most this many calendar months after `issued_at`.
pub const MAX_VALIDITY_MONTHS: u32 = 6;

/// Required string members of a card besides `signature` (CARD-001).
pub const REQUIRED_FIELDS: [&str; 7] = [
    "amp_agent_card",
    "address",
    "public_key",
    "key_algorithm",
    "fingerprint",
    "issued_at",
    "expires_at",
];

/// Why a card was refused. [`CardError::rule`] names the catalogue clause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("agent card is {found}, not a JSON object (CARD-001)")]
    NotAnObject { found: &'static str },
    #[error("agent card lacks required field `{field}` (CARD-001)")]
    MissingField { field: &'static str },
    #[error("agent card field `{field}` must be a string (CARD-001)")]
    NotAString { field: &'static str },
    #[error("agent card version is {found:?}; only \"1.0\" is defined (CARD-001)")]
    UnknownVersion { found: String },
    #[error("agent card key_algorithm is {found:?}; only Ed25519 cards can be verified (CARD-004)")]
    UnsupportedAlgorithm { found: String },
    #[error("agent card public_key is unusable: {0} (CARD-004)")]
    BadKey(KeyError),
    #[error("agent card `{field}` is not an RFC 3339 timestamp: {source} (CARD-001)")]
    BadTimestamp {
        field: &'static str,
        source: TimeError,
    },
    #[error(
        "agent card canonical form is {len} bytes, over the {max}-byte limit: trim capabilities/alias"
    )]
    TooLarge { len: usize, max: usize },
    #[error("agent card cannot be canonicalised (JCS): {0}")]
    Canonical(String),
    #[error(
        "agent card signature does not verify against the card's own public_key over \
         \"amp-agent-card-v1\\n\" + JCS(card without signature): {0} (CARD-004)"
    )]
    SignatureInvalid(VerifyError),
    #[error("agent card expired at {expires_at} (now {now}) (CARD-004)")]
    Expired { expires_at: String, now: String },
    #[error(
        "agent card fingerprint does not match its public_key under the {profile} profile{} (CARD-004, C-19)",
        if other_profiles.is_empty() { String::new() } else {
            format!("; it matches {}", other_profiles.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "))
        }
    )]
    FingerprintMismatch {
        profile: FingerprintProfile,
        /// Other fingerprint readings (C-19) under which the fingerprint does match.
        other_profiles: Vec<FingerprintProfile>,
    },
}

impl CardError {
    /// Catalogue id of the rule behind this error.
    pub fn rule(&self) -> &'static str {
        match self {
            CardError::NotAnObject { .. }
            | CardError::MissingField { .. }
            | CardError::NotAString { .. }
            | CardError::UnknownVersion { .. }
            | CardError::BadTimestamp { .. } => "CARD-001",
            CardError::TooLarge { .. } | CardError::Canonical(_) => "CARD-003",
            CardError::UnsupportedAlgorithm { .. }
            | CardError::BadKey(_)
            | CardError::SignatureInvalid(_)
            | CardError::Expired { .. }
            | CardError::FingerprintMismatch { .. } => "CARD-004",
        }
    }
}

/// Something a valid card does that a careful verifier reports but must not reject on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardWarning {
    /// CARD-002 (SHOULD): validity longer than six calendar months.
    LongValidity { seconds: i64 },
    /// C-55: `issued_at` lies in the future relative to the verifier's clock.
    FutureIssuedAt { seconds_ahead: i64 },
    /// `expires_at` is not after `issued_at` (still unexpired, so CARD-004 passes).
    ExpiresBeforeIssued,
}

impl CardWarning {
    /// Catalogue id behind the warning.
    pub fn rule(&self) -> &'static str {
        match self {
            CardWarning::LongValidity { .. } => "CARD-002",
            CardWarning::FutureIssuedAt { .. } => "C-55",
            CardWarning::ExpiresBeforeIssued => "C-55",
        }
    }
}

impl std::fmt::Display for CardWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CardWarning::LongValidity { seconds } => write!(
                f,
                "card is valid for {} days, longer than {MAX_VALIDITY_MONTHS} months (CARD-002)",
                seconds / 86_400
            ),
            CardWarning::FutureIssuedAt { seconds_ahead } => {
                write!(f, "issued_at is {seconds_ahead} s in the future (C-55)")
            }
            CardWarning::ExpiresBeforeIssued => {
                f.write_str("expires_at is not after issued_at (C-55)")
            }
        }
    }
}

/// How [`verify_card`] judges a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardVerifyOptions {
    /// The verifier's clock (unix seconds), for the CARD-004 expiry check.
    pub now: Timestamp,
    /// Which fingerprint reading to hold the card to (C-19).
    pub fingerprint: FingerprintProfile,
    /// Signature text/curve strictness (SIG-011, C-56); strict by default.
    pub strictness: Strictness,
}

impl CardVerifyOptions {
    /// Strict signature checks and the default fingerprint profile at `now`.
    pub fn at(now: Timestamp) -> CardVerifyOptions {
        CardVerifyOptions {
            now,
            fingerprint: FingerprintProfile::default(),
            strictness: Strictness::Strict,
        }
    }
}

/// A card that passed every CARD-004 step, with what it states and any warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCard {
    pub address: String,
    pub public_key: PublicKey,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub warnings: Vec<CardWarning>,
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The exact bytes a card signature covers (CARD-003): the separator, then RFC 8785 JCS of
/// `card` without its `signature` member. Every other member, known or not, is covered.
pub fn card_signing_bytes(card: &Value) -> Result<Vec<u8>, CardError> {
    let obj = card.as_object().ok_or(CardError::NotAnObject {
        found: kind_name(card),
    })?;
    let mut unsigned = obj.clone();
    unsigned.remove("signature");
    let jcs = canonical_payload(&Value::Object(unsigned), PayloadProfile::Jcs)
        .map_err(|e| CardError::Canonical(e.to_string()))?;
    if jcs.len() > MAX_CARD_CANONICAL_BYTES {
        return Err(CardError::TooLarge {
            len: jcs.len(),
            max: MAX_CARD_CANONICAL_BYTES,
        });
    }
    let mut out = Vec::with_capacity(CARD_DOMAIN_SEPARATOR.len() + jcs.len());
    out.extend_from_slice(CARD_DOMAIN_SEPARATOR);
    out.extend_from_slice(&jcs);
    Ok(out)
}

/// Signs `card` with `key` (CARD-003) and returns it with `signature` set (any old signature is
/// replaced). The key need not match the card's `public_key`: tests build wrongly signed cards
/// this way, and [`verify_card`] catches them.
pub fn sign_card(card: &Map<String, Value>, key: &SecretKey) -> Result<Value, CardError> {
    let mut out = card.clone();
    out.remove("signature");
    let bytes = card_signing_bytes(&Value::Object(out.clone()))?;
    let sig: Signature = key.sign(&bytes);
    out.insert("signature".into(), Value::String(sig.to_base64()));
    Ok(Value::Object(out))
}

/// The required unsigned members of a card for `address` and `public_key`, in the spec's field
/// order; callers may add `id`, `alias`, `provider_endpoint` and `capabilities` before
/// [`sign_card`].
pub fn card_fields(
    address: &str,
    public_key: &PublicKey,
    fingerprint: FingerprintProfile,
    issued_at: Timestamp,
    expires_at: Timestamp,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("amp_agent_card".into(), CARD_VERSION.into());
    m.insert("address".into(), address.into());
    m.insert("public_key".into(), public_key.to_spki_pem().into());
    m.insert("key_algorithm".into(), "Ed25519".into());
    m.insert(
        "fingerprint".into(),
        public_key.fingerprint(fingerprint).into(),
    );
    m.insert("issued_at".into(), format_rfc3339(issued_at.unix()).into());
    m.insert(
        "expires_at".into(),
        format_rfc3339(expires_at.unix()).into(),
    );
    m
}

fn field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, CardError> {
    match obj.get(name) {
        None => Err(CardError::MissingField { field: name }),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CardError::NotAString { field: name }),
    }
}

fn timestamp(obj: &Map<String, Value>, name: &'static str) -> Result<Timestamp, CardError> {
    Timestamp::parse_rfc3339(field(obj, name)?).map_err(|source| CardError::BadTimestamp {
        field: name,
        source,
    })
}

/// `t` plus `months` calendar months, the day clamped to the target month's length
/// (Aug 31 + 6 months = Feb 28/29). Saturates at the RFC 3339 range.
pub fn add_months(t: Timestamp, months: u32) -> Timestamp {
    let Ok(dt) = ::time::OffsetDateTime::from_unix_timestamp(t.unix()) else {
        return t;
    };
    let total = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month()) - 1) + i64::from(months);
    let Ok(year) = i32::try_from(total.div_euclid(12)) else {
        return Timestamp::from_unix(crate::time::MAX_RFC3339_SECS);
    };
    let Ok(month) = ::time::Month::try_from((total.rem_euclid(12) + 1) as u8) else {
        return t;
    };
    let day = dt.day().min(month.length(year));
    match ::time::Date::from_calendar_date(year, month, day) {
        Ok(date) => Timestamp::from_unix(dt.replace_date(date).unix_timestamp()),
        Err(_) => Timestamp::from_unix(crate::time::MAX_RFC3339_SECS),
    }
}

/// Checks a card in CARD-004's order: well-formed (CARD-001), signature over the separator +
/// JCS against the card's own `public_key`, `expires_at` in the future, `fingerprint` matching
/// `public_key`. Warnings (CARD-002, C-55) ride along on success.
pub fn verify_card(card: &Value, opts: CardVerifyOptions) -> Result<VerifiedCard, CardError> {
    let obj = card.as_object().ok_or(CardError::NotAnObject {
        found: kind_name(card),
    })?;
    for f in REQUIRED_FIELDS {
        field(obj, f)?;
    }
    let sig_text = field(obj, "signature")?;
    let version = field(obj, "amp_agent_card")?;
    if version != CARD_VERSION {
        return Err(CardError::UnknownVersion {
            found: version.chars().take(32).collect(),
        });
    }
    let issued_at = timestamp(obj, "issued_at")?;
    let expires_at = timestamp(obj, "expires_at")?;
    let alg = field(obj, "key_algorithm")?;
    if !alg.eq_ignore_ascii_case("ed25519") {
        return Err(CardError::UnsupportedAlgorithm {
            found: alg.chars().take(32).collect(),
        });
    }
    let public_key =
        PublicKey::from_spki_pem(field(obj, "public_key")?).map_err(CardError::BadKey)?;
    let bytes = card_signing_bytes(card)?;
    verify_signature_text(&public_key, &bytes, sig_text, opts.strictness)
        .map_err(CardError::SignatureInvalid)?;
    if expires_at <= opts.now {
        return Err(CardError::Expired {
            expires_at: format_rfc3339(expires_at.unix()),
            now: format_rfc3339(opts.now.unix()),
        });
    }
    let fp = field(obj, "fingerprint")?;
    if public_key.fingerprint(opts.fingerprint) != fp {
        let other_profiles = public_key
            .matching_fingerprint_profiles(fp)
            .into_iter()
            .filter(|p| *p != opts.fingerprint)
            .collect();
        return Err(CardError::FingerprintMismatch {
            profile: opts.fingerprint,
            other_profiles,
        });
    }
    let mut warnings = Vec::new();
    if expires_at <= issued_at {
        warnings.push(CardWarning::ExpiresBeforeIssued);
    } else if expires_at > add_months(issued_at, MAX_VALIDITY_MONTHS) {
        warnings.push(CardWarning::LongValidity {
            seconds: issued_at.seconds_until(expires_at),
        });
    }
    if issued_at > opts.now {
        warnings.push(CardWarning::FutureIssuedAt {
            seconds_ahead: opts.now.seconds_until(issued_at),
        });
    }
    Ok(VerifiedCard {
        address: field(obj, "address")?.to_string(),
        public_key,
        issued_at,
        expires_at,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed([n; 32])
    }

    fn card(k: &SecretKey, issued: i64, expires: i64) -> Map<String, Value> {
        card_fields(
            "alice@acme.amp-mock.test",
            &k.public_key(),
            FingerprintProfile::default(),
            Timestamp::from_unix(issued),
            Timestamp::from_unix(expires),
        )
    }

    fn opts() -> CardVerifyOptions {
        CardVerifyOptions::at(Timestamp::from_unix(NOW))
    }

    #[test]
    fn signing_bytes_are_separator_plus_jcs_without_signature() {
        let c = json!({"b": 1, "a": "é", "signature": "x"});
        let bytes = card_signing_bytes(&c).unwrap();
        assert_eq!(bytes, "amp-agent-card-v1\n{\"a\":\"é\",\"b\":1}".as_bytes());
    }

    #[test]
    fn signed_card_verifies_and_reports_no_warning() {
        let k = key(7);
        let signed = sign_card(&card(&k, NOW - 60, NOW + 90 * 86_400), &k).unwrap();
        let v = verify_card(&signed, opts()).unwrap();
        assert_eq!(v.public_key, k.public_key());
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn every_covered_field_is_bound() {
        let k = key(7);
        let signed = sign_card(&card(&k, NOW - 60, NOW + 86_400), &k).unwrap();
        for f in ["address", "issued_at", "amp_agent_card"] {
            let mut t = signed.clone();
            t[f] = json!("tampered");
            assert!(verify_card(&t, opts()).is_err(), "{f}");
        }
        let mut extra = signed.clone();
        extra["alias"] = json!("Mallory");
        assert!(matches!(
            verify_card(&extra, opts()),
            Err(CardError::SignatureInvalid(_))
        ));
    }

    #[test]
    fn card_signed_by_another_key_is_refused() {
        let (agent, provider) = (key(7), key(9));
        let signed = sign_card(&card(&agent, NOW - 60, NOW + 86_400), &provider).unwrap();
        let e = verify_card(&signed, opts()).unwrap_err();
        assert_eq!(e.rule(), "CARD-004");
        assert!(matches!(e, CardError::SignatureInvalid(_)));
    }

    #[test]
    fn expired_card_is_refused_even_when_signed() {
        let k = key(7);
        let signed = sign_card(&card(&k, NOW - 200, NOW - 100), &k).unwrap();
        assert!(matches!(
            verify_card(&signed, opts()),
            Err(CardError::Expired { .. })
        ));
        // Expiry exactly now is not "in the future".
        let signed = sign_card(&card(&k, NOW - 200, NOW), &k).unwrap();
        assert!(verify_card(&signed, opts()).is_err());
    }

    #[test]
    fn fingerprint_mismatch_names_the_matching_profile() {
        let k = key(7);
        let mut c = card(&k, NOW - 60, NOW + 86_400);
        c.insert(
            "fingerprint".into(),
            k.public_key()
                .fingerprint(FingerprintProfile::SpkiDer)
                .into(),
        );
        let signed = sign_card(&c, &k).unwrap();
        match verify_card(&signed, opts()) {
            Err(CardError::FingerprintMismatch { other_profiles, .. }) => {
                assert_eq!(other_profiles, vec![FingerprintProfile::SpkiDer])
            }
            other => panic!("{other:?}"),
        }
        let mut o = opts();
        o.fingerprint = FingerprintProfile::SpkiDer;
        assert!(verify_card(&signed, o).is_ok());
    }

    #[test]
    fn warnings_for_long_validity_and_future_issue() {
        let k = key(7);
        // 2026-01-01 + 6 months = 2026-07-01: exactly the cap is fine, one second more warns.
        let cap = add_months(Timestamp::from_unix(NOW), 6).unix();
        assert_eq!(format_rfc3339(cap), "2026-07-01T00:00:00Z");
        let ok = sign_card(&card(&k, NOW, cap), &k).unwrap();
        assert!(verify_card(&ok, opts()).unwrap().warnings.is_empty());
        let long = sign_card(&card(&k, NOW, cap + 1), &k).unwrap();
        assert!(matches!(
            verify_card(&long, opts()).unwrap().warnings[..],
            [CardWarning::LongValidity { .. }]
        ));
        let future = sign_card(&card(&k, NOW + 3600, NOW + 7200), &k).unwrap();
        assert!(matches!(
            verify_card(&future, opts()).unwrap().warnings[..],
            [CardWarning::FutureIssuedAt {
                seconds_ahead: 3600
            }]
        ));
    }

    #[test]
    fn add_months_clamps_day() {
        let aug31 = Timestamp::parse_rfc3339("2025-08-31T12:00:00Z").unwrap();
        assert_eq!(
            format_rfc3339(add_months(aug31, 6).unix()),
            "2026-02-28T12:00:00Z"
        );
    }

    #[test]
    fn malformed_cards_name_the_rule() {
        assert_eq!(
            verify_card(&json!([]), opts()).unwrap_err().rule(),
            "CARD-001"
        );
        assert_eq!(
            verify_card(&json!({}), opts()).unwrap_err().rule(),
            "CARD-001"
        );
        let k = key(7);
        let mut c = card(&k, NOW, NOW + 10);
        c.insert("issued_at".into(), json!(5));
        c.insert("signature".into(), json!("AAAA"));
        assert!(matches!(
            verify_card(&Value::Object(c), opts()),
            Err(CardError::NotAString { field: "issued_at" })
        ));
    }
}
