//! Attachment endpoints (spec 08 "Attachments"): upload request, presigned PUT, confirm (runs
//! the scan in [`crate::service::attachments`]), metadata, download and the signed file URL.

use crate::defects::Defect;
use crate::error::{ApiError, json_response};
use crate::http::extract::{Authed, JsonObject, StrictJson};
use crate::ids::random_hex;
use crate::service::AppState;
use crate::service::attachments::{
    check_digest, check_filename, not_found, sanitize_filename, scan, valid_content_type,
};
use crate::store::attachments::{Attachment, MAX_STORED, MAX_STORED_BYTES, ScanStatus, Use};
use crate::wire::AgentRef;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

fn rfc3339(t: i64) -> String {
    amp_core::format_rfc3339(t)
}

/// Origin + base path as the client reached us (for URLs that point back at the mock).
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:-[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}{}", state.config().normalized_base())
}

fn metadata_json(id: &str, a: &Attachment, base: &str) -> Value {
    let mut m = Map::new();
    m.insert("attachment_id".into(), json!(id));
    m.insert("filename".into(), json!(a.filename));
    m.insert("content_type".into(), json!(a.content_type));
    m.insert("size".into(), json!(a.size));
    m.insert("digest".into(), json!(a.digest));
    m.insert("scan_status".into(), json!(a.status.as_str()));
    if a.status.usable() {
        m.insert("url".into(), json!(signed_url(base, id, a)));
    }
    m.insert("uploaded_at".into(), json!(rfc3339(a.uploaded_at)));
    m.insert("expires_at".into(), json!(rfc3339(a.expires_at)));
    Value::Object(m)
}

/// FED-008: the credential-free download URL (the token is the credential).
fn signed_url(base: &str, id: &str, a: &Attachment) -> String {
    format!("{base}/attachments/{id}/file?token={}", a.download_token)
}

/// `POST {base}/attachments/upload` (UPL-001/002/004, ATT-006, ATT-009).
pub(crate) async fn request_upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Authed(who): Authed,
    StrictJson(obj): JsonObject,
) -> Result<Response, ApiError> {
    let text = |f: &str| -> Result<String, ApiError> {
        match obj.get(f) {
            None | Some(Value::Null) => Err(ApiError::missing_field(f)),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(ApiError::missing_field(f)),
            Some(_) => Err(ApiError::invalid_field(
                f,
                format!("`{f}` must be a string"),
            )),
        }
    };
    let filename = text("filename")?;
    let content_type = text("content_type")?;
    let digest = text("digest")?;
    let size = match obj.get("size") {
        None | Some(Value::Null) => return Err(ApiError::missing_field("size")),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            ApiError::invalid_field("size", "`size` must be a non-negative integer byte count")
        })?,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "size",
                "`size` must be a non-negative integer byte count",
            ));
        }
    };
    check_filename(&filename)?;
    if !valid_content_type(&content_type) {
        return Err(ApiError::invalid_field(
            "content_type",
            "`content_type` must be a media type like `text/plain`",
        ));
    }
    check_digest(&state, &digest)?;
    let max_size = state.policy().max_attachment_bytes;
    if size > max_size {
        return Err(ApiError::new(
            413,
            "attachment_too_large",
            format!("attachments are limited to {max_size} bytes (ATT-006)"),
        )
        .with_field("size"));
    }

    let now = state.clock().now_unix();
    let ttl = state.policy().attachment_ttl_secs;
    let expires_in = state.policy().upload_url_ttl_secs;
    let id = format!("att_{now}_{}", random_hex::<8>());
    let record = Attachment {
        owner_agent_id: who.agent_id.clone(),
        filename,
        content_type: content_type.clone(),
        size,
        digest,
        status: ScanStatus::Pending,
        uploaded_at: now,
        expires_at: now.saturating_add(ttl),
        upload_token: random_hex::<16>(),
        upload_expires_at: now.saturating_add(expires_in),
        upload_consumed: false,
        data: None,
        confirmed: false,
        download_token: random_hex::<24>(),
        used: Vec::new(),
    };
    let base = base_url(&state, &headers);
    let upload_url = format!(
        "{base}/attachments/{id}/content?token={}",
        record.upload_token
    );
    {
        let mut db = state.lock();
        let store = &mut db.attachments;
        // Expired attachments are gone for good (ATT-005/ATT-013); free their bytes.
        let mut freed = 0usize;
        store.by_id.retain(|_, a| {
            let keep = a.expires_at > now;
            if !keep {
                freed += a.data.as_ref().map_or(0, Bytes::len);
            }
            keep
        });
        store.stored_bytes = store.stored_bytes.saturating_sub(freed);
        if store.by_id.len() >= MAX_STORED {
            return Err(ApiError::new(
                503,
                "unavailable",
                "attachment store is full: retry later",
            ));
        }
        store.by_id.insert(id.clone(), record);
    }
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "attachment_id": id,
            "upload_url": upload_url,
            "upload_method": "PUT",
            "upload_headers": { "Content-Type": content_type },
            "expires_in": expires_in,
        }),
    ))
}

/// Query of the presigned and signed URLs.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

fn token_matches(given: Option<&str>, expected: &str) -> bool {
    // Compare digests so the comparison time does not depend on the common prefix.
    given.is_some_and(|g| Sha256::digest(g.as_bytes()) == Sha256::digest(expected.as_bytes()))
}

/// `PUT {base}/attachments/{id}/content?token=…`: the presigned upload (UPL-005/006).
pub(crate) async fn put_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let denied = || {
        ApiError::forbidden(
            "upload URL is not valid: request a new one with POST /attachments/upload",
        )
    };
    let now = state.clock().now_unix();
    let mut db = state.lock();
    let store = &mut db.attachments;
    let Some(a) = store.by_id.get_mut(&id) else {
        return Err(denied());
    };
    if !token_matches(q.token.as_deref(), &a.upload_token) {
        return Err(denied());
    }
    if now > a.upload_expires_at {
        return Err(ApiError::forbidden(
            "upload URL has expired (UPL-004): request a new one with POST /attachments/upload",
        ));
    }
    if a.upload_consumed && !state.has(Defect::PresignedReusable) {
        return Err(ApiError::new(
            409,
            "upload_url_used",
            "this upload URL was already used (UPL-005): request a new upload for new content",
        ));
    }
    let allowed = a.size.saturating_add(a.size / 100);
    if body.len() as u64 > allowed && !state.has(Defect::UploadSizeUnchecked) {
        return Err(ApiError::new(
            413,
            "attachment_too_large",
            format!(
                "uploaded {} bytes but declared {} (UPL-006): upload exactly the declared bytes",
                body.len(),
                a.size
            ),
        ));
    }
    let old = a.data.as_ref().map_or(0, Bytes::len);
    let new_total = store
        .stored_bytes
        .saturating_sub(old)
        .saturating_add(body.len());
    if new_total > MAX_STORED_BYTES {
        return Err(ApiError::new(
            503,
            "unavailable",
            "attachment storage is full: retry later",
        ));
    }
    let etag = hex::encode(Sha256::digest(&body));
    a.data = Some(body);
    a.upload_consumed = true;
    store.stored_bytes = new_total;
    drop(db);
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

/// `POST {base}/attachments/{id}/confirm` (UPL-009): run the scan.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    let mut db = state.lock();
    let Some(a) = db.attachments.by_id.get_mut(&id) else {
        return Err(not_found(&id));
    };
    if a.owner_agent_id != who.agent_id {
        return Err(not_found(&id));
    }
    let Some(data) = a.data.clone() else {
        return Err(ApiError::new(
            409,
            "upload_incomplete",
            "no bytes were uploaded yet: PUT the file to `upload_url` first, then confirm",
        ));
    };
    // The status shown is the one the scan starts from; a repeated confirm never rescans a
    // terminal result (UPL-013).
    let shown = if a.confirmed {
        a.status
    } else {
        ScanStatus::Pending
    };
    if !a.confirmed {
        a.confirmed = true;
        let verdict = scan(&state, a, &data);
        a.status = match verdict {
            Ok(()) => ScanStatus::Clean,
            Err(why) => {
                tracing::debug!(attachment = %id, %why, "attachment rejected");
                ScanStatus::Rejected
            }
        };
    }
    drop(db);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "attachment_id": id, "scan_status": shown.as_str() }),
    ))
}

/// `GET {base}/attachments/{id}` (UPL-010, ATT-005): metadata for the uploader.
pub(crate) async fn get_metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let db = state.lock();
    let a = db
        .attachments
        .by_id
        .get(&id)
        .filter(|a| may_read(a, &who))
        .ok_or_else(|| not_found(&id))?;
    let body = metadata_json(&id, a, &base);
    drop(db);
    Ok(json_response(StatusCode::OK, &body))
}

/// The uploader, or the recipient of a message that routed the attachment.
fn may_read(a: &Attachment, who: &AgentRef) -> bool {
    a.owner_agent_id == who.agent_id
        || a.used.iter().any(|u| {
            matches!(u, Use::Routed { recipient_agent_id, .. } if *recipient_agent_id == who.agent_id)
        })
}

/// UPL-015: downloads carry `Content-Disposition: attachment` (none under the
/// `download-no-disposition` defect).
fn disposition(state: &AppState, a: &Attachment) -> Option<HeaderValue> {
    if state.has(Defect::DownloadNoDisposition) {
        return None;
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        sanitize_filename(&a.filename)
    ))
    .ok()
}

fn unusable(a: &Attachment) -> ApiError {
    match a.status {
        ScanStatus::Rejected => ApiError::new(
            422,
            "attachment_rejected",
            "the attachment failed the security scan and cannot be downloaded",
        ),
        _ => ApiError::new(
            409,
            "attachment_pending",
            "the attachment has not passed its scan yet: poll GET /attachments/{id}",
        ),
    }
}

/// `GET {base}/attachments/{id}/download` (UPL-014/015): 302 to the signed URL.
pub(crate) async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let now = state.clock().now_unix();
    let db = state.lock();
    let a = db
        .attachments
        .by_id
        .get(&id)
        .filter(|a| may_read(a, &who))
        .ok_or_else(|| not_found(&id))?;
    if now >= a.expires_at {
        return Err(ApiError::new(
            410,
            "attachment_expired",
            "the attachment has expired",
        ));
    }
    if !a.status.usable() {
        return Err(unusable(a));
    }
    let location = signed_url(&base, &id, a);
    let cd = disposition(&state, a);
    drop(db);
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(cd) = cd {
        h.insert(header::CONTENT_DISPOSITION, cd);
    }
    Ok(resp)
}

/// `GET {base}/attachments/{id}/file?token=…`: the signed URL itself, no credentials needed
/// (FED-008), with the download headers of UPL-015/016.
pub(crate) async fn signed_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock().now_unix();
    let db = state.lock();
    let denied = || ApiError::forbidden("download URL is not valid or has expired");
    let a = db.attachments.by_id.get(&id).ok_or_else(denied)?;
    if !token_matches(q.token.as_deref(), &a.download_token) || now >= a.expires_at {
        return Err(denied());
    }
    if !a.status.usable() {
        return Err(unusable(a));
    }
    let data = a.data.clone().unwrap_or_default();
    let ct = HeaderValue::from_str(&a.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let cd = disposition(&state, a);
    let etag = a
        .digest
        .strip_prefix("sha256:")
        .and_then(|h| HeaderValue::from_str(&format!("\"{h}\"")).ok());
    drop(db);
    let total = data.len();
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, total));
    let mut resp = match range {
        None => (StatusCode::OK, data).into_response(),
        Some(Some((start, end))) => {
            let mut r = (StatusCode::PARTIAL_CONTENT, data.slice(start..=end)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            r
        }
        Some(None) => {
            let mut r = ApiError::new(
                416,
                "range_not_satisfiable",
                format!("the file has {total} bytes: ask for one range inside it"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(cd) = cd {
        h.insert(header::CONTENT_DISPOSITION, cd);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, immutable, max-age=604800"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(e) = etag {
        h.insert(header::ETAG, e);
    }
    Ok(resp)
}

/// UPL-017: one RFC 7233 byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) → inclusive
/// `(start, end)`; `None` when it is malformed, multi-range or outside the file.
fn parse_range(v: &str, len: usize) -> Option<(usize, usize)> {
    let spec = v.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let last = len - 1;
    let (start, end) = if a.is_empty() {
        let n: usize = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (len.saturating_sub(n), last)
    } else {
        let start: usize = a.parse().ok()?;
        let end = if b.is_empty() {
            last
        } else {
            b.parse::<usize>().ok()?.min(last)
        };
        (start, end)
    };
    (start <= end && start <= last).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-4", 10), Some((0, 4)));
        assert_eq!(parse_range("bytes=5-", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=8-100", 10), Some((8, 9)));
        for bad in [
            "bytes=10-",
            "bytes=4-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=-0",
            "bytes=x-",
        ] {
            assert_eq!(parse_range(bad, 10), None, "{bad}");
        }
        assert_eq!(parse_range("bytes=0-0", 0), None);
    }
}
