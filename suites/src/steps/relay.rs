//! Steps for the relay queue: route a message and wait until it is queued, and the ids of a
//! pending list.

use crate::steps::routing::{delivered, entry_id, route_ok, subject};
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
