//! Relay queue (spec 05 Pickup / Acknowledging) and the notify:v1 extension (spec 12:
//! count, cursors, long-poll, idempotent ack, read receipts that do not ack).
//!
//! Every case uses fresh recipients, so the recipient's queue holds exactly the messages the
//! case routed; notify cases are gated on the capability tokens the target advertises in
//! `/v1/info` (NOTIFY-017) and never assumed.

use crate::{
    steps::routing::delivered, steps::routing::entry_id, steps::routing::route_ok,
    steps::routing::subject,
};
use amp_runner::{Agent, Ctx, Failure};
use serde_json::Value;

/// Route one signed message from `a` to `b`, wait until it is queued, return its id.
pub(crate) async fn queued(
    ctx: &mut Ctx,
    a: &Agent,
    b: &Agent,
    what: &str,
) -> Result<String, Failure> {
    let body = ctx
        .message(a, &b.address)
        .subject(subject(ctx, what))
        .signed()?;
    let id = route_ok(ctx, a, &body, what).await?;
    delivered(ctx, b, &id).await?;
    Ok(id)
}

pub(crate) fn ids(msgs: &[Value]) -> Vec<&str> {
    msgs.iter().filter_map(entry_id).collect()
}
