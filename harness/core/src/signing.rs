//! Canonical signing string, Ed25519 keys and strict/lax verification
//! (SIG-007, SIG-010, SIG-011, C-05, C-07, C-08, C-19, C-56).
//!
//! Two verification modes exist because the spec leaves Ed25519 strictness open (C-56):
//!
//! * [`Strictness::Strict`] is what a careful implementation does: the signature text must be
//!   standard, padded base64 of exactly 64 bytes with no whitespace; the scalar `S` must be
//!   reduced (`S < L`); `R` and the public key must not be small-order points; then
//!   ed25519-dalek's `verify_strict` decides.
//! * [`Strictness::Lax`] models the most forgiving implementations seen in the wild: url-safe or
//!   unpadded base64, embedded whitespace and non-zero trailing bits are tolerated (and reported
//!   as [`Leniency`] by [`parse_signature_text_lax`]); `S` only needs its top three bits clear
//!   (the historical ed25519-donna check, so `S + L` passes); weak keys are not rejected; the
//!   equation is the cofactorless `[S]B == R + [k]A`, compared on the encoded `R`.
//!
//! The suite uses Strict to judge targets and Lax to explain *why* a target's signature was
//! only acceptable to a forgiving verifier.

use crate::canonical::PayloadHash;
use base64::Engine as _;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signer as _;
use sha2::Digest as _;
use std::fmt;
use std::str::FromStr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority `{0}`: use exactly one of urgent, high, normal, low (lowercase)")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "urgent" => Ok(Priority::Urgent),
            "high" => Ok(Priority::High),
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            _ => Err(UnknownPriority(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningFields<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub priority: Priority,
    pub in_reply_to: Option<&'a str>,
    pub payload_hash: &'a PayloadHash,
}

/// The SIG-007 canonical signing string: `from|to|subject|priority|in_reply_to|payload_hash`.
///
/// `in_reply_to` is the empty string when the message is not a reply (C-05) and `priority` is
/// always present in its lowercase form (C-07). No escaping is applied to `|` inside fields
/// because the spec defines none (C-08); use [`canonical_string_is_ambiguous`] to detect the
/// cases where two different field sets produce the same string.
pub fn canonical_string(f: &SigningFields) -> String {
    let reply = f.in_reply_to.unwrap_or("");
    let hash = f.payload_hash.as_str();
    let mut s = String::with_capacity(
        f.from.len() + f.to.len() + f.subject.len() + reply.len() + hash.len() + 16,
    );
    for (i, part) in [f.from, f.to, f.subject, f.priority.as_str(), reply, hash]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            s.push('|');
        }
        s.push_str(part);
    }
    s
}

/// True when a field contains the `|` separator, so the canonical string no longer identifies
/// the field values uniquely (C-08): e.g. subject `a|b` with from `x` collides with other splits.
pub fn canonical_string_is_ambiguous(f: &SigningFields) -> bool {
    [
        f.from,
        f.to,
        f.subject,
        f.in_reply_to.unwrap_or(""),
        f.payload_hash.as_str(),
    ]
    .iter()
    .any(|s| s.contains('|'))
}

/// How forgiving signature verification is; see the module docs (C-56).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    #[default]
    Strict,
    Lax,
}

impl Strictness {
    pub const ALL: [Strictness; 2] = [Strictness::Strict, Strictness::Lax];

    /// Stable name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strictness::Strict => "strict",
            Strictness::Lax => "lax",
        }
    }
}

impl fmt::Display for Strictness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strictness {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strictness::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown strictness `{s}`: use `strict` or `lax`"))
    }
}

/// Which bytes a key fingerprint hashes and how it is printed (C-19: the spec never defines it).
///
/// All profiles print `SHA256:` followed by base64 (standard alphabet) of a SHA-256 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FingerprintProfile {
    /// SHA-256 of the raw 32-byte key, padded base64: the spec's OpenSSL recipe (default).
    #[default]
    Raw32B64Pad,
    /// SHA-256 of the raw 32-byte key, base64 without `=` padding.
    Raw32B64NoPad,
    /// SHA-256 of the 44-byte SPKI DER encoding (what `openssl pkey -pubout -outform DER`
    /// prints), padded base64. This is what SSH-style tooling tends to compute.
    SpkiDer,
}

impl FingerprintProfile {
    pub const ALL: [FingerprintProfile; 3] = [
        FingerprintProfile::Raw32B64Pad,
        FingerprintProfile::Raw32B64NoPad,
        FingerprintProfile::SpkiDer,
    ];

    /// Stable name used on the command line (`--fingerprint=`) and in reports.
    pub fn name(self) -> &'static str {
        match self {
            FingerprintProfile::Raw32B64Pad => "raw32-b64pad",
            FingerprintProfile::Raw32B64NoPad => "raw32-b64nopad",
            FingerprintProfile::SpkiDer => "spki-der",
        }
    }
}

impl fmt::Display for FingerprintProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FingerprintProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FingerprintProfile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown fingerprint profile `{s}`: use raw32-b64pad, raw32-b64nopad or spki-der")
            })
    }
}

/// Why a key could not be used. Messages never include key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "a PRIVATE KEY was supplied where a public key is expected: send the SPKI public key \
         (`-----BEGIN PUBLIC KEY-----`, e.g. `openssl pkey -pubout`) and treat this private key as exposed"
    )]
    PrivateKeyGiven,
    #[error("a PUBLIC KEY was supplied where a PKCS#8 private key is expected")]
    PublicKeyGiven,
    #[error("key text is {len} bytes, more than the {max}-byte limit for an Ed25519 key")]
    TooLong { len: usize, max: usize },
    #[error(
        "not a usable PEM key: {reason}; expected `-----BEGIN PUBLIC KEY-----` with SPKI DER inside"
    )]
    BadPem { reason: String },
    #[error("key algorithm is {oid}, expected Ed25519 (1.3.101.112) without parameters")]
    WrongAlgorithm { oid: String },
    #[error("an Ed25519 public key is exactly 32 bytes, got {len}")]
    WrongLength { len: usize },
    #[error("public key text is not valid {encoding}: {reason}")]
    BadEncoding {
        encoding: &'static str,
        reason: String,
    },
    #[error("the 32 key bytes do not encode a point on edwards25519")]
    NotOnCurve,
    #[error(
        "the public key is a small-order (weak) point such as the identity: any signature could \
         verify under it; generate a real key pair"
    )]
    SmallOrder,
    #[error("the operating system random number generator failed: {0}")]
    Rng(String),
}

/// Why a signature's text form was rejected (SIG-011, C-56).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureTextError {
    #[error("signature is empty")]
    Empty,
    #[error("signature text is {len} bytes, far longer than base64 of 64 bytes (88)")]
    TooLong { len: usize },
    #[error("signature contains whitespace: send the base64 text without spaces or line breaks")]
    Whitespace,
    #[error("signature uses the url-safe base64 alphabet (`-`/`_`): use standard base64 (`+`/`/`)")]
    UrlSafeAlphabet,
    #[error(
        "signature base64 is missing its `=` padding: a 64-byte signature is 88 characters ending in `==`"
    )]
    MissingPadding,
    #[error("signature is not valid base64: {reason}")]
    InvalidBase64 { reason: String },
    #[error("an Ed25519 signature is 64 bytes, the base64 decodes to {len}")]
    WrongLength { len: usize },
}

/// Which verification check failed (SIG-010, SIG-011, C-56).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("signature text rejected: {0}")]
    BadEncoding(SignatureTextError),
    #[error("an Ed25519 signature is 64 bytes, got {len}")]
    WrongLength { len: usize },
    #[error("signature scalar S is not reduced (S >= L): a malleated copy of a valid signature")]
    NonCanonicalS,
    #[error("signature point R is a small-order point")]
    SmallOrderR,
    #[error("public key is a small-order (weak) point and is refused by strict verification")]
    WeakKey,
    #[error("signature does not match the message and key: the signed bytes or the key differ")]
    Mismatch,
}

impl From<SignatureTextError> for VerifyError {
    fn from(e: SignatureTextError) -> Self {
        match e {
            SignatureTextError::WrongLength { len } => VerifyError::WrongLength { len },
            other => VerifyError::BadEncoding(other),
        }
    }
}

/// A deviation from standard padded base64 that lax parsing tolerated (C-56).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leniency {
    /// ASCII whitespace (spaces, line breaks) was removed.
    Whitespace,
    /// The url-safe alphabet (`-`, `_`) was used.
    UrlSafeAlphabet,
    /// `=` padding was missing.
    MissingPadding,
    /// The last character carried non-zero bits beyond the 64 bytes (non-canonical base64).
    TrailingBits,
}

impl Leniency {
    pub fn name(self) -> &'static str {
        match self {
            Leniency::Whitespace => "whitespace",
            Leniency::UrlSafeAlphabet => "url-safe-alphabet",
            Leniency::MissingPadding => "missing-padding",
            Leniency::TrailingBits => "trailing-bits",
        }
    }
}

/// Upper bound on key text we are willing to parse. A PEM Ed25519 SPKI key is ~113 bytes; the
/// slack covers comments and CRLF line endings while keeping hostile inputs cheap.
const MAX_KEY_TEXT: usize = 8 * 1024;
/// Upper bound on signature text (88 characters when canonical); slack for whitespace.
const MAX_SIG_TEXT: usize = 1024;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID
/// 1.3.101.112 }, BIT STRING (0 unused bits) 32 bytes }.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of a PKCS#8 v1 Ed25519 private key (RFC 8410) followed by the 32-byte seed.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so any byte boundary is a char boundary.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn looks_like_private_key(text: &str) -> bool {
    // Covers PKCS#8 ("PRIVATE KEY"), "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY".
    text.contains("PRIVATE KEY-----")
}

/// An Ed25519 private key. Debug output is redacted; the key is zeroized on drop.
pub struct SecretKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// The RFC 8032 key derived from a 32-byte seed (deterministic: for vectors and tests).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// A fresh key from the operating system RNG.
    ///
    /// # Panics
    /// Only when the OS random number generator is unavailable, which is an environment
    /// failure rather than bad input; use [`SecretKey::try_generate`] to handle it.
    pub fn generate() -> SecretKey {
        match SecretKey::try_generate() {
            Ok(k) => k,
            Err(e) => panic!("cannot generate an Ed25519 key: {e}"),
        }
    }

    /// A fresh key from the operating system RNG, reporting RNG failure.
    pub fn try_generate() -> Result<SecretKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Rng(e.to_string()))?;
        let key = SecretKey::from_seed(seed);
        seed.fill(0);
        Ok(key)
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Ed25519 over the raw message bytes (SIG-010: no pre-hash).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }

    /// PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`), the form `openssl genpkey` writes.
    /// This is secret material: use it for test fixtures and handing keys to tools, never log it.
    pub fn to_pkcs8_pem(&self) -> String {
        let mut der = [0u8; 48];
        der[..16].copy_from_slice(&PKCS8_PREFIX);
        der[16..].copy_from_slice(self.0.as_bytes());
        let pem = pem_wrap("PRIVATE KEY", &der);
        der.fill(0);
        pem
    }

    /// Parse a PKCS#8 (v1, or v2 with a matching public key) Ed25519 private key PEM.
    pub fn from_pkcs8_pem(pem: &str) -> Result<SecretKey, KeyError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        if pem.len() > MAX_KEY_TEXT {
            return Err(KeyError::TooLong {
                len: pem.len(),
                max: MAX_KEY_TEXT,
            });
        }
        let text = pem.trim();
        if text.contains("PUBLIC KEY-----") {
            return Err(KeyError::PublicKeyGiven);
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(text)
            .map(SecretKey)
            .map_err(|e| match e {
                pkcs8::Error::KeyMalformed(_) => KeyError::BadPem {
                    reason: "the PKCS#8 key is malformed or its public key does not match".into(),
                },
                other => {
                    let reason = other.to_string();
                    if reason.to_ascii_lowercase().contains("oid")
                        || reason.to_ascii_lowercase().contains("algorithm")
                    {
                        KeyError::WrongAlgorithm { oid: reason }
                    } else {
                        KeyError::BadPem { reason }
                    }
                }
            })
    }
}

/// An Ed25519 public key: 32 bytes that decode to a point on edwards25519.
///
/// The point may still be small-order ("weak"): [`PublicKey::from_bytes`], `from_hex` and
/// `from_base64` accept such keys so that tests can carry and send them, and [`PublicKey::is_weak`]
/// reports them. [`PublicKey::from_spki_pem`], the registration path, refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Parse an SPKI `-----BEGIN PUBLIC KEY-----` PEM as an agent would register it.
    ///
    /// Refuses private keys (without echoing them), non-Ed25519 algorithms, points that are not
    /// on the curve and small-order points.
    pub fn from_spki_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let raw = PublicKey::spki_pem_raw_bytes(pem)?;
        let pk = PublicKey::from_bytes(&raw)?;
        if pk.is_weak() {
            return Err(KeyError::SmallOrder);
        }
        Ok(pk)
    }

    /// The 32 key bytes inside an Ed25519 SPKI PEM, without any curve checks. For tools that
    /// must report *what* a target published even when it is not a usable key.
    pub fn spki_pem_raw_bytes(pem: &str) -> Result<[u8; 32], KeyError> {
        use pkcs8::der::Document;
        use pkcs8::spki::SubjectPublicKeyInfoRef;
        if pem.len() > MAX_KEY_TEXT {
            return Err(KeyError::TooLong {
                len: pem.len(),
                max: MAX_KEY_TEXT,
            });
        }
        if looks_like_private_key(pem) {
            return Err(KeyError::PrivateKeyGiven);
        }
        let text = pem.trim();
        let (label, doc) = Document::from_pem(text).map_err(|e| KeyError::BadPem {
            reason: e.to_string(),
        })?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::BadPem {
                reason: format!("PEM label is `{label}`"),
            });
        }
        let spki =
            SubjectPublicKeyInfoRef::try_from(doc.as_bytes()).map_err(|e| KeyError::BadPem {
                reason: format!("not SubjectPublicKeyInfo DER: {e}"),
            })?;
        if spki.algorithm.oid != ed25519_dalek::pkcs8::ALGORITHM_OID {
            return Err(KeyError::WrongAlgorithm {
                oid: spki.algorithm.oid.to_string(),
            });
        }
        if spki.algorithm.parameters.is_some() {
            return Err(KeyError::WrongAlgorithm {
                oid: format!("{} with parameters", spki.algorithm.oid),
            });
        }
        let bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::BadPem {
                reason: "public key BIT STRING has unused bits".into(),
            })?;
        <[u8; 32]>::try_from(bytes).map_err(|_| KeyError::WrongLength { len: bytes.len() })
    }

    /// The 44-byte SPKI DER encoding (RFC 8410).
    pub fn to_spki_der(&self) -> [u8; 44] {
        let mut der = [0u8; 44];
        der[..12].copy_from_slice(&SPKI_PREFIX);
        der[12..].copy_from_slice(&self.0);
        der
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM with LF line endings, as `openssl pkey -pubout` writes.
    pub fn to_spki_pem(&self) -> String {
        pem_wrap("PUBLIC KEY", &self.to_spki_der())
    }

    /// 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<PublicKey, KeyError> {
        if s.len() != 64 {
            return Err(KeyError::WrongLength { len: s.len() / 2 });
        }
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s, &mut raw).map_err(|e| KeyError::BadEncoding {
            encoding: "hex",
            reason: e.to_string(),
        })?;
        PublicKey::from_bytes(&raw)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard padded base64 of the raw 32 bytes.
    pub fn from_base64(s: &str) -> Result<PublicKey, KeyError> {
        if s.len() > MAX_KEY_TEXT {
            return Err(KeyError::TooLong {
                len: s.len(),
                max: MAX_KEY_TEXT,
            });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| KeyError::BadEncoding {
                encoding: "base64",
                reason: e.to_string(),
            })?;
        let raw = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| KeyError::WrongLength { len: bytes.len() })?;
        PublicKey::from_bytes(&raw)
    }

    /// Accepts any on-curve point, including weak ones (see the type docs).
    pub fn from_bytes(b: &[u8; 32]) -> Result<PublicKey, KeyError> {
        match CompressedEdwardsY(*b).decompress() {
            Some(_) => Ok(PublicKey(*b)),
            None => Err(KeyError::NotOnCurve),
        }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// True for small-order points (the identity `01 00..00` among them): a signature made
    /// without any secret can verify under such a key for many messages.
    pub fn is_weak(&self) -> bool {
        CompressedEdwardsY(self.0)
            .decompress()
            .is_none_or(|p| p.is_small_order())
    }

    /// `SHA256:<base64>` under the chosen profile (C-19).
    pub fn fingerprint(&self, profile: FingerprintProfile) -> String {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let digest = match profile {
            FingerprintProfile::Raw32B64Pad | FingerprintProfile::Raw32B64NoPad => {
                sha2::Sha256::digest(self.0)
            }
            FingerprintProfile::SpkiDer => sha2::Sha256::digest(self.to_spki_der()),
        };
        let b64 = match profile {
            FingerprintProfile::Raw32B64NoPad => STANDARD_NO_PAD.encode(digest),
            _ => STANDARD.encode(digest),
        };
        format!("SHA256:{b64}")
    }

    /// Which profiles produce `fp` for this key (for reporting a target's choice, C-19).
    pub fn matching_fingerprint_profiles(&self, fp: &str) -> Vec<FingerprintProfile> {
        FingerprintProfile::ALL
            .into_iter()
            .filter(|p| self.fingerprint(*p) == fp)
            .collect()
    }
}

/// A 64-byte Ed25519 signature `R || S`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

impl Signature {
    pub fn from_bytes(b: [u8; 64]) -> Signature {
        Signature(b)
    }
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
    /// Standard padded base64, the SIG-011 wire form.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

fn to_signature(bytes: &[u8]) -> Result<Signature, SignatureTextError> {
    <[u8; 64]>::try_from(bytes)
        .map(Signature)
        .map_err(|_| SignatureTextError::WrongLength { len: bytes.len() })
}

fn precheck(s: &str) -> Result<(), SignatureTextError> {
    if s.is_empty() {
        return Err(SignatureTextError::Empty);
    }
    if s.len() > MAX_SIG_TEXT {
        return Err(SignatureTextError::TooLong { len: s.len() });
    }
    Ok(())
}

/// Parse the base64 text of a signature. Strict: standard alphabet, `=` padding, no whitespace,
/// canonical trailing bits, exactly 64 bytes. Lax: see [`parse_signature_text_lax`].
pub fn parse_signature_text(
    s: &str,
    strictness: Strictness,
) -> Result<Signature, SignatureTextError> {
    match strictness {
        Strictness::Lax => parse_signature_text_lax(s).map(|(sig, _)| sig),
        Strictness::Strict => {
            precheck(s)?;
            if s.bytes().any(|b| b.is_ascii_whitespace()) {
                return Err(SignatureTextError::Whitespace);
            }
            if s.bytes().any(|b| b == b'-' || b == b'_') {
                return Err(SignatureTextError::UrlSafeAlphabet);
            }
            match base64::engine::general_purpose::STANDARD.decode(s) {
                Ok(bytes) => to_signature(&bytes),
                Err(base64::DecodeError::InvalidPadding) => Err(SignatureTextError::MissingPadding),
                Err(e) => {
                    // Distinguish "valid but unpadded" from garbage for a helpful message.
                    if !s.ends_with('=')
                        && base64::engine::general_purpose::STANDARD_NO_PAD
                            .decode(s)
                            .is_ok()
                    {
                        Err(SignatureTextError::MissingPadding)
                    } else {
                        Err(SignatureTextError::InvalidBase64 {
                            reason: e.to_string(),
                        })
                    }
                }
            }
        }
    }
}

/// Lenient parse: removes ASCII whitespace, accepts the url-safe alphabet, missing padding and
/// non-zero trailing bits; returns what was tolerated so reports can say why a target's
/// signature only passed leniently (C-56). Mixing both alphabets is still an error.
pub fn parse_signature_text_lax(s: &str) -> Result<(Signature, Vec<Leniency>), SignatureTextError> {
    use base64::engine::DecodePaddingMode;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    const LAX_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const LAX_STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LAX_CONFIG);
    const LAX_URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LAX_CONFIG);

    precheck(s)?;
    let mut lenient = Vec::new();
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() != s.len() {
        lenient.push(Leniency::Whitespace);
    }
    if compact.is_empty() {
        return Err(SignatureTextError::Empty);
    }
    let url_safe = compact.bytes().any(|b| b == b'-' || b == b'_');
    if url_safe {
        lenient.push(Leniency::UrlSafeAlphabet);
    }
    if compact.len() % 4 != 0 {
        lenient.push(Leniency::MissingPadding);
    }
    let engine = if url_safe { &LAX_URL } else { &LAX_STD };
    let bytes = engine
        .decode(&compact)
        .map_err(|e| SignatureTextError::InvalidBase64 {
            reason: e.to_string(),
        })?;
    let sig = to_signature(&bytes)?;
    // Re-encoding shows whether the trailing bits were canonical.
    let canonical = sig.to_base64();
    let unpadded = canonical.trim_end_matches('=');
    let given = compact.trim_end_matches('=');
    let given_std: String = given
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    if given_std != unpadded {
        lenient.push(Leniency::TrailingBits);
    }
    Ok((sig, lenient))
}

/// Verify an Ed25519 signature given as text over `msg` (see the module docs for the modes).
pub fn verify(
    pk: &PublicKey,
    msg: &[u8],
    sig_text: &str,
    strictness: Strictness,
) -> Result<(), VerifyError> {
    verify_signature_text(pk, msg, sig_text, strictness).map(|_| ())
}

/// Like [`verify`], returning the parsed signature on success.
pub fn verify_signature_text(
    pk: &PublicKey,
    msg: &[u8],
    sig_text: &str,
    strictness: Strictness,
) -> Result<Signature, VerifyError> {
    let sig = parse_signature_text(sig_text, strictness)?;
    verify_signature(pk, msg, &sig, strictness)?;
    Ok(sig)
}

/// Verify an already-decoded signature (the text rules do not apply).
pub fn verify_signature(
    pk: &PublicKey,
    msg: &[u8],
    sig: &Signature,
    strictness: Strictness,
) -> Result<(), VerifyError> {
    match strictness {
        Strictness::Strict => verify_strict_bytes(pk, msg, &sig.0),
        Strictness::Lax => verify_lax_bytes(pk, msg, &sig.0),
    }
}

fn split_sig(sig: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    s.copy_from_slice(&sig[32..]);
    (r, s)
}

fn verify_strict_bytes(pk: &PublicKey, msg: &[u8], sig: &[u8; 64]) -> Result<(), VerifyError> {
    // Fast path: dalek's verify_strict already refuses weak keys, small-order R and S >= L, so
    // success here means every strict check holds. Only a failure pays for the diagnosis below.
    let dalek_ok = ed25519_dalek::VerifyingKey::from_bytes(&pk.0).is_ok_and(|vk| {
        vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    });
    if dalek_ok {
        return Ok(());
    }
    if pk.is_weak() {
        return Err(VerifyError::WeakKey);
    }
    let (r, s) = split_sig(sig);
    if Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).is_none() {
        return Err(VerifyError::NonCanonicalS);
    }
    if CompressedEdwardsY(r)
        .decompress()
        .is_some_and(|p| p.is_small_order())
    {
        return Err(VerifyError::SmallOrderR);
    }
    Err(VerifyError::Mismatch)
}

/// Cofactorless check `R == [S]B - [k]A` on encodings, with only the legacy "top three bits of
/// S clear" scalar rule. ed25519-dalek's own `verify` rejects `S >= L`, so it cannot model the
/// lenient implementations this mode exists to describe.
fn verify_lax_bytes(pk: &PublicKey, msg: &[u8], sig: &[u8; 64]) -> Result<(), VerifyError> {
    let (r, s) = split_sig(sig);
    if s[31] & 0xE0 != 0 {
        return Err(VerifyError::NonCanonicalS);
    }
    let a = CompressedEdwardsY(pk.0)
        .decompress()
        .ok_or(VerifyError::Mismatch)?;
    let s = Scalar::from_bytes_mod_order(s);
    let mut h = sha2::Sha512::new();
    h.update(r);
    h.update(pk.0);
    h.update(msg);
    let digest = h.finalize();
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&digest);
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    let expected_r = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &(-a), &s);
    if expected_r.compress().to_bytes() == r {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// Sign the SIG-007 canonical string (SIG-010: Ed25519 over the raw UTF-8 bytes).
pub fn sign_fields(key: &SecretKey, fields: &SigningFields) -> Signature {
    key.sign(canonical_string(fields).as_bytes())
}

/// Verify a route/envelope signature over the canonical string of `fields`; the returned
/// [`Verified`] proves to later code that the check happened.
pub fn verify_fields(
    pk: &PublicKey,
    fields: &SigningFields,
    sig_text: &str,
    strictness: Strictness,
) -> Result<Verified<Signature>, VerifyError> {
    verify_signature_text(
        pk,
        canonical_string(fields).as_bytes(),
        sig_text,
        strictness,
    )
    .map(Verified)
}

/// Wrap `value` after checking `sig_text` over `msg`: the only way outside this module to get a
/// [`Verified`] for arbitrary data.
pub fn verify_value<T>(
    value: T,
    pk: &PublicKey,
    msg: &[u8],
    sig_text: &str,
    strictness: Strictness,
) -> Result<Verified<T>, VerifyError> {
    verify(pk, msg, sig_text, strictness).map(|()| Verified(value))
}

/// A value that can only be obtained through a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
    pub fn get(&self) -> &T {
        &self.0
    }
}
