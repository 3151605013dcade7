//! Attachment scanning (spec 07 › Blocked MIME Types): executables and blocked types never
//! become downloadable.

use crate::steps::attachments::{
    clean_attachment, confirm, digest_of, parse_upload, put_bytes, request_upload, wait_scanned,
};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, expect, fail, pass};
use serde_json::Value;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[SCAN_EXECUTABLE, SCAN_BLOCKED_MIME];

/// An ELF header (the start of a Linux executable) followed by filler: executable by magic
/// bytes only, harmless as data.
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00amp-conformance";

/// A DOS/PE header start ("MZ"), harmless filler.
const MZ: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00amp-conformance";

// ------------------------------------------------------------------------------------------
// Scanning
// ------------------------------------------------------------------------------------------

/// Upload a file that must end rejected; `Ok(None)` when it did (at any stage), `Ok(Some)`
/// with the final status otherwise.
async fn ends_rejected(
    ctx: &mut Ctx,
    a: &Agent,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<Option<String>, Failure> {
    let r = request_upload(
        ctx,
        a,
        filename,
        content_type,
        bytes.len() as u64,
        &digest_of(bytes),
    )
    .await?;
    if (400..500).contains(&r.status) {
        return Ok(None); // refused at the upload request: never routable
    }
    expect::status(&r, 201)?;
    let up = parse_upload(&r)?;
    let put = put_bytes(ctx, &up, bytes).await?;
    if (400..500).contains(&put.status) {
        return Ok(None);
    }
    let c = confirm(ctx, a, &up.id).await?;
    if (400..500).contains(&c.status) {
        return Ok(None);
    }
    expect::status(&c, 200)?;
    let meta = wait_scanned(ctx, a, &up.id).await?;
    let status = meta
        .get("scan_status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Ok((status != "rejected").then_some(status))
}

#[case(
    id = "attachments.scan.executable",
    title = "Executables are rejected by magic bytes",
    clauses = ["SCAN-007", "SCAN-001"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "ELF and MZ/PE content declared as application/octet-stream never becomes \
              routable (refused or scan_status rejected).",
)]
async fn scan_executable(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    clean_attachment(ctx, &a, "notes.txt").await?;
    for (kind, bytes) in [("ELF", ELF), ("MZ/PE", MZ)] {
        // Declared as generic binary data: only the magic bytes give the executable away.
        if let Some(status) =
            ends_rejected(ctx, &a, "data.bin", "application/octet-stream", bytes).await?
        {
            return fail(format!(
                "a file starting with the {kind} executable header ended `{status}`; SCAN-007 \
                 requires executables to be rejected whatever type was declared"
            ));
        }
    }
    pass()
}

#[case(
    id = "attachments.scan.blocked-mime",
    title = "Blocked executable media types are rejected",
    clauses = ["SCAN-005"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Uploads declared application/x-sh or application/x-msdownload never \
              become routable.",
)]
async fn scan_blocked_mime(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    clean_attachment(ctx, &a, "notes.txt").await?;
    for ct in ["application/x-sh", "application/x-msdownload"] {
        if let Some(status) = ends_rejected(ctx, &a, "script.txt", ct, b"echo hello\n").await? {
            return fail(format!(
                "an upload declared as `{ct}` ended `{status}`; SCAN-005 blocks that media type"
            ));
        }
    }
    pass()
}
