//! Replay protection (spec 07 › Replay Protection): a message id is delivered once, a replayed or
//! far-future federated delivery is refused.

use crate::steps::federation::{Auth, Draft, baseline, deliver, now_unix, post, prepare, setup};
use crate::steps::refusal::refused as refused_with;
use crate::steps::routing::{delivered, entry_id, not_delivered, pending_list, route_ok, subject};
use amp_case_attr::case;
use amp_runner::{Agent, Case, CaseResult, Ctx, Failure, expect, fail, pass};
use std::time::Duration;

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[
    FEDERATION_REPLAY,
    FEDERATION_FUTURE_TIMESTAMP,
    ROUTE_SINGLE_DELIVERY,
];

/// REPLAY-003: envelopes more than 60 s ahead are refused; the case uses ten times that so
/// ordinary clock skew between suite and target cannot decide it.
const FUTURE_SKEW_SECS: i64 = 600;

/// Entries in `agent`'s queue with message id `id`.
async fn copies(ctx: &mut Ctx, agent: &Agent, id: &str) -> Result<usize, Failure> {
    let msgs = pending_list(ctx, agent, "").await?;
    Ok(msgs.iter().filter(|m| entry_id(m) == Some(id)).count())
}

#[case(
    id = "federation.replay",
    title = "A re-delivered federated envelope is not delivered twice",
    clauses = ["REPLAY-005"],
    level = Must,
    needs = [FederationPeer],
    expect = "Replaying a forward verbatim and re-sending it freshly signed leaves \
              exactly one copy of the envelope id in the recipient's queue.",
)]
async fn federation_replay(ctx: &mut Ctx) -> CaseResult {
    let (b, p, s) = setup(ctx).await?;
    let d = Draft::new(ctx, &s, &b, "replayed");
    let (body, id) = d.body(ctx)?;
    let (wire, _) = baseline(ctx, &p, &body, "a federated message").await?;
    delivered(ctx, &b, &id).await?;

    // The same request again, byte for byte (a captured request replayed) ...
    let req = prepare(
        &p.provider,
        &body,
        wire,
        Auth::Signed {
            key: &p.key,
            offset: 0,
        },
    );
    let again = post(ctx, &req).await?;
    ctx.note(format!(
        "verbatim replay answered HTTP {} {:?}",
        again.status,
        again.error_code()
    ));
    // ... and re-signed by the peer with a fresh timestamp (a peer retrying).
    let resent = deliver(ctx, &p, &body, wire).await?;
    ctx.note(format!(
        "re-signed re-delivery answered HTTP {} {:?}",
        resent.status,
        resent.error_code()
    ));
    let n = copies(ctx, &b, &id).await?;
    if n > 1 {
        return fail(format!(
            "the envelope {id} was delivered {n} times to the same recipient (REPLAY-005)"
        ));
    }
    expect::that(
        n == 1,
        format!("the first delivery of {id} vanished from the recipient's queue"),
    )?;
    for r in [&again, &resent] {
        if !r.is_success() && !(400..500).contains(&r.status) {
            return fail(format!(
                "a re-delivered envelope was answered HTTP {} (expected a 4xx refusal such as \
                 409 duplicate_message, or an accepted-and-dropped 2xx)",
                r.status
            ));
        }
    }
    pass()
}

#[case(
    id = "federation.future-timestamp",
    title = "Envelopes dated more than 60 s ahead are refused",
    clauses = ["REPLAY-003"],
    level = Must,
    needs = [FederationPeer],
    expect = "A forward whose envelope timestamp is 10 minutes in the future answers \
              400 timestamp_future and is not delivered.",
)]
async fn federation_future_timestamp(ctx: &mut Ctx) -> CaseResult {
    let (b, p, s) = setup(ctx).await?;
    let (body, _) = Draft::new(ctx, &s, &b, "timestamp baseline").body(ctx)?;
    let (wire, _) = baseline(ctx, &p, &body, "a federated message").await?;
    let mut d = Draft::new(ctx, &s, &b, "future timestamp");
    d.timestamp = now_unix().saturating_add(FUTURE_SKEW_SECS);
    let (body, _) = d.body(ctx)?;
    let resp = deliver(ctx, &p, &body, wire).await?;
    if resp.is_success() {
        return fail(format!(
            "a forward whose envelope timestamp is {FUTURE_SKEW_SECS} s in the future was \
             accepted (HTTP {}); more than 60 s ahead must be refused (REPLAY-003)",
            resp.status
        ));
    }
    not_delivered(ctx, &b, &d.subject, "REPLAY-003").await?;
    refused_with(ctx, &resp, 400, "timestamp_future", "REPLAY-003")?;
    pass()
}

#[case(
    id = "route.single-delivery",
    title = "A routed message is queued exactly once",
    clauses = ["REPLAY-005"],
    level = Must,
    expect = "After one route the recipient's queue holds exactly one entry with that \
              message id.",
)]
async fn route_single_delivery(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "once"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "the message").await?;
    delivered(ctx, &b, &id).await?;
    // Give a provider with asynchronous fan-out a moment to produce a second copy.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let copies = pending_list(ctx, &b, "")
        .await?
        .iter()
        .filter(|m| entry_id(m) == Some(id.as_str()))
        .count();
    expect::that(
        copies == 1,
        format!(
            "message {id} is in the recipient's queue {copies} times; a provider never delivers \
             the same id twice (REPLAY-005)"
        ),
    )?;
    pass()
}
