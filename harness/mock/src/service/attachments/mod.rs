//! Attachment rules (spec 08 "Attachments", 04 attachment rules, 07 scanning pipeline).
//!
//! Flow (endpoints in `crate::http::attachments`): `POST {base}/attachments/upload` records the declared metadata and hands out a
//! single-use presigned `PUT` URL that points back at this mock; the bytes land in memory;
//! `POST {base}/attachments/{id}/confirm` runs the scan; `GET {base}/attachments/{id}` reports
//! the status; `GET {base}/attachments/{id}/download` redirects to a signed, credential-free
//! URL (FED-008) that serves the bytes with safe download headers (UPL-015/016).
//!
//! Route-time checks ([`claim_for_route`], called by the route pipeline) enforce RTE-006..009,
//! ATT-006 and ATT-011 on `provider` attachments; `afp` entries are shape-checked by amp-core
//! only (RTE-011).
//!
//! Chosen readings:
//! - An attachment whose upload was not yet confirmed counts as `pending` (no scan has run), so
//!   routing it answers `409 attachment_pending`.
//! - The mock has no AV engine (`attachment_limits.av_scanning: false`, SCAN-003); files that
//!   pass the required steps (SCAN-001) are reported `clean`.
//! - Blocked MIME types (SCAN-005/006) are accepted at the upload request and end `rejected`
//!   at scan time, like every other scan failure.
//! - Tampered `digest`/`size` at routing (RTE-009, code unspecified) → `400 invalid_field`;
//!   a foreign attachment (RTE-006, code unspecified) → `403 forbidden`.
//! - The scan completes synchronously during `confirm`; the confirm response still reports the
//!   `pending` status the scan started from (UPL-009), `GET` shows the terminal one.

mod checks;
mod claims;

pub use checks::{BLOCKED_MIME, executable_magic, sanitize_filename};
pub use claims::{Claim, MAX_TOTAL_SIZE, claim_for_route};

use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::random_hex;
use crate::service::AppState;
use crate::store::attachments::{
    Attachment, AttachmentStore, MAX_STORED, MAX_STORED_BYTES, ScanStatus, Use,
};
use crate::wire::AgentRef;
use bytes::Bytes;
use checks::{check_digest, check_filename, scan, valid_content_type};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// What the signed download URL serves (FED-008, UPL-015/016).
#[derive(Debug, Clone)]
pub struct Download {
    /// The file's bytes.
    pub data: Bytes,
    /// The declared media type.
    pub content_type: String,
    /// The file name for `Content-Disposition: attachment` (`None` under the
    /// `download-no-disposition` defect).
    pub disposition_name: Option<String>,
    /// The SHA-256 hex of the declared digest (the strong `ETag`).
    pub digest_hex: Option<String>,
}

impl AppState {
    /// Record an upload request (UPL-001/002/004, ATT-006, ATT-009) and hand out the presigned
    /// `PUT` URL under `base`; the answer body of `POST /attachments/upload`.
    pub fn request_upload(
        &self,
        who: &AgentRef,
        obj: &Map<String, Value>,
        base: &str,
    ) -> Result<Value, ApiError> {
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
        check_digest(self, &digest)?;
        let max_size = self.policy().max_attachment_bytes;
        if size > max_size {
            return Err(ApiError::new(
                413,
                "attachment_too_large",
                format!("attachments are limited to {max_size} bytes (ATT-006)"),
            )
            .with_field("size"));
        }

        let now = self.clock().now_unix();
        let ttl = self.policy().attachment_ttl_secs;
        let expires_in = self.policy().upload_url_ttl_secs;
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
        let upload_url = format!(
            "{base}/attachments/{id}/content?token={}",
            record.upload_token
        );
        {
            let mut db = self.lock();
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
        Ok(json!({
            "attachment_id": id,
            "upload_url": upload_url,
            "upload_method": "PUT",
            "upload_headers": { "Content-Type": content_type },
            "expires_in": expires_in,
        }))
    }

    /// Store the bytes sent to a presigned URL (UPL-005/006); the SHA-256 hex of the bytes.
    pub fn store_upload(
        &self,
        id: &str,
        token: Option<&str>,
        body: Bytes,
    ) -> Result<String, ApiError> {
        let denied = || {
            ApiError::forbidden(
                "upload URL is not valid: request a new one with POST /attachments/upload",
            )
        };
        let now = self.clock().now_unix();
        let mut db = self.lock();
        let store = &mut db.attachments;
        let Some(a) = store.by_id.get_mut(id) else {
            return Err(denied());
        };
        if !token_matches(token, &a.upload_token) {
            return Err(denied());
        }
        if now > a.upload_expires_at {
            return Err(ApiError::forbidden(
                "upload URL has expired (UPL-004): request a new one with POST /attachments/upload",
            ));
        }
        if a.upload_consumed && !self.has(Defect::PresignedReusable) {
            return Err(ApiError::new(
                409,
                "upload_url_used",
                "this upload URL was already used (UPL-005): request a new upload for new content",
            ));
        }
        let allowed = a.size.saturating_add(a.size / 100);
        if body.len() as u64 > allowed && !self.has(Defect::UploadSizeUnchecked) {
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
        Ok(etag)
    }

    /// Confirm an upload and run the scan once (UPL-009, UPL-013); the status the scan
    /// started from.
    pub fn confirm_upload(&self, who: &AgentRef, id: &str) -> Result<ScanStatus, ApiError> {
        let mut db = self.lock();
        let Some(a) = db.attachments.by_id.get_mut(id) else {
            return Err(not_found(id));
        };
        if a.owner_agent_id != who.agent_id {
            return Err(not_found(id));
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
            let verdict = scan(self, a, &data);
            a.status = match verdict {
                Ok(()) => ScanStatus::Clean,
                Err(why) => {
                    tracing::debug!(attachment = %id, %why, "attachment rejected");
                    ScanStatus::Rejected
                }
            };
        }
        drop(db);
        Ok(shown)
    }

    /// Metadata of an attachment for its uploader or a recipient (UPL-010, ATT-005).
    pub fn attachment_metadata(
        &self,
        who: &AgentRef,
        id: &str,
        base: &str,
    ) -> Result<Value, ApiError> {
        let db = self.lock();
        let a = readable(&db.attachments, who, id)?;
        Ok(metadata_json(id, a, base))
    }

    /// Where `GET /download` redirects (UPL-014/015): the signed URL under `base`, and the
    /// file name for `Content-Disposition`.
    pub fn download_location(
        &self,
        who: &AgentRef,
        id: &str,
        base: &str,
    ) -> Result<(String, Option<String>), ApiError> {
        let now = self.clock().now_unix();
        let db = self.lock();
        let a = readable(&db.attachments, who, id)?;
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
        Ok((signed_url(base, id, a), disposition_name(self, a)))
    }

    /// The file behind a signed URL (FED-008): no credentials, the token is the credential.
    pub fn signed_download(&self, id: &str, token: Option<&str>) -> Result<Download, ApiError> {
        let now = self.clock().now_unix();
        let db = self.lock();
        let denied = || ApiError::forbidden("download URL is not valid or has expired");
        let a = db.attachments.by_id.get(id).ok_or_else(denied)?;
        if !token_matches(token, &a.download_token) || now >= a.expires_at {
            return Err(denied());
        }
        if !a.status.usable() {
            return Err(unusable(a));
        }
        Ok(Download {
            data: a.data.clone().unwrap_or_default(),
            content_type: a.content_type.clone(),
            disposition_name: disposition_name(self, a),
            digest_hex: a.digest.strip_prefix("sha256:").map(str::to_string),
        })
    }
}

fn rfc3339(t: i64) -> String {
    amp_core::format_rfc3339(t)
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

/// The attachment `id` if `who` may read it; else 404, as if it did not exist.
fn readable<'a>(
    store: &'a AttachmentStore,
    who: &AgentRef,
    id: &str,
) -> Result<&'a Attachment, ApiError> {
    store
        .by_id
        .get(id)
        .filter(|a| may_read(a, who))
        .ok_or_else(|| not_found(id))
}

/// The uploader, or the recipient of a message that routed the attachment.
fn may_read(a: &Attachment, who: &AgentRef) -> bool {
    a.owner_agent_id == who.agent_id
        || a.used.iter().any(|u| {
            matches!(u, Use::Routed { recipient_agent_id, .. } if *recipient_agent_id == who.agent_id)
        })
}

/// UPL-015: downloads carry `Content-Disposition: attachment` with a safe file name (none under
/// the `download-no-disposition` defect).
fn disposition_name(state: &AppState, a: &Attachment) -> Option<String> {
    if state.has(Defect::DownloadNoDisposition) {
        return None;
    }
    Some(sanitize_filename(&a.filename))
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

fn token_matches(given: Option<&str>, expected: &str) -> bool {
    // Compare digests so the comparison time does not depend on the common prefix.
    given.is_some_and(|g| Sha256::digest(g.as_bytes()) == Sha256::digest(expected.as_bytes()))
}

/// 404 for an attachment id the caller may not see (or that does not exist).
pub(super) fn not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(64).collect();
    ApiError::new(
        404,
        "attachment_not_found",
        format!("no attachment `{shown}` for this agent: ids come from POST /attachments/upload"),
    )
}
