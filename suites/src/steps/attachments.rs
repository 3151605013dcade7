//! Steps that make an attachment the way a client would (spec 08 Attachments): `POST
//! /attachments/upload`, PUT the bytes to `upload_url` with `upload_method`/`upload_headers`,
//! `POST /attachments/{id}/confirm`, poll `GET /attachments/{id}` until the scan ends, then
//! build the payload object from that metadata (ATT-002); plus routing with attachments and
//! reading downloads. Attachments are single use (ATT-011), so a case that needs a positive
//! baseline AND a refusal on the same attachment routes the refused variant first (a refused
//! route must not consume the attachment) and the correct one after it.

use crate::steps::routing::{route_ok, subject};
use amp_runner::{Agent, Ctx, Failure, Method, Resp, expect, fail};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// A small, harmless text file.
pub(crate) const TEXT: &[u8] = b"amp-conformance attachment test file\n";

/// UPL-011: scans of small files finish within 60 s; we wait that plus a margin.
pub(crate) const SCAN_WAIT: Duration = Duration::from_secs(65);

/// Scan statuses under which an attachment may be routed (04, C-33).
pub(crate) const USABLE: [&str; 3] = ["clean", "basic_clean", "suspicious"];

pub(crate) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What `POST /attachments/upload` handed out.
pub(crate) struct Upload {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) headers: Vec<(String, String)>,
}

impl Upload {
    /// The headers the provider asked the upload to carry.
    pub(crate) fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

pub(crate) async fn request_upload(
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
pub(crate) fn parse_upload(resp: &Resp) -> Result<Upload, Failure> {
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

/// [`request_upload`] for the small text file most cases use: [`TEXT`] as `notes.txt`.
pub(crate) async fn request_text_upload(ctx: &mut Ctx, agent: &Agent) -> Result<Resp, Failure> {
    let digest = digest_of(TEXT);
    request_upload(
        ctx,
        agent,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest,
    )
    .await
}

/// [`upload_ok`] for [`TEXT`] as `notes.txt`.
pub(crate) async fn text_upload_ok(ctx: &mut Ctx, agent: &Agent) -> Result<Upload, Failure> {
    let digest = digest_of(TEXT);
    upload_ok(
        ctx,
        agent,
        "notes.txt",
        "text/plain",
        TEXT.len() as u64,
        &digest,
    )
    .await
}

/// Baseline upload request: must answer 201 with the UPL-001 fields.
pub(crate) async fn upload_ok(
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
pub(crate) async fn put_bytes(ctx: &mut Ctx, up: &Upload, bytes: &[u8]) -> Result<Resp, Failure> {
    ctx.request(
        up.method.clone(),
        &up.url,
        &up.header_pairs(),
        Some(bytes.to_vec()),
        None,
    )
    .await
}

pub(crate) async fn confirm(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Resp, Failure> {
    ctx.post_json(
        &format!("/attachments/{id}/confirm"),
        &json!({}),
        Some(agent),
    )
    .await
}

pub(crate) async fn metadata(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Resp, Failure> {
    ctx.get(&format!("/attachments/{id}"), Some(agent)).await
}

/// Poll `GET /attachments/{id}` until `scan_status` leaves `pending` (UPL-010/011); returns
/// the metadata. Polls fast first (the mock scans at once) and backs off to 2 s.
pub(crate) async fn wait_scanned(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<Value, Failure> {
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
pub(crate) fn payload_object(id: &str, meta: &Value) -> Value {
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
pub(crate) async fn upload_and_scan(
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
pub(crate) async fn clean_attachment(
    ctx: &mut Ctx,
    agent: &Agent,
    filename: &str,
) -> Result<Value, Failure> {
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

pub(crate) fn attachment_payload(atts: Vec<Value>) -> Value {
    json!({
        "type": "notification",
        "message": "files attached",
        "attachments": atts,
    })
}

/// Route a signed message carrying `atts` from `from` to `to`; returns (response, subject).
pub(crate) async fn route_with(
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

pub(crate) async fn route_with_ok(
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

pub(crate) fn header_of<'r>(resp: &'r Resp, name: &str) -> Option<&'r str> {
    resp.header(name)
}

/// `filename="…"` (or bare token) of a Content-Disposition value whose type is `attachment`.
pub(crate) fn disposition_filename(value: &str) -> Option<String> {
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

pub(crate) fn safe_filename(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `GET /attachments/{id}/download` → 302, then the Location without credentials. Returns
/// (redirect response, file response).
pub(crate) async fn download(
    ctx: &mut Ctx,
    agent: &Agent,
    id: &str,
) -> Result<(Resp, Resp), Failure> {
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

pub(crate) fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

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
