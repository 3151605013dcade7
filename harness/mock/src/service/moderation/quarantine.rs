//! The quarantine as the admin sees it (spec 08 › Quarantine Management, ADM-002..005,
//! QTN-004/006): pages by status, one entry with its message, approval (delivery as if the
//! message had just arrived) and rejection. Decisions are final.

use crate::defects::Defect;
use crate::error::ApiError;
use crate::service::AppState;
use crate::store::moderation::{ModerationStore, QEntry, QStatus};
use serde_json::{Value, json};

impl AppState {
    /// One page of the quarantine entries with `status`, after the cursor `after` (ADM-002).
    pub(crate) fn quarantine_page(
        &self,
        status: QStatus,
        limit: usize,
        after: Option<u64>,
    ) -> Value {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        db.moderation.expire(now);
        let matching: Vec<&QEntry> = db
            .moderation
            .quarantine
            .values()
            .filter(|e| e.status == status)
            .collect();
        let total = matching.len();
        let page: Vec<&QEntry> = matching
            .into_iter()
            .filter(|e| after.is_none_or(|a| e.seq > a))
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        let page = &page[..page.len().min(limit)];
        let items: Vec<Value> = page.iter().map(|e| Value::Object(e.metadata())).collect();
        let next = if more {
            page.last().map(|e| json!(e.seq.to_string()))
        } else {
            None
        };
        let body = json!({
            "items": items,
            "count": page.len(),
            "total": total,
            "next_cursor": next.unwrap_or(Value::Null),
        });
        body
    }

    /// One quarantine entry with its held message (ADM-003).
    pub(crate) fn quarantine_entry(&self, id: &str) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        db.moderation.expire(now);
        let e = entry_mut(&mut db.moderation, id)?;
        let mut m = e.metadata();
        m.insert(
            "message".into(),
            json!({
                "envelope": serde_json::to_value(&e.envelope).unwrap_or(Value::Null),
                "payload": e.payload,
            }),
        );
        Ok(Value::Object(m))
    }

    /// Approve a pending entry and deliver its message as if it just arrived (ADM-004).
    pub(crate) fn approve_quarantined(&self, id: &str) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        let entry = {
            let mut db = self.lock();
            db.moderation.expire(now);
            let e = entry_mut(&mut db.moderation, id)?;
            let reopen = e.status == QStatus::Rejected && self.has(Defect::QuarantineReopen);
            if e.status != QStatus::Pending && !reopen {
                return Err(not_pending(e));
            }
            e.status = QStatus::Approved;
            e.clone()
        };
        let delivered = self.deliver(
            &entry.recipient,
            Some(&entry.sender.agent_id),
            entry.envelope.clone(),
            entry.payload.clone(),
            entry.trust,
            entry.receipt,
        );
        match delivered {
            Ok(outcome) => Ok(json!({
                "quarantine_id": entry.id,
                "status": "approved",
                "message_id": outcome.id,
                "delivered": outcome.status == "delivered",
                "method": outcome.method,
            })),
            Err(err) => {
                // Not delivered: the decision is undone so the admin can retry.
                let mut db = self.lock();
                if let Ok(e) = entry_mut(&mut db.moderation, id) {
                    e.status = QStatus::Pending;
                }
                Err(err)
            }
        }
    }

    /// Reject a pending entry: its message is never delivered (ADM-005).
    pub(crate) fn reject_quarantined(&self, id: &str) -> Result<Value, ApiError> {
        let now = self.clock().now_unix();
        let mut db = self.lock();
        db.moderation.expire(now);
        let e = entry_mut(&mut db.moderation, id)?;
        if e.status != QStatus::Pending {
            return Err(not_pending(e));
        }
        e.status = QStatus::Rejected;
        let body = json!({"quarantine_id": e.id, "status": "rejected"});
        Ok(body)
    }
}

fn entry_mut<'a>(store: &'a mut ModerationStore, id: &str) -> Result<&'a mut QEntry, ApiError> {
    let seq = store
        .by_id
        .get(id)
        .copied()
        .ok_or_else(|| ApiError::not_found(format!("no quarantine entry `{id}`")))?;
    store
        .quarantine
        .get_mut(&seq)
        .ok_or_else(|| ApiError::not_found(format!("no quarantine entry `{id}`")))
}

/// QTN-004: approve/reject only act on `pending`.
fn not_pending(e: &QEntry) -> ApiError {
    if e.status == QStatus::Expired {
        ApiError::new(
            410,
            "quarantine_expired",
            "this quarantine entry expired (72 h TTL) and its message will never be delivered",
        )
    } else {
        ApiError::new(
            409,
            "quarantine_not_pending",
            format!(
                "this quarantine entry is already `{}`; decisions are final",
                e.status.as_str()
            ),
        )
    }
}
