//! Route-time attachment checks (ATT-006, ATT-011, RTE-006..009): the `provider` attachments a
//! message references must be the sender's, unexpired, scanned clean, match their upload and
//! be used by no other message. They are reserved while the route runs ([`Claim`]).

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::service::attachments::not_found;
use crate::store::attachments::{ScanStatus, Use};
use crate::wire::AgentRef;
use serde_json::{Map, Value};

/// ATT-006: largest total of one message's attachments (100 MiB).
pub const MAX_TOTAL_SIZE: u64 = 104_857_600;

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

/// Route-time attachment checks (ATT-006, RTE-006..009, ATT-011), all under one lock so two
/// concurrent routes cannot both take the same attachment. On success the attachments are
/// reserved for this route; bind or release the [`Claim`].
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
