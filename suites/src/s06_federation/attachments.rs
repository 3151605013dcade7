//! Attachments across providers (spec 06 › Cross-Provider Attachment URLs): the download URL a
//! remote recipient gets must be usable from outside.

use crate::steps::attachments::{TEXT, clean_attachment};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, expect, fail, pass};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[DOWNLOAD_PUBLIC_URL];

#[case(
    id = "attachments.download.public-url",
    title = "The attachment url is fetchable without credentials",
    clauses = ["FED-008", "UPL-010"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "The metadata `url` answers 200 with the uploaded bytes without an \
              Authorization header.",
)]
async fn download_public_url(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let Some(url) = obj.get("url").and_then(Value::as_str).map(str::to_string) else {
        return fail("a clean attachment's metadata has no `url` (UPL-010)");
    };
    let r = ctx.get(&url, None).await?;
    if r.status != 200 {
        return fail(format!(
            "the attachment `url` answered HTTP {} without credentials; FED-008 requires \
             publicly fetchable signed URLs",
            r.status
        ));
    }
    expect::that(
        Sha256::digest(&r.body).as_slice() == Sha256::digest(TEXT).as_slice(),
        "the bytes behind the attachment `url` do not match the uploaded file's digest",
    )?;
    pass()
}
