//! Attachment endpoints (spec 08 "Attachments"): upload request, presigned PUT, confirm,
//! metadata, download and the signed file URL. The rules (and the store access) are in
//! [`crate::service::attachments`]; this module turns their answers into status codes and the
//! download headers of UPL-015..017.

use crate::error::ApiError;
use crate::http::extract::{Authed, BaseUrl, JsonObject, StrictJson};
use crate::http::{ApiResult, ok};
use crate::service::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

/// `Content-Disposition: attachment; filename="…"` for an already sanitised name.
fn disposition(name: Option<String>) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("attachment; filename=\"{}\"", name?)).ok()
}

/// Query of the presigned and signed URLs.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// `POST {base}/attachments/upload` (UPL-001/002/004, ATT-006, ATT-009).
pub(crate) async fn request_upload(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Authed(who): Authed,
    StrictJson(obj): JsonObject,
) -> ApiResult {
    ok(
        StatusCode::CREATED,
        state.request_upload(&who, &obj, &base)?,
    )
}

/// `PUT {base}/attachments/{id}/content?token=…`: the presigned upload (UPL-005/006).
pub(crate) async fn put_content(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
    body: Bytes,
) -> ApiResult {
    let etag = state.store_upload(&id, q.token.as_deref(), body)?;
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
) -> ApiResult {
    let shown = state.confirm_upload(&who, &id)?;
    ok(
        StatusCode::OK,
        json!({ "attachment_id": id, "scan_status": shown.as_str() }),
    )
}

/// `GET {base}/attachments/{id}` (UPL-010, ATT-005): metadata for the uploader.
pub(crate) async fn get_metadata(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> ApiResult {
    ok(StatusCode::OK, state.attachment_metadata(&who, &id, &base)?)
}

/// `GET {base}/attachments/{id}/download` (UPL-014/015): 302 to the signed URL.
pub(crate) async fn download(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    Path(id): Path<String>,
    Authed(who): Authed,
) -> ApiResult {
    let (location, name) = state.download_location(&who, &id, &base)?;
    let mut resp = StatusCode::FOUND.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(cd) = disposition(name) {
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
) -> ApiResult {
    let file = state.signed_download(&id, q.token.as_deref())?;
    let data = file.data;
    let ct = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let cd = disposition(file.disposition_name);
    let etag = file
        .digest_hex
        .and_then(|h| HeaderValue::from_str(&format!("\"{h}\"")).ok());
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
