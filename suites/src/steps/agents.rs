//! Agent endpoints (spec 08 Get Current Agent, Update Agent, List Agents, Resolve; 03 Updating
//! Registration).
//!
//! Agents are registered fresh per case; what the provider returns is compared with what the
//! case registered (address, key, alias), never with provider-specific values.

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
