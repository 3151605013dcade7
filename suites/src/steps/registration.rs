//! Steps for registration cases: registration bodies, keys in PEM (including a small-order
//! identity key), names and tenants of exact lengths, a refusal with status 400, and the check
//! that a registered agent answers `/agents/me`.

use amp_core::signing::SecretKey;
use amp_runner::{Agent, Ctx, Failure, Resp, fail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The 12-byte DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE, algorithm
/// id 1.3.101.112, BIT STRING of 33 bytes (one zero "unused bits" byte, then the 32-byte key).
pub(crate) const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A public URL for baseline webhook registrations: `example.com` is reserved for
/// documentation (RFC 2606), resolves to a public address and never receives our traffic
/// because no message is routed to these agents.
pub(crate) const PUBLIC_HOOK: &str = "https://example.com/amp-conformance-hook";

/// SPKI PEM around raw key bytes, assembled by hand so that keys `amp_core::PublicKey` refuses
/// to build (small-order points) can still be sent.
pub(crate) fn spki_pem_of_raw(raw: &[u8; 32]) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(raw);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// The Ed25519 identity point `01 00..00` as SPKI PEM: a small-order key under which forged
/// signatures verify for many messages.
pub(crate) fn identity_key_pem() -> String {
    let mut raw = [0u8; 32];
    raw[0] = 1;
    spki_pem_of_raw(&raw)
}

/// A registration body in the run's tenant with `name` and the public half of `key`.
pub(crate) fn reg_body(ctx: &Ctx, name: &str, key: &SecretKey) -> Value {
    json!({
        "tenant": ctx.tenant(),
        "name": name,
        "public_key": key.public_key().to_spki_pem(),
        "key_algorithm": "Ed25519",
    })
}

/// A request with one invalid value must be refused with 400 (API-008 names
/// `invalid_request` / `invalid_field`; another code is a run-wide finding, not a verdict).
/// Anything but a 400 is a failure naming `what` and `clause`.
pub(crate) fn refused_400(
    ctx: &Ctx,
    resp: &Resp,
    clause: &'static str,
    what: &str,
) -> Result<(), Failure> {
    match resp.status {
        400 => {
            crate::steps::refusal::code_among(
                ctx,
                resp,
                &["invalid_request", "invalid_field"],
                clause,
            );
            Ok(())
        }
        s if (200..300).contains(&s) => fail(format!(
            "{what} was accepted (HTTP {s}); it must be refused with 400 ({clause})"
        )),
        s => fail(format!(
            "{what} must be refused with 400 invalid_request/invalid_field ({clause}), got HTTP \
             {s} {}",
            resp.error_code().unwrap_or("")
        )),
    }
}

/// `name` padded with `x` to exactly `len` characters (names from `unique_name` are short).
pub(crate) fn padded(name: &str, len: usize) -> String {
    let mut s: String = name.chars().take(len).collect();
    while s.len() < len {
        s.push('x');
    }
    s
}

/// A tenant of exactly `len` characters: `base` followed by dot-separated segments of at most
/// 63 letters (ADDR-003). `None` when `len` cannot be reached (`base` longer, or one byte over).
pub(crate) fn tenant_of_len(base: &str, len: usize) -> Option<String> {
    if len < base.len() || len == base.len() + 1 {
        return None;
    }
    let mut t = base.to_string();
    let mut letter = b'a';
    while t.len() < len {
        let room = len - t.len();
        let mut seg = (room - 1).min(63);
        if room - 1 - seg == 1 {
            seg -= 1;
        }
        t.push('.');
        t.extend(std::iter::repeat_n(char::from(letter), seg));
        letter = if letter == b'z' { b'a' } else { letter + 1 };
    }
    Some(t)
}

/// `GET /agents/me` as `agent` must answer 200.
pub(crate) async fn me_ok(ctx: &mut Ctx, agent: &Agent, why: &str) -> Result<Resp, Failure> {
    let resp = ctx.get("/agents/me", Some(agent)).await?;
    if resp.status != 200 {
        return fail(format!(
            "GET /agents/me with {why} answered HTTP {} {} instead of 200",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    Ok(resp)
}

/// A suggestion that looks machine-generated (UUID or a long hex run), which ADDR-007 asks
/// providers to avoid.
pub(crate) fn looks_random(s: &str) -> bool {
    let mut run = 0usize;
    for c in s.chars() {
        if c.is_ascii_hexdigit() {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use amp_core::PublicKey;
    use amp_core::signing::KeyError;

    #[test]
    fn identity_pem_is_a_wellformed_small_order_spki() {
        let pem = identity_key_pem();
        let raw = PublicKey::spki_pem_raw_bytes(&pem).expect("well-formed SPKI");
        assert_eq!(raw[0], 1);
        assert!(raw[1..].iter().all(|b| *b == 0));
        assert!(matches!(
            PublicKey::from_spki_pem(&pem),
            Err(KeyError::SmallOrder)
        ));
        // The hand-built PEM has the same framing as a real key's.
        let real = SecretKey::from_seed([7; 32]).public_key();
        assert_eq!(spki_pem_of_raw(real.as_bytes()), real.to_spki_pem());
    }

    #[test]
    fn tenants_reach_exact_lengths() {
        for len in [10, 12, 40, 64, 65, 66, 127, 128, 129, 190] {
            let t = tenant_of_len("ampcabc", len).expect("reachable");
            assert_eq!(t.len(), len, "{t}");
            assert!(t.split('.').all(|s| (1..=63).contains(&s.len())), "{t}");
        }
        assert!(tenant_of_len("ampcabc", 8).is_none());
        assert!(tenant_of_len("ampcabc", 3).is_none());
    }

    #[test]
    fn random_looking_names() {
        assert!(looks_random("bot-3f2a9c1d"));
        assert!(!looks_random("bot-brave-otter"));
        assert_eq!(padded("ab", 5), "abxxx");
    }
}
