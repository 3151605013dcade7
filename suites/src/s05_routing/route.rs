//! The route endpoint (spec 05 › Route Request, Routing Algorithm; 08 Send Message options): a
//! correct signed message is accepted with the documented response, and route options are
//! honoured.

use crate::steps::refusal::code;
use crate::steps::routing::{delivered, route_id, subject};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, expect, fail, pass};
use serde_json::json;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[OPTIONS_RECEIPT, ROUTE_ACCEPTED];

#[case(
    id = "route.options.receipt",
    title = "The documented `options.receipt` is accepted",
    clauses = ["RTE-024"],
    level = Must,
    expect = "A route body with `options: {receipt: true}` is accepted; how a \
              non-boolean `receipt` or an unknown option is treated is reported \
              (nothing requires refusing them).",
)]
async fn options_receipt(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "receipt true"))
        .field("options", json!({"receipt": true}))
        .signed()?;
    let resp = ctx.route(&a, &body).await?;
    if !resp.is_success() {
        return fail(format!(
            "a signed message with the documented `options: {{receipt: true}}` was refused \
             (HTTP {} {}); `receipt` is the one option a route body carries (RTE-024)",
            resp.status,
            code(&resp)
        ));
    }
    // Nothing requires refusing other values: what the provider does with them is reported.
    let mut seen = Vec::new();
    for (what, options) in [
        (
            "a non-boolean `receipt` (\"yes\")",
            json!({"receipt": "yes"}),
        ),
        (
            "an unknown option next to `receipt`",
            json!({"receipt": false, "amp_conformance_unknown": true}),
        ),
    ] {
        let body = ctx
            .message(&a, &b.address)
            .subject(subject(ctx, "options variant"))
            .field("options", options)
            .signed()?;
        let resp = ctx.route(&a, &body).await?;
        if resp.status >= 500 {
            return fail(format!(
                "{what} answered HTTP {}: a provider validates or ignores options, it never \
                 breaks on them (RTE-024)",
                resp.status
            ));
        }
        seen.push(format!(
            "{what}: {}",
            if resp.is_success() {
                "accepted".to_string()
            } else {
                format!("refused with HTTP {} {}", resp.status, code(&resp))
            }
        ));
    }
    ctx.note(format!(
        "options.receipt true accepted; {} (RTE-024 defines only a boolean `receipt` and \
         requires no refusal of other values)",
        seen.join("; ")
    ));
    pass()
}

/// RTE-003 status values.
const ROUTE_STATUSES: [&str; 4] = ["delivered", "queued", "quarantined", "failed"];

/// RTE-003 method values.
const ROUTE_METHODS: [&str; 5] = ["websocket", "webhook", "relay", "mesh", "local"];

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

#[case(
    id = "route.accepted",
    title = "A signed message to a registered agent is accepted and queued",
    clauses = ["RTE-002", "RTE-003"],
    level = Must,
    expect = "POST /route answers 200 {id, status, method} with spec values and the \
              recipient finds the message in its pending queue.",
)]
async fn route_accepted(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let s = subject(ctx, "accepted");
    let body = ctx.message(&a, &b.address).subject(s).signed()?;
    let resp = ctx.route(&a, &body).await?;
    expect::status(&resp, 200)?;
    let id = route_id(&resp)?;
    let status = expect::json_str(&resp, "/status")?;
    expect::that(
        ROUTE_STATUSES.contains(&status),
        format!("route `status` is `{status}`, not one of {ROUTE_STATUSES:?} (RTE-003)"),
    )?;
    let method = expect::json_str(&resp, "/method")?;
    expect::that(
        ROUTE_METHODS.contains(&method),
        format!("route `method` is `{method}`, not one of {ROUTE_METHODS:?} (RTE-003)"),
    )?;
    if let Some(d) = resp.pointer("/delivered_at") {
        expect::that(
            d.is_string() || d.is_null(),
            "route `delivered_at` is present but not a timestamp string (RTE-003)",
        )?;
    }
    delivered(ctx, &b, &id).await?;
    pass()
}
