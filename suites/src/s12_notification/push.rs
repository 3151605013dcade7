//! notify:v1 on the WebSocket (spec 12.4, 12.5, 12.7): replayed messages are marked, an ack of
//! another agent's message changes nothing, and the capability tokens `/info` advertises.

use crate::steps::authority::frame_about;
use crate::steps::relay::queued;
use crate::steps::routing::{in_queue, route_ok, subject};
use crate::steps::websocket::{connect_as, frame_message_id, quiet_window};
use amp_case_attr::case;
use amp_runner::{Case, CaseResult, Ctx, Outcome, expect, fail, pass};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The cases of this module, in the order they are written.
pub(crate) const CASES: &[Case] = &[WS_ACK_FOREIGN, CAPABILITIES_NOTIFY, WS_REPLAY_MARKED];

#[case(
    id = "ws.ack.foreign",
    title = "A WebSocket ack cannot remove another agent's message",
    clauses = ["NOTIFY-009", "WS-008"],
    level = Must,
    expect = "`message.ack` and `ack` frames naming another agent's message id leave it \
              in that agent's queue.",
)]
async fn ws_ack_foreign(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let victim = ctx.agent().await?;
    let intruder = ctx.agent().await?;
    let id = queued(ctx, &a, &victim, "ws ack target").await?;
    let mut conn = ctx.ws(&intruder).await?;
    for frame in [
        json!({"type": "message.ack", "id": id}),
        json!({"type": "ack", "id": id}),
    ] {
        conn.send_json(&frame).await?;
    }
    // Any answer (an error frame, or nothing) is fine; what counts is the owner's queue.
    let window = ctx.timing().observe_window;
    ctx.need_time(window);
    frame_about(&mut conn, "error", &id, window).await;
    conn.close().await;
    expect::that(
        in_queue(ctx, &victim, &id).await?,
        format!(
            "another agent's WebSocket ack of message {id} removed it from its recipient's \
             queue: acks are scoped to the authenticated agent (NOTIFY-009, WS-008)"
        ),
    )?;
    let own = ctx.ack(&victim, &id).await?;
    expect::success(&own)?;
    pass()
}

#[case(
    id = "discovery.capabilities.notify",
    title = "notify:* tokens are advertised only with the behaviour behind them",
    clauses = ["NOTIFY-017"],
    level = Must,
    expect = "With notify:v1 the route response has a basis, /messages/pending/count \
              answers and unknown cursors get 410 cursor_expired; with notify:longpoll \
              ?wait=1 returns within the wait.",
)]
async fn capabilities_notify(ctx: &mut Ctx) -> CaseResult {
    let v1 = ctx.has_capability("notify:v1");
    let longpoll = ctx.has_capability("notify:longpoll");
    if !v1 && !longpoll {
        return Ok(Outcome::Info(
            "the target advertises neither notify:v1 nor notify:longpoll; nothing to hold it to"
                .to_string(),
        ));
    }
    let mut problems = Vec::new();
    if longpoll && !v1 {
        problems.push(
            "notify:longpoll is advertised without notify:v1 (the long-poll form extends 12.3)"
                .to_string(),
        );
    }
    if v1 {
        let a = ctx.agent().await?;
        let b = ctx.agent().await?;
        // 12.2: route responses carry a delivery basis.
        let body = ctx
            .message(&a, &b.address)
            .subject(crate::steps::routing::subject(ctx, "notify capability"))
            .signed()?;
        let resp = ctx.route(&a, &body).await?;
        expect::success(&resp)?;
        match resp.pointer("/basis").and_then(Value::as_str) {
            Some("mailbox_written" | "socket_written" | "webhook_2xx" | "queued") => {}
            other => problems.push(format!(
                "notify:v1 is advertised but the route response `basis` is {other:?} \
                 (NOTIFY-001)"
            )),
        }
        // 12.3: count endpoint.
        let count = ctx.get("/messages/pending/count", Some(&b)).await?;
        if count.status != 200 {
            problems.push(format!(
                "notify:v1 is advertised but GET /messages/pending/count answered HTTP {} \
                 (NOTIFY-004)",
                count.status
            ));
        } else if !count.pointer("/count").is_some_and(Value::is_number) {
            problems.push(
                "notify:v1 is advertised but /messages/pending/count has no numeric `count` \
                 (NOTIFY-004)"
                    .to_string(),
            );
        }
        // 12.3: an unknown cursor is refused as expired.
        let stale = ctx
            .get("/messages/pending?after=ampc-no-such-cursor", Some(&b))
            .await?;
        if stale.status == 410 {
            crate::steps::refusal::code_matches(ctx, &stale, "cursor_expired", "NOTIFY-007");
        } else {
            problems.push(format!(
                "notify:v1 is advertised but an unknown `after` cursor answered HTTP {} {} \
                 instead of 410 cursor_expired (NOTIFY-007)",
                stale.status,
                stale.error_code().unwrap_or("")
            ));
        }
    }
    if longpoll {
        // The long-poll form returns within the requested wait (plus transport slack).
        let c = ctx.agent().await?;
        let started = Instant::now();
        let resp = ctx.get("/messages/pending?wait=1", Some(&c)).await?;
        let took = started.elapsed();
        if resp.status != 200 || !resp.pointer("/messages").is_some_and(Value::is_array) {
            problems.push(format!(
                "notify:longpoll is advertised but GET /messages/pending?wait=1 answered HTTP {} \
                 without a `messages` array (NOTIFY-008)",
                resp.status
            ));
        } else if took > Duration::from_secs(6) {
            problems.push(format!(
                "notify:longpoll: ?wait=1 on an empty queue took {} ms (NOTIFY-008 holds at most \
                 the requested seconds)",
                took.as_millis()
            ));
        }
    }
    expect::no_problems(
        &problems,
        "capability tokens promise more than the target does (NOTIFY-017)",
    )
}

#[case(
    id = "ws.replay.marked",
    title = "Queued messages replayed on connect are marked replay:true",
    clauses = ["NOTIFY-012", "WS-003"],
    level = Must,
    needs = [Capability("notify:v1")],
    expect = "On connect the unacknowledged queued message is replayed as \
              `message.new` with `replay: true`, the acknowledged one is not, and \
              pending_count counts it.",
)]
async fn ws_replay_marked(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let keep = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "replay keep"))
        .signed()?;
    let keep_id = route_ok(ctx, &a, &keep, "a message to an offline agent").await?;
    let gone = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "replay acked"))
        .signed()?;
    let gone_id = route_ok(ctx, &a, &gone, "a second message to an offline agent").await?;
    crate::steps::routing::delivered(ctx, &b, &keep_id).await?;
    crate::steps::routing::delivered(ctx, &b, &gone_id).await?;
    let resp = ctx.ack(&b, &gone_id).await?;
    expect::success(&resp)?;

    let (mut conn, connected) = connect_as(ctx, &b).await?;
    let count = connected
        .pointer("/data/pending_count")
        .and_then(Value::as_u64);
    // Read everything the provider replays right after `connected`.
    let mut replayed = Vec::new();
    loop {
        let ev = conn
            .recv(quiet_window(ctx).max(Duration::from_secs(2)))
            .await;
        match ev.frame_type() {
            Some("message.new") => {
                if let Some(v) = ev.json() {
                    replayed.push(v.clone());
                }
                if replayed
                    .iter()
                    .any(|f| frame_message_id(f) == Some(keep_id.as_str()))
                {
                    // Give an acked replay a moment to show up too.
                    let more = conn.recv_type("message.new", quiet_window(ctx)).await;
                    if let Some(v) = more.json() {
                        replayed.push(v.clone());
                    }
                    break;
                }
            }
            Some(_) => {}
            None => break,
        }
    }
    conn.close().await;
    if replayed
        .iter()
        .any(|f| frame_message_id(f) == Some(gone_id.as_str()))
    {
        return fail(format!(
            "message {gone_id} was acknowledged before connecting but was replayed \
             (NOTIFY-012)"
        ));
    }
    let Some(frame) = replayed
        .iter()
        .find(|f| frame_message_id(f) == Some(keep_id.as_str()))
    else {
        return fail(format!(
            "the unacknowledged message {keep_id} was not replayed as `message.new` after \
             `connected` (NOTIFY-012)"
        ));
    };
    if frame.pointer("/data/replay") != Some(&Value::Bool(true)) {
        return fail(format!(
            "the replayed message {keep_id} lacks `\"replay\": true` (NOTIFY-012; an unmarked \
             second delivery is a duplicate, C-74)"
        ));
    }
    if count != Some(1) {
        return fail(format!(
            "`connected` reported pending_count {count:?} with exactly one unacknowledged \
             message queued (WS-003)"
        ));
    }
    pass()
}
