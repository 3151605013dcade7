//! The attachment API (spec 08 › Attachments): upload request, presigned URL rules, confirm,
//! scan status, download headers, ranges and redirects, and the limits `/info` advertises. How
//! an attachment is made: see [`crate::steps::attachments`].

use crate::steps::attachments::{
    TEXT, USABLE, Upload, clean_attachment, confirm, digest_of, disposition_filename, download,
    header_of, metadata, parse_upload, put_bytes, request_text_upload, request_upload,
    text_upload_ok, upload_and_scan, upload_ok, wait_scanned,
};
use crate::steps::refusal::refused;
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, Method, Outcome, Resp, expect, fail, pass};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    INFO_LIMITS,
    UPLOAD_SHAPE,
    UPLOAD_URL_EXPIRY,
    DIGEST_ALGORITHM,
    UPLOAD_SINGLE_USE,
    UPLOAD_SIZE_CONDITION,
    CONFIRM_AND_STATUS,
    DOWNLOAD_REDIRECT,
    DOWNLOAD_HEADERS,
    DOWNLOAD_RANGE,
];

/// [`put_bytes`] of more bytes than `clause` allows: a target that hangs up without any
/// answer fails the clause (see `Ctx::send_oversized`).
async fn put_oversized(
    ctx: &mut Ctx,
    up: &Upload,
    bytes: &[u8],
    clause: &str,
) -> Result<Resp, Failure> {
    ctx.request_oversized(
        up.method.clone(),
        &up.url,
        &up.header_pairs(),
        bytes.to_vec(),
        None,
        clause,
    )
    .await
}

// ------------------------------------------------------------------------------------------
// Discovery and the upload request
// ------------------------------------------------------------------------------------------

#[case(
    id = "attachments.info.limits",
    title = "A provider with attachments advertises attachment_limits",
    clauses = ["API-005", "SCAN-003"],
    level = Should,
    needs = [Capability("attachments")],
    expect = "`/v1/info.attachment_limits` has integer max_attachment_size, \
              max_total_attachment_size, max_attachments_per_message.",
)]
async fn info_limits(ctx: &mut Ctx) -> CaseResult {
    let info = ctx.info()?.clone();
    let Some(l) = info.get("attachment_limits").and_then(Value::as_object) else {
        return fail(
            "`/v1/info` advertises `attachments` but has no `attachment_limits` object (API-005)",
        );
    };
    let mut problems = Vec::new();
    for k in [
        "max_attachment_size",
        "max_total_attachment_size",
        "max_attachments_per_message",
    ] {
        if !l.get(k).is_some_and(Value::is_u64) {
            problems.push(format!("`{k}` is not a non-negative integer"));
        }
    }
    if let Some(v) = l.get("av_scanning").filter(|v| !v.is_boolean()) {
        problems.push(format!("`av_scanning` is {v}, not a boolean (SCAN-003)"));
    }
    expect::no_problems(&problems, "attachment_limits (API-005)")
}

#[case(
    id = "attachments.upload.shape",
    title = "Requesting an upload URL answers 201 with the upload instructions",
    clauses = ["UPL-001", "ATT-004", "C-13"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "POST /attachments/upload answers 201 {attachment_id, upload_url, \
              upload_method: \"PUT\", upload_headers, expires_in}.",
)]
async fn upload_shape(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let resp = request_text_upload(ctx, &a).await?;
    expect::status(&resp, 201)?;
    let up = parse_upload(&resp)?;
    let mut problems = Vec::new();
    if resp.pointer("/upload_method").and_then(Value::as_str) != Some("PUT") {
        problems.push(format!(
            "`upload_method` is {:?}, expected \"PUT\"",
            resp.pointer("/upload_method")
        ));
    }
    if !resp
        .pointer("/upload_headers")
        .is_some_and(Value::is_object)
    {
        problems.push("`upload_headers` is not an object".to_string());
    }
    if !resp.pointer("/expires_in").is_some_and(Value::is_u64) {
        problems.push("`expires_in` is not an integer number of seconds".to_string());
    }
    if !problems.is_empty() {
        return fail(format!(
            "upload response (UPL-001): {}",
            problems.join("; ")
        ));
    }
    // C-13: ids have a documented pattern but are opaque to clients; off-pattern is a warning.
    let patterned = up
        .id
        .strip_prefix("att_")
        .and_then(|r| r.split_once('_'))
        .is_some_and(|(ts, hex)| {
            !ts.is_empty()
                && ts.bytes().all(|b| b.is_ascii_digit())
                && !hex.is_empty()
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
    if !patterned {
        return Ok(Outcome::Warn {
            reason: format!(
                "attachment_id `{:.40}` does not follow `att_<unix seconds>_<hex>` (ATT-004); \
                 08 also calls ids opaque",
                up.id
            ),
            contradiction: Some("C-13"),
        });
    }
    pass()
}

#[case(
    id = "attachments.upload.url-expiry",
    title = "Presigned upload URLs expire within an hour",
    clauses = ["UPL-004"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "`expires_in` is between 1 and 3600 seconds.",
)]
async fn upload_url_expiry(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = request_text_upload(ctx, &a).await?;
    expect::status(&up, 201)?;
    match up.pointer("/expires_in").and_then(Value::as_u64) {
        Some(s) if (1..=3600).contains(&s) => pass(),
        Some(s) => fail(format!(
            "presigned upload URL lives {s} s; UPL-004 allows at most 3600"
        )),
        None => fail("upload response has no integer `expires_in` (UPL-001/UPL-004)"),
    }
}

#[case(
    id = "attachments.upload.digest-algorithm",
    title = "Digests other than sha256 are refused at upload",
    clauses = ["UPL-002", "ATT-017"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "A sha256 digest is accepted; `md5:` and `sha1:` digests answer 422 \
              invalid_digest_algorithm.",
)]
async fn digest_algorithm(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    upload_ok(ctx, &a, "notes.txt", "text/plain", 3, &digest_of(b"abc")).await?;
    for other in [
        "md5:900150983cd24fb0d6963f7d28e17f72",
        "sha1:a9993e364706816aba3e25717850c26c9cd0d89d",
    ] {
        let r = request_upload(ctx, &a, "notes.txt", "text/plain", 3, other).await?;
        refused(ctx, &r, 422, "invalid_digest_algorithm", "UPL-002").map_err(|e| match e {
            Failure::Fail(m) => Failure::Fail(format!(
                "upload with digest `{}` (UPL-002/ATT-017): {m}",
                other.split(':').next().unwrap_or("")
            )),
            other => other,
        })?;
    }
    pass()
}

#[case(
    id = "attachments.upload.single-use",
    title = "A presigned upload URL takes one upload only",
    clauses = ["UPL-005"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "The first PUT succeeds, a second PUT to the same URL is refused.",
)]
async fn upload_single_use(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = text_upload_ok(ctx, &a).await?;
    let first = put_bytes(ctx, &up, TEXT).await?;
    if !first.is_success() {
        return fail(format!(
            "baseline: the first upload to `upload_url` answered HTTP {}",
            first.status
        ));
    }
    let second = put_bytes(ctx, &up, TEXT).await?;
    if second.is_success() {
        return fail(format!(
            "a second {} to the same presigned URL was accepted (HTTP {}); UPL-005 makes \
             upload URLs single-use",
            up.method, second.status
        ));
    }
    expect::rejected(&second)?;
    pass()
}

#[case(
    id = "attachments.upload.size-condition",
    title = "A presigned URL refuses bodies larger than the declared size",
    clauses = ["UPL-006"],
    level = Should,
    needs = [Capability("attachments")],
    expect = "Uploading the declared bytes succeeds; eight times the declared size is \
              refused.",
)]
async fn upload_size_condition(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let exact = text_upload_ok(ctx, &a).await?;
    let ok = put_bytes(ctx, &exact, TEXT).await?;
    if !ok.is_success() {
        return fail(format!(
            "baseline: uploading exactly the declared bytes answered HTTP {}",
            ok.status
        ));
    }
    let up = text_upload_ok(ctx, &a).await?;
    let big = TEXT.repeat(8);
    let r = put_oversized(ctx, &up, &big, "UPL-006").await?;
    if r.is_success() {
        return fail(format!(
            "the presigned URL took {} bytes for a declared size of {} (UPL-006: reject bodies \
             more than 1 % over the declared size)",
            big.len(),
            TEXT.len()
        ));
    }
    expect::rejected(&r)?;
    pass()
}

// ------------------------------------------------------------------------------------------
// Confirm, status, metadata
// ------------------------------------------------------------------------------------------

#[case(
    id = "attachments.confirm.status",
    title = "Confirm starts the scan; the status moves one way and the metadata matches",
    clauses = ["UPL-009", "UPL-010", "UPL-013", "C-33"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Confirm answers 200 {attachment_id, scan_status: \"pending\"}; the status \
              becomes clean/suspicious with a `url`, metadata equals the upload, and a \
              repeated confirm changes nothing.",
)]
async fn confirm_and_status(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = text_upload_ok(ctx, &a).await?;
    let put = put_bytes(ctx, &up, TEXT).await?;
    if !put.is_success() {
        return fail(format!("baseline: the upload answered HTTP {}", put.status));
    }
    let c = confirm(ctx, &a, &up.id).await?;
    expect::status(&c, 200)?;
    let mut problems = Vec::new();
    if c.pointer("/attachment_id").and_then(Value::as_str) != Some(up.id.as_str()) {
        problems.push("confirm response lacks the same `attachment_id`".to_string());
    }
    let shown = c
        .pointer("/scan_status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if shown != "pending" && !USABLE.contains(&shown.as_str()) && shown != "rejected" {
        problems.push(format!(
            "confirm response `scan_status` is {shown:?}, expected \"pending\" (UPL-009)"
        ));
    }
    let meta = wait_scanned(ctx, &a, &up.id).await?;
    let status = meta
        .get("scan_status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !USABLE.contains(&status.as_str()) {
        problems.push(format!("a plain text file ended `{status}`"));
    }
    if USABLE.contains(&status.as_str())
        && !meta
            .get("url")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with("http"))
    {
        problems.push(format!("status `{status}` but no `url` (UPL-010)"));
    }
    for (f, want) in [
        ("filename", json!("notes.txt")),
        ("content_type", json!("text/plain")),
        ("size", json!(TEXT.len())),
        ("digest", json!(digest_of(TEXT))),
    ] {
        if meta.get(f) != Some(&want) {
            problems.push(format!("`{f}` is {:?}, uploaded {want}", meta.get(f)));
        }
    }
    // UPL-013: a terminal status never changes, even when the client confirms again.
    let again = confirm(ctx, &a, &up.id).await?;
    let later = metadata(ctx, &a, &up.id).await?;
    let later_status = later.pointer("/scan_status").and_then(Value::as_str);
    if later_status != Some(status.as_str()) {
        problems.push(format!(
            "scan_status moved from `{status}` to {later_status:?} after a repeated confirm \
             (HTTP {}) (UPL-013)",
            again.status
        ));
    }
    expect::no_problems(&problems, "confirm / scan status")
}

// ------------------------------------------------------------------------------------------
// Download
// ------------------------------------------------------------------------------------------

#[case(
    id = "attachments.download.redirect",
    title = "Download redirects to a signed URL served as an attachment",
    clauses = ["UPL-014", "UPL-015"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "GET /attachments/{id}/download answers 302 with Location; the target \
              serves the bytes with Content-Disposition: attachment; filename and the \
              original Content-Type.",
)]
async fn download_redirect(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (id, meta) = upload_and_scan(ctx, &a, "notes-v1.txt", "text/plain", TEXT).await?;
    let status = meta
        .get("scan_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !USABLE.contains(&status) {
        return fail(format!("baseline: a plain text file ended `{status}`"));
    }
    let (redirect, file) = download(ctx, &a, &id).await?;
    let mut problems = Vec::new();
    if file.status != 200 {
        problems.push(format!(
            "the signed URL answered HTTP {} without credentials",
            file.status
        ));
    } else if Sha256::digest(&file.body).as_slice() != Sha256::digest(TEXT).as_slice() {
        problems.push("the downloaded bytes differ from the uploaded ones".to_string());
    }
    match header_of(&file, "content-disposition") {
        None => problems.push(
            "the redirect target has no `Content-Disposition` (UPL-015: `attachment` with the \
             filename)"
                .to_string(),
        ),
        Some(v) => match disposition_filename(v) {
            Some(name) if name == "notes-v1.txt" => {}
            Some(name) => problems.push(format!(
                "Content-Disposition filename is {name:?}, uploaded \"notes-v1.txt\""
            )),
            None => problems.push(format!(
                "Content-Disposition `{v:.80}` is not `attachment; filename=\"…\"`"
            )),
        },
    }
    let ct = header_of(&file, "content-type").map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if ct.as_deref() != Some("text/plain") {
        problems.push(format!(
            "Content-Type is {ct:?}, the original was \"text/plain\" (UPL-015)"
        ));
    }
    if let Some(v) = header_of(&redirect, "content-disposition")
        && disposition_filename(v).is_none()
    {
        problems.push(format!(
            "the 302 carries Content-Disposition `{v:.80}` that is not an attachment"
        ));
    }
    expect::no_problems(&problems, "download (UPL-014/015)")
}

#[case(
    id = "attachments.download.headers",
    title = "Downloads carry the caching and integrity headers",
    clauses = ["UPL-016"],
    level = Should,
    needs = [Capability("attachments")],
    expect = "The signed URL answers with Content-Length, Accept-Ranges: bytes, \
              Cache-Control private+immutable, ETag of the digest and \
              Access-Control-Allow-Origin: *.",
)]
async fn download_headers(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (_, file) = download(ctx, &a, &id).await?;
    expect::status(&file, 200)?;
    let hex = hex::encode(Sha256::digest(TEXT));
    let mut problems = Vec::new();
    let h = |n: &str| header_of(&file, n).map(str::to_string);
    if h("content-length").and_then(|v| v.trim().parse::<usize>().ok()) != Some(TEXT.len()) {
        problems.push(format!("Content-Length is {:?}", h("content-length")));
    }
    if !h("accept-ranges").is_some_and(|v| v.trim().eq_ignore_ascii_case("bytes")) {
        problems.push(format!(
            "Accept-Ranges is {:?}, expected bytes",
            h("accept-ranges")
        ));
    }
    let cc = h("cache-control").unwrap_or_default().to_ascii_lowercase();
    if !(cc.contains("private") && cc.contains("immutable")) {
        problems.push(format!(
            "Cache-Control is {cc:?}, expected private, immutable"
        ));
    }
    let etag = h("etag").unwrap_or_default();
    if etag.trim_start_matches("W/").trim_matches('"') != hex {
        problems.push(format!("ETag is {etag:?}, expected the digest hex"));
    }
    if h("access-control-allow-origin").as_deref() != Some("*") {
        problems.push(format!(
            "Access-Control-Allow-Origin is {:?}, expected * on signed URLs",
            h("access-control-allow-origin")
        ));
    }
    expect::no_problems(&problems, "download headers (UPL-016)")
}

#[case(
    id = "attachments.download.range",
    title = "Download URLs honour byte ranges",
    clauses = ["UPL-017"],
    level = Should,
    needs = [Capability("attachments")],
    expect = "`Range: bytes=4-9` answers 206 with those six bytes and a matching \
              Content-Range.",
)]
async fn download_range(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let Some(url) = obj.get("url").and_then(Value::as_str).map(str::to_string) else {
        return fail("a clean attachment's metadata has no `url` (UPL-010)");
    };
    let r = ctx
        .request(Method::GET, &url, &[("Range", "bytes=4-9")], None, None)
        .await?;
    if r.status != 206 {
        return fail(format!(
            "`Range: bytes=4-9` answered HTTP {}; UPL-017 asks for 206 Partial Content",
            r.status
        ));
    }
    expect::that(
        r.body.as_ref() == &TEXT[4..=9],
        "the 206 body is not bytes 4-9 of the file",
    )?;
    let cr = header_of(&r, "content-range").unwrap_or("");
    expect::that(
        cr == format!("bytes 4-9/{}", TEXT.len()),
        format!(
            "Content-Range is {cr:?}, expected `bytes 4-9/{}`",
            TEXT.len()
        ),
    )?;
    pass()
}
