//! Attachments as part of a message (spec 04 › Attachment Fields, Attachment Rules, Attachment
//! Signing Flow): metadata, limits, single use, hostile filenames and ids, idempotent retries.
//! How an attachment is made and why refusals are routed before the good variant: see
//! [`crate::steps::attachments`].

use crate::steps::attachments::{
    TEXT, USABLE, attachment_payload, clean_attachment, confirm, digest_of, disposition_filename,
    download, header_of, is_reserved, metadata, parse_upload, put_bytes, request_upload,
    route_with, route_with_ok, safe_filename, text_upload_ok, upload_ok, wait_scanned,
};
use crate::steps::refusal::refused;
use crate::steps::routing::{not_delivered, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Failure, Outcome, expect, fail, pass};
use serde_json::{Value, json};
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    UPLOAD_TOO_LARGE,
    METADATA_EXPIRY,
    ROUTE_ACCEPTED,
    ROUTE_TOO_MANY,
    ROUTE_REUSE,
    ROUTE_IDEMPOTENT_RETRY,
    HOSTILE_FILENAMES,
    ID_TRAVERSAL,
];

/// ATT-006 limits as the spec states them (a provider may advertise lower ones).
const SPEC_MAX_SIZE: u64 = 26_214_400;

const SPEC_MAX_COUNT: u64 = 10;

/// The `attachment_limits` member of `/v1/info`, if any.
fn limit(ctx: &Ctx, key: &str) -> Option<u64> {
    ctx.info()
        .ok()?
        .pointer(&format!("/attachment_limits/{key}"))?
        .as_u64()
}

#[case(
    id = "attachments.upload.too-large",
    title = "Upload requests over the per-file limit are refused",
    clauses = ["ATT-006"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Declaring exactly the limit is accepted; one byte more answers 413 \
              attachment_too_large.",
)]
async fn upload_too_large(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let max = limit(ctx, "max_attachment_size")
        .filter(|m| *m > 0 && *m <= SPEC_MAX_SIZE)
        .unwrap_or(SPEC_MAX_SIZE);
    // Only declared sizes: nothing is uploaded.
    upload_ok(
        ctx,
        &a,
        "big.bin",
        "application/octet-stream",
        max,
        &digest_of(b"x"),
    )
    .await?;
    let r = request_upload(
        ctx,
        &a,
        "big.bin",
        "application/octet-stream",
        max + 1,
        &digest_of(b"x"),
    )
    .await?;
    refused(ctx, &r, 413, "attachment_too_large", "ATT-006").map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!(
            "upload request declaring {} bytes (limit {max}, ATT-006): {m}",
            max + 1
        )),
        other => other,
    })?;
    pass()
}

#[case(
    id = "attachments.metadata.expiry",
    title = "Attachments live at least 7 days",
    clauses = ["ATT-005"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "`expires_at` is at least 7 days after `uploaded_at`.",
)]
async fn metadata_expiry(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = text_upload_ok(ctx, &a).await?;
    let put = put_bytes(ctx, &up, TEXT).await?;
    if !put.is_success() {
        return fail(format!("baseline: the upload answered HTTP {}", put.status));
    }
    let c = confirm(ctx, &a, &up.id).await?;
    expect::status(&c, 200)?;
    let meta = wait_scanned(ctx, &a, &up.id).await?;
    let time = |f: &str| {
        meta.get(f)
            .and_then(Value::as_str)
            .and_then(|t| amp_core::parse_rfc3339(t).ok())
    };
    let (Some(up_at), Some(exp)) = (time("uploaded_at"), time("expires_at")) else {
        return fail(
            "attachment metadata lacks RFC 3339 `uploaded_at` / `expires_at` (ATT-004/ATT-005)",
        );
    };
    let week = 7 * 24 * 3600;
    if exp - up_at < week {
        return fail(format!(
            "expires_at is {:.1} days after uploaded_at; ATT-005 requires at least 7",
            (exp - up_at) as f64 / 86_400.0
        ));
    }
    pass()
}

// ------------------------------------------------------------------------------------------
// Routing with attachments
// ------------------------------------------------------------------------------------------

#[case(
    id = "attachments.route.accepted",
    title = "A clean attachment routes and is delivered unmodified",
    clauses = ["ATT-003", "ATT-008", "C-33"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "The message is accepted and the delivered attachment object equals the \
              signed one.",
)]
async fn route_accepted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let id = route_with_ok(ctx, &a, &b.address, vec![obj.clone()], "attachment").await?;
    let entry = crate::steps::routing::delivered(ctx, &b, &id).await?;
    let got = entry.pointer("/payload/attachments/0");
    if got != Some(&obj) {
        return fail(format!(
            "the delivered attachment differs from the one the sender signed (ATT-003): sent \
             {obj}, delivered {}",
            got.map(Value::to_string)
                .unwrap_or_else(|| "nothing".into())
        ));
    }
    match obj.get("scan_status").and_then(Value::as_str) {
        Some("unscanned") => fail(
            "a provider-routed attachment carries scan_status `unscanned` (ATT-008, C-33: only \
             local filesystem delivery may)",
        ),
        _ => pass(),
    }
}

#[case(
    id = "attachments.route.too-many",
    title = "More attachments than the per-message limit are refused",
    clauses = ["ATT-006"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Eleven clean attachments answer 400 too_many_attachments; ten of them \
              route.",
)]
async fn route_too_many(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let max = limit(ctx, "max_attachments_per_message")
        .filter(|m| (1..=SPEC_MAX_COUNT).contains(m))
        .unwrap_or(SPEC_MAX_COUNT);
    // Eleven uploads: allow for upload rate limits (spec 08: 20/min) on real targets.
    ctx.need_time(Duration::from_secs(120));
    let mut atts = Vec::new();
    for i in 0..=max {
        atts.push(clean_attachment(ctx, &a, &format!("part-{i}.txt")).await?);
    }
    let (resp, subj) = route_with(ctx, &a, &b.address, atts.clone(), "too many").await?;
    refused(ctx, &resp, 400, "too_many_attachments", "ATT-006").map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!(
            "a message with {} attachments (ATT-006 allows {max}): {m}",
            max + 1
        )),
        other => other,
    })?;
    not_delivered(ctx, &b, &subj, "ATT-006").await?;
    atts.pop();
    route_with_ok(ctx, &a, &b.address, atts, "at the limit").await?;
    pass()
}

#[case(
    id = "attachments.route.reuse",
    title = "An attachment is referenced by one routed message only",
    clauses = ["ATT-011"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "The first message routes; a second message with the same attachment \
              answers 409 attachment_already_used.",
)]
async fn route_reuse(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    route_with_ok(ctx, &a, &b.address, vec![obj.clone()], "first use").await?;
    let (resp, subj) = route_with(ctx, &a, &b.address, vec![obj], "second use").await?;
    refused(ctx, &resp, 409, "attachment_already_used", "ATT-011")?;
    not_delivered(ctx, &b, &subj, "ATT-011").await?;
    pass()
}

#[case(
    id = "attachments.route.idempotent-retry",
    title = "An idempotent retry does not count as attachment reuse",
    clauses = ["ATT-012"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "Repeating a route with the same idempotency_key answers the original \
              message id, not attachment_already_used.",
)]
async fn route_idempotent_retry(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let key = ctx.unique_name("idem");
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "retry"))
        .payload(attachment_payload(vec![obj]))
        .field("idempotency_key", json!(key))
        .signed()?;
    let first = route_ok(ctx, &a, &body, "first attempt").await?;
    let again = ctx.route(&a, &body).await?;
    if !again.is_success() {
        return fail(format!(
            "retrying the same route with the same idempotency_key answered HTTP {} {}; \
             ATT-012: a retry returns the original response without consuming the attachment \
             again",
            again.status,
            again.error_code().unwrap_or("")
        ));
    }
    let second = crate::steps::routing::route_id(&again)?;
    expect::that(
        second == first,
        format!("the retry returned message id {second}, the original was {first} (ATT-012)"),
    )?;
    pass()
}

// ------------------------------------------------------------------------------------------
// Filenames and ids
// ------------------------------------------------------------------------------------------

#[case(
    id = "attachments.filename.hostile",
    title = "Path-like, reserved and control-character filenames are refused or sanitised",
    clauses = ["ATT-009"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "`../evil.txt`, `CON`, `a%2Fb.txt` and a name with BEL are refused, or \
              served only under a [A-Za-z0-9._-] name.",
)]
async fn hostile_filenames(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    upload_ok(ctx, &a, "plain.txt", "text/plain", 3, &digest_of(b"abc")).await?;
    let mut notes = Vec::new();
    for name in ["../evil.txt", "CON", "a%2Fb.txt", "bell\u{7}.txt"] {
        let r = request_upload(
            ctx,
            &a,
            name,
            "text/plain",
            TEXT.len() as u64,
            &digest_of(TEXT),
        )
        .await?;
        if (400..500).contains(&r.status) {
            continue; // refused: fine
        }
        if r.status != 201 {
            return fail(format!(
                "upload with filename {name:?} answered HTTP {} (expected a 4xx refusal or a \
                 sanitised 201)",
                r.status
            ));
        }
        // Accepted: the name must come back sanitised wherever it is served.
        let up = parse_upload(&r)?;
        let put = put_bytes(ctx, &up, TEXT).await?;
        let c = confirm(ctx, &a, &up.id).await?;
        if !put.is_success() || !c.is_success() {
            notes.push(format!(
                "{name:?}: accepted, then the upload/confirm failed"
            ));
            continue;
        }
        let meta = wait_scanned(ctx, &a, &up.id).await?;
        if !USABLE.contains(
            &meta
                .get("scan_status")
                .and_then(Value::as_str)
                .unwrap_or(""),
        ) {
            continue; // never downloadable
        }
        let (_, file) = download(ctx, &a, &up.id).await?;
        let served = header_of(&file, "content-disposition").and_then(disposition_filename);
        match served {
            Some(n) if safe_filename(&n) && !is_reserved(&n) => {}
            other => {
                return fail(format!(
                    "filename {name:?} was accepted and served as {other:?}; ATT-009 requires \
                     refusal or sanitising to [A-Za-z0-9._-] without reserved device names"
                ));
            }
        }
    }
    if notes.is_empty() {
        pass()
    } else {
        Ok(Outcome::Info(notes.join("; ")))
    }
}

#[case(
    id = "attachments.id.traversal",
    title = "Traversal-shaped attachment ids reach no file",
    clauses = ["ATT-010", "C-13"],
    level = Must,
    needs = [Capability("attachments")],
    expect = "GET /attachments/{id} and /download with `..`, encoded separators or NUL \
              answer 400 or 404.",
)]
async fn id_traversal(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = upload_ok(ctx, &a, "notes.txt", "text/plain", 3, &digest_of(b"abc")).await?;
    let own = metadata(ctx, &a, &up.id).await?;
    expect::status(&own, 200).map_err(|e| match e {
        Failure::Fail(m) => Failure::Fail(format!("baseline GET /attachments/{{id}}: {m}")),
        other => other,
    })?;
    for raw in [
        "..%2F..%2Fetc%2Fpasswd",
        "att_1_ab%2F..%2F..%2Fetc",
        "..%5C..%5Cwindows%5Cwin.ini",
        "att_1_ab%00",
    ] {
        for suffix in ["", "/download"] {
            let r = ctx
                .get(&format!("/attachments/{raw}{suffix}"), Some(&a))
                .await?;
            if !matches!(r.status, 400 | 404) {
                return fail(format!(
                    "GET /attachments/{raw}{suffix} answered HTTP {}; ATT-010: traversal ids \
                     get 400/404, never another file",
                    r.status
                ));
            }
        }
    }
    pass()
}
