//! Provider discovery (spec 06 › Method 2: Well-Known URL): the well-known document a peer
//! reads before federating.

use crate::steps::discovery::{Ty, key_and_fingerprint, object, shape_problems};
use amp_case_attr::case;
use amp_core::PublicKey;
use amp_runner::{Case, CaseResult, Ctx, Method, Outcome, expect, fail};
use serde_json::Value;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[WELL_KNOWN];

#[case(
    id = "discovery.well-known",
    title = "The well-known discovery file is served at the API origin",
    clauses = ["DISC-002", "EXT-001"],
    level = Should,
    expect = "GET /.well-known/agent-messaging.json answers 200 with version, endpoint, \
              the provider key (same as /info) and fingerprint, and capabilities.",
)]
async fn well_known(ctx: &mut Ctx) -> CaseResult {
    let url = ctx.target().origin_url("/.well-known/agent-messaging.json");
    let resp = ctx.request(Method::GET, &url, &[], None, None).await?;
    if resp.status != 200 {
        return fail(format!(
            "GET /.well-known/agent-messaging.json at the API origin answered HTTP {} \
             (EXT-001 recommends it; DISC-002 makes it the fallback after DNS)",
            resp.status
        ));
    }
    let obj = object(&resp, "the well-known file")?;
    let mut problems = shape_problems(
        obj,
        "",
        &[
            ("version", Ty::Str),
            ("endpoint", Ty::Str),
            ("public_key", Ty::Str),
            ("fingerprint", Ty::Str),
            ("capabilities", Ty::Arr),
        ],
    );
    if let Some(ep) = obj.get("endpoint").and_then(Value::as_str) {
        if !(ep.starts_with("https://") || ep.starts_with("http://")) {
            problems.push(format!("`endpoint` `{ep}` is not an http(s) URL"));
        }
    }
    let fp_note = key_and_fingerprint(
        obj,
        "the well-known file",
        ctx.contradictions().fingerprint_form(),
        &mut problems,
    );
    if !problems.is_empty() {
        return fail(format!(
            "the well-known file (DISC-002): {}",
            problems.join("; ")
        ));
    }
    if let Some(reason) = fp_note {
        return Ok(Outcome::Warn {
            reason,
            contradiction: Some("C-19"),
        });
    }
    // The public key should be the one /info publishes (same provider, same key).
    let info = ctx.info()?.clone();
    if let (Some(a), Some(b)) = (
        obj.get("public_key").and_then(Value::as_str),
        info.get("public_key").and_then(Value::as_str),
    ) {
        let same = PublicKey::from_spki_pem(a).ok() == PublicKey::from_spki_pem(b).ok();
        expect::that(
            same,
            "the well-known file and /info publish different provider public keys",
        )?;
    }
    let version = obj.get("version").and_then(Value::as_str).unwrap_or("");
    match version {
        // Both readings are in the spec (06 says AMP1, 09 says amp/0.1): name the variant.
        "AMP1" | "amp/0.1" => Ok(Outcome::Info(format!(
            "well-known `version` is `{version}` (06 writes AMP1, 09 writes amp/0.1: C-14)"
        ))),
        other => Ok(Outcome::Warn {
            reason: format!(
                "well-known `version` is `{other}`, neither `AMP1` (06) nor `amp/0.1` (09)"
            ),
            contradiction: Some("C-14"),
        }),
    }
}
