//! API-key and public-key lifecycle (spec 03 Key Rotation / Revocation / Public Key Rotation /
//! Deregistration, 07 Key Revocation).
//!
//! The cases change credentials of agents they registered themselves and keep the runner's
//! cleanup in step (`update_cleanup_key`, `forget_agent`), so that rotated or revoked agents
//! are neither left behind needlessly nor cleaned up with a dead key.

use crate::steps::keys::{ProofLayout, proof_layout_finding, rotate_correctly, rotate_keys};
use crate::steps::refusal::{code, refused};
use crate::steps::registration::{me_ok, reg_body};
use crate::steps::routing::{route_ok, subject};
use amp_case_attr::case;
use amp_core::parse_rfc3339;
use amp_runner::{
    Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, Secret, expect, fail, pass,
};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    ROTATE_KEYS_MALFORMED,
    ROTATE_KEY_GRACE,
    REVOKE_KEY,
    ROTATE_KEYS_BAD_PROOF,
    DEREGISTER,
];

// ------------------------------------------------------------------------------------------
// Key rotation and revocation without credentials or with broken bodies (REG-022, REG-020)
// ------------------------------------------------------------------------------------------

#[case(
    id = "keys.rotate-keys.malformed",
    title = "Key rotation and revocation need credentials, a new key and a proof",
    clauses = ["REG-022", "REG-020", "API-002"],
    level = Must,
    expect = "rotate-keys and revoke-key without credentials, and rotate-keys with an \
              empty, `{}`, malformed or proof-less body, are refused; afterwards the \
              agent resolves to its own key, its API key works and its key signs.",
)]
async fn rotate_keys_malformed(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    // A well-formed rotation with a correct proof, sent without credentials.
    let new = ctx.new_key();
    let pem = new.public_key().to_spki_pem();
    let proof = a.key.sign(pem.as_bytes()).to_base64();
    let valid = json!({"new_public_key": pem, "key_algorithm": "Ed25519", "proof": proof});
    let anon = ctx.post_json("/auth/rotate-keys", &valid, None).await?;
    let revoke = ctx.delete("/auth/revoke-key", None).await?;
    let mut problems = Vec::new();
    for (what, resp) in [
        ("POST /auth/rotate-keys without credentials", &anon),
        ("DELETE /auth/revoke-key without credentials", &revoke),
    ] {
        if resp.is_success() {
            problems.push(format!(
                "{what} answered HTTP {} (API-002: 401)",
                resp.status
            ));
        }
    }
    // The agent's own requests that name no new key: each must be refused, none may rotate.
    let broken: [(&str, &[u8]); 4] = [
        ("an empty body", b""),
        ("`{}`", b"{}"),
        ("a malformed body", b"{\"new_public_key\": "),
        (
            "a body without `proof`",
            b"{\"key_algorithm\": \"Ed25519\"}",
        ),
    ];
    for (what, bytes) in broken {
        let resp = ctx
            .post_raw(
                "/auth/rotate-keys",
                bytes.to_vec(),
                "application/json",
                Some(&a),
            )
            .await?;
        if !(400..500).contains(&resp.status) {
            problems.push(format!(
                "POST /auth/rotate-keys with {what} answered HTTP {} {}; a rotation needs the \
                 new public key and a proof by the old key (REG-022)",
                resp.status,
                code(&resp)
            ));
        }
    }
    // Nothing changed: the directory still holds the agent's own key, its API key works and
    // its key still signs messages the provider accepts.
    let resolved = ctx
        .get(&format!("/agents/resolve/{}", a.address), Some(&b))
        .await?;
    let still_own = resolved
        .pointer("/public_key")
        .and_then(Value::as_str)
        .and_then(|p| amp_core::PublicKey::from_spki_pem(p).ok())
        == Some(a.key.public_key());
    if resolved.is_success() && !still_own {
        problems.push(
            "after the refused rotations the address resolves to another public key: the \
             agent's key was replaced without its proof (REG-022)"
                .to_string(),
        );
    }
    let me = ctx.get("/agents/me", Some(&a)).await?;
    if !me.is_success() {
        problems.push(format!(
            "after the attempts the agent's API key answers HTTP {} on GET /agents/me",
            me.status
        ));
    }
    expect::no_problems(
        &problems,
        "key rotation and revocation (REG-022, REG-020, API-002)",
    )?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "key unchanged"))
        .signed()?;
    route_ok(
        ctx,
        &a,
        &body,
        "a message signed by the agent's unchanged key",
    )
    .await?;
    pass()
}

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

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "keys.rotate-key.grace",
    title = "After rotate-key both API keys work during the grace period",
    clauses = ["REG-019"],
    level = Must,
    expect = "POST /auth/rotate-key answers 200 with a new api_key and \
              previous_key_valid_until about 24 h ahead; the new and the previous key \
              both authenticate right after.",
)]
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

#[case(
    id = "keys.revoke-key",
    title = "A revoked API key is refused at once",
    clauses = ["REG-020"],
    level = Must,
    expect = "DELETE /auth/revoke-key answers 200 {revoked: true, revoked_at} and the \
              key then gets 401 unauthorized.",
)]
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

#[case(
    id = "keys.rotate-keys.bad-proof",
    title = "rotate-keys refuses a proof not made by the current key",
    clauses = ["REG-022"],
    level = Must,
    expect = "A proof signed by an unrelated key is refused with a 4xx, and the correct \
              proof by the old key (PEM text layout, others tried per C-21) answers \
              {rotated: true, fingerprint of the new key}.",
)]
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
                crate::steps::refusal::code_matches(ctx, &bad, "signature_invalid", "REG-022");
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

#[case(
    id = "keys.deregister",
    title = "Deregistration ends the agent's key and blocks its address",
    clauses = ["REG-023"],
    level = Must,
    expect = "DELETE /agents/me answers 200 {deregistered: true}; the key then gets 401, \
              cannot send, and the name answers 409 name_taken when registered again.",
)]
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
