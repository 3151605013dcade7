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

use crate::defects::Defect;
use crate::error::ApiError;
use crate::ids::random_hex;
use crate::service::AppState;
use crate::store::attachments::{Attachment, MAX_STORED, MAX_STORED_BYTES, ScanStatus, Use};
use crate::wire::AgentRef;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// ATT-006: largest total of one message's attachments (100 MiB).
pub const MAX_TOTAL_SIZE: u64 = 104_857_600;

/// SCAN-005 (MUST) and SCAN-006 (SHOULD) blocked media types.
pub const BLOCKED_MIME: &[&str] = &[
    "application/x-executable",
    "application/x-msdos-program",
    "application/x-msdownload",
    "application/x-dosexec",
    "application/vnd.microsoft.portable-executable",
    "application/x-mach-o-executable",
    "application/x-sh",
    "application/x-shellscript",
    "application/x-csh",
    "application/x-perl",
    "application/x-python-code",
    "application/hta",
    "application/java-archive",
    "application/vnd.apple.installer+xml",
    "application/x-rpm",
    "application/x-deb",
    "application/x-msi",
];

/// ATT-009: names Windows reserves for devices, refused whatever the extension.
const RESERVED_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A route's reservation of its attachments; see [`claim_for_route`].
#[derive(Debug)]
#[must_use = "a claim must be bound to the delivered message or released"]
pub struct Claim {
    tag: u64,
    ids: Vec<String>,
}

impl Claim {
    /// The route failed after the checks: give the attachments back.
    pub fn release(self, state: &AppState) {
        if self.ids.is_empty() {
            return;
        }
        let mut db = state.lock();
        for id in &self.ids {
            if let Some(a) = db.attachments.by_id.get_mut(id) {
                a.used.retain(|u| *u != Use::Reserved(self.tag));
            }
        }
    }

    /// The message was delivered: record it (ATT-011) and let its recipient download.
    pub fn bind(self, state: &AppState, message_id: &str, recipient: &AgentRef) {
        if self.ids.is_empty() {
            return;
        }
        let mut db = state.lock();
        for id in &self.ids {
            if let Some(a) = db.attachments.by_id.get_mut(id) {
                for u in a.used.iter_mut() {
                    if *u == Use::Reserved(self.tag) {
                        *u = Use::Routed {
                            message_id: message_id.to_string(),
                            recipient_agent_id: recipient.agent_id.clone(),
                        };
                    }
                }
            }
        }
    }
}

/// ATT-009: refuse names that are path steps or device names; `Ok` carries the name as given.
fn check_filename(name: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::invalid_field(
            "filename",
            format!("filename {why} (ATT-009): send a plain file name such as `report.pdf`"),
        )
    };
    let n = name.chars().count();
    if n == 0 || n > amp_core::envelope::MAX_FILENAME_CHARS {
        return Err(bad("must be 1-255 characters"));
    }
    if name
        .chars()
        .any(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(bad("contains a path separator or control character"));
    }
    let lower = name.to_ascii_lowercase();
    if name.contains("..")
        || ["%2f", "%5c", "%2e", "%00"]
            .iter()
            .any(|s| lower.contains(s))
    {
        return Err(bad("contains `..` or a percent-encoded path step"));
    }
    let stem = sanitize_filename(name);
    let stem = stem.split('.').next().unwrap_or("").to_ascii_uppercase();
    if RESERVED_NAMES.contains(&stem.as_str()) {
        return Err(bad("is a reserved device name"));
    }
    if sanitize_filename(name).is_empty() {
        return Err(bad("has no usable characters"));
    }
    Ok(())
}

/// ATT-009 / UPL-015: the name as it may appear in `Content-Disposition`: every character
/// outside `[A-Za-z0-9._-]` becomes `_`, leading and trailing dots, spaces and underscores
/// that came from them are stripped.
pub fn sanitize_filename(name: &str) -> String {
    let trimmed = name.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let s: String = trimmed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('.').chars().take(255).collect()
}

fn valid_content_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim();
    let token = |x: &str| {
        !x.is_empty()
            && x.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    !ct.chars().any(char::is_control)
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s))
}

fn essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// UPL-002 / ATT-017: `sha256:` + 64 lowercase hex. Another algorithm prefix is 422; a
/// malformed sha256 value is 400.
fn check_digest(state: &AppState, d: &str) -> Result<(), ApiError> {
    match d.strip_prefix("sha256:") {
        Some(hex) => {
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(())
            } else {
                Err(ApiError::invalid_field(
                    "digest",
                    "digest must be `sha256:` followed by 64 lowercase hex digits (UPL-002)",
                ))
            }
        }
        None if state.has(Defect::UploadMd5Accepted)
            && d.split_once(':')
                .is_some_and(|(alg, v)| !alg.is_empty() && !v.is_empty()) =>
        {
            Ok(())
        }
        None => {
            let alg: String = d.split(':').next().unwrap_or("").chars().take(16).collect();
            Err(ApiError::new(
                422,
                "invalid_digest_algorithm",
                format!(
                    "digest algorithm `{alg}` is not supported: use `sha256:<64 lowercase hex>` (UPL-002)"
                ),
            )
            .with_field("digest"))
        }
    }
}

/// Executable formats by magic bytes (SCAN-007): ELF, MZ/PE, Mach-O (thin and fat).
pub fn executable_magic(data: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"\x7fELF", "ELF"),
        (b"MZ", "MZ/PE"),
        (b"\xfe\xed\xfa\xce", "Mach-O"),
        (b"\xfe\xed\xfa\xcf", "Mach-O"),
        (b"\xce\xfa\xed\xfe", "Mach-O"),
        (b"\xcf\xfa\xed\xfe", "Mach-O"),
        (b"\xca\xfe\xba\xbe", "Mach-O universal"),
    ];
    SIGS.iter()
        .find(|(sig, _)| data.starts_with(sig))
        .map(|(_, name)| *name)
}

/// Primary media type implied by well-known magic bytes (SCAN-001 type check).
fn magic_primary_type(data: &[u8]) -> Option<&'static str> {
    const SIGS: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"\xff\xd8\xff", "image"),
        (b"GIF87a", "image"),
        (b"GIF89a", "image"),
        (b"%PDF-", "application"),
        (b"PK\x03\x04", "application"),
        (b"\x1f\x8b", "application"),
        (b"OggS", "audio"),
        (b"ID3", "audio"),
    ];
    SIGS.iter()
        .find(|(sig, _)| data.starts_with(sig))
        .map(|(_, t)| *t)
}

/// The scan pipeline's required steps (SCAN-001, SCAN-005/006, SCAN-007). `Err` = why the
/// file is rejected.
fn scan(state: &AppState, a: &Attachment, data: &[u8]) -> Result<(), String> {
    if data.len() as u64 != a.size {
        return Err(format!(
            "size mismatch: declared {}, uploaded {}",
            a.size,
            data.len()
        ));
    }
    if let Some(hex) = a.digest.strip_prefix("sha256:")
        && hex::encode(Sha256::digest(data)) != hex
    {
        return Err("digest mismatch".into());
    }
    let ct = essence(&a.content_type);
    if BLOCKED_MIME.contains(&ct.as_str()) && !state.has(Defect::BlockedMimeAccepted) {
        return Err(format!("blocked media type {ct}"));
    }
    if !state.has(Defect::ExecutableNotRejected)
        && let Some(kind) = executable_magic(data)
    {
        return Err(format!("executable content ({kind})"));
    }
    if !data.is_empty()
        && ct != "application/octet-stream"
        && let Some(primary) = magic_primary_type(data)
        && ct.split('/').next() != Some(primary)
    {
        return Err(format!("content is {primary}/* but declared {ct}"));
    }
    Ok(())
}

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
        let a = db
            .attachments
            .by_id
            .get(id)
            .filter(|a| may_read(a, who))
            .ok_or_else(|| not_found(id))?;
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
        let a = db
            .attachments
            .by_id
            .get(id)
            .filter(|a| may_read(a, who))
            .ok_or_else(|| not_found(id))?;
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
fn not_found(id: &str) -> ApiError {
    let shown: String = id.chars().take(64).collect();
    ApiError::new(
        404,
        "attachment_not_found",
        format!("no attachment `{shown}` for this agent: ids come from POST /attachments/upload"),
    )
}

/// The `provider` attachments of a payload (entries without `storage` or with
/// `storage: "provider"`); `afp` ones are left to amp-core's shape check (RTE-011).
fn provider_attachments(payload: &Value) -> Vec<&Map<String, Value>> {
    payload
        .get("attachments")
        .and_then(Value::as_array)
        .map(|arr| {
            arr.iter()
                .filter_map(Value::as_object)
                .filter(|o| {
                    o.get("storage")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s == "provider")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Route-time attachment checks (ATT-006, RTE-006..009, ATT-011), all under one lock so two
/// concurrent routes cannot both take the same attachment. On success the attachments are
/// reserved for this route; bind or release the [`Claim`].
/// The scan status a route is judged by: the provider's own record, or under
/// `attachment-scan-status-trusted` whatever the sender wrote into the payload.
fn scan_status_for_route(
    state: &AppState,
    recorded: ScanStatus,
    o: &Map<String, Value>,
) -> ScanStatus {
    if !state.has(Defect::AttachmentScanStatusTrusted) {
        return recorded;
    }
    match o.get("scan_status").and_then(Value::as_str) {
        Some("clean") => ScanStatus::Clean,
        Some("suspicious") => ScanStatus::Suspicious,
        _ => recorded,
    }
}

pub fn claim_for_route(
    state: &AppState,
    sender: &AgentRef,
    payload: &Value,
) -> Result<Claim, ApiError> {
    let list = provider_attachments(payload);
    if list.is_empty() {
        return Ok(Claim {
            tag: 0,
            ids: Vec::new(),
        });
    }
    let max_count = state.policy().max_attachments_per_message;
    if list.len() > max_count {
        return Err(ApiError::new(
            400,
            "too_many_attachments",
            format!(
                "{} attachments: at most {max_count} per message (ATT-006)",
                list.len()
            ),
        )
        .with_field("payload.attachments"));
    }
    let now = state.clock().now_unix();
    let mut db = state.lock();
    let store = &mut db.attachments;
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    let mut total: u64 = 0;
    for (i, o) in list.iter().enumerate() {
        let field = |f: &str| format!("payload.attachments[{i}].{f}");
        let id = o.get("id").and_then(Value::as_str).unwrap_or("");
        let Some(a) = store.by_id.get(id) else {
            return Err(not_found(id).with_field(field("id")));
        };
        if a.owner_agent_id != sender.agent_id && !state.has(Defect::AttachmentForeignAccepted) {
            return Err(ApiError::forbidden(format!(
                "attachment `{id}` was not uploaded by the sender (RTE-006): upload your own copy"
            ))
            .with_field(field("id")));
        }
        if now >= a.expires_at {
            return Err(ApiError::new(
                410,
                "attachment_expired",
                format!("attachment `{id}` has expired: upload it again"),
            )
            .with_field(field("id")));
        }
        match scan_status_for_route(state, a.status, o) {
            ScanStatus::Pending if !state.has(Defect::AttachmentPendingRouted) => {
                return Err(ApiError::new(
                    409,
                    "attachment_pending",
                    format!(
                        "attachment `{id}` has not passed its scan yet (RTE-007): confirm the upload and poll GET /attachments/{{id}}"
                    ),
                )
                .with_field(field("id")));
            }
            ScanStatus::Rejected if !state.has(Defect::AttachmentRejectedRouted) => {
                return Err(ApiError::new(
                    422,
                    "attachment_rejected",
                    format!("attachment `{id}` failed the security scan (RTE-008)"),
                )
                .with_field(field("id")));
            }
            _ => {}
        }
        if !state.has(Defect::AttachmentDigestNotChecked) {
            if o.get("digest").and_then(Value::as_str) != Some(a.digest.as_str()) {
                return Err(ApiError::invalid_field(
                    &field("digest"),
                    format!("`digest` of `{id}` differs from the uploaded file's (RTE-009)"),
                ));
            }
            if o.get("size").and_then(Value::as_u64) != Some(a.size) {
                return Err(ApiError::invalid_field(
                    &field("size"),
                    format!("`size` of `{id}` differs from the uploaded file's (RTE-009)"),
                ));
            }
        }
        let reused = a.used.iter().any(|u| matches!(u, Use::Routed { .. }))
            || a.used.iter().any(|u| matches!(u, Use::Reserved(_)))
            || ids.iter().any(|x| x == id);
        if reused && !state.has(Defect::AttachmentReuseAccepted) {
            return Err(ApiError::new(
                409,
                "attachment_already_used",
                format!(
                    "attachment `{id}` is already referenced by another message (ATT-011): upload it again for a new message"
                ),
            )
            .with_field(field("id")));
        }
        total = total.saturating_add(a.size);
        ids.push(id.to_string());
    }
    if total > MAX_TOTAL_SIZE {
        return Err(ApiError::new(
            413,
            "attachment_too_large",
            format!(
                "attachments total {total} bytes: at most {MAX_TOTAL_SIZE} per message (ATT-006)"
            ),
        )
        .with_field("payload.attachments"));
    }
    store.next_claim = store.next_claim.wrapping_add(1).max(1);
    let tag = store.next_claim;
    for id in &ids {
        if let Some(a) = store.by_id.get_mut(id) {
            a.used.push(Use::Reserved(tag));
        }
    }
    Ok(Claim { tag, ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_to_the_safe_set() {
        assert_eq!(
            sanitize_filename("report final (v2).pdf"),
            "report_final__v2_.pdf"
        );
        assert_eq!(sanitize_filename("..hidden. "), "hidden");
        assert_eq!(sanitize_filename("a\"b;c.txt"), "a_b_c.txt");
        assert_eq!(sanitize_filename("résumé.txt"), "r_sum_.txt");
    }

    #[test]
    fn filename_rules() {
        for bad in [
            "../x",
            "a/b",
            "a\\b",
            "CON",
            "con.txt",
            "LPT1.log",
            "a%2Fb",
            "bell\u{7}",
            "",
            "..",
        ] {
            assert!(check_filename(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["puma.log", "report final.pdf", "résumé.txt", "CONFIG.txt"] {
            assert!(check_filename(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn magic_detection() {
        assert_eq!(executable_magic(b"\x7fELF\x02\x01"), Some("ELF"));
        assert_eq!(executable_magic(b"MZ\x90\x00"), Some("MZ/PE"));
        assert_eq!(executable_magic(b"\xcf\xfa\xed\xfe"), Some("Mach-O"));
        assert_eq!(executable_magic(b"hello"), None);
        assert_eq!(magic_primary_type(b"%PDF-1.7"), Some("application"));
        assert_eq!(magic_primary_type(b"plain"), None);
    }

    #[test]
    fn content_types() {
        assert!(valid_content_type("text/plain; charset=utf-8"));
        assert!(!valid_content_type("text"));
        assert!(!valid_content_type("text/pl ain"));
        assert_eq!(essence("Application/X-SH; q=1"), "application/x-sh");
    }
}
