//! Steps for key lifecycle cases: rotating an agent's keypair with a proof in each layout the spec
//! describes, and recording which layout the target accepted as a finding.

use amp_core::signing::SecretKey;
use amp_runner::{Agent, Ctx, Failure, Resp};
use base64::Engine as _;
use serde_json::json;

/// The byte layouts a rotation proof may sign (C-21): the new key's PEM text (our default
/// reading), its raw 32 bytes, its 44-byte SPKI DER, and the text forms known providers use:
/// the lowercase hex of the raw key (AI Maestro) and its standard Base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProofLayout {
    PemText,
    Raw32,
    SpkiDer,
    HexText,
    Base64Text,
}

impl ProofLayout {
    pub(crate) const ALL: [ProofLayout; 5] = [
        ProofLayout::PemText,
        ProofLayout::Raw32,
        ProofLayout::SpkiDer,
        ProofLayout::HexText,
        ProofLayout::Base64Text,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ProofLayout::PemText => "the new key's SPKI PEM text",
            ProofLayout::Raw32 => "the new key's raw 32 bytes",
            ProofLayout::SpkiDer => "the new key's 44-byte SPKI DER",
            ProofLayout::HexText => "the lowercase hex text of the new key's raw 32 bytes",
            ProofLayout::Base64Text => "the Base64 text of the new key's raw 32 bytes",
        }
    }

    /// Short name for a finding key.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            ProofLayout::PemText => "pem-text",
            ProofLayout::Raw32 => "raw32",
            ProofLayout::SpkiDer => "spki-der",
            ProofLayout::HexText => "hex-text",
            ProofLayout::Base64Text => "base64-text",
        }
    }

    pub(crate) fn bytes(self, new: &SecretKey) -> Vec<u8> {
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
pub(crate) fn proof_layout_finding(ctx: &Ctx, layout: ProofLayout) {
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
pub(crate) async fn rotate_keys(
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
pub(crate) async fn rotate_correctly(
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
