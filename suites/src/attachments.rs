//! Provider attachments: the upload API (spec 08 "Attachments": upload request, presigned PUT,
//! confirm, scan status, download), the attachment rules of 04 (limits, single use, TTL,
//! filenames, ids), the route-time checks of 05 "Messages with Attachments" and the scanning
//! pipeline of 07.
//!
//! Every case is gated on the `attachments` capability (API-005). Attachments are created the
//! way a client would: `POST /attachments/upload`, PUT the bytes to `upload_url` with
//! `upload_method`/`upload_headers`, `POST /attachments/{id}/confirm`, poll
//! `GET /attachments/{id}` until the scan ends, then build the payload object from that
//! metadata (ATT-002). Attachments are single use (ATT-011), so a case that needs a positive
//! baseline AND a refusal on the same attachment routes the refused variant first (a refused
//! route must not consume the attachment) and the correct one after it.

use crate::refusal::refused;
use crate::routing::{not_delivered, route_ok, subject};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Method, Need, Outcome, Resp, Section, expect,
    fail, pass,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[Need::Capability("attachments")];

/// A small, harmless text file.
const TEXT: &[u8] = b"amp-conformance attachment test file\n";
/// An ELF header (the start of a Linux executable) followed by filler: executable by magic
/// bytes only, harmless as data.
const ELF: &[u8] = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00amp-conformance";
/// A DOS/PE header start ("MZ"), harmless filler.
const MZ: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00amp-conformance";
/// ATT-006 limits as the spec states them (a provider may advertise lower ones).
const SPEC_MAX_SIZE: u64 = 26_214_400;
const SPEC_MAX_COUNT: u64 = 10;
/// UPL-011: scans of small files finish within 60 s; we wait that plus a margin.
const SCAN_WAIT: Duration = Duration::from_secs(65);
/// Scan statuses under which an attachment may be routed (04, C-33).
const USABLE: [&str; 3] = ["clean", "basic_clean", "suspicious"];

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What `POST /attachments/upload` handed out.
struct Upload {
    id: String,
    url: String,
    method: Method,
    headers: Vec<(String, String)>,
}

impl Upload {
    /// The headers the provider asked the upload to carry.
    fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

async fn request_upload(
    ctx: &mut Ctx,
    agent: &Agent,
    filename: &str,
    content_type: &str,
    size: u64,
    digest: &str,
) -> Result<Resp, Failure> {
    ctx.post_json(
        "/attachments/upload",
        &json!({
            "filename": filename,
            "content_type": content_type,
            "size": size,
            "digest": digest,
        }),
        Some(agent),
    )
    .await
}

/// Parse an upload response (UPL-001 fields); `Fail` names what is missing.
fn parse_upload(resp: &Resp) -> Result<Upload, Failure> {
    let id = expect::json_str(resp, "/attachment_id")?.to_string();
    let url = expect::json_str(resp, "/upload_url")?.to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return fail(format!(
            "`upload_url` is not an absolute http(s) URL (UPL-001): {url:.80}"
        ));
    }
    let method_text = resp
        .pointer("/upload_method")
        .and_then(Value::as_str)
        .unwrap_or("PUT");
    let method = Method::from_bytes(method_text.as_bytes()).map_err(|_| {
        Failure::Fail(format!(
            "`upload_method` {method_text:.20} is not an HTTP method (UPL-001)"
        ))
    })?;
    let headers = resp
        .pointer("/upload_headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .take(32)
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(Upload {
        id,
        url,
        method,
        headers,
    })
}

/// Baseline upload request: must answer 201 with the UPL-001 fields.
async fn upload_ok(
    ctx: &mut Ctx,
    agent: &Agent,
    filename: &str,
    content_type: &str,
    size: u64,
    digest: &str,
) -> Result<Upload, Failure> {
    let resp = request_upload(ctx, agent, filename, content_type, size, digest).await?;
    if resp.status != 201 {
        return fail(format!(
            "baseline: POST /attachments/upload for a {size}-byte `{content_type}` file answered \
             HTTP {} {} (UPL-001 expects 201), so the case cannot judge its clause",
            resp.status,
            resp.error_code().unwrap_or("")
        ));
    }
    parse_upload(&resp)
}

/// Send the bytes to the presigned URL exactly as the provider asked (no API key: the URL is
/// the credential).
async fn put_bytes(ctx: &mut Ctx, up: &Upload, bytes: &[u8]) -> Result<Resp, Failure> {
    ctx.request(
        up.method.clone(),
        &up.url,
        &up.header_pairs(),
        Some(bytes.to_vec()),
        None,
    )
    .await
}

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

async fn confirm(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Resp, Failure> {
    ctx.post_json(
        &format!("/attachments/{id}/confirm"),
        &json!({}),
        Some(agent),
    )
    .await
}

async fn metadata(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Resp, Failure> {
    ctx.get(&format!("/attachments/{id}"), Some(agent)).await
}

/// Poll `GET /attachments/{id}` until `scan_status` leaves `pending` (UPL-010/011); returns
/// the metadata. Polls fast first (the mock scans at once) and backs off to 2 s.
async fn wait_scanned(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Value, Failure> {
    ctx.need_time(SCAN_WAIT);
    let deadline = Instant::now() + SCAN_WAIT;
    let mut pause = Duration::from_millis(100);
    loop {
        let resp = metadata(ctx, agent, id).await?;
        if resp.status != 200 {
            return fail(format!(
                "GET /attachments/{id} by its uploader answered HTTP {} {} (UPL-010 expects 200)",
                resp.status,
                resp.error_code().unwrap_or("")
            ));
        }
        let status = resp
            .pointer("/scan_status")
            .and_then(Value::as_str)
            .unwrap_or("");
        if status.is_empty() {
            return fail("GET /attachments/{id} has no string `scan_status` (UPL-010)");
        }
        if status != "pending" {
            return resp
                .json()
                .cloned()
                .ok_or_else(|| Failure::Fail("attachment metadata is not JSON".into()));
        }
        if Instant::now() >= deadline {
            return fail(format!(
                "attachment {id} stayed `pending` for {} s after confirm (UPL-011: scans of \
                 small files finish within 60 s)",
                SCAN_WAIT.as_secs()
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The payload attachment object for `meta` (ATT-004 fields, taken verbatim from the
/// provider's metadata as ATT-002 tells clients to). `url` is absent before a clean scan; a
/// placeholder keeps the object well-formed so the route reaches the attachment checks.
fn payload_object(id: &str, meta: &Value) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    for f in [
        "filename",
        "content_type",
        "size",
        "digest",
        "url",
        "scan_status",
        "uploaded_at",
        "expires_at",
    ] {
        if let Some(v) = meta.get(f).filter(|v| !v.is_null()) {
            o.insert(f.into(), v.clone());
        }
    }
    o.entry("url")
        .or_insert_with(|| json!("https://example.invalid/not-yet-scanned"));
    Value::Object(o)
}

/// Upload `bytes`, PUT, confirm, wait for the scan; returns (id, metadata).
async fn upload_and_scan(
    ctx: &mut Ctx,
    agent: &Agent,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> Result<(String, Value), Failure> {
    let up = upload_ok(
        ctx,
        agent,
        filename,
        content_type,
        bytes.len() as u64,
        &digest_of(bytes),
    )
    .await?;
    let put = put_bytes(ctx, &up, bytes).await?;
    if !put.is_success() {
        return fail(format!(
            "baseline: the {} to `upload_url` answered HTTP {} (spec 08: the agent uploads the \
             file to the presigned URL)",
            up.method, put.status
        ));
    }
    let c = confirm(ctx, agent, &up.id).await?;
    if !c.is_success() {
        return fail(format!(
            "baseline: POST /attachments/{}/confirm after a complete upload answered HTTP {} {} \
             (UPL-009 expects 200)",
            up.id,
            c.status,
            c.error_code().unwrap_or("")
        ));
    }
    let meta = wait_scanned(ctx, agent, &up.id).await?;
    Ok((up.id, meta))
}

/// A usable (clean / basic_clean / suspicious) attachment of `agent`: its payload object.
async fn clean_attachment(ctx: &mut Ctx, agent: &Agent, filename: &str) -> Result<Value, Failure> {
    let (id, meta) = upload_and_scan(ctx, agent, filename, "text/plain", TEXT).await?;
    let status = meta
        .get("scan_status")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !USABLE.contains(&status) {
        return fail(format!(
            "baseline: a plain text file ended with scan_status `{status}`; it should pass the \
             required scan steps (SCAN-001)"
        ));
    }
    Ok(payload_object(&id, &meta))
}

fn attachment_payload(atts: Vec<Value>) -> Value {
    json!({
        "type": "notification",
        "message": "files attached",
        "attachments": atts,
    })
}

/// Route a signed message carrying `atts` from `from` to `to`; returns (response, subject).
async fn route_with(
    ctx: &mut Ctx,
    from: &Agent,
    to: &str,
    atts: Vec<Value>,
    what: &str,
) -> Result<(Resp, String), Failure> {
    let subj = subject(ctx, what);
    let body = ctx
        .message(from, to)
        .subject(subj.clone())
        .payload(attachment_payload(atts))
        .signed()?;
    let resp = ctx.route(from, &body).await?;
    Ok((resp, subj))
}

async fn route_with_ok(
    ctx: &mut Ctx,
    from: &Agent,
    to: &str,
    atts: Vec<Value>,
    what: &str,
) -> Result<String, Failure> {
    let subj = subject(ctx, what);
    let body = ctx
        .message(from, to)
        .subject(subj)
        .payload(attachment_payload(atts))
        .signed()?;
    route_ok(ctx, from, &body, what).await
}

/// The `attachment_limits` member of `/v1/info`, if any.
fn limit(ctx: &Ctx, key: &str) -> Option<u64> {
    ctx.info()
        .ok()?
        .pointer(&format!("/attachment_limits/{key}"))?
        .as_u64()
}

fn header_of<'r>(resp: &'r Resp, name: &str) -> Option<&'r str> {
    resp.header(name)
}

/// `filename="…"` (or bare token) of a Content-Disposition value whose type is `attachment`.
fn disposition_filename(value: &str) -> Option<String> {
    let mut parts = value.split(';');
    let kind = parts.next()?.trim();
    if !kind.eq_ignore_ascii_case("attachment") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v)
                .to_string(),
        )
    })
}

fn safe_filename(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `GET /attachments/{id}/download` → 302, then the Location without credentials. Returns
/// (redirect response, file response).
async fn download(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<(Resp, Resp), Failure> {
    let r = ctx
        .get(&format!("/attachments/{id}/download"), Some(agent))
        .await?;
    expect::status(&r, 302).map_err(|e| match e {
        Failure::Fail(m) => {
            Failure::Fail(format!("GET /attachments/{{id}}/download (UPL-014): {m}"))
        }
        other => other,
    })?;
    let Some(loc) = header_of(&r, "location").map(str::to_string) else {
        return fail("the download answered 302 without a `Location` (UPL-014)");
    };
    if !(loc.starts_with("https://") || loc.starts_with("http://")) {
        return fail(format!(
            "the download `Location` is not an absolute http(s) URL: {loc:.80}"
        ));
    }
    let f = ctx.get(&loc, None).await?;
    Ok((r, f))
}

// ------------------------------------------------------------------------------------------
// Discovery and the upload request
// ------------------------------------------------------------------------------------------

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

async fn upload_shape(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let resp = request_upload(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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

async fn upload_url_expiry(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = request_upload(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
    expect::status(&up, 201)?;
    match up.pointer("/expires_in").and_then(Value::as_u64) {
        Some(s) if (1..=3600).contains(&s) => pass(),
        Some(s) => fail(format!(
            "presigned upload URL lives {s} s; UPL-004 allows at most 3600"
        )),
        None => fail("upload response has no integer `expires_in` (UPL-001/UPL-004)"),
    }
}

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

async fn upload_single_use(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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

async fn upload_size_condition(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let exact = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
    let ok = put_bytes(ctx, &exact, TEXT).await?;
    if !ok.is_success() {
        return fail(format!(
            "baseline: uploading exactly the declared bytes answered HTTP {}",
            ok.status
        ));
    }
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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

async fn confirm_and_status(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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

async fn metadata_expiry(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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

async fn route_accepted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let obj = clean_attachment(ctx, &a, "notes.txt").await?;
    let id = route_with_ok(ctx, &a, &b.address, vec![obj.clone()], "attachment").await?;
    let entry = crate::routing::delivered(ctx, &b, &id).await?;
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

async fn route_pending(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let up = upload_ok(
        ctx,
        &a,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest_of(TEXT),
    )
    .await?;
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
    let second = crate::routing::route_id(&again)?;
    expect::that(
        second == first,
        format!("the retry returned message id {second}, the original was {first} (ATT-012)"),
    )?;
    pass()
}

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

// ------------------------------------------------------------------------------------------
// Download
// ------------------------------------------------------------------------------------------

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

// ------------------------------------------------------------------------------------------
// Filenames and ids
// ------------------------------------------------------------------------------------------

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

fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

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

// ------------------------------------------------------------------------------------------
// Table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "attachments.info.limits",
        title: "A provider with attachments advertises attachment_limits",
        clauses: &["API-005", "SCAN-003"],
        level: Level::Should,
        section: Section::Discovery,
        needs: NEEDS,
        expectation: "`/v1/info.attachment_limits` has integer max_attachment_size, \
                      max_total_attachment_size, max_attachments_per_message.",
        run: |ctx| Box::pin(info_limits(ctx)),
    },
    Case {
        id: "attachments.upload.shape",
        title: "Requesting an upload URL answers 201 with the upload instructions",
        clauses: &["UPL-001", "ATT-004", "C-13"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "POST /attachments/upload answers 201 {attachment_id, upload_url, \
                      upload_method: \"PUT\", upload_headers, expires_in}.",
        run: |ctx| Box::pin(upload_shape(ctx)),
    },
    Case {
        id: "attachments.upload.url-expiry",
        title: "Presigned upload URLs expire within an hour",
        clauses: &["UPL-004"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "`expires_in` is between 1 and 3600 seconds.",
        run: |ctx| Box::pin(upload_url_expiry(ctx)),
    },
    Case {
        id: "attachments.upload.digest-algorithm",
        title: "Digests other than sha256 are refused at upload",
        clauses: &["UPL-002", "ATT-017"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "A sha256 digest is accepted; `md5:` and `sha1:` digests answer 422 \
                      invalid_digest_algorithm.",
        run: |ctx| Box::pin(digest_algorithm(ctx)),
    },
    Case {
        id: "attachments.upload.too-large",
        title: "Upload requests over the per-file limit are refused",
        clauses: &["ATT-006"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "Declaring exactly the limit is accepted; one byte more answers 413 \
                      attachment_too_large.",
        run: |ctx| Box::pin(upload_too_large(ctx)),
    },
    Case {
        id: "attachments.upload.single-use",
        title: "A presigned upload URL takes one upload only",
        clauses: &["UPL-005"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "The first PUT succeeds, a second PUT to the same URL is refused.",
        run: |ctx| Box::pin(upload_single_use(ctx)),
    },
    Case {
        id: "attachments.upload.size-condition",
        title: "A presigned URL refuses bodies larger than the declared size",
        clauses: &["UPL-006"],
        level: Level::Should,
        section: Section::Security,
        needs: NEEDS,
        expectation: "Uploading the declared bytes succeeds; eight times the declared size is \
                      refused.",
        run: |ctx| Box::pin(upload_size_condition(ctx)),
    },
    Case {
        id: "attachments.confirm.status",
        title: "Confirm starts the scan; the status moves one way and the metadata matches",
        clauses: &["UPL-009", "UPL-010", "UPL-013", "C-33"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "Confirm answers 200 {attachment_id, scan_status: \"pending\"}; the status \
                      becomes clean/suspicious with a `url`, metadata equals the upload, and a \
                      repeated confirm changes nothing.",
        run: |ctx| Box::pin(confirm_and_status(ctx)),
    },
    Case {
        id: "attachments.metadata.expiry",
        title: "Attachments live at least 7 days",
        clauses: &["ATT-005"],
        level: Level::Must,
        section: Section::Messages,
        needs: NEEDS,
        expectation: "`expires_at` is at least 7 days after `uploaded_at`.",
        run: |ctx| Box::pin(metadata_expiry(ctx)),
    },
    Case {
        id: "attachments.route.accepted",
        title: "A clean attachment routes and is delivered unmodified",
        clauses: &["ATT-003", "ATT-008", "C-33"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "The message is accepted and the delivered attachment object equals the \
                      signed one.",
        run: |ctx| Box::pin(route_accepted(ctx)),
    },
    Case {
        id: "attachments.route.foreign",
        title: "Another agent's attachment cannot be sent",
        clauses: &["RTE-006"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "A correctly signed message referencing someone else's attachment is \
                      refused and not delivered; the owner can send it.",
        run: |ctx| Box::pin(route_foreign(ctx)),
    },
    Case {
        id: "attachments.route.pending",
        title: "Attachments whose scan has not finished are not routed",
        clauses: &["RTE-007"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "Routing an uploaded but unconfirmed attachment answers 409 \
                      attachment_pending; after the scan it routes.",
        run: |ctx| Box::pin(route_pending(ctx)),
    },
    Case {
        id: "attachments.route.rejected",
        title: "Rejected attachments are never routed",
        clauses: &["RTE-008", "ATT-007", "RTE-010", "SCAN-001"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "A file whose bytes do not match its digest ends `rejected`; a message \
                      referencing it answers 422 attachment_rejected and is not delivered.",
        run: |ctx| Box::pin(route_rejected(ctx)),
    },
    Case {
        id: "attachments.route.tampered-metadata",
        title: "Attachment digest and size in the payload must match the upload",
        clauses: &["RTE-009"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "Messages whose attachment digest or size differ from the recorded values \
                      are refused; the true values route.",
        run: |ctx| Box::pin(route_tampered(ctx)),
    },
    Case {
        id: "attachments.route.too-many",
        title: "More attachments than the per-message limit are refused",
        clauses: &["ATT-006"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "Eleven clean attachments answer 400 too_many_attachments; ten of them \
                      route.",
        run: |ctx| Box::pin(route_too_many(ctx)),
    },
    Case {
        id: "attachments.route.reuse",
        title: "An attachment is referenced by one routed message only",
        clauses: &["ATT-011"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "The first message routes; a second message with the same attachment \
                      answers 409 attachment_already_used.",
        run: |ctx| Box::pin(route_reuse(ctx)),
    },
    Case {
        id: "attachments.route.idempotent-retry",
        title: "An idempotent retry does not count as attachment reuse",
        clauses: &["ATT-012"],
        level: Level::Must,
        section: Section::Routing,
        needs: NEEDS,
        expectation: "Repeating a route with the same idempotency_key answers the original \
                      message id, not attachment_already_used.",
        run: |ctx| Box::pin(route_idempotent_retry(ctx)),
    },
    Case {
        id: "attachments.scan.executable",
        title: "Executables are rejected by magic bytes",
        clauses: &["SCAN-007", "SCAN-001"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "ELF and MZ/PE content declared as application/octet-stream never becomes \
                      routable (refused or scan_status rejected).",
        run: |ctx| Box::pin(scan_executable(ctx)),
    },
    Case {
        id: "attachments.scan.blocked-mime",
        title: "Blocked executable media types are rejected",
        clauses: &["SCAN-005"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "Uploads declared application/x-sh or application/x-msdownload never \
                      become routable.",
        run: |ctx| Box::pin(scan_blocked_mime(ctx)),
    },
    Case {
        id: "attachments.download.redirect",
        title: "Download redirects to a signed URL served as an attachment",
        clauses: &["UPL-014", "UPL-015"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "GET /attachments/{id}/download answers 302 with Location; the target \
                      serves the bytes with Content-Disposition: attachment; filename and the \
                      original Content-Type.",
        run: |ctx| Box::pin(download_redirect(ctx)),
    },
    Case {
        id: "attachments.download.public-url",
        title: "The attachment url is fetchable without credentials",
        clauses: &["FED-008", "UPL-010"],
        level: Level::Must,
        section: Section::Federation,
        needs: NEEDS,
        expectation: "The metadata `url` answers 200 with the uploaded bytes without an \
                      Authorization header.",
        run: |ctx| Box::pin(download_public_url(ctx)),
    },
    Case {
        id: "attachments.download.headers",
        title: "Downloads carry the caching and integrity headers",
        clauses: &["UPL-016"],
        level: Level::Should,
        section: Section::Security,
        needs: NEEDS,
        expectation: "The signed URL answers with Content-Length, Accept-Ranges: bytes, \
                      Cache-Control private+immutable, ETag of the digest and \
                      Access-Control-Allow-Origin: *.",
        run: |ctx| Box::pin(download_headers(ctx)),
    },
    Case {
        id: "attachments.download.range",
        title: "Download URLs honour byte ranges",
        clauses: &["UPL-017"],
        level: Level::Should,
        section: Section::Security,
        needs: NEEDS,
        expectation: "`Range: bytes=4-9` answers 206 with those six bytes and a matching \
                      Content-Range.",
        run: |ctx| Box::pin(download_range(ctx)),
    },
    Case {
        id: "attachments.filename.hostile",
        title: "Path-like, reserved and control-character filenames are refused or sanitised",
        clauses: &["ATT-009"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "`../evil.txt`, `CON`, `a%2Fb.txt` and a name with BEL are refused, or \
                      served only under a [A-Za-z0-9._-] name.",
        run: |ctx| Box::pin(hostile_filenames(ctx)),
    },
    Case {
        id: "attachments.id.traversal",
        title: "Traversal-shaped attachment ids reach no file",
        clauses: &["ATT-010", "C-13"],
        level: Level::Must,
        section: Section::Security,
        needs: NEEDS,
        expectation: "GET /attachments/{id} and /download with `..`, encoded separators or NUL \
                      answer 400 or 404.",
        run: |ctx| Box::pin(id_traversal(ctx)),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_parsing() {
        assert_eq!(
            disposition_filename("attachment; filename=\"a.txt\"").as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            disposition_filename("Attachment;filename=b.pdf").as_deref(),
            Some("b.pdf")
        );
        assert_eq!(disposition_filename("inline; filename=\"a.txt\""), None);
        assert_eq!(disposition_filename("attachment"), None);
    }

    #[test]
    fn filename_safety() {
        assert!(safe_filename("notes-v1.txt"));
        assert!(!safe_filename("../x"));
        assert!(!safe_filename(".hidden"));
        assert!(!safe_filename("a b"));
        assert!(is_reserved("CON"));
        assert!(is_reserved("com1.txt"));
        assert!(!is_reserved("CONFIG.txt"));
    }

    #[test]
    fn payload_object_keeps_metadata() {
        let meta = json!({"filename": "a", "size": 3, "url": null, "scan_status": "pending"});
        let o = payload_object("att_1_ab", &meta);
        assert_eq!(o["id"], "att_1_ab");
        assert_eq!(o["size"], 3);
        assert!(o["url"].as_str().is_some_and(|u| u.starts_with("https://")));
    }
}
