//! Steps for the attacks on identity and authority: a provider domain no target hosts, the twin
//! of an address on it, and the WebSocket frame about a given message.

use amp_runner::{Agent, Failure, WsEvent};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A provider domain no target hosts (RFC 2606 `.invalid`).
pub(crate) const ELSEWHERE: &str = "amp-elsewhere.invalid";

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
