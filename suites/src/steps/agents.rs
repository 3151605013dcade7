//! Steps for the agent endpoints: resolving an address as a given agent, and run-unique aliases
//! a case can recognise as its own change.

use amp_runner::{Agent, Ctx, Failure};

/// `GET /agents/resolve/{address}` as `by`.
pub(crate) async fn resolve(
    ctx: &mut Ctx,
    by: &Agent,
    address: &str,
) -> Result<amp_runner::Resp, Failure> {
    ctx.get(&format!("/agents/resolve/{address}"), Some(by))
        .await
}

/// A run-unique alias, so a case can recognise its own change.
pub(crate) fn alias(ctx: &Ctx, what: &str) -> String {
    format!("amp-conformance {what} {}", ctx.unique_name("alias"))
}
