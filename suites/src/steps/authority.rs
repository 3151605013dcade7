//! Attacks from every position on the inputs that carry identity or authority: a registration
//! of an existing name, key rotation and revocation, the recipient's provider in `to`, the mesh
//! header of spec 06a, and the ack / read / pickup of a message. Each case tries the input unauthenticated, as another
//! registered agent, and with an empty or malformed body where there is one, and then shows,
//! with a request signed by the rightful owner, that nothing changed (keys, API keys, queues,
//! deliveries). A control by the owner at the end proves the ids and paths were the right ones.
//!
//! Federation deliveries from a made-up provider (no peer configuration needed) live with the
//! other federation cases (`federation.deliver.no-peer`).

use crate::{steps::routing::entry_id, steps::routing::pending_list};
use amp_runner::{Agent, Ctx, Failure, WsEvent};
use serde_json::Value;
use std::{time::Duration, time::Instant};

/// A provider domain no target hosts (RFC 2606 `.invalid`).
pub(crate) const ELSEWHERE: &str = "amp-elsewhere.invalid";

/// Whether message `id` is still in `owner`'s queue (the owner's own signed view).
pub(crate) async fn still_queued(ctx: &mut Ctx, owner: &Agent, id: &str) -> Result<bool, Failure> {
    let msgs = pending_list(ctx, owner, "").await?;
    Ok(msgs.iter().any(|m| entry_id(m) == Some(id)))
}

// ------------------------------------------------------------------------------------------
// `to` on another provider never lands in a local inbox (RTE-023)
// ------------------------------------------------------------------------------------------

/// `b`'s own name and tenant on a provider this target is not.
pub(crate) fn elsewhere_twin(b: &Agent) -> Result<String, Failure> {
    let Some((name, _)) = b.address.split_once('@') else {
        return Err(Failure::Error(format!(
            "registered address `{}` has no @",
            b.address
        )));
    };
    Ok(format!("{name}@{}.{ELSEWHERE}", b.tenant))
}

/// Wait up to `window` for a frame of type `kind` about message `id` on `conn`.
pub(crate) async fn frame_about(
    conn: &mut amp_runner::WsConn,
    kind: &str,
    id: &str,
    window: Duration,
) -> bool {
    let deadline = Instant::now() + window;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ev = conn.recv(left).await;
        match &ev {
            WsEvent::Text { .. } => {
                let about = ev
                    .json()
                    .and_then(|f| f.pointer("/data/id"))
                    .and_then(Value::as_str)
                    == Some(id);
                if about && ev.frame_type() == Some(kind) {
                    return true;
                }
            }
            WsEvent::Binary(_) => {}
            WsEvent::Closed { .. } | WsEvent::Timeout | WsEvent::Error(_) => return false,
        }
    }
}
