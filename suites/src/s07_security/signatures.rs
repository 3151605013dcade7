//! Signature and key security (spec 07 › Signature Failures, Key Revocation): the failure codes of
//! a bad signature, and a revoked public key that must no longer verify.

use crate::steps::keys::{ProofLayout, proof_layout_finding, rotate_correctly};
use crate::steps::refusal::{code, code_matches, refused};
use crate::steps::routing::{route_ok, subject};
use amp_case_attr::case;
use amp_core::Signature;
use amp_runner::{Case, CaseResult, Ctx, Outcome, expect, fail, pass};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[SIGNATURE_FAILURE_CODES, ROTATE_KEYS_OLD_KEY_REVOKED];

// ------------------------------------------------------------------------------------------
// SEC-003: signature failure codes
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.signature.failure-codes",
    title = "Signature failures answer with their spec codes",
    clauses = ["SEC-003", "SIG-002", "SIG-015"],
    level = Must,
    expect = "No signature: 422 signature_missing; a signature that does not verify: \
              403 signature_invalid.",
)]
async fn signature_failure_codes(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let base = ctx.message(&a, &b.address).subject(subject(ctx, "signed"));
    route_ok(ctx, &a, &base.signed()?, "the signed message").await?;
    let unsigned = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "unsigned"))
        .unsigned();
    let missing = ctx.route(&a, &unsigned).await?;
    let mb = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "bad signature"));
    let mut bytes = a.key.sign(mb.canonical()?.as_bytes()).to_bytes();
    bytes[20] ^= 0x01;
    let bad = mb.signature(Signature::from_bytes(bytes).to_base64());
    let invalid = ctx.route(&a, &bad).await?;
    // The statuses are the behaviour SEC-003 fixes; a different spelling of the code at the
    // right status is one run-wide finding.
    let mut problems = Vec::new();
    let mut local_unsigned = None;
    if missing.is_success() {
        // SIG-003: a provider MAY accept unsigned messages from its own local agents (C-40).
        local_unsigned = Some(missing.status);
    } else if missing.status == 422 {
        code_matches(ctx, &missing, "signature_missing", "SEC-003");
    } else {
        problems.push(format!(
            "a missing signature answered HTTP {} `{}`, expected 422 signature_missing",
            missing.status,
            code(&missing)
        ));
    }
    if invalid.status == 403 {
        code_matches(ctx, &invalid, "signature_invalid", "SEC-003");
    } else {
        problems.push(format!(
            "a signature that does not verify answered HTTP {} `{}`, expected 403 \
             signature_invalid",
            invalid.status,
            code(&invalid)
        ));
    }
    expect::no_problems(&problems, "SEC-003")?;
    match local_unsigned {
        None => amp_runner::judge_reading(
            ctx.contradictions().signing,
            amp_runner::SigningPolicy::Required,
            "an unsigned message between two local agents was refused",
        ),
        Some(status) => amp_runner::judge_reading(
            ctx.contradictions().signing,
            amp_runner::SigningPolicy::LocalRelaxed,
            &format!(
                "an unsigned message between two local agents was accepted (HTTP {status}); \
                 SIG-003 allows that for trusted local agents, so the 422 signature_missing \
                 refusal could not be observed"
            ),
        ),
    }
}

#[case(
    id = "keys.rotate-keys.old-key-revoked",
    title = "After rotate-keys the superseded key can no longer sign",
    clauses = ["REV-002", "REG-022"],
    level = Must,
    expect = "After a successful rotate-keys a message signed with the new key routes \
              and one signed with the old key answers 403 key_revoked.",
)]
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
    crate::steps::routing::not_delivered(ctx, &b, &s, "REV-002").await?;
    // The refusal is the behaviour; another code than key_revoked is one run-wide finding.
    refused(ctx, &resp, 403, "key_revoked", "REV-002")?;
    pass()
}
