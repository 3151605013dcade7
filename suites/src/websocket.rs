//! WebSocket delivery (spec 05 "WebSocket Delivery", 08 "WebSocket API", 12.5 replay).
//!
//! Every case opens its own sockets at `{base}/ws`. Positive cases authenticate with the
//! first-frame `auth` message (WS-002) and check the frames the provider sends; negative cases
//! first show that the same agent authenticates normally, so a target whose WebSocket endpoint is
//! simply broken cannot pass them. An auth frame sent right after the upgrade that gets no
//! `connected` is tried once more on a new socket half a second later: a provider that loses
//! such frames fails `ws.auth.connected` for it, and the other cases still judge their own clause.
//!
//! Timing: the spec gives the provider 10 s to close an unauthenticated socket (WS-004). Cases
//! wait the run's declared auth timeout (`ctx.timing().ws_auth_timeout`: the spec's 10 s, the
//! embedded mock's 1 s, or a `[timing]` section of `--config`) plus a margin, and finish as soon
//! as the close arrives; only a provider that never closes costs the full window (12 s at the
//! spec's figure, 2 s against the embedded mock). `ping` waits `ws_pong_wait`; windows that watch
//! for an error frame that must not come are `observe_window` long.

use crate::routing::{entry_id, pending_list, route_ok, subject};
use amp_client::{ClientError, WsConn};
use amp_runner::{
    Agent, Case, CaseResult, Ctx, Failure, Level, Need, Outcome, Prereq, Section, WsEvent,
};
use amp_runner::{Timing, expect, fail, pass};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The deadline for a close the spec requires (auth timeout, invalid token, non-auth frame):
/// the declared WS-004 auth timeout. A provider that keeps a socket open longer than its own
/// auth deadline has broken WS-004 too.
fn close_wait(ctx: &Ctx) -> Duration {
    ctx.timing().ws_auth_timeout
}

/// How long to look for an `error` frame after a frame the provider should accept silently
/// (no success frame is defined for `route` or `message.ack`): the run's observation window,
/// not a spec deadline.
fn quiet_window(ctx: &Ctx) -> Duration {
    ctx.timing().observe_window
}
/// How long a correct provider may take to push a routed message to a live socket.
const PUSH_WAIT: Duration = Duration::from_secs(5);
/// Subprotocol of WS-010.
const SUBPROTOCOL: &str = "amp.v1";

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

/// Short description of a WebSocket event for failure messages.
fn describe(ev: &WsEvent) -> String {
    match ev {
        WsEvent::Text { raw, .. } => {
            let cut: String = raw.chars().take(200).collect();
            format!("the frame {cut}")
        }
        WsEvent::Binary(b) => format!("a binary frame of {} bytes", b.len()),
        WsEvent::Closed { code, reason } => format!("a close (code {code:?}, reason {reason:?})"),
        WsEvent::Timeout => "nothing".to_string(),
        WsEvent::Error(e) => format!("a transport error ({e})"),
    }
}

/// Open a socket offering `amp.v1`, without authenticating.
async fn open(ctx: &mut Ctx) -> Result<WsConn, Failure> {
    ctx.ws_raw(&[SUBPROTOCOL]).await
}

/// Open a socket and wait `pause` before handing it back (see [`SETTLE_PAUSE`]).
async fn open_settled(ctx: &mut Ctx, pause: Duration) -> Result<WsConn, Failure> {
    let conn = open(ctx).await?;
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
    Ok(conn)
}

/// What the provider sent before closing a socket it had to close.
#[derive(Debug, Default)]
struct Closed {
    /// `error` field of the error frame sent before the close, if any.
    error_code: Option<String>,
    /// Whether an `error` frame arrived at all.
    error_frame: bool,
}

/// Read frames until the socket closes. `connected`, `message.new` or `pong` mean the
/// provider treated the socket as authenticated: a failure naming `clause`.
/// The close is awaited for `due` ([`close_wait`]) plus [`Timing::margin`].
async fn expect_close(
    ctx: &Ctx,
    conn: &mut WsConn,
    due: Duration,
    clause: &str,
    what: &str,
) -> Result<Closed, Failure> {
    let wait = Timing::with_margin(due);
    ctx.need_time(wait);
    let deadline = Instant::now() + wait;
    let mut out = Closed::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = conn.recv(left).await;
        match &ev {
            WsEvent::Closed { .. } | WsEvent::Error(_) => return Ok(out),
            WsEvent::Timeout => {
                return fail(format!(
                    "{what}: the socket was still open {:.1} s later ({clause} requires the \
                     provider to close it; the declared auth timeout is {:.1} s)",
                    wait.as_secs_f64(),
                    due.as_secs_f64()
                ));
            }
            WsEvent::Text { .. } => match ev.frame_type() {
                Some("error") => {
                    out.error_frame = true;
                    out.error_code = ev
                        .json()
                        .and_then(|v| v.get("error"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                Some(t @ ("connected" | "message.new" | "pong")) => {
                    return fail(format!(
                        "{what}: the provider answered with a `{t}` frame, i.e. treated the \
                         socket as authenticated ({clause})"
                    ));
                }
                _ => {
                    return fail(format!(
                        "{what}: expected an error frame and a close, got {} ({clause})",
                        describe(&ev)
                    ));
                }
            },
            WsEvent::Binary(_) => {
                return fail(format!(
                    "{what}: expected an error frame and a close, got {} ({clause})",
                    describe(&ev)
                ));
            }
        }
    }
}

/// Pause before the second `auth` attempt when the first one, sent right after the upgrade, got
/// no `connected`. It tells a provider that loses frames arriving before its handler is ready
/// from one that never authenticates, so the cases behind the baseline still judge their own
/// clause (issue #9 item 6). Cases that judge what the provider does with a wrong first frame
/// also wait this long before sending it: a frame the provider never saw proves nothing, and
/// `ws.auth.connected` reports the lost frames on their own.
const SETTLE_PAUSE: Duration = Duration::from_millis(500);

/// An authenticated socket, its `connected` frame, and how it was obtained.
struct Session {
    conn: WsConn,
    connected: Value,
    /// Set when the auth frame sent right after the upgrade was lost and the same frame sent
    /// [`SETTLE_PAUSE`] later was answered: what happened, for `ws.auth.connected` to report.
    early_frame_lost: Option<String>,
}

/// Immediate auth attempts `ws.auth.connected` makes: the loss is a race on some providers, so
/// one lucky socket does not clear it. Each attempt that is answered at once costs milliseconds.
const EARLY_FRAME_TRIES: usize = 3;

/// Open a socket, wait `pause`, send `agent`'s auth frame and return the first answer.
async fn auth_attempt(
    ctx: &mut Ctx,
    agent: &Agent,
    pause: Duration,
) -> Result<(WsConn, WsEvent), Failure> {
    let mut conn = open_settled(ctx, pause).await?;
    conn.send_json(&json!({"type": "auth", "token": agent.api_key.expose()}))
        .await?;
    let ev = conn.recv(ctx.request_timeout()).await;
    Ok((conn, ev))
}

/// The frame when `ev` is a `connected` frame.
fn connected_frame(ev: &WsEvent) -> Option<Value> {
    (ev.frame_type() == Some("connected"))
        .then(|| ev.json().cloned())
        .flatten()
}

/// Authenticate as `agent` on a fresh socket. When the auth frame sent right after the upgrade
/// gets no `connected`, try once more on a new socket after [`SETTLE_PAUSE`]: only if that
/// fails too is the WebSocket endpoint broken for this case.
async fn connect_session(ctx: &mut Ctx, agent: &Agent) -> Result<Session, Failure> {
    let (conn, ev) = auth_attempt(ctx, agent, Duration::ZERO).await?;
    if let Some(connected) = connected_frame(&ev) {
        return Ok(Session {
            conn,
            connected,
            early_frame_lost: None,
        });
    }
    let first = describe(&ev);
    let mut stale = conn;
    stale.close().await;
    ctx.note(format!(
        "the auth frame sent right after the upgrade got {first}; trying once more, {} ms \
         after the upgrade",
        SETTLE_PAUSE.as_millis()
    ));
    ctx.need_time(SETTLE_PAUSE + ctx.request_timeout());
    let (conn, ev) = auth_attempt(ctx, agent, SETTLE_PAUSE).await?;
    match connected_frame(&ev) {
        Some(connected) => {
            let lost = format!(
                "the auth frame sent right after the upgrade got {first}, while the same frame \
                 sent {} ms after the upgrade was answered `connected`: the provider loses \
                 frames that arrive right after the upgrade (WS-002, WS-003)",
                SETTLE_PAUSE.as_millis()
            );
            ctx.note(format!(
                "{lost}; this case goes on with the second session and waits as long before \
                 the first frame of any later socket"
            ));
            Ok(Session {
                conn,
                connected,
                early_frame_lost: Some(lost),
            })
        }
        None => fail(format!(
            "baseline: after a valid auth frame the provider sent {first} instead of a \
             `connected` frame, and {} when the frame was sent {} ms after the upgrade (WS-003)",
            describe(&ev),
            SETTLE_PAUSE.as_millis()
        )),
    }
}

/// Authenticate as `agent` on a fresh socket and return it with the `connected` frame.
async fn connect_as(ctx: &mut Ctx, agent: &Agent) -> Result<(WsConn, Value), Failure> {
    let s = connect_session(ctx, agent).await?;
    Ok((s.conn, s.connected))
}

/// The message id of a `message.new` frame: `data.id` (08) or `data.envelope.id` (05), C-25.
fn frame_message_id(frame: &Value) -> Option<&str> {
    frame
        .pointer("/data/id")
        .and_then(Value::as_str)
        .or_else(|| frame.pointer("/data/envelope/id").and_then(Value::as_str))
}

/// Read frames until a `message.new` for message `id` arrives; other frames are skipped.
async fn await_message(conn: &mut WsConn, id: &str, within: Duration) -> Result<Value, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = conn.recv_type("message.new", left).await;
        match ev.json() {
            Some(v) if ev.frame_type() == Some("message.new") => {
                if frame_message_id(v) == Some(id) {
                    return Ok(v.clone());
                }
            }
            _ => {
                return fail(format!(
                    "no `message.new` frame for message {id} within {} s; got {} (WS-007)",
                    within.as_secs(),
                    describe(&ev)
                ));
            }
        }
    }
}

/// Any `error` frame arriving within `window` ([`quiet_window`]); other frames are skipped.
async fn error_frame_soon(conn: &mut WsConn, window: Duration) -> Option<Value> {
    let ev = conn.recv_type("error", window).await;
    (ev.frame_type() == Some("error"))
        .then(|| ev.json().cloned())
        .flatten()
}

/// Poll `agent`'s pending queue until message `id` is gone (`true`) or `within` passes.
async fn gone_from_pending(
    ctx: &mut Ctx,
    agent: &Agent,
    id: &str,
    within: Duration,
) -> Result<bool, Failure> {
    let deadline = Instant::now() + within;
    loop {
        let msgs = pending_list(ctx, agent, "").await?;
        if !msgs.iter().any(|m| entry_id(m) == Some(id)) {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

/// Where a `connected` frame put `field`, in words, when it is not under `data` (WS-003).
fn misplaced(frame: &Value, field: &str) -> String {
    if frame.get(field).is_some() {
        format!("`{field}` is at the top level of the frame; spec 05 puts it under `data`")
    } else if frame.get("data").is_some_and(Value::is_object) {
        format!("`data` has no `{field}`")
    } else {
        format!("the frame has no `data` object and no `{field}`")
    }
}

async fn ws_auth_connected(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let mut problems = Vec::new();
    let mut session = connect_session(ctx, &a).await?;
    for _ in 1..EARLY_FRAME_TRIES {
        if session.early_frame_lost.is_some() {
            break;
        }
        session.conn.close().await;
        session = connect_session(ctx, &a).await?;
    }
    let (mut conn, frame) = (session.conn, session.connected);
    problems.extend(session.early_frame_lost);
    match frame.pointer("/data/address") {
        None => problems.push(format!(
            "the `connected` frame does not name the agent: {} (WS-003)",
            misplaced(&frame, "address")
        )),
        Some(addr)
            if !addr
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&a.address)) =>
        {
            problems.push(format!(
                "the `connected` frame names address {addr}, not the authenticated agent {} \
                 (WS-003)",
                a.address
            ))
        }
        Some(_) => {}
    }
    match frame.pointer("/data/pending_count") {
        None => problems.push(format!(
            "the `connected` frame has no pending count: {} (WS-003)",
            misplaced(&frame, "pending_count")
        )),
        Some(count) if !count.is_u64() => problems.push(format!(
            "the `connected` frame's data.pending_count is {count}, not a non-negative integer \
             (WS-003)"
        )),
        Some(count) if count.as_u64() != Some(0) => problems.push(format!(
            "a fresh agent with an empty queue was told pending_count {count} (WS-003)"
        )),
        Some(_) => {}
    }
    conn.close().await;
    expect::no_problems(&problems, "WS-003")
}

async fn ws_auth_token_in_url(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    for param in ["token", "api_key"] {
        let url = format!("{}?{param}={}", ctx.target().ws_url, a.api_key.expose());
        ctx.note(format!(
            "connecting with the API key in the query parameter `{param}` and no auth frame"
        ));
        let conn = WsConn::connect(
            &url,
            &[SUBPROTOCOL],
            ctx.ws_config(),
            Some(ctx.transcript().clone()),
        )
        .await;
        let mut conn = match conn {
            Ok(c) => c,
            // Refusing the upgrade outright is a correct answer too.
            Err(ClientError::WsHandshake { status, .. }) => {
                ctx.note(format!("upgrade refused with HTTP {status}"));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        expect_close(
            ctx,
            &mut conn,
            close_wait(ctx),
            "WS-001",
            &format!("with `?{param}=<api key>` in the URL and no auth frame"),
        )
        .await?;
    }
    pass()
}

async fn ws_auth_first_frame(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    let route = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws first frame"))
        .signed()?;
    let firsts = [
        ("ping", json!({"type": "ping"})),
        ("route", json!({"type": "route", "data": route})),
    ];
    for (name, first) in firsts {
        let mut conn = open_settled(ctx, SETTLE_PAUSE).await?;
        conn.send_json(&first).await?;
        // A valid auth frame right behind it: a provider that ignored the first frame
        // authenticates here and shows it with `connected`. A correct one has closed, so
        // the send may fail; that is fine.
        if conn
            .send_json(&json!({"type": "auth", "token": a.api_key.expose()}))
            .await
            .is_err()
        {
            ctx.note("the auth frame could not be sent: the socket is already closed");
        }
        let closed = expect_close(
            ctx,
            &mut conn,
            close_wait(ctx),
            "WS-006",
            &format!("after a `{name}` frame as the first frame"),
        )
        .await?;
        if !closed.error_frame {
            ctx.note(format!(
                "closed after a `{name}` first frame without an error frame"
            ));
        }
    }
    // The `route` attempt must not have delivered anything.
    let msgs = pending_list(ctx, &b, "").await?;
    expect::that(
        msgs.is_empty(),
        "a `route` frame sent before authenticating was delivered (WS-006)",
    )?;
    pass()
}

async fn ws_auth_timeout(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    let mut conn = open(ctx).await?;
    let declared = ctx.timing().ws_auth_timeout;
    ctx.note(format!(
        "sending nothing; the provider must close within {:.1} s (+{:.1} s margin)",
        declared.as_secs_f64(),
        Timing::margin(declared).as_secs_f64()
    ));
    expect_close(
        ctx,
        &mut conn,
        close_wait(ctx),
        "WS-004",
        "with no auth frame sent",
    )
    .await?;
    pass()
}

async fn ws_auth_invalid_token(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut ok, _) = connect_as(ctx, &a).await?;
    ok.close().await;
    let mut conn = open_settled(ctx, SETTLE_PAUSE).await?;
    // Same shape as a real key, one character changed at the end.
    let real = a.api_key.expose();
    let mut bogus: String = real
        .chars()
        .take(real.chars().count().saturating_sub(1))
        .collect();
    bogus.push(if real.ends_with('0') { '1' } else { '0' });
    conn.send_json(&json!({"type": "auth", "token": bogus}))
        .await?;
    let closed = expect_close(
        ctx,
        &mut conn,
        close_wait(ctx),
        "WS-005",
        "after an auth frame with an invalid token",
    )
    .await?;
    match closed.error_code.as_deref() {
        Some("unauthorized") => pass(),
        // Refused and closed: the behaviour holds; the spelling is one run-wide finding.
        Some(other) => {
            ctx.finding(
                format!("error-code:unauthorized->{other}"),
                "WS-003",
                format!(
                    "the WebSocket error frame for a refused token says `{other}` where the \
                     spec names `unauthorized` (API-008)"
                ),
            );
            pass()
        }
        None if closed.error_frame => {
            fail("the error frame before the close has no `error` code (WS-003)")
        }
        None => fail(
            "the socket was closed without the `{\"type\":\"error\",\"error\":\"unauthorized\"}` \
             frame WS-003 requires first",
        ),
    }
}

async fn ws_ping(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &a).await?;
    conn.send_json(&json!({"type": "ping"})).await?;
    let ev = conn.recv_type("pong", ctx.timing().ws_pong_wait).await;
    if ev.frame_type() != Some("pong") {
        return fail(format!(
            "a `ping` frame on an authenticated socket got {} instead of a `pong` frame \
             (WS-009)",
            describe(&ev)
        ));
    }
    let ts = ev
        .json()
        .and_then(|v| v.get("timestamp"))
        .and_then(Value::as_str);
    let Some(ts) = ts else {
        return fail("the `pong` frame has no string `timestamp` (WS-009)");
    };
    expect::that(
        amp_core::Timestamp::parse_any(ts).is_ok(),
        format!("the `pong` timestamp `{ts}` is not a timestamp (WS-009)"),
    )?;
    conn.close().await;
    pass()
}

async fn ws_push_message_new(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &b).await?;
    let payload = json!({"type": "notification", "message": "pushed over the socket"});
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws push"))
        .payload(payload.clone())
        .signed()?;
    let sig = body.get("signature").cloned();
    let id = route_ok(ctx, &a, &body, "a message to an agent with a live socket").await?;
    let frame = await_message(&mut conn, &id, PUSH_WAIT).await?;
    conn.close().await;
    let env = frame.pointer("/data/envelope");
    let Some(env) = env.filter(|e| e.is_object()) else {
        return fail("the `message.new` frame has no data.envelope object (WS-007)");
    };
    let get = |f: &str| env.get(f).and_then(Value::as_str);
    let mut problems = Vec::new();
    if get("id") != Some(id.as_str()) {
        problems.push(format!("data.envelope.id is {:?}, not {id}", get("id")));
    }
    let short_from = match crate::routing::sender_form(get("from"), &a) {
        Some(crate::routing::SenderForm::Full) => false,
        Some(crate::routing::SenderForm::Short) => true,
        None => {
            problems.push(format!("data.envelope.from is {:?}", get("from")));
            false
        }
    };
    if env.get("signature") != sig.as_ref() {
        problems.push("data.envelope.signature is not the submitted signature".to_string());
    }
    if frame.pointer("/data/payload") != Some(&payload) {
        problems.push("data.payload differs from the payload sent".to_string());
    }
    if frame.pointer("/data/replay") == Some(&Value::Bool(true)) {
        problems.push("a live push is marked `replay: true`".to_string());
    }
    if !problems.is_empty() {
        return fail(format!(
            "the pushed `message.new` frame is wrong: {} (WS-007)",
            problems.join("; ")
        ));
    }
    if short_from {
        return Ok(crate::routing::short_from_warning(
            get("from").unwrap_or_default(),
            &a,
        ));
    }
    match frame.pointer("/data/id").and_then(Value::as_str) {
        Some(x) if x == id => pass(),
        Some(x) => fail(format!(
            "data.id is `{x}` but data.envelope.id is `{id}` (WS-007)"
        )),
        None => Ok(Outcome::Info(
            "`message.new` carries data{envelope, payload} without data.id: the 05 shape \
             (08 adds data.id, C-25)"
                .to_string(),
        )),
    }
}

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
    crate::routing::delivered(ctx, &b, &keep_id).await?;
    crate::routing::delivered(ctx, &b, &gone_id).await?;
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

async fn ws_ack(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &b).await?;
    let body = ctx
        .message(&a, &b.address)
        .subject(subject(ctx, "ws ack"))
        .signed()?;
    let id = route_ok(ctx, &a, &body, "a message to an agent with a live socket").await?;
    await_message(&mut conn, &id, PUSH_WAIT).await?;
    let msgs = pending_list(ctx, &b, "").await?;
    if !msgs.iter().any(|m| entry_id(m) == Some(id.as_str())) {
        return Ok(Outcome::Skip(format!(
            "message {id} is not in /messages/pending after the push, so an ack cannot be \
             observed (a provider without notify:v1 need not retain pushed messages, NOTIFY-011)"
        )));
    }
    let notify = ctx.has_capability("notify:v1");
    for (variant, frame) in [
        ("message.ack", json!({"type": "message.ack", "id": id})),
        ("ack", json!({"type": "ack", "id": id})),
    ] {
        conn.send_json(&frame).await?;
        let err = error_frame_soon(&mut conn, quiet_window(ctx)).await;
        if gone_from_pending(ctx, &b, &id, Duration::from_secs(3)).await? {
            conn.close().await;
            if variant == "message.ack" {
                return pass();
            }
            let reason = "the provider ignored `{\"type\":\"message.ack\"}` (05, 12) and \
                          acknowledged only on `{\"type\":\"ack\"}` (08)";
            if notify {
                return fail(format!(
                    "{reason}; under notify:v1 `message.ack` is required (WS-008, C-24)"
                ));
            }
            return Ok(Outcome::Warn {
                reason: reason.to_string(),
                contradiction: Some("C-24"),
            });
        }
        ctx.note(format!(
            "`{variant}` did not remove the message{}",
            err.map(|e| format!(" (error frame {e})"))
                .unwrap_or_default()
        ));
    }
    conn.close().await;
    fail(format!(
        "neither a `message.ack` nor an `ack` frame removed message {id} from the queue \
         (WS-008, C-24)"
    ))
}

async fn ws_route(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let b = ctx.agent().await?;
    let (mut conn, _) = connect_as(ctx, &a).await?;
    let s = subject(ctx, "ws route");
    let body = ctx.message(&a, &b.address).subject(s.clone()).signed()?;
    conn.send_json(&json!({"type": "route", "data": body}))
        .await?;
    if let Some(e) = error_frame_soon(&mut conn, quiet_window(ctx)).await {
        return fail(format!(
            "a correctly signed `route` frame was answered with the error frame {e} (WS-011)"
        ));
    }
    let want = s.clone();
    let got = ctx
        .wait_pending(
            &b,
            move |m| crate::routing::entry_subject(m) == Some(want.as_str()),
            PUSH_WAIT,
        )
        .await?;
    let Some(m) = got else {
        return fail(format!(
            "a `route` frame sent over an authenticated socket did not reach the recipient \
             within {} s (WS-011; no success frame is defined, C-26)",
            PUSH_WAIT.as_secs()
        ));
    };
    let from = m.pointer("/envelope/from").and_then(Value::as_str);
    let short_from = match crate::routing::sender_form(from, &a) {
        Some(form) => form == crate::routing::SenderForm::Short,
        None => {
            return fail(format!(
                "the message routed over the socket was delivered with `from` {from:?}, not \
                 the sender `{}` (WS-011)",
                a.address
            ));
        }
    };

    // The same path must verify signatures: a tampered subject is an error, not a delivery.
    let bad_subject = subject(ctx, "ws route tampered");
    let mut tampered = ctx.message(&a, &b.address).subject(s).signed()?;
    tampered["subject"] = json!(bad_subject.clone());
    conn.send_json(&json!({"type": "route", "data": tampered}))
        .await?;
    let mut err = conn.recv_type("error", quiet_window(ctx)).await;
    if err.frame_type() != Some("error") {
        // No refusal yet: a delivery already made fails now; otherwise keep waiting for one.
        crate::routing::not_delivered(ctx, &b, &bad_subject, "WS-011, SIG-016").await?;
        err = conn.recv_type("error", ctx.request_timeout()).await;
    }
    conn.close().await;
    crate::routing::not_delivered(ctx, &b, &bad_subject, "WS-011, SIG-016").await?;
    let code = err
        .json()
        .filter(|_| err.frame_type() == Some("error"))
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str);
    match code {
        // The refusal is the behaviour; its spelling is one run-wide finding.
        Some(code) => {
            if code != "signature_invalid" {
                ctx.finding(
                    format!("error-code:signature_invalid->{code}"),
                    "WS-011",
                    format!(
                        "a refused `route` frame names error `{code}` where the REST route \
                         answers signature_invalid (API-008)"
                    ),
                );
            }
            if short_from {
                let from = from.unwrap_or_default().to_string();
                return Ok(crate::routing::short_from_warning(&from, &a));
            }
            pass()
        }
        None => Ok(Outcome::Warn {
            reason: format!(
                "a tampered `route` frame was not delivered but no error frame arrived \
                 (got {}); only error frames are defined for `route` (C-26)",
                describe(&err)
            ),
            contradiction: Some("C-26"),
        }),
    }
}

async fn ws_subprotocol(ctx: &mut Ctx) -> CaseResult {
    let a = ctx.agent().await?;
    let mut session = connect_session(ctx, &a).await?;
    let proto = session.conn.subprotocol().map(str::to_string);
    session.conn.close().await;
    match proto.as_deref() {
        Some(SUBPROTOCOL) => pass(),
        Some(other) => fail(format!(
            "the client offered `{SUBPROTOCOL}` and the server confirmed `{other}` (WS-010)"
        )),
        None => fail(format!(
            "the client offered `{SUBPROTOCOL}` and the 101 answer carries no \
             Sec-WebSocket-Protocol (WS-010)"
        )),
    }
}

// ------------------------------------------------------------------------------------------
// Table
// ------------------------------------------------------------------------------------------

pub static CASES: &[Case] = &[
    Case {
        id: "ws.auth.connected",
        title: "A valid auth frame is answered with `connected`",
        clauses: &["WS-003", "WS-002"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "After `{type:auth, token}` the provider sends `{type:connected, \
                      data:{address, pending_count}}` naming the agent.",
        run: |ctx| Box::pin(ws_auth_connected(ctx)),
    },
    Case {
        id: "ws.auth.token-in-url",
        title: "An API key in the WebSocket URL does not authenticate",
        clauses: &["WS-001"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "A socket opened with `?token=`/`?api_key=` and no auth frame is never \
                      sent `connected` and is closed (or the upgrade refused).",
        run: |ctx| Box::pin(ws_auth_token_in_url(ctx)),
    },
    Case {
        id: "ws.auth.first-frame",
        title: "A first frame other than auth closes the socket",
        clauses: &["WS-006"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "A `ping` or `route` frame before `auth` is answered with an error and a \
                      close; a following auth frame is not honoured and nothing is delivered.",
        run: |ctx| Box::pin(ws_auth_first_frame(ctx)),
    },
    Case {
        id: "ws.auth.timeout",
        title: "A socket that never authenticates is closed",
        clauses: &["WS-004"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "A socket that sends no frame is closed within 10 s of opening.",
        run: |ctx| Box::pin(ws_auth_timeout(ctx)),
    },
    Case {
        id: "ws.auth.invalid-token",
        title: "An invalid token gets an unauthorized error and a close",
        clauses: &["WS-005", "WS-003"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "An auth frame with a wrong token is answered with `{type:error, \
                      error:unauthorized}` and the socket is closed.",
        run: |ctx| Box::pin(ws_auth_invalid_token(ctx)),
    },
    Case {
        id: "ws.ping",
        title: "ping is answered with pong",
        clauses: &["WS-009"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "`{type:ping}` on an authenticated socket is answered with `{type:pong, \
                      timestamp}`.",
        run: |ctx| Box::pin(ws_ping(ctx)),
    },
    Case {
        id: "ws.push.message-new",
        title: "A message to a connected agent is pushed as message.new",
        clauses: &["WS-007"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[Need::Prereq(Prereq::DeliveryObservable)],
        expectation: "A message routed to an agent with a live socket arrives as \
                      `message.new` with the envelope and payload as sent (data.id optional, \
                      C-25).",
        run: |ctx| Box::pin(ws_push_message_new(ctx)),
    },
    Case {
        id: "ws.replay.marked",
        title: "Queued messages replayed on connect are marked replay:true",
        clauses: &["NOTIFY-012", "WS-003"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[Need::Capability("notify:v1")],
        expectation: "On connect the unacknowledged queued message is replayed as \
                      `message.new` with `replay: true`, the acknowledged one is not, and \
                      pending_count counts it.",
        run: |ctx| Box::pin(ws_replay_marked(ctx)),
    },
    Case {
        id: "ws.ack",
        title: "A WebSocket ack removes the message from the queue",
        clauses: &["WS-008"],
        level: Level::Should,
        section: Section::WebSocket,
        needs: &[Need::Prereq(Prereq::DeliveryObservable)],
        expectation: "`{type:message.ack, id}` removes a pushed message from \
                      /messages/pending (only `{type:ack}` working is a C-24 warning).",
        run: |ctx| Box::pin(ws_ack(ctx)),
    },
    Case {
        id: "ws.route",
        title: "A route frame is routed like POST /route",
        clauses: &["WS-011", "SIG-016"],
        level: Level::Must,
        section: Section::WebSocket,
        needs: &[],
        expectation: "A signed `{type:route, data}` frame is delivered without an error frame; \
                      a tampered one is refused with an error frame signature_invalid and not \
                      delivered (C-26).",
        run: |ctx| Box::pin(ws_route(ctx)),
    },
    Case {
        id: "ws.subprotocol",
        title: "The amp.v1 subprotocol is confirmed",
        clauses: &["WS-010"],
        level: Level::Should,
        section: Section::WebSocket,
        needs: &[],
        expectation: "A client offering Sec-WebSocket-Protocol `amp.v1` gets it confirmed in \
                      the 101 answer.",
        run: |ctx| Box::pin(ws_subprotocol(ctx)),
    },
];
