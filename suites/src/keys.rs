//! API-key and public-key lifecycle (spec 03 Key Rotation / Revocation / Public Key Rotation /
//! Deregistration, 07 Key Revocation).
//!
//! The cases change credentials of agents they registered themselves and keep the runner's
//! cleanup in step (`update_cleanup_key`, `forget_agent`), so that rotated or revoked agents
//! are neither left behind needlessly nor cleaned up with a dead key.

use crate::refusal::refused;
use crate::registration::{me_ok, reg_body};
use crate::routing::{route_ok, subject};
use amp_core::parse_rfc3339;
use amp_core::signing::SecretKey;
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Method, Outcome, Resp, Secret, Section, expect,
    fail, pass,
};
use base64::Engine as _;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// REG-019: the previous key stays valid for 24 h after rotate-key.
const GRACE_SECS: i64 = 24 * 3600;
/// Tolerance for clock skew between the tester and the target when checking the grace end.
const SKEW_SECS: i64 = 3600;

/// `GET /agents/me` with a bare API key (one that is not an `Agent`'s).
async fn me_with_key(ctx: &mut Ctx, key: &Secret) -> Result<Resp, Failure> {
    let bearer = format!("Bearer {}", key.expose());
    ctx.request(
        Method::GET,
        "/agents/me",
        &[("Authorization", bearer.as_str())],
        None,
        None,
    )
    .await
}

/// The byte layouts a rotation proof may sign (C-21): the new key's PEM text (our default
/// reading), its raw 32 bytes, its 44-byte SPKI DER, and the text forms known providers use:
/// the lowercase hex of the raw key (AI Maestro) and its standard Base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProofLayout {
    PemText,
    Raw32,
    SpkiDer,
    HexText,
    Base64Text,
}

impl ProofLayout {
    const ALL: [ProofLayout; 5] = [
        ProofLayout::PemText,
        ProofLayout::Raw32,
        ProofLayout::SpkiDer,
        ProofLayout::HexText,
        ProofLayout::Base64Text,
    ];

    fn name(self) -> &'static str {
        match self {
            ProofLayout::PemText => "the new key's SPKI PEM text",
            ProofLayout::Raw32 => "the new key's raw 32 bytes",
            ProofLayout::SpkiDer => "the new key's 44-byte SPKI DER",
            ProofLayout::HexText => "the lowercase hex text of the new key's raw 32 bytes",
            ProofLayout::Base64Text => "the Base64 text of the new key's raw 32 bytes",
        }
    }

    /// Short name for a finding key.
    fn slug(self) -> &'static str {
        match self {
            ProofLayout::PemText => "pem-text",
            ProofLayout::Raw32 => "raw32",
            ProofLayout::SpkiDer => "spki-der",
            ProofLayout::HexText => "hex-text",
            ProofLayout::Base64Text => "base64-text",
        }
    }

    fn bytes(self, new: &SecretKey) -> Vec<u8> {
        let pk = new.public_key();
        match self {
            ProofLayout::PemText => pk.to_spki_pem().into_bytes(),
            ProofLayout::Raw32 => pk.as_bytes().to_vec(),
            ProofLayout::SpkiDer => pk.to_spki_der().to_vec(),
            ProofLayout::HexText => hex::encode(pk.as_bytes()).into_bytes(),
            ProofLayout::Base64Text => base64::engine::general_purpose::STANDARD
                .encode(pk.as_bytes())
                .into_bytes(),
        }
    }
}

/// The provider verifies rotation proofs over another layout than the PEM text: one run-wide
/// finding (C-21 leaves the layout open), not a verdict of the case.
fn proof_layout_finding(ctx: &Ctx, layout: ProofLayout) {
    ctx.finding(
        format!("rotate-proof-layout:{}", layout.slug()),
        "REG-022",
        format!(
            "the provider verifies key-rotation proofs over {}, not over the new key's PEM text \
             (the layout is unspecified, C-21)",
            layout.name()
        ),
    );
}

/// `POST /auth/rotate-keys` as `agent` to `new`, the proof signed by `signer` over `layout`.
async fn rotate_keys(
    ctx: &mut Ctx,
    agent: &Agent,
    new: &SecretKey,
    signer: &SecretKey,
    layout: ProofLayout,
) -> Result<Resp, Failure> {
    let proof = signer.sign(&layout.bytes(new)).to_base64();
    let body = json!({
        "new_public_key": new.public_key().to_spki_pem(),
        "key_algorithm": "Ed25519",
        "proof": proof,
    });
    ctx.post_json("/auth/rotate-keys", &body, Some(agent)).await
}

/// Rotate `agent` to `new` with a correct proof by its current key, trying the C-21 layouts in
/// order. Returns the accepted layout, or `None` (with the last response) when none is.
async fn rotate_correctly(
    ctx: &mut Ctx,
    agent: &Agent,
    new: &SecretKey,
) -> Result<Result<(ProofLayout, Resp), Resp>, Failure> {
    let mut last = None;
    for layout in ProofLayout::ALL {
        let resp = rotate_keys(ctx, agent, new, &agent.key, layout).await?;
        if resp.is_success() {
            return Ok(Ok((layout, resp)));
        }
        last = Some(resp);
    }
    match last {
        Some(r) => Ok(Err(r)),
        None => Err(Failure::Error("no proof layout was tried".to_string())),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

async fn rotate_key_grace(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    me_ok(ctx, &a, "the agent's key before rotation").await?;
    let resp = ctx
        .post_json("/auth/rotate-key", &json!({}), Some(&a))
        .await?;
    expect::status(&resp, 200)?;
    let new_key = match resp.pointer("/api_key").and_then(Value::as_str) {
        Some(k) if !k.is_empty() => Secret::new(k),
        _ => return fail("POST /auth/rotate-key answered 200 without a new `api_key` (REG-019)"),
    };
    // From now on the runner cleans up with the new key.
    ctx.update_cleanup_key(&a, &new_key);
    expect::that(
        new_key != a.api_key,
        "POST /auth/rotate-key returned the same API key (REG-019)",
    )?;
    let until = expect::json_str(&resp, "/previous_key_valid_until")?.to_string();
    let Ok(until_unix) = parse_rfc3339(&until) else {
        return fail(format!(
            "`previous_key_valid_until` `{until}` is not an RFC 3339 timestamp (REG-019)"
        ));
    };
    let expected = now_unix() + GRACE_SECS;
    if (until_unix - expected).abs() > SKEW_SECS {
        return fail(format!(
            "`previous_key_valid_until` is {until}, not about 24 h from now (REG-019)"
        ));
    }
    let fresh = me_with_key(ctx, &new_key).await?;
    if fresh.status != 200 {
        return fail(format!(
            "the new API key from rotate-key does not work: GET /agents/me answered HTTP {} {}",
            fresh.status,
            fresh.error_code().unwrap_or("")
        ));
    }
    let old = ctx.get("/agents/me", Some(&a)).await?;
    if old.status != 200 {
        return fail(format!(
            "the previous API key stopped working right after rotate-key (GET /agents/me \
             answered HTTP {} {}); it must stay valid for 24 h (REG-019)",
            old.status,
            old.error_code().unwrap_or("")
        ));
    }
    pass()
}

async fn revoke_key(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    me_ok(ctx, &a, "the agent's key before revocation").await?;
    let resp = ctx.delete("/auth/revoke-key", Some(&a)).await?;
    expect::status(&resp, 200)?;
    if resp.pointer("/revoked") != Some(&Value::Bool(true)) {
        return fail("DELETE /auth/revoke-key answered 200 without `revoked: true` (REG-020)");
    }
    let after = ctx.get("/agents/me", Some(&a)).await?;
    if after.status == 401 {
        // The key is dead: the runner cannot deregister the agent with it any more.
        ctx.forget_agent(&a);
    }
    refused(ctx, &after, 401, "unauthorized", "REG-020").map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!(
            "after DELETE /auth/revoke-key the key must be refused at once (REG-020, C-20): {m}"
        )),
        other => other,
    })?;
    match resp.pointer("/revoked_at").and_then(Value::as_str) {
        Some(t) if parse_rfc3339(t).is_ok() => pass(),
        other => fail(format!(
            "DELETE /auth/revoke-key `revoked_at` is {other:?}, not an RFC 3339 timestamp \
             (REG-020)"
        )),
    }
}

async fn rotate_keys_bad_proof(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let new = ctx.new_key();
    let stranger = ctx.new_key();
    // Proofs in every layout, each made by an unrelated key: all must be refused.
    let mut bad = None;
    for layout in ProofLayout::ALL {
        let resp = rotate_keys(ctx, &a, &new, &stranger, layout).await?;
        if resp.is_success() {
            return fail(format!(
                "rotate-keys accepted a proof over {} signed by a key other than the agent's \
                 current key (REG-022: the new key must be signed by the old private key)",
                layout.name()
            ));
        }
        if !(400..500).contains(&resp.status) {
            return fail(format!(
                "a wrong rotation proof must be refused with a 4xx, got HTTP {} (REG-022)",
                resp.status
            ));
        }
        bad.get_or_insert(resp);
    }
    let Some(bad) = bad else {
        return Err(Failure::Error("no proof layout was tried".to_string()));
    };
    // The correct proof must then be accepted, or the refusal above proves nothing.
    match rotate_correctly(ctx, &a, &new).await? {
        Ok((layout, resp)) => {
            if resp.pointer("/rotated") != Some(&Value::Bool(true)) {
                return fail("rotate-keys answered 2xx without `rotated: true` (REG-022)");
            }
            let fp = expect::json_str(&resp, "/fingerprint")?;
            if new
                .public_key()
                .matching_fingerprint_profiles(fp)
                .is_empty()
            {
                return fail(format!(
                    "rotate-keys answered fingerprint `{fp}`, which is not a fingerprint of the \
                     new key (REG-022)"
                ));
            }
            let mut notes = Vec::new();
            if bad.status == 403 {
                crate::refusal::code_matches(ctx, &bad, "signature_invalid", "REG-022");
            } else {
                notes.push(format!(
                    "the wrong proof was refused with HTTP {} (the spec names no status; 403 \
                     signature_invalid is what API-008 uses for failed signatures)",
                    bad.status
                ));
            }
            if layout != ProofLayout::PemText {
                proof_layout_finding(ctx, layout);
            }
            if notes.is_empty() {
                pass()
            } else {
                Ok(Outcome::Info(notes.join("; ")))
            }
        }
        Err(last) => Ok(Outcome::Warn {
            reason: format!(
                "rotate-keys refused a correct proof by the old key in every layout tried (PEM \
                 text, raw 32 bytes, SPKI DER, hex text, Base64 text; last answer HTTP {} {}), \
                 so refusing the wrong proof shows nothing",
                last.status,
                last.error_code().unwrap_or("")
            ),
            contradiction: Some("C-21"),
        }),
    }
}

async fn rotate_keys_old_key_revoked(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let before = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "before rotation"))
        .signed()?;
    route_ok(ctx, &a, &before, "a message signed with the current key").await?;
    let new = ctx.new_key();
    let layout = match rotate_correctly(ctx, &a, &new).await? {
        Ok((layout, _)) => layout,
        Err(last) => {
            return Ok(Outcome::Skip(format!(
                "rotate-keys refused a correct proof in every layout tried (last answer HTTP {} \
                 {}; C-21), so the old key was never superseded",
                last.status,
                last.error_code().unwrap_or("")
            )));
        }
    };
    ctx.note(format!("rotated with a proof over {}", layout.name()));
    if layout != ProofLayout::PemText {
        proof_layout_finding(ctx, layout);
    }
    let with_new = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "signed with the new key"))
        .signed_by(&new)?;
    route_ok(
        ctx,
        &a,
        &with_new,
        "a message signed with the new key after rotate-keys",
    )
    .await?;
    let s = subject(ctx, "signed with the old key");
    let with_old = ctx.message(&a, &b.address).subject(s.clone()).signed()?;
    let resp = ctx.route(&a, &with_old).await?;
    if resp.is_success() {
        return fail(
            "after rotate-keys a message signed with the superseded key was accepted (REV-002 \
             requires 403 key_revoked)",
        );
    }
    crate::routing::not_delivered(ctx, &b, &s, "REV-002").await?;
    // The refusal is the behaviour; another code than key_revoked is one run-wide finding.
    refused(ctx, &resp, 403, "key_revoked", "REV-002")?;
    pass()
}

async fn deregister(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    me_ok(ctx, &a, "the agent's key before deregistration").await?;
    let resp = ctx.deregister(&a).await?;
    expect::status(&resp, 200)?;
    if resp.pointer("/deregistered") != Some(&Value::Bool(true)) {
        return fail("DELETE /agents/me answered 200 without `deregistered: true` (REG-023)");
    }
    let after = ctx.get("/agents/me", Some(&a)).await?;
    if after.status != 401 {
        return fail(format!(
            "after DELETE /agents/me the API key still answers GET /agents/me with HTTP {} \
             (REG-023: the key can no longer be used; API-002 expects 401)",
            after.status
        ));
    }
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "from the departed"))
        .signed()?;
    let sent = ctx.route(&a, &body).await?;
    if sent.is_success() {
        return fail("a deregistered agent's key can still send messages (REG-023)");
    }
    // The address is not reusable for 30 days.
    let key = ctx.new_key();
    let again = ctx.register_raw(&reg_body(ctx, &a.name, &key)).await?;
    if again.is_success() {
        return fail(
            "the address of a just-deregistered agent could be registered again at once \
             (REG-023: not reusable for 30 days, 409 expected)",
        );
    }
    refused(ctx, &again, 409, "name_taken", "REG-023")?;
    pass()
}

// ------------------------------------------------------------------------------------------
// Case table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "keys.rotate-key.grace",
        title: "After rotate-key both API keys work during the grace period",
        clauses: &["REG-019"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "POST /auth/rotate-key answers 200 with a new api_key and \
                      previous_key_valid_until about 24 h ahead; the new and the previous key \
                      both authenticate right after.",
        run: |ctx| Box::pin(rotate_key_grace(ctx)),
    },
    Case {
        id: "keys.revoke-key",
        title: "A revoked API key is refused at once",
        clauses: &["REG-020"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "DELETE /auth/revoke-key answers 200 {revoked: true, revoked_at} and the \
                      key then gets 401 unauthorized.",
        run: |ctx| Box::pin(revoke_key(ctx)),
    },
    Case {
        id: "keys.rotate-keys.bad-proof",
        title: "rotate-keys refuses a proof not made by the current key",
        clauses: &["REG-022"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "A proof signed by an unrelated key is refused with a 4xx, and the correct \
                      proof by the old key (PEM text layout, others tried per C-21) answers \
                      {rotated: true, fingerprint of the new key}.",
        run: |ctx| Box::pin(rotate_keys_bad_proof(ctx)),
    },
    Case {
        id: "keys.rotate-keys.old-key-revoked",
        title: "After rotate-keys the superseded key can no longer sign",
        clauses: &["REV-002", "REG-022"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "After a successful rotate-keys a message signed with the new key routes \
                      and one signed with the old key answers 403 key_revoked.",
        run: |ctx| Box::pin(rotate_keys_old_key_revoked(ctx)),
    },
    Case {
        id: "keys.deregister",
        title: "Deregistration ends the agent's key and blocks its address",
        clauses: &["REG-023"],
        level: Level::Must,
        section: Section::Keys,
        needs: &[],
        expectation: "DELETE /agents/me answers 200 {deregistered: true}; the key then gets 401, \
                      cannot send, and the name answers 409 name_taken when registered again.",
        run: |ctx| Box::pin(deregister(ctx)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_layouts_sign_different_bytes() {
        let k = SecretKey::from_seed([3; 32]);
        let pem = ProofLayout::PemText.bytes(&k);
        assert!(pem.starts_with(b"-----BEGIN PUBLIC KEY-----"));
        assert_eq!(ProofLayout::Raw32.bytes(&k).len(), 32);
        assert_eq!(ProofLayout::SpkiDer.bytes(&k).len(), 44);
        let sig = k.sign(&pem).to_base64();
        assert!(
            base64::engine::general_purpose::STANDARD
                .decode(&sig)
                .is_ok()
        );
    }
}
