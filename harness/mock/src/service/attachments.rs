//! Attachment rules (spec 08 "Attachments", 04 attachment rules, 07 scanning pipeline).
//!
//! Flow: `POST {base}/attachments/upload` records the declared metadata and hands out a
//! single-use presigned `PUT` URL that points back at this mock; the bytes land in memory;
//! `POST {base}/attachments/{id}/confirm` runs the scan; `GET {base}/attachments/{id}` reports
//! the status; `GET {base}/attachments/{id}/download` redirects to a signed, credential-free
//! URL (FED-008) that serves the bytes with safe download headers (UPL-015/016).
//!
//! Route-time checks ([`claim_for_route`], called by `AppState::route`) enforce RTE-006..009,
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
use crate::service::AppState;
use crate::store::attachments::{Attachment, ScanStatus, Use};
use crate::wire::AgentRef;
use serde_json::{Map, Value};
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
pub(crate) fn check_filename(name: &str) -> Result<(), ApiError> {
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

pub(crate) fn valid_content_type(ct: &str) -> bool {
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

pub(crate) fn essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// UPL-002 / ATT-017: `sha256:` + 64 lowercase hex. Another algorithm prefix is 422; a
/// malformed sha256 value is 400.
pub(crate) fn check_digest(state: &AppState, d: &str) -> Result<(), ApiError> {
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
pub(crate) fn scan(state: &AppState, a: &Attachment, data: &[u8]) -> Result<(), String> {
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

/// 404 for an attachment id the caller may not see (or that does not exist).
pub(crate) fn not_found(id: &str) -> ApiError {
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
