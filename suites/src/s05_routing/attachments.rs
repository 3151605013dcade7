//! Routing a message that carries attachments (spec 05 › Messages with Attachments): foreign,
//! pending, rejected or tampered attachments are refused at route time.

use crate::steps::attachments::{
    TEXT, clean_attachment, confirm, digest_of, metadata, payload_object, put_bytes, route_with,
    route_with_ok, text_upload_ok, upload_ok, wait_scanned,
};
use crate::steps::refusal::refused;
use crate::steps::routing::{delivered, not_delivered};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Outcome, expect, fail, pass};
use serde_json::{Value, json};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    ROUTE_FOREIGN,
    ROUTE_PENDING,
    ROUTE_REJECTED,
    ROUTE_TAMPERED,
    ROUTE_AFP_SHAPE_ONLY,
];

#[case(
    id = "attachments.route.foreign",
    title = "Another agent's attachment cannot be sent",
    clauses = ["RTE-006"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "A correctly signed message referencing someone else's attachment is \
              refused and not delivered; the owner can send it.",
)]
async fn route_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    // b references a's attachment, correctly signed by b: only the ownership check can refuse.
    let (resp, subj) = route_with(ctx, &b, &a.address, vec![obj.clone()], "foreign").await?;
    if resp.is_success() {
        return fail(format!(
            "a message referencing another agent's attachment was accepted (HTTP {}); RTE-006 \
             requires every attachment to belong to the sender",
            resp.status
        ));
    }
    expect::rejected(&resp)?;
    not_delivered(ctx, &a, &subj, "RTE-006").await?;
    // The attachment itself was fine: its owner can route it.
    route_with_ok(ctx, &a, &b.address, vec![obj], "owner").await?;
    pass()
}

#[case(
    id = "attachments.route.pending",
    title = "Attachments whose scan has not finished are not routed",
    clauses = ["RTE-007"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Routing an uploaded but unconfirmed attachment answers 409 \
              attachment_pending; after the scan it routes.",
)]
async fn route_pending(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let up = text_upload_ok(ctx, &a).await?;
    let put = put_bytes(ctx, &up, TEXT).await?;
    if !put.is_success() {
        return fail(format!("baseline: the upload answered HTTP {}", put.status));
    }
    // Uploaded, not confirmed: no scan has run, so the attachment is still pending.
    let meta = metadata(ctx, &a, &up.id).await?;
    let meta = meta.json().cloned().unwrap_or(Value::Null);
    let mut obj = payload_object(&up.id, &meta);
    obj["filename"] = json!("notes.txt");
    obj["content_type"] = json!("text/plain");
    obj["size"] = json!(TEXT.len());
    obj["digest"] = json!(digest_of(TEXT));
    // The sender's claim is `clean`: only a provider that checks its own scan record refuses.
    obj["scan_status"] = json!("clean");
    let (resp, subj) = route_with(ctx, &a, &b.address, vec![obj], "pending").await?;
    if resp.is_success() {
        return fail(format!(
            "a message referencing an unscanned (unconfirmed) attachment was accepted (HTTP \
             {}); RTE-007 requires 409 attachment_pending",
            resp.status
        ));
    }
    not_delivered(ctx, &b, &subj, "RTE-007").await?;
    refused(ctx, &resp, 409, "attachment_pending", "RTE-007")?;
    // Positive: once confirmed and scanned the same attachment routes.
    let c = confirm(ctx, &a, &up.id).await?;
    expect::status(&c, 200)?;
    let meta = wait_scanned(ctx, &a, &up.id).await?;
    route_with_ok(
        ctx,
        &a,
        &b.address,
        vec![payload_object(&up.id, &meta)],
        "scanned",
    )
    .await?;
    pass()
}

#[case(
    id = "attachments.route.rejected",
    title = "Rejected attachments are never routed",
    clauses = ["RTE-008", "ATT-007", "RTE-010", "SCAN-001"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "A file whose bytes do not match its digest ends `rejected`; a message \
              referencing it answers 422 attachment_rejected and is not delivered.",
)]
async fn route_rejected(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let good = clean_attachment(ctx, &a, "notes.txt").await?;
    route_with_ok(ctx, &a, &b.address, vec![good], "clean").await?;
    // Same length as TEXT, but the declared digest is of other bytes: SCAN-001 → rejected.
    let mut other = TEXT.to_vec();
    other.reverse();
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(&other),
    )
    .await?;
    let put = put_bytes(ctx, &up, TEXT).await?;
    if !put.is_success() {
        return Ok(Outcome::Skip(format!(
            "the storage refused bytes not matching the declared digest at upload (HTTP {}), \
             so no rejected attachment could be made; that early refusal is allowed",
            put.status
        )));
    }
    let c = confirm(ctx, &a, &up.id).await?;
    if (400..500).contains(&c.status) {
        return Ok(Outcome::Skip(format!(
            "confirm refused the mismatching upload at once (HTTP {} {}), so no rejected \
             attachment exists to route",
            c.status,
            c.error_code().unwrap_or("")
        )));
    }
    expect::status(&c, 200)?;
    let meta = wait_scanned(ctx, &a, &up.id).await?;
    let status = meta
        .get("scan_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    if status != "rejected" {
        return fail(format!(
            "a file whose bytes do not match the declared digest ended `{status}`; SCAN-001 \
             requires `rejected`"
        ));
    }
    // The sender's claim is `clean`: only a provider that checks its own scan record refuses.
    let mut obj = payload_object(&up.id, &meta);
    obj["scan_status"] = json!("clean");
    let (resp, subj) = route_with(ctx, &a, &b.address, vec![obj], "rejected").await?;
    refused(ctx, &resp, 422, "attachment_rejected", "RTE-008")?;
    not_delivered(ctx, &b, &subj, "RTE-008/RTE-010").await?;
    pass()
}

#[case(
    id = "attachments.route.tampered-metadata",
    title = "Attachment digest and size in the payload must match the upload",
    clauses = ["RTE-009"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Messages whose attachment digest or size differ from the recorded values \
              are refused; the true values route.",
)]
async fn route_tampered(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let mut wrong_digest = obj.clone();
    wrong_digest["digest"] = json!(digest_of(b"not the uploaded bytes"));
    let mut wrong_size = obj.clone();
    wrong_size["size"] = json!(TEXT.len() + 1000);
    // Each variant is signed over the tampered payload: only RTE-009 can refuse it.
    for (what, variant) in [("digest", wrong_digest), ("size", wrong_size)] {
        let (resp, subj) = route_with(ctx, &a, &b.address, vec![variant], what).await?;
        if resp.is_success() {
            return fail(format!(
                "a message whose attachment `{what}` differs from the uploaded file was accepted \
                 (HTTP {}); RTE-009 requires digest and size to match the recorded values",
                resp.status
            ));
        }
        expect::rejected(&resp)?;
        not_delivered(ctx, &b, &subj, "RTE-009").await?;
    }
    // The true metadata routes (and the refusals did not consume the attachment).
    route_with_ok(ctx, &a, &b.address, vec![obj], "true metadata").await?;
    pass()
}

/// Size of the `afp` attachment: above every `provider` limit (AFP-004), so a provider that
/// applied its upload checks to it would refuse it.
const AFP_SIZE: u64 = 30 * 1024 * 1024;

/// A well-formed `afp` attachment this provider never stored (AFP-001/002 shape).
fn afp_attachment(ctx: &Ctx) -> Value {
    let path: String = ctx
        .unique_name("dataset")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    json!({
        "storage": "afp",
        "filename": "dataset.csv",
        "content_type": "text/csv",
        "size": AFP_SIZE,
        "digest": digest_of(b"amp-conformance afp dataset"),
        "ref": format!("afp://ampc-conformance/runs/{path}.csv"),
    })
}

#[case(
    id = "attachments.route.afp-shape-only",
    title = "An afp attachment is only shape-checked and travels unchanged",
    clauses = ["RTE-011", "AFP-004", "AFP-003"],
    level = Must,
    needs = [Capability("attachments:afp")],
    expect = "A message with a well-formed 30 MB afp attachment the provider never stored is \
              accepted and delivered with the attachment unchanged; the same attachment with a \
              malformed digest is refused with 400 and not delivered.",
)]
async fn route_afp_shape_only(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let afp = afp_attachment(ctx);
    let (resp, _) = route_with(ctx, &a, &b.address, vec![afp.clone()], "afp attachment").await?;
    if !resp.is_success() {
        return fail(format!(
            "a message with a well-formed afp attachment (never uploaded here, {AFP_SIZE} \
             bytes) was refused with HTTP {} {}: upload, ownership, scan and size checks do not \
             apply to afp (RTE-011, AFP-004)",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    let id = crate::steps::routing::route_id(&resp)?;
    let m = delivered(ctx, &b, &id).await?;
    if m.pointer("/payload/attachments/0") != Some(&afp) {
        return fail(format!(
            "the afp attachment arrived as {} instead of as sent (AFP-003)",
            m.pointer("/payload/attachments/0")
                .map_or_else(|| "nothing".to_string(), Value::to_string)
        ));
    }
    let mut bad = afp;
    bad["digest"] = json!("md5:not-a-sha256-digest");
    let (resp, subj) = route_with(ctx, &a, &b.address, vec![bad], "afp bad digest").await?;
    if resp.status != 400 {
        return fail(format!(
            "an afp attachment with a malformed digest must be refused with 400 (the shape is \
             still checked, RTE-011), got HTTP {} {}",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    not_delivered(ctx, &b, &subj, "RTE-011").await?;
    pass()
}
